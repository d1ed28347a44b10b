"""What every `mer` command shares: option types, the terminal, one-line errors, failure lists, Ctrl-C.

Exit codes: 0 success; 1 a fatal error (one line on stderr), or every file failed (listed,
then one line); 3 the command finished but some files failed (listed at the end); 130
interrupted (Ctrl-C).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from mer.core.errors import MerError


class Terminal:
    """The consoles commands print to: ``out`` (results) and ``err`` (messages, failures).

    soft_wrap: a message is one line whatever the terminal's width, so that logs and
    scripts reading mer's output see the same text on every machine. Rich reads the
    terminal's size (or ``COLUMNS``) when a console is made, so :meth:`reset` makes new
    ones for every invocation of the app.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.out = Console(soft_wrap=True)
        self.err = Console(stderr=True, soft_wrap=True)


term = Terminal()


def fail(exc: Exception) -> typer.Exit:
    term.err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def report_failures(failures) -> None:
    if not failures:
        return
    term.err.print(f"[bold yellow]{len(failures)} file(s) failed:[/]")
    for _, reason in failures:
        term.err.print(f"  {reason}", highlight=False, soft_wrap=True)


def finish(failures, n_done: int) -> None:
    """End a batch command: list `failures`; exit 1 when nothing was done, 3 when some failed.

    `n_done` counts the files that gave a result (predicted, analysed, written).
    """
    report_failures(failures)
    if failures and not n_done:
        raise fail(MerError(f"no result: all {len(failures)} file(s) failed"))
    if failures:
        raise typer.Exit(3)


def _checked_cache_dir(value: Optional[Path]) -> Optional[Path]:
    # Checked before any work: an unusable cache used to surface after the analysis.
    from mer.core.cache import resolve_cache_dir

    try:
        resolve_cache_dir(value)
    except MerError as exc:
        raise fail(exc)
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
                      "(default 1 per process: use --jobs for parallelism)."),
]


def long_command(command):
    """Wrap a long command: its --threads applied, and Ctrl-C stops it cleanly.

    On Ctrl-C every worker is ended at once, what finished stays cached, one line says
    how far it got, and the exit code is 130 (128 + SIGINT, the shell's convention); a
    second Ctrl-C while it stops is ignored (see :func:`mer.core.parallel.interrupt_once`).
    """
    @functools.wraps(command)  # typer reads the options from the wrapped signature
    def run(*args, **kwargs):
        from mer.core import parallel

        try:
            with parallel.cli_run(kwargs.get("threads")):
                return command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            term.err.print(parallel.interrupted_message(exc), highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return run


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, e.g. 0,3; got '{text}'") from None
