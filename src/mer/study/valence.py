r"""The valence study: continuous valence / arousal targets, label reliability and factorised heads, on one set of folds.

    python -m mer.study.valence [--data ../shared/data/4q-dev] [--folds 5] [--repeats 3] [--json FILE]
                                [--variants V ...] [--results FILE] [--emopia DIR [--emopia-weight 0.25]]
                                [--save-head MODEL.mer] [--save-window-head WINDOW_MODEL.mer]

Every variant is fitted and scored on the same artist-grouped folds (5 x 3 by default,
:func:`mer.eval.splits.grouped_folds`, disjointness checked on every fold) from the
shipped recipe's inputs of each whole clip (the cached clip rows of
:mod:`mer.study.windows`), against the tag-derived targets of :mod:`mer.data.targets`:

* ``recipe`` — today's model (:class:`mer.models.recipe.EmotionClassifier`); valence and
  arousal as differences of its quadrant probabilities (:func:`mer.core.labels.valence_arousal`).
* ``recipe+agreement`` — the same, each training clip weighted by ``PQuad``.
* ``regression`` — ridge regressors of valence and arousal (:class:`AffectRegressor`).
* ``blend`` — the mean of ``regression`` and the probability differences.
* ``blend-tuned`` — ``w * regression + (1 - w) * probability difference``, ``w`` per axis
  in {0, .25, .5, .75, 1} chosen on the training clips only (:func:`tuned_weights`: an
  inner artist-grouped 4-fold with the outer fit's hyperparameters; best r, then CCC).
* ``factorised`` — quadrant probabilities from two binary heads (valence > 0, arousal > 0
  by quadrant), ``P(Q1) = P(v+) P(a+)`` and so on.

With ``--emopia DIR`` (the shipped model's configuration, :mod:`mer.study.emopia`), every
quadrant classifier (``recipe``, ``recipe+agreement``, ``factorised`` and the one inside
:func:`tuned_weights`) is fitted on the 4Q training clips plus the training rows of the
paired song-grouped EMOPIA fold (all 1,078 rendered clips, :func:`mer.study.emopia.paired_folds`),
each weighted ``--emopia-weight`` (:class:`ExtraRows`, :class:`ExtraRowsClassifier`); the 4Q
folds, the ridge regressors (4Q only: EMOPIA has no continuous targets) and the scoring on
the 4Q test clips are unchanged, and each classifier's accuracy on the EMOPIA test fold is
reported too (``emopia_acc``). ``--emopia-weight 0`` gives the 4Q-only fits (bitwise) with
their EMOPIA accuracy: the paired reference.

Reported per variant: macro-F1 and the F1 of each quadrant (mean +- std over folds), and
Pearson r / concordance (CCC) of valence and arousal with the targets over each fold's
test clips; paired tests of each variant's fold scores against ``recipe``'s.

The shipped valence / arousal head (:class:`mer.models.affect.AffectHead` in the model
files) follows :func:`pick_rule`: per axis, of the probability differences (``recipe``),
``regression`` and the 0.5 ``blend``, the best mean r (ties within 0.005: the best CCC);
``blend-tuned`` only where it measurably beats that (paired t-test p < 0.05). To measure,
then add / refit the heads of the shipped models (their quadrant probabilities untouched)::

    python -m mer.study.valence --variants recipe regression blend blend-tuned --json study.json
    python -m mer.study.valence --results study.json --save-head src/mer/resources/default.mer \
        --save-window-head src/mer/resources/window.mer
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from mer.core.errors import MerError
from mer.core.labels import QUADRANTS, valence_arousal
from mer.eval.metrics import classification_metrics, regression_metrics
from mer.eval.splits import Fold, check_disjoint_groups, grouped_folds
from mer.eval.stats import paired_test
from mer.models.affect import AXES, choose_weight
from mer.models.affect_fit import AffectRegressor, out_of_fold_affect
from mer.models.recipe import EmotionClassifier
from mer.study.emopia import Rows, paired_folds, training_rows

#: Quadrants on the positive side of each axis.
POSITIVE = {"valence": ("Q1", "Q4"), "arousal": ("Q1", "Q2")}

#: Every variant :func:`run_fold` can fit (``recipe`` is always fitted: the blends need it).
VARIANTS = ("recipe", "recipe+agreement", "factorised", "regression", "blend", "blend-tuned")


@dataclass
class ValenceData:
    """Inputs, labels, groups and tag-derived targets of the clips that have all of them."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    agreement: np.ndarray
    ids: np.ndarray
    #: The clips' window rows (:func:`mer.study.windows.load_study_data`) and the clip (row of
    #: `y`) each was cut from; None when not loaded.
    X_win: np.ndarray | None = None
    win_clip: np.ndarray | None = None


def load_valence_data(data_root, *, norms=None, jobs: int = 1, progress: bool = True) -> ValenceData:
    """The 4Q clips under `data_root` with their clip rows (cached) and Warriner targets."""
    from mer.data.datasets import load_4q
    from mer.data.targets import find_norms, mood_targets
    from mer.study.windows import load_study_data

    root = Path(data_root)
    targets = mood_targets(root / "panda_dataset_taffc_metadata.csv", norms or find_norms(root))
    data = load_study_data(root, jobs=jobs, progress=progress)
    song = {str(c.path): c.id for c in load_4q(root).clips}
    ids = np.array([song[p] for p in data.paths])
    keep = np.array([i in targets for i in ids])
    t = [targets[i] for i in ids[keep]]
    new_index = np.cumsum(keep) - 1  # old clip row -> row among the kept clips
    win = keep[data.win_clip]
    return ValenceData(data.X_clip[keep], data.y[keep], data.groups[keep],
                       np.array([x.valence for x in t]), np.array([x.arousal for x in t]),
                       np.array([x.agreement for x in t]), ids[keep], data.X_win[win], new_index[data.win_clip[win]])


def _probability_affect(P: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    va = np.array([valence_arousal(dict(zip(classes, row))) for row in P])
    return va[:, 0], va[:, 1]


@dataclass(frozen=True)
class ExtraRows:
    """Labelled rows of another set that join every quadrant classifier's fit on one fold (never scored as 4Q).

    Attributes
    ----------
    rows : mer.study.emopia.Rows
        Every clip of the other set (e.g. the rendered EMOPIA clips), same columns as the 4Q rows.
    fold : mer.eval.splits.Fold
        The other set's fold paired with the 4Q fold: ``fold.train`` rows join the fit,
        ``fold.test`` rows are where the classifier's accuracy on that set is measured.
    weight : float >= 0
        Sample weight of each added row (the fold's own rows keep weight 1 or their given weights);
        0 leaves the fits exactly as without extra rows (only the accuracy on ``fold.test`` is added).
    """

    rows: Rows
    fold: Fold
    weight: float

    def __post_init__(self):
        if not (np.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"extra rows need a finite weight >= 0, got {self.weight}")
        check_disjoint_groups(self.rows.groups, self.fold.train, self.fold.test)


def with_extra(estimator, extra: ExtraRows | None, *, positive=None):
    """`estimator` itself without `extra` (or at weight 0), else an :class:`ExtraRowsClassifier` adding its rows."""
    return estimator if extra is None or extra.weight == 0 else ExtraRowsClassifier(estimator, extra, positive)


class ExtraRowsClassifier(ClassifierMixin, BaseEstimator):
    """A quadrant classifier whose every fit also sees `extra`'s training rows, weighted ``extra.weight``.

    The rows are stacked by :func:`mer.study.emopia.training_rows` (given rows first, groups
    prefixed ``4q:`` / ``emopia:`` so the two sets' groups never merge in the estimator's inner
    grouped split). With `positive` (a tuple of quadrants) the extra rows' labels become
    ``label in positive``, for binary heads fitted on such targets.
    """

    def __init__(self, estimator, extra: ExtraRows, positive=None):
        self.estimator = estimator
        self.extra = extra
        self.positive = positive

    def fit(self, X, y, groups=None, sample_weight=None) -> ExtraRowsClassifier:
        """Fit a clone of `estimator` on (X, y) of shape (n, n_columns), (n,) plus the extra training rows."""
        X, y = np.asarray(X), np.asarray(y)
        other = self.extra.rows
        if X.ndim != 2 or X.shape[1] != other.X.shape[1]:
            raise ValueError(f"rows of {X.shape[1:]} columns cannot join extra rows of {other.X.shape[1]}")
        if self.positive is not None:
            other = Rows(other.X, np.isin(other.y, self.positive), other.groups, other.ids)
        n = len(y)
        own = Rows(X, y, np.arange(n) if groups is None else np.asarray(groups), np.arange(n))
        everything = Fold(0, 0, np.arange(n), np.array([], dtype=int))
        Xs, ys, gs, w = training_rows(own, other, everything, self.extra.fold, 1.0, self.extra.weight)
        if sample_weight is not None:
            w = np.ones(len(ys)) if w is None else w.copy()
            w[:n] *= np.asarray(sample_weight, dtype=float)  # training_rows puts the given rows first
        self.estimator_ = clone(self.estimator).fit(Xs, ys, groups=gs, sample_weight=w)
        self.classes_ = self.estimator_.classes_
        self.n_extra_ = len(ys) - n
        return self

    @property
    def best_params_(self) -> dict:
        """The fitted estimator's chosen hyperparameters."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.best_params_

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n,)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _factorised(data: ValenceData, train, tests: list, base, extra: ExtraRows | None = None) -> list[np.ndarray]:
    """Quadrant probabilities (Q1..Q4) of each matrix of `tests` from a valence and an arousal binary recipe head."""
    side = {}
    for axis, positive in POSITIVE.items():
        target = np.isin(data.y[train], positive)
        m = with_extra(clone(base), extra, positive=positive).fit(data.X[train], target, groups=data.groups[train])
        side[axis] = [m.predict_proba(X)[:, list(m.classes_).index(True)] for X in tests]
    return [np.stack([v * a, (1 - v) * a, (1 - v) * (1 - a), v * (1 - a)], axis=1)  # Q1..Q4
            for v, a in zip(side["valence"], side["arousal"])]


def tuned_weights(data: ValenceData, train, recipe, regressors: dict, *, base, inner_folds: int = 4,
                  random_state: int = 0, extra: ExtraRows | None = None) -> dict:
    """Blend weight per axis chosen on the training clips only (:func:`mer.models.affect.choose_weight`).

    An inner artist-grouped k-fold of `train` gives out-of-fold regression and probability
    differences, the classifier and regressors refitted in each inner fold with the
    hyperparameters their outer fit chose (``best_params_``: no tuning inside, cheap); the
    classifier of each inner fold also sees `extra`'s training rows (the regressors never).
    Returns ``{axis: {"weight": w, "scores": {w: {"r", "ccc"}}}}``.
    """
    classifier = with_extra(clone(base).set_params(**recipe.best_params_), extra)
    targets = {axis: getattr(data, axis)[train] for axis in AXES}
    reg, prob = out_of_fold_affect(data.X[train], data.y[train], data.groups[train], targets, classifier=classifier,
                                   regressor_params={a: regressors[a].best_params_ for a in AXES},
                                   n_splits=inner_folds, random_state=random_state)
    out = {}
    for j, axis in enumerate(AXES):
        w, scores = choose_weight(targets[axis], reg[:, j], prob[:, j])
        out[axis] = {"weight": w, "scores": scores}
    return out


def _fold_probabilities(data: ValenceData, tr, te, base, variants, extra: ExtraRows | None = None
                        ) -> tuple[dict, object]:
    """Quadrant probabilities of the classifier variants, and the fitted ``recipe``.

    Returns ``{variant: [P on the 4Q test clips, P on extra's test rows (with `extra` only)]}``.
    """
    tests = [data.X[te]] + ([extra.rows.X[extra.fold.test]] if extra is not None else [])
    recipe = with_extra(clone(base), extra).fit(data.X[tr], data.y[tr], groups=data.groups[tr])
    P = {"recipe": [recipe.predict_proba(X) for X in tests]}
    if "recipe+agreement" in variants:
        weighted = with_extra(clone(base), extra).fit(data.X[tr], data.y[tr], groups=data.groups[tr],
                                                      sample_weight=data.agreement[tr])
        P["recipe+agreement"] = [weighted.predict_proba(X) for X in tests]
    if "factorised" in variants:
        P["factorised"] = _factorised(data, tr, tests, base, extra)
    return P, recipe


def _regression_affect(data: ValenceData, tr, te, recipe, affect: dict, *, base, regressor, variants,
                       extra: ExtraRows | None) -> dict:
    """Add ``regression``, ``blend`` (and ``blend-tuned``) valence / arousal to `affect`; the tuned weights."""
    regs = {axis: clone(regressor).fit(data.X[tr], getattr(data, axis)[tr], groups=data.groups[tr])
            for axis in AXES}
    reg = tuple(regs[axis].predict(data.X[te]) for axis in AXES)
    affect["regression"] = reg
    affect["blend"] = tuple((a + b) / 2 for a, b in zip(affect["recipe"], reg))
    if "blend-tuned" not in variants:
        return {}
    w = tuned_weights(data, tr, recipe, regs, base=base, inner_folds=regressor.inner_folds,
                      random_state=regressor.random_state, extra=extra)
    affect["blend-tuned"] = tuple(w[axis]["weight"] * r + (1 - w[axis]["weight"]) * p
                                  for axis, r, p in zip(AXES, reg, affect["recipe"]))
    return {"blend-tuned": {"weights": {axis: w[axis]["weight"] for axis in AXES}}}


def run_fold(data: ValenceData, fold, *, base=None, regressor=None, variants=VARIANTS,
             extra: ExtraRows | None = None) -> dict:
    """The `variants` (:data:`VARIANTS`; ``recipe`` always) fitted on one fold's training clips, scored on its test clips.

    ``blend-tuned``'s row also holds the chosen ``weights`` (:func:`tuned_weights`). With
    `extra` (:class:`ExtraRows`, paired with `fold`) every quadrant classifier also trains on
    its training rows, and each classifier variant's row holds ``emopia``: accuracy and
    macro-F1 on its test rows.
    """
    base = base or EmotionClassifier()
    regressor = regressor or AffectRegressor()
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)} (known: {', '.join(VARIANTS)})")
    tr, te = fold.train, fold.test
    check_disjoint_groups(data.groups, tr, te)
    P, recipe = _fold_probabilities(data, tr, te, base, variants, extra)
    classes = {name: QUADRANTS if name == "factorised" else recipe.classes_ for name in P}
    affect = {name: _probability_affect(p[0], classes[name]) for name, p in P.items()}
    info = {}
    if {"regression", "blend", "blend-tuned"} & set(variants):
        info = _regression_affect(data, tr, te, recipe, affect, base=base, regressor=regressor,
                                  variants=variants, extra=extra)
    out = {"repeat": fold.repeat, "fold": fold.fold}
    for name, (v, a) in affect.items():
        if name not in variants and name != "recipe":
            continue
        row = {"valence": regression_metrics(data.valence[te], v), "arousal": regression_metrics(data.arousal[te], a),
               **info.get(name, {})}
        if name in P:
            pred = [np.asarray(classes[name])[p.argmax(1)] for p in P[name]]
            row["classification"] = classification_metrics(data.y[te], pred[0], QUADRANTS)
            if extra is not None:
                m = classification_metrics(extra.rows.y[extra.fold.test], pred[1], QUADRANTS)
                row["emopia"] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"],
                                 "n_train": len(extra.fold.train), "weight": extra.weight}
        out[name] = row
    return out


def figures(fold_results: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Variant -> figure -> per-fold values (macro_f1, f1_Q1..Q4, valence_r/ccc, arousal_r/ccc; emopia_acc with EMOPIA)."""
    out: dict[str, dict[str, list]] = {}
    for fr in fold_results:
        for name, row in fr.items():
            if not isinstance(row, dict):
                continue
            d = out.setdefault(name, {})
            for axis in ("valence", "arousal"):
                for m in ("r", "ccc"):
                    d.setdefault(f"{axis}_{m}", []).append(row[axis][m])
            if "classification" in row:
                c = row["classification"]
                d.setdefault("macro_f1", []).append(c["macro_f1"])
                for q in QUADRANTS:
                    d.setdefault(f"f1_{q}", []).append(c["per_class"][q]["f1"])
            if "emopia" in row:
                d.setdefault("emopia_acc", []).append(row["emopia"]["accuracy"])
    return {n: {k: np.array(v) for k, v in d.items()} for n, d in out.items()}


def ablation_table(fold_results: list[dict]) -> str:
    """Mean +- std per variant and figure, and the paired t-test p against ``recipe``."""
    figs = figures(fold_results)
    cols = ("macro_f1", "f1_Q3", "f1_Q4", "valence_r", "valence_ccc", "arousal_r", "arousal_ccc")
    cols += ("emopia_acc",) if "emopia_acc" in figs.get("recipe", {}) else ()
    lines = [f"{'variant':<18}" + "".join(f"{c:>22}" for c in cols)]
    for name, d in figs.items():
        cells = []
        for c in cols:
            if c not in d:
                cells.append(f"{'-':>22}")
                continue
            p = "" if name == "recipe" else f" p={paired_test(d[c], figs['recipe'][c])['p_t']:.3f}"
            cells.append(f"{d[c].mean():>7.3f}±{d[c].std():.3f}{p:>8}".rjust(22))
        lines.append(f"{name:<18}" + "".join(cells))
    return "\n".join(lines)


#: Fixed blend weight (of the regression) of each variant :func:`pick_rule` chooses between.
FIXED_WEIGHTS = {"recipe": 0.0, "regression": 1.0, "blend": 0.5}


def _mean_std(v) -> str:
    return f"{np.mean(v):.3f} ± {np.std(v):.3f}"


def pick_rule(fold_results: list[dict], *, r_tolerance: float = 0.005, alpha: float = 0.05) -> dict:
    """The shipped valence / arousal rule per axis from the study's fold results (module docstring).

    Returns ``{axis: {"variant", "weight" (float, or "tuned"), "figures": {variant: {"r", "ccc"}}}}``,
    figures as ``"mean ± std"`` over folds.
    """
    figs = figures(fold_results)
    out = {}
    for axis in AXES:
        r = {v: figs[v][f"{axis}_r"] for v in FIXED_WEIGHTS}
        c = {v: figs[v][f"{axis}_ccc"] for v in FIXED_WEIGHTS}
        best_r = max(x.mean() for x in r.values())
        chosen = max((v for v in FIXED_WEIGHTS if r[v].mean() >= best_r - r_tolerance), key=lambda v: c[v].mean())
        if "blend-tuned" in figs:
            tr, tc = figs["blend-tuned"][f"{axis}_r"], figs["blend-tuned"][f"{axis}_ccc"]
            better_r = tr.mean() > r[chosen].mean() + r_tolerance and paired_test(tr, r[chosen])["p_t"] < alpha
            tied_r = abs(tr.mean() - r[chosen].mean()) <= r_tolerance
            better_c = tied_r and tc.mean() > c[chosen].mean() and paired_test(tc, c[chosen])["p_t"] < alpha
            if better_r or better_c:
                chosen = "blend-tuned"
        shown = [v for v in (*FIXED_WEIGHTS, "blend-tuned") if v in figs]
        out[axis] = {"variant": chosen, "weight": FIXED_WEIGHTS.get(chosen, "tuned"),
                     "figures": {v: {"r": _mean_std(figs[v][f"{axis}_r"]), "ccc": _mean_std(figs[v][f"{axis}_ccc"])}
                                 for v in shown}}
    return out


def fit_head(X, y, groups, targets: dict, *, classifier, rule: dict, regressor=None, folds: int = 5,
             random_state: int = 0) -> tuple:
    """A valence / arousal head fitted on all rows, and its pooled out-of-fold figures.

    Each axis' :class:`AffectRegressor` is tuned (k, alpha) and fitted on all rows; the
    weight is the rule's (:func:`pick_rule`), or for ``"tuned"`` chosen from a grouped
    out-of-fold run. The figures come from a `folds`-fold artist-grouped run with the
    chosen hyperparameters fixed (chosen on all rows: slightly optimistic), `classifier`
    (unfitted, fixed hyperparameters) standing for the model's quadrant probabilities.

    Returns
    -------
    head : AffectHead
    info : dict
        ``regressors`` (k, alpha per axis), ``weights`` and ``out_of_fold`` figures
        (r and CCC of the probability differences and of the head, per axis).
    """
    from mer.models.affect import AffectHead

    regressor = regressor or AffectRegressor(random_state=random_state)
    regs = {axis: clone(regressor).fit(X, targets[axis], groups=groups) for axis in AXES}
    params = {axis: regs[axis].best_params_ for axis in AXES}
    reg, prob = out_of_fold_affect(X, y, groups, targets, classifier=classifier, regressor_params=params,
                                   n_splits=folds, random_state=random_state)
    weights, oof = {}, {}
    for j, axis in enumerate(AXES):
        w = rule[axis]["weight"]
        weights[axis] = choose_weight(targets[axis], reg[:, j], prob[:, j])[0] if w == "tuned" else float(w)
        head_values = np.clip(weights[axis] * reg[:, j] + (1 - weights[axis]) * prob[:, j], -1, 1)
        oof[axis] = {name: {k: round(v, 3) for k, v in regression_metrics(targets[axis], values).items()
                            if k in ("r", "ccc")}
                     for name, values in (("probabilities", prob[:, j]), ("head", head_values))}
    return AffectHead.from_regressors(regs, weights), {"regressors": params, "weights": weights, "out_of_fold": oof}


def head_card(info: dict, rule: dict, *, rows: str, cv: str | None, study_options: str = "") -> dict:
    """The model card's ``affect`` entry: how valence / arousal are computed, on what scale, measured how."""
    w = info["weights"]
    return {
        "method": "per axis: clip(w * ridge regression of the input row + (1 - w) * quadrant probability "
                  "difference, -1, 1); ridge: standardise -> top-k columns by F against the target -> ridge, "
                  "k and alpha by inner artist-grouped CV; probability differences: valence = P(Q1)+P(Q4)-P(Q2)-"
                  "P(Q3), arousal = P(Q1)+P(Q2)-P(Q3)-P(Q4)",
        "weights": w, "rule": {axis: rule[axis]["variant"] for axis in AXES},
        "regressors": info["regressors"],
        "targets": "tag-derived: mean Warriner et al. (2013) valence / arousal rating of the clip's AllMusic "
                   f"mood tags, (rating - 5) / 4; fitted on {rows}",
        "scale": "[-1, 1], 0 neutral (the targets' quadrant means on 4q-dev: valence +0.46 Q1, -0.37 Q2, -0.35 Q3, "
                 "+0.36 Q4; arousal +0.19, +0.10, -0.21, -0.29); library exports map x to (x + 1) / 2 in [0, 1]",
        "cv": cv, "cv_figures": {axis: rule[axis]["figures"] for axis in AXES},
        "out_of_fold": info["out_of_fold"],
        "out_of_fold_protocol": "r / CCC pooled over a 5-fold artist-grouped split of the rows the head was "
                                "fitted on, the classifier's k and C and the ridges' k and alpha fixed at their "
                                "all-row choice (slightly optimistic); 'probabilities': the probability differences",
        "reproduce": f"python -m mer.study.valence{study_options} --variants recipe regression blend blend-tuned "
                     "--json study.json; "
                     "python -m mer.study.valence --results study.json --save-head src/mer/resources/default.mer "
                     "--save-window-head src/mer/resources/window.mer",
    }


def save_heads(data: ValenceData, rule: dict, *, clip_model=None, window_model=None, cv: str | None,
               study_options: str = "") -> None:
    """Fit and add the heads of the clip model (clip rows) and the window model (window rows) in place."""
    from mer.models.modelfile import load, set_affect_head

    targets = {axis: getattr(data, axis) for axis in AXES}
    jobs = [(clip_model, data.X, np.arange(len(data.y)), f"{len(data.y)} clips of 4q-dev"),
            (window_model, data.X_win, data.win_clip,
             f"{len(data.win_clip)} windows of {len(data.y)} 4q-dev clips, each with its clip's targets")]
    for path, X, clip, rows in jobs:
        if path is None:
            continue
        est = load(path).estimator
        classifier = clone(est).set_params(**est.best_params_)
        head, info = fit_head(X, data.y[clip], data.groups[clip], {a: t[clip] for a, t in targets.items()},
                              classifier=classifier, rule=rule)
        set_affect_head(path, head, head_card(info, rule, rows=rows, cv=cv, study_options=study_options))
        print(f"wrote the valence / arousal head of {path}: weights {info['weights']}, "
              f"out-of-fold {json.dumps(info['out_of_fold'])}", flush=True)


def load_emopia(root, data: ValenceData, *, jobs: int = 1, progress: bool = True) -> Rows:
    """Every EMOPIA clip under `root`, rendered, as the shipped model's input rows (:func:`mer.study.emopia.emopia_rows`).

    Raises MerError when the rows' columns are not the 4Q rows' (other model inputs).
    """
    from mer.study.emopia import emopia_rows
    from mer.workflows.predict import load_model

    rows, _, problems = emopia_rows(root, load_model(None), per_quadrant=1000, per_song=1000, seed=0, jobs=jobs,
                                    progress=progress)
    for line in problems:
        print(f"skipped {line}")
    check_same_columns(rows, data, source=root)
    print(f"EMOPIA: {len(rows.y)} clips of {len(set(rows.groups))} songs "
          f"({', '.join(f'{q} {int((rows.y == q).sum())}' for q in QUADRANTS)})", flush=True)
    return rows


def check_same_columns(rows: Rows, data: ValenceData, *, source) -> None:
    """Raise MerError (naming `source`) unless `rows` has the 4Q rows' number of input columns."""
    if rows.X.ndim != 2 or rows.X.shape[1] != data.X.shape[1]:
        raise MerError(f"rows of shape {rows.X.shape} do not have the 4Q rows' {data.X.shape[1]} columns: not the "
                       "same model inputs (the shipped model and the cached 4Q rows disagree)", source)


def paired_extra_rows(data: ValenceData, rows: Rows, folds: list, *, weight: float, n_splits: int, repeats: int,
                      seed: int) -> list[ExtraRows]:
    """:class:`ExtraRows` of `rows` for each of `folds` (the 4Q folds), paired as :func:`mer.study.emopia.paired_folds`.

    Raises ValueError unless paired_folds' 4Q folds are exactly `folds` (same split, same order).
    """
    pairs = paired_folds(Rows(data.X, data.y, data.groups, data.ids), rows, folds=n_splits, repeats=repeats, seed=seed)
    same = len(pairs) == len(folds) and all(
        (a.repeat, a.fold) == (f.repeat, f.fold) and np.array_equal(a.train, f.train) and np.array_equal(a.test, f.test)
        for (a, _), f in zip(pairs, folds))
    if not same:
        raise ValueError("the paired EMOPIA folds were drawn against other 4Q folds than the study's")
    return [ExtraRows(rows, fe, weight) for _, fe in pairs]


def _cross_validate(data: ValenceData, args, emopia: Rows | None = None) -> list[dict]:
    folds = grouped_folds(data.y, data.groups, n_splits=args.folds, repeats=args.repeats, seed=args.seed)
    extras = [None] * len(folds) if emopia is None else paired_extra_rows(
        data, emopia, folds, weight=args.emopia_weight, n_splits=args.folds, repeats=args.repeats, seed=args.seed)
    # one (k, C) fixes the classifier (the shipped model's k=600, C=0.01); the default grid is tuned inside
    base = EmotionClassifier(**{name: v[0] if len(v) == 1 else v for name, v in (("k", args.k), ("C", args.C))
                                if v is not None})
    results = []
    for f, extra in zip(folds, extras):
        results.append(run_fold(data, f, base=base, variants=args.variants, extra=extra))
        r = results[-1]
        print(f"repeat {f.repeat} fold {f.fold}: recipe F1 {r['recipe']['classification']['macro_f1']:.3f}"
              + (f", EMOPIA acc {r['recipe']['emopia']['accuracy']:.3f}" if extra is not None else "")
              + f", valence r {r['recipe']['valence']['r']:.3f}"
              + (f" -> regression {r['regression']['valence']['r']:.3f}" if "regression" in r else ""), flush=True)
    return results


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m mer.study.valence", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/4q-dev")
    ap.add_argument("--norms", default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--k", type=int, nargs="+", default=None,
                    help="the classifier's ANOVA-F columns (one value: fixed; several: tuned inside; default its grid)")
    ap.add_argument("--C", type=float, nargs="+", default=None, help="the classifier's inverse L2 strength (as --k)")
    ap.add_argument("--results", default=None, help="reuse the fold results of an earlier --json instead of the CV")
    ap.add_argument("--emopia", default=None, metavar="DIR",
                    help="also train every quadrant classifier on the paired EMOPIA training fold (MIDI folder)")
    ap.add_argument("--emopia-weight", type=float, default=0.25,
                    help="sample weight of each EMOPIA row (0: 4Q-only fits, EMOPIA accuracy still reported)")
    ap.add_argument("--save-head", default=None, help="add / refit the valence / arousal head of this clip model")
    ap.add_argument("--save-window-head", default=None, help="the same for a window model (fitted on window rows)")
    return ap


def main(argv=None) -> int:
    """The study from the command line; a bad folder ends it with one line on stderr (exit 2)."""
    import sys

    args = _parser().parse_args(argv)
    if args.emopia is not None and not (np.isfinite(args.emopia_weight) and args.emopia_weight >= 0):
        print(f"error: --emopia-weight must be >= 0, got {args.emopia_weight}", file=sys.stderr)
        return 2
    try:
        _run(args)
    except MerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def study_setup(args) -> dict:
    """How the CV's quadrant classifiers were trained (into the JSON; read back with ``--results``)."""
    return {"emopia": None if args.emopia is None else str(args.emopia),
            "emopia_weight": None if args.emopia is None else args.emopia_weight, "k": args.k, "C": args.C}


def _setup_options(setup: dict) -> str:
    """The study's command-line options that reproduce `setup`."""
    out = f" --emopia {setup['emopia']} --emopia-weight {setup['emopia_weight']:g}" if setup.get("emopia") else ""
    for name in ("k", "C"):
        if setup.get(name):
            out += f" --{name} " + " ".join(f"{v:g}" for v in setup[name])
    return out


def _run(args) -> None:
    data = load_valence_data(args.data, norms=args.norms, jobs=args.jobs)
    if args.results:
        saved = json.loads(Path(args.results).read_text())
        results, setup = saved["folds"], saved.get("setup") or {}
    else:
        setup = study_setup(args)
        emopia = None if args.emopia is None else load_emopia(args.emopia, data, jobs=args.jobs)
        results = _cross_validate(data, args, emopia)
    n_folds = len({(r["repeat"], r["fold"]) for r in results})
    print(f"{len(data.y)} clips, {n_folds} folds (artist-grouped)\n")
    print(ablation_table(results))
    rule = pick_rule(results)
    print("shipped rule: " + ", ".join(f"{a} {rule[a]['variant']} (w = {rule[a]['weight']})" for a in AXES))
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, {"folds": results, "rule": rule, "setup": setup})
    if args.save_head or args.save_window_head:
        cv = (f"{n_folds} folds of artist-grouped CV on the {len(data.y)} clips (cv_figures: mean ± std over folds "
              "of the clip model's variants"
              + (f"; quadrant classifiers k={setup['k']}, C={setup['C']}" if setup.get("k") or setup.get("C") else "")
              + (f"; quadrant classifiers also trained on the paired song-grouped EMOPIA training fold, "
                 f"EMOPIA rows weighted {setup['emopia_weight']:g})" if setup.get("emopia") else ")"))
        save_heads(data, rule, clip_model=args.save_head, window_model=args.save_window_head, cv=cv,
                   study_options=_setup_options(setup))


if __name__ == "__main__":
    raise SystemExit(main())
