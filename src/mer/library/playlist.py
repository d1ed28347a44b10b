"""Mood playlists: a path on the valence / arousal plane from one mood to another, one track per step.

The iso principle (music therapy: start where the listener is, then move step by step
towards the mood wanted) is a practice with mixed evidence; mer offers it as an option,
not as a treatment.

How a playlist is planned (:func:`plan_playlist`):

1. **Moods** (:func:`parse_mood`): a quadrant word names its quadrant's centre (happy / excited
   -> Q1 (0.5, 0.5), tense / angry -> Q2 (-0.5, 0.5), sad -> Q3 (-0.5, -0.5), calm / relaxed
   -> Q4 (0.5, -0.5); the words of :data:`mer.core.labels.MOOD_WORDS`); any other English word
   or phrase is its point in Warriner et al.'s norms (:mod:`mer.library.words`: "furious",
   "dark calm"); ``"V,A"`` is a point;
   a track (its path or library id) is its whole-track valence / arousal, or, as the start,
   the valence / arousal of its last 30 s (``Track.closing``): the playlist continues
   from the track now playing, which is left out of the playlist.
2. **Waypoints**: `length` points from the start to the end mood (:func:`waypoints`), by the
   easing: ``linear`` (even steps on the straight line), ``cubic`` (ease in and out,
   3t^2 - 2t^3: lingers near both moods, moves fastest in the middle), ``arousal-first``
   (first arousal, then valence: an L-shaped path, even steps along it), ``valence-first``.
3. **Tracks**, greedily, one per waypoint. The cost of candidate c after track p at
   waypoint w is::

       cost(c) = |va(c) - w| + join_weight * |opening(c) - closing(p)|

   with ``|.|`` the Euclidean distance on the plane, ``va`` the whole-track valence /
   arousal, ``opening`` / ``closing`` those of the first / last 30 s (the whole track's
   when the timeline summary is missing). The join term is what makes the playlist
   timeline-aware: the end of one track close to the start of the next. A track is never
   used twice, nor two tracks with the same bytes (``content_hash``: the lowest id of them
   is the candidate), at most `per_artist` tracks share an artist (tracks without an artist are
   not capped), and a *step* (the distance between consecutive tracks' whole-track
   valence / arousal) is at most `max_step` whenever some candidate allows it. Among
   those, candidates come first from which another step within `max_step` remains
   possible and from which the end region (the tracks nearest the end mood) can still be
   reached, through unused tracks, in the steps left (counted on cells of side
   ``max_step / 4``); the first track may move up to `max_step` from the best one for
   that. When no candidate is within `max_step`, the nearest one (smallest step) is taken
   and the step is recorded in the report's ``over_max_step``. The walk is greedy, not an
   optimal search: on a library with a narrow corridor it can still reach the end early
   or late, and the report's figures say so.

The quality report (:attr:`Playlist.report`) gives the steps (mean, largest, their
coefficient of variation as evenness), the joins, the distances of the first and last
tracks to the requested moods, and every step over `max_step`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.core.labels import MOOD_WORDS, QUADRANTS, normalise_label
from mer.library.track import Track
from mer.library.words import is_phrase, word_point

#: Version tag of :meth:`Playlist.to_dict`.
PLAYLIST_SCHEMA = "mer.playlist/1"

EASINGS = ("linear", "cubic", "arousal-first", "valence-first")

#: Sign of (valence, arousal) in each quadrant; a mood word stands for the quadrant's centre.
QUADRANT_SIGNS = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
QUADRANT_CENTRE = 0.5

#: Candidates (lowest cost first) checked for a next step within max_step.
_LOOKAHEAD = 32
#: With a random_state, the pick is random among candidates within this cost of the best.
_VARIETY = 0.05

_POINT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*,\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*$")


@dataclass(frozen=True)
class Mood:
    """A point of the valence / arousal plane and what named it.

    Attributes
    ----------
    valence, arousal : float
        In [-1, 1].
    source : str
        ``'word'`` (a quadrant word), ``'norms'`` (a word or phrase of the norms), ``'point'`` or ``'track'``.
    text : str
        The spec as given.
    track_id : int or None
        The library id of the track that named it (``source == 'track'``).
    """

    valence: float
    arousal: float
    source: str = "point"
    text: str = ""
    track_id: int | None = None

    @property
    def point(self) -> np.ndarray:
        return np.array([self.valence, self.arousal], dtype=float)

    def to_dict(self) -> dict:
        return {"valence": self.valence, "arousal": self.arousal, "source": self.source, "text": self.text,
                "track_id": self.track_id}


def _usable(t: Track) -> bool:
    return t.status == "ok" and t.valence is not None and t.arousal is not None


def _va(part: dict | None, t: Track) -> tuple[float, float]:
    """(valence, arousal) of an opening / closing part, else the whole track's."""
    if part and part.get("valence") is not None and part.get("arousal") is not None:
        return float(part["valence"]), float(part["arousal"])
    return float(t.valence), float(t.arousal)


def _find_track(spec: str, tracks: Sequence[Track]) -> Track | None:
    if spec.strip().isdigit():
        wanted = int(spec)
        hit = next((t for t in tracks if t.id == wanted), None)
        if hit is not None:
            return hit
    norm = os.path.normpath(os.path.abspath(os.path.expanduser(spec)))
    hit = next((t for t in tracks if os.path.normpath(t.path) == norm), None)
    if hit is None and os.path.exists(norm):  # through symbolic links
        real = os.path.realpath(norm)
        hit = next((t for t in tracks if os.path.realpath(t.path) == real), None)
    return hit


def parse_mood(spec: str | Mood | Sequence[float], *, tracks: Sequence[Track] = (), as_start: bool = False) -> Mood:
    """Read a mood: a mood word, ``"V,A"`` (numbers in [-1, 1]), or a track's path or id in `tracks`.

    Parameters
    ----------
    spec : str, Mood or (valence, arousal)
    tracks : sequence of Track
        Where a track spec is looked up.
    as_start : bool
        A track names its closing valence / arousal (last 30 s) rather than the whole track's.

    Raises
    ------
    MerError
        One line saying what was expected.
    """
    if isinstance(spec, Mood):
        return spec
    if not isinstance(spec, str):
        return _point_mood(spec, str(tuple(spec)))
    text = spec.strip()
    m = _POINT.match(text)
    if m:
        return _point_mood((float(m.group(1)), float(m.group(2))), text)
    quadrant = normalise_label(text) if text else None
    if quadrant is not None:
        sv, sa = QUADRANT_SIGNS[quadrant]
        return Mood(sv * QUADRANT_CENTRE, sa * QUADRANT_CENTRE, "word", text)
    track = _find_track(text, tracks) if text else None
    if track is None and is_phrase(text):
        try:
            v, a = word_point(text)
        except MerError as exc:
            raise MerError(f"unknown mood '{spec}': {exc}") from None
        return Mood(v, a, "norms", text)
    if track is None:
        words = ", ".join(MOOD_WORDS[q][0] for q in QUADRANTS)
        where = "" if tracks else " (no library given)"
        raise MerError(f"unknown mood '{spec}': use a mood word ({words}, or any word of Warriner et al.'s norms), "
                       f"'V,A' with numbers in [-1, 1], or the path or id of a track in the library{where}")
    if not _usable(track):
        raise MerError(f"track {track.id} has no valence / arousal (status {track.status})", track.path)
    v, a = _va(track.closing, track) if as_start else (float(track.valence), float(track.arousal))
    return Mood(v, a, "track", text, track.id)


def _point_mood(va, text: str) -> Mood:
    try:
        v, a = (float(x) for x in va)
    except (TypeError, ValueError):
        raise MerError(f"a mood point is two numbers (valence, arousal); got {text}") from None
    if not (-1 <= v <= 1 and -1 <= a <= 1):
        raise MerError(f"mood '{text}': valence and arousal must be in [-1, 1]")
    return Mood(v, a, "point", text)


def waypoints(start: Sequence[float], end: Sequence[float], *, length: int, easing: str = "linear") -> np.ndarray:
    """`length` points from `start` to `end` (both (valence, arousal)) by `easing`; shape (length, 2).

    The first point is `start`, the last `end` (a single point is `start`).
    """
    if easing not in EASINGS:
        raise MerError(f"unknown easing '{easing}' (use {', '.join(EASINGS)})")
    if length < 1:
        raise MerError(f"a playlist needs length >= 1 (got {length})")
    s, e = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
    t = np.linspace(0.0, 1.0, length) if length > 1 else np.zeros(1)
    if easing in ("linear", "cubic"):
        u = t if easing == "linear" else 3 * t ** 2 - 2 * t ** 3
        return s + u[:, None] * (e - s)
    first = 1 if easing == "arousal-first" else 0  # the axis moved first
    legs = np.abs(e - s)
    total = legs.sum()
    if total == 0:
        return np.repeat(s[None, :], length, axis=0)
    corner = s.copy()
    corner[first] = e[first]
    d = t * total  # distance travelled along the L-shaped path
    along1 = np.minimum(d, legs[first]) / max(legs[first], 1e-300)
    along2 = np.clip(d - legs[first], 0, None) / max(legs[1 - first], 1e-300)
    pts = s + np.minimum(along1, 1)[:, None] * (corner - s)
    return pts + np.minimum(along2, 1)[:, None] * (e - corner)


# ---------------------------------------------------------------------------------------
# The greedy walk


@dataclass
class _Pool:
    """The candidate tracks as arrays: whole-track, opening and closing (valence, arousal), artists."""

    tracks: list[Track]
    va: np.ndarray
    opening: np.ndarray
    closing: np.ndarray
    artist: np.ndarray  # int code per track, -1 without an artist (not capped)

    @classmethod
    def of(cls, tracks: Iterable[Track], exclude: int | None) -> _Pool:
        tracks = sorted(tracks, key=lambda t: (t.id, t.path))  # ties go to the lower id, whatever the input order
        seen = {t.content_hash for t in tracks if t.id == exclude and t.content_hash}
        usable = []
        for t in tracks:  # one track per content: never the same bytes twice, nor the start's
            if _usable(t) and t.id != exclude and (t.content_hash is None or t.content_hash not in seen):
                usable.append(t)
                seen.add(t.content_hash)
        va = np.array([[t.valence, t.arousal] for t in usable], dtype=float).reshape(-1, 2)
        opening = np.array([_va(t.opening, t) for t in usable], dtype=float).reshape(-1, 2)
        closing = np.array([_va(t.closing, t) for t in usable], dtype=float).reshape(-1, 2)
        names = [" ".join(t.artist.split()).casefold() if t.artist and t.artist.strip() else None for t in usable]
        codes: dict[str, int] = {}
        artist = np.array([-1 if n is None else codes.setdefault(n, len(codes)) for n in names], dtype=int)
        return cls(usable, va, opening, closing, artist)


def _eligible(pool: _Pool, used: np.ndarray, per_artist: int | None, counts: np.ndarray) -> np.ndarray:
    ok = ~used
    if per_artist is not None and counts.size:
        ok &= (pool.artist < 0) | (counts[np.maximum(pool.artist, 0)] < per_artist)
    return ok


class _Reach:
    """Fewest steps of at most `max_step` from each track to the end region, through unused tracks.

    Tracks are grouped in square cells (side ``max_step / 4``, coarser when there would be
    more than `max_cells`) and steps are counted between the cells' mean points: an
    approximation that only orders candidates, never decides a step's length. The end
    region is the cells within ``max_step / 2`` of the distance of the nearest one to the
    end mood. :meth:`hops` counts through the cells that still hold an eligible track, so a
    path into a pocket the playlist has already used up is seen as a dead end.
    """

    def __init__(self, va: np.ndarray, end: Sequence[float], max_step: float, max_cells: int = 4000):
        side = max_step / 4
        while True:
            _, inverse, counts = np.unique(np.floor(va / side).astype(np.int64), axis=0, return_inverse=True,
                                           return_counts=True)
            if len(counts) <= max_cells:
                break
            side *= 1.5
        self.cell = inverse.reshape(-1)
        reps = np.zeros((len(counts), 2))
        np.add.at(reps, self.cell, va)
        reps /= counts[:, None]
        self.adjacent = np.linalg.norm(reps[:, None, :] - reps[None, :, :], axis=2) <= max_step
        self.to_end = np.linalg.norm(reps - np.asarray(end, dtype=float), axis=1)
        self.margin = max_step / 2

    def hops(self, eligible: np.ndarray) -> np.ndarray:
        """Per track, the steps to the end region through cells with an eligible track (len(eligible): none)."""
        n_cells = len(self.to_end)
        live = np.bincount(self.cell[eligible], minlength=n_cells) > 0
        hops = np.full(n_cells, len(eligible), dtype=int)
        if live.any():
            frontier = live & (self.to_end <= self.to_end[live].min() + self.margin)
            k = 0
            while frontier.any():
                hops[frontier] = k
                k += 1
                frontier = self.adjacent[frontier].any(axis=0) & live & (hops == len(eligible))
        return hops[self.cell]


def _has_next(pool: _Pool, c: int, ok: np.ndarray, max_step: float) -> bool:
    """Is another eligible track within max_step of track `c`?"""
    near = np.count_nonzero(((pool.va[ok] - pool.va[c]) ** 2).sum(axis=1) <= max_step * max_step)
    return near >= 2  # the eligible tracks include `c` itself


def _preferred(pool: _Pool, within: np.ndarray, cost: np.ndarray, ok: np.ndarray, max_step: float,
               reach: np.ndarray | None, spread: float, last: bool) -> np.ndarray:
    """The candidates to pick from, among `within` (all within max_step of the previous track).

    In order of preference: those from which a next step within max_step remains (unless
    this is the last position) and the end region stays reachable in the steps left
    (`reach`, a mask; None: not asked), lowest cost first; then those with a next step
    only. Returns the first such candidate and any of its group within `spread` of its cost.
    """
    order = within[np.argsort(cost[within], kind="stable")]
    if reach is not None:
        order = np.concatenate([order[reach[order]], order[~reach[order]]])
    chosen: list[int] = []
    for c in order[:_LOOKAHEAD]:
        if chosen and (cost[c] > cost[chosen[0]] + spread or (reach is not None and reach[c] != reach[chosen[0]])):
            break
        if last or _has_next(pool, int(c), ok, max_step):
            chosen.append(int(c))
    if chosen:
        return np.array(chosen, dtype=int)
    return order[reach[order]] if reach is not None and reach[order].any() else within


def _pick(cost: np.ndarray, cands: np.ndarray, rng: np.random.Generator | None) -> int:
    best = cands[np.argmin(cost[cands])]  # argmin: first (lowest id) of equal costs
    if rng is None:
        return int(best)
    near = cands[cost[cands] <= cost[best] + _VARIETY]
    return int(rng.choice(near))


def _step_choice(pool: _Pool, ok: np.ndarray, prev: int | None, cost: np.ndarray, max_step: float | None,
                 reach: np.ndarray | None, last: bool, rng) -> int:
    """The index of the track taken (its step breaks max_step only when every candidate's would)."""
    cands = np.flatnonzero(ok)
    if max_step is None:
        return _pick(cost, cands, rng)
    if prev is None:  # the first track: the best one, or another within max_step of it that keeps the end in reach
        best = cands[np.argmin(cost[cands])]
        within = cands[np.linalg.norm(pool.va[cands] - pool.va[best], axis=1) <= max_step]
    else:
        steps = np.linalg.norm(pool.va[cands] - pool.va[prev], axis=1)
        within = cands[steps <= max_step]
        if within.size == 0:  # nothing allowed: the smallest step (the report lists it in over_max_step)
            return int(cands[np.argmin(steps)])
    spread = 0.0 if rng is None else _VARIETY
    return _pick(cost, _preferred(pool, within, cost, ok, max_step, reach, spread, last), rng)


def _walk(pool: _Pool, wps: np.ndarray, *, start_close: np.ndarray | None, max_step, per_artist, join_weight,
          rng) -> tuple[list[int], list[str]]:
    used = np.zeros(len(pool.tracks), dtype=bool)
    reach_of = None if max_step is None or not len(pool.tracks) else _Reach(pool.va, wps[-1], max_step)
    counts = np.zeros(int(pool.artist.max(initial=-1)) + 1, dtype=int)
    chosen: list[int] = []
    notes: list[str] = []
    for i, w in enumerate(wps):
        ok = _eligible(pool, used, per_artist, counts)
        if not ok.any():
            notes.append(f"the library ran out of usable tracks after {len(chosen)} "
                         f"(of {len(wps)} asked{'; --per-artist limits them' if per_artist else ''})")
            break
        prev = chosen[-1] if chosen else None
        close = pool.closing[prev] if prev is not None else start_close
        cost = np.linalg.norm(pool.va - w, axis=1)
        if close is not None and join_weight:
            cost = cost + join_weight * np.linalg.norm(pool.opening - close, axis=1)
        reach = None if reach_of is None else reach_of.hops(ok) <= len(wps) - 1 - i  # the end in the steps left
        k = _step_choice(pool, ok, prev, cost, max_step, reach, i == len(wps) - 1, rng)
        if i == 0 and reach is not None and not reach[k]:
            notes.append(f"no path of steps within max_step {max_step:g} leads from the start to the end mood in "
                         f"{len(wps)} tracks in this library: the playlist keeps the steps short and may end "
                         f"far from the end mood (more tracks or a larger --max-step may reach it)")
        chosen.append(k)
        used[k] = True
        if pool.artist[k] >= 0:
            counts[pool.artist[k]] += 1
    return chosen, notes


# ---------------------------------------------------------------------------------------
# Quality report


def quality_report(points: np.ndarray, *, start: Sequence[float], end: Sequence[float], waypoints: np.ndarray,
                   joins: Sequence[float], max_step: float | None = None) -> dict:
    """Figures of a planned path.

    Parameters
    ----------
    points : array, shape (n, 2)
        The tracks' whole-track (valence, arousal), in playlist order.
    start, end : (valence, arousal)
        The requested moods.
    waypoints : array, shape (m, 2), m >= n
        The requested path (``waypoints[i]`` is track i's target).
    joins : sequence of float, length n - 1
        Distance from each track's closing to the next one's opening.
    max_step : float, optional

    Returns
    -------
    dict
        ``steps`` (distance between consecutive tracks), ``mean_step``, ``largest_step``,
        ``step_cv`` (standard deviation / mean of the steps: 0 is perfectly even; None
        with no steps or a zero mean), ``start_distance`` / ``end_distance`` (first / last
        track to the requested moods), ``waypoint_distances`` and their mean, ``joins``
        with ``mean_join`` / ``largest_join``, ``waypoint_step`` (the requested path's
        largest step), ``max_step``, ``over_max_step`` (``{"from": i, "to": i + 1, "step": d}``,
        0-based positions) and ``n_over_max_step``.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    wps = np.asarray(waypoints, dtype=float).reshape(-1, 2)
    steps = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    mean = float(steps.mean()) if steps.size else None
    over = [] if max_step is None else [{"from": i, "to": i + 1, "step": float(s)}
                                        for i, s in enumerate(steps) if s > max_step]
    joins = np.asarray(joins, dtype=float)
    wp_d = np.linalg.norm(pts - wps[:len(pts)], axis=1)
    wp_steps = np.linalg.norm(np.diff(wps, axis=0), axis=1)
    return {
        "length": len(pts), "steps": steps.tolist(), "mean_step": mean,
        "largest_step": float(steps.max()) if steps.size else None,
        "step_cv": float(steps.std() / mean) if steps.size and mean > 0 else None,
        "start_distance": float(np.linalg.norm(pts[0] - np.asarray(start, float))) if len(pts) else None,
        "end_distance": float(np.linalg.norm(pts[-1] - np.asarray(end, float))) if len(pts) else None,
        "waypoint_distances": wp_d.tolist(), "mean_waypoint_distance": float(wp_d.mean()) if len(pts) else None,
        "joins": joins.tolist(), "mean_join": float(joins.mean()) if joins.size else None,
        "largest_join": float(joins.max()) if joins.size else None,
        "waypoint_step": float(wp_steps.max()) if wp_steps.size else None,
        "max_step": max_step, "over_max_step": over, "n_over_max_step": len(over),
    }


# ---------------------------------------------------------------------------------------
# The playlist


@dataclass
class Playlist:
    """A planned playlist: the tracks, the path they follow and how well they follow it.

    Attributes
    ----------
    tracks : list of Track
        In playing order.
    waypoints : array, shape (length, 2)
        The requested (valence, arousal) of each position (as many as asked, even when the
        library had fewer tracks).
    start, end : Mood
    settings : dict
        ``length``, ``max_step``, ``easing``, ``per_artist``, ``join_weight``.
    report : dict
        :func:`quality_report`'s figures, plus ``requested_length`` and ``notes`` (list of str).
    """

    tracks: list[Track]
    waypoints: np.ndarray
    start: Mood
    end: Mood
    settings: dict
    report: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready, schema ``mer.playlist/1``: settings, moods, waypoints, tracks, report."""
        rows = []
        for i, t in enumerate(self.tracks):
            rows.append({"position": i + 1, "id": t.id, "path": t.path, "artist": t.artist, "title": t.title,
                         "album": t.album, "duration_s": t.duration_s, "quadrant": t.quadrant,
                         "valence": t.valence, "arousal": t.arousal, "opening": t.opening, "closing": t.closing,
                         "waypoint": {"valence": float(self.waypoints[i][0]), "arousal": float(self.waypoints[i][1])},
                         "step": self.report["steps"][i - 1] if i else None,
                         "join": self.report["joins"][i - 1] if i else None})
        return {"schema": PLAYLIST_SCHEMA, "settings": dict(self.settings), "start": self.start.to_dict(),
                "end": self.end.to_dict(),
                "waypoints": [{"valence": float(v), "arousal": float(a)} for v, a in self.waypoints],
                "tracks": rows, "report": self.report}

    def m3u8_text(self, location: Callable[[Track], str]) -> str:
        """Extended M3U text: ``#EXTINF:<seconds>,<artist> - <title>`` then ``location(track)``.

        Seconds rounded (-1 when unknown); the file's name when it has no title. The file
        form (:meth:`to_m3u8`) locates tracks by path, the HTTP service by its audio URL.
        """
        lines = ["#EXTM3U"]
        for t in self.tracks:
            seconds = -1 if t.duration_s is None else round(t.duration_s)
            lines += [f"#EXTINF:{seconds},{_display_name(t)}", location(t)]
        return "\n".join(lines) + "\n"

    def to_m3u8(self, path: str | PathLike) -> None:
        """Write :meth:`m3u8_text` to `path` (UTF-8, atomic), each file's path relative to the
        playlist's folder where one can be made (else absolute)."""
        from mer.core.io import write_text

        path = Path(path)
        folder = Path(os.path.abspath(path.parent))
        write_text(path, self.m3u8_text(lambda t: _relative(t.path, folder)))

    def report_lines(self) -> list[str]:
        """The quality report as short lines of text (what the CLI prints)."""
        return _report_lines(self.report)


def _display_name(t: Track) -> str:
    title = (t.title or "").strip() or Path(t.path).stem
    name = f"{t.artist.strip()} - {title}" if t.artist and t.artist.strip() else title
    return " ".join(name.split())  # a newline would end the #EXTINF line


def _relative(track_path: str, folder: Path) -> str:
    try:
        rel = os.path.relpath(track_path, folder)
    except ValueError:  # another drive (Windows): no relative path exists
        return track_path
    return rel.replace(os.sep, "/")


def _fmt(x, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _report_lines(r: dict) -> list[str]:
    lines = [f"tracks: {r['length']} of {r['requested_length']} asked",
             (f"steps: mean {_fmt(r['mean_step'])}, largest {_fmt(r['largest_step'])}, "
              f"evenness (coefficient of variation) {_fmt(r['step_cv'], '.2f')}"),
             (f"first track to the start mood: {_fmt(r['start_distance'])}; "
              f"last track to the end mood: {_fmt(r['end_distance'])}"),
             f"tracks to their waypoints: mean {_fmt(r['mean_waypoint_distance'])}",
             f"joins (closing -> next opening): mean {_fmt(r['mean_join'])}, largest {_fmt(r['largest_join'])}"]
    if r["max_step"] is not None:
        over = ", ".join(f"{o['from'] + 1}->{o['to'] + 1} ({o['step']:.3f})" for o in r["over_max_step"])
        lines.append(f"steps over --max-step {r['max_step']:g}: {r['n_over_max_step']}"
                     + (f" ({over}: the library has no closer track)" if over else ""))
    return lines + [f"note: {n}" for n in r["notes"]]


def _check(length: int, max_step, per_artist, join_weight) -> None:
    if not isinstance(length, (int, np.integer)) or length < 1:
        raise MerError(f"a playlist needs length >= 1 (got {length})")
    if max_step is not None and not max_step > 0:
        raise MerError(f"max_step must be > 0 (got {max_step})")
    if per_artist is not None and per_artist < 1:
        raise MerError(f"per_artist must be >= 1 (got {per_artist})")
    if not join_weight >= 0:
        raise MerError(f"join_weight must be >= 0 (got {join_weight})")


def plan_playlist(tracks: Iterable[Track], *, start, end, length: int, max_step: float | None = None,
                  easing: str = "linear", per_artist: int | None = None, join_weight: float = 0.5,
                  random_state: int | np.random.Generator | None = None) -> Playlist:
    """Plan a playlist of `length` tracks from the `start` mood to the `end` mood (module docstring).

    Parameters
    ----------
    tracks : iterable of Track
        The library; tracks without valence / arousal (silent, failed, missing) are not used.
    start, end : str, Mood or (valence, arousal)
        See :func:`parse_mood`; a track given as `start` is left out of the playlist.
    length : int
        Tracks wanted (fewer when the library runs out; the report's notes say so).
    max_step : float, optional
        Largest distance between consecutive tracks' (valence, arousal), kept where the
        library allows it.
    easing : str
        One of :data:`EASINGS`.
    per_artist : int, optional
        At most this many tracks by one artist.
    join_weight : float
        Weight of the closing -> opening distance in the cost (0: ignore the timelines).
    random_state : int or Generator, optional
        None: deterministic (the lowest cost, ties to the lower id). Given: a random pick
        among candidates within 0.05 of the lowest cost, for variety between runs.
    """
    tracks = list(tracks)
    _check(length, max_step, per_artist, join_weight)
    start_mood = parse_mood(start, tracks=tracks, as_start=True)
    end_mood = parse_mood(end, tracks=tracks)
    wps = waypoints(start_mood.point, end_mood.point, length=length, easing=easing)
    pool = _Pool.of(tracks, exclude=start_mood.track_id)
    rng = None if random_state is None else np.random.default_rng(random_state)
    start_close = start_mood.point if start_mood.source == "track" else None
    chosen, notes = _walk(pool, wps, start_close=start_close, max_step=max_step, per_artist=per_artist,
                          join_weight=join_weight, rng=rng)
    joins = [float(np.linalg.norm(pool.opening[b] - pool.closing[a])) for a, b in pairwise(chosen)]
    report = quality_report(pool.va[chosen], start=start_mood.point, end=end_mood.point, waypoints=wps,
                            joins=joins, max_step=max_step)
    if max_step is not None and report["waypoint_step"] is not None and report["waypoint_step"] > max_step:
        notes.append(f"the requested path itself moves {report['waypoint_step']:.3f} per step, more than "
                     f"max_step {max_step:g}: use more tracks or a larger max_step")
    report = {"requested_length": length, **report, "notes": notes}
    settings = {"length": length, "max_step": max_step, "easing": easing, "per_artist": per_artist,
                "join_weight": join_weight}
    return Playlist([pool.tracks[k] for k in chosen], wps, start_mood, end_mood, settings, report)
