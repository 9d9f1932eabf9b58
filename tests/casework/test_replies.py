"""Replies after submission (issue 5, point 6): a reporter's further message, on the web
chat, by SMS or on Telegram, goes onto the case's timeline in their words (encrypted), the
reporter is told so, and the officer is alerted, without the words."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.casework import disable_officer
from intake.db import transaction
from intake.models import Case, Conversation
from tests.casework.helpers import case_json, deliver_all, kinds, officer, report
from tests.channels.helpers import (
    CHAT,
    NAMED,
    PHONE,
    PUBLIC_URL,
    case_of,
    conversation_of,
    drive_telegram,
    drive_web,
    message_update,
    new_sid,
    post_signed,
    post_update,
    raw_database,
    sms_answer,
    sms_form,
    twiml_bodies,
)
from tests.fakes.telegram_api import FakeTelegram
from web.extensions import services

MORE = "They came back tonight and wrote on my wall."
ADDED = "We have added this to your report"


def reporter_messages(app: Flask, reference: str) -> list[dict]:
    return [event for event in case_json(app, reference)["timeline"]
            if event["kind"] == "reporter_message"]


def message_alerts(smtp, address: str) -> list:
    return [mail for mail in smtp.to(address) if "New message from the reporter" in mail.subject]


def test_a_message_on_the_web_chat_after_submitting_reaches_the_case(app, client, smtp,
                                                                     clock, tmp_path):
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_web(client, app, NAMED)
    conversation_id = conversation_of_web(app, reference)
    clock.advance(minutes=20)
    answer = client.post(f"/api/chat/{conversation_id}",
                         json={"text": MORE, "id": "later-message-0001"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["reference"] == reference
    assert any(ADDED in message["text"] and reference in message["text"]
               for message in body["messages"])
    # The same message sent again (a retry by the page) is answered, not added twice.
    again = client.post(f"/api/chat/{conversation_id}",
                        json={"text": MORE, "id": "later-message-0001"})
    assert again.get_json() == body
    [event] = reporter_messages(app, reference)
    assert event["text"] == MORE
    assert event["at"] == "2026-11-27T14:20:00Z"
    assert kinds(app, reference)[-2:] == ["reporter_message", "alert_queued"]
    assert MORE.encode() not in raw_database(tmp_path, "app.db")  # encrypted at rest
    assert deliver_all(app) == 2  # the new case, then the new message
    [alert] = message_alerts(smtp, "nia@landlord.example")
    assert reference in alert.subject
    assert f"https://report.example.org/cases/{reference}" in alert.body
    assert "wall" not in alert.whole and "came back" not in alert.whole


def conversation_of_web(app: Flask, reference: str) -> str:
    with services(app).sessions() as session:
        found = session.scalar(select(Conversation.id).join(
            Case, Conversation.case_id == Case.id).where(Case.reference == reference))
        assert found is not None
        return str(found)


def sms(client: FlaskClient, body: str, sid: str | None = None) -> list[str]:
    """A text from the reporter, signed for the public URL Twilio calls."""
    return twiml_bodies(post_signed(client, "/sms", sms_form(body, PHONE, sid),
                                    signed_for=f"{PUBLIC_URL}/sms"))


def drive_sms(client: FlaskClient, app: Flask) -> str:
    bodies = sms(client, "Hi")
    for _ in range(60):
        conversation = conversation_of(app, "sms", PHONE)
        assert conversation is not None
        if conversation.status == "submitted":
            return case_of(app, "sms", PHONE).reference
        bodies.extend(sms(client, sms_answer(conversation.step, NAMED[conversation.step],
                                             bodies[-1])))
    raise AssertionError("the SMS report was not submitted")


def test_a_text_after_submitting_reaches_the_case_and_alerts_the_officer(db_app, smtp,
                                                                         clock):
    client = db_app.test_client()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_sms(client, db_app)
    sid = new_sid()
    [reply] = sms(client, MORE, sid)
    assert ADDED in reply and reference in reply
    assert sms(client, MORE, sid) == [reply]  # Twilio's redelivery: answered, applied once
    [event] = reporter_messages(db_app, reference)
    assert event["text"] == MORE
    sms(client, "And a second thing.")
    assert [event["text"] for event in reporter_messages(db_app, reference)] == [
        MORE, "And a second thing."]
    assert deliver_all(db_app) == 3
    alerts = message_alerts(smtp, "nia@landlord.example")
    assert len(alerts) == 2
    for alert in alerts:
        assert reference in alert.subject
        assert "wall" not in alert.whole and "second thing" not in alert.whole


def test_a_telegram_message_after_submitting_reaches_the_case(app, client, smtp,
                                                              fake_telegram: FakeTelegram,
                                                              clock):
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_telegram(client, app, fake_telegram, NAMED)
    assert post_update(client, message_update(MORE)).status_code == 200
    deliver_all(app)
    assert ADDED in fake_telegram.sent[-1]["text"]
    assert fake_telegram.sent[-1]["chat_id"] == CHAT
    [event] = reporter_messages(app, reference)
    assert event["text"] == MORE
    assert len(message_alerts(smtp, "nia@landlord.example")) == 1


def test_a_message_on_an_unallocated_case_is_kept_for_whoever_takes_it(app, smtp, clock):
    conversation_id, reference = report(app)
    turn = services(app).intake.send(conversation_id, MORE)
    assert any(ADDED in reply.text for reply in turn.result.replies)
    assert [event["text"] for event in reporter_messages(app, reference)] == [MORE]
    assert deliver_all(app) == 0
    assert smtp.mails == []



def test_a_message_on_a_disabled_officers_case_alerts_the_managers(app, smtp, clock):
    """The case stays with its officer until a manager reallocates it, but a disabled
    officer no longer gets alerts: the reporter's message must reach someone."""
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    conversation_id, reference = report(app)
    with transaction(services(app).sessions) as session:
        disable_officer(session, "nia@landlord.example")
    services(app).intake.send(conversation_id, MORE)
    assert [event["text"] for event in reporter_messages(app, reference)] == [MORE]
    deliver_all(app)
    assert len(message_alerts(smtp, "nia@landlord.example")) == 0
    [alert] = message_alerts(smtp, "max@landlord.example")
    assert reference in alert.subject and "wall" not in alert.whole


def test_sending_the_report_again_by_sms_is_not_a_new_message(app, client, smtp, clock):
    """An SMS reporter who texts the number of "Send report" again (the first reply was
    slow) is told the report was sent; their officer is not alerted to a "message" of "1"."""
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    reference = drive_sms(client, app)
    [reply] = sms(client, "1")
    assert reference in reply and "has been sent" in reply
    assert reporter_messages(app, reference) == []
    assert deliver_all(app) == 1  # the new case only
