"""Recommendation: mood words from Warriner et al.'s norms (mer.library.words), tracks nearest a mood
(mer.library.recommend), similar tracks (mer.library.similar): the Python API, `mer ls --mood`, `mer similar`,
`/v1/tracks?mood=`, `/v1/tracks/{id}/similar` and the playlists' word moods."""

from __future__ import annotations

import csv
import json
import os

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


# --------------------------------------------------------------------------- similar tracks (a real library)

#: Seconds of each real clip in the test library.
CLIP_SECONDS = 12.0
#: The Beach Boys (two clips), then one clip of another artist per quadrant.
CLIPS = ("Q1/MT0000082187", "Q4/MT0012888230", "Q2/MT0000011975", "Q3/MT0000088320", "Q4/MT0000054705")
#: A clip outside the library (a FILE query).
OUTSIDE = "Q3/MT0000299291"
#: Float32 storage: relative tolerance of stored values against float64 ones.
F32 = 1e-6


def _excerpt(src, dst, artist: str) -> None:
    import mutagen
    import soundfile as sf

    y, sr = sf.read(str(src), dtype="float32", always_2d=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dst), y[: int(CLIP_SECONDS * sr)], sr)
    tags = mutagen.File(dst, easy=True)
    tags["artist"], tags["title"] = artist, dst.stem
    tags.save()


@pytest.fixture(scope="module")
def real_lib(tmp_path_factory, fourq_dir):
    """(db, music folder, cache, a file outside the library): 5 real clips (two by one artist) and a byte copy."""
    import shutil

    from mer.library.scan import scan

    with open(fourq_dir / "panda_dataset_taffc_metadata.csv", newline="", encoding="utf-8") as f:
        artist = {r["Song"]: r["Artist"] for r in csv.DictReader(f)}
    base = tmp_path_factory.mktemp("similar")
    music = base / "music"
    for rel in CLIPS:
        _excerpt(fourq_dir / f"{rel}.mp3", music / f"{rel.split('/')[1]}.flac", artist[rel.split("/")[1]])
    shutil.copy2(music / "MT0000082187.flac", music / "copy-of-82187.flac")
    outside = base / "outside" / "MT0000299291.flac"
    _excerpt(fourq_dir / f"{OUTSIDE}.mp3", outside, artist[OUTSIDE.split("/")[1]])
    report = scan([music], db=base / "lib.db", cache_dir=base / "cache", progress=False)
    assert (report.analysed, report.copied, report.failed) == (5, 1, 0)
    return base / "lib.db", music, base / "cache", outside


def _ids(lib, music) -> dict[str, int]:
    return {os.path.basename(t.path): t.id for t in lib.tracks()}


def _independent_distances(X: np.ndarray, q: np.ndarray, weights: dict, metric: str) -> np.ndarray:
    """Distances as the docs define them, computed here without mer.workflows.similarity.VectorIndex."""
    from mer.workflows.similarity import group_slices

    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std == 0] = 1
    scale = np.zeros(X.shape[1])
    for g, sl in group_slices().items():
        scale[sl] = np.sqrt(weights.get(g, 0) / (sl.stop - sl.start))
    Z, z = (X - mean) / std * scale, (q - mean) / std * scale
    if metric == "euclidean":
        return np.linalg.norm(Z - z, axis=1)
    return 1 - Z @ z / np.linalg.norm(Z, axis=1) / np.linalg.norm(z)


@pytest.mark.real_data
@pytest.mark.slow
def test_scan_stores_vectors_and_similar_ranks_by_them(real_lib):
    from mer.library.similar import similar_tracks
    from mer.workflows.similarity import (
        DEFAULT_METRIC,
        DEFAULT_WEIGHTS,
        VECTOR_SIZE,
        group_slices,
        pooled_embedding,
        unpack,
    )

    db, music, cache, _ = real_lib
    with open_library(db, readonly=True) as lib:
        ids = _ids(lib, music)
        all_ids, blobs = lib.vectors()
        X = np.stack([unpack(b) for b in blobs]).astype(float)
        assert X.shape == (6, VECTOR_SIZE) and np.isfinite(X).all()
        vec = dict(zip(all_ids, X))
        assert (vec[ids["copy-of-82187.flac"]] == vec[ids["MT0000082187.flac"]]).all()  # the copy's result, copied
        t = lib.track(ids["MT0000054705.flac"])
        emb = pooled_embedding(t.path, cache_dir=cache)
        np.testing.assert_allclose(vec[t.id][:emb.size], emb, rtol=F32, atol=1e-7)
        sl = group_slices()
        np.testing.assert_allclose([vec[t.id][sl[g]][0] for g in ("valence", "arousal", "tempo", "loudness")],
                                   [t.valence, t.arousal, t.tempo_bpm, t.loudness_db], rtol=F32)

        res = similar_tracks(lib, ids["MT0000082187.flac"], n=10)
        got = [h.id for h, _ in res.hits]
        assert ids["MT0000082187.flac"] not in got and ids["copy-of-82187.flac"] not in got  # never its own bytes
        assert sorted(got) == sorted(ids[f"{r.split('/')[1]}.flac"] for r in CLIPS[1:])
        want = _independent_distances(X, vec[ids["MT0000082187.flac"]], DEFAULT_WEIGHTS, DEFAULT_METRIC)
        np.testing.assert_allclose([d for _, d in res.hits], [want[all_ids.index(i)] for i in got], atol=1e-5)
        assert [d for _, d in res.hits] == sorted(d for _, d in res.hits)
        # a FILE with a track's bytes is that track; a file outside the library is analysed now
        res = similar_tracks(lib, str(music / "copy-of-82187.flac"), n=10)
        assert res.query.id == ids["copy-of-82187.flac"] and ids["MT0000082187.flac"] not in [h.id for h, _ in res.hits]


@pytest.mark.real_data
@pytest.mark.slow
def test_similar_constraints_and_a_file_outside_the_library(real_lib, norms_dir):
    from mer.library.similar import similar_tracks
    from mer.library.words import word_point

    db, music, cache, outside = real_lib
    with open_library(db, readonly=True) as lib:
        ids = _ids(lib, music)
        q = lib.track(ids["MT0000082187.flac"])
        same = similar_tracks(lib, q.id, artist="same")
        assert [h.id for h, _ in same.hits] == [ids["MT0012888230.flac"]]
        other = similar_tracks(lib, q.id, artist="other")
        assert ids["MT0012888230.flac"] not in [h.id for h, _ in other.hits] and len(other.hits) == 3
        quad = similar_tracks(lib, ids["MT0000054705.flac"], same_quadrant=True)
        assert quad.hits and all(h.quadrant == lib.track(ids["MT0000054705.flac"]).quadrant for h, _ in quad.hits)
        near = similar_tracks(lib, q.id, radius=0.5)
        assert all(np.hypot(h.valence - q.valence, h.arousal - q.arousal) <= 0.5 for h, _ in near.hits)
        towards = similar_tracks(lib, q.id, towards="furious", radius=0.6)
        v, a = word_point("furious")
        assert all(np.hypot(h.valence - v, h.arousal - a) <= 0.6 for h, _ in towards.hits)
        assert [h.id for h, _ in towards.hits] != [h.id for h, _ in similar_tracks(lib, q.id, radius=0.6).hits] or \
            not towards.hits
        res = similar_tracks(lib, str(outside), n=3, cache_dir=cache)
        assert res.query is None and len(res.hits) == 3 and res.path == str(outside)
        for spec, msg in ((999, "no track with id 999"), ("/no/such.flac", "no such file"),
                          (q.id, "need n >= 1")):
            with pytest.raises(MerError, match=msg):
                similar_tracks(lib, spec, n=0 if msg.startswith("need") else 5)


@pytest.mark.real_data
@pytest.mark.slow
def test_a_track_without_a_vector_gets_one_on_the_next_scan(real_lib, tmp_path):
    import shutil

    from mer.library.scan import scan
    from mer.library.similar import similar_tracks

    db, music, cache, _ = real_lib
    copy = tmp_path / "old.db"
    with open_library(db, readonly=True) as lib:
        lib.conn.execute(f"VACUUM INTO '{copy}'")
        ids = _ids(lib, music)
    tid = ids["MT0000011975.flac"]
    with open_library(copy) as lib:
        before = lib.conn.execute("SELECT vector FROM tracks WHERE id = ?", [tid]).fetchone()[0]
        lib.conn.execute("UPDATE tracks SET vector = NULL WHERE id = ?", [tid])  # as after the schema 2 migration
        with pytest.raises(MerError, match=f"track {tid} has no similarity vector.*run mer scan"):
            similar_tracks(lib, tid)
        assert similar_tracks(lib, ids["MT0000082187.flac"]).settings["without_vector"] == 1
    report = scan([music], db=copy, cache_dir=cache, progress=False)
    assert report.analysed == 1 and report.skipped == 5
    with open_library(copy, readonly=True) as lib:
        after = lib.conn.execute("SELECT vector FROM tracks WHERE id = ?", [tid]).fetchone()[0]
    np.testing.assert_allclose(np.frombuffer(after, "<f4"), np.frombuffer(before, "<f4"), rtol=F32)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_version_1_library_migrates_and_says_what_it_needs(tmp_path):
    import sqlite3

    from mer.library import db as libdb
    from mer.library.similar import similar_tracks

    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    libdb.migrate(conn, target=1)
    conn.execute("INSERT INTO tracks (path, size, mtime_ns, status, valence, arousal, content_hash) "
                 "VALUES ('/m/a.mp3', 1, 1, 'ok', 0.1, 0.2, 'h')")
    conn.close()
    with open_library(path) as lib:
        assert lib.schema_version == 2 and "vector" in {r[1] for r in lib.conn.execute("PRAGMA table_info(tracks)")}
        assert lib.known_files()["/m/a.mp3"]["no_vector"] == 1  # the next scan analyses it again
        with pytest.raises(MerError, match="scanned before mer stored them\\): run mer scan on its folders again"):
            similar_tracks(lib, 1)
    with open_library(tmp_path / "empty.db") as lib:
        with pytest.raises(MerError, match="no analysed track"):
            similar_tracks(lib, 1)


@pytest.mark.real_data
@pytest.mark.slow
def test_similar_cli_formats_and_errors(real_lib, tmp_path):
    from mer.apps.cli import app

    db, music, _, _ = real_lib
    runner = CliRunner()
    with open_library(db, readonly=True) as lib:
        ids = _ids(lib, music)
    q = str(ids["MT0000082187.flac"])
    r = runner.invoke(app, ["similar", q, "--db", str(db), "-n", "2", "-f", "json", "--other-artists"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["schema"] == "mer.similar/1" and len(d["tracks"]) == 2 and d["settings"]["artist"] == "other"
    assert {"id", "path", "distance"} <= set(d["tracks"][0])
    r = runner.invoke(app, ["similar", str(music / "copy-of-82187.flac"), "--db", str(db), "-f", "csv"])
    rows = list(csv.DictReader(r.output.splitlines()))
    assert r.exit_code == 0 and len(rows) == 4 and str(ids["MT0000082187.flac"]) not in [x["id"] for x in rows]
    r = runner.invoke(app, ["similar", q, "--db", str(db), "--same-artist"])
    assert r.exit_code == 0 and "MT0012888230" in r.output and "distance" in r.output
    open_library(tmp_path / "empty.db").close()
    for args, msg in (([q, "--db", str(db), "-f", "xml"], "unknown format 'xml'"),
                      (["999", "--db", str(db)], "no track with id 999"),
                      ([q, "--db", str(tmp_path / "empty.db")], "no analysed track")):
        r = runner.invoke(app, ["similar", *args])
        assert r.exit_code == 1 and msg in r.output and len(r.output.strip().splitlines()) == 1, r.output


@pytest.mark.real_data
@pytest.mark.slow
def test_similar_api(real_lib, norms_dir):
    from fastapi.testclient import TestClient

    from mer.apps.service.app import create_app

    db, music, _, _ = real_lib
    with open_library(db, readonly=True) as lib:
        ids = _ids(lib, music)
    q = ids["MT0000082187.flac"]
    with TestClient(create_app(library=db)) as c:
        r = c.get(f"/v1/tracks/{q}/similar?n=3&artist=other")
        assert r.status_code == 200 and r.json()["schema"] == "mer.similar/1" and len(r.json()["tracks"]) == 3
        assert r.json()["query"]["id"] == q and ids["MT0012888230.flac"] not in [t["id"] for t in r.json()["tracks"]]
        r = c.get(f"/v1/tracks/{q}/similar?towards=furious&radius=0.9")
        assert r.status_code == 200 and r.json()["settings"]["towards"] == "furious"
        for url, status in (("/v1/tracks/999/similar", 404), (f"/v1/tracks/{q}/similar?artist=nobody", 422),
                            (f"/v1/tracks/{q}/similar?radius=-1", 422), (f"/v1/tracks/{q}/similar?towards=xqzzy", 422)):
            bad = c.get(url)
            assert bad.status_code == status and bad.json()["error"]["status"] == status, url


# --------------------------------------------------------------------------- Navidrome smart playlists

#: Operators and top-level keys of Navidrome's smart playlist format (navidrome.org, "Smart Playlists").
NSP_OPERATORS = {"is", "isNot", "gt", "lt", "contains", "notContains", "startsWith", "endsWith", "inTheRange",
                 "before", "after", "inTheLast", "notInTheLast", "inPlaylist", "notInPlaylist", "isMissing",
                 "isPresent"}
NSP_KEYS = {"name", "comment", "all", "any", "sort", "order", "limit", "limitPercent", "public", "refreshDelay"}


def _check_nsp(d: dict) -> None:
    """The documented structure: known keys, a rule list under all/any, each rule {operator: {field: value}}."""
    assert set(d) <= NSP_KEYS and isinstance(d["name"], str) and ("all" in d) != ("any" in d)
    for rule in d.get("all", d.get("any")):
        (op, cond), = rule.items()
        assert op in NSP_OPERATORS and isinstance(cond, dict) and len(cond) == 1
        (field, value), = cond.items()
        assert field == field.lower()  # Navidrome's field names: lower case
        if op == "inTheRange":
            assert len(value) == 2 and value[0] <= value[1] and all(isinstance(x, float) for x in value)


@pytest.mark.real_data
def test_smart_playlists_parse_as_documented_and_match_the_tags_mer_writes(tmp_path, norms_dir):
    from mer.apps.cli import app
    from mer.library.navidrome import NAVIDROME_CONFIG, mood_playlist
    from mer.library.tags import MOOD_TAGS, wanted_fields
    from mer.library.words import word_point

    r = CliRunner().invoke(app, ["smart-playlist", "furious", "dark calm", "0.5,-0.5", "--quadrants", "-o",
                                 str(tmp_path / "nsp"), "--radius", "0.2", "--limit", "50"])
    assert r.exit_code == 0, r.output
    files = sorted((tmp_path / "nsp").glob("*.nsp"))
    assert len(files) == 7
    docs = {f.name: json.loads(f.read_text(encoding="utf-8")) for f in files}
    for name, d in docs.items():
        _check_nsp(d)
        assert d["limit"] == 50 and (tmp_path / "nsp" / name).read_text().endswith("}\n")
    moods = {d["all"][0]["is"]["mood"] for d in docs.values() if "is" in d["all"][0]}
    assert moods == set(MOOD_TAGS.values())
    v, a = word_point("furious")
    furious = docs["mer-furious.nsp"]["all"]
    assert furious[0]["inTheRange"]["mer_valence"] == pytest.approx([v - 0.2, v + 0.2], abs=1e-4)
    assert furious[1]["inTheRange"]["mer_arousal"] == pytest.approx([a - 0.2, a + 0.2], abs=1e-4)
    # a track tagged by mer tag falls in the range it should: the tag values are what the rules compare
    t = Track(id=1, path="/x.flac", quadrant="Q2", valence=v + 0.1, arousal=a - 0.1, model="m")
    fields = wanted_fields(t)
    lo, hi = furious[0]["inTheRange"]["mer_valence"]
    assert lo <= float(fields["MER_VALENCE"]) <= hi and fields["MOOD"] == MOOD_TAGS["Q2"]
    # the configuration names the tags mer writes, in each tag format, as floats
    for tag in ("MER_VALENCE", "MER_AROUSAL"):
        assert f'"{tag}", "TXXX:{tag}", "----:com.apple.iTunes:{tag}"' in NAVIDROME_CONFIG
    assert NAVIDROME_CONFIG.count('Type = "float"') == 2
    r = CliRunner().invoke(app, ["smart-playlist", "--navidrome-config"])
    assert r.exit_code == 0 and r.output == NAVIDROME_CONFIG
    for args, msg in ((["xqzzy"], "unknown mood 'xqzzy'"), ([], "name at least one mood"),
                      (["calm", "--sort", "loudest"], "unknown sort 'loudest'")):
        r = CliRunner().invoke(app, ["smart-playlist", *args, "-o", str(tmp_path / "bad")])
        assert r.exit_code == 1 and msg in r.output and len(r.output.strip().splitlines()) == 1
    with pytest.raises(MerError, match="radius must be > 0"):
        mood_playlist("calm", radius=0)


def test_m3u8_ends_with_a_newline_and_lists_each_content_once(tmp_path):
    from mer.library.playlist import plan_playlist

    tracks = [Track(id=i + 1, path=f"/m/t{i}.mp3", valence=-0.8 + 0.2 * i, arousal=0.0, content_hash=f"h{i}",
                    duration_s=60.0) for i in range(9)]
    tracks.append(Track(id=10, path="/m/copy-of-t4.mp3", valence=0.0, arousal=0.0, content_hash="h4",
                        duration_s=60.0))  # the same bytes as track 5, at the same point
    pl = plan_playlist(tracks, start="-0.8,0", end="0.8,0", length=9)
    assert len({t.content_hash for t in pl.tracks}) == len(pl.tracks) == 9 and 10 not in [t.id for t in pl.tracks]
    pl.to_m3u8(tmp_path / "p.m3u8")
    text = (tmp_path / "p.m3u8").read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n") and text.count("#EXTINF") == 9
    start = plan_playlist(tracks, start="5", end="0.8,0", length=3)  # from track 5: its copy is left out too
    assert not {5, 10} & {t.id for t in start.tracks}


# --------------------------------------------------------------------------- the quality study's scoring


def test_neighbour_scores_and_the_lockbox_split_on_synthetic_vectors():
    from mer.study.similar import choose_and_report, lockbox_mask, neighbours, random_scores, scores
    from mer.workflows.similarity import VECTOR_SIZE, group_slices

    rng = np.random.default_rng(0)
    n, groups = 160, np.repeat(np.arange(40), 4)  # 40 "artists" of 4 clips
    labels = np.array(["Q1", "Q2", "Q3", "Q4"])[rng.integers(0, 4, n)]
    X = rng.standard_normal((n, VECTOR_SIZE)).astype(np.float32)
    sl = group_slices()
    X[:, sl["musicnn_msd:tags"]] += 3 * (labels[:, None] == np.array(["Q1", "Q2", "Q3", "Q4"]))[:, :1]  # Q1 apart
    targets = rng.uniform(-1, 1, (n, 2))
    nn = neighbours(X, groups, 10, {"musicnn_msd:tags": 1.0}, "cosine")
    assert nn.shape == (n, 10) and all((groups[nn[i]] != groups[i]).all() for i in range(n))  # other artists only
    s = scores(nn, labels, targets)
    same = np.mean([(labels[nn[i]] == labels[i]).mean() for i in range(n)])
    dist = np.mean([np.linalg.norm(targets[nn[i]] - targets[i], axis=1).mean() for i in range(n)])
    assert s["same_quadrant"] == pytest.approx(same) and s["va_distance"] == pytest.approx(dist)
    r = random_scores(labels, groups, targets)
    assert 0.15 < r["same_quadrant"] < 0.35 and s["same_quadrant"] > r["same_quadrant"] + 0.1
    box = lockbox_mask(groups, 0.4, seed=1)
    assert not set(groups[box]) & set(groups[~box])
    out = choose_and_report(X[~box], X, box, labels, groups, targets, k=5, seed=1)
    assert out["lockbox_artists"] == 16 and out["choice_clips"] + out["lockbox_clips"] == n
    assert out["chosen"]["label"] in out["search"] and "random" in out["lockbox"]
    # the choice reads only the choice clips' vectors: other lockbox vectors change the lockbox rows, not the choice
    moved = choose_and_report(X[~box], X + 5 * box[:, None], box, labels, groups, targets, k=5, seed=1)
    assert moved["search"] == out["search"] and moved["chosen"] == out["chosen"]


class _GroupSpy:
    """A classifier whose P(Q1) is 1 for a row whose group (column 0) it was trained on, else P(Q2) is 1."""

    def __init__(self):
        self.seen = set()

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y, groups=None):
        self.seen = set(np.asarray(X)[:, 0].astype(int))
        self.classes_ = np.array(["Q1", "Q2", "Q3", "Q4"])
        return self

    def predict_proba(self, X):
        seen = np.isin(np.asarray(X)[:, 0].astype(int), list(self.seen)).astype(float)
        return np.c_[seen, 1 - seen, np.zeros(len(seen)), np.zeros(len(seen))]


def test_the_studys_out_of_fold_valence_arousal_never_comes_from_a_fit_on_the_rows_group():
    """Leakage check: each row's probabilities and regression come from fits without its group (artist)."""
    from mer.models.affect_fit import out_of_fold_affect

    rng = np.random.default_rng(3)
    n, groups = 120, np.repeat(np.arange(30), 4)  # 30 "artists" of 4 clips
    labels = np.array(["Q1", "Q2", "Q3", "Q4"])[np.arange(n) // 4 % 4]
    X = np.c_[groups, rng.standard_normal((n, 8))]  # column 0: the row's group, for the spy
    targets = {"valence": rng.uniform(-1, 1, n), "arousal": rng.uniform(-1, 1, n)}
    params = {"valence": {"k": "all", "alpha": 1.0}, "arousal": {"k": "all", "alpha": 1.0}}
    reg, prob = out_of_fold_affect(X, labels, groups, targets, classifier=_GroupSpy(), regressor_params=params,
                                   n_splits=5)
    # P = (seen, 1 - seen, 0, 0): valence difference = 2 * seen - 1 = -1 only when no fit saw the row's group
    np.testing.assert_array_equal(prob[:, 0], -1.0)
    # the regression of a group's rows does not move when that group's own targets change (exactly: same folds)
    for g in (0, 7, 29):
        changed = {axis: np.where(groups == g, 50.0, t) for axis, t in targets.items()}
        reg2, _ = out_of_fold_affect(X, labels, groups, changed, classifier=_GroupSpy(), regressor_params=params,
                                     n_splits=5)
        np.testing.assert_array_equal(reg2[groups == g], reg[groups == g])
        assert not np.allclose(reg2[groups != g], reg[groups != g])  # the check can fail: others did see it


def test_the_study_blends_out_of_fold_values_with_the_shipped_heads_weights(monkeypatch):
    """out_of_fold_va: the shipped card's ridge settings, blend weights and clipping over out-of-fold values."""
    import mer.models.affect_fit as affect_fit
    from mer.study import similar

    calls = {}

    def fake(X, y, groups, targets, *, classifier, regressor_params, n_splits, random_state):
        calls.update(params=regressor_params, n_splits=n_splits, classifier=classifier.get_params())
        return np.array([[1.0, -1.0], [0.2, 0.4]]), np.array([[1.0, 1.0], [0.0, 0.0]])

    class Card:
        metadata = {"affect": {"weights": {"valence": 0.5, "arousal": 0.75},
                               "regressors": {"valence": {"k": 600, "alpha": 1000.0},
                                              "arousal": {"k": 300, "alpha": 1000.0}}}}

    monkeypatch.setattr(affect_fit, "out_of_fold_affect", fake)
    va = similar.out_of_fold_va(np.zeros((2, 3)), np.array(["Q1", "Q2"]), np.array([0, 1]), np.zeros((2, 2)),
                                model=Card())
    np.testing.assert_allclose(va, [[1.0, -0.5], [0.1, 0.3]], atol=1e-12)
    assert calls["n_splits"] == 5 and calls["params"] == Card.metadata["affect"]["regressors"]
    assert calls["classifier"]["k"] == 600 and calls["classifier"]["C"] == 0.01
