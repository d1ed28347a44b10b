"""The fused extractor equals the per-feature librosa reference, row group by row group.

Tolerances (relative to the reference value, per element):

* every group except two: **exact** (bitwise equal float32) - the fused path repeats
  librosa's arithmetic on shared intermediates;
* spectral_centroid and spectral_bandwidth: rtol 1e-6 - computed from three spectral
  moments in one float64 matrix product instead of librosa's normalised float32 copy
  (measured: at most one float32 ulp, ~1e-7).
"""

import numpy as np
import pytest

from mer import audio
from mer.features import DEFAULT_METHOD, EXTRACTORS, FeatureConfig, FeatureSpec, extract, extract_reference
from mer.fused import extract_fused, extract_windowed, pitch_peaks, tuning_from_peaks

MOMENT_GROUPS = {"spectral_centroid", "spectral_bandwidth"}
MOMENT_RTOL = 1e-6


def assert_equal_to_reference(y, config=None):
    config = config or FeatureConfig()
    R = extract_reference(y, config)
    F = extract_fused(y, config)
    assert F.shape == R.shape and F.dtype == np.float32
    spec = FeatureSpec.from_config(config)
    for g in spec.group_names:
        r, f = R[spec.rows(g)], F[spec.rows(g)]
        if g in MOMENT_GROUPS:
            np.testing.assert_allclose(f, r, rtol=MOMENT_RTOL, atol=0, err_msg=g)
        else:
            np.testing.assert_array_equal(f, r, err_msg=g)
    return F


@pytest.fixture(scope="module")
def real_clips(fourq_dir):
    # one full clip and two 15-s excerpts from other quadrants
    paths = [sorted((fourq_dir / q).glob("*.mp3"))[3] for q in ("Q1", "Q3", "Q4")]
    return [audio.load(paths[0])] + [audio.load(p, offset=5.0, duration=15.0) for p in paths[1:]]


def test_fused_equals_reference_on_real_clips(real_clips):
    for y in real_clips:
        X = assert_equal_to_reference(y)
        assert X.shape[1] == 1 + len(y) // 512 and np.all(np.isfinite(X))


def _signals():
    sr = 22050
    rng = np.random.default_rng(7)
    t = np.arange(int(sr * 3.3)) / sr
    chord = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0, 523.3))
    clicks = np.zeros_like(t)
    clicks[:: sr // 2] = 1.0  # 120 BPM
    return {
        "chord+clicks+noise": (chord + clicks + 0.01 * rng.standard_normal(len(t))).astype(np.float32),
        "detuned tone": (0.5 * np.sin(2 * np.pi * 446.0 * t[: sr * 2 + 311])).astype(np.float32),
        "white noise": (0.1 * rng.standard_normal(sr)).astype(np.float32),
        "silence": np.zeros(sr, dtype=np.float32),
        "one frame": (0.1 * rng.standard_normal(2048)).astype(np.float32),
    }


@pytest.mark.parametrize("name", list(_signals()))
def test_fused_equals_reference_on_generated_signals(name):
    assert_equal_to_reference(_signals()[name])


def test_fused_equals_reference_with_another_configuration():
    # n_fft / hop / mels differ from librosa's defaults: chroma_cqt's tuning STFT and the
    # onset envelope's mel spectrogram can no longer be shared and are computed apart
    y = _signals()["chord+clicks+noise"]
    config = FeatureConfig(n_fft=1024, hop_length=256, n_mels=64, n_mfcc=13)
    X = assert_equal_to_reference(y, config)
    assert X.shape == (FeatureSpec.from_config(config).n_rows, 1 + len(y) // 256)


def test_fused_is_the_default():
    assert DEFAULT_METHOD == "fused" and "reference" in EXTRACTORS
    y = _signals()["detuned tone"]
    np.testing.assert_array_equal(extract(y), extract_fused(y))


def test_tuning_estimate_matches_librosa():
    import librosa

    y = _signals()["detuned tone"]  # 446 Hz: +23 cents from A440
    S = np.abs(librosa.stft(y))
    for bins, spectrogram in ((12, S**2), (36, S)):
        expected = librosa.estimate_tuning(S=spectrogram, sr=22050, bins_per_octave=bins)
        assert tuning_from_peaks(*pitch_peaks(spectrogram, 22050, 2048), bins_per_octave=bins) == expected
    assert 0.1 < tuning_from_peaks(*pitch_peaks(S**2, 22050, 2048), bins_per_octave=12) < 0.3  # sharp of A440


# ---------------------------------------------------------------- long tracks, windowed

#: chroma_cqt, chroma_vqt and tonnetz of a window are computed on the window and its
#: context: the decimation pyramid of a segment differs from the whole signal's by the
#: resampler's float32 rounding (~1e-7), which the chroma normalisation can raise in quiet
#: frames. Absolute tolerance on these [-1, 1]-valued rows; every other row is exact.
WINDOWED_ATOL = {"chroma_cqt": 1e-4, "chroma_vqt": 1e-4, "tonnetz": 1e-4}


def _song(seconds: float, sr: int = 22050, seed: int = 3) -> np.ndarray:
    """Chords changing every 2 s over clicks at 100 BPM and a little noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    roots = 220.0 * 2 ** (rng.integers(0, 12, size=int(seconds // 2) + 1) / 12)
    f0 = roots[(t // 2).astype(int)]
    y = sum(0.15 * np.sin(2 * np.pi * f0 * r * t) for r in (1.0, 1.26, 1.5))
    y[:: int(0.6 * sr)] += 0.8
    return (y + 0.01 * rng.standard_normal(n)).astype(np.float32)


def assert_windowed_close(W, X, config=None):
    spec = FeatureSpec.from_config(config)
    assert W.shape == X.shape
    for g in spec.group_names:
        w, x = W[spec.rows(g)], X[spec.rows(g)]
        if g in WINDOWED_ATOL:
            np.testing.assert_allclose(w, x, rtol=0, atol=WINDOWED_ATOL[g], err_msg=g)
        elif g in MOMENT_GROUPS:
            np.testing.assert_allclose(w, x, rtol=MOMENT_RTOL, atol=0, err_msg=g)
        else:
            np.testing.assert_array_equal(w, x, err_msg=g)


@pytest.mark.parametrize("seconds", [61.3, 75.0])
def test_windowed_equals_the_whole_signal_analysis(seconds):
    # 20-s windows with 4 s of context: three or four seams, a short last window
    y = _song(seconds)
    W = extract_windowed(lambda a, b: y[a:b], len(y), window_seconds=20.0)
    assert_windowed_close(W, extract_fused(y))


def test_windowed_with_another_configuration():
    y = _song(50.0, seed=5)
    config = FeatureConfig(n_fft=1024, hop_length=256, n_mels=64, n_mfcc=13)
    W = extract_windowed(lambda a, b: y[a:b], len(y), config, window_seconds=12.0)
    assert_windowed_close(W, extract_fused(y, config), config)


def test_long_files_take_the_windowed_path(tmp_path, monkeypatch):
    import soundfile as sf

    from mer import extraction, fused

    y = _song(40.0, sr=44100)
    path = tmp_path / "long.wav"
    sf.write(str(path), np.stack([y, 0.5 * y], axis=1), 44100, subtype="FLOAT")
    calls = []
    real = fused.extract_windowed
    monkeypatch.setattr(extraction, "LONG_TRACK_SECONDS", 30.0)
    monkeypatch.setattr(fused, "extract_windowed",
                        lambda *a, **k: calls.append(1) or real(*a, **{**k, "window_seconds": 15.0}))
    W = extraction.extract_file(path)
    assert calls == [1]
    assert_windowed_close(W, extract_fused(audio.load(path)))
    monkeypatch.setattr(extraction, "LONG_TRACK_SECONDS", 60.0)
    extraction.extract_file(path)
    assert calls == [1]  # a shorter file is analysed whole


def test_stream_gives_the_samples_of_load(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    for sr, channels in ((44100, 2), (22050, 1), (32000, 2)):
        path = tmp_path / f"x{sr}.wav"
        sf.write(str(path), (0.1 * rng.standard_normal((sr * 3 + 17, channels))).astype(np.float32), sr)
        whole = audio.load(path)
        pieces = list(audio.stream(path, block_seconds=0.7))
        assert len(pieces) > 3
        np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_stream_of_a_real_mp3(fourq_clips):
    path = next(iter(fourq_clips.values()))
    np.testing.assert_array_equal(np.concatenate(list(audio.stream(path, block_seconds=4.0))), audio.load(path))
