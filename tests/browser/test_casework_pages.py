"""Casework in a real browser: an officer's actions on a case through the forms of the
case view (risk assessment, referrals with and without consent on record, an update for
the reporter, closing), a manager reallocating, accessibility of the case view with every
form open and of the outbox, and the reporter's follow-up page (no sign-in, no cookies).

The live app and its database are shared by every browser test module, so this module
adds its own staff, covering areas no other module's officers cover (Mickleover and
Chellaston), and its cases are placed in Mickleover: they go to Cara, whatever else the
session has submitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from intake.cases import case_to_dict
from intake.casework import add_officer
from intake.db import transaction
from intake.models import Case
from intake.outbox import enqueue
from web.extensions import services

from ..intake.test_engine import NAMED, drive
from .test_chat import axe_serious, describe
from .test_dashboard import PASSWORD, Staff, field, sign_in, sign_out, timeline

pytestmark = pytest.mark.browser

CARA = Staff("Cara Caseworker", "cara.casework@landlord.example")  # covers Mickleover
DEV = Staff("Dev Second", "dev.casework@landlord.example")  # covers Chellaston
MAX = Staff("Max Manager", "max.casework@landlord.example")  # a manager

#: The named script, moved to Mickleover (the first area offered is the one named).
MICKLEOVER = dict(NAMED, place="3 Quiet Road, Mickleover", area="Mickleover")


@pytest.fixture(scope="module")
def staff(live_server) -> Iterator[None]:
    """Two officers and a manager of this module's own, added once to the shared app."""
    the = services(live_server.app)
    now = the.intake.clock()
    with transaction(the.sessions) as session:
        add_officer(session, name=CARA.name, email=CARA.email, password=PASSWORD, now=now,
                    areas=["Mickleover"])
        add_officer(session, name=DEV.name, email=DEV.email, password=PASSWORD, now=now,
                    areas=["Chellaston"])
        add_officer(session, name=MAX.name, email=MAX.email, password=PASSWORD, now=now,
                    role="manager")
    yield


def submit(live_server, script: dict[str, str]):
    """Submit a report through the intake service; the TurnResult of "submit"."""
    service = services(live_server.app).intake
    conversation_id = drive(service, script)
    result = service.send(conversation_id, "submit").result
    assert result.reference
    return result


@pytest.fixture
def reference(live_server, staff) -> str:
    """A named case submitted just now; Cara's (Mickleover)."""
    found = str(submit(live_server, MICKLEOVER).reference)
    case = case_in_db(live_server, found)
    assert case["officer"]["email"] == CARA.email, "the Mickleover case should be Cara's"
    return found


@pytest.fixture
def anonymous(live_server, staff) -> tuple[str, str]:
    """An anonymous case submitted just now: its reference and secret code."""
    result = submit(live_server, dict(MICKLEOVER, anonymous="anonymous"))
    assert result.followup_code
    return str(result.reference), str(result.followup_code)


# ---------------------------------------------------------------- helpers


def case_in_db(live_server, reference: str) -> dict:
    with services(live_server.app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return case_to_dict(case)


def open_form(page, summary: str):
    """Open the <details> whose <summary> is ``summary`` with a click; its form."""
    details = page.locator("details").filter(
        has=page.locator("summary", has_text=summary))
    expect(details).to_have_count(1)
    details.locator("summary").click()
    expect(details).to_have_attribute("open", "")
    return details.locator("form")


def send(page, button) -> None:
    """Click a form's button and wait for the page the POST redirects to."""
    with page.expect_navigation():
        button.click()


def notice(page):
    """The flashed message(s) at the top of the page."""
    return page.get_by_role("status")


def open_case(page, live_server, reference: str) -> None:
    response = page.goto(f"{live_server.base_url}/cases/{reference}")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")


def open_every_form(page) -> int:
    """Open each closed <details> on the page by clicking its summary; how many there are."""
    summaries = page.locator("details > summary")
    for index in range(summaries.count()):
        summary = summaries.nth(index)
        summary.click()
        expect(summary.locator("xpath=..")).to_have_attribute("open", "")
    return summaries.count()


# ---------------------------------------------------------------- the officer's actions


def test_an_officer_assesses_refers_writes_an_update_and_closes_the_case(
        page, live_server, reference, problems):
    sign_in(page, live_server, CARA)
    open_case(page, live_server, reference)
    expect(page.locator("#risk + p strong").first).to_have_text("not assessed yet")

    # The risk assessment, by keyboard once the form is open: 4 x 4 = 16, very high.
    form = open_form(page, "Risk assessment")
    form.get_by_label("Likelihood of further harm").focus()
    page.keyboard.type("4")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "impact"
    page.keyboard.type("4")
    review = date.today() + timedelta(days=28)
    form.get_by_label("Next review").fill(review.isoformat())
    form.get_by_label("Notes").focus()
    page.keyboard.type("Second incident this month.")
    with page.expect_navigation():
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == (
            "Record risk assessment")
        page.keyboard.press("Enter")
    expect(notice(page).get_by_text("Recorded.", exact=True)).to_be_visible()
    risk = page.locator("section[aria-labelledby='risk']")
    expect(risk).to_contain_text("Current rating: very high")
    expect(risk).to_contain_text(f"next review {review.isoformat()}")
    assert timeline(page)[-1] == "risk assessment"

    # A referral to Stop Hate UK: they said yes to it in their report.
    form = open_form(page, "Referral")
    form.get_by_label("Referred to").select_option(label="Stop Hate UK")
    form.get_by_label("Basis for sharing").select_option(label="The reporter's consent")
    send(page, form.get_by_role("button", name="Record referral"))
    expect(notice(page).get_by_text("Recorded.", exact=True)).to_be_visible()
    assert timeline(page)[-1] == "referral"

    # To the police with "consent" and no note: they told the police themselves and never
    # asked us to pass it on, so there is no consent on record and it is refused.
    form = open_form(page, "Referral")
    form.get_by_label("Referred to").select_option(label="The police")
    form.get_by_label("Basis for sharing").select_option(label="The reporter's consent")
    send(page, form.get_by_role("button", name="Record referral"))
    expect(notice(page)).to_contain_text(
        "Not recorded: no consent to this referral is on record: write how and when the "
        "reporter gave it, or record a safeguarding reason.")
    assert timeline(page).count("referral") == 1

    # An update for the reporter, to go with their next fortnightly update.
    page.get_by_label("Write an update for the reporter").fill(
        "We have spoken to the neighbours and fitted a door camera.")
    send(page, page.get_by_role("button", name="Save the update"))
    expect(notice(page)).to_contain_text("Saved. It goes to the reporter with their next update")
    assert timeline(page)[-1] == "update written"

    # Closing, with the outcome and the victim's view of it.
    form = open_form(page, "Close the case")
    form.get_by_label("Outcome", exact=True).select_option(label="Resolved")
    form.get_by_label("The victim's view of the outcome").select_option(label="Satisfied")
    send(page, form.get_by_role("button", name="Close the case"))
    expect(notice(page).get_by_text("The case is closed.", exact=True)).to_be_visible()
    expect(risk).to_contain_text("Status: closed since")
    # No more action forms on a closed case.
    expect(page.get_by_role("heading", name="Record an action")).to_have_count(0)
    expect(page.locator("details")).to_have_count(0)
    for name in ("Record contact", "Record referral", "Record risk assessment",
                 "Close the case"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    assert timeline(page)[-1] == "closed"

    stored = case_in_db(live_server, reference)
    assert stored["status"] == "closed"
    kinds = [event["kind"] for event in stored["timeline"]]
    assert kinds[-4:] == ["risk_assessment", "referral", "update_written", "closed"], kinds
    risk_event = next(e for e in stored["timeline"] if e["kind"] == "risk_assessment")
    assert (risk_event["likelihood"], risk_event["impact"], risk_event["score"],
            risk_event["rating"]) == (4, 4, 16, "very_high")
    assert risk_event["text"] == "Second incident this month."
    referral = next(e for e in stored["timeline"] if e["kind"] == "referral")
    assert (referral["to"], referral["basis"], referral["consent_in_report"]) == (
        "stop_hate_uk", "consent", True)
    closed = stored["timeline"][-1]
    assert (closed["outcome"], closed["victim_view"]) == ("resolved", "satisfied")
    assert problems.errors == []
    assert problems.outside_requests == []


def test_a_manager_reallocates_and_the_old_officer_loses_the_case(
        page, live_server, reference, problems):
    sign_in(page, live_server, MAX)
    open_case(page, live_server, reference)
    assert field(page, "Officer") == CARA.name

    form = open_form(page, "Reallocate (managers)")
    form.get_by_label("Officer").select_option(label=f"{DEV.name} (Chellaston)")
    form.get_by_label("Why").fill("The reporter asked for a different officer.")
    send(page, form.get_by_role("button", name="Reallocate"))
    expect(notice(page).get_by_text("Reallocated: the new officer has been alerted.",
                                    exact=True)).to_be_visible()
    assert field(page, "Officer") == DEV.name
    assert field(page, "Acknowledged").startswith("No")
    last = page.locator(".timeline li").filter(
        has=page.locator(".timeline__kind", has_text="allocated")).last
    expect(last).to_contain_text("reallocated: The reporter asked for a different officer.")
    expect(last).to_contain_text(f"by {MAX.email}")
    assert case_in_db(live_server, reference)["officer"]["email"] == DEV.email
    sign_out(page, live_server, MAX)

    # The old officer: not on their list, and the same 404 as a case that does not exist.
    sign_in(page, live_server, CARA)
    expect(page.get_by_role("link", name=reference)).to_have_count(0)
    response = page.goto(f"{live_server.base_url}/cases/{reference}")
    assert response is not None and response.status == 404
    assert reference not in page.content()
    page.goto(live_server.base_url + "/cases")  # the 404 page has no staff navigation
    sign_out(page, live_server, CARA)

    # The new officer has it.
    sign_in(page, live_server, DEV)
    expect(page.get_by_role("link", name=reference)).to_have_count(1)
    open_case(page, live_server, reference)
    assert field(page, "Officer") == DEV.name
    # The one console error expected: Chromium logs the 404 the old officer was given.
    assert [error for error in problems.errors if "status of 404" not in error] == []
    assert problems.outside_requests == []


# ---------------------------------------------------------------- accessibility


def test_the_case_view_with_every_form_open_and_the_outbox_pass_axe(
        page, live_server, reference):
    # A dead letter, so the outbox shows its table as well.
    the = services(live_server.app)
    with transaction(the.sessions) as session:
        message = enqueue(session, "sms", "+447700900654", {"text": "private words"},
                          "update", the.intake.clock())
        message.status, message.attempts, message.last_error = "dead", 20, "twilio HTTP 400"

    sign_in(page, live_server, MAX)  # a manager's case view has every form, reallocation too
    open_case(page, live_server, reference)
    assert open_every_form(page) == 7
    expect(page.locator("details:not([open])")).to_have_count(0)
    violations = axe_serious(page)
    assert not violations, "on the case view with its forms open:\n" + describe(violations)

    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Outbox").click()
    page.wait_for_url(live_server.base_url + "/outbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
    expect(page.get_by_role("region", name="Dead letters")).to_contain_text("twilio HTTP 400")
    assert "private words" not in page.content()
    violations = axe_serious(page)
    assert not violations, "on the outbox:\n" + describe(violations)


# ---------------------------------------------------------------- the reporter's follow-up


def check_report(page, reference: str, code: str, button: str = "Check") -> None:
    """Type the reference and code into the follow-up form and press its button."""
    page.locator("#reference").click()
    page.keyboard.type(reference)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "code"
    page.keyboard.type(code)
    send(page, page.get_by_role("button", name=button))


def test_a_reporter_checks_on_their_report_and_adds_to_it_without_cookies(
        page, context, live_server, anonymous, problems):
    reference, code = anonymous
    page.goto(live_server.base_url + "/followup")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check on your report")
    assert page.locator("html").get_attribute("dir") == "ltr"
    violations = axe_serious(page)
    assert not violations, "on the follow-up form:\n" + describe(violations)

    check_report(page, reference, code)
    expect(page.get_by_role("heading", name=f"Your report {reference}")).to_be_visible()
    expect(page.get_by_text("Your report is open", exact=False)).to_be_visible()
    expect(page.get_by_text(f"Your officer is {CARA.name}.")).to_be_visible()
    expect(page.get_by_text("No updates yet.")).to_be_visible()
    violations = axe_serious(page)
    assert not violations, "on the report's status:\n" + describe(violations)

    page.get_by_label("Your message").click()
    page.keyboard.type("It happened again last night.")
    send(page, page.get_by_role("button", name="Send"))
    expect(page.get_by_role("status")).to_have_text(
        f"Thank you. We have added this to your report {reference}. Your officer will see it.")
    violations = axe_serious(page)
    assert not violations, "after adding a message:\n" + describe(violations)

    messages = [event["text"] for event in case_in_db(live_server, reference)["timeline"]
                if event["kind"] == "reporter_message"]
    assert messages == ["It happened again last night."]
    assert context.cookies() == []
    assert page.evaluate("() => document.cookie") == ""
    assert problems.errors == []
    assert problems.outside_requests == []


def test_the_follow_up_page_in_arabic_is_right_to_left_and_passes_axe(
        page, context, live_server, anonymous, problems):
    reference, code = anonymous
    page.goto(live_server.base_url + "/followup?lang=ar")
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    title = page.get_by_role("heading", level=1).inner_text()
    assert title and title != "Check on your report"
    violations = axe_serious(page)
    assert not violations, "on the Arabic follow-up form:\n" + describe(violations)

    # The reference and code are typed left to right, whatever the page's direction.
    assert page.locator("#reference").get_attribute("dir") == "ltr"
    page.locator("#reference").click()
    page.keyboard.type(reference)
    page.keyboard.press("Tab")
    page.keyboard.type(code)
    send(page, page.locator("form button[type='submit']"))
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    expect(page.locator("#status-heading")).to_contain_text(reference)
    violations = axe_serious(page)
    assert not violations, "on the Arabic status page:\n" + describe(violations)
    assert context.cookies() == []
    assert problems.errors == []
    assert problems.outside_requests == []


def test_a_wrong_code_is_refused_on_the_page(page, context, live_server, anonymous):
    reference, code = anonymous
    wrong = "WRONG123" if code != "WRONG123" else "WRONG456"
    page.goto(live_server.base_url + "/followup")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        check_report(page, reference, wrong)
    assert answer.value.status == 403
    expect(page.get_by_role("alert")).to_have_text(
        "That reference and code do not match. Check them and try again.")
    # Nothing about the report is shown; the form is offered again, reference kept.
    expect(page.get_by_text("Your report is open")).to_have_count(0)
    assert CARA.name not in page.content()
    expect(page.locator("#reference")).to_have_value(reference)
    expect(page.locator("#code")).to_have_value("")
    violations = axe_serious(page)
    assert not violations, "on the refusal:\n" + describe(violations)
    assert context.cookies() == []
