"""Emotion over time: a trained model applied to overlapping windows of a whole track.

A track is decoded block by block (:func:`mer.audio.decode.stream`), once per sample rate
the model reads, so memory stays bounded however long the track is. The pass over a track
(:func:`patch_pass`, :func:`signal_pass`) is shared with :func:`mer.workflows.analysis.analyse`,
which adds the track's answer from the same decodes. The expensive work is
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
order; each row sums to 1 after it, and a window's quadrant is always the argmax of the
probabilities it reports. ``"hmm"`` (default) reports the posterior marginals of a hidden
quadrant that changes between consecutive windows with probability ``switch_prob`` (0.05
by default), the windows' probabilities taken as likelihoods (forward-backward), and their
argmax as the quadrant; its valence and arousal come from the running median of the
probabilities (and of the head's regression) over ``smooth_width`` windows: posteriors of
a sticky chain are nearly one-hot, which would pin valence / arousal to the corners.
(Before, the probabilities reported were that running median too, and in 4-17 % of
windows their argmax was not the quadrant reported.) ``"median"`` is a running median of
each quadrant's probability over ``smooth_width`` windows, renormalised, quadrant its
argmax; ``"none"`` keeps the model's output. Every window keeps its raw probabilities
too, and the settings are in the result (``settings.smoothing``).

How the window model and the defaults (10-s windows, 2-s hop, HMM with p = 0.05) were
measured, on held-out medleys: the documentation's "Timeline settings" study page
(``docs/studies/timeline.md``).

Windows lie where :func:`mer.audio.windows.window_spans` puts them, the rule the window
model's training windows follow (:func:`mer.study.windows.clip_spans`): every ``hop`` s
while they fit, and a last window ending at the track's end that replaces the last regular
one when it would start less than ``hop / 2`` after it (before, timelines always added it:
a 30.06-s clip got 12 windows at a 2-s hop, the last two 0.06 s apart; now 11).

Each window *owns* the part of the track nearer to its centre than to its neighbours'
(the first from 0 s, the last to the end), so the owned spans tile the track whatever the
overlap. Sections are runs of consecutive non-silent windows with the same (smoothed)
quadrant, from the start of the first owned span to the end of the last; their valence
and arousal are means weighted by owned duration. The summary weights the same way.

The result's dictionary form (:meth:`Timeline.to_dict`, schema ``mer.timeline/1``) is
what ``mer timeline`` writes as JSON; its keys are listed in :data:`SCHEMA_KEYS`.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from mer.audio import decode as audio
from mer.audio.quality import FLOOR_DBFS, Meter, QualityConfig, facts_dict, flags, measure
from mer.audio.windows import settled, window_spans
from mer.core.cache import FeatureCache, file_digest
from mer.core.errors import MerError
from mer.core.labels import QUADRANTS, valence_arousal
from mer.features.descriptors import DescriptorConfig, StreamDescriptors, describe
from mer.features.embeddings import EmbeddingConfig, embed_signal
from mer.features.patch_stream import PatchOutputs, patch_centres, stream_patch_outputs
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

    The windows of :func:`mer.audio.windows.window_spans` for the `primary` stream's
    length, which is known only at its end: a regular window is given as soon as the
    stream is long enough for it to be :func:`~mer.audio.windows.settled`, the rest
    once the stream ends.
    """
    bufs = {sr: _Buffer(blocks, sr) for sr, blocks in streams.items()}
    main = bufs[primary]
    k = 0
    while True:
        t0, t1 = k * hop, k * hop + window
        need = t1 + hop / 2
        for b in bufs.values():
            b.fill_to(round(need * b.sr) + 1)  # + 1: `settled` then never fails for rounding
        if not settled(k, main.end / primary, window=window, hop=hop):
            break
        yield t0, t1, {sr: b.take(t0, t1) for sr, b in bufs.items()}
        for b in bufs.values():  # the window just given is the earliest a final window can reach back to
            b.drop_before(t0)
        k += 1
    duration = main.end / primary
    for t0, t1 in window_spans(duration, window=window, hop=hop)[k:]:
        yield t0, t1, {sr: b.take(t0, t1 + (1.0 if t1 >= duration else 0.0)) for sr, b in bufs.items()}


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


def _facts(y: np.ndarray, qconfig: QualityConfig) -> np.ndarray:
    """:func:`mer.audio.quality.measure` of a window; digital silence without the frame analysis (the same facts)."""
    if y.size and not y.any():
        return np.array([y.size / qconfig.sr, FLOOR_DBFS, 1.0, 0.0])
    return measure(y, qconfig)


def _analyse(model: TrainedModel, t0: float, t1: float, signals: dict[int, np.ndarray],
             qconfig: QualityConfig, shared: PatchOutputs | None) -> Window:
    facts = facts_dict(_facts(signals[qconfig.sr], qconfig))
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

    With ``"hmm"`` the probabilities reported are the HMM posterior and the quadrant its
    argmax, while valence and arousal come from the running median of `width` windows:
    posteriors of a sticky chain are nearly one-hot after a few windows, which would pin
    valence and arousal to the quadrants' corners.

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
    for w, q, (v, a) in zip(live, Q, VA):  # the quadrant is the argmax of the probabilities reported
        w.probabilities = {lab: float(x) for lab, x in zip(labels, q)}
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


def check_settings(model: TrainedModel, window: float, hop: float, smooth: str, smooth_width: int,
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


# ---------------------------------------------------------------------------
# The pass over a track (shared with mer.workflows.analysis)
# ---------------------------------------------------------------------------


@dataclass
class TrackSinks:
    """What the signal pass measured of the whole track."""

    meter: Meter
    descriptors: dict = field(default_factory=dict)  # DescriptorConfig -> StreamDescriptors


def embedding_configs(models: Iterable[TrainedModel]) -> list[EmbeddingConfig]:
    return list(dict.fromkeys(c for m in models for _, c in m.inputs if isinstance(c, EmbeddingConfig)))


@dataclass(frozen=True)
class PatchKey:
    """Cache key of one musicnn config's per-patch outputs ((n_patches, width) float32 per file)."""

    config: EmbeddingConfig

    def key(self) -> str:
        return hashlib.sha256(f"patches/1:{self.config.key()}".encode()).hexdigest()[:16]


def patch_pass(source, sr: int | None, configs: list[EmbeddingConfig], cache_dir, cache: bool
                ) -> PatchOutputs | None:
    """Every 3-s patch's outputs of each musicnn config, from one 16-kHz decode (None: no config).

    With `cache` (a file only), the outputs are read from / stored in the feature cache at `cache_dir`
    under the file's content hash: a second analysis of the file skips the 16-kHz decode and the networks.
    """
    if not configs:
        return None
    caches, digest = [], None
    if cache and not isinstance(source, np.ndarray):
        caches = [FeatureCache(cache_dir, PatchKey(c)) for c in configs]
        digest = file_digest(source)
        found = [cache.get(digest) for cache in caches]
        if all(f is not None for f in found) and len({len(f) for f in found}) == 1:
            return PatchOutputs(patch_centres(len(found[0])), dict(zip(configs, found)))
    (blocks,) = _streams(source, sr, [configs[0].sr]).values()
    shared = stream_patch_outputs(blocks, configs)
    for cache, c in zip(caches, configs):
        cache.put(digest, shared.outputs[c])
    return shared


def _tap(blocks: Iterable[np.ndarray], sinks: list) -> Iterator[np.ndarray]:
    """The blocks, each also given to every sink's ``add`` as it passes."""
    for block in blocks:
        for sink in sinks:
            sink.add(block)
        yield block


def signal_pass(source, sr: int | None, clip: TrainedModel | None, win: TrainedModel | None, qconfig: QualityConfig,
                 options: dict, shared: PatchOutputs | None, progress) -> tuple[TrackSinks, list[Window]]:
    """One decode per remaining rate: the track's meter and the descriptors `clip` reads (None: none),
    and every window of `win`'s timeline (None: none)."""
    track = TrackSinks(Meter(qconfig))
    if clip is not None:
        track.descriptors = {c: StreamDescriptors(c) for _, c in clip.inputs if isinstance(c, DescriptorConfig)}
    rates = {qconfig.sr} | {c.sr for m in (clip, win) if m is not None for _, c in m.inputs
                            if not isinstance(c, EmbeddingConfig)}
    streams = {}
    for rate, blocks in _streams(source, sr, sorted(rates)).items():
        sinks = [d for c, d in track.descriptors.items() if c.sr == rate]
        streams[rate] = _tap(blocks, sinks + ([track.meter] if rate == qconfig.sr else []))
    windows: list[Window] = []
    if win is not None:
        for t0, t1, signals in _windows(streams, qconfig.sr, options["window"], options["hop"]):
            windows.append(_analyse(win, t0, t1, signals, qconfig, shared))
            if progress is not None:
                progress(1)
    for blocks in streams.values():  # the rest of every stream reaches the track's sinks
        for _ in blocks:
            pass
    return track, windows


def timeline_options(*, window: float = DEFAULT_WINDOW, hop: float = DEFAULT_HOP, smooth: str = DEFAULT_SMOOTH,
                     smooth_width: int = DEFAULT_WIDTH, switch_prob: float = DEFAULT_SWITCH_PROB) -> dict:
    """The settings of a timeline with their defaults filled in (:func:`timeline`'s keyword arguments)."""
    return {"window": float(window), "hop": float(hop), "smooth": smooth, "smooth_width": int(smooth_width),
            "switch_prob": float(switch_prob)}


def build_timeline(path: Path | None, model: TrainedModel, windows: list[Window], options: dict, sr: int) -> Timeline:
    """The timeline of analysed, unsmoothed windows: smoothing, sections and summary (`options`:
    :func:`timeline_options`; `sr`: the rate the windows' quality facts were measured at)."""
    duration = windows[-1].end_s
    apply_smoothing(windows, model.labels, method=options["smooth"], width=options["smooth_width"],
                    switch_prob=options["switch_prob"], affect=model.affect)
    secs = sections(windows, duration)
    return Timeline(path, model.name, duration, options["window"], options["hop"],
                    _smoothing_settings(options["smooth"], options["smooth_width"], options["switch_prob"]), sr,
                    windows, secs, summarise(windows, secs, duration))


def timeline(source: str | PathLike | np.ndarray, *, model: TrainedModel | None = None, sr: int | None = None,
             window: float = DEFAULT_WINDOW, hop: float = DEFAULT_HOP, smooth: str = DEFAULT_SMOOTH,
             smooth_width: int = DEFAULT_WIDTH, switch_prob: float = DEFAULT_SWITCH_PROB,
             progress: Callable[[int], None] | None = None) -> Timeline:
    """Emotion over a whole track, window by window, in bounded memory.

    The timeline part of :func:`mer.workflows.analysis.analyse`, by the same pass (:func:`patch_pass`,
    :func:`signal_pass`), without the track's answer and without a cache.

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
    options = timeline_options(window=window, hop=hop, smooth=smooth, smooth_width=smooth_width,
                               switch_prob=switch_prob)
    check_settings(model, options["window"], options["hop"], smooth, smooth_width, switch_prob)
    path = None if isinstance(source, np.ndarray) else Path(source)
    if path is None and sr is None:
        raise MerError("a signal needs its sample rate (sr=...)")
    qconfig = QualityConfig(sr=model.feature_config.sr)
    try:
        shared = patch_pass(source, sr, embedding_configs([model]), None, False)
        _, windows = signal_pass(source, sr, None, model, qconfig, options, shared, progress)
    except MerError as exc:
        raise exc.with_path(path) if path is not None else exc from None
    return build_timeline(path, model, windows, options, qconfig.sr)


def expected_windows(duration: float, *, window: float = DEFAULT_WINDOW, hop: float = DEFAULT_HOP) -> int:
    """How many windows :func:`timeline` makes of `duration` s (for progress bars; from a file header)."""
    return len(window_spans(duration, window=window, hop=hop))
