"""The outbox on its own: order, fairness, claims, opt-outs, purging.

The sender here is the outbox's own contract (``intake.outbox.Sender``) recording what it
is asked to send; the real Twilio and Telegram senders are tested in tests/channels
against fake provider servers.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from bot.sms import segments
from intake.db import transaction
from intake.models import InboundMessage, OptOut, OutboxMessage
from intake.outbox import (
    Outbox,
    RecipientOptedOut,
    enqueue,
    identity_hash,
    is_opted_out,
    opt_in,
)


@pytest.fixture(autouse=True)
def _empty_tables(sessions):
    """The PostgreSQL database is shared by the session's tests: start from empty tables."""
    with transaction(sessions) as session:
        for model in (OutboxMessage, OptOut, InboundMessage):
            session.execute(delete(model))


class Recorder:
    channel = "sms"
    per_recipient_interval = 0.0
    per_second = 1000.0

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = dict(fail or {})
        self.lock = threading.Lock()

    def send(self, recipient: str, payload: dict[str, Any]) -> str | None:
        problem = self.fail.pop(payload["text"], None)
        if problem is not None:
            raise problem
        with self.lock:
            self.sent.append((recipient, payload["text"]))
        return f"SM{len(self.sent)}"


def queue(sessions, clock, recipient: str, *texts: str) -> None:
    with transaction(sessions) as session:
        for text in texts:
            enqueue(session, "sms", recipient, {"text": text}, "reply", clock())


def test_a_busy_recipient_does_not_hold_up_the_others(sessions, clock):
    queue(sessions, clock, "+447700900001", *[f"a{n}" for n in range(600)])
    queue(sessions, clock, "+447700900002", "b0")
    sender = Recorder()
    outbox = Outbox(sessions, {"sms": sender}, clock=clock)
    outbox.deliver_due()
    assert ("+447700900002", "b0") in sender.sent
    assert sender.sent[0] == ("+447700900001", "a0")  # one per recipient per pass, in order


def test_a_message_is_sent_once_when_two_workers_race(sessions, clock):
    queue(sessions, clock, "+447700900003", *[f"m{n}" for n in range(20)])
    sender = Recorder()
    workers = [Outbox(sessions, {"sms": sender}, clock=clock) for _ in range(2)]

    def drain(outbox: Outbox) -> None:
        for _ in range(40):
            outbox.deliver_due()

    threads = [threading.Thread(target=drain, args=(outbox,)) for outbox in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [text for _, text in sender.sent] == [f"m{n}" for n in range(20)]


def test_a_stale_claim_is_taken_back_by_one_worker_only(sessions, clock):
    queue(sessions, clock, "+447700900004", "lost")
    with transaction(sessions) as session:
        row = session.scalars(select(OutboxMessage)).one()
        row.status, row.locked_until = "sending", clock() - timedelta(seconds=1)
    sender = Recorder()
    first, second = (Outbox(sessions, {"sms": sender}, clock=clock) for _ in range(2))
    seen_by_first, seen_by_second = first._heads(10), second._heads(10)
    assert [row.id for row in seen_by_first] == [row.id for row in seen_by_second]
    assert first._claim(seen_by_first[0]) is True
    assert second._claim(seen_by_second[0]) is False  # it changed since second read it


def test_a_provider_opt_out_is_recorded_and_an_opt_in_releases_the_message(sessions, clock):
    phone = "+447700900005"
    queue(sessions, clock, phone, "held back")
    sender = Recorder({"held back": RecipientOptedOut("twilio 21610")})
    outbox = Outbox(sessions, {"sms": sender}, clock=clock)
    assert outbox.deliver_due().held == 1
    identity = identity_hash("sms", phone)
    with sessions() as session:
        assert is_opted_out(session, identity)
        assert session.scalars(select(OutboxMessage.status)).one() == "held"
    with transaction(sessions) as session:
        opt_in(session, identity, clock())
    assert outbox.deliver_due().sent == 1
    assert sender.sent == [(phone, "held back")]


def test_sent_and_dead_messages_keep_no_address_words_or_hash(sessions, clock):
    queue(sessions, clock, "+447700900006", "sent words")
    queue(sessions, clock, "+447700900007", "dead words")
    sender = Recorder({"dead words": RecipientOptedOut("x")})
    outbox = Outbox(sessions, {"sms": sender}, clock=clock)
    outbox.deliver_due()
    with transaction(sessions) as session:
        for row in session.scalars(select(OutboxMessage).where(
                OutboxMessage.status == "held")):
            row.status = "dead"
    clock.advance(days=4)
    assert outbox.purge(clock() - timedelta(days=3)) == 1
    with sessions() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(row.status, row.recipient, row.payload, row.recipient_hash)
                for row in rows] == [("sent", None, None, ""), ("dead", None, None, "")]
        assert session.scalars(select(OptOut)).all()  # the opt-out itself is kept


def test_replies_kept_for_redeliveries_are_forgotten_within_the_hour(service, clock):
    identity = identity_hash("sms", "+447700900008")
    service.receive("sms", identity, "Hello there, I need help", "SMaaa")
    with service.sessions() as session:
        assert session.scalars(select(InboundMessage.result)).one() is not None
    clock.advance(hours=2)
    service.forget_processed(clock() - timedelta(days=7), clock() - timedelta(hours=1))
    with service.sessions() as session:
        row = session.scalars(select(InboundMessage)).one()
        assert row.result is None and row.message_id == "SMaaa"  # still recognised
    clock.advance(days=8)
    assert service.forget_processed(clock() - timedelta(days=7), clock()) == 1


def test_segments_never_split_a_two_septet_or_two_unit_character():
    assert segments("a" * 160) == 1 and segments("a" * 161) == 2
    assert segments("a" * 306) == 2 and segments("a" * 307) == 3
    assert segments("ą" * 70) == 1 and segments("ą" * 71) == 2
    assert segments("a" * 152 + "€" + "a" * 152) == 3
    assert segments("ą" * 66 + "\N{GRINNING FACE}" + "ą" * 66) == 3


def test_an_update_retried_into_the_night_waits_for_the_morning(sessions, clock):
    from datetime import datetime

    from intake.quiet import morning_after

    clock.now = datetime(2026, 12, 1, 20, 59)  # 20:59 in London
    with transaction(sessions) as session:
        enqueue(session, "sms", "+447700900009", {"text": "update", "quiet_hours": True},
                "update", clock())
    sender = Recorder()
    outbox = Outbox(sessions, {"sms": sender}, clock=clock)
    clock.now = datetime(2026, 12, 1, 21, 30)
    assert outbox.deliver_due().held == 1 and sender.sent == []
    with sessions() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert row.status == "waiting" and row.attempts == 0
        assert row.next_attempt_at == datetime(2026, 12, 2, 8, 0)
    # Meanwhile the reporter writes and is answered (999 advice, say): nothing waits.
    clock.now = datetime(2026, 12, 1, 23, 0)
    with transaction(sessions) as session:
        enqueue(session, "sms", "+447700900009", {"text": "a reply"}, "reply", clock())
    assert outbox.deliver_due().sent == 1
    assert sender.sent == [("+447700900009", "a reply")]
    clock.now = datetime(2026, 12, 2, 8, 0)
    assert outbox.deliver_due().sent == 1
    assert sender.sent[-1] == ("+447700900009", "update")
    # British Summer Time: 08:00 in London is 07:00 UTC.
    assert morning_after(datetime(2026, 7, 1, 22, 0)) == datetime(2026, 7, 2, 7, 0)
    assert morning_after(datetime(2026, 7, 2, 3, 0)) == datetime(2026, 7, 2, 7, 0)


def test_scheduled_work_runs_in_one_process_at_a_time(db):
    from intake.db import only_one

    with only_one(db, "test-jobs") as first:
        with only_one(db, "test-jobs") as second:
            assert first is True and second is False
        with only_one(db, "other-work") as other:
            assert other is True
    with only_one(db, "test-jobs") as again:
        assert again is True  # released


def test_a_claim_skips_a_row_another_worker_is_claiming(sessions, clock):
    """On PostgreSQL the claim locks the row with FOR UPDATE SKIP LOCKED: a second worker
    passes over it instead of waiting, and never sends it."""
    queue(sessions, clock, "+447700900010", "once")
    worker = Outbox(sessions, {"sms": Recorder()}, clock=clock)
    (row,) = worker._heads(10)
    holder = sessions()
    holder.begin()
    locked = holder.scalar(select(OutboxMessage).where(OutboxMessage.id == row.id)
                           .with_for_update())
    assert locked is not None
    try:
        if holder.get_bind().dialect.name == "postgresql":
            assert worker._claim(row) is False  # skipped at once, not blocked
    finally:
        holder.rollback()
        holder.close()
    assert worker._claim(row) is True
