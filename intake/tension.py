"""Tension monitoring: managers are alerted when an area's reports rise well above its
usual level (see docs/tension.md).

The rule, per area, at a moment ``now`` (naive UTC):

- ``observed``: cases created in the window, the last ``window_days`` days;
- ``baseline``: cases created in the ``baseline_days`` days before the window;
- ``expected = max(baseline * window_days / baseline_days, baseline_floor)``: the
  baseline's rate over a window, and at least the floor, so a quiet area with no
  baseline does not alert on one or two reports;
- ``p = P(X >= observed)`` for ``X ~ Poisson(expected)``: how likely at least this many
  reports would be if the area's usual rate had not changed (computed exactly);
- the area is *elevated* when ``observed >= min_reports`` and ``p < p_value``.

:func:`check` (run by the scheduled jobs) queues one alert per newly elevated area to
every active manager through the outbox, and none again for that area for
``cooldown_days``. The alert names the area, the counts and a link to the trends page:
nothing about any case or person. Cases with no area are counted (under None) but never
alerted on. Nothing here knows Flask; the figures are computed on demand from the cases
(one grouped query on the ``created_at`` index), so no table of its own is needed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlencode

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from intake.casework import manager_order, officer_message
from intake.models import Case, Officer, OutboxMessage
from intake.outbox import enqueue
from intake.quiet import LONDON, UTC

log = logging.getLogger(__name__)

#: Where the alert links to, under the service's public URL.
TRENDS_PATH = "/dashboard/trends"
#: Every tension alert's idempotency key starts so: ``tension:{area}:{london date}:{manager id}``.
KEY_PREFIX = "tension:"
#: The longest window, baseline or cooldown accepted: ten years.
MAX_DAYS = 3650


@dataclass(frozen=True)
class TensionSettings:
    """The rule's parameters (configured as ``HATEREPORT_TENSION_*``)."""

    #: The recent window whose reports are compared with the usual level, in days.
    window_days: int = 14
    #: The baseline: this many days just before the window give the usual level.
    baseline_days: int = 28
    #: Alert when a count at least this high would be this unlikely at the usual level.
    p_value: float = 0.01
    #: ...and never on fewer reports than this in the window.
    min_reports: int = 3
    #: The least number of reports expected per window, whatever the baseline.
    baseline_floor: float = 0.5
    #: No new alert for an area this many days after the last (0: at most one a day).
    cooldown_days: int = 7

    def __post_init__(self) -> None:
        wrong = problems({name: getattr(self, name) for name in self.__dataclass_fields__})
        if wrong:
            raise ValueError("; ".join(f"{name} {why}" for name, why in wrong.items()))


def problems(values: Mapping[str, Any]) -> dict[str, str]:
    """What is wrong with these :class:`TensionSettings` values, by field (empty: all
    good): whole numbers of days (up to :data:`MAX_DAYS`) and reports, a p-value
    strictly between 0 and 1, a floor above 0."""
    wrong = {}
    for name, least, most in (("window_days", 1, MAX_DAYS), ("baseline_days", 1, MAX_DAYS),
                              ("min_reports", 1, None), ("cooldown_days", 0, MAX_DAYS)):
        value = values.get(name)
        if (isinstance(value, bool) or not isinstance(value, int) or value < least
                or (most is not None and value > most)):
            wrong[name] = (f"must be a whole number of at least {least}"
                           f"{f' and at most {most}' if most is not None else ''}, "
                           f"not {value!r}")
    p_value = values.get("p_value")
    if (isinstance(p_value, bool) or not isinstance(p_value, int | float)
            or not 0 < p_value < 1):
        wrong["p_value"] = f"must be a number between 0 and 1 (both excluded), not {p_value!r}"
    floor = values.get("baseline_floor")
    if (isinstance(floor, bool) or not isinstance(floor, int | float)
            or not (floor > 0 and math.isfinite(floor))):
        wrong["baseline_floor"] = f"must be a number above 0, not {floor!r}"
    return wrong


@dataclass(frozen=True, kw_only=True)
class Assessment:
    """One area's figures under the rule."""

    #: Reports in the window.
    observed: int
    #: Reports in the baseline period before it.
    baseline: int
    #: Reports expected in a window at the baseline's rate (at least the floor).
    expected: float
    #: P(Poisson(expected) >= observed).
    p: float
    elevated: bool


@dataclass(frozen=True, kw_only=True)
class AreaAssessment(Assessment):
    """An :class:`Assessment` for one area (None: the cases with no area)."""

    area: str | None


class Counts(NamedTuple):
    """One area's reports in the window and in the baseline period before it."""

    observed: int
    baseline: int


def poisson_tail(observed: int, expected: float) -> float:
    """P(X >= ``observed``) for X ~ Poisson(``expected``), exactly (to float precision).

    At or below the mean, one minus the sum of the terms below ``observed``; above it,
    the sum of the terms from ``observed`` on (they shrink, each ``expected / i`` times
    the last), which stays exact for tails far smaller than float rounding of 1 - CDF.
    Each first term is computed in logarithms, so large counts do not overflow."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    log_expected = math.log(expected)

    def term(i: int) -> float:
        return math.exp(i * log_expected - expected - math.lgamma(i + 1))

    if observed <= expected:
        return min(1.0, max(0.0, 1.0 - math.fsum(term(i) for i in range(observed))))
    total, current, i = 0.0, term(observed), observed
    while current > 0.0:
        total += current
        i += 1
        current *= expected / i
        if current <= total * 1e-17:
            break
    return min(1.0, total)


def assess(observed: int, baseline: int, settings: TensionSettings) -> Assessment:
    """Apply the rule to an area's counts."""
    expected = max(baseline * settings.window_days / settings.baseline_days,
                   float(settings.baseline_floor))
    p = poisson_tail(observed, expected)
    return Assessment(observed=observed, baseline=baseline, expected=expected, p=p,
                      elevated=observed >= settings.min_reports and p < settings.p_value)


def periods(now: datetime, settings: TensionSettings) -> tuple[datetime, datetime]:
    """The start of the baseline period and of the window (the window ends at ``now``)."""
    window_start = now - timedelta(days=settings.window_days)
    return window_start - timedelta(days=settings.baseline_days), window_start


def area_counts(session: Session, now: datetime, settings: TensionSettings
                ) -> dict[str | None, Counts]:
    """Reports per area (None: no area) in the window and in the baseline before it:
    one grouped query over the cases created since the baseline began, read on the
    ``created_at`` index. Every case counts, open or closed."""
    baseline_start, window_start = periods(now, settings)
    in_window = func.sum(case((Case.created_at >= window_start, 1), else_=0))
    rows = session.execute(
        select(Case.area, in_window, func.count())
        .where(Case.created_at >= baseline_start, Case.created_at <= now)
        .group_by(Case.area))
    found: dict[str | None, Counts] = {}
    for area, observed, total in rows:
        key = area or None
        before = found.get(key, Counts(0, 0))
        found[key] = Counts(before.observed + int(observed or 0),
                            before.baseline + int(total) - int(observed or 0))
    return found


def _sort_key(figures: AreaAssessment) -> tuple[bool, str]:
    return (figures.area is None, (figures.area or "").casefold())


def current(session: Session, now: datetime, settings: TensionSettings,
            areas: Iterable[str] = ()) -> list[AreaAssessment]:
    """Every area's figures now, by area name, the cases with no area (if any) last.

    ``areas`` (the configured areas) are listed even with no reports at all. The row
    for no area is assessed like the others, but :func:`check` never alerts on it."""
    counts = area_counts(session, now, settings)
    for name in areas:
        counts.setdefault(name, Counts(0, 0))
    listed = []
    for area, (observed, baseline) in counts.items():
        figures = assess(observed, baseline, settings)
        listed.append(AreaAssessment(area=area, observed=figures.observed,
                                     baseline=figures.baseline, expected=figures.expected,
                                     p=figures.p, elevated=figures.elevated))
    return sorted(listed, key=_sort_key)


def london_date(now: datetime) -> date:
    """The date in London at ``now`` (naive UTC)."""
    return now.replace(tzinfo=UTC).astimezone(LONDON).date()


def trends_link(area: str, link_base: str | None) -> str:
    """The trends page for ``area`` (a path alone when no public URL is configured)."""
    return f"{(link_base or '').rstrip('/')}{TRENDS_PATH}?{urlencode({'area': area})}"


def alert_text(figures: AreaAssessment, settings: TensionSettings,
               link_base: str | None) -> tuple[str, str]:
    """The alert's subject and text: the area, the counts, the link; short for SMS."""
    assert figures.area is not None
    subject = f"hatereport: reports up in {figures.area}"
    text = (f"{subject}: {figures.observed} in the last {settings.window_days} days, "
            f"{figures.expected:.1f} expected ({figures.baseline} in the "
            f"{settings.baseline_days} days before), p={figures.p:.2g}\n"
            f"{trends_link(figures.area, link_base)}")
    return subject, text


def _area_of_key(key: str) -> str:
    """The area of a tension alert's idempotency key (an area may hold a colon)."""
    return key[len(KEY_PREFIX):].rsplit(":", 2)[0]


def recently_alerted(session: Session, now: datetime, settings: TensionSettings
                     ) -> set[str]:
    """The areas a tension alert was queued for within the cooldown.

    Read from the outbox, which keeps every row (``Outbox.purge`` clears only the words
    and address of dead messages; the idempotency key and ``created_at`` stay). A row's
    ``next_attempt_at`` starts at ``created_at`` and only ever moves later, so the
    condition on it, redundant otherwise, lets the database read the recent rows on that
    column's index instead of the whole outbox."""
    if settings.cooldown_days <= 0:
        return set()
    cutoff = now - timedelta(days=settings.cooldown_days)
    keys = session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.next_attempt_at > cutoff, OutboxMessage.created_at > cutoff,
        OutboxMessage.idempotency_key.startswith(KEY_PREFIX, autoescape=True)))
    return {_area_of_key(key) for key in keys if key}


def check(session: Session, now: datetime, settings: TensionSettings,
          link_base: str | None) -> list[AreaAssessment]:
    """Alert every active manager about each elevated area not alerted on within the
    cooldown, in the caller's transaction; returns the areas alerted on.

    One message per manager and area, keyed ``tension:{area}:{London date}:{manager id}``
    (queued once, whatever happens). With no active manager nothing is queued and the
    area is alerted on at the first run after one exists, if it is still elevated."""
    elevated = [figures for figures in current(session, now, settings)
                if figures.elevated and figures.area is not None]
    if not elevated:
        return []
    quiet_areas = recently_alerted(session, now, settings)
    due = [figures for figures in elevated if figures.area not in quiet_areas]
    if not due:
        return []
    managers = sorted(session.scalars(select(Officer).where(
        Officer.active.is_(True), Officer.role == "manager")), key=manager_order)
    if not managers:
        log.warning("%d area(s) have reports well above their usual level and there is no "
                    "active manager to tell", len(due))
        return []
    today = london_date(now).isoformat()
    alerted = []
    for figures in due:
        assert figures.area is not None
        subject, text = alert_text(figures, settings, link_base)
        queued = 0
        for manager in managers:
            channel, address, payload = officer_message(manager, subject, text)
            key = f"{KEY_PREFIX}{figures.area}:{today}:{manager.id}"
            if enqueue(session, channel, address, payload, "alert", now,
                       idempotency_key=key) is not None:
                queued += 1
        if queued:
            log.info("tension alert: reports up in %s (%d observed, %.1f expected, "
                     "p=%.2g), %d manager(s) told", figures.area, figures.observed,
                     figures.expected, figures.p, queued)
            alerted.append(figures)
    return alerted
