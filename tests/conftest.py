"""Shared fixtures, and the check that the ``real_data`` marker is complete.

Real-data tests read ../shared/data and skip cleanly without it. A test that reads it
must be marked ``real_data`` (``make test-fast`` deselects them by marker): a test using
one of :data:`REAL_DATA_FIXTURES` (directly or through another fixture) without the
marker fails at setup, and so does one that opens, lists or passes to a subprocess a path
under :data:`DATA_ROOT` while it sets up or runs (an audit hook watches, see
:func:`_audit`). ``tests/test_markers.py`` checks that both can fail.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# One BLAS / OpenMP thread per process: the suite runs on 2 shared cores, where
# multi-threaded BLAS on tiny matrices spins and was measured 10x slower (136 s vs 15 s
# for the baseline tests). Set before numpy loads, and for worker processes.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

DATA_ROOT = Path(os.environ.get("MER_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
FOURQ = DATA_ROOT / "4q-dev"
EMOPIA = DATA_ROOT / "emopia-midi"

#: Fixtures that read ../shared/data: a test whose fixture closure holds one is marked real_data.
#: A test module adds its own in a module-level ``REAL_DATA_FIXTURES`` (e.g. one that uses real
#: clips when they are there and synthetic ones otherwise).
REAL_DATA_FIXTURES = frozenset({"fourq_dir", "fourq_clips"})

# The real-data check. Python's audit events cover open(), os.listdir / os.scandir (and so
# glob and Path.iterdir) and subprocess.Popen; not stat(), nor files C libraries open by
# name (libsndfile, FFmpeg), which a test reaches only after finding the files.
_DATA_ROOTS = tuple({os.path.abspath(DATA_ROOT), os.path.realpath(DATA_ROOT)})
_watch = {"on": False, "reads": []}


def _is_data_path(value) -> bool:
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        return False
    value = os.path.abspath(value)
    return any(value == root or value.startswith(root + os.sep) for root in _DATA_ROOTS)


def _audit(event: str, args) -> None:
    if not _watch["on"] or len(_watch["reads"]) > 3:
        return
    if event in ("open", "os.listdir", "os.scandir") and args and _is_data_path(args[0]):
        _watch["reads"].append(f"{event} {args[0]}")
    elif event == "subprocess.Popen" and len(args) > 1:
        found = [a for a in (args[1] if isinstance(args[1], (list, tuple)) else [args[1]]) if _is_data_path(a)]
        if found:
            _watch["reads"].append(f"subprocess with {found[0]}")


def pytest_configure(config) -> None:
    sys.addaudithook(_audit)  # cannot be removed; inert while _watch["on"] is False


def _unmarked_reads(item, when: str):
    if item.get_closest_marker("real_data"):
        return (yield)
    _watch["on"], _watch["reads"] = True, []
    try:
        result = yield
    finally:
        _watch["on"] = False
    if _watch["reads"]:
        pytest.fail(f"{item.nodeid} reads ../shared/data during {when} ({'; '.join(_watch['reads'][:2])}) "
                    "but is not marked real_data", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    known = REAL_DATA_FIXTURES | set(getattr(getattr(item, "module", None), "REAL_DATA_FIXTURES", ()))
    uses = sorted(known.intersection(getattr(item, "fixturenames", ())))
    if uses and not item.get_closest_marker("real_data"):
        pytest.fail(f"{item.nodeid} uses {', '.join(uses)} (../shared/data) but is not marked real_data",
                    pytrace=False)
    return (yield from _unmarked_reads(item, "setup"))  # noqa: B901


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _unmarked_reads(item, "the test"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty cache unless it asks for another."""
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("MER_CACHE", str(root))
    return root


@pytest.fixture(autouse=True)
def fixed_terminal(monkeypatch):
    """CLI output as on a 200-column terminal without colour, whatever the machine's terminal.

    Rich sizes tables by ``COLUMNS`` when the output is not a terminal (80 by default);
    messages never wrap (the CLI's consoles soft-wrap), tables might on a narrow one.
    """
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def fourq_dir() -> Path:
    if not (FOURQ / "panda_dataset_taffc_annotations.csv").is_file():
        pytest.skip(f"4Q data not found at {FOURQ}")
    return FOURQ


@pytest.fixture(scope="session")
def fourq_clips(fourq_dir) -> dict[tuple[int, int], Path]:
    """One real 4Q clip per (sample rate, channels) combination present."""
    found: dict[tuple[int, int], Path] = {}
    for p in sorted(fourq_dir.glob("Q*/*.mp3")):
        info = sf.info(str(p))
        found.setdefault((info.samplerate, info.channels), p)
    return found


@pytest.fixture(scope="session")
def synthetic_set(tmp_path_factory):
    """A tiny synthetic dataset (8 clips per quadrant) shared by the session."""
    from mer.data import datasets

    return datasets.load_synthetic(n_per_quadrant=8, duration=4.0, cache_dir=tmp_path_factory.mktemp("syn"))


@pytest.fixture(scope="session")
def synthetic_features(tmp_path_factory):
    """``(cache_dir, dataset, Features)`` of ``synthetic:n=8,duration=4``, extracted once per session.

    Pass ``cache_dir`` (``--cache-dir`` on the CLI) to reuse both the rendered audio and the features.
    """
    from mer.data import datasets
    from mer.workflows.train import load_features

    cache = tmp_path_factory.mktemp("synfeat")
    ds = datasets.load("synthetic:n=8,duration=4", cache_dir=cache)
    return cache, ds, load_features(ds, cache_dir=cache, progress=False)


#: Tolerance per feature row group in float32 epsilons, measured across OpenBLAS kernels
#: (tests/test_fused.py's docstring gives the figures); 4 for every other group.
N_EPS = {"chroma_stft": 32, "tonnetz": 20, "chroma_vqt": 20, "chroma_cqt": 20}
DEFAULT_N_EPS = 4
EPS32 = float(np.finfo(np.float32).eps)


def assert_close_in_eps(actual, expected, n_eps, err_msg=""):
    """``|actual - expected| <= n_eps * eps32 * (|expected| + max |expected|)``, elementwise."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, f"{err_msg}: shape {a.shape} != {e.shape}"
    tol = n_eps * EPS32 * (np.abs(e) + (np.abs(e).max() if e.size else 0.0))
    excess = np.abs(a - e) - tol
    worst = int(np.argmax(excess)) if excess.size else 0
    assert not excess.size or excess.flat[worst] <= 0, (
        f"{err_msg}: {int((excess > 0).sum())} of {excess.size} values beyond {n_eps} eps; worst "
        f"{a.flat[worst]!r} vs {e.flat[worst]!r}")


def assert_features_close(A, B, config=None):
    """Two (204, T) matrices of one signal from two processes or code paths, group by group."""
    from mer.features.paper import FeatureSpec

    spec = FeatureSpec.from_config(config)
    assert A.shape == B.shape
    for g in spec.group_names:
        assert_close_in_eps(A[spec.rows(g)], B[spec.rows(g)], N_EPS.get(g, DEFAULT_N_EPS), err_msg=g)


def write_tone(path: Path, sr: int = 44100, seconds: float = 2.0, channels: int = 2, freq: float = 440.0) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(2 * np.pi * 3 * freq * t)
    data = np.stack([y] * channels, axis=1) if channels > 1 else y
    sf.write(str(path), data.astype(np.float32), sr)
    return path


def write_encoded(path: Path, data: np.ndarray, sr: int, codec: str, fmt: str | None = None,
                  bit_rate: int | None = None) -> Path:
    """Encode float `data` (shape (n,) or (n, channels), in [-1, 1]) with PyAV's bundled FFmpeg.

    `codec` is an FFmpeg encoder name ("aac", "alac", "libopus", "wmav2", "libmp3lame"...),
    `fmt` a container when the extension does not say it (e.g. "adts", "ogg"). Raises
    ``pytest.skip`` when this FFmpeg build lacks the encoder or cannot open it.
    """
    import av

    data = np.asarray(data, dtype=np.float32)
    planar = np.ascontiguousarray(data.T if data.ndim == 2 else data[None, :])  # (channels, n)
    layout = {1: "mono", 2: "stereo"}[planar.shape[0]]
    try:
        with av.open(str(path), "w", format=fmt) as out:
            s = out.add_stream(codec, rate=sr, layout=layout)
            if bit_rate:
                s.bit_rate = bit_rate
            for i in range(0, planar.shape[1], 4096):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, i:i + 4096]), format="fltp", layout=layout)
                frame.sample_rate, frame.pts = sr, i
                for packet in s.encode(frame):  # PyAV converts to the encoder's sample format and frame size
                    out.mux(packet)
            for packet in s.encode(None):
                out.mux(packet)
    except (av.error.FFmpegError, ValueError) as exc:
        path.unlink(missing_ok=True)
        pytest.skip(f"this FFmpeg cannot encode {codec}: {exc}")
    return path


@pytest.fixture
def norms_dir(monkeypatch) -> Path:
    """Warriner et al.'s norms (../shared/data/warriner-norms) as ``$MER_NORMS``; skips without them."""
    folder = DATA_ROOT / "warriner-norms"
    if not (folder / "Ratings_Warriner_et_al.csv").is_file():
        pytest.skip(f"Warriner norms not found at {folder}")
    monkeypatch.setenv("MER_NORMS", str(folder))
    return folder
