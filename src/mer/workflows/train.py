"""Training recipes: a dataset and a model name in, a cross-validated, saved-ready model out.

:func:`make_estimator` maps a name to an estimator:

* ``rnn``, ``brnn``, ``lstm``, ``gru`` — our defaults: :class:`~mer.models.sequence.SequenceClassifier`
  with mel in dB and 8-frame pooling (186 ms steps, ~162 per 30-s clip), the paper's
  learning rates, early stopping.
* ``paper-rnn``, ``paper-brnn``, ``paper-lstm`` (and ``paper-gru``) — the paper's
  configuration: power mel, no pooling, every clip padded / cut to 1,295 frames.
* ``logreg``, ``ridge``, ... (:data:`mer.models.baselines.BASELINES`) — a classic baseline on
  summary statistics; ``<name>-flat`` on flattened frames, ``<name>-stats`` explicitly.

:func:`train` extracts features through the cache, cross-validates with
artist / song-grouped folds, fits the final model on all the data and returns a
:class:`~mer.models.modelfile.TrainedModel` ready for :func:`mer.models.modelfile.save`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from os import PathLike

import numpy as np

from mer.core.cache import file_digest
from mer.core.errors import MerError
from mer.eval.cv import CVResult, cross_validate
from mer.extraction.batch import extract_dataset
from mer.features.paper import FeatureConfig
from mer.features.transforms import PAPER_N_FRAMES
from mer.models.baselines import BASELINES
from mer.models.modelfile import TRAINING_HASHES, TrainedModel

SEQUENCE_MODELS = ("rnn", "brnn", "lstm", "gru")
PAPER_MODELS = tuple(f"paper-{a}" for a in SEQUENCE_MODELS)

#: What ``paper-*`` changes from our defaults.
PAPER_CONFIG = dict(mel_db=False, pool=1, n_frames=PAPER_N_FRAMES)


def model_names() -> list[str]:
    """Every name :func:`make_estimator` accepts."""
    return [*SEQUENCE_MODELS, *PAPER_MODELS, *BASELINES, *(f"{b}-flat" for b in BASELINES)]


def is_sequence_model(name: str) -> bool:
    return name in SEQUENCE_MODELS or name in PAPER_MODELS


def make_estimator(name: str, **params):
    """A fresh, unfitted estimator for a model name (see the module docstring).

    Parameters
    ----------
    name : str
        One of :func:`model_names`.
    **params
        Estimator parameters overriding the recipe's (e.g. ``epochs=5``).

    Raises
    ------
    MerError
        Unknown name (the message lists the known ones).
    """
    if name in SEQUENCE_MODELS:
        from mer.models.sequence import SequenceClassifier

        return SequenceClassifier(arch=name, **params)
    if name in PAPER_MODELS:
        from mer.models.sequence import SequenceClassifier

        return SequenceClassifier(arch=name.removeprefix("paper-"), **{**PAPER_CONFIG, **params})
    base, _, inp = name.partition("-")
    if base in BASELINES and inp in ("", "stats", "flat"):
        from mer.models.baselines import SummaryClassifier

        return SummaryClassifier(model=base, input=inp or "stats", **params)
    raise MerError(f"unknown model '{name}' (known: {', '.join(model_names())})")


@dataclass
class Features:
    """Feature matrices of the clips of a dataset that extracted, with labels and groups."""

    X: list[np.ndarray]
    y: np.ndarray
    groups: np.ndarray
    ids: np.ndarray
    failures: list[tuple] = field(default_factory=list)


def load_features(dataset, *, config: FeatureConfig | None = None, cache_dir: str | PathLike | None = None,
                  jobs: int = 1, progress: bool = True) -> Features:
    """Features of every clip of `dataset` (cached), dropping and listing the failures."""
    res = extract_dataset(dataset, config=config or FeatureConfig(), cache_dir=cache_dir, jobs=jobs,
                          progress=progress)
    keep = np.flatnonzero(res.ok)
    clips = [dataset.clips[i] for i in keep]
    return Features(
        X=[res.features[i] for i in keep],
        y=np.array([c.label for c in clips]),
        groups=np.array([c.group for c in clips]),
        ids=np.array([c.id for c in clips]),
        failures=res.failures,
    )


def training_hashes(dataset, ids) -> list[str]:
    """Sorted SHA-256 digests of the files of the clips `ids` of `dataset` (:func:`mer.core.cache.file_digest`).

    Stored on the model card (:data:`mer.models.modelfile.TRAINING_HASHES`) so that evaluating
    the model on its own training clips can be detected by content, whatever the files
    are called now. Clips without a file on disk (rendered, in memory) are left out.
    """
    from pathlib import Path

    path_of = {c.id: c.path for c in dataset.clips}
    return sorted({file_digest(path_of[i]) for i in ids if path_of.get(i) is not None and Path(path_of[i]).is_file()})


@dataclass
class TrainResult:
    """What :func:`train` produced: the final model, its cross-validation, failed files."""

    model: TrainedModel
    cv: CVResult | None
    failures: list[tuple] = field(default_factory=list)


def train(dataset, model_name: str = "lstm", *, folds: int = 5, repeats: int = 1, seed: int = 0,
          params: dict | None = None, jobs: int = 1, cache_dir: str | PathLike | None = None,
          config: FeatureConfig | None = None, progress: bool = True, features: Features | None = None,
          augment: int = 0, augmenter="paper") -> TrainResult:
    """Cross-validate a recipe on `dataset`, then fit it on all of it.

    Parameters
    ----------
    dataset : mer.data.datasets.Dataset
    model_name : str
        See :func:`make_estimator`.
    folds : int
        Grouped folds; 0 or 1 skips cross-validation (final fit only).
    repeats : int
        Repeated CV with different shuffles.
    seed : int
        Seeds the folds and the estimator.
    params : dict, optional
        Estimator parameters (e.g. ``{"epochs": 20}``).
    jobs : int
        Feature-extraction processes for cache misses.
    cache_dir, config
        Feature cache root and configuration.
    progress : bool
    features : Features, optional
        Already loaded features (skips extraction).
    augment : int
        Augmented copies of each training clip (0: none). In CV, copies are made of the
        training folds only (:class:`mer.workflows.augmented.AugmentedClassifier`); the final model
        is fitted on every clip and its copies.
    augmenter : str or augmenter
        See :func:`mer.audio.augment.get_augmenter`.

    Returns
    -------
    TrainResult
    """
    config = config or FeatureConfig()
    params = dict(params or {})
    params.setdefault("random_state", seed)
    if is_sequence_model(model_name):
        params.setdefault("progress", progress)
    estimator = make_estimator(model_name, **params)
    feats = features or load_features(dataset, config=config, cache_dir=cache_dir, jobs=jobs, progress=progress)
    if len(feats.X) == 0:
        raise MerError(f"no clip of {dataset.name} could be read")
    X = feats.X
    if augment:  # fit on indices into a bank of originals whose copies are made per training fold
        from mer.extraction.augmented import CopyBank
        from mer.workflows.augmented import AugmentedClassifier

        path_of = {c.id: c.path for c in dataset.clips}
        bank = CopyBank(feats.X, [path_of[i] for i in feats.ids], augmenter, seed=seed, config=config,
                        cache_dir=cache_dir, jobs=jobs, progress=progress)
        estimator, X = AugmentedClassifier(estimator, bank, n_copies=augment, random_state=seed), np.arange(len(X))
    cv = None
    if folds and folds > 1:
        cv = cross_validate(estimator, X, feats.y, feats.groups, n_splits=folds, repeats=repeats, seed=seed,
                            progress=progress)
    t0 = time.perf_counter()
    from sklearn.base import clone

    final = clone(estimator)
    final.fit(X, feats.y, groups=feats.groups)
    if augment:
        final = final.estimator_  # the saved model predicts from feature matrices
    counts = {str(k): int(v) for k, v in zip(*np.unique(feats.y, return_counts=True))}
    metadata = {
        TRAINING_HASHES: training_hashes(dataset, feats.ids),
        "data": {"name": dataset.name, "root": str(dataset.root) if dataset.root else None, "n_clips": len(feats.X),
                 "n_groups": int(len(np.unique(feats.groups))), "counts": counts, "n_failed": len(feats.failures)},
        "recipe": {"model": model_name, "seed": seed, "folds": folds, "repeats": repeats, "augment": augment},
        "cv": cv.summary() if cv is not None else None,
        "final_fit_wall_s": time.perf_counter() - t0,
    }
    return TrainResult(TrainedModel(final, model_name, config, metadata), cv, feats.failures)
