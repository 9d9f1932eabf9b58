"""Allocation on submit (issue 5, point 2): by area and caseload, urgent and arealess cases
to the duty officer with a copy to a manager, and nothing lost when nobody can take it.
On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from intake.casework import disable_officer
from intake.db import transaction
from intake.models import Case
from tests.casework.helpers import (
    alerts,
    case_json,
    kinds,
    officer,
    officer_id,
    officer_of,
    report,
    urgent_report,
)
from web.extensions import services


def team(app) -> None:
    """Two area officers for Normanton, one for Sinfin, a duty officer and a manager."""
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(app, "Ned Normanton", "ned@landlord.example", areas=["Normanton", "Abbey"])
    officer(app, "Sid Sinfin", "sid@landlord.example", areas=["Sinfin"])
    officer(app, "Dee Duty", "dee@landlord.example", areas=["Darley"], duty=True)
    officer(app, "Max Manager", "max@landlord.example", role="manager")


def test_a_case_goes_to_the_officer_covering_its_area(db_app, clock):
    team(db_app)
    _, reference = report(db_app, area="Sinfin", place="4 Example Road, Sinfin")
    case = case_json(db_app, reference)
    assert case["where"]["area"] == "Sinfin"
    assert case["urgent"] is False
    assert case["officer"] == {"name": "Sid Sinfin", "email": "sid@landlord.example"}
    assert case["allocated_at"] == "2026-11-27T14:00:00Z"
    assert case["acknowledged_at"] is None and case["escalated_at"] is None
    allocated = [event for event in case["timeline"] if event["kind"] == "allocated"]
    assert len(allocated) == 1
    assert allocated[0]["to"] == officer_id(db_app, "sid@landlord.example")
    assert "Sinfin" in allocated[0]["reason"]
    assert kinds(db_app, reference)[:2] == ["submitted", "allocated"]
    # One alert, to Sid only: not urgent, so no copy to the manager.
    queued = alerts(db_app)
    assert [row.recipient for row in queued] == ["sid@landlord.example"]
    assert queued[0].channel == "email" and queued[0].status == "pending"


def test_two_officers_on_one_area_share_it_by_open_caseload(db_app, clock):
    team(db_app)
    first = officer_of(db_app, report(db_app)[1])
    second = officer_of(db_app, report(db_app)[1])
    third = officer_of(db_app, report(db_app)[1])
    assert {first, second} == {"nia@landlord.example", "ned@landlord.example"}
    assert third == first  # both had one open case: the tie goes the same way again
    # A closed case no longer counts against its officer.
    with transaction(services(db_app).sessions) as session:
        for case in session.scalars(select(Case).where(Case.officer_id == officer_id(
                db_app, second))):
            case.status = "closed"
    assert officer_of(db_app, report(db_app)[1]) == second


def test_an_urgent_case_goes_to_the_duty_officer_with_a_copy_to_a_manager(db_app, clock):
    team(db_app)
    reference = urgent_report(db_app)  # in Normanton, but urgent: the duty officer takes it
    case = case_json(db_app, reference)
    assert case["urgent"] is True and case["danger_now"] is True
    assert officer_of(db_app, reference) == "dee@landlord.example"
    queued = alerts(db_app)
    assert sorted(row.recipient for row in queued) == ["dee@landlord.example",
                                                      "max@landlord.example"]
    events = [event for event in case["timeline"] if event["kind"] == "alert_queued"]
    assert sorted(event["alert"] for event in events) == ["copy", "new"]


def test_injury_or_a_vulnerable_person_at_risk_is_urgent_too(db_app, clock):
    team(db_app)
    hurt = report(db_app, injuries="yes")[1]
    at_risk = report(db_app, vulnerable="yes")[1]
    for reference in (hurt, at_risk):
        assert case_json(db_app, reference)["urgent"] is True
        assert case_json(db_app, reference)["danger_now"] is False
        assert officer_of(db_app, reference) == "dee@landlord.example"
    copies = [row for row in alerts(db_app) if row.recipient == "max@landlord.example"]
    assert len(copies) == 2


def test_a_case_with_no_area_goes_to_the_duty_officer(db_app, clock):
    team(db_app)
    _, reference = report(db_app, place="somewhere near the shops", area="Not sure")
    case = case_json(db_app, reference)
    assert case["where"]["area"] is None
    assert case["urgent"] is False
    assert officer_of(db_app, reference) == "dee@landlord.example"
    allocated = [event for event in case["timeline"] if event["kind"] == "allocated"]
    assert allocated[0]["reason"].startswith("no area")
    assert [row.recipient for row in alerts(db_app)] == ["dee@landlord.example"]


def test_a_case_in_an_area_nobody_covers_goes_to_the_duty_officer(db_app, clock):
    team(db_app)
    _, reference = report(db_app, place="7 Example Close, Spondon", area="Spondon")
    assert case_json(db_app, reference)["where"]["area"] == "Spondon"
    assert officer_of(db_app, reference) == "dee@landlord.example"
    allocated = [event for event in case_json(db_app, reference)["timeline"]
                 if event["kind"] == "allocated"]
    assert "nobody covers Spondon" in allocated[0]["reason"]


def test_with_no_officers_the_case_is_kept_unallocated(db_app, clock):
    conversation_id, reference = report(db_app)
    case = case_json(db_app, reference)
    assert case["officer"] is None and case["allocated_at"] is None
    assert kinds(db_app, reference) == ["submitted", "unallocated"]
    # Nothing lost: the whole report is there for whoever picks it up.
    assert case["description"] == "Two men shouted abuse about my religion and kicked my door."
    assert case["reporter_name"] == "Sam Example"
    assert case["where"]["area"] == "Normanton"
    assert alerts(db_app) == []
    # An officer added later takes the next case, not silently this one.
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    assert officer_of(db_app, report(db_app)[1]) == "nia@landlord.example"
    assert case_json(db_app, reference)["officer"] is None


def test_a_disabled_officer_gets_no_new_cases(db_app, clock):
    team(db_app)
    with transaction(services(db_app).sessions) as session:
        disable_officer(session, "sid@landlord.example")
    _, reference = report(db_app, area="Sinfin", place="4 Example Road, Sinfin")
    assert officer_of(db_app, reference) == "dee@landlord.example"  # nobody else covers it
    assert all(row.recipient != "sid@landlord.example" for row in alerts(db_app))
