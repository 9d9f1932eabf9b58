"""Anonymous follow-up by SMS, on Telegram and in the web chat, through the real webhooks
(Twilio-signed requests, Telegram's secret header): the reference and secret code in one
message, from any phone or chat, read the report's status and add news to it."""

from __future__ import annotations

import json
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.casework import add_officer
from intake.db import transaction
from intake.followup import MAX_FAILURES
from intake.models import InboundMessage, OutboxMessage
from tests.channels.helpers import (
    ANONYMOUS,
    case_fields,
    conversation_of,
    deliver_all,
    drive_sms,
    drive_telegram,
    message_update,
    new_sid,
    post_update,
    row_counts,
    sms,
)
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from web.extensions import services

NEWS = "He was back at the bus stop this morning, shouting again."
OTHER_PHONE = "+447700900777"
THIRD_PHONE = "+447700900778"
OTHER_CHAT = 111222333
OFFICER_PHONE = "+447700900100"
OFFICER_CHAT = "555000111"
ADDED = "We have added this to your report"
NO_MATCH = "That reference and code do not match. Check them and try again."
TOO_MANY = "Too many tries for this reference. Please try again in an hour."
HOW_TO = "send both in one message, then any news, here or on any channel"


def add_olive(app: Flask, **alerts: str) -> None:
    """The officer covering Sinfin (where the anonymous report happened), on duty."""
    the = services(app)
    with transaction(the.sessions) as session:
        add_officer(session, name="Olive Officer", email="olive@landlord.example",
                    password="x" * 12, now=the.intake.clock(), areas=["Sinfin"], duty=True,
                    **alerts)


def secret_code(text: str) -> str:
    found = re.search(r"Your secret code: ([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{5})\.", text)
    assert found is not None, text
    return found[1]


def reporter_messages(app: Flask, reference: str) -> list[str]:
    return [event["text"] for event in case_fields(app, reference)["timeline"]
            if event["kind"] == "reporter_message"]


def stored_anywhere(app: Flask, code: str, sid: str) -> list[str]:
    """Where ``code`` is kept after the follow-up message ``sid``: its kept reply, any
    conversation, any outbound message (all decrypted)."""
    found = []
    with services(app).sessions() as session:
        kept = session.scalar(select(InboundMessage.result).where(
            InboundMessage.message_id == sid))
        if code in json.dumps(kept):
            found.append("inbound_messages")
        for payload in session.scalars(select(OutboxMessage.payload)):
            if code in json.dumps(payload):
                found.append("outbox")
    for address in (OTHER_PHONE, str(OTHER_CHAT)):
        for channel in ("sms", "telegram"):
            conversation = conversation_of(app, channel, address)
            if conversation is not None and code in json.dumps(
                    [conversation.answers, conversation.history, conversation.last_result]):
                found.append("conversations")
    return found


def test_an_anonymous_sms_reporter_follows_up_from_another_phone(
        db_app: Flask, db_client: FlaskClient, fake_twilio: FakeTwilio):
    add_olive(db_app, alerts="sms", phone=OFFICER_PHONE)
    reference, bodies = drive_sms(db_client, db_app, ANONYMOUS)
    code = secret_code(bodies[-1])
    assert HOW_TO in bodies[-1]
    assert deliver_all(db_app) == 1  # the new case's alert
    before = row_counts(db_app)

    sid = new_sid()
    [reply] = sms(db_client, f"{reference.lower()} {code.replace('-', ' ')} {NEWS}",
                  sender=OTHER_PHONE, sid=sid)

    assert "Your report is open: it is still being worked on." in reply
    assert "Your officer is Olive Officer." in reply and "No updates yet." in reply
    assert ADDED in reply and reference in reply and code not in reply
    assert reporter_messages(db_app, reference) == [NEWS]
    # Twilio's redelivery is answered the same way and adds nothing.
    assert sms(db_client, f"{reference} {code} {NEWS}", sender=OTHER_PHONE, sid=sid) == [reply]
    assert reporter_messages(db_app, reference) == [NEWS]
    # No conversation was opened for the other phone, and the code is kept nowhere.
    assert conversation_of(db_app, "sms", OTHER_PHONE) is None
    assert row_counts(db_app)["conversations"] == before["conversations"]
    assert stored_anywhere(db_app, code, sid) == []
    # The officer is alerted by SMS: the reference and a link, never the words.
    assert deliver_all(db_app) == 1
    alert = fake_twilio.messages[-1]
    assert alert["to"] == OFFICER_PHONE
    assert "New message from the reporter" in alert["body"] and reference in alert["body"]
    assert "bus stop" not in alert["body"]


def test_by_sms_a_code_alone_says_how_to_add_and_wrong_codes_lock_the_report(
        db_app: Flask, db_client: FlaskClient):
    add_olive(db_app)
    reference, bodies = drive_sms(db_client, db_app, ANONYMOUS)
    code = secret_code(bodies[-1])

    [status] = sms(db_client, f"{code} {reference}", sender=OTHER_PHONE)
    assert "send your reference and code again with your message after them" in status
    assert reporter_messages(db_app, reference) == []

    wrong = "2222-3333-44444"
    for _ in range(MAX_FAILURES):
        assert sms(db_client, f"{reference} {wrong} {NEWS}", sender=OTHER_PHONE) == [NO_MATCH]
    # An unknown reference gets the very same answer: the reference alone tells nothing.
    assert sms(db_client, f"HR-2345-6789 {code}", sender=OTHER_PHONE) == [NO_MATCH]
    # Locked, even for the right code, from any phone, and on the web page too.
    assert sms(db_client, f"{reference} {code} {NEWS}", sender=THIRD_PHONE) == [TOO_MANY]
    page = db_client.post("/followup", data={"reference": reference, "code": code})
    assert page.status_code == 429
    assert reporter_messages(db_app, reference) == []
    # The reporter's own phone, still in the conversation they reported in, is told so
    # too; what they wrote reaches their report all the same, as anything else would.
    [own] = sms(db_client, f"{reference} {code} {NEWS}")
    assert own.startswith(TOO_MANY) and ADDED in own and code not in own
    assert reporter_messages(db_app, reference) == [NEWS]
    # A made-up reference locks alike, whichever way it is tried: nothing tells it apart
    # (one wrong code for it above, three more here, the fifth on the page).
    for _ in range(MAX_FAILURES - 2):
        sms(db_client, f"HR-2345-6789 {wrong}", sender=OTHER_PHONE)
    assert db_client.post("/followup", data={"reference": "hr 2345 6789",
                                             "code": wrong}).status_code == 403
    assert sms(db_client, f"HR-2345-6789 {code}", sender=THIRD_PHONE) == [TOO_MANY]
    assert db_client.post("/followup", data={"reference": "HR-2345-6789",
                                             "code": code}).status_code == 429


def test_by_sms_danger_words_get_the_999_advice_first_whatever_the_code(
        db_app: Flask, db_client: FlaskClient):
    add_olive(db_app)
    reference, bodies = drive_sms(db_client, db_app, ANONYMOUS)
    danger = "he is outside my door right now"

    [reply] = sms(db_client, f"{reference} 2222-3333-44444 {danger}", sender=OTHER_PHONE)

    assert reply.startswith("If you are in danger, call 999 now.") and NO_MATCH in reply
    assert reporter_messages(db_app, reference) == []


def test_by_sms_a_labelled_request_is_recognised_and_the_code_kept_nowhere(
        db_app: Flask, db_client: FlaskClient):
    add_olive(db_app)
    reference, bodies = drive_sms(db_client, db_app, ANONYMOUS)
    code = secret_code(bodies[-1])
    sid = new_sid()

    [reply] = sms(db_client, f"My reference is {reference} and my code is {code}. {NEWS}",
                  sender=OTHER_PHONE, sid=sid)

    assert ADDED in reply and code not in reply
    assert reporter_messages(db_app, reference) == [NEWS]
    assert stored_anywhere(db_app, code, sid) == []


def test_an_anonymous_telegram_reporter_follows_up_from_another_chat(
        db_app: Flask, db_client: FlaskClient, fake_telegram: FakeTelegram):
    add_olive(db_app, alerts="telegram", telegram_chat=OFFICER_CHAT)
    reference = drive_telegram(db_client, db_app, fake_telegram, ANONYMOUS)
    code = secret_code(fake_telegram.sent[-1]["text"])
    assert HOW_TO in fake_telegram.sent[-1]["text"]
    deliver_all(db_app)
    request = message_update(f"{code}\n{reference}\n{NEWS}", chat=OTHER_CHAT)

    # Without Telegram's secret header nothing is read, let alone added.
    assert post_update(db_client, request, secret="not-the-secret").status_code == 403
    assert reporter_messages(db_app, reference) == []

    assert post_update(db_client, request).status_code == 200
    deliver_all(db_app)

    [reply] = [sent for sent in fake_telegram.sent if sent["chat_id"] == OTHER_CHAT]
    assert "Your report is open: it is still being worked on." in reply["text"]
    assert "Your officer is Olive Officer." in reply["text"]
    assert ADDED in reply["text"] and code not in reply["text"]
    assert reporter_messages(db_app, reference) == [NEWS]
    [alert] = [sent for sent in fake_telegram.sent
               if str(sent["chat_id"]) == OFFICER_CHAT and "New message" in sent["text"]]
    assert reference in alert["text"] and "bus stop" not in alert["text"]
    assert conversation_of(db_app, "telegram", str(OTHER_CHAT)) is None
    assert stored_anywhere(db_app, code, f"update:{request['update_id']}") == []
    # The same update delivered again is ignored.
    assert post_update(db_client, request).status_code == 200
    deliver_all(db_app)
    assert reporter_messages(db_app, reference) == [NEWS]
    assert len([sent for sent in fake_telegram.sent if sent["chat_id"] == OTHER_CHAT]) == 1


def test_in_the_web_chat_a_report_in_progress_carries_on_after_a_follow_up(
        db_app: Flask, db_client: FlaskClient):
    add_olive(db_app)
    reference, bodies = drive_sms(db_client, db_app, ANONYMOUS)
    code = secret_code(bodies[-1])
    conversation = db_client.post("/api/chat", json={}).get_json()["conversation"]
    db_client.post(f"/api/chat/{conversation}", json={"text": "no"})
    asked = db_client.get(f"/api/chat/{conversation}").get_json()["messages"][-1]

    answer = db_client.post(f"/api/chat/{conversation}",
                            json={"text": f"{reference} {code} {NEWS}",
                                  "id": "follow-up-message-1"}).get_json()

    texts = [message["text"] for message in answer["messages"]]
    assert ADDED in texts[0] and code not in json.dumps(answer)
    assert answer["messages"][-1] == asked and answer["done"] is False
    assert reporter_messages(db_app, reference) == [NEWS]
    assert db_client.get(f"/api/chat/{conversation}").get_json()["messages"][-1] == asked
