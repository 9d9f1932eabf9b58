"""Checking on a report with its reference and secret code (``/followup``), in the
reporter's language, with no cookies: how anonymous reporters follow up and add to it.

The reference and code are the credentials, sent with each form; nothing is kept in
the browser. Wrong codes are limited per reference, in the database, together with
every channel's (``intake.followup``).
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Flask, current_app, render_template, request

from intake.db import transaction
from intake.followup import (
    ADDED,
    DANGER,
    MAX_MESSAGE_CHARS,
    NO_MATCH,
    TOO_MANY,
    TooManyAttempts,
    find,
    mask_codes,
    status,
)
from intake.i18n import gettext
from intake.languages import get_language
from web.extensions import services

bp = Blueprint("followup", __name__)

__all__ = ["ADDED", "MAX_MESSAGE_CHARS", "NO_MATCH", "TOO_MANY", "bp", "init_app"]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _page(locale: str, danger: bool = False, **context: object) -> str:
    language = get_language(locale)
    return render_template(
        "followup/index.html", _=partial(gettext, language.code), locale=language.code,
        direction=language.direction, quick_exit_url=current_app.config["QUICK_EXIT_URL"],
        danger=gettext(language.code, DANGER) if danger else None, **context)


@bp.get("/followup")
def form() -> str:
    """The form: reference and secret code. Without ``?lang``, the answer comes in the
    report's own language."""
    chosen = request.args.get("lang")
    return _page(chosen or "en", chosen=chosen)


@bp.post("/followup")
def check() -> tuple[str, int] | str:
    """Show the report's status and the officer's updates; optionally add a message.

    Danger words in the message get the advice to call 999 first, whatever the code."""
    chosen = request.form.get("lang") or None
    locale = chosen or "en"
    reference = (request.form.get("reference") or "")[:32]
    code = (request.form.get("code") or "")[:32]
    message = mask_codes(request.form.get("message") or "")[:MAX_MESSAGE_CHARS]
    the = services()
    now = the.intake.clock()
    danger = bool(message) and the.intake.engine.is_emergency(locale, message)
    try:
        with transaction(the.sessions) as session:
            case = find(session, reference, code, now)
            if case is None:
                found = None
            else:
                danger = danger or (bool(message) and the.intake.engine.is_emergency(
                    case.language, message))
                if message:
                    the.casework.on_reporter_message(session, case.id, message, now)
                    if danger:
                        the.casework.on_danger(session, case.id, now)
                found = status(session, case)
    except TooManyAttempts:
        return _page(locale, danger, error=TOO_MANY, reference=reference, chosen=chosen), 429
    if found is None:
        return _page(locale, danger, error=NO_MATCH, reference=reference, chosen=chosen), 403
    if message:
        the.worker.kick()
    # The report's own language, unless the reporter chose another for this page.
    shown = chosen or found.language
    return _page(shown, danger, report=found, code=code, chosen=chosen,
                 added=gettext(get_language(shown).code, ADDED, reference=found.reference)
                 if message else None)
