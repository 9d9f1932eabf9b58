"""Shared fixtures: a migrated database per test, a controllable clock, the app."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine as SAEngine
from sqlalchemy.orm import Session, sessionmaker

from intake import crypto
from intake.db import make_engine, make_sessionmaker, migrate
from intake.engine import Engine, EngineSettings
from intake.service import IntakeService
from web import create_app


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: Any) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def data_key() -> Iterator[str]:
    key = Fernet.generate_key().decode()
    crypto.configure(key)
    yield key


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 14, 0, 0))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "hatereport.db"


@pytest.fixture
def db(db_path: Path, data_key: str) -> Iterator[SAEngine]:
    engine = make_engine(f"sqlite:///{db_path}")
    migrate(engine)
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
        "QUICK_EXIT_URL": "https://www.bbc.co.uk/weather",
    })
    yield app
    app.extensions["hatereport"].db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
