import numpy as np
from typer.testing import CliRunner

from mer.cli import app
from tests.conftest import write_tone

runner = CliRunner()


def test_info_on_real_4q(fourq_dir):
    r = runner.invoke(app, ["info", str(fourq_dir)])
    assert r.exit_code == 0, r.output
    assert "540 clips" in r.output and "Q3" in r.output and "135" in r.output


def test_info_on_bad_data_is_one_line_error(tmp_path):
    r = runner.invoke(app, ["info", str(tmp_path / "nowhere")])
    assert r.exit_code == 1
    assert "error:" in r.output and "dataset not found" in r.output


def _manifest(tmp_path):
    for i, q in enumerate(["Q1", "Q2", "Q3", "Q4"]):
        write_tone(tmp_path / f"{q}.wav", seconds=1.5, freq=200.0 * (i + 1))
    (tmp_path / "bad.wav").write_bytes(b"RIFFnotreally")
    rows = "".join(f"{q}.wav,{q},g{q}\n" for q in ["Q1", "Q2", "Q3", "Q4"]) + "bad.wav,Q1,gx\n"
    (tmp_path / "m.csv").write_text("path,label,group\n" + rows)
    return tmp_path / "m.csv"


def test_features_npz_full_and_pooled(tmp_path):
    manifest = _manifest(tmp_path)
    out = tmp_path / "f.npz"
    r = runner.invoke(app, ["features", str(manifest), "--out", str(out), "-q"])
    assert r.exit_code == 3, r.output  # finished, with a failure reported
    assert "bad.wav" in r.output and "1 file(s) failed" in r.output
    with np.load(out, allow_pickle=False) as z:
        assert z["features"].shape == (4, 204, 1 + int(1.5 * 22050) // 512)
        assert z["labels"].tolist() == ["Q1", "Q2", "Q3", "Q4"]
        assert z["groups"].tolist() == ["gQ1", "gQ2", "gQ3", "gQ4"]
        assert z["row_names"][0] == "chroma_stft:C" and len(z["row_groups"]) == 204
        assert (z["n_frames"] == z["features"].shape[2]).all()
    r = runner.invoke(app, ["features", str(manifest), "--out", str(out), "--pooled", "-q"])
    assert "4 from cache, 0 extracted" in r.output
    with np.load(out, allow_pickle=False) as z:
        assert z["features"].shape == (4, 5 * 204) and z["feature_names"][0] == "mean:chroma_stft:C"


def test_demo_runs_on_the_embedded_synthetic_set(tmp_path):
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "-q"])
    assert r.exit_code == 0, r.output
    assert "204 rows" in r.output
    png = tmp_path / "demo" / "features.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
