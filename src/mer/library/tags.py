"""Mood written into audio files' own tags, where music players read it (mutagen).

Fields, by tag format (the mood word, then mer's numbers):

- ID3v2.4 (MP3; the ID3 tags of WAV and AIFF): ``TMOO``; ``TXXX:MER_QUADRANT``,
  ``TXXX:MER_VALENCE``, ``TXXX:MER_AROUSAL``, ``TXXX:MER_MODEL``.
- Vorbis comments (FLAC, OGG Vorbis, Opus): ``MOOD``; ``MER_QUADRANT``, ``MER_VALENCE``,
  ``MER_AROUSAL``, ``MER_MODEL``.
- MP4 / M4A freeform atoms: ``----:com.apple.iTunes:MOOD``; ``----:com.apple.iTunes:MER_*``.

Other formats (APEv2, ASF...) are reported as unsupported.

The mood word of a quadrant is the first word of :data:`mer.core.labels.QUADRANT_NAMES`,
capitalised (:data:`MOOD_TAGS`: Q1 Happy, Q2 Tense, Q3 Sad, Q4 Calm). Valence and arousal
are written with 4 decimals (in [-1, 1]).

A mood already in a file is the user's and is kept unless ``overwrite=True``; the one
exception is a mood mer wrote itself (the file's ``MER_QUADRANT`` names the quadrant
whose word the mood is), which a new analysis may update. ``MER_*`` fields are mer's own
and always updated.

Safety: the file is copied to a temporary sibling, the tags are written into the copy,
the copy is flushed to disk and then moved over the original with :func:`os.replace`
(atomic on one file system), keeping the original's permission bits. Any failure
removes the copy and leaves the original as it was; a file that changed on disk while
it was being tagged is left alone and reported. mutagen rewrites only the tag regions,
so the audio stream stays byte-identical (tests/test_tags.py decodes before and after).
Re-running is idempotent: a file whose tags already say what would be written is not
rewritten (``unchanged``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from mer.core.errors import MerError
from mer.core.labels import QUADRANT_NAMES, QUADRANTS
from mer.library.track import Track

#: The mood word written for each quadrant (one source: :data:`mer.core.labels.QUADRANT_NAMES`).
MOOD_TAGS = {q: QUADRANT_NAMES[q].split("/")[0].split("(")[0].strip().capitalize() for q in QUADRANTS}

#: mer's own fields, in the order they are written (mood first).
MER_FIELDS = ("MER_QUADRANT", "MER_VALENCE", "MER_AROUSAL", "MER_MODEL")

_MP4_PREFIX = "----:com.apple.iTunes:"


@dataclass
class TagOutcome:
    """What was (or, in a dry run, would be) written into one file.

    Attributes
    ----------
    path : str
    fields : dict of str -> str
        The fields set, by mer's name (``MOOD``, ``MER_QUADRANT``...), in their written form.
    kept_mood : str or None
        The user's mood left in place (not replaced without ``overwrite``); None otherwise.
    previous : dict of str -> str
        The values these fields had before (absent fields left out).
    size, mtime_ns : int or None
        The file's size and modification time after the write (None in a dry run): the
        audio is unchanged, so a library can record them instead of analysing it again.
    """

    path: str
    fields: dict[str, str]
    kept_mood: str | None = None
    previous: dict[str, str] = field(default_factory=dict)
    size: int | None = None
    mtime_ns: int | None = None


@dataclass
class TagReport:
    """The result of :func:`write_tags` over a batch.

    Attributes
    ----------
    dry_run : bool
        True when nothing was written (``written`` then lists what would have been).
    written : list of TagOutcome
        Files whose tags were (would be) changed.
    unchanged : list of str
        Files whose tags already said what mer would write.
    skipped : list of (str, str)
        Tracks with no mood to write (silent, analysis failed, file missing), with why.
    unsupported : list of (str, str)
        Files whose format has no tag fields mer writes, with why.
    failures : list of (str, str)
        Files that could not be read or written (one-line reasons); each is left untouched.
    """

    dry_run: bool = False
    written: list[TagOutcome] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kept_mood(self) -> list[TagOutcome]:
        """Written files whose user mood was kept (their ``MER_*`` fields were still updated)."""
        return [o for o in self.written if o.kept_mood is not None]

    def summary(self) -> str:
        """One line: how many files fell in each group."""
        verb = "would write" if self.dry_run else "wrote"
        return (f"{verb} {len(self.written)}, unchanged {len(self.unchanged)}, user mood kept "
                f"{len(self.kept_mood)}, skipped {len(self.skipped)}, unsupported {len(self.unsupported)}, "
                f"failed {len(self.failures)}")

    def to_dict(self) -> dict:
        return {"dry_run": self.dry_run,
                "written": [vars(o) for o in self.written], "unchanged": list(self.unchanged),
                "skipped": [list(s) for s in self.skipped], "unsupported": [list(u) for u in self.unsupported],
                "failures": [list(f) for f in self.failures]}


# ---------------------------------------------------------------------------------------
# One tag format at a time: read mer's fields, set them


def _kind(tags) -> str | None:
    from mutagen._vorbis import VComment
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    if isinstance(tags, ID3):
        return "id3"
    if isinstance(tags, VComment):
        return "vorbis"
    if isinstance(tags, MP4Tags):
        return "mp4"
    return None


def _get(tags, kind: str, name: str) -> str | None:
    """The first value of field `name` (``MOOD`` or ``MER_*``), or None."""
    if kind == "id3":
        frames = tags.getall("TMOO") if name == "MOOD" else tags.getall(f"TXXX:{name}")
        values = [str(t) for f in frames for t in f.text]
    elif kind == "vorbis":
        values = list(tags.get(name, []))
    else:
        values = [bytes(v).decode("utf-8", "replace") for v in tags.get(_MP4_PREFIX + name, [])]
    values = [v.strip() for v in values if v and v.strip()]
    return values[0] if values else None


def _set(tags, kind: str, name: str, value: str) -> None:
    if kind == "id3":
        from mutagen.id3 import TMOO, TXXX

        if name == "MOOD":
            tags.setall("TMOO", [TMOO(encoding=3, text=[value])])
        else:
            tags.setall(f"TXXX:{name}", [TXXX(encoding=3, desc=name, text=[value])])
    elif kind == "vorbis":
        tags[name] = [value]
    else:
        from mutagen.mp4 import AtomDataType, MP4FreeForm

        tags[_MP4_PREFIX + name] = [MP4FreeForm(value.encode("utf-8"), dataformat=AtomDataType.UTF8)]


def _fields(tags, kind: str) -> dict[str, str]:
    present = {n: _get(tags, kind, n) for n in ("MOOD", *MER_FIELDS)}
    return {n: v for n, v in present.items() if v is not None}


def _open(path: Path):
    """``(mutagen file, tag kind)``; MerError when unreadable, ``(file, None)`` when unsupported."""
    import mutagen

    try:
        audio = mutagen.File(str(path))
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as exc:
        raise MerError(f"cannot read tags ({exc or type(exc).__name__})", path) from None
    if audio is None:
        return None, None
    if audio.tags is None:
        try:
            audio.add_tags()
        except (mutagen.MutagenError, NotImplementedError, ValueError, AttributeError):
            return audio, None
    return audio, _kind(audio.tags)


def read_tags(path: str | PathLike) -> dict:
    """The mood fields in a file's tags.

    Returns
    -------
    dict
        ``format`` (``'id3'``, ``'vorbis'``, ``'mp4'``), ``mood`` (str or None) and the
        ``MER_*`` fields present: ``quadrant`` (str), ``valence`` and ``arousal`` (float),
        ``model`` (str).

    Raises
    ------
    MerError
        The file cannot be read, or its format has none of these fields.
    """
    path = Path(path)
    audio, kind = _open(path)
    if kind is None:
        raise MerError("no mood tags in this format (mer reads ID3, Vorbis comments and MP4)", path)
    present = _fields(audio.tags, kind)
    out: dict = {"format": kind, "mood": present.get("MOOD")}
    for name in MER_FIELDS:
        if name in present:
            key = name[len("MER_"):].lower()
            try:
                out[key] = float(present[name]) if key in ("valence", "arousal") else present[name]
            except ValueError:
                out[key] = present[name]  # not a number: reported as found
    return out


# ---------------------------------------------------------------------------------------
# Deciding what to write


def wanted_fields(track: Track) -> dict[str, str]:
    """The fields mer writes for `track` (``MOOD`` and ``MER_*``), as strings; empty without a quadrant."""
    if track.quadrant not in MOOD_TAGS or track.valence is None or track.arousal is None:
        return {}
    out = {"MOOD": MOOD_TAGS[track.quadrant], "MER_QUADRANT": track.quadrant,
           "MER_VALENCE": f"{track.valence:.4f}", "MER_AROUSAL": f"{track.arousal:.4f}"}
    if track.model:
        out["MER_MODEL"] = str(track.model)
    return out


def _plan(present: dict[str, str], wanted: dict[str, str], overwrite: bool) -> tuple[dict[str, str], str | None]:
    """``(fields to set, user mood kept or None)`` for a file whose tags hold `present`."""
    mood = present.get("MOOD")
    mers_own = mood is not None and mood.lower() == MOOD_TAGS.get(present.get("MER_QUADRANT", ""), "").lower()
    kept = None
    changes = {}
    for name, value in wanted.items():
        if name == "MOOD" and mood is not None and mood.lower() != value.lower() and not (overwrite or mers_own):
            kept = mood
            continue
        if name == "MOOD" and mood is not None and mood.lower() == value.lower():
            continue  # same word, perhaps another case: the user's spelling stays
        if present.get(name) != value:
            changes[name] = value
    return changes, kept


def _skip_reason(track: Track) -> str | None:
    if track.status == "missing":
        return "file missing"
    if track.status == "failed":
        return f"analysis failed ({track.error or 'no reason stored'})"
    if track.quadrant is None:
        return "no mood (silent or not analysed)"
    return None


# ---------------------------------------------------------------------------------------
# Writing, crash-safe


def _tag_copy(path: Path, kind_cls, kind: str, changes: dict[str, str], before: os.stat_result) -> None:
    """Write `changes` into a copy of `path` in its folder, then move the copy over it."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mer-tag.part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(path, tmp)
        copy = kind_cls(str(tmp))
        if copy.tags is None:
            copy.add_tags()
        for name, value in changes.items():
            _set(copy.tags, kind, name, value)
        if kind == "id3":
            copy.save(v2_version=4)
        else:
            copy.save()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, before.st_mode & 0o7777)
        now = path.stat()
        if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise MerError("the file changed while it was being tagged; left as it is", path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # the rename is durable once the folder's entry is on disk; not possible on every OS
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_only(path: Path, st: os.stat_result) -> bool:
    # no write bit at all counts too: root may write anything, yet `chmod a-w` says "leave it"
    return not os.access(path, os.W_OK) or not st.st_mode & 0o222


def _tag_one(track: Track, report: TagReport, *, dry_run: bool, overwrite: bool) -> None:
    path = Path(track.path)
    target = Path(os.path.realpath(path))  # a symbolic link stays a link: its target is tagged
    try:
        before = target.stat()
        audio, kind = _open(target)
    except FileNotFoundError:
        report.failures.append((str(path), f"{path}: file not found"))
        return
    except (MerError, OSError) as exc:
        cause = exc.cause if isinstance(exc, MerError) else exc.strerror or str(exc)
        report.failures.append((str(path), str(MerError(cause, path))))
        return
    if track.mtime_ns and (before.st_size, before.st_mtime_ns) != (track.size, track.mtime_ns):
        # the stored analysis is of other bytes: tagging would write a stale mood
        report.skipped.append((str(path), f"{path}: changed since it was analysed (run mer scan first)"))
        return
    if kind is None:
        what = "not an audio format mutagen knows" if audio is None else f"{type(audio).__name__} tags are not written"
        report.unsupported.append((str(path), f"{path}: {what} (mer writes ID3, Vorbis comments and MP4)"))
        return
    present = _fields(audio.tags, kind)
    changes, kept = _plan(present, wanted_fields(track), overwrite)
    if not changes:
        report.unchanged.append(str(path))
        return
    if not dry_run and _read_only(target, before):  # replacing the file would bypass its protection
        report.failures.append((str(path), f"{path}: file is read-only; not tagged"))
        return
    outcome = TagOutcome(str(path), changes, kept, {n: present[n] for n in changes if n in present})
    if not dry_run:
        try:
            _tag_copy(target, type(audio), kind, changes, before)
        except MerError as exc:
            report.failures.append((str(path), str(MerError(exc.cause, path))))
            return
        except Exception as exc:  # noqa: BLE001  mutagen's own errors, OSError (disk full, read-only folder)
            report.failures.append((str(path), f"{path}: cannot write tags ({exc or type(exc).__name__})"))
            return
        after = target.stat()
        outcome.size, outcome.mtime_ns = after.st_size, after.st_mtime_ns
    report.written.append(outcome)


def write_tags(tracks: Iterable[Track], *, dry_run: bool = False, overwrite: bool = False,
               progress: bool = False) -> TagReport:
    """Write each track's mood and ``MER_*`` fields into its file (see the module docstring).

    Parameters
    ----------
    tracks : iterable of Track
        Analysed tracks (``Track.path`` is the file); tracks without a quadrant are skipped,
        and so are files whose size or mtime differ from the track's (when it has them:
        ``mtime_ns`` not 0), since their analysis is of other bytes.
    dry_run : bool
        Change nothing; the report's ``written`` lists what would be written.
    overwrite : bool
        Replace a mood the user already has (never done otherwise).
    progress : bool
        Show a progress bar.

    Returns
    -------
    TagReport
        A failed file never stops the batch; it is listed in ``failures`` and left untouched.
    """
    from mer.core.progress import progress_bar

    tracks = list(tracks)
    for t in tracks:
        if not isinstance(t, Track):
            raise MerError(f"write_tags takes Track objects, got {type(t).__name__}")
    report = TagReport(dry_run=dry_run)
    with progress_bar("tagging", len(tracks), enabled=progress) as advance:
        for track in tracks:
            reason = _skip_reason(track)
            if reason is not None:
                report.skipped.append((track.path, f"{track.path}: {reason}"))
            else:
                _tag_one(track, report, dry_run=dry_run, overwrite=overwrite)
            advance(1)
    return report


def tag_library(library, *, dry_run: bool = False, overwrite: bool = False, progress: bool = False,
                **filters) -> TagReport:
    """Write tags into the library's tracks (:func:`write_tags`), then record the files' new stat.

    Tagging changes a file's bytes but not its audio, so the analysis stays valid: each
    written file's size, mtime and content hash are stored (``Library.update_stat``) and the
    next ``mer scan`` skips it instead of analysing it again.

    Parameters
    ----------
    library : mer.library.db.Library
        Opened for writing (unless `dry_run`).
    dry_run, overwrite, progress : bool
        As for :func:`write_tags`.
    **filters
        Passed to ``Library.tracks`` (``quadrant``, ``path_glob``...; default: every ``ok`` track).
    """
    from mer.library.scan import content_hash

    tracks = library.tracks(**filters)
    report = write_tags(tracks, dry_run=dry_run, overwrite=overwrite, progress=progress)
    if dry_run or not report.written:
        return report
    ids = {t.path: t.id for t in tracks}
    changes = []
    for o in report.written:
        try:
            changes.append((ids[o.path], o.path, o.size, o.mtime_ns, content_hash(o.path)))
        except (KeyError, OSError):  # gone or renamed meanwhile: the next scan sorts it out
            continue
    library.update_stat(changes)
    return report
