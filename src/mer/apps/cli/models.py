"""`mer train`, `mer evaluate`, `mer model-info`, `mer predict`: models made, measured, read and used."""

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
    finish,
    long_command,
    report_failures,
    term,
)
from mer.apps.render import (
    FORMATS,
    cv_table,
    flag_legend,
    model_card,
    metrics_tables,
    predictions_table,
    predictions_text,
)
from mer.core.errors import MerError


@app.command()
@long_command
def train(
    data: Annotated[str, typer.Option("--data", "-d", help="Training data: folder, CSV manifest or 'synthetic'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The model file to write (.mer).")],
    model: Annotated[str, typer.Option("--model", "-m", help="rnn, brnn, lstm, gru, paper-rnn, paper-brnn, "
                                       "paper-lstm, or a baseline: logreg, ridge, linear_svm, rbf_svm, random_forest, "
                                       "adaboost, gaussian_nb, lda, qda, ovr_logreg, knn, mlp (add -flat for "
                                       "flattened frames).")] = "lstm",
    folds: Annotated[int, typer.Option(min=0, help="Grouped CV folds (0: no CV, final fit only).")] = 5,
    repeats: Annotated[int, typer.Option(min=1, help="Repeated CV with different shuffles.")] = 1,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Max epochs (recurrent models).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of folds, weights and shuffling.")] = 0,
    augment: Annotated[int, typer.Option(min=0, help="Augmented copies of each training clip (noise, shift, pitch; "
                                         "the paper's 3). Made of training folds only.")] = 0,
    jobs: Jobs = 1,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Cross-validate MODEL on DATA (artist / song-grouped folds), then fit it on all of DATA and save it."""
    from mer.data import datasets
    from mer.models import modelfile
    from mer.workflows.train import is_sequence_model
    from mer.workflows.train import train as train_model

    params = {"epochs": epochs} if epochs is not None and is_sequence_model(model) else {}
    try:
        ds = datasets.load(data, cache_dir=cache_dir)
        res = train_model(ds, model, folds=folds if folds > 1 else 0, repeats=repeats, seed=seed, params=params,
                          jobs=jobs, cache_dir=cache_dir, progress=not quiet, augment=augment)
        modelfile.save(res.model, out)
    except MerError as exc:
        raise fail(exc)
    if res.cv is not None:
        cv = res.cv
        term.out.print(cv_table(cv, f"{model} on {ds.name}: {folds}-fold grouped CV"))
        pooled = {"labels": cv.labels, "per_class": cv.pooled_per_class(), "confusion": cv.confusion.tolist()}
        term.out.print(*metrics_tables(pooled, title="per class, out-of-fold predictions pooled over folds"))
    meta = res.model.metadata["data"]
    term.out.print(f"wrote {out}: {model} trained on {meta['n_clips']} clips of {ds.name}")
    report_failures(res.failures)
    if res.failures:
        raise typer.Exit(3)


@app.command()
@long_command
def evaluate(
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled data: folder, CSV manifest or 'synthetic'.")],
    model: Annotated[Optional[Path], typer.Argument(help="A trained model (.mer); default: the shipped model.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the metrics as JSON here.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write the confusion matrix as a picture (PNG).")] = None,
    jobs: Jobs = 1,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Accuracy, macro-F1, per-class scores and confusion matrix of MODEL on DATA.

    Macro-F1 averages the classes present in DATA. Clips DATA lists but that were not
    scored (missing, unreadable) are named, with exit code 3; a warning says when DATA
    holds clips the model was trained on.
    """
    from mer.core.io import write_json
    from mer.data import datasets
    from mer.workflows.predict import evaluate as evaluate_model
    from mer.workflows.predict import load_model

    try:
        trained = load_model(model)
        ds = datasets.load(data, cache_dir=cache_dir)
        metrics, failures = evaluate_model(trained, ds, jobs=jobs, cache_dir=cache_dir, progress=not quiet)
    except MerError as exc:
        raise fail(exc)
    term.out.print(*metrics_tables(metrics))
    if metrics["macro_f1_labels"] != metrics["labels"]:
        absent = [lab for lab in metrics["labels"] if lab not in metrics["macro_f1_labels"]]
        term.out.print(f"macro-F1 is over the {len(metrics['macro_f1_labels'])} classes present in {ds.name} "
                      f"({', '.join(metrics['macro_f1_labels'])}); absent: {', '.join(absent)}", highlight=False)
    if metrics["n_in_training"]:
        term.err.print(f"[bold yellow]warning:[/] {metrics['n_in_training']} of the {metrics['n']} evaluated clips are "
                  f"in {trained.name}'s training data (same file content): these scores are not a held-out "
                  "estimate of accuracy on new music", highlight=False)
    if json_out:
        write_json(json_out, metrics)
        term.out.print(f"wrote {json_out}")
    if plot:
        from mer.report.plots import plot_confusion

        plot_confusion(metrics["confusion"], metrics["labels"], plot,
                       title=f"{trained.name} on {ds.name}: accuracy {metrics['accuracy']:.3f}")
        term.out.print(f"wrote {plot}")
    # Every clip the data lists but the scores leave out (missing, unannotated, unreadable) is named;
    # notes that do not drop a clip (e.g. an unknown artist) are only counted.
    skipped = metrics["skipped"]
    if skipped:
        term.err.print(f"[bold yellow]{len(skipped)} clip(s) skipped, not in these scores:[/]")
        for line in skipped:
            term.err.print(f"  {line}", highlight=False)
    n_notes = len(metrics["data_problems"]) - (len(skipped) - len(failures))
    if n_notes:
        term.err.print(f"{n_notes} other note(s) about {ds.name}: see mer info", highlight=False)
    if skipped:
        raise typer.Exit(3)


@app.command("model-info")
def model_info(
    model: Annotated[Optional[Path], typer.Argument(help="A trained model (.mer); default: the shipped model.")] = None,
) -> None:
    """The model's card: recipe, training data, CV metrics, versions and licence of its data."""
    # Reads the manifest only: no estimator is rebuilt, so neither torch nor skops is imported.
    from mer.models.modelfile import default_model_path, read_manifest

    try:
        if model is None:
            model = default_model_path()
            if not model.is_file():
                raise MerError("the default model is missing from this installation: pass MODEL.mer", model)
        manifest = read_manifest(model)
    except MerError as exc:
        raise fail(exc)
    table = Table(title=f"model: {manifest.get('name', '?')} ({manifest.get('kind', '?')})", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for field, value in model_card(manifest):
        table.add_row(field, value)
    term.out.print(table)


@app.command()
@long_command
def predict(
    files: Annotated[list[Path], typer.Argument(help="Audio files, or folders (searched recursively).")],
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="A trained model (.mer).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    jobs: Jobs = 1,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Quadrant, the four probabilities, valence / arousal and reliability flags of each file.

    Flags: silent (no quadrant given), too_short, mostly_silent, clipped; a flagged file
    still counts as predicted (exit code 0).
    """
    from mer.workflows.predict import audio_files, load_model, predict_files

    if fmt not in FORMATS:
        raise fail(MerError(f"unknown format '{fmt}' (use {', '.join(FORMATS)})"))
    files, failures = audio_files(files)  # folders: their audio files, recursively, sorted
    if not files:
        report_failures(failures)
        raise fail(MerError("no audio files to predict"))
    try:
        trained = load_model(model)
        preds, bad = predict_files(trained, files, jobs=jobs, cache_dir=cache_dir,
                                   progress=not quiet and fmt == "table")
    except MerError as exc:
        raise fail(exc)
    failures += bad
    if fmt == "table" and preds:
        term.out.print(predictions_table(preds, trained.labels, title=f"{trained.name}: {len(preds)} file(s)",
                                         width=term.out.width))
        for line in flag_legend(preds):
            term.out.print(line, highlight=False)
    elif fmt != "table":
        print(predictions_text(preds, trained.labels, fmt), end="")
    finish(failures, len(preds))
