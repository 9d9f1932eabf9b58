"""The officer dashboard in a real browser: signing in by keyboard, my cases, the case
view, acknowledging, who may see what, the session cookie, CSRF, accessibility (axe-core),
and that nothing is fetched from anywhere but the app.

The app runs with its production cookie settings (``SESSION_COOKIE_SECURE`` left True):
Chromium treats http://127.0.0.1 as a secure context, so it keeps and sends Secure
cookies there, and the tests can check the cookie exactly as it is sent in production.

Cases are submitted beforehand through the intake service, as a reporter would, with the
named script of the engine tests: its place is in Normanton, so the case goes to the
officer covering Normanton.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select

from intake.casework import add_officer
from intake.db import transaction
from intake.models import Case
from web.extensions import services

from ..intake.test_engine import NAMED, drive
from .test_chat import axe_serious, describe

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
COOKIE = "hatereport_staff"


@dataclass(frozen=True)
class Staff:
    name: str
    email: str


OLIVE = Staff("Olive Officer", "olive.browser@landlord.example")  # covers Normanton
NED = Staff("Ned Other", "ned.browser@landlord.example")  # covers Sinfin
MINA = Staff("Mina Manager", "mina.browser@landlord.example")  # a manager


@pytest.fixture(scope="module")
def staff(live_server) -> Iterator[None]:
    """Two officers and a manager, added once to the shared live app's database."""
    the = services(live_server.app)
    now = the.intake.clock()
    with transaction(the.sessions) as session:
        add_officer(session, name=OLIVE.name, email=OLIVE.email, password=PASSWORD, now=now,
                    areas=["Normanton"])
        add_officer(session, name=NED.name, email=NED.email, password=PASSWORD, now=now,
                    areas=["Sinfin"])
        add_officer(session, name=MINA.name, email=MINA.email, password=PASSWORD, now=now,
                    role="manager")
    yield


@pytest.fixture
def reference(live_server, staff) -> str:
    """A case submitted just now through the intake service; Olive's (Normanton)."""
    service = services(live_server.app).intake
    conversation_id = drive(service, NAMED)
    found = service.send(conversation_id, "submit").result.reference
    assert found
    with services(live_server.app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == found))
        assert case is not None and case.officer is not None
        assert case.officer.email == OLIVE.email, "the Normanton case should be Olive's"
    return str(found)


# ---------------------------------------------------------------- helpers


def focused(page) -> dict:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return {id: e.id, tag: e.tagName.toLowerCase(), text: e.textContent.trim()}; }"
    )


def tab_to(page, element_id: str, most: int = 6) -> None:
    """Press Tab until the element with ``element_id`` has focus."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if focused(page)["id"] == element_id:
            return
    raise AssertionError(f"#{element_id} not reached in {most} Tabs; focus is on {focused(page)}")


def sign_in_by_keyboard(page, live_server, who: Staff) -> None:
    """Tab to each field, type, press Enter: the way someone without a mouse signs in."""
    page.goto(live_server.base_url + "/login")
    tab_to(page, "email")
    page.keyboard.type(who.email)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.base_url + "/cases")


def sign_in(page, live_server, who: Staff):
    """Sign in with the form; return the answer to its POST."""
    page.goto(live_server.base_url + "/login")
    page.get_by_label("Email").fill(who.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.base_url + "/cases")
    return answer.value


def sign_out(page, live_server, who: Staff) -> None:
    page.get_by_role("navigation", name="Staff").get_by_role(
        "button", name=f"Sign out {who.name}").click()
    page.wait_for_url(live_server.base_url + "/login")


def field(page, term: str) -> str:
    """The text of the <dd> after the <dt> called ``term`` on the case view."""
    return page.locator(f"dl.fields dt:text-is('{term}') + dd").inner_text().strip()


def timeline(page) -> list[str]:
    return [kind.strip() for kind in page.locator(".timeline .timeline__kind").all_inner_texts()]


def case_in_db(live_server, reference: str) -> Case:
    with services(live_server.app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return case


def sideways_overflow(page) -> int:
    """Pixels the page is wider than the window (the list's wide table is not checked)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - innerWidth"))


def audit_rows(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "table.cases tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))",
    )


# ---------------------------------------------------------------- tests


def test_an_officer_signs_in_by_keyboard_reads_and_acknowledges_their_case(
        page, live_server, reference, problems):
    sign_in_by_keyboard(page, live_server, OLIVE)
    assert page.get_by_role("heading", level=1).inner_text() == "My cases"
    row = page.locator("table.cases tbody tr").filter(has_text=reference)
    assert row.count() == 1
    assert "Normanton" in row.inner_text()

    page.get_by_role("link", name=reference).click()
    page.wait_for_url(f"{live_server.base_url}/cases/{reference}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Case {reference}"
    # The reporter's own words, as written, marked with their language.
    words = page.locator("section[aria-labelledby='words'] blockquote.words")
    assert words.inner_text() == NAMED["description"]
    assert words.get_attribute("lang") == "en"
    assert "Language: en." in page.locator("section[aria-labelledby='words']").inner_text()
    assert field(page, "Officer") == OLIVE.name
    assert field(page, "Acknowledged").startswith("No: escalates to managers at ")
    assert timeline(page)[:2] == ["submitted", "allocated"]

    acknowledge = page.get_by_role("button", name="Acknowledge")
    acknowledge.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.base_url}/cases/{reference}")
    page.get_by_role("status").get_by_text("Acknowledged.").wait_for()
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    assert not field(page, "Acknowledged").startswith("No")
    assert timeline(page)[-1] == "acknowledged"
    assert f"by {OLIVE.email}" in page.locator(".timeline li").last.inner_text()
    assert case_in_db(live_server, reference).acknowledged_at is not None

    # Back on the list, the case shows as acknowledged.
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="My cases").click()
    page.wait_for_url(live_server.base_url + "/cases")
    row = page.locator("table.cases tbody tr").filter(has_text=reference)
    assert row.locator("td").nth(5).inner_text() == "Yes"

    # A manager's audit log shows who read the case.
    sign_out(page, live_server, OLIVE)
    sign_in(page, live_server, MINA)
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(live_server.base_url + "/audit")
    rows = audit_rows(page)
    assert any(r[1:4] == [OLIVE.email, "view case", reference] for r in rows), rows
    assert any(r[1:4] == [OLIVE.email, "acknowledge", reference] for r in rows), rows
    assert problems.errors == []
    assert problems.outside_requests == []


def test_another_officer_neither_sees_nor_opens_the_case(page, live_server, reference):
    sign_in(page, live_server, NED)
    assert page.get_by_role("heading", level=1).inner_text() == "My cases"
    assert reference not in page.locator("main").inner_text()
    assert page.get_by_role("link", name=reference).count() == 0

    response = page.goto(f"{live_server.base_url}/cases/{reference}")
    assert response is not None and response.status == 404
    assert reference not in page.content()
    # The same answer as for a case that does not exist.
    missing = page.goto(f"{live_server.base_url}/cases/HR-ZZZZ-ZZZZ")
    assert missing is not None and missing.status == 404
    # Nor can they acknowledge it.
    status = page.evaluate(
        "ref => fetch('/cases/' + ref + '/acknowledge', {method: 'POST'})"
        ".then(r => r.status)", reference)
    assert status in (400, 404)
    assert case_in_db(live_server, reference).acknowledged_at is None


@pytest.mark.parametrize("width", [1024, 320])
def test_no_serious_accessibility_problems(page, live_server, reference, width):
    page.set_viewport_size({"width": width, "height": 720})
    page.goto(live_server.base_url + "/login")
    violations = axe_serious(page)
    assert not violations, "on the sign-in page:\n" + describe(violations)
    assert sideways_overflow(page) <= 0, "the sign-in page scrolls sideways"

    sign_in(page, live_server, OLIVE)
    violations = axe_serious(page)
    assert not violations, "on the list of cases:\n" + describe(violations)

    page.goto(f"{live_server.base_url}/cases/{reference}")
    violations = axe_serious(page)
    assert not violations, "on the case:\n" + describe(violations)
    assert sideways_overflow(page) <= 0, "the case view scrolls sideways"


def test_a_link_to_a_case_leads_through_signing_in_to_the_case(page, live_server, reference):
    """The link in an officer's alert: signed out, it asks them to sign in, then opens it."""
    page.goto(f"{live_server.base_url}/cases/{reference}")
    assert urlsplit(page.url).path == "/login"
    page.get_by_role("status").get_by_text("Please sign in to see cases.").wait_for()
    page.get_by_label("Email").fill(OLIVE.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.base_url}/cases/{reference}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Case {reference}"


@pytest.mark.parametrize("target", [
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example/",
    "/\n",
])
def test_signing_in_never_sends_the_officer_off_the_site(page, live_server, staff, problems,
                                                         target):
    page.goto(f"{live_server.base_url}/login?next={quote(target, safe='')}")
    page.get_by_label("Email").fill(OLIVE.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 302
    page.wait_for_url(lambda url: urlsplit(url).path != "/login")
    assert urlsplit(page.url).netloc == urlsplit(live_server.base_url).netloc
    assert problems.outside_requests == []


def test_the_session_cookie_and_signing_out(page, context, live_server, staff):
    answer = sign_in(page, live_server, OLIVE)
    # As sent: Chromium reports a cookie without SameSite as Lax, so look at the header too.
    set_cookie = [header["value"] for header in answer.headers_array()
                  if header["name"].lower() == "set-cookie"
                  and header["value"].startswith(COOKIE + "=")]
    assert len(set_cookie) == 1, answer.headers_array()
    attributes = {part.strip().split("=")[0].lower(): part.strip()
                  for part in set_cookie[0].split(";")[1:]}
    assert attributes.get("samesite") == "SameSite=Lax"
    assert "httponly" in attributes and "secure" in attributes

    cookies = [cookie for cookie in context.cookies() if cookie["name"] == COOKIE]
    assert len(cookies) == 1, context.cookies()
    cookie = cookies[0]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is True
    assert cookie["domain"] == urlsplit(live_server.base_url).hostname
    # A permanent cookie that lapses after the idle timeout (30 minutes), not a week.
    minutes = (cookie["expires"] - time.time()) / 60
    assert 25 < minutes <= 31, minutes
    assert COOKIE not in page.evaluate("() => document.cookie")

    sign_out(page, live_server, OLIVE)
    page.get_by_role("status").get_by_text("You have signed out.").wait_for()
    assert page.get_by_role("button", name=f"Sign out {OLIVE.name}").count() == 0
    page.goto(live_server.base_url + "/cases")
    assert urlsplit(page.url).path == "/login"
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"


def test_acknowledging_without_the_csrf_token_is_refused(page, live_server, reference):
    sign_in(page, live_server, OLIVE)
    page.goto(f"{live_server.base_url}/cases/{reference}")
    post = (
        "([ref, body]) => fetch('/cases/' + ref + '/acknowledge', {method: 'POST',"
        " headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: body})"
        ".then(r => r.status)"
    )
    assert page.evaluate(post, [reference, ""]) == 400
    assert page.evaluate(post, [reference, "csrf_token=forged"]) == 400

    assert case_in_db(live_server, reference).acknowledged_at is None
    page.reload()
    assert field(page, "Acknowledged").startswith("No: escalates")
    assert "acknowledged" not in timeline(page)
    assert page.get_by_role("button", name="Acknowledge").is_visible()

    # The same request with the form's token goes through: it was the token that was missing.
    token = page.locator("form[action$='/acknowledge'] input[name='csrf_token']").input_value()
    assert page.evaluate(post, [reference, f"csrf_token={token}"]) == 200
    assert case_in_db(live_server, reference).acknowledged_at is not None


def test_nothing_is_fetched_from_anywhere_else(page, live_server, reference, problems):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, live_server, MINA)
    page.get_by_role("link", name=reference).click()
    page.wait_for_url(f"{live_server.base_url}/cases/{reference}")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(live_server.base_url + "/audit")
    sign_out(page, live_server, MINA)

    ours = urlsplit(live_server.base_url).netloc
    assert requested, "no requests were seen"
    assert [url for url in requested if urlsplit(url).netloc != ours] == []
    assert any(url.endswith("/static/staff.css") for url in requested)
    assert problems.outside_requests == []
    assert problems.errors == []


def test_a_cookie_copied_before_signing_out_no_longer_works(page, context, live_server, staff):
    sign_in(page, live_server, OLIVE)
    copied = [cookie for cookie in context.cookies() if cookie["name"] == COOKIE]
    sign_out(page, live_server, OLIVE)
    context.clear_cookies()
    context.add_cookies(copied)
    page.goto(live_server.base_url + "/cases")
    assert urlsplit(page.url).path == "/login"

