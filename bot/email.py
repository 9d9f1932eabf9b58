"""Email: the outbox's sender for officer alerts, through the standard library's smtplib.

Configured by ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USERNAME``, ``SMTP_PASSWORD``,
``SMTP_FROM`` and ``SMTP_STARTTLS``. A refused connection, a timeout or a 4xx answer is
retried by the outbox; a 5xx answer for the recipient (no such mailbox) is not.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from intake.outbox import RetryLater, Undeliverable


class EmailSender:
    """Sends outbox payloads (``subject``, ``text``, optionally ``reply_to``) as
    plain-text email."""

    channel = "email"
    per_recipient_interval = 0.0
    per_second = 5.0

    def __init__(self, host: str, port: int = 25, *, sender: str,
                 username: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def send(self, recipient: str, payload: dict[str, Any]) -> str | None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = str(payload.get("subject") or "hatereport")
        if payload.get("reply_to"):
            message["Reply-To"] = str(payload["reply_to"])
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message.set_content(str(payload["text"]))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(400 <= code < 500 for code in codes):
                raise RetryLater(f"smtp {codes[0]}: recipient deferred") from None
            raise Undeliverable(f"smtp {codes[0] if codes else '?'}: recipient refused") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise RetryLater(f"smtp {exc.smtp_code}") from None
            if exc.smtp_code in (530, 535):  # authentication: configuration, retry later
                raise RetryLater(f"smtp {exc.smtp_code}: authentication") from None
            raise Undeliverable(f"smtp {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryLater(f"smtp {type(exc).__name__}") from None
        return message.get("Message-ID")
