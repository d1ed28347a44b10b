"""The Typer application every `mer` command registers on."""

from __future__ import annotations

import typer

from mer.apps.cli.options import term

app = typer.Typer(
    name="mer",
    help="Music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _start() -> None:
    """Music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm)."""
    term.reset()  # consoles sized for this invocation's terminal
