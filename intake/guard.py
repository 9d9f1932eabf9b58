"""Failed attempts at a secret per key (a follow-up reference, a sign-in address), counted
in the database: every process, worker and restart sees the same count and the same lock.

A key is stored only as a keyed hash of its namespace and value, and is counted whether
or not anything exists behind it (a made-up reference, an unknown address), so the lock
itself never tells a real one from a made-up one. Counting is one atomic ``UPDATE``
(the row lock orders concurrent tries on SQLite and PostgreSQL alike): failures tried in
parallel are all counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.crypto import keyed_hash
from intake.models import Attempt

#: How long a key's row outlives its last window or lock before it is deleted: longer
#: than any limit's window or lock.
RETENTION = timedelta(days=1)
#: Stale rows deleted at a time, whenever a new key is first counted.
_PURGE_BATCH = 200


class TooManyAttempts(Exception):
    """This key has failed too often lately."""


@dataclass(frozen=True)
class Limit:
    """``max_failures`` failures within ``window`` (from the first) lock a key for ``lock``."""

    #: Keeps the keys of one limit apart from another's ("followup", "sign_in").
    namespace: str
    max_failures: int
    window: timedelta
    lock: timedelta

    def key(self, value: str) -> str:
        """The stored key for ``value`` (already normalised): a keyed hash, never the value."""
        return keyed_hash(f"attempts\x00{self.namespace}\x00{value}")


def _insert_if_missing(session: Session, key: str, now: datetime) -> bool:
    """Create ``key``'s row unless it exists (racing inserts: one wins, none fails);
    returns whether this call created it."""
    dialect = session.get_bind().dialect.name
    values = {"key_hash": key, "failures": 0, "window_start": now, "locked_until": None}
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    created = session.execute(insert(Attempt).values(**values)
                              .on_conflict_do_nothing(index_elements=["key_hash"])
                              .returning(Attempt.key_hash))
    return created.first() is not None


def _locked_until(session: Session, key: str, *, for_update: bool) -> datetime | None:
    query = select(Attempt.locked_until).where(Attempt.key_hash == key)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def is_locked(session: Session, limit: Limit, value: str, now: datetime) -> bool:
    """Whether ``value`` is locked now (a read only: nothing is written)."""
    until = _locked_until(session, limit.key(value), for_update=False)
    return until is not None and until > now


def hold(session: Session, limit: Limit, value: str, now: datetime) -> None:
    """Begin a try on ``value``: raise :class:`TooManyAttempts` if it is locked, else
    hold its row until the transaction ends, so concurrent tries on it wait their turn
    and each sees the failures of those before (no more than ``max_failures`` checked)."""
    key = limit.key(value)
    if _insert_if_missing(session, key, now):
        _purge(session, now)
    until = _locked_until(session, key, for_update=True)
    if until is not None and until > now:
        raise TooManyAttempts(limit.namespace)


def failed(session: Session, limit: Limit, value: str, now: datetime) -> None:
    """Count a failure on ``value``; the one that reaches ``max_failures`` locks it.

    One ``UPDATE`` reads and writes the count (``failures = failures + 1``), so failures
    written at the same moment are each counted. A window gone by starts again at one.
    """
    key = limit.key(value)
    expired = Attempt.window_start <= now - limit.window
    count = case((expired, 1), else_=Attempt.failures + 1)
    reached = count >= limit.max_failures
    counting = update(Attempt).where(Attempt.key_hash == key).values(
        failures=case((reached, 0), else_=count),
        window_start=case((or_(expired, reached), now), else_=Attempt.window_start),
        locked_until=case((reached, now + limit.lock), else_=Attempt.locked_until),
    ).returning(Attempt.key_hash).execution_options(synchronize_session=False)
    for _ in range(3):  # the row may be purged between the two statements: make it again
        if _insert_if_missing(session, key, now):
            _purge(session, now)
        if session.execute(counting).first() is not None:
            return
    raise RuntimeError("an attempt could not be counted")


def clear(session: Session, limit: Limit, value: str) -> None:
    """Forget ``value``'s failures (the secret was right)."""
    session.execute(delete(Attempt).where(Attempt.key_hash == limit.key(value))
                    .execution_options(synchronize_session=False))


def _purge(session: Session, now: datetime) -> None:
    """Delete rows whose window and lock ended over :data:`RETENTION` ago, skipping any
    another transaction holds (so this never waits on, or deadlocks with, a try)."""
    cutoff = now - RETENTION
    stale = (select(Attempt.key_hash)
             .where(Attempt.window_start < cutoff,
                    or_(Attempt.locked_until.is_(None), Attempt.locked_until < cutoff))
             .limit(_PURGE_BATCH).with_for_update(skip_locked=True))
    session.execute(delete(Attempt).where(Attempt.key_hash.in_(stale))
                    .execution_options(synchronize_session=False))
