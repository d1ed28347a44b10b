"""The FastAPI application of ``mer serve``: settings, errors, health and analysis.

Every endpoint is a few lines over the Python API; the JSON shapes are those of the CLI
(``Prediction.to_dict``, ``Timeline.to_dict``, ``Track.to_dict``, ``Playlist.to_dict``).
Errors are ``{"error": {"status": <int>, "message": "<one line>"}}`` whatever raised them
(:class:`~mer.core.errors.MerError` -> 422, HTTP errors, validation errors -> 422, a full
queue -> 503 with ``Retry-After``, a timeout -> 504). The library routes are in
:mod:`mer.apps.service.library_routes`.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from mer import __version__
from mer.apps.service.analysis import analyse_upload
from mer.apps.service.library_routes import add_library_routes
from mer.apps.service.pool import AnalysisPool, AnalysisTimeout, QueueFull, WorkerDied
from mer.apps.service.security import AccessMiddleware, add_access_routes
from mer.apps.service.uploads import (
    UploadRejected,
    receive_upload,
    remove_stale_uploads,
    upload_folder,
)
from mer.core.errors import MerError

#: Default seconds one analysis may take before it is stopped (HTTP 504).
DEFAULT_TIMEOUT_S = 300.0


@dataclass
class ServiceConfig:
    """What :func:`create_app` was given, checked; shared by the routes as ``app.state.config``."""

    library: Path | None
    model: Path | None
    workers: int
    queue_size: int
    max_upload_bytes: int
    token: str | None
    timeout_s: float
    temp_dir: Path | None
    analysis: Callable
    cors_origins: tuple[str, ...]
    threads: int | None = None


def error_body(status: int, message: str) -> dict:
    """The JSON of every error answer."""
    return {"error": {"status": status, "message": " ".join(str(message).split())}}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "request"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _add_error_handlers(app: FastAPI) -> None:
    async def mer_error(request, exc: MerError):
        return _error(422, str(exc))

    async def http_error(request, exc: StarletteHTTPException):
        return _error(exc.status_code, exc.detail, getattr(exc, "headers", None))

    async def validation_error(request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    async def upload_rejected(request, exc: UploadRejected):
        return _error(exc.status, str(exc))

    async def queue_full(request, exc: QueueFull):
        return _error(503, f"busy: {exc}; retry later", {"Retry-After": str(request.app.state.retry_after())})

    async def timed_out(request, exc: AnalysisTimeout):
        return _error(504, str(exc))

    async def worker_died(request, exc: WorkerDied):
        return _error(500, str(exc))

    async def unexpected(request, exc: Exception):
        return _error(500, f"internal error ({type(exc).__name__}); see the server's log")

    for kind, handler in ((MerError, mer_error), (StarletteHTTPException, http_error),
                          (RequestValidationError, validation_error), (UploadRejected, upload_rejected),
                          (QueueFull, queue_full), (AnalysisTimeout, timed_out), (WorkerDied, worker_died),
                          (Exception, unexpected)):
        app.add_exception_handler(kind, handler)


_UPLOAD_SCHEMA = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "An audio file"}}}}}}}


def _add_analysis_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["service"])
    async def health(request: Request) -> dict:
        """Version, model, library and how busy the analysis workers are."""
        config, pool = request.app.state.config, request.app.state.pool
        return {"status": "ok", "version": __version__, "model": request.app.state.model_name,
                "library": None if config.library is None else str(config.library),
                "queue": {"running": pool.running, "waiting": pool.waiting,
                          "capacity": config.workers + config.queue_size}}

    @app.post("/v1/analyze", tags=["analysis"], openapi_extra=_UPLOAD_SCHEMA)
    async def analyze(request: Request) -> JSONResponse:
        """Quadrant, probabilities, valence / arousal and the timeline of an uploaded audio file (field ``file``)."""
        state = request.app.state
        state.pool.check_room()  # a full queue answers 503 before the upload is read
        folder = upload_folder(state.config.temp_dir)
        try:
            upload = await receive_upload(request, folder=folder, max_bytes=state.config.max_upload_bytes)
            started = time.monotonic()
            result = await state.pool.run(state.config.analysis, str(upload.path), upload.name, str(folder / "cache"))
            state.record_duration(time.monotonic() - started)
            return JSONResponse(result)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _add_page_routes(app: FastAPI) -> None:
    from mer.apps.web import STATIC_DIR

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            raise HTTPException(404, "the web page is not installed")
        return FileResponse(index, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")


class _Durations:
    """Mean seconds of recent analyses (exponentially weighted), for ``Retry-After``."""

    def __init__(self):
        self.mean = None

    def record(self, seconds: float) -> None:
        self.mean = seconds if self.mean is None else 0.8 * self.mean + 0.2 * seconds

    def retry_after(self) -> int:
        """Seconds until a worker is likely free: a mean analysis, at least 1, at most 120."""
        return int(min(120, max(1, math.ceil(self.mean or 5.0))))


def _checked_config(*, library, model, workers, max_upload_mb, token, queue_size, timeout_s, temp_dir,
                    analysis, cors_origins, threads) -> ServiceConfig:
    if workers < 1:
        raise MerError(f"need at least 1 worker, got {workers}")
    if not max_upload_mb > 0 or not timeout_s > 0:
        raise MerError(f"the upload limit and the timeout must be > 0 (got {max_upload_mb} MB, {timeout_s} s)")
    if token is not None and (not token or not token.isascii() or not token.isprintable()):
        raise MerError("the token must be printable ASCII and not empty")
    if library is not None:
        from mer.library.db import open_library

        library = Path(library).expanduser().resolve()
        with open_library(library, readonly=True):  # a bad library fails now, not at the first request
            pass
    if model is not None:
        from mer.models.modelfile import read_manifest

        read_manifest(model)  # a missing or broken model file fails now, in one line
    return ServiceConfig(library, None if model is None else Path(model), int(workers),
                         2 * int(workers) if queue_size is None else int(queue_size),
                         int(max_upload_mb * 2**20), token, float(timeout_s),
                         None if temp_dir is None else Path(temp_dir), analysis or analyse_upload,
                         tuple(cors_origins), threads)


def create_app(*, library: str | PathLike | None = None, model: str | PathLike | None = None, workers: int = 1,
               max_upload_mb: float = 50, token: str | None = None, queue_size: int | None = None,
               timeout_s: float = DEFAULT_TIMEOUT_S, temp_dir: str | PathLike | None = None,
               cors_origins: Sequence[str] = (), analysis: Callable | None = None,
               threads: int | None = None) -> FastAPI:
    """The ``mer serve`` application (API: ``/docs``, ``/openapi.json``; the page at ``/``).

    Parameters
    ----------
    library : path, optional
        A library database (``mer scan``), opened read-only; without it the library routes answer 404.
    model : path, optional
        The ``.mer`` model (default: the shipped one), loaded once in each worker process.
    workers : int
        Analysis worker processes (each holds a copy of the model: ~0.9 GB with the default).
    max_upload_mb : float
        Largest upload in MiB (413 beyond, before it is stored).
    token : str, optional
        When given, every endpoint but ``/health`` and the page's files needs it (401 otherwise):
        the header ``Authorization: Bearer TOKEN``, or for GETs the page's session cookie
        (:mod:`~mer.apps.service.security`).
    queue_size : int, optional
        Analyses that may wait for a worker (default ``2 * workers``); beyond, 503 with Retry-After.
    timeout_s : float
        Seconds one analysis may run (504 beyond; its worker is restarted).
    temp_dir : path, optional
        Where uploads are stored while analysed (default: the system's temporary folder);
        each in a folder of its own, removed when the request ends.
    cors_origins : sequence of str
        Origins allowed to call the API from a browser page elsewhere (default none: CORS closed).
    threads : int, optional
        CPU threads in all for the analysis workers (split between them; default: every core).
    analysis : callable, optional
        ``fn(path, name, cache_dir) -> dict`` run in a worker (default
        :func:`~mer.apps.service.analysis.analyse_upload`); a seam for tests.

    Raises
    ------
    MerError
        A bad setting, a missing model file or a library that cannot be opened.
    """
    config = _checked_config(library=library, model=model, workers=workers, max_upload_mb=max_upload_mb,
                             token=token, queue_size=queue_size, timeout_s=timeout_s, temp_dir=temp_dir,
                             analysis=analysis, cors_origins=cors_origins, threads=threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        remove_stale_uploads(config.temp_dir)  # left by a service killed with SIGKILL
        pool = AnalysisPool(workers=config.workers, queue_size=config.queue_size, model_path=config.model,
                            timeout_s=config.timeout_s, threads=config.threads)
        try:
            app.state.model_name = await pool.start()
            app.state.pool = pool
            yield
        finally:
            pool.close()

    app = FastAPI(title="mer", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Music emotion recognition on Russell's circumplex: analysis of uploads, "
                              "a library of analysed tracks, mood playlists. Errors: "
                              '{"error": {"status": int, "message": str}}.')
    durations = _Durations()
    app.state.config, app.state.retry_after, app.state.record_duration = config, durations.retry_after, durations.record
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(AccessMiddleware, token=config.token)  # outermost: every answer gets the headers
    _add_error_handlers(app)
    _add_analysis_routes(app)
    add_library_routes(app)
    add_access_routes(app)
    _add_page_routes(app)
    return app
