"""The fused extractor equals the per-feature librosa reference, row group by row group.

Tolerances are stated in float32 machine epsilons (eps = 1.19e-7), per element::

    |fused - reference| <= n_eps * eps * (|reference| + max |reference| over the group)

The second term lets an element near zero move by rounding of the group's scale. They
were measured, not assumed: numpy's OpenBLAS picks its matrix-product kernels by CPU,
and the mel, chroma and constant-Q filter banks are matrix products, so another CPU
rounds differently. Running the same comparisons under OpenBLAS's SkylakeX, Haswell,
Zen, SandyBridge and Prescott kernels (``OPENBLAS_CORETYPE``, one machine) gave at most
(in the units above): chroma_stft 7.7, tonnetz 5.0, chroma_vqt 4.8, chroma_cqt 4.5,
mfcc 0.9, mel 0.8, spectral centroid and bandwidth 0.4 (float64 moments instead of
librosa's float32 copy), every other group 0. The tolerances below are 4x those, at
least 4 eps; nothing here assumes bitwise equality across code paths or machines.
"""

import numpy as np
import pytest

from mer.audio import decode as audio
from mer.features.methods import DEFAULT_METHOD, EXTRACTORS, extract
from mer.features.paper import FeatureConfig, FeatureSpec, extract_reference
from mer.features.fused import extract_fused, extract_windowed, pitch_peaks, tuning_from_peaks
from tests.conftest import DEFAULT_N_EPS, N_EPS, assert_close_in_eps

def assert_equal_to_reference(y, config=None):
    config = config or FeatureConfig()
    R = extract_reference(y, config)
    F = extract_fused(y, config)
    assert F.shape == R.shape and F.dtype == np.float32
    spec = FeatureSpec.from_config(config)
    for g in spec.group_names:
        assert_close_in_eps(F[spec.rows(g)], R[spec.rows(g)], N_EPS.get(g, DEFAULT_N_EPS), err_msg=g)
    return F


@pytest.fixture(scope="module")
def real_clips(fourq_dir):
    # one full clip and two 15-s excerpts from other quadrants
    paths = [sorted((fourq_dir / q).glob("*.mp3"))[3] for q in ("Q1", "Q3", "Q4")]
    return [audio.load(paths[0])] + [audio.load(p, offset=5.0, duration=15.0) for p in paths[1:]]


@pytest.mark.real_data
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
    np.testing.assert_array_equal(extract(y), extract_fused(y))  # one code path, one process: the same bits


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
#: frames. Absolute tolerance on these [-1, 1]-valued rows (measured at most 6e-7 under
#: the five OpenBLAS kernels); every other row as in :data:`N_EPS` (a window's matrix
#: products have fewer columns than the whole signal's, and some kernels round edge
#: columns differently: mel differed in 10,859 of its values by under 1 eps).
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
        else:
            assert_close_in_eps(w, x, N_EPS.get(g, DEFAULT_N_EPS), err_msg=g)


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

    from mer.extraction import batch as extraction
    from mer.features import fused

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
        assert_stream_equals_load(np.concatenate(pieces), whole)


@pytest.mark.real_data
def test_stream_of_a_real_mp3(fourq_clips):
    path = next(iter(fourq_clips.values()))
    assert_stream_equals_load(np.concatenate(list(audio.stream(path, block_seconds=4.0))), audio.load(path))


def assert_stream_equals_load(streamed, loaded):
    # Equal here bit for bit; soxr's streaming and one-shot paths are two code paths whose
    # SIMD kernels may round differently elsewhere: 1e-6 is ~8 float32 steps of full scale.
    assert streamed.shape == loaded.shape and streamed.dtype == loaded.dtype
    np.testing.assert_allclose(streamed, loaded, rtol=0, atol=1e-6)


def test_whole_clip_features_leaves_its_input_alone():
    from mer.features.fused import WHOLE_CLIP_INPUTS, fused_features, stft_features, stft_magnitude, whole_clip_features

    c = FeatureConfig()
    y = _song(4.0)
    S = stft_magnitude(y, c.n_fft, c.hop_length)
    P = S**2
    parts = stft_features(y, c, S, P, tuning_from_peaks(*pitch_peaks(P, c.sr, c.n_fft), bins_per_octave=12))
    before = {g: A.copy() for g, A in parts.items()}
    assert {"contrast_peak", "contrast_valley"} <= set(parts)  # intermediates a pop would have removed
    whole = whole_clip_features(parts, c)
    assert list(parts) == list(before) and all(np.array_equal(parts[g], before[g]) for g in before)
    assert set(whole) == {"spectral_contrast", "mfcc", "tempo"}
    with pytest.raises(TypeError):
        whole_clip_features(parts, c, 4096)  # tempogram_block is keyword-only
    # the extractor's own dict carries the features only, not the intermediates
    assert not set(WHOLE_CLIP_INPUTS) & set(fused_features(y, c))
