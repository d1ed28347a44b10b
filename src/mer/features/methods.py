"""The extraction methods of the paper's 204 rows by name, and :func:`extract`, which dispatches on them.

"reference" (:func:`mer.features.paper.extract_reference`) is the paper's
one-librosa-call-per-feature recipe; "fused" (:func:`mer.features.fused.extract_fused`)
equals it within float rounding (tests/test_fused.py) and is several times faster.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mer.features.fused import extract_fused
from mer.features.paper import FeatureConfig, extract_reference

#: Extraction methods by name; the default is what the rest of `mer` uses.
#: "fused" (:mod:`mer.features.fused`) equals "reference" (tests/test_fused.py) and is several
#: times faster; "reference" is the paper's one-librosa-call-per-feature recipe.
EXTRACTORS: dict[str, Callable[[np.ndarray, FeatureConfig | None], np.ndarray]] = {
    "reference": extract_reference,
    "fused": extract_fused,
}


DEFAULT_METHOD = "fused"


def extract(y: np.ndarray, config: FeatureConfig | None = None, method: str | None = None) -> np.ndarray:
    """The (204, T) feature matrix of a mono signal with the chosen extractor.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio at ``config.sr``.
    config : FeatureConfig, optional
    method : str or callable, optional
        A key of :data:`EXTRACTORS`; default :data:`DEFAULT_METHOD`. A callable
        ``method(y, config)`` is called as is: other feature families (e.g.
        :func:`mer.features.descriptors.describe` with its own config) reuse the cached,
        parallel extraction path this way.

    Returns
    -------
    np.ndarray, shape (204, T), float32
    """
    method = method or DEFAULT_METHOD
    if callable(method):
        return method(y, config)
    try:
        fn = EXTRACTORS[method]
    except KeyError:
        raise ValueError(f"unknown extraction method '{method}' (known: {', '.join(EXTRACTORS)})") from None
    return fn(y, config)
