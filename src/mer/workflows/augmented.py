"""Leakage-free augmentation in training: an estimator wrapper that adds copies of its training fold only.

:class:`AugmentedClassifier`'s ``fit`` receives the training fold only, carves its
early-stopping validation split by source group *before* any copy exists, and adds
copies (:class:`mer.extraction.augmented.CopyBank`) of exactly the training clips it
kept, each with its source's group. A copy of a validation or test clip cannot be built
by it, because it is never given those clips' indices.
"""

from __future__ import annotations

import inspect

import numpy as np

from mer.eval.splits import grouped_holdout
from mer.extraction.augmented import CopyBank


class AugmentedClassifier:
    """Fit ``estimator`` on the training clips plus ``n_copies`` augmented copies of each.

    Scikit-learn conventions: parameters in ``__init__``; ``fit(X, y, groups)``,
    ``predict(X)``, ``predict_proba(X)``. ``X`` is a sequence of integer indices into
    ``bank`` (a :class:`CopyBank`), so the wrapper can only make copies of the clips it
    is given — the training fold.

    Before any copy is made, a share of the training *groups* is set aside for early
    stopping (:func:`mer.eval.splits.grouped_holdout`) and passed to the estimator as
    ``X_val`` / ``y_val`` (originals only); copies are then made of the remaining clips
    and carry their source's group. An estimator whose ``fit`` takes no ``X_val`` gets
    no validation set from here.

    Parameters
    ----------
    estimator : object
        A classifier with ``fit(X, y[, groups][, X_val, y_val])`` over sequences of
        (204, T) matrices, and ``predict`` / ``predict_proba``.
    bank : CopyBank
    n_copies : int >= 0
    validation_fraction : float in [0, 1) or None
        Share of training clips (whole groups) held out for early stopping; None takes
        the estimator's ``val_fraction`` (0 when it has none).
    random_state : int

    Attributes
    ----------
    estimator_ : the fitted estimator
    classes_ : np.ndarray
    train_indices_, validation_indices_ : np.ndarray
        Bank indices of the originals trained on, and of those used for validation.
    trained_sources_ : np.ndarray
        Bank index of the source of every sample the estimator was fitted on (originals
        and copies alike): the evidence that no other clip reached training.
    n_train_samples_ : int
        Originals plus copies the estimator was fitted on.
    """

    def __init__(self, estimator, bank: CopyBank, n_copies: int = 3, validation_fraction: float | None = None,
                 random_state: int = 0):
        self.estimator = estimator
        self.bank = bank
        self.n_copies = n_copies
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _validation_fraction(self, takes_val: bool) -> float:
        if self.validation_fraction is not None:
            return self.validation_fraction
        params = self.estimator.get_params(deep=False) if hasattr(self.estimator, "get_params") else {}
        return float(params.get("val_fraction", 0.0) or 0.0) if takes_val else 0.0

    def fit(self, X, y, groups=None) -> "AugmentedClassifier":
        idx = np.asarray(X, dtype=int).ravel()
        y = np.asarray(y)
        groups = np.asarray(groups) if groups is not None else np.array([f"clip:{i}" for i in idx])
        if not (len(idx) == len(y) == len(groups)):
            raise ValueError(f"X, y and groups differ in length: {len(idx)}, {len(y)}, {len(groups)}")
        params = inspect.signature(self.estimator.fit).parameters
        takes_val = "X_val" in params and "y_val" in params
        tr, va = _holdout(y, groups, self._validation_fraction(takes_val), self.random_state)
        # From here on copies are made, and only of `tr`: validation groups are already set aside.
        copies = self.bank.copies(idx[tr], self.n_copies)
        feats, labels, grps, sources = self.bank.originals(idx[tr]), list(y[tr]), list(groups[tr]), list(idx[tr])
        for j, row in zip(tr, copies):
            for Xc in row:
                if Xc is not None:
                    feats.append(Xc)
                    labels.append(y[j])
                    grps.append(groups[j])
                    sources.append(idx[j])
        kwargs = {}
        if "groups" in params:
            kwargs["groups"] = np.asarray(grps)
        if takes_val and len(va):
            kwargs["X_val"], kwargs["y_val"] = self.bank.originals(idx[va]), y[va]
        self.estimator_ = _clone(self.estimator)
        self.estimator_.fit(feats, np.asarray(labels), **kwargs)
        self.train_indices_, self.validation_indices_ = idx[tr], idx[va]
        self.trained_sources_ = np.asarray(sources, dtype=int)
        self.n_train_samples_ = len(feats)
        self.classes_ = getattr(self.estimator_, "classes_", np.unique(y))
        return self

    def predict(self, X) -> np.ndarray:
        return self.estimator_.predict(self.bank.originals(np.asarray(X, dtype=int).ravel()))

    def predict_proba(self, X) -> np.ndarray:
        return self.estimator_.predict_proba(self.bank.originals(np.asarray(X, dtype=int).ravel()))

    def get_params(self, deep: bool = False) -> dict:
        return {"estimator": self.estimator, "bank": self.bank, "n_copies": self.n_copies,
                "validation_fraction": self.validation_fraction, "random_state": self.random_state}

    def set_params(self, **params) -> "AugmentedClassifier":
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __sklearn_clone__(self) -> "AugmentedClassifier":
        # The bank is shared data, not a parameter to copy: a clone per fold must reuse its copies.
        return AugmentedClassifier(_clone(self.estimator), self.bank, self.n_copies, self.validation_fraction,
                                   self.random_state)


def _holdout(y, groups, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grouped, stratified validation split; a plain grouped shuffle split where classes are too small to stratify."""
    try:
        return grouped_holdout(y, groups, fraction, seed)
    except ValueError:  # StratifiedGroupKFold: fewer members per class than folds
        from sklearn.model_selection import GroupShuffleSplit

        tr, va = next(GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
                      .split(np.zeros(len(y)), y, groups))
        return np.sort(tr), np.sort(va)


def _clone(estimator):
    from sklearn.base import clone

    try:
        return clone(estimator)
    except TypeError:  # not a scikit-learn estimator: use it as given
        return estimator
