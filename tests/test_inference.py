import numpy as np
import pytest

from mer.baselines import SummaryClassifier
from mer.errors import MerError
from mer.features import FeatureConfig
from mer.inference import load_model, predict_features, predict_files, valence_arousal
from mer.modelfile import TrainedModel


def test_valence_arousal_of_the_four_corners_and_the_centre():
    assert valence_arousal({"Q1": 1, "Q2": 0, "Q3": 0, "Q4": 0}) == (1, 1)
    assert valence_arousal({"Q2": 1.0}) == (-1, 1)
    assert valence_arousal({"Q3": 1.0}) == (-1, -1)
    assert valence_arousal({"Q4": 1.0}) == (1, -1)
    assert valence_arousal({q: 0.25 for q in ("Q1", "Q2", "Q3", "Q4")}) == (0, 0)
    v, a = valence_arousal({"Q1": 0.5, "Q2": 0.3, "Q3": 0.1, "Q4": 0.1})
    assert v == pytest.approx(0.2) and a == pytest.approx(0.6)


def test_a_missing_default_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("mer.inference.default_model_path", lambda: tmp_path / "gone.mer")
    with pytest.raises(MerError, match="gone.mer: the default model is missing"):
        load_model(None)


@pytest.fixture(scope="module")
def tiny_model(synthetic_features):
    _, _, f = synthetic_features
    est = SummaryClassifier("logreg").fit(f.X, f.y)
    return TrainedModel(est, "logreg", FeatureConfig())


def test_predict_features_gives_consistent_predictions(tiny_model, synthetic_features):
    _, ds, f = synthetic_features
    preds = predict_features(tiny_model, f.X[:6], ds.paths[:6])
    assert len(preds) == 6
    for p in preds:
        assert set(p.probabilities) == {"Q1", "Q2", "Q3", "Q4"}
        assert sum(p.probabilities.values()) == pytest.approx(1.0)
        assert p.quadrant == max(p.probabilities, key=p.probabilities.get)
        assert (p.valence, p.arousal) == pytest.approx(valence_arousal(p.probabilities))
        assert set(p.to_dict()) == {"path", "quadrant", "probabilities", "valence", "arousal"}


def test_predict_files_skips_and_reports_bad_files(tiny_model, synthetic_features, tmp_path):
    cache, ds, _ = synthetic_features
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    preds, failures = predict_files(tiny_model, [ds.paths[0], bad, tmp_path / "missing.mp3"], cache_dir=cache,
                                    progress=False)
    assert [p.path for p in preds] == [ds.paths[0]]
    assert [f[0].name for f in failures] == ["broken.wav", "missing.mp3"]
    assert all(str(f[0]) in f[1] for f in failures)  # each reason names its file


@pytest.mark.slow
@pytest.mark.real_data
def test_predict_on_a_real_4q_clip(tiny_model, fourq_dir):
    clip = sorted((fourq_dir / "Q1").glob("*.mp3"))[0]
    preds, failures = predict_files(tiny_model, [clip], progress=False)
    assert not failures and len(preds) == 1
    p = preds[0]
    assert p.quadrant in ("Q1", "Q2", "Q3", "Q4") and -1 <= p.valence <= 1 and -1 <= p.arousal <= 1
