"""Signal-quality facts and reliability flags (mer.audio.quality)."""

import numpy as np
import pytest

from mer.audio.quality import FACTS, FLAG_MEANINGS, FLAGS, QualityConfig, facts_dict, flags, measure
from mer.extraction.inputs import measure_files
from tests.conftest import write_tone

SR = 22050


def test_measure_of_known_signals():
    cfg = QualityConfig()
    silence = facts_dict(measure(np.zeros(10 * SR, np.float32), cfg))
    assert silence == {"duration_s": 10.0, "rms_dbfs": -120.0, "silent_fraction": 1.0, "clipped_fraction": 0.0}
    t = np.arange(4 * SR) / SR
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    f = facts_dict(measure(sine, cfg))
    # RMS of a sine of amplitude a is a / sqrt(2): 20 log10(0.5 / sqrt(2)) = -9.03 dBFS
    assert f["duration_s"] == pytest.approx(4.0) and f["rms_dbfs"] == pytest.approx(-9.03, abs=0.01)
    assert f["silent_fraction"] == 0.0 and f["clipped_fraction"] == 0.0
    hard = np.clip(4 * sine, -1, 1)  # |x| >= 0.999 over most of each period
    assert facts_dict(measure(hard, cfg))["clipped_fraction"] > 0.5
    assert facts_dict(measure(np.zeros(0, np.float32), cfg))["duration_s"] == 0.0


def test_flags_follow_the_thresholds():
    ok = {"duration_s": 30.0, "rms_dbfs": -15.0, "silent_fraction": 0.01, "clipped_fraction": 0.0}
    assert flags(ok) == []
    assert flags({**ok, "silent_fraction": 1.0}) == ["silent"]  # silent says more than mostly_silent
    assert flags({**ok, "duration_s": 5.99}) == ["too_short"] and flags({**ok, "duration_s": 6.0}) == []
    assert flags({**ok, "silent_fraction": 0.51}) == ["mostly_silent"] and flags({**ok, "silent_fraction": 0.5}) == []
    assert flags({**ok, "clipped_fraction": 0.011}) == ["clipped"] and flags({**ok, "clipped_fraction": 0.01}) == []
    assert flags({"duration_s": 0.5, "rms_dbfs": -120.0, "silent_fraction": 1.0, "clipped_fraction": 0.0}) == [
        "silent", "too_short"]
    assert flags({**ok, "duration_s": 8.0}, QualityConfig(min_seconds=10)) == ["too_short"]
    assert set(FLAGS) == set(FLAG_MEANINGS) and len(FACTS) == 4


def test_flag_thresholds_are_not_part_of_the_cache_key():
    assert QualityConfig(min_seconds=2).key() == QualityConfig().key()
    assert QualityConfig(silence_dbfs=-50).key() != QualityConfig().key()


def test_measure_files_caches_by_content_and_reports_failures(tmp_path, isolated_cache):
    tone = write_tone(tmp_path / "tone.wav", seconds=3.0)
    first = measure_files([tone, tmp_path / "missing.wav"], progress=False)
    assert first.n_computed == 1 and len(first.failures) == 1 and "missing.wav" in first.failures[0][1]
    again = measure_files([tone], progress=False)
    assert again.n_cached == 1 and again.n_computed == 0
    np.testing.assert_array_equal(again.features[0], first.features[0])
    assert facts_dict(first.features[0])["duration_s"] == pytest.approx(3.0, abs=1e-3)


def test_streamed_facts_equal_the_whole_signal(tmp_path, monkeypatch):
    import functools

    import soundfile as sf

    from mer.audio import decode as audio
    from mer.audio.quality import measure_long_file

    rng = np.random.default_rng(0)
    y = np.concatenate([np.zeros(3 * SR), 0.2 * rng.standard_normal(5 * SR), np.ones(SR // 10)]).astype(np.float32)
    wav = tmp_path / "mix.wav"
    sf.write(str(wav), y, SR, subtype="FLOAT")
    whole = measure(audio.load(wav, sr=SR))
    # decoded in 0.7-s blocks, frames straddling block boundaries: the same facts
    monkeypatch.setattr(audio, "stream", functools.partial(audio.stream, block_seconds=0.7))
    np.testing.assert_allclose(measure_long_file(wav), whole, rtol=1e-9, atol=1e-12)
    f = facts_dict(whole)
    assert f["silent_fraction"] == pytest.approx(3 / 8.1, abs=0.01)  # the leading 3 s of 8.1 s
    assert f["clipped_fraction"] == pytest.approx(0.1 / 8.1, abs=0.001)  # the final 0.1 s at full scale
    assert getattr(measure, "long_track", None) is measure_long_file  # long files take the streamed path
