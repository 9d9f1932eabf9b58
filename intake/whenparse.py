"""Work out a date from the reporter's own words for "when did it happen"."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta

import dateparser
from dateparser.search import search_dates

log = logging.getLogger(__name__)

#: Words dateparser misses in the shipped languages (inflected weekdays, colloquial
#: "yesterday"), checked only when it finds nothing: a number of days back, or a weekday
#: (Monday 0) meaning the last one before today.
_DAYS_BACK = "days"
_WEEKDAY = "weekday"
SUPPLEMENT: dict[str, dict[str, tuple[str, int]]] = {
    "hu": {word: (_WEEKDAY, day) for day, word in enumerate(
        ("hétfőn", "kedden", "szerdán", "csütörtökön", "pénteken", "szombaton", "vasárnap"))},
    "lt": {word: (_WEEKDAY, day) for day, word in enumerate(
        ("pirmadienį", "antradienį", "trečiadienį", "ketvirtadienį", "penktadienį",
         "šeštadienį", "sekmadienį"))},
    "lv": {word: (_WEEKDAY, day) for day, word in enumerate(
        ("pirmdien", "otrdien", "trešdien", "ceturtdien", "piektdien", "sestdien",
         "svētdien"))},
    "ar": {"البارحة": (_DAYS_BACK, 1), "ليلة أمس": (_DAYS_BACK, 1), "امس": (_DAYS_BACK, 1)},
    "ur": {"کل": (_DAYS_BACK, 1), "کل رات": (_DAYS_BACK, 1), "گزشتہ رات": (_DAYS_BACK, 1),
           "پرسوں": (_DAYS_BACK, 2), "آج": (_DAYS_BACK, 0),
           **{word: (_WEEKDAY, day) for day, word in enumerate(
               ("پیر", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ", "اتوار"))}},
    "pa": {"ਕੱਲ੍ਹ": (_DAYS_BACK, 1), "ਕੱਲ": (_DAYS_BACK, 1), "ਕੱਲ੍ਹ ਰਾਤ": (_DAYS_BACK, 1),
           "ਅੱਜ": (_DAYS_BACK, 0),
           **{word: (_WEEKDAY, day) for day, word in enumerate(
               ("ਸੋਮਵਾਰ", "ਮੰਗਲਵਾਰ", "ਬੁੱਧਵਾਰ", "ਵੀਰਵਾਰ", "ਸ਼ੁੱਕਰਵਾਰ", "ਸ਼ਨੀਵਾਰ", "ਐਤਵਾਰ"))}},
    "ckb": {"دوێنێ": (_DAYS_BACK, 1), "دوێنێ شەو": (_DAYS_BACK, 1), "ئەمڕۆ": (_DAYS_BACK, 0),
            "پێری": (_DAYS_BACK, 2),
            **{word: (_WEEKDAY, day) for day, word in enumerate(
                ("دووشەممە", "سێشەممە", "چوارشەممە", "پێنجشەممە", "هەینی", "شەممە",
                 "یەکشەممە"))}},
}


def _supplement(text: str, locale: str, today: date) -> date | None:
    words = SUPPLEMENT.get(locale)
    if not words:
        return None
    folded = " ".join(text.casefold().split())
    for phrase in sorted(words, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", folded):
            kind, value = words[phrase]
            if kind == _DAYS_BACK:
                return today - timedelta(days=value)
            back = (today.weekday() - value) % 7 or 7
            return today - timedelta(days=back)
    return None


def parse_when(text: str, locale: str, now: datetime) -> date | None:
    """The date ``text`` names, relative to ``now`` (local time), or None if unclear.

    Incidents are in the past, so ambiguous words ("Friday") mean the last one; a date
    that would fall in the future is not trusted.
    """
    settings = {
        "PREFER_DATES_FROM": "past",
        "RELATIVE_BASE": now,
        "DATE_ORDER": "DMY",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    languages = [locale] if locale != "en" else ["en"]
    try:
        found = dateparser.parse(text[:200], languages=languages, settings=settings)
        if found is None:
            matches = search_dates(text[:500], languages=languages, settings=settings)
            found = matches[0][1] if matches else None
    except (ValueError, OverflowError, LookupError):
        log.info("date parsing failed for one answer")
        return None
    if found is None:
        return _supplement(text[:500], locale, now.date())
    if found.date() > now.date():
        return None
    return found.date()


def warm_up(locales: list[str]) -> None:
    """Load dateparser's language data now, not on the first reporter's answer (~150 ms)."""
    now = datetime(2026, 1, 1, 12, 0)
    for locale in locales:
        parse_when("yesterday", locale, now)
        parse_when("it was on the 3rd", locale, now)
