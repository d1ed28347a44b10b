"""Recommendation over a library: tracks nearest a mood, what ``mer ls --mood`` and ``/v1/tracks?mood=`` answer.

A mood is what :func:`mer.library.playlist.parse_mood` reads (a quadrant word, any word
or phrase of Warriner et al.'s norms, or ``"V,A"``); tracks are ordered by their
Euclidean distance to it on the valence / arousal plane (ties: lower id first),
optionally only those within `radius`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mer.core.errors import MerError
from mer.library.playlist import Mood, parse_mood
from mer.library.track import Track


def near_mood(tracks: Iterable[Track], mood: str | Mood, *, radius: float | None = None
              ) -> tuple[Mood, list[tuple[Track, float]]]:
    """Tracks with valence / arousal by distance to `mood`, nearest first.

    Parameters
    ----------
    tracks : iterable of Track
        Tracks without valence / arousal (failed, silent) are left out.
    mood : str or Mood
    radius : float, optional
        Only tracks at most this far (valence / arousal units, > 0).

    Returns
    -------
    mood : Mood
        The point asked for.
    hits : list of (Track, distance)
    """
    if radius is not None and not radius > 0:
        raise MerError(f"radius must be > 0 (got {radius})")
    point = parse_mood(mood)
    usable = [t for t in tracks if t.valence is not None and t.arousal is not None]
    if not usable:
        return point, []
    va = np.array([(t.valence, t.arousal) for t in usable], dtype=float)
    d = np.linalg.norm(va - point.point, axis=1)
    order = np.lexsort((np.array([t.id for t in usable]), d))
    return point, [(usable[i], float(d[i])) for i in order if radius is None or d[i] <= radius]
