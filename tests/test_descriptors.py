"""Emotion descriptors: names, building blocks with known answers, robustness, caching."""

from __future__ import annotations

import numpy as np
import pytest

from mer.extraction.inputs import describe_files
from mer.features import descriptors as D
from mer.core.errors import MerError

SR = 22050


def _tone(freqs, seconds=4.0, sr=SR, pulse_hz=None, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs) * 0.3
    if pulse_hz:  # sharp periodic attacks with decays: a beat at pulse_hz
        phase = (t * pulse_hz) % 1.0
        y = y * np.exp(-8 * phase)
    return (y + 1e-3 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def _named(v, name, spec=D.DescriptorSpec.from_config()):
    return float(v[spec.names.index(name)])


def test_spec_names_match_vector_and_groups():
    spec = D.DescriptorSpec.from_config()
    v = D.describe(_tone([440.0], seconds=3.0))
    assert v.shape == (spec.n_features,) and v.dtype == np.float32
    assert len(set(spec.names)) == spec.n_features
    assert set(spec.group_names) == {"tone_colour", "rhythm", "dynamics", "articulation", "harmony", "melody",
                                     "texture", "form"}
    assert spec.names[spec.indices(["harmony"])[0]] == "key_clarity"
    with pytest.raises(KeyError):
        spec.indices(["nope"])
    # a different config changes both the names (mel bands) and the cache key
    other = D.DescriptorConfig(n_mels=16)
    assert D.DescriptorSpec.from_config(other).n_features == spec.n_features - 4 * 16
    assert other.key() != D.DescriptorConfig().key()


def test_key_profiles_find_the_key_and_mode():
    c_major = np.zeros(12)
    c_major[[0, 4, 7]] = 1.0  # C E G
    a_minor = np.zeros(12)
    a_minor[[9, 0, 4]] = 1.0  # A C E
    R = D.key_profile_correlations(np.stack([c_major, a_minor], axis=1))
    assert R.shape == (24, 2)
    assert R[:, 0].argmax() == 0  # C major
    assert R[:, 1].argmax() == 12 + 9  # A minor
    clarity, mode, _ = D.mode_strength(R)
    assert mode[0] > 0 > mode[1]
    assert np.all(clarity > 0.6)
    assert np.allclose(D.key_profile_correlations(np.ones(12)), 0)  # flat chroma: no key


def test_interval_dissonance_orders_intervals():
    def chroma(*pcs):
        c = np.zeros((12, 1))
        c[list(pcs), 0] = 1
        return c

    fifth, third, tritone, semitone = (D.interval_dissonance(chroma(0, k))[0] for k in (7, 4, 6, 1))
    assert fifth < third < tritone < semitone
    assert D.interval_dissonance(np.zeros((12, 1)))[0] == 0


def test_roughness_peaks_near_a_quarter_critical_band():
    f0 = np.full((40, 1), 440.0)
    df = np.linspace(0, 200, 40)[:, None]
    r = D.roughness(np.hstack([f0, f0 + df]), np.ones((40, 2)))
    assert r[0] == pytest.approx(0.0, abs=1e-12)  # unison is smooth
    peak_df = df[r.argmax(), 0]
    assert 10 < peak_df < 60  # Plomp-Levelt: maximal roughness at ~25 % of the critical band
    assert r[-1] < r.max() / 3  # wide intervals are smooth again
    assert D.roughness(np.zeros((1, 3)), np.zeros((1, 3)))[0] == 0


def test_describe_separates_major_from_minor_and_consonant_from_dissonant():
    major = D.describe(_tone([261.6, 329.6, 392.0]))  # C major triad
    minor = D.describe(_tone([261.6, 311.1, 392.0]))  # C minor triad
    assert _named(major, "mode") > 0 > _named(minor, "mode")
    cluster = D.describe(_tone([261.6, 277.2, 293.7]))  # chromatic cluster
    assert _named(cluster, "roughness_mean") > _named(major, "roughness_mean")
    assert _named(cluster, "interval_dissonance") > _named(major, "interval_dissonance")


def test_describe_rhythm_and_dynamics_follow_the_signal():
    steady = D.describe(_tone([440.0]))
    pulsed = D.describe(_tone([440.0], pulse_hz=2.0))  # 120 BPM attacks
    assert _named(pulsed, "onset_rate") > _named(steady, "onset_rate")
    assert _named(pulsed, "loudness_range") > _named(steady, "loudness_range") + 10
    assert _named(pulsed, "tempo") == pytest.approx(120, rel=0.1)
    assert 0 <= _named(pulsed, "dip_ratio_mean") < 0.5  # detached notes: staccato


def test_describe_edge_cases_are_finite_or_rejected():
    for y in (np.zeros(SR * 2, np.float32), _tone([440.0], seconds=2048 / SR)):
        v = D.describe(y)
        assert np.isfinite(v).all()
    with pytest.raises(MerError, match="too short"):
        D.describe(np.zeros(100, np.float32))
    with pytest.raises(MerError, match="mono"):
        D.describe(np.zeros((2, SR), np.float32))
    bad = np.zeros(SR, np.float32)
    bad[10] = np.nan
    with pytest.raises(MerError, match="NaN"):
        D.describe(bad)


def test_describe_files_caches_and_reports_failures(tmp_path, isolated_cache):
    import soundfile as sf

    good = tmp_path / "a.wav"
    sf.write(str(good), _tone([440.0], seconds=2.0), SR)
    broken = tmp_path / "b.wav"
    broken.write_bytes(b"RIFF not really")
    res = describe_files([good, broken], progress=False)
    assert res.ok.tolist() == [True, False]
    assert "b.wav" in res.failures[0][1]
    again = describe_files([good], progress=False)
    assert again.n_cached == 1 and again.n_computed == 0
    np.testing.assert_array_equal(again.features[0], res.features[0])


@pytest.mark.real_data
def test_describe_real_clip(fourq_clips):
    from mer.audio import decode as audio

    path = next(iter(fourq_clips.values()))
    v = D.describe(audio.load(path, sr=SR))
    assert np.isfinite(v).all()
    assert 40 < _named(v, "tempo") < 240
    assert _named(v, "onset_rate") > 0.2


def test_chord_qualities_and_interval_classes_are_key_invariant():
    def chroma(root, pcs):
        c = np.zeros((12, 1))
        c[[(root + p) % 12 for p in pcs], 0] = 1.0
        return c

    names = list(D.CHORD_QUALITIES)
    for q, pcs in D.CHORD_QUALITIES.items():
        for root in (0, 5, 11):
            share, fit = D.chord_qualities(chroma(root, pcs))
            assert names[share.argmax()] == q and share.sum() == pytest.approx(1.0)
            assert fit[names.index(q)] == pytest.approx(1.0)
    share, fit = D.chord_qualities(np.zeros((12, 3)))
    assert not share.any() and not fit.any()
    major = D.interval_classes(chroma(0, (0, 4, 7))[:, 0])
    assert np.allclose(major, D.interval_classes(chroma(7, (0, 4, 7))[:, 0]))
    assert major.sum() == pytest.approx(1.0) and major[0] == 0  # no semitones in a triad
    assert D.interval_classes(chroma(0, (0, 6))[:, 0])[5] == pytest.approx(1.0)  # tritone only


def _long_wav(path, seconds: float, sr: int = 44100):
    """A stereo WAV at 44.1 kHz: a chord that changes key every 6 s with pulses and noise."""
    import soundfile as sf

    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * sr)) / sr
    root = 196.0 * 2 ** (np.floor(t / 6) * 5 % 12 / 12)
    y = sum(0.15 * np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.19, 1.5)) * np.exp(-6 * ((t * 2.1) % 1.0))
    y = y + 0.02 * rng.standard_normal(len(t))
    sf.write(str(path), np.stack([y, y], axis=1).astype(np.float32), sr, subtype="PCM_16")
    return path


@pytest.mark.parametrize("window, bounds", [
    (8.0, [0, 8, 16, 24, 32, 42]),  # rest 2 s < 4 s: merged into the last window
    (9.0, [0, 9, 18, 27, 36, 42]),  # rest 6 s >= 4.5 s: a window of its own
])
def test_long_track_descriptors_are_the_duration_weighted_mean_of_windows(tmp_path, window, bounds):
    from mer.audio import decode as audio

    path = _long_wav(tmp_path / "long.wav", 42.0)
    c = D.DescriptorConfig()
    y = audio.load(path, sr=c.sr)
    assert len(y) == 42 * c.sr
    vecs = [D.describe(y[a * c.sr : b * c.sr], c) for a, b in zip(bounds[:-1], bounds[1:])]
    expected = np.average(np.stack(vecs).astype(np.float64), axis=0, weights=np.diff(bounds))
    got = D.describe_long_file(path, c, window_seconds=window)
    assert got.shape == (D.DescriptorSpec.from_config(c).n_features,) and got.dtype == np.float32
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)  # float32 rounding of the mean
    # the windows really differ (the key moves), so the mean is not any one window's
    assert np.ptp(np.stack(vecs), axis=0).max() > 0.1


def test_long_track_path_is_taken_past_the_threshold_only(tmp_path):
    from mer.audio import decode as audio
    from mer.extraction.batch import extract_file

    path = _long_wav(tmp_path / "long.wav", 42.0)
    c = D.DescriptorConfig()
    whole = D.describe(audio.load(path, sr=c.sr), c)
    # under the threshold: exactly today's vector (cached vectors of short clips stay valid)
    np.testing.assert_array_equal(extract_file(path, c, D.describe), whole)
    # past a lowered threshold the default 30-s windows apply: 42 s < 45 s is one window,
    # the same samples decoded block by block
    np.testing.assert_array_equal(extract_file(path, c, D.describe, long_track_seconds=30.0), whole)
    with pytest.raises(MerError, match="too short"):
        D.describe_stream(iter([np.zeros(100, np.float32)]), c)
    with pytest.raises(MerError, match="zero-length"):
        D.describe_stream(iter([]), c)


@pytest.mark.real_data
def test_tempogram_ratio_equals_librosas(fourq_clips):
    """mer's per-frame np.interp equals librosa.feature.tempogram_ratio on real clips and a short signal."""
    import librosa

    from mer.audio import decode as audio

    signals = [audio.load(p, sr=22050) for p in list(fourq_clips.values())[:2]]
    rng = np.random.default_rng(3)
    signals.append((rng.standard_normal(22050 * 3) * np.repeat(rng.random(30) > 0.5, 2205)).astype(np.float32))
    for y in signals:
        env = librosa.onset.onset_strength(y=y, sr=22050, hop_length=512)
        win = int(min(384, max(8, len(env))))
        tg = librosa.feature.tempogram(onset_envelope=env, sr=22050, hop_length=512, win_length=win)
        expected = librosa.feature.tempogram_ratio(tg=tg, sr=22050, hop_length=512)
        got = D.tempogram_ratio(tg, sr=22050, hop_length=512)
        assert got.shape == expected.shape == (13, tg.shape[1])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        assert np.abs(got).max() > 0


@pytest.mark.real_data
def test_harmonic_salience_equals_librosas(fourq_clips):
    """Rows of the STFT instead of interpolation: librosa.salience's values on real clips, same argmax."""
    import librosa

    from mer.audio import decode as audio

    freqs = librosa.fft_frequencies(sr=22050, n_fft=2048)
    band = (freqs >= 80) & (freqs <= 1000)
    for path in list(fourq_clips.values())[:2]:
        S = np.abs(librosa.stft(audio.load(path, sr=22050), n_fft=2048, hop_length=512))
        expected = librosa.salience(S, freqs=freqs, harmonics=[1, 2, 3, 4], weights=[1.0, 0.5, 0.33, 0.25],
                                    fill_value=0.0)[band]
        got = D.harmonic_salience(S, freqs, band=band)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7 * float(expected.max()))
        assert (got.argmax(0) == expected.argmax(0)).all()
    with pytest.raises(ValueError, match="bin grid"):
        D.harmonic_salience(S, np.geomspace(20, 10000, len(freqs)), band=band)
