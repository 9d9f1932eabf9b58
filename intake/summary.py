"""Reading the monitoring summary (``stats_counts``, kept by :mod:`intake.stats`).

Every read is one grouped query over the summary's primary key (month first), so it
costs the number of months, areas and values asked for, never the number of cases.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.flow import CHARACTERISTICS
from intake.models import StatsCount
from intake.stats import SENSITIVE_DIMS, month_of, untoken

log = logging.getLogger(__name__)


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` (``YYYY-MM``), both included."""
    year, month = int(start[:4]), int(start[5:7])
    last = (int(end[:4]), int(end[5:7]))
    out = []
    while (year, month) <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def quarter_of(month: str) -> str:
    """The calendar quarter (``2026-Q3``) a month (``2026-08``) falls in."""
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def quarter_months(quarter: str) -> tuple[str, str]:
    """The first and last month of a quarter like ``2026-Q3``."""
    year, number = int(quarter[:4]), int(quarter[6:])
    if quarter[4:6] != "-Q" or not 1 <= number <= 4:
        raise ValueError(f"not a quarter: {quarter!r}")
    first = 3 * (number - 1) + 1
    return f"{year:04d}-{first:02d}", f"{year:04d}-{first + 2:02d}"


def last_complete_quarter(now: datetime) -> str:
    """The latest quarter that has ended by ``now`` (naive UTC, in London time)."""
    this = quarter_of(month_of(now))
    year, number = int(this[:4]), int(this[6:])
    return f"{year - 1}-Q4" if number == 1 else f"{year}-Q{number - 1}"


@dataclass
class Summary:
    """What the cases in some months (and an area) count: per dimension and value, in
    all (``totals``), per month (``months``) and per area (``areas``)."""

    months: list[str]
    area: str | None
    totals: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_month: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    by_area: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    #: Counts under tokens no known value maps to (the hash key changed since they were
    #: counted: run ``hatereport stats rebuild``); left out of every figure.
    unknown_tokens: int = 0

    def values(self, dim: str) -> Counter[str]:
        """The counts of ``dim``'s values, over the whole period."""
        return Counter({value: n for (d, value), n in self.totals.items()
                        if d == dim and n})

    def count(self, dim: str, value: str = "") -> int:
        return self.totals[(dim, value)]

    def per_month(self, dim: str = "total", value: str = "") -> list[tuple[str, int]]:
        """``dim = value`` month by month, every month of the period (zeros included)."""
        return [(month, self.by_month.get(month, Counter())[(dim, value)])
                for month in self.months]

    def per_area(self, dim: str = "total", value: str = "") -> Counter[str]:
        """``dim = value`` area by area ("" for cases with no area)."""
        return Counter({area: counts[(dim, value)] for area, counts in self.by_area.items()
                        if counts[(dim, value)]})


def sensitive_values() -> dict[str, str]:
    """The stored tokens of the sensitive dimensions' values, mapped back."""
    characteristics = [choice.value for choice in CHARACTERISTICS] + ["not_recorded"]
    return {**untoken("characteristic", characteristics), **untoken("association", ["yes"])}


def read(session: Session, start: str, end: str, area: str | None = None) -> Summary:
    """The summary of the cases reported from ``start`` to ``end`` (months, ``YYYY-MM``),
    in ``area`` or all areas ("" is the cases with no area).

    Two grouped queries, summed by the database: per month and value, and per area and
    value. Each reads the summary's rows for the period through its primary key."""
    summary = Summary(months=month_range(start, end), area=area)
    total = func.sum(StatsCount.n)
    where = [StatsCount.month >= start, StatsCount.month <= end]
    if area is not None:
        where.append(StatsCount.area == area)
    values = sensitive_values()
    for month, dim, value, n in session.execute(
            select(StatsCount.month, StatsCount.dim, StatsCount.value, total).where(*where)
            .group_by(StatsCount.month, StatsCount.dim, StatsCount.value)):
        if dim in SENSITIVE_DIMS:
            value = values.get(value, "")
            if not value:  # a token of another hash key or value: see unknown_tokens
                summary.unknown_tokens += n
                continue
        if n:
            summary.totals[(dim, value)] += n
            summary.by_month.setdefault(month, Counter())[(dim, value)] += n
    for place, dim, value, n in session.execute(
            select(StatsCount.area, StatsCount.dim, StatsCount.value, total).where(*where)
            .group_by(StatsCount.area, StatsCount.dim, StatsCount.value)):
        if dim in SENSITIVE_DIMS:
            value = values.get(value, "")
            if not value:
                continue
        if n:
            summary.by_area.setdefault(place, Counter())[(dim, value)] += n
    if summary.unknown_tokens:
        log.warning("%d counts in the monitoring summary are under tokens of no known value "
                    "(the hash key changed?): run `hatereport stats rebuild`",
                    summary.unknown_tokens)
    return summary


def areas_seen(session: Session) -> list[str]:
    """Every area the summary has counted a case in (not "" for none), sorted."""
    return sorted(area for area in session.scalars(select(StatsCount.area).distinct())
                  if area)


def first_month(session: Session) -> str | None:
    """The earliest month with a case counted, if any."""
    return session.scalar(select(func.min(StatsCount.month)))

