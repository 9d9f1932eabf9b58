"""Follow-up by reference and secret code: how an anonymous reporter checks on their
report and adds to it, since no channel to them is kept.

The code is never stored, only a keyed hash of it with the reference
(``cases.followup_hash``). Guessing is bounded: after :data:`MAX_FAILURES` wrong codes
for one reference within :data:`WINDOW`, that reference is refused until the window has
passed, whatever code is given.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.cases import followup_hash, get_case
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


def find(session: Session, guard: AttemptGuard, reference: str, code: str) -> Case | None:
    """The case whose reference and code match, else None (and the failure counts)."""
    reference = reference.strip().upper()
    guard.check(reference)
    case = get_case(session, reference) if reference else None
    expected = case.followup_code_hash if case is not None else None
    given = followup_hash(reference, code.strip().upper()) if code.strip() else ""
    if expected is None or not hmac.compare_digest(expected, given):
        guard.failed(reference)
        return None
    return case


def status(session: Session, case: Case) -> Status:
    updates = session.scalars(select(CaseEvent.text).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "update_written")
        .order_by(CaseEvent.id.desc()).limit(5)).all()
    return Status(case.reference, case.language, case.status == "open",
                  case.officer.name if case.officer else None,
                  tuple(text for text in updates if text))
