"""Configuration: defaults in code, ``HATEREPORT_*`` environment overrides, a mapping for tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine.url import make_url

from intake.tension import TensionSettings
from intake.tension import problems as tension_problems

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
    #: The public base URL the service is reached at (behind a proxy), e.g.
    #: https://report.example.org: Twilio's signatures are checked against it, and the
    #: Telegram webhook and SMS status callback URLs are built from it.
    PUBLIC_URL: str | None = None
    #: Twilio (SMS). Read from the unprefixed TWILIO_* variables.
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_FROM_NUMBER: str | None = None
    TWILIO_MESSAGING_SERVICE_SID: str | None = None
    TWILIO_API_BASE_URL: str | None = None
    #: Telegram. Read from the unprefixed TELEGRAM_* variables.
    TELEGRAM_BOT_TOKEN: str | None = None
    TELEGRAM_WEBHOOK_SECRET: str | None = None
    TELEGRAM_API_BASE_URL: str | None = None
    #: Seconds a provider call may take before it counts as failed (and is retried).
    PROVIDER_TIMEOUT_SECONDS = 10.0
    #: Attempts before an outbound message is marked dead (kept, shown to managers).
    OUTBOX_MAX_ATTEMPTS = 20
    #: Minutes an urgent case's alert may wait to be acknowledged before managers are told.
    ESCALATE_URGENT_MINUTES = 60
    #: Working days (Monday to Friday) for any other case.
    ESCALATE_WORKING_DAYS = 1
    #: Seconds between runs of the background jobs (escalations, clean-ups).
    JOBS_INTERVAL_SECONDS = 60.0
    #: Email for officer alerts. Read from the unprefixed SMTP_* variables.
    SMTP_HOST: str | None = None
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_FROM: str | None = None
    SMTP_STARTTLS = False
    #: Signs the officers' session cookie; generated into var/secret.key when unset (SQLite).
    SECRET_KEY: str | None = None
    SECRET_KEY_FILE = str(VAR_DIR / "secret.key")
    #: Minutes without a request after which an officer's session ends.
    SESSION_MINUTES = 30
    SESSION_COOKIE_NAME = "hatereport_staff"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # -- tension monitoring (docs/tension.md) -----------------------------------------------
    #: Managers are alerted when an area's reports in the last TENSION_WINDOW_DAYS days
    #: reach at least TENSION_MIN_REPORTS and would have a chance below TENSION_P_VALUE
    #: at its usual level: a Poisson count with mean the reports of the
    #: TENSION_BASELINE_DAYS days before the window, scaled to the window, and at least
    #: TENSION_BASELINE_FLOOR. No new alert for an area for TENSION_COOLDOWN_DAYS days.
    TENSION_WINDOW_DAYS = 14
    TENSION_BASELINE_DAYS = 28
    TENSION_P_VALUE = 0.01
    TENSION_MIN_REPORTS = 3
    TENSION_BASELINE_FLOOR = 0.5
    TENSION_COOLDOWN_DAYS = 7


def default_server_threads(database_url: str) -> int:
    """Worker threads for waitress: one on SQLite, eight on a server database.

    SQLite takes one writer at a time and every chat turn writes, so extra threads only
    contend for the lock and the GIL: measured with `make bench`, one thread served 1.7x
    the chat turns of eight (see docs/performance.md). A server database such as
    PostgreSQL takes concurrent writers.
    """
    return 1 if make_url(database_url).get_backend_name() == "sqlite" else 8


#: Settings read from the environment under their own (unprefixed) names, as the providers'
#: documentation spells them.
PROVIDER_VARIABLES = (
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER",
    "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE_URL",
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL",
    "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM", "SMTP_STARTTLS",
)


#: The tension monitoring settings and the configuration keys they are read from.
TENSION_KEYS = {
    "window_days": "TENSION_WINDOW_DAYS",
    "baseline_days": "TENSION_BASELINE_DAYS",
    "p_value": "TENSION_P_VALUE",
    "min_reports": "TENSION_MIN_REPORTS",
    "baseline_floor": "TENSION_BASELINE_FLOOR",
    "cooldown_days": "TENSION_COOLDOWN_DAYS",
}
_WHOLE = ("window_days", "baseline_days", "min_reports", "cooldown_days")


def _number(value: Any, whole: bool) -> int | float | None:
    """``value`` (from the environment: a number, or text) as a number; None if not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number: int | float = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    if whole:
        return int(number) if float(number).is_integer() else None
    return float(number)


def tension_settings(config: Mapping[str, Any]) -> TensionSettings:
    """The tension monitoring settings from ``config`` (the app's configuration).

    Raises ValueError naming each bad ``HATEREPORT_TENSION_*`` value and why: the app
    refuses to start with one (``create_app`` calls this)."""
    values: dict[str, Any] = {}
    wrong: dict[str, str] = {}
    for field, key in TENSION_KEYS.items():
        raw = config.get(key, getattr(DefaultConfig, key))
        values[field] = _number(raw, field in _WHOLE)
        if values[field] is None:
            kind = "a whole number" if field in _WHOLE else "a number"
            wrong[field] = f"must be {kind}, not {raw!r}"
    wrong = wrong or tension_problems(values)
    if wrong:
        raise ValueError("bad tension monitoring settings: " + "; ".join(
            f"HATEREPORT_{TENSION_KEYS[field]} {why}" for field, why in wrong.items()))
    return TensionSettings(**values)
