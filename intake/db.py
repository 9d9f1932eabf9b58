"""Database set-up: engines, sessions and migrations (Alembic, run on start)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine.url import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, a busy timeout instead of 'database is locked'."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets its parent folder and safe pragmas."""
    parsed = make_url(url)
    # Parameters are answers and case fields: never let them into an error message or log.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            # Only the service's own user may read the database; SQLite gives its -wal
            # and -shm files the same permissions as the database file.
            path = Path(database)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        kwargs["connect_args"] = {"check_same_thread": False}
        kwargs["pool_size"] = 20
        kwargs["max_overflow"] = 20
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLite take the write lock at BEGIN, so concurrent writers queue on the
        # busy timeout instead of failing on lock upgrade.
        event.listen(engine, "connect", _no_pysqlite_transactions)
        event.listen(engine, "begin", _begin_immediate)
    return engine


def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    """Bring the schema to the newest Alembic revision (or up or ``down`` to another)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


#: SQLite has one writer at a time. Threads of one process queue on this lock, woken at
#: once, rather than on SQLite's busy handler, which sleeps and polls (up to 100 ms).
_SQLITE_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def _writer_lock(factory: sessionmaker[Session]) -> AbstractContextManager[Any]:
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return nullcontext()
    with _REGISTRY_LOCK:
        lock = _SQLITE_WRITERS.get(bind)
        if lock is None:
            lock = _SQLITE_WRITERS[bind] = threading.Lock()
    return lock


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with _writer_lock(factory), factory() as session, session.begin():
        yield session


_LOCAL_LOCKS: dict[str, threading.Lock] = {}


@contextmanager
def only_one(engine: Engine, name: str) -> Iterator[bool]:
    """Run a piece of scheduled work in one process at a time: yields True to the one
    that may run it, False to any other that tries meanwhile (it should skip).

    On PostgreSQL this is a session advisory lock, so it holds across machines; on
    SQLite (one host, one file) a lock in this process.
    """
    if engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with engine.connect() as connection:
            got = bool(connection.exec_driver_sql(
                "SELECT pg_try_advisory_lock(%(key)s)", {"key": key}).scalar())
            try:
                yield got
            finally:
                if got:
                    connection.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)",
                                               {"key": key})
                connection.commit()
        return
    with _REGISTRY_LOCK:
        lock = _LOCAL_LOCKS.setdefault(name, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()
