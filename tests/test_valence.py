"""Tag-derived valence / arousal targets, regression metrics and the valence study's variants."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from mer.core.errors import MerError
from mer.data.targets import find_norms, load_norms, mood_targets
from mer.eval.metrics import regression_metrics
from mer.eval.splits import grouped_folds
from mer.models.recipe import EmotionClassifier


def test_regression_metrics_separate_correlation_from_concordance():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    same = regression_metrics(t, t)
    assert same["r"] == pytest.approx(1.0) and same["ccc"] == pytest.approx(1.0) and same["rmse"] == 0.0
    # a scaled and shifted copy correlates perfectly but does not agree
    off = regression_metrics(t, 0.3 * t + 1.0)
    assert off["r"] == pytest.approx(1.0)
    assert off["ccc"] < 0.5
    # Lin's formula, written out independently
    p = t + rng.normal(size=200)
    expected = 2 * np.cov(t, p, bias=True)[0, 1] / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)
    assert regression_metrics(t, p)["ccc"] == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError):
        regression_metrics([1.0], [1.0])


@pytest.mark.real_data
def test_targets_follow_the_quadrants_on_real_tags(fourq_dir):
    targets = mood_targets(fourq_dir / "panda_dataset_taffc_metadata.csv", find_norms(fourq_dir))
    from mer.data.datasets import load_4q

    clips = load_4q(fourq_dir).clips
    assert sum(c.id in targets for c in clips) == len(clips)  # every dev clip has rated tags
    by_q = {q: np.array([[targets[c.id].valence, targets[c.id].arousal] for c in clips if c.label == q])
            for q in ("Q1", "Q2", "Q3", "Q4")}
    signs = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
    for q, (sv, sa) in signs.items():
        v, a = by_q[q].mean(axis=0)
        assert np.sign(v) == sv and np.sign(a) == sa, (q, v, a)
        assert by_q[q].std(axis=0).min() > 0.05  # spread within a quadrant: more than the label
    assert all(-1 <= t.valence <= 1 and -1 <= t.arousal <= 1 and 0 < t.agreement <= 1 for t in targets.values())


def test_malformed_norms_name_the_file(tmp_path):
    bad = tmp_path / "norms.csv"
    bad.write_text("Word,Valence\nhappy,8\n")
    with pytest.raises(MerError, match="norms.csv.*V.Mean.Sum"):
        load_norms(bad)
    bad.write_text("Word,V.Mean.Sum,A.Mean.Sum\nhappy,eight,5\n")
    with pytest.raises(MerError, match="norms.csv"):
        load_norms(bad)
    with pytest.raises(MerError, match="Ratings_Warriner"):
        find_norms(tmp_path / "nowhere")


def test_sample_weights_reach_the_classifier():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 6))
    y = np.where(X[:, 0] > 0, "Q1", "Q3")
    flipped = y.copy()
    flipped[:30] = np.where(y[:30] == "Q1", "Q3", "Q1")  # 30 wrong labels
    weights = np.ones(120)
    weights[:30] = 1e-6
    plain = EmotionClassifier(k="all", C=1.0).fit(X, flipped)
    weighted = EmotionClassifier(k="all", C=1.0).fit(X, flipped, sample_weight=weights)
    assert (weighted.predict(X) == y).mean() > (plain.predict(X) == y).mean()


def test_study_variants_on_a_known_structure():
    from mer.study.valence import AffectRegressor, ValenceData, ablation_table, run_fold

    rng = np.random.default_rng(2)
    n = 160
    v, a = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    X = np.column_stack([v, a, rng.normal(size=(n, 8))]) + 0.1 * rng.normal(size=(n, 10))
    y = np.where(v > 0, np.where(a > 0, "Q1", "Q4"), np.where(a > 0, "Q2", "Q3"))
    groups = np.arange(n) // 4
    data = ValenceData(X, y, groups, v, a, np.full(n, 0.8), np.arange(n).astype(str))
    folds = grouped_folds(y, groups, n_splits=3, seed=0)
    small = EmotionClassifier(k="all", C=(0.1, 1.0), inner_folds=2)
    results = [run_fold(data, f, base=small, regressor=AffectRegressor(k="all", alpha=(0.1, 10.0), inner_folds=2))
               for f in folds[:2]]
    for r in results:
        assert r["regression"]["valence"]["r"] > 0.9 and r["regression"]["arousal"]["r"] > 0.9
        assert r["recipe"]["classification"]["macro_f1"] > 0.7
        assert r["factorised"]["classification"]["macro_f1"] > 0.7
        # the tuned blend's weights were chosen on the training clips among the grid
        assert set(r["blend-tuned"]["weights"].values()) <= {0.0, 0.25, 0.5, 0.75, 1.0}
        assert r["blend-tuned"]["valence"]["r"] > 0.9
    table = ablation_table(results)
    assert table.splitlines()[0].split()[:2] == ["variant", "macro_f1"]
    assert {line.split()[0] for line in table.splitlines()[1:]} == {
        "recipe", "recipe+agreement", "factorised", "regression", "blend", "blend-tuned"}


def _known_structure(n=160, seed=2):
    """Synthetic clips whose first two columns are valence and arousal, 4 clips per integer group."""
    from mer.study.valence import ValenceData

    rng = np.random.default_rng(seed)
    v, a = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    X = np.column_stack([v, a, rng.normal(size=(n, 8))]) + 0.1 * rng.normal(size=(n, 10))
    y = np.where(v > 0, np.where(a > 0, "Q1", "Q4"), np.where(a > 0, "Q2", "Q3"))
    return ValenceData(X, y, np.arange(n) // 4, v, a, rng.uniform(0.3, 1, n), np.arange(n).astype(str))


def _other_set(data, *, flip_valence: bool, seed=3):
    """Rows like `data`'s (fresh noise), songs named like `data`'s groups, labels optionally mirrored in valence."""
    from mer.study.emopia import Rows

    rng = np.random.default_rng(seed)
    n = len(data.y)
    X = data.X + 0.1 * rng.normal(size=data.X.shape)
    mirror = {"Q1": "Q2", "Q2": "Q1", "Q3": "Q4", "Q4": "Q3"}
    y = np.array([mirror[q] for q in data.y]) if flip_valence else data.y.copy()
    return Rows(X.astype(np.float32), y, (np.arange(n) // 2), np.array([f"e{i}" for i in range(n)]))


def _small_models():
    from mer.study.valence import AffectRegressor

    return (EmotionClassifier(k="all", C=(0.1, 1.0), inner_folds=2),
            AffectRegressor(k="all", alpha=(0.1, 10.0), inner_folds=2))


def _without(row: dict, key: str) -> dict:
    return {k: ({kk: vv for kk, vv in v.items() if kk != key} if isinstance(v, dict) else v) for k, v in row.items()}


def test_extra_rows_at_weight_zero_change_nothing_and_flipped_rows_flip_predictions():
    from mer.study.valence import paired_extra_rows, run_fold

    data = _known_structure()
    base, regressor = _small_models()
    folds = grouped_folds(data.y, data.groups, n_splits=3, seed=0)
    flipped = _other_set(data, flip_valence=True)
    kw = {"n_splits": 3, "repeats": 1, "seed": 0}
    zero = paired_extra_rows(data, flipped, folds, weight=0.0, **kw)
    heavy = paired_extra_rows(data, flipped, folds, weight=3.0, **kw)
    plain = run_fold(data, folds[0], base=base, regressor=regressor)
    at_zero = run_fold(data, folds[0], base=base, regressor=regressor, extra=zero[0])
    with_flipped = run_fold(data, folds[0], base=base, regressor=regressor, extra=heavy[0])
    # weight 0: bitwise the same figures, plus the EMOPIA-side accuracy of the 4Q-only classifiers
    assert _without(at_zero, "emopia") == plain
    assert {n for n, r in at_zero.items() if isinstance(r, dict) and "emopia" in r} == {
        "recipe", "recipe+agreement", "factorised"}
    assert at_zero["recipe"]["emopia"]["accuracy"] < 0.3  # mirrored labels: the 4Q-only model disagrees
    # mirrored valence labels weighted 3 : 1 pull every classifier (and the probability valence) over
    for name in ("recipe", "recipe+agreement", "factorised"):
        assert with_flipped[name]["classification"]["macro_f1"] < plain[name]["classification"]["macro_f1"] - 0.3
        assert with_flipped[name]["emopia"]["accuracy"] > 0.7
        assert with_flipped[name]["emopia"]["n_train"] == len(heavy[0].fold.train)
    assert with_flipped["recipe"]["valence"]["r"] < 0 < plain["recipe"]["valence"]["r"]
    # the ridge regressors never see the extra rows
    assert with_flipped["regression"] == plain["regression"]


class _Spy(EmotionClassifier):
    """Records what every fit (outer, factorised, inner blend-tuning) was given."""

    seen: ClassVar[list] = []

    def fit(self, X, y, groups=None, sample_weight=None):
        _Spy.seen.append((len(y), np.asarray(groups).copy(), None if sample_weight is None else sample_weight.copy()))
        return super().fit(X, y, groups=groups, sample_weight=sample_weight)


def test_every_classifier_fit_sees_the_extra_rows_with_separate_groups_and_their_weight():
    from mer.study.valence import paired_extra_rows, run_fold

    data = _known_structure()
    _, regressor = _small_models()
    spy = _Spy(k="all", C=(0.1, 1.0), inner_folds=2)
    folds = grouped_folds(data.y, data.groups, n_splits=3, seed=0)
    other = _other_set(data, flip_valence=False)
    extra = paired_extra_rows(data, other, folds, weight=0.25, n_splits=3, repeats=1, seed=0)[1]
    _Spy.seen = []
    run_fold(data, folds[1], base=spy, regressor=regressor, extra=extra)
    # recipe, recipe+agreement, 2 factorised heads, 2 inner blend-tuning folds
    assert len(_Spy.seen) == 6
    n_extra = len(extra.fold.train)
    for n, groups, w in _Spy.seen:
        is_extra = np.char.startswith(groups.astype(str), "emopia:")
        assert is_extra.sum() == n_extra and np.all(np.char.startswith(groups[~is_extra].astype(str), "4q:"))
        # the two sets use the same group names, yet no group holds rows of both
        assert not set(groups[is_extra]) & set(groups[~is_extra])
        assert np.all(w[is_extra] == 0.25)
    own = [w[: n - n_extra] for n, _, w in _Spy.seen]
    assert np.all(own[0] == 1.0)  # recipe
    np.testing.assert_array_equal(own[1], data.agreement[folds[1].train])  # recipe+agreement keeps its weights
    assert _Spy.seen[0][0] == len(folds[1].train) + n_extra


def test_extra_rows_pair_with_the_studys_own_folds_only():
    from mer.core.errors import MerError
    from mer.study.emopia import Rows
    from mer.study.valence import check_same_columns, paired_extra_rows

    data = _known_structure()
    other = _other_set(data, flip_valence=False)
    folds = grouped_folds(data.y, data.groups, n_splits=3, repeats=2, seed=0)
    extras = paired_extra_rows(data, other, folds, weight=0.25, n_splits=3, repeats=2, seed=0)
    assert len(extras) == len(folds)
    for f, e in zip(folds, extras):
        assert (e.fold.repeat, e.fold.fold) == (f.repeat, f.fold)
        assert not set(other.groups[e.fold.train]) & set(other.groups[e.fold.test])
    # the 4Q folds of the pairing must be the study's: another seed's folds are refused
    other_seed = grouped_folds(data.y, data.groups, n_splits=3, repeats=2, seed=1)
    with pytest.raises(ValueError, match="other 4Q folds"):
        paired_extra_rows(data, other, other_seed, weight=0.25, n_splits=3, repeats=2, seed=0)
    narrow = Rows(other.X[:, :5], other.y, other.groups, other.ids)
    with pytest.raises(MerError, match="emopia-midi.*10 columns"):
        check_same_columns(narrow, data, source="emopia-midi")
