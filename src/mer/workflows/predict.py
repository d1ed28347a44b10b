"""Using a trained model: quadrant, probabilities and valence / arousal per file.

Valence and arousal, each in [-1, 1], come from the model's valence / arousal head when
it has one (:class:`mer.models.affect.AffectHead`, the shipped models do)::

    value = clip(w * ridge regression of the input row + (1 - w) * probability difference, -1, 1)

fitted on tag-derived Warriner targets (``(rating - 5) / 4``, 0 neutral; the 4Q quadrant
means lie at 0.35-0.46 from 0 in valence, 0.10-0.29 in arousal), the weight ``w`` per axis
and the measured figures in the model's card (``affect``); the shipped model's head
(w = 0.5 valence, 0.75 arousal) measured r 0.695 / CCC 0.683 (valence) and r 0.774 / CCC
0.717 (arousal) against those targets under artist-grouped CV, where the shipped
classifier's probability differences give 0.691 / 0.596 and 0.765 / 0.379
(``python -m mer.study.valence --emopia ... --k 600 --C 0.01``). Library
exports map either to [0, 1] as ``(x + 1) / 2``. A model without a head reports the
quadrant probability differences::

    valence = P(Q1) + P(Q4) - P(Q2) - P(Q3)    # right half of the circumplex minus left
    arousal = P(Q1) + P(Q2) - P(Q3) - P(Q4)    # upper half minus lower

Features go through the cached extraction (:mod:`mer.extraction.batch`), with the
feature configuration stored in the model. Each file is predicted from its whole
feature matrix; :func:`predict_features` is the seam where windowed prediction over
long tracks (several windows per file, aggregated) will plug in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from mer.audio.decode import SUPPORTED_EXTENSIONS
from mer.audio.quality import QualityConfig, facts_dict, flags
from mer.core.cache import file_digest
from mer.core.errors import MerError
from mer.eval.metrics import classification_metrics
from mer.extraction.batch import extract_files
from mer.extraction.inputs import measure_files
from mer.models import modelfile
from mer.models.modelfile import TRAINING_HASHES, TrainedModel
from mer.models.modelfile import default_model_path as shipped


@dataclass
class Prediction:
    """The model's answer for one file, with what makes it more or less trustworthy.

    Attributes
    ----------
    path : Path
    quadrant : str or None
        The most probable label (``'Q1'``..``'Q4'``); None for a ``silent`` file.
    probabilities : dict of str -> float, or None
        Probability of each label, summing to 1; None for a ``silent`` file.
    valence, arousal : float or None
        In [-1, 1], see the module docstring; None for a ``silent`` file.
    flags : list of str
        Reliability flags (:data:`mer.audio.quality.FLAGS`: ``silent``, ``too_short``,
        ``mostly_silent``, ``clipped``); empty when nothing was found.
    quality : dict of str -> float, or None
        The measured facts behind the flags (:data:`mer.audio.quality.FACTS`: duration in s,
        RMS level in dBFS, share of silent frames, share of clipped samples); None when
        not measured (:func:`predict_features`).
    """

    path: Path
    quadrant: str | None
    probabilities: dict[str, float] | None
    valence: float | None
    arousal: float | None
    flags: list[str] = field(default_factory=list)
    quality: dict[str, float] | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def default_model_path() -> Path:
    """The model shipped inside the package (``mer/resources/default.mer``)."""
    return shipped()


def load_model(path: str | PathLike | None = None) -> TrainedModel:
    """Load a ``.mer`` model; ``None`` loads the default model shipped with `mer`."""
    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise MerError("the default model is missing from this installation: pass --model MODEL.mer", path)
    return modelfile.load(path)


def audio_files(paths: Sequence[str | PathLike]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files to analyse for command-line arguments: files as given, folders searched recursively.

    A folder contributes every file under it with an extension of
    :data:`mer.audio.decode.SUPPORTED_EXTENSIONS` (any case), sorted by path so that the
    order never depends on the file system; hidden files and folders (``.name``, e.g.
    macOS ``._song.mp3`` resource forks) are skipped. A file given by name is kept
    whatever its extension, so that a wrong one gets its own error later.

    Returns
    -------
    files : list of Path
        In argument order, each folder's files in place of the folder.
    problems : list of (Path, str)
        Folders without a single audio file, one line each.
    """
    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for p in map(Path, paths):
        if not p.is_dir():
            files.append(p)
            continue
        found = sorted(f for f in p.rglob("*") if f.suffix.lower() in SUPPORTED_EXTENSIONS and f.is_file()
                       and not any(part.startswith(".") for part in f.relative_to(p).parts))
        if not found:
            problems.append((p, str(MerError(f"no audio files in this folder (looked for "
                                             f"{', '.join(e[1:] for e in SUPPORTED_EXTENSIONS)})", p))))
        files += found
    return files, problems


def model_inputs(model: TrainedModel, paths: Sequence[str | PathLike], *, jobs: int = 1,
                 cache_dir: str | PathLike | None = None, progress: bool = True):
    """What `model` reads for each file, through the feature cache.

    Returns
    -------
    X : sequence
        (204, T) matrices for feature models, or an (n_ok, n_columns) array of
        per-clip vectors for recipe models, one entry per file that succeeded.
    ok : np.ndarray of bool, shape (n_files,)
    failures : list of (Path, str)
    """
    if model.kind == "recipe":
        from mer.extraction.inputs import clip_inputs

        inp = clip_inputs(paths, blocks=model.inputs, cache_dir=cache_dir, jobs=jobs, progress=progress)
        return inp.X, inp.ok, inp.failures
    res = extract_files(paths, config=model.feature_config, cache_dir=cache_dir, jobs=jobs, progress=progress)
    return [res.features[i] for i in np.flatnonzero(res.ok)], res.ok, res.failures


def predict_features(model: TrainedModel, X, paths: Sequence[str | PathLike]) -> list[Prediction]:
    """Predictions for already-extracted model inputs (see :func:`model_inputs`), one per path.

    No signal check happens here (``flags`` empty, ``quality`` None): that needs the audio,
    see :func:`predict_files`.
    """
    if not len(X):
        return []
    P = model.predict_proba(X)
    VA = model.valence_arousal(P, model.affect_regression(X))
    labels = model.labels
    out = []
    for path, p, (v, a) in zip(paths, P, VA):
        probs = {lab: float(x) for lab, x in zip(labels, p)}
        out.append(Prediction(Path(path), labels[int(np.argmax(p))], probs, float(v), float(a)))
    return out


def predict_files(model: TrainedModel, paths: Sequence[str | PathLike], *, jobs: int = 1,
                  cache_dir: str | PathLike | None = None, progress: bool = True
                  ) -> tuple[list[Prediction], list[tuple[Path, str]]]:
    """Predict every readable file, with reliability flags; bad files are skipped and returned as failures.

    Each file first gets a cheap signal check (:func:`mer.extraction.inputs.measure_files`, one
    decode, cached by content). A ``silent`` file gets a Prediction with no quadrant,
    probabilities or valence / arousal (None) and is not run through the model: any
    answer would be about the model, not the music. Other flags (``too_short``,
    ``mostly_silent``, ``clipped``) keep the model's answer and say why to doubt it.

    Returns
    -------
    predictions : list of Prediction
        In the order of `paths`, failed files left out.
    failures : list of (Path, str)
        Each failed file with a one-line reason, in the order of `paths`.
    """
    paths = [Path(p) for p in paths]
    qconfig = QualityConfig(sr=model.feature_config.sr)
    checked = measure_files(paths, config=qconfig, cache_dir=cache_dir, jobs=jobs, progress=progress)
    facts = [facts_dict(f) if f is not None else None for f in checked.features]
    file_flags = [flags(f, qconfig) if f is not None else None for f in facts]
    to_model = [i for i, fl in enumerate(file_flags) if fl is not None and "silent" not in fl]
    by_index: dict[int, Prediction] = {}
    model_failures: list = []
    if to_model:  # all silent or failed: the model's inputs are never computed
        X, ok, model_failures = model_inputs(model, [paths[i] for i in to_model], jobs=jobs, cache_dir=cache_dir,
                                             progress=progress)
        good = [i for i, g in zip(to_model, ok) if g]
        by_index = dict(zip(good, predict_features(model, X, [paths[i] for i in good])))
    failed = {str(p): reason for p, reason in [*checked.failures, *model_failures]}
    preds, failures = [], []
    for i, path in enumerate(paths):
        if i in by_index:
            p = by_index[i]
            p.path, p.flags, p.quality = path, file_flags[i], facts[i]
            preds.append(p)
        elif file_flags[i] is not None and "silent" in file_flags[i]:
            preds.append(Prediction(path, None, None, None, None, file_flags[i], facts[i]))
        else:
            failures.append((path, failed.get(str(path), f"{path}: failed")))
    return preds, failures


def evaluate(model: TrainedModel, dataset, *, jobs: int = 1, cache_dir: str | PathLike | None = None,
             progress: bool = True) -> tuple[dict, list[tuple[Path, str]]]:
    """Metrics of `model` on a labelled dataset (:func:`mer.eval.metrics.classification_metrics`).

    Returns
    -------
    metrics : dict
        ``accuracy``, ``macro_f1`` (over ``macro_f1_labels``, the labels present in the
        data), ``per_class``, ``confusion``, ``labels``, ``n``, plus ``model`` (its recipe
        name), ``data`` (the dataset's name), ``skipped`` (one line per clip not
        evaluated: listed but missing or not loadable (the dataset's problems that skip
        a clip), or unreadable), ``data_problems`` (every problem found loading the
        dataset) and ``n_in_training`` (how many evaluated clips have the same bytes as
        a clip the model was trained on, from its card; None when the card does not
        list them).
    failures : list of (Path, str)
        The clips that could not be read.
    """
    X, ok, failures = model_inputs(model, dataset.paths, jobs=jobs, cache_dir=cache_dir, progress=progress)
    keep = np.flatnonzero(ok)
    if not len(keep):
        raise MerError(f"no clip of {dataset.name} could be read")
    y_true = np.array([dataset.clips[i].label for i in keep])
    y_pred = model.predict(X)
    labels = sorted(set(dataset.labels) | set(model.labels))
    metrics = classification_metrics(y_true, y_pred, labels)
    problems = list(getattr(dataset, "problems", []))
    skipped = [p for p in problems if p.endswith("skipped")] + [reason for _, reason in failures]
    return {**metrics, "model": model.name, "data": dataset.name, "skipped": skipped,
            "data_problems": problems,
            "n_in_training": training_overlap(model, [dataset.paths[i] for i in keep])}, failures


def training_overlap(model: TrainedModel, paths: Sequence[str | PathLike]) -> int | None:
    """How many of `paths` have the bytes of a clip `model` was trained on (its card's hashes).

    None when the model's card does not list its training clips (models saved before
    the hashes were recorded).
    """
    known = model.metadata.get(TRAINING_HASHES)
    if not known:
        return None
    known = set(known)
    return sum(file_digest(p) in known for p in paths)
