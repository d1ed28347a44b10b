"""`mer info` and `mer features`: what a dataset holds, and the paper's features of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mer.apps.cli.app import app
from mer.apps.cli.options import (
    CacheDir,
    Jobs,
    Quiet,
    Scheduler,
    Threads,
    fail,
    long_command,
    report_failures,
    term,
)
from mer.core.errors import MerError


@app.command()
def info(
    data: Annotated[str, typer.Argument(help="A dataset: folder, CSV manifest or 'synthetic'.")],
    cache_dir: CacheDir = None,
) -> None:
    """Clips per label, number of groups, and problems found in DATA."""
    from mer.core import labels
    from mer.data import datasets

    try:
        ds = datasets.load(data, cache_dir=cache_dir)
    except MerError as exc:
        raise fail(exc)
    table = Table(title=f"{ds.name}: {len(ds)} clips, {ds.n_groups()} groups")
    table.add_column("label")
    table.add_column("meaning")
    table.add_column("clips", justify="right")
    for lab, n in ds.counts().items():
        table.add_row(lab, labels.QUADRANT_NAMES.get(lab, ""), str(n))
    term.out.print(table)
    if ds.problems:
        term.err.print(f"[bold yellow]{len(ds.problems)} problem(s):[/]")
        for p in ds.problems:
            term.err.print(f"  {p}", highlight=False, soft_wrap=True)
    else:
        term.out.print("no problems found")


@app.command()
@long_command
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
    from mer.data import datasets
    from mer.extraction.batch import export_npz, extract_dataset

    try:
        ds = datasets.load(data, cache_dir=cache_dir)
        res = extract_dataset(ds, cache_dir=cache_dir, jobs=jobs, progress=not quiet, scheduler=scheduler)
        summary = export_npz(out, ds, res, pooled=pooled)
    except MerError as exc:
        raise fail(exc)
    term.out.print(
        f"wrote {out}: {summary['n']} clips, features {tuple(summary['shape'])} "
        f"({res.n_cached} from cache, {res.n_computed} extracted)"
    )
    report_failures(res.failures)
    if res.failures:
        raise typer.Exit(3)
