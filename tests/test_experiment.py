"""`mer experiment`: the grid, its leakage guarantees, resumption, statistics and report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mer.study import experiment as E


@pytest.fixture(scope="module")
def syn_source(tmp_path_factory):
    """A tiny synthetic set rendered once for the module, and the cache root that holds it."""
    from mer.data import datasets

    cache = tmp_path_factory.mktemp("exp-cache")
    datasets.load("synthetic:n=6,duration=3.0", cache_dir=cache)
    return "synthetic:n=6,duration=3.0", cache


def test_paired_test_detects_a_consistent_difference():
    a = np.array([0.60, 0.62, 0.58, 0.61, 0.63])
    t = E.paired_test(a, a - np.array([0.05, 0.06, 0.04, 0.05, 0.07]))
    assert t["n"] == 5 and t["mean_diff"] == pytest.approx(0.054) and t["p_t"] < 0.001
    assert t["p_wilcoxon"] == pytest.approx(0.0625)  # the smallest two-sided p with 5 pairs
    assert E._verdict(t) == "supports" and E._verdict(t, expected_positive=False) == "contradicts"
    same = E.paired_test(a, a)
    assert same["p_t"] == 1.0 and E._verdict(same) == "no significant difference"


def test_subset_takes_whole_groups():
    from mer.data.datasets import Clip, Dataset

    clips = [Clip(f"{i}.wav", f"Q{1 + i % 4}", f"g{i // 3}", str(i)) for i in range(60)]
    sub = E.subset_per_label(Dataset("d", clips), 5, seed=1)
    counts = sub.counts()
    assert all(c >= 5 for c in counts.values()) and len(sub) < 60
    kept = {c.group for c in sub}
    assert all(c.group not in kept or c in sub.clips for c in clips)  # a group is all in or all out


def _run(src, cache, out, **kw):
    return E.run_experiment([src], out, models=["logreg", "gaussian_nb"], augment=(0, 1), folds=2, cache_dir=cache,
                            progress=False, **kw)


@pytest.mark.slow
def test_rerun_after_an_interruption_skips_finished_cells(syn_source, tmp_path, monkeypatch):
    src, cache = syn_source
    calls = []
    real = E.run_cell

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the third cell
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(E, "run_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(src, cache, tmp_path)
    done = sorted(p.name for p in (tmp_path / "cells").glob("*.json"))
    assert len(done) == 2 and not (tmp_path / "results.json").exists()
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "cells").glob("*.json")}

    calls.clear()
    monkeypatch.setattr(E, "run_cell", lambda *a, **k: (calls.append(a[1:3]), real(*a, **k))[1])
    res = _run(src, cache, tmp_path)
    assert res["complete"] and res["n_cells_skipped"] == 2 and res["n_cells_computed"] == 2
    assert len(calls) == 2 and calls[0] != (0, "logreg")  # the two finished cells were not run again
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())

    calls.clear()
    res = _run(src, cache, tmp_path)
    assert calls == [] and res["n_cells_skipped"] == 4
    # A changed setting (here the folds) makes a different cell: computed again, not read from the old file.
    res = E.run_experiment([src], tmp_path, models=["gaussian_nb"], augment=(0,), folds=3, cache_dir=cache,
                           progress=False)
    assert res["n_cells_computed"] == 1 and res["n_cells_skipped"] == 0


@pytest.mark.slow
def test_experiment_trains_on_copies_of_training_clips_only(syn_source, tmp_path, monkeypatch):
    from mer.workflows.augmented import AugmentedClassifier

    src, cache = syn_source
    seen = []
    real_fit = AugmentedClassifier.fit

    def spy(self, X, y, groups=None):
        real_fit(self, X, y, groups)
        seen.append((np.asarray(X).copy(), self.trained_sources_.copy(), self.n_copies, self.n_train_samples_))
        return self

    monkeypatch.setattr(AugmentedClassifier, "fit", spy)
    res = _run(src, cache, tmp_path)
    tests = [np.array(f["test_ids"]) for f in res["datasets"][0]["folds"]]
    ids = {c["cell"]: c for c in res["cells"]}
    assert len(seen) == 4 * 2  # 4 cells x 2 folds
    data = E.load_dataset(src, cache_dir=cache)
    all_ids = np.array([c.id for c in data.clips])
    for k, (X, sources, n_copies, n_samples) in enumerate(seen):
        test_ids = tests[k % 2]
        assert set(all_ids[sources]).isdisjoint(test_ids)  # no test clip, nor any copy of one, was trained on
        assert set(sources) <= set(X)
        assert n_samples == len(sources) == (1 + n_copies) * len(set(sources))
    assert all(f["n_train_samples"] == 2 * f["n_train_clips"] for f in ids[f"{res['datasets'][0]['tag']}__aug1__logreg"]["folds"])
    # every cell of the dataset used the same folds
    for c in res["cells"]:
        assert len(c["folds"]) == 2
        for f, test_ids in zip(sorted(c["folds"], key=lambda f: f["fold"]), tests):
            assert f["n_test"] == len(test_ids)
            assert set(c["predictions"]["0"]) >= set(test_ids)  # out-of-fold predictions of exactly these folds
    report = (tmp_path / "results.md").read_text()
    assert "## Findings" in report and "**" in report and "±" in report
    assert (tmp_path / "scores.png").stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text())["cells"][0]["folds"][0]["confusion"]


def test_findings_on_constructed_results():
    def cell(tag, a, m, accs):
        return {"dataset": tag, "n_copies": a, "model": m,
                "folds": [{"repeat": 0, "fold": i, "accuracy": v, "macro_f1": v} for i, v in enumerate(accs)]}

    base = np.array([0.40, 0.42, 0.38, 0.41, 0.39])
    bump = np.array([0.08, 0.09, 0.07, 0.08, 0.10])
    results = {"datasets": [{"tag": "d"}], "settings": {"models": ["rnn", "lstm", "logreg"]},
               "cells": [cell("d", 0, "rnn", base), cell("d", 3, "rnn", base + bump),
                         cell("d", 0, "lstm", base - bump), cell("d", 3, "lstm", base + 2 * bump),
                         cell("d", 0, "logreg", base - 0.01), cell("d", 3, "logreg", base)]}
    f1, f2, f3 = E.findings(results)
    assert f1["tests"][0]["verdict"] == "supports" and "2 of 2" in f1["summary"]
    small = [r for r in f2["tests"] if r["size"] == "small"][0]
    large = [r for r in f2["tests"] if r["size"] == "large"][0]
    assert small["verdict"] == "supports" and large["verdict"] == "supports"
    assert [r for r in f3["tests"] if r["size"] == "large"][0]["verdict"] == "supports"
    table = E.results_table(results | {"datasets": [{"tag": "d"}], "settings": {"models": ["rnn", "lstm", "logreg"],
                                                                                  "augment": [0, 3]}}, "accuracy")
    assert table.count("**") == 4  # one best per column, bold on both sides


def test_cli_experiment_runs_and_reuses(syn_source, tmp_path):
    from typer.testing import CliRunner

    from mer.apps.cli import app

    src, cache = syn_source
    args = ["experiment", "--data", src, "--out", str(tmp_path), "--models", "gaussian_nb", "--augment", "0",
            "--folds", "2", "--cache-dir", str(cache), "-q"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "1 cells computed" in first.output and (tmp_path / "results.md").is_file()
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0 and "0 cells computed, 1 reused" in second.output
    bad = CliRunner().invoke(app, args[:-1] + ["--models", "nope", "-q"])
    assert bad.exit_code == 1 and "unknown model" in bad.output


def test_train_with_augment_fits_the_final_model_on_copies(syn_source, tmp_path):
    from mer.data import datasets
    from mer.models import modelfile
    from mer.workflows.train import train

    src, cache = syn_source
    ds = datasets.load(src, cache_dir=cache)
    res = train(ds, "gaussian_nb", folds=2, cache_dir=cache, progress=False, augment=1)
    assert res.model.metadata["recipe"]["augment"] == 1
    assert len(res.cv.folds) == 2
    nb = res.model.estimator.pipeline_[-1]
    assert nb.class_count_.sum() == 2 * len(ds)  # every clip and its one copy
    path = modelfile.save(res.model, tmp_path / "m.mer")
    loaded = modelfile.load(path)
    from mer.workflows.train import load_features

    X = load_features(ds, cache_dir=cache, progress=False).X[:3]
    assert loaded.predict(X).shape == (3,)  # the saved model takes feature matrices, not bank indices
