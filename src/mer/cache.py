"""On-disk feature cache keyed by file content and feature configuration.

Layout: ``<root>/features/<config key>/<k[:2]>/<k>.npy`` where ``k`` is the SHA-256
of the audio file's bytes (or any caller-chosen key, e.g. for augmented copies).
Renaming or moving a file keeps its cache entry; editing it invalidates it. Each
entry is written atomically, so an interrupted extraction resumes where it stopped
and never reads a truncated entry. An unreadable entry is treated as a miss.

The root is, in order: an explicit ``root``, the ``MER_CACHE`` environment variable,
or the user cache directory (``~/.cache/mer`` on Linux).
"""

from __future__ import annotations

import hashlib
import os
from os import PathLike
from pathlib import Path

import numpy as np

from mer._io import save_npy
from mer.features import FeatureConfig


def default_cache_dir() -> Path:
    """``$MER_CACHE`` if set, else the platform's user cache directory for `mer`."""
    env = os.environ.get("MER_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mer", appauthor=False))


def resolve_cache_dir(root: str | PathLike | None = None) -> Path:
    return Path(root).expanduser() if root is not None else default_cache_dir()


def file_digest(path: str | PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


class FeatureCache:
    """Feature matrices on disk, one .npy per clip.

    Parameters
    ----------
    root : path, optional
        Cache root (see module docstring for the default).
    config : FeatureConfig, optional
        Entries of different configurations never mix.
    """

    def __init__(self, root: str | PathLike | None = None, config: FeatureConfig | None = None):
        self.root = resolve_cache_dir(root)
        self.config = config or FeatureConfig()
        self.dir = self.root / "features" / self.config.key()

    def path_for(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npy"

    def key_for_file(self, path: str | PathLike) -> str:
        return file_digest(path)

    def get(self, key: str) -> np.ndarray | None:
        """The cached matrix for `key`, or None on a miss (or an unreadable entry)."""
        p = self.path_for(key)
        try:
            return np.load(p, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError, EOFError):
            return None

    def __contains__(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def put(self, key: str, X: np.ndarray) -> None:
        save_npy(self.path_for(key), X)
