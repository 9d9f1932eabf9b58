"""Fixtures for the browser tests: the real app behind waitress, and Debian's Chromium.

The app runs in a thread with the production WSGI server on a free port, with its own
SQLite database and data key in a temporary folder. Chromium is the system one at
/usr/bin/chromium (Playwright's own browser downloads are never used); if it is missing
the tests fail rather than skip, so a machine without it cannot pass quietly.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 15_000


@dataclass
class LiveServer:
    """The running app: where it is, and where "Exit this page" sends people."""

    base_url: str
    quick_exit_url: str
    app: object


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from cryptography.fernet import Fernet
    from waitress import create_server

    from web import create_app

    tmp = tmp_path_factory.mktemp("browser-app")
    holder: dict[str, object] = {}

    # The quick-exit URL must be known when the app is made, and it contains the port,
    # which is only known once the server socket is bound: so the server is bound first,
    # in front of a tiny dispatcher, and the app is made right after.
    def dispatch(environ, start_response):  # type: ignore[no-untyped-def]
        return holder["app"](environ, start_response)  # type: ignore[operator]

    server = create_server(dispatch, host="127.0.0.1", port=0, threads=4)
    base_url = f"http://127.0.0.1:{server.effective_port}"
    # A page of this same app, so the test never leaves the machine.
    quick_exit_url = f"{base_url}/static/chat.css"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp}/t.db",
            "DATA_KEY": Fernet.generate_key().decode(),
            "HASH_KEY": Fernet.generate_key().decode(),
            "QUICK_EXIT_URL": quick_exit_url,
        }
    )
    holder["app"] = app
    thread = threading.Thread(target=server.run, name="waitress-browser-tests", daemon=True)
    thread.start()
    try:
        yield LiveServer(base_url=base_url, quick_exit_url=quick_exit_url, app=app)
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's "
            "chromium package (apt-get install chromium). They do not skip without it.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageProblems:
    """What went wrong inside the page: script errors, console errors, outside requests."""

    errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def context(browser, live_server: LiveServer, problems: PageProblems) -> Iterator[object]:
    ctx = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1024, "height": 800},
        locale="en-GB",
        service_workers="block",
    )
    ours = urlsplit(live_server.base_url).netloc

    def guard(route):  # type: ignore[no-untyped-def]
        # Nothing may be fetched from anywhere but the app itself.
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != ours:
            problems.outside_requests.append(url)
            route.abort()
        else:
            route.continue_()

    ctx.route("**/*", guard)
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.unroute_all(behavior="ignoreErrors")
        ctx.close()


@pytest.fixture
def page(context, problems: PageProblems) -> Iterator[object]:
    pg = context.new_page()  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: problems.errors.append(f"pageerror: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            problems.errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error"
            else None
        ),
    )
    yield pg
    pg.close()
