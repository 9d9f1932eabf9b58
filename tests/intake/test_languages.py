"""Languages in the conversation: detection that asks, the menu, interpreters, no leaks."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from intake.cases import case_to_dict, get_case
from intake.i18n import gettext
from intake.languages import LANGUAGES, as_json, codes, get_language
from intake.models import Conversation
from intake.outbox import identity_hash
from intake.whenparse import parse_when

from .test_engine import NAMED, answers_of, drive, step_of

SAFETY = "Are you in danger right now?"


def conversation_of(service, conversation_id) -> Conversation:
    with service.sessions() as session:
        found = session.get(Conversation, conversation_id)
        assert found is not None
        return found


def test_the_list_is_machine_readable_and_names_each_language_in_its_own_script():
    listed = as_json()
    assert [entry["code"] for entry in listed] == codes()
    assert codes()[0] == "en" and len(codes()) == 15
    assert {entry["code"] for entry in listed if entry["direction"] == "rtl"} == {
        "ur", "ar", "ckb", "fa"}
    native = {entry["code"]: entry["native_name"] for entry in listed}
    assert native["pa"] == "ਪੰਜਾਬੀ" and native["ti"] == "ትግርኛ" and native["ar"] == "العربية"


def test_polish_words_offer_polish_in_polish_and_nothing_changes_unasked(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "Nie, ale sąsiad krzyczy na mnie codziennie")
    offer = turn.result.replies[-1]
    assert offer.text == gettext("pl", "Would you like to continue in %(language)s?",
                                 language="Polski")
    assert [choice.value for choice in offer.choices] == ["yes", "keep", "menu"]
    assert offer.choices[1].label == "English"
    # Not switched until the reporter says so.
    assert conversation_of(service, conversation_id).locale == "en"
    turn = service.send(conversation_id, "yes")
    assert conversation_of(service, conversation_id).locale == "pl"
    assert turn.result.replies[-1].text == gettext("pl", SAFETY)
    # The question the Polish words did not answer in English is asked again, in Polish.
    assert step_of(service, conversation_id) == "safety"


def test_declining_the_offer_keeps_the_language_and_never_asks_again(service):
    conversation_id = service.start("web").conversation_id
    service.send(conversation_id, "Nie, ale sąsiad krzyczy na mnie codziennie")
    turn = service.send(conversation_id, "keep")
    assert conversation_of(service, conversation_id).locale == "en"
    assert turn.result.replies[-1].text == SAFETY
    service.send(conversation_id, "no")
    service.send(conversation_id, "victim")
    service.send(conversation_id, "anonymous")
    turn = service.send(conversation_id, "Sąsiad wyzywa mnie od najgorszych przy dzieciach")
    assert conversation_of(service, conversation_id).mode is None
    assert step_of(service, conversation_id) == "behaviours"


def test_other_languages_opens_the_full_menu(service):
    conversation_id = service.start("web").conversation_id
    service.send(conversation_id, "Nie, ale sąsiad krzyczy na mnie codziennie")
    turn = service.send(conversation_id, "menu")
    assert [choice.value for choice in turn.result.replies[-1].choices] == [*codes(), "other"]
    turn = service.send(conversation_id, "cs")
    assert conversation_of(service, conversation_id).locale == "cs"
    assert turn.result.replies[-1].text == gettext("cs", SAFETY)


def test_english_words_ask_nothing(service):
    conversation_id = drive(service, NAMED, until="behaviours")
    assert conversation_of(service, conversation_id).locale == "en"
    assert answers_of(service, conversation_id)["_language_checked"] is True


@pytest.mark.parametrize("text, code", [
    ("ਮੇਰੇ ਗੁਆਂਢੀ ਮੈਨੂੰ ਗਾਲ੍ਹਾਂ ਕੱਢਦੇ ਹਨ", "pa"),
    ("ጎረቤተይ ይጸርፈኒ ኣሎ", "ti"),
    ("دراوسێکەم جنێوم پێدەدات", "ckb"),
    ("میرا پڑوسی مجھے گالیاں دیتا ہے", "ur"),
])
def test_scripts_tell_the_languages_langdetect_does_not_know(service, text, code):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, text)
    assert turn.result.replies[-1].text == gettext(
        code, "Would you like to continue in %(language)s?",
        language=get_language(code).native_name)


def test_an_sms_opening_in_romanian_is_answered_in_romanian(service):
    identity = identity_hash("sms", "+447700900555")
    turn = service.receive("sms", identity, "Bună ziua, vecinul meu mă insultă în fiecare zi",
                           "SM1")
    assert turn.result.replies[-1].text == gettext(
        "ro", "Would you like to continue in %(language)s?", language="Română")
    turn = service.receive("sms", identity, "1", "SM2")
    texts = [reply.text for reply in turn.result.replies]
    assert texts[-1] == gettext("ro", SAFETY)
    assert texts[0].startswith(gettext("ro", "Hello. You can report hate crime or a hate "
                                             "incident here, safely. You can stay anonymous. "
                                             "Send help at any time.")[:20])


def test_danger_in_another_language_is_answered_in_it_at_once(service):
    identity = identity_hash("sms", "+447700900556")
    words = gettext("pl", "in danger|danger now|being attacked|attacking me|attacked now|999|"
                          "emergency|going to kill|kill me|hurting me|outside my door|"
                          "breaking in|trying to get in").split("|")
    polish = next(word for word in words if any(char in "ąęłńóśźż" for char in word))
    turn = service.receive("sms", identity, f"Pomocy, {polish} teraz", "SM3")
    assert turn.result.urgent_raised
    assert turn.result.replies[0].text.startswith(gettext(
        "pl", "If you are in danger now, call 999 and ask for the police. If you can't talk, "
        "call 999 from a mobile and press 55 when asked. Your report is marked urgent. "
        "When you are safe, carry on.")[:30])


def test_another_language_flags_the_case_for_an_interpreter(service):
    conversation_id = drive(service, NAMED, until="when")
    service.send(conversation_id, "/language")
    turn = service.send(conversation_id, "other")
    assert "interpreter" in turn.result.replies[-1].text
    service.send(conversation_id, "Somali")
    turn = service.send(conversation_id, "07700 900999 after 5pm")
    assert "interpreter" in turn.result.replies[0].text
    assert step_of(service, conversation_id) == "when"
    drive(service, NAMED, conversation_id=conversation_id)
    turn = service.send(conversation_id, "submit")
    with service.sessions() as session:
        case = get_case(session, turn.result.reference)
        data = case_to_dict(case)
    assert data["interpreter"] == {"language": "Somali", "contact": "07700 900999 after 5pm",
                                   "shipped": False}


def test_the_case_keeps_the_language_and_the_words_verbatim(service):
    conversation_id = service.start("web", locale="pl").conversation_id
    script = dict(NAMED, description="Sąsiad krzyczał na mnie i kopał w drzwi.",
                  when="wczoraj wieczorem")
    # Typed choice labels must be Polish now: answer by number and value instead.
    script.update(role="victim", anonymous="named", where_type="home", repeated="yes",
                  injuries="no", vulnerable="no", stop_hate="yes", contact_method="phone",
                  leave_messages="no", perpetrator="known", safety="no")
    drive(service, script, conversation_id=conversation_id)
    turn = service.send(conversation_id, "submit")
    with service.sessions() as session:
        data = case_to_dict(get_case(session, turn.result.reference))
    assert data["language"] == "pl"
    assert data["description"] == "Sąsiad krzyczał na mnie i kopał w drzwi."
    assert data["when"]["text"] == "wczoraj wieczorem"
    assert data["interpreter"] == {"language": "Polish", "contact": None, "shipped": True}


def test_the_summary_shows_the_date_understood_in_the_reporters_locale(service, clock):
    conversation_id = service.start("web", locale="pl").conversation_id
    script = dict(NAMED, role="victim", anonymous="named", where_type="home",
                  repeated="yes", injuries="no", vulnerable="no", stop_hate="yes",
                  contact_method="phone", leave_messages="no", perpetrator="known",
                  safety="no", when="wczoraj")
    drive(service, script, conversation_id=conversation_id)
    turn = service.send(conversation_id, "/help")  # re-asks the review: the summary
    summary = turn.result.replies[-1].text
    from babel.dates import format_date

    day = date.fromordinal(clock().date().toordinal() - 1)
    assert f"wczoraj ({format_date(day, format='medium', locale='pl')})" in summary


@pytest.mark.parametrize("code, words", [
    ("pl", "wczoraj"), ("cs", "včera"), ("sk", "včera"), ("ro", "ieri"), ("hu", "tegnap"),
    ("lt", "vakar"), ("lv", "vakar"), ("pt", "ontem"), ("ar", "أمس"), ("fa", "دیروز"),
    ("ur", "کل رات"), ("pa", "ਕੱਲ੍ਹ"), ("ckb", "دوێنێ"), ("ti", "ትማሊ"), ("en", "last night"),
])
def test_yesterday_is_understood_in_every_shipped_language(code, words, clock):
    now = clock()
    assert parse_when(words, code, now) == date.fromordinal(now.date().toordinal() - 1)


@pytest.mark.parametrize("code, words, weekday", [
    ("pl", "w piątek", 4), ("hu", "pénteken", 4), ("lt", "penktadienį", 4),
    ("lv", "piektdien", 4), ("pt", "na sexta-feira", 4), ("ar", "يوم الجمعة", 4),
    ("ckb", "هەینی", 4), ("ti", "ዓርቢ", 4), ("en", "on Friday", 4),
])
def test_a_weekday_means_the_last_one(code, words, weekday, clock):
    now = clock()
    found = parse_when(words, code, now)
    assert found is not None and found.weekday() == weekday and found < now.date()
    assert (now.date() - found).days <= 7


def test_two_languages_interleaved_across_threads_never_leak(service):
    """One reporter's language never reaches another's reply, whatever the threads do."""
    languages = ["pl", "ar", "ti", "en"]
    conversations = {code: service.start("web", locale=code).conversation_id
                     for code in languages}
    errors: list[str] = []
    barrier = threading.Barrier(len(languages))

    def talk(code: str) -> None:
        conversation_id = conversations[code]
        barrier.wait()
        for _ in range(15):
            for text, expected in (("/help", SAFETY), ("/back", SAFETY)):
                turn = service.send(conversation_id, text)
                last = turn.result.replies[-1].text
                if last != gettext(code, expected):
                    errors.append(f"{code}: {last[:40]!r}")

    threads = [threading.Thread(target=talk, args=(code,)) for code in languages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {code: conversation_of(service, conversations[code]).locale
            for code in languages} == {code: code for code in languages}


def test_every_shipped_language_has_its_english_name():
    assert all(language.english_name and language.native_name for language in LANGUAGES)


def test_close_kin_is_offered_too_and_can_be_chosen(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "Sused na mňa kričí každý deň")
    offer = turn.result.replies[-1]
    assert [choice.value for choice in offer.choices] == ["yes", "lang:cs", "keep", "menu"]
    assert offer.choices[1].label == "Čeština"
    turn = service.send(conversation_id, "lang:cs")
    assert conversation_of(service, conversation_id).locale == "cs"
    assert turn.result.replies[-1].text == gettext("cs", SAFETY)


@pytest.mark.parametrize("locale, text", [
    ("pl", "nie wiem bije mnie"),
    ("ro", "nu stiu ma bat"),
    ("pt", "não sei socorro"),
    ("ro", "nimeni nu vine ma bat"),
    ("pl", "nikt nie przychodzi biją mnie"),
    ("en", "he will not stop hurting me"),
    ("ar", "٩٩٩"),
    ("fa", "۹۹۹"),
    ("en", "اتصل ب ٩٩٩"),
])
def test_distress_with_a_negation_elsewhere_or_in_other_digits_is_danger(engine, locale, text):
    assert engine.is_emergency(locale, text)


@pytest.mark.parametrize("text", ["I am not in danger", "I'm not in danger now"])
def test_a_plain_denial_is_not_danger(engine, text):
    assert not engine.is_emergency("en", text)


def test_danger_answered_with_a_polish_no_word_is_still_danger(service):
    conversation_id = service.start("web", locale="pl").conversation_id
    turn = service.send(conversation_id, "nie wiem bije mnie")
    assert turn.result.urgent_raised
    answers = answers_of(service, conversation_id)
    assert answers["safety"] == "yes" and answers["_danger"] is True


def test_a_script_no_shipped_language_uses_opens_the_menu_with_an_interpreter(service):
    conversation_id = service.start("web").conversation_id
    turn = service.send(conversation_id, "Здравствуйте, меня избили соседи")
    menu = turn.result.replies[-1]
    assert [choice.value for choice in menu.choices][-1] == "other"
    assert conversation_of(service, conversation_id).mode == "language"
    assert conversation_of(service, conversation_id).locale == "en"


def test_an_anonymous_case_keeps_no_hash_of_the_phone(service):
    identity = identity_hash("sms", "+447700900999")
    turn = service.receive("sms", identity, "Hello, I want to report something", "SMb1")
    script = {"safety": "no", "role": "witness", "anonymous": "anonymous",
              "description": "A man shouted abuse at my neighbour.", "behaviours": "1",
              "characteristics": "1", "when": "yesterday", "where_type": "online",
              "platform": "An app", "area": "1", "repeated": "no", "perpetrator": "4",
              "injuries": "no", "vulnerable": "no", "police": "not_now", "stop_hate": "no",
              "support": "skip", "outcome": "skip", "review": "submit"}
    for number in range(2, 40):
        if turn.result.done:
            break
        step = conversation_of(service, turn.conversation_id).step
        turn = service.receive("sms", identity, script[step], f"SMb{number}")
    with service.sessions() as session:
        case = get_case(session, turn.result.reference)
        assert case.anonymous and case.channel_identity_hash is None
