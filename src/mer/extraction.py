"""Feature extraction over many files: cached, process-parallel, failure-tolerant.

:func:`extract_files` looks every file up in the :class:`~mer.cache.FeatureCache`
first (by content hash), extracts only the misses in ``jobs`` worker processes, and
writes each result to the cache as soon as it is ready, so an interrupted run
resumes where it stopped and a second run over the same data does no feature work.
A file that fails (corrupt, too short, unsupported) is recorded with a one-line
reason and the others go on.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from mer import audio
from mer.cache import FeatureCache
from mer.errors import MerError
from mer.features import FeatureConfig, extract
from mer.progress import progress_bar


def extract_file(path: str | PathLike, config: FeatureConfig | None = None, method: str | None = None) -> np.ndarray:
    """Decode one file and return its (204, T) feature matrix.

    Raises
    ------
    MerError
        Naming the file, for anything wrong with it.
    """
    config = config or FeatureConfig()
    y = audio.load(path, sr=config.sr)
    try:
        return extract(y, config, method)
    except MerError as exc:
        raise exc.with_path(path) from None


@dataclass
class ExtractionResult:
    """Features of a batch, aligned with the input paths.

    Attributes
    ----------
    paths : list of Path
    features : list of (np.ndarray of shape (204, T)) or None
        None where the file failed.
    failures : list of (Path, str)
        The failed files and a one-line reason each.
    n_cached, n_computed : int
        How many came from the cache and how many were extracted now.
    """

    paths: list[Path]
    features: list[np.ndarray | None]
    failures: list[tuple[Path, str]] = field(default_factory=list)
    n_cached: int = 0
    n_computed: int = 0

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the files that succeeded, shape (n_files,)."""
        return np.array([f is not None for f in self.features], dtype=bool)


def _worker(path: str, key: str, config: FeatureConfig, method: str | None, cache_root: str) -> tuple[str, np.ndarray | None, str | None]:
    try:
        X = extract_file(path, config, method)
    except MerError as exc:
        return key, None, str(exc)
    except Exception as exc:  # a library bug on one odd file must not end the batch
        return key, None, f"{path}: unexpected {type(exc).__name__} ({' '.join(str(exc).split())})"
    FeatureCache(cache_root, config).put(key, X)
    return key, X, None


def _init_worker() -> None:
    # One BLAS / numba thread per process: the parallelism is across files.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def extract_files(
    paths: Sequence[str | PathLike],
    *,
    config: FeatureConfig | None = None,
    cache_dir: str | PathLike | None = None,
    jobs: int = 1,
    method: str | None = None,
    progress: bool = True,
    description: str = "features",
) -> ExtractionResult:
    """Feature matrices of many files, through the cache, in parallel.

    Parameters
    ----------
    paths : sequence of paths
        Audio files.
    config : FeatureConfig, optional
    cache_dir : path, optional
        Cache root (default: ``$MER_CACHE`` or the user cache dir).
    jobs : int
        Worker processes for the cache misses (1: extract in this process).
    method : str, optional
        Extraction method (see :data:`mer.features.EXTRACTORS`).
    progress : bool
        Show a progress bar.

    Returns
    -------
    ExtractionResult
    """
    config = config or FeatureConfig()
    cache = FeatureCache(cache_dir, config)
    paths = [Path(p) for p in paths]
    features: list[np.ndarray | None] = [None] * len(paths)
    failures: dict[int, str] = {}
    todo: dict[str, list[int]] = {}  # cache key -> indices (identical files share one key)
    n_cached = 0
    for i, p in enumerate(paths):
        try:
            audio.check_audio_path(p)
            key = cache.key_for_file(p)
        except (MerError, OSError) as exc:
            failures[i] = str(exc) if isinstance(exc, MerError) else f"{p}: {exc}"
            continue
        X = cache.get(key)
        if X is not None:
            features[i] = X
            n_cached += 1
        else:
            todo.setdefault(key, []).append(i)

    with progress_bar(description, total=len(todo), enabled=progress) as advance:
        if jobs <= 1 or len(todo) <= 1:
            results = (_worker(str(paths[idx[0]]), key, config, method, str(cache.root)) for key, idx in todo.items())
            for res in results:
                _collect(res, todo, features, failures)
                advance()
        else:
            ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker) as pool:
                futures = [
                    pool.submit(_worker, str(paths[idx[0]]), key, config, method, str(cache.root))
                    for key, idx in todo.items()
                ]
                for fut in as_completed(futures):
                    _collect(fut.result(), todo, features, failures)
                    advance()
    return ExtractionResult(
        paths=paths,
        features=features,
        failures=[(paths[i], failures[i]) for i in sorted(failures)],
        n_cached=n_cached,
        n_computed=sum(features[i] is not None for idx in todo.values() for i in idx),
    )


def _collect(result, todo, features, failures) -> None:
    key, X, error = result
    for i in todo[key]:
        if error is None:
            features[i] = X
        else:
            failures[i] = error


def extract_dataset(dataset, **kwargs) -> ExtractionResult:
    """:func:`extract_files` over the clips of a :class:`~mer.datasets.Dataset`."""
    return extract_files(dataset.paths, **kwargs)


def export_npz(path: str | PathLike, dataset, result: ExtractionResult, *, pooled: bool = False,
               config: FeatureConfig | None = None) -> dict:
    """Write the features of the clips that succeeded to a ``.npz`` (no pickled objects).

    Keys: ``ids``, ``paths``, ``labels`` (quadrant names), ``groups``, and either
    ``features`` (N, 204, T_max) zero-padded with ``n_frames`` (N,) and ``row_names`` /
    ``row_groups`` (204,), or with ``pooled=True`` ``features`` (N, 5 * 204) of
    :func:`mer.preprocessing.summary_stats` and ``feature_names``.

    Returns a summary dict (n, shape).
    """
    from mer._io import save_npz
    from mer.features import FeatureSpec
    from mer.preprocessing import summary_names, summary_stats

    spec = FeatureSpec.from_config(config)
    keep = np.flatnonzero(result.ok)
    clips = [dataset.clips[i] for i in keep]
    mats = [result.features[i] for i in keep]
    meta = dict(
        ids=np.array([c.id for c in clips]),
        paths=np.array([str(c.path) for c in clips]),
        labels=np.array([c.label for c in clips]),
        groups=np.array([c.group for c in clips]),
    )
    if pooled:
        feats = np.stack([summary_stats(X) for X in mats]) if mats else np.zeros((0, 0), np.float32)
        save_npz(path, features=feats, feature_names=np.array(summary_names(spec.row_names)), **meta)
    else:
        n_frames = np.array([X.shape[1] for X in mats], dtype=int)
        feats = np.zeros((len(mats), spec.n_rows, int(n_frames.max(initial=0))), dtype=np.float32)
        for k, X in enumerate(mats):
            feats[k, :, : X.shape[1]] = X
        save_npz(path, features=feats, n_frames=n_frames, row_names=np.array(spec.row_names),
                 row_groups=np.array(spec.row_groups), **meta)
    return {"n": len(mats), "shape": feats.shape}
