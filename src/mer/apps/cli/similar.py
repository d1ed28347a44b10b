"""`mer similar`: the library's tracks nearest a track or a file (:func:`mer.library.similar.similar_tracks`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from mer.apps.cli.app import app
from mer.apps.cli.library import Db
from mer.apps.cli.options import CacheDir, fail, term
from mer.core.errors import MerError

SIMILAR_FORMATS = ("table", "csv", "json")


def _table(result) -> Table:
    table = Table(title=f"{len(result.hits)} track(s) like {result.path}")
    for col in ("#", "id", "track", "quadrant", "valence", "arousal", "distance"):
        table.add_column(col, justify="left" if col in ("track", "quadrant") else "right", overflow="fold")
    for row in result.rows():
        name = f"{row['artist']} - {row['title']}" if row["artist"] and row["title"] else os.path.basename(row["path"])
        table.add_row(str(row["rank"]), str(row["id"]), name, row["quadrant"] or "-", f"{row['valence']:+.3f}",
                      f"{row['arousal']:+.3f}", f"{row['distance']:.4f}")
    return table


@app.command("similar")
def similar_command(
    track: Annotated[str, typer.Argument(help="A track id of the library, or an audio file (one in the library is "
                                         "that track; another is analysed now).")],
    db: Db = None,
    n: Annotated[int, typer.Option("-n", "--number", min=1, help="Tracks wanted.")] = 10,
    same_artist: Annotated[Optional[bool], typer.Option("--same-artist/--other-artists", help="Only the query's "
                                                        "artist, or only other artists (default: any).")] = None,
    same_quadrant: Annotated[bool, typer.Option("--same-quadrant", help="Only tracks in the query's quadrant.")
                             ] = False,
    radius: Annotated[Optional[float], typer.Option("--radius", help="Only tracks within this valence / arousal "
                                                    "distance of the query.")] = None,
    towards: Annotated[Optional[str], typer.Option("--towards", help="A mood (word, phrase or V,A): tracks like "
                                                   "this one in that mood.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json (mer.similar/1).")] = "table",
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Model analysing a FILE outside the "
                                                  "library (default: the shipped one).")] = None,
    cache_dir: CacheDir = None,
) -> None:
    """The library's tracks most like TRACK: musicnn embeddings pooled over the track, valence and arousal
    (docs/recommendation.md says how they were weighed and how good the neighbours are)."""
    from mer.library.db import open_library
    from mer.library.similar import similar_tracks

    if fmt not in SIMILAR_FORMATS:
        raise fail(MerError(f"unknown format '{fmt}' (use {', '.join(SIMILAR_FORMATS)})"))
    artist = None if same_artist is None else ("same" if same_artist else "other")
    try:
        with open_library(db, readonly=True) as lib:
            result = similar_tracks(lib, track, n=n, artist=artist, same_quadrant=same_quadrant, radius=radius,
                                    towards=towards, model=model, cache_dir=cache_dir)
    except MerError as exc:
        raise fail(exc)
    if fmt == "table":
        term.out.print(_table(result))
    else:
        print(result.csv_text() if fmt == "csv" else json.dumps(result.to_dict(), indent=2), end="" if fmt == "csv"
              else "\n")
    if result.settings["without_vector"]:
        term.err.print(f"note: {result.settings['without_vector']} track(s) have no similarity vector and were "
                       "left out (analysed before mer stored them): run mer scan again", highlight=False)


@app.command("smart-playlist")
def smart_playlist_command(
    moods: Annotated[Optional[list[str]], typer.Argument(help="Moods: words (any of Warriner et al.'s norms), "
                                                         "phrases or V,A; one playlist each.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the .nsp files (Navidrome's music folder or "
                                      "PlaylistsPath).")] = Path("."),
    quadrants: Annotated[bool, typer.Option("--quadrants", help="Also one playlist per quadrant, by the mood tag "
                                            "(Happy, Tense, Sad, Calm).")] = False,
    radius: Annotated[float, typer.Option("--radius", help="Half-side of the valence / arousal square kept.")] = 0.25,
    sort: Annotated[str, typer.Option("--sort", help="random, mer_arousal or -mer_arousal.")] = "random",
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="At most N tracks per playlist.")] = None,
    config: Annotated[bool, typer.Option("--navidrome-config", help="Print the navidrome.toml lines the mood "
                                         "playlists need, and exit.")] = False,
) -> None:
    """Navidrome smart playlists (.nsp) over the tags mer tag writes: MOOD, MER_VALENCE, MER_AROUSAL.

    Navidrome evaluates them itself, as its library changes. The valence / arousal playlists
    need MER_VALENCE and MER_AROUSAL declared as float custom tags (--navidrome-config prints
    the lines) and a full scan; the quadrant playlists need nothing.
    """
    from mer.library.navidrome import NAVIDROME_CONFIG, mood_playlist, quadrant_playlist, write_nsp

    if config:
        print(NAVIDROME_CONFIG, end="")
        return
    try:
        playlists = [quadrant_playlist(q, limit=limit) for q in ("Q1", "Q2", "Q3", "Q4") if quadrants]
        playlists += [mood_playlist(m, radius=radius, sort=sort, limit=limit) for m in moods or []]
        if not playlists:
            raise MerError("name at least one mood, or --quadrants")
        written = write_nsp(playlists, out)
    except (MerError, OSError) as exc:
        raise fail(exc)
    for p in written:
        term.err.print(f"wrote {p}", highlight=False)
