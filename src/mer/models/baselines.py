"""The paper's 12 classic baselines as scikit-learn pipelines over (204, T) sequences.

:func:`make_baseline` builds ``StandardScaler -> classifier`` for a name in
:data:`BASELINES`; :class:`SummaryClassifier` turns each clip's (204, T) matrix into
one vector first, in one of two ways:

* ``input="stats"`` (our default): per-row statistics over time
  (:func:`mer.features.transforms.summary_stats`: mean, std, 10th / 50th / 90th
  percentiles) -> 5 x 204 = 1,020 numbers per clip, whatever its length.
* ``input="flat"`` (the paper): the frames flattened. Flattening all 1,295 x 204
  frames gives 264,180 numbers per clip, which does not fit 2 cores and 24 GB for
  twelve models; we mean-pool ``pool=64`` frames (1.49 s) and pad / cut to
  ``ceil(1295 / 64) = 21`` pooled frames -> 21 x 204 = 4,284 numbers per clip,
  still the frames in time order, as the paper fed them. (QDA's per-class
  covariance eigendecomposition is cubic in that number, which set the pooling.)

Mel rows are converted to dB first by default (``mel_db``); standardisation is the
pipeline's ``StandardScaler``, so it is fitted on training data only.

Probabilities: most classifiers have ``predict_proba``. Ridge, linear SVM and RBF
SVM do not (SVC's Platt scaling would refit 5 times on internal, ungrouped folds);
for them :meth:`SummaryClassifier.predict_proba` is the softmax of the
one-vs-rest decision function — a monotone score whose argmax is the prediction,
not a calibrated probability.

Deviations from scikit-learn defaults, each because the default fails here: QDA
uses the eigen solver with Ledoit-Wolf shrinkage (with more dimensions than clips
per class the class covariances are singular, and the default SVD solver refuses
to fit); iterative solvers get more iterations.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, check_scalar

from mer.features.transforms import (
    DEFAULT_STATS,
    PAPER_N_FRAMES,
    SequencePreprocessor,
    summary_stats,
)

#: The 12 baselines of the paper, by name.
BASELINES = ("logreg", "ridge", "linear_svm", "rbf_svm", "random_forest", "adaboost", "gaussian_nb", "lda",
             "qda", "ovr_logreg", "knn", "mlp")

#: QDA keeps a d x d covariance per class: above this many dimensions it is refused (~3.2 GB at 4 classes).
MAX_QDA_DIMS = 10_000

#: The two input representations of :class:`SummaryClassifier`.
INPUTS = ("stats", "flat")


def make_baseline(name: str, *, random_state: int = 0, **params):
    """``Pipeline(StandardScaler, classifier)`` for a baseline name.

    Parameters
    ----------
    name : str
        One of :data:`BASELINES`.
    random_state : int
        Seed of the classifiers that draw random numbers.
    **params
        Overrides of the classifier's parameters (e.g. ``C=0.1``).
    """
    from sklearn.discriminant_analysis import (
        LinearDiscriminantAnalysis,
        QuadraticDiscriminantAnalysis,
    )
    from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, RidgeClassifier
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    rs = random_state
    factories = {
        "logreg": lambda: LogisticRegression(max_iter=2000, random_state=rs),
        "ridge": lambda: RidgeClassifier(random_state=rs),
        "linear_svm": lambda: LinearSVC(max_iter=5000, random_state=rs),
        "rbf_svm": lambda: SVC(kernel="rbf", random_state=rs),
        "random_forest": lambda: RandomForestClassifier(n_estimators=300, n_jobs=1, random_state=rs),
        "adaboost": lambda: AdaBoostClassifier(random_state=rs),
        "gaussian_nb": lambda: GaussianNB(),
        "lda": lambda: LinearDiscriminantAnalysis(),
        # tol only gates sklearn's rank check (not the predictions); with shrinkage the
        # covariances are full rank, but the check still fires when clips < dimensions.
        "qda": lambda: QuadraticDiscriminantAnalysis(solver="eigen", shrinkage="auto", tol=1e-12),
        "ovr_logreg": lambda: OneVsRestClassifier(LogisticRegression(max_iter=2000, random_state=rs)),
        "knn": lambda: KNeighborsClassifier(n_neighbors=5),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(100,), max_iter=500, random_state=rs),
    }
    if name not in factories:
        raise ValueError(f"unknown baseline '{name}' (known: {', '.join(BASELINES)})")
    clf = factories[name]()
    if params:
        clf.set_params(**params)
    return make_pipeline(StandardScaler(), clf)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class SummaryClassifier(ClassifierMixin, BaseEstimator):
    """A classic baseline over one vector per clip (summary statistics or flattened frames).

    Parameters
    ----------
    model : str
        A name from :data:`BASELINES`.
    input : {'stats', 'flat'}
        See the module docstring.
    mel_db : bool
        Mel rows in dB before anything else.
    pool : int
        ``flat`` only: frames mean-pooled into one.
    n_frames : int or None
        ``flat`` only: pooled frames kept (zero-padded / cut); None =
        ``ceil(1295 / pool)``, the paper's 30 s.
    stats : tuple of str
        ``stats`` only: statistics per row (:func:`mer.features.transforms.summary_stats`).
    random_state : int
    model_params : dict or None
        Overrides of the classifier's parameters.

    Attributes
    ----------
    classes_ : np.ndarray of str
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted scaler + classifier.
    fit_warnings_ : list of str
        Distinct warnings raised while fitting (e.g. convergence), kept rather than printed.
    """

    def __init__(self, model: str = "logreg", input: str = "stats", mel_db: bool = True, pool: int = 64,
                 n_frames: int | None = None, stats: tuple[str, ...] = DEFAULT_STATS, random_state: int = 0,
                 model_params: dict | None = None):
        self.model = model
        self.input = input
        self.mel_db = mel_db
        self.pool = pool
        self.n_frames = n_frames
        self.stats = stats
        self.random_state = random_state
        self.model_params = model_params

    def vectors(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """The (n, d) matrix the pipeline sees: d = 5 * 204 (stats) or 204 * n_frames (flat)."""
        if self.input == "stats":
            prep = SequencePreprocessor(mel_db=self.mel_db, pool=1, standardize=False)
            return np.stack([summary_stats(prep.transform_one(x), tuple(self.stats)) for x in X])
        if self.input == "flat":
            n_frames = self.n_frames or math.ceil(PAPER_N_FRAMES / self.pool)
            prep = SequencePreprocessor(mel_db=self.mel_db, pool=self.pool, n_frames=n_frames, standardize=False)
            return np.stack([prep.transform_one(x).ravel() for x in X])
        raise ValueError(f"unknown input '{self.input}' (known: {', '.join(INPUTS)})")

    def _check_params(self) -> None:
        """Parameters in range (checked in ``fit``); ValueError / TypeError naming the parameter."""
        if self.model not in BASELINES:
            raise ValueError(f"model must be one of {', '.join(BASELINES)}, got {self.model!r}")
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {self.input!r}")
        check_scalar(self.pool, "pool", numbers.Integral, min_val=1)
        if self.n_frames is not None:
            check_scalar(self.n_frames, "n_frames", numbers.Integral, min_val=1)

    def fit(self, X: Sequence[np.ndarray], y, groups=None) -> "SummaryClassifier":
        """Fit on clips `X` (sequence of (204, T_i) matrices) with labels `y`; `groups` is unused."""
        self._check_params()
        y = np.asarray(y).astype(str)
        if len(X) != len(y):
            raise ValueError(f"{len(X)} feature matrices but {len(y)} labels")
        self.classes_ = np.unique(y)
        V = self.vectors(X)
        if self.model == "qda" and V.shape[1] > MAX_QDA_DIMS:
            gb = len(self.classes_) * V.shape[1] ** 2 * 8 / 1e9
            raise ValueError(f"qda on {V.shape[1]} dimensions needs {len(self.classes_)} covariance matrices of "
                             f"{V.shape[1]} x {V.shape[1]} (~{gb:.0f} GB); pool more frames or use input='stats'")
        self.n_features_in_ = V.shape[1]
        self.pipeline_ = make_baseline(self.model, random_state=self.random_state, **(self.model_params or {}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.pipeline_.fit(V, y)
        self.fit_warnings_ = sorted({f"{w.category.__name__}: {' '.join(str(w.message).split())}" for w in caught})
        return self

    def predict_proba(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (n, n_classes) in ``classes_`` order; softmax of the
        decision function for ridge / SVMs (see the module docstring)."""
        check_is_fitted(self, ("pipeline_", "classes_"))
        V = self.vectors(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. QDA's collinearity note, already recorded at fit
            if hasattr(self.pipeline_, "predict_proba"):
                P = self.pipeline_.predict_proba(V)
            else:
                d = np.asarray(self.pipeline_.decision_function(V), dtype=np.float64)
                P = _softmax(np.stack([-d, d], axis=1) if d.ndim == 1 else d)
        return np.asarray(P, dtype=np.float64)

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """The most probable class of each clip (argmax of :meth:`predict_proba`)."""
        P = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted model
        return self.classes_[P.argmax(axis=1)]
