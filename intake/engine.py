"""The conversation engine: (conversation, inbound text) -> replies and stored answers.

Channel-neutral: it takes plain text and returns :class:`Reply` objects with text and
choices; each channel adapter renders those its own way (numbered on SMS, buttons on
the web). Every function that touches the database takes the session first; the
caller owns the transaction.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy.orm import Session

from intake import cases, conversations
from intake.areas import DERBY_AREAS, detect_area
from intake.detect import suggest_languages
from intake.flow import (
    FIRST_STEP,
    REVIEW_STEP,
    STEPS,
    STEPS_BY_ID,
    AnswerType,
    Step,
)
from intake.i18n import N_, gettext, ngettext
from intake.languages import DEFAULT_LANGUAGE, LANGUAGES, get_language, is_shipped
from intake.languages import codes as language_codes
from intake.models import Case, Conversation
from intake.whenparse import parse_when

#: The longest single answer kept; far beyond any real report, it bounds abuse.
MAX_ANSWER_CHARS = 100_000
#: After a pause, a free-text message of at least this many words is taken as the answer
#: (shorter ones, like "hi" or "I'm back", just resume).
RESUME_ANSWER_WORDS = 4
FREE_TEXT_KINDS = frozenset({AnswerType.TEXT, AnswerType.TIME, AnswerType.PLACE})
#: Free-text questions whose answers are prose, and so tell the reporter's language.
PROSE_STEPS = frozenset({"description", "outcome", "when"})
#: Commands that, on a free-text question, only count when sent as /command.
SLASH_ONLY_ON_FREE_TEXT = frozenset({"stop"})

SKIP = "skip"
DONE = "done"
SUBMIT = "submit"
EDIT = "edit"
EDIT_PREFIX = "edit:"
BACK_TO_REVIEW = "review"

#: Words a reporter may send at any step; each msgid is a "|"-separated list that a
#: translator extends with their own language's words.
COMMAND_WORDS: dict[str, str] = {
    "help": N_("help|?"),
    "back": N_("back|go back|previous"),
    "restart": N_("restart|start again|start over"),
    "stop": N_("stop|quit|cancel|pause"),
    "language": N_("language|languages|change language"),
}
SKIP_WORDS = N_("skip|pass|don't know|dont know|prefer not to say")
DONE_WORDS = N_("done|finished|that's all|thats all|nothing else")
YES_WORDS = N_("yes|y|yeah|yep|yup")
NO_WORDS = N_("no|n|nope|nah")
SUBMIT_WORDS = N_("send|submit|send report|send it")
EDIT_WORDS = N_("change|edit|change an answer")
#: Words that mean danger now, matched anywhere in a message (whole words).
EMERGENCY_WORDS = N_(
    "in danger|danger now|being attacked|attacking me|attacked now|999|emergency|"
    "going to kill|kill me|hurting me|outside my door|breaking in|trying to get in"
)
#: Said at once when a reporter is in danger now.
URGENT_ADVICE = N_(
    "If you are in danger now, call 999 and ask for the police. If you can't talk, "
    "call 999 from a mobile and press 55 when asked. Your report is marked urgent. "
    "When you are safe, carry on."
)
#: The language menu's value for a language the service does not ship.
OTHER_LANGUAGE = "other"
#: Words that, just before an emergency phrase, negate it ("I'm not in danger").
NEGATION_WORDS = N_("not|no longer|never|isn't|aren't|wasn't|am not|i'm not")

#: Control and zero-width characters, and lone surrogates (not encodable as UTF-8).
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff\ud800-\udfff]"
)
_LIST_SEPARATORS = re.compile(r"\s*(?:,|;|/|&|\+|\u060c|\u061b|\band\b)\s*",
                              flags=re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ReplyChoice:
    """An option shown with a reply: the label to show and the value to send back."""

    label: str
    value: str
    #: The language the label is written in, when not the reply's (a language's own name).
    locale: str | None = None


@dataclass(frozen=True)
class Reply:
    """One neutral outbound message."""

    text: str
    choices: tuple[ReplyChoice, ...] = ()
    #: The choices may be combined ("1 3"): a channel may say so.
    multiple: bool = False
    #: A shorter text a channel that pays per message (SMS) may send instead.
    brief: str | None = None
    #: The language the text is in, when not the conversation's (an offer made in the
    #: language the reporter seems to write).
    locale: str | None = None


@dataclass
class TurnResult:
    """What one turn produced: replies, and whether the report was just submitted."""

    replies: list[Reply] = field(default_factory=list)
    done: bool = False
    reference: str | None = None
    followup_code: str | None = None
    #: Set when this turn raised urgency (danger now or an emergency word).
    urgent_raised: bool = False
    #: The conversation's language after the turn, for channels that add words of their own.
    locale: str = "en"
    #: Set on the turn that submitted the report: the new case, for casework to allocate.
    submitted_case_id: int | None = None
    #: A message written after submission, for casework to add to the case.
    case_message: str | None = None
    #: What the conversation waits on after the turn (a step or a menu), so a channel can
    #: tie a button to its question and a stale button is not taken for a new answer.
    asking: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able copy, kept to answer a repeated message the same way."""
        return {
            "replies": [{"text": reply.text,
                         "choices": [[choice.label, choice.value, choice.locale]
                                     for choice in reply.choices],
                         "multiple": reply.multiple, "brief": reply.brief,
                         "locale": reply.locale}
                        for reply in self.replies],
            "done": self.done,
            "reference": self.reference,
            "followup_code": self.followup_code,
            "urgent_raised": self.urgent_raised,
            "locale": self.locale,
            "asking": self.asking,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TurnResult:
        """The inverse of :meth:`to_json`."""
        return cls(
            replies=[Reply(reply["text"], tuple(ReplyChoice(*choice[:3])
                                                for choice in reply["choices"]),
                           bool(reply.get("multiple")), reply.get("brief"), reply.get("locale"))
                     for reply in data["replies"]],
            done=bool(data["done"]),
            reference=data.get("reference"),
            followup_code=data.get("followup_code"),
            urgent_raised=bool(data.get("urgent_raised")),
            locale=str(data.get("locale") or "en"),
            asking=data.get("asking"),
        )


@dataclass(frozen=True)
class EngineSettings:
    """What the engine needs from configuration."""

    areas: tuple[str, ...] = DERBY_AREAS
    conversation_ttl: timedelta = timedelta(hours=72)
    timezone: str = "Europe/London"


class InvalidAnswer(Exception):
    """The text does not answer the step; ``hint`` says what would."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def clean_text(text: str) -> str:
    """Normalise inbound text: NFC, no control or zero-width characters, trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text).strip()


#: The scripts the shipped languages are written in (Unicode character name prefixes).
SHIPPED_SCRIPTS = ("LATIN", "ARABIC", "GURMUKHI", "ETHIOPIC")


def _foreign_script(text: str) -> bool:
    """Whether ``text`` has several letters, none in a script a shipped language uses."""
    letters = [char for char in text if char.isalpha()]
    return len(letters) >= 3 and not any(
        unicodedata.name(char, "").startswith(SHIPPED_SCRIPTS) for char in letters)


def _fold_digits(text: str) -> str:
    """``text`` with every script's decimal digits as ASCII ("٩٩٩" is "999")."""
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char
                   for char in text)


def _key(text: str) -> str:
    """A matching key: case-folded, inner whitespace collapsed, edge punctuation dropped."""
    # Any script's decimal digits count ("۱ ۳" is "1 3"); Arabic, Urdu and Gurmukhi
    # punctuation is stripped like the Latin.
    folded = _fold_digits(" ".join(text.casefold().split()))
    return folded.strip(" .!?,;:'\"\u2019\u060c\u061b\u061f\u06d4\u0964")


@lru_cache(maxsize=512)
def _vocabulary(locale: str, msgid: str) -> frozenset[str]:
    """The matching keys of a "|"-separated word list in ``locale``."""
    # Each translation lists the English words that also work in its language: English
    # words are not added blindly ("no" means "yeah" in Polish, Czech and Slovak).
    words = set((msgid if locale == DEFAULT_LANGUAGE else gettext(locale, msgid)).split("|"))
    return frozenset(key for key in (_key(word) for word in words) if key)


@lru_cache(maxsize=64)
def _emergency_pattern(locale: str) -> re.Pattern[str]:
    """One pattern matching any emergency phrase of ``locale`` as whole words."""
    phrases = sorted(_vocabulary(locale, EMERGENCY_WORDS), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, phrases)) + r")(?!\w)")


@lru_cache(maxsize=64)
def _negation_pattern(locale: str) -> re.Pattern[str]:
    """A negation directly before a phrase ("not in danger").

    Only directly: with a word between, "nie wiem, bije mnie" ("I don't know, he's
    hitting me") or "he will not stop hurting me" would read as denials. Leaning that way
    costs at worst some 999 advice that was not needed.
    """
    words = sorted(_vocabulary(locale, NEGATION_WORDS), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")\s+$")


class Engine:
    """Drives the declarative flow for any channel."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self._tz = ZoneInfo(self.settings.timezone)

    # -- the vocabulary, per locale ------------------------------------------------

    def _command(self, locale: str, text: str, free_text: bool = False) -> str | None:
        """The command ``text`` names, if it is one.

        On a free-text question "stop" may well be the answer ("for it to stop"), so
        there only ``/stop`` pauses.
        """
        if text.strip() == "?":
            return "help"
        key = _key(text)
        if not key:
            return None
        if key.startswith("/"):
            key = key[1:]
            if key in COMMAND_WORDS:
                return key
        for command, msgid in COMMAND_WORDS.items():
            if key in _vocabulary(locale, msgid):
                if free_text and command in SLASH_ONLY_ON_FREE_TEXT:
                    return None
                return command
        return None

    def _danger_phrases(self, locale: str, text: str) -> list[bool]:
        """For each phrase meaning danger now in ``text``: whether it is negated.

        Danger is looked for in every shipped language, not only the conversation's: a
        reporter may write in their own language before choosing it. A phrase is negated
        by the negation words of the language it is written in.
        """
        folded = _fold_digits(" ".join(text.casefold().replace("\u2019", "'").split()))
        found: list[bool] = []
        for code in (locale, *(other for other in language_codes() if other != locale)):
            negation = _negation_pattern(code)
            found.extend(bool(negation.search(folded[:match.start()]))
                         for match in _emergency_pattern(code).finditer(folded))
            if found and code == locale:
                break  # the conversation's own language decides when it has a phrase
        return found

    def is_emergency(self, locale: str, text: str) -> bool:
        """Say whether ``text`` has a phrase meaning danger now that is not negated."""
        return not all(self._danger_phrases(locale, text))

    def _denies_danger(self, locale: str, text: str) -> bool:
        """Say whether ``text`` names danger only to deny it ("I'm not in danger")."""
        negated = self._danger_phrases(locale, text)
        return bool(negated) and all(negated)

    # -- lifecycle ------------------------------------------------------------------

    def start(
        self,
        session: Session,
        channel: str,
        now: datetime,
        locale: str | None = None,
        identity_hash: str | None = None,
        first_text: str | None = None,
    ) -> tuple[Conversation, TurnResult]:
        """Open a new conversation and return it with its greeting and first question.

        ``first_text`` is the message that opened it on a channel where the reporter writes
        first (SMS, Telegram): danger words in it count at once.
        """
        conversation = Conversation(
            id=secrets.token_urlsafe(24),
            channel=channel,
            identity_hash=identity_hash,
            locale=locale if locale and is_shipped(locale) else DEFAULT_LANGUAGE,
            step=FIRST_STEP,
            status="active",
            mode=None,
            # A language chosen up front (a web page in that language) is not second-guessed.
            answers={"_language_checked": True} if locale and locale != DEFAULT_LANGUAGE
            and is_shipped(locale) else {},
            history=[],
            urgent=False,
            last_message_id=None,
            last_result=None,
            created_at=now,
            updated_at=now,
        )
        conversations.insert_new(session, conversation)
        result = TurnResult()
        result.replies.append(self._greeting(conversation))
        first = clean_text(first_text or "")
        if first and self._command(conversation.locale, first) is None and self.is_emergency(
            conversation.locale, first
        ):
            # Danger first: the advice, then (unless a language is being offered, which
            # comes in that language) the greeting, then the next question.
            turn = self.handle(session, conversation, first, now)
            greeting = [] if conversation.mode == "confirm_language" else result.replies
            result.replies = [*turn.replies[:1], *greeting, *turn.replies[1:]]
            result.urgent_raised = turn.urgent_raised
        else:
            result.replies.append(self._ask(conversation))
        if first and self._command(conversation.locale, first) is None:
            self._offer_language(conversation, first, result)
        return conversation, result

    def _greeting(self, conversation: Conversation) -> Reply:
        return Reply(self._t(conversation, N_(
            "Hello. You can report hate crime or a hate incident here, safely. You can "
            "stay anonymous. Send help at any time."
        )))

    def reopen(self, session: Session, channel: str, now: datetime, identity_hash: str,
               case: Case) -> Conversation:
        """A conversation for a reporter writing about their submitted case after the
        first one expired: what they send goes onto the case (``restart`` starts anew)."""
        conversation = Conversation(
            id=secrets.token_urlsafe(24), channel=channel, identity_hash=identity_hash,
            locale=case.language if is_shipped(case.language) else DEFAULT_LANGUAGE,
            step=REVIEW_STEP, status="submitted", mode=None,
            answers={"_reference": case.reference, "_language_checked": True}, history=[],
            urgent=False, last_message_id=None, last_result=None, case_id=case.id,
            created_at=now, updated_at=now,
        )
        conversations.insert_new(session, conversation)
        return conversation

    def load(self, session: Session, conversation_id: str, now: datetime) -> Conversation | None:
        """Fetch a live conversation; an expired one is deleted and reported as absent."""
        conversation = conversations.load(session, conversation_id)
        if conversation is None:
            return None
        if self.is_expired(conversation, now):
            conversations.remove(session, conversation_id)
            return None
        return conversation

    def replay(self, session: Session, conversation: Conversation, message_id: str
               ) -> TurnResult | None:
        """The reply already given to ``message_id``, if it was the last message."""
        if conversation.last_message_id != message_id:
            return None
        kept = conversations.last_result(session, conversation.id)
        return None if kept is None else TurnResult.from_json(kept)

    def save(self, session: Session, conversation: Conversation) -> None:
        """Write back what a turn changed (guarded against a concurrent turn)."""
        conversations.save(session, conversation)

    def is_expired(self, conversation: Conversation, now: datetime) -> bool:
        """Say whether ``conversation`` was left longer than the configured time."""
        return conversation.updated_at + self.settings.conversation_ttl <= now

    def expire(self, session: Session, now: datetime) -> int:
        """Delete every conversation left longer than the configured time, answers and all."""
        return conversations.remove_idle_since(session, now - self.settings.conversation_ttl)

    def current(self, conversation: Conversation) -> TurnResult:
        """The question the conversation is waiting on, for resuming it."""
        result = TurnResult()
        if conversation.status == "submitted":
            result.done = True
            result.reference = self._reference(conversation)
            result.replies.append(self._already_sent(conversation))
        else:
            result.replies.append(self._ask(conversation))
        return result

    # -- one turn -------------------------------------------------------------------

    def handle(
        self, session: Session, conversation: Conversation, text: str, now: datetime
    ) -> TurnResult:
        """Advance ``conversation`` by one inbound message and return the replies.

        The first message written in words (not a button, number or command) also
        suggests a language: if it is not the conversation's, the reporter is asked, in
        that language, whether to carry on in it. Nothing changes language unasked.
        """
        text = clean_text(text)
        free = conversation.mode is None and self._is_free_text(conversation, text)
        result = self._turn(session, conversation, text, now)
        if free:
            self._offer_language(conversation, text, result)
        return result

    def _turn(
        self, session: Session, conversation: Conversation, text: str, now: datetime
    ) -> TurnResult:
        text = clean_text(text)
        result = TurnResult()
        conversation.updated_at = now
        answers = dict(conversation.answers or {})
        locale = conversation.locale
        step = STEPS_BY_ID[conversation.step]
        free_text = conversation.mode is None and step.kind in FREE_TEXT_KINDS
        command = self._command(locale, text, free_text=free_text)

        # Safety first, whatever state the conversation is in.
        if command is None and text and self.is_emergency(locale, text):
            self._raise_urgency(conversation, result)

        if conversation.status == "submitted":
            return self._after_submission(conversation, command, text, result)

        if conversation.mode == "confirm_restart":
            return self._answer_restart_confirmation(conversation, text, result)

        if conversation.status == "paused":
            conversation.status = "active"
            result.replies.append(Reply(self._t(conversation, N_(
                "Welcome back. Let's carry on where you left off."
            ))))
            # "Hi" or "I'm back" resumes; a real answer (or a command) is taken as one.
            if command is None and free_text and len(text.split()) < RESUME_ANSWER_WORDS:
                result.replies.append(self._ask(conversation))
                return result

        if command is not None:
            return self._run_command(conversation, command, result)

        if conversation.mode == "language":
            return self._answer_language_menu(conversation, text, result)
        if conversation.mode == "confirm_language":
            return self._answer_language_confirmation(conversation, text, result)
        if conversation.mode in ("interpreter_lang", "interpreter_call"):
            return self._answer_interpreter(conversation, text, result)
        if conversation.mode == "edit":
            return self._answer_edit_menu(conversation, text, result)

        if step.kind is AnswerType.REVIEW:
            return self._answer_review(session, conversation, text, now, result)

        if step.id == "safety" and result.urgent_raised:
            # "They're attacking me" (even "no, they're attacking me") answers "are you
            # in danger?" well enough.
            return self._store(conversation, step, "yes", answers, result)
        try:
            value = self._parse(conversation, step, text, answers, now)
        except InvalidAnswer as invalid:
            if not result.urgent_raised:
                result.replies.append(Reply(invalid.hint))
            result.replies.append(self._ask(conversation))
            return result

        if value is _PENDING:
            # A single pick on a multiple choice: keep it and offer the rest.
            result.replies.append(self._ask(conversation))
            return result

        return self._store(conversation, step, value, answers, result)

    def _store(self, conversation: Conversation, step: Step, value: Any,
               answers: dict[str, Any], result: TurnResult) -> TurnResult:
        """Keep an accepted answer, then ask the next question."""
        answers.pop("_pending", None)
        answers.pop("_editing", None)
        answers[step.id] = value
        if step.id == "safety":
            answers["_danger"] = value == "yes"
            if value == "yes" and not result.urgent_raised:
                self._raise_urgency(conversation, result)
        for note_value, note in step.notes:
            if value == note_value:
                result.replies.append(Reply(self._t(conversation, note)))
        conversation.answers = answers
        self._advance(conversation)
        result.replies.append(self._ask(conversation))
        return result

    def _after_submission(self, conversation: Conversation, command: str | None, text: str,
                          result: TurnResult) -> TurnResult:
        reference = self._reference(conversation) or ""
        if command == "restart":
            self._reset(conversation)
            result.replies.append(Reply(self._t(conversation, N_(
                "Your report %(reference)s has been sent and is not affected. Let's start a "
                "new report."
            ), reference=reference)))
            result.replies.append(self._ask(conversation))
            return result
        result.done = True
        result.reference = reference or None
        repeat = (_key(text) in _vocabulary(conversation.locale, SUBMIT_WORDS)
                  or self._match_choice(self._review_choices(conversation), text) is not None)
        if command is None and text and not repeat and conversation.case_id is not None:
            # More to say about the report: it goes onto the case, for the officer.
            result.case_message = text
            result.replies.append(Reply(self._t(conversation, N_(
                "Thank you. We have added this to your report %(reference)s. Your officer "
                "will see it."
            ), reference=reference)))
            return result
        result.replies.append(self._already_sent(conversation))
        return result

    def _answer_restart_confirmation(self, conversation: Conversation, text: str,
                                     result: TurnResult) -> TurnResult:
        picked = self._match_choice(self._restart_choices(conversation), text)
        conversation.mode = None
        if (picked is not None and picked.value == "yes") or (
            _key(text) in _vocabulary(conversation.locale, YES_WORDS)
        ):
            self._reset(conversation)
            result.replies.append(Reply(self._t(conversation, N_(
                "OK, let's start again. Your earlier answers have been deleted."
            ))))
        else:
            result.replies.append(Reply(self._t(conversation, N_(
                "OK, nothing has been deleted. Let's carry on."
            ))))
        result.replies.append(self._ask(conversation))
        return result

    # -- commands and menus ---------------------------------------------------------

    def _run_command(self, conversation: Conversation, command: str, result: TurnResult
                     ) -> TurnResult:
        if command == "help":
            step = STEPS_BY_ID[conversation.step]
            if step.help and conversation.mode is None:
                result.replies.append(Reply(self._t(conversation, step.help)))
            result.replies.append(Reply(self._t(conversation, N_(
                "You can send 'back' to go to the last question, 'restart' to start again, "
                "'language' to change language, '/stop' to pause, or 'skip' to leave a "
                "question out. If you are in danger, call 999. If it is not an emergency, "
                "you can call the police on 101, or Stop Hate UK any time on 0800 138 1625."
            ))))
            result.replies.append(self._ask(conversation))
        elif command == "back":
            self._back(conversation)
            result.replies.append(self._ask(conversation))
        elif command == "stop":
            conversation.status = "paused"
            conversation.mode = None
            hours = int(self.settings.conversation_ttl.total_seconds() // 3600)
            result.replies.append(Reply(ngettext(
                conversation.locale,
                "OK, we have stopped. Nothing has been sent. What you wrote is kept safely "
                "for %(num)d hour so you can carry on: just send a message.",
                "OK, we have stopped. Nothing has been sent. What you wrote is kept safely "
                "for %(num)d hours so you can carry on: just send a message.",
                hours,
            )))
        elif command == "language":
            conversation.mode = "language"
            result.replies.append(self._ask(conversation))
        elif command == "restart":
            if not self._has_answers(conversation):
                self._reset(conversation)
                result.replies.append(self._ask(conversation))
            else:
                conversation.mode = "confirm_restart"
                result.replies.append(self._ask(conversation))
        return result

    def _has_answers(self, conversation: Conversation) -> bool:
        return any(not key.startswith("_") for key in (conversation.answers or {}))

    def _answer_language_menu(self, conversation: Conversation, text: str, result: TurnResult
                              ) -> TurnResult:
        choices = self._language_menu_choices(conversation)
        picked = self._match_choice(choices, text)
        if picked is None:
            result.replies.append(Reply(self._t(conversation, N_(
                "Please choose a language from the list."
            ))))
        elif picked.value == OTHER_LANGUAGE:
            conversation.mode = "interpreter_lang"
        else:
            self._switch_language(conversation, picked.value, result)
        result.replies.append(self._ask(conversation))
        return result

    def _switch_language(self, conversation: Conversation, code: str, result: TurnResult
                         ) -> None:
        """Carry on in ``code``, as the reporter chose."""
        conversation.locale = code
        conversation.mode = None
        answers = dict(conversation.answers or {})
        answers["_language_checked"] = True
        answers.pop("_suggested_language", None)
        answers.pop("_also_suggested", None)
        fresh = not self._has_answers(conversation)
        conversation.answers = answers
        if fresh:
            result.replies.append(self._greeting(conversation))
        else:
            result.replies.append(Reply(self._t(conversation, N_(
                "OK, we will continue in %(language)s."
            ), language=get_language(code).native_name)))

    def _answer_language_confirmation(self, conversation: Conversation, text: str,
                                      result: TurnResult) -> TurnResult:
        answers = conversation.answers or {}
        suggested = str(answers.get("_suggested_language") or conversation.locale)
        picked = self._match_choice(self._confirm_language_choices(conversation), text)
        key = _key(text)
        if picked is None and (key in _vocabulary(suggested, YES_WORDS)):
            picked = ReplyChoice("", "yes")
        elif picked is None and (key in _vocabulary(suggested, NO_WORDS)
                                 or key in _vocabulary(conversation.locale, NO_WORDS)):
            picked = ReplyChoice("", "keep")
        if picked is None:
            result.replies.append(self._ask(conversation))
            return result
        if picked.value == "yes":
            self._switch_language(conversation, suggested, result)
        elif picked.value.startswith("lang:"):
            self._switch_language(conversation, picked.value[len("lang:"):], result)
        elif picked.value == "menu":
            conversation.mode = "language"
        else:
            conversation.mode = None
            conversation.answers = {**answers, "_language_checked": True}
        result.replies.append(self._ask(conversation))
        return result

    def _answer_interpreter(self, conversation: Conversation, text: str, result: TurnResult
                            ) -> TurnResult:
        """Another language: its name, then a number or time to call with an interpreter."""
        answers = dict(conversation.answers or {})
        interpreter = dict(answers.get("_interpreter") or {})
        skipped = _key(text) == SKIP or _key(text) in _vocabulary(conversation.locale,
                                                                     SKIP_WORDS)
        if not text or (skipped and conversation.mode == "interpreter_lang"):
            result.replies.append(self._ask(conversation))
            return result
        if conversation.mode == "interpreter_lang":
            interpreter["language"] = text[:200]
            conversation.mode = "interpreter_call"
        else:
            interpreter["contact"] = None if skipped else text[:500]
            conversation.mode = None
            answers["_language_checked"] = True
            result.replies.append(Reply(self._t(conversation, N_(
                "Thank you. Your report will be marked for a call with an interpreter. "
                "Let's carry on here for now: short answers are fine."
            ))))
        answers["_interpreter"] = interpreter
        conversation.answers = answers
        result.replies.append(self._ask(conversation))
        return result

    def _is_free_text(self, conversation: Conversation, text: str) -> bool:
        """Words the reporter wrote, as opposed to a button, a number or a command."""
        if not any(char.isalpha() for char in text) or self._command(
            conversation.locale, text
        ) is not None:
            return False
        key = _key(text)
        if any(key in _vocabulary(conversation.locale, words)
               for words in (SKIP_WORDS, DONE_WORDS, YES_WORDS, NO_WORDS)):
            return False
        step = STEPS_BY_ID[conversation.step]
        if step.kind in FREE_TEXT_KINDS:
            # Names, addresses and numbers say nothing about a language; prose does.
            return step.id in PROSE_STEPS
        choices = self._step_choices(conversation, step) if step.kind is not AnswerType.REVIEW \
            else self._review_choices(conversation)
        return self._match_choice(choices, text) is None and not self._split_picks(
            choices, text)

    def _offer_language(self, conversation: Conversation, text: str, result: TurnResult
                        ) -> None:
        """After the first words a reporter writes: offer their language if it isn't this."""
        answers = dict(conversation.answers or {})
        if answers.get("_language_checked") or conversation.status != "active" or (
            conversation.mode is not None
        ):
            return
        if len(text.split()) < 2 and all(
            "LATIN" in unicodedata.name(char, "") for char in text if char.isalpha()
        ):
            return  # one Latin-script word ("skip", "ok", a name) says too little
        suggestions = suggest_languages(text, language_codes())
        if not suggestions and _foreign_script(text):
            # Written in a script no shipped language uses: offer every language, and an
            # interpreter for any other.
            answers["_language_checked"] = True
            conversation.answers = answers
            conversation.mode = "language"
            advice = result.replies[:1] if result.urgent_raised else []
            result.replies[:] = [*advice, self._ask(conversation)]
            return
        if not suggestions:
            return  # too little to go on: wait for the next words
        answers["_language_checked"] = True
        if suggestions[0] == conversation.locale:
            conversation.answers = answers
            return
        answers["_suggested_language"] = suggestions[0]
        # The runner-up too, when it is close kin (Czech and Slovak share many words).
        runner_up = [code for code in suggestions[1:2] if code != conversation.locale]
        answers["_also_suggested"] = runner_up[0] if runner_up else None
        conversation.answers = answers
        conversation.mode = "confirm_language"
        # The turn's words were in the wrong language: say it again in the one offered.
        urgent = result.urgent_raised
        result.replies.clear()
        if urgent:
            result.replies.append(Reply(gettext(suggestions[0], URGENT_ADVICE),
                                        locale=suggestions[0]))
        result.replies.append(self._ask(conversation))

    def _answer_edit_menu(self, conversation: Conversation, text: str, result: TurnResult
                          ) -> TurnResult:
        choices = self._edit_choices(conversation)
        picked = self._match_choice(choices, text)
        if picked is None:
            result.replies.append(Reply(self._t(conversation, N_(
                "Please choose the answer you want to change."
            ))))
        elif picked.value == BACK_TO_REVIEW:
            conversation.mode = None
        else:
            conversation.mode = None
            step_id = picked.value[len(EDIT_PREFIX):]
            conversation.answers = {**(conversation.answers or {}), "_editing": step_id}
            self._goto(conversation, step_id)
        result.replies.append(self._ask(conversation))
        return result

    def _answer_review(self, session: Session, conversation: Conversation, text: str,
                       now: datetime, result: TurnResult) -> TurnResult:
        key = _key(text)
        choices = self._review_choices(conversation)
        picked = self._match_choice(choices, text)
        if key in _vocabulary(conversation.locale, SUBMIT_WORDS):
            picked = choices[0]
        elif key in _vocabulary(conversation.locale, EDIT_WORDS):
            picked = choices[1]
        if picked is None:
            result.replies.append(Reply(self._t(conversation, N_(
                "Please choose Send report, or Change an answer."
            ))))
            result.replies.append(self._ask(conversation))
            return result
        if picked.value == EDIT:
            conversation.mode = "edit"
            result.replies.append(self._ask(conversation))
            return result
        return self._submit(session, conversation, now, result)

    def _submit(self, session: Session, conversation: Conversation, now: datetime,
                result: TurnResult) -> TurnResult:
        answers = self._answers_on_path(conversation)
        answers["_danger"] = bool((conversation.answers or {}).get("_danger"))
        answers["_interpreter"] = (conversation.answers or {}).get("_interpreter")
        case, code = cases.create_case(
            session,
            answers=answers,
            channel=conversation.channel,
            language=conversation.locale,
            urgent=conversation.urgent,
            now=now,
            identity_hash=conversation.identity_hash,
        )
        conversation.case_id = case.id
        result.submitted_case_id = case.id
        conversation.status = "submitted"
        conversation.answers = {"_reference": case.reference}
        conversation.history = []
        result.done = True
        result.reference = case.reference
        result.followup_code = code
        lines = [self._t(conversation, N_(
            "Thank you. Your report is sent. Reference: %(reference)s."
        ), reference=case.reference)]
        if code is not None:
            # How to follow up on any channel, in the same line: one more would cost an
            # English SMS a third segment.
            lines.append(self._t(conversation, N_(
                "Your secret code: %(code)s. Keep both private. To check on it, send both in "
                "one message, then any news, here or on any channel."
            ), code=code))
        else:
            lines.append(self._t(conversation, N_(
                "One officer will be your contact. They will get in touch as you asked, and "
                "update you at least every 2 weeks."
            )))
        lines.append(self._t(conversation, N_(
            "Your report is confidential. We only share it if you agreed, or if a child or "
            "vulnerable adult may be at risk."
        )))
        if case.urgent:
            lines.append(self._t(conversation, N_(
                "If you are in danger, call 999 now."
            )))
        result.replies.append(Reply("\n\n".join(lines)))
        return result

    # -- parsing answers --------------------------------------------------------------

    def _parse(self, conversation: Conversation, step: Step, text: str,
               answers: dict[str, Any], now: datetime) -> Any:
        locale = conversation.locale
        key = _key(text)
        choices = self._step_choices(conversation, step)
        if step.kind is AnswerType.MULTI:
            return self._parse_multi(conversation, step, text, answers)
        if step.skippable and (key == SKIP or (
            key in _vocabulary(locale, SKIP_WORDS) and self._match_choice(choices, text) is None
        )):
            return None
        if step.skippable is False and key == SKIP:
            raise InvalidAnswer(self._t(conversation, N_(
                "Sorry, we need an answer to this one."
            )))
        if step.kind in (AnswerType.CHOICE, AnswerType.YES_NO):
            picked = self._match_choice(choices, text)
            if picked is None and step.kind is AnswerType.YES_NO:
                # "Yes", or a sentence that starts with it: "No, I'm fine".
                words = text.replace(",", " ").split(maxsplit=1)
                first = _key(words[0]) if words else ""
                for word in (key, first):
                    if word in _vocabulary(locale, YES_WORDS):
                        return "yes"
                    if word in _vocabulary(locale, NO_WORDS):
                        return "no"
                if step.id == "safety" and self._denies_danger(locale, text):
                    return "no"  # "I am not in danger now"
                raise InvalidAnswer(self._t(conversation, N_("Please answer Yes or No.")))
            if picked is None or picked.value in (SKIP, DONE):
                if picked is not None and picked.value == SKIP:
                    return None
                raise InvalidAnswer(self._t(conversation, N_(
                    "Sorry, I didn't understand. Please choose an option or its number."
                )))
            return picked.value
        if not text:
            if step.skippable:
                raise InvalidAnswer(self._t(conversation, N_(
                    "Please type your answer, or send 'skip'."
                )))
            raise InvalidAnswer(self._t(conversation, N_(
                "Please type a few words about it."
            )))
        if len(text) > MAX_ANSWER_CHARS:
            raise InvalidAnswer(self._t(conversation, N_(
                "That message is too long. Please send it in shorter parts."
            )))
        if step.kind is AnswerType.TIME:
            local_now = now.replace(tzinfo=UTC).astimezone(self._tz).replace(tzinfo=None)
            when = parse_when(text, locale, local_now)
            return {"text": text, "date": when.isoformat() if when else None}
        if step.kind is AnswerType.PLACE:
            return {"text": text, "area": detect_area(text, self.settings.areas)}
        return text

    def _parse_multi(self, conversation: Conversation, step: Step, text: str,
                     answers: dict[str, Any]) -> Any:
        choices = self._step_choices(conversation, step)
        pending: list[str] = list(answers.get("_pending") or [])
        key = _key(text)
        if key == DONE or key in _vocabulary(conversation.locale, DONE_WORDS):
            if pending:
                return pending
            raise InvalidAnswer(self._t(conversation, N_(
                "Please choose at least one option, or send 'skip'."
            )))
        whole = self._match_choice(choices, text)
        if whole is None and step.skippable and (
            key == SKIP or key in _vocabulary(conversation.locale, SKIP_WORDS)
        ):
            return pending or None  # Skip after some picks keeps them
        picks = [whole] if whole is not None else self._split_picks(choices, text)
        if not picks:
            raise InvalidAnswer(self._t(conversation, N_(
                "Please choose from the options. You can choose more than one."
            )))
        values = [pick.value for pick in picks if pick.value not in (DONE, SKIP)]
        if any(pick.value == SKIP for pick in picks) and not values:
            return pending or None
        if any(pick.value == DONE for pick in picks) and not (pending or values):
            raise InvalidAnswer(self._t(conversation, N_(
                "Please choose at least one option, or send 'skip'."
            )))
        exclusive = {choice.value for choice in step.choices if choice.exclusive}
        chosen_exclusive = [value for value in values if value in exclusive]
        if chosen_exclusive:
            return [chosen_exclusive[0]]
        merged = _merge(pending, values)
        # A choice's value on its own is a button press: keep it and offer the rest, until
        # Done. Typed numbers or labels ("2", "1 3", "Threats") are the whole selection.
        one_button = len(picks) == 1 and text == picks[0].value and picks[0].value != DONE
        if one_button:
            answers["_pending"] = merged
            conversation.answers = answers
            return _PENDING
        return merged

    def _split_picks(self, choices: list[ReplyChoice], text: str) -> list[ReplyChoice]:
        """Several options in one message: "Threats, physical attack" or "1 3"."""
        for separators in (_LIST_SEPARATORS, _SPACES):
            parts = [part for part in separators.split(text) if part.strip()]
            picks = [self._match_choice(choices, part) for part in parts]
            if len(parts) > 1 and all(pick is not None for pick in picks):
                return [pick for pick in picks if pick is not None]
        return []

    def _match_choice(self, choices: list[ReplyChoice], text: str) -> ReplyChoice | None:
        key = _key(text)
        if not key:
            return None
        if re.fullmatch(r"[0-9]{1,4}", key):
            index = int(key) - 1
            return choices[index] if 0 <= index < len(choices) else None
        for choice in choices:
            if key == _key(choice.value) or key == _key(choice.label):
                return choice
        return None

    # -- moving through the flow ----------------------------------------------------------

    def _applies(self, step: Step, answers: dict[str, Any]) -> bool:
        if step.only_if is None:
            return True
        source, values = step.only_if
        return answers.get(source) in values

    def _path(self, answers: dict[str, Any]) -> list[Step]:
        """The steps that apply given the answers so far, in order."""
        return [step for step in STEPS if self._applies(step, answers)]

    def _answers_on_path(self, conversation: Conversation) -> dict[str, Any]:
        answers = conversation.answers or {}
        return {step.id: answers.get(step.id) for step in self._path(answers)
                if step.id in answers}

    def _auto_answer(self, step: Step) -> str | None:
        """An answer needing no question (none today; the hook stays for choices of one)."""
        return None

    def _advance(self, conversation: Conversation) -> None:
        """Move to the first applicable unanswered step after the current one, or review."""
        answers = dict(conversation.answers or {})
        path = self._path(answers)
        ids = [step.id for step in path]
        position = ids.index(conversation.step) if conversation.step in ids else -1
        target = REVIEW_STEP
        for step in path[position + 1:]:
            if step.id in answers:
                continue
            auto = self._auto_answer(step)
            if auto is not None:
                answers[step.id] = auto
                continue
            target = step.id
            break
        conversation.answers = answers
        self._goto(conversation, target)

    def _goto(self, conversation: Conversation, step_id: str) -> None:
        if step_id != conversation.step:
            conversation.history = [*(conversation.history or []), conversation.step][-100:]
        conversation.step = step_id

    def _back(self, conversation: Conversation) -> None:
        if conversation.mode is not None:
            conversation.mode = None
            return
        history = list(conversation.history or [])
        answers = conversation.answers or {}
        while history:
            previous = history.pop()
            step = STEPS_BY_ID.get(previous)
            if step is not None and self._applies(step, answers) and (
                self._auto_answer(step) is None
            ):
                conversation.step = previous
                break
        conversation.history = history
        pending = dict(answers)
        pending.pop("_pending", None)
        conversation.answers = pending

    def _reset(self, conversation: Conversation) -> None:
        conversation.answers = {}
        conversation.history = []
        conversation.step = FIRST_STEP
        conversation.mode = None
        conversation.status = "active"
        conversation.case_id = None
        conversation.urgent = False

    def _raise_urgency(self, conversation: Conversation, result: TurnResult) -> None:
        conversation.urgent = True
        result.urgent_raised = True
        result.replies.append(Reply(self._t(conversation, URGENT_ADVICE)))

    # -- rendering questions --------------------------------------------------------------

    def _t(self, conversation: Conversation, msgid: str, **params: Any) -> str:
        return gettext(conversation.locale, msgid, **params)

    def _language_choices(self) -> list[ReplyChoice]:
        return [ReplyChoice(language.native_name, language.code, language.code)
                for language in LANGUAGES]

    def _language_menu_choices(self, conversation: Conversation) -> list[ReplyChoice]:
        """Every shipped language in its own name, then any other (with an interpreter)."""
        return [*self._language_choices(),
                ReplyChoice(self._t(conversation, N_("Another language")), OTHER_LANGUAGE)]

    def _confirm_language_choices(self, conversation: Conversation) -> list[ReplyChoice]:
        suggested = str((conversation.answers or {}).get("_suggested_language")
                        or conversation.locale)
        also = (conversation.answers or {}).get("_also_suggested")
        return [
            ReplyChoice(gettext(suggested, N_("Yes")), "yes"),
            *([ReplyChoice(get_language(str(also)).native_name, f"lang:{also}", str(also))]
              if also and is_shipped(str(also)) else []),
            ReplyChoice(get_language(conversation.locale).native_name, "keep",
                        conversation.locale),
            ReplyChoice(gettext(suggested, N_("Other languages")), "menu"),
        ]

    def _step_choices(self, conversation: Conversation, step: Step) -> list[ReplyChoice]:
        if step.id == "area":
            # An area named in the address is offered first, to confirm, never assumed.
            place = (conversation.answers or {}).get("place")
            named = place.get("area") if isinstance(place, dict) else None
            areas = sorted(self.settings.areas, key=lambda area: area != named)
            base = [ReplyChoice(area, area) for area in areas]
            base.append(ReplyChoice(self._t(conversation, N_("Not sure")), "not_sure"))
        else:
            base = [ReplyChoice(self._t(conversation, choice.label), choice.value)
                    for choice in step.choices]
        if step.kind is AnswerType.MULTI:
            pending = (conversation.answers or {}).get("_pending") or []
            base = [choice for choice in base if choice.value not in pending]
            if pending:
                base.append(ReplyChoice(self._t(conversation, N_("Done")), DONE))
        if step.skippable and step.kind is not AnswerType.REVIEW:
            base.append(ReplyChoice(self._t(conversation, N_("Skip")), SKIP))
        return base

    def _restart_choices(self, conversation: Conversation) -> list[ReplyChoice]:
        return [
            ReplyChoice(self._t(conversation, N_("Yes, start again")), "yes"),
            ReplyChoice(self._t(conversation, N_("No, carry on")), "no"),
        ]

    def _review_choices(self, conversation: Conversation) -> list[ReplyChoice]:
        return [
            ReplyChoice(self._t(conversation, N_("Send report")), SUBMIT),
            ReplyChoice(self._t(conversation, N_("Change an answer")), EDIT),
        ]

    def _edit_choices(self, conversation: Conversation) -> list[ReplyChoice]:
        answers = conversation.answers or {}
        choices = [
            ReplyChoice(self._t(conversation, step.title), EDIT_PREFIX + step.id)
            for step in self._path(answers)
            if step.editable and step.id in answers
        ]
        choices.append(ReplyChoice(self._t(conversation, N_("Back to the summary")),
                                   BACK_TO_REVIEW))
        return choices

    def _ask(self, conversation: Conversation) -> Reply:
        """The reply that asks whatever the conversation is waiting on."""
        if conversation.mode == "language":
            return Reply(self._t(conversation, N_("Choose your language.")),
                         tuple(self._language_menu_choices(conversation)))
        if conversation.mode == "confirm_language":
            suggested = str((conversation.answers or {}).get("_suggested_language")
                            or conversation.locale)
            return Reply(gettext(suggested, N_("Would you like to continue in %(language)s?"),
                                 language=get_language(suggested).native_name),
                         tuple(self._confirm_language_choices(conversation)),
                         locale=suggested)
        if conversation.mode == "interpreter_lang":
            return Reply(self._t(conversation, N_(
                "We can arrange an interpreter. Which language do you speak? Write its name."
            )))
        if conversation.mode == "interpreter_call":
            return Reply(self._t(conversation, N_(
                "What phone number, or what time, can we call you on with an interpreter? "
                "Or send 'skip'."
            )))
        if conversation.mode == "confirm_restart":
            return Reply(self._t(conversation, N_(
                "Start again? Everything you have written so far will be deleted."
            )), tuple(self._restart_choices(conversation)))
        if conversation.mode == "edit":
            return Reply(self._t(conversation, N_("Which answer do you want to change?")),
                         tuple(self._edit_choices(conversation)))
        step = STEPS_BY_ID[conversation.step]
        if step.kind is AnswerType.REVIEW:
            # The whole report is read back on every channel; the brief form (for SMS)
            # leaves out the closing sentence, since the numbered choices follow.
            return Reply(self._summary(conversation), tuple(self._review_choices(conversation)),
                         brief=self._summary(conversation, closing=False))
        prompt = self._t(conversation, step.prompt)
        answers = conversation.answers or {}
        if answers.get("_editing") == step.id and step.id in answers:
            prompt = "\n".join((self._t(conversation, N_("Your answer was: %(answer)s"),
                                         answer=self.display_answer(conversation, step,
                                                                    answers[step.id])),
                                 prompt))
        pending = answers.get("_pending")
        if step.kind is AnswerType.MULTI and pending:
            labels = self._labels(conversation, step, pending)
            prompt = self._t(conversation, N_(
                "You chose: %(chosen)s. Choose any others, or Done."
            ), chosen=labels)
        return Reply(prompt, tuple(self._step_choices(conversation, step)),
                     multiple=step.kind is AnswerType.MULTI)

    def _labels(self, conversation: Conversation, step: Step, values: list[str]) -> str:
        by_value = {choice.value: choice.label for choice in step.choices}
        return ", ".join(
            self._t(conversation, by_value[value]) if value in by_value else value
            for value in values
        )

    def display_answer(self, conversation: Conversation, step: Step, value: Any) -> str:
        """An answer as the reporter would read it back."""
        if value is None:
            return self._t(conversation, N_("(skipped)"))
        if step.kind is AnswerType.MULTI and isinstance(value, list):
            return self._labels(conversation, step, value)
        if isinstance(value, dict):
            words = str(value.get("text", ""))
            if step.kind is AnswerType.TIME and value.get("date"):
                # The reporter's own words, and the date understood, in their locale.
                shown = format_date(date.fromisoformat(str(value["date"])), format="medium",
                                    locale=_date_locale(conversation.locale))
                return f"{words} ({shown})"
            return words
        if step.id == "area" and value == "not_sure":
            return self._t(conversation, N_("Not sure"))
        for choice in step.choices:
            if choice.value == value:
                return self._t(conversation, choice.label)
        return str(value)

    def _summary(self, conversation: Conversation, closing: bool = True) -> str:
        answers = conversation.answers or {}
        lines = [self._t(conversation, N_("Please check your report:"))]
        for step in self._path(answers):
            if step.editable and step.id in answers:
                lines.append(f"{self._t(conversation, step.title)}: "
                             f"{self.display_answer(conversation, step, answers[step.id])}")
        if closing:
            lines.append(self._t(conversation, N_(
                "Choose Send report to send it, or Change an answer."
            )))
        return "\n".join(lines)

    def _reference(self, conversation: Conversation) -> str | None:
        reference = (conversation.answers or {}).get("_reference")
        return str(reference) if reference else None

    def _already_sent(self, conversation: Conversation) -> Reply:
        return Reply(self._t(conversation, N_(
            "Your report %(reference)s has been sent. Send 'restart' to make a new report."
        ), reference=self._reference(conversation) or ""))


def _date_locale(code: str) -> str:
    """The Babel locale for dates: British English for English (26 Nov 2026)."""
    return "en_GB" if code == DEFAULT_LANGUAGE else code


class _Pending:
    """Marker: a multiple-choice pick was kept and the question is asked again."""


_PENDING: Any = _Pending()


def _merge(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))
