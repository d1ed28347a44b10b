"""Tag-derived valence / arousal targets, regression metrics and the valence study's variants."""

from __future__ import annotations

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
