"""The `mer` command line: a thin layer over the Python API.

Exit codes: 0 success; 1 a fatal error (one line on stderr); 3 the command finished
but some files failed (listed at the end).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from mer.errors import MerError

app = typer.Typer(
    name="mer",
    help="Music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# soft_wrap: a message is one line whatever the terminal's width, so that logs and
# scripts reading mer's output see the same text on every machine.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@app.callback()
def _start() -> None:
    """Music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm)."""
    # Rich reads the terminal's size (or COLUMNS) when a Console is made: make them per
    # invocation, so that a program calling the app twice sees its current terminal.
    global console, err
    console = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)


def _checked_cache_dir(value: Optional[Path]) -> Optional[Path]:
    # Checked before any work: an unusable cache used to surface after the analysis.
    from mer.cache import resolve_cache_dir

    try:
        resolve_cache_dir(value)
    except MerError as exc:
        raise _fail(exc)
    return value


CacheDir = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", envvar="MER_CACHE", callback=_checked_cache_dir,
                 help="Feature cache root (default: $MER_CACHE, else the user cache dir)."),
]
Jobs = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes for feature extraction.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
Scheduler = Annotated[
    Optional[str],
    typer.Option("--scheduler", envvar="MER_SCHEDULER",
                 help="Extract on this Dask cluster (e.g. tcp://host:8786) instead of local processes."),
]
Threads = Annotated[
    Optional[int],
    typer.Option("--threads", min=1, envvar="MER_THREADS",
                 help="CPU threads in all (BLAS, torch), split across the --jobs workers "
                      "(default: the cores this process may use)."),
]


def _long_command(command):
    """Wrap a long command: its --threads applied, and Ctrl-C stops it cleanly.

    On Ctrl-C every worker is ended at once, what finished stays cached, one line says
    how far it got, and the exit code is 130 (128 + SIGINT, the shell's convention); a
    second Ctrl-C while it stops is ignored (see :func:`mer.parallel.interrupt_once`).
    """
    import functools

    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def run(*args, **kwargs):
        from mer import parallel

        try:
            with parallel.cli_run(kwargs.get("threads")):
                return command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            err.print(parallel.interrupted_message(exc), highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return run


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def _report_failures(failures) -> None:
    if not failures:
        return
    err.print(f"[bold yellow]{len(failures)} file(s) failed:[/]")
    for _, reason in failures:
        err.print(f"  {reason}", highlight=False, soft_wrap=True)


@app.command()
def info(
    data: Annotated[str, typer.Argument(help="A dataset: folder, CSV manifest or 'synthetic'.")],
    cache_dir: CacheDir = None,
) -> None:
    """Clips per label, number of groups, and problems found in DATA."""
    from mer import datasets

    try:
        ds = datasets.load(data, cache_dir=cache_dir)
    except MerError as exc:
        raise _fail(exc)
    table = Table(title=f"{ds.name}: {len(ds)} clips, {ds.n_groups()} groups")
    table.add_column("label")
    table.add_column("meaning")
    table.add_column("clips", justify="right")
    for lab, n in ds.counts().items():
        table.add_row(lab, datasets.QUADRANT_NAMES.get(lab, ""), str(n))
    console.print(table)
    if ds.problems:
        err.print(f"[bold yellow]{len(ds.problems)} problem(s):[/]")
        for p in ds.problems:
            err.print(f"  {p}", highlight=False, soft_wrap=True)
    else:
        console.print("no problems found")


@app.command()
@_long_command
def features(
    data: Annotated[str, typer.Argument(help="A dataset: folder, CSV manifest or 'synthetic'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .npz file.")],
    pooled: Annotated[bool, typer.Option(help="Summary statistics over time instead of full matrices.")] = False,
    jobs: Jobs = 1,
    threads: Threads = None,
    scheduler: Scheduler = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Extract the paper's 204 x T feature matrices of DATA into an .npz."""
    from mer import datasets
    from mer.extraction import export_npz, extract_dataset

    try:
        ds = datasets.load(data, cache_dir=cache_dir)
        res = extract_dataset(ds, cache_dir=cache_dir, jobs=jobs, progress=not quiet, scheduler=scheduler)
        summary = export_npz(out, ds, res, pooled=pooled)
    except MerError as exc:
        raise _fail(exc)
    console.print(
        f"wrote {out}: {summary['n']} clips, features {tuple(summary['shape'])} "
        f"({res.n_cached} from cache, {res.n_computed} extracted)"
    )
    _report_failures(res.failures)
    if res.failures:
        raise typer.Exit(3)


def _cv_table(cv, title: str) -> Table:
    """Per-fold accuracy / macro-F1 and their mean ± std."""
    table = Table(title=title)
    for col in ("fold", "train", "test", "accuracy", "macro-F1", "time (s)"):
        table.add_column(col, justify="right")
    for f in cv.folds:
        name = f"{f['fold'] + 1}" if cv.repeats == 1 else f"{f['repeat'] + 1}.{f['fold'] + 1}"
        table.add_row(name, str(f["n_train"]), str(f["n_test"]), f"{f['accuracy']:.3f}", f"{f['macro_f1']:.3f}",
                      f"{f['wall_s']:.1f}")
    table.add_row("mean ± std", "", "", f"{cv.mean('accuracy'):.3f} ± {cv.std('accuracy'):.3f}",
                  f"{cv.mean('macro_f1'):.3f} ± {cv.std('macro_f1'):.3f}", f"{cv.wall_s:.1f}", style="bold")
    return table


def _metrics_tables(m: dict, title: str | None = None) -> tuple[Table, Table]:
    """Per-class precision / recall / F1 and the confusion matrix of a metrics dict."""
    per_class = Table(title=title or f"accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} on {m['n']} clips")
    for col in ("class", "precision", "recall", "F1", "support"):
        per_class.add_column(col, justify="left" if col == "class" else "right")
    for lab, s in m["per_class"].items():
        per_class.add_row(lab, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"]))
    confusion = Table(title="confusion (rows: true, columns: predicted)")
    confusion.add_column("")
    for lab in m["labels"]:
        confusion.add_column(lab, justify="right")
    for lab, row in zip(m["labels"], m["confusion"]):
        confusion.add_row(lab, *(str(v) for v in row))
    return per_class, confusion


@app.command()
@_long_command
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
    from mer import datasets, modelfile
    from mer.training import is_sequence_model, train as train_model

    params = {"epochs": epochs} if epochs is not None and is_sequence_model(model) else {}
    try:
        ds = datasets.load(data, cache_dir=cache_dir)
        res = train_model(ds, model, folds=folds if folds > 1 else 0, repeats=repeats, seed=seed, params=params,
                          jobs=jobs, cache_dir=cache_dir, progress=not quiet, augment=augment)
        modelfile.save(res.model, out)
    except MerError as exc:
        raise _fail(exc)
    if res.cv is not None:
        cv = res.cv
        console.print(_cv_table(cv, f"{model} on {ds.name}: {folds}-fold grouped CV"))
        pooled = {"labels": cv.labels, "per_class": cv.pooled_per_class(), "confusion": cv.confusion.tolist()}
        console.print(*_metrics_tables(pooled, title="per class, out-of-fold predictions pooled over folds"))
    meta = res.model.metadata["data"]
    console.print(f"wrote {out}: {model} trained on {meta['n_clips']} clips of {ds.name}")
    _report_failures(res.failures)
    if res.failures:
        raise typer.Exit(3)


@app.command()
@_long_command
def evaluate(
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled data: folder, CSV manifest or 'synthetic'.")],
    model: Annotated[Optional[Path], typer.Argument(help="A trained model (.mer) [default: the shipped model].")] = None,
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
    from mer import datasets
    from mer._io import write_json
    from mer.inference import evaluate as evaluate_model, load_model

    try:
        trained = load_model(model)
        ds = datasets.load(data, cache_dir=cache_dir)
        metrics, failures = evaluate_model(trained, ds, jobs=jobs, cache_dir=cache_dir, progress=not quiet)
    except MerError as exc:
        raise _fail(exc)
    console.print(*_metrics_tables(metrics))
    if metrics["macro_f1_labels"] != metrics["labels"]:
        absent = [lab for lab in metrics["labels"] if lab not in metrics["macro_f1_labels"]]
        console.print(f"macro-F1 is over the {len(metrics['macro_f1_labels'])} classes present in {ds.name} "
                      f"({', '.join(metrics['macro_f1_labels'])}); absent: {', '.join(absent)}", highlight=False)
    if metrics["n_in_training"]:
        err.print(f"[bold yellow]warning:[/] {metrics['n_in_training']} of the {metrics['n']} evaluated clips are "
                  f"in {trained.name}'s training data (same file content): these scores are not a held-out "
                  "estimate of accuracy on new music", highlight=False)
    if json_out:
        write_json(json_out, metrics)
        console.print(f"wrote {json_out}")
    if plot:
        from mer.plots import plot_confusion

        plot_confusion(metrics["confusion"], metrics["labels"], plot,
                       title=f"{trained.name} on {ds.name}: accuracy {metrics['accuracy']:.3f}")
        console.print(f"wrote {plot}")
    # Every clip the data lists but the scores leave out (missing, unannotated, unreadable) is named;
    # notes that do not drop a clip (e.g. an unknown artist) are only counted.
    skipped = metrics["skipped"]
    if skipped:
        err.print(f"[bold yellow]{len(skipped)} clip(s) skipped, not in these scores:[/]")
        for line in skipped:
            err.print(f"  {line}", highlight=False)
    n_notes = len(metrics["data_problems"]) - (len(skipped) - len(failures))
    if n_notes:
        err.print(f"{n_notes} other note(s) about {ds.name}: see mer info", highlight=False)
    if skipped:
        raise typer.Exit(3)


@app.command("model-info")
def model_info(
    model: Annotated[Optional[Path], typer.Argument(help="A trained model (.mer) [default: the shipped model].")] = None,
) -> None:
    """The model's card: recipe, training data, CV metrics, versions and licence of its data."""
    # Reads the manifest only: no estimator is rebuilt, so neither torch nor skops is imported.
    from mer.modelfile import TRAINING_HASHES, default_model_path, read_manifest

    try:
        if model is None:
            model = default_model_path()
            if not model.is_file():
                raise MerError("the default model is missing from this installation: pass MODEL.mer", model)
        manifest = read_manifest(model)
    except MerError as exc:
        raise _fail(exc)
    meta = manifest.get("metadata", {})
    table = Table(title=f"model: {manifest.get('name', '?')} ({manifest.get('kind', '?')})", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("labels", ", ".join(map(str, manifest.get("labels", []))))
    for key in ("data", "n_clips", "recipe", "cv", "data_licence", "saved"):
        if key in meta:
            value = meta[key]
            if isinstance(value, dict):
                value = "; ".join(f"{k}: {v}" for k, v in value.items())
            table.add_row(key, str(value))
    if meta.get(TRAINING_HASHES):
        table.add_row("training clips", f"{len(meta[TRAINING_HASHES])} content hashes (mer evaluate warns on overlap)")
    table.add_row("versions", ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()))
    console.print(table)


@app.command()
@_long_command
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
    import csv
    import io
    import json

    from mer.inference import audio_files, load_model, predict_files
    from mer.quality import FACTS, FLAG_MEANINGS

    if fmt not in ("table", "json", "csv"):
        raise _fail(MerError(f"unknown format '{fmt}' (use table, json or csv)"))
    files, failures = audio_files(files)  # folders: their audio files, recursively, sorted
    if not files:
        _report_failures(failures)
        raise _fail(MerError("no audio files to predict"))
    try:
        trained = load_model(model)
        preds, bad = predict_files(trained, files, jobs=jobs, cache_dir=cache_dir,
                                   progress=not quiet and fmt == "table")
    except MerError as exc:
        raise _fail(exc)
    failures += bad
    labels = trained.labels

    def num(v, spec: str) -> str:  # a silent file has no probabilities / valence / arousal
        return "" if v is None else format(v, spec)

    if fmt == "json":
        print(json.dumps([p.to_dict() for p in preds], indent=2))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["path", "quadrant", *(f"p_{q}" for q in labels), "valence", "arousal", "flags", *FACTS])
        for p in preds:
            probs = p.probabilities or {}
            w.writerow([p.path, p.quadrant or "", *(num(probs.get(q), ".4f") for q in labels),
                        num(p.valence, ".4f"), num(p.arousal, ".4f"), ";".join(p.flags),
                        *(num((p.quality or {}).get(k), ".4f") for k in FACTS)])
        print(buf.getvalue(), end="")
    else:
        table = Table(title=f"{trained.name}: {len(preds)} file(s)")
        for col in ("file", "quadrant", *labels, "valence", "arousal", "flags"):
            # numbers never wrap; a long path folds rather than being cut to "…"
            # flags wrap between words only, never inside one ("mostly_silent" is the longest)
            table.add_column(col, justify="left" if col in ("file", "quadrant", "flags") else "right",
                             overflow="fold", no_wrap=col not in ("file", "flags"),
                             min_width=len("mostly_silent") if col == "flags" else None)
        for p in preds:
            probs = p.probabilities or {}
            table.add_row(str(p.path), p.quadrant or "-", *(num(probs.get(q), ".3f") or "-" for q in labels),
                          num(p.valence, "+.3f") or "-", num(p.arousal, "+.3f") or "-", ", ".join(p.flags))
        console.print(table)
        raised = [f for f in FLAG_MEANINGS if any(f in p.flags for p in preds)]
        for f in raised:
            console.print(f"[bold]{f}[/]: {FLAG_MEANINGS[f]}", highlight=False)
    _report_failures(failures)
    if failures:
        raise typer.Exit(3)


@app.command()
@_long_command
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo's figures.")] = Path("mer-demo"),
    jobs: Jobs = 2,
    threads: Threads = None,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Run the pipeline on the embedded synthetic dataset (no data needed)."""
    from mer.demo import run_demo

    try:
        rep = run_demo(out, cache_dir=cache_dir, jobs=jobs, progress=not quiet)
    except MerError as exc:
        raise _fail(exc)
    console.print(f"[bold]dataset[/] {rep.dataset}: {sum(rep.counts.values())} clips in {rep.n_groups} songs")
    console.print(f"[bold]features[/] {rep.feature_shape[0]} rows x {rep.feature_shape[1]} frames per clip")
    table = Table(title="What the features say per quadrant")
    for col in ("quadrant", "tempo (BPM)", "RMS", "centroid (Hz)"):
        table.add_column(col, justify="right" if col != "quadrant" else "left")
    for q, s in rep.per_quadrant.items():
        table.add_row(q, f"{s['tempo_bpm']:.0f}", f"{s['rms']:.3f}", f"{s['centroid_hz']:.0f}")
    console.print(table)
    for f in rep.figures:
        console.print(f"[bold]figure[/] {f}")
    if rep.cv:
        table = Table(title=f"{rep.n_folds}-fold song-grouped CV on the synthetic set")
        for col in ("model", "macro-F1", "accuracy", "time (s)"):
            table.add_column(col, justify="left" if col == "model" else "right")
        for name, s in rep.cv.items():
            table.add_row(name, f"{s['macro_f1_mean']:.3f} ± {s['macro_f1_std']:.3f}",
                          f"{s['accuracy_mean']:.3f} ± {s['accuracy_std']:.3f}", f"{s['wall_s']:.1f}")
        console.print(table)
        console.print(f"[bold]model[/] {rep.model_path} (best by macro-F1: {rep.model_name}, fitted on all clips)")
    if rep.prediction is not None:
        p = rep.prediction
        probs = ", ".join(f"{q} {v:.2f}" for q, v in p.probabilities.items())
        console.print(f"[bold]prediction[/] {rep.fresh_clip} (a new {rep.fresh_label} song): {p.quadrant} "
                      f"({probs}); valence {p.valence:+.2f}, arousal {p.arousal:+.2f}")
    _report_failures(rep.failures)


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, e.g. 0,3; got '{text}'") from None


@app.command()
@_long_command
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
    from mer.experiment import run_experiment

    try:
        res = run_experiment(data, out, models=models.split(",") if models else None, augment=_int_list(augment),
                             augmenter=augmenter, folds=folds, repeats=repeats, seed=seed, quick=quick, epochs=epochs,
                             cache_dir=cache_dir, jobs=jobs, progress=not quiet)
    except MerError as exc:
        raise _fail(exc)
    for f in res["findings"]:
        console.print(f"[bold]{f['claim']}[/]: {f['summary']}", highlight=False)
    console.print(f"wrote {out / 'results.md'} and {out / 'results.json'} ({res['n_cells_computed']} cells computed, "
                  f"{res['n_cells_skipped']} reused, {res['wall_s']:.0f} s)")
    failures = [(None, r) for d in res["datasets"] for r in d["failures"] + d["copy_failures"]]
    _report_failures(failures)
    if failures:
        raise typer.Exit(3)


def main() -> None:  # pragma: no cover
    app()
