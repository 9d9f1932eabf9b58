"""The outbox: every message that must be sent is a row first, delivered by a worker.

A message (a reply on a push channel, an alert, an update) is written with
:func:`enqueue` in the same transaction as the change that causes it, so it exists
exactly when that change does. :class:`Outbox` delivers what is due through one
:class:`Sender` per channel:

- in order per recipient (a later message waits for an earlier one that is retrying);
- paced per recipient and overall, as each sender asks (Telegram: about one message a
  second to one chat, thirty a second in all), and after a provider's "retry after";
- retried with exponential backoff when the provider fails, times out or refuses;
  after ``max_attempts`` a message is ``dead``: kept, with its last error, for managers;
- held, not sent, while its recipient has opted out (SMS STOP), and released on opt-in;
- claimed with a lease, so two workers never send one row at once. A worker that dies
  between the provider's acceptance and marking the row sent leaves it to be sent again
  when the lease runs out: delivery is at least once, and that window is the only one.

The address and the text are encrypted in the row and cleared once the message is sent.
Nothing here knows any provider: senders live in ``bot/``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from intake.crypto import keyed_hash
from intake.db import transaction
from intake.models import OptOut, OutboxMessage
from intake.quiet import morning_after, quiet
from intake.service import utcnow

log = logging.getLogger(__name__)


def identity_hash(channel: str, address: str) -> str:
    """The keyed hash that stands for a channel address (phone number, chat id)."""
    return keyed_hash(f"{channel}:{address.strip()}")


class SendError(Exception):
    """A send failed; the subclass says what to do next."""


class RetryLater(SendError):
    """A transient failure (5xx, timeout, refused connection, rate limit): try again."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Undeliverable(SendError):
    """A permanent failure (an invalid address, a blocked bot): dead at once."""


class RecipientOptedOut(SendError):
    """The provider says the recipient opted out: hold until they opt back in."""


class Sender(Protocol):
    """Sends one outbox payload on one channel."""

    channel: str
    #: The least time between two messages to one recipient, in seconds.
    per_recipient_interval: float
    #: The most messages a second on this channel, overall.
    per_second: float

    def send(self, recipient: str, payload: dict[str, Any]) -> str | None:
        """Send ``payload`` to ``recipient``; return the provider's message id, if any."""


class Batch:
    """What a batch of :func:`enqueue` calls (a sweep over many cases) needs to know of
    the outbox, asked in a few queries instead of two per message: which idempotency
    keys are queued already, and which recipients have opted out."""

    CHUNK = 500

    def __init__(self, session: Session, keys: Iterable[str] = (),
                 recipients: Iterable[str] = ()) -> None:
        self.session = session
        self.queued: set[str] = set()
        self.opted_out: dict[str, bool] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), self.CHUNK):
            self.queued.update(session.scalars(select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(wanted[start:start + self.CHUNK]))))
        self.known_keys = set(wanted)
        self.prefetch_opt_outs(recipients)

    def prefetch_opt_outs(self, recipients: Iterable[str]) -> None:
        """Look up the opt-outs of ``recipients`` (keyed hashes) not yet known."""
        wanted = [one for one in dict.fromkeys(recipients) if one not in self.opted_out]
        for start in range(0, len(wanted), self.CHUNK):
            chunk = wanted[start:start + self.CHUNK]
            found = set(self.session.scalars(select(OptOut.identity_hash).where(
                OptOut.identity_hash.in_(chunk))))
            self.opted_out.update((one, one in found) for one in chunk)

    def is_queued(self, key: str) -> bool:
        if key in self.queued:
            return True
        if key in self.known_keys:
            return False
        return self.session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.idempotency_key == key)) is not None

    def is_opted_out(self, recipient: str) -> bool:
        if recipient not in self.opted_out:
            self.prefetch_opt_outs([recipient])
        return self.opted_out[recipient]


def enqueue(
    session: Session,
    channel: str,
    recipient: str,
    payload: dict[str, Any],
    purpose: str,
    now: datetime,
    idempotency_key: str | None = None,
    batch: Batch | None = None,
) -> OutboxMessage | None:
    """Queue one message in the caller's transaction; None if ``idempotency_key`` was
    queued before (the caller's change is then a repeat, and nothing more is sent).

    With a :class:`Batch`, what it prefetched answers both questions and the row is
    written at the transaction's next flush; without one, each call asks and flushes."""
    recipient_id = identity_hash(channel, recipient)
    if idempotency_key is not None and (
        batch.is_queued(idempotency_key) if batch is not None else session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.idempotency_key == idempotency_key)
        ) is not None
    ):
        return None
    held = (batch.is_opted_out(recipient_id) if batch is not None
            else session.get(OptOut, recipient_id) is not None)
    message = OutboxMessage(
        channel=channel,
        recipient=recipient,
        recipient_hash=recipient_id,
        payload=payload,
        purpose=purpose,
        idempotency_key=idempotency_key,
        status="held" if held else "pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    if batch is not None:
        if idempotency_key is not None:
            batch.queued.add(idempotency_key)
    else:
        session.flush()
    return message


def opt_out(session: Session, channel: str, identity: str, now: datetime) -> None:
    """Record that ``identity`` (a keyed hash) opted out, and hold what waits for it."""
    if session.get(OptOut, identity) is None:
        try:
            with session.begin_nested():
                session.add(OptOut(identity_hash=identity, channel=channel, opted_out_at=now))
        except IntegrityError:
            pass  # recorded by a concurrent request
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient_hash == identity, OutboxMessage.status == "pending")
        .values(status="held")
    )


def opt_in(session: Session, identity: str, now: datetime) -> None:
    """Record that ``identity`` opted back in, and release what was held for it."""
    session.execute(delete(OptOut).where(OptOut.identity_hash == identity))
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient_hash == identity, OutboxMessage.status == "held")
        .values(status="pending", next_attempt_at=now)
    )


def is_opted_out(session: Session, identity: str) -> bool:
    """Say whether ``identity`` has opted out."""
    return session.get(OptOut, identity) is not None


@dataclass
class _Pace:
    """Pacing for one channel: the last send per recipient and a token bucket."""

    last_sent: dict[str, float] = field(default_factory=dict)
    tokens: float = 0.0
    refilled: float = field(default_factory=time.monotonic)


@dataclass
class DeliveryReport:
    """What one pass of :meth:`Outbox.deliver_due` did."""

    sent: int = 0
    retrying: int = 0
    dead: int = 0
    held: int = 0


class Outbox:
    """Delivers due outbox rows through the registered senders."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: dict[str, Sender] | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 20,
        base_delay: float = 2.0,
        max_delay: float = 3600.0,
        lease: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sessions = sessions
        self.senders: dict[str, Sender] = dict(senders or {})
        self.clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.sleep = sleep
        self._paces: dict[str, _Pace] = {}
        self._lock = threading.Lock()

    def register(self, sender: Sender) -> None:
        """Deliver ``sender.channel`` messages through ``sender``."""
        self.senders[sender.channel] = sender

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failures: doubling, capped, with jitter."""
        delay: float = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.8, 1.2)

    # -- claiming -----------------------------------------------------------------------

    def _heads(self, limit: int) -> list[OutboxMessage]:
        """The first waiting message of each recipient, when it is due (a later one waits
        for it: order per recipient), oldest first."""
        now = self.clock()
        waiting = (OutboxMessage.status.in_(("pending", "sending")),
                   OutboxMessage.channel.in_(tuple(self.senders)))
        firsts = (select(func.min(OutboxMessage.id)).where(*waiting)
                  .group_by(OutboxMessage.recipient_hash))
        with self.sessions() as session:
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(firsts))
                .order_by(OutboxMessage.id)
            ).all()
            session.expunge_all()
        due = [row for row in rows
               if (row.status == "pending" and row.next_attempt_at <= now)
               or (row.status == "sending"
                   and (row.locked_until is None or row.locked_until <= now))]
        return due[:limit]

    def _wake_waiting(self) -> None:
        """Put back in the queue the messages that waited out the quiet hours."""
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "waiting",
                       OutboxMessage.next_attempt_at <= self.clock())
                .values(status="pending")
            )

    def _claim(self, row: OutboxMessage) -> bool:
        """Take ``row`` for sending, just before sending it; False if another worker did.

        The lease covers one send (the provider's timeout), so it cannot run out while
        the row waits behind others; a row whose lease ran out (its worker died) is
        taken back only by the one worker whose update still finds it as it was read.
        On PostgreSQL the row is first locked with ``SELECT ... FOR UPDATE SKIP LOCKED``,
        so workers racing for it never queue behind each other.
        """
        now = self.clock()
        unchanged = [OutboxMessage.id == row.id, OutboxMessage.status == row.status,
                     OutboxMessage.attempts == row.attempts]
        if row.status == "sending":
            unchanged.append(OutboxMessage.locked_until.is_(None) if row.locked_until is None
                             else OutboxMessage.locked_until == row.locked_until)
        with transaction(self.sessions) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Another worker in the middle of claiming it holds its lock: skip the row
                # rather than wait for it.
                free = session.scalar(select(OutboxMessage.id).where(*unchanged)
                                      .with_for_update(skip_locked=True))
                if free is None:
                    return False
            result = session.execute(
                update(OutboxMessage).where(*unchanged)
                .values(status="sending", locked_until=now + timedelta(seconds=self.lease))
            )
            return getattr(result, "rowcount", 0) == 1

    # -- pacing -------------------------------------------------------------------------

    def _wait_turn(self, sender: Sender, recipient_hash: str) -> None:
        pace = self._paces.setdefault(sender.channel, _Pace(tokens=max(1.0, sender.per_second)))
        while True:
            now = time.monotonic()
            pace.tokens = min(max(1.0, sender.per_second),
                              pace.tokens + (now - pace.refilled) * sender.per_second)
            pace.refilled = now
            wait_recipient = pace.last_sent.get(recipient_hash, -1e9) + (
                sender.per_recipient_interval) - now
            wait_overall = 0.0 if pace.tokens >= 1 else (1 - pace.tokens) / sender.per_second
            wait = max(wait_recipient, wait_overall)
            if wait <= 0:
                pace.tokens -= 1
                return
            self.sleep(wait)

    def _sent_now(self, channel: str, recipient_hash: str) -> None:
        pace = self._paces[channel]
        pace.last_sent[recipient_hash] = time.monotonic()
        if len(pace.last_sent) > 10_000:
            cutoff = time.monotonic() - 60
            pace.last_sent = {key: at for key, at in pace.last_sent.items() if at > cutoff}

    # -- delivering ---------------------------------------------------------------------

    def deliver_due(self, limit: int = 50) -> DeliveryReport:
        """Send what is due now (one message per recipient per pass); returns the tally."""
        report = DeliveryReport()
        with self._lock:
            self._wake_waiting()
            for message in self._heads(limit):
                sender = self.senders[message.channel]
                paced = message.payload is None or message.payload.get("paced", True) is not False
                if paced:
                    self._wait_turn(sender, message.recipient_hash)
                if self._claim(message):
                    self._deliver(message, report, paced)
        return report

    def _deliver(self, message: OutboxMessage, report: DeliveryReport, paced: bool) -> None:
        """Send one claimed message. An acknowledgement (a Telegram callback answer, not
        ``paced``) is not a message to the chat: it neither waits for nor delays them."""
        sender = self.senders[message.channel]
        if message.recipient is None or message.payload is None:
            self._finish(message, status="dead", error="nothing to send")
            report.dead += 1
            return
        if message.payload.get("quiet_hours") and quiet(self.clock()):
            # A reporter's update never goes out at night, even on a retry. It steps out
            # of the queue until the morning, so it holds nothing up (a reply with 999
            # advice, say).
            self._finish(message, status="waiting",
                         next_attempt_at=morning_after(self.clock()))
            report.held += 1
            return
        attempts = message.attempts + 1
        try:
            provider_id = sender.send(message.recipient, message.payload)
        except RecipientOptedOut as exc:
            # The provider knows of an opt-out we missed: record it, so an opt-in releases
            # this message and the officer's view shows it.
            with transaction(self.sessions) as session:
                opt_out(session, message.channel, message.recipient_hash, self.clock())
            self._finish(message, status="held", error=str(exc), attempts=attempts)
            report.held += 1
        except Undeliverable as exc:
            log.warning("outbox message %d undeliverable: %s", message.id, exc)
            self._finish(message, status="dead", error=str(exc), attempts=attempts)
            report.dead += 1
        except Exception as exc:  # noqa: BLE001 - any other failure is retried, never lost
            retry_after = exc.retry_after if isinstance(exc, RetryLater) else None
            reason = str(exc) if isinstance(exc, SendError) else type(exc).__name__
            if attempts >= self.max_attempts:
                log.error("outbox message %d dead after %d attempts: %s",
                          message.id, attempts, reason)
                self._finish(message, status="dead", error=reason, attempts=attempts)
                report.dead += 1
            else:
                delay = max(retry_after or 0.0, self.backoff(attempts))
                log.info("outbox message %d failed (%s); retry %d in %.1f s",
                         message.id, reason, attempts, delay)
                self._finish(message, status="pending", error=reason, attempts=attempts,
                             next_attempt_at=self.clock() + timedelta(seconds=delay))
                report.retrying += 1
        else:
            if paced:
                self._sent_now(sender.channel, message.recipient_hash)
            self._finish(message, status="sent", attempts=attempts, provider_id=provider_id)
            report.sent += 1

    def _finish(self, message: OutboxMessage, *, status: str, attempts: int | None = None,
                error: str | None = None, provider_id: str | None = None,
                next_attempt_at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status, "locked_until": None}
        if attempts is not None:
            values["attempts"] = attempts
        if error is not None:
            values["last_error"] = error[:200]
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        if status == "sent":
            # Sent: the address, its hash and the words are no longer needed here.
            values.update(sent_at=self.clock(), provider_id=provider_id, recipient=None,
                          payload=None, last_error=None, recipient_hash="")
        with transaction(self.sessions) as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message.id).values(values)
            )

    def purge(self, before: datetime) -> int:
        """Clear the address and words of dead messages older than ``before`` (what went
        wrong stays for managers). Messages held for an opted-out number keep theirs, to
        be sent if it opts back in."""
        with transaction(self.sessions) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "dead", OutboxMessage.created_at < before,
                       OutboxMessage.payload.is_not(None))
                .values(recipient=None, payload=None, recipient_hash="")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def pending_count(self) -> int:
        """How many messages wait to be sent (pending or being sent)."""
        with self.sessions() as session:
            return len(session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")))
            ).all())

    def record_status(self, provider_id: str, status: str) -> bool:
        """Record a provider's delivery status callback; False if the id is unknown."""
        with transaction(self.sessions) as session:
            result = session.execute(
                update(OutboxMessage).where(OutboxMessage.provider_id == provider_id)
                .values(provider_status=status[:32])
            )
            return bool(getattr(result, "rowcount", 0))


class OutboxWorker:
    """A background thread that delivers the outbox: woken by :meth:`kick`, or every
    ``interval`` seconds for retries that come due."""

    def __init__(self, outbox: Outbox, interval: float = 1.0) -> None:
        self.outbox = outbox
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OutboxWorker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
            self._thread.start()
        return self

    def kick(self) -> None:
        """Deliver now (a message was just queued)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                report = self.outbox.deliver_due()
            except Exception:
                log.exception("outbox delivery pass failed")
                report = DeliveryReport()
            if report.sent or report.retrying or report.dead or report.held:
                continue  # more may be due (the next message of each recipient)
            self._wake.wait(self.interval)
