"""Pictures of an emotion timeline (the ``mer.timeline/1`` dictionary of :mod:`mer.workflows.timeline`).

One figure, two panels: left, valence and arousal over time with each section's span
shaded in its quadrant's colour (silent stretches left white); right, the path of the
windows on the valence / arousal circumplex, arrows from each window to the next, the
start and end marked. Written as PNG and SVG (by extension) with :func:`mer.report.plots.save_figure`
(atomic). Takes the dictionary, not the workflow's objects, so that a timeline read back
from JSON can be drawn again.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from mer.report.plots import _figure, save_figure

#: Quadrant colours: Q1 happy (yellow), Q2 tense (red), Q3 sad (blue), Q4 calm (green).
QUADRANT_COLOURS = {"Q1": "#f2c12e", "Q2": "#d64541", "Q3": "#3a6ea5", "Q4": "#4caf50"}


def _time_panel(ax, tl: dict, live: list[dict]) -> None:
    for s in tl["sections"]:
        ax.axvspan(s["start_s"], s["end_s"], color=QUADRANT_COLOURS.get(s["quadrant"], "grey"), alpha=0.25, lw=0)
    centres = [(w["start_s"] + w["end_s"]) / 2 for w in live]
    ax.plot(centres, [w["valence"] for w in live], "-o", ms=3, color="black", label="valence")
    ax.plot(centres, [w["arousal"] for w in live], "--s", ms=3, color="dimgray", label="arousal")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlim(0, max(tl["duration_s"], 1e-3))
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("valence / arousal")
    handles, _labels = ax.get_legend_handles_labels()
    import matplotlib.patches as mpatches

    handles += [mpatches.Patch(color=c, alpha=0.4, label=q) for q, c in QUADRANT_COLOURS.items()]
    # below the axes: valence and arousal use the whole [-1, 1] range, a legend inside hides them
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=6, frameon=False)
    smoothing = tl["settings"]["smoothing"]
    detail = {"none": "", "median": f" ({smoothing['width']} windows)",
              "hmm": f" (switch {smoothing.get('switch_prob', 0):g}, median {smoothing['width']})"}
    ax.set_title(f"windows of {tl['settings']['window_s']:g} s every {tl['settings']['hop_s']:g} s, "
                 f"smoothing {smoothing['method']}{detail.get(smoothing['method'], '')}", fontsize=9)


def _circumplex_panel(ax, live: list[dict]) -> None:
    ax.add_patch(_circle())
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    for q, (x, y) in {"Q1": (0.7, 0.9), "Q2": (-0.9, 0.9), "Q3": (-0.9, -0.95), "Q4": (0.7, -0.95)}.items():
        ax.text(x, y, q, color=QUADRANT_COLOURS[q], fontsize=10, weight="bold")
    v = np.array([w["valence"] for w in live])
    a = np.array([w["arousal"] for w in live])
    for i in range(len(live) - 1):
        ax.annotate("", xy=(v[i + 1], a[i + 1]), xytext=(v[i], a[i]),
                    arrowprops={"arrowstyle": "->", "color": QUADRANT_COLOURS.get(live[i + 1]["quadrant"], "grey"),
                                "lw": 1.2})
    if len(live):
        ax.plot(v[0], a[0], "o", color="black", ms=7, label="start")
        ax.plot(v[-1], a[-1], "X", color="black", ms=8, label="end")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("valence")
    ax.set_ylabel("arousal")
    ax.set_title("path on the circumplex", fontsize=9)


def _circle():
    import matplotlib.patches as mpatches

    return mpatches.Circle((0, 0), 1.0, fill=False, color="grey", lw=0.5)


def plot_timeline(tl: dict, path: str | PathLike, *, title: str | None = None) -> None:
    """Draw a timeline (``Timeline.to_dict()``) to `path` (PNG, SVG or PDF by extension), atomically.

    Parameters
    ----------
    tl : dict
        Schema ``mer.timeline/1``; windows without valence (silent) are left out of both panels.
    path : path
    title : str, optional
        Default: the file's name and the model's.
    """
    live = [w for w in tl["windows"] if w["valence"] is not None]
    _plt, fig = _figure(figsize=(12, 4.6))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
    _time_panel(left, tl, live)
    _circumplex_panel(right, live)
    name = tl["path"].rsplit("/", 1)[-1] if tl.get("path") else "signal"
    fig.suptitle(title or f"{name}: {tl['model']}", fontsize=11)
    save_figure(fig, path)
