"""Atomic file writes: a crash never leaves a half-written file that a later run trusts.

Everything `mer` persists (features, models, reports) is written to a temporary file
in the destination folder and moved into place with :func:`os.replace`, which is
atomic on POSIX and Windows when both paths are on one file system.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from os import PathLike
from pathlib import Path
from typing import IO, Iterator

import numpy as np


@contextlib.contextmanager
def atomic_open(path: str | PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of `path` for writing; on success move it onto `path`.

    On any exception the temporary file is removed and `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_text(path: str | PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_npy(path: str | PathLike, array: np.ndarray) -> None:
    """Atomically write one array as .npy (no pickling)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    write_bytes(path, buf.getvalue())


def save_npz(path: str | PathLike, compress: bool = False, **arrays: np.ndarray) -> None:
    """Atomically write a .npz of plain (non-object) arrays.

    Feature matrices barely compress (float32 noise), so compression is off by default.
    """
    with atomic_open(path, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **{k: np.asarray(v) for k, v in arrays.items()})
