"""The Telegram webhook: ``POST /telegram``.

Only requests whose ``X-Telegram-Bot-Api-Secret-Token`` header equals
``TELEGRAM_WEBHOOK_SECRET`` are read (else 403, nothing stored). Updates are parsed with
python-telegram-bot's ``Update.de_json``; an update_id already processed is ignored.
Replies are queued on the outbox in the turn's transaction and sent by the worker.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Flask, abort, current_app, request

from bot.telegram import TelegramAdapter, TelegramSender, command_text, parse_update
from intake.outbox import Outbox, identity_hash
from web.channels import after_turn
from web.extensions import services

log = logging.getLogger(__name__)
bp = Blueprint("telegram", __name__)
adapter = TelegramAdapter()
SENDER = "hatereport.telegram_sender"


def configure(app: Flask, outbox: Outbox) -> None:
    """Send Telegram messages through the Bot API when a bot token is configured."""
    token = app.config.get("TELEGRAM_BOT_TOKEN")
    if not token:
        return
    sender = TelegramSender(token, app.config.get("TELEGRAM_API_BASE_URL"),
                            timeout=float(app.config["PROVIDER_TIMEOUT_SECONDS"]))
    outbox.register(sender)
    app.extensions[SENDER] = sender


def sender(app: Flask) -> TelegramSender:
    """The configured Telegram sender (its ``Bot``), or an error saying what to set."""
    found = app.extensions.get(SENDER)
    if not isinstance(found, TelegramSender):
        raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
    return found


@bp.post("/telegram")
def webhook() -> tuple[str, int]:
    """One update from Telegram."""
    secret = current_app.config.get("TELEGRAM_WEBHOOK_SECRET") or ""
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token") or ""
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        log.warning("refused a Telegram webhook without the secret token")
        abort(403)
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        abort(400)
    handle_update(current_app, data)
    return "", 200


def handle_update(app: Flask, data: dict[str, Any]) -> bool:
    """Apply one update (from the webhook or from polling); False if it was ignored."""
    incoming = parse_update(data)
    if incoming is None:
        return False
    the = services(app)
    chat = str(incoming.chat_id)
    first = ([{"method": "answerCallbackQuery", "callback_query_id": incoming.callback_query_id,
               "paced": False}] if incoming.callback_query_id else [])
    turn = the.intake.receive(
        "telegram",
        identity_hash("telegram", chat),
        command_text(incoming.text, has_conversation=True),
        f"update:{incoming.update_id}",
        after_turn=after_turn("telegram", chat, the.intake.clock, adapter.render, first),
        keep_result=False,
        expect=incoming.asked,
    )
    if not turn.duplicate:
        the.worker.kick()
    return not turn.duplicate
