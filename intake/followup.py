"""Follow-up by reference and secret code: how an anonymous reporter checks on their
report and adds to it, since no channel to them is kept.

On the web page (``web/followup.py``) the two come in a form; on any other channel
(SMS, Telegram, the web chat) in one message, which :func:`parse` recognises and
:func:`answer` replies to, in the report's language.

The code (about 65 random bits, in groups like ``7K3M-Q9PD-X4TWB``, always with a digit)
is shown once and stored only as an argon2 hash (``cases.hash_followup_code``). Guessing
is bounded: :data:`MAX_FAILURES` wrong codes for a reference within :data:`WINDOW` lock it
for as long, counted in the database (``intake.guard``) for any reference, real or not,
in every process alike. A code that slipped into text bound for a conversation or a
case is masked first (:func:`mask_codes`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake import guard
from intake.cases import followup_code_matches, get_case
from intake.engine import clean_text
from intake.guard import Limit, TooManyAttempts
from intake.i18n import N_, gettext
from intake.languages import codes
from intake.models import Case, CaseEvent

MAX_FAILURES = 5
WINDOW = timedelta(hours=1)
#: Wrong codes per reference: five within the hour lock it for the hour.
LIMIT = Limit("followup", MAX_FAILURES, WINDOW, WINDOW)
#: The longest message taken onto a case at once.
MAX_MESSAGE_CHARS = 10_000
#: What stands in for a secret code found in text kept for staff (a case, an answer).
CODE_REMOVED = "[code removed]"

__all__ = ["CODE_REMOVED", "LIMIT", "MAX_FAILURES", "MAX_MESSAGE_CHARS", "WINDOW",
           "Request", "Status", "TooManyAttempts", "answer", "find", "mask_codes",
           "normalise_reference", "parse", "status"]

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

# -- the reference and code in a message -----------------------------------------------

#: One symbol of a reference or code (``cases._ALPHABET``: no 0, 1, I or O).
_SYMBOL = "[2-9A-HJ-NP-Z]"
_DASHES = "\\-\u2010-\u2015\u2212"
#: Between groups: a space, a dash of any kind, or nothing ("7k3m q9pd x4twb").
_JOIN = f"[ \t\u00a0{_DASHES}]{{0,3}}"
_REFERENCE = re.compile(
    rf"(?<!\w)HR{_JOIN}(?P<r1>{_SYMBOL}{{4}}){_JOIN}(?P<r2>{_SYMBOL}{{4}})(?!\w)",
    re.IGNORECASE)
_CODE = re.compile(
    rf"(?<!\w)(?P<c1>{_SYMBOL}{{4}})(?P<j1>{_JOIN})(?P<c2>{_SYMBOL}{{4}})(?P<j2>{_JOIN})"
    rf"(?P<c3>{_SYMBOL}{{5}})(?!\w)", re.IGNORECASE)
_DIGIT = re.compile("[2-9]")
_DASH = re.compile(f"[{_DASHES}]")
#: "code", "code:" or "code is" just before a run of letters: then it is a code.
_CODE_LABEL = re.compile(rf"(?<!\w)code(?:\s+is)?\s*[:=#{_DASHES}]?\s*$", re.IGNORECASE)
#: Words that label a reference or code ("My reference is ...", "Ref: ...", "code ...").
_LABEL_AT_END = re.compile(
    r"(?<!\w)(?:and|my|the|your|this|report|case|secret|follow-?up|reference|ref|refno|"
    r"no|nr|num|number|code|pin|is|are|was|its|it's)$", re.IGNORECASE)
#: Spaces and punctuation around a reference, a code and their labels.
_PUNCTUATION = (" \t\n\u00a0,;:.!?#=\"'()[]<>*_/|\u2018\u2019\u201c\u201d"
                "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
#: Stand-ins for the reference and the code while the news around them is worked out.
_MARK_REFERENCE, _MARK_CODE = "\ue000", "\ue001"
_MARKS = re.compile(f"[{_MARK_REFERENCE}{_MARK_CODE}]")
#: The words of the message that confirms an anonymous report, which carry the reference
#: and code (``engine._submit``): pasted back, they are not news. The same msgids, so in
#: every language the catalogs have.
_CONFIRMATION = (
    "Thank you. Your report is sent. Reference: %(reference)s.",
    "Your secret code: %(code)s. Keep both private. To check on it, send both in one "
    "message, then any news, here or on any channel.",
    "Your report is confidential. We only share it if you agreed, or if a child or "
    "vulnerable adult may be at risk.",
    "If you are in danger, call 999 now.",
)


@dataclass(frozen=True)
class Request:
    """A message asking after a report: its reference and code, and any news to add."""

    reference: str
    #: Never shown in a repr, so never in a log or a traceback by accident.
    code: str = field(repr=False)
    #: What else the message says, to add to the case ("" for none): the words around
    #: the reference and code, without their labels ("my code is") or the code.
    message: str = ""


def _fold_digits(text: str) -> str:
    """``text`` with any script's decimal digits as ASCII, one character for one."""
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char
                   for char in text)


def _codes(folded: str) -> Iterator[re.Match[str]]:
    """Every code-shaped run of ``folded``, overlapping ones included (three words and
    then a code: the code is still found)."""
    position = 0
    while (found := _CODE.search(folded, position)) is not None:
        yield found
        position = found.start() + 1


def _has_digit(found: re.Match[str]) -> bool:
    return bool(_DIGIT.search(found["c1"] + found["c2"] + found["c3"]))


def _is_code(found: re.Match[str]) -> bool:
    """Whether a code-shaped run counts as a code. Every code given now has a digit.
    Older ones may have none (one in forty): those count typed as given, with dashes,
    or run together, but split by spaces alone ("they were there") only when labelled
    ("code: abcd efgh jklmn")."""
    if _has_digit(found) or all(not join or _DASH.search(join)
                                for join in (found["j1"], found["j2"])):
        return True
    return _CODE_LABEL.search(found.string, max(0, found.start() - 24),
                              found.start()) is not None


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each of ``spans`` replaced by as many characters that join nothing."""
    pieces: list[str] = []
    end = 0
    for start, stop in spans:
        pieces.extend((text[end:start], "#" * (stop - start)))
        end = stop
    pieces.append(text[end:])
    return "".join(pieces)


def _find(folded: str) -> tuple[re.Match[str], re.Match[str]] | None:
    """The first reference in ``folded`` and the first code outside any reference."""
    references = list(_REFERENCE.finditer(folded))
    if not references:
        return None
    for code in _codes(_blank(folded, [found.span() for found in references])):
        if _is_code(code):
            return references[0], code
    return None


def parse(text: str) -> Request | None:
    """The follow-up request ``text`` makes, if it has a reference and a secret code
    anywhere (either order, any case, with or without the dashes, labelled or not:
    "My reference is HR-... and my code is ..."), else None.

    Both must be there: an answer that merely mentions a reference is not a request (and
    costs no try). A code must have a digit, or be an older code typed with its dashes,
    run together or labelled, so "HR-... THEY WERE THERE again" is never taken for one.
    """
    text = clean_text(text)
    folded = _fold_digits(text)
    found = _find(folded)
    if found is None:
        return None
    reference, code = found
    news = _news(text, reference.span(), code.span())
    return Request(f"HR-{reference['r1']}-{reference['r2']}".upper(),
                   "-".join(code[group] for group in ("c1", "c2", "c3")).upper(),
                   mask_codes(news)[:MAX_MESSAGE_CHARS])


def _news(text: str, reference: tuple[int, int], code: tuple[int, int]) -> str:
    """What ``text`` says besides its reference and code: the words before, between and
    after them, without the labels that introduce them or the confirmation's own words."""
    marked = text
    for span, mark in sorted(((reference, _MARK_REFERENCE), (code, _MARK_CODE)),
                             reverse=True):
        marked = marked[:span[0]] + mark + marked[span[1]:]
    for pattern in _confirmation_patterns():
        marked = pattern.sub(" ", marked)
    pieces = _MARKS.split(marked)
    # Each piece but the last ends where a reference or code begins: drop its label.
    kept = [_without_label(piece) for piece in pieces[:-1]] + [pieces[-1]]
    parts = (piece.lstrip(_PUNCTUATION).rstrip() for piece in kept)
    return " ".join(part for part in parts if part)


def _without_label(piece: str) -> str:
    """``piece`` without the labels it ends with ("... and my code is:")."""
    while True:
        trimmed = piece.rstrip(_PUNCTUATION)
        tail = trimmed[-32:]
        label = _LABEL_AT_END.search(tail)
        if label is None:
            return trimmed
        piece = trimmed[:len(trimmed) - len(tail) + label.start()]


@lru_cache(maxsize=1)
def _confirmation_patterns() -> tuple[re.Pattern[str], ...]:
    """The confirmation's sentences in every shipped language, with the marks where the
    reference and code were."""
    return tuple(_sentence(translated) for msgid in _CONFIRMATION
                 for translated in sorted({gettext(code, msgid) for code in codes()}))


def _sentence(translated: str) -> re.Pattern[str]:
    """A pattern for one translated sentence, however it was spaced or wrapped."""
    regex = []
    for index, part in enumerate(re.split(r"%\((\w+)\)s", translated)):
        if index % 2:
            regex.append({"reference": _MARK_REFERENCE, "code": _MARK_CODE}.get(
                part, ".{0,80}?"))
            continue
        regex.append((r"\s*" if part[:1].isspace() else "")
                     + r"\s+".join(map(re.escape, part.split()))
                     + (r"\s*" if part[-1:].isspace() else ""))
    return re.compile("".join(regex), re.IGNORECASE)


def mask_codes(text: str) -> str:
    """``text`` (cleaned, as the engine would) with any secret code in it replaced by
    :data:`CODE_REMOVED`: what a conversation keeps, or a case shows staff, never holds a
    code. A code-shaped run with a digit goes wherever it is; without one (older codes)
    only in a message with a reference, and only as :func:`parse` takes it for a code."""
    text = clean_text(text)
    folded = _fold_digits(text)
    references = [found.span() for found in _REFERENCE.finditer(folded)]
    spans: list[tuple[int, int]] = []
    for found in _codes(_blank(folded, references)):
        if spans and found.start() < spans[-1][1]:
            continue
        if _has_digit(found) or (references and _is_code(found)):
            spans.append(found.span())
    for start, end in reversed(spans):
        text = text[:start] + CODE_REMOVED + text[end:]
    return text


def normalise_reference(reference: str) -> str:
    """A reference as typed, as stored: ``HR-7K3M-Q9PD`` from "hr 7k3m q9pd"; anything
    else upper-cased without spaces or dashes (counted alike, matched by nothing)."""
    compact = "".join(char for char in _fold_digits(clean_text(reference)).upper()
                      if char.isalnum())
    if len(compact) == 10 and compact.startswith("HR"):
        return f"HR-{compact[2:6]}-{compact[6:]}"
    return compact


@dataclass(frozen=True)
class Status:
    """What a reporter may see of their case: nothing an officer wrote for colleagues."""

    reference: str
    language: str
    open: bool
    officer: str | None
    #: The officer's updates written for the reporter, newest first.
    updates: tuple[str, ...]


def find(session: Session, reference: str, code: str, now: datetime) -> Case | None:
    """The case whose reference and code match, else None; :class:`TooManyAttempts` if
    the reference is locked.

    Every reference, real or made up, is counted alike in the database (``intake.guard``:
    the same lock in every process, after a restart too), and a missing case costs the
    same argon2 check as a wrong code, so the reference alone reveals nothing. Concurrent
    tries on one reference wait their turn: no more than :data:`MAX_FAILURES` are checked.
    """
    reference = normalise_reference(reference)
    guard.hold(session, LIMIT, reference, now)
    case = get_case(session, reference) if reference else None
    if followup_code_matches(case.followup_code_hash if case is not None else None, code):
        assert case is not None
        guard.clear(session, LIMIT, reference)
        return case
    guard.failed(session, LIMIT, reference, now)
    return None


def status(session: Session, case: Case) -> Status:
    """What the reporter of ``case`` may see of it."""
    updates = session.scalars(select(CaseEvent.text).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "update_written")
        .order_by(CaseEvent.id.desc()).limit(5)).all()
    return Status(case.reference, case.language, case.status == "open",
                  case.officer.name if case.officer else None,
                  tuple(text for text in updates if text))


def answer(locale: str, found: Status | None, *, locked: bool = False,
           danger: bool = False, news: bool = False, added_to: str | None = None) -> str:
    """The reply to a follow-up request, in ``locale``: the case's status, officer and
    latest update, or why nothing is shown; whether ``news`` was added (to the report
    ``added_to``); and first of all, if the message spoke of ``danger``, to call 999."""
    lines = [gettext(locale, DANGER)] if danger else []
    if locked or found is None:
        lines.append(gettext(locale, TOO_MANY if locked else NO_MATCH))
    else:
        lines.append(gettext(locale, REPORT, reference=found.reference))
        lines.append(gettext(locale, OPEN if found.open else CLOSED))
        if found.officer:
            lines.append(gettext(locale, OFFICER, officer=found.officer))
        if found.updates:
            lines.extend((gettext(locale, UPDATES), found.updates[0]))
        else:
            lines.append(gettext(locale, NO_UPDATES))
        if added_to is None and not news:
            lines.append(gettext(locale, HOW_TO_ADD))
    if added_to is not None:
        lines.append(gettext(locale, ADDED, reference=added_to))
    return "\n".join(lines)
