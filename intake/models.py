"""The conversation and case models (SQLAlchemy 2.0, typed).

Free text, personal fields and special-category data (the perceived characteristics,
injuries, who was affected) use the encrypted column types. What stays in clear is
what routing and scheduling need and reveals nothing about a person on its own:
behaviours, area, dates, channel, language, classification and urgency. Monitoring
will count characteristics from a de-identified summary, not from these rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from intake.crypto import EncryptedJSON, EncryptedText

#: A case's risk review not yet alerted for its current date (a new assessment clears the
#: marker): the partial index's predicate, which the jobs' query repeats exactly, and
#: which both databases estimate from the column's share of NULLs (migration 0004 spells
#: it too).
RISK_REVIEW_PENDING = "risk_review_alerted_for IS NULL"


class Base(DeclarativeBase):
    """The declarative base for every model."""


class Conversation(Base):
    """One guided report in progress (or just submitted) on one channel."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: A keyed hash of the channel identity (phone number, chat id); never the identity.
    identity_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    locale: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(32))
    #: ``active``, ``paused`` (the reporter said stop) or ``submitted``.
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: An overlay on the current step: ``language`` or ``edit`` menus, else None.
    mode: Mapped[str | None] = mapped_column(String(16))
    #: Every answer so far, keyed by step id, plus pending multi-choice picks.
    answers: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    #: The steps visited, for "back"; step ids only, no answers.
    history: Mapped[list[str]] = mapped_column(JSON, default=list)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The channel's id of the last message (a client id, an SMS MessageSid...) and the
    #: reply it got, so a message delivered twice is answered twice but applied once.
    last_message_id: Mapped[str | None] = mapped_column(String(64))
    last_result: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    #: Bumped by every save; a save that finds another version lost a race (see
    #: ``intake.conversations.save``).
    version: Mapped[int] = mapped_column(Integer, nullable=False)


class Case(Base):
    """A submitted report: the structured record that officers work on."""

    __tablename__ = "cases"
    #: Caseloads are counted per officer over open cases without reading the rows.
    __table_args__ = (
        Index("ix_cases_officer_status", "officer_id", "status"),
        #: The due-update sweep reads open cases by due time, never all open cases.
        Index("ix_cases_status_update_due", "status", "next_update_due_at"),
        #: So does the sweep for risk reviews gone past their date, over the reviews not
        #: yet alerted only: a case told about its review date is not read again.
        Index("ix_cases_risk_review_pending", "status", "risk_review_due",
              sqlite_where=text(RISK_REVIEW_PENDING),
              postgresql_where=text(RISK_REVIEW_PENDING)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    danger_now: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``hate_crime`` or ``hate_incident``: suggested from the answers, confirmed by an officer.
    classification: Mapped[str] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(16))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    reporter_name: Mapped[str | None] = mapped_column(EncryptedText)
    description: Mapped[str] = mapped_column(EncryptedText)
    behaviours: Mapped[list[str]] = mapped_column(JSON, default=list)
    characteristics: Mapped[list[str]] = mapped_column(EncryptedJSON, default=list)
    by_association: Mapped[bool] = mapped_column(EncryptedJSON, default=False)
    when_text: Mapped[str | None] = mapped_column(EncryptedText)
    when_date: Mapped[date | None] = mapped_column(Date)
    where_type: Mapped[str | None] = mapped_column(String(16))
    place: Mapped[str | None] = mapped_column(EncryptedText)
    online_platform: Mapped[str | None] = mapped_column(EncryptedText)
    area: Mapped[str | None] = mapped_column(String(64), index=True)
    repeated: Mapped[str | None] = mapped_column(String(16))
    perpetrator_known: Mapped[bool | None] = mapped_column(Boolean)
    perpetrator_resident: Mapped[bool | None] = mapped_column(Boolean)
    perpetrator_staff: Mapped[bool | None] = mapped_column(Boolean)
    injuries: Mapped[bool | None] = mapped_column(EncryptedJSON)
    vulnerable_affected: Mapped[str | None] = mapped_column(EncryptedText)
    police: Mapped[str | None] = mapped_column(String(16))
    crime_reference: Mapped[str | None] = mapped_column(EncryptedText)
    stop_hate_uk_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    support: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome_wanted: Mapped[str | None] = mapped_column(EncryptedText)
    contact_method: Mapped[str | None] = mapped_column(String(16))
    contact_details: Mapped[str | None] = mapped_column(EncryptedText)
    contact_times: Mapped[str | None] = mapped_column(EncryptedText)
    leave_messages: Mapped[bool | None] = mapped_column(Boolean)
    #: For anonymous follow-up: an argon2 hash of the secret code given to the reporter.
    followup_code_hash: Mapped[str | None] = mapped_column(String(200))
    #: Wrong follow-up codes in a row, and the follow-up lock they set.
    followup_failures: Mapped[int] = mapped_column(Integer, default=0)
    followup_locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    #: A keyed hash of the channel identity a named report came from (phone number, chat
    #: id), to recognise the reporter's later messages and opt-outs; never the identity
    #: itself, and None on anonymous cases.
    channel_identity_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    #: A keyed hash of ("sms", the UK mobile) a named reporter gave for text messages, set
    #: once the service has texted them an update there (never from what they typed
    #: alone: it may be mistyped or shared), so that replies from it reach the case.
    contact_identity_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    #: The reporter's channel address (phone number, chat id), kept, encrypted, only when a
    #: named reporter asked to be contacted "here, in this chat".
    channel_address: Mapped[str | None] = mapped_column(EncryptedText)
    #: A language the service does not ship, as the reporter named it, and a number or
    #: time to call them with an interpreter (§4.14).
    interpreter_language: Mapped[str | None] = mapped_column(EncryptedText)
    interpreter_contact: Mapped[str | None] = mapped_column(EncryptedText)
    #: The single point of contact (§4.6), when allocated.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    allocated_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When an unacknowledged alert went to the managers.
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The fortnightly update to the reporter (§4.14): when the next is due, and the last.
    next_update_due_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    last_update_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The due time the officer was last reminded of (so a sweep skips them after).
    update_reminded_for: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The latest risk assessment's rating (``low``...``very_high``) and next review.
    risk_rating: Mapped[str | None] = mapped_column(String(16))
    risk_review_due: Mapped[date | None] = mapped_column(Date)
    #: The review date the officer was told had passed (so a sweep skips them after);
    #: cleared by the next assessment, which sets a new date.
    risk_review_alerted_for: Mapped[date | None] = mapped_column(Date)
    #: For monitoring (``intake.stats``): the first and latest contact an officer recorded
    #: with the reporter, the outcome it closed with, and the fortnightly updates that
    #: reached the reporter on time or late.
    first_contact_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    updates_on_time: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    updates_late: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: Keyed hashes of the normalised place and of the victim (a named victim's contact
    #: details or channel identity), to count repeat locations and repeat victims without
    #: reading the encrypted values; and how many earlier cases had the same hash when
    #: this one came in.
    place_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    victim_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    place_seen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    victim_seen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    #: What the monitoring summary counts for this case now (``intake.stats.facts``), so a
    #: change moves its counts: encrypted, since it holds the characteristics.
    counted: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)

    officer: Mapped[Officer | None] = relationship(lazy="selectin")
    events: Mapped[list[CaseEvent]] = relationship(
        lazy="selectin", order_by="CaseEvent.id", cascade="all, delete-orphan",
        passive_deletes=True)


class InboundMessage(Base):
    """A provider message or update already processed (Twilio MessageSid, Telegram
    update_id), with the reply it got: a redelivery is answered the same way, applied once."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(64))
    #: The turn's result (the reply text is personal data: encrypted).
    result: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    received_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class OutboxMessage(Base):
    """A message that must be sent (a reply, an alert, an update), written in the same
    transaction as the change that caused it and delivered by the outbox worker."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: The address (phone number, chat id, email), encrypted; cleared once sent.
    recipient: Mapped[str | None] = mapped_column(EncryptedText)
    #: A keyed hash of channel and address: orders messages per recipient, paces them, and
    #: matches opt-outs, without the address in clear.
    recipient_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: What to send (text, buttons...), encrypted; cleared once sent.
    payload: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    purpose: Mapped[str] = mapped_column(String(16))
    #: Set by callers that must never queue the same message twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    #: ``pending``, ``sending`` (claimed by a worker), ``waiting`` (out of the queue until
    #: the quiet hours end), ``held`` (recipient opted out),
    #: ``sent`` or ``dead`` (gave up; managers see these).
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    #: The provider's last error, without personal data (a status code and class name).
    last_error: Mapped[str | None] = mapped_column(String(200))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class OptOut(Base):
    """A channel identity that asked not to be messaged (SMS STOP), until it opts back in."""

    __tablename__ = "opt_outs"

    identity_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    opted_out_at: Mapped[datetime] = mapped_column(DateTime)


class Officer(Base):
    """A member of staff who works cases: an officer, or a manager who sees them all."""

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: Contact details for alerts, encrypted like everyone else's.
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    telegram_chat: Mapped[str | None] = mapped_column(EncryptedText)
    #: The areas (patches) they cover.
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: ``officer`` or ``manager``.
    role: Mapped[str] = mapped_column(String(16))
    #: On the duty rota: takes urgent cases and cases with no area.
    duty: Mapped[bool] = mapped_column(Boolean, default=False)
    #: How they want alerts: ``email``, ``sms`` or ``telegram``.
    alerts: Mapped[str] = mapped_column(String(16))
    #: argon2 hash of their password.
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    #: Bumped at sign-out (and on disabling): every session cookie issued before is void.
    session_version: Mapped[int] = mapped_column(Integer, default=0)


class CaseEvent(Base):
    """One entry of a case's timeline (submitted, allocated, alerted, a reporter's message...)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(32))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    #: Words (a reporter's message, an officer's note, a manager's reason for
    #: reallocating): encrypted.
    text: Mapped[str | None] = mapped_column(EncryptedText)
    #: Details that identify nobody, in clear: codes, ids and the service's own words
    #: (who it was allocated to, by which rule); never anything a person wrote.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    officer: Mapped[Officer | None] = relationship(lazy="selectin")


class AuditEntry(Base):
    """Who read or changed what, when: every read of a case is written here (managers
    read the log)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    #: ``view_case``, ``denied``, ``acknowledge``, ``sign_in``, ``sign_in_failed``...
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"),
                                                index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    officer: Mapped[Officer | None] = relationship(lazy="selectin")
    case: Mapped[Case | None] = relationship(lazy="selectin")


class Attempt(Base):
    """Failed tries at a secret for one key (a follow-up reference, a sign-in address),
    shared by every process: the count in the current window, and the lock it set."""

    __tablename__ = "attempts"

    #: A keyed hash of the limit's namespace and the normalised value; never the value.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    #: When the current window of failures began (rows long past it are deleted).
    window_start: Mapped[datetime] = mapped_column(DateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class StatsCount(Base):
    """The monitoring summary: how many cases reported in a month, in an area, have a
    value of a dimension (a characteristic, a behaviour, a channel, an outcome...), or
    the sum of a measure. Kept in the transaction that changes a case (``intake.stats``),
    so the trends and the published figures never read the cases themselves."""

    __tablename__ = "stats_counts"

    #: The London month the case was reported in, ``YYYY-MM``.
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    #: The case's area, or "" when it has none.
    area: Mapped[str] = mapped_column(String(64), primary_key=True)
    dim: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
