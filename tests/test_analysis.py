"""The one-pass analysis (mer.workflows.analysis): one timeline everywhere, the track's answer as mer predict's."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from mer.core.labels import QUADRANTS

# float noise between code paths (the same inputs pooled in another order / another process)
PROB_TOL = 1e-4


def _windows_agree(a: list[dict], b: list[dict], what: str) -> None:
    assert len(a) == len(b), what
    for x, y in zip(a, b):
        assert (x["start_s"], x["end_s"], x["quadrant"], x["flags"]) == (y["start_s"], y["end_s"], y["quadrant"],
                                                                         y["flags"]), what
        for key in ("probabilities", "raw_probabilities"):
            assert x[key] == pytest.approx(y[key], abs=PROB_TOL), what
        assert (x["valence"], x["arousal"]) == pytest.approx((y["valence"], y["arousal"]), abs=PROB_TOL), what


@pytest.mark.real_data
@pytest.mark.slow
def test_scan_timeline_and_service_give_the_same_timeline(fourq_dir, tmp_path):
    """`mer scan` (stored), `mer timeline` (JSON) and POST /v1/analyze: one timeline, the window model's."""
    from mer.apps.cli import app
    from mer.library.db import open_library
    from mer.workflows.timeline import load_timeline_model

    clip = tmp_path / "music" / "song.mp3"
    clip.parent.mkdir()
    shutil.copy(sorted(fourq_dir.glob("Q2/*.mp3"))[0], clip)
    runner = CliRunner()
    res = runner.invoke(app, ["timeline", str(clip), "--out", str(tmp_path / "out"), "--quiet"])
    assert res.exit_code == 0, res.output
    printed = json.loads((tmp_path / "out" / "song.timeline.json").read_text())
    res = runner.invoke(app, ["scan", str(clip.parent), "--db", str(tmp_path / "lib.db"), "--quiet"])
    assert res.exit_code == 0, res.output
    with open_library(tmp_path / "lib.db", readonly=True) as lib:
        stored = lib.timeline(lib.track_at(clip).id)
    pytest.importorskip("httpx")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    from mer.apps.service import create_app

    (tmp_path / "uploads").mkdir()
    # a generous timeout: a safety net only (the default 300 s was hit at a load average of 25 on 2 cores)
    with TestClient(create_app(temp_dir=tmp_path / "uploads", timeout_s=1800)) as client:
        r = client.post("/v1/analyze", files={"file": (clip.name, clip.read_bytes(), "audio/mpeg")})
    assert r.status_code == 200, r.text
    served = r.json()["timeline"]
    assert printed["model"] == stored["model"] == served["model"] == load_timeline_model().name
    for other, what in ((stored, "mer scan"), (served, "POST /v1/analyze")):
        assert other["settings"] == printed["settings"], what
        _windows_agree(other["windows"], printed["windows"], what)
        assert other["summary"]["dominant_quadrant"] == printed["summary"]["dominant_quadrant"], what
        for q in QUADRANTS:
            assert other["summary"]["quadrant_share"][q] == pytest.approx(printed["summary"]["quadrant_share"][q],
                                                                          abs=1e-3), what


@pytest.mark.real_data
@pytest.mark.slow
def test_one_pass_answer_is_mer_predicts_and_window_quadrant_is_the_reported_argmax(fourq_dir):
    from mer.workflows.analysis import analyse, load_models
    from mer.workflows.predict import predict_files

    models = load_models()
    clip = sorted(fourq_dir.glob("Q3/*.mp3"))[0]
    a = analyse(clip, models=models)
    (expected,), failures = predict_files(models.clip, [clip], progress=False)
    assert not failures
    assert a.prediction.quadrant == expected.quadrant and a.prediction.flags == expected.flags
    assert a.prediction.quality == expected.quality
    for q in QUADRANTS:
        assert a.prediction.probabilities[q] == pytest.approx(expected.probabilities[q], abs=PROB_TOL)
    assert (a.prediction.valence, a.prediction.arousal) == pytest.approx((expected.valence, expected.arousal),
                                                                         abs=PROB_TOL)
    assert 30 < a.tempo_bpm < 300
    for w in a.timeline.windows:  # the quadrant reported is the argmax of the probabilities reported
        assert w.quadrant == max(w.probabilities, key=w.probabilities.get)
        assert sum(w.probabilities.values()) == pytest.approx(1.0, abs=1e-9)


def test_digital_silence_skips_the_networks(monkeypatch):
    """Patches of all-zero samples get the known outputs of silence without a model call."""
    from mer.features import patch_stream
    from mer.features.embeddings import EmbeddingConfig, _cached_model, embed, weights_path

    configs = [EmbeddingConfig()]
    sr = 16000
    rng = np.random.default_rng(0)
    y = np.zeros(60 * sr, np.float32)
    y[:7 * sr] = 0.1 * rng.standard_normal(7 * sr).astype(np.float32)  # music in the first 7 s only
    calls = []
    real = patch_stream._run_models
    monkeypatch.setattr(patch_stream, "_run_models", lambda P, c: calls.append(len(P)) or real(P, c))
    patch_stream._silent_outputs.cache_clear()
    got = patch_stream.stream_patch_outputs([y], configs, chunk_patches=1).outputs[configs[0]]
    out = embed(y, sr, _cached_model(str(weights_path(configs[0]))))  # every patch through the network
    expected = np.concatenate([out.logits, out.penultimate], axis=1)
    assert got.shape == expected.shape
    assert sum(calls) < len(got) / 2  # the ~3 patches that hear the noise, plus one for silence
    assert np.allclose(got, expected, atol=1e-4)


def test_all_zero_windows_are_described_once():
    from mer.features import descriptors

    c = descriptors.DescriptorConfig()
    y = np.zeros(int(100 * c.sr), np.float32)
    descriptors._describe_zeros.cache_clear()
    got = descriptors.describe_stream([y[i: i + c.sr * 7] for i in range(0, len(y), c.sr * 7)], c)
    assert descriptors._describe_zeros.cache_info().misses == 2  # two 30-s windows, then the 40-s rest
    d30, d40 = (descriptors.describe(np.zeros(s * c.sr, np.float32), c).astype(np.float64) for s in (30, 40))
    assert np.allclose(got, (60 * d30 + 40 * d40) / 100, rtol=1e-6, atol=1e-6)


def test_silent_window_facts_are_measures():
    from mer.audio.quality import QualityConfig, measure
    from mer.workflows.timeline import _facts

    q = QualityConfig()
    for n in (q.sr * 10, 100):  # a window, and one shorter than a frame
        y = np.zeros(n, np.float32)
        assert np.array_equal(_facts(y, q), measure(y, q))
