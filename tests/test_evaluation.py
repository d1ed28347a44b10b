import numpy as np
import pytest

from mer.core.errors import MerError
from mer.eval.cv import Subset, cross_validate
from mer.eval.metrics import classification_metrics
from mer.eval.splits import grouped_folds, grouped_holdout
from mer.models.sequence import SequenceClassifier


def test_grouped_folds_never_share_a_group_over_random_groupings():
    rng = np.random.default_rng(0)
    for trial in range(25):
        n = int(rng.integers(40, 120))
        groups = rng.integers(0, int(rng.integers(10, 40)), size=n)
        y = rng.integers(0, 4, size=n)
        n_splits = int(rng.integers(2, 6))
        folds = grouped_folds(y, groups, n_splits=n_splits, repeats=2, seed=trial)
        assert len(folds) == 2 * n_splits
        for r in range(2):
            tests = np.concatenate([f.test for f in folds if f.repeat == r])
            assert np.array_equal(np.sort(tests), np.arange(n))  # test sets partition the data
        for f in folds:
            assert not set(groups[f.train]) & set(groups[f.test])
            assert len(np.intersect1d(f.train, f.test)) == 0


def test_repeats_shuffle_differently_and_are_stratified():
    y = np.repeat(np.arange(4), 50)
    groups = np.arange(200) // 2
    folds = grouped_folds(y, groups, n_splits=5, repeats=2, seed=0)
    first = [tuple(f.test) for f in folds if f.repeat == 0]
    second = [tuple(f.test) for f in folds if f.repeat == 1]
    assert set(first) != set(second)
    for f in folds:  # each class about a fifth of the clips in every test fold
        counts = np.bincount(y[f.test], minlength=4)
        assert counts.min() >= 8 and counts.max() <= 12


def test_too_few_groups_is_a_clear_error():
    with pytest.raises(MerError, match="3 group"):
        grouped_folds([0, 1, 0, 1, 0, 1], [0, 0, 1, 1, 2, 2], n_splits=5)


def test_grouped_holdout_is_disjoint_and_about_the_fraction():
    y = np.repeat(np.arange(4), 30)
    groups = np.arange(120) // 3
    tr, va = grouped_holdout(y, groups, fraction=0.2, seed=1)
    assert not set(groups[tr]) & set(groups[va])
    assert 18 <= len(va) <= 30 and len(tr) + len(va) == 120
    tr, va = grouped_holdout(y, np.zeros(120), fraction=0.2)  # one group: nothing to hold out
    assert len(va) == 0 and len(tr) == 120


def test_classification_metrics_by_hand():
    y_true = ["Q1", "Q1", "Q2", "Q3", "Q4", "Q4"]
    y_pred = ["Q1", "Q2", "Q2", "Q3", "Q3", "Q4"]
    m = classification_metrics(y_true, y_pred, ["Q1", "Q2", "Q3", "Q4"])
    assert m["n"] == 6 and m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]
    assert m["per_class"]["Q1"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["per_class"]["Q2"]["precision"] == 0.5 and m["per_class"]["Q2"]["recall"] == 1.0
    assert m["macro_f1"] == pytest.approx(np.mean([2 / 3, 2 / 3, 2 / 3, 2 / 3]))
    assert m["macro_f1_labels"] == ["Q1", "Q2", "Q3", "Q4"]


def test_macro_f1_is_over_the_labels_present_in_the_ground_truth():
    y = ["Q1", "Q1", "Q2", "Q3", "Q3", "Q3"]
    m = classification_metrics(y, y, ["Q1", "Q2", "Q3", "Q4"])  # perfect, Q4 absent from the data
    assert m["macro_f1"] == 1.0 and m["macro_f1_labels"] == ["Q1", "Q2", "Q3"]
    assert list(m["per_class"]) == ["Q1", "Q2", "Q3", "Q4"] and m["per_class"]["Q4"]["support"] == 0
    # predicting the absent class still costs: the recall of the true class drops
    m = classification_metrics(y, ["Q1", "Q1", "Q2", "Q3", "Q3", "Q4"], ["Q1", "Q2", "Q3", "Q4"])
    assert m["macro_f1_labels"] == ["Q1", "Q2", "Q3"]
    assert m["macro_f1"] == pytest.approx(np.mean([1.0, 1.0, 0.8]))  # Q3: P 1, R 2/3 -> F1 0.8


def test_subset_is_a_lazy_view():
    data = [np.full((2, 3), i) for i in range(10)]
    s = Subset(data, [7, 2, 5])
    assert len(s) == 3 and s[0][0, 0] == 7 and s[-1][0, 0] == 5
    assert [x[0, 0] for x in s[1:]] == [2, 5]


def test_standardisation_is_fitted_inside_the_training_folds_only():
    # The test fold's clips carry a large offset; a standardiser that saw them would
    # move its mean far from 0.
    rng = np.random.default_rng(0)
    n = 24
    y = np.array(["Q1", "Q2", "Q3", "Q4"] * 6)
    groups = np.arange(n) // 2
    fold = grouped_folds(y, groups, n_splits=3, seed=0)[0]
    X = [rng.normal(size=(204, 16)).astype(np.float32) for _ in range(n)]
    for i in fold.test:
        X[i] += 1000.0
    est = SequenceClassifier(arch="rnn", epochs=1, mel_db=False, pool=1, val_fraction=0, progress=False)
    cv = cross_validate(est, X, y, groups, folds=[fold], progress=False, return_estimators=True)
    mean = cv.estimators[0].preprocessor_.standardizer_.mean_
    assert np.abs(mean).max() < 1.0
    assert cv.folds[0]["n_test"] == len(fold.test) and cv.predictions.shape == (1, n)


def test_cross_validate_summary_has_mean_and_std(synthetic_features):
    from mer.models.baselines import SummaryClassifier

    _, _, f = synthetic_features
    cv = cross_validate(SummaryClassifier("logreg"), f.X, f.y, f.groups, n_splits=3, progress=False)
    s = cv.summary()
    assert len(cv.folds) == 3 and s["labels"] == ["Q1", "Q2", "Q3", "Q4"]
    assert s["accuracy_mean"] == pytest.approx(np.mean([x["accuracy"] for x in cv.folds]))
    assert s["macro_f1_std"] == pytest.approx(np.std([x["macro_f1"] for x in cv.folds]))
    assert np.sum(s["confusion"]) == len(f.y)
    assert s["accuracy_mean"] > 0.5  # chance is 0.25; the synthetic quadrants are learnable
    # pooled per-class scores equal sklearn's on all out-of-fold predictions at once
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f1, support = precision_recall_fscore_support(f.y, cv.predictions[0], labels=cv.labels, zero_division=0)
    pooled = cv.pooled_per_class()
    np.testing.assert_allclose([pooled[q]["f1"] for q in cv.labels], f1)
    np.testing.assert_allclose([pooled[q]["precision"] for q in cv.labels], p)
    assert [pooled[q]["support"] for q in cv.labels] == support.tolist()


def test_nested_progress_bars_share_one_display():
    from mer.core.progress import _active, progress_bar

    with progress_bar("folds", total=2) as outer:
        with progress_bar("epochs", total=3) as inner:  # Rich allows one live display: this must not raise
            inner()
            assert len(_active) == 1 and len(_active[0].tasks) == 2
        assert len(_active[0].tasks) == 1  # the inner line is removed when done
        outer()
    assert _active == []


def test_corrected_paired_test_widens_the_interval_by_the_nadeau_bengio_factor():
    from scipy import stats as sps

    from mer.eval.stats import corrected_paired_test, paired_test

    rng = np.random.default_rng(0)
    b = rng.uniform(0.7, 0.8, 15)
    a = b + rng.normal(0.0, 0.02, 15)
    d = a - b
    out = corrected_paired_test(a, b, test_fraction=0.2)
    se = np.sqrt(d.var(ddof=1) * (1 / 15 + 0.25))  # by hand: var * (1/J + n_test/n_train)
    assert out["se"] == pytest.approx(se, rel=1e-12)
    assert out["mean_diff"] == pytest.approx(d.mean(), abs=1e-15)
    half = sps.t.ppf(0.975, 14) * se
    assert out["ci"] == pytest.approx([d.mean() - half, d.mean() + half], rel=1e-12)
    plain = paired_test(a, b)
    assert out["p"] > plain["p_t"]  # the plain test is overconfident about correlated folds
    # the same differences in a larger test share give a wider interval
    wider = corrected_paired_test(a, b, test_fraction=0.5)
    assert wider["ci"][1] - wider["ci"][0] > out["ci"][1] - out["ci"][0]
    with pytest.raises(ValueError, match="test_fraction"):
        corrected_paired_test(a, b, test_fraction=1.0)


def test_non_inferiority_reads_the_interval_not_the_p_value():
    from mer.eval.stats import corrected_paired_test
    from mer.study.emopia import NON_INFERIORITY_MARGIN, non_inferior

    rng = np.random.default_rng(1)
    ref = rng.uniform(0.7, 0.8, 15)
    noisy = ref + rng.normal(0.0, 0.03, 15)
    noisy -= (noisy - ref).mean()  # mean difference exactly 0: a plain p of 1
    tight = ref + rng.normal(0.0, 0.002, 15)
    assert not non_inferior(corrected_paired_test(noisy, ref, test_fraction=0.2))
    assert non_inferior(corrected_paired_test(tight, ref, test_fraction=0.2))
    assert NON_INFERIORITY_MARGIN > 0
