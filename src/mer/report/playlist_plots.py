"""Picture of a mood playlist (the ``mer.playlist/1`` dictionary of :mod:`mer.library.playlist`).

One panel, the valence / arousal circumplex: the requested path (waypoints, dashed grey),
the tracks in order (numbered dots in their quadrant's colour, arrows from each to the
next; a step over the playlist's max_step drawn in red), the requested start and end
moods (open circle and star), and, where the tracks have them, a short line from each
track's closing to the next track's opening. Takes the dictionary, not the library's
objects, so that a playlist read back from JSON can be drawn again. PNG, SVG or PDF by
extension, written atomically (:func:`mer.report.plots.save_figure`).
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from mer.report.plots import _figure, save_figure
from mer.report.timeline_plots import QUADRANT_COLOURS

_OVER_COLOUR = "#c0392b"


def _frame(ax) -> None:
    import matplotlib.patches as mpatches

    ax.add_patch(mpatches.Circle((0, 0), 1.0, fill=False, color="grey", lw=0.5))
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    for q, (x, y) in {"Q1": (0.78, 0.92), "Q2": (-0.95, 0.92), "Q3": (-0.95, -0.98), "Q4": (0.78, -0.98)}.items():
        ax.text(x, y, q, color=QUADRANT_COLOURS[q], fontsize=10, weight="bold")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("valence")
    ax.set_ylabel("arousal")


def _tracks(ax, rows: list[dict], over: set[int]) -> bool:
    """Draw the tracks and arrows; True when some join (closing -> next opening) was drawn."""
    joins = False
    v = np.array([r["valence"] for r in rows], dtype=float)
    a = np.array([r["arousal"] for r in rows], dtype=float)
    for i in range(len(rows) - 1):
        bad = i in over
        ax.annotate("", xy=(v[i + 1], a[i + 1]), xytext=(v[i], a[i]),
                    arrowprops={"arrowstyle": "->", "color": _OVER_COLOUR if bad else "black",
                                "lw": 1.6 if bad else 1.0, "ls": "--" if bad else "-"})
        closing, opening = rows[i].get("closing"), rows[i + 1].get("opening")
        if closing and opening and closing.get("valence") is not None and opening.get("valence") is not None:
            ax.plot([closing["valence"], opening["valence"]], [closing["arousal"], opening["arousal"]],
                    ":", color="dimgray", lw=0.8)
            joins = True
    for i, r in enumerate(rows):
        ax.plot(v[i], a[i], "o", ms=9, color=QUADRANT_COLOURS.get(r.get("quadrant"), "grey"), mec="black", mew=0.5)
        ax.text(v[i], a[i], str(r.get("position", i + 1)), fontsize=6, ha="center", va="center")
    return joins


def plot_playlist(pl: dict, path: str | PathLike, *, title: str | None = None) -> None:
    """Draw a playlist (``Playlist.to_dict()``, schema ``mer.playlist/1``) to `path`, atomically.

    Parameters
    ----------
    pl : dict
        Needs ``waypoints``, ``tracks`` (``valence``, ``arousal``, ``quadrant``, optional
        ``opening`` / ``closing``), ``start``, ``end``, ``settings`` and ``report``
        (``over_max_step``).
    path : path
        PNG, SVG or PDF by extension.
    title : str, optional
        Default: the moods, the easing and the report's mean and largest step.
    """
    _plt, fig = _figure(figsize=(6.4, 6.4))
    ax = fig.subplots()
    _frame(ax)
    wp = np.array([[w["valence"], w["arousal"]] for w in pl["waypoints"]], dtype=float).reshape(-1, 2)
    ax.plot(wp[:, 0], wp[:, 1], "--", color="grey", lw=1, marker=".", ms=4, label="requested path")
    over = {o["from"] for o in pl["report"].get("over_max_step", [])}
    joins = _tracks(ax, pl["tracks"], over)
    ax.plot(pl["start"]["valence"], pl["start"]["arousal"], "o", mfc="none", mec="black", ms=14, mew=1.5,
            label=f"start: {pl['start']['text']}")
    ax.plot(pl["end"]["valence"], pl["end"]["arousal"], "*", color="black", ms=14, label=f"end: {pl['end']['text']}")
    if over:
        ax.plot([], [], "--", color=_OVER_COLOUR, label="step over max-step")
    if joins:
        ax.plot([], [], ":", color="dimgray", label="closing -> next opening")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2)
    r = pl["report"]
    default = (f"{pl['start']['text']} -> {pl['end']['text']}, {pl['settings']['easing']}, "
               f"{len(pl['tracks'])} tracks; steps mean {_num(r.get('mean_step'))}, "
               f"largest {_num(r.get('largest_step'))}")
    ax.set_title(title or default, fontsize=9)
    save_figure(fig, path)


def _num(x) -> str:
    return "-" if x is None else f"{x:.2f}"
