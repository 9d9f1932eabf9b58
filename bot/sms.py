"""The SMS channel: replies as plain text with numbered choices, counted in segments.

An SMS costs the landlord per segment: 160 GSM-7 characters (153 when a message is
joined from several), or 70 (67) as soon as one character needs UCS-2. Everything
here keeps replies short and, where the language allows, inside GSM-7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.base import ChannelAdapter
from intake.engine import SKIP, Reply, TurnResult
from intake.i18n import N_, gettext

#: GSM 03.38 basic character set (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table (two septets each: escape + character).
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

#: Twilio refuses a body over 1,600 characters; we never send one.
MAX_BODY_CHARS = 1600

#: Typographic characters that force UCS-2 for no reason, and their GSM-7 stand-ins.
_PLAIN = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u202f": " ",
})


def plain(text: str) -> str:
    """``text`` with curly quotes, dashes and ellipses made plain (GSM-7 where they were all
    that stood in the way)."""
    return text.translate(_PLAIN)


def is_gsm7(text: str) -> bool:
    """Say whether ``text`` can be sent in the GSM-7 alphabet."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def encoding(text: str) -> str:
    """``"GSM-7"`` or ``"UCS-2"``: the alphabet the network will send ``text`` in."""
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def segments(text: str) -> int:
    """The number of SMS segments ``text`` costs."""
    if not text:
        return 1
    if is_gsm7(text):
        length = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        single, joined = 160, 153
    else:
        # UCS-2 counts UTF-16 code units: a character outside the BMP takes two.
        length = len(text.encode("utf-16-le")) // 2
        single, joined = 70, 67
    if length <= single:
        return 1
    return -(-length // joined)


@dataclass(frozen=True)
class SmsBody:
    """One outbound SMS: its text and what it costs."""

    text: str

    @property
    def segments(self) -> int:
        return segments(self.text)


def split_body(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Split ``text`` into bodies of at most ``limit`` characters, at line or word breaks."""
    bodies: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        bodies.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        bodies.append(rest)
    return bodies


def render_reply(reply: Reply, locale: str) -> str:
    """One engine reply as SMS text: the words, then its choices numbered one per line.

    A trailing Skip is left unnumbered (the word "skip" always works and costs nothing),
    and a multiple choice says that several numbers may be sent at once.
    """
    lines = [reply.brief or reply.text]
    choices = list(reply.choices)
    if choices and choices[-1].value == SKIP:
        choices.pop()
    lines.extend(f"{number} {choice.label}" for number, choice in enumerate(choices, start=1))
    if choices and reply.multiple:
        lines.append(gettext(locale, N_("Send one or more, e.g. 1 3")))
    return plain("\n".join(lines))


class SmsAdapter(ChannelAdapter):
    """Renders a turn as SMS bodies (one per reply group, none over 1,600 characters)."""

    name: ClassVar[str] = "sms"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"From", "To", "Body"})

    def render(self, result: TurnResult) -> list[SmsBody]:
        text = "\n".join(render_reply(reply, result.locale) for reply in result.replies)
        return [SmsBody(body) for body in split_body(text)]
