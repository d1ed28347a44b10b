"""`mer timeline`: emotion over whole tracks, window by window (:mod:`mer.workflows.timeline`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mer.apps.cli.app import app
from mer.apps.cli.options import (
    CacheDir,
    Quiet,
    Threads,
    fail,
    finish,
    long_command,
    report_failures,
    term,
)
from mer.apps.render import timeline_csv, timeline_summary
from mer.core.errors import MerError

# the defaults of mer.workflows.timeline.timeline (DEFAULT_*), repeated here so that the command line
# starts without importing torch; tests/test_timeline.py checks that they agree
DEFAULT_WINDOW = 10.0
DEFAULT_HOP = 2.0
DEFAULT_SMOOTH = "hmm"
DEFAULT_WIDTH = 3
DEFAULT_SWITCH_PROB = 0.05

TIMELINE_FORMATS = ("json", "csv")


def _one(path: Path, trained, out: Path, fmt: str, plot: bool, settings: dict, quiet: bool,
         cache_dir: Path | None) -> tuple[dict, list[Path]]:
    from mer.audio.decode import duration
    from mer.core.io import write_json, write_text
    from mer.core.progress import progress_bar
    from mer.workflows.analysis import Models, analyse
    from mer.workflows.timeline import expected_windows

    total = expected_windows(duration(path), window=settings["window"], hop=settings["hop"])
    with progress_bar(path.name, total, enabled=not quiet) as advance:
        tl = analyse(path, models=Models(None, trained), track=False, progress=advance, cache_dir=cache_dir,
                     **settings).timeline.to_dict()
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
    return tl, written


_worker_models: dict = {}


def _task(path: str, model: str | None, out: str, fmt: str, plot: bool, settings: dict,
          cache_dir: str | None) -> tuple[dict | None, list[Path], str | None]:
    """One file in a worker process (the window model loaded once per worker); errors come back as text."""
    from mer.workflows.timeline import load_timeline_model

    try:
        if model not in _worker_models:
            _worker_models[model] = load_timeline_model(model)
        return (*_one(Path(path), _worker_models[model], Path(out), fmt, plot, settings, True, cache_dir), None)
    except MerError as exc:
        return None, [], str(exc.with_path(Path(path)))


def _report(path: Path, tl: dict, written: list[Path]) -> None:
    term.out.print(f"{path.name}: {timeline_summary(tl)}", highlight=False)
    term.out.print(f"  wrote {', '.join(str(p) for p in written)}", highlight=False)


def _in_workers(files, model, out, fmt, plot, settings, cache_dir, jobs: int, quiet: bool, failures) -> int:
    """`jobs` worker processes, one file each at a time; a bar over the files. Returns the files done."""
    from mer.core import parallel
    from mer.core.progress import progress_bar

    done = 0
    with parallel.WorkerPool(jobs) as pool, progress_bar("timeline", len(files), enabled=not quiet,
                                                         rate_unit="files") as advance:
        futures = {pool.submit(_task, str(p), None if model is None else str(model), str(out), fmt, plot, settings,
                               None if cache_dir is None else str(cache_dir)): p for p in files}
        for fut in pool.as_completed(futures):
            tl, written, error = fut.result()
            if error:
                failures.append((futures[fut], error))
            else:
                done += 1
                _report(futures[fut], tl, written)
            advance()
    return done


@app.command("timeline")
@long_command
def timeline_command(
    files: Annotated[list[Path], typer.Argument(help="Audio files, or folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the outputs (made if missing).")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or csv (one row per window).")] = "json",
    plot: Annotated[bool, typer.Option("--plot", help="Also draw each timeline (PNG and SVG).")] = False,
    window: Annotated[float, typer.Option("--window", help="Window length in seconds.")] = DEFAULT_WINDOW,
    hop: Annotated[float, typer.Option("--hop", help="Seconds between window starts (at most the window).")
                   ] = DEFAULT_HOP,
    smooth: Annotated[str, typer.Option("--smooth", help="median (running median of the probabilities), hmm "
                                        "(sticky-quadrant forward-backward) or none.")] = DEFAULT_SMOOTH,
    smooth_width: Annotated[int, typer.Option("--smooth-width", help="Windows in the running median.")
                            ] = DEFAULT_WIDTH,
    switch_prob: Annotated[float, typer.Option("--switch-prob", help="hmm: chance of a change between windows.")
                           ] = DEFAULT_SWITCH_PROB,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="A trained model (.mer); default: the "
                                                  "shipped window model.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes, one file each.")] = 1,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Quadrant, probabilities and valence / arousal over time, sections and a summary, per file.

    Writes STEM.timeline.json (schema mer.timeline/1) or STEM.timeline.csv in --out; with
    --plot also STEM.timeline.png and STEM.timeline.svg (valence / arousal over time with
    the sections coloured by quadrant, and the path on the circumplex). Silent windows get
    no quadrant. Files that fail are listed at the end (exit code 3).
    """
    from mer.workflows.predict import audio_files
    from mer.workflows.timeline import SMOOTHING, load_timeline_model

    if fmt not in TIMELINE_FORMATS:
        raise fail(MerError(f"unknown format '{fmt}' (use {', '.join(TIMELINE_FORMATS)})"))
    if smooth not in SMOOTHING:
        raise fail(MerError(f"unknown smoothing '{smooth}' (use {', '.join(SMOOTHING)})"))
    if not window > 0 or not 0 < hop <= window or smooth_width < 1 or not 0 < switch_prob < 1:
        raise fail(MerError(f"need window > 0, 0 < hop <= window, --smooth-width >= 1 and 0 < --switch-prob < 1 "
                            f"(got window {window}, hop {hop}, width {smooth_width}, switch {switch_prob})"))
    files, failures = audio_files(files)
    if not files:
        report_failures(failures)
        raise fail(MerError("no audio files to analyse"))
    try:
        trained = load_timeline_model(model)
        out.mkdir(parents=True, exist_ok=True)
    except (MerError, OSError) as exc:
        raise fail(exc)
    settings = {"window": window, "hop": hop, "smooth": smooth, "smooth_width": smooth_width,
                "switch_prob": switch_prob}
    done = 0
    if jobs > 1 and len(files) > 1:
        done = _in_workers(files, model, out, fmt, plot, settings, cache_dir, jobs, quiet, failures)
        files = []
    for path in files:
        try:
            tl, written = _one(path, trained, out, fmt, plot, settings, quiet, cache_dir)
        except MerError as exc:
            failures.append((path, str(exc.with_path(path))))
            continue
        done += 1
        _report(path, tl, written)
    finish(failures, done)
