"""The translation catalogs are current and complete."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from intake.i18n import gettext, ngettext

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location("catalogs", ROOT / "tools" / "catalogs.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_catalogs_are_current_and_complete():
    problems = load_tool().check()
    assert problems == [], "\n".join(problems)


def test_english_catalog_exists_for_every_marked_string():
    catalogs = load_tool().locales()
    assert any(path.parts[-3] == "en" for path in catalogs)


def test_placeholders_fill_and_plurals_choose():
    assert gettext("en", "OK, we will continue in %(language)s.", language="English") == (
        "OK, we will continue in English."
    )
    one = ngettext("en", "for %(num)d hour", "for %(num)d hours", 1)
    many = ngettext("en", "for %(num)d hour", "for %(num)d hours", 5)
    assert (one, many) == ("for 1 hour", "for 5 hours")


def sms_messages():
    """Every msgid a conversation can send (from intake/ and bot/, not the web page's own
    words), except the word lists people type."""
    from babel.messages.pofile import read_po

    with (ROOT / "translations" / "messages.pot").open("rb") as handle:
        catalog = read_po(handle)
    return [message.id for message in catalog
            if message.id and isinstance(message.id, str) and "|" not in message.id
            and any(path.startswith(("intake/", "bot/")) for path, _ in message.locations)]


def test_every_language_of_the_list_has_a_complete_catalog():
    from intake.languages import LANGUAGES

    catalogs = {path.parts[-3] for path in load_tool().locales()}
    assert {language.code for language in LANGUAGES} == catalogs
    for language in LANGUAGES:
        assert language.direction in ("ltr", "rtl")
        # Each catalog really is that language: its first question is translated.
        if language.code != "en":
            assert gettext(language.code, "Are you in danger right now?") != (
                "Are you in danger right now?"), language.code


def test_no_sms_message_is_over_the_segment_budget_in_any_language():
    from bot.sms import ENGLISH_SEGMENT_BUDGET, SEGMENT_BUDGET, is_gsm7, render_reply, segments
    from intake.engine import Reply, ReplyChoice
    from intake.flow import STEPS, AnswerType
    from intake.languages import codes

    over = []
    for code in codes():
        budget = ENGLISH_SEGMENT_BUDGET if code == "en" else SEGMENT_BUDGET
        texts = [gettext(code, msgid) for msgid in sms_messages()]
        assert len(texts) > 50
        for step in STEPS:
            choices = tuple(ReplyChoice(gettext(code, choice.label), choice.value)
                            for choice in step.choices)
            texts.append(render_reply(Reply(gettext(code, step.prompt), choices,
                                            multiple=step.kind is AnswerType.MULTI), code))
        for text in texts:
            if segments(text) > budget:
                over.append(f"{code}: {segments(text)} segments: {text[:50]!r}")
            if code == "en" and not is_gsm7(text):
                over.append(f"en: not GSM-7: {text[:50]!r}")
    assert over == [], "\n".join(over)


def test_every_language_counts_in_its_own_plural_forms():
    from intake.languages import codes

    for code in codes():
        for count in (1, 2, 5, 11, 21, 100):
            text = ngettext(code, "OK, we have stopped. Nothing has been sent. What you wrote is "
                            "kept safely for %(num)d hour so you can carry on: just send a "
                            "message.", "OK, we have stopped. Nothing has been sent. What you "
                            "wrote is kept safely for %(num)d hours so you can carry on: just "
                            "send a message.", count)
            assert str(count) in text, (code, count, text)
