"""Fitting routed recipes: :class:`RoutedClassifier`, the scikit-learn side of :mod:`mer.models.routing`."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from mer.models.routing import GATE_CLASSES, gate_probability, mix


class RoutedClassifier(ClassifierMixin, BaseEstimator):
    """A general expert, a specialist and a gate; probabilities mixed by the gate (see the module).

    Parameters
    ----------
    general, specialist, gate : classifier
        Unfitted estimators with ``fit(X, y, groups=..., sample_weight=...)`` and
        ``predict_proba`` (the recipe, :class:`mer.models.recipe.EmotionClassifier`).
    specialist_weights : (float, float)
        Weight of the general domain's rows and of the specialist domain's rows in the
        specialist's fit (``(1, 0.25)``: the single 4Q + EMOPIA model issue 16 shipped).

    Attributes
    ----------
    general_, specialist_, gate_ : fitted estimators
    classes_ : np.ndarray
    """

    def __init__(self, general, specialist, gate, specialist_weights=(1.0, 1.0)):
        self.general = general
        self.specialist = specialist
        self.gate = gate
        self.specialist_weights = specialist_weights

    def fit(self, X, y, groups=None, sample_weight=None, domain=None) -> "RoutedClassifier":
        """Fit on inputs (n, n_columns) and labels (n,); `domain` (n,) is True for the specialist's rows.

        `groups` keep artists / songs together in every expert's inner tuning;
        `sample_weight` multiplies each row's weight in every fit.
        """
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        if domain is None:
            raise ValueError("RoutedClassifier.fit needs `domain`: which rows are the specialist's")
        domain = np.asarray(domain, dtype=bool)
        w_general, w_special = (float(w) for w in self.specialist_weights)
        if len(domain) != len(y) or not domain.any() or domain.all():
            raise ValueError("`domain` must mark some but not all rows, one value per row")
        if min(w_general, w_special) < 0 or max(w_general, w_special) == 0:
            raise ValueError(f"specialist_weights must be >= 0 and not both 0, got {self.specialist_weights}")
        base = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        g = None if groups is None else np.asarray(groups)
        own = ~domain
        self.general_ = _fit(self.general, X[own], y[own], None if g is None else g[own], base[own])
        w = base * np.where(domain, w_special, w_general)
        keep = w > 0
        self.specialist_ = _fit(self.specialist, X[keep], y[keep], None if g is None else g[keep], w[keep])
        labels = np.where(domain, GATE_CLASSES[1], GATE_CLASSES[0])
        self.gate_ = _fit(self.gate, X, labels, g, base)
        if list(self.general_.classes_) != list(self.specialist_.classes_):
            raise ValueError(f"the experts learned different classes: {list(self.general_.classes_)} vs "
                             f"{list(self.specialist_.classes_)}")
        self.classes_ = np.asarray(self.general_.classes_)
        return self

    def gate_proba(self, X) -> np.ndarray:
        """The gate's probability of the specialist's domain, shape (n,)."""
        check_is_fitted(self, "gate_")
        return gate_probability(self.gate_, X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self, ("general_", "specialist_", "gate_"))
        return mix(self.general_.predict_proba(X), self.specialist_.predict_proba(X), self.gate_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n,)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _fit(estimator, X, y, groups, weight):
    weight = None if np.all(weight == 1) else weight
    return clone(estimator).fit(X, y, groups=groups, sample_weight=weight)


def _fit(estimator, X, y, groups, weight):
    weight = None if np.all(weight == 1) else weight
    return clone(estimator).fit(X, y, groups=groups, sample_weight=weight)
