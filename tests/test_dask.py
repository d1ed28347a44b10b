"""Extraction on a Dask distributed cluster gives the same features as a local run."""

import numpy as np
import pytest

from mer.core.cache import FeatureCache
from mer.features.paper import FeatureConfig
from mer.core.errors import MerError
from mer.extraction.batch import extract_files
from tests.conftest import assert_features_close, write_tone

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    # two worker processes on loopback only, no dashboard
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as c:
        yield c


@pytest.mark.slow
def test_cluster_run_equals_local_run_and_fills_the_cache(cluster, tmp_path, monkeypatch):
    tones = [write_tone(tmp_path / f"t{i}.wav", sr=22050, seconds=1.5, freq=200.0 * (i + 1)) for i in range(4)]
    bad = tmp_path / "corrupt.mp3"
    bad.write_bytes(b"\x00garbage" * 100)
    local = extract_files(tones, progress=False)

    monkeypatch.setenv("MER_CACHE", str(tmp_path / "cluster-cache"))
    remote = extract_files(tones + [bad], scheduler=cluster.scheduler_address, progress=False)
    assert remote.ok.tolist() == [True] * 4 + [False]
    assert "cannot decode audio" in remote.failures[0][1] and "corrupt.mp3" in remote.failures[0][1]
    assert remote.n_computed == 4
    for a, b in zip(local.features, remote.features):
        assert_features_close(a, b)  # other processes, other BLAS threads
    # the client wrote the cache: a second run, local, does no feature work
    again = extract_files(tones, progress=False)
    assert (again.n_cached, again.n_computed) == (4, 0)
    assert len(list(FeatureCache(None, FeatureConfig()).dir.rglob("*.npy"))) == 4


@pytest.mark.slow
def test_cli_features_on_a_cluster(cluster, tmp_path):
    from typer.testing import CliRunner

    from mer.apps.cli import app

    folder = tmp_path / "data"
    for q in ("Q1", "Q2"):
        (folder / q).mkdir(parents=True)
        write_tone(folder / q / "a.wav", sr=22050, seconds=1.0, freq=300.0 if q == "Q1" else 500.0)
    out = tmp_path / "f.npz"
    res = CliRunner().invoke(app, ["features", str(folder), "--out", str(out), "--scheduler",
                                   cluster.scheduler_address, "--quiet"])
    assert res.exit_code == 0, res.output
    assert "2 extracted" in res.output
    with np.load(out) as z:
        assert z["features"].shape[:2] == (2, 204)


def test_an_unreachable_scheduler_is_a_one_line_error(tmp_path, monkeypatch):
    from mer.extraction import batch as extraction

    monkeypatch.setattr(extraction, "SCHEDULER_TIMEOUT", "1s")
    tone = write_tone(tmp_path / "t.wav", sr=22050, seconds=1.0)
    with pytest.raises(MerError, match="cannot connect to the Dask scheduler at tcp://127.0.0.1:9"):
        extract_files([tone], scheduler="tcp://127.0.0.1:9", progress=False)
