r"""The valence study: continuous valence / arousal targets, label reliability and factorised heads, on one set of folds.

    python -m mer.study.valence [--data ../shared/data/4q-dev] [--folds 5] [--repeats 3] [--json FILE]
                                [--variants V ...] [--results FILE]
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
from sklearn.base import clone

from mer.core.labels import QUADRANTS, valence_arousal
from mer.eval.metrics import classification_metrics, regression_metrics
from mer.eval.splits import check_disjoint_groups, grouped_folds
from mer.eval.stats import paired_test
from mer.models.affect import AXES, choose_weight
from mer.models.affect_fit import AffectRegressor, out_of_fold_affect
from mer.models.recipe import EmotionClassifier

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


def _factorised(data: ValenceData, train, test, base) -> np.ndarray:
    """Quadrant probabilities from a valence head and an arousal head, each a binary recipe model."""
    side = {}
    for axis, positive in POSITIVE.items():
        target = np.isin(data.y[train], positive)
        m = clone(base).fit(data.X[train], target, groups=data.groups[train])
        side[axis] = m.predict_proba(data.X[test])[:, list(m.classes_).index(True)]
    v, a = side["valence"], side["arousal"]
    return np.stack([v * a, (1 - v) * a, (1 - v) * (1 - a), v * (1 - a)], axis=1)  # Q1..Q4


def tuned_weights(data: ValenceData, train, recipe, regressors: dict, *, base, inner_folds: int = 4,
                  random_state: int = 0) -> dict:
    """Blend weight per axis chosen on the training clips only (:func:`mer.models.affect.choose_weight`).

    An inner artist-grouped k-fold of `train` gives out-of-fold regression and probability
    differences, the classifier and regressors refitted in each inner fold with the
    hyperparameters their outer fit chose (``best_params_``: no tuning inside, cheap).
    Returns ``{axis: {"weight": w, "scores": {w: {"r", "ccc"}}}}``.
    """
    classifier = clone(base).set_params(**recipe.best_params_)
    targets = {axis: getattr(data, axis)[train] for axis in AXES}
    reg, prob = out_of_fold_affect(data.X[train], data.y[train], data.groups[train], targets, classifier=classifier,
                                   regressor_params={a: regressors[a].best_params_ for a in AXES},
                                   n_splits=inner_folds, random_state=random_state)
    out = {}
    for j, axis in enumerate(AXES):
        w, scores = choose_weight(targets[axis], reg[:, j], prob[:, j])
        out[axis] = {"weight": w, "scores": scores}
    return out


def _fold_probabilities(data: ValenceData, tr, te, base, variants) -> tuple[dict, object]:
    """Test-clip quadrant probabilities of the classifier variants, and the fitted ``recipe``."""
    recipe = clone(base).fit(data.X[tr], data.y[tr], groups=data.groups[tr])
    P = {"recipe": recipe.predict_proba(data.X[te])}
    if "recipe+agreement" in variants:
        weighted = clone(base).fit(data.X[tr], data.y[tr], groups=data.groups[tr],
                                   sample_weight=data.agreement[tr])
        P["recipe+agreement"] = weighted.predict_proba(data.X[te])
    if "factorised" in variants:
        P["factorised"] = _factorised(data, tr, te, base)
    return P, recipe


def run_fold(data: ValenceData, fold, *, base=None, regressor=None, variants=VARIANTS) -> dict:
    """The `variants` (:data:`VARIANTS`; ``recipe`` always) fitted on one fold's training clips, scored on its test clips.

    ``blend-tuned``'s row also holds the chosen ``weights`` (:func:`tuned_weights`).
    """
    base = base or EmotionClassifier()
    regressor = regressor or AffectRegressor()
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)} (known: {', '.join(VARIANTS)})")
    tr, te = fold.train, fold.test
    check_disjoint_groups(data.groups, tr, te)
    P, recipe = _fold_probabilities(data, tr, te, base, variants)
    affect = {name: _probability_affect(p, QUADRANTS if name == "factorised" else recipe.classes_)
              for name, p in P.items()}
    extra = {}
    if {"regression", "blend", "blend-tuned"} & set(variants):
        regs = {axis: clone(regressor).fit(data.X[tr], getattr(data, axis)[tr], groups=data.groups[tr])
                for axis in AXES}
        reg = tuple(regs[axis].predict(data.X[te]) for axis in AXES)
        affect["regression"] = reg
        affect["blend"] = tuple((a + b) / 2 for a, b in zip(affect["recipe"], reg))
        if "blend-tuned" in variants:
            w = tuned_weights(data, tr, recipe, regs, base=base, inner_folds=regressor.inner_folds,
                              random_state=regressor.random_state)
            affect["blend-tuned"] = tuple(w[axis]["weight"] * r + (1 - w[axis]["weight"]) * p
                                          for axis, r, p in zip(AXES, reg, affect["recipe"]))
            extra["blend-tuned"] = {"weights": {axis: w[axis]["weight"] for axis in AXES}}
    out = {"repeat": fold.repeat, "fold": fold.fold}
    for name, (v, a) in affect.items():
        if name not in variants and name != "recipe":
            continue
        row = {"valence": regression_metrics(data.valence[te], v), "arousal": regression_metrics(data.arousal[te], a),
               **extra.get(name, {})}
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


def head_card(info: dict, rule: dict, *, rows: str, cv: str | None) -> dict:
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
        "reproduce": "python -m mer.study.valence --variants recipe regression blend blend-tuned --json study.json; "
                     "python -m mer.study.valence --results study.json --save-head src/mer/resources/default.mer "
                     "--save-window-head src/mer/resources/window.mer",
    }


def save_heads(data: ValenceData, rule: dict, *, clip_model=None, window_model=None, cv: str | None) -> None:
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
        set_affect_head(path, head, head_card(info, rule, rows=rows, cv=cv))
        print(f"wrote the valence / arousal head of {path}: weights {info['weights']}, "
              f"out-of-fold {json.dumps(info['out_of_fold'])}", flush=True)


def _cross_validate(data: ValenceData, args) -> list[dict]:
    folds = grouped_folds(data.y, data.groups, n_splits=args.folds, repeats=args.repeats, seed=args.seed)
    results = []
    for f in folds:
        results.append(run_fold(data, f, variants=args.variants))
        r = results[-1]
        print(f"repeat {f.repeat} fold {f.fold}: recipe F1 {r['recipe']['classification']['macro_f1']:.3f}, "
              f"valence r {r['recipe']['valence']['r']:.3f}"
              + (f" -> regression {r['regression']['valence']['r']:.3f}" if "regression" in r else ""), flush=True)
    return results


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/4q-dev")
    ap.add_argument("--norms", default=None)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", default=None)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--results", default=None, help="reuse the fold results of an earlier --json instead of the CV")
    ap.add_argument("--save-head", default=None, help="add / refit the valence / arousal head of this clip model")
    ap.add_argument("--save-window-head", default=None, help="the same for a window model (fitted on window rows)")
    args = ap.parse_args(argv)
    data = load_valence_data(args.data, norms=args.norms, jobs=args.jobs)
    if args.results:
        results = json.loads(Path(args.results).read_text())["folds"]
    else:
        results = _cross_validate(data, args)
    n_folds = len({(r["repeat"], r["fold"]) for r in results})
    print(f"{len(data.y)} clips, {n_folds} folds (artist-grouped)\n")
    print(ablation_table(results))
    rule = pick_rule(results)
    print("shipped rule: " + ", ".join(f"{a} {rule[a]['variant']} (w = {rule[a]['weight']})" for a in AXES))
    if args.json:
        from mer.core.io import write_json

        write_json(args.json, {"folds": results, "rule": rule})
    if args.save_head or args.save_window_head:
        cv = (f"{args.folds}-fold artist-grouped CV x {args.repeats} repeats on the {len(data.y)} clips "
              "(cv_figures: mean ± std over folds of the clip model's variants)")
        save_heads(data, rule, clip_model=args.save_head, window_model=args.save_window_head, cv=cv)


if __name__ == "__main__":
    main()
