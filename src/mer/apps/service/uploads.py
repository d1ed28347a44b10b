"""Receiving an upload: the multipart body streamed to a temporary file, bounded and sniffed.

The request body is parsed as it arrives (``python_multipart``'s streaming parser), not
through Starlette's form parsing, so that nothing over the limit is ever stored: a
``Content-Length`` over the limit is refused before a byte is read, and a body without
one is refused (413) as soon as the count passes the limit. The file's first bytes are
checked against the signatures of the audio formats `mer` decodes (415 otherwise),
whatever its name says. The file is stored as ``upload`` plus a suffix from a fixed list
(the upload's own when supported, else the sniffed format's): no part of the client's
file name ever reaches the file system.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mer.audio.decode import SUPPORTED_EXTENSIONS, sniff_format

#: Bytes of a multipart body besides the file itself (boundaries, part headers, small fields).
FORM_OVERHEAD = 64 * 1024

#: Bytes needed to recognise a format (:func:`sniff_audio`).
HEAD_BYTES = 16

#: The file suffix of each format :func:`sniff_audio` names.
FORMAT_SUFFIX = {"MP3": ".mp3", "MPEG audio": ".mp3", "AAC (ADTS)": ".aac", "FLAC": ".flac", "Ogg": ".ogg",
                 "WAV": ".wav", "AIFF": ".aiff", "CAF": ".caf", "AU": ".au", "MP4": ".m4a",
                 "Matroska/WebM": ".webm", "ASF/WMA": ".wma"}

#: Name prefix of the temporary folder of each upload: ``mer-upload-<server pid>-<random>``.
UPLOAD_PREFIX = "mer-upload-"


class UploadRejected(Exception):
    """The upload cannot be taken: `status` (413, 415, 422) and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def sniff_audio(head: bytes) -> str | None:
    """The audio format that a file's first :data:`HEAD_BYTES` bytes announce, or None.

    :func:`mer.audio.decode.sniff_format`: the formats the decoder reads, recognised the
    way it recognises them. A match is a claim, not a proof: the decoder may still fail
    on the rest (HTTP 422).
    """
    return sniff_format(head)


def upload_folder(temp_dir: str | os.PathLike | None = None) -> Path:
    """A new empty folder for one upload, in `temp_dir` (default: the system's), named after this process."""
    return Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-", dir=temp_dir))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_uploads(temp_dir: str | os.PathLike | None = None) -> int:
    """Remove the upload folders of services that no longer run (killed with SIGKILL); how many.

    A folder is stale when the process its name records is gone; a folder of a running
    process (this one or another service) is never touched.
    """
    removed = 0
    for folder in Path(temp_dir or tempfile.gettempdir()).glob(f"{UPLOAD_PREFIX}*"):
        pid = folder.name[len(UPLOAD_PREFIX):].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def upload_name(filename: str | None) -> str:
    """The client's file name without any folder part (what answers and errors call the upload)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:255] or "upload"


@dataclass
class Upload:
    """A stored upload: `path` in the request's temporary folder, the client's `name`, `size` in bytes."""

    path: Path
    name: str
    size: int
    format: str


@dataclass
class _FilePart:
    """Multipart parser callbacks that write the ``file`` field to ``folder/upload.part``."""

    folder: Path
    max_bytes: int
    headers: dict = field(default_factory=dict)
    header: list = field(default_factory=lambda: [b"", b""])
    name: str | None = None
    fh: object = None
    active: bool = False
    size: int = 0
    head: bytes = b""
    format: str | None = None

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._value,
                "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
                "on_part_data": self._data, "on_part_end": self._end}

    def _begin(self) -> None:
        self.headers.clear()

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.header[0] += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.header[1] += data[start:end]

    def _header_end(self) -> None:
        self.headers[self.header[0].lower()] = self.header[1]
        self.header = [b"", b""]

    def _headers_done(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if options.get(b"name") == b"file" and b"filename" in options and self.name is None:
            self.name = upload_name(options[b"filename"].decode("utf-8", "replace"))
            self.fh, self.active = open(self.folder / "upload.part", "wb"), True

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self.active:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise UploadRejected(413, f"{self.name}: larger than this server's upload limit "
                                      f"({self.max_bytes / 2**20:g} MiB)")
        if self.format is None and len(self.head) < HEAD_BYTES:
            self.head += data[start:end][:HEAD_BYTES - len(self.head)]
            if len(self.head) >= HEAD_BYTES:
                self._sniff()
        self.fh.write(data[start:end])

    def _end(self) -> None:
        if self.active:
            self.active = False
            self.fh.close()
            if self.format is None:
                self._sniff()

    def _sniff(self) -> None:
        self.format = sniff_audio(self.head)
        if self.format is None:
            shown = "".join(chr(b) if 32 <= b < 127 else "." for b in self.head[:8])
            what = "empty" if not self.head else f"starts with 0x{self.head[:8].hex()} '{shown}'"
            raise UploadRejected(415, f"{self.name}: not a recognised audio file ({what}); send MP3, WAV, FLAC, "
                                      "Ogg, AIFF, M4A/MP4, WebM or WMA")

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def _boundary(content_type: str | None) -> bytes:
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadRejected(415, "send the audio as multipart/form-data with a field named 'file'")
    return options[b"boundary"]


async def receive_upload(request, *, folder: Path, max_bytes: int) -> Upload:
    """Stream the ``file`` field of a multipart request into `folder`, within `max_bytes`.

    Parameters
    ----------
    request : starlette.requests.Request
        Its body not read yet.
    folder : Path
        An empty temporary folder of this request (the caller removes it, whatever happens).
    max_bytes : int
        Largest file accepted, in bytes; the whole body may exceed it by :data:`FORM_OVERHEAD`.

    Raises
    ------
    UploadRejected
        413 over the limit (before storing anything past it), 415 not multipart or not
        audio, 422 no ``file`` field.
    """
    from python_multipart.exceptions import ParseError
    from python_multipart.multipart import MultipartParser

    boundary = _boundary(request.headers.get("content-type"))
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + FORM_OVERHEAD:
        raise UploadRejected(413, f"the upload ({int(length) / 2**20:.1f} MiB) is larger than this server's "
                                  f"limit ({max_bytes / 2**20:g} MiB)")
    part = _FilePart(folder, max_bytes)
    parser = MultipartParser(boundary, part.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_bytes + FORM_OVERHEAD:
                raise UploadRejected(413, f"the upload is larger than this server's limit ({max_bytes / 2**20:g} MiB)")
            parser.write(chunk)
        parser.finalize()
    except ParseError as exc:
        raise UploadRejected(422, f"malformed multipart body ({' '.join(str(exc).split())})") from None
    finally:
        part.close()
    if part.name is None or part.active:
        raise UploadRejected(422, "no file in the request: send multipart/form-data with a field named 'file'")
    suffix = Path(part.name).suffix.lower()
    path = folder / f"upload{suffix if suffix in SUPPORTED_EXTENSIONS else FORMAT_SUFFIX[part.format]}"
    (folder / "upload.part").rename(path)
    return Upload(path, part.name, part.size, part.format)
