"""Progress bars for long work (extraction, folds, epochs), via Rich.

One helper so that every long loop in `mer` looks the same and can be silenced
(``enabled=False``) from Python or in tests.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True, *,
                 rate_unit: str | None = None) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar; yields ``advance(n=1)``.

    Disabled (or with nothing to do) it yields a no-op, so callers need no branches.
    A bar opened while another is showing becomes a second line of the same display.
    With `rate_unit` (e.g. ``"files"``) the bar also shows the rate, ``12.5 files/min``.
    """
    if not enabled or total == 0:
        yield lambda n=1: None
        return
    if _active:  # nested (epochs inside folds): one more line in the live display, removed when done
        bar = _active[-1]
        task = bar.add_task(description, total=total)
        try:
            yield lambda n=1: bar.advance(task, n)
        finally:
            bar.remove_task(task)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    rate = (_rate_column(rate_unit),) if rate_unit else ()
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *rate,
        TimeElapsedColumn(), TimeRemainingColumn(),
    ) as bar:
        task = bar.add_task(description, total=total)
        _active.append(bar)
        try:
            yield lambda n=1: bar.advance(task, n)
        finally:
            _active.remove(bar)


def _rate_column(unit: str):
    """A Rich column: items done per minute since the task started (start-up included)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            elapsed = task.finished_time or task.elapsed
            if not task.completed or not elapsed:
                return Text("")
            return Text(f"{task.completed / elapsed * 60:.1f} {unit}/min")

    return RateColumn()


# Rich allows one live display at a time, so nested bars join the outermost one.
_active: list = []
