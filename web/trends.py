"""Trends for managers: the monitoring summary as charts, tables and a CSV. In English.

``/dashboard/trends`` shows, for a period of London months and an area (or all areas,
or the cases with no area), cases per month and quarter, open and closed, hate crime
and incident, characteristics, behaviours, areas, channels, languages, time to first
contact, fortnightly updates, repeat locations and victims (counts only) and tension
monitoring. Each chart is drawn on the server (:mod:`web.charts`) and its numbers are in
a table beside it; ``/dashboard/trends.csv`` gives every number of the page's tables.

The page reads the summary (:mod:`intake.summary`: one read for the period, whatever the
number of cases), the areas it has counted, and the tension figures (one grouped query
over the last weeks' cases, the only read of the cases table). Managers only; every view
and download is written to the audit log with its filter.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import Session

from intake import summary as summaries
from intake.casework import OUTCOMES
from intake.flow import BEHAVIOURS, CHARACTERISTICS
from intake.languages import get_language, is_shipped
from intake.stats import month_of
from intake.tension import AreaAssessment, TensionSettings
from intake.tension import current as current_tension
from web.charts import bar_chart, column_chart, stacked_column_chart
from web.config import tension_settings
from web.dashboard import _audit, login_manager
from web.extensions import services

bp = Blueprint("trends", __name__, url_prefix="/dashboard")

#: The ``area`` filter's value for the cases with no area (it shadows an area of that name).
NO_AREA = "(none)"
#: The longest period shown at once, in months.
MAX_MONTHS = 240
#: The quick periods, as ``preset`` values, and their names.
PRESETS = {"this_quarter": "This quarter", "last_12_months": "Last 12 months",
           "all_time": "All time"}
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                "Nov", "Dec")

#: English names of the stored values (the flow's labels are the English msgids).
CHARACTERISTIC_LABELS = {choice.value: choice.label for choice in CHARACTERISTICS
                         if choice.value != "association"}
BEHAVIOUR_LABELS = {choice.value: choice.label for choice in BEHAVIOURS}
ASSOCIATION_LABEL = "By association"
NOT_RECORDED = "Not recorded"
CHANNEL_LABELS = {"web": "Web chat", "sms": "SMS", "telegram": "Telegram",
                  "terminal": "Terminal (testing)"}
CLASSIFICATION_LABELS = {"hate_crime": "Hate crime", "hate_incident": "Hate incident"}
STATUS_LABELS = {"open": "Open", "closed": "Closed"}
FIRST_CONTACT_LABELS = {
    "within_1_day": "Within 1 day", "within_3_days": "After 1 to 3 days",
    "within_7_days": "After 3 to 7 days", "over_7_days": "After more than 7 days",
    "not_yet": "Not contacted yet", "anonymous": "Anonymous (cannot be contacted)",
}
CONTACTED = ("within_1_day", "within_3_days", "within_7_days", "over_7_days")
FORTNIGHTLY_LABELS = {
    "yes": "Every update due so far on time", "no": "At least one update late",
    "not_yet_due": "No update due yet",
    "not_applicable": "Anonymous (no updates: the follow-up page only)",
}
HAPPENED_BEFORE_LABELS = {"yes": "Yes", "no": "No", "not_sure": "Not sure",
                          "not_recorded": NOT_RECORDED}


# -- the filter --------------------------------------------------------------------------


def _shift(month: str, months: int) -> str:
    """``month`` (``YYYY-MM``) moved by ``months`` (negative: back)."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_label(month: str) -> str:
    """``2026-11`` as ``Nov 2026``."""
    return f"{_MONTH_NAMES[int(month[5:7]) - 1]} {month[:4]}"


def quarter_label(quarter: str) -> str:
    """``2026-Q3`` as ``2026 Q3``."""
    return quarter.replace("-", " ")


def _is_month(text: str) -> bool:
    match = _MONTH.fullmatch(text)
    return match is not None and 2000 <= int(match.group(1)) <= 2999


@dataclass(frozen=True)
class Filter:
    """What the page shows: the months ``start`` to ``end`` and ``area`` (None: all
    areas; "": the cases with no area)."""

    start: str
    end: str
    area: str | None = None

    @property
    def months(self) -> list[str]:
        return summaries.month_range(self.start, self.end)

    @property
    def area_name(self) -> str:
        """The area in words, for the page."""
        if self.area is None:
            return "all areas"
        return self.area or "no area recorded"

    @property
    def area_value(self) -> str:
        """The area as the form and the links send it."""
        return NO_AREA if self.area == "" else self.area or ""

    @property
    def csv_area(self) -> str:
        """The area as the CSV's ``area`` column names it."""
        return "all" if self.area is None else self.area or NO_AREA

    @property
    def period(self) -> str:
        """The period as the CSV's ``period`` column names it: ``2025-12..2026-11``."""
        return f"{self.start}..{self.end}"

    @property
    def period_name(self) -> str:
        if self.start == self.end:
            return month_label(self.start)
        return f"{month_label(self.start)} to {month_label(self.end)}"

    def audit_data(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "area": self.csv_area}

    def filename(self) -> str:
        """``hatereport-trends-<from>-<to>[-area].csv``, in ASCII letters and digits."""
        name = f"hatereport-trends-{self.start}-{self.end}"
        if self.area is not None:
            slug = re.sub(r"[^a-z0-9]+", "-", self.area.lower()).strip("-")
            name += "-" + ((slug or "area") if self.area else "no-area")
        return name + ".csv"


def parse_filter(args: Mapping[str, str], *, this_month: str, first_month: str | None,
                 areas: Iterable[str]) -> tuple[Filter, list[str]]:
    """The filter a request asks for, and what was wrong with it (shown to the manager;
    the part that was wrong takes its default).

    ``preset`` (``this_quarter``, ``last_12_months``, ``all_time``) wins over ``from``
    and ``to`` (``YYYY-MM``, London months); the default is the 12 months up to
    ``this_month``. ``area`` is an area name, :data:`NO_AREA`, or empty for all areas.
    """
    problems: list[str] = []
    default = (_shift(this_month, -11), this_month)
    preset = (args.get("preset") or "").strip()
    start, end = default
    if preset:
        if preset == "this_quarter":
            start = summaries.quarter_months(summaries.quarter_of(this_month))[0]
        elif preset == "all_time":
            start = min(first_month or this_month, this_month)
            if len(summaries.month_range(start, end)) > MAX_MONTHS:
                start = _shift(end, -(MAX_MONTHS - 1))
                problems.append(f"Showing the latest {MAX_MONTHS // 12} years: the most "
                                "shown at once.")
        elif preset != "last_12_months":
            problems.append("That quick period is not one of the choices: showing the "
                            "last 12 months.")
    else:
        asked_start = (args.get("from") or "").strip()
        asked_end = (args.get("to") or "").strip()
        bad = [(name, text) for name, text in (("From", asked_start), ("To", asked_end))
               if text and not _is_month(text)]
        for name, _text in bad:
            problems.append(f"{name} must be a month written like {this_month}: showing "
                            "the last 12 months.")
        if not bad and (asked_start or asked_end):
            start = asked_start or (_shift(asked_end, -11) if asked_end else default[0])
            end = asked_end or (this_month if start <= this_month else start)
            if start > end:
                problems.append("The period starts after it ends: showing the last 12 months.")
                start, end = default
            elif len(summaries.month_range(start, end)) > MAX_MONTHS:
                problems.append(f"At most {MAX_MONTHS // 12} years can be shown at once: "
                                "showing the last 12 months.")
                start, end = default

    asked_area = args.get("area") or ""
    area: str | None = None
    if asked_area == NO_AREA:
        area = ""
    elif asked_area:
        if asked_area in set(areas):
            area = asked_area
        else:
            problems.append("There is no area of that name: showing all areas.")
    return Filter(start, end, area), problems


# -- the page's sections, as tables ------------------------------------------------------

Kind = Literal["count", "share", "days", "decimal", "yesno"]


@dataclass(frozen=True)
class Column:
    """A column of numbers: ``key`` names it in the CSV; ``kind`` says how to write it
    (a count, a percentage, days, a decimal, yes or no); ``csv`` False for shares worked
    out from counts that are in the CSV already."""

    key: str
    heading: str
    kind: Kind = "count"
    csv: bool = True


@dataclass(frozen=True)
class Row:
    """A row: its key (a month, a quarter, a value, an area) and label, one number (or
    None: nothing to show) per column; ``kind`` applies to the row's count columns."""

    key: str
    label: str
    cells: tuple[float | int | None, ...]
    kind: Kind = "count"


@dataclass
class Table:
    """A table of the page and its rows in the CSV.

    ``rows_are`` says what a row is: ``period`` (a month or a quarter: the CSV's period is
    the row's key, its key the column's), ``key`` (a value: the period is the filter's,
    the key the row's, with the column's after a colon when there are several) or
    ``area`` (the CSV's area is the row's, its key the column's)."""

    id: str
    section: str
    caption: str
    row_heading: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    rows_are: Literal["period", "key", "area"] = "key"
    #: Shown folded (long month-by-month tables).
    folded: bool = False
    #: The CSV's period for ``key`` and ``area`` rows (default: the filter's).
    period: str | None = None

    def cell(self, row: Row, index: int) -> str:
        """A number as the page writes it."""
        value = row.cells[index]
        kind = self.columns[index].kind if self.columns[index].kind != "count" else row.kind
        return format_number(value, kind)


def format_number(value: float | int | None, kind: Kind) -> str:
    if value is None:
        return "-"
    if kind == "yesno":
        return "Yes" if value else "No"
    if kind == "share":
        return f"{value:.1f}%"
    if kind in ("days", "decimal"):
        return f"{value:,.1f}"
    return f"{int(value):,}"


def csv_number(value: float | int | None, kind: Kind) -> str:
    if value is None:
        return ""
    if kind in ("count", "yesno"):
        return str(int(value))
    return f"{value:.2f}"


@dataclass
class Section:
    """A part of the page: a heading, what to know about it, charts and tables."""

    id: str
    title: str
    notes: list[str] = field(default_factory=list)
    charts: list[Markup] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def _share(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _ordered(counts: Mapping[str, int], labels: Mapping[str, str],
             keep: Iterable[str] = ()) -> list[tuple[str, str, int]]:
    """(value, label, count), most first, then by label; values in ``keep`` appear even
    at zero, as do the known ones (``labels``) when ``keep`` is everything."""
    values = set(keep) | {value for value, n in counts.items() if n}
    rows = [(value, labels.get(value, value or NOT_RECORDED), counts.get(value, 0))
            for value in values]
    return sorted(rows, key=lambda row: (-row[2], row[1].casefold()))


def _counts_table(table_id: str, section: str, caption: str, heading: str,
                  rows: Sequence[tuple[str, str, int]], whole: int | None,
                  share_heading: str = "Share of cases") -> Table:
    columns = [Column("", "Cases")]
    if whole is not None:
        columns.append(Column("share", share_heading, "share", csv=False))
    table = Table(table_id, section, caption, heading, columns)
    for key, label, n in rows:
        cells: tuple[float | int | None, ...] = (n,) if whole is None else (n, _share(n, whole))
        table.rows.append(Row(key, label, cells))
    return table


def _bars(title: str, rows: Sequence[tuple[str, str, int]], chart_id: str) -> Markup:
    return bar_chart(title, [(label, n) for _, label, n in rows], chart_id=chart_id)


def area_label(area: str) -> str:
    return area or "No area recorded"


def build(read: summaries.Summary, filt: Filter, *, configured_areas: Sequence[str],
          tension: Sequence[AreaAssessment] | None,
          settings: TensionSettings | None) -> list[Section]:
    """The page's sections for a summary read for ``filt``."""
    total = read.count("total")
    months = read.months
    sections = [
        _per_month(read, months),
        _status(read, months),
        _classification(read, total),
        _characteristics(read, total),
        _behaviours(read, total),
        _areas(read, filt, configured_areas),
        _simple(read, total, "channel", "By channel", "Cases by channel",
                CHANNEL_LABELS, "Channel",
                ["How the report came in: the web chat, SMS or Telegram."]),
        _simple(read, total, "language", "By language", "Cases by language",
                {value: get_language(value).english_name for value in read.values("language")
                 if is_shipped(value)}, "Language",
                ["The language the reporter used for the report."]),
        _first_contact(read, total),
        _updates(read),
        _repeats(read),
    ]
    sections.append(_tension(filt, tension, settings))
    return sections


def _per_month(read: summaries.Summary, months: list[str]) -> Section:
    per_month = read.per_month("total")
    section = Section("per-month", "Cases per month and quarter", notes=[
        "Cases by the month they were reported (London time)."])
    section.charts.append(column_chart(
        "Cases reported per month", [(month_label(m), n) for m, n in per_month],
        chart_id="chart-per-month"))
    table = Table("table-per-month", "per_month", "Cases reported per month", "Month",
                  [Column("total", "Cases")], rows_are="period", folded=True)
    table.rows = [Row(m, month_label(m), (n,)) for m, n in per_month]
    quarters: Counter[str] = Counter()
    quarter_months: dict[str, list[str]] = {}
    for month, n in per_month:
        quarter = summaries.quarter_of(month)
        quarters[quarter] += n
        quarter_months.setdefault(quarter, []).append(month)
    by_quarter = Table("table-per-quarter", "per_quarter", "Cases reported per quarter",
                       "Quarter", [Column("total", "Cases")], rows_are="period")
    for quarter, counted in quarter_months.items():
        label = quarter_label(quarter)
        if len(counted) < 3:
            label += f" (part: {month_label(counted[0])}"
            label += f" to {month_label(counted[-1])})" if len(counted) > 1 else ")"
        by_quarter.rows.append(Row(quarter, label, (quarters[quarter],)))
    section.tables += [by_quarter, table]
    return section


def _status(read: summaries.Summary, months: list[str]) -> Section:
    opened = read.per_month("status", "open")
    closed = read.per_month("status", "closed")
    section = Section("status", "Open and closed", notes=[
        "Where the cases reported each month stand now."])
    section.charts.append(stacked_column_chart(
        "Open and closed cases, by the month reported", [month_label(m) for m in months],
        [("Open", [n for _, n in opened]), ("Closed", [n for _, n in closed])],
        chart_id="chart-status"))
    table = Table("table-status", "status_per_month", "Open and closed cases, by the month "
                  "reported", "Month", [Column("open", "Open"), Column("closed", "Closed")],
                  rows_are="period", folded=True)
    table.rows = [Row(m, month_label(m), (o, c))
                  for (m, o), (_, c) in zip(opened, closed, strict=True)]
    status = read.values("status")
    totals = Table("table-status-total", "status", "Open and closed cases in the period",
                   "Status", [Column("", "Cases")])
    totals.rows = [Row(key, label, (status.get(key, 0),)) for key, label in STATUS_LABELS.items()]
    outcomes = read.values("outcome")
    how = _counts_table("table-outcome", "outcome", "How the closed cases ended", "Outcome",
                        _ordered(outcomes, OUTCOMES, keep=OUTCOMES),
                        sum(outcomes.get(key, 0) for key in OUTCOMES),
                        share_heading="Share of closed cases")
    how.rows = [row for row in how.rows if row.key != "open"]
    section.tables += [totals, table, how]
    return section


def _classification(read: summaries.Summary, total: int) -> Section:
    rows = [(key, label, read.count("classification", key))
            for key, label in CLASSIFICATION_LABELS.items()]
    rows += [(key, key, n) for key, n in sorted(read.values("classification").items())
             if key not in CLASSIFICATION_LABELS]
    section = Section("classification", "Hate crime and hate incident", notes=[
        "As suggested from the behaviours reported, or as the officer confirmed it."])
    section.charts.append(_bars("Hate crimes and hate incidents", rows, "chart-classification"))
    section.tables.append(_counts_table("table-classification", "classification",
                                        "Hate crimes and hate incidents", "Classification",
                                        rows, total))
    return section


def _characteristics(read: summaries.Summary, total: int) -> Section:
    counts = dict(read.values("characteristic"))
    rows = _ordered(counts, {**CHARACTERISTIC_LABELS, "not_recorded": NOT_RECORDED},
                    keep=CHARACTERISTIC_LABELS)
    association = read.count("association", "yes")
    rows.append(("association", ASSOCIATION_LABEL, association))
    section = Section("characteristic", "By protected characteristic", notes=[
        "A case can be about several characteristics, so these add up to more than the "
        "cases. By association: the victim was targeted for a link to someone in these "
        "groups (counted as well as the characteristics)."])
    section.charts.append(_bars("Cases by perceived characteristic", rows,
                                "chart-characteristic"))
    section.tables.append(_counts_table("table-characteristic", "characteristic",
                                        "Cases by perceived characteristic",
                                        "Characteristic", rows, total))
    return section


def _behaviours(read: summaries.Summary, total: int) -> Section:
    rows = _ordered(read.values("behaviour"),
                    {**BEHAVIOUR_LABELS, "not_recorded": NOT_RECORDED}, keep=BEHAVIOUR_LABELS)
    section = Section("behaviour", "By behaviour", notes=[
        "A case can report several behaviours, so these add up to more than the cases."])
    section.charts.append(_bars("Cases by behaviour", rows, "chart-behaviour"))
    section.tables.append(_counts_table("table-behaviour", "behaviour", "Cases by behaviour",
                                        "Behaviour", rows, total))
    return section


def _areas(read: summaries.Summary, filt: Filter, configured: Sequence[str]) -> Section:
    per_area = read.per_area("total")
    keep = configured if filt.area is None else [filt.area]
    if filt.area is not None:
        per_area = Counter({filt.area: per_area.get(filt.area, 0)})
    rows = [(area, area_label(area), n) for area, _, n in _ordered(per_area, {}, keep=keep)]
    total = sum(per_area.values())
    section = Section("area", "By area", notes=[
        "Every configured area is listed, with none reported too."
        if filt.area is None else f"Only {filt.area_name}: choose all areas to compare."])
    section.charts.append(_bars("Cases by area", rows, "chart-area"))
    table = _counts_table("table-area", "area", "Cases by area", "Area", rows, total)
    table.rows_are = "area"
    table.columns[0] = Column("total", "Cases")
    section.tables.append(table)
    return section


def _simple(read: summaries.Summary, total: int, dim: str, title: str, caption: str,
            labels: Mapping[str, str], heading: str, notes: list[str]) -> Section:
    rows = _ordered(read.values(dim), labels)
    section = Section(dim, title, notes=notes)
    section.charts.append(_bars(caption, rows, f"chart-{dim}"))
    section.tables.append(_counts_table(f"table-{dim}", dim, caption, heading, rows, total))
    return section


def _first_contact(read: summaries.Summary, total: int) -> Section:
    rows = [(key, label, read.count("first_contact", key))
            for key, label in FIRST_CONTACT_LABELS.items()]
    contacted = sum(read.count("first_contact", key) for key in CONTACTED)
    minutes = read.count("first_contact_minutes", "")
    mean_days = minutes / contacted / 1440 if contacted else None
    section = Section("first-contact", "Time to first contact", notes=[
        "How long after the report an officer first recorded contact with the reporter. "
        "Anonymous reporters cannot be contacted: they follow their case on the "
        "follow-up page.",
        (f"Mean time to first contact: {format_number(mean_days, 'days')} days, over "
         f"{contacted:,} contacted case{'s' if contacted != 1 else ''}." if contacted
         else "No case in the period has been contacted yet.")])
    section.charts.append(_bars("Time to first contact", rows, "chart-first-contact"))
    section.tables.append(_counts_table("table-first-contact", "first_contact",
                                        "Time to first contact", "First contact", rows, total))
    mean = Table("table-first-contact-mean", "first_contact_mean",
                 "Mean time to first contact, over contacted cases", "Measure",
                 [Column("", "Value")])
    mean.rows = [Row("contacted", "Cases contacted", (contacted,)),
                 Row("mean_days", "Mean days to first contact", (mean_days,), kind="days")]
    section.tables.append(mean)
    return section


def _updates(read: summaries.Summary) -> Section:
    on_time, late = read.count("updates", "on_time"), read.count("updates", "late")
    share = _share(on_time, on_time + late)
    rows = [(key, label, read.count("fortnightly", key))
            for key, label in FORTNIGHTLY_LABELS.items()]
    section = Section("updates", "Fortnightly updates", notes=[
        "Every named reporter who can be reached gets an update at least every 14 days; "
        "an update counts as on time up to a day after it was due.",
        (f"{format_number(share, 'share')} of the {on_time + late:,} updates due were on "
         "time." if share is not None else "No update has been due yet.")])
    section.charts.append(_bars("Cases by their fortnightly updates", rows,
                                "chart-fortnightly"))
    updates = Table("table-updates", "updates", "Fortnightly updates due, on time and late",
                    "Updates", [Column("", "Value")])
    updates.rows = [Row("on_time", "Updates on time", (on_time,)),
                    Row("late", "Updates late", (late,)),
                    Row("share_on_time", "Share on time", (share,), kind="share")]
    counted = sum(n for _, _, n in rows)
    section.tables += [updates, _counts_table(
        "table-fortnightly", "fortnightly", "Cases by their fortnightly updates", "Cases",
        rows, counted)]
    return section


def _repeats(read: summaries.Summary) -> Section:
    section = Section("repeats", "Repeat locations and repeat victims", notes=[
        "Counts only: no place, person or case is named here. A place is compared "
        "whatever its spelling or punctuation; a victim by the contact details or channel "
        "they gave (named victims only).",
    ])
    rows = [
        ("location:repeat", "Reports at a place reported before",
         read.count("repeat_location", "repeat")),
        ("location:became_repeat", "Places that became repeat locations",
         read.count("repeat_location", "became_repeat")),
        ("victim:repeat", "Reports by a victim who reported before",
         read.count("repeat_victim", "repeat")),
        ("victim:became_repeat", "Victims who became repeat victims",
         read.count("repeat_victim", "became_repeat")),
    ]
    section.charts.append(_bars("Repeat locations and repeat victims", rows, "chart-repeats"))
    section.tables.append(_counts_table("table-repeats", "repeats",
                                        "Repeat locations and repeat victims", "Measure",
                                        rows, None))
    before = [(key, label, read.count("happened_before", key))
              for key, label in HAPPENED_BEFORE_LABELS.items()]
    section.tables.append(_counts_table(
        "table-happened-before", "happened_before",
        "Had it happened before? (the reporter's own answer)", "Answer", before,
        read.count("total")))
    return section


def _tension(filt: Filter, tension: Sequence[AreaAssessment] | None,
             settings: TensionSettings | None) -> Section:
    section = Section("tension", "Tension monitoring")
    if tension is None or settings is None:
        section.notes.append("Tension monitoring is not available.")
        return section
    days = settings.window_days
    section.notes.append(
        f"Now, whatever the period chosen: the reports in the last {days} days in each "
        f"area, against the number expected at its usual level (the {settings.baseline_days}"
        f" days before). An area is elevated, and managers are alerted, when at least "
        f"{settings.min_reports} reports would be this unlikely (p < {settings.p_value:g}) "
        "at its usual level. Cases with no area are counted but never alerted on.")
    rows = [row for row in tension
            if filt.area is None or (row.area or "") == filt.area]
    table = Table("table-tension", "tension", f"Reports in the last {days} days by area",
                  "Area", [Column("observed", f"Reports in the last {days} days"),
                           Column("expected", "Expected", "decimal"),
                           Column("elevated", "Elevated", "yesno")],
                  rows_are="area", period=f"last-{days}-days")
    table.rows = [Row(row.area or "", area_label(row.area or ""),
                      (row.observed, row.expected, int(row.elevated))) for row in rows]
    section.tables.append(table)
    return section


# -- the CSV -----------------------------------------------------------------------------

CSV_HEADER = ("section", "period", "area", "key", "label", "count")
#: A cell starting so is read as a formula by spreadsheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """``text`` with an apostrophe in front if a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def records(sections: Sequence[Section], filt: Filter) -> list[tuple[str, ...]]:
    """Every number of the sections' tables, one CSV row each (see :data:`CSV_HEADER`)."""
    out: list[tuple[str, ...]] = []
    for section in sections:
        for table in section.tables:
            numbered = [(i, column) for i, column in enumerate(table.columns) if column.csv]
            for row in table.rows:
                for i, column in numbered:
                    kind = column.kind if column.kind != "count" else row.kind
                    period, area = table.period or filt.period, filt.csv_area
                    if table.rows_are == "period":
                        period, key, label = row.key, column.key, column.heading
                    elif table.rows_are == "area":
                        area, key, label = row.key or NO_AREA, column.key, column.heading
                    else:
                        key = row.key + (f":{column.key}" if len(numbered) > 1 else "")
                        label = row.label + (f": {column.heading}" if len(numbered) > 1
                                             else "")
                    out.append((table.section, period, area, key, label,
                                csv_number(row.cells[i], kind)))
    return out


def to_csv(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return buffer.getvalue()


# -- the views -----------------------------------------------------------------------------


@bp.before_request
def _managers_only() -> ResponseReturnValue | None:
    """Signed-out people go to sign in; officers who are not managers get 403."""
    if not current_user.is_authenticated:
        answer: ResponseReturnValue = login_manager.unauthorized()
        return answer
    if not current_user.is_manager:
        _audit("denied", reason="trends")
        abort(403)
    return None


@dataclass
class _Read:
    filt: Filter
    problems: list[str]
    areas: list[str]
    sections: list[Section]
    this_month: str


def _configured_areas() -> tuple[str, ...]:
    return tuple(services().intake.engine.settings.areas)


def _read() -> _Read:
    """The filter asked for, and the sections for it: the summary for the period, the
    areas counted so far, the tension figures."""
    the = services()
    now: datetime = the.intake.clock()
    configured = _configured_areas()
    settings = _tension_settings()
    with the.sessions() as db:
        seen = summaries.areas_seen(db)
        areas = sorted(set(configured) | set(seen), key=str.casefold)
        first = (summaries.first_month(db) if request.args.get("preset") == "all_time"
                 else None)
        filt, problems = parse_filter(request.args, this_month=month_of(now),
                                      first_month=first, areas=areas)
        read = summaries.read(db, filt.start, filt.end, filt.area)
        tension = _tension_figures(db, now, settings, configured)
    sections = build(read, filt, configured_areas=configured, tension=tension,
                     settings=settings)
    return _Read(filt, problems, areas, sections, month_of(now))


def _tension_settings() -> TensionSettings | None:
    try:
        return tension_settings(current_app.config)
    except ValueError:  # pragma: no cover - create_app refuses to start with bad ones
        return None


def _tension_figures(db: Session, now: datetime, settings: TensionSettings | None,
                     configured: Sequence[str]) -> list[AreaAssessment] | None:
    if settings is None:
        return None
    return current_tension(db, now, settings, configured)


@bp.get("/trends")
def page() -> str:
    """The trends page for the filter asked for (managers only)."""
    found = _read()
    filt = found.filt
    _audit("view_trends", **filt.audit_data())
    area: dict[str, Any] = {"area": filt.area_value} if filt.area is not None else {}
    preset_links = [(url_for("trends.page", preset=key, **area), name)
                    for key, name in PRESETS.items()]
    period: dict[str, Any] = {"from": filt.start, "to": filt.end}
    csv_url = url_for("trends.download", **period, **area)
    per_month = next(t for t in found.sections[0].tables if t.id == "table-per-month")
    cases = sum(int(row.cells[0] or 0) for row in per_month.rows)
    return render_template("dashboard/trends.html", filt=filt, problems=found.problems,
                           areas=found.areas, sections=found.sections, cases=cases,
                           preset_links=preset_links, csv_url=csv_url, no_area=NO_AREA,
                           this_month=found.this_month)


@bp.get("/trends.csv")
def download() -> Response:
    """The page's numbers as CSV (managers only): ``section,period,area,key,label,count``."""
    found = _read()
    _audit("download_trends", **found.filt.audit_data())
    body = to_csv(records(found.sections, found.filt))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={found.filt.filename()}"})
