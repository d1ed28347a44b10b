"""`mer serve`: the HTTP service and its web page (:mod:`mer.apps.service`).

FastAPI and uvicorn are imported inside the command only, so that ``mer --help`` and the
other commands do not pay for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mer.apps.cli.app import app
from mer.apps.cli.options import fail, term
from mer.core.errors import MerError


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Interface to bind; 0.0.0.0 opens it to the network.")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    db: Annotated[Optional[Path], typer.Option("--db", envvar="MER_LIBRARY", help="A library (mer scan) to serve, "
                                                                            "read-only.")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="A trained model (.mer).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Analysis processes (each holds the model, "
                                                                  "~0.9 GB).")] = 1,
    queue_size: Annotated[Optional[int], typer.Option("--queue", min=0, help="Analyses that may wait for a "
                                                      "worker (default 2 x workers); more get 503.")] = None,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", min=0.001, help="Largest upload (MiB).")
                             ] = 50.0,
    token: Annotated[Optional[str], typer.Option("--token", envvar="MER_TOKEN", help="Every endpoint but /health "
                                                 "and the page needs 'Authorization: Bearer TOKEN' (or set "
                                                 "MER_TOKEN); the page asks for it.")] = None,
    insecure_no_token: Annotated[bool, typer.Option("--insecure-no-token", help="Serve a non-loopback --host "
                                                    "without --token (a trusted network only).")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.001, help="Seconds one analysis may run (504 "
                                           "beyond).")] = 300.0,
    cors_origin: Annotated[Optional[list[str]], typer.Option("--cors-origin", help="Let pages from this origin "
                                                             "call the API (repeatable; default: none).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only, not every request.")] = False,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, envvar="MER_THREADS", help="CPU threads "
                                                   "in all for analysis (BLAS, torch), split across the --workers "
                                                   "(default: the cores this process may use).")] = None,
) -> None:
    """Serve the JSON API (/v1/..., docs at /docs) and the web page (/) until Ctrl-C.

    Uploads are analysed in --workers processes; a full queue answers 503, an upload over
    --max-upload-mb 413, non-audio content 415. Binds to 127.0.0.1 unless --host says otherwise;
    another interface needs --token (or --insecure-no-token).
    """
    from mer.apps.service import is_loopback, serve

    options = dict(library=db, model=model, workers=workers, queue_size=queue_size, max_upload_mb=max_upload_mb,
                   token=token, timeout_s=timeout, cors_origins=cors_origin or (), threads=threads)
    if not is_loopback(host) and token is None and insecure_no_token:
        term.err.print(f"warning: serving on {host} without --token: anyone who can reach it may read and upload",
                       highlight=False, soft_wrap=True)
    try:
        serve(host=host, port=port, log_level="warning" if quiet else "info", insecure_no_token=insecure_no_token,
              **options)
    except MerError as exc:
        raise fail(exc)
