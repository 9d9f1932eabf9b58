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

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from intake.cases import uk_mobile
from intake.casework import UPDATE_PERIOD, Casework, add_event, manager_order
from intake.i18n import N_, gettext
from intake.models import Case, CaseEvent, Officer
from intake.outbox import Batch, enqueue, identity_hash
from intake.quiet import quiet
from intake.stats import ON_TIME_GRACE

PERIOD = UPDATE_PERIOD
REMIND_BEFORE = timedelta(days=2)

STANDARD_UPDATE = N_(
    "Update on your report %(reference)s: there is no news yet, but it is still being "
    "worked on. Your officer is %(officer)s. Reply to this message to contact them."
)
OFFICER_UPDATE = N_("Update on your report %(reference)s from %(officer)s:")
EMAIL_SUBJECT = N_("Your report %(reference)s")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Route:
    """How a reporter can be reached: a channel and an address, or why not."""

    channel: str | None
    address: str | None = None
    why_not: str | None = None


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
    return written_updates(session, [case]).get(case.id)


def written_updates(session: Session, cases: list[Case]) -> dict[int, CaseEvent]:
    """For each case, the officer's latest update written since the last one was sent:
    one query per :data:`CHUNK` cases."""
    found: dict[int, CaseEvent] = {}
    by_id = {case.id: case for case in cases}
    ids = list(by_id)
    for start in range(0, len(ids), CHUNK):
        latest = (select(func.max(CaseEvent.id))
                  .where(CaseEvent.case_id.in_(ids[start:start + CHUNK]),
                         CaseEvent.kind == "update_written")
                  .group_by(CaseEvent.case_id))
        for event in session.scalars(select(CaseEvent).where(CaseEvent.id.in_(latest))):
            since = by_id[event.case_id].last_update_at
            if since is None or event.at > since:
                found[event.case_id] = event
    return found


def message_for(session: Session, case: Case, written: CaseEvent | None = None,
                looked: bool = False, contact: Officer | None = None) -> tuple[str, bool]:
    """The update's words in the reporter's language, and whether it is the standard one
    (``looked``: ``written`` is already the answer of :func:`written_update`).

    ``contact`` is who the reporter is told to reply to: the case's officer, or the
    manager covering while no officer is active. A written update names its author."""
    contact = contact or case.officer
    if not looked:
        written = written_update(session, case)
    if written is not None and written.text:
        author = written.officer or contact
        frame = gettext(case.language, OFFICER_UPDATE, reference=case.reference,
                        officer=author.name if author else "-")
        return f"{frame}\n{written.text}", False
    return gettext(case.language, STANDARD_UPDATE, reference=case.reference,
                   officer=contact.name if contact else "-"), True


@dataclass
class UpdatesReport:
    sent: int = 0
    officer_to_contact: int = 0
    held_for_morning: int = 0
    reminders: int = 0


def run_due(session: Session, now: datetime, casework: Casework) -> UpdatesReport:
    """Queue every update and reminder due by ``now``; safe to run any number of times.

    The work is read in a few batched queries (the cases, their officers' written
    updates, which keys are queued, who opted out), so its cost follows what is due."""
    report = UpdatesReport()
    # Indexed on the due time; a case in the reminder window is read again only once it
    # is due, so the sweep's cost follows what is due, not how many cases are open.
    cases = list(session.scalars(select(Case).where(
        Case.status == "open", Case.next_update_due_at.is_not(None),
        Case.next_update_due_at <= now + REMIND_BEFORE,
        or_(Case.next_update_due_at <= now, Case.update_reminded_for.is_(None),
            Case.update_reminded_for != Case.next_update_due_at))
        # Locked while they are worked (PostgreSQL); one an officer is changing right
        # now is left for the next run rather than overwritten with what was read.
        .with_for_update(skip_locked=True)))
    if not cases:
        return report
    with session.no_autoflush:
        staff_of = Staff(session)
        due_now = [case for case in cases if _due(case) <= now]
        routes = {case.id: route(case) for case in due_now}
        keys = [f"update:{case.id}:{_due(case).isoformat()}" for case in due_now]
        keys += [f"alert:{key}:{person.id}" for case in cases
                 for key in (f"reminder:{case.id}:{_due(case).isoformat()}",
                             f"update:{case.id}:{_due(case).isoformat()}")
                 for person in staff_of(case)]
        batch = Batch(session, keys, [identity_hash(way.channel, way.address)
                                      for way in routes.values()
                                      if way.channel is not None and way.address])
        written = written_updates(session, due_now) if not quiet(now) else {}
        for case in cases:
            _sweep_one(session, case, now, casework, staff_of(case), routes.get(case.id),
                       written.get(case.id), batch, report)
    return report


CHUNK = 500


def _due(case: Case) -> datetime:
    assert case.next_update_due_at is not None
    return case.next_update_due_at


def _sweep_one(session: Session, case: Case, now: datetime, casework: Casework,
               staff: list[Officer], way: Route | None, written: CaseEvent | None,
               batch: Batch, report: UpdatesReport) -> None:
    due = _due(case)
    if due > now and case.update_reminded_for != due:
        # Two days ahead; an update already due (after downtime) goes out without one.
        case.update_reminded_for = due
        for person in staff:
            if casework.alert(session, person, case, "reminder", now,
                              f"reminder:{case.id}:{due.isoformat()}:{person.id}", batch):
                report.reminders += 1
    if due > now:
        return
    if quiet(now):
        report.held_for_morning += 1
        return
    assert way is not None
    if way.channel in ("sms", "telegram") and way.address and batch.is_opted_out(
            identity_hash(way.channel, way.address)):
        # They texted STOP: nothing is queued to pile up; the officer makes contact.
        way = Route(None, why_not="opted out of messages: contact as they asked")
    key = f"update:{case.id}:{due.isoformat()}"
    if way.channel is not None and way.address is not None:
        text, standard = message_for(session, case, written, looked=True,
                                     contact=staff[0] if staff else None)
        # Held by the outbox too, should a retry fall in the quiet hours.
        payload: dict[str, object] = {"text": text, "quiet_hours": True}
        if way.channel == "email":
            payload["subject"] = gettext(case.language, EMAIL_SUBJECT,
                                         reference=case.reference)
            if staff:
                # A reply reaches a person, not the unread sending address.
                payload["reply_to"] = staff[0].email
        elif way.channel == "telegram":
            payload["method"] = "sendMessage"
        if enqueue(session, way.channel, way.address, payload, "update", now,
                   idempotency_key=key, batch=batch) is not None:
            add_event(session, case, "update_sent", now, channel=way.channel,
                      standard=standard, due=due.isoformat(), flush=False)
            report.sent += 1
        if (way.channel == "sms" and case.contact_method == "text"
                and case.contact_identity_hash is None):
            # Texted at the mobile they typed: a reply from it now reaches the case.
            # Never before: a mistyped or shared number would put a stranger's words on
            # the case and tell them its reference.
            case.contact_identity_hash = identity_hash("sms", way.address)
    else:
        # An anonymous reporter cannot be contacted at all: their officer's updates
        # wait on the follow-up page, and nobody is asked to do the impossible; but
        # when no reminder went out for this date (the jobs were down), the officer is
        # told now that one is due for them to write.
        kind = "contact_due"
        if case.anonymous:
            kind = "update_due" if case.update_reminded_for != due else ""
        for person in staff if kind else ():
            casework.alert(session, person, case, kind, now, f"{key}:{person.id}", batch)
        add_event(session, case, "update_due_officer", now, reason=way.why_not,
                  due=due.isoformat(), flush=False)
        report.officer_to_contact += 1
    if not case.anonymous:
        # For monitoring: did this fortnight's update reach them in time? Texted or sent
        # by the service within a day of the due time, or, where the officer has to
        # make contact, contact recorded in the fortnight up to it.
        if way.channel is not None and way.address is not None:
            on_time = now <= due + ON_TIME_GRACE
        else:
            on_time = (case.last_contact_at is not None
                       and due - PERIOD <= case.last_contact_at <= due + ON_TIME_GRACE)
        if on_time:
            case.updates_on_time = (case.updates_on_time or 0) + 1
        else:
            case.updates_late = (case.updates_late or 0) + 1
    case.update_reminded_for = due
    case.last_update_at = now
    case.next_update_due_at = now + PERIOD


class Staff:
    """Who is told about a case's updates (:func:`~intake.casework.responsible_staff`),
    with the officers read once for a whole sweep."""

    def __init__(self, session: Session) -> None:
        self.officers = {officer.id: officer for officer in session.scalars(select(Officer))}
        # The duty manager first, then by id: the first is who the reporter is told of.
        self.managers = sorted((officer for officer in self.officers.values()
                                if officer.active and officer.role == "manager"),
                               key=manager_order)

    def __call__(self, case: Case) -> list[Officer]:
        officer = self.officers.get(case.officer_id) if case.officer_id else None
        if officer is not None and officer.active:
            return [officer]
        return list(self.managers)


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
