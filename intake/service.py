"""The intake service: one transaction per inbound message, around the engine.

Channel adapters call this; it owns sessions, the clock and retries when two
messages for one conversation race (optimistic locking on the conversation row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from intake.db import transaction
from intake.engine import Engine, TurnResult

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """The current time in UTC, naive (as stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


class ConversationNotFound(LookupError):
    """No live conversation has that id (never existed, or expired)."""


@dataclass
class Turn:
    """The outcome of one message: the conversation it belongs to and the engine's result."""

    conversation_id: str
    result: TurnResult


class IntakeService:
    """Runs conversations against the database for any channel."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: Engine,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.clock = clock

    def start(self, channel: str, locale: str | None = None,
              identity_hash: str | None = None) -> Turn:
        """Open a conversation and return its greeting."""
        with transaction(self.sessions) as session:
            conversation, result = self.engine.start(
                session, channel, self.clock(), locale=locale, identity_hash=identity_hash
            )
            result.locale = conversation.locale
            return Turn(conversation.id, result)

    def send(self, conversation_id: str, text: str, message_id: str | None = None,
             attempts: int = 5) -> Turn:
        """Apply one inbound message; retried if another message changed the row first.

        With ``message_id`` (the channel's id for the message), the same message delivered
        again gets the same reply and does not move the conversation twice.
        """
        for attempt in range(attempts):
            try:
                now = self.clock()
                with transaction(self.sessions) as session:
                    conversation = self.engine.load(session, conversation_id, now)
                    if conversation is None:
                        break  # commit the deletion of an expired one, then say so
                    if message_id is not None:
                        replayed = self.engine.replay(session, conversation, message_id)
                        if replayed is not None:
                            return Turn(conversation.id, replayed)
                    result = self.engine.handle(session, conversation, text, now)
                    result.locale = conversation.locale
                    conversation.last_message_id = message_id
                    conversation.last_result = result.to_json() if message_id else None
                    self.engine.save(session, conversation)
                    turn = Turn(conversation.id, result)
                return turn
            except StaleDataError:
                log.info("conversation changed concurrently; retrying (attempt %d)", attempt + 1)
        else:
            raise RuntimeError("conversation kept changing concurrently")
        raise ConversationNotFound(conversation_id)

    def current(self, conversation_id: str) -> Turn:
        """The question a conversation is waiting on (for resuming after a reload)."""
        with transaction(self.sessions) as session:
            conversation = self.engine.load(session, conversation_id, self.clock())
            if conversation is not None:
                result = self.engine.current(conversation)
                result.locale = conversation.locale
                return Turn(conversation.id, result)
        raise ConversationNotFound(conversation_id)

    def expire(self) -> int:
        """Delete abandoned conversations; returns how many went."""
        with transaction(self.sessions) as session:
            count = self.engine.expire(session, self.clock())
        if count:
            log.info("expired %d abandoned conversation(s)", count)
        return count
