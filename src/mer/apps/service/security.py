"""Access to ``mer serve``: the optional token on every endpoint, and the security headers of every answer.

With a token (``mer serve --token T``) every request needs it except ``GET /health``, the
page (``/``) and its static files (``/static/...``). A request carries it as

* the header ``Authorization: Bearer T`` (any method: what the page's scripts and API
  clients send); or
* for GET / HEAD only, the cookie ``mer_session`` that ``POST /v1/session`` (with the
  header) sets: HttpOnly, SameSite=Strict, valid :data:`SESSION_S`. It is how the page's
  ``<audio>`` element (which cannot send headers) and the API docs at ``/docs`` get in;
  being GET-only and same-site only, no other site can use it to upload or to read; or
* for ``GET /v1/tracks/{id}/audio`` only, a query parameter ``access=EXPIRY.SIGNATURE``
  signed for that one path (:func:`signed_path`): the links of an M3U8 playlist, for
  players that cannot send headers either, valid :data:`LINK_S`.

Signatures are HMAC-SHA256 keyed by the token, so a new token voids every cookie and
link; every comparison is in constant time. Every answer (401s and static files too)
gets :data:`SECURITY_HEADERS`: a Content-Security-Policy that allows the page's own
files only (no inline script or style, no other origin, no framing), ``nosniff``,
``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.openapi.docs import get_swagger_ui_html

#: Seconds a page session cookie stays valid.
SESSION_S = 12 * 3600

#: Seconds a signed audio link (M3U8) stays valid.
LINK_S = 7 * 24 * 3600

COOKIE = "mer_session"

#: Paths served without a token: the health check, the page and its static files.
OPEN_PATHS = ("/health", "/")
OPEN_PREFIX = "/static/"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                    "x-frame-options": "DENY", "referrer-policy": "no-referrer"}

_DENIED = json.dumps({"error": {"status": 401, "message": "this server needs a token: send the header "
                                "'Authorization: Bearer TOKEN' (on the page: enter it under 'API token')"}}).encode()


def _signature(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def _valid(token: str, value: str, scope: str) -> bool:
    """Whether `value` (``EXPIRY.SIGNATURE``) was signed with `token` for `scope` and has not expired."""
    expiry, _, signature = value.partition(".")
    if not expiry.isdigit() or int(expiry) < time.time():
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, f"{scope}:{expiry}").encode())


def session_cookie(token: str) -> str:
    """A fresh value of the :data:`COOKIE` for GET requests, valid :data:`SESSION_S`."""
    expiry = int(time.time()) + SESSION_S
    return f"{expiry}.{_signature(token, f'session:{expiry}')}"


def signed_path(token: str | None, path: str) -> str:
    """`path` with an ``access`` parameter that lets a GET of it in for :data:`LINK_S` (as is without a token)."""
    if token is None:
        return path
    expiry = int(time.time()) + LINK_S
    return f"{path}?access={expiry}.{_signature(token, f'{path}:{expiry}')}"


def bearer_ok(token: str, headers: dict[bytes, bytes]) -> bool:
    """Whether the ``Authorization`` header is ``Bearer TOKEN`` (non-ASCII: a wrong token, not an error)."""
    return hmac.compare_digest(headers.get(b"authorization", b""), f"Bearer {token}".encode())


def _cookie(headers: dict[bytes, bytes]) -> str:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def allowed(token: str, scope: dict) -> bool:
    """Whether the request of ASGI `scope` may go on: an open path, the bearer header, or (GET) cookie / link."""
    path = scope["path"][len(scope.get("root_path", "")):] if scope["path"].startswith(scope.get("root_path", "")) \
        else scope["path"]
    if path in OPEN_PATHS or path.startswith(OPEN_PREFIX):
        return True
    headers = dict(scope["headers"])
    if bearer_ok(token, headers):
        return True
    if scope["method"] not in ("GET", "HEAD"):
        return False
    if _valid(token, _cookie(headers), "session"):
        return True
    access = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("access", [""])[0]
    return bool(access) and _valid(token, access, path)


class AccessMiddleware:
    """ASGI middleware: the token check (401 in the service's error shape) and the security headers.

    Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``, so that streamed answers (the
    audio files, with HTTP ranges) pass through untouched.
    """

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if self.token is None or allowed(self.token, scope):
            return await self.app(scope, receive, send_with_headers)
        await send_with_headers({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(_DENIED)).encode()),
            (b"www-authenticate", b"Bearer")]})
        await send_with_headers({"type": "http.response.body", "body": _DENIED})


def docs_csp(html: bytes) -> str:
    """The Content-Security-Policy of the API docs page (Swagger UI): its inline scripts by hash, its CDN files."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                      for s in re.findall(rb"<script>(.*?)</script>", html, flags=re.S))
    cdn = "https://cdn.jsdelivr.net"
    return (f"default-src 'none'; script-src {hashes} {cdn}; style-src {cdn}; img-src 'self' data: {cdn} "
            "https://fastapi.tiangolo.com; connect-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def add_access_routes(app) -> None:
    """``POST /v1/session`` (the cookie for GET requests) and ``GET /docs`` with its own CSP, on `app`."""
    @app.post("/v1/session", tags=["service"], status_code=204, response_class=Response, response_model=None)
    def session(request: Request) -> Response:
        """Set the cookie that lets this browser's GET requests in (the page's audio, /docs); needs the token."""
        answer, token = Response(status_code=204), request.app.state.config.token
        if token is not None:
            answer.set_cookie(COOKIE, session_cookie(token), max_age=SESSION_S, httponly=True, samesite="strict",
                              path=request.scope.get("root_path") or "/", secure=request.url.scheme == "https")
        return answer

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        page = get_swagger_ui_html(openapi_url="openapi.json", title=f"{app.title} API")
        page.headers["content-security-policy"] = docs_csp(page.body)
        return page
