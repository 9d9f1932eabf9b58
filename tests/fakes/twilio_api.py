"""A local fake of Twilio's Programmable Messaging REST API, for tests.

It speaks real HTTP, so the real ``twilio.rest.Client`` can talk to it once its HTTP client
rewrites ``https://api.twilio.com`` to :attr:`FakeTwilio.base_url`. Only the two endpoints the
application uses exist: create a message and fetch one. Faults (error statuses, slow answers,
refused connections) can be injected to exercise retry and timeout paths.
"""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from .server import LocalServer

_MESSAGES = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$"
)


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    """Build a legacy Twilio error body (the shape that becomes ``TwilioRestException``)."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, body


def _segments(body: str) -> int:
    """Count SMS segments, approximating GSM-7 as ASCII and everything else as UCS-2."""
    single, multi = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / multi)


class FakeTwilio(LocalServer):
    """A threaded local HTTP server answering like ``api.twilio.com`` for one account."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)
        self._messages: list[dict[str, Any]] = []
        self._resources: dict[str, dict[str, Any]] = {}
        self._failures: list[int] = []
        self._delays: list[tuple[float, bool]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Listen on a free port of 127.0.0.1 and serve from a daemon thread."""
        self._stopping.clear()
        self._listen()
        return self

    def stop(self) -> None:
        """Stop listening and cut short any injected delays."""
        self._stopping.set()
        self.refuse()

    # -- what tests read -----------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """A snapshot of accepted messages: to, from_, messaging_service_sid, body, ..., sid."""
        with self._lock:
            return [dict(m) for m in self._messages]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` messages were accepted; raise ``TimeoutError`` if not."""
        with self._recorded:
            if not self._recorded.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(f"{len(self._messages)} of {count} messages after {timeout}s")
            return [dict(m) for m in self._messages]

    # -- fault injection -------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` API requests with ``status`` and a Twilio error; send nothing."""
        with self._lock:
            self._failures.extend([status] * n)

    def delay_next(self, n: int = 1, seconds: float = 5.0, deliver: bool = True) -> None:
        """Sleep ``seconds`` before answering the next ``n`` requests.

        With ``deliver`` the message is accepted (recorded) *before* the sleep, as when Twilio
        took it but the answer was lost to a client timeout; the answer is then the normal 201.
        Without it nothing is recorded and the late answer is a 504 error.
        """
        with self._lock:
            self._delays.extend([(seconds, deliver)] * n)

    # -- the API -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, auth: str | None, body: bytes) -> tuple[int, Any]:
        """Answer one request; called from the server's handler threads."""
        match = _MESSAGES.match(path.split("?", 1)[0])
        if match is None or method not in ("GET", "POST"):
            return _error(404, 20404, "The requested resource was not found")
        if not self._authorised(auth):
            return _error(401, 20003, "Authenticate")
        if match["account"] != self.account_sid:
            return _error(404, 20404, f"The requested resource {path} was not found")
        with self._lock:
            if self._failures:
                failure = self._failures.pop(0)
                return _error(failure, 20000 + failure, f"Injected failure ({failure})")
            seconds, deliver = self._delays.pop(0) if self._delays else (0.0, True)
        if method == "GET":
            self._stopping.wait(seconds)
            with self._lock:
                resource = self._resources.get(match["sid"] or "")
            if resource is None:
                return _error(404, 20404, f"The requested resource {path} was not found")
            return 200, resource
        if match["sid"]:
            return _error(405, 20004, "Method not allowed")
        answer = self._create(parse_qs(body.decode("utf-8"), keep_blank_values=True), deliver)
        self._stopping.wait(seconds)
        return answer if deliver else _error(504, 20504, "Injected timeout: message not sent")

    def _authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(f"{user}:{password}", f"{self.account_sid}:{self.auth_token}")

    def _create(self, form: dict[str, list[str]], deliver: bool) -> tuple[int, Any]:
        """Validate a Messages.json form like Twilio does and, if ``deliver``, record it."""
        field = {key: values[-1] for key, values in form.items()}
        if not field.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if not field.get("From") and not field.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required.")
        if not field.get("Body") and "MediaUrl" not in field and "ContentSid" not in field:
            return _error(400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        body = field.get("Body", "")
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": field.get("From"),
            "messaging_service_sid": field.get("MessagingServiceSid"),
            "num_media": str(len(form.get("MediaUrl", []))),
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": field["To"],
            "uri": uri,
        }
        if deliver:
            with self._recorded:
                self._resources[sid] = resource
                self._messages.append(
                    {
                        "to": field["To"],
                        "from_": field.get("From"),
                        "messaging_service_sid": field.get("MessagingServiceSid"),
                        "body": body,
                        "status_callback": field.get("StatusCallback"),
                        "sid": sid,
                    }
                )
                self._recorded.notify_all()
        return 201, resource


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to :meth:`FakeTwilio.handle` and writes its JSON answer."""

    fake: FakeTwilio

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self._answer()

    def do_DELETE(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.fake.handle(
            self.command, self.path, self.headers.get("Authorization"), body
        )
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timed out) while we were delaying
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output quiet."""


FakeTwilio.handler = _Handler
