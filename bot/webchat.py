"""The web chat channel: replies as JSON messages with choices for buttons."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.base import ChannelAdapter
from intake.engine import TurnResult


class WebChatAdapter(ChannelAdapter):
    """Renders replies as ``{"text": ..., "choices": [{"label", "value"}]}`` messages."""

    name: ClassVar[str] = "web"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"text"})

    def render(self, result: TurnResult) -> list[dict[str, Any]]:
        return [
            {
                "text": message.text,
                "choices": [{"label": label, "value": value} for label, value in message.choices],
            }
            for message in self.outbound(result)
        ]
