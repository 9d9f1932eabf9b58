"""Casework: officers, allocation on submit, officer alerts, escalation, reporters' messages.

A submitted case goes at once (§4.2) to one officer, the reporter's single point of
contact (§4.6): the officer covering its area with the fewest open cases; an urgent case
(danger now, injury, a child or vulnerable adult at risk) or one with no area goes to
the duty officer, and an urgent one is copied to a manager. Every alert is an outbox
message written in the same transaction as the allocation, on the channel the officer
chose, and carries the reference, the urgency and a link: never special-category
details. An alert not acknowledged in time (an hour if urgent, else one working day)
goes to the managers. A case submitted while nobody could take it is allocated by the
scheduled jobs as soon as someone can, and the managers are told it waited.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.models import Case, CaseEvent, Officer
from intake.outbox import Batch, enqueue
from intake.quiet import LONDON, UTC

log = logging.getLogger(__name__)

ROLES = ("officer", "manager")
ALERT_CHANNELS = ("email", "sms", "telegram")
MIN_PASSWORD_CHARS = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{7,14}$")
_HASHER = PasswordHasher()


class OfficerError(ValueError):
    """An officer's details are not acceptable (the message says why)."""


@dataclass(frozen=True)
class CaseworkSettings:
    """What casework needs from configuration."""

    #: The service's public base URL, for links in alerts (None: the reference only).
    public_url: str | None = None
    escalate_urgent_after: timedelta = timedelta(hours=1)
    escalate_after_working_days: int = 1


# -- officers --------------------------------------------------------------------------


def add_officer(
    session: Session,
    *,
    name: str,
    email: str,
    password: str,
    now: datetime,
    role: str = "officer",
    areas: list[str] | None = None,
    duty: bool = False,
    alerts: str = "email",
    phone: str | None = None,
    telegram_chat: str | None = None,
) -> Officer:
    """Register an officer or manager; raises :class:`OfficerError` on bad details."""
    name, email = name.strip(), email.strip().lower()
    if not name:
        raise OfficerError("a name is required")
    if not _EMAIL.match(email):
        raise OfficerError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise OfficerError(f"role must be one of {', '.join(ROLES)}")
    if alerts not in ALERT_CHANNELS:
        raise OfficerError(f"alerts must be one of {', '.join(ALERT_CHANNELS)}")
    phone = phone.replace(" ", "") if phone else None
    if phone is not None and not _PHONE.match(phone):
        raise OfficerError("the phone number must be in international form, e.g. +447700900123")
    if telegram_chat is not None and not re.fullmatch(r"-?[0-9]{1,20}", telegram_chat.strip()):
        raise OfficerError("the Telegram chat must be a numeric chat id")
    if alerts == "sms" and not phone:
        raise OfficerError("SMS alerts need --phone")
    if alerts == "telegram" and not telegram_chat:
        raise OfficerError("Telegram alerts need --telegram-chat")
    if len(password) < MIN_PASSWORD_CHARS:
        raise OfficerError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
    if session.scalar(select(Officer.id).where(Officer.email == email)) is not None:
        raise OfficerError(f"an officer with email {email} already exists")
    officer = Officer(
        name=name, email=email, phone=phone,
        telegram_chat=telegram_chat.strip() if telegram_chat else None,
        areas=[area.strip() for area in (areas or []) if area.strip()], role=role, duty=duty,
        alerts=alerts, password_hash=_HASHER.hash(password), active=True, created_at=now,
        session_version=0,
    )
    session.add(officer)
    session.flush()
    return officer


#: Checked against when no such officer exists, so a sign-in takes as long either way and
#: does not tell which email addresses have accounts.
_NOBODY = _HASHER.hash("no such officer")


def verify_password(officer: Officer | None, password: str) -> bool:
    """Check ``password`` against the officer's argon2 hash (or, with none, a dummy)."""
    try:
        return bool(_HASHER.verify(officer.password_hash if officer else _NOBODY, password)
                    ) and officer is not None
    except (VerificationError, InvalidHashError):
        return False


def list_officers(session: Session) -> list[Officer]:
    """Every officer and manager, active first, then by name."""
    return list(session.scalars(select(Officer).order_by(Officer.active.desc(), Officer.name)))


def find_officer(session: Session, email: str) -> Officer | None:
    return session.scalar(select(Officer).where(Officer.email == email.strip().lower()))


def disable_officer(session: Session, email: str) -> Officer:
    """Stop an officer signing in and receiving new cases (their cases stay theirs until
    a manager reallocates them)."""
    officer = find_officer(session, email)
    if officer is None:
        raise OfficerError(f"no officer with email {email}")
    officer.active = False
    officer.session_version += 1  # signed out everywhere
    return officer


def alert_channel(officer: Officer) -> str:
    """The channel the officer's alerts go out on: the one they chose, or email when the
    address that channel needs is missing (as :meth:`Casework.alert` does)."""
    address = {"sms": officer.phone, "telegram": officer.telegram_chat}.get(officer.alerts)
    return officer.alerts if officer.alerts == "email" or address else "email"


def officer_message(officer: Officer, subject: str, text: str
                    ) -> tuple[str, str, dict[str, Any]]:
    """The channel, address and outbox payload of a message to a member of staff on
    their alert channel (:func:`alert_channel`)."""
    channel = alert_channel(officer)
    address = {"sms": officer.phone, "telegram": officer.telegram_chat,
               "email": officer.email}[channel]
    assert address is not None  # alert_channel falls back to email without one
    payload: dict[str, Any] = {"text": text}
    if channel == "email":
        payload["subject"] = subject
    elif channel == "telegram":
        payload["method"] = "sendMessage"
    return channel, address, payload


def alert_channels_wanted(session: Session) -> set[str]:
    """The channels active officers and managers are alerted on."""
    return {alert_channel(officer) for officer in session.scalars(
        select(Officer).where(Officer.active.is_(True)))}


def open_caseloads(session: Session, officer_ids: list[int] | None = None) -> dict[int, int]:
    """Open cases per officer id (of ``officer_ids``, or of everyone)."""
    query = select(Case.officer_id, func.count()).where(Case.status == "open",
                                                         Case.officer_id.is_not(None))
    if officer_ids is not None:
        query = query.where(Case.officer_id.in_(officer_ids))
    rows = session.execute(query.group_by(Case.officer_id))
    return {int(officer_id): int(count) for officer_id, count in rows if officer_id is not None}


# -- events and alerts -----------------------------------------------------------------


def add_event(session: Session, case: Case, kind: str, now: datetime, *,
              officer: Officer | None = None, text: str | None = None, flush: bool = True,
              **data: Any) -> CaseEvent:
    """Append to the case's timeline (``flush=False``: the id is not needed at once).

    ``text`` is encrypted at rest: anyone's own words (the reporter's, an officer's note
    or reason) go there. ``data`` is stored in clear: codes, ids and the service's words."""
    event = CaseEvent(case_id=case.id, at=now, kind=kind,
                      officer_id=officer.id if officer else None, text=text, data=data)
    session.add(event)
    if flush:
        session.flush()
    return event


ALERT_WORDS = {
    "new": "New case",
    "copy": "Urgent case (copy for managers)",
    "escalation": "Not acknowledged in time",
    "message": "New message from the reporter on case",
    "reminder": "Fortnightly update due in 2 days for case",
    "contact_due": "Contact the reporter now (fortnightly update) on case",
    "update_due": "Fortnightly update due now (the anonymous reporter reads it on "
                  "follow-up) for case",
    "danger": "DANGER NOW reported by the reporter of case",
    "unallocated": "No officer was available to take case",
    "risk_review": "Risk review overdue on case",
}
#: Reporters hear about their case at least this often (§4.14).
UPDATE_PERIOD = timedelta(days=14)
#: The most waiting cases one run of the jobs allocates, so a first run after an upgrade
#: (or a long outage) holds the write lock briefly; the next run, a minute on, goes on.
ALLOCATE_PER_RUN = 200


class Casework:
    """Allocation, alerts and escalation, run inside the caller's transaction."""

    def __init__(self, settings: CaseworkSettings | None = None) -> None:
        self.settings = settings or CaseworkSettings()

    def link(self, case: Case) -> str:
        base = (self.settings.public_url or "").rstrip("/")
        return f"{base}/cases/{case.reference}" if base else f"case {case.reference}"

    def alert(self, session: Session, officer: Officer, case: Case, kind: str,
              now: datetime, key: str, batch: Batch | None = None) -> bool:
        """Queue an alert to ``officer`` about ``case``: reference, urgency and a link only.
        False if this alert (``key``) was queued before. A sweep over many cases passes
        its :class:`~intake.outbox.Batch`."""
        urgency = "URGENT. " if case.urgent else ""
        subject = f"hatereport: {urgency}{ALERT_WORDS[kind]} {case.reference}"
        channel, address, payload = officer_message(
            officer, subject, f"{subject}\n{self.link(case)}")
        queued = enqueue(session, channel, address, payload, "alert", now,
                         idempotency_key=f"alert:{key}", batch=batch)
        if queued is not None:
            add_event(session, case, "alert_queued", now, officer=officer, alert=kind,
                      channel=channel, flush=batch is None)
        return queued is not None

    # -- on submit ---------------------------------------------------------------------

    def on_submitted(self, session: Session, case_id: int, now: datetime) -> None:
        """Allocate a just-submitted case and alert its officer (and a manager if urgent)."""
        case = session.get(Case, case_id)
        if case is None:
            return
        add_event(session, case, "submitted", now)
        case.next_update_due_at = now + UPDATE_PERIOD
        officer, reason = self.choose_officer(session, case)
        if officer is None:
            add_event(session, case, "unallocated", now, reason="no active officer")
            log.warning("case %s could not be allocated: no active officer (the jobs retry)",
                        case.reference)
            return
        self.assign(session, case, officer, now, reason)
        self.copy_if_urgent(session, case, officer, now)

    def copy_if_urgent(self, session: Session, case: Case, officer: Officer,
                       now: datetime) -> None:
        """An urgent case's allocation is copied to a manager (not ``officer``)."""
        if not case.urgent:
            return
        manager = self.manager_for_copy(session, exclude=officer)
        if manager is not None:
            self.alert(session, manager, case, "copy", now, f"copy:{case.id}:{manager.id}")

    def allocate_waiting(self, session: Session, now: datetime) -> int:
        """Allocate the open cases left with no officer (nobody could take them when they
        were submitted) by the rules of :meth:`on_submitted`, at most
        :data:`ALLOCATE_PER_RUN` a run, and tell the active managers, once per case, that
        it waited. Returns how many were allocated.

        Read on the officer/status index: the cost follows the cases waiting, not all
        cases. The rows are locked as read (PostgreSQL; SQLite's writer lock serialises
        the writers), and one a manager is reallocating meanwhile is skipped, so the
        jobs never overwrite a person's choice nor allocate a case closed meanwhile."""
        waiting = list(session.scalars(select(Case).where(
            Case.officer_id.is_(None), Case.status == "open")
            .order_by(Case.urgent.desc(), Case.created_at, Case.id)
            .limit(ALLOCATE_PER_RUN).with_for_update(skip_locked=True)))
        if not waiting:
            return 0
        if session.scalar(select(Officer.id).where(Officer.active.is_(True)).limit(1)) is None:
            # Nobody to allocate to or to tell: they wait for the first officer added.
            log.warning("%d case(s) wait unallocated: there is no active officer or manager",
                        len(waiting))
            return 0
        managers = list(session.scalars(select(Officer).where(
            Officer.active.is_(True), Officer.role == "manager").order_by(Officer.id)))
        # Only a case that waited (an 'unallocated' event) is news for the managers; one
        # from before those events existed is simply allocated.
        waited = set(session.scalars(select(CaseEvent.case_id).where(
            CaseEvent.case_id.in_([case.id for case in waiting]),
            CaseEvent.kind == "unallocated")))
        allocated = 0
        for case in waiting:
            officer, reason = self.choose_officer(session, case)
            if officer is not None:
                self.assign(session, case, officer, now, f"{reason} (after waiting unallocated)")
                self.copy_if_urgent(session, case, officer, now)
                allocated += 1
            for manager in managers if case.id in waited else ():
                if officer is None or manager.id != officer.id:
                    self.alert(session, manager, case, "unallocated", now,
                               f"unallocated:{case.id}:{manager.id}")
        if allocated < len(waiting):
            log.warning("%d case(s) wait unallocated: no officer can take them",
                        len(waiting) - allocated)
        return allocated

    def choose_officer(self, session: Session, case: Case) -> tuple[Officer | None, str]:
        """Who gets ``case``, and why (area, urgency, no area, nobody covering the area)."""
        officers = list(session.scalars(select(Officer).where(Officer.active.is_(True))))
        duty = [officer for officer in officers if officer.duty]
        if case.urgent:
            pool, reason = duty, "urgent: duty officer"
        elif not case.area:
            pool, reason = duty, "no area: duty officer"
        else:
            pool = [officer for officer in officers
                    if officer.role == "officer" and case.area in officer.areas]
            reason = f"covers {case.area}"
            if not pool:
                pool, reason = duty, f"nobody covers {case.area}: duty officer"
        if not pool:
            pool = [officer for officer in officers if officer.role == "officer"] or officers
            reason += " (none on duty: least busy)"
        if not pool:
            return None, "no active officer"
        loads = open_caseloads(session, [officer.id for officer in pool])
        return min(pool, key=lambda officer: (loads.get(officer.id, 0), officer.id)), reason

    def manager_for_copy(self, session: Session, exclude: Officer) -> Officer | None:
        managers = [officer for officer in session.scalars(
            select(Officer).where(Officer.active.is_(True), Officer.role == "manager")
            .order_by(Officer.duty.desc(), Officer.id)) if officer.id != exclude.id]
        return managers[0] if managers else None

    def assign(self, session: Session, case: Case, officer: Officer, now: datetime,
               reason: str, by: Officer | None = None, note: str | None = None) -> None:
        """Make ``officer`` the case's single point of contact and alert them.

        ``reason`` is the service's own words (kept in clear, like every event's data);
        ``note``, what a person wrote about it, goes in the event's encrypted text."""
        case.officer_id = officer.id
        case.allocated_at = now
        case.acknowledged_at = None
        case.escalated_at = None
        add_event(session, case, "allocated", now, officer=by, text=note, to=officer.id,
                  reason=reason)
        count = session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "allocated")) or 0
        self.alert(session, officer, case, "new", now, f"new:{case.id}:{officer.id}:{count}")

    # -- acknowledgement and escalation ---------------------------------------------------

    def acknowledge(self, session: Session, case: Case, officer: Officer, now: datetime
                    ) -> bool:
        """The officer has seen the alert; False if it was acknowledged already."""
        if case.acknowledged_at is not None:
            return False
        case.acknowledged_at = now
        add_event(session, case, "acknowledged", now, officer=officer)
        return True

    def escalation_due_at(self, case: Case) -> datetime | None:
        """When an unacknowledged allocation goes to the managers."""
        if case.allocated_at is None:
            return None
        if case.urgent:
            return case.allocated_at + self.settings.escalate_urgent_after
        return add_working_days(case.allocated_at, self.settings.escalate_after_working_days)

    def escalate_due(self, session: Session, now: datetime) -> int:
        """Alert the managers about every allocation left unacknowledged too long."""
        waiting = session.scalars(select(Case).where(
            Case.status == "open", Case.officer_id.is_not(None),
            Case.acknowledged_at.is_(None), Case.escalated_at.is_(None)))
        managers = list(session.scalars(select(Officer).where(
            Officer.active.is_(True), Officer.role == "manager")))
        count = 0
        for case in waiting:
            due = self.escalation_due_at(case)
            if due is None or due > now:
                continue
            if not managers:
                # Nobody to tell yet: it stays due until a manager exists.
                log.warning("case %s is due to escalate but there is no active manager",
                            case.reference)
                continue
            case.escalated_at = now
            add_event(session, case, "escalated", now, managers=[m.id for m in managers])
            for manager in managers:
                self.alert(session, manager, case, "escalation", now,
                           f"escalation:{case.id}:{manager.id}:{case.allocated_at}")
            count += 1
        return count

    # -- risk reviews ------------------------------------------------------------------------

    def alert_risk_reviews(self, session: Session, now: datetime) -> int:
        """Tell the officer (their case has none active: the managers) once per review
        date that a case's risk review has passed with no newer assessment. Returns how
        many cases were told about.

        Read on a partial index of the reviews not yet alerted
        (:data:`~intake.models.RISK_REVIEW_PENDING`, repeated exactly, so both databases
        use it): a case already told about its review date is not read again until a new
        assessment sets another and clears the marker."""
        today = london_today(now)
        due = session.scalars(select(Case).where(
            Case.status == "open", Case.risk_review_due.is_not(None),
            Case.risk_review_due < today, Case.risk_review_alerted_for.is_(None)))
        count = 0
        for case in due:
            review = case.risk_review_due
            assert review is not None
            staff = responsible_staff(session, case)
            if not staff:
                # Nobody to tell yet: it stays due until someone can be.
                log.warning("case %s has a risk review overdue and nobody active to tell",
                            case.reference)
                continue
            for person in staff:
                self.alert(session, person, case, "risk_review", now,
                           f"risk_review:{case.id}:{review.isoformat()}:{person.id}")
            case.risk_review_alerted_for = review
            count += 1
        return count

    # -- danger after submission ------------------------------------------------------------

    def on_danger(self, session: Session, case_id: int, now: datetime) -> None:
        """Danger now, reported on a submitted case (§4.2): the case becomes urgent, its
        officer and the duty officer are alerted with a copy to a manager, and the
        acknowledgement clock starts again (an hour)."""
        case = session.get(Case, case_id)
        if case is None or case.status != "open":
            return
        case.urgent = True
        case.acknowledged_at = None
        case.escalated_at = None
        case.allocated_at = now
        event = add_event(session, case, "danger_reported", now)
        officers = list(session.scalars(select(Officer).where(Officer.active.is_(True))))
        told = [officer for officer in officers
                if officer.id == case.officer_id or officer.duty]
        manager = self.manager_for_copy(session, exclude=told[0]) if told else None
        if manager is not None and manager not in told:
            told.append(manager)
        if not told:
            told = [officer for officer in officers if officer.role == "manager"]
        for officer in told:
            self.alert(session, officer, case, "danger", now, f"danger:{event.id}:{officer.id}")

    # -- the reporter writes again ----------------------------------------------------------

    def on_reporter_message(self, session: Session, case_id: int, text: str,
                            now: datetime) -> None:
        """A message after submission: onto the case's timeline, and to its officer."""
        case = session.get(Case, case_id)
        if case is None:
            return
        event = add_event(session, case, "reporter_message", now, text=text)
        officer = session.get(Officer, case.officer_id) if case.officer_id else None
        if officer is not None and officer.active:
            self.alert(session, officer, case, "message", now, f"message:{event.id}")
            return
        # No officer to see it (unallocated, or theirs is disabled): the managers.
        for manager in session.scalars(select(Officer).where(
                Officer.active.is_(True), Officer.role == "manager")):
            self.alert(session, manager, case, "message", now, f"message:{event.id}:{manager.id}")


def manager_order(officer: Officer) -> tuple[bool, int]:
    """Managers in the order they cover a case: the duty manager first, then by id (the
    first is the one a reporter is told of)."""
    return (not officer.duty, officer.id)


def responsible_staff(session: Session, case: Case) -> list[Officer]:
    """Who is told about a case: its officer, or (none active) every active manager."""
    officer = session.get(Officer, case.officer_id) if case.officer_id else None
    if officer is not None and officer.active:
        return [officer]
    return sorted(session.scalars(select(Officer).where(
        Officer.active.is_(True), Officer.role == "manager")), key=manager_order)


def london_today(now: datetime) -> date:
    """The date in London at ``now`` (naive UTC): review dates are local calendar dates."""
    return now.replace(tzinfo=UTC).astimezone(LONDON).date()


def risk_review_overdue(case: Case, now: datetime) -> bool:
    """Whether an open case's latest risk assessment has gone past its review date (a
    newer assessment always sets a later one)."""
    return (case.status == "open" and case.risk_review_due is not None
            and case.risk_review_due < london_today(now))


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Monday to Friday), at the same time of day."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


# -- an officer's actions on a case ------------------------------------------------------


class ActionError(ValueError):
    """An action is missing something it needs (the message says what)."""


SUPPORT_KINDS = {
    "counselling": "Counselling or emotional support",
    "target_hardening": "Target hardening (locks, lights, alarms...)",
    "interpreter": "An interpreter",
    "literacy": "Help with reading and writing",
    "other": "Other support",
}
REFERRAL_TO = {"police": "The police", "stop_hate_uk": "Stop Hate UK",
               "social_care": "Social care (safeguarding)", "other": "Another agency"}
REFERRAL_BASIS = {"consent": "The reporter's consent", "safeguarding": "A safeguarding reason"}
LEGAL_KINDS = {"injunction": "Injunction", "possession": "Notice seeking possession",
               "abc": "Acceptable behaviour contract", "warning": "Warning letter",
               "other": "Other legal action"}
CONTACT_METHODS = {"phone": "Phone call", "visit": "Visit", "sms": "Text message",
                   "email": "Email", "letter": "Letter", "in_person": "In person"}
OUTCOMES = {"resolved": "Resolved", "no_further_action": "No further action possible",
            "referred": "Referred on and closed here", "withdrawn": "Reporter withdrew"}
VICTIM_VIEWS = {"satisfied": "Satisfied", "partly": "Partly satisfied",
                "not_satisfied": "Not satisfied", "not_known": "Not known (could not ask)"}
#: A standard 5x5 risk matrix: likelihood x impact, each 1 (lowest) to 5 (highest).
RISK_BANDS = ((4, "low"), (9, "medium"), (15, "high"), (25, "very_high"))


def risk_rating(likelihood: int, impact: int) -> tuple[int, str]:
    """The score (1-25) and band of a likelihood and an impact, each 1 to 5."""
    if not (1 <= likelihood <= 5 and 1 <= impact <= 5):
        raise ActionError("likelihood and impact are each 1 to 5")
    score = likelihood * impact
    return score, next(band for top, band in RISK_BANDS if score <= top)


def _choice(value: str | None, allowed: dict[str, str], what: str) -> str:
    if value not in allowed:
        raise ActionError(f"choose {what}")
    return value


def record_action(session: Session, case: Case, officer: Officer, kind: str,
                  fields: dict[str, str], now: datetime) -> CaseEvent:
    """Record contact, support, a referral, legal action or a risk assessment.

    A referral needs the reporter's consent on record (their answers in the report, or
    consent the officer records now, with how it was given) or a safeguarding reason.
    """
    if case.status != "open":
        raise ActionError("the case is closed")
    note = (fields.get("note") or "").strip()[:4000] or None
    if kind == "contact":
        method = _choice(fields.get("method"), CONTACT_METHODS, "how you made contact")
        if not note:
            raise ActionError("say what was discussed")
        if case.first_contact_at is None:
            case.first_contact_at = now
        case.last_contact_at = now
        return add_event(session, case, "contact", now, officer=officer, text=note,
                         method=method)
    if kind == "support":
        support = _choice(fields.get("support"), SUPPORT_KINDS, "the support offered")
        return add_event(session, case, "support_offered", now, officer=officer, text=note,
                         support=support)
    if kind == "referral":
        to = _choice(fields.get("to"), REFERRAL_TO, "who it is referred to")
        basis = _choice(fields.get("basis"), REFERRAL_BASIS, "the basis for sharing")
        reported = (to == "police" and case.police == "pass_on") or (
            to == "stop_hate_uk" and case.stop_hate_uk_consent)
        if basis == "consent" and not reported and not note:
            raise ActionError("no consent to this referral is on record: write how and when "
                              "the reporter gave it, or record a safeguarding reason")
        if basis == "safeguarding" and not note:
            raise ActionError("write the safeguarding reason for sharing without consent")
        return add_event(session, case, "referral", now, officer=officer, text=note, to=to,
                         basis=basis, consent_in_report=reported)
    if kind == "legal":
        action = _choice(fields.get("legal"), LEGAL_KINDS, "the legal action")
        return add_event(session, case, "legal_action", now, officer=officer, text=note,
                         legal=action)
    if kind == "risk":
        try:
            likelihood, impact = int(fields.get("likelihood", "")), int(fields.get("impact", ""))
        except ValueError:
            raise ActionError("give the likelihood and the impact, 1 to 5") from None
        score, band = risk_rating(likelihood, impact)
        try:
            review = date.fromisoformat(fields.get("review") or "")
        except ValueError:
            raise ActionError("give the date of the next review (YYYY-MM-DD)") from None
        if review <= london_today(now):
            raise ActionError("the next review must be after today")
        case.risk_rating, case.risk_review_due = band, review
        # A new date, not yet alerted: the jobs' sweep finds it on its partial index.
        case.risk_review_alerted_for = None
        return add_event(session, case, "risk_assessment", now, officer=officer, text=note,
                         likelihood=likelihood, impact=impact, score=score, rating=band,
                         review=review.isoformat())
    raise ActionError(f"unknown action {kind!r}")


def close_case(session: Session, case: Case, officer: Officer, outcome: str,
               victim_view: str, note: str | None, now: datetime) -> CaseEvent:
    """Close a case with its outcome and the victim's view of it; no more updates."""
    if case.status != "open":
        raise ActionError("the case is already closed")
    _choice(outcome, OUTCOMES, "the outcome")
    _choice(victim_view, VICTIM_VIEWS, "the victim's view of the outcome")
    case.status = "closed"
    case.closed_at = now
    case.outcome = outcome
    case.next_update_due_at = None
    return add_event(session, case, "closed", now, officer=officer,
                     text=(note or "").strip()[:4000] or None, outcome=outcome,
                     victim_view=victim_view)


def reallocate(casework: Casework, session: Session, case: Case, to: Officer,
               manager: Officer, reason: str, now: datetime) -> None:
    """A manager gives the case to another officer. The reporter keeps their single
    point of contact unless they asked otherwise, so a reason is required."""
    if manager.role != "manager":
        raise ActionError("only a manager can reallocate")
    if case.status != "open":
        raise ActionError("the case is closed")
    if not to.active:
        raise ActionError("that officer is disabled")
    if to.id == case.officer_id:
        raise ActionError("the case is already theirs")
    if not reason.strip():
        raise ActionError("say why (the reporter keeps their officer unless they ask)")
    # The manager's words are free text: in the event's encrypted text, not its data.
    casework.assign(session, case, to, now, "reallocated", by=manager,
                    note=reason.strip()[:500])
