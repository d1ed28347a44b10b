"""Similarity vectors of tracks and exact nearest-neighbour search over them (what ``mer similar`` ranks by).

The vector (:func:`assemble`, :data:`GROUPS`, stored by ``mer scan`` in the library's
``vector`` column as float32 bytes) is, in order:

* the musicnn embeddings of the recipe's two blocks (MSD and MTT weights), **mean-pooled
  over the whole track** (the ``mean:`` columns of :data:`mer.features.blocks.DEFAULT_BLOCKS`:
  50 tag activations and the 200-unit penultimate layer each, 500 values; the same
  cache entries as the model's inputs, so a scan computes nothing twice);
* the model's whole-track valence and arousal ([-1, 1]);
* tempo (BPM) and loudness (RMS dBFS), as the library stores them.

A search (:class:`VectorIndex`) standardises every column over the library (mean 0,
standard deviation 1; a missing value counts as the mean), scales each group ``g`` of
``n_g`` columns by ``sqrt(w_g / n_g)`` (so a group weighs ``w_g`` in the squared
distance whatever its size) and ranks by the chosen metric, exactly, in NumPy.
:data:`DEFAULT_WEIGHTS` and :data:`DEFAULT_METRIC` were chosen by measurement
(:mod:`mer.study.similar`, ``docs/recommendation.md``).
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from mer.core.errors import MerError
from mer.features.blocks import DEFAULT_BLOCKS, block_names
from mer.features.embeddings import EmbeddingConfig

#: Input blocks whose mean-pooled embeddings go into the vector: (name, config).
EMBEDDING_BLOCKS = tuple((name, cfg) for name, cfg in DEFAULT_BLOCKS if isinstance(cfg, EmbeddingConfig))


def _group_sizes() -> list[tuple[str, int]]:
    groups = []
    for name, cfg in EMBEDDING_BLOCKS:
        names = block_names(name, cfg)
        for part in cfg.parts:
            tag = "tag" if part == "tags" else part
            groups.append((f"{name}:{part}", sum(n.startswith(f"{name}:mean:{tag}:") for n in names)))
    return groups + [("valence", 1), ("arousal", 1), ("tempo", 1), ("loudness", 1)]


#: The vector's column groups, in order: (name, number of columns).
GROUPS: tuple[tuple[str, int], ...] = tuple(_group_sizes())

#: Columns of the whole vector.
VECTOR_SIZE = sum(n for _, n in GROUPS)

#: Metrics of :class:`VectorIndex`: Euclidean distance, or 1 - cosine similarity, of the scaled vectors.
METRICS = ("euclidean", "cosine")

#: Group weights chosen by measurement (python -m mer.study.similar: the best same-quadrant share of the 10
#: nearest other-artist clips on 60 % of 4q-dev's artists, then scored on the other 40 %; docs/recommendation.md);
#: unnamed groups (the tag activations) weigh 0.
DEFAULT_WEIGHTS: dict[str, float] = {"musicnn_msd:penultimate": 1.0, "musicnn_mtt:penultimate": 1.0,
                                     "valence": 4.0, "arousal": 4.0, "tempo": 0.25, "loudness": 0.25}
DEFAULT_METRIC = "cosine"


def group_slices() -> dict[str, slice]:
    """Group name -> its columns of the vector."""
    out, start = {}, 0
    for name, n in GROUPS:
        out[name] = slice(start, start + n)
        start += n
    return out


def pooled_columns(names: list[str]) -> np.ndarray:
    """Indices, in `names` (columns of :func:`mer.extraction.inputs.clip_inputs` with
    :data:`DEFAULT_BLOCKS` or :data:`EMBEDDING_BLOCKS`), of the vector's embedding columns, in vector order."""
    index = {n: i for i, n in enumerate(names)}
    wanted = []
    for name, cfg in EMBEDDING_BLOCKS:
        for part in cfg.parts:
            tag = "tag" if part == "tags" else part
            wanted += [n for n in block_names(name, cfg) if n.startswith(f"{name}:mean:{tag}:")]
    missing = [n for n in wanted if n not in index]
    if missing:
        raise MerError(f"the inputs lack the embedding column {missing[0]}")
    return np.array([index[n] for n in wanted], dtype=int)


def assemble(pooled: np.ndarray, valence, arousal, tempo_bpm, loudness_db) -> np.ndarray:
    """The vectors, (n, :data:`VECTOR_SIZE`) float32, of `pooled` embeddings (n, 500) and per-track values (n,).

    None / NaN stays NaN (a search counts it as the library's mean).
    """
    pooled = np.atleast_2d(np.asarray(pooled, dtype=np.float64))
    extra = np.column_stack([np.asarray(np.atleast_1d(x), dtype=float) if x is not None else np.full(len(pooled),
                             np.nan) for x in (valence, arousal, tempo_bpm, loudness_db)])
    X = np.hstack([pooled, extra]).astype(np.float32)
    if X.shape[1] != VECTOR_SIZE:
        raise MerError(f"a similarity vector has {VECTOR_SIZE} values, got {X.shape[1]}")
    return X


def pooled_embedding(path: str | PathLike, *, cache_dir=None) -> np.ndarray:
    """The mean-pooled musicnn embeddings (500,) of one file, through the feature cache."""
    from mer.extraction.inputs import clip_inputs

    inputs = clip_inputs([path], blocks=EMBEDDING_BLOCKS, cache_dir=cache_dir, progress=False)
    if inputs.failures:
        raise MerError(inputs.failures[0][1])
    return inputs.X[0, pooled_columns(inputs.names)]


def track_vector(path: str | PathLike, result: dict, *, cache_dir=None) -> bytes:
    """The stored vector (float32 bytes) of a file, from its analysis `result` (valence, arousal,
    ``tempo_bpm``, ``loudness_db``: the library's columns) and its pooled embeddings."""
    vec = assemble(pooled_embedding(path, cache_dir=cache_dir), result.get("valence"), result.get("arousal"),
                   result.get("tempo_bpm"), result.get("loudness_db"))
    return vec[0].astype("<f4").tobytes()


def unpack(data: bytes) -> np.ndarray:
    """A stored vector as float32 (:data:`VECTOR_SIZE`,); MerError for one of another layout."""
    vec = np.frombuffer(data, dtype="<f4")
    if vec.size != VECTOR_SIZE:
        raise MerError(f"a stored similarity vector has {vec.size} values, this mer reads {VECTOR_SIZE}: "
                       "run mer scan again")
    return vec


class VectorIndex:
    """Exact nearest-neighbour search over vectors, standardised and weighted (module docstring).

    Parameters
    ----------
    X : array, shape (n, VECTOR_SIZE)
        Raw vectors (:func:`assemble`); standardisation statistics come from these rows.
    weights : dict of str -> float, optional
        Group weight (:data:`GROUPS` names); default :data:`DEFAULT_WEIGHTS`.
    metric : str
        One of :data:`METRICS`.
    """

    def __init__(self, X: np.ndarray, *, weights: dict[str, float] | None = None, metric: str = DEFAULT_METRIC):
        if metric not in METRICS:
            raise MerError(f"unknown metric '{metric}' (use {', '.join(METRICS)})")
        weights = DEFAULT_WEIGHTS if weights is None else weights
        unknown = set(weights) - {g for g, _ in GROUPS}
        if unknown:
            raise MerError(f"unknown vector group {sorted(unknown)[0]}")
        self.scale = np.zeros(VECTOR_SIZE)
        for name, sl in group_slices().items():
            self.scale[sl] = np.sqrt(max(0.0, float(weights.get(name, 0.0))) / (sl.stop - sl.start))
        self.metric = metric
        self.columns = c = np.flatnonzero(self.scale > 0)  # columns of weight 0 are left out of the search
        Xc = np.asarray(X).reshape(-1, VECTOR_SIZE)[:, c].astype(np.float64)
        self.mean, self.std = np.zeros(VECTOR_SIZE), np.ones(VECTOR_SIZE)
        if len(Xc):
            with np.errstate(all="ignore"):
                self.mean[c] = np.where(np.isnan(Xc).all(axis=0), 0.0, np.nanmean(Xc, axis=0))
                std = np.nanstd(Xc, axis=0)
            self.std[c] = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        self.Z = self._scaled(Xc)
        self.sq = np.einsum("ij,ij->i", self.Z, self.Z)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardised, weighted (and for cosine, unit-length) rows, float32, of the weighted columns only."""
        return self._scaled(np.atleast_2d(np.asarray(X, dtype=np.float64))[:, self.columns])

    def _scaled(self, Xc: np.ndarray) -> np.ndarray:
        c = self.columns
        Z = np.nan_to_num((Xc - self.mean[c]) / self.std[c], nan=0.0) * self.scale[c]
        if self.metric == "cosine":
            norms = np.linalg.norm(Z, axis=1, keepdims=True)
            Z = Z / np.where(norms > 0, norms, 1.0)
        return Z.astype(np.float32)

    def distances(self, x: np.ndarray) -> np.ndarray:
        """Distance (n,) from one raw vector to every indexed one."""
        z = self.transform(x)[0]
        dots = self.Z @ z
        if self.metric == "cosine":
            return np.maximum(1.0 - dots, 0.0)
        return np.sqrt(np.maximum(self.sq + float(z @ z) - 2.0 * dots, 0.0))

    def nearest(self, x: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Indices and distances of the `k` nearest allowed rows, nearest first (ties: lower index)."""
        d = self.distances(x)
        if allowed is not None:
            d = np.where(allowed, d, np.inf)
        k = min(int(k), int(np.isfinite(d).sum()))
        if k <= 0:
            return np.zeros(0, dtype=int), np.zeros(0)
        part = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
        order = part[np.lexsort((part, d[part]))]
        return order, d[order]
