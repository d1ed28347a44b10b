"""The library database (mer.library.db), `mer scan` (mer.library.scan), queries and exports.

The real-data tests build a small library of real 4Q clips (12-s excerpts, to keep the
analyses short) in nested folders, re-encoded to MP3, FLAC, OGG and M4A, with one
duplicate and one corrupt file. It is scanned once per module (the reference); tests
that change files work on their own copies.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mer.core.errors import MerError
from mer.library import db as libdb
from mer.library.db import open_library

#: Seconds of each real clip kept in the test library.
CLIP_SECONDS = 12.0
#: Tolerance of values compared between two scans of the same bytes.
TOL = 1e-6
#: Numeric fields of a Track compared between scans.
NUMERIC = ("valence", "arousal", "tempo_bpm", "loudness_db", "duration_s")


def _mer_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("mer")
    return [str(script), *args] if script.is_file() else [sys.executable, "-c", "from mer.apps.cli import app; app()",
                                                          *args]


def _build_tree(root: Path, clips: list[Path]) -> dict[str, Path]:
    """The test library's files under `root` (nested folders, four formats, a duplicate, a corrupt file)."""
    import mutagen

    from tests.conftest import write_encoded

    layout = ["rock/q1a.mp3", "rock/live/q1b.flac", "jazz/q2a.ogg", "jazz/q2b.m4a", "classical/q3a.flac",
              "classical/old/q3b.ogg", "ambient/q4a.m4a", "ambient/q4b.mp3"]
    files = {}
    for rel, clip in zip(layout, clips):
        y, sr = sf.read(str(clip), dtype="float32", always_2d=True)
        y = y[: int(CLIP_SECONDS * sr)]
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".m4a":
            write_encoded(path, y, sr, "aac")
        elif path.suffix == ".ogg":
            sf.write(str(path), y, sr, format="OGG", subtype="VORBIS")
        else:
            sf.write(str(path), y, sr)
        files[rel] = path
    tagged = mutagen.File(files["classical/q3a.flac"], easy=True)
    tagged["artist"], tagged["title"], tagged["album"] = "Test Artist", "Test Title", "Test Album"
    tagged.save()
    (root / "copies").mkdir()
    shutil.copy2(files["rock/q1a.mp3"], root / "copies" / "q1a-copy.mp3")
    files["copies/q1a-copy.mp3"] = root / "copies" / "q1a-copy.mp3"
    (root / "broken.mp3").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    files["broken.mp3"] = root / "broken.mp3"
    return files


def _by_relpath(db: Path, root: Path) -> dict[str, dict]:
    with open_library(db, readonly=True) as lib:
        return {os.path.relpath(t.path, root): t.to_dict() for t in lib.tracks(status=None)}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, fourq_dir):
    """(pristine tree, its scanned copy, the library of that copy, a frozen copy of the library, the first report)."""
    from mer.library.scan import scan

    base = tmp_path_factory.mktemp("library")
    clips = [sorted((fourq_dir / q).glob("*.mp3"))[k] for q in ("Q1", "Q2", "Q3", "Q4") for k in (0, 1)]
    pristine = base / "pristine"
    _build_tree(pristine, clips)
    tree = base / "music"
    shutil.copytree(pristine, tree)
    db = base / "library.db"
    report = scan([tree], db=db, cache_dir=base / "cache", progress=False)
    frozen = base / "frozen.db"
    with open_library(db, readonly=True) as lib:  # a consistent copy, whatever is in the WAL
        lib.conn.execute(f"VACUUM INTO '{frozen}'")
    return pristine, tree, db, frozen, report


@pytest.mark.real_data
def test_scan_stores_every_file_once_with_real_results(scanned):
    from mer.workflows.predict import load_model, predict_files

    pristine, tree, db, frozen, report = scanned
    assert (report.found, report.analysed, report.copied, report.failed) == (10, 9, 1, 1)
    assert [p.name for p, _ in report.failures] == ["broken.mp3"]
    tracks = _by_relpath(frozen, tree)
    assert len(tracks) == 10
    assert tracks["broken.mp3"]["status"] == "failed" and "broken.mp3" in tracks["broken.mp3"]["error"]
    ok = {rel: t for rel, t in tracks.items() if t["status"] == "ok"}
    assert len(ok) == 9
    for rel, t in ok.items():
        assert t["quadrant"] in ("Q1", "Q2", "Q3", "Q4"), rel
        assert abs(sum(t["probabilities"].values()) - 1) < 1e-6
        assert -1 <= t["valence"] <= 1 and -1 <= t["arousal"] <= 1
        assert 30 < t["tempo_bpm"] < 300 and -60 < t["loudness_db"] < 0, rel
        assert abs(t["duration_s"] - CLIP_SECONDS) < 0.1, rel  # every format decodes to the excerpt's length
        assert t["summary"]["duration_s"] == pytest.approx(t["duration_s"], abs=0.1)
        assert set(t["opening"]) == {"valence", "arousal"} and t["model"].startswith("recipe-")
    # the duplicate has the original's result, copied
    for key in ("probabilities", "valence", "arousal", "summary", "content_hash"):
        assert ok["copies/q1a-copy.mp3"][key] == ok["rock/q1a.mp3"][key]
    assert (ok["classical/q3a.flac"]["artist"], ok["classical/q3a.flac"]["title"]) == ("Test Artist", "Test Title")
    # a model without a tempo descriptor: librosa's beat tracker gives the tempo
    from mer.library.scan import _beat_tempo

    assert 30 < _beat_tempo(tree / "jazz" / "q2b.m4a") < 300
    # the stored prediction is mer.workflows.predict's for that file
    (pred,), _ = predict_files(load_model(), [tree / "jazz" / "q2b.m4a"], progress=False)
    assert ok["jazz/q2b.m4a"]["valence"] == pytest.approx(pred.valence, abs=TOL)
    with open_library(frozen, readonly=True) as lib:
        tl = lib.timeline(ok["jazz/q2b.m4a"]["id"])
        assert tl["schema"] == "mer.timeline/1" and tl["summary"] == ok["jazz/q2b.m4a"]["summary"]
        with pytest.raises(MerError, match="no timeline"):
            lib.timeline(tracks["broken.mp3"]["id"])
        with pytest.raises(MerError, match="no track with id 999"):
            lib.track(999)


@pytest.mark.real_data
def test_rescan_analyses_only_what_changed(scanned, tmp_path):
    from mer.library.scan import scan

    pristine, tree, db, frozen, _ = scanned
    again = scan([tree], db=db, cache_dir=tmp_path / "cache", progress=False)
    assert (again.analysed, again.skipped, again.moved, again.missing, again.copied) == (0, 10, 0, 0, 0)
    before = _by_relpath(db, tree)

    (tree / "jazz" / "q2a.ogg").rename(tree / "jazz" / "renamed.ogg")          # moved
    (tree / "ambient" / "q4b.mp3").unlink()                                      # deleted
    y, sr = sf.read(str(tree / "rock" / "live" / "q1b.flac"))
    sf.write(str(tree / "rock" / "live" / "q1b.flac"), 0.5 * y, sr)             # changed
    os.utime(tree / "classical" / "q3a.flac")                                   # touched, same bytes
    report = scan([tree], db=db, cache_dir=tmp_path / "cache", progress=False)
    assert (report.analysed, report.moved, report.missing, report.copied, report.failed) == (1, 1, 1, 0, 0)
    assert report.skipped == 7  # the touched file is recognised by its hash
    after = _by_relpath(db, tree)
    assert after["jazz/renamed.ogg"]["id"] == before["jazz/q2a.ogg"]["id"]
    assert after["jazz/renamed.ogg"]["analysed_at"] == before["jazz/q2a.ogg"]["analysed_at"]
    assert "jazz/q2a.ogg" not in after
    assert after["ambient/q4b.mp3"]["status"] == "missing"
    assert after["ambient/q4b.mp3"]["valence"] == before["ambient/q4b.mp3"]["valence"]  # kept
    changed = after["rock/live/q1b.flac"]
    assert changed["content_hash"] != before["rock/live/q1b.flac"]["content_hash"]
    assert changed["loudness_db"] == pytest.approx(before["rock/live/q1b.flac"]["loudness_db"] + 20 * np.log10(0.5),
                                                   abs=0.05)
    untouched = [r for r in before if r not in ("jazz/q2a.ogg", "rock/live/q1b.flac")]
    for rel in untouched:
        assert after[rel]["analysed_at"] == before[rel]["analysed_at"], rel
    # the deleted file comes back elsewhere: recognised, not analysed, ok again
    shutil.copy2(pristine / "ambient" / "q4b.mp3", tree / "q4b-back.mp3")
    back = scan([tree], db=db, cache_dir=tmp_path / "cache", progress=False)
    assert (back.analysed, back.moved) == (0, 1)
    assert _by_relpath(db, tree)["q4b-back.mp3"]["status"] == "ok"


def _rows(db: Path) -> dict[str, tuple]:
    """path -> (scan id, analysed_at) of the stored results; {} before the library exists."""
    if not db.exists():
        return {}
    try:
        with open_library(db, readonly=True) as lib:
            return {r["path"]: (r["scan_id"], r["analysed_at"], r["status"])
                    for r in lib.conn.execute("SELECT path, scan_id, analysed_at, status FROM tracks")}
    except MerError:  # created but not yet migrated by the writer
        return {}


def _kill_at(cmd: list[str], db: Path, target: int, extra_s: float, env: dict) -> None:
    """Start `cmd`, wait until `target` results are committed plus `extra_s`, then SIGKILL it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 600
        while proc.poll() is None and len(_rows(db)) < target and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(extra_s)
    finally:
        proc.kill()
        proc.wait(timeout=60)


@pytest.mark.real_data
def test_scan_killed_at_random_moments_resumes_to_the_same_library(scanned, tmp_path):
    pristine, tree, _, frozen, _ = scanned
    music = tmp_path / "music"
    shutil.copytree(pristine, music)
    db = tmp_path / "library.db"
    env = {**os.environ, "MER_CACHE": str(tmp_path / "cache")}  # fresh features: everything computed again
    cmd = _mer_command("scan", str(music), "--db", str(db), "--threads", "1", "-q")
    # the first kill at a random time of the start; each later one as soon as one more file is
    # committed plus a random part of a second (seeded): a moment inside the next file's analysis
    # on a slow machine, possibly after its commit on a fast one, which the checks below allow
    rng = np.random.default_rng(13)
    committed: dict[str, tuple] = {}
    seen = []
    for k in range(5):
        target = 0 if k == 0 else len(committed) + 1
        _kill_at(cmd, db, target, float(rng.uniform(0.5, 4.0) if k == 0 else rng.uniform(0, 0.5)), env)
        committed.update(_rows(db))
        seen.append(len(committed))
    # killed mid-scan (10 files) with progress between kills; none of this depends on the machine's speed
    assert seen[-2] < 10 and len(set(seen[1:])) >= 3, seen
    counts, errors, stop = [], [], threading.Event()

    def read_while_writing():
        while not stop.is_set():
            try:
                with open_library(db, readonly=True) as lib:
                    counts.append(len(lib.tracks(status=None)))
            except Exception as exc:  # noqa: BLE001 - any failure of a reader is the finding
                errors.append(exc)
            time.sleep(0.05)

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        final = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    finally:
        stop.set()
        reader.join()
    assert final.returncode == 3, final.stderr  # the corrupt file
    assert not errors and counts == sorted(counts) and counts[-1] == 10
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    paths = [r[0] for r in conn.execute("SELECT path FROM tracks")]
    conn.close()
    assert len(paths) == len(set(paths)) == 10
    rows = _rows(db)
    for path, row in committed.items():  # a result committed before a kill was never redone
        if row[2] != "missing":
            assert rows[path] == row, path
    got, want = _by_relpath(db, music), _by_relpath(frozen, tree)
    assert sorted(got) == sorted(want)
    _assert_same_results(got, want)


def _assert_same_results(got: dict, want: dict) -> None:
    """Two scans of the same bytes: same status and quadrant, numbers within TOL, same summary."""
    for rel, t in want.items():
        assert got[rel]["status"] == t["status"] and got[rel]["quadrant"] == t["quadrant"], rel
        for key in NUMERIC:
            assert (got[rel][key] is None) == (t[key] is None), (rel, key)
            if t[key] is not None:
                assert abs(got[rel][key] - t[key]) <= TOL, (rel, key, got[rel][key], t[key])
        for q, p in (t["probabilities"] or {}).items():
            assert abs(got[rel]["probabilities"][q] - p) <= TOL, (rel, q)
        assert got[rel]["summary"] == t["summary"], rel


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.parametrize("where", ["processes", "dask"])
def test_workers_analyse_and_this_process_writes(scanned, tmp_path, where):
    from mer.library.scan import scan

    pristine, tree, _, frozen, _ = scanned
    music = tmp_path / "music"
    chosen = ("jazz/q2b.m4a", "classical/q3a.flac", "broken.mp3")
    for rel in chosen:
        (music / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pristine / rel, music / rel)
    db = tmp_path / "library.db"
    if where == "processes":
        report = scan([music], db=db, jobs=2, progress=False)
    else:
        distributed = pytest.importorskip("distributed")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address=None, worker_dashboard_address=None) as cluster:
            report = scan([music], db=db, scheduler=cluster.scheduler_address, progress=False)
    assert (report.found, report.analysed, report.failed) == (3, 3, 1)
    want = {rel: t for rel, t in _by_relpath(frozen, tree).items() if rel in chosen}
    _assert_same_results(_by_relpath(db, music), want)
    with open_library(db, readonly=True) as lib:
        assert lib.timeline(lib.track_at(music / "jazz" / "q2b.m4a").id)["schema"] == "mer.timeline/1"


# --------------------------------------------------------------------------- queries and exports


def _result(**values) -> dict:
    base = {"status": "ok", "model": "m@0", "flags": [], "analysed_at": "2026-01-01T00:00:00Z"}
    return {**base, **values}


@pytest.fixture
def synthetic_library(tmp_path):
    """A library of 60 rows with known values (no audio): path, values, flags."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        q = ("Q1", "Q2", "Q3", "Q4")[i % 4]
        flags = [f for f, keep in (("clipped", i % 5 == 0), ("too_short", i % 7 == 0)) if keep]
        rows.append((f"/music/{'jazz' if i % 3 else 'rock'}/t{i:02d}.flac", _result(
            quadrant=q, valence=float(rng.uniform(-1, 1)), arousal=float(rng.uniform(-1, 1)),
            tempo_bpm=float(rng.uniform(60, 180)), flags=flags, p_q1=0.25, p_q2=0.25, p_q3=0.25, p_q4=0.25,
            content_hash=f"h{i}")))
    rows.append(("/music/bad.mp3", _result(status="failed", error="/music/bad.mp3: cannot decode", content_hash="hb")))
    with open_library(tmp_path / "syn.db") as lib:
        lib.record([(p, 1, 1, r, None) for p, r in rows])
    return tmp_path / "syn.db", rows


def _within(x, bounds) -> bool:
    if bounds is None:
        return True
    lo, hi = bounds
    return x is not None and (lo is None or x >= lo) and (hi is None or x <= hi)


def _expected(rows, *, quadrant=None, valence=None, arousal=None, tempo=None, flags=(), no=(), folder=None
              ) -> list[str]:
    """The paths of `rows` that the filters select, computed in plain Python."""
    return sorted(path for path, r in rows
                  if r["status"] == "ok" and (not quadrant or r["quadrant"] in quadrant)
                  and _within(r.get("valence"), valence) and _within(r.get("arousal"), arousal)
                  and _within(r.get("tempo_bpm"), tempo) and all(f in r["flags"] for f in flags)
                  and not any(f in r["flags"] for f in no) and (folder is None or f"/{folder}/" in path))


def test_track_filters_match_a_plain_python_filter(synthetic_library):
    path, rows = synthetic_library
    cases = [{}, {"quadrant": ["Q1", "Q4"]}, {"valence": (0.2, None)}, {"arousal": (-0.5, 0.5)},
             {"tempo": (None, 100.0)}, {"flags": ["clipped"]}, {"no": ["clipped", "too_short"]},
             {"quadrant": ["Q2"], "valence": (-0.3, 0.9), "folder": "jazz"}]
    with open_library(path, readonly=True) as lib:
        for f in cases:
            got = [t.path for t in lib.tracks(quadrant=f.get("quadrant"), valence=f.get("valence"),
                                              arousal=f.get("arousal"), tempo=f.get("tempo"),
                                              flags=f.get("flags"), without_flags=f.get("no"),
                                              path_glob=f"*/{f['folder']}/*" if f.get("folder") else None)]
            assert got == _expected(rows, **f), f
            assert lib.count(quadrant=f.get("quadrant"), valence=f.get("valence"), arousal=f.get("arousal"),
                             tempo=f.get("tempo"), flags=f.get("flags"), without_flags=f.get("no"),
                             path_glob=f"*/{f['folder']}/*" if f.get("folder") else None) == len(got), f
            assert got  # every case selects something: a filter that drops everything would pass unnoticed
        assert [t.path for t in lib.failures()] == ["/music/bad.mp3"]
        by_valence = lib.tracks(order="-valence", limit=5, offset=2)
        values = sorted((r["valence"] for _, r in rows if r["status"] == "ok"), reverse=True)[2:7]
        assert [t.valence for t in by_valence] == values
        stats = lib.stats()
        assert stats["tracks"] == 61 and stats["by_status"] == {"ok": 60, "failed": 1, "missing": 0}
        assert stats["by_quadrant"] == {"Q1": 15, "Q2": 15, "Q3": 15, "Q4": 15}
        with pytest.raises(MerError, match="unknown quadrant Q5"):
            lib.tracks(quadrant="Q5")
        with pytest.raises(MerError, match="unknown order"):
            lib.tracks(order="colour")
        with pytest.raises(MerError, match="read-only"):
            lib.mark_missing([1])


def test_ls_cli_filters_and_formats(synthetic_library):
    from typer.testing import CliRunner

    from mer.apps.cli import app

    path, rows = synthetic_library
    r = CliRunner().invoke(app, ["ls", "--db", str(path), "--quadrant", "Q1,Q4", "--valence", "0.2:", "--tempo",
                                 ":150", "--no-flag", "clipped", "--format", "json"])
    assert r.exit_code == 0, r.output
    got = sorted(t["path"] for t in json.loads(r.stdout))
    assert got == _expected(rows, quadrant=["Q1", "Q4"], valence=(0.2, None), tempo=(None, 150.0), no=["clipped"])
    assert all(t["schema"] == "mer.track/1" for t in json.loads(r.stdout))
    r = CliRunner().invoke(app, ["ls", "--db", str(path), "--path", "*/rock/*", "--flag", "clipped", "-f", "csv"])
    got = sorted(row["path"] for row in csv.DictReader(io.StringIO(r.stdout)))
    assert got == _expected(rows, flags=["clipped"], folder="rock") and got
    r = CliRunner().invoke(app, ["ls", "--db", str(path), "--status", "failed"])
    assert r.exit_code == 0 and "bad.mp3" in r.stdout and "cannot decode" in r.stdout
    r = CliRunner().invoke(app, ["ls", "--db", str(path), "--valence", "0.2"])
    assert r.exit_code != 0 and "LO:HI" in r.output
    r = CliRunner().invoke(app, ["ls", "--db", str(path.parent / "none.db")])
    assert r.exit_code == 1 and "no library here" in r.output


def test_export_formats(synthetic_library, tmp_path):
    from typer.testing import CliRunner

    from mer.apps.cli import app
    from mer.library.export import CSV_COLUMNS, export

    path, _ = synthetic_library
    with open_library(path, readonly=True) as lib:
        table = list(csv.DictReader(io.StringIO(export(lib, format="csv"))))
        assert len(table) == 61 and list(table[0]) == list(CSV_COLUMNS)
        as_json = json.loads(export(lib, format="json"))
        assert len(as_json) == 61 and {t["schema"] for t in as_json} == {"mer.track/1"}
        features = json.loads(export(lib, format="audio-features"))["audio_features"]
        tracks = {str(t.id): t for t in lib.tracks()}
    assert len(features) == 60
    for f in features:
        t = tracks[f["id"]]
        assert 0 <= f["valence"] <= 1 and 0 <= f["energy"] <= 1
        assert f["valence"] == pytest.approx((t.valence + 1) / 2, abs=1e-12)
        assert f["energy"] == pytest.approx((t.arousal + 1) / 2, abs=1e-12)
        assert f["tempo"] == t.tempo_bpm and f["uri"] == f"mer:track:{t.id}" and f["type"] == "audio_features"
    out = tmp_path / "features.json"
    r = CliRunner().invoke(app, ["export", "--db", str(path), "--format", "audio-features", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["audio_features"] == features
    r = CliRunner().invoke(app, ["export", "--db", str(path), "--format", "xml"])
    assert r.exit_code == 1 and "unknown export format" in r.output


@pytest.mark.real_data
def test_audio_features_of_real_tracks_are_in_range(scanned):
    from mer.library.export import audio_features

    *_, frozen, _ = scanned
    with open_library(frozen, readonly=True) as lib:
        features = [audio_features(t) for t in lib.tracks()]
    assert len(features) == 9
    for f in features:
        assert 0 <= f["valence"] <= 1 and 0 <= f["energy"] <= 1 and f["tempo"] > 0
        assert f["duration_ms"] == pytest.approx(CLIP_SECONDS * 1000, abs=100)


# --------------------------------------------------------------------------- the database itself


def test_new_library_settings_and_schema_version(tmp_path):
    with open_library(tmp_path / "a" / "lib.db") as lib:
        assert lib.schema_version == libdb.SCHEMA_VERSION == 2
        assert lib.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert lib.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert lib.conn.execute("PRAGMA busy_timeout").fetchone()[0] == libdb.BUSY_TIMEOUT_MS
        indexes = {r[0] for r in lib.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"tracks_status_valence", "tracks_status_arousal", "tracks_status_tempo", "tracks_hash",
                "tracks_status_quadrant", "tracks_status_path"} <= indexes


def test_migration_to_a_new_version_keeps_rows(tmp_path, monkeypatch):
    path = tmp_path / "lib.db"
    with open_library(path) as lib:
        lib.record([("/m/a.mp3", 1, 1, _result(quadrant="Q1", valence=0.5), None)])

    def v_next(conn):
        conn.execute("ALTER TABLE tracks ADD COLUMN musical_key TEXT")

    new = libdb.SCHEMA_VERSION + 1
    monkeypatch.setattr(libdb, "SCHEMA_VERSION", new)
    with pytest.raises(MerError, match="open it once for writing"):
        open_library(path, readonly=True)
    monkeypatch.setattr(libdb, "MIGRATIONS", {**libdb.MIGRATIONS, new: v_next})
    with open_library(path) as lib:
        assert lib.schema_version == new
        assert "musical_key" in {r[1] for r in lib.conn.execute("PRAGMA table_info(tracks)")}
        assert [t.valence for t in lib.tracks()] == [0.5]


def test_a_failing_migration_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "lib.db"
    open_library(path).close()

    def broken(conn):
        conn.execute("CREATE TABLE half_done (x)")
        raise MerError("step failed")

    old = libdb.SCHEMA_VERSION
    monkeypatch.setattr(libdb, "SCHEMA_VERSION", old + 1)
    monkeypatch.setattr(libdb, "MIGRATIONS", {**libdb.MIGRATIONS, old + 1: broken})
    with pytest.raises(MerError, match="step failed"):
        open_library(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == old
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchall()
    conn.close()


def test_files_that_are_not_libraries_are_refused(tmp_path):
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(MerError, match=r"newer.db: .*schema version 99"):
        open_library(newer)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE songs (x)")
    conn.close()
    with pytest.raises(MerError, match=r"other.db: .*not a mer library"):
        open_library(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(MerError, match=r"junk.db: cannot open the library"):
        open_library(junk)


def test_a_failed_write_leaves_no_part_of_it(tmp_path):
    with open_library(tmp_path / "lib.db") as lib:
        with pytest.raises(MerError, match="unknown track status"):
            lib.record([("/m/a.mp3", 1, 1, _result(valence=0.1), b"x"),
                        ("/m/b.mp3", 1, 1, _result(status="odd"), None)])
        assert lib.tracks(status=None) == []
        assert lib.conn.execute("SELECT count(*) FROM timelines").fetchone()[0] == 0


def test_a_reader_sees_committed_rows_while_a_writer_holds_a_transaction(tmp_path):
    path = tmp_path / "lib.db"
    with open_library(path) as writer, open_library(path, readonly=True) as reader:
        writer.record([("/m/a.mp3", 1, 1, _result(valence=0.1), None)])
        writer.conn.execute("BEGIN IMMEDIATE")
        writer.conn.execute("INSERT INTO tracks (path, size, mtime_ns, status) VALUES ('/m/b.mp3', 1, 1, 'ok')")
        t0 = time.monotonic()
        assert [t.path for t in reader.tracks()] == ["/m/a.mp3"]  # the open transaction is invisible
        assert time.monotonic() - t0 < libdb.BUSY_TIMEOUT_MS / 1000  # and did not make the reader wait it out
        writer.conn.execute("COMMIT")
        assert [t.path for t in reader.tracks()] == ["/m/a.mp3", "/m/b.mp3"]
