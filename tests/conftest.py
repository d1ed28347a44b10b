"""Shared fixtures. Real-data tests read ../shared/data and skip cleanly without it."""

from __future__ import annotations

import os
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


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty cache unless it asks for another."""
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("MER_CACHE", str(root))
    return root


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
    from mer import datasets

    return datasets.load_synthetic(n_per_quadrant=8, duration=4.0, cache_dir=tmp_path_factory.mktemp("syn"))


@pytest.fixture(scope="session")
def synthetic_features(tmp_path_factory):
    """``(cache_dir, dataset, Features)`` of ``synthetic:n=8,duration=4``, extracted once per session.

    Pass ``cache_dir`` (``--cache-dir`` on the CLI) to reuse both the rendered audio and the features.
    """
    from mer import datasets
    from mer.training import load_features

    cache = tmp_path_factory.mktemp("synfeat")
    ds = datasets.load("synthetic:n=8,duration=4", cache_dir=cache)
    return cache, ds, load_features(ds, cache_dir=cache, progress=False)


def write_tone(path: Path, sr: int = 44100, seconds: float = 2.0, channels: int = 2, freq: float = 440.0) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(2 * np.pi * 3 * freq * t)
    data = np.stack([y] * channels, axis=1) if channels > 1 else y
    sf.write(str(path), data.astype(np.float32), sr)
    return path
