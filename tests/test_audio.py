import numpy as np
import pytest
import soundfile as sf

from mer import audio
from mer.errors import MerError
from tests.conftest import write_tone


def test_real_4q_clips_decode_to_mono_float32_at_22050(fourq_clips):
    assert len(fourq_clips) >= 2, "expected several sample rates / channel counts in 4q-dev"
    for (native_sr, channels), path in fourq_clips.items():
        info = sf.info(str(path))
        y = audio.load(path)
        assert y.dtype == np.float32 and y.ndim == 1
        expected = info.frames / native_sr * 22050  # an MP3 header's frame count is an estimate
        assert abs(len(y) - expected) <= 0.01 * expected, (path, native_sr, channels)
        assert 0.01 < np.abs(y).max() <= 1.5


def test_offset_and_duration_decode_only_the_excerpt(fourq_clips):
    path = next(iter(fourq_clips.values()))
    full = audio.load(path)
    part = audio.load(path, offset=2.0, duration=3.0)
    assert abs(len(part) - 3 * 22050) <= 2
    # the excerpt is the same audio as the matching slice of the full decode
    a, b = part[2000:20000], full[2 * 22050 + 2000 : 2 * 22050 + 20000]
    assert np.corrcoef(a, b)[0, 1] > 0.99


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
@pytest.mark.parametrize("sr,channels", [(44100, 2), (16000, 1), (22050, 1)])
def test_formats_rates_and_channels(tmp_path, fmt, sr, channels):
    path = write_tone(tmp_path / f"tone.{fmt}", sr=sr, channels=channels, seconds=1.0)
    y = audio.load(path)
    assert abs(len(y) - 22050) <= 2
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 22050 / len(y) - 440) < 3  # pitch survives resampling


def test_other_target_rate(tmp_path):
    y = audio.load(write_tone(tmp_path / "t.wav", sr=44100, seconds=1.0), sr=8000)
    assert abs(len(y) - 8000) <= 1


def test_missing_file(tmp_path):
    with pytest.raises(MerError, match=r"nope\.mp3: file not found"):
        audio.load(tmp_path / "nope.mp3")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(MerError, match=r"empty\.wav: empty file"):
        audio.load(tmp_path / "empty.wav")


def test_corrupt_file(tmp_path):
    p = tmp_path / "corrupt.mp3"
    p.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(MerError, match=r"corrupt\.mp3: cannot decode audio"):
        audio.load(p)


def test_truncated_real_mp3_is_an_error_or_shorter_audio(tmp_path, fourq_clips):
    src = next(iter(fourq_clips.values()))
    p = tmp_path / "truncated.mp3"
    p.write_bytes(src.read_bytes()[:200])
    with pytest.raises(MerError, match="truncated.mp3"):
        audio.load(p)


def test_zero_length_wav(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(str(p), np.zeros(0, dtype=np.float32), 22050)
    with pytest.raises(MerError, match=r"zero\.wav: zero-length audio"):
        audio.load(p)


def test_unsupported_extension(tmp_path):
    p = tmp_path / "song.xyz"
    p.write_bytes(b"abc")
    with pytest.raises(MerError, match=r"song\.xyz: unsupported format '\.xyz'"):
        audio.load(p)


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "d.wav").mkdir()
    with pytest.raises(MerError, match="not a file"):
        audio.load(tmp_path / "d.wav")


def test_offset_past_end(tmp_path):
    p = write_tone(tmp_path / "t.wav", seconds=1.0)
    with pytest.raises(MerError, match="past the end"):
        audio.load(p, offset=5.0)


def test_silence_is_returned_not_rejected(tmp_path):
    p = tmp_path / "silence.wav"
    sf.write(str(p), np.zeros(22050, dtype=np.float32), 22050)
    y = audio.load(p)
    assert len(y) == 22050 and not y.any()


def test_error_message_is_one_line(tmp_path):
    p = tmp_path / "corrupt.wav"
    p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk\njunk\n" * 10)
    with pytest.raises(MerError) as exc:
        audio.load(p)
    assert "\n" not in str(exc.value) and str(p) in str(exc.value)
