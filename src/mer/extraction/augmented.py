"""Augmented copies of clips through the feature cache: made once, keyed by source content, augmenter, seed and copy.

The transforms are in :mod:`mer.audio.augment`; a copy is an
:class:`~mer.audio.augment.AugmentedSource` whose features are cached under
:func:`~mer.audio.augment.copy_key`, so it is the same in every fold and every run and
a second run does no audio work. :class:`CopyBank` hands a training fold its copies.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from mer.audio.augment import AugmentedSource, copy_key, get_augmenter
from mer.core.cache import FeatureCache
from mer.extraction.batch import extract_sources
from mer.features.paper import FeatureConfig


def augmented_features(
    paths: Sequence[str | PathLike],
    n_copies: int,
    augmenter="paper",
    *,
    seed: int = 0,
    config=None,
    cache_dir: str | PathLike | None = None,
    jobs: int = 1,
    method: str | None = None,
    progress: bool = True,
):
    """Feature matrices of ``n_copies`` augmented copies of each file, through the feature cache.

    Parameters
    ----------
    paths : sequence of paths, length n
        Source audio files (the training clips: never pass validation or test clips).
    n_copies : int >= 0
    augmenter : str or augmenter
        See :func:`get_augmenter`.
    seed : int
        Base seed; with the source's content and the copy index it fixes each copy.
    config : FeatureConfig, optional
    cache_dir, jobs, method, progress
        As for :func:`mer.extraction.batch.extract_files`.

    Returns
    -------
    copies : list (n) of list (n_copies) of np.ndarray (204, T) or None
        None where a copy failed.
    failures : list of (Path, str)
    stats : dict
        ``n_cached`` and ``n_computed`` copies.
    """

    if n_copies < 0:
        raise ValueError(f"n_copies must be >= 0, got {n_copies}")
    augmenter = get_augmenter(augmenter)
    config = config or FeatureConfig()
    cache = FeatureCache(cache_dir, config)
    items, failures, where = [], [], []
    for i, p in enumerate(paths):
        try:
            source_key = cache.key_for_file(p)
        except OSError as exc:
            failures.append((Path(p), f"{p}: {exc}"))
            continue
        for k in range(n_copies):
            key = copy_key(source_key, augmenter, seed, k)
            items.append((key, AugmentedSource(Path(p), augmenter, key, k)))
            where.append((i, k))
    res = extract_sources(items, config=config, cache_dir=cache_dir, jobs=jobs, method=method,
                          progress=progress, description="augmented copies")
    copies: list[list[np.ndarray | None]] = [[None] * n_copies for _ in paths]
    for (i, k), X in zip(where, res.features):
        copies[i][k] = X
    return copies, failures + res.failures, {"n_cached": res.n_cached, "n_computed": res.n_computed}


class CopyBank:
    """Original feature matrices of a dataset, and their augmented copies made on demand.

    Estimators that augment are fitted on *indices* into a bank (like scikit-learn's
    precomputed kernels): ``X[i]`` of the fold is clip ``i`` of the bank. Copies are
    computed (or read from the cache) only for the indices asked for, i.e. the training
    clips of a fold. They are kept on disk in the feature cache, not in memory (3 copies
    of the 4Q and EMOPIA clips are about 5 GB), and read back when asked for.

    Parameters
    ----------
    features : sequence of np.ndarray (204, T_i)
        The originals, aligned with ``paths``.
    paths : sequence of paths or None
        Source audio of each clip (None: no copies can be made, ``n_copies`` must be 0).
    augmenter, seed, config, cache_dir, jobs, method, progress
        As for :func:`augmented_features`.

    Attributes
    ----------
    failures : list of (Path, str)
        Copies that could not be made (they are left out of training).
    """

    def __init__(self, features, paths=None, augmenter="paper", *, seed: int = 0, config=None,
                 cache_dir=None, jobs: int = 1, method=None, progress: bool = False):
        self.features = list(features)
        self.paths = None if paths is None else [Path(p) for p in paths]
        if self.paths is not None and len(self.paths) != len(self.features):
            raise ValueError(f"{len(self.paths)} paths for {len(self.features)} feature matrices")
        self.augmenter = get_augmenter(augmenter)
        self.seed, self.config, self.cache_dir = seed, config or FeatureConfig(), cache_dir
        self.jobs, self.method, self.progress = jobs, method, progress
        self._source_keys: dict[int, str] = {}
        self._failed: set[tuple[int, int]] = set()
        self.failures: list[tuple[Path, str]] = []

    def __len__(self) -> int:
        return len(self.features)

    def originals(self, indices) -> list[np.ndarray]:
        return [self.features[int(i)] for i in indices]

    def _copy_key(self, i: int, k: int) -> str:
        if i not in self._source_keys:
            self._source_keys[i] = FeatureCache(self.cache_dir, self.config).key_for_file(self.paths[i])
        return copy_key(self._source_keys[i], self.augmenter, self.seed, k)

    def copies(self, indices, n_copies: int) -> list[list[np.ndarray | None]]:
        """Copies ``0..n_copies-1`` of each clip in ``indices`` (list per clip; None where one failed)."""

        indices = [int(i) for i in indices]
        if n_copies == 0:
            return [[] for _ in indices]
        if self.paths is None:
            raise ValueError("this bank has no source paths, so it cannot make augmented copies")
        cache = FeatureCache(self.cache_dir, self.config)
        keys = {(i, k): self._copy_key(i, k) for i in indices for k in range(n_copies)}
        missing = sorted({i for (i, k), key in keys.items() if (i, k) not in self._failed and key not in cache})
        if missing:
            got, failures, _ = augmented_features(
                [self.paths[i] for i in missing], n_copies, self.augmenter, seed=self.seed, config=self.config,
                cache_dir=self.cache_dir, jobs=self.jobs, method=self.method, progress=self.progress)
            self.failures += failures
            self._failed |= {(i, k) for i, row in zip(missing, got) for k, X in enumerate(row) if X is None}
        return [[None if (i, k) in self._failed else cache.get(keys[(i, k)]) for k in range(n_copies)]
                for i in indices]
