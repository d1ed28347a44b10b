"""Navidrome smart playlists (``.nsp``): rules over the mood tags ``mer tag`` writes, evaluated by the server.

A smart playlist is a JSON file Navidrome imports at scan time (from the music folder or
``PlaylistsPath``) and re-evaluates on access (https://www.navidrome.org/docs/usage/features/smart-playlists/):
``{"name", "comment", "all": [rules], "sort", "limit"}``, each rule ``{operator: {field: value}}``.

Fields used, from the tags of :mod:`mer.library.tags`:

* ``mood`` (ID3 ``TMOO``, Vorbis ``MOOD``, MP4 ``----:com.apple.iTunes:MOOD``): imported by
  Navidrome by default; :func:`quadrant_playlist` matches mer's word (``Happy``, ``Tense``,
  ``Sad``, ``Calm``) with ``is``.
* ``mer_valence`` / ``mer_arousal`` (``MER_VALENCE`` / ``MER_AROUSAL``, numbers in [-1, 1]):
  custom tags, which Navidrome imports only when declared in its configuration file with
  ``Type = "float"`` (:data:`NAVIDROME_CONFIG`, then a *full* scan);
  :func:`mood_playlist` keeps the tracks in a square of half-side `radius` around a mood
  (``inTheRange`` on both: rules cannot express a circle or sort by distance) and sorts
  them by arousal, calmest first, or randomly.
"""

from __future__ import annotations

import json
import re
from os import PathLike
from pathlib import Path

from mer.core.errors import MerError
from mer.core.labels import QUADRANT_NAMES, QUADRANTS
from mer.library.tags import MOOD_TAGS

#: Navidrome's custom tag for each of mer's numeric fields.
NAVIDROME_FIELDS = {"MER_VALENCE": "mer_valence", "MER_AROUSAL": "mer_arousal"}

#: What Navidrome's configuration file (``navidrome.toml``) needs for :func:`mood_playlist`.
NAVIDROME_CONFIG = "\n".join(
    line for tag, field in NAVIDROME_FIELDS.items() for line in (
        f'Tags.{field}.Aliases = ["{tag}", "TXXX:{tag}", "----:com.apple.iTunes:{tag}"]',
        f'Tags.{field}.Type = "float"')) + "\n"

#: Keys of a smart playlist mer writes, and the operators its rules use.
NSP_KEYS = ("name", "comment", "all", "sort", "limit")
NSP_OPERATORS = ("is", "inTheRange")

#: Sorts :func:`mood_playlist` offers: Navidrome's ``random``, or by arousal.
SORTS = ("random", "mer_arousal", "-mer_arousal")


def _clip(x: float) -> float:
    return round(min(1.0, max(-1.0, float(x))), 4)


def quadrant_playlist(quadrant: str, *, limit: int | None = None) -> dict:
    """A smart playlist of the tracks whose ``mood`` tag is mer's word for `quadrant` (``Q1``..``Q4``)."""
    if quadrant not in MOOD_TAGS:
        raise MerError(f"unknown quadrant '{quadrant}' (use {', '.join(QUADRANTS)})")
    word = MOOD_TAGS[quadrant]
    return _nsp(f"mer: {word}", f"{QUADRANT_NAMES[quadrant]} ({quadrant}), by the mood tag mer tag writes",
                [{"is": {"mood": word}}], "random", limit)


def mood_playlist(mood, *, radius: float = 0.25, sort: str = "random", limit: int | None = None,
                  name: str | None = None) -> dict:
    """A smart playlist of the tracks whose ``MER_VALENCE`` / ``MER_AROUSAL`` are within `radius` of `mood` on each axis.

    Parameters
    ----------
    mood : str, Mood or (valence, arousal)
        :func:`mer.library.playlist.parse_mood` (a word of the norms, a quadrant word, ``"V,A"``).
    radius : float
        Half the side of the square kept (valence / arousal units, > 0).
    sort : str
        One of :data:`SORTS`.
    limit : int, optional
        At most this many tracks.
    """
    from mer.library.playlist import parse_mood

    if not radius > 0:
        raise MerError(f"radius must be > 0 (got {radius})")
    if sort not in SORTS:
        raise MerError(f"unknown sort '{sort}' (use {', '.join(SORTS)})")
    m = parse_mood(mood)
    rules = [{"inTheRange": {"mer_valence": [_clip(m.valence - radius), _clip(m.valence + radius)]}},
             {"inTheRange": {"mer_arousal": [_clip(m.arousal - radius), _clip(m.arousal + radius)]}}]
    text = m.text or f"{m.valence:+.2f},{m.arousal:+.2f}"
    comment = (f"valence {m.valence:+.3f} +- {radius:g}, arousal {m.arousal:+.3f} +- {radius:g} "
               f"(mer's MER_VALENCE / MER_AROUSAL tags; needs the custom tags in navidrome.toml)")
    return _nsp(name or f"mer: {text}", comment, rules, sort, limit)


def _nsp(name: str, comment: str, rules: list, sort: str, limit: int | None) -> dict:
    if limit is not None and limit < 1:
        raise MerError(f"limit must be >= 1 (got {limit})")
    out = {"name": name, "comment": comment, "all": rules, "sort": sort}
    if limit is not None:
        out["limit"] = int(limit)
    return out


def nsp_text(playlist: dict) -> str:
    """The ``.nsp`` file's text: indented JSON, a final newline."""
    return json.dumps(playlist, indent=2, ensure_ascii=False) + "\n"


def nsp_filename(playlist: dict) -> str:
    """A file name from the playlist's name (``mer: furious`` -> ``mer-furious.nsp``)."""
    stem = re.sub(r"[^\w+-]+", "-", playlist["name"]).strip("-") or "mer"
    return f"{stem}.nsp"


def write_nsp(playlists: list[dict], folder: str | PathLike) -> list[Path]:
    """Write each playlist to ``folder / nsp_filename(p)`` (UTF-8, atomically); returns the paths."""
    from mer.core.io import write_text

    folder = Path(folder)
    paths = []
    for p in playlists:
        path = folder / nsp_filename(p)
        write_text(path, nsp_text(p))
        paths.append(path)
    return paths
