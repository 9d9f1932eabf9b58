"""Cases submitted while nobody could take them: the scheduled jobs allocate them as soon
as someone can (by the rules of allocation on submit) and tell the managers, once, that a
case waited. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

import intake.casework
from intake.cases import get_case
from intake.casework import ALLOCATE_PER_RUN, find_officer, reallocate
from intake.db import transaction
from tests.casework.helpers import (
    alerts,
    case_json,
    deliver_all,
    kinds,
    officer,
    officer_of,
    query_plan,
    report,
    statement_of,
    urgent_report,
)
from tests.casework.test_alerts import assert_nothing_personal
from web.cli import run_jobs
from web.extensions import services

LINK = "https://report.example.org/cases/{}"


def keyed(app, prefix: str) -> list[str]:
    """The recipients of the alerts whose idempotency key starts with ``prefix``."""
    return sorted(row.recipient or "" for row in alerts(app)
                  if (row.idempotency_key or "").startswith(f"alert:{prefix}"))


def test_a_case_left_unallocated_goes_to_the_first_officer_who_can_take_it(db_app, smtp,
                                                                           clock, caplog):
    _, reference = report(db_app)
    assert kinds(db_app, reference) == ["submitted", "unallocated"]
    clock.advance(minutes=5)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="intake.casework"):
        assert run_jobs(db_app)["allocated"] == 0
    assert "1 case(s) wait unallocated" in caplog.text
    assert reference not in caplog.text  # a count, every minute, not a list
    assert alerts(db_app) == []

    officer(db_app, "Sid Sinfin", "sid@landlord.example", areas=["Sinfin"])
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    clock.advance(hours=3)
    assert run_jobs(db_app)["allocated"] == 1
    case = case_json(db_app, reference)
    assert case["officer"]["email"] == "nia@landlord.example"  # the area's officer
    assert case["allocated_at"] == "2026-11-27T17:05:00Z"  # the escalation clock starts now
    [allocated] = [event for event in case["timeline"] if event["kind"] == "allocated"]
    assert allocated["reason"] == "covers Normanton (after waiting unallocated)"
    assert keyed(db_app, "new") == ["nia@landlord.example"]
    assert keyed(db_app, "unallocated") == ["max@landlord.example"]
    assert keyed(db_app, "copy") == []  # not urgent

    # Once: the next runs find nothing waiting and tell nobody again.
    clock.advance(minutes=1)
    assert run_jobs(db_app)["allocated"] == 0
    assert len(alerts(db_app)) == 2
    assert deliver_all(db_app) == 2
    [to_officer] = smtp.to("nia@landlord.example")
    assert "New case" in to_officer.subject and reference in to_officer.subject
    [to_manager] = smtp.to("max@landlord.example")
    assert "No officer was available" in to_manager.subject
    assert reference in to_manager.subject and LINK.format(reference) in to_manager.body
    for mail in (to_officer, to_manager):
        assert_nothing_personal(mail.whole)
    assert smtp.to("sid@landlord.example") == []


def test_an_urgent_case_left_unallocated_goes_to_the_duty_officer_with_a_copy(db_app,
                                                                               clock):
    reference = urgent_report(db_app)
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(db_app, "Dee Duty", "dee@landlord.example", duty=True)
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    officer(db_app, "Mia Manager", "mia@landlord.example", role="manager")
    assert run_jobs(db_app)["allocated"] == 1
    assert officer_of(db_app, reference) == "dee@landlord.example"
    assert keyed(db_app, "new") == ["dee@landlord.example"]
    assert keyed(db_app, "copy") == ["max@landlord.example"]  # one manager, as on submit
    assert keyed(db_app, "unallocated") == ["max@landlord.example", "mia@landlord.example"]
    assert all("URGENT" in (row.payload or {}).get("text", "") for row in alerts(db_app))
    # It escalates an hour after the late allocation, like any urgent case.
    clock.advance(minutes=61)
    assert run_jobs(db_app)["escalated"] == 1


def test_waiting_cases_share_out_by_caseload_and_a_lone_manager_takes_them(db_app, clock):
    first = report(db_app)[1]
    second = report(db_app)[1]
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(db_app, "Ned Normanton", "ned@landlord.example", areas=["Normanton"])
    assert run_jobs(db_app)["allocated"] == 2
    assert {officer_of(db_app, first), officer_of(db_app, second)} == {
        "nia@landlord.example", "ned@landlord.example"}
    assert keyed(db_app, "unallocated") == []  # no manager to tell

    # With only a manager, the manager takes it (the rules on submit): told once, as its
    # officer, not also as a manager.
    with services(db_app).sessions() as session:
        session.execute(text("UPDATE officers SET active = :no"), {"no": False})
        session.commit()
    third = report(db_app)[1]
    assert officer_of(db_app, third) is None
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    assert run_jobs(db_app)["allocated"] == 1
    assert officer_of(db_app, third) == "max@landlord.example"
    assert keyed(db_app, "unallocated") == []
    assert keyed(db_app, f"new:{case_id(db_app, third)}") == ["max@landlord.example"]


def case_id(app, reference: str) -> int:
    with services(app).sessions() as session:
        found = session.execute(text("SELECT id FROM cases WHERE reference = :r"),
                                {"r": reference}).scalar()
        assert found is not None
        return int(found)


def test_the_waiting_cases_are_found_on_an_index(db_app, clock):
    """The jobs run every minute: the search for waiting cases reads an index, not every
    open case."""
    _, reference = report(db_app)
    statement, parameters = statement_of(db_app, "officer_id IS NULL",
                                         lambda: run_jobs(db_app))
    busy = officer(db_app, "Nia Normanton", "nia@landlord.example")
    plan = query_plan(db_app, statement, parameters, like=reference, officer_id=busy)
    # Either index on the officer: both lead with it (PostgreSQL picks by statistics).
    assert "ix_cases_officer_status" in plan or "ix_cases_officer_id" in plan, plan


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_case_a_manager_is_reallocating_is_left_to_them(db_app, clock):
    """The jobs lock the waiting cases they read and skip one a manager holds: the
    manager's choice stands and only their officer is told "New case". (PostgreSQL only:
    on SQLite the writers take the database's one write lock in turn, so the two cannot
    interleave.)"""
    the = services(db_app)
    assert the.db.dialect.name == "postgresql"
    _, held = report(db_app)  # nobody active: both wait
    _, other = report(db_app)
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(db_app, "Ola Other", "ola@landlord.example", areas=["Sinfin"])
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    with transaction(the.sessions) as dashboard:  # the manager's POST, not yet committed
        case = get_case(dashboard, held)
        manager = find_officer(dashboard, "max@landlord.example")
        ola = find_officer(dashboard, "ola@landlord.example")
        assert case is not None and manager is not None and ola is not None
        reallocate(the.casework, dashboard, case, ola, manager, "The reporter asked for Ola",
                   clock())
        dashboard.flush()
        with transaction(the.sessions) as jobs:
            # Waiting on the manager's row would hang this one thread: fail instead.
            jobs.execute(text("SET LOCAL lock_timeout = '5s'"))
            assert the.casework.allocate_waiting(jobs, clock()) == 1  # the other one
    assert officer_of(db_app, held) == "ola@landlord.example"
    assert officer_of(db_app, other) == "nia@landlord.example"
    assert keyed(db_app, f"new:{case_id(db_app, held)}:") == ["ola@landlord.example"]
    # The next run finds nothing waiting: the manager's choice is not overwritten.
    assert run_jobs(db_app)["allocated"] == 0
    assert officer_of(db_app, held) == "ola@landlord.example"


def test_a_case_closed_or_allocated_before_the_run_is_left_alone(db_app, clock):
    _, closed = report(db_app)
    _, taken = report(db_app)
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    the = services(db_app)
    with transaction(the.sessions) as session:
        closed_case, taken_case = get_case(session, closed), get_case(session, taken)
        manager = find_officer(session, "max@landlord.example")
        assert closed_case is not None and taken_case is not None and manager is not None
        closed_case.status = "closed"
        reallocate(the.casework, session, taken_case, manager, manager, "Mine", clock())
    assert run_jobs(db_app)["allocated"] == 0
    assert officer_of(db_app, closed) is None
    assert officer_of(db_app, taken) == "max@landlord.example"
    assert keyed(db_app, "unallocated") == []


def test_a_run_allocates_a_bounded_number(db_app, clock, monkeypatch):
    """A first run after an upgrade (or a long outage) takes a batch, not thousands at
    once under the write lock; the next runs go on, urgent first, oldest first."""
    monkeypatch.setattr(intake.casework, "ALLOCATE_PER_RUN", 2)
    references = [report(db_app)[1] for _ in range(2)]
    clock.advance(minutes=1)
    references.insert(0, urgent_report(db_app))
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(db_app, "Dee Duty", "dee@landlord.example", duty=True)
    assert run_jobs(db_app)["allocated"] == 2
    assert [officer_of(db_app, one) is not None for one in references] == [True, True, False]
    assert run_jobs(db_app)["allocated"] == 1
    assert run_jobs(db_app)["allocated"] == 0
    assert ALLOCATE_PER_RUN == 200  # the shipped batch


def test_a_case_from_before_the_unallocated_event_is_allocated_without_news(db_app, clock):
    """Open cases from before migration 0003 may have no officer and no 'unallocated'
    event: they are allocated, but the managers are not told they waited."""
    _, reference = report(db_app)
    with services(db_app).sessions() as session:
        session.execute(text("DELETE FROM case_events WHERE kind = 'unallocated'"))
        session.commit()
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    assert run_jobs(db_app)["allocated"] == 1
    assert officer_of(db_app, reference) == "nia@landlord.example"
    assert keyed(db_app, "new") == ["nia@landlord.example"]
    assert keyed(db_app, "unallocated") == []
