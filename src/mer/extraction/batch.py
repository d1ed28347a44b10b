"""Feature extraction over many files: cached, process-parallel, failure-tolerant.

:func:`extract_files` looks every file up in the :class:`~mer.core.cache.FeatureCache`
first (by content hash), extracts only the misses in ``jobs`` worker processes, and
writes each result to the cache as soon as it is ready, so an interrupted run
resumes where it stopped and a second run over the same data does no feature work.
A file that fails (corrupt, too short, unsupported) is recorded with a one-line
reason and the others go on. With ``scheduler=`` the misses are extracted on a Dask
distributed cluster instead (:func:`map_on_cluster`), with the same results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from mer.audio import decode as audio
from mer.core import parallel
from mer.core.cache import FeatureCache
from mer.core.errors import MerError
from mer.core.io import save_npz
from mer.core.progress import progress_bar
from mer.features.fused import LONG_TRACK_SECONDS, extract_long_file
from mer.features.methods import DEFAULT_METHOD, extract
from mer.features.paper import FeatureConfig, FeatureSpec
from mer.features.transforms import summary_names, summary_stats


def extract_file(path: str | PathLike, config: FeatureConfig | None = None, method=None, *,
                 long_track_seconds: float | None = None) -> np.ndarray:
    """Decode one file and return what `method` computes of it, in bounded memory.

    A file up to `long_track_seconds` long is decoded whole and passed to the method. A
    longer one is decoded block by block (:func:`mer.audio.decode.stream`) and analysed in
    windows, so peak memory does not grow with the length (``mer predict`` with the
    default model: 883 MiB peak RSS on a 60-minute file, 865 MiB on 10 minutes, where
    loading the whole 10-minute file took 3780 MiB; ``benchmarks/long_track.py``):

    * the paper's features (fused method, the default): :func:`mer.features.fused.extract_long_file`,
      equal to the whole-file matrix;
    * a callable method with a ``long_track(path, config)`` attribute: that function,
      e.g. :func:`mer.features.descriptors.describe_long_file` (the duration-weighted mean of
      30-s windows, the definition for long tracks) or
      :func:`mer.features.embeddings.embed_long_file` (equal to the whole-file embedding).

    Parameters
    ----------
    path : str or PathLike
    config : FeatureConfig, DescriptorConfig or EmbeddingConfig, optional
        The method's configuration (default :class:`~mer.features.paper.FeatureConfig`).
    method : str or callable, optional
        As for :func:`mer.features.methods.extract`.
    long_track_seconds : float, optional
        Files longer than this (seconds, from the header) take the windowed path;
        default the method's ``long_track_seconds`` attribute where it has one
        (descriptors: 45 s), else :data:`mer.features.fused.LONG_TRACK_SECONDS` (2 minutes).

    Returns
    -------
    np.ndarray
        (204, T) features, or the method's per-clip vector.

    Raises
    ------
    MerError
        Naming the file, for anything wrong with it.
    """
    config = config or FeatureConfig()
    long_track = getattr(method, "long_track", None) if callable(method) else (
        extract_long_file if (method or DEFAULT_METHOD) == "fused" else None)
    if long_track_seconds is not None:
        threshold = long_track_seconds
    else:  # a method may say where its windowed path starts (descriptors: 45 s)
        threshold = min(getattr(method, "long_track_seconds", LONG_TRACK_SECONDS), LONG_TRACK_SECONDS)
    if long_track is not None and audio.duration(path) > threshold:
        return long_track(path, config)
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


def _worker(source, key: str, config: FeatureConfig, method: str | None, cache_root: str, *,
            send_features: bool = True) -> tuple[str, np.ndarray | None, str | None]:
    # `source` is a path (str) or a picklable callable ``source(sr) -> mono float32`` (e.g.
    # an augmented copy, see mer.audio.augment); either way the result goes through the same cache.
    X, error = _extract_source(source, config, method)
    if error is None:
        FeatureCache(cache_root, config).put(key, X)
    if not send_features:
        # A worker process answers with a few hundred bytes, which a pipe takes in one
        # atomic write, and the parent reads the matrix back from the cache. A matrix
        # (~140 KB) goes in several writes, and a worker ended by Ctrl-C in between left
        # half a message that blocked the parent's result reader for ever.
        X = None
    return key, X, error


def _extract_source(source, config: FeatureConfig, method: str | None) -> tuple[np.ndarray | None, str | None]:
    """(features, None) or (None, one-line reason): what a worker sends back; writes nothing."""
    try:
        if callable(source):
            try:
                X = extract(source(config.sr), config, method)
            except MerError as exc:
                raise exc.with_path(str(source)) from None
        else:
            X = extract_file(source, config, method)
    except MerError as exc:
        return None, str(exc)
    except Exception as exc:  # a library bug on one odd file must not end the batch
        return None, f"{source}: unexpected {type(exc).__name__} ({' '.join(str(exc).split())})"
    return X, None


def extract_files(
    paths: Sequence[str | PathLike],
    *,
    config: FeatureConfig | None = None,
    cache_dir: str | PathLike | None = None,
    jobs: int = 1,
    method: str | None = None,
    progress: bool = True,
    description: str = "features",
    scheduler=None,
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
        Extraction method (see :data:`mer.features.methods.EXTRACTORS`).
    progress : bool
        Show a progress bar.
    scheduler : str or distributed.Client, optional
        Extract the cache misses on this Dask cluster (an address such as
        ``tcp://host:8786``, or a client) instead of in local processes; `jobs` is then
        ignored. The features are the same; see :func:`map_on_cluster`.

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

    sources = {key: str(paths[idx[0]]) for key, idx in todo.items()}
    _compute(sources, todo, features, failures, cache=cache, method=method, jobs=jobs,
             progress=progress, description=description, scheduler=scheduler)
    return ExtractionResult(
        paths=paths,
        features=features,
        failures=[(paths[i], failures[i]) for i in sorted(failures)],
        n_cached=n_cached,
        n_computed=sum(features[i] is not None for idx in todo.values() for i in idx),
    )


def _compute(sources: dict, todo: dict, features: list, failures: dict, *, cache: FeatureCache,
             method: str | None, jobs: int, progress: bool, description: str, scheduler=None) -> None:
    """Extract every cache miss (key -> source), in `jobs` processes, filling `features` / `failures`.

    Local workers come from :class:`mer.core.parallel.WorkerPool` (the thread budget of
    :func:`mer.core.parallel.thread_budget` split across them, a numba cache of their own);
    in this process the work runs with the whole budget where one was set (the CLI's
    ``--threads``, see :func:`mer.core.parallel.budget_limit`).

    Raises
    ------
    mer.core.parallel.Interrupted
        On Ctrl-C: the workers are ended at once and what finished is already cached;
        carries how many of the batch's items (cached ones included) are done.
    """
    config = cache.config
    try:
        with progress_bar(description, total=len(todo), enabled=progress) as advance:
            if scheduler is not None and todo:
                for key, X, error in map_on_cluster(sources, config, method, scheduler):
                    if error is None:
                        cache.put(key, X)  # by this process: the workers need no access to the cache
                    _collect((key, X, error), todo, features, failures)
                    advance()
            elif jobs <= 1 or len(todo) <= 1:
                with parallel.budget_limit():
                    for key, source in sources.items():
                        _collect(_worker(source, key, config, method, str(cache.root)), todo, features, failures)
                        advance()
            else:
                with parallel.WorkerPool(jobs) as pool:
                    futures = [pool.submit(_worker, source, key, config, method, str(cache.root),
                                           send_features=False)
                               for key, source in sources.items()]
                    for fut in pool.as_completed(futures):
                        key, _, error = fut.result()
                        X = cache.get(key) if error is None else None
                        if error is None and X is None:  # written by the worker, then unreadable here
                            error = f"{sources[key]}: the worker's cache entry could not be read back"
                        _collect((key, X, error), todo, features, failures)
                        advance()
    except parallel.Interrupted:
        raise
    except KeyboardInterrupt:
        done = sum(X is not None for X in features) + len(failures)
        raise parallel.Interrupted(done, len(features)) from None


#: How long to wait for a Dask scheduler to answer, in dask's time syntax.
SCHEDULER_TIMEOUT = "20s"


def map_on_cluster(sources: dict, config: FeatureConfig, method: str | None, scheduler):
    """Extract sources on a Dask distributed cluster; yield ``(key, X, error)`` as they finish.

    The same extraction as a local run (:func:`_extract_source` in each worker), so the
    features are identical; the matrices come back to this process, which caches them,
    so the workers need neither the cache nor write access anywhere. Each worker needs
    ``mer`` installed and the audio files at the same paths (a shared file system).

    Parameters
    ----------
    sources : dict of key -> source
        Cache key -> audio path (or picklable callable, as for :func:`extract_sources`).
    config : FeatureConfig
    method : str or None
    scheduler : str or distributed.Client
        A scheduler address (``tcp://host:8786``) or a connected client.

    Yields
    ------
    (key, X or None, error or None)
        One per source, in completion order; a lost worker is reported as an error.
    """
    from distributed import Client
    from distributed import as_completed as completed

    if isinstance(scheduler, Client):
        client = scheduler
    else:
        try:
            client = Client(scheduler, set_as_default=False, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise MerError(f"cannot connect to the Dask scheduler at {scheduler} ({exc})") from None
    try:
        futures = {client.submit(_extract_source, source, config, method, pure=False,
                                 key=f"mer-features-{method}-{config.key()}-{key}"): key
                   for key, source in sources.items()}
        for fut in completed(futures, loop=client.loop):
            key = futures[fut]
            try:
                X, error = fut.result()
            except Exception as exc:  # the worker died or the cluster went away
                X, error = None, f"{sources[key]}: not extracted on the cluster ({type(exc).__name__}: {exc})"
            fut.release()
            yield key, X, error
    finally:
        if client is not scheduler:
            client.close()


def extract_sources(
    items: Sequence[tuple[str, object]],
    *,
    config: FeatureConfig | None = None,
    cache_dir: str | PathLike | None = None,
    jobs: int = 1,
    method: str | None = None,
    progress: bool = True,
    description: str = "features",
    scheduler=None,
) -> ExtractionResult:
    """Feature matrices of audio that is not a file, through the same cache as :func:`extract_files`.

    Parameters
    ----------
    items : sequence of (key, source)
        ``key`` is the cache key (a hex digest naming the audio uniquely, e.g. of the source
        file, the transform chain and the seed); ``source`` is a picklable callable
        ``source(sr) -> np.ndarray of shape (n_samples,)`` producing mono float32 audio at
        ``sr`` Hz; it is called only on a cache miss. Its ``str()`` names it in failures.
    config, cache_dir, jobs, method, progress, description, scheduler
        As for :func:`extract_files`.

    Returns
    -------
    ExtractionResult
        ``paths`` holds ``Path(str(source))`` of each item, for reporting.
    """
    config = config or FeatureConfig()
    cache = FeatureCache(cache_dir, config)
    features: list[np.ndarray | None] = [None] * len(items)
    failures: dict[int, str] = {}
    todo: dict[str, list[int]] = {}
    sources: dict = {}
    n_cached = 0
    for i, (key, source) in enumerate(items):
        X = cache.get(key)
        if X is not None:
            features[i] = X
            n_cached += 1
        else:
            todo.setdefault(key, []).append(i)
            sources.setdefault(key, source)
    _compute(sources, todo, features, failures, cache=cache, method=method, jobs=jobs,
             progress=progress, description=description, scheduler=scheduler)
    return ExtractionResult(
        paths=[Path(str(source)) for _, source in items],
        features=features,
        failures=[(Path(str(items[i][1])), failures[i]) for i in sorted(failures)],
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
    """:func:`extract_files` over the clips of a :class:`~mer.data.datasets.Dataset`."""
    return extract_files(dataset.paths, **kwargs)


def export_npz(path: str | PathLike, dataset, result: ExtractionResult, *, pooled: bool = False,
               config: FeatureConfig | None = None) -> dict:
    """Write the features of the clips that succeeded to a ``.npz`` (no pickled objects).

    Keys: ``ids``, ``paths``, ``labels`` (quadrant names), ``groups``, and either
    ``features`` (N, 204, T_max) zero-padded with ``n_frames`` (N,) and ``row_names`` /
    ``row_groups`` (204,), or with ``pooled=True`` ``features`` (N, 5 * 204) of
    :func:`mer.features.transforms.summary_stats` and ``feature_names``.

    Returns a summary dict (n, shape).
    """
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
