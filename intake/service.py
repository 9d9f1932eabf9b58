"""The intake service: one transaction per inbound message, around the engine.

Channel adapters call this; it owns sessions, the clock and retries when two
messages for one conversation race (optimistic locking on the conversation row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from intake import conversations, followup
from intake.cases import open_case_for_identity
from intake.db import transaction
from intake.engine import Engine, Reply, TurnResult
from intake.flow import FIRST_STEP
from intake.guard import TooManyAttempts
from intake.languages import DEFAULT_LANGUAGE, get_language
from intake.models import Case, Conversation, InboundMessage

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
    #: The message had been processed before: ``result`` is the reply it got then.
    duplicate: bool = False


class CaseHooks(Protocol):
    """Casework that must happen in the same transaction as a turn (``intake.casework``)."""

    def on_submitted(self, session: Session, case_id: int, now: datetime) -> None:
        """A report was just submitted as this case."""

    def on_reporter_message(self, session: Session, case_id: int, text: str,
                            now: datetime) -> None:
        """The reporter wrote again after submitting."""

    def on_danger(self, session: Session, case_id: int, now: datetime) -> None:
        """The reporter of a submitted case says they are in danger now."""


#: Called inside a turn's transaction (to queue outbound messages, say), so whatever it
#: writes exists exactly when the turn does.
AfterTurn = Callable[[Session, Conversation, TurnResult], None]


def asking(conversation: Conversation) -> str:
    """What the conversation waits on: its menu if one is open, else its step."""
    return conversation.mode or conversation.step


def _describe(result: TurnResult, conversation: Conversation) -> None:
    """Note on the result the conversation's language and what it now waits on."""
    result.locale = conversation.locale
    result.asking = None if conversation.status == "submitted" else asking(conversation)


class IntakeService:
    """Runs conversations against the database for any channel."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: Engine,
        clock: Callable[[], datetime] = utcnow,
        casework: CaseHooks | None = None,
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.clock = clock
        self.casework = casework

    def _casework(self, session: Session, result: TurnResult, case_id: int | None,
                  now: datetime) -> None:
        """Hand a submission, or a message after one, to casework in the turn's transaction."""
        if self.casework is None:
            return
        if result.submitted_case_id is not None:
            self.casework.on_submitted(session, result.submitted_case_id, now)
        if result.case_message is not None and case_id is not None:
            self.casework.on_reporter_message(session, case_id, result.case_message, now)
        if result.urgent_raised and case_id is not None and result.submitted_case_id is None:
            self.casework.on_danger(session, case_id, now)

    def start(self, channel: str, locale: str | None = None,
              identity_hash: str | None = None) -> Turn:
        """Open a conversation and return its greeting."""
        with transaction(self.sessions) as session:
            conversation, result = self.engine.start(
                session, channel, self.clock(), locale=locale, identity_hash=identity_hash
            )
            _describe(result, conversation)
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
                    request = followup.parse(text)
                    if request is not None:
                        result = self._follow_up(session, request, conversation, now)
                        _describe(result, conversation)
                        if message_id is not None:
                            # Only what answers a retry the same way: the conversation's
                            # step, answers and history stay as they were.
                            conversation.last_message_id = message_id
                            conversation.last_result = result.to_json()
                            self.engine.save(session, conversation)
                        return Turn(conversation.id, result)
                    result = self.engine.handle(session, conversation,
                                                followup.mask_codes(text), now)
                    _describe(result, conversation)
                    self._casework(session, result, conversation.case_id, now)
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

    def receive(
        self,
        channel: str,
        identity_hash: str,
        text: str,
        message_id: str,
        after_turn: AfterTurn | None = None,
        keep_result: bool = True,
        expect: str | None = None,
        attempts: int = 5,
    ) -> Turn:
        """Apply a message from a channel identity (a keyed hash of a phone number or chat
        id): it continues that identity's conversation, or opens one.

        ``message_id`` is the provider's id (Twilio MessageSid, Telegram update_id): a
        message seen before is not applied again, and its turn comes back with
        ``duplicate`` set and the reply it got the first time (if ``keep_result``; a
        channel whose replies were queued at the first delivery need not keep it).

        ``expect`` is what a button was offered for (a step or menu, ``TurnResult.asking``):
        if the conversation has moved on, the press is not applied and the current
        question is asked again.
        """
        for attempt in range(attempts):
            try:
                now = self.clock()
                with transaction(self.sessions) as session:
                    inbound = InboundMessage(channel=channel, message_id=message_id,
                                             received_at=now)
                    try:
                        with session.begin_nested():
                            session.add(inbound)
                    except IntegrityError:
                        return self._seen(session, channel, message_id)
                    turn = self._receive(session, channel, identity_hash, text, now, after_turn,
                                         expect)
                    if keep_result:
                        kept = turn.result.to_json()
                        kept.pop("followup_code", None)  # only ever in the reply's words
                        inbound.result = {"conversation": turn.conversation_id,
                                          "result": kept}
                return turn
            except StaleDataError:
                log.info("conversation changed concurrently; retrying (attempt %d)", attempt + 1)
        raise RuntimeError("conversation kept changing concurrently")

    def _seen(self, session: Session, channel: str, message_id: str) -> Turn:
        kept = session.scalar(select(InboundMessage.result).where(
            InboundMessage.channel == channel, InboundMessage.message_id == message_id
        ))
        if not kept:
            return Turn("", TurnResult(), duplicate=True)
        return Turn(str(kept["conversation"]), TurnResult.from_json(kept["result"]),
                    duplicate=True)

    def _receive(self, session: Session, channel: str, identity_hash: str, text: str,
                 now: datetime, after_turn: AfterTurn | None, expect: str | None) -> Turn:
        request = followup.parse(text) if expect is None else None
        if request is not None:
            return self._receive_follow_up(session, channel, identity_hash, request, now,
                                           after_turn)
        # Whatever the engine keeps (answers, a message onto the case) never holds a code.
        text = followup.mask_codes(text)
        conversation = None
        found = conversations.find_by_identity(session, channel, identity_hash)
        if found is not None:
            conversation = self.engine.load(session, found, now)
        if conversation is None:
            # The conversation is gone (it expires), but a named reporter's open case
            # still knows them: a reply to an update goes onto that case.
            case = open_case_for_identity(session, identity_hash)
            if case is not None:
                conversation = self.engine.reopen(session, channel, now, identity_hash, case)
        if conversation is None:
            conversation, result = self.engine.start(
                session, channel, now, identity_hash=identity_hash, first_text=text
            )
        elif expect is not None and expect != asking(conversation):
            result = self.engine.current(conversation)  # a button of an earlier question
        else:
            result = self.engine.handle(session, conversation, text, now)
        _describe(result, conversation)
        self._casework(session, result, conversation.case_id, now)
        if after_turn is not None:
            after_turn(session, conversation, result)
        self.engine.save(session, conversation)
        return Turn(conversation.id, result)

    def _receive_follow_up(self, session: Session, channel: str, identity_hash: str,
                           request: followup.Request, now: datetime,
                           after_turn: AfterTurn | None) -> Turn:
        """A reference and secret code sent from a channel identity: answered on that
        channel, without opening, moving or deleting any conversation of it."""
        conversation = None
        found = conversations.find_by_identity(session, channel, identity_hash)
        if found is not None:
            conversation = conversations.load(session, found)
            if conversation is not None and self.engine.is_expired(conversation, now):
                conversation = None  # left for the expiry job, as found
        result = self._follow_up(session, request, conversation, now)
        if conversation is not None:
            _describe(result, conversation)
            if after_turn is not None:
                after_turn(session, conversation, result)
            return Turn(conversation.id, result)
        if after_turn is not None:
            # The hook wants a conversation; this stand-in is never stored.
            after_turn(session, Conversation(
                id="", channel=channel, identity_hash=None, locale=result.locale,
                step=FIRST_STEP, status="active", mode=None, answers={}, history=[],
                urgent=False, case_id=None, created_at=now, updated_at=now, version=0,
            ), result)
        return Turn("", result)

    def _follow_up(self, session: Session, request: followup.Request,
                   conversation: Conversation | None, now: datetime) -> TurnResult:
        """Answer a follow-up request (:func:`intake.followup.parse`) in the case's
        language, adding any news to the case as the follow-up page does.

        A wrong code, and an unknown reference, get the same answer in the conversation's
        language (English without one), and count towards locking the reference. Danger
        words get the advice to call 999 first, whatever the code. News sent from the
        reporter's own submitted conversation reaches their case even with a wrong code,
        as anything else they write there would (they are told the code did not match).
        """
        result = TurnResult()
        locale = conversation.locale if conversation is not None else DEFAULT_LANGUAGE
        news = request.message
        danger = bool(news) and self.engine.is_emergency(locale, news)
        locked = False
        try:
            case = followup.find(session, request.reference, request.code, now)
        except TooManyAttempts:
            case, locked = None, True
        if case is None:
            own = self._own_case(session, conversation)
            added_to = None
            if own is not None and news and self.casework is not None:
                self._add_news(session, own, news, danger, now)
                added_to = own.reference
            result.replies.append(Reply(followup.answer(
                locale, None, locked=locked, danger=danger, added_to=added_to)))
            result.locale = locale
            return self._then_current(result, conversation)
        danger = danger or (bool(news) and self.engine.is_emergency(case.language, news))
        added_to = None
        if news and self.casework is not None:
            self._add_news(session, case, news, danger, now)
            added_to = case.reference
        found = followup.status(session, case)
        language = get_language(found.language).code
        result.replies.append(Reply(
            followup.answer(language, found, danger=danger, news=bool(news),
                            added_to=added_to),
            locale=language if conversation is not None and language != locale else None))
        result.locale = language if conversation is None else locale
        return self._then_current(result, conversation)

    @staticmethod
    def _own_case(session: Session, conversation: Conversation | None) -> Case | None:
        """The case a submitted conversation reported: whoever writes in it is its
        reporter."""
        if conversation is None or conversation.status != "submitted" or (
                conversation.case_id is None):
            return None
        return session.get(Case, conversation.case_id)

    def _add_news(self, session: Session, case: Case, news: str, danger: bool,
                  now: datetime) -> None:
        assert self.casework is not None
        self.casework.on_reporter_message(session, case.id, news, now)
        if danger:
            self.casework.on_danger(session, case.id, now)

    def _then_current(self, result: TurnResult, conversation: Conversation | None
                      ) -> TurnResult:
        """After a follow-up answer, the question the reporter's own conversation waits
        on (so the report they are writing carries on), or that it was sent."""
        if conversation is None:
            return result
        current = self.engine.current(conversation)
        result.done, result.reference = current.done, current.reference
        if not current.done:
            result.replies.extend(current.replies)
        return result

    def forget_processed(self, before: datetime, replies_before: datetime) -> int:
        """Delete the record of provider messages processed before ``before``, and the
        replies kept for redeliveries (personal data) of those before ``replies_before``:
        providers redeliver within minutes, while the ids guard against replays longer."""
        with transaction(self.sessions) as session:
            session.execute(update(InboundMessage).where(
                InboundMessage.received_at < replies_before,
                InboundMessage.result.is_not(None),
            ).values(result=None))
            deleted = session.execute(delete(InboundMessage).where(
                InboundMessage.received_at < before))
        return int(getattr(deleted, "rowcount", 0) or 0)

    def current(self, conversation_id: str) -> Turn:
        """The question a conversation is waiting on (for resuming after a reload)."""
        with transaction(self.sessions) as session:
            conversation = self.engine.load(session, conversation_id, self.clock())
            if conversation is not None:
                result = self.engine.current(conversation)
                _describe(result, conversation)
                return Turn(conversation.id, result)
        raise ConversationNotFound(conversation_id)

    def expire(self) -> int:
        """Delete abandoned conversations; returns how many went."""
        with transaction(self.sessions) as session:
            count = self.engine.expire(session, self.clock())
        if count:
            log.info("expired %d abandoned conversation(s)", count)
        return count
