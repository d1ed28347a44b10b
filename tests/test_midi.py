"""EMOPIA MIDI: rendering with the SoundFont synthesizer, caching, and the dataset loader."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from mer.data import datasets
from mer.audio import midi
from mer.data import emopia
from mer.core.errors import MerError

try:
    import midirenderer  # noqa: F401
    import pretty_midi
except ImportError:  # the synthesizer tests skip; the install-hint test still runs
    pretty_midi = None

needs_synth = pytest.mark.skipif(pretty_midi is None, reason="needs midirenderer and pretty-midi (pip install)")


def test_missing_synthesizer_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "midirenderer", None)  # import fails as if not installed
    (tmp_path / "Q1_a_0.mid").write_bytes(b"MThd")
    with pytest.raises(MerError, match="pip install midirenderer"):
        midi.render(tmp_path / "Q1_a_0.mid")
    with pytest.raises(MerError, match="pip install midirenderer"):
        datasets.load(tmp_path)


def write_midi(path, pitches=(60, 64, 67), seconds=2.0, program=0):
    """A chord held for `seconds`, played by a General MIDI `program` (0 = acoustic grand piano)."""
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    inst.notes += [pretty_midi.Note(velocity=90, pitch=p, start=0.0, end=seconds) for p in pitches]
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


@needs_synth
def test_render_is_mono_22050_and_sounds(tmp_path):
    y = midi.render(write_midi(tmp_path / "a.mid"), sr=22050)
    assert y.dtype == np.float32 and y.ndim == 1
    assert 1.9 * 22050 < len(y) < 4.0 * 22050  # the chord plus at most the release tail
    assert np.sqrt(np.mean(y[: 22050] ** 2)) > 1e-3  # a real instrument, audible
    peak_hz = np.argmax(np.abs(np.fft.rfft(y[:22050])))  # one second: 1-Hz bins
    assert 100 < peak_hz < 1000  # energy where C4-E4-G4 (262-392 Hz) and first overtones are


@needs_synth
def test_render_keeps_only_max_seconds(tmp_path):
    y = midi.render(write_midi(tmp_path / "long.mid", seconds=6.0), sr=22050, max_seconds=2.5)
    assert len(y) == pytest.approx(2.5 * 22050, abs=2)


@needs_synth
def test_renders_are_cached_and_keyed_by_content(tmp_path):
    a = write_midi(tmp_path / "a.mid")
    b = write_midi(tmp_path / "b.mid", pitches=(57, 60, 64))
    pa = midi.render_cached(a, tmp_path / "cache")
    mtime = pa.stat().st_mtime_ns
    assert midi.render_cached(a, tmp_path / "cache") == pa and pa.stat().st_mtime_ns == mtime  # no second render
    assert midi.render_cached(b, tmp_path / "cache") != pa
    assert midi.render_cached(a, tmp_path / "cache", max_seconds=1.0) != pa
    from mer.audio import decode as audio

    assert audio.load(pa).shape[0] > 22050


@needs_synth
def test_bad_midi_is_a_one_line_error_naming_the_file(tmp_path):
    bad = tmp_path / "Q1_x_0.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(MerError, match="Q1_x_0.mid.*cannot render MIDI"):
        midi.render(bad)
    renders, failures = midi.render_many([bad], tmp_path / "c", progress=False)
    assert renders == [None] and "cannot render" in failures[0][1]




@needs_synth
def test_emopia_folder_is_detected_with_labels_and_song_groups(tmp_path):
    root = tmp_path / "emopia"
    root.mkdir()
    names = ["Q1_abc_0.mid", "Q1_abc_1.mid", "Q3_-vAz_HTFEXs_0.mid", "Q4_zz_2.mid"]
    for k, n in enumerate(names):
        write_midi(root / n, pitches=(60 + k, 64 + k), seconds=1.0)
    shutil.copy(root / names[0], root / "README.mid")  # not an EMOPIA name: reported, skipped
    ds = datasets.load(root, cache_dir=tmp_path / "cache")
    assert ds.name.startswith("emopia")
    assert [c.label for c in ds] == ["Q1", "Q1", "Q3", "Q4"]
    assert [c.group for c in ds] == ["song:abc", "song:abc", "song:-vAz_HTFEXs", "song:zz"]
    assert [c.id for c in ds] == [n[:-4] for n in names]
    assert all(c.path.suffix == ".flac" and c.path.is_file() for c in ds)
    assert any("README.mid" in p for p in ds.problems)


@pytest.mark.real_data
@needs_synth
def test_real_emopia_clip_renders(tmp_path):
    from tests.conftest import EMOPIA

    files = emopia.emopia_files(EMOPIA)
    if not files:
        pytest.skip(f"EMOPIA MIDI not found at {EMOPIA}")
    index = emopia.emopia_index(EMOPIA)
    assert len(index) == len(files) and index.n_groups() < len(index)
    y = midi.render(files[0])
    assert 15 * 22050 < len(y) <= 30 * 22050 and np.abs(y).max() > 0.01
