"""Fault injection: what `mer` does when things go wrong (issue: green on every machine, safe under faults).

Each section covers one fault class. A test here asserts the user-visible contract:
a one-line error naming the file, work already done kept, nothing half-written trusted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_tone  # noqa: F401  (used by the sections below)

# --------------------------------------------------------------------------- item 1: compiled-code cache under parallel first runs

_EXTRACT_SCRIPT = """
import sys
import numpy as np
from mer.extraction.batch import extract_files
paths, jobs, cache, out = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3], sys.argv[4]
res = extract_files(paths, jobs=jobs, cache_dir=cache, progress=False)
assert not res.failures and res.n_computed == len(paths), (res.failures, res.n_computed)
np.savez(out, *res.features)
"""

# librosa's numba-compiled paths of the crash in the issue: chroma_stft -> piptrack -> _parabolic_interpolation.
_NUMBA_PROBE = """
import numpy as np, librosa
y = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
librosa.feature.chroma_stft(y=y, sr=22050)
librosa.piptrack(y=y, sr=22050)
librosa.zero_crossings(y)
"""


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_parallel_first_runs_keep_the_numba_cache_consistent(tmp_path):
    """Fresh workers on an empty numba cache: each compiles into a slot of its own, twice, and it loads again."""
    from mer.extraction.batch import extract_files

    tones = [str(write_tone(tmp_path / f"t{k}.wav", sr=22050, seconds=1.5, channels=1, freq=220.0 * (k + 1)))
             for k in range(4)]
    base = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(base), "MER_NUMBA_CACHE": str(base)}
    runs = []
    for run in range(2):  # first run: every worker compiles; second: fresh workers load what they wrote
        out = tmp_path / f"run{run}.npz"
        r = subprocess.run([sys.executable, "-c", _EXTRACT_SCRIPT, ",".join(tones), "2", str(tmp_path / f"c{run}"),
                            str(out)], env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        with np.load(out) as z:
            runs.append([z[f"arr_{i}"] for i in range(len(tones))])
    reference = extract_files(tones, jobs=1, cache_dir=tmp_path / "ref", progress=False).features
    for run in runs:
        for X, R in zip(run, reference):
            np.testing.assert_allclose(X, R, rtol=1e-6, atol=1e-6)

    index_files = sorted(base.rglob("*.nbi"))
    assert index_files, "the workers compiled nothing into the numba cache"
    slots = sorted({p.relative_to(base).parts[0] for p in index_files})
    assert all(s.startswith("slot-") for s in slots), slots  # no process wrote outside its own slot
    for slot in slots:  # every slot's cache is consistent: a fresh process loading it does not crash
        r = subprocess.run([sys.executable, "-c", _NUMBA_PROBE], env={**os.environ, "NUMBA_CACHE_DIR": str(base / slot)},
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, (slot, r.returncode, r.stderr[-2000:])



# --------------------------------------------------------------------------- item 3: bounded memory over any length

_LONG_INPUTS = r"""
import json, os, resource, sys
import numpy as np
from mer.features.descriptors import DescriptorConfig, describe
from mer.features.embeddings import EmbeddingConfig, embed_signal
from mer.extraction.batch import extract_file
from mer.features.methods import extract
from mer.features.paper import FeatureConfig

# imports, model load and numba compilation on a 3-s signal first: the baseline
y = (0.3 * np.sin(np.arange(3 * 22050) * 0.1)).astype(np.float32)
describe(y, DescriptorConfig()); extract(y, FeatureConfig())
embed_signal(y[: 3 * 16000], EmbeddingConfig())
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {"descriptors": extract_file(sys.argv[1], DescriptorConfig(), describe).shape,
       "musicnn": extract_file(sys.argv[1], EmbeddingConfig(), embed_signal).shape,
       "features": extract_file(sys.argv[1]).shape}
print(json.dumps({"baseline_kib": base, **out}))
"""


def _long_wav(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A stereo 16-bit WAV of tones and noise, written in 10-s pieces (the test holds no long array)."""
    import soundfile as sf

    rng = np.random.default_rng(3)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=2, subtype="PCM_16") as f:
        for k in range(int(np.ceil(seconds / 10))):
            n = int(min(10, seconds - 10 * k) * sr)
            t = (np.arange(n) + k * 10 * sr) / sr
            y = 0.2 * np.sin(2 * np.pi * (220 + 40 * (k % 5)) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t) ** 2)
            y = y + 0.05 * rng.standard_normal(n)
            f.write(np.stack([y, y], axis=1).astype(np.float32))
    return path


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_long_track_inputs_are_computed_in_bounded_memory(tmp_path):
    # 3 minutes: past the 2-minute threshold, so every input takes its windowed path.
    # Measured growth over the baseline: 941 MiB when descriptors and embeddings loaded the
    # whole file (commit cb2a3ac), 202 MiB windowed (one window's worth, whatever the length).
    track = _long_wav(tmp_path / "long.wav", 180.0)
    proc = subprocess.Popen([sys.executable, "-c", _LONG_INPUTS, str(track)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, whatever else ran before
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    assert os.waitstatus_to_exitcode(status) == 0, err[-2000:]
    res = json.loads(out.strip().splitlines()[-1])
    assert res["descriptors"] == [232] and res["musicnn"] == [500] and res["features"][0] == 204
    assert res["features"][1] == 1 + int(180.0 * 22050) // 512
    growth_mib = (usage.ru_maxrss - res["baseline_kib"]) / 1024  # ru_maxrss is in KiB on Linux
    assert growth_mib < 500, f"peak RSS grew {growth_mib:.0f} MiB over the baseline on a 3-minute track"



# --------------------------------------------------------------------------- item 4: Ctrl-C

import contextlib  # noqa: E402
import re  # noqa: E402

_INTERRUPT_LINE = re.compile(r"^interrupted: (\d+) of (\d+) done; run again to resume$")


def _mer_command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("mer")
    return [str(script), *args] if script.is_file() else [sys.executable, "-c", "from mer.apps.cli import app; app()", *args]


def _feature_entries(cache: Path) -> list[Path]:
    return sorted((cache / "features").glob("*/*/*.npy"))


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
@pytest.mark.parametrize("how", ["terminal", "main-process-only", "twice"])
def test_ctrl_c_stops_features_at_once_keeps_the_cache_and_resumes(tmp_path, how):
    """Ctrl-C during `mer features --jobs 2`: exit 130, one line, no traceback, no process left, entries valid.

    "terminal" sends SIGINT to the whole process group (what Ctrl-C in a shell does),
    "main-process-only" to the `mer` process alone, "twice" a second SIGINT while it stops.
    The stop latency is printed (run with -s to see it).
    """
    psutil = pytest.importorskip("psutil")
    from mer.data import datasets
    from mer.core.cache import FeatureCache
    from mer.features.paper import FeatureConfig

    cache, data = tmp_path / "cache", "synthetic:n=5,duration=6"  # 20 clips
    cmd = _mer_command("features", data, "--out", str(tmp_path / "f.npz"), "--jobs", "2", "--cache-dir", str(cache))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # safety net only: the wait ends when entries appear
        while len(_feature_entries(cache)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "finished before it could be interrupted"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "no worker processes to end"
        t0 = time.monotonic()
        (os.kill if how == "main-process-only" else os.killpg)(proc.pid, signal.SIGINT)
        if how == "twice":
            time.sleep(0.2)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        latency = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(children, timeout=30)
    print(f"\n[{how}] stopped {latency:.2f} s after SIGINT")
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], "processes left behind"
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err[-2000:]
    m = _INTERRUPT_LINE.match(lines[0])
    assert m and int(m.group(2)) == 20, lines[0]

    # Every entry written so far is a whole matrix, found by the lookup a rerun does.
    ds = datasets.load(data, cache_dir=cache)
    fc = FeatureCache(cache, FeatureConfig())
    kept = [fc.get(fc.key_for_file(p)) for p in ds.paths]
    kept = [X for X in kept if X is not None]
    assert len(kept) >= int(m.group(1)) >= 1
    assert all(X.shape[0] == 204 and np.isfinite(X).all() for X in kept)
    if how == "terminal":  # a rerun resumes: what was kept comes from the cache
        r = subprocess.run(cmd + ["-q"], capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-2000:]
        assert f"({len(kept)} from cache, {20 - len(kept)} extracted)" in r.stdout, r.stdout



# --------------------------------------------------------------------------- item 5: reliability flags


def _train_cli_model(cache, out: Path) -> Path:
    from typer.testing import CliRunner

    from mer.apps.cli import app

    r = CliRunner().invoke(app, ["train", "--data", "synthetic:n=8,duration=4", "--model", "logreg", "--folds", "0",
                                 "--out", str(out), "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0, r.output
    return out


def test_silence_is_answered_without_a_quadrant_and_only_bad_files_fail(synthetic_features, tmp_path):
    import soundfile as sf
    from typer.testing import CliRunner

    from mer.apps.cli import app

    cache, ds, _ = synthetic_features
    model = _train_cli_model(cache, tmp_path / "m.mer")
    silent, broken = tmp_path / "silent.wav", tmp_path / "broken.wav"
    sf.write(str(silent), np.zeros(30 * 22050, np.float32), 22050)
    broken.write_bytes(b"RIFF....WAVEjunk")
    r = CliRunner().invoke(app, ["predict", "-m", str(model), str(silent), str(broken), str(ds.paths[0]),
                                 "--format", "json", "--cache-dir", str(cache)])
    assert r.exit_code == 3, r.output  # for the broken file only
    rows = {Path(row["path"]).name: row for row in json.loads(r.stdout)}
    assert set(rows) == {"silent.wav", ds.paths[0].name}
    assert rows["silent.wav"]["quadrant"] is None and rows["silent.wav"]["flags"] == ["silent"]
    assert rows[ds.paths[0].name]["quadrant"] in ("Q1", "Q2", "Q3", "Q4")
    assert "broken.wav" in r.stderr and "silent.wav" not in r.stderr


# --------------------------------------------------------------------------- item 6: cache dir problems before any work


@pytest.mark.parametrize("how", ["option", "environment", "below a file"])
def test_unusable_cache_dir_is_one_line_before_any_work(tmp_path, monkeypatch, how):
    from typer.testing import CliRunner

    from mer.apps.cli import app
    from mer.workflows import predict as predict_workflow

    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("not a folder")
    cache = blocker / "sub" if how == "below a file" else blocker
    calls = []
    monkeypatch.setattr(predict_workflow, "predict_files", lambda *a, **k: calls.append(1))
    tone = write_tone(tmp_path / "t.wav")
    args = ["predict", str(tone)] + (["--cache-dir", str(cache)] if how != "environment" else [])
    if how == "environment":
        monkeypatch.setenv("MER_CACHE", str(cache))
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1 and not calls, r.output  # refused before any analysis
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and str(cache) in lines[0] and "Traceback" not in r.output
    assert ("it is a file" if how != "below a file" else "cannot create cache directory") in lines[0]


def test_unusable_cache_dir_from_python_and_a_failed_write_name_the_folder(tmp_path):
    from mer.core.cache import FeatureCache
    from mer.core.errors import MerError
    from mer.extraction.batch import extract_files
    from mer.features.paper import FeatureConfig

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MerError, match="cannot use as cache directory"):
        extract_files([write_tone(tmp_path / "t.wav")], cache_dir=blocker, progress=False)
    cache = FeatureCache(tmp_path / "ok", FeatureConfig())
    key = "cd" * 32
    cache.path_for(key).parent.parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(key).parent.write_text("an entry folder that became a file mid-run")
    with pytest.raises(MerError, match="cannot write cache entry") as info:
        cache.put(key, np.zeros((2, 2), np.float32))
    assert key in str(info.value) and "\n" not in str(info.value)



# --------------------------------------------------------------------------- item 7: evaluation over missing files and absent labels


def test_evaluate_names_missing_and_unreadable_listed_files(synthetic_features, tmp_path):
    from typer.testing import CliRunner

    from mer.apps.cli import app

    cache, ds, _ = synthetic_features
    model = _train_cli_model(cache, tmp_path / "m.mer")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEjunk")
    clips = [c for c in ds.clips if c.label in ("Q1", "Q2", "Q3")]  # Q4 absent from the data
    lines = ["path,label", *(f"{c.path},{c.label}" for c in clips), f"{tmp_path / 'gone.wav'},Q1", f"{broken},Q2"]
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(lines) + "\n")
    out = tmp_path / "r.json"
    r = CliRunner().invoke(app, ["evaluate", str(model), "--data", str(manifest), "--json", str(out),
                                 "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 3, r.output  # scores written, and the skipped clips are not silently dropped
    assert "2 clip(s) skipped" in r.stderr and "gone.wav" in r.stderr and "broken.wav" in r.stderr
    m = json.loads(out.read_text())
    assert m["n"] == len(clips) and len(m["skipped"]) == 2
    assert any("gone.wav" in s for s in m["skipped"]) and any("broken.wav" in s for s in m["skipped"])
    assert m["macro_f1_labels"] == ["Q1", "Q2", "Q3"] and set(m["per_class"]) == {"Q1", "Q2", "Q3", "Q4"}
    f1 = [m["per_class"][q]["f1"] for q in ("Q1", "Q2", "Q3")]
    assert m["macro_f1"] == pytest.approx(np.mean(f1), abs=1e-12)


# --------------------------------------------------------------------------- item 8: undecodable files and decoder noise

DECODER_NOISE = ("Illegal Audio-MPEG-Header", "Trying to resync", "libmpg123", "possibly a pipe")


def _decode_all_ways(path):
    """MerError messages of `load`, `duration` and `stream` on one file (each must raise)."""
    from mer.audio import decode as audio
    from mer.core.errors import MerError

    messages = []
    for fn in (audio.load, audio.duration, lambda p: list(audio.stream(p))):
        with pytest.raises(MerError) as exc:
            fn(path)
        messages.append(str(exc.value))
    return messages


@pytest.mark.parametrize("name", ["random.mp3", "random.m4a", "random.wma", "random.flac"])
def test_random_bytes_give_the_real_cause_and_no_decoder_noise(tmp_path, capfd, name):
    p = tmp_path / name
    p.write_bytes(np.random.default_rng(0).bytes(5000))  # starts 0x5f82c2d9: no audio magic number
    for msg in _decode_all_ways(p):
        assert msg == f"{p}: cannot decode audio: content is not a recognised audio format " \
                      f"(starts with 0x5f82c2d9cfeb0fa3 '_.......')", msg
    out, err = capfd.readouterr()
    assert not any(n in out + err for n in DECODER_NOISE), err


def test_mpeg_sync_followed_by_garbage_names_both_decoders_quietly(tmp_path, capfd):
    # an MP3 frame header, then garbage: libmpg123 resyncs noisily; the noise ends up in the message only
    p = tmp_path / "bad.mp3"
    p.write_bytes(b"\xff\xfb\x90\x64" + np.random.default_rng(0).bytes(5000))
    for msg in _decode_all_ways(p):
        assert msg.startswith(f"{p}: cannot decode audio: corrupt or truncated MPEG audio data (libsndfile: ")
        assert "FFmpeg: " in msg and "\n" not in msg and "possibly a pipe" not in msg
    out, err = capfd.readouterr()
    assert not any(n in out + err for n in DECODER_NOISE), err


@pytest.mark.parametrize("name,codec,fmt,keep", [
    ("cut.mp3", "libmp3lame", None, 200),    # only the first frame's start
    ("cut.m4a", "aac", None, 300),          # FFmpeg writes the index (moov) last: cut, nothing to read
    ("cut.webm", "libopus", None, 100),     # inside the EBML header
])
def test_truncated_files_name_the_format(tmp_path, capfd, name, codec, fmt, keep):
    from tests.conftest import write_encoded

    t = np.arange(44100) / 44100
    full = write_encoded(tmp_path / f"full{Path(name).suffix}", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
                         48000 if codec == "libopus" else 44100, codec, fmt)
    p = tmp_path / name
    p.write_bytes(full.read_bytes()[:keep])
    for msg in _decode_all_ways(p):
        assert msg.startswith(f"{p}: cannot decode audio: corrupt or truncated "), msg
        assert "\n" not in msg and "possibly a pipe" not in msg
    out, err = capfd.readouterr()
    assert not any(n in out + err for n in DECODER_NOISE), err


@pytest.mark.real_data
def test_truncated_real_mp3_names_the_format(tmp_path, capfd, fourq_clips):
    p = tmp_path / "truncated.mp3"
    p.write_bytes(next(iter(fourq_clips.values())).read_bytes()[:200])
    for msg in _decode_all_ways(p):
        assert msg.startswith(f"{p}: cannot decode audio: corrupt or truncated MPEG audio data"), msg
    assert not any(n in "".join(capfd.readouterr()) for n in DECODER_NOISE)


def test_directory_and_unreadable_file_are_one_line_errors(tmp_path, monkeypatch):
    from mer.audio import decode as audio

    (tmp_path / "album.m4a").mkdir()
    assert _decode_all_ways(tmp_path / "album.m4a") == [f"{tmp_path / 'album.m4a'}: is a directory, not a file"] * 3
    p = write_tone(tmp_path / "locked.wav", seconds=0.5)
    real_open = open

    def deny(file, *args, **kwargs):  # what open() raises on a mode-000 file for a non-root user
        if Path(file) == p:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(audio, "open", deny, raising=False)
    assert _decode_all_ways(p) == [f"{p}: permission denied (cannot read the file)"] * 3


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads mode-000 files")
def test_mode_000_file_is_permission_denied(tmp_path):
    p = write_tone(tmp_path / "locked.wav", seconds=0.5)
    p.chmod(0)
    try:
        assert _decode_all_ways(p) == [f"{p}: permission denied (cannot read the file)"] * 3
    finally:
        p.chmod(0o644)


def test_other_output_on_fd2_during_decoding_is_given_back(capfd):
    from mer.audio import decode as audio

    with audio._quiet_fd2() as outer:
        with audio._quiet_fd2() as said:  # nested (another thread decoding): one redirection
            os.write(2, b"Note: Illegal Audio-MPEG-Header 0x00000000 at offset 4996.\n")
            print("progress 50%", file=sys.stderr)
    out, err = capfd.readouterr()
    assert err == "progress 50%\n"
    assert said == outer == ["Note: Illegal Audio-MPEG-Header 0x00000000 at offset 4996."]
    os.write(2, b"after\n")  # fd 2 is the terminal (here: capfd's file) again
    assert capfd.readouterr().err == "after\n"


def test_concurrent_decoding_keeps_noise_off_and_restores_fd2(tmp_path, capfd):
    from concurrent.futures import ThreadPoolExecutor

    from mer.audio import decode as audio
    from mer.core.errors import MerError

    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\xff\xfb\x90\x64" + np.random.default_rng(0).bytes(5000))  # libmpg123 complains
    good = write_tone(tmp_path / "good.flac", seconds=0.5)

    def one(i):
        try:
            return len(audio.load(good if i % 2 else bad))
        except MerError as exc:
            return str(exc)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(32)))
    assert results[1::2] == [11025] * 16
    assert all(r.startswith(f"{bad}: cannot decode audio: corrupt or truncated MPEG audio data") for r in results[::2])
    os.write(2, b"after\n")
    out, err = capfd.readouterr()
    assert err == "after\n", err


def test_batch_reports_the_undecodable_file_and_extracts_the_others(tmp_path, capfd):
    from mer.extraction.batch import extract_files
    from tests.conftest import write_encoded

    t = np.arange(44100) / 44100
    good = [write_tone(tmp_path / "a.wav", seconds=1.0),
            write_encoded(tmp_path / "b.m4a", (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100, "aac")]
    bad = tmp_path / "random.mp3"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    r = extract_files([good[0], bad, good[1]], cache_dir=tmp_path / "cache", progress=False)
    assert r.features[0] is not None and r.features[2] is not None and r.features[1] is None
    assert [str(p) for p, _ in r.failures] == [str(bad)]
    assert "content is not a recognised audio format" in r.failures[0][1]
    assert not any(n in "".join(capfd.readouterr()) for n in DECODER_NOISE)



# --------------------------------------------------------------------------- SIGKILL while writing a cache entry or a model

_WRITER = r"""
import contextlib, sys, time
import numpy as np
import mer.core.io
from mer.models import modelfile
from mer.core.cache import FeatureCache
from mer.features.paper import FeatureConfig

# Writes go through mer.core.io.atomic_open; slow them down (64 KiB every ms) and say when the
# first bytes are out, so the parent's SIGKILL lands in the middle of a write.
real_open = mer.core.io.atomic_open


class Slow:
    def __init__(self, f):
        self.f = f

    def write(self, data):
        view = memoryview(data).cast("B")
        for i in range(0, len(view), 1 << 16):
            self.f.write(view[i : i + (1 << 16)])
            if i == 0:
                print("writing", flush=True)
            time.sleep(0.001)
        return len(view)

    def __getattr__(self, name):
        return getattr(self.f, name)


@contextlib.contextmanager
def slow_open(path, mode="wb"):
    with real_open(path, mode) as f:
        yield Slow(f)


mer.core.io.atomic_open = modelfile.atomic_open = slow_open
kind, target = sys.argv[1], sys.argv[2]
if kind == "cache":
    FeatureCache(target, FeatureConfig()).put("ab" * 32, np.full((204, 20_000), 2.0, np.float32))
else:
    from mer.models.baselines import SummaryClassifier
    from mer.models.modelfile import TrainedModel

    rng = np.random.default_rng(0)
    X = [rng.random((204, 20)).astype(np.float32) for _ in range(16)]
    y = np.array(["Q1", "Q2", "Q3", "Q4"] * 4)
    est = SummaryClassifier("random_forest", random_state=0, model_params={"n_estimators": 300}).fit(X, y)
    modelfile.save(TrainedModel(est, "big", FeatureConfig(), {"version": "B"}), target)
print("done", flush=True)
"""


def _kill_while_writing(kind: str, target: Path, delays: list[float]) -> int:
    """Run a writer of `target`; SIGKILL it `delay` s after its first bytes are out. Returns the kills."""
    kills = 0
    for delay in delays:
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, kind, str(target)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        try:
            assert proc.stdout.readline().strip() == "writing"
            time.sleep(delay)
        finally:
            proc.kill()
            proc.wait(timeout=60)
        kills += proc.returncode == -signal.SIGKILL
    return kills


def test_sigkill_while_writing_a_cache_entry_never_leaves_a_trusted_half_file(tmp_path):
    from mer.core.cache import FeatureCache
    from mer.features.paper import FeatureConfig

    cache = FeatureCache(tmp_path, FeatureConfig())
    key = "ab" * 32
    old = np.ones((204, 10), np.float32)
    cache.put(key, old)  # a valid entry that the killed writers were replacing
    rng = np.random.default_rng(5)
    # a write of this entry takes ~0.25 s here (250 chunks of 64 KiB, one per ms)
    assert _kill_while_writing("cache", tmp_path, list(rng.uniform(0.0, 0.1, size=5))) == 5
    X = cache.get(key)
    assert X is not None, "the entry was damaged: neither the old nor the new matrix can be read"
    assert np.array_equal(X, old)  # every writer was killed before its replace
    # what a killed writer leaves is a hidden temporary, never under an entry's name
    leftovers = [p for p in cache.path_for(key).parent.iterdir() if p.name != f"{key}.npy"]
    assert all(p.name.startswith(".") and p.name.endswith(".part") for p in leftovers)


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_sigkill_while_saving_a_model_never_leaves_a_damaged_model(tmp_path):
    from mer.models import modelfile
    from mer.models.baselines import SummaryClassifier
    from mer.features.paper import FeatureConfig
    from mer.models.modelfile import TrainedModel

    rng = np.random.default_rng(0)
    X = [rng.random((204, 20)).astype(np.float32) for _ in range(16)]
    y = np.array(["Q1", "Q2", "Q3", "Q4"] * 4)
    target = tmp_path / "model.mer"
    small = SummaryClassifier("random_forest", random_state=0, model_params={"n_estimators": 3}).fit(X, y)
    modelfile.save(TrainedModel(small, "small", FeatureConfig(), {"version": "A"}), target)
    assert _kill_while_writing("model", target, list(np.random.default_rng(6).uniform(0.0, 0.02, size=5))) == 5
    loaded = modelfile.load(target)  # raises if the file was left half-written
    assert loaded.metadata["version"] == "A"
    assert loaded.predict(X).shape == (16,)
