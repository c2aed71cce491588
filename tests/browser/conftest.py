"""Browser fixtures: the app on a live local server, Debian's Chromium driven by Playwright.

Tests here skip (with the reason) when ``/usr/bin/chromium`` or the ``playwright`` package is
missing. ``playwright install`` is never used: the browser is the system one.

Fixtures: ``live_app`` (the Flask app, users ``insp``/``insp2``/``rev``/``admin`` with passwords
``pw-<name>-123456``), ``live_server`` (base URL), ``browser``, ``page`` (desktop) and
``phone_page`` (390×844 touch), ``request_log`` (every URL any page of the test requested),
``login(page, name)``, ``screenshot(page, name)`` → ``test-artifacts/<name>.png`` and
``assert_same_origin(request_log, live_server)``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fieldkit import users as users_lib

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TEST_USERS = {"insp": ("inspector", "A"), "insp2": ("inspector", "B"), "rev": ("reviewer", None),
              "admin": ("admin", None)}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def playwright_api():
    """The sync Playwright driver (skips when Chromium or playwright is missing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright not installed")
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_api):
    """Headless Debian Chromium."""
    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def live_app(runtime):
    """The app (TESTING, CSRF on) on the test's runtime, with the four test users."""
    from webapp import create_app

    for name, (role, team) in TEST_USERS.items():
        users_lib.add_user(runtime, name, f"pw-{name}-123456", role=role, team=team)
    return create_app({"TESTING": True}, runtime=runtime)


@pytest.fixture
def live_server(live_app):
    """Base URL (``http://127.0.0.1:PORT``) of ``live_app`` served by werkzeug in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def request_log() -> list[str]:
    """Every URL requested by the test's pages (documents, frames, scripts, images, fetches)."""
    return []


def _context(browser, request_log, **options):
    context = browser.new_context(locale="zh-CN", **options)
    context.on("request", lambda req: request_log.append(req.url))
    context.on("websocket", lambda ws: request_log.append(ws.url))
    return context


@pytest.fixture
def page(browser, request_log):
    """A desktop-sized page (1280×800) whose requests go into ``request_log``."""
    context = _context(browser, request_log, viewport=DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_page(browser, request_log):
    """A phone-sized touch page (390×844 at 2×) whose requests go into ``request_log``."""
    context = _context(browser, request_log, **PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def login(live_server):
    """``login(page, name)``: log in through the form as a test user; ends on the start page."""

    def _login(page, name: str) -> None:
        page.goto(f"{live_server}/login")
        page.fill("#username", name)
        page.fill("#password", f"pw-{name}-123456")
        with page.expect_navigation():
            page.click("form.form button[type=submit]")
        assert urlsplit(page.url).path == "/", f"login as {name} ended on {page.url}"

    return _login


@pytest.fixture
def screenshot():
    """``screenshot(page, name) -> Path``: full-page PNG under ``test-artifacts/``."""

    def _shot(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


@pytest.fixture
def assert_same_origin():
    """``assert_same_origin(urls, base)``: fail listing every URL outside ``base``'s origin."""

    def _check(urls: list[str], base: str) -> None:
        origin = urlsplit(base)[:2]
        foreign = [u for u in urls if urlsplit(u).scheme not in ("data", "blob", "about")
                   and urlsplit(u)[:2] != origin]
        assert urls, "no requests were recorded"
        assert foreign == [], f"requests left the app's origin: {foreign}"

    return _check
