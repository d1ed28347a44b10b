"""Using a trained model: quadrant, probabilities and valence / arousal per file.

Valence and arousal are derived from the four quadrant probabilities, each in
[-1, 1]::

    valence = P(Q1) + P(Q4) - P(Q2) - P(Q3)    # right half of the circumplex minus left
    arousal = P(Q1) + P(Q2) - P(Q3) - P(Q4)    # upper half minus lower

Features go through the cached extraction (:mod:`mer.extraction`), with the
feature configuration stored in the model. Each file is predicted from its whole
feature matrix; :func:`predict_features` is the seam where windowed prediction over
long tracks (several windows per file, aggregated) will plug in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from mer.errors import MerError
from mer.extraction import extract_files
from mer.modelfile import TrainedModel


@dataclass
class Prediction:
    """The model's answer for one file.

    Attributes
    ----------
    path : Path
    quadrant : str
        The most probable label (``'Q1'``..``'Q4'``).
    probabilities : dict of str -> float
        Probability of each label, summing to 1.
    valence, arousal : float
        In [-1, 1], see the module docstring.
    """

    path: Path
    quadrant: str
    probabilities: dict[str, float]
    valence: float
    arousal: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def valence_arousal(probabilities: Mapping[str, float]) -> tuple[float, float]:
    """(valence, arousal) from quadrant probabilities; a label that is absent counts as 0."""
    p = {q: float(probabilities.get(q, 0.0)) for q in ("Q1", "Q2", "Q3", "Q4")}
    return p["Q1"] + p["Q4"] - p["Q2"] - p["Q3"], p["Q1"] + p["Q2"] - p["Q3"] - p["Q4"]


def default_model_path() -> Path:
    """The model shipped inside the package (``mer/models/default.mer``)."""
    from importlib.resources import files

    return Path(str(files("mer") / "models" / "default.mer"))


def load_model(path: str | PathLike | None = None) -> TrainedModel:
    """Load a ``.mer`` model; ``None`` loads the default model shipped with `mer`."""
    from mer import modelfile

    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise MerError("the default model is missing from this installation: pass --model MODEL.mer", path)
    return modelfile.load(path)


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
        from mer.recipes import clip_inputs

        inp = clip_inputs(paths, blocks=model.inputs, cache_dir=cache_dir, jobs=jobs, progress=progress)
        return inp.X, inp.ok, inp.failures
    res = extract_files(paths, config=model.feature_config, cache_dir=cache_dir, jobs=jobs, progress=progress)
    return [res.features[i] for i in np.flatnonzero(res.ok)], res.ok, res.failures


def predict_features(model: TrainedModel, X, paths: Sequence[str | PathLike]) -> list[Prediction]:
    """Predictions for already-extracted model inputs (see :func:`model_inputs`), one per path."""
    if not len(X):
        return []
    P = model.predict_proba(X)
    labels = model.labels
    out = []
    for path, p in zip(paths, P):
        probs = {lab: float(v) for lab, v in zip(labels, p)}
        v, a = valence_arousal(probs)
        out.append(Prediction(Path(path), labels[int(np.argmax(p))], probs, v, a))
    return out


def predict_files(model: TrainedModel, paths: Sequence[str | PathLike], *, jobs: int = 1,
                  cache_dir: str | PathLike | None = None, progress: bool = True
                  ) -> tuple[list[Prediction], list[tuple[Path, str]]]:
    """Predict every readable file; bad files are skipped and returned as failures.

    Returns
    -------
    predictions : list of Prediction
        In the order of `paths`, failed files left out.
    failures : list of (Path, str)
        Each failed file with a one-line reason.
    """
    X, ok, failures = model_inputs(model, paths, jobs=jobs, cache_dir=cache_dir, progress=progress)
    preds = predict_features(model, X, [Path(p) for p, good in zip(paths, ok) if good])
    return preds, failures


def evaluate(model: TrainedModel, dataset, *, jobs: int = 1, cache_dir: str | PathLike | None = None,
             progress: bool = True) -> tuple[dict, list[tuple[Path, str]]]:
    """Metrics of `model` on a labelled dataset (:func:`mer.evaluation.classification_metrics`).

    Returns
    -------
    metrics : dict
        ``accuracy``, ``macro_f1``, ``per_class``, ``confusion``, ``labels``, ``n``,
        plus ``model`` (its recipe name) and ``data`` (the dataset's name).
    failures : list of (Path, str)
    """
    from mer.evaluation import classification_metrics

    X, ok, failures = model_inputs(model, dataset.paths, jobs=jobs, cache_dir=cache_dir, progress=progress)
    keep = np.flatnonzero(ok)
    if not len(keep):
        raise MerError(f"no clip of {dataset.name} could be read")
    y_true = np.array([dataset.clips[i].label for i in keep])
    y_pred = model.predict(X)
    labels = sorted(set(dataset.labels) | set(model.labels))
    metrics = classification_metrics(y_true, y_pred, labels)
    return {**metrics, "model": model.name, "data": dataset.name}, failures
