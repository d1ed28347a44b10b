"""Fitting the valence / arousal head: the ridge regressor of one axis and out-of-fold values (scikit-learn).

Split from :mod:`mer.models.affect` so that a model file's head predicts without
importing scikit-learn.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, check_scalar

from mer.eval.metrics import regression_metrics
from mer.eval.splits import check_disjoint_groups, grouped_folds
from mer.models.affect import AXES, probability_affect


def make_regressor(k: int | str, alpha: float):
    """StandardScaler -> SelectKBest(f_regression, k) -> Ridge(alpha), all scikit-learn."""
    from sklearn.feature_selection import SelectKBest, f_regression
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("select", SelectKBest(f_regression, k=k)),
                     ("regress", Ridge(alpha=alpha))])


def _grid(v) -> list:
    return [v] if isinstance(v, (numbers.Number, str)) else list(v)


class AffectRegressor(RegressorMixin, BaseEstimator):
    """Ridge regression of one continuous target (valence or arousal), k and alpha tuned inside.

    Like :class:`mer.models.recipe.EmotionClassifier`: the pair with the best Pearson r
    over an inner grouped k-fold of the training clips (out-of-fold predictions pooled)
    wins, then is refitted on all of them.

    Parameters
    ----------
    k : int, "all" or sequence
        Columns kept by the univariate F selection (capped at the number of columns).
    alpha : float or sequence
        Ridge penalty on standardised columns.
    inner_folds : int >= 2
    random_state : int >= 0
        Seeds the inner folds.

    Attributes
    ----------
    best_params_ : dict
        The chosen ``k`` and ``alpha``.
    inner_scores_ : dict
        ``(k, alpha)`` -> inner Pearson r (empty when nothing was tuned).
    pipeline_ : sklearn.pipeline.Pipeline
    """

    def __init__(self, k=(100, 300, 600), alpha=(100.0, 1000.0, 10000.0), inner_folds: int = 4,
                 random_state: int = 0):
        self.k = k
        self.alpha = alpha
        self.inner_folds = inner_folds
        self.random_state = random_state

    def fit(self, X, y, groups=None) -> AffectRegressor:
        """Fit on (n_clips, n_columns) inputs and continuous targets, shape (n_clips,)."""
        check_scalar(self.inner_folds, "inner_folds", numbers.Integral, min_val=2)
        check_scalar(self.random_state, "random_state", numbers.Integral, min_val=0)
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (len(X),):
            raise ValueError(f"need X of shape (n, n_columns) and y of shape (n,), got {X.shape} and {y.shape}")
        ks = sorted({k if k == "all" or k < X.shape[1] else "all" for k in _grid(self.k)}, key=str)
        alphas = _grid(self.alpha)
        if any(not a > 0 for a in alphas):
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        self.inner_scores_ = {}
        best = (ks[0], alphas[0])
        if len(ks) * len(alphas) > 1:
            # strata for the inner split: above / below the median, so both sides are in every fold
            folds = grouped_folds(y > np.median(y), groups, n_splits=self.inner_folds, seed=self.random_state)
            for k in ks:
                for a in alphas:
                    pred = np.empty_like(y)
                    for f in folds:
                        pred[f.test] = make_regressor(k, a).fit(X[f.train], y[f.train]).predict(X[f.test])
                    self.inner_scores_[(k, a)] = regression_metrics(y, pred)["r"]
            best = max(self.inner_scores_, key=self.inner_scores_.get)
        self.best_params_ = {"k": best[0], "alpha": best[1]}
        self.pipeline_ = make_regressor(*best).fit(X, y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted target of each clip, shape (n_clips,)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(np.asarray(X, dtype=np.float64))


def out_of_fold_affect(X, y, groups, targets: dict, *, classifier, regressor_params: dict, n_splits: int = 4,
                       random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold regression and probability-difference values of every training row (grouped k-fold).

    Each row is predicted by a classifier and regressors fitted on rows of other groups only
    (checked per fold with :func:`mer.eval.splits.check_disjoint_groups`).

    Hyperparameters are fixed (no tuning inside): `classifier` is cloned as given, and
    each axis' regressor is ``make_regressor(**regressor_params[axis])``.

    Parameters
    ----------
    X : np.ndarray, shape (n, n_columns)
    y, groups : np.ndarray, shape (n,)
        Quadrant labels (stratification and the classifier's target) and artist groups.
    targets : dict of str -> np.ndarray of shape (n,)
        ``"valence"`` and ``"arousal"`` targets.

    Returns
    -------
    regression, probability : np.ndarray, shape (n, 2)
        Columns in :data:`AXES` order.
    """
    X = np.asarray(X, dtype=np.float64)
    reg, prob = np.empty((len(X), 2)), np.empty((len(X), 2))
    for f in grouped_folds(y, groups, n_splits=n_splits, seed=random_state):
        if groups is not None:
            check_disjoint_groups(groups, f.train, f.test)
        clf = clone(classifier).fit(X[f.train], y[f.train], groups=None if groups is None else groups[f.train])
        prob[f.test] = probability_affect(clf.predict_proba(X[f.test]), clf.classes_)
        for j, axis in enumerate(AXES):
            model = make_regressor(**regressor_params[axis]).fit(X[f.train], targets[axis][f.train])
            reg[f.test, j] = model.predict(X[f.test])
    return reg, prob
