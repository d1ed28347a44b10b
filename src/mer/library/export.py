"""A library's tracks as CSV, JSON, or in the shape of Spotify's retired audio-features endpoint.

Spotify closed ``GET /v1/audio-features`` to new applications in November 2024; tools
written against it read ``valence``, ``energy``, ``tempo``, ``loudness``... The
``audio-features`` export gives those field names, ranges and units for what `mer`
measures, from its own outputs (:func:`audio_features`); fields `mer` does not measure
(``danceability``, ``acousticness``, ``instrumentalness``, ``liveness``,
``speechiness``, ``key``, ``mode``, ``time_signature``) are left out rather than guessed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from mer.core.errors import MerError
from mer.library.db import QUADRANT_COLUMNS, Library
from mer.library.track import Track

#: Formats of :func:`export`.
EXPORT_FORMATS = ("csv", "json", "audio-features")

#: Columns of the CSV form, in order (``p_Q1``..``p_Q4`` are the quadrant probabilities).
CSV_COLUMNS = ("id", "path", "status", "quadrant", *(f"p_{q}" for q in QUADRANT_COLUMNS), "valence", "arousal",
               "tempo_bpm", "loudness_db", "duration_s", "flags", "opening_valence", "opening_arousal",
               "closing_valence", "closing_arousal", "artist", "title", "album", "model", "content_hash", "size",
               "mtime_ns", "analysed_at", "error")


def _unit(x: float | None) -> float | None:
    """[-1, 1] -> [0, 1], clipped (a value a hair outside from float rounding stays in range)."""
    return None if x is None else min(1.0, max(0.0, (float(x) + 1.0) / 2.0))


def audio_features(track: Track) -> dict:
    """One track in the shape of a Spotify audio-features object.

    ==================  ==========================================================
    field               from `mer`
    ==================  ==========================================================
    ``id``              the track's library id, as a string
    ``uri``             ``"mer:track:<id>"``
    ``type``            ``"audio_features"``
    ``track_href``      the file as a ``file://`` URI
    ``valence``         ``(valence + 1) / 2``: `mer`'s valence in [-1, 1] mapped to
                        [0, 1] (0.5 neutral; Spotify: "musical positiveness")
    ``energy``          ``(arousal + 1) / 2``: arousal mapped to [0, 1] (Spotify:
                        "perceptual measure of intensity and activity")
    ``tempo``           estimated tempo in BPM (the model's descriptor, else librosa's
                        beat tracker)
    ``loudness``        RMS level of the whole file in dBFS (Spotify's is also a
                        whole-track average in dB, typically -60..0; not LUFS)
    ``duration_ms``     duration in milliseconds (integer)
    ``mer_quadrant``    ``'Q1'``..``'Q4'`` (None: silent)
    ``mer_probabilities``  the four quadrant probabilities
    ``mer_valence``, ``mer_arousal``  the raw values in [-1, 1]
    ``mer_flags``       reliability flags (``silent``, ``too_short``, ...)
    ``mer_model``       the model id
    ``mer_path``        the file's path
    ==================  ==========================================================

    A silent track has ``valence``, ``energy`` and ``tempo`` None.
    """
    return {
        "id": str(track.id), "uri": f"mer:track:{track.id}", "type": "audio_features",
        "track_href": Path(track.path).as_uri() if Path(track.path).is_absolute() else track.path,
        "valence": _unit(track.valence), "energy": _unit(track.arousal), "tempo": track.tempo_bpm,
        "loudness": track.loudness_db,
        "duration_ms": None if track.duration_s is None else int(round(track.duration_s * 1000)),
        "mer_quadrant": track.quadrant, "mer_probabilities": track.probabilities, "mer_valence": track.valence,
        "mer_arousal": track.arousal, "mer_flags": list(track.flags), "mer_model": track.model,
        "mer_path": track.path,
    }


def _csv_row(t: Track) -> list:
    probs = t.probabilities or {}
    opening, closing = t.opening or {}, t.closing or {}
    values = {"id": t.id, "path": t.path, "status": t.status, "quadrant": t.quadrant,
              **{f"p_{q}": probs.get(q) for q in QUADRANT_COLUMNS}, "valence": t.valence, "arousal": t.arousal,
              "tempo_bpm": t.tempo_bpm, "loudness_db": t.loudness_db, "duration_s": t.duration_s,
              "flags": ";".join(t.flags), "opening_valence": opening.get("valence"),
              "opening_arousal": opening.get("arousal"), "closing_valence": closing.get("valence"),
              "closing_arousal": closing.get("arousal"), "artist": t.artist, "title": t.title, "album": t.album,
              "model": t.model, "content_hash": t.content_hash, "size": t.size, "mtime_ns": t.mtime_ns,
              "analysed_at": t.analysed_at, "error": t.error}
    return ["" if values[c] is None else values[c] for c in CSV_COLUMNS]


def tracks_csv(tracks: Sequence[Track]) -> str:
    """CSV of tracks: a header of :data:`CSV_COLUMNS`, one row each; missing values empty, flags ``;``-separated."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    out.writerows(_csv_row(t) for t in tracks)
    return buf.getvalue()


def tracks_json(tracks: Sequence[Track]) -> str:
    """JSON list of :meth:`Track.to_dict <mer.library.track.Track.to_dict>` (schema ``mer.track/1`` each)."""
    return json.dumps([t.to_dict() for t in tracks], indent=2) + "\n"


def export(library: Library, *, format: str = "csv", tracks: Sequence[Track] | None = None) -> str:
    """The library's tracks as text.

    Parameters
    ----------
    library : Library
    format : ``"csv"``, ``"json"`` or ``"audio-features"``
        ``csv`` (:func:`tracks_csv`) and ``json`` (:func:`tracks_json`) hold every track,
        whatever its status; ``audio-features`` is ``{"audio_features": [...]}`` as the
        Spotify endpoint answered for several tracks, one :func:`audio_features` object
        per analysed (``ok``) track.
    tracks : sequence of Track, optional
        Export these instead (e.g. a query's result).

    Returns
    -------
    str
    """
    if format not in EXPORT_FORMATS:
        raise MerError(f"unknown export format '{format}' (use {', '.join(EXPORT_FORMATS)})")
    if format == "audio-features":
        chosen = tracks if tracks is not None else library.tracks(status="ok", order="id")
        return json.dumps({"audio_features": [audio_features(t) for t in chosen if t.status == "ok"]},
                          indent=2) + "\n"
    chosen = tracks if tracks is not None else library.tracks(status=None, order="id")
    return tracks_csv(chosen) if format == "csv" else tracks_json(chosen)
