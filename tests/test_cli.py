import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mer.apps.cli import app
from tests.conftest import write_tone

runner = CliRunner()


@pytest.mark.real_data
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


@pytest.mark.slow
def test_demo_runs_on_the_embedded_synthetic_set(tmp_path):
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "-q"])
    assert r.exit_code == 0, r.output
    assert "204 rows" in r.output
    png = tmp_path / "demo" / "features.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    for name in ("rnn", "brnn", "lstm", "logreg", "random_forest"):
        assert name in r.output
    assert "song-grouped CV" in r.output and (tmp_path / "demo" / "demo.mer").is_file()
    assert "prediction" in r.output and "valence" in r.output and "arousal" in r.output


SYN = "synthetic:n=8,duration=4"


def test_train_evaluate_predict_end_to_end(synthetic_features, tmp_path):
    cache, ds, _ = synthetic_features
    model = tmp_path / "m.mer"
    r = runner.invoke(app, ["train", "--data", SYN, "--model", "logreg", "--folds", "3", "--out", str(model),
                            "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0, r.output
    assert "3-fold grouped CV" in r.output and "mean ± std" in r.output and "wrote" in r.output
    assert model.is_file()

    out, png = tmp_path / "r.json", tmp_path / "c.png"
    r = runner.invoke(app, ["evaluate", str(model), "--data", SYN, "--json", str(out), "--plot", str(png),
                            "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    assert {"accuracy", "macro_f1", "per_class", "confusion", "labels", "n"} <= set(m)
    assert m["n"] == 32 and m["labels"] == ["Q1", "Q2", "Q3", "Q4"] and np.sum(m["confusion"]) == 32
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "confusion" in r.output and "precision" in r.output
    # trained and evaluated on the same clips: the card's content hashes catch it
    assert m["n_in_training"] == 32 and "32 of the 32 evaluated clips are in logreg's training data" in r.stderr
    assert m["skipped"] == [] and m["macro_f1_labels"] == ["Q1", "Q2", "Q3", "Q4"]

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFFnotreally")
    files = [str(ds.paths[0]), str(bad)]
    r = runner.invoke(app, ["predict", "--model", str(model), *files, "--format", "json", "--cache-dir", str(cache)])
    assert r.exit_code == 3, r.output  # one good file predicted, the bad one reported
    rows = json.loads(r.stdout)
    assert len(rows) == 1 and rows[0]["path"] == files[0]
    assert set(rows[0]) == {"path", "quadrant", "probabilities", "valence", "arousal", "flags", "quality"}
    # the synthetic clips last 4 s: under the 6 s a reliable answer needs
    assert rows[0]["flags"] == ["too_short"] and rows[0]["quality"]["duration_s"] == pytest.approx(4.0, abs=0.01)
    assert "bad.wav" in r.stderr
    r = runner.invoke(app, ["predict", "--model", str(model), files[0], "--format", "csv", "--cache-dir", str(cache)])
    assert r.exit_code == 0, r.output
    header, row = r.stdout.strip().splitlines()
    assert header == ("path,quadrant,p_Q1,p_Q2,p_Q3,p_Q4,valence,arousal,flags,"
                      "duration_s,rms_dbfs,silent_fraction,clipped_fraction") and row.startswith(files[0])
    r = runner.invoke(app, ["predict", "-m", str(model), files[0], "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0 and "valence" in r.output and "Q1" in r.output


def test_train_a_recurrent_model_from_the_cli(synthetic_features, tmp_path):
    cache, _, _ = synthetic_features
    model = tmp_path / "gru.mer"
    r = runner.invoke(app, ["train", "--data", SYN, "--model", "gru", "--folds", "2", "--epochs", "2", "--seed", "3",
                            "--out", str(model), "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0, r.output
    from mer.models import modelfile

    m = modelfile.load(model)
    assert m.estimator.epochs == 2 and m.metadata["cv"]["n_splits"] == 2 and m.metadata["data"]["n_clips"] == 32
    assert m.estimator.random_state == 3  # `--seed` reaches the estimator's random_state


def test_model_errors_are_one_line(tmp_path, monkeypatch):
    r = runner.invoke(app, ["train", "--data", "synthetic:n=4", "--model", "cnn", "--out", str(tmp_path / "x.mer")])
    assert r.exit_code == 1 and "unknown model 'cnn'" in r.output
    foreign = tmp_path / "foreign.mer"
    foreign.write_text("hello")
    r = runner.invoke(app, ["evaluate", str(foreign), "--data", "synthetic:n=4"])
    assert r.exit_code == 1 and "not a mer model file" in r.output
    tone = write_tone(tmp_path / "t.wav")
    monkeypatch.setattr("mer.workflows.predict.default_model_path", lambda: tmp_path / "gone.mer")
    r = runner.invoke(app, ["predict", str(tone)])
    assert r.exit_code == 1 and "default model is missing" in r.output and "gone.mer" in r.output


@pytest.mark.slow
@pytest.mark.real_data
def test_predict_real_4q_clips(fourq_dir, synthetic_features, tmp_path):
    cache, _, _ = synthetic_features
    model = tmp_path / "m.mer"
    r = runner.invoke(app, ["train", "--data", SYN, "--model", "logreg", "--folds", "0", "--out", str(model),
                            "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0, r.output
    clip = sorted((fourq_dir / "Q3").glob("*.mp3"))[0]
    r = runner.invoke(app, ["predict", "-m", str(model), str(clip), "--format", "csv", "--cache-dir", str(cache)])
    assert r.exit_code == 0, r.output
    row = r.stdout.strip().splitlines()[1].split(",")
    assert row[0] == str(clip) and row[1] in ("Q1", "Q2", "Q3", "Q4")
    probs = [float(x) for x in row[2:6]]
    assert sum(probs) == pytest.approx(1.0, abs=1e-3)
    assert -1 <= float(row[6]) <= 1 and -1 <= float(row[7]) <= 1


def test_predict_accepts_folders_and_flags_silence(synthetic_features, tmp_path):
    import soundfile as sf

    cache, ds, _ = synthetic_features
    model = tmp_path / "m.mer"
    r = runner.invoke(app, ["train", "--data", SYN, "--model", "logreg", "--folds", "0", "--out", str(model),
                            "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0, r.output
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.wav").write_bytes(ds.paths[1].read_bytes())
    (folder / "a.wav").write_bytes(ds.paths[0].read_bytes())
    sf.write(str(folder / "quiet.wav"), np.zeros(8 * 22050, np.float32), 22050)
    (folder / "readme.txt").write_text("not audio")
    r = runner.invoke(app, ["predict", "-m", str(model), str(folder), "--format", "json", "--cache-dir", str(cache)])
    assert r.exit_code == 0, r.output  # flagged but handled: not a failure
    rows = json.loads(r.stdout)
    assert [row["path"] for row in rows] == [str(folder / "a.wav"), str(folder / "quiet.wav"),
                                            str(folder / "sub" / "b.wav")]
    quiet = rows[1]
    assert quiet["flags"] == ["silent"] and quiet["quadrant"] is None and quiet["probabilities"] is None
    assert rows[0]["quadrant"] in ("Q1", "Q2", "Q3", "Q4") and "silent" not in rows[0]["flags"]

    r = runner.invoke(app, ["predict", "-m", str(model), str(folder / "quiet.wav"), "--format", "csv",
                            "--cache-dir", str(cache)])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().splitlines()[1].startswith(f"{folder / 'quiet.wav'},,,,,,,,silent,")
    r = runner.invoke(app, ["predict", "-m", str(model), str(folder / "quiet.wav"), "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0 and "silent" in r.stdout and "no quadrant given" in r.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["predict", "-m", str(model), str(empty), "--cache-dir", str(cache)])
    assert r.exit_code == 1 and "no audio files in this folder" in r.stderr and str(empty) in r.stderr


def test_model_info_reads_only_the_card(synthetic_features, tmp_path):
    cache, _, _ = synthetic_features
    model = tmp_path / "m.mer"
    r = runner.invoke(app, ["train", "--data", SYN, "--model", "logreg", "--folds", "0", "--out", str(model),
                            "--cache-dir", str(cache), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["model-info", str(model)])
    assert r.exit_code == 0, r.output
    assert "model: logreg (summary)" in r.output and "32 content hashes" in r.output
    # what made it take seconds: rebuilding the estimator (torch, skops, scikit-learn)
    assert _modules_loaded_by(["model-info", str(model)], ("torch", "skops", "sklearn", "librosa")) == []


def _modules_loaded_by(argv: list[str], modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh Python process has imported after running `mer ARGV` (exit 0)."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from typer.testing import CliRunner; from mer.apps.cli import app; "
            f"r = CliRunner().invoke(app, {argv!r}); assert r.exit_code == 0, r.output; "
            f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_cached_prediction_loads_neither_torch_nor_skops_nor_sklearn(tmp_path):
    # importing torch (the musicnn network) and skops.io (every scikit-learn estimator, and
    # torch again) was 3 s of a 4-s cached `mer predict`; a cached run needs neither
    clip = write_tone(tmp_path / "tone.wav", seconds=12.0)
    assert runner.invoke(app, ["predict", str(clip), "-q"]).exit_code == 0  # fills the cache (runs musicnn)
    # nor scikit-learn (0.8 s): the recipe's probabilities come from its arrays (modelfile.RecipeArrays)
    assert _modules_loaded_by(["predict", str(clip), "-q"], ("torch", "skops", "skops.io", "sklearn")) == []


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_predict_table_keeps_file_names_whole_on_an_80_column_terminal(tmp_path, monkeypatch):
    names = ["long_file_name_number_one.wav", "long_file_name_number_two.wav"]
    files = [str(write_tone(tmp_path / n, seconds=8.0, freq=f)) for n, f in zip(names, (220.0, 660.0))]
    monkeypatch.setenv("COLUMNS", "80")
    r = runner.invoke(app, ["predict", *files, "-q"])
    assert r.exit_code == 0, r.output
    assert all(n in r.output for n in names), r.output  # relative to their folder, not folded
    assert f"in {tmp_path.resolve()}" in r.output and "% Q1  Q2  Q3  Q4 ┃" in r.output and "┃ Q4 ┃" not in r.output
    monkeypatch.setenv("COLUMNS", "200")
    wide = runner.invoke(app, ["predict", *files, "-q"])
    assert wide.exit_code == 0 and all(f"{q} ┃" in wide.output for q in ("Q1", "Q2", "Q3"))
    assert "% Q1" not in wide.output
