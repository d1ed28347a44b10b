import librosa
import numpy as np
import pytest

from mer.features.paper import FeatureSpec
from mer.features.transforms import (RowStandardizer, fix_length, mel_to_db, pool_frames, summary_names,
                               summary_stats)


def test_fix_length_pads_with_zeros_and_truncates():
    X = np.ones((204, 10), dtype=np.float32)
    assert fix_length(X, 1295).shape == (204, 1295)
    assert fix_length(X, 1295)[:, 10:].sum() == 0
    assert fix_length(np.ones((3, 204, 2000)), 1295).shape == (3, 204, 1295)


def test_pool_frames_means_blocks_including_the_partial_last():
    X = np.arange(7, dtype=np.float32)[None, :]
    np.testing.assert_allclose(pool_frames(X, 3), [[1.0, 4.0, 6.0]])
    assert pool_frames(np.zeros((2, 204, 1295)), 8).shape == (2, 204, 162)
    with pytest.raises(ValueError):
        pool_frames(X, 0)


def test_mel_to_db_changes_only_mel_rows():
    spec = FeatureSpec.from_config()
    rng = np.random.default_rng(0)
    X = rng.random((204, 20)).astype(np.float32)
    D = mel_to_db(X)
    rows = spec.rows("mel")
    np.testing.assert_allclose(D[rows], librosa.power_to_db(X[rows], ref=1.0, top_db=80.0), rtol=1e-6)
    keep = np.ones(204, bool)
    keep[rows] = False
    np.testing.assert_array_equal(D[keep], X[keep])
    # a batch is floored per clip, the same as one clip at a time
    B = np.stack([X, X * 1e-6])
    np.testing.assert_allclose(mel_to_db(B)[1], mel_to_db(X * 1e-6), rtol=1e-6)


def test_summary_stats_columns_and_names():
    X = np.stack([np.arange(5.0), np.ones(5)])
    s = summary_stats(X, ("mean", "std", "p50", "max", "dmean"))
    np.testing.assert_allclose(s, [2, 1, np.std(np.arange(5.0)), 0, 2, 1, 4, 1, 1, 0])
    assert summary_names(["a", "b"], ("mean", "std")) == ["mean:a", "mean:b", "std:a", "std:b"]
    assert summary_stats(np.zeros((4, 204, 30))).shape == (4, 1020)
    with pytest.raises(ValueError, match="unknown statistic"):
        summary_stats(X, ("median",))


def test_row_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = [rng.normal(3.0, 2.0, (4, 50)) for _ in range(20)]
    test = rng.normal(100.0, 1.0, (4, 50))
    st = RowStandardizer().fit(train)
    pooled = np.concatenate(train, axis=1)
    np.testing.assert_allclose(st.mean_, pooled.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(st.scale_, pooled.std(axis=1), rtol=1e-5)
    assert st.transform(test).mean() > 40  # the test set's offset is not standardised away
    const = RowStandardizer().fit([np.ones((2, 5))])
    assert np.all(const.scale_ == 1.0) and not const.transform(np.ones((2, 5))).any()
