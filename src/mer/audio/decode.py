"""Audio decoding: any common file -> mono float32 at a fixed sample rate.

Two decoders, chosen per file from its first bytes (not trusting the extension):

* libsndfile (via soundfile) reads WAV, FLAC, Ogg (Vorbis, Opus), AIFF, CAF, AU and MP3
  (libsndfile >= 1.1) and is tried first for them: it seeks exactly and is the
  reference decoder of the study;
* FFmpeg, bundled in the PyAV wheel (``av``), reads MP4/M4A (AAC, ALAC), raw ADTS AAC,
  WebM/Matroska (Opus, Vorbis), ASF (WMA), and is the fallback for a file of the first
  kind that libsndfile cannot open (e.g. an ID3-tagged AAC stream named ``.mp3``).

Resampling uses soxr (librosa's default high-quality resampler), whichever decoder ran.
Only the requested excerpt (``offset``, ``duration``) is returned, and `stream` reads a
whole file block by block, so a 10-minute track never has to sit in memory at once.

Undecodable content gives a one-line `MerError` with the real cause (content sniffed
from its magic number, the decoders' own errors); what the C decoders print to file
descriptor 2 (libmpg123's ``Note: Illegal Audio-MPEG-Header ...``) is kept off the
terminal and folded into that message instead.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np
import soundfile as sf

from mer.core.errors import MerError

T = TypeVar("T")

#: File extensions libsndfile reads; it is tried first for these (lower case, with the dot).
SOUNDFILE_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".aifc", ".caf", ".au")

#: File extensions decoded by FFmpeg through PyAV: MP4/M4A (AAC, ALAC), ADTS AAC, WMA, WebM/Matroska.
FFMPEG_EXTENSIONS = (".m4a", ".m4b", ".mp4", ".aac", ".alac", ".wma", ".asf", ".webm", ".weba", ".mka")

#: File extensions `load` accepts (lower case, with the dot).
SUPPORTED_EXTENSIONS = SOUNDFILE_EXTENSIONS + FFMPEG_EXTENSIONS

#: The sample rate of the paper's features, in Hz.
DEFAULT_SR = 22050

#: Bytes read from the start of a file to recognise its format.
_HEAD_BYTES = 16

_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def _sniff(head: bytes) -> tuple[str | None, str]:
    """``(decoder, format name)`` from a file's first bytes; decoder ``"sf"``, ``"av"`` or None (unknown)."""
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "sf", "WAV"
    if head[:4] == b"fLaC":
        return "sf", "FLAC"
    if head[:4] == b"OggS":
        return "sf", "Ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "sf", "AIFF"
    if head[:4] == b"caff":
        return "sf", "CAF"
    if head[:4] == b".snd":
        return "sf", "AU"
    if head[:3] == b"ID3":  # an ID3v2 tag: `_checked` appended the 4 bytes after it
        return ("av", "AAC (ADTS)") if _frame_sync(head[16:20]) == "av" else ("sf", "MP3")
    if (kind := _frame_sync(head)) is not None:
        return kind, "AAC (ADTS)" if kind == "av" else "MPEG audio"
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "av", "MP4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "av", "Matroska/WebM"
    if head[:16] == _ASF_GUID:
        return "av", "ASF/WMA"
    if head[:4] == b"MThd":
        return None, "MIDI (notes, not audio)"
    return None, ""


def sniff_format(head: bytes) -> str | None:
    """The audio format a file's first 16+ bytes announce (``"MP3"``, ``"FLAC"``, ``"MP4"``...), or None.

    None when they announce nothing this module decodes (MIDI included). A match is a
    claim about the container, not a proof that the rest decodes.
    """
    kind, label = _sniff(head)
    return label if kind is not None else None


def _frame_sync(b: bytes) -> str | None:
    """``"sf"`` for an MPEG audio frame header, ``"av"`` for ADTS AAC, None otherwise."""
    if len(b) < 3 or b[0] != 0xFF or b[1] & 0xE0 != 0xE0:  # 11-bit frame sync
        return None
    layer, version = (b[1] >> 1) & 3, (b[1] >> 3) & 3
    if layer == 0:  # ADTS: MPEG-4 sync, layer 00, sampling-frequency index < 13
        return "av" if b[1] & 0xF6 == 0xF0 and (b[2] >> 2) & 0xF < 13 else None
    # MPEG audio: version 01, bit-rate index 1111 and sample-rate index 11 are reserved
    return "sf" if version != 1 and b[2] >> 4 != 0xF and (b[2] >> 2) & 3 != 3 else None


def _not_audio(head: bytes, label: str) -> str:
    preview = "".join(chr(b) if 32 <= b < 127 else "." for b in head[:8])
    what = f"content is {label}" if label else "content is not a recognised audio format"
    return f"cannot decode audio: {what} (starts with 0x{head[:8].hex()} '{preview}')"


# --------------------------------------------------------------------------- decoder noise on fd 2
# libmpg123 (inside libsndfile) prints "Note: Illegal Audio-MPEG-Header ..." with fprintf(stderr)
# from C, which Python cannot intercept. While a decoder call runs, file descriptor 2 points at a
# temporary file; afterwards it is restored, decoder lines are dropped (or folded into an error)
# and anything else written meanwhile (a progress bar, a warning) is written back. Nested and
# concurrent calls share one redirection (reference counted), so decoding stays parallel.

_NOISE = re.compile(r"^(Note: |Warning: |Error: |\[src/libmpg123/|\[[^\]]*mpg123[^\]]*\]|mpg123)")
_fd2_lock = threading.Lock()
_fd2: dict = {"depth": 0, "saved": -1, "file": None}


@contextmanager
def _quiet_fd2() -> Iterator[list[str]]:
    """Capture file descriptor 2 around a decoder call; yields a list that receives the decoder's lines."""
    said: list[str] = []
    with _fd2_lock:
        if _fd2["depth"] == 0:
            _flush_stderr()
            try:
                tmp = tempfile.TemporaryFile()
                saved = os.dup(2)
            except OSError:  # no fd 2 (a daemon) or no temporary space: decode unredirected
                tmp, saved = None, -1
            else:
                os.dup2(tmp.fileno(), 2)
            _fd2.update(saved=saved, file=tmp)
        _fd2["depth"] += 1
        fd = _fd2["file"].fileno() if _fd2["file"] is not None else -1
        start = os.lseek(fd, 0, os.SEEK_END) if fd >= 0 else 0
    try:
        yield said
    finally:
        with _fd2_lock:
            _flush_stderr()
            if fd >= 0:
                end = os.lseek(fd, 0, os.SEEK_END)
                text = os.pread(fd, end - start, start).decode("utf-8", "replace") if end > start else ""
                said.extend(line for line in text.splitlines() if _NOISE.match(line))
            _fd2["depth"] -= 1
            if _fd2["depth"] == 0 and _fd2["file"] is not None:
                os.dup2(_fd2["saved"], 2)
                os.close(_fd2["saved"])
                tmp = _fd2["file"]
                _fd2.update(saved=-1, file=None)
                tmp.seek(0)
                rest = tmp.read().decode("utf-8", "replace")
                tmp.close()
                keep = "".join(line for line in rest.splitlines(keepends=True) if not _NOISE.match(line))
                if keep:  # not the decoder's: give it back to whoever wrote it
                    os.write(2, keep.encode("utf-8", "replace"))


def _flush_stderr() -> None:
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # closed or replaced stderr
        pass


def _decoder_said(said: list[str]) -> str:
    """The decoder's first message, shortened for a one-line error ('' when it said nothing)."""
    if not said:
        return ""
    line = re.sub(r"^(\[[^\]]*\]\s*)?((note|warning|error):\s*)?", "", said[0], flags=re.I).strip()
    return line[:120]


class _DecodeFailed(Exception):
    """A decoder could not open or read the file (internal: becomes a MerError with the cause)."""


def _checked(path: str | PathLike) -> tuple[Path, bytes]:
    """`check_audio_path`, also returning the file's first 16 bytes (+ the 4 after an ID3v2 tag, if any)."""
    path = Path(path)
    if not path.exists():
        raise MerError("file not found", path)
    if path.is_dir():
        raise MerError("is a directory, not a file", path)
    if not path.is_file():
        raise MerError("not a file (a pipe, socket or device?)", path)
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise MerError(
            f"unsupported format '{path.suffix or '(no extension)'}' "
            f"(supported: {', '.join(e[1:] for e in SUPPORTED_EXTENSIONS)})",
            path,
        )
    if path.stat().st_size == 0:
        raise MerError("empty file (0 bytes)", path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
            if head[:3] == b"ID3" and len(head) >= 10:
                # an ID3v2 tag precedes MP3 and sometimes ADTS AAC: append the 4 bytes after it
                size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
                fh.seek(size + (10 if head[5] & 0x10 else 0))
                head = head.ljust(_HEAD_BYTES, b"\0") + fh.read(4)
    except PermissionError:
        raise MerError("permission denied (cannot read the file)", path) from None
    except OSError as exc:
        raise MerError(f"cannot read the file ({exc.strerror or exc})", path) from None
    return path, head


def check_audio_path(path: str | PathLike) -> Path:
    """Return `path` as a Path if it names a readable, non-empty file of a supported format.

    Raises
    ------
    MerError
        Missing file, a directory, an empty (0-byte) or unreadable file, or an unsupported extension.
    """
    return _checked(path)[0]


# --------------------------------------------------------------------------- libsndfile


def _sf_message(exc: Exception) -> str:
    msg = getattr(exc, "error_string", None) or str(exc)
    if "possibly a pipe" in msg or "does not exist" in msg:
        # libsndfile's text for "no format matched the content" when the extension was .mp3
        msg = "format not recognised"
    return msg.strip().rstrip(".")


def _sf_failure(exc: Exception, said: list[str]) -> str:
    """libsndfile's error, with what libmpg123 printed meanwhile (its only way to say why)."""
    mpg123 = _decoder_said(said)
    return f"libsndfile: {_sf_message(exc)}" + (f" (libmpg123: {mpg123})" if mpg123 else "")


def _sf_open(path: Path) -> sf.SoundFile:
    with _quiet_fd2() as said:
        try:
            return sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            failure = exc
    raise _DecodeFailed(_sf_failure(failure, said))


def _sf_read(f: sf.SoundFile, frames: int) -> np.ndarray:
    with _quiet_fd2() as said:
        try:
            return f.read(frames=frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            failure = exc
    raise _DecodeFailed(_sf_failure(failure, said))


def _sf_blocks(f: sf.SoundFile, block: int) -> Iterator[tuple[np.ndarray, bool]]:
    """``(mono float32 samples, is_last)`` per block of `block` native-rate frames."""
    while True:
        data = _sf_read(f, block)
        last = data.shape[0] < block
        yield (data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]), last
        if last:
            return


# --------------------------------------------------------------------------- FFmpeg (PyAV)

#: Full scale of FFmpeg's integer sample formats, to map them to [-1, 1) as libsndfile does.
_AV_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


class _AvReader:
    """An FFmpeg demuxer + decoder over the first audio stream of a file."""

    def __init__(self, path: Path):
        import av  # imported lazily: WAV/FLAC/MP3 users never pay for it

        self._error = av.error.FFmpegError
        self.path = path
        with _quiet_fd2() as said:
            try:
                self.container = av.open(str(path), mode="r", metadata_errors="ignore")
            except (self._error, OSError, ValueError) as exc:
                failure = exc
            else:
                failure = None
        if failure is not None:
            raise _DecodeFailed(self._failure(failure, said))
        if not self.container.streams.audio:
            self.container.close()
            raise MerError("no audio stream in the file", path)
        self.stream = self.container.streams.audio[0]
        self.native_sr = int(self.stream.codec_context.sample_rate or self.stream.sample_rate or 0)
        if self.native_sr <= 0:
            self.container.close()
            raise MerError("audio stream without a sample rate", path)

    def _failure(self, exc: Exception, said: list[str]) -> str:
        extra = _decoder_said(said)
        return f"FFmpeg: {self._message(exc)}" + (f" ({extra})" if extra else "")

    @staticmethod
    def _message(exc: Exception) -> str:
        # FFmpegError's str() repeats the file name ("[Errno ...] Invalid data ...: 'x.m4a'")
        return str(getattr(exc, "strerror", None) or exc).strip().rstrip(".")

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "_AvReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def duration(self) -> float:
        """Seconds, from the stream or container header; from the packets' durations when neither says."""
        s = self.stream
        if s.duration is not None and s.time_base:
            return float(s.duration * s.time_base)
        if self.container.duration is not None:
            import av

            return self.container.duration / av.time_base
        total = 0
        with _quiet_fd2():
            try:
                for packet in self.container.demux(s):
                    total += packet.duration or 0
            except self._error as exc:
                raise MerError(f"cannot decode audio (FFmpeg: {self._message(exc)})", self.path) from None
        return float(total * s.time_base) if s.time_base else 0.0

    def frames(self) -> Iterator[np.ndarray]:
        """Each decoded frame as mono float32 at `native_sr` (channels averaged, integers scaled to [-1, 1))."""
        decoder = self.container.decode(self.stream)
        done = False
        while not done:
            batch = []
            # up to 64 frames (~1.5 s of AAC) per fd-2 redirection: one per frame cost more than the decoding
            with _quiet_fd2() as said:
                try:
                    for _ in range(64):
                        frame = next(decoder, None)
                        if frame is None:
                            done = True
                            break
                        batch.append(frame)
                except self._error as exc:
                    failure = exc
                else:
                    failure = None
            if failure is not None:
                raise _DecodeFailed(self._failure(failure, said))
            for frame in batch:
                yield self._mono(frame)

    def _mono(self, frame) -> np.ndarray:
        if frame.sample_rate != self.native_sr:
            raise MerError(f"sample rate changes mid-stream ({self.native_sr} -> {frame.sample_rate} Hz)", self.path)
        a = frame.to_ndarray()
        if not frame.format.is_planar:  # packed: interleaved samples -> (channels, n)
            a = a.reshape(-1, len(frame.layout.channels)).T
        base = frame.format.name.rstrip("p")
        a = a.astype(np.float32) if base in ("flt", "dbl") else (
            (a.astype(np.float64) - (128.0 if base == "u8" else 0.0)) / _AV_SCALE[base]
        ).astype(np.float32)
        return a.mean(axis=0) if a.shape[0] > 1 else a[0]

    def blocks(self, block: int) -> Iterator[tuple[np.ndarray, bool]]:
        """``(mono float32 samples, is_last)`` per block of `block` native-rate frames, as `_sf_blocks`."""
        pending: list[np.ndarray] = []
        n = 0
        for y in self.frames():
            pending.append(y)
            n += len(y)
            while n >= block:
                joined = np.concatenate(pending)
                yield joined[:block], False
                rest = joined[block:]
                pending, n = ([rest] if len(rest) else []), len(rest)
        yield (np.concatenate(pending) if pending else np.zeros(0, dtype=np.float32)), True


# --------------------------------------------------------------------------- choosing the decoder


def _open_decoder(path: Path, head: bytes) -> sf.SoundFile | _AvReader:
    """An open libsndfile handle or FFmpeg reader for `path`: libsndfile first where it reads the format.

    Raises MerError with the real cause when neither can: content not recognised (from its
    first bytes), or both decoders' errors for content that looks like audio but is corrupt.
    """
    kind, label = _sniff(head)
    sf_failure = ""
    if kind != "av":
        try:
            return _sf_open(path)
        except _DecodeFailed as exc:
            if kind is None:  # not audio as far as both decoders' formats go: say what it is instead
                raise MerError(_not_audio(head, label), path) from None
            sf_failure = str(exc)
    try:
        return _AvReader(path)
    except _DecodeFailed as exc:
        causes = "; ".join(filter(None, [sf_failure, str(exc)]))
        raise MerError(f"cannot decode audio: corrupt or truncated {label} data ({causes})", path) from None


def _finish(y: np.ndarray, native_sr: int, sr: int, path: Path) -> np.ndarray:
    if not np.all(np.isfinite(y)):
        raise MerError("decoded audio contains NaN or infinite samples", path)
    if native_sr != sr:
        import librosa  # imported lazily: decoding alone should not pay for it

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def duration(path: str | PathLike) -> float:
    """Length of an audio file in seconds, read from its header (no decoding).

    For FFmpeg formats: the stream's or container's duration, else the sum of the packets'
    durations (demuxed, not decoded). Raises MerError as `load`.
    """
    path, head = _checked(path)
    dec = _open_decoder(path, head)
    if isinstance(dec, _AvReader):
        with dec:
            return dec.duration()
    with dec:
        return dec.frames / dec.samplerate if dec.samplerate else 0.0


def _load_av(reader: _AvReader, path: Path, offset: float | None, duration: float | None) -> np.ndarray:
    """The excerpt at the native rate, mono float32; decoded from the start and trimmed (sample-exact)."""
    native_sr = reader.native_sr
    start = int(round((offset or 0.0) * native_sr))
    n_want = None if duration is None else max(int(round(duration * native_sr)), 0)
    if n_want == 0:
        raise MerError("zero-length audio (no samples in the requested excerpt)", path)
    pieces: list[np.ndarray] = []
    pos = got = 0  # native samples decoded / kept
    try:
        for y in reader.frames():
            kept = y[max(0, start - pos):]
            pos += len(y)
            if n_want is not None:
                kept = kept[: n_want - got]
            if len(kept):
                pieces.append(kept)
                got += len(kept)
            if n_want is not None and got >= n_want:
                break
    except _DecodeFailed as exc:
        raise MerError(f"cannot decode audio ({exc})", path) from None
    if not pieces:
        if pos == 0:
            raise MerError("zero-length audio (no samples)", path)
        if start >= pos:
            raise MerError(f"offset {offset} s is past the end ({pos / native_sr:.2f} s)", path)
        raise MerError("zero-length audio (no samples in the requested excerpt)", path)
    return np.concatenate(pieces)


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
        Any format of `SUPPORTED_EXTENSIONS` (MP3, WAV, FLAC, Ogg, AIFF, M4A/AAC, ALAC, WMA,
        Opus/Vorbis in WebM...), any sample rate, any channel count.
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
    path, head = _checked(path)
    if offset is not None and offset < 0:
        raise MerError(f"negative offset {offset}", path)
    dec = _open_decoder(path, head)
    if isinstance(dec, _AvReader):
        with dec:
            y = _load_av(dec, path, offset, duration)
        return _finish(y, dec.native_sr, sr, path)
    try:
        with dec as f:
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
            data = _sf_read(f, n_read)
    except MerError:
        raise
    except (_DecodeFailed, sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise MerError(f"cannot decode audio ({exc})", path) from None
    if data.shape[0] == 0:
        raise MerError("zero-length audio (no samples in the requested excerpt)", path)
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return _finish(y, native_sr, sr, path)


def stream(path: str | PathLike, sr: int = DEFAULT_SR, block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """Decode a whole file block by block: the samples of ``load(path, sr)``, in pieces.

    Memory stays bounded by the block however long the file is, for both decoders
    (libsndfile reads a block at a time; FFmpeg's frames, ~1024 samples each, are gathered
    into blocks). The blocks are resampled by one streaming soxr resampler (the same "HQ" filter that `load` uses
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
    path, head = _checked(path)
    dec = _open_decoder(path, head)
    with dec:
        native_sr = dec.native_sr if isinstance(dec, _AvReader) else dec.samplerate
        resampler = None if native_sr == sr else soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ")
        block = max(1, int(block_seconds * native_sr))
        blocks = dec.blocks(block) if isinstance(dec, _AvReader) else _sf_blocks(dec, block)
        n_in = n_out = 0
        pending = np.zeros(0, dtype=np.float32)  # held back: the end is trimmed or padded like librosa.resample
        while True:
            try:
                y, last = next(blocks)
            except _DecodeFailed as exc:
                raise MerError(f"cannot decode audio ({exc})", path) from None
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


def reduce_stream(path: str | PathLike, reduce: Callable[[Iterator[np.ndarray]], T], *, sr: int = DEFAULT_SR) -> T:
    """``reduce(stream(path, sr=sr))``, with any :class:`MerError` attributed to `path`.

    The shape of every long-track analysis (descriptors, embeddings, signal facts): the
    file decoded block by block, so memory is bounded by a block and what `reduce` holds.
    """
    try:
        return reduce(stream(path, sr=sr))
    except MerError as exc:
        raise exc.with_path(path) from None
