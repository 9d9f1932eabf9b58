"""Risk reviews: once the review date of a case's latest risk assessment has passed, the
scheduled jobs alert its officer (the managers if it has no active officer) once per
review date, and the dashboard says the review is overdue. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from intake.cases import get_case
from intake.casework import disable_officer, find_officer, record_action
from intake.db import transaction
from tests.casework.helpers import (
    alerts,
    deliver_all,
    officer,
    post_form,
    query_plan,
    report,
    signed_in,
    statement_of,
)
from tests.casework.test_alerts import assert_nothing_personal
from web.cli import run_jobs
from web.extensions import services

OVERDUE = "risk review overdue"
NOTE = "Threats repeated on the stairwell; review after the ABC meeting."


def assess(app, reference: str, review: date, by: str = "nia@landlord.example") -> None:
    """A risk assessment, as the case view's form records it."""
    the = services(app)
    with transaction(the.sessions) as session:
        case = get_case(session, reference)
        officer_row = find_officer(session, by)
        assert case is not None and officer_row is not None
        record_action(session, case, officer_row, "risk",
                      {"likelihood": "4", "impact": "3", "review": review.isoformat(),
                       "note": NOTE}, the.intake.clock())


def review_alerts(app) -> list[tuple[str, str]]:
    """(recipient, idempotency key) of every risk review alert queued."""
    return [(row.recipient or "", row.idempotency_key or "") for row in alerts(app)
            if (row.idempotency_key or "").startswith("alert:risk_review:")]


def team(app) -> None:
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    officer(app, "Mia Manager", "mia@landlord.example", role="manager")


def test_the_officer_is_prompted_once_when_the_review_date_passes(db_app, smtp, clock):
    team(db_app)
    _, reference = report(db_app)
    review = date(2026, 12, 4)  # a week on, a Friday
    assess(db_app, reference, review)
    deliver_all(db_app)  # the new case's alert
    clock.now = datetime(2026, 12, 4, 23, 30)  # the review day itself, in London
    assert run_jobs(db_app)["risk_reviews"] == 0
    clock.now = datetime(2026, 12, 5, 0, 1)  # the day after: passed
    assert run_jobs(db_app)["risk_reviews"] == 1
    assert [recipient for recipient, _ in review_alerts(db_app)] == ["nia@landlord.example"]
    for days in (0, 1, 5):  # the next runs, and the days after: nothing again
        clock.now = datetime(2026, 12, 5, 0, 2) + timedelta(days=days)
        assert run_jobs(db_app)["risk_reviews"] == 0
    assert len(review_alerts(db_app)) == 1
    deliver_all(db_app)
    [mail] = [mail for mail in smtp.mails if "Risk review overdue" in mail.subject]
    assert mail.rcpt_tos == ["nia@landlord.example"]
    assert reference in mail.subject
    assert f"https://report.example.org/cases/{reference}" in mail.body
    assert_nothing_personal(mail.whole)
    assert "stairwell" not in mail.whole and "likelihood" not in mail.whole.lower()


def test_a_newer_assessment_stops_the_prompt_and_its_own_date_prompts_again(db_app, clock):
    team(db_app)
    _, reference = report(db_app)
    assess(db_app, reference, date(2026, 12, 4))
    clock.now = datetime(2026, 12, 4, 16, 0)
    assess(db_app, reference, date(2026, 12, 18))  # reviewed on the day: a new date
    clock.now = datetime(2026, 12, 10, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 0  # the first date passed, but was reviewed
    clock.now = datetime(2026, 12, 19, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 1
    [(_, key)] = review_alerts(db_app)
    assert ":2026-12-18:" in key
    # Reviewed late: the next date is prompted in its turn, once.
    assess(db_app, reference, date(2027, 1, 15))
    clock.now = datetime(2027, 1, 16, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 1
    assert run_jobs(db_app)["risk_reviews"] == 0
    assert [key.split(":")[3] for _, key in review_alerts(db_app)] == ["2026-12-18",
                                                                       "2027-01-15"]


def test_with_the_officer_disabled_the_managers_are_prompted(db_app, clock):
    team(db_app)
    _, reference = report(db_app)
    assess(db_app, reference, date(2026, 12, 4))
    with transaction(services(db_app).sessions) as session:
        disable_officer(session, "nia@landlord.example")
    clock.now = datetime(2026, 12, 7, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 1
    assert sorted(recipient for recipient, _ in review_alerts(db_app)) == [
        "max@landlord.example", "mia@landlord.example"]


def test_a_closed_case_is_not_prompted(db_app, clock):
    team(db_app)
    _, reference = report(db_app)
    assess(db_app, reference, date(2026, 12, 4))
    nia = signed_in(db_app, "nia@landlord.example")
    post_form(nia, reference, "close", outcome="resolved", victim_view="satisfied")
    clock.now = datetime(2026, 12, 7, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 0
    assert review_alerts(db_app) == []
    assert OVERDUE not in nia.get("/cases").get_data(as_text=True)


def test_the_dashboard_says_the_review_is_overdue(db_app, clock):
    team(db_app)
    _, reference = report(db_app)
    _, other = report(db_app)
    assess(db_app, reference, date(2026, 12, 4))
    assess(db_app, other, date(2026, 12, 20))
    nia = signed_in(db_app, "nia@landlord.example")
    assert OVERDUE not in nia.get("/cases").get_data(as_text=True)
    clock.now = datetime(2026, 12, 7, 9, 0)
    listing = nia.get("/cases").get_data(as_text=True)
    assert listing.count(OVERDUE) == 1
    row = listing[listing.index(reference):]
    assert OVERDUE in row[:row.index("</tr>")]
    assert OVERDUE in nia.get(f"/cases/{reference}").get_data(as_text=True)
    assert OVERDUE not in nia.get(f"/cases/{other}").get_data(as_text=True)
    # Reviewed through the case view's form: no longer overdue.
    page = post_form(nia, reference, "actions", kind="risk", likelihood="2", impact="2",
                     review="2027-01-04")
    assert "Recorded." in page and OVERDUE not in page
    assert OVERDUE not in nia.get("/cases").get_data(as_text=True)


def test_after_a_prompt_only_the_new_date_counts_open_or_closed(db_app, clock):
    """Told about one date, then reassessed: nothing before the new date, and nothing at
    all once the case is closed (each part of the sweep's condition holds together)."""
    team(db_app)
    _, kept = report(db_app)
    _, closed = report(db_app)
    for reference in (kept, closed):
        assess(db_app, reference, date(2026, 12, 4))
    clock.now = datetime(2026, 12, 7, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 2
    for reference in (kept, closed):
        assess(db_app, reference, date(2027, 1, 15))
    post_form(signed_in(db_app, "nia@landlord.example"), closed, "close",
              outcome="resolved", victim_view="satisfied")
    clock.now = datetime(2026, 12, 20, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 0  # the new date is still ahead
    clock.now = datetime(2027, 1, 16, 9, 0)
    assert run_jobs(db_app)["risk_reviews"] == 1
    assert run_jobs(db_app)["risk_reviews"] == 0
    dates = sorted(key.split(":")[3] for _, key in review_alerts(db_app))
    assert dates == ["2026-12-04", "2026-12-04", "2027-01-15"]


def test_the_sweep_reads_only_the_reviews_not_yet_alerted(db_app, clock):
    """Reviews alerted for their date stay overdue until reassessed, possibly for months:
    the sweep (every minute) searches a partial index that leaves them out, not every
    open case with a review past its date."""
    team(db_app)
    _, reference = report(db_app)
    assess(db_app, reference, date(2026, 12, 4))
    clock.now = datetime(2026, 12, 7, 9, 0)
    statement, parameters = statement_of(db_app, "risk_review_alerted_for IS NULL",
                                         lambda: run_jobs(db_app))
    # Beside it, 5,000 cases (on PostgreSQL) already told about the same overdue date.
    plan = query_plan(db_app, statement, parameters, like=reference,
                      risk_review_alerted_for=date(2026, 12, 4))
    assert "ix_cases_risk_review_pending" in plan, plan
    assert "SCAN" not in plan and "Seq Scan" not in plan, plan
    with services(db_app).db.connect() as connection:
        if services(db_app).db.dialect.name == "sqlite":
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_cases_risk_review_pending'"
            ).scalar()
        else:
            sql = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = "
                "'ix_cases_risk_review_pending'").scalar()
    assert sql is not None and "WHERE" in sql and "risk_review_alerted_for" in sql, sql
