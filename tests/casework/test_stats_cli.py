"""`hatereport stats check` and `stats rebuild`: cases from before the summary are found,
counted by a rebuild, and the check then agrees; `serve` warns about uncounted cases."""

from __future__ import annotations

import logging
from datetime import datetime

from click.testing import CliRunner, Result
from sqlalchemy import select

from intake import stats
from intake.cases import create_case
from intake.db import transaction
from intake.models import Case, StatsCount
from tests.intake.test_stats import ANSWERS
from web import create_app
from web.cli import main, warn_uncounted_cases
from web.extensions import services


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_check_finds_uncounted_cases_and_rebuild_counts_them(cli_env, caplog):
    app = create_app()
    the = services(app)
    with transaction(the.sessions) as session:
        for day in (3, 9, 20):
            create_case(session, answers=ANSWERS, channel="sms", language="en",
                        urgent=False, now=datetime(2026, 10, day, 12))
    assert run("stats", "check").exit_code == 0
    # As a version without the summary would have left them.
    with transaction(the.sessions) as session:
        session.info[stats.REBUILDING] = True
        for case in session.scalars(select(Case)):
            case.counted = None
        session.flush()
        session.execute(StatsCount.__table__.delete())
    with caplog.at_level(logging.WARNING):
        assert warn_uncounted_cases(app) == 3
    assert "stats rebuild" in caplog.text and "Normanton" not in caplog.text
    checked = run("stats", "check")
    assert checked.exit_code == 1
    assert "3 cases are not counted yet" in checked.output
    assert "2026-10 Normanton total=: the summary is short of 3" in checked.output
    rebuilt = run("stats", "rebuild")
    assert rebuilt.exit_code == 0 and "counted 3 cases" in rebuilt.output
    assert "3 of 3 cases" in rebuilt.stderr
    again = run("stats", "check")
    assert again.exit_code == 0 and "agrees" in again.output
    assert warn_uncounted_cases(app) == 0
