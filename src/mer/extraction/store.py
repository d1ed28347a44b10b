"""A memory-mapped feature store: a dataset's (204, T_i) matrices in one file on disk.

Training and evaluation read a store clip by clip, so their memory does not grow with
the number of clips. Layout of a store folder::

    features.f32   every clip's (n_rows, T_i) float32 matrix, C order, one after another
    index.npy      int64 (n_clips, 2): offset (in floats) and T_i of each clip
    meta.json      n_rows, the FeatureConfig, and ids / labels / groups of the clips

:func:`write_store` streams clips into ``features.f32`` and writes the index and the
metadata last, each atomically (:mod:`mer.core.io`): a store without ``meta.json`` is
incomplete and is never opened. An interrupted build is simply redone; when the clips
come from :func:`mer.extraction.batch.extract_files`, the feature cache makes that cheap.

:class:`FeatureStore` opens a store read-only with ``mmap`` and behaves as a sequence
of (n_rows, T_i) arrays (``len``, indexing, iteration), which is what
``SequenceClassifier.fit`` and ``predict`` take. Each item is copied out of the map and
the pages it occupied are handed back to the kernel (``madvise(MADV_DONTNEED)``), so
reading a 10 GB store end to end keeps the resident memory of one clip, not of the
file. :meth:`FeatureStore.view` gives a zero-copy view instead.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.core.io import save_npy, write_json
from mer.features.paper import FeatureConfig, FeatureSpec

DATA_FILE, INDEX_FILE, META_FILE = "features.f32", "index.npy", "meta.json"
STORE_VERSION = 1


def write_store(root: str | PathLike, clips: Iterable[tuple[str, np.ndarray, str | None, str | None]], *,
                config: FeatureConfig | None = None) -> "FeatureStore":
    """Write clips to a new store at `root` (replacing one that is there) and open it.

    Parameters
    ----------
    root : path
        The store folder (created).
    clips : iterable of (id, X, label, group)
        ``X`` of shape (n_rows, T_i); label and group may be None. Consumed one at a
        time: memory stays that of one clip.
    config : FeatureConfig, optional
        The extraction parameters, recorded in the metadata.

    Returns
    -------
    FeatureStore
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name in (META_FILE, INDEX_FILE):  # from here on the folder is not a valid store
        (root / name).unlink(missing_ok=True)
    part = root / f".{DATA_FILE}.part"
    ids, labels, groups, index = [], [], [], []
    n_rows, offset = None, 0
    try:
        with open(part, "wb") as f:
            for clip_id, X, label, group in clips:
                X = np.ascontiguousarray(X, dtype=np.float32)
                if X.ndim != 2 or (n_rows is not None and X.shape[0] != n_rows):
                    raise MerError(f"clip {clip_id}: expected a ({n_rows or 'n_rows'}, T) matrix, got {X.shape}")
                n_rows = X.shape[0]
                f.write(X.tobytes())
                index.append((offset, X.shape[1]))
                offset += X.size
                ids.append(str(clip_id))
                labels.append(label)
                groups.append(group)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, root / DATA_FILE)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    save_npy(root / INDEX_FILE, np.asarray(index, dtype=np.int64).reshape(-1, 2))
    write_json(root / META_FILE, {
        "version": STORE_VERSION, "n_rows": n_rows if n_rows is not None else FeatureSpec.from_config(config).n_rows,
        "config": (config or FeatureConfig()).to_dict(), "ids": ids, "labels": labels, "groups": groups,
    })
    return FeatureStore(root)


def store_from_extraction(root: str | PathLike, dataset, result, *,
                          config: FeatureConfig | None = None) -> "FeatureStore":
    """A store of the clips of `dataset` that `result` (:class:`~mer.extraction.batch.ExtractionResult`) extracted.

    Failed clips are left out; ids, labels and groups come from the dataset's clips.
    """
    keep = np.flatnonzero(result.ok)
    clips = ((dataset.clips[i].id, result.features[i], dataset.clips[i].label, dataset.clips[i].group) for i in keep)
    return write_store(root, clips, config=config)


class FeatureStore(Sequence):
    """A store written by :func:`write_store`, opened read-only and memory-mapped.

    Parameters
    ----------
    root : path
        The store folder.

    Attributes
    ----------
    ids, labels, groups : np.ndarray of str (or object, None where unknown), shape (n_clips,)
    n_frames : np.ndarray of int, shape (n_clips,)
    n_rows : int
    config : FeatureConfig
    """

    def __init__(self, root: str | PathLike):
        self.root = Path(root)
        try:
            meta = json.loads((self.root / META_FILE).read_text())
            self._index = np.load(self.root / INDEX_FILE, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise MerError(f"not a complete feature store ({exc.__class__.__name__}: {exc})", self.root) from None
        self.n_rows = int(meta["n_rows"])
        self.config = FeatureConfig.from_dict(meta["config"])
        self.ids = np.array(meta["ids"], dtype=str)
        self.labels = np.array(meta["labels"], dtype=object if None in meta["labels"] else str)
        self.groups = np.array(meta["groups"], dtype=object if None in meta["groups"] else str)
        self.n_frames = self._index[:, 1].copy()
        size = (self.root / DATA_FILE).stat().st_size
        expected = 4 * int(self._index[-1, 0] + self.n_rows * self._index[-1, 1]) if len(self._index) else 0
        if size != expected:
            raise MerError(f"feature store data has {size} bytes, its index says {expected}", self.root)
        self._file = open(self.root / DATA_FILE, "rb")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        self._data = np.frombuffer(self._map, dtype=np.float32) if size else np.zeros(0, np.float32)

    # -- Sequence ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i):
        """The (n_rows, T_i) matrix of clip `i` (a copy), or a list for a slice / index array."""
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if isinstance(i, (list, np.ndarray)):
            return [self[int(j)] for j in i]
        X = self.view(i).copy()
        self._release(i)
        return X

    def view(self, i: int) -> np.ndarray:
        """Clip `i` as a read-only view into the map (no copy; its pages stay resident)."""
        i = range(len(self))[i]  # negative indices, IndexError
        offset, T = self._index[i]
        return self._data[offset: offset + self.n_rows * T].reshape(self.n_rows, T)

    def _release(self, i: int) -> None:
        # hand the clip's pages back: they stay in the page cache but leave this
        # process's resident set, so reading the whole store does not grow it
        if self._map is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        offset, T = (int(v) for v in self._index[i])
        start = offset * 4 // mmap.PAGESIZE * mmap.PAGESIZE
        stop = (offset + self.n_rows * T) * 4
        if stop > start:
            self._map.madvise(mmap.MADV_DONTNEED, start, stop - start)

    # -- bookkeeping ----------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Size of the store's files on disk, in bytes."""
        return sum((self.root / n).stat().st_size for n in (DATA_FILE, INDEX_FILE, META_FILE))

    def close(self) -> None:
        self._data = np.zeros(0, np.float32)  # drop our buffer export before closing the map
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # views handed out are alive: the map goes when they do
                pass
            self._map = None
        self._file.close()

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r}: {len(self)} clips, {self.n_rows} rows)"
