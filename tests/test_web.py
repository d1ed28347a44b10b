"""The web page of ``mer serve`` in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

One real ``mer serve`` process per module on a free loopback port. With the 4Q data
present it serves a library of 3 real clips (scanned by :func:`mer.library.scan.scan`)
and the tests upload a real clip, filter the library and build a playlist; without the
data those tests skip and the page's structure, keyboard access, phone layout and error
messages are still tested against a server without a library.

Chromium is ``$MER_CHROMIUM``, else ``/usr/bin/chromium`` (``apt-get install chromium``;
``.ci/run`` installs it). Playwright's own browser download is never used. Without
Chromium or Playwright the tests skip, except under ``CI=true``, where they fail.

A screenshot of each view (desktop and a 390 x 844 phone) is saved to
``$MER_TEST_ARTIFACTS`` (default: ``web-artifacts`` in pytest's temporary folder); each
path is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(os.environ.get("MER_DATA", ROOT.parent / "shared" / "data"))
FOURQ = DATA_ROOT / "4q-dev"

#: Fixtures that read ../shared/data when it is there (tests/conftest.py checks the marker).
REAL_DATA_FIXTURES = {"library_db"}
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: Safety nets only (nothing asserts on time): server start-up, one analysis on a loaded machine.
START_S = 240
ANALYSIS_MS = 300_000
UI_MS = 30_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _unavailable(reason: str):
    """Fail under CI (the browser tests must run there), skip elsewhere."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run; .ci/run installs chromium)")
    pytest.skip(reason)


def _chromium() -> str:
    candidates = [os.environ.get("MER_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    _unavailable("Chromium not found (set MER_CHROMIUM or apt-get install chromium)")


def _has_fourq() -> bool:
    return (FOURQ / "panda_dataset_taffc_annotations.csv").is_file()


def _fourq_clips(n: int) -> list[Path]:
    """`n` real clips from different quadrant folders (Q1, Q2, Q4 first)."""
    clips = []
    for q in ("Q1", "Q2", "Q4", "Q3")[:n]:
        clips.append(sorted((FOURQ / q).glob("*.mp3"))[0])
    return clips


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("MER_TEST_ARTIFACTS") or tmp_path_factory.getbasetemp() / "web-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def web_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("webcache")


@pytest.fixture(scope="module")
def library_db(tmp_path_factory, web_cache) -> Path | None:
    """A library of 3 real 4Q clips, or None without the data."""
    if not _has_fourq():
        return None
    from mer.library.scan import scan

    db = tmp_path_factory.mktemp("weblib") / "library.db"
    report = scan(_fourq_clips(3), db=db, cache_dir=web_cache, progress=False)
    assert not report.failures, report.failures
    return db


def _start_server(port: int, library_db: Path | None, cache: Path, log: Path, token: str | None
                  ) -> subprocess.Popen:
    exe = shutil.which("mer", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-c", "from mer.apps.cli import app; app()"]
    cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if library_db is not None:
        cmd += ["--db", str(library_db)]
    if token is not None:
        cmd += ["--token", token]
    env = {**os.environ, "MER_CACHE": str(cache), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("MER_TOKEN", None)
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> bool:
    """True once /health answers; False when the process ended (e.g. the port was taken)."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if _get_json(url + "health")["status"] == "ok":
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.25)
    proc.kill()
    raise AssertionError(f"mer serve did not answer within {START_S} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: the worker pool ends too
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@contextmanager
def _serving(library_db: Path | None, cache: Path, log: Path, token: str | None = None):
    """A real ``mer serve`` process on a free loopback port; yields its base URL ``http://127.0.0.1:PORT/``."""
    for _attempt in range(3):  # another process may take the free port before the server binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        proc = _start_server(port, library_db, cache, log, token)
        if _wait_healthy(proc, url, log):
            break
    else:
        raise AssertionError(f"mer serve did not start:\n{log.read_text()[-3000:]}")
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def server(library_db, web_cache, tmp_path_factory) -> str:
    """The base URL of the module's server: with the library of 3 clips when the data is there."""
    with _serving(library_db, web_cache, tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _poll_in_page(self, expression: str, *, timeout: float | None = None, **_ignored):
    """``Page.wait_for_function`` for a page with a CSP: the expression polled through ``page.evaluate``.

    Playwright's own polling evaluates the predicate inside the page with ``eval``, which the
    service's ``script-src 'self'`` forbids; ``evaluate`` goes through the DevTools protocol.
    """
    deadline = time.monotonic() + (UI_MS if timeout is None else timeout) / 1000
    while not (value := self.evaluate(expression)):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)
    return value


@pytest.fixture(autouse=True)
def _csp_safe_waits(monkeypatch):
    from playwright.sync_api import Page

    monkeypatch.setattr(Page, "wait_for_function", _poll_in_page)


#: Records every Content-Security-Policy violation the page reports (read by :func:`_csp_violations`).
WATCH_CSP = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI || 'inline'} (${e.sourceFile})`));"""


def _csp_violations(pg) -> list[str]:
    return pg.evaluate("window.__cspViolations || []")


@pytest.fixture
def page(browser, server):
    """A fresh page on the server's web page, ready (every handler attached); fails on a JS error
    or on a Content-Security-Policy violation."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.add_init_script(WATCH_CSP)
    pg = context.new_page()
    pg.set_default_timeout(UI_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    # an API error answer (4xx) is logged by Chromium as a failed resource: expected where tested
    pg.on("console", lambda m: errors.append(f"console: {m.text}")
          if m.type == "error" and "Failed to load resource" not in m.text else None)
    pg.goto(server)
    pg.wait_for_selector("body[data-ready=true]")
    pg.wait_for_function("document.getElementById('service-info').dataset.state === 'ok'")
    yield pg
    errors += [f"CSP: {v}" for v in _csp_violations(pg)]
    context.close()
    assert not errors, errors


def _shoot(pg, artifacts: Path, name: str, capsys) -> Path:
    """A screenshot of the whole page, taken in a window as tall as the page (a full-page
    screenshot would paint the sticky player bar over the middle of the page)."""
    viewport = pg.viewport_size
    height = pg.evaluate("document.documentElement.scrollHeight")
    pg.set_viewport_size({"width": viewport["width"], "height": height})
    path = artifacts / f"{name}.png"
    pg.screenshot(path=str(path))
    pg.set_viewport_size(viewport)
    assert path.stat().st_size > 10_000  # a real picture, not an empty page
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return path


def _no_horizontal_scroll(pg) -> None:
    widths = pg.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]} px of content in {widths[1]} px"


def _count(pg, selector: str) -> int:
    return pg.locator(selector).count()


def _polyline_points(pg, testid: str) -> int:
    return pg.eval_on_selector(f"[data-testid={testid}]", "el => el.points.numberOfItems")


# --------------------------------------------------------------------------- without data


@pytest.mark.real_data
def test_page_loads_only_from_the_server(browser, server):
    """No CDN, no third-party request: every request the page makes goes to the server itself."""
    context = browser.new_context(viewport=DESKTOP)
    pg = context.new_page()
    urls: list[str] = []
    failed: list[str] = []
    pg.on("request", lambda r: urls.append(r.url))
    pg.on("requestfailed", lambda r: failed.append(r.url))
    pg.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.goto(server)
    pg.wait_for_selector("body[data-ready=true]")
    pg.wait_for_function("document.getElementById('service-info').dataset.state === 'ok'")
    context.close()
    foreign = [u for u in urls if not (u.startswith(server) or u.startswith("data:"))]
    assert not foreign, foreign
    assert not failed, failed
    modules = {u.rsplit("/", 1)[-1] for u in urls if u.endswith(".js")}
    assert {"app.js", "api.js", "circumplex.js", "analyse.js", "library.js", "playlist.js"} <= modules


@pytest.mark.real_data
def test_controls_are_labelled_and_views_switch(page):
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, button, textarea')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !(el.tagName === 'BUTTON' && el.textContent.trim()))
        .map(el => el.id || el.outerHTML.slice(0, 80))""")
    assert unlabelled == []
    for view in ("library", "playlist", "analyse"):
        page.click(f"#nav-{view}")
        page.wait_for_selector(f"#view-{view}", state="visible")
        assert page.get_attribute(f"#nav-{view}", "aria-current") == "page"
        hidden = [v for v in ("analyse", "library", "playlist") if v != view]
        assert all(not page.is_visible(f"#view-{v}") for v in hidden)
        assert page.evaluate("document.activeElement.id") == f"{view}-title"  # focus follows the view
    for live in ("#analyse-status", "#library-status", "#playlist-status"):
        assert page.get_attribute(live, "aria-live") == "polite"
    assert page.get_attribute("#analyse-error", "role") == "alert"


@pytest.mark.real_data
def test_page_words_match_the_python_api(page):
    """The flag explanations and mood words the page shows are the library's own."""
    from mer.audio.quality import FLAG_MEANINGS
    from mer.core.labels import MOOD_WORDS, QUADRANT_NAMES

    flags = page.evaluate("import('./static/render.js').then(m => m.FLAG_MEANINGS)")
    words = page.evaluate("import('./static/playlist.js').then(m => m.MOOD_WORDS)")
    quadrants = page.evaluate("import('./static/circumplex.js').then(m => m.QUADRANTS)")
    assert flags == FLAG_MEANINGS
    assert words == {q: list(ws) for q, ws in MOOD_WORDS.items()}
    assert {q: v["words"] for q, v in quadrants.items()} == {q: n.split(" (")[0] for q, n in QUADRANT_NAMES.items()}


@pytest.mark.real_data
def test_keyboard_alone_reaches_and_opens_the_upload_control(page, tmp_path):
    """Tab from the top of the page to the file input, open it with the space bar, upload; the API's
    error for a non-audio file is shown in words."""
    fake = tmp_path / "notes.mp3"
    fake.write_text("these are notes, not music\n" * 50)
    page.focus("body")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "file-input":
            break
    else:
        pytest.fail("the file input is not reachable with Tab")
    outline = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                            " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    assert outline[0] != "none" and outline[1] >= 2, f"no visible focus on the file input: {outline}"
    with page.expect_file_chooser() as chooser, page.expect_response("**/v1/analyze") as answer:
        page.keyboard.press("Space")
        chooser.value.set_files(str(fake))
    assert answer.value.status == 415
    message = answer.value.json()["error"]["message"]
    page.wait_for_selector("#analyse-error", state="visible")
    shown = page.inner_text("#analyse-error")
    assert message in shown and "415" in shown
    assert page.is_hidden("#result-card")
    assert page.evaluate("document.activeElement.id") == "file-input"  # the keyboard user keeps their place


@pytest.mark.real_data
def test_dropping_a_file_on_the_zone_uploads_it(page):
    """A drop (a DataTransfer with a File, as a browser makes it) goes to the same upload."""
    with page.expect_response("**/v1/analyze") as answer:
        page.evaluate("""() => {
            const dt = new DataTransfer();
            dt.items.add(new File(['not audio at all '.repeat(64)], 'dropped.wav', {type: 'audio/wav'}));
            const zone = document.getElementById('dropzone');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
        }""")
    assert answer.value.status == 415
    page.wait_for_selector("#analyse-error", state="visible")
    assert answer.value.json()["error"]["message"] in page.inner_text("#analyse-error")


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_token_field_authorises_uploads(browser, web_cache, tmp_path):
    """With ``mer serve --token``, an upload without the token gets the 401 explained; with the
    token typed into the page's field, the same upload reaches the analysis (here: 415, not audio)."""
    fake = tmp_path / "notes.wav"
    fake.write_bytes(b"plain text, no RIFF header " * 64)
    with _serving(None, web_cache, tmp_path / "serve.log", token="s3cret-token") as url:
        context = browser.new_context(viewport=DESKTOP)
        pg = context.new_page()
        pg.goto(url)
        pg.wait_for_selector("body[data-ready=true]")
        with pg.expect_response("**/v1/analyze") as denied:
            pg.set_input_files("#file-input", str(fake))
        assert denied.value.status == 401
        pg.wait_for_selector("#analyse-error", state="visible")
        assert "API token" in pg.inner_text("#analyse-error")  # says where the token goes
        pg.click("#settings summary")
        pg.fill("#api-token", "s3cret-token")
        with pg.expect_response("**/v1/analyze") as allowed:
            pg.set_input_files("#file-input", str(fake))
        assert allowed.value.status == 415
        assert allowed.value.request.headers["authorization"] == "Bearer s3cret-token"
        context.close()


@pytest.mark.real_data
@pytest.mark.slow
def test_token_page_reads_the_library_and_plays_through_its_session(browser, library_db, web_cache, tmp_path):
    """With ``--token``, the library's GETs and audio need it: the page sends the header on its
    requests and gets a session cookie (POST v1/session) for the <audio> element, which cannot
    send headers. The page's answers carry the CSP, and the page breaks none of it."""
    if library_db is None:
        pytest.skip("needs the 4Q clips for a library")
    with _serving(library_db, web_cache, tmp_path / "serve.log", token="s3cret-token") as url:
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url + "v1/tracks", timeout=30)
        assert denied.value.code == 401
        context = browser.new_context(viewport=DESKTOP)
        context.add_init_script(WATCH_CSP)
        pg = context.new_page()
        pg.set_default_timeout(UI_MS)
        answer = pg.goto(url)
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"
        pg.wait_for_selector("body[data-ready=true]")
        pg.click("#settings summary")
        pg.fill("#api-token", "s3cret-token")
        with pg.expect_response("**/v1/tracks?*") as listed:
            pg.click("#nav-library")
        assert listed.value.status == 200
        pg.wait_for_function("document.querySelectorAll('#library-rows tr').length === 3")
        with pg.expect_response("**/v1/session") as session:
            pg.click("#library-rows tr button")
        assert session.value.status == 204
        (cookie,) = [c for c in context.cookies() if c["name"] == "mer_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        pg.wait_for_function("document.getElementById('player').readyState >= 1", timeout=UI_MS)
        assert pg.evaluate("document.getElementById('player').duration") > 1
        assert _csp_violations(pg) == []
        context.close()


@pytest.mark.real_data
def test_phone_viewport_has_no_horizontal_scroll(browser, server, library_db):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    pg = context.new_page()
    pg.goto(server)
    pg.wait_for_selector("body[data-ready=true]")
    for view in ("analyse", "library", "playlist"):
        pg.click(f"#nav-{view}")
        pg.wait_for_selector(f"#view-{view}", state="visible")
        if view == "library" and library_db is not None:
            pg.wait_for_selector("#library-rows tr")
        _no_horizontal_scroll(pg)
        body_font = pg.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert body_font >= 14  # readable without zooming
    context.close()


# --------------------------------------------------------------------------- with real 4Q clips


@pytest.mark.real_data
@pytest.mark.slow
def test_analyse_view_shows_the_card_and_both_charts(page, fourq_dir, web_cache, artifacts, capsys):
    from mer.workflows.predict import load_model, predict_files
    from mer.workflows.timeline import expected_windows

    clip = _fourq_clips(1)[0]
    preds, failures = predict_files(load_model(), [clip], cache_dir=web_cache, progress=False)
    assert not failures
    expected = preds[0]

    with page.expect_response("**/v1/analyze", timeout=ANALYSIS_MS) as answer:
        page.set_input_files("#file-input", str(clip))
    assert answer.value.status == 200
    result = answer.value.json()
    page.wait_for_selector("#result-card[data-state=done]", timeout=UI_MS)

    # the card: the quadrant `mer predict` gives, in words, with the numbers of the answer
    assert page.get_attribute("#result-quadrant", "data-quadrant") == expected.quadrant
    words = {"Q1": "happy / excited", "Q2": "tense / angry", "Q3": "sad / depressed", "Q4": "calm / relaxed"}
    assert words[expected.quadrant] in page.inner_text("#result-quadrant")
    shown = {li.get_attribute("data-quadrant"): float(li.inner_text().split()[-1])
             for li in page.query_selector_all("#result-probabilities li")}
    assert shown.keys() == {"Q1", "Q2", "Q3", "Q4"}
    for q, p in result["prediction"]["probabilities"].items():
        assert shown[q] == pytest.approx(p, abs=5e-4)  # shown with 3 decimals
        assert p == pytest.approx(expected.probabilities[q], abs=1e-4)  # the service predicts as `mer predict`
    for key in ("valence", "arousal"):
        assert float(page.inner_text(f"#result-{key}")) == pytest.approx(result["prediction"][key], abs=5e-3)
    assert _count(page, "#result-flags li.flag") == len(result["prediction"]["flags"])
    assert page.get_attribute("#upload-progress", "value") == "100"

    # both charts: one path point and one dot per analysed window
    windows = result["timeline"]["windows"]
    settings = result["timeline"]["settings"]
    assert len(windows) == expected_windows(result["timeline"]["duration_s"], window=settings["window_s"],
                                            hop=settings["hop_s"])
    live = [w for w in windows if w["valence"] is not None]
    assert live
    assert _polyline_points(page, "analyse-path") == len(live)
    assert _count(page, "#analyse-circumplex circle.window-point") == len(live)
    assert _count(page, "[data-testid=analyse-track-point]") == 1
    assert _count(page, "#analyse-circumplex .arrow-head") >= 1
    assert _count(page, "#analyse-timechart circle.dot.valence") == len(live)
    assert _count(page, "#analyse-timechart circle.dot.arousal") == len(live)
    sections = page.eval_on_selector_all("#analyse-timechart rect.section", "rs => rs.map(r => r.dataset.quadrant)")
    assert sections == [s["quadrant"] for s in result["timeline"]["sections"]]
    _shoot(page, artifacts, "analyse-desktop", capsys)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(400)  # the time chart redraws at its new width after a resize
    _no_horizontal_scroll(page)
    _shoot(page, artifacts, "analyse-phone", capsys)


@pytest.mark.real_data
@pytest.mark.slow
def test_library_view_lists_filters_and_plays(page, server, fourq_dir, artifacts, capsys):
    tracks = _get_json(server + "v1/tracks")["tracks"]
    assert len(tracks) == 3
    page.click("#nav-library")
    page.wait_for_function("document.querySelectorAll('#library-rows tr').length === 3")
    assert _count(page, "#library-circumplex circle.library-point") == 3
    rows = page.eval_on_selector_all("#library-rows tr", "rs => rs.map(r => Number(r.dataset.trackId))")
    assert sorted(rows) == sorted(t["id"] for t in tracks)

    def apply_and_count(expected_ids):
        page.click("#filter-apply")
        page.wait_for_function(f"document.querySelectorAll('#library-rows tr').length === {len(expected_ids)}")
        got = page.eval_on_selector_all("#library-rows tr", "rs => rs.map(r => Number(r.dataset.trackId))")
        assert sorted(got) == sorted(expected_ids)
        assert _count(page, "#library-circumplex circle.library-point") == len(expected_ids)

    quadrant = tracks[0]["quadrant"]
    page.check(f"#filter-{quadrant.lower()}")
    apply_and_count([t["id"] for t in tracks if t["quadrant"] == quadrant])
    page.uncheck(f"#filter-{quadrant.lower()}")
    page.fill("#filter-valence-min", "0")
    apply_and_count([t["id"] for t in tracks if t["valence"] >= 0])
    page.fill("#filter-valence-min", "")
    stem = Path(tracks[1]["path"]).stem
    page.fill("#filter-path", f"*{stem}*")
    apply_and_count([tracks[1]["id"]])
    page.click("#filter-reset")
    page.wait_for_function("document.querySelectorAll('#library-rows tr').length === 3")

    # a click on a row plays the file from the service's own route and shows its details
    chosen = tracks[0]
    page.click(f"#library-rows tr[data-track-id='{chosen['id']}'] button")
    page.wait_for_selector("#track-details", state="visible")
    assert page.get_attribute("#track-details", "data-track-id") == str(chosen["id"])
    assert page.get_attribute("#player", "src") == f"v1/tracks/{chosen['id']}/audio"
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=UI_MS)
    duration = page.evaluate("document.getElementById('player').duration")
    assert duration == pytest.approx(chosen["duration_s"], abs=0.5)
    timeline = _get_json(server + f"v1/tracks/{chosen['id']}/timeline")
    page.wait_for_selector("[data-testid=library-path]")
    assert _polyline_points(page, "library-path") == sum(w["valence"] is not None for w in timeline["windows"])

    # a point of the scatter, with the keyboard
    other = tracks[2]
    page.focus(f"#library-circumplex circle[data-track-id='{other['id']}']")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.getElementById('track-details').dataset.trackId === '{other['id']}'")
    assert page.get_attribute("#player", "src") == f"v1/tracks/{other['id']}/audio"
    _shoot(page, artifacts, "library-desktop", capsys)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(400)
    _no_horizontal_scroll(page)
    _shoot(page, artifacts, "library-phone", capsys)

    page.click("#track-playlist-from")  # a playlist starting from the chosen track, by its id
    page.wait_for_selector("#view-playlist", state="visible")
    assert page.input_value("#pl-from") == str(other["id"])


@pytest.mark.real_data
@pytest.mark.slow
def test_playlist_builder_draws_the_path_and_offers_m3u8(page, fourq_dir, artifacts, capsys):
    page.click("#nav-playlist")
    page.wait_for_selector("#view-playlist", state="visible")

    # a mood the service does not know: its message, in the page
    page.fill("#pl-from", "xyzzy")
    with page.expect_response("**/v1/playlists") as bad:
        page.click("#pl-build")
    assert bad.value.status == 422
    page.wait_for_selector("#playlist-error", state="visible")
    assert bad.value.json()["error"]["message"] in page.inner_text("#playlist-error")

    # "from" by a click at the centre of the calm quadrant (valence +0.5, arousal -0.5)
    page.check("#pick-from")
    plane = page.locator("#playlist-circumplex circle.unit-circle").bounding_box()  # valence, arousal in [-1, 1]
    centre_x, centre_y = plane["x"] + plane["width"] / 2, plane["y"] + plane["height"] / 2
    page.mouse.click(centre_x + 0.5 * plane["width"] / 2, centre_y + 0.5 * plane["height"] / 2)
    v, a = map(float, page.input_value("#pl-from").split(","))
    assert v == pytest.approx(0.5, abs=0.03) and a == pytest.approx(-0.5, abs=0.03)
    assert page.is_checked("#pick-to")  # the next click sets "to"

    page.fill("#pl-to", "happy")
    page.fill("#pl-length", "3")
    page.select_option("#pl-easing", "cubic")
    with page.expect_response(lambda r: r.url.endswith("/v1/playlists") and r.request.method == "POST") as answer:
        page.click("#pl-build")
    assert answer.value.status == 200
    playlist = answer.value.json()
    assert json.loads(answer.value.request.post_data) == {
        "from": f"{v},{a}", "to": "happy", "length": 3, "easing": "cubic", "max_step": None, "per_artist": None}
    page.wait_for_selector("#playlist-result", state="visible")
    ids = [t["id"] for t in playlist["tracks"]]
    assert ids
    shown = page.eval_on_selector_all("#playlist-tracks li", "ls => ls.map(l => Number(l.dataset.trackId))")
    assert shown == ids
    assert _polyline_points(page, "playlist-waypoints") == len(playlist["waypoints"])
    assert _polyline_points(page, "playlist-path") == len(ids)

    # the M3U8: the same request's text, as a file to download
    page.wait_for_function("document.getElementById('playlist-m3u8').href.startsWith('blob:')")
    assert page.get_attribute("#playlist-m3u8", "download").endswith(".m3u8")
    with page.expect_download() as download:  # (the page's CSP lets no script fetch a blob: URL)
        page.click("#playlist-m3u8")
    text = Path(download.value.path()).read_text()
    assert text.startswith("#EXTM3U")
    urls = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert [u.rsplit("/v1/tracks/", 1)[1] for u in urls] == [f"{i}/audio" for i in ids]
    _shoot(page, artifacts, "playlist-desktop", capsys)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(400)
    _no_horizontal_scroll(page)
    _shoot(page, artifacts, "playlist-phone", capsys)


@pytest.mark.real_data
@pytest.mark.slow
def test_library_similar_action_lists_the_api_answer_and_selects(page, server, fourq_dir, artifacts, capsys):
    """The page's "similar" action on a library of real clips (skipped without them: a synthetic library
    has no similarity vectors worth listing)."""
    tracks = _get_json(server + "v1/tracks")["tracks"]
    chosen = tracks[0]
    want = _get_json(server + f"v1/tracks/{chosen['id']}/similar?n=5")
    assert want["schema"] == "mer.similar/1" and len(want["tracks"]) == len(tracks) - 1
    page.click("#nav-library")
    page.wait_for_function(f"document.querySelectorAll('#library-rows tr').length === {len(tracks)}")
    page.click(f"#library-rows tr[data-track-id='{chosen['id']}'] button")
    page.wait_for_selector("#track-details", state="visible")
    assert not page.is_visible("#track-similar-list li")
    page.click("#track-similar")
    page.wait_for_function(f"document.querySelectorAll('#track-similar-list li').length === {len(want['tracks'])}",
                           timeout=UI_MS)
    shown = page.eval_on_selector_all("#track-similar-list li", "ls => ls.map(l => Number(l.dataset.trackId))")
    assert shown == [t["id"] for t in want["tracks"]] and chosen["id"] not in shown
    assert f"distance {want['tracks'][0]['distance']:.3f}" in page.inner_text("#track-similar-list")
    _shoot(page, artifacts, "library-similar", capsys)
    page.click("#track-similar-list li:first-child button")  # a similar track: selected and played
    page.wait_for_function(f"document.getElementById('track-details').dataset.trackId === '{shown[0]}'")
    assert page.get_attribute("#player", "src") == f"v1/tracks/{shown[0]}/audio"
    assert not page.is_visible("#track-similar-section")


@pytest.mark.real_data
@pytest.mark.slow
def test_rough_edges_details_in_view_play_all_labels_and_phone(page, server, fourq_dir, artifacts, capsys):
    """Issue 24's page edges: details scrolled into view; "Play all"; the report in words; the axis
    labels above the points; on a phone, names broken only at separators and a slim player bar."""
    tracks = _get_json(server + "v1/tracks")["tracks"]
    page.click("#nav-library")
    page.wait_for_function("document.querySelectorAll('#library-rows tr').length === 3")
    page.click(f"#library-rows tr[data-track-id='{tracks[0]['id']}'] button")
    page.wait_for_selector("#track-details", state="visible")
    # scrolled to the card: its top in the upper half of the window (it was below the fold)
    page.wait_for_function("(() => { const top = document.getElementById('track-details').getBoundingClientRect().top;"
                           " return top >= -1 && top < innerHeight / 2; })()", timeout=UI_MS)
    # the axis labels are drawn after (above) every point and path, with a halo
    order = page.eval_on_selector("#library-circumplex", "svg => [...svg.children].map(c => c.getAttribute('class'))")
    assert order.index("axis-labels") > order.index("layer-points") and order.index("axis-labels") > order.index(
        "layer-paths")
    _shoot(page, artifacts, "library-details-in-view", capsys)

    page.click("#nav-playlist")
    page.fill("#pl-from", "sad")
    page.fill("#pl-to", "happy")
    page.fill("#pl-length", "3")
    with page.expect_response(lambda r: r.url.endswith("/v1/playlists") and r.request.method == "POST") as answer:
        page.click("#pl-build")
    ids = [t["id"] for t in answer.value.json()["tracks"]]
    assert len(ids) >= 2
    page.wait_for_selector("#playlist-result", state="visible")
    labels = page.eval_on_selector_all("#playlist-report dt", "ds => ds.map(d => d.textContent)")
    assert "Tracks to the planned path (mean)" in labels and "Largest step between tracks" in labels
    assert not [t for t in labels if "_" in t or t in ("mean waypoint distance", "n over max step")], labels
    page.click("#playlist-play-all")
    assert page.get_attribute("#player", "src") == f"v1/tracks/{ids[0]}/audio"
    assert f"(1 of {len(ids)})" in page.inner_text("#now-playing")
    page.evaluate("document.getElementById('player').dispatchEvent(new Event('ended'))")  # the first one ends
    assert page.get_attribute("#player", "src") == f"v1/tracks/{ids[1]}/audio"
    assert f"(2 of {len(ids)})" in page.inner_text("#now-playing")

    page.set_viewport_size(PHONE)
    page.click("#nav-library")
    page.wait_for_selector("#library-rows tr")
    bar = page.locator("#player-bar").bounding_box()
    assert bar["height"] <= 0.07 * PHONE["height"], bar  # was about 10 % of the screen
    # each name breaks only where it has a <wbr> (after _ - . / or a space): every line of the
    # button starts at the start of one of its pieces
    broken_inside = page.evaluate("""() => [...document.querySelectorAll('#library-rows button.link')].filter(b => {
        const range = document.createRange();
        const starts = new Set();
        for (const node of b.childNodes) {
          if (node.nodeType !== Node.TEXT_NODE || !node.length) continue;
          range.setStart(node, 0); range.setEnd(node, 1);
          starts.add(Math.round(range.getClientRects()[0].top));
        }
        range.selectNodeContents(b);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return [...lines].some(top => !starts.has(top));
      }).length""")
    assert broken_inside == 0
    _no_horizontal_scroll(page)
    _shoot(page, artifacts, "library-phone-player", capsys)
