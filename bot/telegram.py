"""The Telegram channel: updates in through python-telegram-bot's own types, replies out
through its ``Bot``.

A turn's replies become one Telegram message (several if over 4,096 characters), with
the choices as inline buttons. Every message goes through the outbox, which paces it to
Telegram's limits and retries it when the Bot API fails.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.base import ChannelAdapter, split_at_breaks
from intake.engine import SKIP, TurnResult
from intake.outbox import RetryLater, Undeliverable

#: Telegram's limit on one message's text.
MAX_MESSAGE_CHARS = 4096
#: Telegram's limit on a button's callback data, in bytes.
MAX_CALLBACK_BYTES = 64
#: Between the question and the choice in a button's callback data.
CONTEXT_SEPARATOR = "|"
#: The commands the bot answers, as the engine's words.
COMMANDS = {"/help": "/help", "/cancel": "/stop", "/stop": "/stop", "/language": "/language"}


@dataclass(frozen=True)
class Incoming:
    """What an update carries for the engine: who, what, and what to acknowledge."""

    update_id: int
    chat_id: int
    text: str
    callback_query_id: str | None = None
    #: The user's Telegram app language, a hint only.
    language_code: str | None = None
    #: For a button: the question it was offered for (``TurnResult.asking``).
    asked: str | None = None


def parse_update(data: dict[str, Any], bot: Bot | None = None) -> Incoming | None:
    """Parse a webhook body with ``telegram.Update.de_json``; None for an update the bot
    does not act on (an edit, a photo without words, a group event...)."""
    update = Update.de_json(data, bot)
    if update is None:
        return None
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if message is None or query.data is None:
            return None
        asked, _, value = query.data.rpartition(CONTEXT_SEPARATOR)
        return Incoming(update.update_id, message.chat.id, value, query.id,
                        query.from_user.language_code if query.from_user else None,
                        asked or None)
    message = update.message
    if message is None or message.chat.type != "private":
        return None
    text = message.text or message.caption
    if text is None:
        return None
    user = message.from_user
    return Incoming(update.update_id, message.chat.id, text, None,
                    user.language_code if user else None)


def command_text(text: str, has_conversation: bool) -> str:
    """Telegram's commands as the engine's words (``/start@MyBot`` included)."""
    word = text.strip().split(maxsplit=1)[0].split("@", 1)[0].casefold() if text.strip() else ""
    if word == "/start":
        return "/help" if has_conversation else text
    return COMMANDS.get(word, text)


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """``text`` in messages of at most ``limit`` characters, cut at line or word breaks."""
    return split_at_breaks(text, limit)


def callback_data(asking: str | None, value: str) -> str:
    """A button's data: the question it answers and the choice, so a press on an old
    message's button is recognised as such (within Telegram's 64 bytes)."""
    data = f"{asking}{CONTEXT_SEPARATOR}{value}" if asking else value
    return data if len(data.encode()) <= MAX_CALLBACK_BYTES else value


class TelegramAdapter(ChannelAdapter):
    """Renders a turn as ``sendMessage`` payloads for the outbox."""

    name: ClassVar[str] = "telegram"
    personal_fields: ClassVar[frozenset[str]] = frozenset({"message", "callback_query"})

    def render(self, result: TurnResult) -> list[dict[str, Any]]:
        if not result.replies:
            return []
        text = "\n\n".join(reply.text for reply in result.replies if reply.text)
        buttons = [[choice.label, callback_data(result.asking, choice.value)]
                   for choice in result.replies[-1].choices
                   if len(choice.value.encode()) <= MAX_CALLBACK_BYTES]
        pieces = split_text(text)
        payloads: list[dict[str, Any]] = [{"method": "sendMessage", "text": piece}
                                          for piece in pieces]
        if buttons:
            payloads[-1]["buttons"] = buttons
        return payloads


def keyboard(buttons: list[list[str]]) -> InlineKeyboardMarkup:
    """Inline buttons, one per row (two per row for long lists), Skip on its own row."""
    main = [button for button in buttons if button[1] != SKIP]
    skip = [button for button in buttons if button[1] == SKIP]
    width = 2 if len(main) > 8 else 1
    rows = [
        [InlineKeyboardButton(label, callback_data=value)
         for label, value in main[start:start + width]]
        for start in range(0, len(main), width)
    ]
    rows.extend([[InlineKeyboardButton(label, callback_data=value)] for label, value in skip])
    return InlineKeyboardMarkup(rows)


def make_bot(token: str, api_base_url: str | None = None, timeout: float = 10.0) -> Bot:
    """python-telegram-bot's ``Bot``, pointed at ``api_base_url`` when given (a self-hosted
    Bot API server, or a test server)."""
    options: dict[str, Any] = {}
    if api_base_url:
        base = api_base_url.rstrip("/")
        options.update(base_url=f"{base}/bot", base_file_url=f"{base}/file/bot")
    request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout,
                           write_timeout=timeout, pool_timeout=timeout)
    return Bot(token, request=request, get_updates_request=HTTPXRequest(
        connect_timeout=timeout, read_timeout=timeout + 60), **options)


def retry_seconds(retry_after: Any) -> float:
    """A ``RetryAfter.retry_after`` (seconds, or a timedelta) in seconds."""
    if isinstance(retry_after, timedelta):
        return retry_after.total_seconds()
    return float(retry_after)


class TelegramSender:
    """Sends outbox payloads through ``Bot`` on an event loop of its own, running in its
    own thread, so any thread can call :meth:`send` (the outbox worker, a command, or one
    that already runs an event loop)."""

    channel = "telegram"
    #: Telegram: about one message a second to one chat, thirty a second overall.
    per_recipient_interval = 1.0
    per_second = 30.0

    def __init__(self, token: str, api_base_url: str | None = None,
                 timeout: float = 10.0) -> None:
        self.bot = make_bot(token, api_base_url, timeout)
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._ready = False

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="telegram-bot",
                                 daemon=True).start()
            return self._loop

    def run(self, coroutine: Any) -> Any:
        """Run one Bot API coroutine to completion on the sender's loop and thread."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        try:
            return future.result(timeout=self.timeout * 3 + 5)
        except TimeoutError:
            future.cancel()
            raise RetryLater("telegram: no answer in time") from None

    async def _send(self, recipient: str, payload: dict[str, Any]) -> str | None:
        if not self._ready:
            await self.bot.initialize()
            self._ready = True
        if payload.get("method") == "answerCallbackQuery":
            await self.bot.answer_callback_query(str(payload["callback_query_id"]))
            return None
        buttons = payload.get("buttons")
        message = await self.bot.send_message(
            chat_id=int(recipient),
            text=str(payload["text"]),
            reply_markup=keyboard(buttons) if buttons else None,
        )
        return str(message.message_id)

    def send(self, recipient: str, payload: dict[str, Any]) -> str | None:
        try:
            result: str | None = self.run(self._send(recipient, payload))
        except RetryAfter as exc:
            raise RetryLater("telegram 429", retry_after=retry_seconds(exc.retry_after)) from None
        except Forbidden:
            raise Undeliverable("telegram 403: the user blocked the bot") from None
        except InvalidToken:
            raise RetryLater("telegram: the bot token was refused") from None
        except BadRequest as exc:
            if payload.get("method") == "answerCallbackQuery":
                return None  # too old to answer: nothing is lost
            raise Undeliverable(f"telegram 400: {type(exc).__name__}") from None
        except (NetworkError, TelegramError) as exc:
            raise RetryLater(f"telegram {type(exc).__name__}") from None
        return result

    def close(self) -> None:
        """Shut the bot's HTTP clients and the loop."""
        if self._ready:
            self.run(self.bot.shutdown())
            self._ready = False
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
