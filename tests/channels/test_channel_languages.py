"""Complete reports over SMS and Telegram in non-English languages, chosen by detection."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.sms import plain
from intake.flow import REVIEW_STEP, STEPS_BY_ID, AnswerType
from intake.i18n import gettext
from intake.languages import get_language

from .helpers import (
    ANONYMOUS,
    NAMED,
    Typed,
    button_update,
    case_fields,
    case_of,
    conversation_of,
    deliver_all,
    drive_telegram,
    message_update,
    numbered,
    post_update,
    sms,
)

SAFETY = "Are you in danger right now?"
OFFER = "Would you like to continue in %(language)s?"

#: What a reporter writes in each language: the opening words, what happened, and when.
WORDS: dict[str, dict[str, str]] = {
    "pl": {"opening": "Dzień dobry, sąsiad obraża mnie codziennie",
           "description": "Dwóch mężczyzn krzyczało na mnie obelgi przy sklepie.",
           "when": "wczoraj", "outcome": "Chcę, żeby to się skończyło."},
    "ar": {"opening": "مرحبا، جاري يشتمني كل يوم",
           "description": "صرخ رجلان عليّ بشتائم قرب المتجر.",
           "when": "أمس", "outcome": "أريد أن يتوقف هذا."},
    "ti": {"opening": "ሰላም፡ ጎረቤተይ መዓልቲ መዓልቲ ይጸርፈኒ ኣሎ",
           "description": "ክልተ ሰባት ኣብ ጥቓ ድኳን ጸሪፎምኒ።",
           "when": "ትማሊ", "outcome": "እዚ ክቋረጽ እደሊ።"},
    "ro": {"opening": "Bună ziua, vecinul meu mă insultă în fiecare zi",
           "description": "Doi bărbați au strigat insulte la mine lângă magazin.",
           "when": "ieri", "outcome": "Vreau să se oprească."},
}


def label(code: str, step_id: str, value: str) -> str:
    """The label a reporter reads, in their language, for ``value`` at ``step_id``."""
    if step_id == REVIEW_STEP:
        return gettext(code, {"submit": "Send report", "edit": "Change an answer"}[value])
    if step_id == "area":
        return gettext(code, "Not sure") if value == "not_sure" else value
    step = STEPS_BY_ID[step_id]
    return gettext(code, next(choice.label for choice in step.choices if choice.value == value))


def answers_in(code: str, base: dict[str, Any]) -> dict[str, Any]:
    words = WORDS[code]
    return dict(base, description=Typed(words["description"]), when=Typed(words["when"]),
                outcome=Typed(words["outcome"]))


@pytest.mark.parametrize("code", ["pl", "ar", "ti", "ro"])
def test_a_complete_sms_report_in_the_reporters_language(app, client, clock, code):
    phone = "+447700900777"
    words = WORDS[code]
    first = sms(client, words["opening"], phone)
    native = get_language(code).native_name
    assert first[-1].startswith(plain(gettext(code, OFFER, language=native)))
    bodies = sms(client, numbered(first[-1])[plain(gettext(code, "Yes"))], phone)
    assert plain(gettext(code, SAFETY)) in bodies[-1]
    answers = answers_in(code, ANONYMOUS)
    for _ in range(60):
        conversation = conversation_of(app, "sms", phone)
        assert conversation is not None and conversation.locale == code
        if conversation.status == "submitted":
            break
        step = STEPS_BY_ID[conversation.step]
        value = answers[conversation.step]
        if isinstance(value, Typed) or step.kind not in (
            AnswerType.CHOICE, AnswerType.MULTI, AnswerType.YES_NO, AnswerType.REVIEW
        ):
            typed = str(value)
        else:
            menu = numbered(bodies[-1])
            typed = " ".join(menu[plain(label(code, step.id, item))]
                             for item in (value if isinstance(value, list) else [value]))
        bodies = sms(client, typed, phone)
    else:
        raise AssertionError("the SMS report was not submitted")
    case = case_of(app, "sms", phone)
    fields = case_fields(app, case.reference)
    assert fields["language"] == code
    assert fields["description"] == words["description"]  # verbatim, never translated
    assert fields["when"] == {"text": words["when"],
                              "date": (clock().date() - timedelta(days=1)).isoformat()}
    assert fields["interpreter"]["language"] == get_language(code).english_name
    assert fields["behaviours"] == ["verbal_abuse"] and fields["characteristics"] == ["race"]
    assert fields["where"]["area"] == "Sinfin"
    # The last message (reference, code, confidentiality) is in the reporter's language.
    assert case.reference in bodies[-1]
    assert plain(gettext(code, "Your report is confidential. We only share it if you agreed, "
                               "or if a child or vulnerable adult may be at risk.")) in bodies[-1]


@pytest.mark.parametrize("code", ["pl", "ar", "ti"])
def test_a_complete_telegram_report_in_the_reporters_language(app, client, fake_telegram, code):
    chat = 5550001000 + len(code)
    words = WORDS[code]
    assert post_update(client, message_update(words["opening"], chat)).status_code == 200
    deliver_all(app)
    offer = fake_telegram.sent[-1]
    assert offer["text"] == gettext(code, OFFER, language=get_language(code).native_name)
    assert post_update(client, button_update("yes", chat)).status_code == 200
    deliver_all(app)
    assert fake_telegram.sent[-1]["text"].endswith(gettext(code, SAFETY))
    named = {key: value for key, value in NAMED.items() if key != "name"}
    named.update(answers_in(code, NAMED), name="Sam")
    reference = drive_telegram(client, app, fake_telegram,
                               {key: str(value) if isinstance(value, Typed) else value
                                for key, value in named.items()}, chat=chat)
    fields = case_fields(app, reference)
    assert fields["language"] == code
    assert fields["description"] == words["description"]
    assert fields["contact"]["method"] == "this_channel"
    assert case_of(app, "telegram", str(chat)).channel_address == str(chat)
    # After the switch, every Yes button the bot sent is labelled in the reporter's language.
    texts = [sent["text"] for sent in fake_telegram.sent]
    yes_labels = {button["text"] for sent in fake_telegram.sent[2:]
                  for row in (sent.get("reply_markup") or {}).get("inline_keyboard", [])
                  for button in row
                  if button.get("callback_data", "").rpartition("|")[2] == "yes"}
    assert yes_labels == {gettext(code, "Yes")}
    assert gettext(code, "Please check your report:") in "\n".join(texts)
    assert reference in texts[-1]
