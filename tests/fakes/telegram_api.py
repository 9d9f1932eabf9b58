"""A local fake of the Telegram Bot API, for tests.

It speaks real HTTP at ``/bot{token}/{method}``, so python-telegram-bot's real ``telegram.Bot``
can use it via ``Bot(token, base_url=f"{fake.base_url}/bot")``. It implements the handful of
methods the application calls, queues updates for ``getUpdates``, records every call, and can
inject faults (error statuses, 429 flood control, slow answers, refused connections).
"""

from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .server import LocalServer

# Form values arrive as strings, JSON-encoded unless the parameter is itself a string (that is
# how python-telegram-bot encodes them). These parameters are strings and are never decoded.
_STRING_PARAMS = frozenset(
    "text url secret_token callback_query_id inline_message_id parse_mode caption ip_address"
    " business_connection_id message_effect_id".split()
)
_LONG_POLL_CAP = 2.0


def _reply(status: int, result: Any = None, description: str = "", **extra: Any) -> tuple[int, Any]:
    """Build a Bot API envelope: ``{"ok": true, "result": ...}`` or an error."""
    if status == 200:
        return status, {"ok": True, "result": result}
    return status, {"ok": False, "error_code": status, "description": description, **extra}


def _decode(name: str, value: str) -> Any:
    """Undo python-telegram-bot's form encoding of one parameter value."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class FakeTelegram(LocalServer):
    """A threaded local HTTP server answering like ``api.telegram.org`` for one bot token."""

    def __init__(self, token: str) -> None:
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot_user = {
            "id": int(bot_id) if bot_id.isdigit() else 1,
            "is_bot": True,
            "first_name": "Test Bot",
            "username": "hatereport_test_bot",
        }
        self.webhook: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._sent: list[dict[str, Any]] = []
        self._messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self._last_ids: dict[Any, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._faults: list[tuple[int, dict[str, Any], str]] = []
        self._delays: list[tuple[float, bool]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        """Listen on a free port of 127.0.0.1 and serve from a daemon thread."""
        self._stopping.clear()
        self._listen()
        return self

    def stop(self) -> None:
        """Stop listening, cutting short injected delays and pending long polls."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self.refuse()

    # -- what tests read and feed ---------------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """A snapshot of every well-addressed call as ``(method, decoded params)``."""
        with self._lock:
            return list(self._calls)

    @property
    def sent(self) -> list[dict[str, Any]]:
        """A snapshot of sent messages: chat_id, text, reply_markup, message_id, at (monotonic)."""
        with self._lock:
            return [dict(m) for m in self._sent]

    def wait_for_sent(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` messages were sent; raise ``TimeoutError`` if not."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._sent) >= count, timeout):
                raise TimeoutError(f"{len(self._sent)} of {count} messages after {timeout}s")
            return [dict(m) for m in self._sent]

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for ``getUpdates``; an ``update_id`` is assigned if missing."""
        with self._changed:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self._updates.append(update)
            self._changed.notify_all()
            return int(update["update_id"])

    # -- fault injection -------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 502) -> None:
        """Answer the next ``n`` calls with ``status``; nothing is done or recorded as sent."""
        with self._lock:
            self._faults.extend([(status, {}, "Bad Gateway")] * n)

    def rate_limit_next(self, n: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``n`` calls with Telegram's 429 flood-control error."""
        extra = {"parameters": {"retry_after": retry_after}}
        with self._lock:
            self._faults.extend([(429, extra, f"Too Many Requests: retry after {retry_after}")] * n)

    def delay_next(self, n: int = 1, seconds: float = 5.0, deliver: bool = True) -> None:
        """Sleep ``seconds`` before answering the next ``n`` calls.

        With ``deliver`` the call takes effect before the sleep (Telegram sent the message but
        the client timed out); without it nothing happens and the late answer is a 504.
        """
        with self._lock:
            self._delays.extend([(seconds, deliver)] * n)

    # -- the API -------------------------------------------------------------------------------

    def handle(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        """Answer one request; called from the server's handler threads."""
        prefix, _, method = path.lstrip("/").partition("/")
        if not prefix.startswith("bot") or not method or "/" in method:
            return _reply(404, description="Not Found")
        if prefix[3:] != self.token:
            return _reply(401, description="Unauthorized")
        handler = getattr(self, "_api_" + method.lower(), None)
        if handler is None:
            return _reply(404, description="Not Found")
        with self._lock:
            self._calls.append((method, params))
            if self._faults:
                status, extra, description = self._faults.pop(0)
                return _reply(status, description=description, **extra)
            seconds, deliver = self._delays.pop(0) if self._delays else (0.0, True)
        answer: tuple[int, Any] = (
            handler(params) if deliver else _reply(504, description="Gateway Timeout")
        )
        self._stopping.wait(seconds)
        return answer

    def _api_getme(self, params: dict[str, Any]) -> tuple[int, Any]:
        return _reply(200, self.bot_user)

    def _api_sendmessage(self, params: dict[str, Any]) -> tuple[int, Any]:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id is None or not text:
            return _reply(400, description="Bad Request: chat_id and text are required")
        private = isinstance(chat_id, int)
        chat = (
            {"id": chat_id, "type": "private", "first_name": "Tester"}
            if private
            else {"id": -1001, "type": "channel", "title": str(chat_id)}
        )
        markup = params.get("reply_markup")
        with self._changed:
            message_id = self._last_ids[chat_id] = self._last_ids.get(chat_id, 0) + 1
            message = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup  # Telegram echoes only inline keyboards
            self._messages[(chat_id, message_id)] = message
            record = {"chat_id": chat_id, "text": text, "reply_markup": markup}
            self._sent.append({**record, "message_id": message_id, "at": time.monotonic()})
            self._changed.notify_all()
        return _reply(200, message)

    def _api_answercallbackquery(self, params: dict[str, Any]) -> tuple[int, Any]:
        if not params.get("callback_query_id"):
            return _reply(400, description="Bad Request: query is too old or query ID is invalid")
        return _reply(200, True)

    def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> tuple[int, Any]:
        if params.get("inline_message_id"):
            return _reply(200, True)
        markup = params.get("reply_markup")
        with self._lock:
            message = self._messages.get((params.get("chat_id"), params.get("message_id", 0)))
            if message is None:
                return _reply(400, description="Bad Request: message to edit not found")
            if message.get("reply_markup") == markup:
                return _reply(400, description="Bad Request: message is not modified")
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            return _reply(200, dict(message))

    def _api_setwebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.webhook = {
                key: params.get(key) for key in ("url", "secret_token", "allowed_updates")
            }
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return _reply(200, True)

    def _api_deletewebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            self.webhook = None
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return _reply(200, True)

    def _api_getwebhookinfo(self, params: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            info = {
                "url": (self.webhook or {}).get("url") or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self.webhook and self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return _reply(200, info)

    def _api_getupdates(self, params: dict[str, Any]) -> tuple[int, Any]:
        """Return updates with ``update_id >= offset``, forgetting older ones, as Telegram does."""
        offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), _LONG_POLL_CAP)
        with self._changed:
            if self.webhook is not None:
                return _reply(
                    409,
                    description="Conflict: can't use getUpdates method while "
                    "webhook is active; use deleteWebhook to delete the webhook first",
                )
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            self._changed.wait_for(lambda: bool(self._updates) or self._stopping.is_set(), wait)
            return _reply(200, self._updates[:limit])


class _Handler(BaseHTTPRequestHandler):
    """Parses a Bot API request (query, urlencoded, multipart or JSON) for the fake."""

    fake: FakeTelegram

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        url = urlsplit(self.path)
        params: dict[str, Any] = {k: _decode(k, v) for k, v in parse_qsl(url.query)}
        params.update(self._body_params())
        status, payload = self.fake.handle(url.path, params)
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timed out) while we were delaying
            pass

    def _body_params(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        kind = self.headers.get_content_type()
        if not body:
            return {}
        if kind == "application/json":
            return dict(json.loads(body))
        if kind == "multipart/form-data":
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            form = BytesParser(policy=HTTP).parsebytes(head + body)
            params: dict[str, Any] = {}
            for part in form.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str):
                    continue
                raw = part.get_payload(decode=True)
                if part.get_filename() is not None:  # an uploaded file: keep the bytes
                    params[name] = raw
                else:
                    params[name] = _decode(name, bytes(raw or b"").decode("utf-8"))
            return params
        return {k: _decode(k, v) for k, v in parse_qsl(body.decode("utf-8"))}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""


FakeTelegram.handler = _Handler
