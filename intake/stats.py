"""Monitoring: a de-identified summary of the cases, kept up to date as they change.

Every case contributes counts to ``stats_counts``: one per (London month reported, area,
dimension, value), e.g. (``2026-10``, ``Normanton``, ``characteristic``, ``race``). A
SQLAlchemy ``before_flush`` hook compares what a new or changed case counts now
(:func:`facts`) with what it counted before (kept, encrypted, on the case), and moves the
difference into the summary in the same transaction, so the summary is never behind the
cases it describes. The trends page and the published quarterly figures read only the
summary: a few thousand rows, whatever the number of cases. :func:`rebuild` recomputes
it from the cases and their timelines (after an upgrade, or to check it).

Dimensions (``dim``) and their values:

- ``total`` (value ""): every case.
- ``characteristic``: each perceived characteristic (a case may count under several);
  ``not_recorded`` when none was given. ``association``: ``yes`` when by association.
- ``behaviour``: each behaviour; ``not_recorded`` when none.
- ``channel``, ``language``, ``classification`` (hate crime or incident), ``status``
  (open or closed), ``outcome`` (``open`` until closed, then the closing outcome).
- ``first_contact``: how soon an officer first recorded contact with the reporter
  (``within_1_day``, ``within_3_days``, ``within_7_days``, ``over_7_days``), or
  ``not_yet``, or ``anonymous`` (cannot be contacted). ``first_contact_minutes`` (value
  ""): the sum of the minutes, for the mean.
- ``updates`` (``on_time``, ``late``): fortnightly updates, summed over cases.
- ``fortnightly``: per case, ``yes`` (every update due so far was on time), ``no``,
  ``not_yet_due``, or ``not_applicable`` (anonymous: only the follow-up page).
- ``repeat_location`` / ``repeat_victim``: ``repeat`` for a report at a place (by a
  victim) reported before, ``first`` for the first report; ``became_repeat`` also counts
  the second report, once per place (victim): the places (victims) that became repeats.
- ``happened_before``: the reporter's own answer (yes, no, not_sure, not_recorded).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction, lazyload
from sqlalchemy.orm.exc import StaleDataError

from intake.crypto import keyed_hash
from intake.models import Case, CaseEvent, StatsCount

LONDON = ZoneInfo("Europe/London")
#: Places a person can be found at; online platforms are not locations.
PHYSICAL_PLACES = frozenset({"home", "neighbourhood", "elsewhere"})
#: How soon the first contact came, as (limit, value), in order.
FIRST_CONTACT_BUCKETS: tuple[tuple[timedelta, str], ...] = (
    (timedelta(days=1), "within_1_day"),
    (timedelta(days=3), "within_3_days"),
    (timedelta(days=7), "within_7_days"),
)
#: The fortnight between updates (``intake.updates.PERIOD`` is this; kept here so the
#: summary does not import the sweep).
UPDATE_PERIOD = timedelta(days=14)
#: An update counts as on time up to a day after it was due (the sweep holds updates
#: through the night, and runs every minute or so otherwise).
ON_TIME_GRACE = timedelta(days=1)
#: A summary cell: (month, area, dim, value).
Key = tuple[str, str, str, str]


def month_of(moment: datetime) -> str:
    """The London month (``YYYY-MM``) of a naive UTC datetime."""
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(LONDON).strftime("%Y-%m")


# -- repeat locations and victims ------------------------------------------------------

_NOT_WORD = re.compile(r"[^\w]+")


def normalise_place(text: str) -> str:
    """A place as compared for repeats: case, accents, punctuation and spacing ignored
    ("12, Oak St." and "12 oak st" match)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return " ".join(_NOT_WORD.sub(" ", plain).split())


#: A UK phone number as people write it: 07700 900123, +44 7700 900123, 0044 (0)7700...
_PHONE = re.compile(r"(?:(?:\+|\b00)\s*44\s*(?:\(0\)\s*)?|\b0)(\d(?:[\s-]?\d){8,9})\b")
_EMAIL = re.compile(r"[^\s<>(),;:]+@[^\s<>(),;:]+")
#: Words that say where without saying which place: a place made only of these ("at
#: home", "outside my flat") would pool unrelated reports, so it is not compared.
_VAGUE = frozenset("""a an and at by dont don t i in into it know my near next not of
on our outside sure the their to unknown we were where home house flat building street
road estate stairs stairwell door garden car park shop shops bus stop school work""".split())


def _contact_key(details: str) -> str:
    """What identifies a victim in the contact details they gave: the email address as
    written (case aside), else the UK phone number's own digits, else the words."""
    if (email := _EMAIL.search(details)) is not None:
        return "email:" + email.group(0).casefold().rstrip(".")
    if (phone := _PHONE.search(details)) is not None:
        return "phone:" + "".join(char for char in phone.group(1) if char.isdigit())
    return "text:" + normalise_place(details)


def place_hash(case: Case) -> str | None:
    """The keyed hash of a case's place and area, if it happened at a physical place
    named well enough to tell apart ("12 Oak Street", not "outside my house")."""
    if case.where_type not in PHYSICAL_PLACES or not case.place:
        return None
    normal = normalise_place(case.place)
    if len(normal) < 4 or set(normal.split()) <= _VAGUE:
        return None
    return keyed_hash(f"stats\x00place\x00{case.area or ''}\x00{normal}")


def victim_hash(case: Case) -> str | None:
    """The keyed hash of a named victim (their contact details, else the channel they
    reported from); None for anonymous reports and reports about someone else."""
    if case.anonymous or case.role != "victim":
        return None
    if case.contact_details and case.contact_details.strip():
        return keyed_hash(f"stats\x00victim\x00{_contact_key(case.contact_details)}")
    if case.channel_identity_hash:
        return keyed_hash(f"stats\x00victim\x00channel\x00{case.channel_identity_hash}")
    return None


def _earlier(session: Session, column: Any, value: str) -> int:
    """How many cases have ``value`` in ``column``: 0, 1, or 2 for two or more."""
    return session.scalar(select(func.count()).select_from(
        select(Case.id).where(column == value).limit(2).subquery())) or 0


def mark_repeats(session: Session, case: Case) -> None:
    """Set how many earlier cases were at a new case's place, and from its victim (-1:
    not known), and keep the hashes that later cases are compared with. An anonymous
    case keeps no hash: nothing may link it to the reporter's other cases."""
    place, victim = place_hash(case), victim_hash(case)
    with session.no_autoflush:
        case.place_seen = -1 if place is None else _earlier(session, Case.place_hash, place)
        case.victim_seen = (-1 if victim is None
                            else _earlier(session, Case.victim_hash, victim))
    case.place_hash = None if case.anonymous else place
    case.victim_hash = victim


# -- what a case counts ----------------------------------------------------------------


def _first_contact(case: Case) -> str:
    if case.first_contact_at is None:
        return "anonymous" if case.anonymous else "not_yet"
    waited = case.first_contact_at - case.created_at
    return next((value for limit, value in FIRST_CONTACT_BUCKETS if waited <= limit),
                "over_7_days")


def _fortnightly(case: Case) -> str:
    if case.anonymous:
        return "not_applicable"
    if not (case.updates_on_time or case.updates_late):
        return "not_yet_due"
    return "no" if case.updates_late else "yes"


def _repeat(seen: int) -> list[str]:
    if seen < 0:
        return []
    return ["first"] if seen == 0 else ["repeat", "became_repeat"] if seen == 1 else ["repeat"]


def facts(case: Case) -> dict[str, Any]:
    """What ``case`` counts in the summary now: its month and area, and the values it
    counts one under per dimension (``v``), and the measures it adds (``m``)."""
    values: dict[str, list[str]] = {
        "total": [""],
        "characteristic": sorted(set(case.characteristics or ())) or ["not_recorded"],
        "behaviour": sorted(set(case.behaviours or ())) or ["not_recorded"],
        "channel": [case.channel],
        "language": [case.language],
        "classification": [case.classification],
        "status": [case.status],
        "outcome": [case.outcome or "open"] if case.status == "closed" else ["open"],
        "first_contact": [_first_contact(case)],
        "fortnightly": [_fortnightly(case)],
        "repeat_location": _repeat(-1 if case.place_seen is None else case.place_seen),
        "repeat_victim": _repeat(-1 if case.victim_seen is None else case.victim_seen),
        "happened_before": [case.repeated or "not_recorded"],
    }
    if case.by_association:
        values["association"] = ["yes"]
    measures: dict[str, int] = {
        "updates:on_time": case.updates_on_time or 0,
        "updates:late": case.updates_late or 0,
    }
    if case.first_contact_at is not None:
        waited = case.first_contact_at - case.created_at
        measures["first_contact_minutes:"] = max(0, int(waited.total_seconds() // 60))
    return {"month": month_of(case.created_at), "area": case.area or "",
            "v": {dim: vals for dim, vals in values.items() if vals},
            "m": {name: n for name, n in measures.items() if n}}


#: Special-category dimensions: the summary stores their values as keyed tokens, so
#: the table holds no characteristic in clear (a month and area with one case would
#: otherwise spell out that case's). :func:`untoken` maps them back for reading.
SENSITIVE_DIMS = frozenset({"characteristic", "association"})


def token(dim: str, value: str) -> str:
    """The stored form of a sensitive dimension's value."""
    return "t:" + keyed_hash(f"stats\x00value\x00{dim}\x00{value}")[:32]


def untoken(dim: str, known: Iterable[str]) -> dict[str, str]:
    """Stored token to value, for ``dim``'s possible ``known`` values."""
    return {token(dim, value): value for value in known}


def cells(counted: dict[str, Any] | None) -> Counter[Key]:
    """The summary cells a case's :func:`facts` add up to (as stored: sensitive values
    as tokens)."""
    out: Counter[Key] = Counter()
    if not counted:
        return out
    month, area = counted["month"], counted["area"]
    for dim, vals in counted["v"].items():
        for value in vals:
            stored = token(dim, value) if dim in SENSITIVE_DIMS else value
            out[(month, area, dim, stored)] += 1
    for name, n in counted["m"].items():
        dim, _, value = name.partition(":")
        out[(month, area, dim, value)] += n
    return out


# -- keeping the summary ---------------------------------------------------------------


def _upsert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    name = connection.dialect.name
    if name == "postgresql":
        pg = postgresql.insert(StatsCount)
        statement: Any = pg.on_conflict_do_update(
            index_elements=["month", "area", "dim", "value"],
            set_={"n": StatsCount.n + pg.excluded.n})
    elif name == "sqlite":
        lite = sqlite.insert(StatsCount)
        statement = lite.on_conflict_do_update(
            index_elements=["month", "area", "dim", "value"],
            set_={"n": StatsCount.n + lite.excluded.n})
    else:  # pragma: no cover - the service runs on SQLite or PostgreSQL
        raise RuntimeError(f"no summary upsert for {name}")
    connection.execute(statement, rows)


def apply(connection: Connection, delta: Counter[Key]) -> None:
    """Add ``delta`` to the summary. Cells are written in one order, so two
    transactions changing the same cells wait for each other instead of deadlocking."""
    rows = [{"month": key[0], "area": key[1], "dim": key[2], "value": key[3], "n": n}
            for key, n in sorted(delta.items()) if n]
    if rows:
        _upsert(connection, rows)


def _keep_counts(session: Session, _context: UOWTransaction,
                 _instances: Iterable[object] | None) -> None:
    """Before a flush: move every new, changed or deleted case's counts."""
    if session.info.get(REBUILDING):
        return
    delta: Counter[Key] = Counter()
    moved: dict[int, dict[str, Any] | None] = {}
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Case):
            now = facts(obj)
            if now != obj.counted:
                if obj.id is not None:
                    moved[obj.id] = obj.counted
                delta.update(cells(now))
                delta.subtract(cells(obj.counted))
                obj.counted = now
    for obj in session.deleted:
        if isinstance(obj, Case):
            delta.subtract(cells(obj.counted))
    if moved:
        _still_as_read(session.connection(), moved)
    if any(delta.values()):
        apply(session.connection(), delta)


class StaleCaseError(StaleDataError):
    """A case's counts changed in another transaction since this one read it: moving
    them from what was read would count the other change twice. Nothing is written;
    try again with the case read afresh (the dashboard and the sweep lock the row)."""


def _still_as_read(connection: Connection, moved: dict[int, dict[str, Any] | None]) -> None:
    """On PostgreSQL, lock the changed cases' rows and check their counts are still
    those read (SQLite's writers take turns for the whole transaction already)."""
    if connection.dialect.name != "postgresql":
        return
    for start in range(0, len(moved), 500):
        ids = sorted(moved)[start:start + 500]
        for case_id, counted in connection.execute(
                select(Case.id, Case.counted).where(Case.id.in_(ids))
                .order_by(Case.id).with_for_update()):
            if counted != moved[case_id]:
                raise StaleCaseError(f"case {case_id} changed in another transaction")


#: Set in a session's ``info`` while :func:`rebuild` writes the summary itself.
REBUILDING = "hatereport.stats.rebuilding"
event.listen(Session, "before_flush", _keep_counts)


# -- rebuilding ------------------------------------------------------------------------

#: Cases read and written per step of a rebuild.
REBUILD_BATCH = 2000


def derive_from_timeline(case: Case, events: list[CaseEvent],
                         on_time_grace: timedelta) -> None:
    """Set the monitoring columns a case's timeline implies (for cases from before they
    were kept): first and latest contact, outcome, fortnightly updates on time."""
    contacts = [event.at for event in events if event.kind == "contact"]
    case.first_contact_at = min(contacts, default=None)
    case.last_contact_at = max(contacts, default=None)
    closed = [event for event in events if event.kind == "closed"]
    case.outcome = (closed[-1].data or {}).get("outcome") if closed else None
    on_time = late = 0
    if not case.anonymous:
        for event in events:
            if event.kind not in ("update_sent", "update_due_officer"):
                continue
            due = datetime.fromisoformat(str((event.data or {}).get("due", event.at)))
            if event.kind == "update_sent":
                ok = event.at <= due + on_time_grace
            else:
                # As the sweep judged it then: the latest contact recorded before it.
                last = max((at for at in contacts if at <= event.at), default=None)
                ok = last is not None and due - UPDATE_PERIOD <= last <= due + on_time_grace
            on_time, late = on_time + ok, late + (not ok)
    case.updates_on_time, case.updates_late = on_time, late



def rebuild(session: Session, progress: Callable[[int, int], None] | None = None,
            *, from_timelines: bool = True) -> int:
    """Recompute the summary from every case (and, with ``from_timelines``, each case's
    monitoring columns from its timeline, and its repeat hashes). Returns the number of
    cases. Runs in the caller's transaction; ``progress(done, total)`` after each batch."""
    if session.get_bind().dialect.name == "postgresql":
        # Reports submitted meanwhile wait at their first count until this commits.
        session.execute(text("LOCK TABLE stats_counts IN SHARE ROW EXCLUSIVE MODE"))
    total = session.scalar(select(func.count()).select_from(Case)) or 0
    session.execute(delete(StatsCount))
    seen_places: Counter[str] = Counter()
    seen_victims: Counter[str] = Counter()
    summary: Counter[Key] = Counter()
    done, last_id = 0, 0
    session.info[REBUILDING] = True
    try:
        while True:
            batch = list(session.scalars(
                select(Case).where(Case.id > last_id).order_by(Case.id)
                .limit(REBUILD_BATCH).options(lazyload(Case.events), lazyload(Case.officer))))
            if not batch:
                break
            timelines: dict[int, list[CaseEvent]] = {case.id: [] for case in batch}
            if from_timelines:
                for item in session.scalars(
                        select(CaseEvent).where(CaseEvent.case_id.in_(list(timelines)),
                                                CaseEvent.kind.in_(
                                                    ("contact", "closed", "update_sent",
                                                     "update_due_officer")))
                        .order_by(CaseEvent.id)):
                    timelines[item.case_id].append(item)
            for case in batch:
                if from_timelines:
                    derive_from_timeline(case, timelines[case.id], ON_TIME_GRACE)
                    # As mark_repeats did when each came in, in order.
                    place, victim = place_hash(case), victim_hash(case)
                    case.place_seen = -1 if place is None else min(seen_places[place], 2)
                    case.victim_seen = -1 if victim is None else min(seen_victims[victim], 2)
                    case.place_hash = None if case.anonymous else place
                    case.victim_hash = victim
                    if case.place_hash:
                        seen_places[case.place_hash] += 1
                    if victim:
                        seen_victims[victim] += 1
                now = facts(case)
                summary.update(cells(now))
                if now != case.counted:
                    case.counted = now
            session.flush()
            session.expunge_all()
            done += len(batch)
            last_id = batch[-1].id
            if progress is not None:
                progress(done, total)
    finally:
        session.info.pop(REBUILDING, None)
    apply(session.connection(), summary)
    return done


def check(session: Session) -> Counter[Key]:
    """The differences between the summary and what the cases count now (empty when
    they agree): for tests and ``hatereport stats check``."""
    expected: Counter[Key] = Counter()
    for case in session.scalars(
            select(Case).options(lazyload(Case.events), lazyload(Case.officer))
            .execution_options(yield_per=REBUILD_BATCH)):
        expected.update(cells(facts(case)))
    stored: Counter[Key] = Counter({
        (row.month, row.area, row.dim, row.value): row.n
        for row in session.scalars(select(StatsCount))})
    diff = Counter(expected)
    diff.subtract(stored)
    return Counter({key: n for key, n in diff.items() if n})


def unbuilt(session: Session) -> int:
    """How many cases the summary does not count yet (from before it was kept)."""
    return session.scalar(select(func.count()).select_from(Case)
                          .where(Case.counted.is_(None))) or 0


