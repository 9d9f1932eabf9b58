"""The public figures' endpoints cannot be turned against the service or its staff:
nothing on them comes from the request's Host header, PDF requests cannot pile up on
the drawing, and nothing said to a signed-in member of staff is cached publicly."""

from __future__ import annotations

from datetime import datetime

import pytest

from intake.db import transaction
from tests.web.test_figures import NOW, Report, _quick_codes, add  # noqa: F401 - fixture
from web import create_app
from web import figures as figures_module
from web.extensions import services


@pytest.fixture
def app(tmp_path, data_key):
    from ..conftest import HASH_KEY

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'fig.db'}",
                      "DATA_KEY": data_key, "HASH_KEY": HASH_KEY})  # no PUBLIC_URL
    services(app).intake.clock = lambda: NOW
    with transaction(services(app).sessions) as session:
        for number in range(12):
            add(session, Report(datetime(2026, 8, 3 + number)), number)
    yield app
    services(app).db.dispose()


def test_the_host_header_never_reaches_the_page_or_the_pdf(app):
    client = app.test_client()
    page = client.get("/figures/2026-Q3", headers={"Host": "evil.example"})
    assert page.status_code == 200
    assert b"evil.example" not in page.data
    assert "/figures/2026-Q3?lang=en" in page.get_data(as_text=True)
    first = client.get("/figures/2026-Q3.pdf", headers={"Host": "evil.example"})
    second = client.get("/figures/2026-Q3.pdf", headers={"Host": "other.example"})
    assert first.status_code == second.status_code == 200
    assert b"evil.example" not in first.data
    # The same PDF, drawn once: a new Host is not a new document to draw.
    assert first.data == second.data


def test_a_pdf_request_waits_a_little_then_is_told_to_come_back(app, monkeypatch):
    monkeypatch.setattr(figures_module, "DRAW_WAIT_SECONDS", 0.2)
    figures_module._pdfs.clear()
    assert figures_module._drawing.acquire(timeout=5)
    try:
        busy = app.test_client().get("/figures/2026-Q3.pdf?lang=pl")
    finally:
        figures_module._drawing.release()
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "30"
    assert "Spróbuj ponownie za minutę" in busy.get_data(as_text=True)  # in their language
    assert busy.headers["Cache-Control"] == "no-store"
    assert app.test_client().get("/figures/2026-Q3.pdf?lang=pl").status_code == 200


def test_only_anonymous_visitors_get_publicly_cacheable_figures(app):
    client = app.test_client()
    public = client.get("/figures/2026-Q3")
    assert public.headers["Cache-Control"].startswith("public")
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "a-staff-session")
    signed_in = client.get("/figures/2026-Q3")
    assert signed_in.status_code == 200
    assert signed_in.headers["Cache-Control"] == "no-store"
    missing = app.test_client().get("/figures/2031-Q1")
    assert missing.headers["Cache-Control"] == "no-store"
    # Every other page still says no-store, whatever it set itself.
    assert app.test_client().get("/").headers["Cache-Control"] == "no-store"


def test_the_pdf_is_drawn_when_the_app_is_served_below_the_root(app):
    """Behind a proxy at /hr/ the page links /hr/static/figures.css: the PDF still finds
    it on disk (and nothing else)."""
    client = app.test_client()
    response = client.get("/figures/2026-Q3.pdf?lang=cs", base_url="http://localhost/hr/")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
