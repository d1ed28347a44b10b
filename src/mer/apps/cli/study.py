"""`mer demo` and `mer experiment`: the pipeline on the embedded set, and the paper's study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from mer.apps.cli.app import app
from mer.apps.cli.options import (
    CacheDir,
    Jobs,
    Quiet,
    Threads,
    fail,
    int_list,
    long_command,
    report_failures,
    term,
)
from mer.core.errors import MerError


@app.command()
@long_command
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo's figures.")] = Path("mer-demo"),
    jobs: Jobs = 2,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Run the pipeline on the embedded synthetic dataset (no data needed)."""
    from mer.study.demo import run_demo

    try:
        rep = run_demo(out, cache_dir=cache_dir, jobs=jobs, progress=not quiet)
    except MerError as exc:
        raise fail(exc)
    term.out.print(f"[bold]dataset[/] {rep.dataset}: {sum(rep.counts.values())} clips in {rep.n_groups} songs")
    term.out.print(f"[bold]features[/] {rep.feature_shape[0]} rows x {rep.feature_shape[1]} frames per clip")
    table = Table(title="What the features say per quadrant")
    for col in ("quadrant", "tempo (BPM)", "RMS", "centroid (Hz)"):
        table.add_column(col, justify="right" if col != "quadrant" else "left")
    for q, s in rep.per_quadrant.items():
        table.add_row(q, f"{s['tempo_bpm']:.0f}", f"{s['rms']:.3f}", f"{s['centroid_hz']:.0f}")
    term.out.print(table)
    for f in rep.figures:
        term.out.print(f"[bold]figure[/] {f}")
    if rep.cv:
        table = Table(title=f"{rep.n_folds}-fold song-grouped CV on the synthetic set")
        for col in ("model", "macro-F1", "accuracy", "time (s)"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for name, s in rep.cv.items():
            table.add_row(name, f"{s['macro_f1_mean']:.3f} ± {s['macro_f1_std']:.3f}",
                          f"{s['accuracy_mean']:.3f} ± {s['accuracy_std']:.3f}", f"{s['wall_s']:.1f}")
        term.out.print(table)
        term.out.print(f"[bold]model[/] {rep.model_path} (best by macro-F1: {rep.model_name}, fitted on all clips)")
    if rep.prediction is not None:
        p = rep.prediction
        probs = ", ".join(f"{q} {v:.2f}" for q, v in p.probabilities.items())
        term.out.print(f"[bold]prediction[/] {rep.fresh_clip} (a new {rep.fresh_label} song): {p.quadrant} "
                      f"({probs}); valence {p.valence:+.2f}, arousal {p.arousal:+.2f}")
    report_failures(rep.failures)


@app.command()
@long_command
def experiment(
    data: Annotated[list[str], typer.Option("--data", "-d", help="A dataset (repeat for several): folder, CSV "
                                            "manifest, EMOPIA MIDI folder or 'synthetic'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (results, plots, finished cells).")],
    models: Annotated[Optional[str], typer.Option(help="Comma-separated model names (default: rnn, brnn, lstm, "
                                                  "gru and the 12 baselines; --quick: rnn, lstm, logreg, rbf_svm).")] = None,
    augment: Annotated[str, typer.Option(help="Augmented copies per training clip, one grid level each, e.g. 0,3.")] = "0,3",
    augmenter: Annotated[str, typer.Option(help="'paper' (noise / shift / pitch, one per copy) or 'all'.")] = "paper",
    folds: Annotated[int, typer.Option(min=2, help="Grouped CV folds, the same for every model.")] = 5,
    repeats: Annotated[int, typer.Option(min=1, help="Repeated CV with different shuffles.")] = 1,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Max epochs of the recurrent models.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of subsets, folds, copies and models.")] = 0,
    quick: Annotated[bool, typer.Option("--quick", help="A first look in minutes: 16 clips per quadrant, 3 folds, "
                                        "5 epochs, 4 models.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes for MIDI rendering, feature "
                                      "extraction and augmentation.")] = 2,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Compare models across datasets and augmentation, leakage-free, with paired tests of the paper's claims.

    Resumable: finished cells are kept in OUT/cells and skipped on a rerun.
    """
    from mer.study.experiment import run_experiment

    try:
        res = run_experiment(data, out, models=models.split(",") if models else None, augment=int_list(augment),
                             augmenter=augmenter, folds=folds, repeats=repeats, seed=seed, quick=quick, epochs=epochs,
                             cache_dir=cache_dir, jobs=jobs, progress=not quiet)
    except MerError as exc:
        raise fail(exc)
    for f in res["findings"]:
        term.out.print(f"[bold]{f['claim']}[/]: {f['summary']}", highlight=False)
    term.out.print(f"wrote {out / 'results.md'} and {out / 'results.json'} ({res['n_cells_computed']} cells computed, "
                  f"{res['n_cells_skipped']} reused, {res['wall_s']:.0f} s)")
    failures = [(None, r) for d in res["datasets"] for r in d["failures"] + d["copy_failures"]]
    report_failures(failures)
    if failures:
        raise typer.Exit(3)
