"""Anonymous follow-up on any channel: a message carrying a reference and a secret code
reads the case's status and adds news to it, through the intake service every channel
uses, without touching the conversation it came in on."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from intake import followup, guard
from intake.cases import case_to_dict, create_case, get_case, new_followup_code
from intake.casework import Casework, add_event, add_officer
from intake.db import transaction
from intake.engine import EMERGENCY_WORDS, Engine
from intake.followup import LIMIT, MAX_FAILURES, mask_codes, parse
from intake.i18n import gettext
from intake.models import Attempt, Case, Conversation, InboundMessage, Officer, OutboxMessage
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


def test_an_older_code_without_a_digit_counts_as_given_never_split_by_spaces_alone():
    """Codes given before every code had a digit (one in forty had none)."""
    for typed in ("ABCD-EFGH-JKLMN", "abcd-efgh-jklmn", "abcdefghjklmn",
                  "code abcd efgh jklmn", "my code is ABCD EFGH JKLMN"):
        request = parse(f"{REFERENCE} {typed} they came back")
        assert request is not None, typed
        assert (request.code, request.message) == ("ABCD-EFGH-JKLMN", "they came back")
    for words in ("ABCD EFGH JKLMN", "abcd efgh jklmn", "THEY WERE THERE", "They Were There",
                  "ABCD-EFGH JKLMN"):
        assert parse(f"{REFERENCE} {words} they came back") is None, words


#: The symbols of references and codes (no 0, 1, I or O).
SYMBOLS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def test_every_code_the_service_gives_has_a_digit_and_is_recognised_however_typed():
    for _ in range(300):
        code = new_followup_code()
        assert set(code) <= {*SYMBOLS, "-"} and re.search("[2-9]", code)
        for typed in (code, code.lower().replace("-", " "), code.replace("-", "")):
            request = parse(f"{REFERENCE} {typed}")
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
    if join == " " and not any(char.isdigit() for char in code):
        assert request is None  # as likely three words as a code (no new code is so)
        return
    assert request is not None
    assert (request.reference, request.code) == (reference, code)
    assert request.message == news.lstrip("- ")


#: A request however it is put: labelled, wrapped in words, or the confirmation pasted.
CONFIRMATION = (f"Thank you. Your report is sent. Reference: {REFERENCE}.\n\nYour secret "
                f"code: {CODE}. Keep both private. To check on it, send both in one message, "
                "then any news, here or on any channel.\n\nYour report is confidential. We "
                "only share it if you agreed, or if a child or vulnerable adult may be at "
                "risk.\n\nIf you are in danger, call 999 now.")


@pytest.mark.parametrize(("message", "news"), [
    (f"My reference is {REFERENCE} and my code is {CODE}. {NEWS}", NEWS),
    (f"Reference: {REFERENCE} Code: {CODE} {NEWS}", NEWS),
    (f"Ref {REFERENCE} {CODE} {NEWS}", NEWS),
    (f"ref no. {REFERENCE}, secret code {CODE.lower()}", ""),
    (f"{NEWS} My ref is {REFERENCE} and the code is {CODE}", NEWS[:-1]),
    (f"Hello\n{REFERENCE}\n(code {CODE})\n{NEWS}", f"Hello {NEWS}"),
    (CONFIRMATION, ""),
    (f"{CONFIRMATION}\n{NEWS}", NEWS),
    (f"{NEWS}\n\n{CONFIRMATION}", NEWS),
])
def test_a_reference_and_code_are_recognised_anywhere_with_their_labels(message, news):
    request = parse(message)
    assert request is not None
    assert (request.reference, request.code, request.message) == (REFERENCE, CODE, news)


def test_the_confirmation_pasted_back_in_its_language_is_not_news():
    pasted = "\n".join([
        gettext("pl", "Thank you. Your report is sent. Reference: %(reference)s.",
                reference=REFERENCE),
        gettext("pl", "Your secret code: %(code)s. Keep both private. To check on it, "
                "send both in one message, then any news, here or on any channel.",
                code=CODE),
        gettext("pl", "If you are in danger, call 999 now."),
        "Znowu przyszli.",
    ])
    request = parse(pasted)
    assert request is not None and request.code == CODE
    assert request.message == "Znowu przyszli."


@pytest.mark.parametrize("message", [
    *NAMED.values(),
    "HR-7K3M-Q9PD",  # the reference alone
    CODE,  # the code alone
    f"My code is {CODE}, I lost the reference",
    f"{REFERENCE} they were there again",  # three words after a reference, not a code
    f"{REFERENCE} They Were There again",
    f"{REFERENCE} THEY WERE THERE AGAIN WITH A KNIFE, HELP",
    f"{REFERENCE} abcd efgh jklmn",  # an older code split by spaces: as likely words
    f"they were there {REFERENCE}",
    f"{REFERENCE} {CODE}X more",  # one symbol too many
    f"{REFERENCE} {CODE[:-1]}",  # one too few
    f"{REFERENCE} X4TW-B2CD-EF3GO",  # O is never in a code
    "help", "999", "stop", "",
])
def test_ordinary_messages_are_not_taken_for_a_request(message):
    assert parse(message) is None


@pytest.mark.parametrize(("text", "kept"), [
    (f"my code is {CODE}, is that right?", "my code is [code removed], is that right?"),
    (f"{REFERENCE} {CODE.lower().replace('-', ' ')} and more",
     f"{REFERENCE} [code removed] and more"),
    (f"{REFERENCE} abcd-efgh-jklmn and more", f"{REFERENCE} [code removed] and more"),
    (f"{REFERENCE} code abcd efgh jklmn", f"{REFERENCE} code [code removed]"),
    ("X4TW\u200b-B2CD-EF3GH", "[code removed]"),  # a zero-width space hides nothing
    (f"{REFERENCE} they were there again", f"{REFERENCE} they were there again"),
    ("abcd-efgh-jklmn", "abcd-efgh-jklmn"),  # no digit and no reference: words
    (NEWS, NEWS),
])
def test_a_code_in_text_kept_for_staff_is_masked(text, kept):
    assert mask_codes(text) == kept


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


def attempts_row(service: IntakeService, reference: str) -> Attempt | None:
    """What the attempts table holds for a reference (keyed by a hash of it)."""
    with service.sessions() as session:
        return session.get(Attempt, LIMIT.key(reference))


def test_wrong_codes_lock_the_reference_after_five_in_every_process(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)

    for tries in range(1, MAX_FAILURES):
        assert texts(text_in(service, f"{reference} {new_followup_code()}")) == NO_MATCH
        row = attempts_row(service, reference)
        assert row is not None and row.failures == tries and row.locked_until is None
    assert texts(text_in(service, f"{reference} {new_followup_code()}")) == NO_MATCH

    # Locked in the database: another process (or this one restarted) refuses even the
    # right code, on any channel, with news or without, and adds nothing.
    other = IntakeService(sessions, engine, clock=clock, casework=Casework())
    for service_now, channel in ((service, "sms"), (other, "telegram")):
        turn = text_in(service_now, f"{reference} {code} {NEWS}", channel=channel)
        assert texts(turn) == TOO_MANY
    row = attempts_row(service, reference)
    assert row is not None and row.locked_until == datetime(2026, 11, 27, 15, 0)
    assert [event for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == []

    clock.advance(hours=1, seconds=1)
    assert ADDED in texts(text_in(other, f"{reference} {code} {NEWS}"))
    assert attempts_row(service, reference) is None  # the right code forgets the failures


def test_a_real_reference_and_a_made_up_one_lock_alike_in_every_process(sessions, engine,
                                                                        clock):
    service = casework_service(sessions, engine, clock)
    reference, _ = anonymous_report(service)
    made_up = "HR-2345-6789"
    for candidate in (reference, made_up):
        for _ in range(MAX_FAILURES):
            assert texts(text_in(service, f"{candidate} {new_followup_code()}")) == NO_MATCH
    # Another gunicorn worker, the Telegram poller, or this one after a restart:
    other = IntakeService(sessions, engine, clock=clock, casework=Casework())
    real = text_in(other, f"{reference} {new_followup_code()}")
    fake = text_in(other, f"{made_up} {new_followup_code()}")
    assert texts(real) == texts(fake) == TOO_MANY
    assert real.result.to_json() == fake.result.to_json()
    with service.sessions() as session:
        assert guard.is_locked(session, LIMIT, made_up, clock())
        # Neither reference is kept, only keyed hashes of them.
        kept = session.execute(text("SELECT * FROM attempts")).all()
    assert len(kept) == 2 and reference not in repr(kept) and made_up not in repr(kept)


def test_a_lock_lasts_an_hour_from_the_fifth_failure_however_slow(sessions, engine, clock):
    """Four tries, a fifth 59 minutes later: two minutes on, both references are locked
    (a real and a made-up one alike) until an hour after the fifth."""
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    made_up = "HR-2345-6789"
    for candidate in (reference, made_up):
        for _ in range(MAX_FAILURES - 1):
            text_in(service, f"{candidate} {new_followup_code()}")
    clock.advance(minutes=59)
    for candidate in (reference, made_up):
        text_in(service, f"{candidate} {new_followup_code()}")
    clock.advance(minutes=2)
    assert texts(text_in(service, f"{reference} {code}")) == TOO_MANY
    assert texts(text_in(service, f"{made_up} {new_followup_code()}")) == TOO_MANY
    clock.advance(minutes=58, seconds=1)
    assert HOW_TO_ADD in texts(text_in(service, f"{reference} {code}"))


def test_failures_older_than_the_hour_start_the_count_again(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    for _ in range(MAX_FAILURES - 1):
        text_in(service, f"{reference} {new_followup_code()}")
    clock.advance(hours=1, seconds=1)
    for _ in range(MAX_FAILURES - 1):
        assert texts(text_in(service, f"{reference} {new_followup_code()}")) == NO_MATCH
    assert HOW_TO_ADD in texts(text_in(service, f"{reference} {code}"))


def test_wrong_codes_sent_at_the_same_moment_are_all_counted(sessions, engine, clock):
    """Twelve wrong codes at once, each in its own process as gunicorn workers would: no
    more than five are checked, the rest are refused, and the reference is locked."""
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    tries = 12
    replies: list[str] = []
    barrier = threading.Barrier(tries)

    def attempt(n: int) -> None:
        mine = IntakeService(sessions, engine, clock=clock, casework=Casework())
        barrier.wait()
        replies.append(texts(text_in(mine, f"{reference} {new_followup_code()}",
                                     sender=f"+4477009{n:05d}")))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(replies) == sorted([NO_MATCH] * MAX_FAILURES
                                     + [TOO_MANY] * (tries - MAX_FAILURES))
    assert texts(text_in(service, f"{reference} {code}")) == TOO_MANY
    row = attempts_row(service, reference)
    assert row is not None and row.locked_until == clock() + timedelta(hours=1)


def test_failures_counted_at_the_same_moment_are_each_counted(sessions, clock):
    """The count itself (as the sign-in throttle uses it, without holding the row)."""
    limit = guard.Limit("test", 100, timedelta(hours=1), timedelta(hours=1))
    tries = 24
    barrier = threading.Barrier(tries)

    def fail() -> None:
        barrier.wait()
        with transaction(sessions) as session:
            guard.failed(session, limit, "someone@example.org", clock())

    threads = [threading.Thread(target=fail) for _ in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sessions() as session:
        row = session.get(Attempt, limit.key("someone@example.org"))
        assert row is not None and row.failures == tries


def test_rows_of_keys_long_quiet_are_deleted(sessions, clock):
    limit = guard.Limit("test", 2, timedelta(minutes=15), timedelta(minutes=15))
    with transaction(sessions) as session:
        guard.failed(session, limit, "old@example.org", clock())
        guard.failed(session, limit, "old@example.org", clock())  # locked
        guard.failed(session, limit, "recent@example.org", clock())
    clock.advance(days=1, minutes=16)  # a day since the lock ended
    with transaction(sessions) as session:
        guard.failed(session, limit, "recent@example.org", clock())  # not a new key
        assert session.get(Attempt, limit.key("old@example.org")) is not None
        guard.failed(session, limit, "new@example.org", clock())  # a new key: clears up
    with sessions() as session:
        kept = {row.key_hash for row in session.scalars(select(Attempt))}
    assert kept == {limit.key("recent@example.org"), limit.key("new@example.org")}


def test_an_unknown_reference_is_limited_like_a_real_one(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    for _ in range(MAX_FAILURES):
        text_in(service, f"HR-2222-3333 {new_followup_code()}")
    with service.sessions() as session:
        assert guard.is_locked(session, LIMIT, "HR-2222-3333", clock())
    # An unknown reference locks like a real one: nothing tells them apart.
    assert texts(text_in(service, f"hr 2222 3333 {new_followup_code()}")) == TOO_MANY


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


# -- danger words: the advice first, whatever the code ----------------------------------

DANGER = "If you are in danger, call 999 now."
IN_DANGER = "he is outside my door right now with a knife, I am in danger"


def test_danger_words_with_a_wrong_code_get_the_999_advice_first(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)

    wrong = texts(text_in(service, f"{reference} {new_followup_code()} {IN_DANGER}"))
    made_up = texts(text_in(service, f"HR-2345-6789 {code} {IN_DANGER}"))

    assert wrong == made_up == f"{DANGER}\n{NO_MATCH}"
    # No case to attach them to: nothing on the report, nothing made urgent.
    with service.sessions() as session:
        case = get_case(session, reference)
        assert case is not None and not case.urgent
    assert "danger_reported" not in [event["kind"] for event in timeline(service, reference)]


def test_danger_words_while_locked_get_the_999_advice_first(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    for _ in range(MAX_FAILURES):  # an abuser who saw the reference locks it
        text_in(service, f"{reference} {new_followup_code()}", sender="+447700900333")

    reply = texts(text_in(service, f"{reference} {code} they are attacking me now"))

    assert reply == f"{DANGER}\n{TOO_MANY}"


def test_danger_words_in_any_language_get_the_advice_in_the_conversations(sessions, engine,
                                                                         clock):
    service = casework_service(sessions, engine, clock)
    reference, _ = anonymous_report(service)
    polish = gettext("pl", EMERGENCY_WORDS).split("|")[0]
    # From a phone with no conversation: in English.
    reply = texts(text_in(service, f"{reference} {new_followup_code()} {polish}"))
    assert reply == f"{DANGER}\n{NO_MATCH}"
    # From a web chat in Polish: in Polish.
    conversation_id = service.start("web", locale="pl").conversation_id
    turn = service.send(conversation_id, f"{reference} {new_followup_code()} {polish}")
    assert texts(turn).startswith(f"{gettext('pl', DANGER)}\n{gettext('pl', NO_MATCH)}")


# -- near misses and the reporter's own conversation -------------------------------------

NEAR_MISSES = [
    "My reference is {ref} and my code is {code}. {news}",
    "Reference: {ref} Code: {code} {news}",
    "Ref {ref} {code} {news}",
    "{news} (ref {ref}, code {lower})",
]


@pytest.mark.parametrize("template", NEAR_MISSES)
def test_a_labelled_request_in_the_reporters_own_chat_adds_the_news_not_the_code(
        sessions, engine, clock, template):
    service = casework_service(sessions, engine, clock)
    conversation_id = drive(service, ANONYMOUS)
    result = service.send(conversation_id, "submit").result
    reference, code = result.reference, result.followup_code
    assert reference and code

    message = template.format(ref=reference, code=code, lower=code.lower(), news=NEWS)
    reply = texts(service.send(conversation_id, message))

    assert ADDED in reply and f"Your report {reference}" in reply
    stored = [event["text"] for event in timeline(service, reference)
              if event["kind"] == "reporter_message"]
    assert stored == [NEWS.rstrip(".") if template.startswith("{news}") else NEWS]
    assert code not in json.dumps(stored) and code.lower() not in json.dumps(stored)


@pytest.mark.parametrize("locale", ["en", "pl", "ar"])
def test_the_confirmation_pasted_back_shows_the_status_and_adds_nothing(sessions, engine,
                                                                      clock, locale):
    service = casework_service(sessions, engine, clock)
    conversation_id = service.start("web", locale=locale).conversation_id
    # Choices by their values, which every language takes.
    drive(service, dict(NAMED, anonymous="anonymous", role="victim", where_type="home",
                        repeated="yes", injuries="no", vulnerable="no", stop_hate="yes",
                        perpetrator="known", safety="no"),
          conversation_id=conversation_id)
    confirmation = texts(service.send(conversation_id, "submit"))
    request = parse(confirmation)
    assert request is not None and request.message == ""

    reply = texts(text_in(service, confirmation))

    assert gettext(locale, followup.HOW_TO_ADD) in reply
    assert [event for event in timeline(service, request.reference)
            if event["kind"] == "reporter_message"] == []


def test_a_labelled_request_mid_report_leaves_the_new_report_alone(sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    reference, code = anonymous_report(service)
    conversation_id = drive(service, dict(ANONYMOUS), until="description")
    before = conversation_row(service, conversation_id)

    reply = texts(service.send(
        conversation_id, f"Ref {reference} code {code} - they came back and broke my window"))

    assert ADDED in reply
    after = conversation_row(service, conversation_id)
    assert after["answers"] == before["answers"] and after["step"] == before["step"]
    assert code not in json.dumps(after, default=str)
    assert [event["text"] for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == ["they came back and broke my window"]


def test_a_code_that_slips_past_the_parser_is_masked_before_it_is_kept(sessions, engine,
                                                                       clock):
    """A code alone (no reference), and an older code beside a reference but pressed as a
    button's answer: what the conversation or the case keeps shows no code."""
    service = casework_service(sessions, engine, clock)
    conversation_id = drive(service, ANONYMOUS)
    reference = service.send(conversation_id, "submit").result.reference
    assert reference is not None
    code = new_followup_code()
    service.send(conversation_id, f"I lost my reference, my code is {code}, they came back")
    stored = [event["text"] for event in timeline(service, reference)
              if event["kind"] == "reporter_message"]
    assert stored == ["I lost my reference, my code is [code removed], they came back"]

    sender = "+447700900444"
    started = text_in(service, "Hi", sender=sender)
    service.receive("sms", identity_hash("sms", sender), f"{reference} ABCD-EFGH-JKLMN",
                    "SM-button-1", expect=started.result.asking)
    assert "ABCD" not in json.dumps(conversation_row(service, started.conversation_id),
                                    default=str)


def test_a_named_reporter_writing_in_capitals_after_their_reference_reaches_their_case(
        sessions, engine, clock):
    service = casework_service(sessions, engine, clock)
    conversation_id = drive(service, NAMED)
    reference = service.send(conversation_id, "submit").result.reference
    message = f"{reference} THEY WERE THERE AGAIN WITH A KNIFE, HELP"
    assert parse(message) is None

    reply = texts(service.send(conversation_id, message))

    assert ADDED in reply and NO_MATCH not in reply
    assert [event["text"] for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == [message]


def test_a_wrong_code_in_the_reporters_own_chat_still_adds_their_news(sessions, engine,
                                                                      clock):
    """They are told the code did not match; what they wrote still reaches their report,
    as anything else written there would, without the code."""
    service = casework_service(sessions, engine, clock)
    conversation_id = drive(service, ANONYMOUS)
    reference = service.send(conversation_id, "submit").result.reference
    assert reference is not None
    wrong = new_followup_code()

    reply = texts(service.send(conversation_id, f"{reference} {wrong} {IN_DANGER}"))

    added = gettext("en", followup.ADDED, reference=reference)
    assert reply.split("\n") == [DANGER, NO_MATCH, added]
    assert [event["text"] for event in timeline(service, reference)
            if event["kind"] == "reporter_message"] == [IN_DANGER]
    with service.sessions() as session:
        case = get_case(session, reference)
        assert case is not None and case.urgent
    # The wrong code counted like any other.
    row = attempts_row(service, reference)
    assert row is not None and row.failures == 1
    # Without news, or from someone else's phone, nothing is added.
    assert texts(service.send(conversation_id, f"{reference} {wrong}")) == NO_MATCH
    assert texts(text_in(service, f"{reference} {wrong} {NEWS}")) == NO_MATCH
    assert len([event for event in timeline(service, reference)
                if event["kind"] == "reporter_message"]) == 1


def test_the_migration_carries_a_reference_locked_on_its_case_over(db, sessions, clock):
    """Before 0005 a lock and a count of wrong codes were kept on the case."""
    from alembic import command
    from alembic.config import Config

    from intake.db import MIGRATIONS_DIR

    def alembic(revision: str, down: bool = False) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with db.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

    with transaction(sessions) as session:
        locked, _ = create_case(session, answers={"anonymous": "anonymous"}, channel="web",
                                language="en", urgent=False, now=clock())
        counting, _ = create_case(session, answers={"anonymous": "anonymous"},
                                  channel="web", language="en", urgent=False, now=clock())
        references = locked.reference, counting.reference
    alembic("0004", down=True)
    until = (datetime.now(UTC) + timedelta(minutes=40)).replace(tzinfo=None, microsecond=0)
    with db.begin() as connection:
        for reference, failures, locked_until in ((references[0], 0, until),
                                                  (references[1], 3, None)):
            connection.execute(text(
                "UPDATE cases SET followup_failures = :failures, followup_locked_until = "
                ":until WHERE reference = :reference"),
                {"failures": failures, "until": locked_until, "reference": reference})
    alembic("head")
    with sessions() as session:
        rows = [session.get(Attempt, LIMIT.key(reference)) for reference in references]
    assert rows[0] is not None and rows[0].locked_until == until
    assert rows[1] is not None and (rows[1].failures, rows[1].locked_until) == (3, None)
