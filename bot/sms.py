"""The SMS channel: replies as plain text with numbered choices, counted in segments.

An SMS costs the landlord per segment: 160 GSM-7 characters (153 when a message is
joined from several), or 70 (67) as soon as one character needs UCS-2. Everything
here keeps replies short and, where the language allows, inside GSM-7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.base import ChannelAdapter, split_at_breaks
from intake.engine import SKIP, Reply, TurnResult
from intake.i18n import N_, gettext
from intake.outbox import RecipientOptedOut, RetryLater, Undeliverable

#: GSM 03.38 basic character set (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 extension table (two septets each: escape + character).
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

#: Twilio refuses a body over 1,600 characters; we never send one.
MAX_BODY_CHARS = 1600
#: The most segments one message of the service may cost, in any shipped language (a
#: question with its numbered choices, or any one reply). UCS-2 languages get 67
#: characters a segment, so this is about 400 characters there; English stays far below.
SEGMENT_BUDGET = 6
#: The same for English, which is written to fit GSM-7.
ENGLISH_SEGMENT_BUDGET = 2

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
    """The number of SMS segments ``text`` costs.

    One segment holds 160 GSM-7 septets or 70 UCS-2 units; joined, each holds 153 or 67,
    and a character is never split between two: an extension character (two septets,
    e.g. the euro sign) or a character outside the BMP (two UTF-16 units, e.g. an emoji)
    that does not fit starts the next segment.
    """
    if not text:
        return 1
    if is_gsm7(text):
        sizes = [2 if char in GSM7_EXTENDED else 1 for char in text]
        single, joined = 160, 153
    else:
        sizes = [len(char.encode("utf-16-le")) // 2 for char in text]
        single, joined = 70, 67
    if sum(sizes) <= single:
        return 1
    count, used = 1, 0
    for size in sizes:
        if used + size > joined:
            count, used = count + 1, 0
        used += size
    return count


@dataclass(frozen=True)
class SmsBody:
    """One outbound SMS: its text and what it costs."""

    text: str

    @property
    def segments(self) -> int:
        return segments(self.text)


def split_body(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Split ``text`` into bodies of at most ``limit`` characters, at line or word breaks."""
    return [body for body in split_at_breaks(text, limit) if body]


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


# -- Twilio: inbound webhooks and outbound messages -------------------------------------

#: Twilio's default opt-out and opt-in keywords (Advanced Opt-Out). Twilio answers them
#: itself and blocks messages to an opted-out number, but still passes them on.
OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit",
                              "revoke", "optout"})
OPT_IN_KEYWORDS = frozenset({"start", "yes", "unstop"})
#: Twilio error codes that mean the recipient has opted out of this sender.
TWILIO_OPTED_OUT = frozenset({21610})


def keyword(body: str) -> str:
    """A whole message folded as Twilio matches its keywords."""
    return " ".join(body.split()).strip(" .!").casefold()


def signature_is_valid(auth_token: str, url: str, params: dict[str, str],
                       signature: str | None) -> bool:
    """Check ``X-Twilio-Signature`` for a webhook Twilio sent to ``url``."""
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def twiml(bodies: list[SmsBody]) -> str:
    """The TwiML that answers a webhook with ``bodies`` (none: an empty response)."""
    response = MessagingResponse()
    for body in bodies:
        response.message(body.text)
    return str(response)


class TwilioSender:
    """Sends outbox SMS through ``twilio.rest.Client`` (``TWILIO_API_BASE_URL`` points it at
    another host that speaks Twilio's REST API, for tests and staging)."""

    channel = "sms"
    per_recipient_interval = 0.0
    per_second = 10.0

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str | None = None,
                 messaging_service_sid: str | None = None, api_base_url: str | None = None,
                 status_callback: str | None = None, timeout: float = 10.0) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self.client = Client(account_sid, auth_token,
                             http_client=RedirectingHttpClient(api_base_url, timeout))

    def send(self, recipient: str, payload: dict[str, Any]) -> str | None:
        options: dict[str, Any] = {"to": recipient, "body": str(payload["text"])}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            options["from_"] = self.from_number
        if self.status_callback:
            options["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as exc:
            if exc.code in TWILIO_OPTED_OUT:
                raise RecipientOptedOut(f"twilio {exc.code}: recipient opted out") from None
            if exc.status == 429 or exc.status >= 500 or exc.status in (401, 403):
                raise RetryLater(f"twilio HTTP {exc.status}") from None
            raise Undeliverable(f"twilio HTTP {exc.status} code {exc.code}") from None
        except (RequestException, TwilioException) as exc:
            raise RetryLater(f"twilio {type(exc).__name__}") from None
        return str(message.sid)


class RedirectingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's own HTTP client, sending requests meant for *.twilio.com to another base
    URL (a staging host or a test server that speaks Twilio's REST API)."""

    def __init__(self, api_base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.api_base_url = api_base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        if self.api_base_url and (parts.hostname or "").endswith("twilio.com"):
            url = self.api_base_url.rstrip("/") + parts.path + (
                f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)
