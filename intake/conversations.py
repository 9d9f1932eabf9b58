"""Loading and saving conversations: the hot path of every turn, in plain SQL statements.

A turn reads one row and writes it back. Doing that with Core statements (one SELECT,
one UPDATE guarded by the row's version) rather than the ORM's identity map and unit of
work halves the cost of a turn. Conversations handled here are never attached to a
session; ``save`` writes them back explicitly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from intake.models import Conversation

_TABLE: Table = Conversation.__table__  # type: ignore[assignment]
_COLUMNS = [column.key for column in _TABLE.columns]

# Built once: executing a prepared statement with parameters skips rebuilding and
# re-keying it for the compiled cache on every turn.
# The reply kept for a repeated message is read only when a message repeats.
_LOAD = select(*(column for column in _TABLE.columns if column.key != "last_result")).where(
    _TABLE.c.id == bindparam("wanted_id")
)
_LAST_RESULT = select(_TABLE.c.last_result).where(_TABLE.c.id == bindparam("wanted_id"))
_INSERT = insert(_TABLE)
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("wanted_id"), _TABLE.c.version == bindparam("old_version"))
    .values({key: bindparam(key) for key in _COLUMNS if key != "id"})
)
_BY_IDENTITY = (
    select(_TABLE.c.id)
    .where(_TABLE.c.channel == bindparam("channel"),
           _TABLE.c.identity_hash == bindparam("identity_hash"))
    .order_by(_TABLE.c.updated_at.desc())
    .limit(1)
)
_DELETE = delete(_TABLE).where(_TABLE.c.id == bindparam("wanted_id"))


def _values(conversation: Conversation) -> dict[str, Any]:
    return {key: getattr(conversation, key) for key in _COLUMNS}


def load(session: Session, conversation_id: str) -> Conversation | None:
    """The conversation with ``conversation_id``, detached, or None.

    ``last_result`` is not loaded (see :func:`last_result`); :func:`save` writes whatever
    the caller set it to.
    """
    row = session.execute(_LOAD, {"wanted_id": conversation_id}).mappings().first()
    return None if row is None else Conversation(**row)


def find_by_identity(session: Session, channel: str, identity_hash: str) -> str | None:
    """The id of the latest conversation of a channel identity (a keyed hash), if any."""
    found: str | None = session.execute(
        _BY_IDENTITY, {"channel": channel, "identity_hash": identity_hash}
    ).scalar()
    return found


def last_result(session: Session, conversation_id: str) -> dict[str, Any] | None:
    """The reply kept for the conversation's last message, if any."""
    value: dict[str, Any] | None = session.execute(
        _LAST_RESULT, {"wanted_id": conversation_id}
    ).scalar()
    return value


def insert_new(session: Session, conversation: Conversation) -> None:
    """Store a new conversation (version 1)."""
    conversation.version = 1
    session.execute(_INSERT, _values(conversation))


def save(session: Session, conversation: Conversation) -> None:
    """Write ``conversation`` back; fails if another turn changed it since it was loaded."""
    old = conversation.version
    values = _values(conversation)
    del values["id"]
    values.update(version=old + 1, wanted_id=conversation.id, old_version=old)
    result = session.execute(_UPDATE, values)
    if getattr(result, "rowcount", 1) != 1:
        raise StaleDataError(f"conversation changed concurrently (version {old})")
    conversation.version = old + 1


def remove(session: Session, conversation_id: str) -> None:
    """Delete a conversation and its answers."""
    session.execute(_DELETE, {"wanted_id": conversation_id})


def remove_idle_since(session: Session, cutoff: datetime) -> int:
    """Delete every conversation untouched since ``cutoff``, answers and all; how many."""
    result = session.execute(delete(_TABLE).where(_TABLE.c.updated_at <= cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
