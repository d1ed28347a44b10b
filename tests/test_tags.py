"""Mood tags written into real files (mer.library.tags): read back with mutagen, audio unchanged, crash-safe.

Real 4Q MP3 clips are copied to a temporary folder; FLAC, OGG Vorbis and Opus files are
made from a real clip's first seconds with soundfile, an M4A with PyAV's AAC encoder.
"Audio unchanged" is checked by decoding before and after (exact sample equality) and,
for MP3, by comparing the bytes of the MPEG frames after the ID3 tag.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mer.core.errors import MerError
from mer.core.labels import QUADRANT_NAMES
from mer.library import tags as tagsmod
from mer.library.tags import MOOD_TAGS, read_tags, write_tags
from mer.library.track import Track
from tests.conftest import FOURQ, write_encoded

SECONDS = 6

#: Fixtures that read ../shared/data when it is there (tests/conftest.py checks the marker).
REAL_DATA_FIXTURES = {"masters"}


def _mp3s(root: Path) -> dict[str, Path]:
    """One real 4Q MP3 per quadrant; without the 4Q data, tones encoded with PyAV's LAME (skips if it has none)."""
    out = {}
    for i, q in enumerate(("Q1", "Q2", "Q3", "Q4")):
        if (FOURQ / q).is_dir():
            src = min((FOURQ / q).glob("*.mp3"))
            out[f"{q}.mp3"] = root / f"{q}_{src.name}"
            shutil.copyfile(src, out[f"{q}.mp3"])
        else:
            t = np.arange(SECONDS * 32000) / 32000
            tone = 0.3 * np.sin(2 * np.pi * 220 * (i + 1) * t)
            out[f"{q}.mp3"] = write_encoded(root / f"{q}_tone.mp3", np.stack([tone, tone], axis=1), 32000,
                                            "libmp3lame")
    return out


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> dict[str, Path]:
    """Files made once per module: 4 MP3s (real 4Q clips, one per quadrant, when the data is there) and
    FLAC / WAV / AIFF / OGG Vorbis / Opus / M4A (AAC, both atom orders) made from the first one's first seconds."""
    root = tmp_path_factory.mktemp("masters")
    out = _mp3s(root)
    data, sr = sf.read(str(out["Q1.mp3"]), frames=SECONDS * 32000, dtype="float32")
    sf.write(str(root / "clip.flac"), data, sr, subtype="PCM_16")
    sf.write(str(root / "clip.wav"), data, sr, subtype="PCM_16")  # ID3 in a RIFF chunk
    sf.write(str(root / "clip.aiff"), data, sr, subtype="PCM_16")
    sf.write(str(root / "clip.ogg"), data, sr, format="OGG", subtype="VORBIS")
    sf.write(str(root / "clip.opus"), data, 48000, format="OGG", subtype="OPUS")  # Opus needs 48 kHz
    write_encoded(root / "clip.m4a", data, sr, "aac")  # moov after mdat
    _faststart_m4a(root / "faststart.m4a", data, sr)  # moov before mdat: mutagen must move the audio's offsets
    for name in ("clip.flac", "clip.wav", "clip.aiff", "clip.ogg", "clip.opus", "clip.m4a", "faststart.m4a"):
        out[name] = root / name
    return out


def _faststart_m4a(path: Path, data: np.ndarray, sr: int) -> None:
    import av

    planar = np.ascontiguousarray(data.T)
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("aac", rate=sr, layout="stereo")
        for i in range(0, planar.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, i:i + 4096]), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts = sr, i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    raw = path.read_bytes()
    assert raw.find(b"moov") < raw.find(b"mdat")


@pytest.fixture
def lib(tmp_path, masters) -> dict[str, Path]:
    """Fresh writable copies of the master files in a test's folder (names kept)."""
    folder = tmp_path / "music"
    folder.mkdir()
    out = {}
    for key, src in masters.items():
        out[key] = folder / src.name
        shutil.copyfile(src, out[key])
        os.chmod(out[key], 0o644)
    return out


def _track(path: Path, i: int, quadrant: str = "Q1", v: float = 0.42, a: float = -0.3) -> Track:
    return Track(id=i, path=str(path), quadrant=quadrant, valence=v, arousal=a, model="default-test")


def _decode(path: Path) -> np.ndarray:
    if path.suffix == ".m4a":
        import av

        with av.open(str(path)) as c:
            return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    data, _ = sf.read(str(path), dtype="float32")
    return data


def _mp3_frames(data: bytes) -> bytes:
    """The bytes after the ID3v2 tag (and before an ID3v1 tag): the MPEG audio frames."""
    start = 0
    if data[:3] == b"ID3":
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]  # syncsafe
        start = 10 + size + (10 if data[5] & 0x10 else 0)
    end = len(data) - 128 if data[-128:-125] == b"TAG" else len(data)
    return data[start:end]


def _no_temp_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_mood_words_come_from_the_quadrant_names():
    assert MOOD_TAGS == {"Q1": "Happy", "Q2": "Tense", "Q3": "Sad", "Q4": "Calm"}
    for q, word in MOOD_TAGS.items():
        assert QUADRANT_NAMES[q].lower().startswith(word.lower())


@pytest.mark.real_data
def test_every_format_written_read_back_and_audio_unchanged(lib):
    before = {k: _decode(p) for k, p in lib.items()}
    mp3_frames = {k: _mp3_frames(p.read_bytes()) for k, p in lib.items() if k.endswith(".mp3")}
    quadrants = ["Q1", "Q2", "Q3", "Q4"]
    tracks = [_track(p, i, quadrants[i % 4], v=0.1 * i - 0.4, a=0.3 - 0.05 * i) for i, p in enumerate(lib.values())]
    report = write_tags(tracks)
    assert not report.failures and not report.unsupported, report.to_dict()
    assert len(report.written) == len(lib)
    for t, (key, path) in zip(tracks, lib.items()):
        got = read_tags(path)
        assert got["mood"] == MOOD_TAGS[t.quadrant]
        assert got["quadrant"] == t.quadrant and got["model"] == "default-test"
        assert got["valence"] == pytest.approx(t.valence, abs=5e-5)  # 4 decimals written
        assert got["arousal"] == pytest.approx(t.arousal, abs=5e-5)
        assert got["format"] == {".mp3": "id3", ".wav": "id3", ".aiff": "id3", ".m4a": "mp4"}.get(path.suffix, "vorbis")
        after = _decode(path)
        assert after.shape == before[key].shape and np.array_equal(after, before[key]), key
    for key, frames in mp3_frames.items():
        assert _mp3_frames(lib[key].read_bytes()) == frames, key
    _no_temp_files(lib["Q1.mp3"].parent)


@pytest.mark.real_data
def test_fields_players_read_are_the_documented_ones(lib):
    import mutagen

    write_tags([_track(lib["Q3.mp3"], 1, "Q3"), _track(lib["clip.flac"], 2, "Q2"), _track(lib["clip.m4a"], 3, "Q4")])
    id3 = mutagen.File(str(lib["Q3.mp3"])).tags
    assert id3.version[:2] == (2, 4)
    assert str(id3.getall("TMOO")[0]) == "Sad"
    assert id3.getall("TXXX:MER_QUADRANT")[0].text == ["Q3"]
    assert id3.getall("TXXX:MER_VALENCE")[0].text == ["0.4200"]
    assert mutagen.File(str(lib["clip.flac"])).tags["MOOD"] == ["Tense"]
    assert mutagen.File(str(lib["clip.flac"])).tags["MER_AROUSAL"] == ["-0.3000"]
    mp4 = mutagen.File(str(lib["clip.m4a"])).tags
    assert bytes(mp4["----:com.apple.iTunes:MOOD"][0]) == b"Calm"
    assert bytes(mp4["----:com.apple.iTunes:MER_MODEL"][0]) == b"default-test"


@pytest.mark.real_data
def test_a_users_mood_is_kept_unless_overwrite(lib):
    import mutagen
    from mutagen.id3 import ID3, TMOO

    id3 = ID3()
    id3.add(TMOO(encoding=3, text=["Melancholy"]))
    id3.save(str(lib["Q1.mp3"]), v2_version=3)
    flac = mutagen.File(str(lib["clip.flac"]))
    flac["MOOD"] = ["Dreamy"]
    flac.save()
    tracks = [_track(lib["Q1.mp3"], 1, "Q1"), _track(lib["clip.flac"], 2, "Q4")]

    report = write_tags(tracks)
    assert sorted(o.kept_mood for o in report.kept_mood) == ["Dreamy", "Melancholy"]
    assert read_tags(lib["Q1.mp3"])["mood"] == "Melancholy" and read_tags(lib["clip.flac"])["mood"] == "Dreamy"
    assert read_tags(lib["Q1.mp3"])["quadrant"] == "Q1"  # mer's own fields are written all the same
    assert write_tags(tracks).unchanged == [str(lib["Q1.mp3"]), str(lib["clip.flac"])]

    report = write_tags(tracks, overwrite=True)
    assert not report.kept_mood and len(report.written) == 2
    assert report.written[0].previous["MOOD"] == "Melancholy"
    assert read_tags(lib["Q1.mp3"])["mood"] == "Happy" and read_tags(lib["clip.flac"])["mood"] == "Calm"


@pytest.mark.real_data
def test_mers_own_mood_is_updated_by_a_new_analysis(lib):
    write_tags([_track(lib["Q2.mp3"], 1, "Q2")])
    report = write_tags([_track(lib["Q2.mp3"], 1, "Q3", v=-0.5, a=-0.5)])
    assert not report.kept_mood and report.written[0].fields["MOOD"] == "Sad"
    assert read_tags(lib["Q2.mp3"])["mood"] == "Sad" and read_tags(lib["Q2.mp3"])["quadrant"] == "Q3"


@pytest.mark.real_data
def test_rerun_is_idempotent_and_keeps_the_mode(lib):
    os.chmod(lib["Q4.mp3"], 0o640)
    tracks = [_track(lib["Q4.mp3"], 1, "Q4"), _track(lib["clip.ogg"], 2, "Q4")]
    write_tags(tracks)
    assert stat.S_IMODE(lib["Q4.mp3"].stat().st_mode) == 0o640
    written = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (lib["Q4.mp3"], lib["clip.ogg"])}
    report = write_tags(tracks)
    assert report.unchanged == [str(lib["Q4.mp3"]), str(lib["clip.ogg"])] and not report.written
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in written} == written


@pytest.mark.real_data
def test_dry_run_changes_nothing_and_says_what_it_would_write(lib):
    state = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in lib.values()}
    report = write_tags([_track(p, i, "Q2") for i, p in enumerate(lib.values())], dry_run=True)
    assert report.dry_run and len(report.written) == len(lib)
    assert all(o.fields["MOOD"] == "Tense" and o.fields["MER_QUADRANT"] == "Q2" for o in report.written)
    assert report.summary().startswith(f"would write {len(lib)},")
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in lib.values()} == state
    _no_temp_files(lib["Q1.mp3"].parent)


@pytest.mark.real_data
def test_failure_mid_write_leaves_the_original_intact(lib, monkeypatch):
    from mutagen.mp3 import MP3

    victim, other = lib["Q1.mp3"], lib["Q2.mp3"]
    original = victim.read_bytes()
    real_save = MP3.save
    calls = []

    def half_written_then_crash(self, *args, **kwargs):
        calls.append(self.filename)
        real_save(self, *args, **kwargs)
        if len(calls) == 1:  # the first file: the copy is cut in half, then the "disk" fails
            with open(self.filename, "r+b") as f:
                f.truncate(os.path.getsize(self.filename) // 2)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(MP3, "save", half_written_then_crash)
    report = write_tags([_track(victim, 1), _track(other, 2)])
    assert [p for p, _ in report.failures] == [str(victim)]
    assert "No space left on device" in report.failures[0][1] and "\n" not in report.failures[0][1]
    assert calls[0] != str(victim)  # mutagen wrote into a copy, never into the file itself
    assert victim.read_bytes() == original
    assert [o.path for o in report.written] == [str(other)] and read_tags(other)["mood"] == "Happy"
    _no_temp_files(victim.parent)


@pytest.mark.real_data
def test_failure_at_the_replace_leaves_the_original_intact(lib, monkeypatch):
    victim = lib["clip.flac"]
    original = victim.read_bytes()

    def boom(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(tagsmod.os, "replace", boom)
    report = write_tags([_track(victim, 1)])
    monkeypatch.undo()
    assert len(report.failures) == 1 and "Input/output error" in report.failures[0][1]
    assert victim.read_bytes() == original
    _no_temp_files(victim.parent)


@pytest.mark.real_data
def test_a_file_changed_while_tagging_is_left_alone(lib, monkeypatch):
    victim = lib["clip.ogg"]
    real_copy = shutil.copyfile

    def copy_then_user_edits(src, dst):
        out = real_copy(src, dst)
        with open(src, "ab") as f:  # another program writes the file meanwhile
            f.write(b"\0")
        return out

    monkeypatch.setattr(tagsmod.shutil, "copyfile", copy_then_user_edits)
    edited_size = victim.stat().st_size + 1
    report = write_tags([_track(victim, 1)])
    assert len(report.failures) == 1 and "changed while" in report.failures[0][1]
    assert victim.stat().st_size == edited_size  # the other program's write survives
    _no_temp_files(victim.parent)


@pytest.mark.real_data
def test_unsupported_corrupt_readonly_and_unanalysed_files_are_reported_others_go_on(lib, tmp_path):
    folder = lib["Q1.mp3"].parent
    text = folder / "notes.txt"
    text.write_text("not audio")
    corrupt = folder / "broken.mp3"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    wav = folder / "raw.wav"
    sf.write(str(wav), np.zeros(800, dtype=np.float32), 8000)
    locked = lib["Q3.mp3"]
    os.chmod(locked, 0o444)
    locked_bytes = locked.read_bytes()
    tracks = [_track(text, 1), _track(corrupt, 2), _track(lib["Q2.mp3"], 3), _track(locked, 4),
              _track(folder / "gone.mp3", 5), Track(id=6, path=str(lib["Q4.mp3"]), quadrant=None, flags=["silent"]),
              Track(id=7, path=str(wav), status="failed", error="cannot decode")]
    report = write_tags(tracks)
    assert [p for p, _ in report.unsupported] == [str(text)]
    failed = dict(report.failures)
    assert set(failed) == {str(corrupt), str(locked), str(folder / "gone.mp3")}
    assert "read-only" in failed[str(locked)] and "not found" in failed[str(folder / "gone.mp3")]
    assert all("\n" not in m and m.startswith(p) for p, m in report.failures)
    assert {p for p, _ in report.skipped} == {str(lib["Q4.mp3"]), str(wav)}
    assert [o.path for o in report.written] == [str(lib["Q2.mp3"])]
    assert locked.read_bytes() == locked_bytes
    with pytest.raises(MerError, match="notes.txt"):
        read_tags(text)


@pytest.mark.real_data
def test_written_outcome_records_the_new_stat(lib):
    report = write_tags([_track(lib["clip.opus"], 1)])
    o = report.written[0]
    st = lib["clip.opus"].stat()
    assert (o.size, o.mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert write_tags([_track(lib["clip.opus"], 1)], dry_run=True).unchanged == [str(lib["clip.opus"])]


@pytest.mark.real_data
def test_a_symbolic_link_stays_a_link_and_its_target_is_tagged(lib, tmp_path):
    link = tmp_path / "link.mp3"
    link.symlink_to(lib["Q1.mp3"])
    frames = _mp3_frames(lib["Q1.mp3"].read_bytes())
    report = write_tags([_track(link, 1, "Q4")])
    assert [o.path for o in report.written] == [str(link)]
    assert link.is_symlink() and read_tags(lib["Q1.mp3"])["mood"] == "Calm"
    assert _mp3_frames(lib["Q1.mp3"].read_bytes()) == frames
    _no_temp_files(tmp_path)


# ---------------------------------------------------------------------------------------
# mer tag over a library


def _library(db: Path, files: dict[str, Path]):
    """A library whose rows say what a scan with the shipped model would store (no analysis run)."""
    from mer.library.db import open_library
    from mer.library.scan import content_hash, model_id

    mid = model_id(None)
    items = []
    for i, (key, p) in enumerate(files.items()):
        q = ("Q1", "Q2", "Q3", "Q4")[i % 4]
        st = p.stat()
        items.append((str(p), st.st_size, st.st_mtime_ns,
                      {"content_hash": content_hash(p), "status": "ok", "model": mid, "quadrant": q,
                       "valence": 0.2 * i - 0.5, "arousal": 0.4 - 0.1 * i, "flags": [],
                       "vector": np.zeros(4, np.float32).tobytes()}, None))  # a scan stores a similarity vector
    with open_library(db) as lib:
        lib.record(items)
    return mid


@pytest.mark.real_data
def test_mer_tag_cli_dry_run_then_write_then_scan_skips(lib, tmp_path):
    from typer.testing import CliRunner

    from mer.apps.cli import app
    from mer.library.db import open_library
    from mer.library.scan import content_hash, scan

    files = {k: lib[k] for k in ("Q1.mp3", "Q2.mp3", "clip.flac", "clip.m4a")}
    db = tmp_path / "lib.db"
    _library(db, files)
    state = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files.values()}
    runner = CliRunner()
    r = runner.invoke(app, ["tag", "--db", str(db), "--dry-run", "-q"])
    assert r.exit_code == 0, r.output
    assert r.output.count("would write ") == 5 and "MOOD=Happy" in r.output  # 4 lines + the summary
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files.values()} == state

    r = runner.invoke(app, ["tag", "--db", str(db), "--path", "*.mp3", "-q"])
    assert r.exit_code == 0, r.output
    assert "wrote 2, unchanged 0" in r.output
    assert read_tags(files["Q2.mp3"])["mood"] == "Tense" and read_tags(files["clip.flac"])["mood"] is None
    with open_library(db, readonly=True) as lib_:
        t = lib_.track_at(files["Q1.mp3"])
    assert (t.size, t.content_hash) == (files["Q1.mp3"].stat().st_size, content_hash(files["Q1.mp3"]))
    report = scan(list(files.values()), db=db, progress=False)  # tagged files are known: nothing analysed
    assert (report.found, report.analysed) == (4, 0)


@pytest.mark.real_data
def test_mer_tag_cli_failures_exit_3(lib, tmp_path):
    from typer.testing import CliRunner

    from mer.apps.cli import app

    broken = lib["Q1.mp3"].parent / "broken.mp3"
    broken.write_bytes(b"\xff" * 3000)
    db = tmp_path / "lib.db"
    _library(db, {"broken": broken, "Q2.mp3": lib["Q2.mp3"]})
    r = CliRunner().invoke(app, ["tag", "--db", str(db), "-q"])
    assert r.exit_code == 3, r.output
    assert "1 file(s) failed" in r.output and "broken.mp3: cannot read tags" in r.output
    assert read_tags(lib["Q2.mp3"])["mood"] == "Tense"


@pytest.mark.real_data
def test_a_file_changed_since_its_analysis_is_skipped(lib):
    p = lib["Q2.mp3"]
    st = p.stat()
    stale = Track(id=1, path=str(p), quadrant="Q1", valence=0.5, arousal=0.5, size=st.st_size - 1,
                  mtime_ns=st.st_mtime_ns)
    before = p.read_bytes()
    report = write_tags([stale])
    assert [r for _, r in report.skipped] == [f"{p}: changed since it was analysed (run mer scan first)"]
    assert p.read_bytes() == before
    current = Track(id=1, path=str(p), quadrant="Q1", valence=0.5, arousal=0.5, size=st.st_size,
                    mtime_ns=st.st_mtime_ns)
    assert len(write_tags([current]).written) == 1
