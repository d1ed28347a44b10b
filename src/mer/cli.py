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
console = Console()
err = Console(stderr=True)

CacheDir = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", envvar="MER_CACHE", help="Feature cache root [default: user cache dir]."),
]
Jobs = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Worker processes for feature extraction.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


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
def features(
    data: Annotated[str, typer.Argument(help="A dataset: folder, CSV manifest or 'synthetic'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .npz file.")],
    pooled: Annotated[bool, typer.Option(help="Summary statistics over time instead of full matrices.")] = False,
    jobs: Jobs = 1,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
) -> None:
    """Extract the paper's 204 x T feature matrices of DATA into an .npz."""
    from mer import datasets
    from mer.extraction import export_npz, extract_dataset

    try:
        ds = datasets.load(data, cache_dir=cache_dir)
        res = extract_dataset(ds, cache_dir=cache_dir, jobs=jobs, progress=not quiet)
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


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo's figures.")] = Path("mer-demo"),
    jobs: Jobs = 2,
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
    _report_failures(rep.failures)


def main() -> None:  # pragma: no cover
    app()
