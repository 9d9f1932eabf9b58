"""Reading the monitoring summary: periods, quarters, and sums over areas and months."""

from __future__ import annotations

from datetime import datetime

import pytest

from intake import summary
from intake.cases import create_case
from intake.db import transaction
from tests.intake.test_stats import ANSWERS


def test_months_and_quarters():
    assert summary.month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01",
                                                         "2026-02"]
    assert summary.month_range("2026-03", "2026-02") == []
    assert summary.quarter_of("2026-08") == "2026-Q3"
    assert summary.quarter_months("2026-Q4") == ("2026-10", "2026-12")
    with pytest.raises(ValueError):
        summary.quarter_months("2026-Q5")
    # Just after midnight on 1 January the old year's last quarter has ended.
    assert summary.last_complete_quarter(datetime(2026, 1, 1, 0, 30)) == "2025-Q4"
    assert summary.last_complete_quarter(datetime(2026, 6, 30, 23, 30)) == "2026-Q2"
    assert summary.last_complete_quarter(datetime(2026, 11, 28, 9, 0)) == "2026-Q3"


def test_read_sums_months_and_areas(sessions):
    with transaction(sessions) as session:
        for when, area, chars in ((datetime(2026, 9, 3), "Normanton", ["race"]),
                                  (datetime(2026, 9, 20), "Alvaston", ["race", "religion"]),
                                  (datetime(2026, 10, 2), "Normanton", []),
                                  (datetime(2026, 12, 2), "Normanton", ["race"])):
            create_case(session, answers={**ANSWERS, "area": area, "characteristics": chars},
                        channel="sms", language="pl", urgent=False, now=when)
    with sessions() as session:
        read = summary.read(session, "2026-09", "2026-11")
        assert read.count("total") == 3
        assert read.values("characteristic") == {"race": 2, "religion": 1,
                                                 "not_recorded": 1}
        assert read.per_month() == [("2026-09", 2), ("2026-10", 1), ("2026-11", 0)]
        assert read.per_area() == {"Normanton": 2, "Alvaston": 1}
        assert read.values("channel") == {"sms": 3}
        only = summary.read(session, "2026-09", "2026-12", area="Normanton")
        assert only.count("total") == 3 and only.per_area() == {"Normanton": 3}
        assert summary.areas_seen(session) == ["Alvaston", "Normanton"]
        assert summary.first_month(session) == "2026-09"
