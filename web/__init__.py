"""The Flask application factory."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.engine.url import make_url

from bot.email import EmailSender
from intake import crypto
from intake.areas import parse_areas
from intake.casework import Casework, CaseworkSettings
from intake.db import make_engine, make_sessionmaker, migrate
from intake.engine import Engine, EngineSettings
from intake.outbox import Outbox, OutboxWorker
from intake.service import IntakeService
from web import chat, dashboard, figures, followup, sms, telegram, trends
from web.config import PROVIDER_VARIABLES, DefaultConfig, tension_settings
from web.extensions import Services

log = logging.getLogger(__name__)


class HateReportFlask(Flask):
    """Flask, logging unhandled errors without the request path.

    Paths carry conversation ids, which are bearer secrets; the endpoint name says
    enough to find the code.
    """

    def log_exception(self, exc_info: Any) -> None:
        self.logger.error(
            "unhandled error in %s %s", request.method, request.endpoint, exc_info=exc_info
        )


def _secret(app: Flask, name: str, file_key: str) -> str:
    """A configured secret, or for the embedded SQLite default one kept in a 0600 file."""
    value = app.config.get(name)
    if value:
        return str(value)
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() != "sqlite":
        raise RuntimeError(
            f"HATEREPORT_{name} must be set when the database is not the embedded SQLite "
            "default (generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        )
    return crypto.load_or_create_key_file(Path(app.config[file_key]))


#: Libraries that log request URLs (the Telegram bot token is in the path), parameters
#: (chat ids, phone numbers) or message texts at INFO or DEBUG: kept at WARNING.
CHATTY_LOGGERS = ("httpx", "httpcore", "telegram", "twilio", "urllib3")


def quiet_provider_logs() -> None:
    """Keep personal data and secrets that provider libraries log out of our logs."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: configuration, encryption key, migrated database, blueprints."""
    quiet_provider_logs()
    app = HateReportFlask(__name__)
    app.config.from_object(DefaultConfig)
    if test_config is None:
        app.config.from_prefixed_env("HATEREPORT")
        for name in PROVIDER_VARIABLES:
            if os.environ.get(name):
                app.config[name] = os.environ[name]
    else:
        app.config.from_mapping(test_config)
    tension_settings(app.config)  # refuse to start on bad HATEREPORT_TENSION_* values

    crypto.configure(
        _secret(app, "DATA_KEY", "DATA_KEY_FILE"), _secret(app, "HASH_KEY", "HASH_KEY_FILE")
    )
    if app.config.get("TESTING") and not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_urlsafe(32)
    app.config["SECRET_KEY"] = _secret(app, "SECRET_KEY", "SECRET_KEY_FILE")
    app.permanent_session_lifetime = timedelta(minutes=float(app.config["SESSION_MINUTES"]))
    db = make_engine(app.config["DATABASE_URL"])
    migrate(db)
    sessions = make_sessionmaker(db)
    settings = EngineSettings(
        areas=parse_areas(app.config.get("AREAS")),
        conversation_ttl=timedelta(hours=float(app.config["CONVERSATION_TTL_HOURS"])),
    )
    outbox = Outbox(sessions, max_attempts=int(app.config["OUTBOX_MAX_ATTEMPTS"]))
    sms.configure(app, outbox)
    telegram.configure(app, outbox)
    _configure_email(app, outbox)
    casework = Casework(CaseworkSettings(
        public_url=app.config.get("PUBLIC_URL"),
        escalate_urgent_after=timedelta(minutes=float(app.config["ESCALATE_URGENT_MINUTES"])),
        escalate_after_working_days=int(app.config["ESCALATE_WORKING_DAYS"]),
    ))
    Services(db, sessions, IntakeService(sessions, Engine(settings), casework=casework),
             outbox, OutboxWorker(outbox), casework).init_app(app)

    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.register_blueprint(chat.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(telegram.bp)
    dashboard.init_app(app)
    app.register_blueprint(trends.bp)
    followup.init_app(app)
    app.register_blueprint(figures.bp)
    # Every form is CSRF-protected; the chat's JSON API, the follow-up form (no cookies:
    # the reference and code are its credentials) and the signed provider webhooks are
    # exempt.
    csrf = CSRFProtect(app)
    for blueprint in (chat.bp, sms.bp, telegram.bp, followup.bp):
        csrf.exempt(blueprint)
    app.after_request(_security_headers)
    return app


def _configure_email(app: Flask, outbox: Outbox) -> None:
    """Send email alerts through SMTP when ``SMTP_HOST`` and ``SMTP_FROM`` are set."""
    config = app.config
    if not (config.get("SMTP_HOST") and config.get("SMTP_FROM")):
        return
    outbox.register(EmailSender(
        config["SMTP_HOST"], int(config["SMTP_PORT"]), sender=config["SMTP_FROM"],
        username=config.get("SMTP_USERNAME"), password=config.get("SMTP_PASSWORD"),
        starttls=str(config.get("SMTP_STARTTLS")).lower() in ("1", "true", "yes"),
        timeout=float(config["PROVIDER_TIMEOUT_SECONDS"]),
    ))


def _security_headers(response: Response) -> Response:
    """No third-party content, no framing, nothing cached on a shared device."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The dashboard's forms need a same-origin Referer (Flask-WTF checks it over HTTPS);
    # nothing is ever sent to another site.
    response.headers["Referrer-Policy"] = (
        "same-origin" if request.blueprint in ("dashboard", "trends") else "no-referrer")
    response.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/") and not (
            # Only the public figures may be kept by caches: aggregate, protected, the
            # same for all; but never a response to someone signed in (it may carry
            # their refreshed session cookie).
            request.blueprint == "figures" and response.status_code == 200
            and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies):
        response.headers["Cache-Control"] = "no-store"
    return response
