"""Access to ``mer serve`` (mer.apps.service.security): the token on every endpoint, the page's
session cookie, signed M3U8 links, the refusal to serve a network without a token, the
security headers of every answer, and ``--threads``.

FastAPI's test client without the lifespan: the check comes before any route runs, so no
analysis worker is needed (a route that passed the check answers 404 without a library).
"""

from __future__ import annotations

import base64
import hashlib
import re
import warnings
from types import SimpleNamespace

import pytest

pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient  # noqa: E402

from mer.apps.service import create_app, is_loopback, security  # noqa: E402
from mer.core.errors import MerError  # noqa: E402

TOKEN = "s3cret"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
GETS = ["/v1/tracks", "/v1/tracks/1", "/v1/tracks/1/timeline", "/v1/tracks/1/audio", "/v1/audio-features?ids=1",
        "/openapi.json", "/docs", "/no/such/route"]
POSTS = ["/v1/analyze", "/v1/playlists", "/v1/session"]


def _app(**options):
    """The app with a stand-in for the worker pool the lifespan would start (only /health reads it)."""
    app = create_app(**options)
    app.state.pool, app.state.model_name = SimpleNamespace(running=0, waiting=0), "stub"
    return app


@pytest.fixture()
def client():
    return TestClient(_app(token=TOKEN))


def _denied(r) -> bool:
    return (r.status_code == 401 and r.json()["error"]["status"] == 401 and r.headers["www-authenticate"] == "Bearer"
            and "Authorization: Bearer" in r.json()["error"]["message"])


def test_every_endpoint_but_health_and_the_page_needs_the_token(client):
    for path in GETS:
        assert _denied(client.get(path)), path
        assert _denied(client.get(path, headers={"Authorization": "Bearer wrong"})), path
        assert client.get(path, headers=BEARER).status_code != 401, path
    for path in POSTS:
        assert _denied(client.post(path, json={})), path
    assert client.get("/v1/tracks", headers=BEARER).status_code == 404  # through the check: no library here
    page = client.get("/")
    assert page.status_code == 200 and "static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/health").json()["status"] == "ok"


def test_without_a_token_everything_is_open():
    c = TestClient(_app())
    assert c.get("/v1/tracks").status_code == 404 and c.get("/openapi.json").status_code == 200
    r = c.post("/v1/session")
    assert r.status_code == 204 and "set-cookie" not in r.headers


def test_session_cookie_lets_gets_in_and_never_posts(client, monkeypatch):
    r = client.post("/v1/session", headers=BEARER)
    assert r.status_code == 204
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{security.COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Max-Age={security.SESSION_S}" in cookie
    value = client.cookies[security.COOKIE]
    assert client.get("/v1/tracks").status_code == 404  # the cookie alone: in
    assert client.get("/openapi.json").status_code == 200  # the API docs too
    assert _denied(client.post("/v1/playlists", json={"from": "calm", "to": "happy"}))  # never for a POST
    client.cookies.clear()
    expiry, signature = value.split(".")
    for forged in (f"{expiry}.{'0' * len(signature)}", f"{int(expiry) + 1}.{signature}", "", "x.y",
                   security.session_cookie("another-token")):
        client.cookies.set(security.COOKIE, forged)
        assert _denied(client.get("/v1/tracks")), forged
    client.cookies.set(security.COOKIE, value)
    assert client.get("/v1/tracks").status_code == 404
    monkeypatch.setattr(security.time, "time", lambda: int(expiry) + 1)  # expired
    assert _denied(client.get("/v1/tracks"))


def test_signed_link_opens_one_path_only(client, monkeypatch):
    link = security.signed_path(TOKEN, "/v1/tracks/1/audio")
    assert client.get(link).status_code == 404  # through the check: no library here
    query = link.split("?", 1)[1]
    assert _denied(client.get(f"/v1/tracks/2/audio?{query}"))  # signed for track 1, not 2
    assert _denied(client.get(f"/v1/tracks?{query}"))
    assert _denied(client.post(f"/v1/tracks/1/audio?{query}"))
    assert security.signed_path(None, "/v1/tracks/1/audio") == "/v1/tracks/1/audio"
    expiry = int(query.split("=")[1].split(".")[0])
    monkeypatch.setattr(security.time, "time", lambda: expiry + 1)
    assert _denied(client.get(link))


@pytest.mark.parametrize("token", [None, TOKEN])
def test_security_headers_on_every_answer(token):
    c = TestClient(_app(token=token))
    answers = [c.get("/health"), c.get("/"), c.get("/static/app.js"), c.get("/static/no-such-file.js"),
               c.get("/v1/tracks"),
               c.post("/v1/playlists", json={}), c.get("/openapi.json", headers=BEARER)]
    for r in answers:
        h = r.headers
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY", r.url
        assert h["referrer-policy"] == "no-referrer" and h["content-security-policy"] == security.CSP, r.url
    assert "unsafe-inline" not in security.CSP and "frame-ancestors 'none'" in security.CSP
    assert re.search(r"script-src 'self'(;|$)", security.CSP) and re.search(r"style-src 'self'(;|$)", security.CSP)


def test_page_has_no_inline_script_or_style():
    from mer.apps.web import INDEX_HTML

    html = INDEX_HTML.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and "<style" not in html
    assert not re.search(r"\sstyle=|\son[a-z]+=", html)  # no style or event-handler attributes


def test_docs_page_allows_exactly_its_inline_scripts(client):
    r = client.get("/docs", headers=BEARER)
    assert r.status_code == 200
    scripts = re.findall(r"<script>(.*?)</script>", r.text, flags=re.S)
    assert scripts
    csp = r.headers["content-security-policy"]
    for s in scripts:
        assert f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"


def test_non_loopback_host_needs_a_token_or_the_opt_in(monkeypatch):
    import uvicorn

    from mer.apps.service import serve

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw["host"]))
    hosts = ("127.0.0.1", "localhost", "::1", "127.1.2.3", "0.0.0.0", "::", "192.168.1.4", "example.org")
    assert [is_loopback(h) for h in hosts] == [True] * 4 + [False] * 4
    with pytest.raises(MerError, match="refusing to serve on 0.0.0.0 without a token"):
        serve(host="0.0.0.0")
    serve(host="0.0.0.0", token=TOKEN)
    serve(host="0.0.0.0", insecure_no_token=True)
    serve(host="127.0.0.1")
    assert started == ["0.0.0.0", "0.0.0.0", "127.0.0.1"]


def test_serve_command_refuses_the_network_without_a_token_and_passes_threads(monkeypatch):
    from typer.testing import CliRunner

    import mer.apps.service as service
    from mer.apps.cli import app

    monkeypatch.delenv("MER_TOKEN", raising=False)
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert r.exit_code == 1 and "refusing to serve on 0.0.0.0 without a token" in r.output
    assert len(r.output.strip().splitlines()) == 1
    calls = []
    monkeypatch.setattr(service, "serve", lambda **kw: calls.append(kw))
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--insecure-no-token", "--threads", "3"])
    assert r.exit_code == 0 and "without --token" in r.output
    assert calls[0]["threads"] == 3 and calls[0]["insecure_no_token"] is True
    assert create_app(threads=3).state.config.threads == 3
