"""The model shipped in the package: loads offline, predicts on real audio, tells where it came from."""

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from mer import modelfile
from mer.cli import app
from mer.inference import default_model_path, load_model, predict_files
from mer.recipes import DEFAULT_BLOCKS, EmotionClassifier
from mer.synthetic import generate_clip

runner = CliRunner()


def test_default_model_is_shipped_small_and_self_describing():
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 3_000_000
    model = load_model()
    assert model.kind == "recipe" and model.labels == ("Q1", "Q2", "Q3", "Q4")
    assert [name for name, _ in model.inputs] == [name for name, _ in DEFAULT_BLOCKS]
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
    assert "research-only" in r.output and "macro_f1" in r.output and "4Q" in r.output


def test_a_foreign_file_is_refused_as_a_model(tmp_path):
    bad = tmp_path / "x.mer"
    bad.write_bytes(b"not a model")
    r = runner.invoke(app, ["model-info", str(bad)])
    assert r.exit_code == 1 and "not a mer model file" in r.output
