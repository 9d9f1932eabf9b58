"""Follow-up by reference and secret code: how an anonymous reporter checks on their
report and adds to it, since no channel to them is kept.

On the web page (``web/followup.py``) the two come in a form; on any other channel
(SMS, Telegram, the web chat) in one message, which :func:`parse` recognises and
:func:`answer` replies to, in the report's language.

The code (65 random bits, in groups like ``7K3M-Q9PD-X4TWB``) is shown once and stored
only as an argon2 hash (``cases.hash_followup_code``). Guessing is bounded: after
:data:`MAX_FAILURES` wrong codes in a row a case's follow-up is locked for
:data:`WINDOW`, recorded on the case; any reference is also limited in memory.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.cases import followup_code_matches, get_case
from intake.engine import clean_text
from intake.guard import AttemptGuard, TooManyAttempts
from intake.i18n import N_, gettext
from intake.models import Case, CaseEvent

MAX_FAILURES = 5
WINDOW = 60 * 60.0
#: The longest message taken onto a case at once.
MAX_MESSAGE_CHARS = 10_000

__all__ = ["MAX_FAILURES", "MAX_MESSAGE_CHARS", "WINDOW", "Request", "Status",
           "TooManyAttempts", "answer", "find", "new_guard", "parse", "status"]

#: Said alike for a wrong code and a reference that does not exist: the reference alone
#: reveals nothing.
NO_MATCH = N_("That reference and code do not match. Check them and try again.")
TOO_MANY = N_("Too many tries for this reference. Please try again in an hour.")
ADDED = N_("Thank you. We have added this to your report %(reference)s. Your officer "
           "will see it.")
# The follow-up page's own words, reused in a reply on any channel.
REPORT = N_("Your report %(reference)s")
OPEN = N_("Your report is open: it is still being worked on.")
CLOSED = N_("Your report has been closed.")
OFFICER = N_("Your officer is %(officer)s.")
UPDATES = N_("Updates from your officer")
NO_UPDATES = N_("No updates yet.")
DANGER = N_("If you are in danger, call 999 now.")
HOW_TO_ADD = N_("To add to your report, send your reference and code again with your "
                "message after them.")

# -- the reference and code in one message ---------------------------------------------

#: One symbol of a reference or code (``cases._ALPHABET``: no 0, 1, I or O).
_SYMBOL = "[2-9A-HJ-NP-Z]"
#: Between groups: a space, a dash of any kind, or nothing ("7k3m q9pd x4twb").
_JOIN = "[ \t\u00a0\\-\u2010-\u2015\u2212]{0,3}"
_REFERENCE = rf"HR{_JOIN}(?P<r1>{_SYMBOL}{{4}}){_JOIN}(?P<r2>{_SYMBOL}{{4}})"
_CODE = (rf"(?P<c1>{_SYMBOL}{{4}}){_JOIN}(?P<c2>{_SYMBOL}{{4}}){_JOIN}"
         rf"(?P<c3>{_SYMBOL}{{5}})")
#: What may come before the first and between the two: spaces and punctuation, no words.
_LEAD = r"^[\W_]*?"
_BETWEEN = r"(?!\w)[\W_]*?"
_END = r"(?!\w)"
#: Both orders, each from the start of the message: reference then code, or the reverse.
_REQUESTS = (
    re.compile(_LEAD + _REFERENCE + _BETWEEN + _CODE + _END, re.IGNORECASE),
    re.compile(_LEAD + _CODE + _BETWEEN + _REFERENCE + _END, re.IGNORECASE),
)
_DIGIT = re.compile("[2-9]")
#: Separators between the code and the news ("HR-... CODE: they came back").
_NEWS_LEAD = re.compile(r"^[\s,;:.\-\u2010-\u2015\u2212]+")


@dataclass(frozen=True)
class Request:
    """A message asking after a report: its reference and code, and any news to add."""

    reference: str
    #: Never shown in a repr, so never in a log or a traceback by accident.
    code: str = field(repr=False)
    #: What came after the reference and code, to add to the case ("" for none).
    message: str = ""


def _fold_digits(text: str) -> str:
    """``text`` with any script's decimal digits as ASCII, one character for one."""
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char
                   for char in text)


def parse(text: str) -> Request | None:
    """The follow-up request ``text`` makes, if it starts with a reference and a secret
    code (in either order, any case, with or without the dashes), else None.

    Both must be there, one straight after the other: an answer that merely mentions a
    reference is not taken for a request (and costs no try). Three words after a
    reference ("they were there") can look like a code, so a code without a digit (one
    in forty) split by spaces alone counts only in capitals, as it was given.
    """
    text = clean_text(text)
    folded = _fold_digits(text)
    for pattern in _REQUESTS:
        found = pattern.match(folded)
        if found is None:
            continue
        parts = {name: value.upper() for name, value in found.groupdict().items()}
        code = f"{parts['c1']}-{parts['c2']}-{parts['c3']}"
        joins = (folded[found.end("c1"):found.start("c2")],
                 folded[found.end("c2"):found.start("c3")])
        typed = folded[found.start("c1"):found.end("c3")]
        if not _DIGIT.search(code) and any(join.isspace() for join in joins) and (
                not typed.isupper()):
            return None  # three words, most likely
        news = _NEWS_LEAD.sub("", text[found.end():]).strip()
        return Request(f"HR-{parts['r1']}-{parts['r2']}", code, news[:MAX_MESSAGE_CHARS])
    return None


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
    """What the reporter of ``case`` may see of it."""
    updates = session.scalars(select(CaseEvent.text).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "update_written")
        .order_by(CaseEvent.id.desc()).limit(5)).all()
    return Status(case.reference, case.language, case.status == "open",
                  case.officer.name if case.officer else None,
                  tuple(text for text in updates if text))


def answer(locale: str, found: Status | None, *, locked: bool = False, added: bool = False,
           danger: bool = False, news: bool = False) -> str:
    """The reply to a follow-up request, in ``locale``: the case's status, officer and
    latest update, and whether ``news`` was added; or why nothing is shown."""
    if locked:
        return gettext(locale, TOO_MANY)
    if found is None:
        return gettext(locale, NO_MATCH)
    lines = [gettext(locale, DANGER)] if danger else []
    lines.append(gettext(locale, REPORT, reference=found.reference))
    lines.append(gettext(locale, OPEN if found.open else CLOSED))
    if found.officer:
        lines.append(gettext(locale, OFFICER, officer=found.officer))
    if found.updates:
        lines.extend((gettext(locale, UPDATES), found.updates[0]))
    else:
        lines.append(gettext(locale, NO_UPDATES))
    if added:
        lines.append(gettext(locale, ADDED, reference=found.reference))
    elif not news:
        lines.append(gettext(locale, HOW_TO_ADD))
    return "\n".join(lines)
