"""Escalation (issue 5, point 3): an alert not acknowledged in time (an hour if urgent,
one working day otherwise) goes to every active manager, once. The clock is the test's.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from click.testing import CliRunner

from intake.cases import get_case
from intake.casework import add_working_days, find_officer
from intake.db import transaction
from tests.casework.helpers import (
    alerts,
    case_json,
    deliver_all,
    kinds,
    officer,
    report,
    urgent_report,
)
from web.cli import main, run_jobs
from web.extensions import services

MANAGERS = ("max@landlord.example", "mia@landlord.example")


def team(app) -> None:
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(app, "Dee Duty", "dee@landlord.example", duty=True)
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    officer(app, "Mia Manager", "mia@landlord.example", role="manager")
    officer(app, "Old Manager", "old@landlord.example", role="manager")
    with transaction(services(app).sessions) as session:
        gone = find_officer(session, "old@landlord.example")
        assert gone is not None
        gone.active = False


def escalations(app) -> list[str]:
    return sorted(row.recipient or "" for row in alerts(app)
                  if row.idempotency_key and row.idempotency_key.startswith("alert:escalation"))


def test_an_urgent_case_unacknowledged_for_an_hour_goes_to_every_manager_once(db_app, smtp,
                                                                              clock):
    team(db_app)
    reference = urgent_report(db_app)
    assert deliver_all(db_app) == 2  # the duty officer, and the copy to the first manager
    clock.advance(minutes=59)
    assert run_jobs(db_app)["escalated"] == 0
    assert escalations(db_app) == []
    clock.advance(minutes=2)  # 61 minutes after allocation
    assert run_jobs(db_app)["escalated"] == 1
    assert escalations(db_app) == sorted(MANAGERS)  # active managers only
    case = case_json(db_app, reference)
    assert case["escalated_at"] == "2026-11-27T15:01:00Z"
    assert "escalated" in kinds(db_app, reference)
    assert deliver_all(db_app) == 2
    for manager in MANAGERS:
        mails = [mail for mail in smtp.to(manager) if "Not acknowledged" in mail.subject]
        assert len(mails) == 1
        assert reference in mails[0].subject and "URGENT" in mails[0].subject
        assert f"https://report.example.org/cases/{reference}" in mails[0].body
    assert smtp.to("old@landlord.example") == []
    # Running the jobs again sends nothing new.
    sent_before = len(smtp.mails)
    clock.advance(hours=2)
    assert run_jobs(db_app)["escalated"] == 0
    assert deliver_all(db_app) == 0
    assert len(smtp.mails) == sent_before
    assert kinds(db_app, reference).count("escalated") == 1


def test_an_urgent_case_acknowledged_in_time_is_not_escalated(db_app, clock):
    team(db_app)
    reference = urgent_report(db_app)
    clock.advance(minutes=30)
    the = services(db_app)
    with transaction(the.sessions) as session:
        case = get_case(session, reference)
        duty = find_officer(session, "dee@landlord.example")
        assert case is not None and duty is not None
        assert the.casework.acknowledge(session, case, duty, clock()) is True
        assert the.casework.acknowledge(session, case, duty, clock()) is False
    clock.advance(hours=3)
    assert run_jobs(db_app)["escalated"] == 0
    assert escalations(db_app) == []
    case = case_json(db_app, reference)
    assert case["acknowledged_at"] == "2026-11-27T14:30:00Z"
    assert case["escalated_at"] is None
    acknowledged = [event for event in case["timeline"] if event["kind"] == "acknowledged"]
    assert len(acknowledged) == 1 and acknowledged[0]["officer"] == "dee@landlord.example"


def test_a_case_allocated_on_friday_afternoon_escalates_after_monday_afternoon(db_app, clock):
    assert clock.now.strftime("%A %H:%M") == "Friday 14:00"
    team(db_app)
    _, reference = report(db_app)
    assert case_json(db_app, reference)["officer"]["email"] == "nia@landlord.example"
    for moment in ("2026-11-27 15:00", "2026-11-27 23:00", "2026-11-28 14:00",
                   "2026-11-29 14:00", "2026-11-29 23:59", "2026-11-30 09:00",
                   "2026-11-30 13:59"):  # Friday evening, the weekend, Monday morning
        clock.now = datetime.fromisoformat(moment)
        assert run_jobs(db_app)["escalated"] == 0, clock.now
        assert escalations(db_app) == []
    clock.now = datetime(2026, 11, 30, 14, 0)  # Monday, one working day after
    assert run_jobs(db_app)["escalated"] == 1
    assert escalations(db_app) == sorted(MANAGERS)
    escalated = case_json(db_app, reference)["escalated_at"]
    assert escalated == "2026-11-30T14:00:00Z"
    [mail_text] = {row.payload["text"] for row in alerts(db_app)
                   if row.recipient == MANAGERS[0] and row.payload}
    assert "URGENT" not in mail_text and reference in mail_text


def test_acknowledging_on_the_command_line_stops_the_escalation(monkeypatch, db_app, clock):
    """`hatereport cases ack REF --officer EMAIL` against the same database."""
    team(db_app)
    reference = urgent_report(db_app)
    url = services(db_app).db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("HATEREPORT_DATABASE_URL", url)
    monkeypatch.setenv("HATEREPORT_DATA_KEY", db_app.config["DATA_KEY"])
    monkeypatch.setenv("HATEREPORT_HASH_KEY", db_app.config["HASH_KEY"])
    monkeypatch.setenv("HATEREPORT_SECRET_KEY", "cli-test-secret-key")
    runner = CliRunner()
    refused = runner.invoke(main, ["cases", "ack", reference, "--officer",
                                   "nia@landlord.example"])
    assert refused.exit_code != 0
    assert "only the case's officer or a manager" in refused.output
    unknown = runner.invoke(main, ["cases", "ack", "HR-0000-0000", "--officer",
                                   "dee@landlord.example"])
    assert unknown.exit_code != 0 and "no case with reference" in unknown.output
    done = runner.invoke(main, ["cases", "ack", reference.lower(), "--officer",
                                "DEE@landlord.example"])
    assert done.exit_code == 0, done.output
    assert "acknowledged" in done.output and "already" not in done.output
    again = runner.invoke(main, ["cases", "ack", reference, "--officer",
                                 "max@landlord.example"])
    assert again.exit_code == 0 and "already acknowledged" in again.output
    clock.advance(hours=2)
    assert run_jobs(db_app)["escalated"] == 0
    assert escalations(db_app) == []
    assert case_json(db_app, reference)["acknowledged_at"] is not None


def test_an_escalation_with_no_manager_to_tell_waits_for_one(db_app, smtp, clock):
    """An escalation that reached nobody is not done: when a manager is added, the next
    run tells them (alerts are never lost)."""
    officer(db_app, "Dee Duty", "dee@landlord.example", duty=True)
    reference = urgent_report(db_app)
    clock.advance(minutes=61)
    run_jobs(db_app)
    assert escalations(db_app) == []
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    clock.advance(minutes=1)
    run_jobs(db_app)
    assert escalations(db_app) == ["max@landlord.example"]
    assert case_json(db_app, reference)["escalated_at"] == "2026-11-27T15:02:00Z"


def test_working_days_skip_the_weekend():
    friday = datetime(2026, 11, 27, 14, 0)
    assert add_working_days(friday, 1) == datetime(2026, 11, 30, 14, 0)  # Monday
    assert add_working_days(friday, 2) == datetime(2026, 12, 1, 14, 0)
    assert add_working_days(friday, 0) == friday
    assert add_working_days(datetime(2026, 11, 28, 9, 30), 1) == datetime(2026, 11, 30, 9, 30)
    assert add_working_days(datetime(2026, 11, 29, 9, 30), 1) == datetime(2026, 11, 30, 9, 30)
    assert add_working_days(datetime(2026, 11, 26, 9, 30), 1) == datetime(2026, 11, 27, 9, 30)
