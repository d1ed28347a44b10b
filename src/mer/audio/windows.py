"""Where the analysis windows of a track lie: one rule for training and for inference.

:func:`window_spans` is the only definition. The window model is trained on the windows
it gives for each 4Q clip (:mod:`mer.study.windows`), timelines read the windows it gives
for a track (:mod:`mer.workflows.timeline`, which applies it to a stream whose length it
learns only at the end), and progress bars count them.
"""

from __future__ import annotations

import math

#: Tolerance in s of the comparisons of :func:`window_spans` (float steps of ``k * hop``).
EPS = 1e-9


def window_spans(duration: float, *, window: float, hop: float) -> list[tuple[float, float]]:
    """The (start, end) in s of the windows of a track of `duration` s.

    Windows of `window` s start every `hop` s while they fit. When the last of them does
    not end at the track's end, a window ending exactly at the end is needed: it *replaces*
    the last one when it would start less than ``hop / 2`` after it (a near-duplicate),
    and is added otherwise. A track no longer than one window is one window ``(0, duration)``.

    A 30.06-s clip, 10-s windows every 5 s: 0-10, 5-15, 10-20, 15-25, 20.06-30.06.

    Parameters
    ----------
    duration : float >= 0
    window : float > 0
    hop : float, 0 < hop <= window

    Returns
    -------
    list of (float, float)
        Starts strictly increasing; consecutive windows at most `hop` apart, at least
        ``hop / 2`` apart but for a lone pair of a track under ``window + hop / 2`` s.
    """
    if duration <= window + EPS:
        return [(0.0, float(duration))]
    n = int(math.floor((duration - window) / hop + EPS)) + 1
    starts = [k * hop for k in range(n)]
    if starts[-1] + window < duration - EPS:
        last = duration - window
        if last - starts[-1] < hop / 2:
            starts[-1] = last
        else:
            starts.append(last)
    return [(float(s), float(s) + window) for s in starts]


def settled(k: int, known_s: float, *, window: float, hop: float) -> bool:
    """Whether the `k`-th regular window (start ``k * hop``) is certainly in :func:`window_spans`
    of any track at least `known_s` s long: it fits, and the track goes on for at least
    ``hop / 2`` s after it, so no final window replaces it."""
    return known_s >= k * hop + window + hop / 2 - EPS
