"""Clip-level model inputs of audio files, through the feature cache: descriptors, embeddings, signal facts.

Each family is computed by :func:`mer.extraction.batch.extract_files` with its own
method and configuration (content-hash cache entries, worker processes for the misses,
failures per file); :func:`clip_inputs` puts the blocks of a recipe side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Sequence

import numpy as np

from mer.audio.quality import QualityConfig, measure
from mer.extraction.batch import extract_files
from mer.features.blocks import DEFAULT_BLOCKS, block_names
from mer.features.descriptors import DescriptorConfig, describe
from mer.features.embeddings import EmbeddingConfig, embed_signal


def describe_files(paths, *, config: DescriptorConfig | None = None, **kwargs):
    """Descriptor vectors, (n_features,) each, of audio files (:func:`extract_files` of :func:`describe`)."""
    return extract_files(paths, config=config or DescriptorConfig(), method=describe, description="descriptors",
                         **kwargs)


def embed_files(paths, *, config: EmbeddingConfig | None = None, **kwargs):
    """musicnn embeddings of audio files (:func:`extract_files` of :func:`embed_signal`)."""
    return extract_files(paths, config=config or EmbeddingConfig(), method=embed_signal, description="musicnn",
                         **kwargs)


def measure_files(paths, *, config: QualityConfig | None = None, **kwargs):
    """Signal facts, (4,) each, of audio files (:func:`extract_files` of :func:`measure`).

    Parameters of all three: `paths` and the keyword arguments of :func:`extract_files`
    (``cache_dir``, ``jobs``, ``progress``, ``scheduler``); each returns its
    :class:`~mer.extraction.batch.ExtractionResult` (None where a file failed).
    """
    return extract_files(paths, config=config or QualityConfig(), method=measure, description="signal check",
                         **kwargs)


@dataclass
class ClipInputs:
    """Per-clip input vectors of a batch of files.

    Attributes
    ----------
    paths : list of Path
        All the files asked for.
    X : np.ndarray, shape (n_ok, n_columns), float32
        One row per file that succeeded in every block, in input order.
    ok : np.ndarray of bool, shape (n_files,)
        Which files have a row in X.
    names : list of str
        Column names (``'descriptors:key_clarity'``, ``'musicnn_msd:mean:tag:sad'``...).
    blocks : dict of str -> slice
        The columns of each block.
    failures : list of (Path, str)
        Files that failed in any block, one reason each.
    """

    paths: list[Path]
    X: np.ndarray
    ok: np.ndarray
    names: list[str]
    blocks: dict[str, slice]
    failures: list[tuple[Path, str]] = field(default_factory=list)


def clip_inputs(paths: Sequence[str | PathLike], *, blocks=DEFAULT_BLOCKS, cache_dir=None, jobs: int = 1,
                progress: bool = True) -> ClipInputs:
    """The recipe's input vectors of audio files, every block through the feature cache.

    Parameters
    ----------
    paths : sequence of paths
    blocks : sequence of (name, config)
        :class:`~mer.features.descriptors.DescriptorConfig` or
        :class:`~mer.features.embeddings.EmbeddingConfig` per block (default :data:`DEFAULT_BLOCKS`).
    cache_dir : path, optional
        Cache root (default ``$MER_CACHE`` or the user cache).
    jobs : int
        Worker processes for cache misses.
    progress : bool

    Returns
    -------
    ClipInputs
    """
    paths = [Path(p) for p in paths]
    parts, names, spans, reasons = [], [], {}, {}
    start = 0
    for name, config in blocks:
        fn = describe_files if isinstance(config, DescriptorConfig) else embed_files
        res = fn(paths, config=config, cache_dir=cache_dir, jobs=jobs, progress=progress)
        cols = block_names(name, config)
        parts.append(res.features)
        for p, reason in res.failures:
            reasons.setdefault(str(p), reason)
        names += cols
        spans[name] = slice(start, start + len(cols))
        start += len(cols)
    ok = np.array([all(part[i] is not None for part in parts) for i in range(len(paths))], dtype=bool)
    X = np.array([np.concatenate([part[i] for part in parts]) for i in np.flatnonzero(ok)], dtype=np.float32)
    X = X.reshape(len(X), start)
    failures = [(p, reasons.get(str(p), f"{p}: failed")) for p, good in zip(paths, ok) if not good]
    return ClipInputs(paths, X, ok, names, spans, failures)
