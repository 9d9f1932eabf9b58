"""Anonymous follow-up on any channel: a message carrying a reference and a secret code
reads the case's status and adds news to it, through the intake service every channel
uses, without touching the conversation it came in on."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from intake import followup
from intake.cases import case_to_dict, create_case, get_case, new_followup_code
from intake.casework import Casework, add_event, add_officer
from intake.db import transaction
from intake.engine import Engine
from intake.followup import MAX_FAILURES, parse
from intake.i18n import gettext
from intake.models import Case, Conversation, InboundMessage, Officer, OutboxMessage
from intake.outbox import identity_hash
from intake.service import IntakeService

from .test_engine import NAMED, drive

REFERENCE = "HR-7K3M-Q9PD"
CODE = "X4TW-B2CD-EF3GH"
NEWS = "They came back last night and wrote on my door."
ANONYMOUS = dict(NAMED, anonymous="2")
OTHER_PHONE = "+447700900999"

NO_MATCH = "That reference and code do not match. Check them and try again."
TOO_MANY = "Too many tries for this reference. Please try again in an hour."
ADDED = "We have added this to your report"
HOW_TO_ADD = "To add to your report, send your reference and code again"


# -- recognising a request -----------------------------------------------------------


@pytest.mark.parametrize(("message", "news"), [
    (f"{REFERENCE} {CODE}", ""),
    (f"{REFERENCE.lower()} {CODE.lower()}", ""),
    ("HR 7K3M Q9PD X4TW B2CD EF3GH", ""),
    ("hr7k3mq9pd x4twb2cdef3gh", ""),
    (f"{CODE} {REFERENCE}", ""),
    (f"{CODE}, {REFERENCE}: {NEWS}", NEWS),
    (f"{REFERENCE}\n{CODE}\n{NEWS}", NEWS),
    (f"{REFERENCE}-{CODE}", ""),
    (f"  \"{REFERENCE}\" - {CODE} - {NEWS}  ", NEWS),
    (f"{REFERENCE} X4TW\u2013B2CD\u2013EF3GH {NEWS}", NEWS),  # a phone's en dashes
    (f"{REFERENCE} X\u0664TW-B\u06f2CD-EF3GH {NEWS}", NEWS),  # Arabic-Indic digits
])
def test_a_reference_and_code_are_recognised_however_they_are_typed(message, news):
    request = parse(message)
    assert request is not None
    assert (request.reference, request.code, request.message) == (REFERENCE, CODE, news)


def test_a_code_without_a_digit_split_by_spaces_counts_in_capitals_only():
    request = parse(f"{REFERENCE} ABCD EFGH JKLMN they came back")
    assert request is not None
    assert (request.code, request.message) == ("ABCD-EFGH-JKLMN", "they came back")
    assert parse(f"{REFERENCE} abcd efgh jklmn") is None
    assert parse(f"{REFERENCE} abcd-efgh-jklmn") is not None


#: The symbols of references and codes (no 0, 1, I or O).
SYMBOLS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def test_every_code_the_service_gives_is_recognised():
    for _ in range(300):
        code = new_followup_code()
        assert set(code) <= {*SYMBOLS, "-"}
        request = parse(f"{REFERENCE} {code}")
        assert request is not None and request.code == code


@given(reference=st.text(SYMBOLS, min_size=8, max_size=8),
       code=st.text(SYMBOLS, min_size=13, max_size=13),
       join=st.sampled_from(["-", "", " ", " - ", "\u2013"]),
       reference_join=st.sampled_from(["-", "", " "]),
       lower=st.booleans(), code_first=st.booleans(),
       news=st.sampled_from(["", NEWS, "1", "999", "- and more"]))
@settings(max_examples=300, deadline=None)
def test_a_reference_and_code_are_recognised_in_any_typing(reference, code, join,
                                                           reference_join, lower,
                                                           code_first, news):
    reference = f"HR-{reference[:4]}-{reference[4:]}"
    code = f"{code[:4]}-{code[4:8]}-{code[8:]}"
    typed_code = join.join(code.split("-"))
    typed_reference = reference_join.join(reference.split("-"))
    if lower:
        typed_code, typed_reference = typed_code.lower(), typed_reference.lower()
    pair = [typed_code, typed_reference] if code_first else [typed_reference, typed_code]
    request = parse(" ".join([*pair, news]))
    if join == " " and lower and not any(char.isdigit() for char in code):
        assert request is None  # as likely three words as a code
        return
    assert request is not None
    assert (request.reference, request.code) == (reference, code)
    assert request.message == news.lstrip("- ")


@pytest.mark.parametrize("message", [
    *NAMED.values(),
    "HR-7K3M-Q9PD",  # the reference alone
    CODE,  # the code alone
    f"My reference is {REFERENCE} and my code is {CODE}",  # words first: not a request
    f"{REFERENCE} they were there again",  # three words after a reference, not a code
    f"{REFERENCE} They Were There again",
    f"they were there {REFERENCE}",
    f"{REFERENCE} {CODE}X more",  # one symbol too many
    f"{REFERENCE} {CODE[:-1]}",  # one too few
    f"{REFERENCE} X4TW-B2CD-EF3GO",  # O is never in a code
    "help", "999", "stop", "",
])
def test_ordinary_messages_are_not_taken_for_a_request(message):
    assert parse(message) is None


def test_the_code_is_never_in_a_requests_repr():
    request = parse(f"{REFERENCE} {CODE} {NEWS}")
    assert request is not None
    assert CODE not in repr(request) and "X4TW" not in repr(request)


# -- the service, as every channel uses it -------------------------------------------


def casework_service(sessions: sessionmaker[Session], engine: Engine, clock) -> IntakeService:
    """The intake service with casework, as the app wires it, and an officer to alert."""
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            # The shared database keeps what earlier tests' casework wrote.
            session.execute(text("TRUNCATE officers, case_events, outbox, inbound_messages, "
                                 "audit_log RESTART IDENTITY CASCADE"))
        add_officer(session, name="Olive Officer", email="olive@landlord.example",
                    password="x" * 12, now=clock(), areas=["Normanton"], duty=True)
    return IntakeService(sessions, engine, clock=clock, casework=Casework())


def anonymous_report(service: IntakeService) -> tuple[str, str]:
    """An anonymous report sent on the web chat: its reference and secret code."""
    conversation_id = drive(service, ANONYMOUS)
    result = service.send(conversation_id, "submit").result
    assert result.reference and result.followup_code
    return result.reference, result.followup_code


def texts(turn) -> str:
    return "\n".join(reply.text for reply in turn.result.replies)


def timeline(service: IntakeService, reference: str) -> list[dict]:
    with service.sessions() as session:
        case = get_case(session, reference)
        assert case is not None
        return list(case_to_dict(case)["timeline"])


def counts(service: IntakeService) -> dict[str, int]:
    with service.sessions() as session:
        return {model.__tablename__: len(session.scalars(select(model)).all())
                for model in (Conversation, InboundMessage, OutboxMessage, Case)}


_ids = iter(range(1, 10_000))


def text_in(service: IntakeService, message: str, sender: str = OTHER_PHONE,
            channel: str = "sms"):
    """A message from a phone number (or chat), as the SMS and Telegram webhooks pass it
    on: by the keyed hash of the sender."""
    return service.receive(channel, identity_hash(channel, sender), message,
                           f"SM{next(_ids):032d}")


def test_a_reference_and_code_from_another_phone_show_the_status_and_add_the_news(
        sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    with transaction(sessions) as session:
        case = get_case(session, reference)
        officer = session.scalars(select(Officer)).one()
        assert case is not None
        add_event(session, case, "update_written", clock(), officer=officer,
                  text="We have written to the people involved.")
    before = counts(service)
    clock.advance(minutes=30)

    turn = text_in(service, f"{reference.lower()} {code.replace('-', ' ')} {NEWS}")

    reply = texts(turn)
    assert f"Your report {reference}" in reply
    assert "Your report is open: it is still being worked on." in reply
    assert "Your officer is Olive Officer." in reply
    assert "We have written to the people involved." in reply
    assert ADDED in reply and HOW_TO_ADD not in reply
    assert code not in reply
    events = timeline(service, reference)
    assert [event["text"] for event in events if event["kind"] == "reporter_message"] == [NEWS]
    assert events[-1]["kind"] == "alert_queued"
    after = counts(service)
    # No conversation was opened for the phone it came from; the alert was queued.
    assert after["conversations"] == before["conversations"]
    assert after["outbox"] == before["outbox"] + 1
    assert turn.conversation_id == ""


def test_without_news_the_reply_says_how_to_add_and_nothing_is_added(sessions, engine,
                                                                     clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)

    reply = texts(text_in(service, f"{code} {reference}"))

    assert "No updates yet." in reply and HOW_TO_ADD in reply and ADDED not in reply
    assert [event for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == []


def test_danger_in_the_news_makes_the_case_urgent_and_says_call_999(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)

    reply = texts(text_in(service, f"{reference} {code} they are outside my door"))

    assert "call 999" in reply and ADDED in reply
    assert "danger_reported" in [event["kind"] for event in timeline(service, reference)]
    with service.sessions() as session:
        case = get_case(session, reference)
        assert case is not None and case.urgent


def test_the_reply_is_in_the_reports_language(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    with transaction(sessions) as session:
        case, code = create_case(session, answers={"anonymous": "anonymous",
                                                   "description": "Krzyczał."},
                                 channel="web", language="pl", urgent=False, now=clock())
        reference = case.reference
    assert code is not None

    reply = texts(text_in(service, f"{reference} {code}"))

    assert reply.startswith(gettext("pl", "Your report %(reference)s", reference=reference))
    assert gettext("pl", "Your report is open: it is still being worked on.") in reply
    # A wrong code says so in the conversation's language (English without one).
    assert texts(text_in(service, f"{reference} {new_followup_code()}")) == NO_MATCH


def test_a_wrong_code_and_an_unknown_reference_get_the_same_answer(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    wrong = new_followup_code()
    assert wrong != code

    wrong_code = text_in(service, f"{reference} {wrong} {NEWS}")
    no_case = text_in(service, f"HR-2222-3333 {code} {NEWS}")

    assert texts(wrong_code) == texts(no_case) == NO_MATCH
    assert wrong_code.result.to_json() == no_case.result.to_json()
    assert [event for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == []


def test_wrong_codes_count_on_the_case_and_lock_it_after_five(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)

    for tries in range(1, MAX_FAILURES):
        assert texts(text_in(service, f"{reference} {new_followup_code()}")) == NO_MATCH
        with service.sessions() as session:
            case = get_case(session, reference)
            assert case is not None and case.followup_failures == tries
    assert texts(text_in(service, f"{reference} {new_followup_code()}")) == NO_MATCH

    # Locked on the case itself: another process (a new guard) refuses even the right
    # code, on any channel, with news or without, and adds nothing.
    other = IntakeService(sessions, engine, clock=clock, casework=Casework())
    for service_now, channel in ((service, "sms"), (other, "telegram")):
        turn = text_in(service_now, f"{reference} {code} {NEWS}", channel=channel)
        assert texts(turn) == TOO_MANY
    with service.sessions() as session:
        case = get_case(session, reference)
        assert case is not None and case.followup_locked_until == datetime(2026, 11, 27, 15, 0)
    assert [event for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == []

    clock.advance(hours=1, seconds=1)
    assert ADDED in texts(text_in(other, f"{reference} {code} {NEWS}"))


def test_an_unknown_reference_is_limited_like_a_real_one(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    for _ in range(MAX_FAILURES):
        text_in(service, f"HR-2222-3333 {new_followup_code()}")
    assert service.followup_guard.blocked("HR-2222-3333")
    # An unknown reference locks like a real one: nothing tells them apart.
    assert texts(text_in(service, f"HR-2222-3333 {new_followup_code()}")) == TOO_MANY


def conversation_row(service: IntakeService, conversation_id: str) -> dict:
    """The conversation as stored, every column (answers and last reply decrypted)."""
    with service.sessions() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return {column.key: getattr(conversation, column.key)
                for column in Conversation.__table__.columns}


def test_a_request_mid_report_leaves_the_conversation_as_it_was(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    sender = "+447700900555"
    started = text_in(service, "Hi", sender=sender)
    text_in(service, "no", sender=sender)  # not in danger: now asked who they are
    before = conversation_row(service, started.conversation_id)
    clock.advance(minutes=5)

    turn = text_in(service, f"{reference} {code} {NEWS}", sender=sender)

    assert turn.conversation_id == started.conversation_id
    after = conversation_row(service, started.conversation_id)
    assert after == before  # step, answers, history, time: all untouched
    reply = texts(turn)
    assert ADDED in reply
    # Then the question they were on, so their report carries on.
    assert reply.endswith(texts(service.current(started.conversation_id)))
    assert turn.result.asking == before["step"]
    # The code is kept nowhere: not in the reply kept for a redelivery, not in the
    # conversation (decrypted or raw).
    with service.sessions() as session:
        kept = session.scalars(select(InboundMessage.result)).all()
        raw = session.execute(text("SELECT * FROM conversations")).all()
    assert code not in json.dumps(kept) and code.replace("-", "") not in json.dumps(kept)
    assert code not in json.dumps(after, default=str)
    assert code not in repr(raw)


def test_a_request_in_the_web_chat_is_answered_without_moving_it(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    conversation_id = service.start("web").conversation_id
    service.send(conversation_id, "no")
    before = conversation_row(service, conversation_id)

    turn = service.send(conversation_id, f"{code} {reference} {NEWS}", message_id="m" * 20)
    again = service.send(conversation_id, f"{code} {reference} {NEWS}", message_id="m" * 20)

    assert ADDED in texts(turn) and again.result.to_json() == turn.result.to_json()
    assert [event["text"] for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == [NEWS]  # a retry adds it once
    after = conversation_row(service, conversation_id)
    for column in ("step", "status", "mode", "answers", "history", "urgent", "updated_at",
                   "case_id", "locale"):
        assert after[column] == before[column], column
    assert code not in json.dumps(after, default=str)
    assert not turn.result.done and turn.result.reference is None
    # The report being written carries on where it was.
    assert service.send(conversation_id, "It happened to me").result.asking != before["step"]


def test_a_named_reporter_is_not_matched_by_reference_alone(sessions, engine, clock):
    """A named case has no code: any code is wrong, and nothing about the case shows."""
    service = casework_service(sessions, engine, clock)
    conversation_id = drive(service, NAMED)
    reference = service.send(conversation_id, "submit").result.reference
    assert reference is not None

    assert texts(text_in(service, f"{reference} {new_followup_code()} {NEWS}")) == NO_MATCH
    assert [event for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == []


def test_the_submission_says_how_to_follow_up_on_any_channel(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    conversation_id = drive(service, ANONYMOUS)
    reply = texts(service.send(conversation_id, "submit"))
    assert "send both in one message, then any news, here or on any channel" in reply
    assert followup.HOW_TO_ADD not in reply
