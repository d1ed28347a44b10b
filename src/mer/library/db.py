"""The library database: one SQLite file of analysed tracks, queried while a scan writes it.

A library is a SQLite database (stdlib :mod:`sqlite3`) in WAL mode, so readers (``mer
ls``, the HTTP service) see the last committed state while ``mer scan`` writes, and a
writer waits up to :data:`BUSY_TIMEOUT_MS` for another instead of failing. Every write of
one file's result is one transaction: a process killed at any moment (``kill -9``) leaves
each file either fully recorded or not at all, and the next scan does only what is left.
``synchronous=NORMAL``: in WAL mode a committed transaction survives the process being
killed; a power cut may lose the last few, never corrupt the file.

Tables (schema :data:`SCHEMA_VERSION`, kept in ``PRAGMA user_version``):

``tracks``
    One row per file path (unique): stat and content hash (``size``, ``mtime_ns``,
    ``content_hash``, BLAKE2b of the bytes), ``status`` (:data:`mer.library.track.STATUSES`),
    the model id, ``quadrant``, ``p_q1``..``p_q4``, ``valence`` / ``arousal`` (in [-1, 1]),
    ``tempo_bpm``, ``loudness_db`` (RMS dBFS), ``duration_s``, ``flags`` (JSON list), the
    opening / closing valence and arousal and the summary (JSON) of the timeline,
    ``artist`` / ``title`` / ``album`` from the file's tags, ``error``, ``analysed_at``
    (ISO 8601 UTC) and the scan that wrote it. Queries nearly always ask for one status
    (``ok``), so each query column is indexed after it: ``(status, path)``, ``(status,
    quadrant, path)`` (a quadrant in path order, no sort), ``(status, valence)``,
    ``(status, arousal)``, ``(status, tempo_bpm)``; and ``content_hash`` (moves, duplicates).
    Since version 2, ``vector``: the track's similarity vector (float32 bytes,
    :mod:`mer.library.similar`), NULL where the track was analysed before version 2 (the
    next ``mer scan`` analyses those files again).
``timelines``
    The whole ``mer.timeline/1`` JSON of a track, zlib-compressed (:meth:`Library.timeline`).
``scans``
    One row per ``mer scan``: start and end (ISO 8601 UTC; no end: killed or still
    running), the paths and model, and the counts of :class:`mer.library.scan.ScanReport`.

Migrations: :data:`MIGRATIONS` maps each version to the step that brings the previous
one to it; opening a library for writing runs the missing steps in one transaction and
sets ``user_version``. Version 2 was added as::

    def _v2(conn):
        conn.execute("ALTER TABLE tracks ADD COLUMN vector BLOB")

    MIGRATIONS = {1: _v1, 2: _v2}   # and SCHEMA_VERSION = 2

A reader (``readonly=True``) never migrates: an older library must be opened once for
writing (``mer scan``); a library written by a newer `mer` is refused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from collections.abc import Sequence
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path

from mer.core.errors import MerError
from mer.library.track import STATUSES, Track

#: The schema this `mer` writes (``PRAGMA user_version``).
SCHEMA_VERSION = 2

#: Milliseconds a connection waits for another one's lock before giving up.
BUSY_TIMEOUT_MS = 30_000

#: Quadrant labels and their probability columns.
QUADRANT_COLUMNS = {"Q1": "p_q1", "Q2": "p_q2", "Q3": "p_q3", "Q4": "p_q4"}

#: Orders :meth:`Library.tracks` accepts (prefix ``-`` for descending) and their columns.
ORDERS = {"path": "path", "id": "id", "quadrant": "quadrant", "valence": "valence", "arousal": "arousal",
          "tempo": "tempo_bpm", "loudness": "loudness_db", "duration": "duration_s", "analysed_at": "analysed_at"}

_V1 = """
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    paths TEXT NOT NULL,
    model TEXT,
    found INTEGER NOT NULL DEFAULT 0,
    analysed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    moved INTEGER NOT NULL DEFAULT 0,
    copied INTEGER NOT NULL DEFAULT 0,
    missing INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'missing')),
    model TEXT,
    quadrant TEXT,
    p_q1 REAL, p_q2 REAL, p_q3 REAL, p_q4 REAL,
    valence REAL, arousal REAL,
    tempo_bpm REAL, loudness_db REAL, duration_s REAL,
    flags TEXT NOT NULL DEFAULT '[]',
    opening_valence REAL, opening_arousal REAL, closing_valence REAL, closing_arousal REAL,
    summary TEXT,
    artist TEXT, title TEXT, album TEXT,
    error TEXT,
    analysed_at TEXT,
    scan_id INTEGER REFERENCES scans(id) ON DELETE SET NULL
);
CREATE INDEX tracks_status_path ON tracks(status, path);
CREATE INDEX tracks_status_quadrant ON tracks(status, quadrant, path);
CREATE INDEX tracks_status_valence ON tracks(status, valence);
CREATE INDEX tracks_status_arousal ON tracks(status, arousal);
CREATE INDEX tracks_status_tempo ON tracks(status, tempo_bpm);
CREATE INDEX tracks_hash ON tracks(content_hash);
CREATE TABLE timelines (
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    data BLOB NOT NULL
);
"""


def _v1(conn: sqlite3.Connection) -> None:
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    """The similarity vector of each track (:mod:`mer.library.similar`); NULL for tracks scanned before it."""
    conn.execute("ALTER TABLE tracks ADD COLUMN vector BLOB")


#: version -> the step bringing a library from version - 1 to it (see the module docstring).
MIGRATIONS = {1: _v1, 2: _v2}

#: Columns of ``tracks`` that one file's analysis writes (everything but id, path and stat).
RESULT_COLUMNS = ("content_hash", "status", "model", "quadrant", "p_q1", "p_q2", "p_q3", "p_q4", "valence",
                  "arousal", "tempo_bpm", "loudness_db", "duration_s", "flags", "opening_valence",
                  "opening_arousal", "closing_valence", "closing_arousal", "summary", "artist", "title", "album",
                  "error", "analysed_at", "scan_id", "vector")


def default_library_path() -> Path:
    """``$MER_LIBRARY`` if set, else ``library.db`` in the user data folder of `mer`."""
    env = os.environ.get("MER_LIBRARY")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("mer", appauthor=False)) / "library.db"


def utc_now() -> str:
    """The current time, ISO 8601 UTC to the second (``2026-11-30T07:51:20Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        if not path.is_file():
            raise MerError("no library here (run mer scan first)", path)
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise MerError(f"cannot switch the library to WAL mode (got {mode})", path)
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def migrate(conn: sqlite3.Connection, *, target: int | None = None) -> int:
    """Bring an open library to `target` (default :data:`SCHEMA_VERSION`) in one transaction; returns the version.

    Raises
    ------
    MerError
        The file is a SQLite database of something else, or of a newer `mer`.
    """
    target = SCHEMA_VERSION if target is None else target
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _checked_version(conn, target)
        for v in range(version + 1, target + 1):
            MIGRATIONS[v](conn)
            conn.execute(f"PRAGMA user_version = {v}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(version, target)


def _checked_version(conn: sqlite3.Connection, target: int) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > target:
        raise MerError(f"this library has schema version {version}, newer than this mer reads ({target}): "
                       "upgrade mer")
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise MerError("this SQLite database is not a mer library (no schema version)")
    return version


def open_library(path: str | PathLike | None = None, *, readonly: bool = False) -> "Library":
    """Open (creating and migrating it unless `readonly`) the library at `path`.

    Parameters
    ----------
    path : str or PathLike, optional
        The database file (default :func:`default_library_path`).
    readonly : bool
        Open for queries only: never creates, migrates or writes, and may run while a
        scan writes the same file.

    Returns
    -------
    Library
        A context manager; closing it closes the connection.

    Raises
    ------
    MerError
        Naming the file: missing (readonly), not a SQLite database, not a mer library,
        an older schema opened read-only, or a newer schema.
    """
    path = Path(path).expanduser() if path is not None else default_library_path()
    if path.is_dir():
        raise MerError("is a folder, not a library file", path)
    conn = None
    try:
        conn = _connect(path, readonly)
        if readonly:
            version = _checked_version(conn, SCHEMA_VERSION)
            if version < SCHEMA_VERSION:
                raise MerError(f"this library has schema version {version}; open it once for writing (mer scan) "
                               f"to migrate it to {SCHEMA_VERSION}")
        else:
            migrate(conn)
    except MerError as exc:
        if conn is not None:
            conn.close()
        raise exc.with_path(path) from None
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise MerError(f"cannot open the library ({exc})", path) from None
    return Library(conn, path, readonly=readonly)


def parse_range(text: str | None, *, name: str) -> tuple[float | None, float | None] | None:
    """``"LO:HI"`` (either side may be empty, e.g. ``"0.2:"``) -> ``(lo, hi)``, None for an open side.

    Raises MerError naming `name` (the option or query parameter) when the text is not a range.
    """
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return (float(lo) if lo.strip() else None), (float(hi) if hi.strip() else None)
    except ValueError:
        raise MerError(f"{name} must be LO:HI (e.g. 0.2:1, or :0 for an open side), got '{text}'") from None


def parse_names(values: str | Sequence[str] | None) -> list[str] | None:
    """Comma-separated and repeated values (``"Q1,Q2"``, ``["ok", "failed,missing"]``) as one list; None if none."""
    if not values:
        return None
    values = [values] if isinstance(values, str) else values
    return [v.strip() for value in values for v in value.split(",") if v.strip()] or None


def text_filters(*, quadrant=None, valence=None, arousal=None, tempo=None, flags=None, without_flags=None,
                 path_glob=None, status="ok") -> dict:
    """The keyword filters of :meth:`Library.tracks` from their text forms (what ``mer ls`` and ``/v1/tracks`` take).

    ``quadrant``: ``Q1,Q2`` or mood words; ``valence`` / ``arousal`` / ``tempo``:
    ``LO:HI``; ``flags`` / ``without_flags``: names, repeated or comma-separated;
    ``status``: names or ``all``. MerError on a malformed value.
    """
    from mer.core.labels import normalise_label

    quadrants = [normalise_label(q) or q for q in parse_names(quadrant) or []] or None
    statuses = parse_names(status)
    return {"quadrant": quadrants, "valence": parse_range(valence, name="valence"),
            "arousal": parse_range(arousal, name="arousal"), "tempo": parse_range(tempo, name="tempo"),
            "flags": parse_names(flags), "without_flags": parse_names(without_flags), "path_glob": path_glob,
            "status": None if statuses == ["all"] else statuses}


def _range_clause(column: str, bounds, where: list[str], args: list) -> None:
    if bounds is None:
        return
    lo, hi = bounds
    if lo is not None:
        where.append(f"{column} >= ?")
        args.append(float(lo))
    if hi is not None:
        where.append(f"{column} <= ?")
        args.append(float(hi))


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _order_clause(order: str) -> str:
    column = ORDERS.get(order.lstrip("-"))
    if column is None:
        raise MerError(f"unknown order '{order}' (use {', '.join(ORDERS)}, '-' in front for descending)")
    return f"{column} {'DESC' if order.startswith('-') else 'ASC'}, id"


def _filters(*, quadrant, valence, arousal, tempo, flags, without_flags, path_glob, status) -> tuple[str, list]:
    """The WHERE clause and its arguments of :meth:`Library.tracks`."""
    from mer.audio.quality import FLAGS  # here: `mer ls` starts without numpy when it can

    where: list[str] = []
    args: list = []
    for name, values, known in (("status", _as_list(status), STATUSES),
                                ("quadrant", _as_list(quadrant), tuple(QUADRANT_COLUMNS)),
                                ("flag", _as_list(flags) + _as_list(without_flags), FLAGS)):
        unknown = [v for v in values if v not in known]
        if unknown:
            raise MerError(f"unknown {name} {', '.join(unknown)} (use {', '.join(known)})")
        if values and name != "flag":
            where.append(f"{name} IN ({', '.join('?' * len(values))})")
            args += values
    _range_clause("valence", valence, where, args)
    _range_clause("arousal", arousal, where, args)
    _range_clause("tempo_bpm", tempo, where, args)
    # flags is a JSON list of plain names: the quoted name occurs in it exactly when the
    # name is an element (a substring test: cheaper than expanding it with json_each)
    for flag in _as_list(flags):
        where.append("instr(flags, json_quote(?)) > 0")
        args.append(flag)
    for flag in _as_list(without_flags):
        where.append("instr(flags, json_quote(?)) = 0")
        args.append(flag)
    if path_glob is not None:
        where.append("path GLOB ?")
        args.append(str(path_glob))
    return (" WHERE " + " AND ".join(where)) if where else "", args


def _pair(valence, arousal) -> dict[str, float] | None:
    return None if valence is None or arousal is None else {"valence": valence, "arousal": arousal}


def row_to_track(row: sqlite3.Row) -> Track:
    """A ``tracks`` row as a :class:`~mer.library.track.Track`."""
    probs = None
    if row["p_q1"] is not None:
        probs = {q: row[col] for q, col in QUADRANT_COLUMNS.items()}
    return Track(
        id=row["id"], path=row["path"], status=row["status"], size=row["size"], mtime_ns=row["mtime_ns"],
        content_hash=row["content_hash"], model=row["model"], quadrant=row["quadrant"], probabilities=probs,
        valence=row["valence"], arousal=row["arousal"], flags=json.loads(row["flags"] or "[]"),
        duration_s=row["duration_s"], tempo_bpm=row["tempo_bpm"], loudness_db=row["loudness_db"],
        opening=_pair(row["opening_valence"], row["opening_arousal"]),
        closing=_pair(row["closing_valence"], row["closing_arousal"]),
        summary=json.loads(row["summary"]) if row["summary"] else None,
        artist=row["artist"], title=row["title"], album=row["album"], error=row["error"],
        analysed_at=row["analysed_at"])


class Library:
    """An open library (see the module docstring); made by :func:`open_library`.

    Queries return :class:`~mer.library.track.Track` records. The write methods are what
    :func:`mer.library.scan.scan` uses; each is one transaction.

    Attributes
    ----------
    path : Path
        The database file.
    readonly : bool
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False):
        self.conn, self.path, self.readonly = conn, path, readonly

    # ------------------------------------------------------------------ life

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _query(self, sql: str, args: Sequence = ()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise MerError(f"cannot read the library ({exc})", self.path) from None

    # ------------------------------------------------------------------ queries

    def tracks(self, *, quadrant: str | Sequence[str] | None = None, valence: tuple | None = None,
               arousal: tuple | None = None, tempo: tuple | None = None, flags: str | Sequence[str] | None = None,
               without_flags: str | Sequence[str] | None = None, path_glob: str | None = None,
               status: str | Sequence[str] | None = "ok", limit: int | None = None, offset: int = 0,
               order: str = "path") -> list[Track]:
        """The tracks matching every filter given.

        Parameters
        ----------
        quadrant : str or sequence of str, optional
            ``'Q1'``..``'Q4'``: any of them.
        valence, arousal : (lo, hi), optional
            Inclusive bounds in [-1, 1]; either may be None (open). A track without a
            value (silent, failed) never matches a bound.
        tempo : (lo, hi), optional
            Inclusive bounds in BPM.
        flags : str or sequence of str, optional
            Tracks raising every one of these reliability flags.
        without_flags : str or sequence of str, optional
            Tracks raising none of these.
        path_glob : str, optional
            SQLite ``GLOB`` on the absolute path (case-sensitive; ``*`` also matches ``/``).
        status : str, sequence of str or None
            :data:`~mer.library.track.STATUSES` to include (default ``"ok"``; None: all).
        limit : int, optional
        offset : int
        order : str
            A key of :data:`ORDERS`, ``-`` in front for descending (default ``"path"``).

        Returns
        -------
        list of Track
        """
        where, args = _filters(quadrant=quadrant, valence=valence, arousal=arousal, tempo=tempo, flags=flags,
                               without_flags=without_flags, path_glob=path_glob, status=status)
        if limit is not None and limit < 0 or offset < 0:
            raise MerError(f"limit and offset must be >= 0, got {limit} and {offset}")
        sql = f"SELECT * FROM tracks{where} ORDER BY {_order_clause(order)} LIMIT ? OFFSET ?"
        return [row_to_track(r) for r in self._query(sql, [*args, -1 if limit is None else int(limit), int(offset)])]

    def count(self, **filters) -> int:
        """How many tracks match the filters of :meth:`tracks` (``quadrant`` ... ``status``), without reading them."""
        where, args = _filters(**{"quadrant": None, "valence": None, "arousal": None, "tempo": None, "flags": None,
                                  "without_flags": None, "path_glob": None, "status": "ok", **filters})
        return int(self._query(f"SELECT COUNT(*) FROM tracks{where}", args)[0][0])

    def track(self, track_id: int) -> Track:
        """The track with this id; MerError when there is none."""
        rows = self._query("SELECT * FROM tracks WHERE id = ?", [int(track_id)])
        if not rows:
            raise MerError(f"no track with id {track_id} in this library", self.path)
        return row_to_track(rows[0])

    def track_at(self, path: str | PathLike) -> Track | None:
        """The track of this file (absolute path as scanned), or None."""
        rows = self._query("SELECT * FROM tracks WHERE path = ?", [os.path.abspath(path)])
        return row_to_track(rows[0]) if rows else None

    def vector_of(self, track_id: int) -> bytes | None:
        """The stored similarity vector (float32 bytes) of a track, None without one."""
        rows = self._query("SELECT vector FROM tracks WHERE id = ?", [int(track_id)])
        return rows[0]["vector"] if rows else None

    def track_with_hash(self, digest: str) -> Track | None:
        """The analysed (``ok``) track with these bytes (the lowest id), or None."""
        rows = self._query("SELECT * FROM tracks WHERE content_hash = ? AND status = 'ok' ORDER BY id LIMIT 1",
                           [digest])
        return row_to_track(rows[0]) if rows else None

    def timeline(self, track_id: int) -> dict:
        """The whole ``mer.timeline/1`` dictionary of a track; MerError when the track has none."""
        self.track(track_id)  # names a missing id first
        rows = self._query("SELECT data FROM timelines WHERE track_id = ?", [int(track_id)])
        if not rows:
            raise MerError(f"track {track_id} has no timeline (failed or not analysed)", self.path)
        return json.loads(zlib.decompress(rows[0]["data"]))

    def failures(self) -> list[Track]:
        """The tracks whose analysis failed (``error`` says why), by path."""
        return self.tracks(status="failed")

    def stats(self) -> dict:
        """Counts by status and quadrant, the schema version and the last scan.

        Returns
        -------
        dict
            ``{"path", "schema_version", "tracks", "by_status": {status: n}, "by_quadrant":
            {quadrant: n} (ok tracks), "models": {model id: n}, "last_scan": dict or None}``.
        """
        by_status = dict.fromkeys(STATUSES, 0)
        by_status.update({r[0]: r[1] for r in self._query("SELECT status, count(*) FROM tracks GROUP BY status")})
        by_quadrant = {q: 0 for q in QUADRANT_COLUMNS}
        by_quadrant.update({r[0]: r[1] for r in self._query(
            "SELECT quadrant, count(*) FROM tracks WHERE status = 'ok' AND quadrant IS NOT NULL GROUP BY quadrant")})
        models = {r[0]: r[1] for r in self._query(
            "SELECT model, count(*) FROM tracks WHERE model IS NOT NULL GROUP BY model")}
        last = self._query("SELECT * FROM scans ORDER BY id DESC LIMIT 1")
        return {"path": str(self.path), "schema_version": self.schema_version, "tracks": sum(by_status.values()),
                "by_status": by_status, "by_quadrant": by_quadrant, "models": models,
                "last_scan": dict(last[0]) if last else None}

    def known_files(self) -> dict[str, sqlite3.Row]:
        """path -> ``(id, path, size, mtime_ns, content_hash, status, model, error, no_vector)`` of every track.

        ``no_vector``: an analysed (``ok``) track without a similarity vector (analysed before schema 2).
        """
        rows = self._query("SELECT id, path, size, mtime_ns, content_hash, status, model, error, "
                           "(status = 'ok' AND vector IS NULL) AS no_vector FROM tracks")
        return {r["path"]: r for r in rows}

    def similarity_rows(self) -> list[sqlite3.Row]:
        """``(id, content_hash, artist, quadrant, vector)`` of the ``ok`` tracks, by id (``vector`` None: none)."""
        return self._query("SELECT id, content_hash, artist, quadrant, vector FROM tracks WHERE status = 'ok' "
                           "ORDER BY id")

    def vectors(self) -> tuple[list[int], list[bytes | None]]:
        """Ids and stored similarity vectors (float32 bytes; None: none stored) of the ``ok`` tracks, by id."""
        rows = self._query("SELECT id, vector FROM tracks WHERE status = 'ok' ORDER BY id")
        return [r["id"] for r in rows], [r["vector"] for r in rows]

    # ------------------------------------------------------------------ writes (one transaction each)

    def _write(self, statements: Sequence[tuple[str, Sequence]]) -> list[int | None]:
        """Run `statements` in one transaction; returns each one's lastrowid."""
        if self.readonly:
            raise MerError("this library was opened read-only", self.path)
        ids = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    ids.append(self.conn.execute(sql, tuple(args)).lastrowid)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise MerError(f"cannot write the library ({exc})", self.path) from None
        return ids

    def begin_scan(self, *, paths: Sequence[str], model: str | None) -> int:
        """A new ``scans`` row (started now); returns its id."""
        return self._write([("INSERT INTO scans (started_at, paths, model) VALUES (?, ?, ?)",
                             [utc_now(), json.dumps([str(p) for p in paths]), model])])[0]

    def end_scan(self, scan_id: int, counts: dict[str, int]) -> None:
        """Record the end time and the counts (keys: columns of ``scans``) of a scan."""
        keys = [k for k in ("found", "analysed", "skipped", "moved", "copied", "missing", "failed") if k in counts]
        sets = ", ".join(f"{k} = ?" for k in keys)
        self._write([(f"UPDATE scans SET ended_at = ?, {sets} WHERE id = ?",
                      [utc_now(), *(int(counts[k]) for k in keys), scan_id])])

    def record(self, items: Sequence[tuple[str, int, int, dict, bytes | None]]) -> None:
        """Store results, all in one transaction.

        Parameters
        ----------
        items : sequence of (path, size, mtime_ns, result, timeline)
            `result` maps :data:`RESULT_COLUMNS` to values (``flags`` a list, ``summary`` a
            dict); `timeline` is the zlib-compressed timeline JSON (None: none). A path
            already in the library keeps its id.
        """
        statements = []
        cols = ", ".join(RESULT_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in ("size", "mtime_ns", *RESULT_COLUMNS))
        for path, size, mtime_ns, result, timeline in items:
            values = [_column_value(c, result.get(c)) for c in RESULT_COLUMNS]
            statements.append((f"INSERT INTO tracks (path, size, mtime_ns, {cols}) VALUES "
                               f"(?, ?, ?, {', '.join('?' * len(RESULT_COLUMNS))}) "
                               f"ON CONFLICT(path) DO UPDATE SET {updates}", [path, size, mtime_ns, *values]))
            statements.append(("DELETE FROM timelines WHERE track_id = (SELECT id FROM tracks WHERE path = ?)",
                               [path]))
            if timeline is not None:
                statements.append(("INSERT INTO timelines (track_id, data) SELECT id, ? FROM tracks WHERE path = ?",
                                   [timeline, path]))
        self._write(statements)

    def update_stat(self, changes: Sequence[tuple[int, str, int, int, str | None]]) -> None:
        """Set ``(id, path, size, mtime_ns, content_hash)`` of tracks whose content is unchanged (moved, touched).

        A ``missing`` track found again gets back ``ok``, or ``failed`` where it has an error.
        """
        self._write([("UPDATE tracks SET path = ?, size = ?, mtime_ns = ?, content_hash = coalesce(?, content_hash), "
                      "status = CASE WHEN status = 'missing' THEN (CASE WHEN error IS NULL THEN 'ok' ELSE 'failed' "
                      "END) ELSE status END WHERE id = ?", [path, size, mtime_ns, digest, track_id])
                     for track_id, path, size, mtime_ns, digest in changes])

    def mark_missing(self, track_ids: Sequence[int]) -> None:
        """Set these tracks' status to ``missing`` (their analysis is kept)."""
        self._write([("UPDATE tracks SET status = 'missing' WHERE id = ?", [int(i)]) for i in track_ids])

    def result_of(self, digest: str, model: str) -> tuple[dict, bytes | None] | None:
        """A stored result (:data:`RESULT_COLUMNS`, timeline) of a file with these bytes and model, or None."""
        rows = self._query("SELECT * FROM tracks WHERE content_hash = ? AND model = ? AND status != 'missing' "
                           "AND NOT (status = 'ok' AND vector IS NULL) ORDER BY status = 'ok' DESC, id LIMIT 1",
                           [digest, model])
        if not rows:
            return None
        row = rows[0]
        result = {c: row[c] for c in RESULT_COLUMNS}
        result["flags"] = json.loads(row["flags"] or "[]")
        result["summary"] = json.loads(row["summary"]) if row["summary"] else None
        result["status"] = "failed" if row["error"] else "ok"
        tl = self._query("SELECT data FROM timelines WHERE track_id = ?", [row["id"]])
        return result, (tl[0]["data"] if tl else None)


def _column_value(column: str, value):
    if column == "vector" and value is not None and not isinstance(value, bytes):
        import numpy as np

        return np.asarray(value, dtype="<f4").tobytes()
    if column == "flags":
        return json.dumps(list(value or []))
    if column == "summary":
        return None if value is None else json.dumps(value)
    if column == "status" and value not in STATUSES:
        raise MerError(f"unknown track status {value!r} (use {', '.join(STATUSES)})")
    return value


def compress_timeline(timeline: dict) -> bytes:
    """The stored form of a ``mer.timeline/1`` dictionary: compact JSON, zlib level 6."""
    return zlib.compress(json.dumps(timeline, separators=(",", ":")).encode("utf-8"), 6)
