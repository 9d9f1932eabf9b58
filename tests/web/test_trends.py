"""The managers' trends page and its CSV over HTTP: the numbers, the filters, who may see
it, the audit log, formula injection, and that nothing names a person, place or case."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html import unescape

import pytest
from sqlalchemy import select

from intake.cases import create_case
from intake.casework import add_officer, close_case, record_action
from intake.db import transaction
from intake.models import AuditEntry, Case, Officer
from web import create_app
from web.extensions import services
from web.trends import Filter, csv_safe, parse_filter

from ..intake.test_stats import ANSWERS
from .test_dashboard import PASSWORD, sign_in

MANAGER = "mina@landlord.example"
OFFICER = "olive@landlord.example"


@pytest.fixture
def app(tmp_path, data_key, clock):
    from ..conftest import HASH_KEY

    app = create_app({
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'trends.db'}",
        "DATA_KEY": data_key,
        "HASH_KEY": HASH_KEY,
        "SESSION_COOKIE_SECURE": False,
        "AREAS": "Alvaston,Normanton,Sinfin,Darley",
    })
    the = services(app)
    the.intake.clock = clock
    with transaction(the.sessions) as session:
        add_officer(session, name="Olive Officer", email=OFFICER, password=PASSWORD,
                    now=clock(), areas=["Normanton"])
        add_officer(session, name="Mina Manager", email=MANAGER, password=PASSWORD,
                    now=clock(), role="manager")
    yield app
    the.db.dispose()


def _case(session, when, **changes):
    case, _ = create_case(session, answers={**ANSWERS, **changes}, channel="web",
                          language="en", urgent=False, now=when)
    return case


@pytest.fixture
def cases(app):
    """Nine cases: one before the default period (the 12 months to November 2026), one
    with no area, one closed, a repeat at a place and by a victim, and a burst of four
    in Sinfin in the last fortnight (the clock is 27 November 2026)."""
    the = services(app)
    with transaction(the.sessions) as session:
        mina = session.scalar(select(Officer).where(Officer.email == MANAGER))
        _case(session, datetime(2025, 10, 1, 12), area="Sinfin", place="9 Yew Lane",
              contact_details="07700 900001")
        anonymous, _ = create_case(session, answers={
            **ANSWERS, "anonymous": "anonymous", "area": None, "characteristics": [],
            "behaviours": ["online"], "where_type": "online", "repeated": None},
            channel="telegram", language="ur", urgent=False, now=datetime(2026, 6, 15, 12))
        closed, _ = create_case(session, answers={
            **ANSWERS, "area": "Alvaston", "characteristics": ["disability"],
            "behaviours": ["verbal_abuse"], "place": "1 Elm Road",
            "contact_details": "07700 900002", "repeated": "no"},
            channel="sms", language="pl", urgent=False, now=datetime(2026, 10, 10, 12))
        close_case(session, closed, mina, "resolved", "satisfied", None,
                   datetime(2026, 10, 20, 12))
        first = _case(session, datetime(2026, 10, 20, 12))  # 12, Oak Street, Normanton
        first.updates_on_time, first.updates_late = 3, 1
        again = _case(session, datetime(2026, 11, 5, 12))  # the same place and victim
        record_action(session, again, mina, "contact",
                      {"method": "phone", "note": "Called them back"},
                      datetime(2026, 11, 7, 0))  # a day and a half later
        for day in range(20, 24):
            _case(session, datetime(2026, 11, day, 12), area="Sinfin",
                  characteristics=["race"], behaviours=["intimidation"],
                  place=f"{day} Ash Road", contact_details=f"07700 9002{day}")
        assert anonymous.area is None
    return None


def manager(app):
    client = app.test_client()
    assert sign_in(client, MANAGER).status_code == 302
    return client


def table(page: str, table_id: str) -> dict[str, list[str]]:
    """The rows of a table of the page: row header -> the cells' texts."""
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.S)
    assert match, f"no table {table_id}"
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", match.group(0), re.S):
        header = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if header:
            rows[unescape(header.group(1))] = [
                unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return rows


def lead(page: str) -> str:
    match = re.search(r'class="trends-lead">(.*?)</p>', page, re.S)
    assert match
    return re.sub(r"<[^>]+>", "", match.group(1))


def alerts(page: str) -> str:
    match = re.search(r'role="alert">(.*?)</div>', page, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def audit_entries(app, action: str) -> list[AuditEntry]:
    with services(app).sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.id)))


# -- the numbers ---------------------------------------------------------------------------


def test_the_page_shows_the_period_in_tables(app, cases):
    page = manager(app).get("/dashboard/trends").get_data(as_text=True)
    assert lead(page) == "8 cases reported from Dec 2025 to Nov 2026, all areas."
    per_month = table(page, "table-per-month")
    assert list(per_month)[0] == "Dec 2025" and list(per_month)[-1] == "Nov 2026"
    assert per_month["Jun 2026"] == ["1"] and per_month["Oct 2026"] == ["2"]
    assert per_month["Nov 2026"] == ["5"] and per_month["Jan 2026"] == ["0"]
    assert table(page, "table-per-quarter") == {
        "2025 Q4 (part: Dec 2025)": ["0"], "2026 Q1": ["0"], "2026 Q2": ["1"],
        "2026 Q3": ["0"], "2026 Q4 (part: Oct 2026 to Nov 2026)": ["7"]}
    assert table(page, "table-status")["Oct 2026"] == ["1", "1"]
    assert table(page, "table-status-total") == {"Open": ["7"], "Closed": ["1"]}
    assert table(page, "table-outcome")["Resolved"] == ["1", "100.0%"]
    assert table(page, "table-classification") == {
        "Hate crime": ["2", "25.0%"], "Hate incident": ["6", "75.0%"]}
    characteristic = table(page, "table-characteristic")
    assert characteristic["Race or nationality"] == ["6", "75.0%"]
    assert characteristic["Religion or belief"] == ["2", "25.0%"]
    assert characteristic["Disability"] == ["1", "12.5%"]
    assert characteristic["Not recorded"] == ["1", "12.5%"]
    assert characteristic["Sexual orientation"] == ["0", "0.0%"]  # known, none reported
    assert list(characteristic)[0] == "Race or nationality"  # most first
    behaviour = table(page, "table-behaviour")
    assert behaviour["Intimidation"] == ["4", "50.0%"]
    assert behaviour["Abuse or insults"] == ["3", "37.5%"]
    assert behaviour["Online abuse"] == ["1", "12.5%"]
    assert table(page, "table-area") == {
        "Sinfin": ["4", "50.0%"], "Normanton": ["2", "25.0%"], "Alvaston": ["1", "12.5%"],
        "No area recorded": ["1", "12.5%"], "Darley": ["0", "0.0%"]}
    assert table(page, "table-channel") == {
        "Web chat": ["6", "75.0%"], "SMS": ["1", "12.5%"], "Telegram": ["1", "12.5%"]}
    assert table(page, "table-language") == {
        "English": ["6", "75.0%"], "Polish": ["1", "12.5%"], "Urdu": ["1", "12.5%"]}
    contact = table(page, "table-first-contact")
    assert contact["After 1 to 3 days"] == ["1", "12.5%"]
    assert contact["Anonymous (cannot be contacted)"] == ["1", "12.5%"]
    assert contact["Not contacted yet"] == ["6", "75.0%"]
    assert table(page, "table-first-contact-mean") == {
        "Cases contacted": ["1"], "Mean days to first contact": ["1.5"]}
    assert "Mean time to first contact: 1.5 days, over 1 contacted case." in page
    assert "Anonymous reporters cannot be contacted" in page
    assert table(page, "table-updates") == {
        "Updates on time": ["3"], "Updates late": ["1"], "Share on time": ["75.0%"]}
    assert "75.0% of the 4 updates due were on time." in page
    fortnightly = table(page, "table-fortnightly")
    assert fortnightly["At least one update late"] == ["1", "12.5%"]
    assert fortnightly["Anonymous (no updates: the follow-up page only)"] == ["1", "12.5%"]
    assert table(page, "table-repeats") == {
        "Reports at a place reported before": ["1"],
        "Places that became repeat locations": ["1"],
        "Reports by a victim who reported before": ["1"],
        "Victims who became repeat victims": ["1"]}
    assert table(page, "table-happened-before")["No"] == ["1", "12.5%"]


def test_every_chart_is_an_accessible_svg_next_to_its_table(app, cases):
    page = manager(app).get("/dashboard/trends").get_data(as_text=True)
    charts = re.findall(r'<svg [^>]*role="img"[^>]*aria-labelledby="([a-z0-9-]+)-title', page)
    assert len(charts) == len(set(charts)) == 11
    for chart_id in charts:
        assert f'<title id="{chart_id}-title">' in page
    assert page.count("<caption") == page.count("<table") >= 12
    assert "<script" not in page and "style=" not in page  # CSP: no inline script or style
    assert 'scope="col"' in page and 'scope="row"' in page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_the_tension_table_shows_each_area_now(app, cases):
    page = manager(app).get("/dashboard/trends").get_data(as_text=True)
    tension = table(page, "table-tension")
    assert tension["Sinfin"] == ["4", "0.5", "Yes"]
    assert tension["Normanton"] == ["0", "1.0", "No"]
    assert tension["Darley"] == ["0", "0.5", "No"]
    # The area filter keeps its row only.
    page = manager(app).get("/dashboard/trends?area=Sinfin").get_data(as_text=True)
    assert list(table(page, "table-tension")) == ["Sinfin"]


# -- the filters -----------------------------------------------------------------------------


def test_period_and_area_filters(app, cases):
    client = manager(app)
    page = client.get("/dashboard/trends?from=2025-10&to=2026-10&area=Sinfin").get_data(
        as_text=True)
    assert lead(page) == "1 case reported from Oct 2025 to Oct 2026, Sinfin."
    assert table(page, "table-area") == {"Sinfin": ["1", "100.0%"]}
    assert 'value="2025-10"' in page and '<option value="Sinfin" selected>' in page
    page = client.get("/dashboard/trends?area=(none)").get_data(as_text=True)
    assert lead(page) == "1 case reported from Dec 2025 to Nov 2026, no area recorded."
    assert table(page, "table-channel") == {"Telegram": ["1", "100.0%"]}
    assert table(page, "table-area") == {"No area recorded": ["1", "100.0%"]}
    page = client.get("/dashboard/trends?from=2026-11&to=2026-11").get_data(as_text=True)
    assert lead(page) == "5 cases reported in Nov 2026, all areas."


def test_quick_periods(app, cases):
    client = manager(app)
    page = client.get("/dashboard/trends?preset=this_quarter").get_data(as_text=True)
    assert lead(page) == "7 cases reported from Oct 2026 to Nov 2026, all areas."
    page = client.get("/dashboard/trends?preset=all_time&area=Sinfin").get_data(as_text=True)
    assert lead(page) == "5 cases reported from Oct 2025 to Nov 2026, Sinfin."
    page = client.get("/dashboard/trends?preset=last_12_months").get_data(as_text=True)
    assert lead(page).startswith("8 cases reported from Dec 2025 to Nov 2026")
    assert ('href="/dashboard/trends?preset=this_quarter&amp;area=(none)"'
            in client.get("/dashboard/trends?area=(none)").get_data(as_text=True))


@pytest.mark.parametrize(("query", "problem"), [
    ("from=2026-13&to=2026-11", "From must be a month written like 2026-11"),
    ("from=2026-01&to=next%20year", "To must be a month written like 2026-11"),
    ("from=%3Cscript%3E", "From must be a month"),
    # Digits of other scripts are not months (they would match nothing in the summary).
    ("from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-01", "From must be a month"),
    ("from=2026-10&to=2026-01", "The period starts after it ends"),
    ("from=2001-01&to=2026-11", "At most 20 years can be shown at once"),
    ("preset=yesterday", "That quick period is not one of the choices"),
    ("area=Atlantis", "There is no area of that name: showing all areas."),
    ("area=%00", "There is no area of that name"),
])
def test_bad_filters_say_so_and_show_the_defaults(app, cases, query, problem):
    response = manager(app).get(f"/dashboard/trends?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert problem in alerts(page)
    assert lead(page) == "8 cases reported from Dec 2025 to Nov 2026, all areas."
    assert "<script>" not in page


def test_parse_filter_defaults_and_edges():
    areas = ["Abbey", "Darley"]
    assert parse_filter({}, this_month="2026-01", first_month=None, areas=areas) == (
        Filter("2025-02", "2026-01"), [])
    # One end alone: twelve months from it, or to this month.
    assert parse_filter({"to": "2025-06"}, this_month="2026-01", first_month=None,
                        areas=areas)[0] == Filter("2024-07", "2025-06")
    assert parse_filter({"from": "2025-06"}, this_month="2026-01", first_month=None,
                        areas=areas)[0] == Filter("2025-06", "2026-01")
    assert parse_filter({"preset": "this_quarter"}, this_month="2026-01", first_month=None,
                        areas=areas)[0] == Filter("2026-01", "2026-01")
    assert parse_filter({"preset": "all_time"}, this_month="2026-01", first_month=None,
                        areas=areas)[0] == Filter("2026-01", "2026-01")
    filt, problems = parse_filter({"preset": "all_time"}, this_month="2026-01",
                                  first_month="1990-01", areas=areas)
    assert filt == Filter("2006-02", "2026-01") and "latest 20 years" in problems[0]
    assert parse_filter({"area": "(none)"}, this_month="2026-01", first_month=None,
                        areas=areas)[0].area == ""
    assert Filter("2026-01", "2026-03", "Abbey Rise/North").filename() == (
        "hatereport-trends-2026-01-2026-03-abbey-rise-north.csv")
    assert Filter("2026-01", "2026-03", "").filename() == (
        "hatereport-trends-2026-01-2026-03-no-area.csv")


# -- who may see it ------------------------------------------------------------------------


def test_signed_out_people_are_sent_to_sign_in(app):
    client = app.test_client()
    for path in ("/dashboard/trends", "/dashboard/trends.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    assert audit_entries(app, "view_trends") == []


def test_officers_are_refused_and_it_is_audited(app, cases):
    client = app.test_client()
    sign_in(client, OFFICER)
    assert client.get("/dashboard/trends").status_code == 403
    assert client.get("/dashboard/trends.csv").status_code == 403
    assert "Trends" not in client.get("/cases").get_data(as_text=True)
    denied = audit_entries(app, "denied")
    assert [entry.data for entry in denied] == [{"reason": "trends"}] * 2
    assert audit_entries(app, "view_trends") == []


def test_managers_find_it_in_the_menu(app):
    page = manager(app).get("/cases").get_data(as_text=True)
    assert '<a href="/dashboard/trends">Trends</a>' in page


def test_every_view_and_download_is_audited_with_the_filter(app, cases):
    client = manager(app)
    client.get("/dashboard/trends")
    client.get("/dashboard/trends?from=2026-01&to=2026-03&area=Sinfin")
    client.get("/dashboard/trends.csv?area=(none)")
    views = audit_entries(app, "view_trends")
    assert [entry.data for entry in views] == [
        {"from": "2025-12", "to": "2026-11", "area": "all"},
        {"from": "2026-01", "to": "2026-03", "area": "Sinfin"}]
    assert all(entry.officer.email == MANAGER and entry.case_id is None for entry in views)
    assert [entry.data for entry in audit_entries(app, "download_trends")] == [
        {"from": "2025-12", "to": "2026-11", "area": "(none)"}]


def test_nothing_names_a_person_a_place_or_a_case(app, cases):
    client = manager(app)
    with services(app).sessions() as session:
        references = list(session.scalars(select(Case.reference)))
    for path in ("/dashboard/trends", "/dashboard/trends?preset=all_time",
                 "/dashboard/trends.csv?preset=all_time"):
        text = client.get(path).get_data(as_text=True)
        for secret in ("Amira", "Oak Street", "Elm Road", "Ash Road", "07700",
                       "shouted", *references):
            assert secret not in text, (path, secret)


# -- the CSV -------------------------------------------------------------------------------


def test_the_csv_has_every_number_of_the_page(app, cases):
    client = manager(app)
    response = client.get("/dashboard/trends.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=hatereport-trends-2025-12-2026-11.csv")
    rows = read_csv(response)
    assert list(rows[0]) == ["section", "period", "area", "key", "label", "count"]
    found = {(row["section"], row["period"], row["area"], row["key"]): row["count"]
             for row in rows}
    period = "2025-12..2026-11"
    assert found[("per_month", "2026-11", "all", "total")] == "5"
    assert found[("per_quarter", "2026-Q4", "all", "total")] == "7"
    assert found[("status_per_month", "2026-10", "all", "closed")] == "1"
    assert found[("characteristic", period, "all", "race")] == "6"
    assert found[("characteristic", period, "all", "association")] == "0"
    assert found[("area", period, "Sinfin", "total")] == "4"
    assert found[("area", period, "(none)", "total")] == "1"
    assert found[("language", period, "all", "ur")] == "1"
    assert found[("first_contact", period, "all", "within_3_days")] == "1"
    assert found[("first_contact_mean", period, "all", "mean_days")] == "1.50"
    assert found[("updates", period, "all", "share_on_time")] == "75.00"
    assert found[("repeats", period, "all", "victim:became_repeat")] == "1"
    assert found[("tension", "last-14-days", "Sinfin", "observed")] == "4"
    assert found[("tension", "last-14-days", "Sinfin", "elevated")] == "1"
    assert found[("tension", "last-14-days", "Sinfin", "expected")] == "0.50"
    # Every number in every table of the page is a row of the CSV.
    page = client.get("/dashboard/trends").get_data(as_text=True)
    cells = len(re.findall(r'<td class="num">', page))
    shares = len(re.findall(r'<td class="num">[\d.]+%</td>', page))
    share_rows = sum(1 for row in rows if row["key"] == "share_on_time")
    assert len(rows) == cells - shares + share_rows


def test_the_csv_for_an_area(app, cases):
    response = manager(app).get("/dashboard/trends.csv?from=2025-10&to=2026-11&area=Sinfin")
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=hatereport-trends-2025-10-2026-11-sinfin.csv")
    rows = read_csv(response)
    assert {row["area"] for row in rows if row["section"] != "area"} == {"Sinfin"}
    total = [row for row in rows if row["section"] == "per_month" and row["count"] != "0"]
    assert [(row["period"], row["count"]) for row in total] == [("2025-10", "1"),
                                                                 ("2026-11", "4")]


def test_formulas_in_area_names_are_neutralised(app, cases):
    the = services(app)
    with transaction(the.sessions) as session:
        for area in ("=HYPERLINK(\"http://x.example\")", "+1+1", "-2", "@SUM(A1)"):
            _case(session, datetime(2026, 9, 1, 12), area=area,
                  contact_details="07700 900999", place=f"{area} Road")
    response = manager(app).get("/dashboard/trends.csv")
    body = response.get_data(as_text=True)
    areas = {row["area"] for row in read_csv(response)}
    assert {"'=HYPERLINK(\"http://x.example\")", "'+1+1", "'-2", "'@SUM(A1)"} <= areas
    for line in body.splitlines():
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "-", "@")), line
    # On the page they are text, escaped.
    page = manager(app).get("/dashboard/trends").get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://x.example&#34;)" in page
    assert csv_safe("\tcmd") == "'\tcmd" and csv_safe("Normanton") == "Normanton"


def test_an_empty_database_draws_empty_charts(app):
    page = manager(app).get("/dashboard/trends").get_data(as_text=True)
    assert lead(page) == "0 cases reported from Dec 2025 to Nov 2026, all areas."
    assert "No update has been due yet." in page
    assert "No case in the period has been contacted yet." in page
    rows = read_csv(manager(app).get("/dashboard/trends.csv?preset=all_time"))
    assert {row["period"] for row in rows if row["section"] == "per_month"} == {"2026-11"}


def test_the_page_reads_the_summary_not_the_cases(app, cases):
    """Only the tension figures read the cases table, over their recent weeks."""
    from sqlalchemy import event

    statements: list[str] = []
    db = services(app).db
    client = manager(app)

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db, "before_cursor_execute", seen)
    try:
        client.get("/dashboard/trends?preset=all_time")
    finally:
        event.remove(db, "before_cursor_execute", seen)
    on_cases = [s for s in statements if re.search(r"\bFROM cases\b", s)]
    assert len(on_cases) == 1 and "cases.created_at >=" in on_cases[0]
    assert sum("FROM stats_counts" in s for s in statements) <= 5


def test_the_clock_decides_the_default_period(app, cases, clock):
    clock.now = datetime(2027, 1, 1, 0, 30)
    page = manager(app).get("/dashboard/trends").get_data(as_text=True)
    assert lead(page) == "8 cases reported from Feb 2026 to Jan 2027, all areas."
    clock.now = datetime(2026, 5, 31, 23, 30)  # 00:30 on 1 June in London
    page = manager(app).get("/dashboard/trends").get_data(as_text=True)
    assert lead(page).endswith("from Jul 2025 to Jun 2026, all areas.")
