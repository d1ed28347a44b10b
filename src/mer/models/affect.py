"""The valence / arousal head: ridge regression of each axis, blended with the quadrant probabilities.

A model's quadrant probabilities give valence and arousal as probability differences
(:func:`mer.core.labels.valence_arousal`), each in [-1, 1]. A head fitted on continuous
targets (the tag-derived Warriner valence and arousal of :mod:`mer.data.targets`, on the
same [-1, 1] scale: ``(rating - 5) / 4``) reports, per axis::

    value = clip(w * regression + (1 - w) * probability_difference, -1, 1)

with ``regression`` a ridge regression of the model's input row (standardise -> the k
columns with the largest F against the target -> ridge) and ``w`` the axis' blend weight
(1: regression only, 0: probabilities only).

Three pieces:

* :class:`AffectRegressor` — the scikit-learn estimator of one axis, k and alpha tuned by
  an inner artist-grouped CV (maximum Pearson r); with :func:`make_regressor` and
  :func:`out_of_fold_affect` it lives in :mod:`mer.models.affect_fit` (predicting with a
  head must not import scikit-learn: 0.8 s of a cached ``mer predict``).
* :func:`choose_weight` (with :func:`out_of_fold_affect`) — pick ``w`` from out-of-fold
  predictions of the training clips (r first, CCC second).
* :class:`AffectHead` — the fitted head as plain arrays (what a ``.mer`` file stores,
  :mod:`mer.models.modelfile`), predicting with numpy alone.
"""

from __future__ import annotations

import numpy as np

from mer.core.errors import MerError
from mer.core.labels import valence_arousal

#: The listeners' 1-9 scale: ``(rating - RATING_CENTRE) / RATING_HALF_RANGE`` is mer's [-1, 1], 0 neutral.
RATING_CENTRE, RATING_HALF_RANGE = 5.0, 4.0

#: The head's axes, in the order of its outputs' columns.
AXES = ("valence", "arousal")

#: Blend weights tried by :func:`choose_weight` (weight of the regression).
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def probability_affect(P, labels) -> np.ndarray:
    """Valence and arousal as quadrant probability differences, shape (n, 2), from P of shape (n, n_labels)."""
    return np.array([valence_arousal(dict(zip(labels, row))) for row in np.asarray(P, dtype=np.float64)]
                    ).reshape(-1, 2)


def choose_weight(target, regression, probability, *, weights=BLEND_WEIGHTS, r_tolerance: float = 0.005
                  ) -> tuple[float, dict]:
    """The blend weight of one axis from out-of-fold predictions: best Pearson r, then best CCC.

    Weights whose r is within `r_tolerance` of the best r count as tied on r; among them
    the one with the best concordance (CCC) wins, the smaller weight on a further tie.

    Parameters
    ----------
    target, regression, probability : array-like, shape (n,)
        The targets, the regression's and the probability differences' out-of-fold values.

    Returns
    -------
    weight : float
    scores : dict
        weight -> ``{"r": ..., "ccc": ...}`` of the blend.
    """
    from mer.eval.metrics import regression_metrics

    t, r, p = (np.asarray(a, dtype=np.float64) for a in (target, regression, probability))
    if not (t.shape == r.shape == p.shape and t.ndim == 1):
        raise ValueError(f"need three 1-D arrays of one length, got {t.shape}, {r.shape}, {p.shape}")
    scores = {}
    for w in weights:
        m = regression_metrics(t, w * r + (1 - w) * p)
        scores[float(w)] = {"r": m["r"], "ccc": m["ccc"]}
    best_r = max(s["r"] for s in scores.values())
    tied = [w for w, s in scores.items() if s["r"] >= best_r - r_tolerance]
    return max(tied, key=lambda w: (scores[w]["ccc"], -w)), scores


#: The arrays of one axis in a stored head (prefixed ``valence_`` / ``arousal_``).
AXIS_ARRAYS = ("mean", "scale", "selected", "coef", "intercept", "weight")


class AffectHead:
    """A fitted valence / arousal head as plain arrays (see the module docstring).

    Parameters
    ----------
    arrays : dict of str -> np.ndarray
        For each axis in :data:`AXES` and each name in :data:`AXIS_ARRAYS`, ``"{axis}_{name}"``:
        ``mean``, ``scale`` shape (n_columns,) (the standardisation); ``selected`` shape (k,)
        int, the kept columns, increasing; ``coef`` shape (k,); ``intercept`` and ``weight``
        (the regression's blend weight in [0, 1]) shape ().
    n_columns : int, optional
        The model's input width, checked when given.

    Raises
    ------
    ValueError
        A missing array or a wrong shape, dtype or range (one line).
    """

    def __init__(self, arrays: dict, *, n_columns: int | None = None):
        missing = [k for k in self.names() if k not in arrays]
        if missing:
            raise ValueError(f"head arrays missing: {', '.join(missing)}")
        self.arrays = {k: np.asarray(arrays[k]) for k in self.names()}
        for axis in AXES:
            self._check_axis(axis, n_columns)
        self.listener = ListenerBlend.from_arrays(arrays)
        if self.listener is not None:
            self.arrays.update(self.listener.arrays())

    @staticmethod
    def names() -> list[str]:
        return [f"{axis}_{name}" for axis in AXES for name in AXIS_ARRAYS]

    def _check_axis(self, axis: str, n_columns: int | None) -> None:
        a = {name: self.arrays[f"{axis}_{name}"] for name in AXIS_ARRAYS}
        n = a["mean"].shape[0] if a["mean"].ndim == 1 else -1
        if n < 1 or a["scale"].shape != (n,) or (n_columns is not None and n != n_columns):
            raise ValueError(f"{axis} head: standardisation of shapes {a['mean'].shape} and {a['scale'].shape} "
                             f"for {n_columns if n_columns is not None else 'n'} input columns")
        sel = a["selected"]
        if sel.ndim != 1 or sel.dtype.kind not in "iu" or not len(sel) or sel.min() < 0 or sel.max() >= n \
                or np.any(np.diff(sel) <= 0):
            raise ValueError(f"{axis} head: selected columns must be increasing integers in [0, {n}), "
                             f"got shape {sel.shape}, dtype {sel.dtype}")
        if a["coef"].shape != sel.shape or a["intercept"].shape != () or a["weight"].shape != ():
            raise ValueError(f"{axis} head: {a['coef'].shape} weights for {sel.shape[0]} selected columns "
                             f"(intercept {a['intercept'].shape}, blend weight {a['weight'].shape})")
        if not 0.0 <= float(a["weight"]) <= 1.0:
            raise ValueError(f"{axis} head: blend weight {float(a['weight'])} outside [0, 1]")

    @classmethod
    def from_regressors(cls, regressors: dict, weights: dict) -> AffectHead:
        """The head of fitted :class:`AffectRegressor` (or their pipelines), one per axis, and blend weights."""
        arrays = {}
        for axis in AXES:
            pipe = getattr(regressors[axis], "pipeline_", regressors[axis])
            scale, select, ridge = (pipe.named_steps[k] for k in ("scale", "select", "regress"))
            arrays.update({f"{axis}_mean": scale.mean_, f"{axis}_scale": scale.scale_,
                           f"{axis}_selected": np.flatnonzero(select.get_support()).astype(np.int64),
                           f"{axis}_coef": np.asarray(ridge.coef_, dtype=np.float64).reshape(-1),
                           f"{axis}_intercept": np.asarray(float(ridge.intercept_)),
                           f"{axis}_weight": np.asarray(float(weights[axis]))})
        return cls(arrays)

    @property
    def weights(self) -> dict[str, float]:
        """Blend weight of the regression per axis."""
        return {axis: float(self.arrays[f"{axis}_weight"]) for axis in AXES}

    @property
    def n_columns(self) -> int:
        """The input columns the ridge regressions read (the classifier's inputs)."""
        return int(self.arrays["valence_mean"].shape[0])

    @property
    def n_inputs(self) -> int:
        """The width of the input rows the head reads: the classifier's inputs, then the listener block's."""
        return self.n_columns + (0 if self.listener is None else self.listener.n_columns)

    def with_listener(self, listener: ListenerBlend | None) -> AffectHead:
        """This head with `listener` blended in (None: without one)."""
        return AffectHead({k: self.arrays[k] for k in self.names()} | ({} if listener is None else listener.arrays()))

    def regress(self, X) -> np.ndarray:
        """The linear parts of the head, shape (n, 2 + 2 * n_listener_heads), from rows of shape (n, n_inputs).

        Columns: the ridge regression of valence and arousal (:data:`AXES` order), then each
        listener-rated head's valence and arousal. Every column is linear in the inputs, so
        smoothing over time (the timeline) may act on all of them alike.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise MerError(f"the valence / arousal head reads {self.n_inputs} input columns, got shape {X.shape}")
        out = np.empty((len(X), 2))
        for j, axis in enumerate(AXES):
            a = {name: self.arrays[f"{axis}_{name}"] for name in AXIS_ARRAYS}
            Z = (X[:, a["selected"]] - a["mean"][a["selected"]]) / a["scale"][a["selected"]]
            out[:, j] = Z @ a["coef"] + a["intercept"]
        if self.listener is None:
            return out
        return np.hstack([out, self.listener.heads(X[:, self.n_columns:])])

    def combine(self, regression, P, labels) -> np.ndarray:
        """Valence and arousal in [-1, 1], shape (n, 2), from :meth:`regress`'s columns and the probabilities.

        mer's own value per axis is ``w * regression + (1 - w) * probability difference``; a head
        with a listener blend then averages it with the listener-rated heads as z-scores
        (:class:`ListenerBlend`). `regression` has :meth:`regress`'s shape (possibly smoothed
        over time); `P` the quadrant probabilities, shape (n, len(labels)).
        """
        regression = np.asarray(regression, dtype=np.float64)
        w = np.array([self.weights[axis] for axis in AXES])
        own = w * regression[:, :2] + (1 - w) * probability_affect(P, labels)
        if self.listener is not None:
            own = self.listener.blend(own, regression[:, 2:])
        return np.clip(own, -1.0, 1.0)

    def predict(self, X, P, labels) -> np.ndarray:
        """Valence and arousal, shape (n, 2), in [-1, 1], of inputs X and their quadrant probabilities P."""
        return self.combine(self.regress(X), P, labels)



class ListenerBlend:
    """Listener-rated valence / arousal heads, each an affine map of a 200-column input block,
    averaged with mer's own head as z-scores.

    Per axis, with component 0 mer's own value and components 1..H the heads' (each on mer's
    scale ``(rating - 5) / 4``)::

        z_i = (value_i - centre_i) / spread_i
        value = centre_0 + spread_0 * mean_i(z_i) / z_spread

    ``centre`` and ``spread`` are each component's mean and standard deviation over a set of
    reference clips (the 4q-dev clips for the shipped models), and ``z_spread`` the standard
    deviation of ``mean_i(z_i)`` over the same clips: every component counts alike whatever its
    native range, and the result keeps mer's own centre and spread on the reference clips (a
    mean of imperfectly correlated z-scores is narrower than each; without ``z_spread`` the
    values would shrink towards the centre, which costs concordance). Nothing is fitted to a
    target. Why: on a hidden set of 356 clips rated by listeners, the mean of the z-scores of
    mer's head and Essentia's emoMusic head tracked listeners' valence at r 0.615 where either
    alone gave 0.445 / 0.548 (issue 22).

    Parameters
    ----------
    weights : np.ndarray, shape (H, n_columns, 2)
        Each head's input weights onto [valence, arousal] (batch norm and the rating scale folded in).
    offsets : np.ndarray, shape (H, 2)
    centre, spread : np.ndarray, shape (H + 1, 2)
    z_spread : np.ndarray, shape (2,)
    """

    PREFIX = "listener_"

    def __init__(self, weights, offsets, centre, spread, z_spread):
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.float64)
        self.centre = np.asarray(centre, dtype=np.float64)
        self.spread = np.asarray(spread, dtype=np.float64)
        self.z_spread = np.asarray(z_spread, dtype=np.float64)
        H = self.weights_.shape[0] if self.weights_.ndim == 3 else -1
        if H < 1 or self.weights_.shape[2:] != (2,) or self.offsets.shape != (H, 2) \
                or self.centre.shape != (H + 1, 2) or self.spread.shape != (H + 1, 2) or self.z_spread.shape != (2,):
            raise ValueError(f"listener blend arrays of inconsistent shapes: weights {self.weights_.shape}, offsets "
                             f"{self.offsets.shape}, centre {self.centre.shape}, spread {self.spread.shape}")
        spreads = np.concatenate([self.spread.ravel(), self.z_spread])
        if not (np.isfinite(spreads).all() and (spreads > 0).all()):
            raise ValueError("listener blend spreads must be finite and > 0")

    @property
    def n_columns(self) -> int:
        return int(self.weights_.shape[1])

    @classmethod
    def from_heads(cls, heads, own_reference, dense_reference) -> ListenerBlend:
        """The blend of :class:`mer.models.listener.ListenerHead` s, centred and scaled on reference rows.

        Parameters
        ----------
        heads : sequence of ListenerHead
        own_reference : np.ndarray, shape (n, 2)
            mer's own valence and arousal of the reference clips.
        dense_reference : np.ndarray, shape (n, 200)
            The same clips' listener block (musicnn-MSD pre-ReLU dense, patch mean).
        """
        weights, offsets = [], []
        for head in heads:
            factor = head.scale.astype(np.float64) / np.sqrt(head.var.astype(np.float64) + float(head.epsilon))
            shift = head.bias.astype(np.float64) - head.mean.astype(np.float64) * factor
            cols = [head.order.index("valence"), head.order.index("arousal")]
            K = head.kernel.astype(np.float64)[:, cols] / RATING_HALF_RANGE  # (rating - 5) / 4
            weights.append(factor[:, None] * K)
            offsets.append(shift @ K + (head.dense_bias.astype(np.float64)[cols] - RATING_CENTRE) / RATING_HALF_RANGE)
        ones = np.ones((len(heads) + 1, 2))
        own = np.asarray(own_reference, dtype=np.float64)
        H = cls(weights, offsets, 0 * ones, ones, np.ones(2)).heads(dense_reference)
        comps = [own] + list(np.split(H, len(heads), axis=1))
        centred = cls(weights, offsets, np.array([c.mean(axis=0) for c in comps]),
                      np.array([c.std(axis=0) for c in comps]), np.ones(2))
        return cls(weights, offsets, centred.centre, centred.spread, centred._z_mean(own, H).std(axis=0))

    def heads(self, D) -> np.ndarray:
        """Each head's [valence, arousal], shape (n, 2 H), of listener blocks D of shape (n, n_columns)."""
        D = np.asarray(D, dtype=np.float64)
        return np.hstack([D @ W + b for W, b in zip(self.weights_, self.offsets)])

    def _z_mean(self, own, heads) -> np.ndarray:
        comps = [np.asarray(own, dtype=np.float64)] + list(np.split(np.asarray(heads, dtype=np.float64),
                                                                    len(self.offsets), axis=1))
        return np.mean([(c - self.centre[i]) / self.spread[i] for i, c in enumerate(comps)], axis=0)

    def blend(self, own, heads) -> np.ndarray:
        """The z-score mean of mer's values `own` (n, 2) and the heads' `heads` (n, 2 H), on mer's scale."""
        return self.centre[0] + self.spread[0] * self._z_mean(own, heads) / self.z_spread

    #: The stored arrays, in the constructor's order.
    ARRAYS = ("weights", "offsets", "centre", "spread", "z_spread")

    def arrays(self) -> dict[str, np.ndarray]:
        return {self.PREFIX + k: getattr(self, "weights_" if k == "weights" else k) for k in self.ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict) -> ListenerBlend | None:
        """The blend stored in a head's arrays, or None for a head without one."""
        if cls.PREFIX + "weights" not in arrays:
            return None
        return cls(*(arrays[cls.PREFIX + k] for k in cls.ARRAYS))
