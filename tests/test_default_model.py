"""The model shipped in the package: loads offline, predicts on real audio, tells where it came from."""

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from mer.models import modelfile
from mer.apps.cli import app
from mer.workflows.predict import default_model_path, load_model, predict_files
from mer.features.blocks import DEFAULT_BLOCKS
from mer.models.recipe import EmotionClassifier
from mer.audio.synth import generate_clip

runner = CliRunner()


def test_default_model_is_shipped_small_and_self_describing():
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 3_000_000
    model = load_model()
    assert model.kind == "recipe" and model.labels == ("Q1", "Q2", "Q3", "Q4")
    # the classifier's blocks, then the listener-rated heads' block (mer.study.listener)
    assert [name for name, _ in model.inputs] == [name for name, _ in DEFAULT_BLOCKS] + ["listener_dense"]
    assert "research-only" in model.metadata["data_licence"]
    assert "artist-grouped" in model.metadata["cv"]["protocol"]


def test_recipe_model_round_trip_gives_identical_probabilities(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 30))
    y = np.array(["Q1", "Q2", "Q3", "Q4"] * 10)
    X[:, 0] += np.repeat(np.arange(4)[None], 10, axis=0).ravel()
    est = EmotionClassifier(k=(5, 10), C=(0.1, 1.0), inner_folds=2).fit(X, y, np.arange(40) // 2)
    model = modelfile.TrainedModel(est, "recipe-test", inputs=list(DEFAULT_BLOCKS), metadata={"n_clips": 40})
    path = modelfile.save(model, tmp_path / "r.mer")
    back = modelfile.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    assert back.inputs == model.inputs and back.estimator.best_params_ == est.best_params_


def test_default_model_predicts_a_synthetic_clip(tmp_path):
    wav = tmp_path / "calm.wav"
    sf.write(str(wav), generate_clip("Q4", seed=12345, duration=6.0), 22050)
    preds, failures = predict_files(load_model(), [wav, tmp_path / "missing.wav"], progress=False)
    assert len(preds) == 1 and len(failures) == 1 and "missing.wav" in failures[0][1]
    p = preds[0]
    assert abs(sum(p.probabilities.values()) - 1) < 1e-6 and p.quadrant in ("Q1", "Q2", "Q3", "Q4")
    assert -1 <= p.valence <= 1 and -1 <= p.arousal <= 1


@pytest.mark.real_data
def test_cli_predict_without_model_on_real_mp3s(fourq_dir):
    files = [sorted((fourq_dir / q).glob("*.mp3"))[0] for q in ("Q2", "Q4")]
    r = runner.invoke(app, ["predict", *map(str, files), "--format", "json", "-q"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [o["path"] for o in out] == [str(f) for f in files]
    for o in out:
        assert set(o["probabilities"]) == {"Q1", "Q2", "Q3", "Q4"} and {"valence", "arousal", "quadrant"} <= set(o)


def test_cli_model_info_prints_the_card():
    r = runner.invoke(app, ["model-info"])
    assert r.exit_code == 0, r.output
    assert "research-only" in r.output and "CV macro F1" in r.output and "4Q" in r.output
    assert "540 content hashes" in r.output


def test_a_foreign_file_is_refused_as_a_model(tmp_path):
    bad = tmp_path / "x.mer"
    bad.write_bytes(b"not a model")
    r = runner.invoke(app, ["model-info", str(bad)])
    assert r.exit_code == 1 and "not a mer model file" in r.output


def test_the_card_lists_the_training_clips_by_content():
    hashes = modelfile.read_manifest(default_model_path())["metadata"][modelfile.TRAINING_HASHES]
    assert len(hashes) == 540 == len(set(hashes)) and hashes == sorted(hashes)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)


@pytest.mark.real_data
def test_the_card_hashes_are_the_4q_dev_clips(fourq_dir):
    from mer.core.cache import file_digest

    hashes = set(modelfile.read_manifest(default_model_path())["metadata"][modelfile.TRAINING_HASHES])
    clips = sorted(fourq_dir.glob("Q*/*.mp3"))
    assert len(clips) == 540 and {file_digest(p) for p in clips} == hashes


def test_update_metadata_rewrites_only_the_manifest(tmp_path):
    import shutil
    import zipfile

    path = shutil.copy(default_model_path(), tmp_path / "m.mer")
    with zipfile.ZipFile(path) as z:
        before = {i.filename: (z.read(i.filename), i.date_time, i.compress_type) for i in z.infolist()}
    manifest = modelfile.update_metadata(path, {"note": "added later"})
    assert manifest["metadata"]["note"] == "added later"
    with zipfile.ZipFile(path) as z:
        after = {i.filename: (z.read(i.filename), i.date_time, i.compress_type) for i in z.infolist()}
    assert list(after) == list(before)
    assert all(after[k] == before[k] for k in before if k != "manifest.json")
    assert modelfile.read_manifest(path)["metadata"]["note"] == "added later"
    back, orig = modelfile.load(path), load_model()
    X = np.random.default_rng(0).normal(size=(3, orig.affect.n_inputs))
    np.testing.assert_array_equal(back.predict_proba(X), orig.predict_proba(X))
    assert [n for n, _ in back.inputs] == [n for n, _ in orig.inputs]
    assert not list(tmp_path.glob(".*part"))  # the atomic write left no temporary behind


@pytest.mark.slow
@pytest.mark.real_data
def test_evaluate_on_training_clips_warns(fourq_dir, tmp_path):
    clips = [sorted((fourq_dir / q).glob("*.mp3"))[0] for q in ("Q1", "Q3")]
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "".join(f"{p},{p.parent.name}\n" for p in clips))
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["evaluate", "--data", str(manifest), "--json", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "2 of the 2 evaluated clips are in recipe-descriptors-musicnn's training data" in r.stderr
    m = json.loads(out.read_text())
    assert m["n_in_training"] == 2 and m["macro_f1_labels"] == ["Q1", "Q3"]


@pytest.mark.slow
def test_cli_predict_silence_gives_no_quadrant(tmp_path):
    wav = tmp_path / "silence.wav"
    sf.write(str(wav), np.zeros(30 * 22050, np.float32), 22050)
    r = runner.invoke(app, ["predict", str(wav), "--format", "json", "-q"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert row["flags"] == ["silent"] and row["quadrant"] is None and row["probabilities"] is None
    assert row["quality"]["silent_fraction"] == 1.0 and row["quality"]["duration_s"] == 30.0


def test_the_shipped_model_loads_under_the_current_seed_name_and_predicts_as_stored(tmp_path):
    """The shipped model's recipes load under the current parameter names (`random_state`, formerly `seed`),
    its plain-array probabilities equal its rebuilt scikit-learn experts', and saving it again keeps both."""
    stored = modelfile.read_manifest(default_model_path())["estimator"]["params"]
    seed = stored.get("seed", stored.get("random_state"))
    model = load_model()
    experts = [getattr(model.estimator, role + "_") for role in ("general", "specialist", "gate")]
    for est in experts:
        assert est.get_params()["random_state"] == seed and "seed" not in est.get_params()
    X = np.random.default_rng(1).normal(size=(5, experts[0].pipeline_.n_features_in_))
    np.testing.assert_allclose(model.predict_proba(X), model.estimator.predict_proba(X), rtol=1e-12, atol=1e-15)
    again = modelfile.load(modelfile.save(model, tmp_path / "again.mer"))
    assert modelfile.read_manifest(tmp_path / "again.mer")["estimator"]["params"]["random_state"] == seed
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
