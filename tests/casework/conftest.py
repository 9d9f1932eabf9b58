"""Fixtures for casework: a real local SMTP server (aiosmtpd), the app wired to it and to
the local fakes of Twilio and Telegram, on SQLite and PostgreSQL, with a controlled clock."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import text

import intake.casework
import intake.outbox
from tests.channels.helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    WEBHOOK_SECRET,
)
from tests.conftest import HASH_KEY, Clock
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from web import create_app
from web import telegram as telegram_blueprint
from web.config import PROVIDER_VARIABLES
from web.extensions import services

SMTP_FROM = "alerts@landlord.example"

#: Every table casework writes, emptied between tests on the shared PostgreSQL database
#: (one TRUNCATE ... CASCADE, so the foreign keys between them do not matter).
TABLES = ("case_events", "outbox", "opt_outs", "inbound_messages", "conversations", "cases",
          "officers")


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: Message
    raw: bytes

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode(self.message.get_content_charset() or "utf-8")

    @property
    def whole(self) -> str:
        """Every header and the decoded body, to search for what must not be there."""
        headers = "\n".join(f"{name}: {value}" for name, value in self.message.items())
        return f"{headers}\n{self.body}\n{self.raw.decode('utf-8', 'replace')}"


class Recorder:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        with self._lock:
            self._mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                    email.message_from_bytes(raw), raw))
        return "250 Message accepted for delivery"

    @property
    def mails(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)

    def to(self, address: str) -> list[Mail]:
        return [mail for mail in self.mails if address in mail.rcpt_tos]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SMTPServer:
    """A real SMTP server on 127.0.0.1 that a test can stop and start again on its port."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def mails(self) -> list[Mail]:
        return self.recorder.mails

    def to(self, address: str) -> list[Mail]:
        return self.recorder.to(address)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-telegram-bot 22 warns whenever RetryAfter is built, unless told to use timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(BOT_TOKEN) as fake:
        yield fake


@dataclass
class Pacing:
    """Stands in for ``time.monotonic`` and ``time.sleep`` in the outbox, so pacing costs
    no real time."""

    now: float = field(default_factory=lambda: time.monotonic() + 3600.0)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def pacing(monkeypatch: pytest.MonkeyPatch) -> Pacing:
    pace = Pacing()
    monkeypatch.setattr(intake.outbox, "time",
                        SimpleNamespace(monotonic=pace.monotonic, sleep=pace.sleep))
    return pace


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with the least work, for tests that add officers by the handful (the
    command-line tests keep the production parameters)."""
    monkeypatch.setattr(intake.casework, "_HASHER",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def casework_config(database_url: str, data_key: str, smtp: SMTPServer, twilio: FakeTwilio,
                    telegram: FakeTelegram, **extra: Any) -> dict[str, Any]:
    """The app's configuration: email to the local SMTP server, SMS and Telegram to the fakes."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "DATA_KEY": data_key,
        "HASH_KEY": HASH_KEY,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp.port,
        "SMTP_FROM": SMTP_FROM,
        "PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "PROVIDER_TIMEOUT_SECONDS": 2,
        **extra,
    }


def _make_app(config: dict[str, Any], clock: Clock, pacing: Pacing) -> Flask:
    app = create_app(config)
    the = services(app)
    the.intake.clock = clock
    the.outbox.clock = clock
    the.outbox.sleep = pacing.sleep
    if the.db.dialect.name == "postgresql":
        with the.db.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return app


def _close(app: Flask) -> None:
    the = services(app)
    the.worker.stop()
    if telegram_blueprint.SENDER in app.extensions:
        telegram_blueprint.sender(app).close()
    the.db.dispose()


@pytest.fixture
def app(tmp_path: Path, data_key: str, smtp: SMTPServer, fake_twilio: FakeTwilio,
        fake_telegram: FakeTelegram, clock: Clock, pacing: Pacing,
        cheap_hashing: None) -> Iterator[Flask]:
    """The app on an SQLite file (``tmp_path / 'app.db'``)."""
    app = _make_app(casework_config(f"sqlite:///{tmp_path / 'app.db'}", data_key, smtp,
                                    fake_twilio, fake_telegram), clock, pacing)
    yield app
    _close(app)


@pytest.fixture
def db_app(db_url: str, data_key: str, smtp: SMTPServer, fake_twilio: FakeTwilio,
           fake_telegram: FakeTelegram, clock: Clock, pacing: Pacing,
           cheap_hashing: None) -> Iterator[Flask]:
    """The app on SQLite and on PostgreSQL, for allocation and escalation."""
    app = _make_app(casework_config(db_url, data_key, smtp, fake_twilio, fake_telegram),
                    clock, pacing)
    yield app
    _close(app)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_key: str) -> Path:
    """The ``hatereport`` command's environment: an SQLite file in ``tmp_path``."""
    monkeypatch.setenv("HATEREPORT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("HATEREPORT_DATA_KEY", data_key)
    monkeypatch.setenv("HATEREPORT_HASH_KEY", "cli-test-hash-key-" + "y" * 32)
    for name in PROVIDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path
