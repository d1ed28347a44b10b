"""MkDocs hooks: the pages generated from the code at build time (nothing here is a copy that can go stale).

A page holds a marker line, ``<!-- mer:NAME -->``, that :func:`on_page_markdown` replaces:

* ``cli``: every ``mer`` command's ``--help``, rendered from the Typer app;
* ``model-card``: the shipped models' cards (:func:`mer.apps.render.model_card` of their manifests);
* ``openapi``: the service's endpoints, from ``create_app().openapi()``, with the schema
  itself written into the site as ``openapi.json`` (no CDN: the site builds and reads offline).

Docs pages other branches add (``OPTIONAL_PAGES``) are left out of the nav when absent, so
a missing one never breaks ``mkdocs build --strict``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

#: Pages the nav lists only when the file exists (written on other branches).
OPTIONAL_PAGES = ("vgmidi.md", "analysis.md", "recommendation.md", "beets.md")

MARKER = re.compile(r"^<!-- mer:([a-z-]+) -->$", re.MULTILINE)
HELP_COLUMNS = 80


def _prune(items, docs_dir: Path):
    """The nav without entries whose optional page is missing."""
    kept = []
    for item in items:
        if isinstance(item, dict):
            (title, value), = item.items()
            if isinstance(value, list):
                value = _prune(value, docs_dir)
                if value:
                    kept.append({title: value})
                continue
            item_page = value
        else:
            item_page = item
        if isinstance(item_page, str) and item_page in OPTIONAL_PAGES and not (docs_dir / item_page).is_file():
            continue
        kept.append(item)
    return kept


def on_config(config, **kwargs):
    config["nav"] = _prune(config["nav"], Path(config["docs_dir"]))
    return config


def _cli() -> str:
    """``mer --help`` and each command's ``--help`` as a user sees them on an 80-column terminal."""
    import typer
    from typer.testing import CliRunner

    from mer.apps.cli import app

    env = {"COLUMNS": str(HELP_COLUMNS), "NO_COLOR": "1", "TERM": "dumb"}
    runner = CliRunner()
    group = typer.main.get_command(app)
    parts = ["```text", runner.invoke(app, ["--help"], env=env).output.strip("\n"), "```", ""]
    for name in group.commands:  # registration order: the order of `mer --help`
        command = group.commands[name]
        if command.hidden:
            continue
        out = runner.invoke(app, [name, "--help"], env=env).output.strip("\n")
        first = (command.help or "").strip().split("\n\n")[0]
        parts += [f"## mer {name}", "", first, "", "```text", out, "```", ""]
    return "\n".join(parts)


def _card_table(path: Path) -> str:
    from mer.apps.render import model_card
    from mer.models.modelfile import read_manifest

    manifest = read_manifest(path)
    rows = [f"| {field} | {value.replace('|', '/')} |" for field, value in model_card(manifest)]
    return "\n".join([f"### `{path.name}`: {manifest.get('name', '?')} ({manifest.get('kind', '?')})", "",
                      "| field | value |", "|---|---|", *rows, ""])


def _model_cards() -> str:
    from mer.models.modelfile import default_model_path

    folder = default_model_path().parent
    return "\n".join(_card_table(p) for p in sorted(folder.glob("*.mer")))


def _openapi_schema() -> dict:
    from mer.apps.service.app import create_app

    return create_app().openapi()


def _openapi() -> str:
    schema = _openapi_schema()
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            summary = (op.get("summary") or "").replace("|", "/")
            desc = (op.get("description") or "").strip().split("\n\n")[0].replace("\n", " ").replace("|", "/")
            codes = ", ".join(sorted(op.get("responses", {})))
            rows.append(f"| `{method.upper()}` | `{path}` | {summary}: {desc} | {codes} |" if desc else
                        f"| `{method.upper()}` | `{path}` | {summary} | {codes} |")
    info = schema.get("info", {})
    return "\n".join([f"Schema `{info.get('title', '')}` version {info.get('version', '')}, OpenAPI "
                      f"{schema.get('openapi', '')}: [openapi.json](openapi.json) (also served by `mer serve` at "
                      "`/openapi.json`, with an interactive page at `/docs`).", "",
                      "| method | path | what it does | responses |", "|---|---|---|---|", *rows, "",
                      "??? note \"The whole schema (JSON)\"", "", "    ```json",
                      *("    " + line for line in json.dumps(schema, indent=2).splitlines()), "    ```", ""])


GENERATORS = {"cli": _cli, "model-card": _model_cards, "openapi": _openapi}


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(f"{page.file.src_path}: unknown generated section '{name}'")
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    files.append(File.generated(config, "openapi.json", content=json.dumps(_openapi_schema(), indent=2) + "\n"))
    return files


os.environ.setdefault("NO_COLOR", "1")
