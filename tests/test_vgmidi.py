"""VGMIDI: the loader (mer.data.vgmidi), the measure mapping and scoring of the study (mer.study.vgmidi)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import DATA_ROOT
from mer.core.errors import MerError
from mer.data import vgmidi as data
from mer.study import vgmidi as study

VGMIDI = DATA_ROOT / "vgmidi"

#: Fixtures that read ../shared/data (tests/conftest.py checks that their users are marked real_data).
REAL_DATA_FIXTURES = {"vgmidi_dir"}


@pytest.fixture(scope="module")
def vgmidi_dir():
    if not (VGMIDI / "annotations" / "vgmidi_raw_1.json").is_file():
        pytest.skip(f"VGMIDI not found at {VGMIDI}")
    return VGMIDI


def _midi(path, bars: int, bpm: float = 120.0):
    """A 4/4 piano MIDI of `bars` bars, one note per beat, at `bpm` (a bar = 240 / bpm s)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    piano = pretty_midi.Instrument(program=0)
    beat = 60.0 / bpm
    for k in range(4 * bars):
        piano.notes.append(pretty_midi.Note(velocity=80, pitch=60 + k % 12, start=k * beat, end=(k + 1) * beat))
    pm.instruments.append(piano)
    pm.write(str(path))


def _fake_vgmidi(root, *, measures: int = 2, bars: int = 2):
    """Two rounds of one piece each: 'Game_Happy' (2 listeners) and 'Game_Sad', both `bars` bars at 120 bpm."""
    (root / "annotations").mkdir(parents=True)
    (root / "midi").mkdir()
    for rnd, name in ((1, "S_C_Game_Song Happy"), (2, "S_C_Game_Song Sad")):
        _midi(root / "midi" / f"{name}.mid", bars)
        traces = {f"piece0_{k}": {"valence": [0.1 * k] * measures, "arousal": [-0.2 * k] * measures}
                  for k in (1, 2)}
        (root / "annotations" / f"vgmidi_raw_{rnd}.json").write_text(json.dumps(
            {"pieces": {"piece0": {"midi": f"{name}.mid", "name": name, "duration": 2.0 * bars, "measures": measures}},
             "annotations": traces}))
    return root


# ---------------------------------------------------------------------------
# Loader
# ---------------------------------------------------------------------------


@pytest.mark.real_data
def test_loader_on_the_real_data(vgmidi_dir):
    d = data.load_vgmidi(vgmidi_dir)
    # 200 pieces have entries; round 1's traces of 4 more name no MIDI, 4 MIDI files no entry
    assert len(d) == 200
    assert any("no piece entry" in p for p in d.problems) and any("4 MIDI file(s)" in p for p in d.problems)
    assert len({p.id for p in d.pieces}) == 200
    for p in d.pieces:
        assert len(p.valence) == len(p.arousal) == len(p.measure_starts) == p.n_measures
        assert np.all(np.diff(p.measure_starts) > 0) and np.all(p.measure_ends > p.measure_starts)
        assert 28 <= p.n_listeners <= 32
    # one piece by hand from the JSON: mean over listeners per measure
    raw = json.loads((vgmidi_dir / "annotations" / "vgmidi_raw_1.json").read_text())
    traces = [a for k, a in raw["annotations"].items() if k.rsplit("_", 1)[0] == "piece0"]
    piece = next(p for p in d.pieces if p.id == "r1:piece0")
    assert piece.n_listeners == len(traces)
    np.testing.assert_allclose(piece.valence, np.mean([t["valence"] for t in traces], axis=0), atol=1e-12)
    np.testing.assert_allclose(piece.arousal, np.mean([t["arousal"] for t in traces], axis=0), atol=1e-12)
    assert piece.clip_target[0] == pytest.approx(float(np.mean([t["valence"] for t in traces])), abs=1e-12)
    # the Happy / Sad versions of one song share a group
    boggy = {p.group for p in d.pieces if p.name.startswith("Boggys Igloo")}
    assert len(boggy) == 1 and len([p for p in d.pieces if p.group in boggy]) == 2


def test_measure_times_follow_the_tempo_map_and_fall_back_to_uniform(tmp_path):
    path = tmp_path / "a.mid"
    _midi(path, bars=3, bpm=120.0)  # a 4/4 bar at 120 bpm lasts 2 s
    starts, ends, timing = data.measure_times(path, 3, 6.0)
    assert timing == "tempo-map"
    np.testing.assert_allclose(starts, [0.0, 2.0, 4.0], atol=1e-9)
    np.testing.assert_allclose(ends, [2.0, 4.0, 6.0], atol=1e-9)
    starts, ends, timing = data.measure_times(path, 5, 10.0)  # 5 measures claimed: not what the MIDI spans
    assert timing == "uniform"
    np.testing.assert_allclose(starts, [0, 2, 4, 6, 8], atol=1e-12)


def test_groups_join_versions_of_one_song():
    assert data.song_group("Banjo-Kazooie", "Boggys Igloo Happy") == data.song_group("Banjo-Kazooie", "Boggys Igloo Sad")
    assert data.song_group("GoldenEye 007", "Runway X") == data.song_group("GoldenEye 007", "Runway")
    assert data.song_group("Game A", "Main Theme") != data.song_group("Game B", "Main Theme")


def test_fake_set_loads_with_groups_and_means(tmp_path):
    d = data.load_vgmidi(_fake_vgmidi(tmp_path / "vg"))
    assert [p.id for p in d.pieces] == ["r1:piece0", "r2:piece0"]
    assert d.pieces[0].group == d.pieces[1].group == "game/song"
    np.testing.assert_allclose(d.pieces[0].valence, [0.15, 0.15])
    assert d.pieces[0].clip_target == pytest.approx((0.15, -0.3))
    assert d.problems == []


def test_bad_json_and_missing_midi_give_one_line_errors_naming_the_file(tmp_path):
    root = _fake_vgmidi(tmp_path / "vg")
    bad = root / "annotations" / "vgmidi_raw_2.json"
    bad.write_text("{not json")
    with pytest.raises(MerError, match="vgmidi_raw_2.json") as exc:
        data.load_vgmidi(root)
    assert "\n" not in str(exc.value)
    bad.write_text(json.dumps({"pieces": {}}))
    with pytest.raises(MerError, match="vgmidi_raw_2.json: not a VGMIDI annotation file"):
        data.load_vgmidi(root)
    shutil.rmtree(root)
    root = _fake_vgmidi(tmp_path / "vg")
    (root / "midi" / "S_C_Game_Song Sad.mid").unlink()
    with pytest.raises(MerError, match="Song Sad.mid: MIDI file not found"):
        data.measure_times(root / "midi" / "S_C_Game_Song Sad.mid", 2, 4.0)
    d = data.load_vgmidi(root)  # a batch goes on: the piece is left out, the line names the file
    assert [p.id for p in d.pieces] == ["r1:piece0"]
    (line,) = [p for p in d.problems if "Song Sad.mid" in p]
    assert "MIDI file not found" in line and "\n" not in line
    (root / "midi" / "S_C_Game_Song Happy.mid").write_bytes(b"MThd garbage")
    with pytest.raises(MerError, match="Song Happy.mid: cannot read MIDI"):
        data.measure_times(root / "midi" / "S_C_Game_Song Happy.mid", 2, 4.0)


# ---------------------------------------------------------------------------
# Windows -> measures, scoring
# ---------------------------------------------------------------------------


def test_measure_values_weight_windows_by_owned_overlap():
    # windows 0-4, 2-6, 4-8 (centres 2, 4, 6): owned 0-3, 3-5, 5-8 (first / last open-ended)
    spans = [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0)]
    values = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, -1.0]])
    starts, ends = np.array([0.0, 2.0, 4.0, 6.0, 9.0]), np.array([2.0, 4.0, 6.0, 8.0, 10.0])
    got = study.measure_values(spans, values, starts, ends)
    # measure 2-4: 1 s of window 0, 1 s of window 1; 4-6: 1 s of window 1, 1 s of window 2; 9-10: beyond, window 2
    np.testing.assert_allclose(got[:, 0], [0.0, 0.5, 1.5, 2.0, 2.0])
    np.testing.assert_allclose(got[:, 1], [1.0, 0.5, -0.5, -1.0, -1.0])


def test_scores_of_a_perfect_and_a_shifted_predictor():
    rng = np.random.default_rng(0)
    target = rng.uniform(-1, 1, size=(20, 2))
    perfect = study.score_clips(target, target.copy(), n_boot=50)
    shifted = study.score_clips(target, target + 0.3, n_boot=50)
    for axis in study.AXES:
        assert perfect[axis]["r"] == pytest.approx(1.0) and perfect[axis]["ccc"] == pytest.approx(1.0)
        assert perfect[axis]["r_ci"]["low"] == pytest.approx(1.0)
        assert shifted[axis]["r"] == pytest.approx(1.0) and shifted[axis]["ccc"] < 0.95
        assert shifted[axis]["rmse"] == pytest.approx(0.3)
    # timelines: per-piece offsets leave per-piece and within-piece r at 1, lower the pooled CCC
    curves = [(c := rng.uniform(-1, 1, 10), c + off) for off in (-0.5, 0.0, 0.5)]
    t = study.score_timelines(curves, min_measures=8, n_boot=20)
    assert t["per_piece"]["n"] == 3 and t["per_piece"]["median"] == pytest.approx(1.0)
    assert t["within"]["r"] == pytest.approx(1.0)
    assert t["pooled"]["ccc"] < 0.9
    assert study.score_timelines(curves, min_measures=11, n_boot=0)["per_piece"]["n"] == 0


def test_listener_ceiling_is_high_for_agreeing_listeners_and_low_for_noise():
    rng = np.random.default_rng(1)
    base = rng.uniform(-1, 1, size=(12, 2, 1, 16))
    agree = [b + 0.05 * rng.normal(size=(2, 30, 16)) for b in base]
    noise = [rng.normal(size=(2, 30, 16)) for _ in base]
    hi, lo = study.listener_ceiling(agree, splits=5), study.listener_ceiling(noise, splits=5)
    assert hi["valence"]["clip"] > 0.95 and hi["arousal"]["within"] > 0.95
    assert lo["valence"]["within"] < 0.5


# ---------------------------------------------------------------------------
# End to end on real pieces
# ---------------------------------------------------------------------------


@pytest.mark.real_data
@pytest.mark.slow
def test_two_real_pieces_rendered_and_scored(vgmidi_dir, monkeypatch):
    def constant(out):  # a pluggable predictor: the same answer for every row
        return np.tile([0.1, -0.1], (len(out.rows), 1))

    report = study.evaluate_vgmidi(vgmidi_dir, limit=2, n_boot=0, progress=False,
                                   predictors={"head": study.head, "constant": constant},
                                   timeline_predictors={"head": study.head})
    assert report["data"]["n_pieces"] == 2
    assert set(report["clip"]) == {"head", "constant"}
    for p in report["pieces"]:
        assert len(p["curves"]["head"]) == p["n_measures"]
        assert all(-1 <= x <= 1 for row in p["curves"]["head"] for x in row)
        assert p["clip"]["constant"] == [0.1, -0.1]
    assert np.isnan(report["clip"]["constant"]["valence"]["r"])
    assert np.isfinite(report["clip"]["head"]["valence"]["r"])
    # the whole-piece row gives what mer predict gives for the render (same inputs, within float tolerance),
    # with mer's own head: the study scores the classifier's inputs (the listener blend: experiments/issue22_listener.py)
    from mer.workflows.predict import load_model, predict_files

    preds, failures = predict_files(load_model(None).without_listener(), [p["render"] for p in report["pieces"]],
                                    progress=False)
    assert not failures
    for pred, p in zip(preds, report["pieces"]):
        assert [pred.valence, pred.arousal] == pytest.approx(p["clip"]["head"], abs=1e-3)
    # a second run extracts nothing: every row comes from the cache
    import mer.study.windows as windows

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again")

    monkeypatch.setattr(windows, "signal_rows", no_extraction)
    again = study.evaluate_vgmidi(vgmidi_dir, limit=2, n_boot=0, progress=False)
    assert again["clip"]["head"]["valence"]["r"] == pytest.approx(report["clip"]["head"]["valence"]["r"])
