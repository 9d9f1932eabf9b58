"""Quiet hours: no message to a reporter between 21:00 and 08:00 Europe/London."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

QUIET_FROM = time(21, 0)
QUIET_UNTIL = time(8, 0)
LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")


def quiet(now: datetime) -> bool:
    """Whether ``now`` (naive UTC) falls in the quiet hours in London."""
    local = now.replace(tzinfo=UTC).astimezone(LONDON).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


def morning_after(now: datetime) -> datetime:
    """The end of the quiet hours ``now`` falls in (naive UTC): 08:00 London."""
    local = now.replace(tzinfo=UTC).astimezone(LONDON)
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    morning = datetime.combine(day, QUIET_UNTIL, tzinfo=LONDON)
    return morning.astimezone(UTC).replace(tzinfo=None)
