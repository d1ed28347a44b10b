"""One analysed file of a library: the record the database stores and every reader shares.

:class:`Track` is what :mod:`mer.library.db` returns, what ``mer ls`` / ``mer export``
print, what :mod:`mer.library.tags` writes into files, what :mod:`mer.library.playlist`
sequences and what the HTTP service answers (``Track.to_dict()``, schema ``mer.track/1``).
Valence and arousal are on the [-1, 1] scale of :mod:`mer.workflows.predict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

#: Version tag of :meth:`Track.to_dict`; bumped when a key changes meaning or goes away.
TRACK_SCHEMA = "mer.track/1"

#: A track's ``status``: analysed, analysis failed (``error`` says why), file gone from disk.
STATUSES = ("ok", "failed", "missing")


@dataclass
class Track:
    """A file of the library and what ``mer`` found in it.

    Attributes
    ----------
    id : int
        Row id in the database (stable across rescans, kept when a file is moved).
    path : str
        Absolute path of the file.
    status : str
        One of :data:`STATUSES`.
    size : int
        Bytes.
    mtime_ns : int
        Modification time, nanoseconds since the epoch.
    content_hash : str or None
        Hex digest of the file's bytes (recognises moved, renamed and duplicate files).
    model : str or None
        Id of the model that analysed the file.
    quadrant : str or None
        ``'Q1'``..``'Q4'``; None when not analysed or silent.
    probabilities : dict of str -> float, or None
        Quadrant probabilities, summing to 1.
    valence, arousal : float or None
        Whole-track valence and arousal in [-1, 1].
    flags : list of str
        Reliability flags (``silent``, ``too_short``, ``mostly_silent``, ``clipped``).
    duration_s : float or None
        Seconds of audio.
    tempo_bpm : float or None
        Estimated tempo, beats per minute.
    loudness_db : float or None
        RMS level in dBFS.
    opening, closing : dict or None
        ``{"valence": v, "arousal": a}`` of the first and last 30 s (from the timeline
        summary); what a playlist sequencer joins tracks by.
    summary : dict or None
        The timeline summary (``mer.timeline/1``'s ``summary``).
    artist, title, album : str or None
        From the file's own tags.
    error : str or None
        Why the analysis failed (``status == "failed"``).
    analysed_at : str or None
        ISO 8601 UTC time of the analysis.
    """

    id: int
    path: str
    status: str = "ok"
    size: int = 0
    mtime_ns: int = 0
    content_hash: str | None = None
    model: str | None = None
    quadrant: str | None = None
    probabilities: dict[str, float] | None = None
    valence: float | None = None
    arousal: float | None = None
    flags: list[str] = field(default_factory=list)
    duration_s: float | None = None
    tempo_bpm: float | None = None
    loudness_db: float | None = None
    opening: dict[str, float] | None = None
    closing: dict[str, float] | None = None
    summary: dict | None = None
    artist: str | None = None
    title: str | None = None
    album: str | None = None
    error: str | None = None
    analysed_at: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready form, with ``schema: "mer.track/1"`` first."""
        return {"schema": TRACK_SCHEMA, **asdict(self)}
