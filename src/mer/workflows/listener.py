"""Listener-rated valence / arousal of audio files: Essentia's emoMusic or DEAM head on cached musicnn inputs.

:func:`listener_va` computes (or reads from the feature cache) each file's mean over
patches of musicnn-MSD's pre-ReLU dense layer (:func:`mer.features.blocks.listener_block`,
patches every 93 frames as Essentia cuts them; long files stream in bounded memory) and
applies a head of :mod:`mer.models.listener`. The head is linear, so the head of the
patches' mean equals the mean of the per-patch outputs that Essentia averages.

The heads are CC BY-NC-SA 4.0 (MTG-UPF): figures or models made with them are
non-commercial and share-alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import numpy as np

from mer.extraction.inputs import ClipInputs, clip_inputs
from mer.features.blocks import LISTENER_HOP, listener_block
from mer.models.listener import ListenerHead, load_head


def listener_inputs(paths: Sequence[str | PathLike], *, patch_hop: int = LISTENER_HOP, cache_dir=None,
                    jobs: int = 1, progress: bool = False) -> ClipInputs:
    """The heads' input of audio files: (n_ok, 200) patch means of the pre-ReLU dense layer, and the failures."""
    return clip_inputs(paths, blocks=(listener_block(patch_hop),), cache_dir=cache_dir, jobs=jobs, progress=progress)


def listener_va(paths: Sequence[str | PathLike], head: str | PathLike | ListenerHead = "emomusic", *,
                cache_dir=None, jobs: int = 1, patch_hop: int = LISTENER_HOP, progress: bool = False) -> np.ndarray:
    """Valence and arousal of audio files from a listener-rated head.

    Parameters
    ----------
    paths : sequence of paths
    head : str, path or ListenerHead
        ``emomusic`` (default) or ``deam`` (shipped), a head file, or a head.
    cache_dir : path, optional
        Feature cache root (default ``$MER_CACHE`` or the user cache).
    jobs : int
        Worker processes for cache misses.
    patch_hop : int
        Frames between patch starts (93: Essentia's; 187: non-overlapping).
    progress : bool

    Returns
    -------
    np.ndarray, shape (n_files, 2), float32
        ``[valence, arousal]`` per file on mer's scale ``(rating - 5) / 4`` (listeners' 1-9
        ratings -> [-1, 1], 0 neutral); NaN rows for files that failed
        (:func:`listener_inputs` gives the reasons).
    """
    inputs = listener_inputs(paths, patch_hop=patch_hop, cache_dir=cache_dir, jobs=jobs, progress=progress)
    out = np.full((len(inputs.paths), 2), np.nan, dtype=np.float32)
    out[inputs.ok] = load_head(head).predict(inputs.X)
    return out
