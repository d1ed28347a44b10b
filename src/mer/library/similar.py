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
from mer.workflows.similarity import (
    DEFAULT_METRIC,
    DEFAULT_WEIGHTS,
    VECTOR_SIZE,
    VectorIndex,
    group_slices,
    unpack,
)

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
            track = lib.track_with_hash(digest)
        if track is None:
            return None, str(path), *_analysed(path, digest, model=model, cache_dir=cache_dir)
    if track.status != "ok":
        raise MerError(f"track {track.id} has no analysis (status {track.status})", track.path)
    data = lib.vector_of(track.id)
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


class _Coded:
    """A column of strings as integer codes (fast comparisons over 100,000 tracks); None and '' share code 0."""

    def __init__(self, values):
        self.index: dict = {None: 0, "": 0}
        self.codes = np.array([self.index.setdefault(v, len(self.index) - 1) for v in values], dtype=np.int64)

    def code(self, value) -> int:
        return self.index.get(value, -1)


@dataclass
class _Candidates:
    """The library's tracks with a vector: ids, content hashes, artists (case-folded) and quadrants (coded), vectors."""

    ids: np.ndarray
    hashes: list
    hash_codes: _Coded
    artists: _Coded
    quadrants: _Coded
    X: np.ndarray
    without_vector: int

    @classmethod
    def of(cls, rows) -> _Candidates:
        have = [r for r in rows if r["vector"] is not None]
        X = np.frombuffer(b"".join(r["vector"] for r in have), dtype="<f4")
        if have and X.size != len(have) * VECTOR_SIZE:
            unpack(have[0]["vector"])  # names the layout it cannot read
        hashes = [r["content_hash"] for r in have]
        return cls(np.array([r["id"] for r in have], dtype=np.int64), hashes, _Coded(hashes),
                   _Coded(_artist_key(r["artist"]) for r in have), _Coded(r["quadrant"] for r in have),
                   X.reshape(len(have), VECTOR_SIZE), len(rows) - len(have))


def _artist_key(artist) -> str:
    return " ".join((artist or "").split()).casefold()


def _allowed(c: _Candidates, *, query, digest, quadrant, qva, artist, same_quadrant, radius) -> np.ndarray:
    keep = c.hash_codes.codes != c.hash_codes.code(digest) if digest else np.ones(len(c.ids), dtype=bool)
    if query is not None:
        keep &= c.ids != query.id
    q_artist = _artist_key(getattr(query, "artist", None))
    if artist == "same":
        keep &= (c.artists.codes == c.artists.code(q_artist)) if q_artist else False
    elif artist == "other" and q_artist:
        keep &= c.artists.codes != c.artists.code(q_artist)
    if same_quadrant:
        keep &= c.quadrants.codes == c.quadrants.code(quadrant)
    if radius is not None:
        sl = group_slices()
        va = c.X[:, [sl["valence"].start, sl["arousal"].start]].astype(float)
        keep &= np.linalg.norm(va - np.asarray(qva, dtype=float), axis=1) <= radius
    return keep


def _distinct(lib, index: VectorIndex, qvec, allowed, c: _Candidates, n: int, digest) -> list:
    """The `n` nearest allowed tracks, one per content hash and none with the query's."""
    k = min(len(c.ids), 2 * n + 16)
    while True:
        picked, seen = [], {digest}
        order, dist = index.nearest(qvec, k, allowed)
        for i, d in zip(order, dist):
            if c.hashes[i] is None or c.hashes[i] not in seen:
                seen.add(c.hashes[i])
                picked.append((int(c.ids[i]), float(d)))
        if len(picked) >= n or k >= len(c.ids):
            return [(lib.track(i), d) for i, d in picked[:n]]
        k = len(c.ids)


#: (library file, its and its WAL's size and mtime, weights, metric) -> (candidates, index) of the last queries.
_INDEXES: dict = {}


def _state(lib) -> tuple:
    """What changes whenever the library is written: the database file's and its WAL's size and mtime."""
    out = [str(lib.path)]
    for p in (lib.path, Path(f"{lib.path}-wal")):
        st = p.stat() if p.exists() else None
        out += [st.st_size, st.st_mtime_ns] if st else [None, None]
    return tuple(out)


def _indexed(lib, weights, metric) -> tuple[_Candidates, VectorIndex, int]:
    """The candidates, their index and the number of analysed tracks: read and built once per library state,
    weights and metric (the last two kept in this process)."""
    key = (_state(lib), repr(sorted((weights or DEFAULT_WEIGHTS).items())), metric)
    if key not in _INDEXES:
        rows = lib.similarity_rows()
        cands = _Candidates.of(rows)
        _INDEXES[key] = (cands, VectorIndex(cands.X, weights=weights, metric=metric), len(rows))
        while len(_INDEXES) > 2:
            _INDEXES.pop(next(iter(_INDEXES)))
    return _INDEXES[key]


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
    cands, index, n_rows = _indexed(lib, weights, metric)
    if not n_rows:
        raise MerError("the library has no analysed track (run mer scan first)", lib.path)
    if not len(cands.ids):
        raise MerError("no track of this library has a similarity vector (it was scanned before mer stored them): "
                       "run mer scan on its folders again", lib.path)
    query, path, qvec, digest, quadrant, qva = _query(lib, spec, model=model, cache_dir=cache_dir)
    qvec = qvec.copy()
    if towards is not None:
        mood = parse_mood(towards)
        qvec[group_slices()["valence"]], qvec[group_slices()["arousal"]] = mood.valence, mood.arousal
        qva = (mood.valence, mood.arousal)
    allowed = _allowed(cands, query=query, digest=digest, quadrant=quadrant, qva=qva, artist=artist,
                       same_quadrant=same_quadrant, radius=radius)
    hits = _distinct(lib, index, qvec, allowed, cands, n, digest)
    settings = {"n": n, "artist": artist, "same_quadrant": same_quadrant, "radius": radius, "towards": towards,
                "metric": metric, "weights": dict(DEFAULT_WEIGHTS if weights is None else weights),
                "without_vector": cands.without_vector}
    return Similar(query, path, hits, settings)
