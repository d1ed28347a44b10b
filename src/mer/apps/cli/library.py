"""`mer scan`, `mer ls`, `mer export`: a music library analysed into SQLite, queried, exported (:mod:`mer.library`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from mer.apps.cli.app import app
from mer.apps.cli.options import (
    CacheDir,
    Quiet,
    Scheduler,
    Threads,
    fail,
    finish,
    long_command,
    term,
)
from mer.apps.render import quadrant_text
from mer.core.errors import MerError

Db = Annotated[
    Optional[Path],
    typer.Option("--db", envvar="MER_LIBRARY",
                 help="The library database (default: $MER_LIBRARY, else library.db in the user data folder)."),
]

LS_FORMATS = ("table", "csv", "json")


@app.command("scan")
@long_command
def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Audio files, or folders (searched recursively).")],
    db: Db = None,
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="A trained model (.mer).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes analysing files.")] = 1,
    scheduler: Scheduler = None,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Analyse every audio file under PATHS into the library: prediction, timeline summary, tempo, loudness, flags.

    Incremental: unchanged files (size and mtime, then content hash) are skipped, changed
    ones re-analysed, moved or renamed ones recognised by their bytes, deleted ones marked
    missing. Each file is stored as soon as it is analysed: an interrupted scan resumes
    where it stopped. Files that fail are stored and listed at the end (exit code 3).
    """
    from mer.library.scan import scan

    try:
        report = scan(paths, db=db, model=model, jobs=jobs, scheduler=scheduler, cache_dir=cache_dir,
                      progress=not quiet)
    except MerError as exc:
        raise fail(exc)
    earlier = len(report.failures) - report.failed
    term.out.print(f"{report.found} file(s) in {report.db}: {report.analysed} analysed, {report.skipped} unchanged, "
                   f"{report.moved} moved, {report.copied} duplicate(s) copied, {report.missing} missing, "
                   f"{len(report.failures)} without a result ({report.failed} failed now"
                   + (f", {earlier} failed in an earlier scan and unchanged" if earlier > 0 else "")
                   + f") ({report.wall_s:.1f} s)", highlight=False)
    finish(report.failures, report.found - len(report.failures))


def _num(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _track_cell(t, folder: str | None) -> Text:
    """``Artist – Title`` over the file (dim) when the file is tagged, else the file; a failed track's error below."""
    name = os.path.relpath(t.path, folder) if folder else t.path
    heading = " – ".join(x for x in (t.artist, t.title) if x)
    cell = Text.assemble(heading, "\n", (name, "dim")) if heading else Text(name)
    if t.error:
        cell.append(f"\n{_error_text(t)}", style="red")
    return cell


def tracks_table(tracks, *, title: str) -> Table:
    """One row per track: id, track (artist – title over the file), quadrant, valence, arousal, tempo.

    Files are shown relative to the tracks' common folder (named in the title); a failed
    track's error is under its file. A status column appears only when a track is not
    ``ok``, a flags column only when a track has a flag: on an 80-column terminal the
    names keep the room.
    """
    paths = [t.path for t in tracks]
    folder = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else None
    if folder:
        title = f"{title} in {folder}"
    show_status = any(t.status != "ok" for t in tracks)
    show_flags = any(t.flags for t in tracks)
    columns = ("id", "track", *(("status",) if show_status else ()), "quadrant", "valence", "arousal", "tempo",
               *(("flags",) if show_flags else ()))
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="right" if col in ("id", "valence", "arousal", "tempo") else "left",
                         overflow="fold", no_wrap=col not in ("track", "flags"))
    for t in tracks:
        row = [str(t.id), _track_cell(t, folder), *((t.status,) if show_status else ()), quadrant_text(t.quadrant),
               _num(t.valence, "+.3f"), _num(t.arousal, "+.3f"), _num(t.tempo_bpm, ".0f")]
        table.add_row(*row, *((", ".join(t.flags),) if show_flags else ()))
    return table


def _error_text(t) -> str:
    """A failed track's error without its path, which the file column already shows."""
    error = t.error or ""
    return error[len(t.path) + 2:] if error.startswith(f"{t.path}: ") else error


@app.command("ls")
def ls_command(
    db: Db = None,
    quadrant: Annotated[Optional[str], typer.Option("--quadrant", help="Quadrants, e.g. Q1,Q4.")] = None,
    valence: Annotated[Optional[str], typer.Option("--valence", help="LO:HI in [-1, 1], e.g. 0.2:.")] = None,
    arousal: Annotated[Optional[str], typer.Option("--arousal", help="LO:HI in [-1, 1].")] = None,
    tempo: Annotated[Optional[str], typer.Option("--tempo", help="LO:HI in BPM, e.g. 90:120.")] = None,
    flag: Annotated[Optional[list[str]], typer.Option("--flag", help="Tracks raising this flag (repeatable).")] = None,
    no_flag: Annotated[Optional[list[str]], typer.Option("--no-flag", help="Tracks not raising this flag.")] = None,
    path: Annotated[Optional[str], typer.Option("--path", help="Glob on the absolute path, e.g. '*/jazz/*'.")] = None,
    status: Annotated[str, typer.Option("--status", help="ok, failed, missing (comma-separated) or all.")] = "ok",
    order: Annotated[str, typer.Option("--order", help="path, id, valence, arousal, tempo... ('-' first: "
                                       "descending).")] = "path",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json (mer.track/1).")] = "table",
    limit: Annotated[Optional[int], typer.Option("--limit", min=0, help="At most this many tracks.")] = None,
    mood: Annotated[Optional[str], typer.Option("--mood", help="Nearest this mood first: a word (any of Warriner "
                                                "et al.'s norms), a phrase or V,A; overrides --order.")] = None,
    radius: Annotated[Optional[float], typer.Option("--radius", help="With --mood: only tracks at most this far on "
                                                    "the valence / arousal plane.")] = None,
) -> None:
    """The library's tracks matching every filter given (read-only: works while a scan runs)."""
    from mer.library.db import open_library, text_filters
    from mer.library.export import tracks_csv, tracks_json
    from mer.library.recommend import near_mood

    if fmt not in LS_FORMATS:
        raise fail(MerError(f"unknown format '{fmt}' (use {', '.join(LS_FORMATS)})"))
    try:
        filters = text_filters(quadrant=quadrant, valence=valence, arousal=arousal, tempo=tempo, flags=flag,
                               without_flags=no_flag, path_glob=path, status=status)
        with open_library(db, readonly=True) as lib:
            tracks = lib.tracks(**filters, limit=None if mood else limit, order=order)
        if mood is not None or radius is not None:
            tracks = [t for t, _ in near_mood(tracks, _needs_mood(mood), radius=radius)[1]][:limit]
    except MerError as exc:
        raise fail(exc)
    if fmt == "table":
        term.out.print(tracks_table(tracks, title=f"{len(tracks)} track(s)"))
    else:
        print(tracks_csv(tracks) if fmt == "csv" else tracks_json(tracks), end="")


def _needs_mood(mood: str | None) -> str:
    if mood is None:
        raise MerError("--radius needs --mood")
    return mood


@app.command("export")
def export_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, json (mer.track/1) or audio-features (Spotify's "
                                     "field names and 0-1 ranges for valence, energy; tempo, loudness...).")],
    db: Db = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")
                   ] = None,
) -> None:
    """Every track of the library as CSV or JSON, or analysed tracks as Spotify-style audio features."""
    from mer.core.io import write_text
    from mer.library.db import open_library
    from mer.library.export import export

    try:
        with open_library(db, readonly=True) as lib:
            text = export(lib, format=fmt)
        if out is not None:
            write_text(out, text)
    except (MerError, OSError) as exc:
        raise fail(exc)
    if out is None:
        print(text, end="")
    else:
        term.err.print(f"wrote {out}", highlight=False)
