"""Fortnightly updates to reporters (§4.14: at least every fortnight, even with no news).

Every open case whose reporter can be reached gets a status message on their channel
and in their language when its update falls due: the officer's latest update if one was
written since the last, otherwise a standard message (no new developments, who their
officer is, how to reply). Then the next is due 14 days later.

- **Never two for one period**: each message is queued with the key
  ``update:<case>:<due time>``, so running the job twice (two workers, a restart)
  queues it once.
- **None missed after downtime**: the job looks for every case due *by now*, so the
  first run after the service was down catches up (one message per case, not one per
  missed fortnight).
- **Quiet hours**: nothing goes out between 21:00 and 08:00 Europe/London; what falls
  due then is held to the morning.
- **Reachable only as the reporter allowed**: by SMS or Telegram when they chose "here,
  in this chat", by SMS when they gave a mobile for texts, by email when they gave an
  address; only when they said messages may be left (someone else may see them),
  never to an anonymous reporter (no channel is kept open). Otherwise the officer is
  alerted to make contact the way the reporter asked, as when the reporter has opted
  out of messages (SMS STOP): nothing is queued to pile up for them.
- **Officers are reminded** two days before an update is due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.casework import UPDATE_PERIOD, Casework, add_event
from intake.i18n import N_, gettext
from intake.models import Case, CaseEvent, Officer
from intake.outbox import enqueue, identity_hash, is_opted_out
from intake.quiet import quiet

PERIOD = UPDATE_PERIOD
REMIND_BEFORE = timedelta(days=2)

STANDARD_UPDATE = N_(
    "Update on your report %(reference)s: there is no news yet, but it is still being "
    "worked on. Your officer is %(officer)s. Reply to this message to contact them."
)
OFFICER_UPDATE = N_("Update on your report %(reference)s from %(officer)s:")
EMAIL_SUBJECT = N_("Your report %(reference)s")

_UK_MOBILE = re.compile(r"^(?:\+44|0044|0)(7\d{9})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Route:
    """How a reporter can be reached: a channel and an address, or why not."""

    channel: str | None
    address: str | None = None
    why_not: str | None = None


def uk_mobile(text: str) -> str | None:
    """A UK mobile number in international form, if ``text`` is one."""
    digits = re.sub(r"[\s()-]", "", text)
    match = _UK_MOBILE.match(digits)
    return f"+44{match.group(1)}" if match else None


def route(case: Case) -> Route:
    """Where this case's updates may go, as the reporter allowed."""
    if case.anonymous:
        return Route(None, why_not="anonymous: no channel kept open")
    if case.leave_messages is not True:
        # Only when they said messages are safe: someone else may see the phone.
        return Route(None, why_not="messages may not be left (or they did not say they "
                                   "may): contact as they asked")
    method = case.contact_method
    if method == "this_channel":
        if case.channel in ("sms", "telegram") and case.channel_address:
            return Route(case.channel, case.channel_address)
        return Route(None, why_not=f"no address kept for the {case.channel} channel")
    details = (case.contact_details or "").strip()
    if method == "text" and uk_mobile(details):
        return Route("sms", uk_mobile(details))
    if method == "email" and _EMAIL.match(details):
        return Route("email", details)
    if method == "phone":
        return Route(None, why_not="asked for phone calls: the officer calls")
    return Route(None, why_not="no usable contact details")


def written_update(session: Session, case: Case) -> CaseEvent | None:
    """The officer's latest update written since the last one was sent, if any."""
    query = select(CaseEvent).where(CaseEvent.case_id == case.id,
                                    CaseEvent.kind == "update_written")
    if case.last_update_at is not None:
        query = query.where(CaseEvent.at > case.last_update_at)
    return session.scalars(query.order_by(CaseEvent.id.desc()).limit(1)).first()


def message_for(session: Session, case: Case) -> tuple[str, bool]:
    """The update's words in the reporter's language, and whether it is the standard one."""
    officer = case.officer.name if case.officer else "-"
    written = written_update(session, case)
    if written is not None and written.text:
        frame = gettext(case.language, OFFICER_UPDATE, reference=case.reference,
                        officer=officer)
        return f"{frame}\n{written.text}", False
    return gettext(case.language, STANDARD_UPDATE, reference=case.reference,
                   officer=officer), True


@dataclass
class UpdatesReport:
    sent: int = 0
    officer_to_contact: int = 0
    held_for_morning: int = 0
    reminders: int = 0


def run_due(session: Session, now: datetime, casework: Casework) -> UpdatesReport:
    """Queue every update and reminder due by ``now``; safe to run any number of times."""
    report = UpdatesReport()
    # Indexed on the due time; a case in the reminder window is read again only once it
    # is due, so the sweep's cost follows what is due, not how many cases are open.
    cases = session.scalars(select(Case).where(
        Case.status == "open", Case.next_update_due_at.is_not(None),
        Case.next_update_due_at <= now + REMIND_BEFORE,
        or_(Case.next_update_due_at <= now, Case.update_reminded_for.is_(None),
            Case.update_reminded_for != Case.next_update_due_at)))
    for case in cases:
        due = case.next_update_due_at
        assert due is not None
        staff = responsible(session, case)
        if case.update_reminded_for != due:
            case.update_reminded_for = due
            for person in staff:
                if casework.alert(session, person, case, "reminder", now,
                                  f"reminder:{case.id}:{due.isoformat()}:{person.id}"):
                    report.reminders += 1
        if due > now:
            continue
        if quiet(now):
            report.held_for_morning += 1
            continue
        way = route(case)
        if way.channel in ("sms", "telegram") and way.address and is_opted_out(
                session, identity_hash(way.channel, way.address)):
            # They texted STOP: nothing is queued to pile up; the officer makes contact.
            way = Route(None, why_not="opted out of messages: contact as they asked")
        key = f"update:{case.id}:{due.isoformat()}"
        if way.channel is not None and way.address is not None:
            text, standard = message_for(session, case)
            # Held by the outbox too, should a retry fall in the quiet hours.
            payload: dict[str, object] = {"text": text, "quiet_hours": True}
            if way.channel == "email":
                payload["subject"] = gettext(case.language, EMAIL_SUBJECT,
                                             reference=case.reference)
            elif way.channel == "telegram":
                payload["method"] = "sendMessage"
            if enqueue(session, way.channel, way.address, payload, "update", now,
                       idempotency_key=key) is not None:
                add_event(session, case, "update_sent", now, channel=way.channel,
                          standard=standard, due=due.isoformat(), flush=False)
                report.sent += 1
        else:
            # An anonymous reporter cannot be contacted at all: their officer's updates
            # wait on the follow-up page, and nobody is asked to do the impossible.
            if not case.anonymous:
                for person in staff:
                    casework.alert(session, person, case, "contact_due", now,
                                   f"{key}:{person.id}")
            add_event(session, case, "update_due_officer", now, reason=way.why_not,
                      due=due.isoformat(), flush=False)
            report.officer_to_contact += 1
        case.last_update_at = now
        case.next_update_due_at = now + PERIOD
    return report


def responsible(session: Session, case: Case) -> list[Officer]:
    """Who is told about a case's updates: its officer, or (none active) the managers."""
    officer = session.get(Officer, case.officer_id) if case.officer_id else None
    if officer is not None and officer.active:
        return [officer]
    return list(session.scalars(select(Officer).where(Officer.active.is_(True),
                                                      Officer.role == "manager")))


def due_list(session: Session, now: datetime) -> list[dict[str, object]]:
    """Open cases with their next update: when, and how it will go (no personal data)."""
    rows: list[dict[str, object]] = []
    for case in session.scalars(select(Case).where(
            Case.status == "open", Case.next_update_due_at.is_not(None))
            .order_by(Case.next_update_due_at)):
        due = case.next_update_due_at
        assert due is not None
        way = route(case)
        rows.append({
            "reference": case.reference,
            "due_at": due.isoformat(timespec="seconds") + "Z",
            "overdue": due <= now,
            "by": way.channel or "officer",
            "why_officer": way.why_not,
            "language": case.language,
            "officer": case.officer.email if case.officer else None,
        })
    return rows
