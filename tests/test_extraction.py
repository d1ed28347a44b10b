import os
import shutil

import numpy as np
import pytest

from mer.extraction import batch as extraction
from mer.core.io import atomic_open
from mer.core.cache import FeatureCache, default_cache_dir
from mer.features.paper import FeatureConfig
from mer.extraction.batch import extract_files
from tests.conftest import assert_features_close, write_tone


@pytest.fixture
def tones(tmp_path):
    return [write_tone(tmp_path / f"t{i}.wav", sr=22050, seconds=1.0, freq=220.0 * (i + 1)) for i in range(4)]


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MER_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"


def test_miss_then_hit_and_no_feature_work_on_the_second_run(tones, monkeypatch):
    first = extract_files(tones, progress=False)
    assert (first.n_computed, first.n_cached) == (4, 0) and first.ok.all()
    calls = []
    monkeypatch.setattr(extraction, "extract", lambda *a, **k: calls.append(1))
    second = extract_files(tones, progress=False)
    assert (second.n_computed, second.n_cached) == (0, 4) and not calls
    for a, b in zip(first.features, second.features):
        np.testing.assert_array_equal(a, b)


def test_key_is_the_content_not_the_name(tones, tmp_path):
    extract_files(tones[:1], progress=False)
    copy = shutil.copy(tones[0], tmp_path / "renamed.wav")
    assert extract_files([copy], progress=False).n_cached == 1
    write_tone(tones[0], sr=22050, seconds=1.0, freq=999.0)  # edited in place
    assert extract_files(tones[:1], progress=False).n_computed == 1


def test_interrupted_run_resumes_where_it_stopped(tones, monkeypatch):
    real = extraction.extract
    done = []

    def crash_after_two(*a, **k):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(1)
        return real(*a, **k)

    monkeypatch.setattr(extraction, "extract", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        extract_files(tones, progress=False)
    monkeypatch.setattr(extraction, "extract", real)
    resumed = extract_files(tones, progress=False)
    assert (resumed.n_cached, resumed.n_computed) == (2, 2)
    cache_dir = FeatureCache(None, FeatureConfig()).dir
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".part")]


def test_a_truncated_cache_entry_is_a_miss(tones):
    extract_files(tones[:1], progress=False)
    cache = FeatureCache(None, FeatureConfig())
    entry = next(cache.dir.rglob("*.npy"))
    entry.write_bytes(entry.read_bytes()[:100])
    again = extract_files(tones[:1], progress=False)
    assert again.n_computed == 1 and again.features[0].shape[0] == 204


def test_atomic_open_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as f:
            f.write("half")
            raise RuntimeError("crash")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["report.json"]


def test_bad_files_are_reported_and_the_others_go_on(tones, tmp_path):
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"\x00garbage" * 100)
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    short = write_tone(tmp_path / "short.wav", sr=22050, seconds=0.05)
    (tmp_path / "x.doc").write_bytes(b"not audio")
    paths = [tones[0], corrupt, tmp_path / "missing.wav", empty, short, tmp_path / "x.doc", tones[1]]
    res = extract_files(paths, progress=False)
    assert res.ok.tolist() == [True, False, False, False, False, False, True]
    reasons = dict((p.name, r) for p, r in res.failures)
    assert "cannot decode audio" in reasons["corrupt.mp3"]
    assert "file not found" in reasons["missing.wav"]
    assert "empty file" in reasons["empty.flac"]
    assert "too short" in reasons["short.wav"] and "short.wav" in reasons["short.wav"]
    assert "unsupported format" in reasons["x.doc"]


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_parallel_jobs_give_the_same_features(tones, tmp_path, monkeypatch):
    serial = extract_files(tones, progress=False)
    monkeypatch.setenv("MER_CACHE", str(tmp_path / "other-cache"))
    parallel = extract_files(tones + [tmp_path / "missing.wav"], jobs=2, progress=False)
    assert parallel.n_computed == 4 and len(parallel.failures) == 1
    for a, b in zip(serial.features, parallel.features):
        assert_features_close(a, b)  # other processes, other BLAS threads


@pytest.mark.real_data
def test_real_4q_clip_extracts(fourq_clips):
    path = next(iter(fourq_clips.values()))
    res = extract_files([path], progress=False)
    X = res.features[0]
    assert X.shape[0] == 204 and 400 < X.shape[1] <= 1300 and np.all(np.isfinite(X))


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    with atomic_open(tmp_path / "f.bin") as f:
        f.write(b"x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o666 & ~mask
