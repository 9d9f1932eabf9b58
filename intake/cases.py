"""Cases: turning a finished conversation into a structured record, and reading them."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.languages import DEFAULT_LANGUAGE, get_language
from intake.models import Case
from intake.stats import mark_repeats

#: Behaviours that suggest a criminal offence; the officer confirms the classification.
CRIME_BEHAVIOURS = frozenset({"threats", "harassment", "assault", "property_damage"})
#: Unambiguous characters for references and codes read aloud or typed on a phone.
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def suggest_classification(behaviours: list[str], injuries: bool | None) -> str:
    """``hate_crime`` when a behaviour or injury suggests an offence, else ``hate_incident``."""
    if injuries or CRIME_BEHAVIOURS.intersection(behaviours):
        return "hate_crime"
    return "hate_incident"


def _random_code(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_reference(session: Session) -> str:
    """A fresh case reference like ``HR-7K3M-Q9PD`` (40 random bits), unused so far."""
    while True:
        reference = f"HR-{_random_code(4)}-{_random_code(4)}"
        if session.scalar(select(Case.id).where(Case.reference == reference)) is None:
            return reference


#: Characters of the secret follow-up code: 13 from 32 symbols, at least one of them a
#: digit (so three words are never read as a code): just under 65 bits of entropy.
CODE_CHARS = 13
_HASHER = PasswordHasher()
#: Verified against when no case matches, so a wrong reference takes as long as a wrong
#: code and the reference alone reveals nothing.
_DUMMY_HASH = _HASHER.hash("no such case")


def new_followup_code() -> str:
    """A secret code like ``7K3M-Q9PD-X4TWB``: about 65 random bits, easy to read and type.

    Always with a digit: a reference followed by three words of four, four and five
    letters ("they were there") must never read as a code. Codes without one are drawn
    again, so every code with a digit stays equally likely.
    """
    code = _random_code(CODE_CHARS)
    while not any(char.isdigit() for char in code):
        code = _random_code(CODE_CHARS)
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalise_code(code: str) -> str:
    """The code as typed, without spaces, dashes or case ("7k3m q9pd x4twb")."""
    return "".join(char for char in code.upper() if char.isalnum())


def hash_followup_code(code: str) -> str:
    """The only form in which a follow-up code is stored: an argon2 hash."""
    return _HASHER.hash(normalise_code(code))


def followup_code_matches(stored: str | None, code: str) -> bool:
    """Check ``code`` against a stored hash (or, with none, against a dummy)."""
    try:
        return bool(_HASHER.verify(stored or _DUMMY_HASH, normalise_code(code))) and (
            stored is not None)
    except (VerificationError, InvalidHashError):
        return False


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("text")
    return str(value) if value not in (None, "") else None


def _list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def create_case(
    session: Session,
    *,
    answers: dict[str, Any],
    channel: str,
    language: str,
    urgent: bool,
    now: datetime,
    identity_hash: str | None = None,
) -> tuple[Case, str | None]:
    """Store a submitted report as a case; returns it and, if anonymous, its secret code."""
    behaviours = _list(answers.get("behaviours"))
    motive = _list(answers.get("characteristics"))
    perpetrator = _list(answers.get("perpetrator"))
    injuries = None if answers.get("injuries") is None else answers.get("injuries") == "yes"
    vulnerable = answers.get("vulnerable")
    anonymous = answers.get("anonymous") != "named"
    when = answers.get("when")
    when_date = None
    if isinstance(when, dict) and when.get("date"):
        when_date = date.fromisoformat(str(when["date"]))
    area = answers.get("area")
    danger = bool(answers.get("_danger"))
    interpreter = answers.get("_interpreter") or {}
    case = Case(
        reference=new_reference(session),
        channel=channel,
        language=language,
        created_at=now,
        danger_now=danger,
        urgent=bool(urgent or danger or injuries or vulnerable == "yes"),
        classification=suggest_classification(behaviours, injuries),
        role=answers.get("role"),
        anonymous=anonymous,
        reporter_name=None if anonymous else _text(answers.get("name")),
        description=_text(answers.get("description")) or "",
        behaviours=behaviours,
        characteristics=[value for value in motive if value != "association"],
        by_association="association" in motive,
        when_text=_text(when),
        when_date=when_date,
        where_type=answers.get("where_type"),
        place=_text(answers.get("place")),
        online_platform=_text(answers.get("platform")),
        area=None if area in (None, "not_sure") else str(area),
        repeated=answers.get("repeated"),
        perpetrator_known=("known" in perpetrator) if perpetrator else None,
        perpetrator_resident=("resident" in perpetrator) if perpetrator else None,
        perpetrator_staff=("staff" in perpetrator) if perpetrator else None,
        injuries=injuries,
        vulnerable_affected=vulnerable,
        police=answers.get("police"),
        crime_reference=_text(answers.get("crime_reference")),
        stop_hate_uk_consent=answers.get("stop_hate") == "yes",
        support=[value for value in _list(answers.get("support")) if value != "none"],
        outcome_wanted=_text(answers.get("outcome")),
        contact_method=None if anonymous else answers.get("contact_method"),
        contact_details=None if anonymous else _text(answers.get("contact_details")),
        contact_times=None if anonymous else _text(answers.get("contact_times")),
        leave_messages=(None if anonymous or answers.get("leave_messages") is None
                        else answers.get("leave_messages") == "yes"),
        status="open",
        # An anonymous case keeps no trace of who sent it, not even a keyed hash.
        channel_identity_hash=None if anonymous else identity_hash,
        interpreter_language=_text(interpreter.get("language")),
        interpreter_contact=_text(interpreter.get("contact")),
    )
    code = None
    if anonymous:
        code = new_followup_code()
        case.followup_code_hash = hash_followup_code(code)
    mark_repeats(session, case)
    session.add(case)
    session.flush()
    return case, code


def get_case(session: Session, reference: str) -> Case | None:
    """The case with ``reference`` (case-insensitive), if any."""
    return session.scalar(select(Case).where(Case.reference == reference.strip().upper()))


def open_case_for_identity(session: Session, identity_hash: str) -> Case | None:
    """The newest open case of a named reporter known by this channel identity (a keyed
    hash): the one they reported from, or the mobile the service has texted their updates
    to. Anonymous cases keep neither, so they are never found this way.

    Called for every inbound message without a live conversation: the database is asked
    only about the two hash columns (each indexed, so both databases search the indexes
    however many cases are open); the few rows of that one person are sorted here."""
    rows = session.execute(select(Case.id, Case.status, Case.anonymous, Case.created_at)
                           .where(or_(Case.channel_identity_hash == identity_hash,
                                      Case.contact_identity_hash == identity_hash))).all()
    open_ids = [(created_at, case_id) for case_id, status, anonymous, created_at in rows
                if status == "open" and not anonymous]
    return session.get(Case, max(open_ids)[1]) if open_ids else None


def list_cases(session: Session, limit: int | None = None) -> list[Case]:
    """Cases, newest first."""
    query = select(Case).order_by(Case.created_at.desc(), Case.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


def interpreter_needed(case: Case) -> dict[str, Any] | None:
    """What an officer needs to speak with the reporter (§4.14): None for English;
    otherwise the language (a shipped one by its English name, or another as the reporter
    named it) and, for another language, the number or time they gave for the call."""
    if case.interpreter_language:
        return {"language": case.interpreter_language, "contact": case.interpreter_contact,
                "shipped": False}
    if case.language == DEFAULT_LANGUAGE:
        return None
    return {"language": get_language(case.language).english_name, "contact": None,
            "shipped": True}


def case_to_dict(case: Case, opted_out: bool = False) -> dict[str, Any]:
    """The case under the stable, documented JSON keys (see README: Case JSON).

    ``opted_out``: the reporter's channel identity has opted out of messages (SMS STOP).
    """
    return {
        "reference": case.reference,
        "channel": case.channel,
        "language": case.language,
        "interpreter": interpreter_needed(case),
        "created_at": case.created_at.isoformat(timespec="seconds") + "Z",
        "status": case.status,
        "urgent": case.urgent,
        "danger_now": case.danger_now,
        "classification": case.classification,
        "role": case.role,
        "anonymous": case.anonymous,
        "reporter_name": case.reporter_name,
        "description": case.description,
        "behaviours": list(case.behaviours),
        "characteristics": list(case.characteristics),
        "by_association": case.by_association,
        "when": {
            "text": case.when_text,
            "date": case.when_date.isoformat() if case.when_date else None,
        },
        "where": {
            "type": case.where_type,
            "place": case.place,
            "online_platform": case.online_platform,
            "area": case.area,
        },
        "repeated": case.repeated,
        "perpetrator": {
            "known": case.perpetrator_known,
            "resident": case.perpetrator_resident,
            "staff": case.perpetrator_staff,
        },
        "injuries": case.injuries,
        "vulnerable_affected": case.vulnerable_affected,
        "police": {"status": case.police, "crime_reference": case.crime_reference},
        "stop_hate_uk_consent": case.stop_hate_uk_consent,
        "support": list(case.support),
        "outcome_wanted": case.outcome_wanted,
        "contact": {
            "method": case.contact_method,
            "details": case.contact_details,
            "safe_times": case.contact_times,
            "leave_messages": case.leave_messages,
            "opted_out": opted_out,
        },
        "officer": None if case.officer is None else {
            "name": case.officer.name, "email": case.officer.email},
        "allocated_at": _stamp(case.allocated_at),
        "acknowledged_at": _stamp(case.acknowledged_at),
        "escalated_at": _stamp(case.escalated_at),
        "closed_at": _stamp(case.closed_at),
        "risk": {"rating": case.risk_rating,
                 "review_due": case.risk_review_due.isoformat() if case.risk_review_due
                 else None},
        "next_update_due_at": _stamp(case.next_update_due_at),
        "timeline": [
            {"at": _stamp(event.at), "kind": event.kind,
             "officer": event.officer.email if event.officer else None,
             "text": event.text, **event.data}
            for event in case.events
        ],
    }


_UK_MOBILE = re.compile(r"^(?:\+44|0044|0)(7\d{9})$")


def uk_mobile(text: str) -> str | None:
    """A UK mobile number in international form, if ``text`` is one."""
    digits = re.sub(r"[\s()-]", "", text)
    match = _UK_MOBILE.match(digits)
    return f"+44{match.group(1)}" if match else None
