"""Fixtures for casework: a real local SMTP server (aiosmtpd), the app wired to it and to
the local fakes of Twilio and Telegram, on SQLite and PostgreSQL, with a controlled clock."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from flask import Flask

import intake.casework
from tests.channels.conftest import _close, _make_app, channel_config
from tests.channels.helpers import (
    PUBLIC_URL,
)
from tests.conftest import Clock, Pacing
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from web.config import PROVIDER_VARIABLES

SMTP_FROM = "alerts@landlord.example"



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


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with the least work, for tests that add officers by the handful (the
    command-line tests keep the production parameters)."""
    monkeypatch.setattr(intake.casework, "_HASHER",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def casework_config(database_url: str, data_key: str, smtp: SMTPServer, twilio: FakeTwilio,
                    telegram: FakeTelegram, **extra: Any) -> dict[str, Any]:
    """The channel tests' configuration, plus the real SMTP server and a public URL."""
    return channel_config(database_url, data_key, twilio, telegram, SMTP_HOST="127.0.0.1",
                          SMTP_PORT=smtp.port, SMTP_FROM=SMTP_FROM, PUBLIC_URL=PUBLIC_URL,
                          **extra)


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


@pytest.fixture
def mail_env(cli_env: Path, smtp: SMTPServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The command's environment, with email alerts to the local SMTP server."""
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("SMTP_FROM", SMTP_FROM)
    monkeypatch.setenv("HATEREPORT_PUBLIC_URL", "https://report.example.org")
    return cli_env
