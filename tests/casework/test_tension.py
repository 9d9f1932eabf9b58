"""Tension monitoring: when an area's reports in the last 14 days rise well above its
usual level (a Poisson rule on the 28 days before), every active manager is alerted
through the outbox, once per cooldown; the rule's parameters are configuration. On
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from fractions import Fraction

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from intake.cases import create_case
from intake.casework import disable_officer
from intake.db import transaction
from intake.models import Case, Officer, OutboxMessage
from intake.tension import (
    Assessment,
    TensionSettings,
    area_counts,
    assess,
    check,
    current,
    poisson_tail,
)
from tests.casework.helpers import deliver_all, officer, officer_id, query_plan, statement_of
from tests.casework.test_alerts import assert_nothing_personal
from tests.channels.helpers import NAMED, PUBLIC_URL
from tests.conftest import HASH_KEY
from web import create_app
from web.cli import main, run_jobs
from web.config import tension_settings
from web.extensions import services

SETTINGS = TensionSettings()
TRENDS = f"{PUBLIC_URL}/dashboard/trends?area="
#: What a tension alert must never carry: anything from a case (its reference, the
#: reporter's words and details; ``assert_nothing_personal`` checks the rest).
NOT_IN_ALERTS = ("HR-", NAMED["name"], NAMED["description"], NAMED["place"], "religion")


# -- the rule ----------------------------------------------------------------------------


def exact_tail(observed: int, expected: int, terms: int = 400) -> float:
    """P(Poisson(expected) >= observed), summed in exact fractions (then times e^-mean)."""
    total = sum(Fraction(expected ** i, math.factorial(i))
                for i in range(observed, observed + terms))
    return float(total) * math.exp(-expected)


def test_the_poisson_tail_matches_hand_computed_values() -> None:
    # P(X >= 7 | mean 2) = 1 - e^-2 (1 + 2 + 2 + 4/3 + 2/3 + 4/15 + 4/45) = 1 - 331/45 e^-2
    assert poisson_tail(7, 2.0) == pytest.approx(1 - 331 / 45 * math.exp(-2), rel=1e-12)
    assert poisson_tail(7, 2.0) == pytest.approx(0.0045338, abs=1e-7)
    # At or below the mean: one minus the terms below. P(X >= 2 | 2) = 1 - 3 e^-2.
    assert poisson_tail(2, 2.0) == pytest.approx(1 - 3 * math.exp(-2), rel=1e-12)
    # The floor's cases: P(X >= 3 | 0.5) = 1 - 1.625 e^-0.5; P(X >= 4 | 0.5) adds 1/48.
    assert poisson_tail(3, 0.5) == pytest.approx(1 - 1.625 * math.exp(-0.5), rel=1e-12)
    assert poisson_tail(4, 0.5) == pytest.approx(1 - (1.625 + 1 / 48) * math.exp(-0.5),
                                                 rel=1e-12)
    assert poisson_tail(0, 2.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - math.exp(-2), rel=1e-12)
    # Far in the tail, where 1 - CDF in floats would say 0; and large counts.
    assert poisson_tail(30, 1.0) == pytest.approx(exact_tail(30, 1), rel=1e-12)
    assert poisson_tail(30, 1.0) > 0
    assert poisson_tail(150, 100.0) == pytest.approx(exact_tail(150, 100), rel=1e-9)
    assert poisson_tail(80, 100.0) == pytest.approx(1 - exact_tail(0, 100, 80), rel=1e-9)


def test_assess_applies_the_rule_with_the_defaults() -> None:
    # The worked example of docs/tension.md: 4 in 28 days is 2 expected in 14; 7 is rare.
    example = assess(7, 4, SETTINGS)
    assert example.expected == 2.0 and example.observed == 7 and example.baseline == 4
    assert example.p == pytest.approx(0.0045338, abs=1e-7)
    assert example.elevated
    # 5 against 2 expected happens 5% of the time: not elevated.
    assert not assess(5, 4, SETTINGS).elevated
    assert assess(5, 4, SETTINGS).p == pytest.approx(1 - 7 * math.exp(-2), rel=1e-12)
    # A quiet area (no baseline) expects the floor, 0.5: 3 reports are not enough
    # (p 0.0144), 4 are (p 0.0018).
    quiet = assess(3, 0, SETTINGS)
    assert quiet.expected == 0.5 and quiet.p == pytest.approx(0.014388, abs=1e-6)
    assert not quiet.elevated
    assert assess(4, 0, SETTINGS).elevated
    # Never on fewer than min_reports, however unlikely.
    tiny_floor = TensionSettings(baseline_floor=0.01)
    assert assess(2, 0, tiny_floor).p < 0.001
    assert not assess(2, 0, tiny_floor).elevated
    # A busy area at its usual level; and one with fewer reports than usual.
    assert assess(8, 16, SETTINGS) == Assessment(observed=8, baseline=16, expected=8.0,
                                                 p=pytest.approx(1 - math.fsum(
                                                     math.exp(-8) * 8 ** i / math.factorial(i)
                                                     for i in range(8))), elevated=False)
    assert assess(0, 40, SETTINGS).p == 1.0
    # Other windows scale the baseline: 7-day window, 28-day baseline, 8 before -> 2.
    assert assess(7, 8, TensionSettings(window_days=7)).expected == 2.0


@pytest.mark.parametrize(("key", "value", "says"), [
    ("TENSION_P_VALUE", 1.5, "HATEREPORT_TENSION_P_VALUE must be a number between 0 and 1"),
    ("TENSION_P_VALUE", 0, "HATEREPORT_TENSION_P_VALUE must be a number between 0 and 1"),
    ("TENSION_P_VALUE", "often", "HATEREPORT_TENSION_P_VALUE must be a number"),
    ("TENSION_WINDOW_DAYS", 0, "HATEREPORT_TENSION_WINDOW_DAYS must be a whole number of at "
                               "least 1 and at most 3650"),
    ("TENSION_WINDOW_DAYS", 2.5, "HATEREPORT_TENSION_WINDOW_DAYS must be a whole number"),
    ("TENSION_WINDOW_DAYS", 1e20, "HATEREPORT_TENSION_WINDOW_DAYS must be a whole number of at "
                                  "least 1 and at most 3650"),
    ("TENSION_P_VALUE", "nan", "HATEREPORT_TENSION_P_VALUE must be a number between 0 and 1"),
    ("TENSION_BASELINE_FLOOR", "inf", "HATEREPORT_TENSION_BASELINE_FLOOR must be a number "
                                      "above 0"),
    ("TENSION_BASELINE_DAYS", "four weeks", "HATEREPORT_TENSION_BASELINE_DAYS must be a whole"),
    ("TENSION_MIN_REPORTS", 0, "HATEREPORT_TENSION_MIN_REPORTS must be a whole number of at "
                               "least 1"),
    ("TENSION_BASELINE_FLOOR", 0, "HATEREPORT_TENSION_BASELINE_FLOOR must be a number above 0"),
    ("TENSION_COOLDOWN_DAYS", -1, "HATEREPORT_TENSION_COOLDOWN_DAYS must be a whole number of "
                                  "at least 0"),
    ("TENSION_COOLDOWN_DAYS", True, "HATEREPORT_TENSION_COOLDOWN_DAYS must be a whole number"),
])
def test_bad_settings_stop_the_app_with_a_clear_error(tmp_path, data_key, key, value, says):
    with pytest.raises(ValueError, match="bad tension monitoring settings") as raised:
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
                    "DATA_KEY": data_key, "HASH_KEY": HASH_KEY, key: value})
    assert says in str(raised.value)
    assert not (tmp_path / "app.db").exists()  # refused before touching the database
    with pytest.raises(ValueError):
        TensionSettings(**{key.removeprefix("TENSION_").lower(): value})


def test_settings_come_from_the_configuration_as_the_environment_gives_them() -> None:
    assert tension_settings({}) == SETTINGS
    # from_prefixed_env gives numbers as numbers, anything else as text.
    assert tension_settings({"TENSION_WINDOW_DAYS": 7, "TENSION_BASELINE_DAYS": "56",
                             "TENSION_P_VALUE": "0.001", "TENSION_MIN_REPORTS": 5.0,
                             "TENSION_BASELINE_FLOOR": 1, "TENSION_COOLDOWN_DAYS": 0}
                            ) == TensionSettings(window_days=7, baseline_days=56, p_value=0.001,
                                                 min_reports=5, baseline_floor=1.0,
                                                 cooldown_days=0)


# -- the alerts, on SQLite and PostgreSQL -------------------------------------------------


def reports(app, area: str | None, *days_ago: float) -> None:
    """A named report (every personal detail filled in) in ``area`` created each of
    ``days_ago`` before the clock's now; allocated to the first officer, if any, and
    acknowledged then (so the jobs have nothing else to say about them)."""
    the = services(app)
    now = the.intake.clock()
    with transaction(the.sessions) as session:
        officer_row = session.scalar(select(Officer).where(Officer.role == "officer")
                                     .order_by(Officer.id).limit(1))
        for days in days_ago:
            created = now - timedelta(days=days)
            case, _ = create_case(session, answers={**NAMED, "area": area}, channel="web",
                                  language="en", urgent=False, now=created)
            if officer_row is not None:
                case.officer_id = officer_row.id
                case.allocated_at = case.acknowledged_at = created


def managers(app) -> dict[str, int]:
    """A manager on each alert channel, one disabled, and an officer (not a manager)."""
    officer(app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    officer(app, "Max Manager", "max@landlord.example", role="manager")
    officer(app, "Sid Sms", "sid@landlord.example", role="manager", alerts="sms",
            phone="+447700900999")
    officer(app, "Tess Telegram", "tess@landlord.example", role="manager", alerts="telegram",
            telegram_chat="555000111")
    officer(app, "Dora Gone", "dora@landlord.example", role="manager")
    with transaction(services(app).sessions) as session:
        disable_officer(session, "dora@landlord.example")
    return {email: officer_id(app, f"{email}@landlord.example")
            for email in ("nia", "max", "sid", "tess", "dora")}


def tension_rows(app) -> list[OutboxMessage]:
    with services(app).sessions() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key.startswith("tension:")).order_by(OutboxMessage.id)))


def run_check(app) -> list[str | None]:
    """The areas :func:`check` alerts on now, with the app's clock and public URL."""
    the = services(app)
    with transaction(the.sessions) as session:
        return [figures.area for figures in check(session, the.intake.clock(), SETTINGS,
                                                  the.casework.settings.public_url)]


def spike(app) -> None:
    """Normanton: 2 reports in the 28 days before the window (1 expected in 14 days),
    then 7 in the last week."""
    reports(app, "Normanton", 20, 30)
    reports(app, "Normanton", 0.1, 0.5, 1, 2, 3, 4.5, 6)


def test_a_spike_in_a_quiet_area_alerts_every_active_manager(db_app, smtp, fake_twilio,
                                                             fake_telegram, clock):
    team = managers(db_app)
    spike(db_app)
    # Sinfin is steady: 8 in the 28 days before, 4 in the last 14 (4 expected).
    reports(db_app, "Sinfin", 15, 17, 20, 24, 28, 33, 37, 41)
    reports(db_app, "Sinfin", 1, 5, 9, 13)
    # Reports with no area, many of them lately: counted, never alerted on.
    reports(db_app, None, 1, 2, 3, 4, 5, 6, 7, 8)
    # Older than window and baseline together: not counted.
    reports(db_app, "Normanton", 43, 50, 100)

    done = run_jobs(db_app)  # the real jobs, at the fixed clock
    assert done["tension_alerts"] == 1
    rows = tension_rows(db_app)
    assert sorted((row.channel, row.recipient) for row in rows) == [
        ("email", "max@landlord.example"), ("sms", "+447700900999"), ("telegram", "555000111")]
    assert {row.idempotency_key for row in rows} == {
        f"tension:Normanton:2026-11-27:{team[name]}" for name in ("max", "sid", "tess")}
    assert all(row.purpose == "alert" and row.status == "pending" for row in rows)
    text = (f"hatereport: reports up in Normanton: 7 in the last 14 days, 1.0 expected "
            f"(2 in the 28 days before), p={poisson_tail(7, 1.0):.2g}\n{TRENDS}Normanton")
    assert all(row.payload is not None and row.payload["text"] == text for row in rows)
    assert len(text) < 200  # short enough for SMS (two segments)
    email_row = next(row for row in rows if row.channel == "email")
    assert email_row.payload == {"text": text, "subject": "hatereport: reports up in Normanton"}
    telegram_row = next(row for row in rows if row.channel == "telegram")
    assert telegram_row.payload == {"text": text, "method": "sendMessage"}

    # The next runs: nothing again.
    assert run_jobs(db_app)["tension_alerts"] == 0
    assert len(tension_rows(db_app)) == 3

    deliver_all(db_app)
    [mail] = [mail for mail in smtp.mails if "reports up" in mail.subject]
    assert mail.rcpt_tos == ["max@landlord.example"]
    assert f"{TRENDS}Normanton" in mail.body
    [sms] = [message for message in fake_twilio.messages if "reports up" in message["body"]]
    assert sms["to"] == "+447700900999"
    [chat] = [message for message in fake_telegram.sent if "reports up" in message["text"]]
    assert chat["chat_id"] == 555000111
    for words in (mail.whole, sms["body"], chat["text"]):
        assert_nothing_personal(words)
        assert not any(secret in words for secret in NOT_IN_ALERTS)
        assert "Sinfin" not in words
    # Neither the disabled manager nor the officer.
    assert not smtp.to("dora@landlord.example")
    assert not [mail for mail in smtp.to("nia@landlord.example") if "reports up" in mail.subject]

    # What the dashboard and the command show.
    with services(db_app).sessions() as session:
        figures = {row.area: row for row in current(session, clock(), SETTINGS)}
    assert (figures["Normanton"].observed, figures["Normanton"].baseline) == (7, 2)
    assert figures["Normanton"].elevated
    assert (figures["Sinfin"].observed, figures["Sinfin"].baseline) == (4, 8)
    assert figures["Sinfin"].expected == 4.0 and not figures["Sinfin"].elevated
    assert figures[None].observed == 8 and figures[None].elevated  # but never alerted on
    assert list(figures) == ["Normanton", "Sinfin", None]


def test_a_steady_area_and_cases_with_no_area_raise_no_alert(db_app, clock):
    managers(db_app)
    # Abbey is busy and steady: 20 in the 28 days before, 12 in the last 14 (10 expected).
    reports(db_app, "Abbey", *(15 + day * 1.3 for day in range(20)))
    reports(db_app, "Abbey", *(day + 0.5 for day in range(12)))
    reports(db_app, None, *(day + 0.2 for day in range(12)))
    assert run_check(db_app) == []
    assert tension_rows(db_app) == []
    with services(db_app).sessions() as session:
        counts = area_counts(session, clock(), SETTINGS)
    assert counts == {"Abbey": (12, 20), None: (12, 0)}


def test_no_repeat_within_the_cooldown_and_a_new_alert_after_it(db_app, clock):
    team = managers(db_app)
    spike(db_app)
    assert run_check(db_app) == ["Normanton"]
    first = clock()
    # The next day, still elevated: nothing for Normanton. Another area rising is alerted.
    clock.advance(days=1)
    reports(db_app, "Normanton", 0.2, 0.3)
    reports(db_app, "Normanton North", 0.1, 0.2, 0.3, 0.4)
    assert run_check(db_app) == ["Normanton North"]
    # Just inside the cooldown: still nothing.
    clock.now = first + timedelta(days=7, minutes=-1)
    assert run_check(db_app) == []
    with services(db_app).sessions() as session:
        still = {row.area: row for row in current(session, clock(), SETTINGS)}
    assert still["Normanton"].elevated and still["Normanton North"].elevated
    # The cooldown over, and still elevated: a new alert, keyed by the new London date.
    clock.now = first + timedelta(days=7, minutes=1)
    assert run_check(db_app) == ["Normanton"]
    keys = [row.idempotency_key for row in tension_rows(db_app)]
    assert keys == [f"tension:{area}:{day}:{team[name]}"
                    for area, day in (("Normanton", "2026-11-27"),
                                      ("Normanton North", "2026-11-28"),
                                      ("Normanton", "2026-12-04"))
                    for name in ("max", "sid", "tess")]
    # Sent messages keep their key: the cooldown holds after delivery too.
    deliver_all(db_app)
    clock.advance(hours=1)
    assert run_check(db_app) == []


def test_an_area_quiet_again_after_its_cooldown_is_not_alerted(db_app, clock):
    managers(db_app)
    spike(db_app)
    assert run_check(db_app) == ["Normanton"]
    clock.advance(days=15)  # the spike has left the window: it is the baseline now
    with services(db_app).sessions() as session:
        [normanton] = current(session, clock(), SETTINGS)
    # The 7 of the spike and one of the two before (the other is older than 42 days).
    assert (normanton.observed, normanton.baseline, normanton.elevated) == (0, 8, False)
    assert run_check(db_app) == []


def test_with_no_active_manager_the_alert_waits_for_one(db_app, clock):
    officer(db_app, "Nia Normanton", "nia@landlord.example", areas=["Normanton"])
    spike(db_app)
    assert run_check(db_app) == []
    assert tension_rows(db_app) == []
    clock.advance(hours=2)
    officer(db_app, "Max Manager", "max@landlord.example", role="manager")
    assert run_check(db_app) == ["Normanton"]
    [row] = tension_rows(db_app)
    assert row.recipient == "max@landlord.example"


def test_the_counts_are_read_on_the_created_at_index(db_app, clock):
    """The jobs run every minute: the counts read the recent cases on their creation
    time's index, not every case ever reported."""
    spike(db_app)
    the = services(db_app)
    with the.sessions() as session:
        like = session.scalar(select(Case.reference).limit(1))

    def counts() -> None:
        with the.sessions() as session:
            area_counts(session, clock(), SETTINGS)

    statement, parameters = statement_of(db_app, "GROUP BY cases.area", counts)
    plan = query_plan(db_app, statement, parameters, like=like,
                      created_at=datetime(2020, 1, 1))
    assert "ix_cases_created_at" in plan, plan


# -- the command ----------------------------------------------------------------------------


def test_the_tension_command_prints_each_area(cli_env, monkeypatch):
    monkeypatch.setenv("HATEREPORT_SECRET_KEY", "cli-test-secret-key")
    app = create_app()
    spike(app)
    reports(app, None, 1)
    services(app).db.dispose()
    runner = CliRunner()
    result = runner.invoke(main, ["tension"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "window: last 14 days; baseline: the 28 days before" in lines[0]
    assert lines[1].split() == ["area", "observed", "baseline", "expected", "p-value",
                                "elevated"]
    [normanton] = [line for line in lines if line.startswith("Normanton ")]
    assert normanton.split()[:4] == ["Normanton", "7", "2", "1.00"]
    assert normanton.split()[-1] == "YES"
    [abbey] = [line for line in lines if line.startswith("Abbey ")]  # a configured area
    assert abbey.split() == ["Abbey", "0", "0", "0.50", "1", "no"]
    assert lines[-1].startswith("(no area)")
    listed = json.loads(runner.invoke(main, ["tension", "--json"]).output)
    [row] = [row for row in listed if row["area"] == "Normanton"]
    assert row == {"area": "Normanton", "observed": 7, "baseline": 2, "expected": 1.0,
                   "p_value": pytest.approx(poisson_tail(7, 1.0)), "elevated": True}
    assert listed[-1]["area"] is None
    helped = runner.invoke(main, ["tension", "--help"]).output
    assert "Poisson" in helped and "HATEREPORT_TENSION_P_VALUE" in helped
    monkeypatch.setenv("HATEREPORT_TENSION_P_VALUE", "2")
    refused = runner.invoke(main, ["tension"])
    assert refused.exit_code == 1
    assert "HATEREPORT_TENSION_P_VALUE must be a number between 0 and 1" in refused.output
