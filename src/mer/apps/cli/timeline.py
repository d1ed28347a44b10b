"""`mer timeline`: emotion over whole tracks, window by window (:mod:`mer.workflows.timeline`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mer.apps.cli.app import app
from mer.apps.cli.options import (
    Quiet,
    Threads,
    fail,
    long_command,
    report_failures,
    term,
)
from mer.apps.render import timeline_csv
from mer.core.errors import MerError

TIMELINE_FORMATS = ("json", "csv")


def _one(path: Path, trained, out: Path, fmt: str, plot: bool, settings: dict, quiet: bool) -> list[Path]:
    from mer.audio.decode import duration
    from mer.core.io import write_json, write_text
    from mer.core.progress import progress_bar
    from mer.workflows.timeline import expected_windows, timeline

    total = expected_windows(duration(path), window=settings["window"], hop=settings["hop"])
    with progress_bar(path.name, total, enabled=not quiet) as advance:
        tl = timeline(path, model=trained, progress=advance, **settings).to_dict()
    written = [out / f"{path.stem}.timeline.{fmt}"]
    if fmt == "json":
        write_json(written[0], tl)
    else:
        write_text(written[0], timeline_csv(tl))
    if plot:
        from mer.report.timeline_plots import plot_timeline

        for ext in ("png", "svg"):
            written.append(out / f"{path.stem}.timeline.{ext}")
            plot_timeline(tl, written[-1])
    return written


@app.command("timeline")
@long_command
def timeline_command(
    files: Annotated[list[Path], typer.Argument(help="Audio files, or folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the outputs (made if missing).")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or csv (one row per window).")] = "json",
    plot: Annotated[bool, typer.Option("--plot", help="Also draw each timeline (PNG and SVG).")] = False,
    window: Annotated[float, typer.Option("--window", help="Window length in seconds.")] = 10.0,
    hop: Annotated[float, typer.Option("--hop", help="Seconds between window starts (at most the window).")] = 5.0,
    smooth: Annotated[str, typer.Option("--smooth", help="median (running median of the probabilities) or none.")
                      ] = "median",
    smooth_width: Annotated[int, typer.Option("--smooth-width", help="Windows in the running median.")] = 3,
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="A trained model (.mer).")] = None,
    threads: Threads = None,
    quiet: Quiet = False,
) -> None:
    """Quadrant, probabilities and valence / arousal over time, sections and a summary, per file.

    Writes STEM.timeline.json (schema mer.timeline/1) or STEM.timeline.csv in --out; with
    --plot also STEM.timeline.png and STEM.timeline.svg (valence / arousal over time with
    the sections coloured by quadrant, and the path on the circumplex). Silent windows get
    no quadrant. Files that fail are listed at the end (exit code 3).
    """
    from mer.workflows.predict import audio_files, load_model
    from mer.workflows.timeline import SMOOTHING

    if fmt not in TIMELINE_FORMATS:
        raise fail(MerError(f"unknown format '{fmt}' (use {', '.join(TIMELINE_FORMATS)})"))
    if smooth not in SMOOTHING:
        raise fail(MerError(f"unknown smoothing '{smooth}' (use {', '.join(SMOOTHING)})"))
    if not window > 0 or not 0 < hop <= window or smooth_width < 1:
        raise fail(MerError(f"need window > 0, 0 < hop <= window and --smooth-width >= 1 (got window {window}, "
                            f"hop {hop}, width {smooth_width})"))
    files, failures = audio_files(files)
    if not files:
        report_failures(failures)
        raise fail(MerError("no audio files to analyse"))
    try:
        trained = load_model(model)
        out.mkdir(parents=True, exist_ok=True)
    except (MerError, OSError) as exc:
        raise fail(exc)
    settings = {"window": window, "hop": hop, "smooth": smooth, "smooth_width": smooth_width}
    for path in files:
        try:
            written = _one(path, trained, out, fmt, plot, settings, quiet)
        except MerError as exc:
            failures.append((path, str(exc.with_path(path))))
            continue
        term.out.print(f"wrote {', '.join(str(p) for p in written)}", highlight=False)
    report_failures(failures)
    if failures:
        raise typer.Exit(3)
