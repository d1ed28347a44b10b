"""The one input check for a mono signal handed to an analysis (features, descriptors).

Every analysis of `mer` reads a mono float32 signal; :func:`validate_mono` is the
single place that decides what is accepted and says, in one line, what is wrong
with anything else (:class:`~mer.core.errors.MerError`, as for any bad input).
"""

from __future__ import annotations

import numpy as np

from mer.core.errors import MerError


def validate_mono(y, *, sr: int | None = None, min_samples: int = 1, name: str = "audio") -> np.ndarray:
    """`y` as a C-contiguous float32 mono signal, or a one-line error saying what is wrong.

    Parameters
    ----------
    y : array-like, shape (n_samples,)
        Mono samples, real numbers (any numeric dtype; converted to float32).
    sr : int, optional
        Its sample rate in Hz; only used to state lengths in milliseconds in messages.
    min_samples : int
        Fewest samples accepted (e.g. one analysis frame, ``n_fft``).
    name : str
        What the signal is called in messages (``"audio"``, ``"window 3"`` ...).

    Returns
    -------
    np.ndarray, shape (n_samples,), float32, C-contiguous
        `y` itself when it already is one (never modified), else a converted copy.

    Raises
    ------
    MerError
        Not one-dimensional, not real numbers, shorter than `min_samples`, or holding
        NaN or infinite samples (after the conversion to float32, so a float64 value
        beyond float32's range counts as infinite).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise MerError(f"expected mono {name} of shape (n_samples,), got shape {y.shape}")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise MerError(f"expected real-valued {name} samples, got dtype {y.dtype}")
    if len(y) < min_samples:
        ms = f" ({len(y) / sr * 1000:.0f} ms)" if sr else ""
        raise MerError(f"{name} too short: {len(y)} samples{ms}, at least {min_samples} needed")
    with np.errstate(over="ignore"):  # out-of-range float64 becomes inf, reported below
        y = np.ascontiguousarray(y, dtype=np.float32)
    bad = ~np.isfinite(y)
    if bad.any():
        raise MerError(f"{name} contains NaN or infinite samples ({int(bad.sum())} of {len(y)}, "
                       f"the first at sample {int(bad.argmax())})")
    return y
