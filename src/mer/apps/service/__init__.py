"""``mer serve``: a local HTTP service over the Python API (FastAPI + uvicorn), and its web page.

The versioned JSON API (``/v1/...``, documented at ``/docs`` and ``/openapi.json``):

* ``GET /health``; ``POST /v1/analyze`` (multipart upload, field ``file``: the prediction
  and the timeline in the schemas of ``mer predict --format json`` and ``mer timeline``);
* with a library (``--db``): ``GET /v1/tracks`` (the filters of ``mer ls``),
  ``GET /v1/tracks/{id}``, ``/v1/tracks/{id}/timeline``, ``/v1/tracks/{id}/audio``,
  ``GET /v1/audio-features?ids=...`` (Spotify-compatible), ``POST /v1/playlists``
  (``mer playlist``: JSON or M3U8).

Bounds and safety: analysis runs in a bounded pool of worker processes, each holding the
model (:mod:`~mer.apps.service.pool`: a full queue answers 503 with ``Retry-After``, an
analysis past its timeout 504); uploads are streamed to a temporary folder that is always
removed, refused over the limit (413) before they are stored and refused when their
content is not audio (415, :mod:`~mer.apps.service.uploads`); the audio route serves only
files of the library, by id; the server binds to 127.0.0.1 by default and refuses another
interface without a token unless told the network is trusted; CORS is closed unless
origins are given; with a token every endpoint but ``/health`` and the page's files needs
it (401), and every answer carries a Content-Security-Policy and the other security
headers (:mod:`~mer.apps.service.security`).
"""

from __future__ import annotations

import ipaddress

from mer.apps.service.app import create_app
from mer.core.errors import MerError


def is_loopback(host: str) -> bool:
    """Whether `host` is an interface only this machine can reach (``localhost``, 127.0.0.0/8, ``::1``)."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(*, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", insecure_no_token: bool = False,
          **options) -> None:
    """Run the service with uvicorn until interrupted (Ctrl-C or SIGTERM end it cleanly).

    Parameters
    ----------
    host : str
        Interface to bind (default loopback only: nothing outside this machine can connect).
    port : int
        TCP port (0: any free one).
    log_level : str
        uvicorn's log level (``"warning"`` for quiet).
    insecure_no_token : bool
        Serve a non-loopback `host` without a token (a trusted network); refused otherwise.
    **options
        The keyword arguments of :func:`~mer.apps.service.app.create_app`.

    Raises
    ------
    MerError
        A non-loopback `host` without a token or `insecure_no_token`; a bad setting.
    """
    import uvicorn

    if not is_loopback(host) and options.get("token") is None and not insecure_no_token:
        raise MerError(f"refusing to serve on {host} without a token: anyone who can reach it could read the "
                       "library and upload; give --token (or --insecure-no-token on a trusted network)")

    app = create_app(**options)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=10)


__all__ = ["create_app", "is_loopback", "serve"]
