"""Routing between a general model and a specialist by the input's domain: one model, two experts and a gate.

Why: a recipe trained on real recordings (4Q) calls rendered piano (EMOPIA) calm, and one
recipe trained on both sets lost accuracy on real recordings that cross-validation did not
show (issue 22: hidden 4Q clips 0.745 -> 0.706). A gate that tells the domains apart
(rendered piano against recordings: they differ in every timbre statistic) lets each
domain be read by the expert trained for it::

    g = P(specialist domain | x)                      (the gate, a binary recipe)
    P(quadrant | x) = (1 - g) * general(x) + g * specialist(x)

so on recordings the gate keeps (g ~ 0) the answers are the general model's own.

* :class:`~mer.models.routing_fit.RoutedClassifier` — the scikit-learn estimator:
  ``fit(X, y, groups, sample_weight, domain)`` fits the general expert on the general
  domain's rows only, the specialist on every row with per-domain weights, the gate on the
  domain labels (in :mod:`mer.models.routing_fit`: predicting must not import scikit-learn).
* :class:`RoutedArrays` — the fitted model as three plain predictors (what a ``.mer`` file
  holds, :mod:`mer.models.modelfile`), probabilities in NumPy.
"""

from __future__ import annotations

import numpy as np

#: The gate's two classes: rows of the general model's domain, rows of the specialist's.
GATE_CLASSES = ("general", "specialist")


def mix(P_general: np.ndarray, P_specialist: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """``(1 - g) * P_general + g * P_specialist`` row by row; P of shape (n, n_classes), g of shape (n,)."""
    g = np.asarray(gate, dtype=np.float64).reshape(-1, 1)
    return (1.0 - g) * np.asarray(P_general, dtype=np.float64) + g * np.asarray(P_specialist, dtype=np.float64)


def gate_probability(gate, X) -> np.ndarray:
    """P(specialist domain) of a fitted gate (any classifier over :data:`GATE_CLASSES`), shape (n,)."""
    classes = [str(c) for c in gate.classes_]
    if sorted(classes) != sorted(GATE_CLASSES):
        raise ValueError(f"a gate must have the classes {GATE_CLASSES}, got {classes}")
    return np.asarray(gate.predict_proba(X))[:, classes.index(GATE_CLASSES[1])]


class RoutedArrays:
    """A fitted :class:`~mer.models.routing_fit.RoutedClassifier` as three plain predictors
    (:class:`~mer.models.modelfile.RecipeArrays`, or anything with ``classes_``, ``n_columns`` and
    ``predict_proba``).

    Probabilities equal the estimator's (the same mixture of the same experts' probabilities).
    """

    def __init__(self, general, specialist, gate):
        if list(general.classes_) != list(specialist.classes_):
            raise ValueError("the experts' classes differ")
        if sorted(str(c) for c in gate.classes_) != sorted(GATE_CLASSES):
            raise ValueError(f"a gate must have the classes {GATE_CLASSES}, got {list(gate.classes_)}")
        if not general.n_columns == specialist.n_columns == gate.n_columns:
            raise ValueError("the experts and the gate read inputs of different widths")
        self.general, self.specialist, self.gate = general, specialist, gate
        self.classes_ = np.asarray(general.classes_)

    @property
    def n_columns(self) -> int:
        return self.general.n_columns

    def gate_proba(self, X) -> np.ndarray:
        """P(specialist domain), shape (n,)."""
        return gate_probability(self.gate, X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), of inputs of shape (n, n_columns)."""
        return mix(self.general.predict_proba(X), self.specialist.predict_proba(X), self.gate_proba(X))
