"""What the channel tests share: signed Twilio webhooks, Telegram updates, the answers of
a whole report, and ways to give them on each channel as a reporter would."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.sms import plain
from intake import conversations
from intake.cases import case_to_dict, get_case
from intake.db import transaction
from intake.flow import REVIEW_STEP, STEPS_BY_ID, AnswerType
from intake.models import Case, Conversation, InboundMessage, OptOut, OutboxMessage
from intake.outbox import enqueue, identity_hash
from tests.fakes.telegram_api import FakeTelegram
from web.extensions import services

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-auth-token-for-tests"
FROM_NUMBER = "+441332000000"
BOT_TOKEN = "123456:ABC-telegram-token-for-tests"
WEBHOOK_SECRET = "telegram-webhook-secret-for-tests"
PUBLIC_URL = "https://report.example.org"

PHONE = "+447700900123"
CHAT = 987654321012
LOCAL_SMS_URL = "http://localhost/sms"

#: A named victim's whole report, as the values the engine stores.
NAMED: dict[str, Any] = {
    "safety": "no",
    "role": "victim",
    "anonymous": "named",
    "name": "Sam Example",
    "description": "Two men shouted abuse about my religion and kicked my door.",
    "behaviours": ["verbal_abuse", "property_damage"],
    "characteristics": ["religion"],
    "when": "yesterday",
    "where_type": "home",
    "place": "12 Example Street, Normanton",
    "area": "Normanton",
    "repeated": "yes",
    "perpetrator": ["known", "resident"],
    "injuries": "no",
    "vulnerable": "no",
    "police": "reported",
    "crime_reference": "CR/123/26",
    "stop_hate": "yes",
    "support": ["counselling", "security"],
    "outcome": "I want it to stop.",
    "contact_method": "this_channel",
    "contact_times": "weekdays after 6pm",
    "leave_messages": "no",
    REVIEW_STEP: "submit",
}

#: A witness who stays anonymous, with short answers (the cheapest report on SMS).
ANONYMOUS: dict[str, Any] = {
    "safety": "no",
    "role": "witness",
    "anonymous": "anonymous",
    "description": "A man shouted racist abuse at my neighbour.",
    "behaviours": ["verbal_abuse"],
    "characteristics": ["race"],
    "when": "last night",
    "where_type": "neighbourhood",
    "place": "Sinfin estate",
    "area": "Sinfin",
    "repeated": "not_sure",
    "perpetrator": ["unknown"],
    "injuries": "no",
    "vulnerable": "no",
    "police": "not_now",
    "stop_hate": "no",
    "support": ["none"],
    "outcome": "Someone to speak to him.",
    REVIEW_STEP: "submit",
}

#: The fields a report's channel does not decide.
CHANNEL_FIELDS = ("reference", "channel", "created_at")


# -- reading the database --------------------------------------------------------------


def row_counts(app: Flask) -> dict[str, int]:
    """How many rows each table a webhook may write holds."""
    with services(app).sessions() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                or 0 for model in (Conversation, InboundMessage, OutboxMessage, OptOut, Case)}


def conversation_of(app: Flask, channel: str, address: str) -> Conversation | None:
    """The newest conversation of a phone number or chat id."""
    with services(app).sessions() as session:
        found = conversations.find_by_identity(session, channel,
                                               identity_hash(channel, address))
        return None if found is None else session.get(Conversation, found)


def step_of(app: Flask, channel: str, address: str) -> str:
    conversation = conversation_of(app, channel, address)
    assert conversation is not None
    return conversation.step


def answers_of(app: Flask, channel: str, address: str) -> dict[str, Any]:
    """The answers kept so far (decrypted by the ORM)."""
    conversation = conversation_of(app, channel, address)
    assert conversation is not None
    return dict(conversation.answers)


def case_of(app: Flask, channel: str, address: str) -> Case:
    conversation = conversation_of(app, channel, address)
    assert conversation is not None and conversation.case_id is not None
    with services(app).sessions() as session:
        case = session.get(Case, conversation.case_id)
        assert case is not None
        return case


def case_fields(app: Flask, reference: str) -> dict[str, Any]:
    """A case as JSON, without what only says which channel it came from and when."""
    with services(app).sessions() as session:
        case = get_case(session, reference)
        assert case is not None
        data = case_to_dict(case)
    for key in CHANNEL_FIELDS:
        data.pop(key)
    return data


def outbox_rows(app: Flask) -> list[OutboxMessage]:
    with services(app).sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def deliver_all(app: Flask, passes: int = 200) -> int:
    """Run the outbox until nothing more is due now; returns how many were sent."""
    sent = 0
    for _ in range(passes):
        report = services(app).outbox.deliver_due()
        sent += report.sent
        if not (report.sent or report.retrying or report.dead or report.held):
            return sent
    raise AssertionError("the outbox kept finding work")


def raw_database(directory: Path, name: str) -> bytes:
    """The SQLite database file and its -wal and -shm companions, as bytes."""
    raw = b"".join(path.read_bytes() for path in sorted(directory.glob(f"{name}*")))
    assert raw, "the database files exist"
    return raw


def queue(app: Flask, channel: str, recipient: str, payload: dict[str, Any],
          purpose: str = "update") -> int:
    """Queue one outbound message as the app's jobs do: in a transaction of its own."""
    the = services(app)
    with transaction(the.sessions) as session:
        message = enqueue(session, channel, recipient, payload, purpose, the.outbox.clock())
        assert message is not None
        return message.id


# -- SMS -------------------------------------------------------------------------------

_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def signature(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def sms_form(body: str, sender: str = PHONE, sid: str | None = None) -> dict[str, str]:
    """The form Twilio posts for an inbound SMS."""
    sid = sid or new_sid()
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
            "To": FROM_NUMBER, "Body": body, "NumMedia": "0", "NumSegments": "1"}


def post_signed(client: FlaskClient, path: str, params: dict[str, str],
                signed_for: str) -> Any:
    """POST ``params`` to ``path`` with the signature Twilio makes for ``signed_for``."""
    return client.post(path, data=params,
                       headers={"X-Twilio-Signature": signature(signed_for, params)})


def post_sms(client: FlaskClient, body: str, sender: str = PHONE, sid: str | None = None,
             signed_for: str = LOCAL_SMS_URL) -> Any:
    return post_signed(client, "/sms", sms_form(body, sender, sid), signed_for)


def twiml_bodies(response: Any) -> list[str]:
    """The texts of a TwiML answer's ``<Message>`` elements (checking its shape)."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root)
    return [child.text or "" for child in root]


def sms(client: FlaskClient, body: str, sender: str = PHONE, sid: str | None = None) -> list[str]:
    return twiml_bodies(post_sms(client, body, sender, sid))


def numbered(text: str) -> dict[str, str]:
    """The numbered menu of an SMS body: label -> the number to send."""
    return {match[2]: match[1] for match in re.finditer(r"^(\d+) (.+)$", text, re.MULTILINE)}


def label_of(step_id: str, value: str) -> str:
    """The English label a reporter reads for ``value`` at ``step_id``."""
    if step_id == REVIEW_STEP:
        return {"submit": "Send report", "edit": "Change an answer"}[value]
    if step_id == "area":
        return "Not sure" if value == "not_sure" else value
    step = STEPS_BY_ID[step_id]
    return next(choice.label for choice in step.choices if choice.value == value)


class Typed(str):
    """An answer sent as written (on SMS, instead of the number of the menu)."""


def sms_answer(step_id: str, value: Any, last_body: str) -> str:
    """What a reporter texts to give ``value``: the number(s) of the menu, else the words."""
    if isinstance(value, Typed):
        return str(value)
    step = STEPS_BY_ID[step_id]
    if step.kind not in (AnswerType.CHOICE, AnswerType.MULTI, AnswerType.YES_NO,
                         AnswerType.REVIEW):
        return str(value)
    menu = numbered(last_body)
    values = value if isinstance(value, list) else [value]
    return " ".join(menu[plain(label_of(step_id, item))] for item in values)


def drive_sms(client: FlaskClient, app: Flask, answers: dict[str, Any],
              sender: str = PHONE, first: str = "Hi", until: str | None = None
              ) -> tuple[str, list[str]]:
    """A report by SMS, answering each question the conversation is on with what a
    reporter would text: the reference (or, with ``until``, "" once that step is reached)
    and every body the reporter was sent."""
    bodies = sms(client, first, sender)
    for _ in range(60):
        conversation = conversation_of(app, "sms", sender)
        assert conversation is not None
        if conversation.step == until:
            return "", bodies
        if conversation.status == "submitted":
            return case_of(app, "sms", sender).reference, bodies
        typed = sms_answer(conversation.step, answers[conversation.step], bodies[-1])
        bodies.extend(sms(client, typed, sender))
    raise AssertionError("the SMS report was not submitted")


# -- the web chat ----------------------------------------------------------------------


def drive_web(client: FlaskClient, app: Flask, answers: dict[str, Any]) -> str:
    """The same report on the web chat's JSON API, pressing buttons as its page does."""
    conversation_id = client.post("/api/chat", json={}).get_json()["conversation"]

    def step() -> Conversation:
        with services(app).sessions() as session:
            found = session.get(Conversation, conversation_id)
            assert found is not None
            return found

    for _ in range(60):
        current = step()
        if current.status == "submitted":
            assert current.case_id is not None
            with services(app).sessions() as session:
                case = session.get(Case, current.case_id)
                assert case is not None
                return case.reference
        value = answers[current.step]
        for item in value if isinstance(value, list) else [value]:
            client.post(f"/api/chat/{conversation_id}", json={"text": item})
        if isinstance(value, list) and step().step == current.step:
            client.post(f"/api/chat/{conversation_id}", json={"text": "done"})
    raise AssertionError("the web report was not submitted")


# -- Telegram --------------------------------------------------------------------------

_updates = itertools.count(1000)


def _user(chat: int) -> dict[str, Any]:
    return {"id": chat, "is_bot": False, "first_name": "Reporter", "language_code": "en"}


def _chat(chat: int) -> dict[str, Any]:
    return {"id": chat, "type": "private", "first_name": "Reporter"}


def message_update(text: str, chat: int = CHAT, update_id: int | None = None) -> dict[str, Any]:
    update_id = next(_updates) if update_id is None else update_id
    return {"update_id": update_id,
            "message": {"message_id": update_id, "date": 1_790_000_000, "chat": _chat(chat),
                        "from": _user(chat), "text": text}}


def button_update(data: str, chat: int = CHAT, update_id: int | None = None,
                  message_id: int = 1) -> dict[str, Any]:
    update_id = next(_updates) if update_id is None else update_id
    return {"update_id": update_id,
            "callback_query": {"id": f"query-{update_id}", "from": _user(chat),
                               "chat_instance": "instance-1", "data": data,
                               "message": {"message_id": message_id, "date": 1_790_000_000,
                                           "chat": _chat(chat), "from": {
                                               "id": 123456, "is_bot": True,
                                               "first_name": "Test Bot"},
                                           "text": "a question"}}}


def post_update(client: FlaskClient, update: dict[str, Any],
                secret: str | None = WEBHOOK_SECRET) -> Any:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    return client.post("/telegram", json=update, headers=headers)


def buttons(sent: dict[str, Any]) -> list[tuple[str, str]]:
    """A sent message's inline keyboard as (label, callback_data), row by row."""
    markup = sent.get("reply_markup") or {}
    return [(button["text"], button["callback_data"])
            for row in markup.get("inline_keyboard", []) for button in row]


def drive_telegram(client: FlaskClient, app: Flask, fake: FakeTelegram,
                   answers: dict[str, Any], chat: int = CHAT, until: str | None = None) -> str:
    """A report on Telegram: buttons pressed from the keyboard the bot sent, words typed;
    every reply delivered through the outbox before the next answer. Returns the
    reference (or, with ``until``, "" once that step is reached)."""
    assert post_update(client, message_update("/start", chat)).status_code == 200
    deliver_all(app)
    for _ in range(60):
        conversation = conversation_of(app, "telegram", str(chat))
        assert conversation is not None
        if conversation.step == until:
            return ""
        if conversation.status == "submitted":
            return case_of(app, "telegram", str(chat)).reference
        value = answers[conversation.step]
        step = STEPS_BY_ID[conversation.step]
        if step.kind in (AnswerType.TEXT, AnswerType.TIME, AnswerType.PLACE):
            updates = [message_update(str(value), chat)]
        else:
            updates = []
            for item in value if isinstance(value, list) else [value]:
                updates.append(button_update(item, chat))
        for update in updates:
            offered = [data for _, data in buttons(fake.sent[-1])]
            if "callback_query" in update:
                # Press the button as offered: its data names the question it answers.
                wanted = update["callback_query"]["data"]
                pressed = [data for data in offered if data.rpartition("|")[2] == wanted]
                assert pressed, (conversation.step, wanted, offered)
                update["callback_query"]["data"] = pressed[0]
            assert post_update(client, update).status_code == 200
            deliver_all(app)
        if isinstance(value, list) and step_of(app, "telegram", str(chat)) == conversation.step:
            assert post_update(client, button_update(f"{conversation.step}|done", chat)
                               ).status_code == 200
            deliver_all(app)
    raise AssertionError("the Telegram report was not submitted")
