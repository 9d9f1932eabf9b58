"""Fortnightly updates, driven over months with a controlled clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select

from intake.casework import Casework, add_event, add_officer
from intake.db import transaction
from intake.i18n import gettext
from intake.models import (
    AuditEntry,
    Case,
    CaseEvent,
    Conversation,
    InboundMessage,
    Officer,
    OptOut,
    OutboxMessage,
)
from intake.outbox import enqueue, identity_hash, opt_out
from intake.service import IntakeService
from intake.updates import STANDARD_UPDATE, due_list, quiet, route, run_due

from .test_engine import NAMED, drive

PHONE = "+447700900123"


@pytest.fixture
def casework():
    return Casework()


@pytest.fixture
def desk(sessions, engine, clock, casework):
    """An intake service that allocates, with one officer covering Normanton."""
    with transaction(sessions) as session:
        for model in (AuditEntry, CaseEvent, OutboxMessage, OptOut, InboundMessage,
                      Conversation, Case, Officer):
            session.execute(delete(model))
        add_officer(session, name="Olive Officer", email="olive@landlord.example",
                    password="x" * 12, now=clock(), areas=["Normanton"], duty=True)
    return IntakeService(sessions, engine, clock, casework=casework)


def submit(service, **changes) -> Case:
    script = {**NAMED, "contact_method": "text", "contact_details": "07700 900123",
              "leave_messages": "yes", **changes}
    conversation_id = drive(service, script)
    reference = service.send(conversation_id, "submit").result.reference
    with service.sessions() as session:
        return session.scalar(select(Case).where(Case.reference == reference))


def run(sessions, casework, clock):
    with transaction(sessions) as session:
        return run_due(session, clock(), casework)


def updates_sent(sessions) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "update").order_by(OutboxMessage.id)))


def alerts(sessions, kind_word: str) -> int:
    with sessions() as session:
        return sum(1 for row in session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "alert")) if kind_word in row.payload["text"])


def test_one_update_a_fortnight_for_three_months_never_two(desk, sessions, casework, clock):
    case = submit(desk)
    assert route(case).channel == "sms" and route(case).address == PHONE
    start = clock()
    sent_at = []
    for hour in range(0, 24 * 92, 6):  # every six hours for three months
        clock.now = start + timedelta(hours=hour)
        before = len(updates_sent(sessions))
        run(sessions, casework, clock)
        run(sessions, casework, clock)  # a second worker, or a restart: nothing more
        if len(updates_sent(sessions)) > before:
            sent_at.append(clock.now)
    assert len(sent_at) == 6
    gaps = [later - earlier for earlier, later in zip([start, *sent_at], sent_at)]
    assert all(timedelta(days=14) <= gap <= timedelta(days=14, hours=13) for gap in gaps), gaps
    assert all(not quiet(moment) for moment in sent_at)
    first = updates_sent(sessions)[0]
    assert first.payload["text"] == gettext("en", STANDARD_UPDATE, reference=case.reference,
                                            officer="Olive Officer")
    assert first.recipient == PHONE and first.channel == "sms"


def test_the_officer_is_reminded_two_days_before_once(desk, sessions, casework, clock):
    submit(desk)
    clock.advance(days=11, hours=23)
    run(sessions, casework, clock)
    assert alerts(sessions, "update due in 2 days") == 0
    clock.advance(hours=2)
    run(sessions, casework, clock)
    run(sessions, casework, clock)
    assert alerts(sessions, "update due in 2 days") == 1
    assert updates_sent(sessions) == []


def test_after_the_service_was_down_the_missed_update_goes_once(desk, sessions, casework,
                                                                  clock):
    submit(desk)
    clock.advance(days=40)  # down for five weeks: two fortnights missed
    report = run(sessions, casework, clock)
    assert report.sent == 1 and len(updates_sent(sessions)) == 1
    with sessions() as session:
        case = session.scalars(select(Case)).one()
        assert case.next_update_due_at == clock() + timedelta(days=14)


def test_after_downtime_no_stale_reminder_and_the_next_one_comes_on_time(
        desk, sessions, casework, clock):
    submit(desk)
    clock.advance(days=40)
    report = run(sessions, casework, clock)
    # The update goes now: a "due in 2 days" reminder for it would be wrong.
    assert report.reminders == 0 and alerts(sessions, "update due in 2 days") == 0
    clock.advance(days=12, minutes=1)
    assert run(sessions, casework, clock).reminders == 1
    assert alerts(sessions, "update due in 2 days") == 1


def test_one_sweep_over_many_cases_queues_each_once(desk, sessions, casework, clock):
    """The batched sweep: many cases due at once, some opted out, some with a written
    update, one already queued by another run; each gets exactly its own message."""
    cases = [submit(desk, contact_details=f"07700 900{number:03d}") for number in range(12)]
    with transaction(sessions) as session:
        opt_out(session, "sms", identity_hash("sms", "+447700900003"), clock())
        officer = session.scalars(select(Officer)).one()
        add_event(session, session.get(Case, cases[5].id), "update_written", clock(),
                  officer=officer, text="We have spoken to the neighbours.")
    clock.advance(days=14, minutes=1)
    with transaction(sessions) as session:  # another run queued case 7's update already
        due = session.get(Case, cases[7].id).next_update_due_at
        enqueue(session, "sms", "+447700900007", {"text": "earlier"}, "update", clock(),
                idempotency_key=f"update:{cases[7].id}:{due.isoformat()}")
    report = run(sessions, casework, clock)
    assert report.sent == 10 and report.officer_to_contact == 1
    assert run(sessions, casework, clock).sent == 0
    sent = updates_sent(sessions)
    assert sorted(row.recipient for row in sent) == sorted(
        f"+447700900{number:03d}" for number in range(12) if number != 3)
    written = [row for row in sent if row.recipient == "+447700900005"]
    assert written[0].payload["text"].endswith("We have spoken to the neighbours.")
    assert sum("no news yet" in row.payload["text"] for row in sent) == 9
    assert [row.payload["text"] for row in sent if row.recipient == "+447700900007"] == [
        "earlier"]
    assert alerts(sessions, "Contact the reporter now") == 1


def test_nothing_goes_out_at_night_it_waits_for_the_morning(desk, sessions, casework, clock):
    clock.now = datetime(2026, 12, 1, 22, 30)  # 22:30 in London (GMT in winter)
    submit(desk)
    clock.advance(days=14)
    report = run(sessions, casework, clock)
    assert report.held_for_morning == 1 and updates_sent(sessions) == []
    clock.now = datetime(2026, 12, 16, 7, 59)
    assert run(sessions, casework, clock).sent == 0
    clock.now = datetime(2026, 12, 16, 8, 0)
    assert run(sessions, casework, clock).sent == 1


def test_summer_time_is_london_time(desk, sessions, casework, clock):
    clock.now = datetime(2026, 7, 1, 7, 30)  # 08:30 in London (BST)
    assert not quiet(clock.now)
    assert quiet(datetime(2026, 7, 1, 20, 30))  # 21:30 BST


def test_the_officers_update_replaces_the_standard_message_once(desk, sessions, casework,
                                                                 clock):
    case = submit(desk)
    clock.advance(days=3)
    with transaction(sessions) as session:
        officer = session.scalars(select(Officer)).one()
        add_event(session, session.get(Case, case.id), "update_written", clock(),
                  officer=officer, text="We have spoken to your neighbour.")
    clock.advance(days=11)
    run(sessions, casework, clock)
    clock.advance(days=14)
    run(sessions, casework, clock)
    first, second = updates_sent(sessions)
    assert first.payload["text"].endswith("We have spoken to your neighbour.")
    assert first.payload["text"].startswith(gettext(
        "en", "Update on your report %(reference)s from %(officer)s:",
        reference=case.reference, officer="Olive Officer"))
    assert "no news yet" in second.payload["text"]


def test_updates_go_in_the_reporters_language(desk, sessions, casework, clock):
    conversation_id = desk.start("web", locale="pl").conversation_id
    script = dict(NAMED, role="victim", anonymous="named", where_type="home", repeated="yes",
                  injuries="no", vulnerable="no", stop_hate="yes", contact_method="text",
                  contact_details="07700 900123", leave_messages="yes", perpetrator="known",
                  safety="no", description="Sąsiad krzyczał na mnie i kopał w drzwi.")
    drive(desk, script, conversation_id=conversation_id)
    reference = desk.send(conversation_id, "submit").result.reference
    clock.advance(days=14)
    run(sessions, casework, clock)
    (update,) = updates_sent(sessions)
    assert update.payload["text"] == gettext("pl", STANDARD_UPDATE, reference=reference,
                                             officer="Olive Officer")


@pytest.mark.parametrize("changes, why", [
    ({"leave_messages": "no"}, "messages may not be left"),
    ({"leave_messages": "skip"}, "did not say they may"),
    ({"contact_method": "phone"}, "phone calls"),
])
def test_when_messages_may_not_be_sent_the_officer_is_told_to_make_contact(
        desk, sessions, casework, clock, changes, why):
    case = submit(desk, **changes)
    assert route(case).channel is None and why in (route(case).why_not or "")
    clock.advance(days=14)
    report = run(sessions, casework, clock)
    assert report.officer_to_contact == 1 and updates_sent(sessions) == []
    assert alerts(sessions, "Contact the reporter now") == 1


def test_an_anonymous_reporter_gets_no_message(desk, sessions, casework, clock):
    conversation_id = drive(desk, dict(NAMED, anonymous="anonymous"))
    desk.send(conversation_id, "submit")
    clock.advance(days=15)
    run(sessions, casework, clock)
    assert updates_sent(sessions) == []
    assert alerts(sessions, "Contact the reporter now") == 0  # nobody can: no channel


def test_an_anonymous_case_overdue_after_downtime_tells_its_officer_once(desk, sessions,
                                                                        casework, clock):
    """Its officer writes the update the reporter reads on follow-up: when the jobs were
    down through the reminder, they are told it is due now, once."""
    conversation_id = drive(desk, dict(NAMED, anonymous="anonymous"))
    desk.send(conversation_id, "submit")
    clock.advance(days=20)
    run(sessions, casework, clock)
    run(sessions, casework, clock)
    assert alerts(sessions, "update due now") == 1
    assert alerts(sessions, "Contact the reporter now") == 0
    clock.advance(days=12, minutes=1)  # the next one, reminded in time...
    run(sessions, casework, clock)
    clock.advance(days=2)  # ...and due: no "due now" as well
    run(sessions, casework, clock)
    assert alerts(sessions, "update due in 2 days") == 1
    assert alerts(sessions, "update due now") == 1


def test_while_no_officer_is_active_the_update_names_the_duty_manager(desk, sessions,
                                                                      casework, clock):
    case = submit(desk)
    with transaction(sessions) as session:
        for number, duty in ((1, False), (2, True), (3, False)):
            add_officer(session, name=f"Manager {number}", email=f"m{number}@landlord.example",
                        password="x" * 12, now=clock(), role="manager", duty=duty)
        from intake.casework import disable_officer

        disable_officer(session, "olive@landlord.example")
    clock.advance(days=14, minutes=1)
    run(sessions, casework, clock)
    (update,) = updates_sent(sessions)
    assert update.payload["text"] == gettext("en", STANDARD_UPDATE, reference=case.reference,
                                             officer="Manager 2")


def test_an_opted_out_number_gets_nothing_and_the_officer_makes_contact(desk, sessions,
                                                                        casework, clock):
    submit(desk)
    with transaction(sessions) as session:
        opt_out(session, "sms", identity_hash("sms", PHONE), clock())
    for _ in range(3):  # six weeks: nothing piles up to arrive at once on opting in
        clock.advance(days=14)
        report = run(sessions, casework, clock)
        assert report.officer_to_contact == 1
    assert updates_sent(sessions) == []
    assert alerts(sessions, "Contact the reporter now") == 3


def test_a_disabled_officers_reminders_go_to_the_managers(desk, sessions, casework, clock):
    submit(desk)
    with transaction(sessions) as session:
        add_officer(session, name="Mo Manager", email="mo@landlord.example",
                    password="x" * 12, now=clock(), role="manager")
        from intake.casework import disable_officer

        disable_officer(session, "olive@landlord.example")
    clock.advance(days=12, hours=1)
    run(sessions, casework, clock)
    with sessions() as session:
        reminders = [row.recipient for row in session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "alert")) if "update due in 2 days" in row.payload["text"]]
    assert reminders == ["mo@landlord.example"]


def test_updates_due_lists_when_and_how(desk, sessions, clock):
    case = submit(desk)
    with sessions() as session:
        (row,) = due_list(session, clock())
    assert row["reference"] == case.reference and row["by"] == "sms"
    assert row["due_at"] == (clock() + timedelta(days=14)).isoformat(timespec="seconds") + "Z"
    assert row["overdue"] is False


def test_danger_after_submission_makes_the_case_urgent_and_alerts_at_once(desk, sessions,
                                                                          casework, clock):
    case = submit(desk, injuries="no", vulnerable="no")
    assert not case.urgent
    with transaction(sessions) as session:
        add_officer(session, name="Mo Manager", email="mo@landlord.example",
                    password="x" * 12, now=clock(), role="manager")
        session.get(Case, case.id).acknowledged_at = clock()
    with sessions() as session:
        conversation_id = session.scalars(select(Conversation.id)).one()
    clock.advance(days=2)
    turn = desk.send(conversation_id, "They are outside my door now, trying to get in")
    assert turn.result.urgent_raised
    with sessions() as session:
        fresh = session.get(Case, case.id)
        assert fresh.urgent and fresh.acknowledged_at is None and fresh.allocated_at == clock()
        danger = [row for row in session.scalars(select(OutboxMessage).where(
            OutboxMessage.purpose == "alert")) if "DANGER NOW" in row.payload["text"]]
        assert sorted(row.recipient for row in danger) == ["mo@landlord.example",
                                                           "olive@landlord.example"]
        assert all("outside my door" not in row.payload["text"] for row in danger)
    clock.advance(minutes=61)
    with transaction(sessions) as session:
        assert casework.escalate_due(session, clock()) == 1


def test_a_reply_to_an_update_reaches_the_case_after_the_conversation_expired(
        desk, sessions, casework, clock):
    identity = identity_hash("sms", PHONE)
    first = desk.receive("sms", identity, "Hello, I want to report abuse", "SMr0")
    number = 0
    turn = first
    script = {**NAMED, "contact_method": "this_channel", "leave_messages": "yes"}
    steps = []
    while not turn.result.done and number < 60:
        number += 1
        with sessions() as session:
            step = session.get(Conversation, turn.conversation_id).step
        steps.append(step)
        text = script.get(step, "submit")
        if step in ("behaviours", "characteristics", "perpetrator", "support"):
            text = "1"  # typed numbers: the whole selection, as on SMS
        turn = desk.receive("sms", identity, text, f"SMr{number}")
    assert turn.result.done, steps
    reference = turn.result.reference
    clock.advance(days=15)
    desk.expire()
    with sessions() as session:
        assert session.scalars(select(Conversation)).all() == []
    reply = desk.receive("sms", identity, "He came back last night and broke the window",
                         "SMr-late")
    assert reply.result.replies[-1].text == gettext(
        "en", "Thank you. We have added this to your report %(reference)s. Your officer "
              "will see it.", reference=reference)
    with sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        words = [event.text for event in case.events if event.kind == "reporter_message"]
        assert words == ["He came back last night and broke the window"]
    # "restart" still starts a new report.
    turn = desk.receive("sms", identity, "restart", "SMr-new")
    assert turn.result.replies[-1].text == "Are you in danger right now?"
