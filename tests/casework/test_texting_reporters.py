"""A named reporter who reported on the web chat (or Telegram) and gave a UK mobile for
text messages is recognised when they text from it: through the real /sms webhook, signed
as Twilio signs, the message goes onto their case and their officer is alerted. On SQLite
and PostgreSQL."""

from __future__ import annotations

from flask import Flask

from intake.cases import open_case_for_identity
from intake.outbox import identity_hash
from tests.casework.helpers import case_json, deliver_all, officer, post_form, signed_in
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


def test_a_web_reporter_who_gave_a_mobile_is_recognised_when_they_text(db_app, smtp, clock):
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_web(client, db_app, texting())
    assert case_json(db_app, reference)["channel"] == "web"
    clock.advance(days=3)  # the web conversation has long expired; the case is open
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


def test_only_that_mobile_and_only_when_given_for_texts(db_app, clock):
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    texts = drive_web(client, db_app, texting())
    calls = drive_web(client, db_app, texting(contact_method="phone",
                                              contact_details="07700 900456"))
    # Another number is a new reporter: a new report starts, nothing reaches the case.
    assert ADDED not in " ".join(text_from(client, MORE, sender="+447700900999"))
    # A mobile given for phone calls is not taken as theirs for texts.
    assert ADDED not in " ".join(text_from(client, MORE, sender="+447700900456"))
    assert messages(db_app, texts) == [] and messages(db_app, calls) == []
    with services(db_app).sessions() as session:
        found = open_case_for_identity(session, identity_hash("sms", PHONE))
        assert found is not None and found.reference == texts
        assert open_case_for_identity(session, identity_hash("sms", "+447700900456")) is None


def test_a_stop_from_that_mobile_shows_on_the_case(db_app, clock):
    client = db_app.test_client()
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    reference = drive_web(client, db_app, texting())
    assert twiml_bodies(post_signed(client, "/sms", sms_form("STOP", PHONE),
                                    signed_for=f"{PUBLIC_URL}/sms")) == []
    page = signed_in(db_app, "max@landlord.example").get(f"/cases/{reference}")
    assert "The reporter has opted out of SMS" in page.get_data(as_text=True)


def test_the_mobile_is_kept_only_as_a_keyed_hash(app, tmp_path, clock):
    client = app.test_client()
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    reference = drive_web(client, app, texting())
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
