import warnings

import librosa
import numpy as np
import pytest

from mer.audio import decode as audio
from mer.core.errors import MerError
from mer.features.methods import extract
from mer.features.paper import FeatureConfig, FeatureSpec, extract_reference, single_threaded_blas


def test_spec_names_every_row_in_the_papers_order():
    spec = FeatureSpec.from_config()
    assert spec.n_rows == 204
    assert spec.group_names == (
        "chroma_stft", "chroma_cqt", "chroma_vqt", "mel", "mfcc", "rms", "spectral_centroid",
        "spectral_bandwidth", "spectral_contrast", "spectral_flatness", "spectral_rolloff",
        "tonnetz", "zero_crossing_rate", "tempo",
    )
    assert [n for _, n in spec.groups] == [12, 12, 12, 128, 20, 1, 1, 1, 7, 1, 1, 6, 1, 1]
    assert spec.rows("mfcc") == slice(164, 184)
    assert spec.row_names[spec.rows("chroma_cqt")][9] == "chroma_cqt:A"
    assert len(set(spec.row_names)) == 204
    with pytest.raises(KeyError, match="unknown feature group 'loudness'"):
        spec.rows("loudness")


def test_select_groups():
    spec = FeatureSpec.from_config()
    X = np.arange(204 * 3, dtype=float).reshape(204, 3)
    sel = spec.select(X, ["rms", "tempo"])
    assert sel.shape == (2, 3)
    np.testing.assert_array_equal(sel[0], X[184])
    np.testing.assert_array_equal(sel[1], X[203])
    assert spec.select(np.stack([X, X]), ["mfcc"]).shape == (2, 20, 3)


@pytest.fixture(scope="module")
def real_clip(fourq_dir):
    # 12 s of a real clip keeps the test quick while exercising every feature
    path = sorted((fourq_dir / "Q2").glob("*.mp3"))[0]
    return audio.load(path, offset=3.0, duration=12.0)


@pytest.mark.real_data
def test_rows_equal_direct_librosa_calls_on_a_real_clip(real_clip):
    y, sr = real_clip, 22050
    X = extract_reference(y)
    T = 1 + len(y) // 512
    assert X.shape == (204, T) and X.dtype == np.float32
    spec = FeatureSpec.from_config()
    with single_threaded_blas():  # as mer computes features (see single_threaded_blas)
        direct = {
            "chroma_stft": librosa.feature.chroma_stft(y=y, sr=sr, n_fft=2048, hop_length=512),
            "chroma_cqt": librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=512),
            "chroma_vqt": librosa.feature.chroma_vqt(y=y, sr=sr, hop_length=512, intervals="ji5"),
            "mel": librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512),
            "mfcc": librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20),
            "rms": librosa.feature.rms(y=y),
            "spectral_centroid": librosa.feature.spectral_centroid(y=y, sr=sr),
            "spectral_bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr),
            "spectral_contrast": librosa.feature.spectral_contrast(y=y, sr=sr),
            "spectral_flatness": librosa.feature.spectral_flatness(y=y),
            "spectral_rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr),
            "tonnetz": librosa.feature.tonnetz(y=y, sr=sr),
            "zero_crossing_rate": librosa.feature.zero_crossing_rate(y),
        }
    for group, ref in direct.items():
        np.testing.assert_allclose(X[spec.rows(group)], ref.astype(np.float32), rtol=1e-6, atol=0, err_msg=group)
    tempo = librosa.feature.tempo(y=y, sr=sr)[0]
    assert np.all(X[spec.rows("tempo")] == np.float32(tempo))
    assert 40 < tempo < 250


@pytest.mark.real_data
def test_extract_default_method_matches_reference(real_clip):
    np.testing.assert_allclose(extract(real_clip[: 22050 * 4]), extract_reference(real_clip[: 22050 * 4]), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="unknown extraction method"):
        extract(real_clip, method="nope")


def test_silence_gives_finite_features_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X = extract_reference(np.zeros(22050 * 2, dtype=np.float32))
    spec = FeatureSpec.from_config()
    assert np.all(np.isfinite(X))
    assert not X[spec.rows("chroma_stft")].any() and not X[spec.rows("tonnetz")].any()
    assert not X[spec.rows("rms")].any()


def test_clip_shorter_than_one_frame_is_rejected():
    with pytest.raises(MerError, match="too short: 2047 samples"):
        extract_reference(np.ones(2047, dtype=np.float32))
    X = extract_reference(np.random.default_rng(0).standard_normal(2048).astype(np.float32) * 0.1)
    assert X.shape == (204, 5) and np.all(np.isfinite(X))


def test_bad_signals_are_rejected():
    with pytest.raises(MerError, match="mono"):
        extract_reference(np.zeros((2, 5000), dtype=np.float32))
    y = np.zeros(5000, dtype=np.float32)
    y[10] = np.nan
    with pytest.raises(MerError, match="NaN"):
        extract_reference(y)


def test_config_key_changes_with_parameters():
    assert FeatureConfig().key() == FeatureConfig().key()
    assert FeatureConfig().key() != FeatureConfig(hop_length=256).key()
    assert FeatureConfig.from_dict(FeatureConfig(n_mfcc=13).to_dict()) == FeatureConfig(n_mfcc=13)
    assert FeatureSpec.from_config(FeatureConfig(n_mfcc=13)).n_rows == 197
