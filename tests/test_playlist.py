"""Mood playlists (mer.library.playlist): moods, waypoints, the greedy walk, the quality report, M3U8, the plot.

Geometric properties are checked on synthetic grids of Tracks; one test plans a playlist
over Tracks built from the default model's predictions of real 4Q clips.
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from mer.core.errors import MerError
from mer.library.playlist import (
    EASINGS,
    PLAYLIST_SCHEMA,
    Mood,
    parse_mood,
    plan_playlist,
    quality_report,
    waypoints,
)
from mer.library.track import Track


def _grid(n: int = 9, lo: float = -0.8, hi: float = 0.8, artists: int = 7, root: str = "/music") -> list[Track]:
    """n x n tracks on a square grid of the plane; artists cycle; ids from 1."""
    g = np.linspace(lo, hi, n)
    out = []
    for i, (v, a) in enumerate((v, a) for v in g for a in g):
        out.append(Track(id=i + 1, path=f"{root}/a{i % artists}/t{i}.mp3", quadrant="Q1", valence=float(v),
                         arousal=float(a), artist=f"Artist {i % artists}", title=f"Song {i}", duration_s=180.0 + i))
    return out


def _va(tracks) -> np.ndarray:
    return np.array([[t.valence, t.arousal] for t in tracks])


# ---------------------------------------------------------------------------------------
# Moods


@pytest.mark.parametrize("word, point", [("happy", (0.5, 0.5)), ("Excited", (0.5, 0.5)), ("tense", (-0.5, 0.5)),
                                         ("angry", (-0.5, 0.5)), ("sad", (-0.5, -0.5)), ("calm", (0.5, -0.5)),
                                         ("relaxed", (0.5, -0.5)), ("q3", (-0.5, -0.5))])
def test_mood_words_name_their_quadrant_centre(word, point):
    m = parse_mood(word)
    assert (m.valence, m.arousal, m.source) == (*point, "word")


def test_mood_points_and_tracks():
    assert parse_mood(" 0.25, -1 ") == Mood(0.25, -1.0, "point", "0.25, -1")
    assert (parse_mood((0.1, 0.2)).valence, parse_mood((0.1, 0.2)).arousal) == (0.1, 0.2)
    t = Track(id=7, path="/music/x.flac", valence=0.3, arousal=-0.2, closing={"valence": -0.6, "arousal": 0.4})
    whole = parse_mood("7", tracks=[t])
    assert (whole.valence, whole.arousal, whole.track_id) == (0.3, -0.2, 7)
    closing = parse_mood("/music/x.flac", tracks=[t], as_start=True)
    assert (closing.valence, closing.arousal, closing.source) == (-0.6, 0.4, "track")


@pytest.mark.parametrize("spec, match", [("1.5,0", r"in \[-1, 1\]"), ("0,-1.01", r"in \[-1, 1\]"),
                                         ("jolly", "unknown mood 'jolly'"), ("", "unknown mood"),
                                         ("99", "unknown mood '99'"), ("0.5,", "unknown mood")])
def test_bad_moods_are_one_line_errors(spec, match):
    with pytest.raises(MerError, match=match) as exc:
        parse_mood(spec, tracks=_grid(2))
    assert "\n" not in str(exc.value)


def test_a_track_without_valence_is_an_error_naming_it():
    silent = Track(id=3, path="/music/silence.wav", quadrant=None, flags=["silent"])
    with pytest.raises(MerError, match="silence.wav.*no valence"):
        parse_mood("3", tracks=[silent])


# ---------------------------------------------------------------------------------------
# Waypoints and easings


def test_linear_waypoints_are_even_and_end_at_the_moods():
    w = waypoints((-0.5, -0.5), (0.5, 0.3), length=9, easing="linear")
    assert w.shape == (9, 2)
    np.testing.assert_allclose(w[0], (-0.5, -0.5), atol=1e-12)
    np.testing.assert_allclose(w[-1], (0.5, 0.3), atol=1e-12)
    d = np.linalg.norm(np.diff(w, axis=0), axis=1)
    np.testing.assert_allclose(d, d[0], atol=1e-12)


def test_cubic_easing_lingers_at_both_ends():
    w = waypoints((-0.5, -0.5), (0.5, 0.5), length=9, easing="cubic")
    d = np.linalg.norm(np.diff(w, axis=0), axis=1)
    np.testing.assert_allclose(d, d[::-1], atol=1e-12)  # symmetric
    assert d[0] < d[1] < d[2] < d[3]  # slow start, fastest in the middle
    np.testing.assert_allclose(w[[0, -1]], [(-0.5, -0.5), (0.5, 0.5)], atol=1e-12)


@pytest.mark.parametrize("easing, first", [("arousal-first", 1), ("valence-first", 0)])
def test_axis_first_easings_move_one_axis_then_the_other(easing, first):
    s, e = np.array([-0.6, -0.4]), np.array([0.6, 0.4])  # legs 1.2 (valence) and 0.8 (arousal)
    w = waypoints(s, e, length=11, easing=easing)
    moved = np.abs(np.diff(w, axis=0)) > 1e-12
    other = 1 - first
    turn = int(np.argmax(moved[:, other]))  # the first step that moves the second axis
    assert not moved[:turn, other].any() and not moved[turn + 1:, first].any()
    d = np.abs(np.diff(w, axis=0)).sum(axis=1)  # distance along the L-shaped path
    np.testing.assert_allclose(d, 2.0 / 10, atol=1e-12)
    np.testing.assert_allclose(w[[0, -1]], [s, e], atol=1e-12)


def test_unknown_easing_and_bad_length():
    with pytest.raises(MerError, match="unknown easing 'bouncy'"):
        waypoints((0, 0), (1, 1), length=3, easing="bouncy")
    with pytest.raises(MerError, match="length >= 1"):
        plan_playlist(_grid(3), start="sad", end="happy", length=0)


# ---------------------------------------------------------------------------------------
# The walk


@pytest.mark.parametrize("easing", EASINGS)
def test_no_track_twice_and_report_figures_match_the_steps(easing):
    pl = plan_playlist(_grid(), start="sad", end="happy", length=12, easing=easing)
    ids = [t.id for t in pl.tracks]
    assert len(ids) == 12 and len(set(ids)) == 12
    r = pl.report
    va = _va(pl.tracks)
    steps = np.linalg.norm(np.diff(va, axis=0), axis=1)
    np.testing.assert_allclose(r["steps"], steps, atol=1e-12)
    assert r["mean_step"] == pytest.approx(steps.mean(), abs=1e-12)
    assert r["largest_step"] == pytest.approx(steps.max(), abs=1e-12)
    assert r["step_cv"] == pytest.approx(steps.std() / steps.mean(), abs=1e-12)
    assert r["start_distance"] == pytest.approx(np.linalg.norm(va[0] - (-0.5, -0.5)), abs=1e-12)
    assert r["end_distance"] == pytest.approx(np.linalg.norm(va[-1] - (0.5, 0.5)), abs=1e-12)
    np.testing.assert_allclose(r["waypoint_distances"], np.linalg.norm(va - pl.waypoints, axis=1), atol=1e-12)


def test_without_the_join_term_each_track_is_the_nearest_unused_to_its_waypoint():
    tracks = _grid(7)
    pl = plan_playlist(tracks, start="-0.7,0.1", end="0.6,-0.6", length=6, join_weight=0)
    used: set[int] = set()
    for t, w in zip(pl.tracks, pl.waypoints):
        left = [u for u in tracks if u.id not in used]
        best = min(np.linalg.norm(np.array([u.valence, u.arousal]) - w) for u in left)
        assert np.linalg.norm(np.array([t.valence, t.arousal]) - w) == pytest.approx(best, abs=1e-12)
        used.add(t.id)


def test_per_artist_cap_holds_and_a_short_library_is_reported():
    pl = plan_playlist(_grid(artists=3), start="sad", end="happy", length=10, per_artist=2)
    artists = [t.artist for t in pl.tracks]
    assert max(artists.count(a) for a in set(artists)) <= 2
    assert len(pl.tracks) == 6 and pl.report["requested_length"] == 10  # 3 artists x 2
    assert any("ran out" in n for n in pl.report["notes"])


def test_unknown_artists_are_not_capped_and_unusable_tracks_not_used():
    tracks = [Track(id=i, path=f"/m/{i}.mp3", valence=0.1 * i - 0.5, arousal=0.0, artist=None) for i in range(8)]
    tracks += [Track(id=50, path="/m/silent.mp3", quadrant=None), Track(id=51, path="/m/gone.mp3", status="missing",
                                                                        valence=0.0, arousal=0.0)]
    pl = plan_playlist(tracks, start="-0.5,0", end="0.2,0", length=8, per_artist=1)
    assert sorted(t.id for t in pl.tracks) == list(range(8))


def test_max_step_respected_where_the_library_allows():
    tracks = _grid(9)  # spacing 0.2
    free = plan_playlist(tracks, start="-0.8,-0.8", end="0.8,0.8", length=9)
    assert free.report["largest_step"] > 0.25  # diagonal steps of 0.28 without a limit
    pl = plan_playlist(tracks, start="-0.8,-0.8", end="0.8,0.8", length=9, max_step=0.25)
    assert pl.report["largest_step"] <= 0.25 and pl.report["n_over_max_step"] == 0
    assert any("requested path itself" in n for n in pl.report["notes"])  # 0.28 per step asked


def test_max_step_looks_one_step_ahead_to_avoid_a_dead_end():
    # after track 1, track 2 is nearest the waypoint (0, 0) but nothing else is within 0.65 of it;
    # track 3 is further from the waypoint and leads on to track 4
    tracks = [Track(id=1, path="/m/1.mp3", valence=-0.6, arousal=0.0), Track(id=2, path="/m/2.mp3", valence=0.0,
                                                                           arousal=0.0),
              Track(id=3, path="/m/3.mp3", valence=-0.6, arousal=0.6), Track(id=4, path="/m/4.mp3", valence=-0.6,
                                                                           arousal=1.0)]
    pl = plan_playlist(tracks, start="-0.6,0", end="0.6,0", length=3, max_step=0.65)
    assert [t.id for t in pl.tracks] == [1, 3, 4] and pl.report["n_over_max_step"] == 0
    greedy = plan_playlist(tracks, start="-0.6,0", end="0.6,0", length=3)
    assert [t.id for t in greedy.tracks][:2] == [1, 2]  # without max_step the nearest is taken


def test_max_step_keeps_the_end_in_reach_through_unused_tracks(monkeypatch):
    # an L-shaped corridor (bottom row, then right column; steps of 0.2) and a diagonal pocket that leads
    # nowhere: the waypoints run along the diagonal, the only path within 0.3 along the corridor
    pts = ([(-0.8 + 0.2 * i, -0.8) for i in range(9)] + [(0.8, -0.6 + 0.2 * j) for j in range(8)]
           + [(-0.8 + 0.2 * i, -0.8 + 0.2 * i) for i in range(1, 4)])
    tracks = [Track(id=i + 1, path=f"/m/{i}.mp3", valence=v, arousal=a) for i, (v, a) in enumerate(pts)]
    pl = plan_playlist(tracks, start="-0.8,-0.8", end="0.8,0.8", length=17, max_step=0.3)
    assert pl.report["n_over_max_step"] == 0 and pl.report["end_distance"] == pytest.approx(0, abs=1e-12)
    assert not any("no path" in n for n in pl.report["notes"])
    short = plan_playlist(tracks, start="-0.8,-0.8", end="0.8,0.8", length=10, max_step=0.3)  # 16 steps needed
    assert any("no path of steps within max_step 0.3" in n for n in short.report["notes"])
    from mer.library import playlist as module

    monkeypatch.setattr(module._Reach, "hops", lambda self, ok: np.zeros(len(ok), dtype=int))  # reach ignored
    blind = plan_playlist(tracks, start="-0.8,-0.8", end="0.8,0.8", length=17, max_step=0.3)
    assert blind.report["n_over_max_step"] >= 1


def test_max_step_violations_are_recorded_when_the_library_has_a_gap():
    left = [Track(id=i + 1, path=f"/m/l{i}.mp3", valence=-0.8 + 0.1 * i, arousal=0.0) for i in range(4)]
    right = [Track(id=i + 10, path=f"/m/r{i}.mp3", valence=0.5 + 0.1 * i, arousal=0.0) for i in range(4)]
    pl = plan_playlist(left + right, start="-0.8,0", end="0.8,0", length=8, max_step=0.15)
    r = pl.report
    assert [t.id for t in pl.tracks] == [1, 2, 3, 4, 10, 11, 12, 13]
    assert r["n_over_max_step"] == 1
    (over,) = r["over_max_step"]
    assert (over["from"], over["to"]) == (3, 4) and over["step"] == pytest.approx(0.5 - (-0.5), abs=1e-12)
    assert over["step"] == pytest.approx(r["steps"][3], abs=0) and over["step"] == r["largest_step"]
    assert sum(s > 0.15 for s in r["steps"]) == 1
    assert any("no path of steps within max_step 0.15" in n for n in r["notes"])
    assert any("4->5" in line for line in pl.report_lines())


def test_joins_prefer_the_track_whose_opening_meets_the_previous_closing():
    first = Track(id=1, path="/m/1.mp3", valence=-0.5, arousal=-0.5, closing={"valence": -0.5, "arousal": 0.2})
    # two candidates equally far from the next waypoint (0.5, -0.5); only track 3 opens where track 1 ends
    a = Track(id=2, path="/m/2.mp3", valence=0.5, arousal=-0.4, opening={"valence": 0.5, "arousal": -0.9})
    b = Track(id=3, path="/m/3.mp3", valence=0.5, arousal=-0.6, opening={"valence": -0.4, "arousal": 0.2})
    pl = plan_playlist([first, a, b], start="-0.5,-0.5", end="0.5,-0.5", length=2)
    assert [t.id for t in pl.tracks] == [1, 3]
    assert pl.report["joins"] == [pytest.approx(0.1, abs=1e-12)]
    blind = plan_playlist([first, a, b], start="-0.5,-0.5", end="0.5,-0.5", length=2, join_weight=0)
    assert [t.id for t in blind.tracks] == [1, 2]  # a tie without the join: the lower id


def test_from_a_track_continues_from_its_closing_and_leaves_it_out():
    tracks = _grid(7)
    now = Track(id=999, path="/music/now.mp3", valence=0.8, arousal=0.8, closing={"valence": -0.8, "arousal": -0.8})
    pl = plan_playlist([now, *tracks], start="/music/now.mp3", end="happy", length=5)
    assert 999 not in [t.id for t in pl.tracks]
    assert (pl.start.valence, pl.start.arousal) == (-0.8, -0.8)
    np.testing.assert_allclose(pl.waypoints[0], (-0.8, -0.8))


def test_random_state_varies_the_pick_reproducibly():
    tracks = _grid(13)
    runs = {seed: [t.id for t in plan_playlist(tracks, start="sad", end="happy", length=8, random_state=seed).tracks]
            for seed in range(6)}
    again = [t.id for t in plan_playlist(tracks, start="sad", end="happy", length=8, random_state=3).tracks]
    assert again == runs[3]
    assert len({tuple(r) for r in runs.values()}) > 1
    assert all(len(set(r)) == 8 for r in runs.values())


def test_quality_report_of_a_hand_made_path():
    pts = np.array([[0, 0], [0.3, 0.4], [0.3, 0.4 + 0.5]])  # steps 0.5, 0.5
    r = quality_report(pts, start=(0, 0), end=(0.3, 1.0), waypoints=pts, joins=[0.1, 0.3], max_step=0.45)
    assert r["steps"] == pytest.approx([0.5, 0.5], abs=1e-12) and r["step_cv"] == pytest.approx(0, abs=1e-12)
    assert r["end_distance"] == pytest.approx(0.1, abs=1e-12) and r["n_over_max_step"] == 2
    assert r["mean_join"] == pytest.approx(0.2, abs=1e-12) and r["largest_join"] == pytest.approx(0.3, abs=1e-12)


# ---------------------------------------------------------------------------------------
# Outputs


def test_m3u8_relative_paths_utf8_and_extinf(tmp_path):
    music = tmp_path / "music" / "Björk"
    music.mkdir(parents=True)
    tracks = []
    for i, (v, a) in enumerate([(-0.5, -0.5), (0.0, 0.0), (0.5, 0.5)]):
        p = music / f"söng {i}.flac"
        p.write_bytes(b"x")
        tracks.append(Track(id=i + 1, path=str(p), valence=v, arousal=a, artist="Björk", title=f"Sång {i}",
                            duration_s=200.6 + i))
    tracks.append(Track(id=9, path="/elsewhere/untitled.mp3", valence=0.6, arousal=0.6, duration_s=None))
    pl = plan_playlist(tracks, start="sad", end="happy", length=4)
    out = tmp_path / "lists" / "mood.m3u8"
    pl.to_m3u8(out)
    lines = out.read_bytes().decode("utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[1] == "#EXTINF:201,Björk - Sång 0" and lines[2] == "../music/Björk/söng 0.flac"
    assert lines[7] == "#EXTINF:-1,untitled"
    for line in lines[2:7:2]:
        assert (out.parent / line).resolve().is_file()
    assert os.path.normpath(out.parent / lines[8]) == "/elsewhere/untitled.mp3"
    assert not [p for p in out.parent.iterdir() if p.name != "mood.m3u8"]  # atomic write left nothing else


def test_to_dict_is_json_with_schema_and_per_track_steps(tmp_path):
    pl = plan_playlist(_grid(5), start="calm", end="tense", length=5, max_step=0.5)
    d = json.loads(json.dumps(pl.to_dict()))
    assert d["schema"] == PLAYLIST_SCHEMA == "mer.playlist/1"
    assert [t["position"] for t in d["tracks"]] == [1, 2, 3, 4, 5]
    assert d["tracks"][0]["step"] is None and [t["step"] for t in d["tracks"][1:]] == d["report"]["steps"]
    assert len(d["waypoints"]) == 5 and d["settings"]["easing"] == "linear" and d["start"]["text"] == "calm"


def test_plot_png_and_svg(tmp_path):
    from mer.report.playlist_plots import plot_playlist

    left = [Track(id=i + 1, path=f"/m/{i}.mp3", valence=-0.8 + 0.1 * i, arousal=0.0, quadrant="Q3") for i in range(3)]
    right = [Track(id=i + 10, path=f"/m/r{i}.mp3", valence=0.6 + 0.1 * i, arousal=0.1, quadrant="Q1",
                   opening={"valence": 0.5, "arousal": 0.0}) for i in range(3)]
    d = plan_playlist(left + right, start="-0.8,0", end="0.8,0", length=6, max_step=0.2).to_dict()
    assert d["report"]["n_over_max_step"] == 1
    plot_playlist(d, tmp_path / "p.png")
    plot_playlist(d, tmp_path / "p.svg")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "p.svg").read_text()
    assert "<svg" in svg and "max-step" in svg  # the violation's legend entry


# ---------------------------------------------------------------------------------------
# Real clips


@pytest.fixture(scope="module")
def real_tracks(fourq_dir, tmp_path_factory) -> list[Track]:
    """Tracks from the default model's predictions of 8 real 4Q clips (2 per quadrant), artists from the metadata."""
    from mer.workflows.predict import load_model, predict_files

    with open(fourq_dir / "panda_dataset_taffc_metadata.csv", newline="", encoding="utf-8") as f:
        meta = {r["Song"]: r for r in csv.DictReader(f)}
    paths = [p for q in ("Q1", "Q2", "Q3", "Q4") for p in sorted((fourq_dir / q).glob("*.mp3"))[:2]]
    preds, failures = predict_files(load_model(None), paths, cache_dir=tmp_path_factory.mktemp("cache"),
                                    progress=False)
    assert not failures
    return [Track(id=i + 1, path=str(p.path), quadrant=p.quadrant, valence=p.valence, arousal=p.arousal,
                  model="default", duration_s=p.quality["duration_s"], artist=meta[p.path.stem]["Artist"],
                  title=meta[p.path.stem]["Title"]) for i, p in enumerate(preds)]


@pytest.mark.real_data
def test_playlist_over_real_clips(real_tracks, tmp_path):
    pl = plan_playlist(real_tracks, start="sad", end="happy", length=6, max_step=0.9)
    va = _va(pl.tracks)
    all_va = _va(real_tracks)
    # the first pick has no previous track: the clip nearest the start mood
    assert np.linalg.norm(va[0] - (-0.5, -0.5)) == pytest.approx(np.linalg.norm(all_va - (-0.5, -0.5), axis=1).min())
    assert len({t.id for t in pl.tracks}) == 6
    steps = np.linalg.norm(np.diff(va, axis=0), axis=1)
    np.testing.assert_allclose(pl.report["steps"], steps, atol=1e-12)
    assert pl.report["n_over_max_step"] == int((steps > 0.9).sum())
    pl.to_m3u8(tmp_path / "real.m3u8")
    text = (tmp_path / "real.m3u8").read_text(encoding="utf-8")
    assert text.count("#EXTINF:30,") == 6 and pl.tracks[0].artist in text


# ---------------------------------------------------------------------------------------
# mer playlist


@pytest.fixture
def grid_db(tmp_path):
    """A library of 49 grid tracks (files not needed to plan), 7 artists."""
    from mer.library.db import open_library

    items = [(t.path, 1, 1, {"status": "ok", "model": "m", "quadrant": "Q1", "valence": t.valence,
                             "arousal": t.arousal, "artist": t.artist, "title": t.title, "duration_s": t.duration_s,
                             "flags": []}, None) for t in _grid(7, root=str(tmp_path / "music"))]
    db = tmp_path / "lib.db"
    with open_library(db) as lib:
        lib.record(items)
    return db


def test_mer_playlist_cli_prints_playlist_report_and_writes_outputs(grid_db, tmp_path):
    from typer.testing import CliRunner

    from mer.apps.cli import app

    out, js, png = tmp_path / "lists" / "p.m3u8", tmp_path / "p.json", tmp_path / "p.png"
    r = CliRunner().invoke(app, ["playlist", "--db", str(grid_db), "--from", "sad", "--to", "0.8,0.8", "-n", "6",
                                 "--max-step", "0.3", "--per-artist", "1", "--easing", "cubic", "--out", str(out),
                                 "--json", str(js), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    d = json.loads(js.read_text())
    assert d["schema"] == "mer.playlist/1" and len(d["tracks"]) == 6 and d["settings"]["easing"] == "cubic"
    assert len({t["artist"] for t in d["tracks"]}) == 6
    rep = d["report"]
    assert f"steps: mean {rep['mean_step']:.3f}, largest {rep['largest_step']:.3f}" in r.output
    assert f"steps over --max-step 0.3: {rep['n_over_max_step']}" in r.output
    assert f"last track to the end mood: {rep['end_distance']:.3f}" in r.output
    assert all(f"{t['artist']} - {t['title']}" in r.output for t in d["tracks"])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and lines[2].startswith("../music/a")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_mer_playlist_cli_help_and_errors(grid_db):
    from typer.testing import CliRunner

    from mer.apps.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["playlist", "--help"])
    assert r.exit_code == 0 and "mixed evidence" in " ".join(r.output.split())
    r = runner.invoke(app, ["playlist", "--db", str(grid_db), "--from", "gloomy-ish", "--to", "happy", "-n", "3"])
    assert r.exit_code == 1 and "error: unknown mood 'gloomy-ish'" in r.output
    assert len([line for line in r.output.splitlines() if line.strip()]) == 1
    r = runner.invoke(app, ["playlist", "--db", str(grid_db), "--from", "sad", "--to", "happy", "-n", "3",
                            "--easing", "zigzag"])
    assert r.exit_code == 1 and "unknown easing 'zigzag'" in r.output
    r = runner.invoke(app, ["playlist", "--db", str(grid_db), "--from", "1", "--to", "happy", "-n", "3"])
    assert r.exit_code == 0, r.output  # a track id in the library
