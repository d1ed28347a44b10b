"""Emotion over time: a trained model applied to overlapping windows of a whole track.

A track is decoded block by block (:func:`mer.audio.decode.stream`), once per sample rate
the model reads, so memory stays bounded however long the track is. The expensive work is
shared by overlapping windows: a first pass over the 16-kHz stream computes the musicnn
outputs of every 3-s patch of the track once, for both models of the recipe's inputs
(:func:`mer.features.patch_stream.stream_patch_outputs`, one log-mel per patch for both);
a second pass over the descriptor rate cuts the windows. Each window of ``window``
seconds, every ``hop`` seconds, gets:

* the reliability facts and flags of :mod:`mer.audio.quality` (a ``silent`` window gets no
  quadrant, probabilities or valence / arousal, and smoothing and sections skip it);
* the model's quadrant probabilities from its input row (:func:`window_inputs`, the blocks
  of the recipe model's ``inputs`` in order): the window's own descriptors, and for each
  musicnn block the mean and std of the patches whose centre lies in the window (3 or 4
  patches in 10 s). A window covering a whole 30-s clip pools all its patches and gives
  the probabilities of :func:`mer.workflows.predict.predict_files` (within 1e-4);
* valence and arousal from the model's valence / arousal head when it has one (the shipped
  window model does: :class:`mer.models.affect.AffectHead`, a blend of a ridge regression of
  the window's input row and the probability differences, fitted on its training windows,
  each with its clip's tag-derived targets; see its card's ``affect``), else from the
  probabilities (:func:`mer.core.labels.valence_arousal`). Smoothing applies to them as to
  the probabilities: the head's regression gets the same running median.

The default model is the shipped *window model* (``mer/resources/window.mer``,
:func:`load_timeline_model`): the clip model's recipe trained on 10-s windows every 5 s
of the 4q-dev clips (and rendered EMOPIA piano), a window inheriting its clip's label.

Smoothing (``smooth``) is applied to the probabilities of the non-silent windows in time
order; each row sums to 1 after it. ``"hmm"`` (default) gives each window the quadrant
most probable under the posterior of a hidden quadrant that changes between consecutive
windows with probability ``switch_prob``, the windows' probabilities taken as likelihoods
(forward-backward); its reported probabilities, valence and arousal are the running
median. ``"median"`` is a running median of each quadrant's probability over
``smooth_width`` windows, renormalised, quadrant its argmax; ``"none"`` keeps the model's
output. Every window keeps its raw probabilities too, and the settings are in the result
(``settings.smoothing``).

How the window model and the defaults (10-s windows, 2-s hop, HMM with p = 0.05) were
measured, on held-out medleys: the documentation's "Timeline settings" study page
(``docs/studies/timeline.md``).

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
from mer.features.embeddings import EmbeddingConfig, embed_signal
from mer.features.patch_stream import PatchOutputs, stream_patch_outputs
from mer.models.modelfile import TrainedModel

#: Version tag of :meth:`Timeline.to_dict`; bumped when a key changes meaning or goes away.
SCHEMA = "mer.timeline/1"

#: Smoothing methods :func:`timeline` accepts.
SMOOTHING = ("median", "hmm", "none")

#: Defaults of :func:`timeline` and ``mer timeline`` (chosen on held-out medleys, see the module docstring).
DEFAULT_WINDOW = 10.0
DEFAULT_HOP = 2.0
DEFAULT_SMOOTH = "hmm"
DEFAULT_WIDTH = 3
DEFAULT_SWITCH_PROB = 0.05

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
        In [-1, 1], from the smoothed probabilities (and the smoothed regression of the
        model's valence / arousal head, when it has one).
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
    #: The head's raw (unsmoothed) linear columns (:meth:`mer.models.affect.AffectHead.regress`),
    #: when the model has a head; not part of the JSON form.
    raw_affect: tuple[float, ...] | None = field(default=None, repr=False)

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


def window_inputs(model: TrainedModel, signals: dict[int, np.ndarray], *, shared: PatchOutputs | None = None,
                  span: tuple[float, float] | None = None) -> np.ndarray:
    """The recipe model's input row for one window, as :func:`mer.extraction.inputs.clip_inputs` builds it.

    Parameters
    ----------
    model : TrainedModel
        A recipe model (``model.inputs`` lists its blocks).
    signals : dict of int -> np.ndarray
        The window's mono samples at each rate a block reads (``config.sr`` Hz).
    shared : PatchOutputs, optional
        The track's musicnn patch outputs (:func:`mer.features.patch_stream.stream_patch_outputs`):
        embedding blocks pool the patches centred in `span` instead of embedding the
        window's samples again (needed then: the 16-kHz signal is not).
    span : (float, float), optional
        The window's start and end in s, with `shared`.

    Returns
    -------
    np.ndarray, shape (1, n_columns), float32
    """
    parts = []
    for _, config in model.inputs:
        if isinstance(config, DescriptorConfig):
            parts.append(describe(signals[config.sr], config))
        elif shared is not None:
            parts.append(shared.embedding(config, *span))
        else:
            parts.append(embed_signal(signals[config.sr], config))
    return np.concatenate(parts).astype(np.float32)[None, :]


def _analyse(model: TrainedModel, t0: float, t1: float, signals: dict[int, np.ndarray],
             qconfig: QualityConfig, shared: PatchOutputs | None) -> Window:
    facts = facts_dict(measure(signals[qconfig.sr], qconfig))
    fl = flags(facts, qconfig)
    if "silent" in fl:
        return Window(t0, t1, None, None, None, None, None, fl, facts)
    row = window_inputs(model, signals, shared=shared, span=(t0, t1))
    p = model.predict_proba(row)[0]
    probs = {lab: float(v) for lab, v in zip(model.labels, p)}
    reg = model.affect_regression(row)
    return Window(t0, t1, None, None, probs, None, None, fl, facts,
                  raw_affect=None if reg is None else tuple(float(x) for x in reg[0]))


def smooth_probabilities(P: np.ndarray, *, method: str = "median", width: int = 3,
                         switch_prob: float = 0.1) -> np.ndarray:
    """Smoothed probabilities of consecutive windows (see the module docstring).

    Parameters
    ----------
    P : np.ndarray, shape (n_windows, n_labels)
        Rows sum to 1, in time order.
    method : ``"median"``, ``"hmm"`` or ``"none"``
        ``"median"``: running median of each column over `width` windows, renormalised.
        ``"hmm"``: posterior marginals (forward-backward) of a hidden quadrant that changes
        from one window to the next with probability `switch_prob` (to any other label
        alike), the rows of `P` taken as scaled likelihoods.
    width : int >= 1
        Windows in the running median (odd; an even width is taken as the next odd one).
    switch_prob : float in (0, 1)
        For ``"hmm"``: the probability of a change between consecutive windows.

    Returns
    -------
    np.ndarray, shape (n_windows, n_labels)
        Rows renormalised to sum to 1.
    """
    P = np.asarray(P, dtype=np.float64)
    if method not in SMOOTHING:
        raise MerError(f"unknown smoothing '{method}' (use {', '.join(SMOOTHING)})")
    if method == "none" or len(P) < 2 or (method == "median" and width <= 1):
        return P.copy()
    if method == "hmm":
        return _forward_backward(P, switch_prob)
    S = _running_median(P, method, width)
    total = S.sum(axis=1, keepdims=True)
    # a median of each column can sum to 0 only where every column's median is 0: keep the raw row then
    return np.where(total > 0, S / np.where(total > 0, total, 1.0), P)


def _forward_backward(P: np.ndarray, switch_prob: float) -> np.ndarray:
    """Posterior marginals of a sticky hidden label given per-window probabilities, shape as `P`."""
    if not 0 < switch_prob < 1:
        raise MerError(f"switch probability must be in (0, 1), got {switch_prob}")
    n, k = P.shape
    T = np.full((k, k), switch_prob / (k - 1))
    np.fill_diagonal(T, 1.0 - switch_prob)
    E = np.clip(P, 1e-9, None)
    alpha, beta = np.empty_like(E), np.ones_like(E)
    alpha[0] = E[0] / E[0].sum()
    for t in range(1, n):  # normalised at every step: no underflow on long tracks
        a = (alpha[t - 1] @ T) * E[t]
        alpha[t] = a / a.sum()
    for t in range(n - 2, -1, -1):
        b = T @ (E[t + 1] * beta[t + 1])
        beta[t] = b / b.sum()
    post = alpha * beta
    return post / post.sum(axis=1, keepdims=True)


def apply_smoothing(windows: list[Window], labels: tuple[str, ...], *, method: str = "median", width: int = 3,
                    switch_prob: float = 0.1, affect=None) -> None:
    """Set each non-silent window's smoothed probabilities, quadrant, valence and arousal from its raw ones.

    With ``"hmm"`` the quadrant is the argmax of the HMM posterior, while the probabilities
    (and so valence and arousal) are the running median of `width` windows: posteriors of a
    sticky chain are nearly one-hot after a few windows, which would pin valence and arousal
    to the quadrants' corners.

    `affect`, the model's valence / arousal head (:class:`mer.models.affect.AffectHead`):
    valence and arousal are then its blend of the windows' ``raw_affect`` regression, given
    the same running median as the probabilities, and the smoothed probabilities.
    """
    live = [w for w in windows if not w.silent]
    if not live:
        return
    P = np.array([[w.raw_probabilities[lab] for lab in labels] for w in live])
    S = smooth_probabilities(P, method="median" if method == "hmm" else method, width=width)
    Q = smooth_probabilities(P, method="hmm", switch_prob=switch_prob) if method == "hmm" else S
    if affect is None:
        VA = [valence_arousal(dict(zip(labels, row))) for row in S]
    else:
        if any(w.raw_affect is None for w in live):
            raise MerError("windows without the head's regression (raw_affect) cannot be smoothed with a head")
        VA = affect.combine(_running_median(np.array([w.raw_affect for w in live]), method, width), S, labels)
    for w, row, q, (v, a) in zip(live, S, Q, VA):
        w.probabilities = {lab: float(x) for lab, x in zip(labels, row)}
        w.quadrant = labels[int(np.argmax(q))]
        w.valence, w.arousal = float(v), float(a)


def _running_median(R: np.ndarray, method: str, width: int) -> np.ndarray:
    """The running median of each column of `R` (n_windows, n) over `width` windows, as the probabilities get."""
    from scipy.ndimage import median_filter

    if method == "none" or len(R) < 2 or width <= 1:
        return R.copy()
    return median_filter(R, size=(width | 1, 1), mode="nearest")


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


def _check(model: TrainedModel, window: float, hop: float, smooth: str, smooth_width: int,
           switch_prob: float) -> None:
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
    if not 0 < switch_prob < 1:
        raise MerError(f"switch probability must be in (0, 1), got {switch_prob}")


def timeline_model_path() -> Path:
    """The model timelines use by default: ``mer/resources/window.mer`` (trained on 10-s windows)."""
    from mer.models.modelfile import default_model_path

    return default_model_path().with_name("window.mer")


def load_timeline_model(path: str | PathLike | None = None) -> TrainedModel:
    """A model file, or the shipped window model (the shipped clip model where that one is missing)."""
    from mer.workflows.predict import load_model

    if path is None and timeline_model_path().is_file():
        path = timeline_model_path()
    return load_model(path)


def _smoothing_settings(smooth: str, smooth_width: int, switch_prob: float) -> dict:
    """What the result states about its smoothing (``settings.smoothing``)."""
    if smooth == "hmm":  # the width is the running median of the probabilities reported beside the HMM quadrant
        return {"method": "hmm", "width": smooth_width, "switch_prob": switch_prob}
    return {"method": smooth, "width": smooth_width if smooth != "none" else 1}


def _streams(source, sr: int | None, rates: Iterable[int]) -> dict[int, Iterable[np.ndarray]]:
    """One block stream per rate: decoded from the file, or the signal resampled."""
    if isinstance(source, np.ndarray):
        if sr is None:
            raise MerError("a signal needs its sample rate (sr=...)")
        return _signal_streams(source, sr, rates)
    return {r: audio.stream(Path(source), sr=r) for r in rates}


def _analyse_all(model: TrainedModel, source, sr: int | None, qconfig: QualityConfig, window: float,
                 hop: float, progress: Callable[[int], None] | None) -> list[Window]:
    """Every window of the track, unsmoothed: musicnn patches once (a 16-kHz pass), then the windows."""
    shared_configs = [c for _, c in model.inputs if isinstance(c, EmbeddingConfig)]
    shared = None
    if shared_configs:
        (blocks,) = _streams(source, sr, [shared_configs[0].sr]).values()
        shared = stream_patch_outputs(blocks, shared_configs)
    rates = sorted({qconfig.sr} | {c.sr for _, c in model.inputs if not isinstance(c, EmbeddingConfig)})
    windows: list[Window] = []
    for t0, t1, signals in _windows(_streams(source, sr, rates), qconfig.sr, window, hop):
        windows.append(_analyse(model, t0, t1, signals, qconfig, shared))
        if progress is not None:
            progress(1)
    return windows


def timeline(source: str | PathLike | np.ndarray, *, model: TrainedModel | None = None, sr: int | None = None,
             window: float = DEFAULT_WINDOW, hop: float = DEFAULT_HOP, smooth: str = DEFAULT_SMOOTH,
             smooth_width: int = DEFAULT_WIDTH, switch_prob: float = DEFAULT_SWITCH_PROB,
             progress: Callable[[int], None] | None = None) -> Timeline:
    """Emotion over a whole track, window by window, in bounded memory.

    Parameters
    ----------
    source : path or np.ndarray of shape (n_samples,)
        An audio file (any format :func:`mer.audio.decode.load` reads), or a mono signal
        at `sr` Hz.
    model : TrainedModel, optional
        A recipe model; default :func:`load_timeline_model` (the shipped window model).
    sr : int, optional
        Sample rate of a signal `source`, in Hz (required for a signal, ignored for a file).
    window : float > 0
        Window length in s (:data:`DEFAULT_WINDOW`; the window model was trained on 10-s windows).
    hop : float, 0 < hop <= window
        Seconds between window starts (:data:`DEFAULT_HOP`).
    smooth : ``"median"``, ``"hmm"`` or ``"none"``
        See :func:`smooth_probabilities` (:data:`DEFAULT_SMOOTH`).
    smooth_width : int >= 1
        Windows in the running median (:data:`DEFAULT_WIDTH`).
    switch_prob : float in (0, 1)
        For ``"hmm"``: probability of a change between consecutive windows (:data:`DEFAULT_SWITCH_PROB`).
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
    model = model if model is not None else load_timeline_model()
    _check(model, window, hop, smooth, smooth_width, switch_prob)
    qconfig = QualityConfig(sr=model.feature_config.sr)
    path = None if isinstance(source, np.ndarray) else Path(source)
    try:
        windows = _analyse_all(model, source, sr, qconfig, window, hop, progress)
    except MerError as exc:
        raise exc.with_path(path) if path is not None else exc from None
    duration = windows[-1].end_s
    apply_smoothing(windows, model.labels, method=smooth, width=smooth_width, switch_prob=switch_prob,
                    affect=model.affect)
    secs = sections(windows, duration)
    return Timeline(path, model.name, duration, float(window), float(hop),
                    _smoothing_settings(smooth, smooth_width, switch_prob), qconfig.sr, windows, secs,
                    summarise(windows, secs, duration))


def window_spans(duration: float, *, window: float = 10.0, hop: float = 5.0) -> list[tuple[float, float]]:
    """The (start, end) in s of the windows :func:`timeline` makes of `duration` s (for in-memory signals).

    Windows every `hop` s while they fit, then one ending at the end when the last does
    not (compared to 1e-9 s here, to the sample in :func:`timeline`).
    """
    if duration <= window:
        return [(0.0, float(duration))]
    n = int(np.floor((duration - window) / hop + 1e-9)) + 1
    spans = [(k * hop, k * hop + window) for k in range(n)]
    if spans[-1][1] < duration - 1e-9:
        spans.append((duration - window, float(duration)))
    return spans


def expected_windows(duration: float, *, window: float = DEFAULT_WINDOW, hop: float = DEFAULT_HOP) -> int:
    """How many windows :func:`timeline` makes of `duration` s (for progress bars; from a file header)."""
    if duration <= window:
        return 1
    n = int(np.floor((duration - window) / hop + 1e-9)) + 1
    return n + (1 if (n - 1) * hop + window < duration else 0)
