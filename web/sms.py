"""Twilio SMS webhooks: ``POST /sms`` (inbound messages) and ``POST /sms/status``.

Every request must carry a valid ``X-Twilio-Signature`` for the URL Twilio called
(``HATEREPORT_PUBLIC_URL`` + path behind a proxy); anything else gets 403 and stores
nothing. Replies go back as TwiML. Nothing here logs a number or a message.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, abort, current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.sms import (
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    SmsAdapter,
    TwilioSender,
    keyword,
    signature_is_valid,
    twiml,
)
from intake.db import transaction
from intake.models import InboundMessage
from intake.outbox import Outbox, identity_hash, is_opted_out, opt_in, opt_out
from web.channels import after_turn
from web.extensions import services

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)
adapter = SmsAdapter()


def configure(app: Flask, outbox: Outbox) -> None:
    """Send outbound SMS through Twilio when it is configured."""
    config = app.config
    if not (config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN") and (
        config.get("TWILIO_FROM_NUMBER") or config.get("TWILIO_MESSAGING_SERVICE_SID")
    )):
        return
    public = config.get("PUBLIC_URL")
    outbox.register(TwilioSender(
        config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"],
        from_number=config.get("TWILIO_FROM_NUMBER"),
        messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID"),
        api_base_url=config.get("TWILIO_API_BASE_URL"),
        status_callback=f"{public.rstrip('/')}/sms/status" if public else None,
        timeout=float(config["PROVIDER_TIMEOUT_SECONDS"]),
    ))


def called_url() -> str:
    """The URL Twilio called: the public base URL and this path, when behind a proxy."""
    public = str(current_app.config.get("PUBLIC_URL") or "")
    if not public:
        return str(request.url)
    query = request.query_string.decode()
    return public.rstrip("/") + request.path + (f"?{query}" if query else "")


def verified_form() -> dict[str, str]:
    """The webhook's form fields, or 403 unless Twilio signed them."""
    params = request.form.to_dict()
    if not signature_is_valid(current_app.config.get("TWILIO_AUTH_TOKEN") or "",
                              called_url(), params, request.headers.get("X-Twilio-Signature")):
        log.warning("refused an SMS webhook without a valid Twilio signature")
        abort(403)
    return params


def _xml(text: str) -> Response:
    return Response(text, mimetype="application/xml")


@bp.post("/sms")
def inbound() -> Response:
    """An inbound SMS: continue (or open) the sender's report; answer in TwiML."""
    form = verified_form()
    sid = form.get("MessageSid") or form.get("SmsSid")
    sender = form.get("From")
    if not sid or not sender:
        abort(400)
    body = form.get("Body", "")
    the = services()
    identity = identity_hash("sms", sender)
    word = keyword(body)
    if word in OPT_OUT_KEYWORDS or word in OPT_IN_KEYWORDS:
        with transaction(the.sessions) as session:
            if _seen(session, sid):
                return _xml(twiml([]))  # a redelivered keyword: applied once already
            opted_out = is_opted_out(session, identity)
            if word in OPT_OUT_KEYWORDS:
                opt_out(session, "sms", identity, the.intake.clock())
                _processed(session, sid)
                return _xml(twiml([]))  # Twilio confirms STOP itself
            if opted_out:
                opt_in(session, identity, the.intake.clock())
                _processed(session, sid)
                return _xml(twiml([]))  # Twilio confirms START itself
    turn = the.intake.receive("sms", identity, body, sid,
                              after_turn=after_turn("sms", sender, the.intake.clock))
    with the.sessions() as session:
        if is_opted_out(session, identity):
            return _xml(twiml([]))  # nothing to an opted-out number
    return _xml(twiml(adapter.render(turn.result)))


def _seen(session: Session, sid: str) -> bool:
    return session.scalar(select(InboundMessage.id).where(
        InboundMessage.channel == "sms", InboundMessage.message_id == sid)) is not None


def _processed(session: Session, sid: str) -> None:
    """Record a keyword message as processed (so a redelivery is not applied as an answer)."""
    if not _seen(session, sid):
        session.add(InboundMessage(channel="sms", message_id=sid, result=None,
                                   received_at=services().intake.clock()))


@bp.post("/sms/status")
def status() -> tuple[str, int]:
    """Twilio's delivery status callback for a message we sent."""
    form = verified_form()
    sid = form.get("MessageSid") or form.get("SmsSid")
    state = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not state:
        abort(400)
    services().outbox.record_status(sid, state)
    return "", 204
