"""The web chat: the page at ``/`` and its JSON API under ``/api/chat``."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from bot.webchat import WebChatAdapter
from intake.i18n import gettext
from intake.languages import get_language
from intake.service import ConversationNotFound, Turn
from web.extensions import services

bp = Blueprint("chat", __name__)
adapter = WebChatAdapter()

_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ApiError(Exception):
    """An API error returned as ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Any, int]:
    return jsonify(error=error.message), error.status


@bp.app_errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    if request.path.startswith("/api/"):
        return jsonify(error=error.description or error.name), error.code or 500
    return error


@bp.get("/")
def page() -> str:
    """The web chat page, in the language ``?lang=`` names (a shipped one; else English)."""
    language = get_language(request.args.get("lang"))
    locale = language.code
    return render_template(
        "chat/index.html",
        _=partial(gettext, locale),
        locale=language.code,
        direction=language.direction,
        quick_exit_url=current_app.config["QUICK_EXIT_URL"],
    )


def _json_object(required: bool) -> dict[str, Any]:
    if not request.get_data(cache=True):
        if required:
            raise ApiError(400, "the body must be a JSON object")
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _language_json(code: str) -> dict[str, str]:
    language = get_language(code)
    return {"code": language.code, "direction": language.direction}


def _turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "messages": adapter.render(turn.result),
        "done": turn.result.done,
        "reference": turn.result.reference,
        "language": _language_json(turn.result.locale),
    }


def _checked_id(conversation_id: str) -> str:
    if not _ID.match(conversation_id):
        raise ApiError(404, "no such conversation (it may have expired)")
    return conversation_id


@bp.post("/api/chat")
def start() -> tuple[Any, int]:
    """Open a conversation: 201 with its id and first messages."""
    body = _json_object(required=False)
    language = body.get("language")
    if language is not None and not isinstance(language, str):
        raise ApiError(400, "'language' must be a string")
    turn = services().intake.start(adapter.name, locale=language)
    return jsonify(conversation=turn.conversation_id, messages=adapter.render(turn.result),
                   language=_language_json(turn.result.locale)), 201


@bp.post("/api/chat/<conversation_id>")
def send(conversation_id: str) -> Any:
    """One message from the reporter: 200 with the replies."""
    conversation_id = _checked_id(conversation_id)
    body = _json_object(required=True)
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "'text' must be a string")
    message_id = body.get("id")
    if message_id is not None and not (isinstance(message_id, str) and _ID.match(message_id)):
        raise ApiError(400, "'id' must be 16 to 64 letters, digits, '-' or '_'")
    try:
        turn = services().intake.send(conversation_id, text, message_id=message_id)
    except ConversationNotFound:
        raise ApiError(404, "no such conversation (it may have expired)") from None
    return jsonify(_turn_json(turn))


@bp.get("/api/chat/<conversation_id>")
def resume(conversation_id: str) -> Any:
    """The question a conversation is waiting on, to resume it."""
    conversation_id = _checked_id(conversation_id)
    try:
        turn = services().intake.current(conversation_id)
    except ConversationNotFound:
        raise ApiError(404, "no such conversation (it may have expired)") from None
    return jsonify(_turn_json(turn))
