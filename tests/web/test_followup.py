"""Following up a report with its reference and secret code (anonymous reporters)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from intake.cases import case_to_dict
from intake.casework import add_event, add_officer
from intake.db import transaction
from intake.followup import LIMIT
from intake.i18n import gettext
from intake.models import Attempt, Case, Officer, OutboxMessage
from web import create_app
from web.extensions import services

from ..intake.test_engine import NAMED, drive


@pytest.fixture
def app(tmp_path, data_key, clock):
    from ..conftest import HASH_KEY

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
                      "DATA_KEY": data_key, "HASH_KEY": HASH_KEY})
    services(app).intake.clock = clock
    with transaction(services(app).sessions) as session:
        add_officer(session, name="Olive Officer", email="olive@landlord.example",
                    password="x" * 12, now=clock(), areas=["Normanton"], duty=True)
    yield app
    services(app).db.dispose()


def anonymous_report(app, locale: str | None = None) -> tuple[str, str]:
    service = services(app).intake
    conversation_id = service.start("web", locale=locale).conversation_id
    script = dict(NAMED, anonymous="anonymous")
    if locale:
        script.update(role="victim", where_type="home", repeated="yes", injuries="no",
                      vulnerable="no", stop_hate="yes", perpetrator="known", safety="no",
                      description="Sąsiad krzyczał na mnie.")
    drive(service, script, conversation_id=conversation_id)
    result = service.send(conversation_id, "submit").result
    assert result.reference and result.followup_code
    return result.reference, result.followup_code


def test_the_right_code_shows_the_status_and_the_officers_updates(app, clock):
    reference, code = anonymous_report(app)
    with transaction(services(app).sessions) as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        officer = session.scalars(select(Officer)).one()
        add_event(session, case, "update_written", clock(), officer=officer,
                  text="We have written to the people involved.")
    client = app.test_client()
    page = client.post("/followup", data={"reference": reference.lower(), "code": code})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Your report is open" in text and "Olive Officer" in text
    assert "We have written to the people involved." in text
    assert client.get_cookie("hatereport_staff") is None and not page.headers.getlist(
        "Set-Cookie")


def test_a_wrong_code_is_refused_and_guessing_stops_after_five(app):
    reference, code = anonymous_report(app)
    client = app.test_client()
    for _ in range(5):
        response = client.post("/followup", data={"reference": reference, "code": "WRONG123"})
        assert response.status_code == 403
        assert "do not match" in response.get_data(as_text=True)
    response = client.post("/followup", data={"reference": reference, "code": code})
    assert response.status_code == 429  # even the right code, until the hour has passed
    assert client.post("/followup", data={"reference": "HR-NONE-NONE",
                                          "code": code}).status_code == 403


def test_a_made_up_reference_gets_the_same_answers_as_a_real_one(app):
    reference, code = anonymous_report(app)
    client = app.test_client()
    answers = {}
    for candidate in (reference, "HR-2345-6789"):
        answers[candidate] = [
            (response.status_code, response.get_data(as_text=True).replace(candidate, "R"))
            for response in (client.post("/followup", data={"reference": candidate,
                                                            "code": "WRONG123"})
                             for _ in range(6))]
    assert answers[reference] == answers["HR-2345-6789"]
    assert [status for status, _ in answers[reference]] == [403] * 5 + [429]


def test_a_message_added_goes_onto_the_case_and_to_the_officer(app):
    reference, code = anonymous_report(app)
    client = app.test_client()
    page = client.post("/followup", data={"reference": reference, "code": code,
                                          "message": "It happened again last night."})
    assert "We have added this to your report" in page.get_data(as_text=True)
    with services(app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        messages = [event for event in case_to_dict(case)["timeline"]
                    if event["kind"] == "reporter_message"]
        assert [event["text"] for event in messages] == ["It happened again last night."]
        alerts = session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "alert")).all()
        assert any("New message from the reporter" in row.payload["text"] for row in alerts)
        assert all("last night" not in row.payload["text"] for row in alerts)


def test_the_page_is_in_the_reports_language(app):
    reference, code = anonymous_report(app, locale="pl")
    page = app.test_client().post("/followup", data={"reference": reference, "code": code})
    text = page.get_data(as_text=True)
    assert '<html lang="pl" dir="ltr">' in text
    assert gettext("pl", "Your report is open: it is still being worked on.") in text
    form = app.test_client().get("/followup?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in form


def test_the_form_without_a_chosen_language_answers_in_the_reports(app):
    reference, code = anonymous_report(app, locale="pl")
    client = app.test_client()
    form = client.get("/followup").get_data(as_text=True)
    assert 'name="lang"' not in form
    page = client.post("/followup", data={"reference": reference, "code": code})
    assert '<html lang="pl" dir="ltr">' in page.get_data(as_text=True)
    chosen = client.post("/followup", data={"reference": reference, "code": code,
                                            "lang": "en"})
    assert '<html lang="en" dir="ltr">' in chosen.get_data(as_text=True)


def test_the_lock_is_kept_in_the_database_across_restarts(app, tmp_path, data_key, clock):
    from ..conftest import HASH_KEY

    reference, code = anonymous_report(app)
    client = app.test_client()
    for _ in range(5):
        client.post("/followup", data={"reference": reference, "code": "AAAA-AAAA-AAAAA"})
    with services(app).sessions() as session:
        row = session.get(Attempt, LIMIT.key(reference))
        assert row.locked_until == clock() + timedelta(hours=1)
    restarted = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
                            "DATA_KEY": data_key, "HASH_KEY": HASH_KEY})
    services(restarted).intake.clock = clock
    response = restarted.test_client().post("/followup", data={"reference": reference,
                                                               "code": code})
    assert response.status_code == 429
    clock.advance(hours=1, seconds=1)
    response = restarted.test_client().post(
        "/followup", data={"reference": reference, "code": code.lower().replace("-", " ")})
    assert response.status_code == 200
    services(restarted).db.dispose()


DANGER = "If you are in danger, call 999 now."


@pytest.mark.parametrize("code", ["WRONG123", None])
def test_danger_words_get_the_999_advice_first_whatever_the_code(app, code):
    reference, right = anonymous_report(app)
    client = app.test_client()
    if code is not None:  # a wrong code, then locked
        for _ in range(5):
            client.post("/followup", data={"reference": reference, "code": code})
    response = client.post("/followup", data={"reference": reference, "code": right,
                                              "message": "They are attacking me now"})
    page = response.get_data(as_text=True)
    assert response.status_code == (429 if code else 200)
    assert DANGER in page
    error = "Too many tries" if code else "Your report is open"
    assert page.index(DANGER) < page.index(error)
    with services(app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case.urgent is (code is None)


def test_a_code_in_the_message_is_not_kept_on_the_case(app):
    reference, code = anonymous_report(app)
    page = app.test_client().post("/followup", data={
        "reference": reference, "code": code,
        "message": f"Is {code.lower()} the right code? They came back."})
    assert "We have added this to your report" in page.get_data(as_text=True)
    with services(app).sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert [event["text"] for event in case_to_dict(case)["timeline"]
                if event["kind"] == "reporter_message"] == [
                    "Is [code removed] the right code? They came back."]
