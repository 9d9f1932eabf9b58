"""The managers' trends page in a real browser: reached from the menu, accessible
(axe-core), its charts named images, the filter form and quick periods working without
any script, the CSV downloaded, nothing fetched from elsewhere, no sideways scrolling
on a phone.

The live app's database is shared with the other browser tests, whose cases are made
now: these cases are made in 2019, in Chellaston, where no other test reports.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

import pytest

from intake.cases import create_case
from intake.casework import add_officer
from intake.db import transaction
from web.extensions import services

from ..intake.test_stats import ANSWERS
from .test_chat import axe_serious, describe
from .test_dashboard import PASSWORD, Staff, sign_in

pytestmark = pytest.mark.browser

TARA = Staff("Tara Manager", "tara.trends@landlord.example")
OWEN = Staff("Owen Officer", "owen.trends@landlord.example")
AREA = "Chellaston"


@pytest.fixture(scope="module")
def trends_data(live_server) -> Iterator[None]:
    """A manager, an officer, and five cases in Chellaston in 2019 (three in March)."""
    the = services(live_server.app)
    with transaction(the.sessions) as session:
        add_officer(session, name=TARA.name, email=TARA.email, password=PASSWORD,
                    now=datetime(2019, 1, 1), role="manager")
        add_officer(session, name=OWEN.name, email=OWEN.email, password=PASSWORD,
                    now=datetime(2019, 1, 1), areas=[AREA])
        for n, when in enumerate((datetime(2019, 3, 4, 10), datetime(2019, 3, 9, 10),
                                  datetime(2019, 3, 20, 10), datetime(2019, 5, 2, 10),
                                  datetime(2019, 5, 30, 10))):
            create_case(session, answers={
                **ANSWERS, "area": AREA, "place": f"{n} Oak Street",
                "contact_details": f"07700 90055{n}",
                "characteristics": ["race"] if n < 3 else ["disability"]},
                channel="sms" if n % 2 else "web", language="en", urgent=False, now=when)
    yield


def open_trends(page, live_server) -> None:
    sign_in(page, live_server, TARA)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Trends").click()
    page.wait_for_url(live_server.base_url + "/dashboard/trends")
    assert page.get_by_role("heading", level=1).inner_text() == "Trends"


def filter_2019(page, live_server) -> None:
    page.get_by_label("From", exact=True).fill("2019-01")
    page.get_by_label("To", exact=True).fill("2019-12")
    page.get_by_label("Area", exact=True).select_option(AREA)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"{live_server.base_url}/dashboard/trends?from=2019-01&to=2019-12"
                      f"&area={AREA}")


def cells(page, table_id: str, row: str) -> list[str]:
    return page.locator(f"#{table_id} tbody tr").filter(
        has=page.locator(f"th:text-is('{row}')")).locator("td").all_inner_texts()


def test_a_manager_filters_the_trends_and_reads_charts_and_tables(
        page, live_server, trends_data, problems):
    open_trends(page, live_server)
    filter_2019(page, live_server)
    assert page.locator(".trends-lead").inner_text() == (
        "5 cases reported from Jan 2019 to Dec 2019, Chellaston.")
    assert page.get_by_label("From", exact=True).input_value() == "2019-01"
    assert page.get_by_label("Area", exact=True).input_value() == AREA

    # The charts are images named by their titles, each with its summary in words.
    charts = page.locator("svg[role='img']")
    assert charts.count() == 11
    per_month = page.get_by_role("img", name="Cases reported per month")
    assert per_month.count() == 1
    assert "12 columns, Jan 2019 to Dec 2019: 5 cases in all." in (
        per_month.locator("desc").text_content())
    for index in range(charts.count()):
        name = charts.nth(index).evaluate(
            "svg => svg.getAttribute('aria-labelledby').split(' ')"
            ".map(id => document.getElementById(id).textContent).join(' ')")
        assert name.strip(), f"chart {index} has no accessible name"

    # The same numbers in tables: the month-by-month one folded until opened.
    assert cells(page, "table-per-quarter", "2019 Q1") == ["3"]
    assert cells(page, "table-characteristic", "Race or nationality") == ["3", "60.0%"]
    assert not page.locator("#table-per-month").is_visible()
    page.get_by_text("Cases reported per month: the table (12 rows)").click()
    assert page.locator("#table-per-month").is_visible()
    assert cells(page, "table-per-month", "Mar 2019") == ["3"]
    assert cells(page, "table-per-month", "May 2019") == ["2"]
    assert cells(page, "table-channel", "SMS") == ["2", "40.0%"]

    violations = axe_serious(page)
    assert not violations, describe(violations)
    assert problems.errors == [] and problems.outside_requests == []


def test_quick_periods_and_the_csv(page, live_server, trends_data, problems):
    open_trends(page, live_server)
    filter_2019(page, live_server)
    page.get_by_role("link", name="All time").click()
    page.wait_for_url(f"{live_server.base_url}/dashboard/trends?preset=all_time&area={AREA}")
    assert page.locator(".trends-lead").inner_text().startswith("5 cases reported from Mar 2019")

    page.get_by_label("From", exact=True).fill("2019-03")
    page.get_by_label("To", exact=True).fill("2019-05")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/dashboard/trends?from=2019-03&to=2019-05&area={AREA}")
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download these figures (CSV)").click()
    download = waiting.value
    assert download.suggested_filename == "hatereport-trends-2019-03-2019-05-chellaston.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    found = {(row["section"], row["period"], row["key"]): row["count"] for row in rows}
    assert found[("per_month", "2019-03", "total")] == "3"
    assert found[("per_quarter", "2019-Q2", "total")] == "2"
    assert found[("characteristic", "2019-03..2019-05", "disability")] == "2"
    assert {row["area"] for row in rows if row["section"] != "tension"} == {AREA}
    assert problems.errors == [] and problems.outside_requests == []


def test_bad_months_typed_in_the_address_are_explained(page, live_server, trends_data):
    open_trends(page, live_server)
    page.goto(live_server.base_url + "/dashboard/trends?from=2019-14&to=2019-12")
    assert "From must be a month" in page.get_by_role("alert").inner_text()
    assert page.locator(".trends-lead").inner_text().endswith("all areas.")


def test_on_a_phone_nothing_scrolls_sideways(context, live_server, trends_data):
    phone = context.new_page()
    phone.set_viewport_size({"width": 360, "height": 740})
    open_trends(phone, live_server)
    wide = phone.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert wide <= 0, f"the page is {wide}px wider than the phone"
    violations = axe_serious(phone)
    assert not violations, describe(violations)
    phone.close()


def test_an_officer_cannot_open_it(page, live_server, trends_data):
    page.goto(live_server.base_url + "/login")
    page.get_by_label("Email").fill(OWEN.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.base_url + "/cases")
    assert page.get_by_role("navigation", name="Staff").get_by_role(
        "link", name="Trends").count() == 0
    response = page.goto(live_server.base_url + "/dashboard/trends")
    assert response is not None and response.status == 403
