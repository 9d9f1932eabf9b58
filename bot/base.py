"""Neutral message types and the base class every channel adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from intake.engine import Reply, TurnResult


@dataclass(frozen=True)
class InboundMessage:
    """A message from a reporter, stripped of everything channel-specific."""

    channel: str
    text: str
    conversation_id: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """A message to a reporter: text plus the choices they can pick from."""

    text: str
    choices: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def from_reply(cls, reply: Reply) -> OutboundMessage:
        """Wrap one engine reply."""
        return cls(reply.text, tuple((choice.label, choice.value) for choice in reply.choices))


class ChannelAdapter(ABC):
    """Turns a provider's payloads into neutral messages and renders replies back."""

    #: The channel's name, stored on conversations and cases.
    name: ClassVar[str]
    #: Payload fields holding personal data: scrubbed before anything is logged.
    personal_fields: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def render(self, result: TurnResult) -> Any:
        """Render the engine's replies in the channel's own form."""

    @classmethod
    def redact(cls, payload: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``payload`` safe to log: personal fields replaced by a marker."""
        return {
            key: ("[redacted]" if key in cls.personal_fields else value)
            for key, value in payload.items()
        }

    @staticmethod
    def outbound(result: TurnResult) -> list[OutboundMessage]:
        """The engine's replies as neutral outbound messages."""
        return [OutboundMessage.from_reply(reply) for reply in result.replies]


def split_at_breaks(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at a line break where
    possible, else at a space, else anywhere; never an empty list."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces
