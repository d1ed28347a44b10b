"""One analysis per track: the track's answer and its timeline from one pass over the audio.

:func:`analyse` is the seam every command that analyses a whole track goes through
(``mer timeline``, ``mer scan``, ``POST /v1/analyze``, and :func:`mer.workflows.timeline.timeline`),
so the timeline a library stores, the service serves and ``mer timeline`` writes is the
same object, computed by the same code. One pass means:

1. **musicnn patches once** (:func:`patch_pass`): the file is decoded once at 16 kHz and
   cut into non-overlapping 3-s patches; one log-mel per patch feeds every musicnn model
   that either model reads (MSD and MTT). Each model's per-patch outputs are kept
   (:class:`mer.features.patch_stream.PatchOutputs`, 250 float32 per patch and network)
   and pooled twice: over *all* patches for the track (equal to
   :func:`mer.features.embeddings.clip_embedding` of the file within float rounding) and
   over the patches centred in each window for the timeline. Patches of digital silence
   get their known outputs without a model call.
2. **one decode at the descriptor rate** (:func:`signal_pass`, 22,050 Hz): the blocks feed,
   as they arrive, the track's quality meter (:class:`mer.audio.quality.Meter`), the
   track's descriptors (:class:`mer.features.descriptors.StreamDescriptors`: the
   duration-weighted mean of 30-s windows, as ``mer predict`` computes them) and the
   timeline's windows (:mod:`mer.audio.windows` placement; a ``silent`` window is
   measured and skipped).
3. **the answers** (:func:`_finish`): the clip model on the track's row (quadrant,
   probabilities, valence / arousal, flags, quality facts, tempo from the descriptors'
   tempo column), and the window model's timeline (:func:`mer.workflows.timeline.build_timeline`).

The two models are named in one place, :func:`load_models`: the *clip model*
(``mer/resources/default.mer``, the answer of ``mer predict``) gives the track's answer,
the *window model* (``mer/resources/window.mer``, trained on 10-s windows) the timeline.

Adding an output computed from the shared patches (e.g. a head reading the MSD network's
per-patch outputs) is one step: a function of ``(PatchOutputs, windows)`` called in
:func:`_finish` (per track: the rows of ``shared.outputs[config]``; per window:
``shared.window_indices(w.start_s, w.end_s)``), its config added to the configs
:func:`patch_pass` computes, its result stored on :class:`Analysis`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from mer.audio.quality import QualityConfig, facts_dict, flags
from mer.core.errors import MerError
from mer.features.blocks import block_names
from mer.features.descriptors import DescriptorConfig
from mer.features.patch_stream import PatchOutputs, pool_window
from mer.models.modelfile import TrainedModel
from mer.workflows.predict import Prediction, load_model, predict_features
from mer.workflows.timeline import (
    Timeline,
    check_settings,
    embedding_configs,
    patch_pass,
    signal_pass,
    TrackSinks,
    build_timeline,
    load_timeline_model,
    timeline_options,
)

#: Version tag of :meth:`Analysis.to_dict` (the answer of ``POST /v1/analyze``).
SCHEMA = "mer.analysis/1"

#: Column of a descriptor block holding the clip's tempo (BPM): ``<block name>:tempo``.
TEMPO_COLUMN = "tempo"


@dataclass(frozen=True)
class Models:
    """The clip model (the track's answer) and the window model (the timeline); either may be None."""

    clip: TrainedModel | None
    window: TrainedModel | None


def load_models(clip: str | PathLike | TrainedModel | None = None,
                window: str | PathLike | TrainedModel | None = None) -> Models:
    """The two models of an analysis: `clip` (default ``default.mer``) and `window` (default ``window.mer``)."""
    return Models(clip if isinstance(clip, TrainedModel) else load_model(clip),
                  window if isinstance(window, TrainedModel) else load_timeline_model(window))


@dataclass
class Analysis:
    """One track's analysis.

    Attributes
    ----------
    path : Path or None
        None for a signal passed in memory.
    prediction : Prediction or None
        The clip model's answer for the whole track (as ``mer predict``); None when not asked.
    timeline : Timeline or None
        The window model's timeline; None when not asked.
    tempo_bpm : float or None
        The track's tempo (its descriptors' tempo column); None for a silent track or a
        clip model without descriptors.
    """

    path: Path | None
    prediction: Prediction | None
    timeline: Timeline | None
    tempo_bpm: float | None = None
    extras: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """``{"schema", "prediction", "timeline"}``: :meth:`Prediction.to_dict` and :meth:`Timeline.to_dict`."""
        return {"schema": SCHEMA,
                "prediction": None if self.prediction is None else self.prediction.to_dict(),
                "timeline": None if self.timeline is None else self.timeline.to_dict()}


def _track_row(model: TrainedModel, track: TrackSinks, shared: PatchOutputs | None) -> np.ndarray:
    """The clip model's input row for the whole track, shape (1, n_columns), float32."""
    parts = []
    for _, config in model.inputs:
        if isinstance(config, DescriptorConfig):
            parts.append(track.descriptors[config].result())
        else:
            parts.append(pool_window(shared.outputs[config], config))
    return np.concatenate(parts).astype(np.float32)[None, :]


def _tempo(model: TrainedModel, row: np.ndarray) -> float | None:
    """The tempo column of the model's first descriptor block in its input row (BPM), if it has one."""
    names = [n for name, config in model.inputs for n in block_names(name, config)]
    wanted = [f"{name}:{TEMPO_COLUMN}" for name, c in model.inputs if isinstance(c, DescriptorConfig)]
    return float(row[0, names.index(wanted[0])]) if wanted and wanted[0] in names else None


def _track_answer(model: TrainedModel, path: Path | None, track: TrackSinks, qconfig: QualityConfig,
                  shared: PatchOutputs | None) -> tuple[Prediction, float | None]:
    """The clip model's answer for the track (as :func:`mer.workflows.predict.predict_files`) and its tempo."""
    facts = facts_dict(track.meter.facts())
    fl = flags(facts, qconfig)
    name = path if path is not None else Path("<signal>")
    if "silent" in fl:
        return Prediction(name, None, None, None, None, fl, facts), None
    row = _track_row(model, track, shared)
    (pred,) = predict_features(model, row, [name])
    pred.flags, pred.quality = fl, facts
    return pred, _tempo(model, row)


def _other_answer(model: TrainedModel, path: Path | None) -> Prediction:
    """The answer of a clip model that reads no per-clip inputs (a feature model): ``mer predict``'s own path."""
    from mer.workflows.predict import predict_files

    if path is None:
        raise MerError(f"{model.name} is a {model.kind} model: its answer for a signal needs a file")
    preds, failures = predict_files(model, [path], progress=False)
    if failures:
        raise MerError(failures[0][1])
    return preds[0]


def _check_models(models: Models, options: dict) -> None:
    if models.window is not None:
        check_settings(models.window, options["window"], options["hop"], options["smooth"], options["smooth_width"],
               options["switch_prob"])


def analyse(source: str | PathLike | np.ndarray, *, sr: int | None = None, models: Models | None = None,
            track: bool = True, timeline: bool = True, progress: Callable[[int], None] | None = None,
            cache_dir: str | PathLike | None = None, cache: bool = True, **options) -> Analysis:
    """The track's answer and its timeline, from one pass over the audio (see the module docstring).

    Parameters
    ----------
    source : path or np.ndarray of shape (n_samples,)
        An audio file, or a mono signal at `sr` Hz.
    sr : int, optional
        Sample rate of a signal `source` (Hz).
    models : Models, optional
        Default :func:`load_models` (the shipped clip and window models).
    track, timeline : bool
        Which answers to compute (both by default).
    progress : callable, optional
        Called with 1 after each window.
    cache_dir : path, optional
        Feature cache root for the musicnn patch outputs of a file (:func:`patch_pass`;
        default ``$MER_CACHE`` or the user cache).
    cache : bool
        False: no cache read or written.
    **options
        The timeline's settings (:func:`mer.workflows.timeline.timeline_options`: ``window``,
        ``hop``, ``smooth``, ``smooth_width``, ``switch_prob``).

    Returns
    -------
    Analysis

    Raises
    ------
    MerError
        A bad file (naming it), a bad setting or model.
    """
    models = models if models is not None else load_models()
    other = models.clip if track and models.clip is not None and models.clip.kind != "recipe" else None
    models = Models(models.clip if track and other is None else None, models.window if timeline else None)
    options = timeline_options(**options)
    _check_models(models, options)
    path = None if isinstance(source, np.ndarray) else Path(source)
    if path is None and sr is None:
        raise MerError("a signal needs its sample rate (sr=...)")
    if models.clip is None and models.window is None:
        return Analysis(path, _other_answer(other, path) if other is not None else None, None)
    qconfig = QualityConfig(sr=(models.window or models.clip).feature_config.sr)
    try:
        configs = embedding_configs(m for m in (models.clip, models.window) if m)
        shared = patch_pass(source, sr, configs, cache_dir, cache)
        measured, windows = signal_pass(source, sr, models.clip, models.window, qconfig, options, shared,
                                         progress)
        pred, tempo = (_track_answer(models.clip, path, measured, qconfig, shared) if models.clip is not None
                       else (None, None))
    except MerError as exc:
        raise exc.with_path(path) if path is not None else exc from None
    if other is not None:
        pred = _other_answer(other, path)
    tl = build_timeline(path, models.window, windows, options, qconfig.sr) if models.window is not None else None
    return Analysis(path, pred, tl, tempo)
