"""The monitoring summary: kept in the transaction that changes a case, equal to what
the cases count, rebuilt from the timelines, and never holding anything in clear that
the case keeps encrypted."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from intake import stats
from intake.cases import create_case, get_case
from intake.casework import Casework, add_officer, close_case, record_action
from intake.db import migrate, transaction
from intake.models import Case, Officer, StatsCount
from intake.stats import StaleCaseError
from intake.summary import sensitive_values
from intake.updates import run_due

ANSWERS = {
    "role": "victim", "anonymous": "named", "name": "Amira Test",
    "contact_method": "phone", "contact_details": "07700 900123",
    "description": "They shouted at me on the stairs", "behaviours": ["verbal_abuse",
                                                                      "threats"],
    "characteristics": ["race", "religion"], "where_type": "home",
    "place": "12, Oak Street", "area": "Normanton", "repeated": "yes",
}


def _case(session, now, **changes):
    answers = {**ANSWERS, **changes}
    case, _ = create_case(session, answers=answers, channel="web", language="en",
                          urgent=False, now=now)
    return case


def _summary(session, dim=None):
    query = select(StatsCount)
    if dim:
        query = query.where(StatsCount.dim == dim)
    out: Counter[tuple[str, str, str, str]] = Counter()
    tokens = sensitive_values()
    for row in session.scalars(query):
        if row.n:
            value = tokens[row.value] if row.dim in stats.SENSITIVE_DIMS else row.value
            out[(row.month, row.area, row.dim, value)] = row.n
    return out


def _officer(session, now):
    # A new address each time: the PostgreSQL database is shared by the run.
    return add_officer(session, name="Olive", email=f"olive.{uuid.uuid4().hex}@landlord.example",
                       password="x" * 12, now=now, areas=["Normanton"], duty=True)


def test_a_new_case_counts_once_under_each_value(sessions, clock):
    with transaction(sessions) as session:
        _case(session, clock())
    with sessions() as session:
        summary = _summary(session)
        month = ("2026-11", "Normanton")
        assert summary[(*month, "total", "")] == 1
        assert summary[(*month, "characteristic", "race")] == 1
        assert summary[(*month, "characteristic", "religion")] == 1
        assert summary[(*month, "behaviour", "threats")] == 1
        assert summary[(*month, "classification", "hate_crime")] == 1
        assert summary[(*month, "status", "open")] == 1
        assert summary[(*month, "first_contact", "not_yet")] == 1
        assert summary[(*month, "fortnightly", "not_yet_due")] == 1
        assert summary[(*month, "repeat_location", "first")] == 1
        assert not stats.check(session)


def test_the_london_month_decides(sessions, clock):
    """00:30 on 1 June in London is still 31 May in UTC: the case is June's."""
    with transaction(sessions) as session:
        _case(session, datetime(2026, 5, 31, 23, 30))
        _case(session, datetime(2026, 1, 31, 23, 30))  # GMT: still January
    with sessions() as session:
        totals = _summary(session, "total")
        assert totals[("2026-06", "Normanton", "total", "")] == 1
        assert totals[("2026-01", "Normanton", "total", "")] == 1


def test_casework_moves_the_counts_in_the_same_transaction(sessions, clock):
    """Contact, closing and the fortnightly sweep each move the case's counts, and the
    summary always equals what the cases count."""
    with transaction(sessions) as session:
        officer = _officer(session, clock())
        case = _case(session, clock())
        other = _case(session, clock(), area="Alvaston", place="1 Elm Road",
                      contact_details="07700 900999")
        case.officer_id = other.officer_id = officer.id
        case.next_update_due_at = other.next_update_due_at = clock() + timedelta(days=14)
        reference, other_reference = case.reference, other.reference
    clock.advance(hours=30)
    with transaction(sessions) as session:
        case = get_case(session, reference)
        record_action(session, case, case.officer, "contact",
                      {"method": "phone", "note": "Called them back"}, clock())
    with sessions() as session:
        assert _summary(session, "first_contact")[
            ("2026-11", "Normanton", "first_contact", "within_3_days")] == 1
        assert not stats.check(session)
    # The fortnight passes. Both reporters asked for a phone call: the officer's contact
    # within the fortnight makes one update on time; the other had none, so it is late.
    clock.advance(days=13)
    with transaction(sessions) as session:
        run_due(session, clock(), Casework())
    with sessions() as session:
        fortnightly = _summary(session, "fortnightly")
        assert fortnightly[("2026-11", "Normanton", "fortnightly", "yes")] == 1
        assert fortnightly[("2026-11", "Alvaston", "fortnightly", "no")] == 1
        assert not stats.check(session)
    with transaction(sessions) as session:
        other = get_case(session, other_reference)
        close_case(session, other, other.officer, "resolved", "satisfied", None, clock())
    with sessions() as session:
        summary = _summary(session)
        assert summary[("2026-11", "Alvaston", "outcome", "resolved")] == 1
        assert summary[("2026-11", "Alvaston", "status", "closed")] == 1
        assert ("2026-11", "Alvaston", "status", "open") not in summary
        assert summary[("2026-11", "Normanton", "status", "open")] == 1
        assert not stats.check(session)


def test_repeat_locations_and_victims_match_however_written(sessions, clock):
    with transaction(sessions) as session:
        _case(session, clock())
        second = _case(session, clock(), place="12 oak street ",
                       contact_details="0044 (0)7700 900123 after 6pm")
        third = _case(session, clock(), place="12 OAK ST", role="witness")
        anonymous = _case(session, clock(), anonymous="anonymous", place="12 Oak Street")
        elsewhere = _case(session, clock(), area="Alvaston", contact_details="a.b@c.example")
        vague = _case(session, clock(), place="outside my house")
        other_email = _case(session, clock(), contact_details="A-B@c.example")
        same_email = _case(session, clock(), contact_details="Email: a.b@C.example.")
        assert (second.place_seen, second.victim_seen) == (1, 1)
        assert third.place_seen == 0 and third.victim_seen == -1 and third.victim_hash is None
        # An anonymous report is counted as a repeat at the place, but keeps no hash that
        # could link it to the reporter's other cases.
        assert anonymous.place_seen == 2 and anonymous.place_hash is None
        assert anonymous.victim_hash is None and anonymous.victim_seen == -1
        # The same street in another area is another place; "outside my house" is none.
        assert elsewhere.place_seen == 0 and elsewhere.victim_seen == 0
        assert vague.place_seen == -1 and vague.place_hash is None
        assert other_email.victim_seen == 0 and same_email.victim_seen == 1
    with sessions() as session:
        location = _summary(session, "repeat_location")
        assert location[("2026-11", "Normanton", "repeat_location", "repeat")] == 4
        assert location[("2026-11", "Normanton", "repeat_location", "became_repeat")] == 1
        victim = _summary(session, "repeat_victim")
        assert victim[("2026-11", "Normanton", "repeat_victim", "repeat")] == 3
        assert not stats.check(session)
    with transaction(sessions) as session:
        stats.rebuild(session)  # as they were found when each came in
    with sessions() as session:
        assert _summary(session, "repeat_location") == location
        assert _summary(session, "repeat_victim") == victim


def test_rebuild_recomputes_from_the_timelines(sessions, clock):
    """Cases from before the summary (no counts, no monitoring columns) are counted by
    a rebuild exactly as if they had been kept all along."""
    with transaction(sessions) as session:
        officer = _officer(session, clock())
        for n in range(5):
            case = _case(session, clock() + timedelta(days=40 * n), place=f"{n % 2} Oak St")
            case.officer_id = officer.id
        first = session.scalars(select(Case).order_by(Case.id)).first()
        record_action(session, first, officer, "contact", {"method": "phone", "note": "Hi"},
                      clock() + timedelta(hours=2))
        close_case(session, first, officer, "withdrawn", "not_known", None, clock())
    with sessions() as session:
        kept = _summary(session)
    with transaction(sessions) as session:
        # As an older version left them.
        for case in session.scalars(select(Case)):
            case.counted = None
            case.first_contact_at = case.last_contact_at = case.outcome = None
            case.place_hash = None
            case.place_seen = 0
        session.info[stats.REBUILDING] = True
        session.flush()
        session.execute(StatsCount.__table__.delete())
    with sessions() as session:
        assert stats.unbuilt(session) == 5
        assert stats.check(session)  # the summary is empty: it differs
    seen = []
    with transaction(sessions) as session:
        assert stats.rebuild(session, lambda done, total: seen.append((done, total))) == 5
    assert seen[-1] == (5, 5)
    with sessions() as session:
        assert _summary(session) == kept
        assert not stats.check(session)
        assert stats.unbuilt(session) == 0


def test_the_counted_facts_are_encrypted_at_rest(tmp_path, data_key, clock):
    from intake.db import make_engine, make_sessionmaker, migrate

    url = f"sqlite:///{tmp_path / 'raw.db'}"
    engine = make_engine(url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    with transaction(sessions) as session:
        _case(session, clock(), characteristics=["transgender_identity"])
    raw = sqlite3.connect(make_url(url).database)
    counted, place_hash = raw.execute("SELECT counted, place_hash FROM cases").fetchone()
    summary = raw.execute("SELECT dim, value FROM stats_counts").fetchall()
    raw.close()
    assert "transgender" not in counted and "Normanton" not in counted
    assert "Oak" not in place_hash and len(place_hash) == 64
    # The summary names no characteristic: their values are keyed tokens...
    assert ("characteristic", "transgender_identity") not in summary
    assert all("transgender" not in value for _, value in summary)
    assert any(dim == "characteristic" and value.startswith("t:") for dim, value in summary)
    # ...which reading maps back.
    with sessions() as session:
        from intake import summary as read_summary

        assert read_summary.read(session, "2026-11", "2026-11").values("characteristic") == {
            "transgender_identity": 1}
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_simultaneous_reports_all_count(sessions, clock):
    """Eight reports submitted at once on PostgreSQL, each in its own transaction,
    touching the same summary cells: every one is counted, and none deadlocks."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def submit(n: int) -> None:
        try:
            start.wait()
            with transaction(sessions) as session:
                _case(session, clock(), place=f"{n} Elm Road",
                      behaviours=["threats", "verbal_abuse"][: 1 + n % 2])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with sessions() as session:
        assert _summary(session, "total")[("2026-11", "Normanton", "total", "")] == 8
        assert _summary(session, "behaviour")[
            ("2026-11", "Normanton", "behaviour", "threats")] == 8
        assert not stats.check(session)


def test_migration_0006_goes_down_and_up_keeping_cases_and_timelines(db, sessions, clock):
    """Down to 0005 and back keeps every case and its timeline (the columns are dropped
    in place, not by copying the table), and a rebuild then counts them all again."""
    from alembic.migration import MigrationContext
    from sqlalchemy import func

    from intake.models import Base, CaseEvent

    with transaction(sessions) as session:
        officer = _officer(session, clock())
        case = _case(session, clock())
        record_action(session, case, officer, "contact", {"method": "phone", "note": "Hi"},
                      clock() + timedelta(hours=3))
    migrate(db, "0005", down=True)
    migrate(db)
    with db.connect() as connection:
        from alembic.autogenerate import compare_metadata

        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == 1  # the contact
        assert stats.unbuilt(session) == 1
        stats.rebuild(session)
    with sessions() as session:
        assert _summary(session, "first_contact")[
            ("2026-11", "Normanton", "first_contact", "within_1_day")] == 1
        assert not stats.check(session)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_case_changed_meanwhile_is_not_counted_twice(sessions, clock):
    """Two transactions on one case on PostgreSQL: the one that read it before the other
    committed is refused (nothing written), not counted on top of the other's change."""
    with transaction(sessions) as session:
        officer_id = _officer(session, clock()).id
        case_id = _case(session, clock()).id
    stale = sessions()
    stale_case, stale_officer = stale.get(Case, case_id), stale.get(Officer, officer_id)
    with transaction(sessions) as session:
        record_action(session, session.get(Case, case_id), session.get(Officer, officer_id),
                      "contact", {"method": "phone", "note": "Called"}, clock())
    with pytest.raises(StaleCaseError):
        close_case(stale, stale_case, stale_officer, "resolved", "satisfied", None, clock())
        stale.commit()
    stale.rollback()
    stale.close()
    with sessions() as session:
        assert _summary(session, "status")[("2026-11", "Normanton", "status", "open")] == 1
        assert _summary(session, "first_contact")[
            ("2026-11", "Normanton", "first_contact", "within_1_day")] == 1
        assert not stats.check(session)
