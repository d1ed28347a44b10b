"""The EMOPIA study (mer.study.emopia): subset choice, paired grouped folds, settings, per-split metrics."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mer.core.labels import QUADRANTS
from mer.eval.splits import Fold
from mer.models.recipe import EmotionClassifier
from mer.study import emopia as study


def _fake_emopia(root, songs_per_quadrant=6, clips_per_song=3):
    """Empty files named like EMOPIA clips (the index only reads names); one song spans two quadrants."""
    root.mkdir()
    for q in range(1, 5):
        for s in range(songs_per_quadrant):
            for n in range(clips_per_song):
                (root / f"Q{q}_song{q}{s}_{n}.mid").write_bytes(b"")
    (root / "Q2_song10_7.mid").write_bytes(b"")  # song10 is mostly Q1
    return root


def test_choose_emopia_is_balanced_song_capped_and_seeded(tmp_path):
    from mer.data.emopia import emopia_index

    index = emopia_index(_fake_emopia(tmp_path / "emopia"))
    ds = study.choose_emopia(index, per_quadrant=5, per_song=2, seed=0)
    assert Counter(c.label for c in ds.clips) == {q: 5 for q in QUADRANTS}
    assert max(Counter(c.group for c in ds.clips).values()) <= 2
    assert [c.id for c in ds.clips] == [c.id for c in study.choose_emopia(index, per_quadrant=5, per_song=2, seed=0).clips]
    assert [c.id for c in ds.clips] != [c.id for c in study.choose_emopia(index, per_quadrant=5, per_song=2, seed=1).clips]
    with pytest.raises(ValueError, match="per_song"):
        study.choose_emopia(index, per_quadrant=5, per_song=0)


def _domain_rows(n_groups, per_group, signal_cols, seed, prefix):
    """Rows whose quadrant shows only in `signal_cols` (4 columns, one per quadrant); 12 columns in all."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    y = np.array([QUADRANTS[g % 4] for g in range(n_groups) for _ in range(per_group)])
    X = rng.normal(size=(n, 12))
    X[np.arange(n), [signal_cols[QUADRANTS.index(q)] for q in y]] += 3.0
    groups = np.repeat([f"{prefix}{g}" for g in range(n_groups)], per_group)
    return study.Rows(X, y, groups, np.array([f"{prefix}{i}" for i in range(n)]))


@pytest.fixture(scope="module")
def two_domains():
    # 4Q's quadrants live in columns 0-3, EMOPIA's in columns 4-7: a model trained on 4Q alone
    # cannot read EMOPIA, one trained on EMOPIA rows can
    return (_domain_rows(40, 3, [0, 1, 2, 3], 0, "artist"), _domain_rows(40, 2, [4, 5, 6, 7], 1, "song"))


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_cv_scores_each_setting_on_the_right_split(two_domains):
    fourq, emo = two_domains
    pairs = study.paired_folds(fourq, emo, folds=4, repeats=1, seed=0)
    assert len(pairs) == 4
    for f4, fe in pairs:
        assert not set(fourq.groups[f4.train]) & set(fourq.groups[f4.test])
        assert not set(emo.groups[fe.train]) & set(emo.groups[fe.test])
    setting_list = study.settings([0.5])
    assert [s[0] for s in setting_list] == ["4q", "4q+emopia", "4q+emopia w=0.5", "emopia"]
    res = study.cross_validate(fourq, emo, pairs, setting_list=setting_list,
                               estimator=EmotionClassifier(k="all", C=1.0), progress=False)
    for r, (f4, fe) in zip(res, pairs):
        assert (r["n_test_4q"], r["n_test_emopia"]) == (len(f4.test), len(fe.test))
        assert r["4q"]["n_train"] == len(f4.train)
        assert r["emopia"]["n_train"] == len(fe.train)
        assert r["4q+emopia"]["n_train"] == len(f4.train) + len(fe.train)
        assert np.sum(r["4q"]["confusion_emopia"]) == len(fe.test)
    summary = study.summarise(res, setting_list)
    # chance is 0.25; the signal (3 sd) makes the in-domain quadrant obvious
    assert summary["4q"]["f1_4q"]["mean"] > 0.8
    assert summary["4q"]["acc_emopia"]["mean"] < 0.5
    assert summary["emopia"]["acc_emopia"]["mean"] > 0.8
    assert summary["emopia"]["f1_4q"]["mean"] < 0.5
    # measured 0.75 and 0.83: one linear model serves both domains, a little worse than either alone
    assert summary["4q+emopia"]["acc_emopia"]["mean"] > 0.6 and summary["4q+emopia"]["f1_4q"]["mean"] > 0.7
    t = summary["4q+emopia"]["acc_emopia"]["vs_4q"]
    assert t["n"] == 4 and t["mean_diff"] > 0.3
    assert "vs_4q" not in summary["4q"]["f1_4q"]
    text = study.cv_table(summary)
    assert "4q+emopia w=0.5" in text and len(text.splitlines()) == 1 + len(setting_list)
    # the 4Q-only model cannot tell EMOPIA's quadrants apart: not on either axis
    assert summary["4q"]["arousal_acc_emopia"]["mean"] < 0.75 < summary["emopia"]["arousal_acc_emopia"]["mean"]
    assert len(study.emopia_table(summary).splitlines()) == 1 + len(setting_list)


def test_training_rows_weights_and_leak_check(two_domains):
    fourq, emo = two_domains
    f4, fe = study.paired_folds(fourq, emo, folds=4, repeats=1, seed=0)[0]
    X, _y, g, w = study.training_rows(fourq, emo, f4, fe, 1.0, 0.5)
    assert X.shape == (len(f4.train) + len(fe.train), 12)
    np.testing.assert_array_equal(w, np.r_[np.ones(len(f4.train)), np.full(len(fe.train), 0.5)])
    assert all(s.startswith("4q:") for s in g[: len(f4.train)]) and all(s.startswith("emopia:") for s in g[len(f4.train):])
    assert study.training_rows(fourq, emo, f4, fe, 1.0, 0.0)[3] is None  # one set, equal weights: none passed
    leaky = Fold(0, 0, np.arange(0, 60), np.arange(58, 80))  # rows 58 and 59 (one song) on both sides
    with pytest.raises(AssertionError, match="both sides"):
        study.training_rows(fourq, emo, f4, leaky, 1.0, 1.0)
    with pytest.raises(ValueError, match="at least one"):
        study.training_rows(fourq, emo, f4, fe, 0.0, 0.0)


@pytest.mark.real_data
@pytest.mark.slow
def test_real_emopia_rows_match_the_shipped_model():
    from tests.conftest import EMOPIA

    if not any(EMOPIA.glob("Q1_*.mid")):
        pytest.skip(f"EMOPIA MIDI not found at {EMOPIA}")
    from mer.workflows.predict import load_model

    model = load_model(None)
    rows, preds, problems = study.emopia_rows(EMOPIA, model, per_quadrant=1, per_song=1, seed=0, progress=False)
    assert problems == []
    assert sorted(rows.y) == list(QUADRANTS) and len(set(rows.groups)) == 4
    assert all(i.startswith(q + "_") for i, q in zip(rows.ids, rows.y))
    assert rows.X.shape == (4, 1232) and np.isfinite(rows.X).all()
    report = study.shipped_report(preds, rows.y)
    assert report["n"] == 4 and np.sum(report["confusion"]) == 4
    for va in report["va_by_quadrant"].values():
        assert va["n"] == 1 and -1.0 <= va["valence"] <= 1.0 and -1.0 <= va["arousal"] <= 1.0


def test_axis_accuracy_counts_the_sides_of_each_axis():
    # rows true, columns predicted, Q1..Q4; 31 clips
    c = [[5, 3, 0, 0], [1, 4, 0, 2], [0, 0, 6, 1], [2, 0, 3, 4]]
    got = study.axis_accuracy(c, suffix="_x")
    # arousal: Q1/Q2 rows in Q1/Q2 columns (13) + Q3/Q4 rows in Q3/Q4 columns (14)
    # valence: Q1/Q4 rows in Q1/Q4 columns (11) + Q2/Q3 rows in Q2/Q3 columns (10)
    assert got == pytest.approx({"arousal_acc_x": 27 / 31, "valence_acc_x": 21 / 31}, abs=1e-12)
    with pytest.raises(ValueError, match="4 x 4"):
        study.axis_accuracy(np.zeros((4, 4)))


def test_command_refuses_a_folder_without_emopia_files(tmp_path, capsys):
    (tmp_path / "notes.mid").write_bytes(b"")
    assert study.main(["--emopia", str(tmp_path), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no EMOPIA MIDI files" in err and str(tmp_path) in err
    assert len(err.splitlines()) == 1


def test_ship_model_writes_a_loadable_model_with_the_base_head_and_new_card(tmp_path):
    """ship_model: the base model's inputs and valence / arousal head, the fitted 4Q + EMOPIA recipe, the new card."""
    from mer.models.modelfile import default_model_path, load

    base = load(default_model_path()).without_listener()  # the study's rows are the classifier's inputs
    width = base.affect.n_columns
    fourq, emo = (_domain_rows(40, 3, [0, 1, 2, 3], 0, "artist"), _domain_rows(40, 2, [4, 5, 6, 7], 1, "song"))
    rng = np.random.default_rng(5)
    fourq, emo = (study.Rows(np.hstack([r.X, rng.normal(size=(len(r.y), width - 12))]), r.y, r.groups, r.ids)
                  for r in (fourq, emo))
    stat = {"mean": 0.7, "std": 0.01}
    summary = {name: {"f1_4q": stat, "acc_emopia": stat, "f1_emopia": stat,
                      "f1_4q_per_quadrant": dict.fromkeys(QUADRANTS, 0.7)} for name in ("4q", "4q+emopia w=0.25")}
    with pytest.raises(ValueError, match="--weights 0.5"):
        study.ship_model(tmp_path / "x.mer", base, fourq, emo, weight=0.5, summary=summary, command="c")
    path = study.ship_model(tmp_path / "m.mer", base, fourq, emo, weight=0.25, summary=summary, command="cmd")
    shipped = load(path)
    assert shipped.inputs == base.inputs and shipped.metadata["n_clips"] == len(fourq.y) + len(emo.y)
    assert "EMOPIA rows weighted 0.25" in shipped.metadata["data"] and shipped.metadata["reproduce"] == "cmd"
    assert shipped.metadata["training_sha256"] == base.metadata["training_sha256"]
    np.testing.assert_array_equal(shipped.affect.regress(fourq.X[:5]), base.affect.regress(fourq.X[:5]))
    # the EMOPIA rows took part in the fit: the model reads the EMOPIA columns
    assert (shipped.predict(emo.X) == emo.y).mean() > 0.9
    assert (load(default_model_path()).predict(emo.X) == base.predict(emo.X)).all()  # the base file is untouched


def _with_windows(rows, per_clip, seed):
    """`rows` plus `per_clip` noisy copies of each clip's row as its windows."""
    rng = np.random.default_rng(seed)
    win_clip = np.repeat(np.arange(len(rows.y)), per_clip)
    X_win = rows.X[win_clip] + rng.normal(scale=0.5, size=(len(win_clip), rows.X.shape[1]))
    return study.Rows(rows.X, rows.y, rows.groups, rows.ids, X_win, win_clip)


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_window_level_fits_on_the_training_clips_windows_and_scores_clips_by_their_mean(two_domains):
    fourq, emo = (_with_windows(r, n, s) for r, n, s in zip(two_domains, (3, 4), (2, 3)))
    f4, fe = study.paired_folds(fourq, emo, folds=4, repeats=1, seed=0)[0]
    X, y, g, w = study.training_rows(fourq, emo, f4, fe, 1.0, 0.5, level="windows")
    assert len(y) == 3 * len(f4.train) + 4 * len(fe.train)
    np.testing.assert_array_equal(w, np.r_[np.ones(3 * len(f4.train)), np.full(4 * len(fe.train), 0.5)])
    # every window row is one of a training clip's windows, with that clip's label and group
    train_windows = np.flatnonzero(np.isin(fourq.win_clip, f4.train))
    np.testing.assert_array_equal(X[: len(train_windows)], fourq.X_win[train_windows])
    np.testing.assert_array_equal(y[: len(train_windows)], fourq.y[fourq.win_clip[train_windows]])
    assert set(g[: len(train_windows)]) == {f"4q:{a}" for a in fourq.groups[f4.train]}

    model = EmotionClassifier(k="all", C=1.0).fit(X, y, groups=g, sample_weight=w)
    pred = fourq.predict(model, f4.test, level="windows")
    P = model.predict_proba(fourq.X_win)
    by_hand = [model.classes_[P[fourq.win_clip == c].mean(axis=0).argmax()] for c in f4.test]
    np.testing.assert_array_equal(pred, by_hand)

    res = study.cross_validate(fourq, emo, study.paired_folds(fourq, emo, folds=4, repeats=1, seed=0),
                               setting_list=study.settings([0.5]), estimator=EmotionClassifier(k="all", C=1.0),
                               level="windows", progress=False)
    summary = study.summarise(res, study.settings([0.5]))
    assert summary["4q"]["f1_4q"]["mean"] > 0.8 and summary["4q"]["acc_emopia"]["mean"] < 0.5
    assert summary["4q+emopia"]["acc_emopia"]["mean"] > 0.6
    assert res[0]["4q"]["n_train"] == 3 * len(f4.train)


def test_rows_refuse_windows_without_their_clips(two_domains):
    fourq = two_domains[0]
    with pytest.raises(ValueError, match="one clip index"):
        study.Rows(fourq.X, fourq.y, fourq.groups, fourq.ids, fourq.X, None)
    with pytest.raises(ValueError, match="one clip index"):
        study.Rows(fourq.X, fourq.y, fourq.groups, fourq.ids, fourq.X, np.zeros(3, int))
    with pytest.raises(ValueError, match="without windows"):
        fourq.training(np.arange(3), level="windows")


def test_ship_window_model_keeps_the_window_models_card_and_head(tmp_path):
    from mer.models.modelfile import load
    from mer.workflows.timeline import load_timeline_model

    base = load_timeline_model().without_listener()
    width = base.affect.n_columns
    rng = np.random.default_rng(6)
    fourq, emo = (_domain_rows(40, 3, [0, 1, 2, 3], 0, "artist"), _domain_rows(40, 2, [4, 5, 6, 7], 1, "song"))
    fourq, emo = (_with_windows(study.Rows(np.hstack([r.X, rng.normal(size=(len(r.y), width - 12))]), r.y, r.groups,
                                           r.ids), 3, s) for r, s in ((fourq, 7), (emo, 8)))
    stat = {"mean": 0.7, "std": 0.01}
    summary = {name: {"f1_4q": stat, "acc_emopia": stat, "f1_emopia": stat,
                      "f1_4q_per_quadrant": dict.fromkeys(QUADRANTS, 0.7)} for name in ("4q", "4q+emopia w=0.25")}
    shipped = load(study.ship_model(tmp_path / "w.mer", base, fourq, emo, weight=0.25, summary=summary,
                                    command="cmd", level="windows"))
    assert shipped.metadata["timeline_defaults"] == base.metadata["timeline_defaults"]
    assert "trained on windows" in shipped.metadata["recipe"] and "--level windows" in shipped.metadata["cv"]["protocol"]
    assert f"{len(fourq.X_win)} + {len(emo.X_win)} windows" in shipped.metadata["data"]
    assert "EMOPIA" in shipped.metadata["data_licence"] and "research-only" in shipped.metadata["data_licence"]
    np.testing.assert_array_equal(shipped.affect.regress(fourq.X[:5]), base.affect.regress(fourq.X[:5]))
    assert (shipped.predict(emo.X_win) == emo.y[emo.win_clip]).mean() > 0.9
