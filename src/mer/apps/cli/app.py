"""The Typer application every `mer` command registers on, and how its help reads.

:class:`Command` tidies what Typer would print: a docstring's paragraphs are re-flowed
to the terminal (not broken where the source's lines break), an option shows a plain
metavar (``PATH``, ``TEXT``, ``INT``; nothing for a flag) instead of ``<bool>`` or
``<list[Path]>``, and the usage line names arguments as ``FILES...``.
"""

from __future__ import annotations

import inspect
from typing import Annotated, get_args

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from mer.apps.cli.options import term



def _metavar(param: TyperOption) -> str:
    """PATH, INT, NUMBER or TEXT by the option's type (its items' type for a list); '' for a flag."""
    if param.is_flag:
        return ""
    desc = param.type_descriptor
    if desc.is_path:
        return "PATH"
    kind = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
    return {int: "INT", float: "NUMBER"}.get(kind, "TEXT")


def reflow(text: str | None) -> str | None:
    """`text` (a docstring) with each paragraph on one line: the terminal wraps it, evenly."""
    if not text:
        return text
    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n"))


def _plain_help(option):
    """--help without a ``<bool>`` beside it."""
    if option is not None:
        option.metavar = ""
    return option


class Group(TyperGroup):
    """The `mer` group: its options (--version, --help) without ``<bool>``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperOption) and param.metavar is None:
                param.metavar = _metavar(param)

    def get_help_option(self, ctx):
        return _plain_help(super().get_help_option(ctx))


class _Argument(TyperArgument):
    """An argument whose help row shows its name only (FILES), not a type (``<list[Path]>``)."""

    def display_type_rich(self, ctx) -> str | None:
        return None


class Command(TyperCommand):
    """A `mer` command: re-flowed help, plain metavars, ``NAME...`` arguments in the usage line."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.help = reflow(self.help)
        for param in self.params:
            if param.help:
                param.help = reflow(param.help)
            if param.metavar is not None:
                continue
            if isinstance(param, TyperOption):
                param.metavar = _metavar(param)
            elif isinstance(param, TyperArgument):
                param.metavar = param.name.upper()
                param.__class__ = _Argument

    def get_help_option(self, ctx):
        return _plain_help(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar + ("..." if param.nargs != 1 else "")
                pieces.append(name if param.required else f"[{name}]")
        return pieces


class MerTyper(typer.Typer):
    """A Typer app whose commands are :class:`Command` unless they name another class."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or Command, **kwargs)


app = MerTyper(
    name="mer",
    cls=Group,
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
