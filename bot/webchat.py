"""The web chat channel: replies as JSON messages with choices for buttons."""

from __future__ import annotations

from typing import Any, ClassVar

from bot.base import ChannelAdapter
from intake.engine import ReplyChoice, TurnResult
from intake.i18n import N_, gettext
from intake.languages import get_language


class WebChatAdapter(ChannelAdapter):
    """Renders replies as ``{"text": ..., "choices": [{"label", "value"}]}`` messages."""

    name: ClassVar[str] = "web"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"text"})

    def render(self, result: TurnResult) -> list[dict[str, Any]]:
        hint = gettext(result.locale, N_("Choose all that apply."))
        return [
            {
                "text": f"{reply.text} {hint}" if reply.multiple and reply.choices else reply.text,
                "choices": [_choice(choice) for choice in reply.choices],
                "language": _language(reply.locale or result.locale),
            }
            for reply in result.replies
        ]


def _language(code: str) -> dict[str, str]:
    language = get_language(code)
    return {"code": language.code, "direction": language.direction}


def _choice(choice: ReplyChoice) -> dict[str, Any]:
    """A choice; a language's own name carries that language, for screen readers."""
    rendered: dict[str, Any] = {"label": choice.label, "value": choice.value}
    if choice.locale is not None:
        rendered["language"] = _language(choice.locale)
    return rendered
