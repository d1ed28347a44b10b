"""The library routes of ``mer serve``: tracks, timelines, the audio files, audio features, playlists.

The library (``--db``) is opened read-only for each request (SQLite in WAL mode: a scan
may write it meanwhile). The audio route takes a track id, never a path: it serves only
files that are rows of the library.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Literal, Optional, Union

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from mer.apps.service.security import signed_path
from mer.core.errors import MerError

#: Most tracks one ``GET /v1/tracks`` returns.
MAX_LIMIT = 10_000


@contextmanager
def _library(request: Request):
    from mer.library.db import open_library

    path = request.app.state.config.library
    if path is None:
        raise HTTPException(404, "this server has no library (start it with mer serve --db FILE)")
    with open_library(path, readonly=True) as lib:
        yield lib


def _track(lib, track_id: int):
    """The track, or 404 (the library's only error for a valid id is that it has no such row)."""
    try:
        return lib.track(track_id)
    except MerError:
        raise HTTPException(404, f"no track with id {track_id} in this library") from None


def _track_or_none(lib, track_id: int):
    try:
        return lib.track(track_id)
    except MerError:
        return None


class PlaylistRequest(BaseModel):
    """The body of ``POST /v1/playlists``: the parameters of ``mer playlist``."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    start: Union[int, str] = Field(alias="from", description="A mood word, 'V,A', or a track id (start after it)")
    to: Union[int, str] = Field(description="A mood word, 'V,A', or a track id")
    length: int = Field(10, ge=1, le=1000, description="Tracks wanted")
    max_step: Optional[float] = Field(None, gt=0, description="Largest valence / arousal step between tracks")
    easing: Literal["linear", "cubic", "arousal-first", "valence-first"] = "linear"
    per_artist: Optional[int] = Field(None, ge=1, description="At most this many tracks by one artist")


def _near_mood(request: Request, filters: dict, mood: str, radius, limit: int, offset: int) -> dict:
    """``/v1/tracks?mood=``: the filtered tracks nearest `mood`, each with its ``distance``."""
    from mer.library.recommend import near_mood

    with _library(request) as lib:
        point, hits = near_mood(lib.tracks(**filters), mood, radius=radius)
    return {"total": len(hits), "mood": point.to_dict(),
            "tracks": [{**t.to_dict(), "distance": d} for t, d in hits[offset:offset + limit]]}


def _track_routes(app: FastAPI) -> None:
    @app.get("/v1/tracks", tags=["library"])
    def tracks(request: Request, quadrant: Optional[str] = Query(None, description="Q1,Q2 or mood words"),
               valence: Optional[str] = Query(None, description="LO:HI"), arousal: Optional[str] = Query(None),
               tempo: Optional[str] = Query(None, description="LO:HI in BPM"),
               flag: Optional[list[str]] = Query(None, description="Tracks raising every one of these flags"),
               no_flag: Optional[list[str]] = Query(None, description="Tracks raising none of these flags"),
               path: Optional[str] = Query(None, description="Glob on the absolute path"),
               status: str = Query("ok", description="ok, failed, missing (comma-separated) or all"),
               order: str = Query("path", description="path, id, valence, arousal, tempo... ('-' first: descending)"),
               limit: int = Query(100, ge=0, le=MAX_LIMIT), offset: int = Query(0, ge=0),
               mood: Optional[str] = Query(None, description="Nearest this mood first (a word of Warriner et al.'s "
                                           "norms, a phrase or V,A); overrides order"),
               radius: Optional[float] = Query(None, gt=0, description="With mood: only tracks this near")
               ) -> JSONResponse:
        """The tracks matching every filter (those of ``mer ls``), ``limit`` of them from ``offset``."""
        from mer.library.db import text_filters

        filters = text_filters(quadrant=quadrant, valence=valence, arousal=arousal, tempo=tempo, flags=flag,
                               without_flags=no_flag, path_glob=path, status=status)
        if mood is not None:
            return JSONResponse(_near_mood(request, filters, mood, radius, limit, offset))
        with _library(request) as lib:
            total = lib.count(**filters)
            found = lib.tracks(**filters, order=order, limit=limit, offset=offset)
        return JSONResponse({"total": total, "tracks": [t.to_dict() for t in found]})

    @app.get("/v1/tracks/{track_id}", tags=["library"])
    def track(request: Request, track_id: int) -> JSONResponse:
        """One track of the library (schema ``mer.track/1``)."""
        with _library(request) as lib:
            return JSONResponse(_track(lib, track_id).to_dict())

    @app.get("/v1/tracks/{track_id}/timeline", tags=["library"])
    def track_timeline(request: Request, track_id: int) -> JSONResponse:
        """The track's timeline (schema ``mer.timeline/1``), as ``mer scan`` stored it."""
        with _library(request) as lib:
            _track(lib, track_id)
            try:
                return JSONResponse(lib.timeline(track_id))
            except MerError:
                raise HTTPException(404, f"track {track_id} has no timeline (failed or not analysed)") from None

    @app.get("/v1/tracks/{track_id}/audio", tags=["library"])
    def track_audio(request: Request, track_id: int) -> FileResponse:
        """The track's audio file (HTTP ranges supported); only files that are rows of the library."""
        with _library(request) as lib:
            t = _track(lib, track_id)
        if t.status == "missing" or not Path(t.path).is_file():
            raise HTTPException(404, f"the file of track {track_id} is no longer on disk")
        return FileResponse(t.path)


def _similar_routes(app: FastAPI) -> None:
    @app.get("/v1/tracks/{track_id}/similar", tags=["library"])
    def similar(request: Request, track_id: int, n: int = Query(10, ge=1, le=1000, description="Tracks wanted"),
                artist: Optional[Literal["same", "other"]] = Query(None, description="Only the track's artist, or "
                                                                   "only others"),
                same_quadrant: bool = Query(False, description="Only tracks in the track's quadrant"),
                radius: Optional[float] = Query(None, gt=0, description="Only tracks this near on the valence / "
                                                "arousal plane"),
                towards: Optional[str] = Query(None, description="A mood: tracks like this one in that mood")
                ) -> JSONResponse:
        """The library's tracks most like this one (``mer similar``; schema ``mer.similar/1``)."""
        from mer.library.similar import similar_tracks

        with _library(request) as lib:
            _track(lib, track_id)
            result = similar_tracks(lib, track_id, n=n, artist=artist, same_quadrant=same_quadrant, radius=radius,
                                    towards=towards)
        return JSONResponse(result.to_dict())


def add_library_routes(app: FastAPI) -> None:
    """Register the library routes on `app` (its ``state.config.library`` is the database)."""
    _track_routes(app)
    _similar_routes(app)

    @app.get("/v1/audio-features", tags=["library"])
    def audio_features(request: Request, ids: str = Query(..., description="Track ids, comma-separated (at most "
                                                                           "100)")) -> JSONResponse:
        """Spotify-compatible audio features of tracks (null for an id not in the library)."""
        from mer.library.export import audio_features as features_of

        try:
            wanted = [int(x) for x in ids.split(",") if x.strip()]
        except ValueError:
            raise MerError(f"ids must be comma-separated integers, got '{ids}'") from None
        if not 1 <= len(wanted) <= 100:
            raise MerError(f"give 1 to 100 ids, got {len(wanted)}")
        with _library(request) as lib:
            found = [_track_or_none(lib, i) for i in wanted]
        return JSONResponse({"audio_features": [None if t is None else features_of(t) for t in found]})

    @app.post("/v1/playlists", tags=["library"],
              responses={200: {"content": {"audio/x-mpegurl": {}}}})
    def playlists(request: Request, body: PlaylistRequest,
                  format: Literal["json", "m3u8"] = Query("json")) -> Response:
        """A mood playlist from the library (``mer playlist``): JSON (``mer.playlist/1``) or M3U8.

        With a token, the M3U8's links carry a signed ``access`` parameter (valid 7 days) so
        that a player that cannot send the token can still fetch them.
        """
        from mer.library.playlist import plan_playlist

        with _library(request) as lib:
            pool = lib.tracks(status="ok")
        playlist = plan_playlist(pool, start=str(body.start), end=str(body.to), length=body.length,
                                 max_step=body.max_step, easing=body.easing, per_artist=body.per_artist)
        if format == "m3u8":
            base, token = str(request.base_url), request.app.state.config.token
            return Response(playlist.m3u8_text(lambda t: base + signed_path(token, f"/v1/tracks/{t.id}/audio")[1:]),
                            media_type="audio/x-mpegurl")
        return JSONResponse(playlist.to_dict())
