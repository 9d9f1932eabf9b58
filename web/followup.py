"""Checking on a report with its reference and secret code (``/followup``), in the
reporter's language, with no cookies: how anonymous reporters follow up and add to it.

The reference and code are the credentials, sent with each form; nothing is kept in
the browser. Wrong codes are limited per reference (``intake.followup``).
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Flask, current_app, render_template, request

from intake.db import transaction
from intake.followup import (
    ADDED,
    MAX_MESSAGE_CHARS,
    NO_MATCH,
    TOO_MANY,
    TooManyAttempts,
    find,
    status,
)
from intake.guard import AttemptGuard
from intake.i18n import gettext
from intake.languages import get_language
from web.extensions import services

bp = Blueprint("followup", __name__)
GUARD = "hatereport.followup_guard"

__all__ = ["ADDED", "GUARD", "MAX_MESSAGE_CHARS", "NO_MATCH", "TOO_MANY", "bp", "init_app"]


def init_app(app: Flask) -> None:
    # One guard for this page and every channel: guessing here counts there too.
    app.extensions[GUARD] = services(app).intake.followup_guard
    app.register_blueprint(bp)


def _page(locale: str, **context: object) -> str:
    language = get_language(locale)
    return render_template(
        "followup/index.html", _=partial(gettext, language.code), locale=language.code,
        direction=language.direction, quick_exit_url=current_app.config["QUICK_EXIT_URL"],
        **context)


@bp.get("/followup")
def form() -> str:
    """The form: reference and secret code. Without ``?lang``, the answer comes in the
    report's own language."""
    chosen = request.args.get("lang")
    return _page(chosen or "en", chosen=chosen)


@bp.post("/followup")
def check() -> tuple[str, int] | str:
    """Show the report's status and the officer's updates; optionally add a message."""
    chosen = request.form.get("lang") or None
    locale = chosen or "en"
    reference = (request.form.get("reference") or "")[:32]
    code = (request.form.get("code") or "")[:32]
    message = (request.form.get("message") or "").strip()[:MAX_MESSAGE_CHARS]
    the = services()
    guard: AttemptGuard = current_app.extensions[GUARD]
    try:
        with transaction(the.sessions) as session:
            case = find(session, guard, reference, code, the.intake.clock())
            if case is None:
                error, found = NO_MATCH, None
            else:
                error = None
                if message:
                    the.casework.on_reporter_message(session, case.id, message,
                                                     the.intake.clock())
                    if the.intake.engine.is_emergency(case.language, message):
                        the.casework.on_danger(session, case.id, the.intake.clock())
                found = status(session, case)
    except TooManyAttempts:
        return _page(locale, error=TOO_MANY, reference=reference, chosen=chosen), 429
    if found is None:
        return _page(locale, error=error, reference=reference, chosen=chosen), 403
    if message:
        the.worker.kick()
    # The report's own language, unless the reporter chose another for this page.
    shown = chosen or found.language
    return _page(shown, report=found, code=code, chosen=chosen,
                 added=gettext(get_language(shown).code, ADDED, reference=found.reference)
                 if message else None)
