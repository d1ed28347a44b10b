"""The one input check for mono signals (mer.audio.signal.validate_mono) and its callers."""

import numpy as np
import pytest

from mer.features.descriptors import describe
from mer.core.errors import MerError
from mer.features.methods import extract
from mer.features.paper import FeatureConfig
from mer.audio.signal import validate_mono


def test_a_good_signal_comes_back_as_float32_unmodified():
    y = np.linspace(-1, 1, 4096, dtype=np.float32)
    assert validate_mono(y) is y  # already float32 and contiguous: no copy
    y64 = np.linspace(-1, 1, 4096)
    z = validate_mono(y64[::2], min_samples=2048)
    assert z.dtype == np.float32 and z.flags.c_contiguous and np.array_equal(z, y64[::2].astype(np.float32))
    assert validate_mono(np.arange(10, dtype=np.int16)).dtype == np.float32


@pytest.mark.parametrize("shape", [(2, 4096), (4096, 1), ()])
def test_not_mono_is_refused_naming_the_shape(shape):
    with pytest.raises(MerError, match=r"expected mono audio of shape \(n_samples,\), got shape"):
        validate_mono(np.zeros(shape, np.float32))


def test_too_short_says_how_short_and_what_is_needed():
    with pytest.raises(MerError, match=r"audio too short: 2047 samples \(93 ms\), at least 2048 needed"):
        validate_mono(np.zeros(2047, np.float32), sr=22050, min_samples=2048)
    with pytest.raises(MerError, match="block too short: 0 samples, at least 1 needed"):
        validate_mono(np.zeros(0, np.float32), name="block")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])  # 1e39 overflows float32
def test_non_finite_samples_are_refused_with_count_and_position(bad):
    y = np.zeros(4096)
    y[[100, 3000]] = bad
    message = r"audio contains NaN or infinite samples \(2 of 4096, the first at sample 100\)"
    with pytest.raises(MerError, match=message):
        validate_mono(y)


def test_complex_or_text_samples_are_refused():
    with pytest.raises(MerError, match="expected real-valued audio samples, got dtype complex"):
        validate_mono(np.zeros(4096, np.complex64))
    with pytest.raises(MerError, match="expected real-valued audio samples"):
        validate_mono(np.array(["a"] * 10))


def test_features_and_descriptors_check_through_it():
    y = np.zeros((2, 4096), np.float32)
    for analyse in (lambda y: extract(y, FeatureConfig()), describe):
        with pytest.raises(MerError, match="expected mono audio"):
            analyse(y)
        with pytest.raises(MerError, match="too short: 100 samples"):
            analyse(np.zeros(100, np.float32))
        with pytest.raises(MerError, match="NaN or infinite"):
            analyse(np.full(4096, np.nan, np.float32))
