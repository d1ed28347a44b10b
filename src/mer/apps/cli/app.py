"""The Typer application every `mer` command registers on."""

from __future__ import annotations

from typing import Annotated

import typer

from mer.apps.cli.options import term

app = typer.Typer(
    name="mer",
    help="Music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from mer import __version__

        typer.echo(f"mer {__version__}")
        raise typer.Exit()


@app.callback()
def _start(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                 help="Print mer's version and exit.")] = False) -> None:
    """Music emotion recognition on Russell's circumplex (Q1 happy, Q2 tense, Q3 sad, Q4 calm)."""
    term.reset()  # consoles sized for this invocation's terminal
