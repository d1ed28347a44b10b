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

from mer.core.errors import MerError
from mer.core.io import save_npy


def default_cache_dir() -> Path:
    """``$MER_CACHE`` if set, else the platform's user cache directory for `mer`."""
    env = os.environ.get("MER_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mer", appauthor=False))


def resolve_cache_dir(root: str | PathLike | None = None) -> Path:
    """The cache root to use, checked to be a writable directory (created if missing).

    Checked here, before any work, because a cache that cannot be written was found only
    when the first result was stored: after minutes of analysis, as a long traceback.

    Raises
    ------
    MerError
        The root is a file, cannot be created, or is not writable.
    """
    path = Path(root).expanduser() if root is not None else default_cache_dir()
    check_writable_dir(path, what="cache directory")
    return path


def check_writable_dir(path: str | PathLike, *, what: str = "directory") -> Path:
    """Create `path` if needed and check that files can be written in it.

    Parameters
    ----------
    path : str or PathLike
    what : str
        How the folder is named in the error (``"cache directory"``, ``"output folder"``...).

    Raises
    ------
    MerError
        One line naming `path`: it is a file, it cannot be created, or it is not writable.
    """
    path = Path(path)
    if path in _checked:
        return path
    if path.exists() and not path.is_dir():
        raise MerError(f"cannot use as {what}: it is a file, not a folder", path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MerError(f"cannot create {what} ({exc.strerror or exc})", path) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise MerError(f"{what} is not writable", path)
    _checked.add(path)
    return path


# Folders already checked by this process: the check runs once per folder, not per file.
_checked: set[Path] = set()


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
    root : path or None
        Cache root (None: see the module docstring for the default).
    config : object with ``key() -> str``
        What the entries are (:class:`mer.features.paper.FeatureConfig`,
        ``DescriptorConfig``, ``EmbeddingConfig``...); entries of different
        configurations never mix. Required: the cache sits below every feature family
        and knows none of them.
    """

    def __init__(self, root: str | PathLike | None, config):
        if not callable(getattr(config, "key", None)):
            raise TypeError(f"config must have a key() method, got {type(config).__name__}")
        self.root = resolve_cache_dir(root)
        self.config = config
        self.dir = self.root / "features" / config.key()

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
        """Store `X` under `key`, atomically.

        Raises
        ------
        MerError
            The entry cannot be written (disk full, permissions changed mid-run).
        """
        try:
            save_npy(self.path_for(key), X)
        except OSError as exc:
            raise MerError(f"cannot write cache entry ({exc.strerror or exc})", self.path_for(key)) from None
