"""Similar tracks of a library: ``mer similar`` and ``GET /v1/tracks/{id}/similar``.

The vectors (:mod:`mer.workflows.similarity`) are stored by ``mer scan``; a query ranks
the library's other tracks by distance to the query's vector, with optional constraints
(artist, quadrant, a valence / arousal radius) and never returns the same bytes twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.workflows.similarity import DEFAULT_METRIC, DEFAULT_WEIGHTS, VectorIndex, group_slices, unpack

# --------------------------------------------------------------------------- over a library


#: Fields of each row of :meth:`Similar.rows` (and the CSV columns).
SIMILAR_COLUMNS = ("rank", "id", "path", "distance", "artist", "title", "quadrant", "valence", "arousal")


@dataclass
class Similar:
    """The answer of :func:`similar_tracks`.

    Attributes
    ----------
    query : Track or None
        The library's track asked about (None: a file outside the library).
    path : str
        The query's file.
    hits : list of (Track, float)
        Nearest first, with their distance (the metric of :data:`DEFAULT_METRIC`).
    settings : dict
    """

    query: object
    path: str
    hits: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        """One dictionary per hit (:data:`SIMILAR_COLUMNS`): rank, id, path, distance, artist, title, quadrant..."""
        return [{"rank": i + 1, "id": t.id, "path": t.path, "distance": d, "artist": t.artist, "title": t.title,
                 "quadrant": t.quadrant, "valence": t.valence, "arousal": t.arousal}
                for i, (t, d) in enumerate(self.hits)]

    def csv_text(self) -> str:
        """:meth:`rows` as CSV (a header line, one line per hit)."""
        import csv
        import io

        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=SIMILAR_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()

    def to_dict(self) -> dict:
        """JSON-ready: ``schema`` ``mer.similar/1``, the query, the settings and :meth:`rows`."""
        q = self.query
        return {"schema": "mer.similar/1", "query": {"id": getattr(q, "id", None), "path": self.path},
                "settings": dict(self.settings), "tracks": self.rows()}


def _query(lib, spec, *, model, cache_dir):
    """(track or None, path, raw vector, content hash, quadrant, (valence, arousal)) of a track id or a file."""
    from mer.library.scan import content_hash

    text = str(spec).strip()
    track = lib.track(int(text)) if text.isdigit() and not os.path.exists(text) else None
    if track is None:
        path = Path(text).expanduser()
        if not path.is_file():
            raise MerError("no such file, and not a track id of the library", path)
        track = lib.track_at(path)
        digest = content_hash(path)
        if track is None or track.content_hash != digest:
            track = next((t for t in lib.tracks() if t.content_hash == digest), None)
        if track is None:
            return None, str(path), *_analysed(path, digest, model=model, cache_dir=cache_dir)
    if track.status != "ok":
        raise MerError(f"track {track.id} has no analysis (status {track.status})", track.path)
    data = lib.conn.execute("SELECT vector FROM tracks WHERE id = ?", [track.id]).fetchone()[0]
    if data is None:
        raise MerError(f"track {track.id} has no similarity vector: it was analysed before mer stored them; "
                       "run mer scan on its folder again", track.path)
    return track, track.path, unpack(data), track.content_hash, track.quadrant, (track.valence, track.arousal)


def _analysed(path: Path, digest: str, *, model, cache_dir):
    from mer.library.scan import _model, analyse_file

    result, _ = analyse_file(path, model=_model(model), cache_dir=cache_dir)
    if result["status"] != "ok":
        raise MerError(result["error"])
    return unpack(result["vector"]), digest, result["quadrant"], (result["valence"], result["arousal"])


def _allowed(tracks, va, *, query, digest, quadrant, qva, artist, same_quadrant, radius) -> np.ndarray:
    keep = np.ones(len(tracks), dtype=bool)
    q_artist = (getattr(query, "artist", None) or "").strip().casefold()
    for i, t in enumerate(tracks):
        t_artist = (t.artist or "").strip().casefold()
        keep[i] = not (t.content_hash == digest or (query is not None and t.id == query.id)
                       or (artist == "same" and (not q_artist or t_artist != q_artist))
                       or (artist == "other" and q_artist and t_artist == q_artist)
                       or (same_quadrant and t.quadrant != quadrant))
    if radius is not None:
        keep &= np.linalg.norm(va - np.asarray(qva, dtype=float), axis=1) <= radius
    return keep


def _distinct(index: VectorIndex, qvec, allowed, tracks, n: int, digest) -> list:
    """The `n` nearest allowed tracks, one per content hash and none with the query's."""
    k = min(len(tracks), 2 * n + 16)
    while True:
        hits, seen = [], {digest}
        order, dist = index.nearest(qvec, k, allowed)
        for i, d in zip(order, dist):
            if tracks[i].content_hash is None or tracks[i].content_hash not in seen:
                seen.add(tracks[i].content_hash)
                hits.append((tracks[i], float(d)))
        if len(hits) >= n or k >= len(tracks):
            return hits[:n]
        k = len(tracks)


def similar_tracks(lib, spec: str | int, *, n: int = 10, artist: str | None = None, same_quadrant: bool = False,
                   radius: float | None = None, towards: str | None = None, model=None, cache_dir=None,
                   weights: dict | None = None, metric: str = DEFAULT_METRIC) -> Similar:
    """The `n` tracks of the library nearest a track (its id or file) or a file outside it.

    Parameters
    ----------
    lib : mer.library.db.Library
    spec : int or str
        A track id, or a file: a file whose bytes are a track's is that track (never its
        own neighbour); another file is analysed now (`model`, `cache_dir`).
    n : int
        Tracks wanted (>= 1).
    artist : {None, 'same', 'other'}
        Only tracks by the query's artist, or only by others (tracks without an artist
        count as others; a query without an artist has no 'same').
    same_quadrant : bool
        Only tracks in the query's quadrant.
    radius : float, optional
        Only tracks within this valence / arousal distance of the query's (or `towards`') point.
    towards : str, optional
        A mood (:func:`mer.library.playlist.parse_mood`): the query's valence and arousal
        are replaced by the mood's, so the answer is "like this, in that mood".

    Returns
    -------
    Similar
        Never two tracks with the same bytes, never the query's bytes.

    Raises
    ------
    MerError
        Unknown track or file, an empty library, a library without vectors (scanned before
        schema 2), a bad option.
    """
    from mer.library.playlist import parse_mood

    if n < 1 or (radius is not None and not radius > 0) or artist not in (None, "same", "other"):
        raise MerError(f"need n >= 1, radius > 0 and artist same / other (got {n}, {radius}, {artist})")
    ids, blobs = lib.vectors()
    if not ids:
        raise MerError("the library has no analysed track (run mer scan first)", lib.path)
    if all(b is None for b in blobs):
        raise MerError("no track of this library has a similarity vector (it was scanned before mer stored them): "
                       "run mer scan on its folders again", lib.path)
    query, path, qvec, digest, quadrant, qva = _query(lib, spec, model=model, cache_dir=cache_dir)
    qvec = qvec.copy()
    if towards is not None:
        mood = parse_mood(towards)
        qvec[group_slices()["valence"]], qvec[group_slices()["arousal"]] = mood.valence, mood.arousal
        qva = (mood.valence, mood.arousal)
    by_id = {t.id: t for t in lib.tracks()}
    keep = [i for i, b in enumerate(blobs) if b is not None]
    tracks = [by_id[ids[i]] for i in keep]
    X = np.stack([unpack(blobs[i]) for i in keep])
    va = X[:, [group_slices()["valence"].start, group_slices()["arousal"].start]].astype(float)
    allowed = _allowed(tracks, va, query=query, digest=digest, quadrant=quadrant, qva=qva, artist=artist,
                       same_quadrant=same_quadrant, radius=radius)
    index = VectorIndex(X, weights=weights, metric=metric)
    hits = _distinct(index, qvec, allowed, tracks, n, digest)
    settings = {"n": n, "artist": artist, "same_quadrant": same_quadrant, "radius": radius, "towards": towards,
                "metric": metric, "weights": dict(DEFAULT_WEIGHTS if weights is None else weights),
                "without_vector": len(ids) - len(keep)}
    return Similar(query, path, hits, settings)
