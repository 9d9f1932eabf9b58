"""Follow-up by reference and secret code: how an anonymous reporter checks on their
report and adds to it, since no channel to them is kept.

The code (65 random bits, in groups like ``7K3M-Q9PD-X4TWB``) is shown once and stored
only as an argon2 hash (``cases.hash_followup_code``). Guessing is bounded: after
:data:`MAX_FAILURES` wrong codes in a row a case's follow-up is locked for
:data:`WINDOW`, recorded on the case; any reference is also limited in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.cases import followup_code_matches, get_case
from intake.guard import AttemptGuard, TooManyAttempts
from intake.models import Case, CaseEvent

MAX_FAILURES = 5
WINDOW = 60 * 60.0

__all__ = ["MAX_FAILURES", "WINDOW", "Status", "TooManyAttempts", "find", "new_guard",
           "status"]


def new_guard() -> AttemptGuard:
    """The guard against guessing codes: :data:`MAX_FAILURES` per reference per hour."""
    return AttemptGuard(MAX_FAILURES, WINDOW)


@dataclass(frozen=True)
class Status:
    """What a reporter may see of their case: nothing an officer wrote for colleagues."""

    reference: str
    language: str
    open: bool
    officer: str | None
    #: The officer's updates written for the reporter, newest first.
    updates: tuple[str, ...]


def find(session: Session, guard: AttemptGuard, reference: str, code: str,
         now: datetime) -> Case | None:
    """The case whose reference and code match, else None.

    A wrong code counts against the case in the database: after :data:`MAX_FAILURES` in a
    row its follow-up is locked for :data:`WINDOW` (across processes and restarts). Any
    reference, real or not, is also limited in memory, and a missing case costs the same
    argon2 check as a wrong code, so the reference alone reveals nothing.
    """
    reference = reference.strip().upper()
    guard.check(reference)
    case = get_case(session, reference) if reference else None
    if case is not None and case.followup_locked_until is not None and (
            case.followup_locked_until > now):
        raise TooManyAttempts(reference)
    if followup_code_matches(case.followup_code_hash if case is not None else None, code):
        assert case is not None
        case.followup_failures = 0
        guard.clear(reference)
        return case
    guard.failed(reference)
    if case is not None and case.followup_code_hash is not None:
        case.followup_failures = (case.followup_failures or 0) + 1
        if case.followup_failures >= MAX_FAILURES:
            case.followup_locked_until = now + timedelta(seconds=WINDOW)
            case.followup_failures = 0
    return None


def status(session: Session, case: Case) -> Status:
    updates = session.scalars(select(CaseEvent.text).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "update_written")
        .order_by(CaseEvent.id.desc()).limit(5)).all()
    return Status(case.reference, case.language, case.status == "open",
                  case.officer.name if case.officer else None,
                  tuple(text for text in updates if text))
