"""`mer tag` and `mer playlist`: mood written into the library's files, mood playlists (:mod:`mer.library`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from mer.apps.cli.app import app
from mer.apps.cli.library import Db
from mer.apps.cli.options import Quiet, fail, report_failures, term
from mer.core.errors import MerError

ISO_NOTE = ("The iso principle (start at the listener's mood, move step by step to the target) is a music-therapy "
            "practice with mixed evidence; mer offers it as an option, not as a treatment.")


@app.command("tag")
def tag_command(
    db: Db = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing; list what would be written.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a mood the file already has.")] = False,
    path: Annotated[Optional[str], typer.Option("--path", help="Only files matching this glob on the absolute "
                                                "path, e.g. '*/jazz/*'.")] = None,
    quadrant: Annotated[Optional[str], typer.Option("--quadrant", help="Only these quadrants, e.g. Q1,Q4.")] = None,
    quiet: Quiet = False,
) -> None:
    """Write each analysed track's mood into its file: ID3 TMOO, Vorbis MOOD, MP4 ----:com.apple.iTunes:MOOD.

    Also MER_QUADRANT, MER_VALENCE, MER_AROUSAL and MER_MODEL (ID3 TXXX, Vorbis comments,
    MP4 freeform). A mood the file already has is kept unless --overwrite (mer's own fields
    are always updated). Each file is tagged in a copy that then replaces it atomically;
    the audio is not touched. Files that fail are listed at the end (exit code 3).
    """
    from mer.library.db import open_library, parse_names
    from mer.library.tags import tag_library

    try:
        with open_library(db, readonly=dry_run) as lib:
            report = tag_library(lib, dry_run=dry_run, overwrite=overwrite, progress=not quiet, path_glob=path,
                                 quadrant=parse_names(quadrant))
    except MerError as exc:
        raise fail(exc)
    if dry_run:
        for o in report.written:
            fields = " ".join(f"{k}={v}" for k, v in o.fields.items())
            term.out.print(f"would write {o.path}: {fields}", highlight=False)
    for o in report.kept_mood:
        term.out.print(f"kept the user's mood '{o.kept_mood}' in {o.path} (--overwrite replaces it)", highlight=False)
    for _, reason in report.unsupported:
        term.err.print(f"unsupported: {reason}", highlight=False)
    for _, reason in report.skipped:
        term.err.print(f"skipped: {reason}", highlight=False)
    term.out.print(report.summary(), highlight=False)
    report_failures(report.failures)
    if report.failures:
        raise typer.Exit(3)


def _playlist_table(pl) -> Table:
    table = Table(title=f"{len(pl.tracks)} track(s): {pl.start.text} -> {pl.end.text} ({pl.settings['easing']})")
    for col in ("#", "id", "track", "quadrant", "valence", "arousal", "step"):
        table.add_column(col, justify="left" if col in ("track", "quadrant") else "right", overflow="fold")
    steps = [None, *pl.report["steps"]]
    over = {o["to"] for o in pl.report["over_max_step"]}
    for i, t in enumerate(pl.tracks):
        name = f"{t.artist} - {t.title}" if t.artist and t.title else Path(t.path).name
        step = "" if steps[i] is None else f"{steps[i]:.3f}" + (" (over)" if i in over else "")
        table.add_row(str(i + 1), str(t.id), name, t.quadrant or "-", f"{t.valence:+.3f}", f"{t.arousal:+.3f}", step)
    return table


def _write_outputs(pl, out: Optional[Path], json_out: Optional[Path], plot: Optional[Path]) -> list[Path]:
    from mer.core.io import write_json

    written = []
    if out is not None:
        pl.to_m3u8(out)
        written.append(out)
    if json_out is not None:
        write_json(json_out, pl.to_dict())
        written.append(json_out)
    if plot is not None:
        from mer.report.playlist_plots import plot_playlist

        plot_playlist(pl.to_dict(), plot)
        written.append(plot)
    return written


PLAYLIST_HELP = (
    "A mood playlist from the library: a path on the valence / arousal plane from --from to --to, one track per "
    f"step (iso principle).\n\n{ISO_NOTE}\n\n"
    "MOOD is a word (happy / excited, tense / angry, sad, calm / relaxed: the quadrant's centre; any other English "
    "word or phrase rated in Warriner et al.'s norms, e.g. furious, nostalgic: its rating, with the norms file at "
    "$MER_NORMS), V,A (valence and "
    "arousal in [-1, 1], e.g. -0.4,0.2) or, for --from, a track of the library (path or id): the playlist then "
    "continues from that track's last 30 s and leaves it out.\n\n"
    "Each step takes the unused track nearest the next waypoint, counting also the distance from the previous "
    "track's closing to the candidate's opening. Prints the playlist and a quality report (steps, their evenness, "
    "distances to the requested moods, steps over --max-step)."
)


@app.command("playlist", help=PLAYLIST_HELP)
def playlist_command(
    start: Annotated[str, typer.Option("--from", help="Start: MOOD, V,A or a track (path or id).")],
    end: Annotated[str, typer.Option("--to", help="End: MOOD or V,A.")],
    length: Annotated[int, typer.Option("--length", "-n", min=1, help="Tracks in the playlist.")],
    db: Db = None,
    max_step: Annotated[Optional[float], typer.Option("--max-step", help="Largest valence / arousal distance between "
                                                      "consecutive tracks, kept where the library allows.")] = None,
    easing: Annotated[str, typer.Option("--easing", help="linear, cubic (ease in and out), arousal-first or "
                                        "valence-first.")] = "linear",
    per_artist: Annotated[Optional[int], typer.Option("--per-artist", min=1, help="At most N tracks per artist.")
                          ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Vary the picks among near-equal tracks "
                                                "(reproducibly); default: always the best.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write an M3U8 playlist (relative paths).")
                   ] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the playlist as JSON (mer.playlist/1).")
                        ] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Draw the path on the circumplex (PNG or SVG).")
                    ] = None,
) -> None:
    from mer.library.db import open_library
    from mer.library.playlist import plan_playlist

    try:
        with open_library(db, readonly=True) as lib:
            tracks = lib.tracks()
        pl = plan_playlist(tracks, start=start, end=end, length=length, max_step=max_step, easing=easing,
                           per_artist=per_artist, random_state=seed)
        if not pl.tracks:
            raise MerError("no analysed track with valence / arousal in the library")
        written = _write_outputs(pl, out, json_out, plot)
    except (MerError, OSError) as exc:
        raise fail(exc)
    term.out.print(_playlist_table(pl))
    for line in pl.report_lines():
        term.out.print(line, highlight=False)
    for p in written:
        term.err.print(f"wrote {p}", highlight=False)
