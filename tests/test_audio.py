import numpy as np
import pytest
import soundfile as sf

from mer.audio import decode as audio
from mer.core.errors import MerError
from tests.conftest import write_tone


@pytest.mark.real_data
def test_real_4q_clips_decode_to_mono_float32_at_22050(fourq_clips):
    assert len(fourq_clips) >= 2, "expected several sample rates / channel counts in 4q-dev"
    for (native_sr, channels), path in fourq_clips.items():
        info = sf.info(str(path))
        y = audio.load(path)
        assert y.dtype == np.float32 and y.ndim == 1
        expected = info.frames / native_sr * 22050  # an MP3 header's frame count is an estimate
        assert abs(len(y) - expected) <= 0.01 * expected, (path, native_sr, channels)
        assert 0.01 < np.abs(y).max() <= 1.5


@pytest.mark.real_data
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


@pytest.mark.real_data
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


# --------------------------------------------------------------------------- FFmpeg formats (PyAV)


def _sweep(sr: int, seconds: float = 2.0) -> np.ndarray:
    """A 200 Hz -> 2 kHz log sweep with a 1.5 Hz tremolo: one lag aligns it with its decode, no other."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(200 * 10 ** (t / seconds)) / sr
    return (0.3 * np.sin(phase) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))).astype(np.float32)


def _align(ref: np.ndarray, dec: np.ndarray, max_lag: int = 4096) -> tuple[int, float, float]:
    """(lag of `dec` behind `ref` in samples, correlation, RMS ratio dec/ref) over their overlap."""
    n = len(ref) + len(dec)
    c = np.fft.irfft(np.fft.rfft(dec, n) * np.conj(np.fft.rfft(ref, n)), n)
    lags = np.r_[np.arange(max_lag), np.arange(-max_lag, 0)]
    lag = int(lags[np.argmax(np.r_[c[:max_lag], c[-max_lag:]])])
    a, b = ref[max(0, -lag):], dec[max(0, lag):]
    m = min(len(a), len(b))
    a, b = a[:m], b[:m]
    return lag, float(np.corrcoef(a, b)[0, 1]), float(np.sqrt(np.mean(b**2)) / np.sqrt(np.mean(a**2)))


# (file name, FFmpeg encoder, container, sample rate, channels, bit rate)
ENCODED = [
    ("aac.m4a", "aac", None, 44100, 2, None),
    ("alac.m4a", "alac", None, 44100, 2, None),
    ("aac_mono.mp4", "aac", None, 32000, 1, None),
    ("adts.aac", "aac", "adts", 22050, 1, None),
    ("opus.webm", "libopus", None, 48000, 2, None),
    ("opus.mka", "libopus", None, 48000, 2, None),
    ("opus.opus", "libopus", "ogg", 48000, 1, None),
    ("wma.wma", "wmav2", None, 44100, 2, 128000),  # wmav2 needs an explicit bit rate
    ("lame.mp3", "libmp3lame", None, 44100, 2, None),
]


@pytest.mark.parametrize("name,codec,fmt,sr,channels,bit_rate", ENCODED, ids=[e[0] for e in ENCODED])
def test_pyav_encoded_formats_decode_to_the_source(tmp_path, name, codec, fmt, sr, channels, bit_rate):
    from tests.conftest import write_encoded

    src = _sweep(sr)
    path = write_encoded(tmp_path / name, np.stack([src] * channels, axis=1), sr, codec, fmt, bit_rate)
    y = audio.load(path, sr=sr)
    assert y.dtype == np.float32 and y.ndim == 1
    # lossy codecs add priming / padding (AAC 1024-2048, WMA 2048 samples, Opus 312): 0.1 s covers them
    assert abs(len(y) - len(src)) <= 0.1 * sr, len(y)
    lag, corr, rms = _align(src, y)
    assert corr > 0.99 and 0.9 < rms < 1.1, (lag, corr, rms)
    assert abs(audio.duration(path) - 2.0) <= 0.1
    # at the paper's rate: `stream` gives `load`'s samples, block by block
    y22 = audio.load(path)
    np.testing.assert_array_equal(np.concatenate(list(audio.stream(path, block_seconds=0.3))), y22)
    assert abs(len(y22) - len(y) * 22050 / sr) <= 1


def test_alac_is_lossless_and_sample_aligned(tmp_path):
    from tests.conftest import write_encoded

    src = _sweep(44100)
    path = write_encoded(tmp_path / "a.m4a", np.stack([src, 0.5 * src], axis=1), 44100, "alac")
    y = audio.load(path, sr=44100)
    assert len(y) == len(src)
    # 16-bit quantisation of each channel, then the channel mean: within 1 LSB
    np.testing.assert_allclose(y, 0.75 * src, atol=1.0 / 32768)


def test_offset_and_duration_through_pyav_are_sample_exact(tmp_path):
    from tests.conftest import write_encoded

    path = write_encoded(tmp_path / "a.m4a", _sweep(44100), 44100, "aac")
    full = audio.load(path, sr=44100)
    part = audio.load(path, sr=44100, offset=0.5, duration=0.7)
    np.testing.assert_array_equal(part, full[22050 : 22050 + int(round(0.7 * 44100))])
    tail = audio.load(path, sr=44100, offset=1.5)  # ends early at the end of the file
    np.testing.assert_array_equal(tail, full[int(1.5 * 44100):])
    with pytest.raises(MerError, match=r"a\.m4a: offset 5\.0 s is past the end \(2\.0\d s\)"):
        audio.load(path, offset=5.0)
    with pytest.raises(MerError, match="negative offset"):
        audio.load(path, offset=-1.0)


def test_the_content_chooses_the_decoder_not_the_extension(tmp_path):
    from tests.conftest import write_encoded

    m4a = write_encoded(tmp_path / "a.m4a", _sweep(44100), 44100, "aac")
    wav = write_tone(tmp_path / "t.wav", seconds=1.0)
    (tmp_path / "m4a_named.mp3").write_bytes(m4a.read_bytes())
    (tmp_path / "wav_named.m4a").write_bytes(wav.read_bytes())
    np.testing.assert_array_equal(audio.load(tmp_path / "m4a_named.mp3"), audio.load(m4a))
    np.testing.assert_array_equal(audio.load(tmp_path / "wav_named.m4a"), audio.load(wav))


def test_ffmpeg_reads_what_libsndfile_refuses_in_its_own_containers(tmp_path):
    from tests.conftest import write_encoded

    src = _sweep(44100, 1.0)
    # FLAC in Ogg: libsndfile opens Ogg but fails on this codec ("unknown error in flac decoder")
    ogg = write_encoded(tmp_path / "flac.ogg", src, 44100, "flac", "ogg")
    with pytest.raises(sf.LibsndfileError):
        sf.info(str(ogg))
    np.testing.assert_allclose(audio.load(ogg, sr=44100), src, atol=1.0 / 32768)  # lossless, 16 bits
    assert audio.duration(ogg) == pytest.approx(1.0, abs=1e-3)
    # ADTS AAC behind an ID3v2 tag, named .mp3 (some podcast tools write these)
    aac = write_encoded(tmp_path / "a.aac", src, 44100, "aac", "adts")
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x14" + bytes(20)  # a 20-byte (padding-only) ID3v2.4 tag
    (tmp_path / "tagged.mp3").write_bytes(tag + aac.read_bytes())
    np.testing.assert_array_equal(audio.load(tmp_path / "tagged.mp3"), audio.load(aac))


def test_pyav_channel_averaging_and_integer_scaling_match_soundfile(tmp_path):
    # a 16-bit WAV decoded by FFmpeg (packed s16) and by libsndfile: the same float32 samples
    p = tmp_path / "s16.wav"
    src = _sweep(44100, 1.0)
    sf.write(str(p), np.stack([src, 0.5 * src], axis=1), 44100, subtype="PCM_16")
    with audio._AvReader(p) as r:
        via_ffmpeg = np.concatenate(list(r.frames()))
    np.testing.assert_array_equal(via_ffmpeg, audio.load(p, sr=44100))


def test_random_bytes_named_m4a_name_the_real_cause(tmp_path):
    p = tmp_path / "random.m4a"
    p.write_bytes(np.random.default_rng(0).bytes(5000))  # starts 0x5f82: no magic (~1 seed in 2000 has MPEG sync)
    with pytest.raises(MerError, match=r"random\.m4a: cannot decode audio: content is not a recognised audio format "
                                        r"\(starts with 0x[0-9a-f]{16} "):
        audio.load(p)


@pytest.mark.real_data
def test_real_4q_clip_reencoded_to_m4a_matches_the_mp3_decode(tmp_path, fourq_clips):
    from tests.conftest import write_encoded

    (native_sr, channels), mp3 = max(fourq_clips.items())  # the highest rate present
    data, sr = sf.read(str(mp3), dtype="float32", always_2d=True)
    m4a = write_encoded(tmp_path / "clip.m4a", data, sr, "aac", bit_rate=192000)
    a, b = audio.load(mp3), audio.load(m4a)
    assert abs(len(b) - len(a)) <= 0.05 * 22050
    lag, corr, rms = _align(a, b)
    assert abs(lag) <= 2 and corr > 0.98 and 0.95 < rms < 1.05, (lag, corr, rms)
    assert abs(audio.duration(m4a) - audio.duration(mp3)) <= 0.05
