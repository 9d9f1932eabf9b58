"""Configuration: defaults in code, ``HATEREPORT_*`` environment overrides, a mapping for tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine.url import make_url

#: The working folder of the embedded default: the SQLite database and generated key.
VAR_DIR = Path("var")


class DefaultConfig:
    """Defaults; every key can be overridden by ``HATEREPORT_<KEY>`` in the environment."""

    DATABASE_URL = f"sqlite:///{VAR_DIR / 'hatereport.db'}"
    #: Fernet key(s) for data at rest; generated into var/data.key when unset.
    DATA_KEY: str | None = None
    DATA_KEY_FILE = str(VAR_DIR / "data.key")
    #: Secret for keyed hashes (channel identities, follow-up codes); never rotated.
    HASH_KEY: str | None = None
    HASH_KEY_FILE = str(VAR_DIR / "hash.key")
    #: Hours an unfinished conversation is kept before it and its answers are deleted.
    CONVERSATION_TTL_HOURS = 72.0
    #: Comma-separated area names; empty means Derby's.
    AREAS = ""
    #: Where "Exit this page" sends the reporter.
    QUICK_EXIT_URL = "https://www.bbc.co.uk/weather"
    #: Seconds between runs of the background job that deletes abandoned conversations.
    EXPIRY_INTERVAL_SECONDS = 300.0
    #: Largest request body accepted (bytes).
    MAX_CONTENT_LENGTH = 512 * 1024
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"


def default_server_threads(database_url: str) -> int:
    """Worker threads for waitress: one on SQLite, eight on a server database.

    SQLite takes one writer at a time and every chat turn writes, so extra threads only
    contend for the lock and the GIL: measured with `make bench`, one thread served 1.7x
    the chat turns of eight (see docs/performance.md). A server database such as
    PostgreSQL takes concurrent writers.
    """
    return 1 if make_url(database_url).get_backend_name() == "sqlite" else 8
