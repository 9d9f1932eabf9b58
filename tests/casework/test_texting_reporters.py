"""A named reporter who reported on the web chat (or Telegram) and gave a UK mobile for
text messages is recognised when they reply from it to an update the service texted
there: through the real /sms webhook, signed as Twilio signs, the message goes onto their
case and their officer is alerted. Until an update went to that number, nothing proves
it is theirs (mistyped, shared, a relative's): a text from it starts a new report and is
told nothing of the case. On SQLite and PostgreSQL."""

from __future__ import annotations

from flask import Flask

from intake.cases import open_case_for_identity
from intake.outbox import identity_hash
from tests.casework.helpers import (
    case_json,
    deliver_all,
    kinds,
    officer,
    post_form,
    query_plan,
    signed_in,
    statement_of,
)
from tests.channels.helpers import (
    NAMED,
    PHONE,
    PUBLIC_URL,
    drive_web,
    post_signed,
    raw_database,
    sms_form,
    twiml_bodies,
)
from tests.fakes.twilio_api import FakeTwilio
from web.cli import run_jobs
from web.extensions import services

ADDED = "We have added this to your report"
MORE = "They were outside again this morning."
#: The mobile as a reporter might type it; Twilio sends it as PHONE (+447700900123).
TYPED = "07700 900123"


def texting(**changes: str) -> dict:
    """The named web report, with a mobile given for text messages."""
    return {**NAMED, "contact_method": "text", "contact_details": TYPED,
            "leave_messages": "yes", **changes}


def text_from(client, body: str, sender: str = PHONE) -> list[str]:
    """An SMS to our number, signed for the public URL Twilio calls."""
    return twiml_bodies(post_signed(client, "/sms", sms_form(body, sender),
                                    signed_for=f"{PUBLIC_URL}/sms"))


def messages(app: Flask, reference: str) -> list[str]:
    return [event["text"] for event in case_json(app, reference)["timeline"]
            if event["kind"] == "reporter_message"]


def update_texted(app: Flask, clock, twilio: FakeTwilio, reference: str) -> None:
    """A fortnight on, the jobs text the reporter their update, and it is delivered."""
    clock.advance(days=14, minutes=1)
    run_jobs(app)
    deliver_all(app)
    assert any(message["to"] == PHONE and reference in message["body"]
               for message in twilio.messages)


def test_before_any_update_a_text_from_the_typed_mobile_is_a_new_report(db_app, clock):
    """The number typed may be mistyped or someone else's: its holder gets a new report,
    not the victim's reference, and nothing they say reaches the victim's case."""
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_web(client, db_app, texting())
    clock.advance(days=3)
    replies = text_from(client, "Hi, I want to report racist graffiti on my door")
    assert replies and ADDED not in " ".join(replies)
    assert not any(reference in reply for reply in replies)
    text_from(client, "they are attacking me now")
    case = case_json(db_app, reference)
    assert messages(db_app, reference) == [] and case["urgent"] is False
    assert "danger_reported" not in kinds(db_app, reference)
    with services(db_app).sessions() as session:
        assert open_case_for_identity(session, identity_hash("sms", PHONE)) is None


def test_a_mobile_never_texted_stays_unrecognised(db_app, clock, fake_twilio):
    """Messages may not be left on it: no update is texted there, so a text from it is
    never taken as the reporter's, however long the case is open."""
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_web(client, db_app, texting(leave_messages="no"))
    clock.advance(days=14, minutes=1)
    run_jobs(db_app)
    deliver_all(db_app)
    assert "update_due_officer" in kinds(db_app, reference)
    assert not any(message["to"] == PHONE for message in fake_twilio.messages)
    assert ADDED not in " ".join(text_from(client, MORE))
    assert messages(db_app, reference) == []


def test_a_reply_to_a_texted_update_reaches_the_case(db_app, smtp, clock, fake_twilio):
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_web(client, db_app, texting())
    assert case_json(db_app, reference)["channel"] == "web"
    update_texted(db_app, clock, fake_twilio, reference)
    [reply] = text_from(client, MORE)
    assert ADDED in reply and reference in reply
    assert messages(db_app, reference) == [MORE]
    text_from(client, "And the car again.")
    assert messages(db_app, reference) == [MORE, "And the car again."]
    deliver_all(db_app)
    alerts = [mail for mail in smtp.to("nia@landlord.example")
              if "New message from the reporter" in mail.subject]
    assert len(alerts) == 2 and all(reference in mail.subject for mail in alerts)
    assert all("outside again" not in mail.whole for mail in alerts)


def test_only_that_mobile_and_only_when_given_for_texts(db_app, clock, fake_twilio):
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    texts = drive_web(client, db_app, texting())
    calls = drive_web(client, db_app, texting(contact_method="phone",
                                              contact_details="07700 900456"))
    update_texted(db_app, clock, fake_twilio, texts)
    # Another number is a new reporter: a new report starts, nothing reaches the case.
    assert ADDED not in " ".join(text_from(client, MORE, sender="+447700900999"))
    # A mobile given for phone calls is not taken as theirs for texts.
    assert ADDED not in " ".join(text_from(client, MORE, sender="+447700900456"))
    assert messages(db_app, texts) == [] and messages(db_app, calls) == []
    with services(db_app).sessions() as session:
        found = open_case_for_identity(session, identity_hash("sms", PHONE))
        assert found is not None and found.reference == texts
        assert open_case_for_identity(session, identity_hash("sms", "+447700900456")) is None


def test_a_stop_from_that_mobile_shows_on_the_case(db_app, clock, fake_twilio):
    client = db_app.test_client()
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    reference = drive_web(client, db_app, texting())
    update_texted(db_app, clock, fake_twilio, reference)
    assert twiml_bodies(post_signed(client, "/sms", sms_form("STOP", PHONE),
                                    signed_for=f"{PUBLIC_URL}/sms")) == []
    page = signed_in(db_app, "max@landlord.example").get(f"/cases/{reference}")
    assert "The reporter has opted out of SMS" in page.get_data(as_text=True)


def test_the_mobile_is_kept_only_as_a_keyed_hash(app, tmp_path, clock, fake_twilio):
    client = app.test_client()
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    reference = drive_web(client, app, texting())
    update_texted(app, clock, fake_twilio, reference)
    text_from(client, MORE)
    assert messages(app, reference) == [MORE]
    post_form(signed_in(app, "max@landlord.example"), reference, "close",
              outcome="resolved", victim_view="satisfied")
    raw = raw_database(tmp_path, "app.db")
    for form in (PHONE, TYPED, "7700900123", "7700 900123"):
        assert form.encode() not in raw, form
    # Closed: once that SMS conversation has expired, a text from the number starts a new
    # report rather than reopening the case.
    clock.advance(hours=73)
    assert ADDED not in " ".join(text_from(client, "Hello again"))


def test_a_sender_is_looked_up_on_the_hash_indexes(db_app, clock, fake_twilio):
    """Every inbound SMS or Telegram message without a live conversation asks for the
    sender's open case: the search reads the two hash indexes, never every open case
    (on SQLite the planner would otherwise take the status index and scan the open cases)."""
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_web(client, db_app, texting())
    update_texted(db_app, clock, fake_twilio, reference)
    sender = identity_hash("sms", PHONE)

    def look_up() -> None:
        with services(db_app).sessions() as session:
            found = open_case_for_identity(session, sender)
            assert found is not None and found.reference == reference

    statement, parameters = statement_of(db_app, "contact_identity_hash =", look_up)
    assert "status" not in statement.split("WHERE", 1)[1], statement
    # On PostgreSQL, planned beside 5,000 open cases of other reporters.
    plan = query_plan(db_app, statement, parameters, like=reference,
                      channel_identity_hash="c" * 64, contact_identity_hash="t" * 64)
    assert "ix_cases_channel_identity_hash" in plan, plan
    assert "ix_cases_contact_identity_hash" in plan, plan
    assert "SCAN cases" not in plan and "Seq Scan" not in plan, plan
