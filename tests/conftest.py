"""Shared fixtures: a migrated database per test, a controllable clock, the app."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine as SAEngine
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import intake.outbox
from intake import crypto
from intake.db import make_engine, make_sessionmaker, migrate
from intake.engine import Engine, EngineSettings
from intake.service import IntakeService
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from web import create_app


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: Any) -> None:
        self.now += timedelta(**delta)


HASH_KEY = "test-hash-key-" + "x" * 32


@pytest.fixture
def data_key() -> Iterator[str]:
    key = Fernet.generate_key().decode()
    crypto.configure(key, HASH_KEY)
    yield key


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 14, 0, 0))


#: The machine's PostgreSQL server (trust authentication on 127.0.0.1:5432).
POSTGRES_ADMIN_URL = os.environ.get(
    "HATEREPORT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    import psycopg

    name = f"hatereport_test_{os.getpid()}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on the embedded SQLite default and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hatereport.db'}"
    url: str = request.getfixturevalue("pg_database")
    return url


@pytest.fixture
def db(db_url: str, data_key: str) -> Iterator[SAEngine]:
    engine = make_engine(db_url)
    migrate(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text(
                "TRUNCATE conversations, cases, attempts, stats_counts RESTART IDENTITY CASCADE"))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db: SAEngine) -> sessionmaker[Session]:
    return make_sessionmaker(db)


@pytest.fixture
def engine() -> Engine:
    return Engine(EngineSettings(conversation_ttl=timedelta(hours=72)))


@pytest.fixture
def service(sessions: sessionmaker[Session], engine: Engine, clock: Clock) -> IntakeService:
    return IntakeService(sessions, engine, clock=clock)


@pytest.fixture
def app(tmp_path: Path, data_key: str) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "DATA_KEY": data_key,
        "HASH_KEY": HASH_KEY,
        "QUICK_EXIT_URL": "https://www.bbc.co.uk/weather",
    })
    yield app
    app.extensions["hatereport"].db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- the provider fakes and outbox pacing, for the channel and casework tests -------------


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """python-telegram-bot 22 warns whenever RetryAfter is built, unless told to use
    timedelta (what the app expects anyway)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    from tests.channels.helpers import ACCOUNT_SID, AUTH_TOKEN

    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    from tests.channels.helpers import BOT_TOKEN

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
