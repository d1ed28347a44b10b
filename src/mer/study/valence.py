"""The valence study: continuous valence / arousal targets, label reliability and factorised heads, on one set of folds.

    python -m mer.study.valence [--data ../shared/data/4q-dev] [--folds 5] [--repeats 3] [--json FILE]

Every variant is fitted and scored on the same artist-grouped folds (5 x 3 by default,
:func:`mer.eval.splits.grouped_folds`, disjointness checked on every fold) from the
shipped recipe's inputs of each whole clip (the cached clip rows of
:mod:`mer.study.windows`), against the tag-derived targets of :mod:`mer.data.targets`:

* ``recipe`` — today's model (:class:`mer.models.recipe.EmotionClassifier`); valence and
  arousal as differences of its quadrant probabilities (:func:`mer.core.labels.valence_arousal`).
* ``recipe+agreement`` — the same, each training clip weighted by ``PQuad``.
* ``regression`` — ridge regressors of valence and arousal (:class:`AffectRegressor`).
* ``blend`` — the mean of ``regression`` and the probability differences.
* ``factorised`` — quadrant probabilities from two binary heads (valence > 0, arousal > 0
  by quadrant), ``P(Q1) = P(v+) P(a+)`` and so on.

Reported per variant: macro-F1 and the F1 of each quadrant (mean +- std over folds), and
Pearson r / concordance (CCC) of valence and arousal with the targets over each fold's
test clips; paired tests of each variant's fold scores against ``recipe``'s.
"""

from __future__ import annotations

import argparse
import json
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, check_scalar

from mer.core.labels import QUADRANTS, valence_arousal
from mer.eval.metrics import classification_metrics, regression_metrics
from mer.eval.splits import check_disjoint_groups, grouped_folds
from mer.eval.stats import paired_test
from mer.models.recipe import EmotionClassifier

#: Quadrants on the positive side of each axis.
POSITIVE = {"valence": ("Q1", "Q4"), "arousal": ("Q1", "Q2")}


def make_regressor(k: int | str, alpha: float):
    """StandardScaler -> SelectKBest(f_regression, k) -> Ridge(alpha), all scikit-learn."""
    from sklearn.feature_selection import SelectKBest, f_regression
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("select", SelectKBest(f_regression, k=k)),
                     ("regress", Ridge(alpha=alpha))])


class AffectRegressor(RegressorMixin, BaseEstimator):
    """Ridge regression of one continuous target (valence or arousal), k and alpha tuned inside.

    Like :class:`mer.models.recipe.EmotionClassifier`: the pair with the best mean
    Pearson r over an inner grouped k-fold of the training clips wins, then is refitted
    on all of them.

    Parameters
    ----------
    k : int, "all" or sequence
        Columns kept by the univariate F selection.
    alpha : float or sequence
        Ridge penalty on standardised columns.
    inner_folds : int >= 2
    random_state : int >= 0
    """

    def __init__(self, k=(100, 300, 600), alpha=(100.0, 1000.0, 10000.0), inner_folds: int = 4,
                 random_state: int = 0):
        self.k = k
        self.alpha = alpha
        self.inner_folds = inner_folds
        self.random_state = random_state

    def fit(self, X, y, groups=None) -> "AffectRegressor":
        """Fit on (n_clips, n_columns) inputs and continuous targets, shape (n_clips,)."""
        check_scalar(self.inner_folds, "inner_folds", numbers.Integral, min_val=2)
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        ks = sorted({k if k == "all" or k < X.shape[1] else "all" for k in EmotionClassifier._grid(self.k)}, key=str)
        alphas = EmotionClassifier._grid(self.alpha)
        self.inner_scores_ = {}
        best = (ks[0], alphas[0])
        if len(ks) * len(alphas) > 1:
            # strata for the inner split: the sign of the target, so both sides are in every fold
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
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted target of each clip, shape (n_clips,)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(np.asarray(X, dtype=np.float64))


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
    return ValenceData(data.X_clip[keep], data.y[keep], data.groups[keep],
                       np.array([x.valence for x in t]), np.array([x.arousal for x in t]),
                       np.array([x.agreement for x in t]), ids[keep])


def _probability_affect(P: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    va = np.array([valence_arousal(dict(zip(classes, row))) for row in P])
    return va[:, 0], va[:, 1]


def _factorised(data: ValenceData, train, test, base) -> np.ndarray:
    """Quadrant probabilities from a valence head and an arousal head, each a binary recipe model."""
    side = {}
    for axis, positive in POSITIVE.items():
        target = np.isin(data.y[train], positive)
        m = clone(base).fit(data.X[train], target, groups=data.groups[train])
        side[axis] = m.predict_proba(data.X[test])[:, list(m.classes_).index(True)]
    v, a = side["valence"], side["arousal"]
    return np.stack([v * a, (1 - v) * a, (1 - v) * (1 - a), v * (1 - a)], axis=1)  # Q1..Q4


def run_fold(data: ValenceData, fold, *, base=None, regressor=None) -> dict:
    """Every variant fitted on one fold's training clips and scored on its test clips."""
    base = base or EmotionClassifier()
    regressor = regressor or AffectRegressor()
    tr, te = fold.train, fold.test
    check_disjoint_groups(data.groups, tr, te)
    recipe = clone(base).fit(data.X[tr], data.y[tr], groups=data.groups[tr])
    P = {"recipe": recipe.predict_proba(data.X[te])}
    weighted = clone(base).fit(data.X[tr], data.y[tr], groups=data.groups[tr], sample_weight=data.agreement[tr])
    P["recipe+agreement"] = weighted.predict_proba(data.X[te])
    P["factorised"] = _factorised(data, tr, te, base)
    reg = {axis: clone(regressor).fit(data.X[tr], getattr(data, axis)[tr], groups=data.groups[tr]).predict(data.X[te])
           for axis in ("valence", "arousal")}
    affect = {name: _probability_affect(p, QUADRANTS if name == "factorised" else recipe.classes_)
              for name, p in P.items()}
    affect["regression"] = (reg["valence"], reg["arousal"])
    affect["blend"] = tuple((a + b) / 2 for a, b in zip(affect["recipe"], affect["regression"]))
    out = {"repeat": fold.repeat, "fold": fold.fold}
    for name, (v, a) in affect.items():
        row = {"valence": regression_metrics(data.valence[te], v), "arousal": regression_metrics(data.arousal[te], a)}
        if name in P:
            classes = QUADRANTS if name == "factorised" else recipe.classes_
            pred = np.asarray(classes)[P[name].argmax(1)]
            row["classification"] = classification_metrics(data.y[te], pred, QUADRANTS)
        out[name] = row
    return out


def figures(fold_results: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Variant -> figure -> per-fold values (macro_f1, f1_Q1..Q4, valence_r/ccc, arousal_r/ccc)."""
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
    return {n: {k: np.array(v) for k, v in d.items()} for n, d in out.items()}


def ablation_table(fold_results: list[dict]) -> str:
    """Mean +- std per variant and figure, and the paired t-test p against ``recipe``."""
    figs = figures(fold_results)
    cols = ("macro_f1", "f1_Q3", "f1_Q4", "valence_r", "valence_ccc", "arousal_r", "arousal_ccc")
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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/4q-dev")
    ap.add_argument("--norms", default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    data = load_valence_data(args.data, norms=args.norms, jobs=args.jobs)
    folds = grouped_folds(data.y, data.groups, n_splits=args.folds, repeats=args.repeats, seed=args.seed)
    results = []
    for f in folds:
        results.append(run_fold(data, f))
        r = results[-1]
        print(f"repeat {f.repeat} fold {f.fold}: recipe F1 {r['recipe']['classification']['macro_f1']:.3f}, "
              f"valence r {r['recipe']['valence']['r']:.3f} -> regression {r['regression']['valence']['r']:.3f}",
              flush=True)
    print(f"{len(data.y)} clips, {args.folds} folds x {args.repeats} repeats (artist-grouped)\n")
    print(ablation_table(results))
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, {"folds": results})


if __name__ == "__main__":
    main()
