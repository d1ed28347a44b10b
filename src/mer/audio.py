"""Audio decoding: any common file -> mono float32 at a fixed sample rate.

Decoding goes through libsndfile (via soundfile), which reads WAV, FLAC, OGG/Vorbis,
Opus, AIFF and MP3 (libsndfile >= 1.1) without an external decoder; resampling uses
soxr (librosa's default high-quality resampler). Only the requested excerpt
(``offset``, ``duration``) is decoded, so a 10-minute track can be read window by window.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from mer.errors import MerError

#: File extensions `load` accepts (lower case, with the dot).
SUPPORTED_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff")

#: The sample rate of the paper's features, in Hz.
DEFAULT_SR = 22050


def check_audio_path(path: str | PathLike) -> Path:
    """Return `path` as a Path if it names a non-empty file of a supported format.

    Raises
    ------
    MerError
        Missing file, a directory, an empty (0-byte) file or an unsupported extension.
    """
    path = Path(path)
    if not path.exists():
        raise MerError("file not found", path)
    if not path.is_file():
        raise MerError("not a file", path)
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise MerError(
            f"unsupported format '{path.suffix or '(no extension)'}' "
            f"(supported: {', '.join(e[1:] for e in SUPPORTED_EXTENSIONS)})",
            path,
        )
    if path.stat().st_size == 0:
        raise MerError("empty file (0 bytes)", path)
    return path


def duration(path: str | PathLike) -> float:
    """Length of an audio file in seconds, read from its header (no decoding)."""
    path = check_audio_path(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise MerError(f"cannot decode audio ({exc})", path) from None
    return info.frames / info.samplerate if info.samplerate else 0.0


def load(
    path: str | PathLike,
    sr: int = DEFAULT_SR,
    offset: float | None = None,
    duration: float | None = None,
) -> np.ndarray:
    """Decode an audio file to mono float32 at `sr`.

    Parameters
    ----------
    path : str or PathLike
        An MP3, WAV, FLAC, OGG, Opus or AIFF file, any sample rate, any channel count.
    sr : int > 0
        Target sample rate in Hz (default 22,050, the paper's).
    offset : float >= 0, optional
        Start of the excerpt in seconds.
    duration : float > 0, optional
        Length of the excerpt in seconds; the excerpt ends early at the end of the file.

    Returns
    -------
    y : np.ndarray, shape (n_samples,), float32
        Channels averaged to mono, resampled to `sr`. Values as decoded (nominally
        in [-1, 1]); silence is returned as zeros, not rejected.

    Raises
    ------
    MerError
        Missing, empty, corrupt, zero-length or unsupported file, or an offset past the
        end; the message names the file and the cause.
    """
    if sr <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz, got {sr}")
    path = check_audio_path(path)
    try:
        with sf.SoundFile(str(path)) as f:
            native_sr = f.samplerate
            n_total = f.frames
            start = int(round((offset or 0.0) * native_sr))
            if start < 0:
                raise MerError(f"negative offset {offset}", path)
            if n_total == 0:
                raise MerError("zero-length audio (no samples)", path)
            if start >= n_total:
                raise MerError(f"offset {offset} s is past the end ({n_total / native_sr:.2f} s)", path)
            f.seek(start)
            n_read = -1 if duration is None else max(int(round(duration * native_sr)), 0)
            data = f.read(frames=n_read, dtype="float32", always_2d=True)
    except MerError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise MerError(f"cannot decode audio ({exc})", path) from None
    if data.shape[0] == 0:
        raise MerError("zero-length audio (no samples in the requested excerpt)", path)
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(y)):
        raise MerError("decoded audio contains NaN or infinite samples", path)
    if native_sr != sr:
        import librosa  # imported lazily: decoding alone should not pay for it

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def stream(path: str | PathLike, sr: int = DEFAULT_SR, block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """Decode a whole file block by block: the samples of ``load(path, sr)``, in pieces.

    Memory stays bounded by the block however long the file is. The blocks are
    resampled by one streaming soxr resampler (the same "HQ" filter that `load` uses
    through librosa), so their concatenation equals `load`'s output sample for sample.

    Parameters
    ----------
    path : str or PathLike
    sr : int > 0
        Target sample rate in Hz.
    block_seconds : float > 0
        Native-rate audio decoded per block.

    Yields
    ------
    np.ndarray, shape (n,), float32
        Consecutive pieces of the mono signal at `sr`.

    Raises
    ------
    MerError
        As `load` (raised when the bad part of the file is reached).
    """
    import soxr

    if sr <= 0:
        raise ValueError(f"sr must be a positive sample rate in Hz, got {sr}")
    path = check_audio_path(path)
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise MerError(f"cannot decode audio ({exc})", path) from None
    with f:
        native_sr = f.samplerate
        resampler = None if native_sr == sr else soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ")
        block = max(1, int(block_seconds * native_sr))
        n_in = n_out = 0
        pending = np.zeros(0, dtype=np.float32)  # held back: the end is trimmed or padded like librosa.resample
        while True:
            try:
                data = f.read(frames=block, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
                raise MerError(f"cannot decode audio ({exc})", path) from None
            last = data.shape[0] < block
            y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
            if not np.all(np.isfinite(y)):
                raise MerError("decoded audio contains NaN or infinite samples", path)
            n_in += len(y)
            if resampler is not None:
                y = resampler.resample_chunk(y, last=last)
            if len(pending):
                yield pending
            n_out += len(pending)
            pending = np.ascontiguousarray(y, dtype=np.float32)
            if last:
                break
        if n_in == 0:
            raise MerError("zero-length audio (no samples)", path)
        if resampler is not None:
            total = int(np.ceil(n_in * (float(sr) / native_sr)))
            pending = np.pad(pending, (0, max(0, total - n_out - len(pending))))[: max(0, total - n_out)]
        if len(pending):
            yield pending
