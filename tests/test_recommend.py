"""Recommendation: mood words from Warriner et al.'s norms (mer.library.words), tracks nearest a mood
(mer.library.recommend), ``mer ls --mood``, ``/v1/tracks?mood=`` and the playlists' word moods."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mer.core.errors import MerError
from mer.library.db import open_library
from mer.library.track import Track


def _norm_rows(folder) -> dict[str, tuple[float, float]]:
    """Word -> (V.Mean.Sum, A.Mean.Sum), read here independently of mer.data.targets."""
    with open(folder / "Ratings_Warriner_et_al.csv", newline="", encoding="utf-8") as f:
        return {r["Word"]: (float(r["V.Mean.Sum"]), float(r["A.Mean.Sum"])) for r in csv.DictReader(f)}


def _grid_tracks(n: int = 9) -> list[Track]:
    g = np.linspace(-0.8, 0.8, n)
    return [Track(id=i + 1, path=f"/music/a{i % 5}/t{i}.mp3", valence=float(v), arousal=float(a),
                  artist=f"Artist {i % 5}", quadrant="Q1", duration_s=100.0)
            for i, (v, a) in enumerate((v, a) for v in g for a in g)]


@pytest.fixture
def grid_db(tmp_path):
    db = tmp_path / "grid.db"
    with open_library(db) as lib:
        lib.record([(t.path, 1, 1, {"status": "ok", "model": "m", "quadrant": "Q1", "valence": t.valence,
                                    "arousal": t.arousal, "artist": t.artist, "flags": [], "content_hash": f"h{t.id}"},
                     None) for t in _grid_tracks()])
    return db


# --------------------------------------------------------------------------- words


@pytest.mark.real_data
def test_any_word_maps_by_the_targets_formula_and_phrases_average(norms_dir):
    from mer.library.words import word_point

    raw = _norm_rows(norms_dir)
    for word in ("furious", "serene", "nostalgic", "anxious"):
        v, a = raw[word]
        assert word_point(word) == pytest.approx(((v - 5) / 4, (a - 5) / 4), abs=1e-12)
    both = np.mean([[(x - 5) / 4 for x in raw[w]] for w in ("dark", "calm")], axis=0)
    assert word_point("Dark  calm") == pytest.approx(tuple(both), abs=1e-12)


@pytest.mark.real_data
def test_unknown_word_is_one_line_naming_it_and_the_nearest(norms_dir):
    from mer.library.words import word_point

    with pytest.raises(MerError, match=r"'gloomyish' is not in Warriner et al.'s norms \(nearest known: gloomy") as e:
        word_point("dark gloomyish")
    assert "\n" not in str(e.value)


def test_without_the_norms_a_word_names_where_to_put_them(tmp_path, monkeypatch):
    from mer.library import words

    monkeypatch.delenv("MER_NORMS", raising=False)
    monkeypatch.setattr(words, "default_norms_path", lambda: tmp_path / "none.csv")
    with pytest.raises(MerError, match="not shipped with mer.*MER_NORMS"):
        words.word_point("furious")
    monkeypatch.setenv("MER_NORMS", str(tmp_path / "nowhere"))
    with pytest.raises(MerError, match="no Ratings_Warriner_et_al.csv"):
        words.word_point("furious")


@pytest.mark.real_data
def test_quadrant_words_keep_their_centres_and_other_words_use_the_norms(norms_dir):
    from mer.library.playlist import parse_mood

    assert parse_mood("anxious").point.tolist() == [-0.5, 0.5]  # a quadrant word (mer.core.labels.MOOD_WORDS)
    m = parse_mood("furious")
    v, a = _norm_rows(norms_dir)["furious"]
    assert m.source == "norms" and (m.valence, m.arousal) == pytest.approx(((v - 5) / 4, (a - 5) / 4))
    with pytest.raises(MerError, match="unknown mood 'xqzzy': 'xqzzy' is not in"):
        parse_mood("xqzzy")


# --------------------------------------------------------------------------- tracks near a mood


@pytest.mark.real_data
def test_near_mood_orders_by_distance_and_radius_cuts(norms_dir):
    from mer.library.recommend import near_mood
    from mer.library.words import word_point

    tracks = _grid_tracks() + [Track(id=999, path="/x.mp3", status="failed")]
    mood, hits = near_mood(tracks, "furious")
    p = np.array(word_point("furious"))
    d = [np.linalg.norm(np.array([t.valence, t.arousal]) - p) for t, _ in hits]
    assert len(hits) == 81 and d == sorted(d) and [x for _, x in hits] == pytest.approx(d)
    _, near = near_mood(tracks, "furious", radius=0.3)
    assert near and all(x <= 0.3 for _, x in near) and len(near) == sum(x <= 0.3 for x in d)
    with pytest.raises(MerError, match="radius must be > 0"):
        near_mood(tracks, "furious", radius=0)


@pytest.mark.real_data
def test_ls_mood_cli(grid_db, norms_dir):
    from mer.apps.cli import app
    from mer.library.recommend import near_mood

    runner = CliRunner()
    r = runner.invoke(app, ["ls", "--db", str(grid_db), "--mood", "furious", "--radius", "0.4", "-f", "json"])
    assert r.exit_code == 0, r.output
    got = [t["id"] for t in json.loads(r.output)]
    with open_library(grid_db, readonly=True) as lib:
        want = [t.id for t, _ in near_mood(lib.tracks(), "furious", radius=0.4)[1]]
    assert got == want and 0 < len(got) < 81
    r = runner.invoke(app, ["ls", "--db", str(grid_db), "--mood", "furious", "--limit", "3", "-f", "csv"])
    assert r.exit_code == 0 and [int(row["id"]) for row in csv.DictReader(r.output.splitlines())] == want[:3]
    for args, msg in ((["--mood", "xqzzy"], "unknown mood 'xqzzy'"), (["--radius", "0.2"], "--radius needs --mood")):
        r = runner.invoke(app, ["ls", "--db", str(grid_db), *args])
        assert r.exit_code == 1 and msg in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.real_data
def test_tracks_api_mood_and_playlist_words(grid_db, norms_dir):
    from fastapi.testclient import TestClient

    from mer.apps.service.app import create_app

    with TestClient(create_app(library=grid_db)) as c:
        r = c.get("/v1/tracks?mood=furious&radius=0.4&limit=2")
        body = r.json()
        assert r.status_code == 200 and body["mood"]["source"] == "norms" and len(body["tracks"]) == 2
        assert body["total"] > 2 and body["tracks"][0]["distance"] <= body["tracks"][1]["distance"] <= 0.4
        bad = c.get("/v1/tracks?mood=xqzzy")
        assert bad.status_code == 422 and "unknown mood 'xqzzy'" in bad.json()["error"]["message"]
        assert c.get("/v1/tracks?mood=furious&radius=-1").status_code == 422
        pl = c.post("/v1/playlists", json={"from": "furious", "to": "serene", "length": 4})
        assert pl.status_code == 200 and pl.json()["start"]["source"] == "norms"
        assert pl.json()["end"]["source"] == "word"  # a quadrant word keeps its centre
        bad = c.post("/v1/playlists", json={"from": "furiouss", "to": "calm"})
        assert bad.status_code == 422 and "nearest known: furious" in bad.json()["error"]["message"]
