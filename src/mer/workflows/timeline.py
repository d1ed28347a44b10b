"""Emotion over time: a trained model applied to overlapping windows of a whole track.

A track is decoded block by block (:func:`mer.audio.decode.stream`, one stream per sample
rate the model reads), so memory stays bounded by a window plus a decoded block however
long the track is. Each window of ``window`` seconds, every ``hop`` seconds, gets:

* the reliability facts and flags of :mod:`mer.audio.quality` (a ``silent`` window gets no
  quadrant, probabilities or valence / arousal, and smoothing and sections skip it);
* the model's quadrant probabilities from the window's own samples, computed exactly as
  :func:`mer.extraction.inputs.clip_inputs` computes a clip's inputs (one block per entry
  of the recipe model's ``inputs``, concatenated in that order); a window covering a whole
  30-s clip gives the probabilities of :func:`mer.workflows.predict.predict_files`;
* valence and arousal from the probabilities (:func:`mer.core.labels.valence_arousal`).

Smoothing (``smooth``) is applied to the probabilities of the non-silent windows in time
order, then renormalised to sum to 1: ``"median"`` (default) is a running median of each
quadrant's probability over ``smooth_width`` windows (3: a window and its two neighbours,
edges repeated), which removes one-window blips and keeps real changes sharp; ``"none"``
keeps the model's output. Every window keeps its raw probabilities too, and the settings
are in the result (``settings.smoothing``).

Each window *owns* the part of the track nearer to its centre than to its neighbours'
(the first from 0 s, the last to the end), so the owned spans tile the track whatever the
overlap. Sections are runs of consecutive non-silent windows with the same (smoothed)
quadrant, from the start of the first owned span to the end of the last; their valence
and arousal are means weighted by owned duration. The summary weights the same way.

The result's dictionary form (:meth:`Timeline.to_dict`, schema ``mer.timeline/1``) is
what ``mer timeline`` writes as JSON; its keys are listed in :data:`SCHEMA_KEYS`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from mer.audio import decode as audio
from mer.audio.quality import QualityConfig, facts_dict, flags, measure
from mer.core.errors import MerError
from mer.core.labels import QUADRANTS, valence_arousal
from mer.features.descriptors import DescriptorConfig, describe
from mer.features.embeddings import embed_signal
from mer.models.modelfile import TrainedModel

#: Version tag of :meth:`Timeline.to_dict`; bumped when a key changes meaning or goes away.
SCHEMA = "mer.timeline/1"

#: Smoothing methods :func:`timeline` accepts.
SMOOTHING = ("median", "none")

#: Length in seconds of the opening and closing parts the summary describes separately.
EDGE_SECONDS = 30.0

#: The documented keys of :meth:`Timeline.to_dict`, level by level.
SCHEMA_KEYS = {
    "top": ("schema", "model", "path", "duration_s", "settings", "windows", "sections", "summary"),
    "settings": ("window_s", "hop_s", "smoothing", "sr"),
    "window": ("start_s", "end_s", "quadrant", "probabilities", "raw_probabilities", "valence", "arousal",
               "flags", "quality"),
    "section": ("start_s", "end_s", "quadrant", "valence", "arousal"),
    "summary": ("duration_s", "analysed_s", "dominant_quadrant", "quadrant_share", "valence", "arousal",
                "steepest_change", "opening", "closing"),
    "trajectory": ("start", "end", "mean", "min", "max", "range"),
    "part": ("start_s", "end_s", "dominant_quadrant", "valence", "arousal"),
}


@dataclass
class Window:
    """One analysed window of a track.

    Attributes
    ----------
    start_s, end_s : float
        Seconds from the start of the track.
    quadrant : str or None
        The most probable quadrant after smoothing; None for a ``silent`` window.
    probabilities : dict of str -> float, or None
        After smoothing, summing to 1; None for a ``silent`` window.
    raw_probabilities : dict of str -> float, or None
        The model's output for this window alone.
    valence, arousal : float or None
        In [-1, 1], from the smoothed probabilities.
    flags : list of str
        :data:`mer.audio.quality.FLAGS` raised by the window's samples.
    quality : dict of str -> float
        The facts behind the flags (:data:`mer.audio.quality.FACTS`).
    """

    start_s: float
    end_s: float
    quadrant: str | None
    probabilities: dict[str, float] | None
    raw_probabilities: dict[str, float] | None
    valence: float | None
    arousal: float | None
    flags: list[str] = field(default_factory=list)
    quality: dict[str, float] = field(default_factory=dict)

    @property
    def silent(self) -> bool:
        return "silent" in self.flags


@dataclass
class Section:
    """A run of consecutive non-silent windows with one quadrant; times in s, means weighted by time."""

    start_s: float
    end_s: float
    quadrant: str
    valence: float
    arousal: float


@dataclass
class Timeline:
    """Emotion over one track (see the module docstring).

    Attributes
    ----------
    path : Path or None
        None for a signal passed in memory.
    model : str
        The model's name.
    duration_s : float
    window_s, hop_s : float
    smoothing : dict
        ``{"method": "median" | "none", "width": int}`` (width in windows).
    sr : int
        Rate the quality facts were measured at (Hz).
    windows : list of Window
        In time order: starts strictly increasing, the last one ending at ``duration_s``.
    sections : list of Section
    summary : dict
        See :func:`summarise`.
    """

    path: Path | None
    model: str
    duration_s: float
    window_s: float
    hop_s: float
    smoothing: dict
    sr: int
    windows: list[Window]
    sections: list[Section]
    summary: dict

    def to_dict(self) -> dict:
        """The JSON form, schema :data:`SCHEMA` (keys: :data:`SCHEMA_KEYS`)."""
        return {
            "schema": SCHEMA, "model": self.model, "path": None if self.path is None else str(self.path),
            "duration_s": round(self.duration_s, 4),
            "settings": {"window_s": self.window_s, "hop_s": self.hop_s, "smoothing": dict(self.smoothing),
                         "sr": self.sr},
            "windows": [_window_dict(w) for w in self.windows],
            "sections": [{"start_s": round(s.start_s, 4), "end_s": round(s.end_s, 4), "quadrant": s.quadrant,
                          "valence": round(s.valence, 4), "arousal": round(s.arousal, 4)} for s in self.sections],
            "summary": self.summary,
        }


def _rounded(d: dict | None) -> dict | None:
    return None if d is None else {k: round(float(v), 6) for k, v in d.items()}


def _window_dict(w: Window) -> dict:
    return {"start_s": round(w.start_s, 4), "end_s": round(w.end_s, 4), "quadrant": w.quadrant,
            "probabilities": _rounded(w.probabilities), "raw_probabilities": _rounded(w.raw_probabilities),
            "valence": None if w.valence is None else round(w.valence, 6),
            "arousal": None if w.arousal is None else round(w.arousal, 6),
            "flags": list(w.flags), "quality": dict(w.quality)}


# ---------------------------------------------------------------------------
# Windows of a stream
# ---------------------------------------------------------------------------


class _Buffer:
    """The samples of one stream from ``base`` on: filled block by block, dropped from the front."""

    def __init__(self, blocks: Iterable[np.ndarray], sr: int):
        self.blocks, self.sr = iter(blocks), sr
        self.base, self.data, self.done = 0, np.zeros(0, np.float32), False

    @property
    def end(self) -> int:
        return self.base + self.data.size

    def fill_to(self, n: int) -> None:
        while self.end < n and not self.done:
            block = next(self.blocks, None)
            if block is None:
                self.done = True
            else:
                self.data = np.concatenate([self.data, block])

    def take(self, t0: float, t1: float) -> np.ndarray:
        s0, s1 = round(t0 * self.sr), round(t1 * self.sr)
        return self.data[max(0, s0 - self.base): max(0, s1 - self.base)]

    def drop_before(self, t: float) -> None:
        k = round(t * self.sr) - self.base
        if k > 0:
            self.data, self.base = self.data[k:], self.base + k


def _windows(streams: dict[int, Iterable[np.ndarray]], primary: int, window: float, hop: float
             ) -> Iterator[tuple[float, float, dict[int, np.ndarray]]]:
    """``(start_s, end_s, {sr: samples})`` of every window, the streams read only as far as needed.

    Windows start every `hop` s while they fit; when the track does not end at a window's
    end, one more window of `window` s ends exactly at the end of the track (the `primary`
    stream's). A track shorter than one window is one window.
    """
    bufs = {sr: _Buffer(blocks, sr) for sr, blocks in streams.items()}
    main = bufs[primary]
    k, last_end = 0, 0.0
    while True:
        t0, t1 = k * hop, k * hop + window
        for b in bufs.values():
            b.fill_to(round(t1 * b.sr))
        if main.end >= round(t1 * primary):
            yield t0, t1, {sr: b.take(t0, t1) for sr, b in bufs.items()}
            for b in bufs.values():  # the window just given is the earliest a final window can reach back to
                b.drop_before(t0)
            k, last_end = k + 1, t1
            continue
        duration = main.end / primary
        if k == 0 or main.end > round(last_end * primary):  # compared in samples: no float rounding
            t0 = max(0.0, duration - window)
            yield t0, duration, {sr: b.take(t0, duration + 1.0) for sr, b in bufs.items()}
        return


def _signal_streams(y: np.ndarray, sr: int, rates: Iterable[int]) -> dict[int, list[np.ndarray]]:
    import soxr

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or not y.size:
        raise MerError(f"a signal must be mono and non-empty, got shape {y.shape}")
    return {r: [y if r == sr else soxr.resample(y, sr, r, quality="HQ").astype(np.float32)] for r in rates}


# ---------------------------------------------------------------------------
# The model on one window
# ---------------------------------------------------------------------------


def window_inputs(model: TrainedModel, signals: dict[int, np.ndarray]) -> np.ndarray:
    """The recipe model's input row for one window, as :func:`mer.extraction.inputs.clip_inputs` builds it.

    Parameters
    ----------
    model : TrainedModel
        A recipe model (``model.inputs`` lists its blocks).
    signals : dict of int -> np.ndarray
        The window's mono samples at each rate a block reads (``config.sr`` Hz).

    Returns
    -------
    np.ndarray, shape (1, n_columns), float32
    """
    parts = []
    for _, config in model.inputs:
        fn = describe if isinstance(config, DescriptorConfig) else embed_signal
        parts.append(fn(signals[config.sr], config))
    return np.concatenate(parts).astype(np.float32)[None, :]


def _analyse(model: TrainedModel, t0: float, t1: float, signals: dict[int, np.ndarray],
             qconfig: QualityConfig) -> Window:
    facts = facts_dict(measure(signals[qconfig.sr], qconfig))
    fl = flags(facts, qconfig)
    if "silent" in fl:
        return Window(t0, t1, None, None, None, None, None, fl, facts)
    p = model.predict_proba(window_inputs(model, signals))[0]
    probs = {lab: float(v) for lab, v in zip(model.labels, p)}
    return Window(t0, t1, None, None, probs, None, None, fl, facts)


def smooth_probabilities(P: np.ndarray, *, method: str = "median", width: int = 3) -> np.ndarray:
    """Smoothed probabilities of consecutive windows (see the module docstring).

    Parameters
    ----------
    P : np.ndarray, shape (n_windows, n_labels)
        Rows sum to 1, in time order.
    method : ``"median"`` or ``"none"``
    width : int >= 1
        Windows in the running median (odd; an even width is taken as the next odd one).

    Returns
    -------
    np.ndarray, shape (n_windows, n_labels)
        Rows renormalised to sum to 1.
    """
    from scipy.ndimage import median_filter

    P = np.asarray(P, dtype=np.float64)
    if method == "none" or len(P) < 2 or width <= 1:
        return P.copy()
    if method != "median":
        raise MerError(f"unknown smoothing '{method}' (use {', '.join(SMOOTHING)})")
    S = median_filter(P, size=(width | 1, 1), mode="nearest")
    total = S.sum(axis=1, keepdims=True)
    # a median of each column can sum to 0 only where every column's median is 0: keep the raw row then
    return np.where(total > 0, S / np.where(total > 0, total, 1.0), P)


def _apply_smoothing(windows: list[Window], labels: tuple[str, ...], method: str, width: int) -> None:
    live = [w for w in windows if not w.silent]
    if not live:
        return
    P = np.array([[w.raw_probabilities[lab] for lab in labels] for w in live])
    for w, row in zip(live, smooth_probabilities(P, method=method, width=width)):
        w.probabilities = {lab: float(v) for lab, v in zip(labels, row)}
        w.quadrant = labels[int(np.argmax(row))]
        w.valence, w.arousal = valence_arousal(w.probabilities)


# ---------------------------------------------------------------------------
# Sections and summary
# ---------------------------------------------------------------------------


def owned_spans(windows: list[Window], duration: float) -> list[tuple[float, float]]:
    """The part of the track each window owns: nearer its centre than any other's, in s (tiles [0, duration])."""
    centres = [(w.start_s + w.end_s) / 2 for w in windows]
    cuts = [0.0] + [(a + b) / 2 for a, b in itertools.pairwise(centres)] + [duration]
    return list(itertools.pairwise(cuts))


def sections(windows: list[Window], duration: float) -> list[Section]:
    """Runs of consecutive non-silent windows with one quadrant (a silent window ends a run)."""
    out: list[Section] = []
    run: list[tuple[Window, tuple[float, float]]] = []

    def close() -> None:
        if run:
            w = np.array([b - a for _, (a, b) in run])
            w = w / w.sum() if w.sum() > 0 else np.full(len(run), 1.0 / len(run))
            out.append(Section(run[0][1][0], run[-1][1][1], run[0][0].quadrant,
                               float(np.dot(w, [x.valence for x, _ in run])),
                               float(np.dot(w, [x.arousal for x, _ in run]))))
            run.clear()

    for win, span in zip(windows, owned_spans(windows, duration)):
        if win.silent or (run and run[-1][0].quadrant != win.quadrant):
            close()
        if not win.silent:
            run.append((win, span))
    close()
    return out


def _part(windows: list[Window], spans, t0: float, t1: float) -> dict:
    """Dominant quadrant and mean valence / arousal of [t0, t1], windows weighted by owned overlap."""
    weights, va, share = [], [], dict.fromkeys(QUADRANTS, 0.0)
    for w, (a, b) in zip(windows, spans):
        overlap = max(0.0, min(b, t1) - max(a, t0))
        if overlap > 0 and not w.silent:
            weights.append(overlap)
            va.append((w.valence, w.arousal))
            share[w.quadrant] = share.get(w.quadrant, 0.0) + overlap
    if not weights:
        return {"start_s": round(t0, 4), "end_s": round(t1, 4), "dominant_quadrant": None, "valence": None,
                "arousal": None}
    v, a = np.average(np.array(va), axis=0, weights=weights)
    return {"start_s": round(t0, 4), "end_s": round(t1, 4), "dominant_quadrant": max(share, key=share.get),
            "valence": round(float(v), 4), "arousal": round(float(a), 4)}


def _trajectory(values: np.ndarray, weights: np.ndarray) -> dict:
    return {"start": round(float(values[0]), 4), "end": round(float(values[-1]), 4),
            "mean": round(float(np.average(values, weights=weights)), 4) if weights.sum() > 0 else None,
            "min": round(float(values.min()), 4), "max": round(float(values.max()), 4),
            "range": round(float(values.max() - values.min()), 4)}


def _steepest(live: list[Window]) -> dict | None:
    """The largest step on the valence / arousal plane between consecutive non-silent windows."""
    if len(live) < 2:
        return None
    steps = [float(np.hypot(b.valence - a.valence, b.arousal - a.arousal)) for a, b in itertools.pairwise(live)]
    i = int(np.argmax(steps))
    a, b = live[i], live[i + 1]
    return {"time_s": round(((a.start_s + a.end_s) / 2 + (b.start_s + b.end_s) / 2) / 2, 4),
            "from_quadrant": a.quadrant, "to_quadrant": b.quadrant,
            "delta_valence": round(b.valence - a.valence, 4), "delta_arousal": round(b.arousal - a.arousal, 4),
            "magnitude": round(steps[i], 4)}


def summarise(windows: list[Window], secs: list[Section], duration: float, *,
              edge_seconds: float = EDGE_SECONDS) -> dict:
    """The per-track summary (keys :data:`SCHEMA_KEYS` ``["summary"]``).

    ``analysed_s`` is the time in sections (not silent); ``quadrant_share`` the share of it
    in each quadrant (sums to 1, all 0 when everything is silent); ``valence`` and
    ``arousal`` their trajectory (first and last non-silent window, time-weighted mean,
    min, max, range); ``steepest_change`` the largest valence / arousal step between
    consecutive non-silent windows (time at the boundary of their owned spans);
    ``opening`` and ``closing`` the first and last `edge_seconds`.
    """
    spans = owned_spans(windows, duration)
    analysed = sum(s.end_s - s.start_s for s in secs)
    share = dict.fromkeys(QUADRANTS, 0.0)
    for s in secs:
        share[s.quadrant] = share.get(s.quadrant, 0.0) + (s.end_s - s.start_s)
    if analysed > 0:
        share = {q: v / analysed for q, v in share.items()}
    live = [(w, b - a) for w, (a, b) in zip(windows, spans) if not w.silent]
    traj = {"valence": None, "arousal": None}
    if live:
        weights = np.array([d for _, d in live])
        for key in traj:
            traj[key] = _trajectory(np.array([getattr(w, key) for w, _ in live]), weights)
    edge = min(edge_seconds, duration)
    return {"duration_s": round(duration, 4), "analysed_s": round(analysed, 4),
            "dominant_quadrant": max(share, key=share.get) if analysed > 0 else None,
            "quadrant_share": {q: round(v, 6) for q, v in share.items()}, **traj,
            "steepest_change": _steepest([w for w, _ in live]),
            "opening": _part(windows, spans, 0.0, edge), "closing": _part(windows, spans, duration - edge, duration)}


# ---------------------------------------------------------------------------
# The workflow
# ---------------------------------------------------------------------------


def _check(model: TrainedModel, window: float, hop: float, smooth: str, smooth_width: int) -> None:
    if model.kind != "recipe" or not model.inputs:
        raise MerError(f"timelines need a model reading per-clip inputs (a recipe model); {model.name} is a "
                       f"{model.kind} model")
    if not window > 0:
        raise MerError(f"window must be > 0 s, got {window}")
    if not 0 < hop <= window:
        raise MerError(f"hop must be > 0 s and at most the window ({window} s), got {hop}")
    if smooth not in SMOOTHING:
        raise MerError(f"unknown smoothing '{smooth}' (use {', '.join(SMOOTHING)})")
    if smooth_width < 1:
        raise MerError(f"smoothing width must be at least 1 window, got {smooth_width}")


def timeline(source: str | PathLike | np.ndarray, *, model: TrainedModel, sr: int | None = None,
             window: float = 10.0, hop: float = 5.0, smooth: str = "median", smooth_width: int = 3,
             progress: Callable[[int], None] | None = None) -> Timeline:
    """Emotion over a whole track, window by window, in bounded memory.

    Parameters
    ----------
    source : path or np.ndarray of shape (n_samples,)
        An audio file (any format :func:`mer.audio.decode.load` reads), or a mono signal
        at `sr` Hz.
    model : TrainedModel
        A recipe model (:func:`mer.workflows.predict.load_model`, the shipped one by default).
    sr : int, optional
        Sample rate of a signal `source`, in Hz (required for a signal, ignored for a file).
    window : float > 0
        Window length in s (default 10).
    hop : float, 0 < hop <= window
        Seconds between window starts (default 5: windows overlap by half).
    smooth : ``"median"`` or ``"none"``
    smooth_width : int >= 1
        Windows in the running median.
    progress : callable, optional
        Called with 1 after each window.

    Returns
    -------
    Timeline

    Raises
    ------
    MerError
        A bad file (naming it), a bad setting, or a model that does not read per-clip inputs.
    """
    _check(model, window, hop, smooth, smooth_width)
    qconfig = QualityConfig(sr=model.feature_config.sr)
    rates = sorted({qconfig.sr} | {config.sr for _, config in model.inputs})
    path = None
    if isinstance(source, np.ndarray):
        if sr is None:
            raise MerError("a signal needs its sample rate (sr=...)")
        streams = _signal_streams(source, sr, rates)
    else:
        path = Path(source)
        streams = {r: audio.stream(path, sr=r) for r in rates}
    windows: list[Window] = []
    try:
        for t0, t1, signals in _windows(streams, qconfig.sr, window, hop):
            windows.append(_analyse(model, t0, t1, signals, qconfig))
            if progress is not None:
                progress(1)
    except MerError as exc:
        raise exc.with_path(path) if path is not None else exc from None
    duration = windows[-1].end_s
    _apply_smoothing(windows, model.labels, smooth, smooth_width)
    secs = sections(windows, duration)
    return Timeline(path, model.name, duration, float(window), float(hop),
                    {"method": smooth, "width": smooth_width if smooth != "none" else 1}, qconfig.sr, windows, secs,
                    summarise(windows, secs, duration))


def expected_windows(duration: float, *, window: float = 10.0, hop: float = 5.0) -> int:
    """How many windows :func:`timeline` makes of `duration` s (for progress bars; from a file header)."""
    if duration <= window:
        return 1
    n = int(np.floor((duration - window) / hop + 1e-9)) + 1
    return n + (1 if (n - 1) * hop + window < duration else 0)
