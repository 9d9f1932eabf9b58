"""Fixtures for the SMS and Telegram channels: the app wired to local fakes of Twilio and
the Telegram Bot API, on SQLite or PostgreSQL, with a clock and pacing the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.channels.helpers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    WEBHOOK_SECRET,
)
from tests.conftest import HASH_KEY, Clock, Pacing
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from web import create_app
from web import telegram as telegram_blueprint
from web.extensions import services

#: Every table a turn, casework or the outbox writes; emptied between tests on the shared
#: PostgreSQL database (TRUNCATE ... CASCADE: the order does not matter).
TABLES = ("audit_log", "case_events", "conversations", "cases", "officers",
          "inbound_messages", "outbox", "opt_outs", "attempts", "stats_counts")




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
