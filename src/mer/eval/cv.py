"""Honest evaluation: grouped folds, transparent metrics, cross-validation.

Everything here works on label arrays and index arrays; nothing reads audio or
knows about a particular model. The protocol:

* :func:`grouped_folds` — stratified group k-fold (scikit-learn's
  ``StratifiedGroupKFold``), optionally repeated with a different shuffle per
  repeat. One artist, song or source clip (a *group*) never sits on both sides of a
  split; this is checked, not assumed.
* :func:`cross_validate` — a fresh clone of the estimator per fold, fitted on the
  training folds only (every fitted step — standardisation, early-stopping split —
  lives inside the estimator, so nothing sees the test fold), scored on the test fold.
* :func:`classification_metrics` — accuracy, macro-F1, per-class precision / recall
  / F1 / support and the confusion matrix, as a plain dict (JSON-ready).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mer.core.progress import progress_bar
from mer.eval.metrics import classification_metrics
from mer.eval.splits import Fold, check_disjoint_groups, grouped_folds


class Subset(Sequence):
    """A lazy view ``X[indices]`` of any indexable sequence of feature matrices.

    Feature stores can be memory-mapped; a view keeps fold splitting free of copies.
    """

    def __init__(self, data, indices):
        self.data = data
        self.indices = np.asarray(indices, dtype=int)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Subset(self.data, self.indices[i])
        return self.data[int(self.indices[i])]


def take(X, indices):
    """``X[indices]`` for arrays (fancy indexing) and for any other sequence (a :class:`Subset`)."""
    if isinstance(X, np.ndarray):
        return X[np.asarray(indices, dtype=int)]
    return Subset(X, indices)


@dataclass
class CVResult:
    """What :func:`cross_validate` measured.

    Attributes
    ----------
    labels : list of str
    folds : list of dict
        Per fold: ``repeat``, ``fold``, ``n_train``, ``n_test``, ``wall_s`` and the
        :func:`classification_metrics` of its test set.
    confusion : np.ndarray, shape (n_labels, n_labels)
        Summed over all folds (and repeats).
    predictions : np.ndarray of str, shape (repeats, n)
        Out-of-fold predicted label of every clip, per repeat.
    wall_s : float
        Wall time of the whole cross-validation, seconds.
    estimators : list
        The fitted estimator of each fold, if asked for (``return_estimators``).
    """

    labels: list[str]
    folds: list[dict]
    confusion: np.ndarray
    predictions: np.ndarray
    wall_s: float
    n_splits: int
    repeats: int
    meta: dict = field(default_factory=dict)
    estimators: list = field(default_factory=list)

    def values(self, metric: str) -> np.ndarray:
        """Per-fold values of ``accuracy`` or ``macro_f1``."""
        return np.array([f[metric] for f in self.folds], dtype=float)

    def mean(self, metric: str) -> float:
        return float(self.values(metric).mean())

    def std(self, metric: str) -> float:
        """Standard deviation over folds (ddof=0, as scikit-learn reports it)."""
        return float(self.values(metric).std())

    def pooled_per_class(self) -> dict:
        """Per-class precision / recall / F1 / support of the confusion matrix summed over folds."""
        C = np.asarray(self.confusion, dtype=float)
        out = {}
        for i, lab in enumerate(self.labels):
            tp, pred, true = C[i, i], C[:, i].sum(), C[i].sum()
            p, r = (tp / pred if pred else 0.0), (tp / true if true else 0.0)
            out[lab] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                        "support": int(true)}
        return out

    def summary(self) -> dict:
        """A JSON-ready summary: mean / std of accuracy and macro-F1, per-class F1 means, folds."""
        per_class_f1 = {lab: float(np.mean([f["per_class"][lab]["f1"] for f in self.folds])) for lab in self.labels}
        return {
            "n_splits": self.n_splits,
            "repeats": self.repeats,
            "accuracy_mean": self.mean("accuracy"),
            "accuracy_std": self.std("accuracy"),
            "macro_f1_mean": self.mean("macro_f1"),
            "macro_f1_std": self.std("macro_f1"),
            "per_class_f1_mean": per_class_f1,
            "confusion": self.confusion.tolist(),
            "labels": list(self.labels),
            "wall_s": self.wall_s,
            "folds": [
                {k: f[k] for k in ("repeat", "fold", "n_train", "n_test", "accuracy", "macro_f1", "wall_s")}
                for f in self.folds
            ],
            **self.meta,
        }


def _fit(estimator, X, y, groups):
    if "groups" in inspect.signature(estimator.fit).parameters:
        return estimator.fit(X, y, groups=groups)
    return estimator.fit(X, y)


def cross_validate(estimator, X, y, groups=None, *, n_splits: int = 5, repeats: int = 1, seed: int = 0,
                   folds: list[Fold] | None = None, progress: bool = True,
                   return_estimators: bool = False) -> CVResult:
    """Grouped cross-validation of a scikit-learn-style classifier.

    Parameters
    ----------
    estimator : classifier
        Cloned (``sklearn.base.clone``) for every fold; its ``fit`` receives the
        training groups when it accepts a ``groups`` argument (for a grouped
        early-stopping split).
    X : sequence of np.ndarray
        Any indexable sequence (list, array, memory-mapped store) of (n_rows, T_i) matrices.
    y : array-like, shape (n,)
        Label names.
    groups : array-like, shape (n,), optional
    n_splits, repeats, seed
        See :func:`grouped_folds`.
    folds : list of Fold, optional
        Precomputed splits (overrides `n_splits`, `repeats`, `seed`).
    progress : bool
        A progress bar over folds.
    return_estimators : bool
        Keep each fold's fitted estimator in ``CVResult.estimators``.

    Returns
    -------
    CVResult
    """
    from sklearn.base import clone

    y = np.asarray(y).astype(str)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    if len(X) != len(y):
        raise ValueError(f"{len(X)} feature matrices but {len(y)} labels")
    folds = folds if folds is not None else grouped_folds(y, groups, n_splits, repeats, seed)
    labels = sorted(set(y))
    repeats_ = max(f.repeat for f in folds) + 1
    n_splits_ = max(f.fold for f in folds) + 1
    predictions = np.full((repeats_, len(y)), "", dtype=object)
    results, fitted = [], []
    t_all = time.perf_counter()
    with progress_bar("folds", total=len(folds), enabled=progress) as advance:
        for f in folds:
            check_disjoint_groups(groups, f.train, f.test)
            t0 = time.perf_counter()
            est = _fit(clone(estimator), take(X, f.train), y[f.train], groups[f.train])
            pred = np.asarray(est.predict(take(X, f.test))).astype(str)
            predictions[f.repeat, f.test] = pred
            if return_estimators:
                fitted.append(est)
            m = classification_metrics(y[f.test], pred, labels)
            results.append({"repeat": f.repeat, "fold": f.fold, "n_train": len(f.train), "n_test": len(f.test),
                            "wall_s": time.perf_counter() - t0, **m})
            advance()
    confusion = np.sum([np.asarray(r["confusion"]) for r in results], axis=0)
    return CVResult(labels, results, confusion, predictions.astype(str), time.perf_counter() - t_all,
                    n_splits_, repeats_, estimators=fitted)
