import numpy as np
import pytest
import soundfile as sf

from mer.models.baselines import SummaryClassifier
from mer.core.errors import MerError
from mer.features.paper import FeatureConfig
from mer.core.labels import valence_arousal
from mer.workflows.predict import audio_files, load_model, predict_features, predict_files
from mer.models.modelfile import TrainedModel


def test_valence_arousal_of_the_four_corners_and_the_centre():
    assert valence_arousal({"Q1": 1, "Q2": 0, "Q3": 0, "Q4": 0}) == (1, 1)
    assert valence_arousal({"Q2": 1.0}) == (-1, 1)
    assert valence_arousal({"Q3": 1.0}) == (-1, -1)
    assert valence_arousal({"Q4": 1.0}) == (1, -1)
    assert valence_arousal({q: 0.25 for q in ("Q1", "Q2", "Q3", "Q4")}) == (0, 0)
    v, a = valence_arousal({"Q1": 0.5, "Q2": 0.3, "Q3": 0.1, "Q4": 0.1})
    assert v == pytest.approx(0.2) and a == pytest.approx(0.6)


def test_a_missing_default_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("mer.workflows.predict.default_model_path", lambda: tmp_path / "gone.mer")
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
        assert set(p.to_dict()) == {"path", "quadrant", "probabilities", "valence", "arousal", "flags", "quality"}
        assert p.flags == [] and p.quality is None  # no audio here, so no signal check


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


@pytest.mark.slow
@pytest.mark.real_data
def test_flags_on_real_audio_and_no_quadrant_for_silence(tiny_model, fourq_clips, tmp_path):
    from mer.audio import decode as audio

    clip = next(iter(fourq_clips.values()))
    y = audio.load(clip)  # 22,050 Hz mono; the variants are written at test time, never committed
    sr = 22050
    variants = {
        "zeros.wav": np.zeros(30 * sr, np.float32),
        "short.wav": y[: int(0.75 * sr)],
        "clipped.wav": np.clip(8 * y, -1, 1),  # +18 dB into a hard limit
        "padded.wav": np.concatenate([y[: 10 * sr], np.zeros(20 * sr, np.float32)]),  # 10 s music, 20 s silence
    }
    for name, sig in variants.items():
        sf.write(str(tmp_path / name), sig, sr)
    paths = [clip, *(tmp_path / n for n in variants)]
    preds, failures = predict_files(tiny_model, paths, progress=False)
    assert not failures and [p.path for p in preds] == paths
    by_name = {p.path.name: p for p in preds}
    real = by_name[clip.name]
    assert real.flags == [] and real.quadrant in ("Q1", "Q2", "Q3", "Q4")
    assert real.quality["duration_s"] > 25 and real.quality["silent_fraction"] < 0.1

    silent = by_name["zeros.wav"]
    assert silent.flags == ["silent"] and silent.quality["rms_dbfs"] == -120.0
    assert silent.quadrant is None and silent.probabilities is None and silent.valence is None
    assert silent.to_dict()["quadrant"] is None

    short = by_name["short.wav"]
    assert short.flags == ["too_short"] and short.quadrant in ("Q1", "Q2", "Q3", "Q4")
    assert short.quality["duration_s"] == pytest.approx(0.75, abs=1e-3)
    assert by_name["clipped.wav"].flags == ["clipped"] and by_name["clipped.wav"].quality["clipped_fraction"] > 0.01
    padded = by_name["padded.wav"]
    assert padded.flags == ["mostly_silent"] and padded.quality["silent_fraction"] == pytest.approx(2 / 3, abs=0.02)


def test_audio_files_expands_folders_recursively_sorted_audio_only(tmp_path):
    from tests.conftest import write_tone

    music = tmp_path / "music"
    (music / "b" / "deep").mkdir(parents=True)
    (music / ".hidden").mkdir()
    for rel in ("z.wav", "a.WAV", "b/deep/c.flac", "b/x.mp3", ".hidden/h.wav", "b/._x.mp3"):
        if rel.endswith(".mp3"):
            (music / rel).write_bytes(b"x")  # listed by name only: never decoded here
        else:
            write_tone(music / rel, seconds=0.1)
    (music / "notes.txt").write_text("not audio")
    (music / "b" / "cover.jpg").write_bytes(b"jpg")
    empty = tmp_path / "empty"
    empty.mkdir()
    lone = tmp_path / "lone.txt"
    files, problems = audio_files([lone, music, empty])
    assert files == [lone, music / "a.WAV", music / "b" / "deep" / "c.flac", music / "b" / "x.mp3", music / "z.wav"]
    assert len(problems) == 1 and problems[0][0] == empty and str(empty) in problems[0][1]
    assert audio_files([music])[0] == files[1:]  # the same order every time
