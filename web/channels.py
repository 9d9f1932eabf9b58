"""What the SMS and Telegram webhooks share: the work done inside a turn's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from intake.engine import TurnResult
from intake.models import Case, Conversation
from intake.outbox import enqueue

#: Contact methods that mean "use the channel this report came in on".
THIS_CHANNEL = frozenset({"this_channel"})


def remember_address(session: Session, conversation: Conversation, result: TurnResult,
                     address: str) -> None:
    """Keep the channel address (encrypted) on a just-submitted case, only when a named
    reporter asked to be contacted here; an anonymous report keeps none."""
    if not result.done or result.followup_code is not None or conversation.case_id is None:
        return
    case = session.get(Case, conversation.case_id)
    if case is not None and not case.anonymous and case.contact_method in THIS_CHANNEL:
        case.channel_address = address


def after_turn(
    channel: str,
    address: str,
    now: Callable[[], Any],
    payloads: Callable[[TurnResult], list[dict[str, Any]]] | None = None,
    first: list[dict[str, Any]] | None = None,
) -> Callable[[Session, Conversation, TurnResult], None]:
    """The hook a webhook hands to ``IntakeService.receive``: queue the turn's replies on
    the outbox (for channels that push them) and remember the address if asked to."""

    def hook(session: Session, conversation: Conversation, result: TurnResult) -> None:
        at = now()
        for payload in [*(first or []), *(payloads(result) if payloads else [])]:
            enqueue(session, channel, address, payload, "reply", at)
        remember_address(session, conversation, result, address)

    return hook
