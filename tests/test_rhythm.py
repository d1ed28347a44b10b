"""mer.features.rhythm: librosa's onset picking, tempogram and beat tracker in NumPy, equal to librosa's."""

from __future__ import annotations

import numpy as np
import pytest

from mer.features import rhythm as R

SR, HOP = 22050, 512


def _envelope(y: np.ndarray) -> np.ndarray:
    """The onset envelope mer.features.descriptors computes (mel-dB flux)."""
    import librosa

    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))
    mel = librosa.feature.melspectrogram(S=S**2, sr=SR, n_mels=128)
    return librosa.onset.onset_strength(S=librosa.power_to_db(mel, ref=np.max if mel.max() > 0 else 1.0),
                                        sr=SR, hop_length=HOP)


def _click_track(bpm: float, seconds: float = 12.0) -> np.ndarray:
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    for t in np.arange(0.5, seconds - 0.1, 60.0 / bpm):
        i = int(t * SR)
        y[i : i + 200] += np.hanning(200).astype(np.float32) * np.sin(np.arange(200) * 0.3).astype(np.float32)
    return y


def _librosa_rhythm(env: np.ndarray) -> dict:
    import librosa

    tempo = librosa.feature.tempo(onset_envelope=env, sr=SR, hop_length=HOP)
    return {"onsets": librosa.onset.onset_detect(onset_envelope=env, sr=SR, hop_length=HOP, units="frames"),
            "tempo": tempo, "beats": librosa.beat.beat_track(onset_envelope=env, sr=SR, hop_length=HOP)[1],
            "tempogram": librosa.feature.tempogram(onset_envelope=env, sr=SR, hop_length=HOP, win_length=384)}


def _mer_rhythm(env: np.ndarray) -> dict:
    import librosa

    tempo = librosa.feature.tempo(tg=R.envelope_tempogram(env, 344), sr=SR, hop_length=HOP)
    return {"onsets": R.onset_frames(env, sr=SR, hop_length=HOP), "tempo": tempo,
            "beats": R.beat_frames(env, sr=SR, hop_length=HOP, bpm=tempo),
            "tempogram": R.envelope_tempogram(env, 384)}


def _assert_same(env: np.ndarray) -> dict:
    """Frames and tempo (a value of librosa's lag grid) equal; the tempogram within float rounding (on this
    machine it is bitwise equal too: both sides run the same FFTs, only along the other axis)."""
    expected, got = _librosa_rhythm(env), _mer_rhythm(env)
    for name in ("onsets", "beats", "tempo"):
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    np.testing.assert_allclose(got["tempogram"], expected["tempogram"], rtol=1e-12, atol=1e-12)
    return got


@pytest.mark.real_data
def test_equal_to_librosa_on_real_clips(fourq_clips):
    """Bitwise: the same onset and beat frames, tempo and tempogram (measured: all 540 4Q clips)."""
    from mer.audio import decode as audio

    for path in list(fourq_clips.values())[:3]:
        got = _assert_same(_envelope(audio.load(path, sr=SR)))
        assert len(got["beats"]) > 10 and len(got["onsets"]) > 10


@pytest.mark.parametrize("bpm", [90.0, 128.0])
def test_equal_to_librosa_on_click_tracks_and_the_beats_follow_the_clicks(bpm):
    got = _assert_same(_envelope(_click_track(bpm)))
    period = np.median(np.diff(got["beats"])) * HOP / SR
    assert period == pytest.approx(60.0 / bpm, rel=0.05)


def test_silence_and_a_short_signal_are_handled_like_librosa():
    assert len(R.onset_frames(np.zeros(100, np.float32), sr=SR, hop_length=HOP)) == 0
    assert len(R.beat_frames(np.zeros(100, np.float32), sr=SR, hop_length=HOP, bpm=120.0)) == 0
    rng = np.random.default_rng(0)
    _assert_same(_envelope((0.1 * rng.standard_normal(SR * 2)).astype(np.float32)))
    with pytest.raises(ValueError, match="positive tempo"):
        R.beat_frames(np.ones(100, np.float32), sr=SR, hop_length=HOP, bpm=0.0)


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_peak_pick_equals_librosas_on_ties_and_plateaus():
    import librosa

    rng = np.random.default_rng(1)
    for x in (rng.integers(0, 4, 400).astype(np.float32), rng.random(400).astype(np.float64),
              np.repeat(rng.random(50), 8).astype(np.float32)):
        kw = {"pre_max": 3, "post_max": 2, "pre_avg": 5, "post_avg": 4, "delta": 0.05, "wait": 2}
        np.testing.assert_array_equal(R.peak_pick(x, **kw), librosa.util.peak_pick(x, sparse=False, **kw))
