"""The web chat channel: replies as JSON messages with choices for buttons."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.base import ChannelAdapter
from intake.engine import TurnResult
from intake.i18n import N_, gettext


class WebChatAdapter(ChannelAdapter):
    """Renders replies as ``{"text": ..., "choices": [{"label", "value"}]}`` messages."""

    name: ClassVar[str] = "web"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"text"})

    def render(self, result: TurnResult) -> list[dict[str, Any]]:
        hint = gettext(result.locale, N_("Choose all that apply."))
        return [
            {
                "text": f"{reply.text} {hint}" if reply.multiple and reply.choices else reply.text,
                "choices": [{"label": choice.label, "value": choice.value}
                            for choice in reply.choices],
            }
            for reply in result.replies
        ]
