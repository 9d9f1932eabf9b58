"""The public quarterly figures in real Chromium: axe-core in English and Arabic (right
to left), a phone's width with no sideways scrolling, the language links, and the
printed page (no navigation, the page's address shown)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from intake.cases import create_case
from intake.db import transaction
from intake.i18n import gettext
from intake.service import utcnow
from intake.summary import last_complete_quarter, quarter_months
from web.extensions import services

from .test_chat import axe_serious, describe

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def quarter(live_server) -> str:
    """The latest complete quarter, with cases enough for every kind of cell: exact
    counts, "fewer than 5", hidden ones and merged areas."""
    quarter = last_complete_quarter(utcnow())
    first, _ = quarter_months(quarter)
    start = datetime(int(first[:4]), int(first[5:7]), 2, 10)
    spread = [("Normanton", ["race"], ["verbal_abuse"], 9),
              ("Alvaston", ["religion", "race"], ["threats", "assault"], 7),
              ("Sinfin", ["disability"], ["property_damage"], 3),
              ("Spondon", ["sexual_orientation"], ["online"], 1)]
    with transaction(services(live_server.app).sessions) as session:
        number = 0
        for area, characteristics, behaviours, count in spread:
            for _ in range(count):
                number += 1
                create_case(session, answers={
                    "role": "victim", "anonymous": "named", "name": "Test Person",
                    "contact_method": "phone", "contact_details": f"07700 8{number:05d}",
                    "description": "They shouted at me.", "behaviours": behaviours,
                    "characteristics": characteristics, "where_type": "home",
                    "place": f"{number} Oak Street", "area": area,
                }, channel="web", language="en", urgent=False,
                    now=start + timedelta(days=number))
    return quarter


def no_sideways_scroll(page) -> bool:
    return page.evaluate(
        "() => document.scrollingElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_figures_pass_axe(page, live_server, quarter, problems, lang):
    for path in (f"/figures?lang={lang}", f"/figures/{quarter}?lang={lang}"):
        page.goto(live_server.base_url + path)
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
        assert page.locator("table").count() >= 1
        violations = axe_serious(page)
        assert not violations, describe(violations)
    assert not problems.errors and not problems.outside_requests


@pytest.mark.parametrize("lang", ["en", "ar", "hu", "ti"])
def test_a_phone_reads_the_tables_without_scrolling_sideways(browser, live_server, quarter,
                                                             lang):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.base_url}/figures/{quarter}?lang={lang}")
        assert no_sideways_scroll(page)
        width = page.evaluate("() => window.innerWidth")
        for table in page.locator("table").all():
            box = table.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
        # Text stays readable: nothing in the tables below 14 CSS pixels.
        smallest = page.evaluate(
            "() => Math.min(...[...document.querySelectorAll('td, th')]"
            ".map(e => parseFloat(getComputedStyle(e).fontSize)))")
        assert smallest >= 14
    finally:
        context.close()


def test_the_language_links_switch_the_page(page, live_server, quarter):
    page.goto(f"{live_server.base_url}/figures/{quarter}")
    page.get_by_role("link", name="العربية").click()
    page.wait_for_url(f"**/figures/{quarter}?lang=ar")
    assert page.locator("html").get_attribute("lang") == "ar"
    assert page.locator("h2", has_text=gettext("ar", "About these figures")).count() == 1
    current = page.locator("[aria-current=page]")
    assert current.text_content() == "العربية"


def test_printing_leaves_out_the_navigation_and_shows_the_address(page, live_server,
                                                                   quarter):
    page.goto(f"{live_server.base_url}/figures/{quarter}?lang=en")
    assert page.locator(".languages").is_visible()
    assert not page.locator(".figures__url").is_visible()
    page.emulate_media(media="print")
    for hidden in (".languages", ".exit-bar", ".figures__print", ".figures__others"):
        locator = page.locator(hidden)
        assert locator.count() == 0 or not locator.first.is_visible(), hidden
    address = page.locator(".figures__url")
    assert address.is_visible()
    assert f"/figures/{quarter}?lang=en" in (address.text_content() or "")
    # The tables are still there, in print.
    assert page.locator("table").first.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
