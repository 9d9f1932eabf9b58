"""Fixtures for the SMS and Telegram channels: the app wired to local fakes of Twilio and
the Telegram Bot API, on SQLite or PostgreSQL, with a clock and pacing the test controls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

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
from web.extensions import services

#: Every table a channel turn writes; emptied between tests on the shared PostgreSQL database.
TABLES = ("conversations", "cases", "inbound_messages", "outbox", "opt_outs")


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-telegram-bot 22 warns whenever RetryAfter is built, unless told to use
    timedelta (what the app expects anyway)."""
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
    """Stands in for ``time.monotonic`` and ``time.sleep`` in the outbox: a sleep is
    recorded and moves this clock on at once, so pacing is exact and costs no time."""

    now: float = field(default_factory=lambda: time.monotonic() + 3600.0)
    waits: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def pacing(monkeypatch: pytest.MonkeyPatch) -> Pacing:
    pace = Pacing()
    monkeypatch.setattr(intake.outbox, "time",
                        SimpleNamespace(monotonic=pace.monotonic, sleep=pace.sleep))
    return pace


def channel_config(database_url: str, data_key: str, twilio: FakeTwilio,
                   telegram: FakeTelegram, **extra: Any) -> dict[str, Any]:
    """The app's configuration for channel tests: both providers pointed at the fakes."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "DATA_KEY": data_key,
        "HASH_KEY": HASH_KEY,
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
    db = the.db
    if db.dialect.name == "postgresql":
        with db.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return app


def _close(app: Flask) -> None:
    the = services(app)
    the.worker.stop()
    if telegram_blueprint.SENDER in app.extensions:
        telegram_blueprint.sender(app).close()
    the.db.dispose()


@pytest.fixture
def app(tmp_path: Path, data_key: str, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram,
        clock: Clock, pacing: Pacing) -> Iterator[Flask]:
    """The app on an SQLite file (``tmp_path / 'app.db'``), for tests that read its bytes."""
    app = _make_app(channel_config(f"sqlite:///{tmp_path / 'app.db'}", data_key,
                                   fake_twilio, fake_telegram), clock, pacing)
    yield app
    _close(app)


@pytest.fixture
def db_app(db_url: str, data_key: str, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram,
           clock: Clock, pacing: Pacing) -> Iterator[Flask]:
    """The app on SQLite and on PostgreSQL, for behaviour that rests on the database
    (idempotency, opt-outs, the outbox)."""
    app = _make_app(channel_config(db_url, data_key, fake_twilio, fake_telegram), clock, pacing)
    yield app
    _close(app)


@pytest.fixture
def proxied_app(tmp_path: Path, data_key: str, fake_twilio: FakeTwilio,
                fake_telegram: FakeTelegram, clock: Clock, pacing: Pacing) -> Iterator[Flask]:
    """The app behind a proxy: reached at http://localhost, published at PUBLIC_URL."""
    app = _make_app(channel_config(f"sqlite:///{tmp_path / 'proxied.db'}", data_key,
                                   fake_twilio, fake_telegram, PUBLIC_URL=PUBLIC_URL),
                    clock, pacing)
    yield app
    _close(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_client(db_app: Flask) -> FlaskClient:
    return db_app.test_client()
