"""The quarterly public figures (policy 5.3): what is published, protected so no one can
be identified.

A quarter is a calendar quarter of the London months the cases were reported in. Only
complete quarters are published: a quarter in progress changes day by day, and two
versions of it side by side could reveal a small number (a reader would see one case
arrive). Every table goes through :mod:`intake.disclosure`: counts from 1 to 4 are shown
as "fewer than 5", each table's least informative rows are hidden alongside them, a
table that would still let a small count be worked out is withheld, and areas with few
cases are counted together. The figures are read from the monitoring
summary (``stats_counts``), so their cost follows the number of months, areas and
values, never the number of cases.

No Flask here: the web page and the printable PDF both render a :class:`Figures`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.disclosure import Cell, Shown, Table, merge_small_areas, protect, protect_total
from intake.flow import BEHAVIOURS, CHARACTERISTICS
from intake.i18n import N_
from intake.models import StatsCount
from intake.summary import last_complete_quarter, quarter_months, quarter_of, read

log = logging.getLogger(__name__)

#: The merged group of areas with few cases.
OTHER_AREAS = "other"
#: Cases whose area was not given (or not known).
NO_AREA = ""

NOT_RECORDED = N_("Not recorded")

#: Row labels per table, in the order published: the flow's own labels where it has them.
CHARACTERISTIC_LABELS: dict[str, str] = {
    **{choice.value: choice.label for choice in CHARACTERISTICS
       if choice.value != "association"},
    "not_recorded": NOT_RECORDED,
}
BEHAVIOUR_LABELS: dict[str, str] = {
    **{choice.value: choice.label for choice in BEHAVIOURS},
    "not_recorded": NOT_RECORDED,
}
OUTCOME_LABELS: dict[str, str] = {
    "open": N_("Still open"),
    "resolved": N_("Resolved"),
    "no_further_action": N_("Closed: no further action possible"),
    "referred": N_("Closed: referred to another organisation"),
    "withdrawn": N_("Closed: the person reporting withdrew"),
}
FORTNIGHTLY_LABELS: dict[str, str] = {
    "yes": N_("Updated every fortnight"),
    "no": N_("Not updated every fortnight"),
    "not_yet_due": N_("No update due yet"),
    "not_applicable": N_("Anonymous (cannot be contacted)"),
}
AREA_LABELS: dict[str, str] = {
    OTHER_AREAS: N_("Other areas together"),
    NO_AREA: N_("Area not given"),
}

#: The quarter in words, per quarter number.
QUARTER_NAMES: dict[int, str] = {
    1: N_("January to March %(year)s"),
    2: N_("April to June %(year)s"),
    3: N_("July to September %(year)s"),
    4: N_("October to December %(year)s"),
}


@dataclass(frozen=True)
class FigureTable:
    """One published table: its name, whether every case is in exactly one row
    (``additive``) or in one or more (multi), and its protected cells."""

    name: str
    additive: bool
    table: Table

    @property
    def withheld(self) -> bool:
        return self.table.withheld

    @property
    def cells(self) -> tuple[Cell, ...]:
        return self.table.cells


@dataclass(frozen=True)
class Figures:
    """A quarter's published figures: the total and the protected tables, in order
    (characteristics, behaviours, areas, outcomes, fortnightly)."""

    quarter: str
    total: Cell
    tables: tuple[FigureTable, ...]

    def table(self, name: str) -> FigureTable:
        return next(table for table in self.tables if table.name == name)


def quarter_number(quarter: str) -> tuple[int, int]:
    """``(year, number)`` of a quarter like ``2026-Q3``; ``ValueError`` if malformed."""
    quarter_months(quarter)  # validates
    return int(quarter[:4]), int(quarter[6:])


def published_quarters(session: Session, now: datetime) -> list[str]:
    """The complete quarters that have cases, newest first (none after the last quarter
    that had ended by ``now``, naive UTC)."""
    _, last_month = quarter_months(last_complete_quarter(now))
    months = session.scalars(
        select(StatsCount.month)
        .where(StatsCount.dim == "total", StatsCount.month <= last_month)
        .group_by(StatsCount.month)
        .having(func.sum(StatsCount.n) > 0))
    return sorted({quarter_of(month) for month in months}, reverse=True)


def _rows(order: Iterable[str], counts: Counter[str]) -> dict[str, int]:
    """The known rows in their order (zeros included), then any other value counted."""
    rows = {key: counts.get(key, 0) for key in order}
    for key in sorted(counts):
        rows.setdefault(key, counts[key])
    return rows


#: Per table, the least informative rows, hidden alongside any "fewer than 5" in it
#: (see :func:`intake.disclosure.protect`).
COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "characteristics": ("other",),
    "behaviours": ("other",),
    "areas": (OTHER_AREAS, NO_AREA),
    "outcomes": ("open",),
    "fortnightly": ("not_applicable", "not_yet_due"),
}


#: Rows a report is in only when it is in no other row of its table ("Not sure" is a
#: choice of its own; "not recorded" means none was given).
EXCLUSIVE = frozenset({"not_sure", "not_recorded"})


def _reasons(labels: Iterable[str], counts: Counter[str], total: int
             ) -> tuple[dict[str, int], int]:
    """A multi table's rows and the total it is protected against: the reasons
    themselves, over the reports that gave at least one. The exclusive rows are not
    published: with them, a reader could work out how many reports gave some reason and
    from that a small count (8 reports, 5 with none, so "race: fewer than 5" is 3)."""
    rows = {key: n for key, n in _rows(labels, counts).items() if key not in EXCLUSIVE}
    return rows, total - sum(counts.get(key, 0) for key in EXCLUSIVE)


def _protect(name: str, rows: dict[str, int], total: int, *, additive: bool = False
             ) -> FigureTable:
    try:
        table = protect(rows, total, additive=additive, complement=COMPLEMENTS[name])
    except ValueError:
        # The summary disagrees with itself: publish nothing of this table rather than
        # figures that may not protect anyone (``hatereport stats check`` finds why).
        log.error("figures: the %s table does not fit its total; withheld", name)
        table = Table(tuple(Cell(key, Shown.HIDDEN, None) for key in rows), withheld=True)
    return FigureTable(name, additive, table)


def quarterly(session: Session, quarter: str) -> Figures:
    """The published figures of ``quarter`` (``2026-Q3``), protected."""
    first, last = quarter_months(quarter)
    summary = read(session, first, last)
    total = summary.count("total")
    areas = merge_small_areas(summary.per_area(), other_key=OTHER_AREAS)
    # Real areas by name, then the cases with no area, then the merged group.
    area_rows = {key: n for key, n in sorted(areas.items())
                 if key not in (OTHER_AREAS, NO_AREA)}
    for key in (NO_AREA, OTHER_AREAS):
        if key in areas:
            area_rows[key] = areas[key]
    tables = (
        _protect("characteristics", *_reasons(
            CHARACTERISTIC_LABELS, summary.values("characteristic"), total)),
        _protect("behaviours", *_reasons(
            BEHAVIOUR_LABELS, summary.values("behaviour"), total)),
        _protect("areas", area_rows, total, additive=True),
        _protect("outcomes", _rows(OUTCOME_LABELS, summary.values("outcome")), total,
                 additive=True),
        _protect("fortnightly", _rows(FORTNIGHTLY_LABELS, summary.values("fortnightly")),
                 total, additive=True),
    )
    return Figures(quarter=quarter, total=protect_total(total), tables=tables)
