"""Suggest which shipped language a reporter wrote in, best first.

A suggestion is for the reporter to confirm: two words are not enough to switch language
silently. ``bench/language_bench.py`` measures it on public text; ``docs/languages.md``
has the figures and the reasons for each choice below.

1. **Script first.** Letters are counted per script (Latin letters count half, so a
   Latin brand name or acronym inside Arabic-script text does not decide). Gurmukhi
   means Punjabi and Ge'ez (Ethiopic) means Tigrinya, with no detector asked.
2. **Arabic script: spelling, then a detector.** Sorani letters (ڕ ڵ ۆ ێ ە) put Sorani
   first; Urdu letters (ٹ ڈ ڑ ں ے ۓ ہ ۂ, or ھ without a Sorani letter) or an Urdu-only
   function word (اور کا کی کو ...) put Urdu first. Arabic's ه (Urdu writes ہ) moves
   Urdu behind the others. Persian letters (پ چ ژ گ ک ی) keep Arabic out of first
   place; a Persian-only function word (از را در است ...) keeps out both Arabic and
   Urdu; Arabic-only forms (ة ى ي ك أ إ ؤ) without either put Arabic first. The rest is
   ordered by the detector restricted to the Arabic-script candidates. Neither detector
   knows Sorani, so without a Sorani letter Sorani is not offered.
3. **Latin script: the detector**, restricted to the shipped Latin-script languages.
   Romanian's ș ț are read as ş ţ, the forms lingua's model knows. When Czech and Slovak
   are both offered, spelling orders them: a letter only one of them uses (ř ů ě; ä ô
   ľ ĺ ŕ, or ú inside a word) or a function word only one of them has (se, ve, nebo,
   jsou ...; sa, vo, alebo, sú ...) puts its language ahead of the other.

The detector is lingua in high accuracy mode (``DEFAULT_STRATEGY``): on the bench's word
pairs it beat langdetect alone, lingua's low accuracy mode, and both ways of combining
it with langdetect that were measured, and it is the fastest but one. The others stay
selectable for the benchmark. langdetect, whenever used, runs on a private factory that
holds only the candidates' profiles and a fixed seed; its global factory is not touched.

No usable signal gives ``[]``: no letters (digits, emoji, punctuation), a script no
shipped language is written in, or fewer than :data:`MIN_LETTERS` letters where only the
detector could decide (``"ok"``, ``"a"``). One Gurmukhi or Ethiopic letter, or one
telling Arabic-script letter, is still a signal.

Deterministic (lingua has no randomness; langdetect is seeded for every call) and
thread-safe: a model is built once per candidate set, under a lock, and only read after;
``warm_up`` builds them at start-up.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from langdetect.detector_factory import DetectorFactory
    from lingua import LanguageDetector

__all__ = [
    "DEFAULT_STRATEGY",
    "MIN_LETTERS",
    "SCRIPT_OF",
    "STRATEGIES",
    "Strategy",
    "suggest_languages",
    "warm_up",
]

#: How the statistical part ranks candidates. ``average``: the mean of langdetect's and
#: lingua's (high accuracy) scores. ``tiebreak``: lingua, except that langdetect orders
#: lingua's first two when their scores are within :data:`TIE_MARGIN`.
Strategy = Literal["langdetect", "lingua-low", "lingua-high", "average", "tiebreak"]
STRATEGIES: Final[tuple[Strategy, ...]] = (
    "langdetect",
    "lingua-low",
    "lingua-high",
    "average",
    "tiebreak",
)
DEFAULT_STRATEGY: Final[Strategy] = "lingua-high"

#: Fewer letters than this, where a detector would have to decide, is no signal.
MIN_LETTERS: Final = 3
#: A detector score below this does not make a language worth offering.
MIN_SCORE: Final = 0.05
#: How many languages are offered at most.
DEFAULT_LIMIT: Final = 3
#: Only this many characters of a message are looked at: more adds time, not accuracy.
MAX_CHARS: Final = 2000
#: For ``tiebreak``: lingua's first two scores closer than this are a tie.
TIE_MARGIN: Final = 0.1

LATIN: Final = "Latin"
ARABIC: Final = "Arabic"
GURMUKHI: Final = "Gurmukhi"
ETHIOPIC: Final = "Ethiopic"
OTHER: Final = "Other"

#: The script each known language is written in. A shipped code missing here is never
#: suggested: adding a language means adding it here, and to the detectors' maps below
#: when they know it.
SCRIPT_OF: Final[Mapping[str, str]] = {
    "en": LATIN,
    "pl": LATIN,
    "sk": LATIN,
    "ro": LATIN,
    "cs": LATIN,
    "hu": LATIN,
    "lt": LATIN,
    "lv": LATIN,
    "pt": LATIN,
    "pa": GURMUKHI,
    "ti": ETHIOPIC,
    "ar": ARABIC,
    "fa": ARABIC,
    "ur": ARABIC,
    "ckb": ARABIC,
}

#: Codes with a langdetect profile of the same name (it has none for ckb or ti).
LANGDETECT_CODES: Final = frozenset(
    {"en", "pl", "sk", "ro", "cs", "hu", "lt", "lv", "pt", "pa", "ar", "fa", "ur"}
)

#: Codes to lingua's language names (lingua knows neither Sorani nor Tigrinya).
LINGUA_NAMES: Final[Mapping[str, str]] = {
    "en": "ENGLISH",
    "pl": "POLISH",
    "sk": "SLOVAK",
    "ro": "ROMANIAN",
    "cs": "CZECH",
    "hu": "HUNGARIAN",
    "lt": "LITHUANIAN",
    "lv": "LATVIAN",
    "pt": "PORTUGUESE",
    "pa": "PUNJABI",
    "ar": "ARABIC",
    "fa": "PERSIAN",
    "ur": "URDU",
}

# Spelling that singles out one Arabic-script language among ar, fa, ur and ckb.
SORANI_LETTERS: Final = frozenset("ڕڵۆێە")
URDU_LETTERS: Final = frozenset("ٹڈڑںےۓہۂ")
#: Heh doachashmee: Urdu's aspiration mark, but also Sorani's h in some spellings.
DO_CHASHMI_HE: Final = "ھ"
#: Arabic's and Persian's h; Urdu writes ہ (and ھ) instead.
ARABIC_HEH: Final = "ه"
#: Letters Persian (and Urdu, and Sorani) use and standard Arabic does not.
PERSIAN_LETTERS: Final = frozenset("پچژگکی")
#: Forms standard Arabic uses and Persian, Urdu and Sorani spell otherwise.
ARABIC_FORMS: Final = frozenset("ةىيكأإؤ")
#: Frequent Urdu function words that Persian and Arabic do not use, among those without an
#: Urdu letter (written from the grammar, not taken from the bench's corpus).
URDU_WORDS: Final = frozenset(
    {"اور", "کا", "کی", "کو", "جو", "جس", "جن", "کیا", "گیا", "دیا", "لیا", "سب", "کر", "گا", "گی"}
)
#: Frequent Persian function words that Urdu and Arabic do not use (likewise).
PERSIAN_WORDS: Final = frozenset(
    {"از", "را", "در", "است", "این", "آن", "برای", "می", "یک", "نیز", "شود", "باید", "با", "او",
     "تا", "بر", "بود", "شد", "دارد", "کرد"}
)  # fmt: skip

#: Frequent Czech words whose Slovak counterparts are spelt otherwise, and the reverse
#: (written from the grammar): they decide which of Czech and Slovak goes first.
CZECH_WORDS: Final = frozenset(
    {"se", "ve", "ke", "nebo", "jako", "pro", "při", "jsou", "jsem", "jsme", "jste", "jsi",
     "také", "který", "která", "které", "kteří", "mezi", "když", "jen", "být", "zda", "tedy"}
)  # fmt: skip
SLOVAK_WORDS: Final = frozenset(
    {"sa", "vo", "ku", "alebo", "ako", "pre", "pri", "sú", "som", "sme", "ste", "tiež",
     "ktorý", "ktorá", "ktoré", "ktorí", "medzi", "keď", "len", "byť", "teda", "aj", "ich"}
)  # fmt: skip

#: Letters only Czech uses, and those only Slovak uses (Czech has ú only word-initially;
#: Slovak has it anywhere, which is checked apart).
CZECH_LETTERS: Final = frozenset("řůě")
SLOVAK_LETTERS: Final = frozenset("äôľĺŕ")

#: Latin letters count this much when choosing the script of mixed text.
LATIN_WEIGHT: Final = 0.5

#: Romanian's s and t with comma below, as today's keyboards type them, to the cedilla
#: forms the detectors' models were built from (langdetect maps them so itself; lingua
#: does not, and takes "și" for Portuguese).
_ROMANIAN_COMMA_TO_CEDILLA: Final = str.maketrans("șțȘȚ", "şţŞŢ")

_URL_OR_HANDLE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+|@\w+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
#: Zero-width non-joiner and joiner are part of Persian and Sorani spelling.
_KEPT_FORMAT: Final = frozenset("\u200c\u200d'’")

_lock = threading.Lock()
_langdetect_factories: dict[frozenset[str], DetectorFactory] = {}
_lingua_detectors: dict[tuple[frozenset[str], bool], LanguageDetector] = {}


def suggest_languages(
    text: str,
    shipped: Sequence[str],
    *,
    limit: int = DEFAULT_LIMIT,
    strategy: Strategy = DEFAULT_STRATEGY,
) -> list[str]:
    """Return the shipped languages ``text`` may be written in, most likely first.

    At most ``limit`` codes, all from ``shipped``; ``[]`` when the text carries no usable
    signal (see the module docstring). ``strategy`` is for the benchmark.
    """
    if limit < 1:
        return []
    clean = _clean(text[:MAX_CHARS])
    counts = _script_counts(clean)
    if not counts:
        return []
    script = max(counts, key=lambda name: (counts[name] * _weight(name), name))
    candidates = [code for code in dict.fromkeys(shipped) if SCRIPT_OF.get(code) == script]
    if not candidates:
        return []
    if script in (GURMUKHI, ETHIOPIC):
        return candidates[:limit]
    if script == ARABIC:
        return _rank_arabic(clean, counts[script], candidates, strategy)[:limit]
    if counts[script] < MIN_LETTERS:
        return []
    if len(candidates) == 1:
        return candidates
    return _czech_or_slovak(clean, _rank_by_detector(clean, candidates, strategy))[:limit]


def warm_up(shipped: Iterable[str] | None = None, strategy: Strategy = DEFAULT_STRATEGY) -> None:
    """Build the models ``suggest_languages`` needs for ``shipped`` (default: all known).

    Call it once at start-up: building lingua's models takes seconds, which the first
    reporter would otherwise wait.
    """
    codes = list(SCRIPT_OF) if shipped is None else list(shipped)
    for script in (LATIN, ARABIC):
        candidates = frozenset(code for code in codes if SCRIPT_OF.get(code) == script)
        if strategy in ("langdetect", "average", "tiebreak"):
            known = candidates & LANGDETECT_CODES
            if len(known) >= 2:
                _langdetect_factory(known)
        if strategy != "langdetect":
            known = candidates.intersection(LINGUA_NAMES)
            if len(known) >= 2:
                _lingua_detector(known, low_accuracy=strategy == "lingua-low")


# --------------------------------------------------------------------------- the text


def _clean(text: str) -> str:
    """Return ``text`` in NFKC, links, handles, digits, symbols and emoji as spaces."""
    text = _URL_OR_HANDLE.sub(" ", unicodedata.normalize("NFKC", text))
    kept = "".join(
        char if char in _KEPT_FORMAT or unicodedata.category(char)[0] in "LM" else " "
        for char in text
    )
    return _SPACES.sub(" ", kept).strip().translate(_ROMANIAN_COMMA_TO_CEDILLA)


def _script_of_char(char: str) -> str:
    """Name the script of one letter, as far as the known languages need."""
    point = ord(char)
    if point < 0x250 or 0x1E00 <= point <= 0x1EFF:
        return LATIN
    if 0x600 <= point <= 0x6FF or 0x750 <= point <= 0x77F or 0x8A0 <= point <= 0x8FF:
        return ARABIC
    if 0xA00 <= point <= 0xA7F:
        return GURMUKHI
    if 0x1200 <= point <= 0x139F or 0x2D80 <= point <= 0x2DDF or 0xAB00 <= point <= 0xAB2F:
        return ETHIOPIC
    return OTHER


def _script_counts(clean: str) -> dict[str, int]:
    """Count the letters (not marks) of ``clean`` per script."""
    counts: dict[str, int] = {}
    for char in clean:
        if unicodedata.category(char)[0] == "L":
            script = _script_of_char(char)
            counts[script] = counts.get(script, 0) + 1
    return counts


def _weight(script: str) -> float:
    """Say how much one letter of ``script`` counts when choosing the text's script."""
    return LATIN_WEIGHT if script == LATIN else 1.0


# --------------------------------------------------------------------------- ranking


def _rank_arabic(clean: str, letters: int, candidates: list[str], strategy: Strategy) -> list[str]:
    """Rank Arabic-script candidates: telling spelling first, then the detector."""
    chars = set(clean)
    words = set(clean.replace("\u200c", " ").split())
    urdu_words = bool(words & URDU_WORDS)
    persian_words = bool(words & PERSIAN_WORDS)
    first: list[str] = []
    if "ckb" in candidates and chars & SORANI_LETTERS:
        first.append("ckb")
    elif "ur" in candidates and (
        chars & URDU_LETTERS or DO_CHASHMI_HE in chars or (urdu_words and not persian_words)
    ):
        first.append("ur")
    rest = [code for code in candidates if code not in first and code != "ckb"]
    if not rest or (letters < MIN_LETTERS and not first):
        return first
    ranked = rest if len(rest) == 1 else _rank_by_detector(clean, rest, strategy)
    if "ur" in ranked and (ARABIC_HEH in chars or (persian_words and not urdu_words)):
        ranked = _to_back(ranked, "ur")
    if "ar" in ranked:
        if chars & PERSIAN_LETTERS or persian_words:
            ranked = _to_back(ranked, "ar")
        elif chars & ARABIC_FORMS:
            ranked = ["ar"] + [code for code in ranked if code != "ar"]
    return first + ranked


def _czech_or_slovak(clean: str, ranked: list[str]) -> list[str]:
    """Swap Czech and Slovak when spelling says the detector put the wrong one first."""
    if "cs" not in ranked or "sk" not in ranked:
        return ranked
    lowered = clean.lower()
    words = set(lowered.split())
    czech = bool(words & CZECH_WORDS or CZECH_LETTERS.intersection(lowered))
    slovak = bool(
        words & SLOVAK_WORDS
        or SLOVAK_LETTERS.intersection(lowered)
        or any("ú" in word[1:] for word in words)
    )
    behind, ahead = ("sk", "cs") if czech and not slovak else ("cs", "sk")
    if czech == slovak or ranked.index(ahead) < ranked.index(behind):
        return ranked
    swapped = list(ranked)
    swapped[ranked.index(ahead)], swapped[ranked.index(behind)] = behind, ahead
    return swapped


def _to_back(ranked: list[str], code: str) -> list[str]:
    """Move ``code`` to the end of ``ranked``."""
    return [other for other in ranked if other != code] + [code]


def _rank_by_detector(clean: str, candidates: list[str], strategy: Strategy) -> list[str]:
    """Order ``candidates`` by the strategy's scores, dropping those scored too low."""
    scores = _scores(clean, candidates, strategy)
    order = sorted(candidates, key=lambda code: (-scores.get(code, 0.0), candidates.index(code)))
    return [code for code in order if scores.get(code, 0.0) >= MIN_SCORE]


def _scores(clean: str, candidates: list[str], strategy: Strategy) -> dict[str, float]:
    """Score each candidate in [0, 1] with the strategy's detector(s)."""
    if strategy == "langdetect":
        return _langdetect_scores(clean, candidates)
    if strategy in ("lingua-low", "lingua-high"):
        return _lingua_scores(clean, candidates, low_accuracy=strategy == "lingua-low")
    lingua = _lingua_scores(clean, candidates, low_accuracy=False)
    langdetect = _langdetect_scores(clean, candidates)
    if strategy == "average":
        return {
            code: (lingua.get(code, 0.0) + langdetect.get(code, 0.0)) / 2 for code in candidates
        }
    order = sorted(lingua, key=lambda code: -lingua[code])
    if len(order) >= 2 and lingua[order[0]] - lingua[order[1]] < TIE_MARGIN:
        best, second = order[0], order[1]
        if langdetect.get(second, 0.0) > langdetect.get(best, 0.0):
            swapped = dict(lingua)
            swapped[best], swapped[second] = lingua[second], lingua[best]
            return swapped
    return lingua


def _langdetect_scores(clean: str, candidates: list[str]) -> dict[str, float]:
    """Return langdetect's probabilities for the candidates it has profiles for."""
    from langdetect.lang_detect_exception import LangDetectException

    known = frozenset(candidates) & LANGDETECT_CODES
    if len(known) < 2:
        return dict.fromkeys(known, 1.0)
    detector = _langdetect_factory(known).create()
    # langdetect skips words in capitals; a message shouted in capitals has no others.
    detector.append(clean.lower() if clean.isupper() else clean)
    scores = dict.fromkeys(known, 0.0)
    try:
        for result in detector.get_probabilities():
            scores[str(result.lang)] = float(result.prob)
    except LangDetectException:
        pass  # no n-gram it knows: every candidate keeps 0.0
    return scores


def _lingua_scores(clean: str, candidates: list[str], *, low_accuracy: bool) -> dict[str, float]:
    """Return lingua's confidence values for the candidates it knows."""
    known = frozenset(candidates).intersection(LINGUA_NAMES)
    if len(known) < 2:
        return dict.fromkeys(known, 1.0)
    detector = _lingua_detector(known, low_accuracy=low_accuracy)
    codes = {LINGUA_NAMES[code]: code for code in known}
    scores = dict.fromkeys(known, 0.0)
    for confidence in detector.compute_language_confidence_values(clean):
        scores[codes[confidence.language.name]] = float(confidence.value)
    return scores


# --------------------------------------------------------------------------- models


def _langdetect_factory(codes: frozenset[str]) -> DetectorFactory:
    """Return the private, seeded langdetect factory holding only ``codes``' profiles."""
    factory = _langdetect_factories.get(codes)
    if factory is not None:
        return factory
    with _lock:
        factory = _langdetect_factories.get(codes)
        if factory is None:
            factory = _build_langdetect_factory(codes)
            _langdetect_factories[codes] = factory
        return factory


def _build_langdetect_factory(codes: frozenset[str]) -> DetectorFactory:
    """Load the profiles for ``codes`` in a fixed order and seed the factory.

    langdetect's module-level factory (``langdetect.detect``) would load all 55 profiles
    and is seeded through a class attribute every other user shares; this one is ours.
    """
    import langdetect
    from langdetect.detector_factory import DetectorFactory

    directory = Path(langdetect.__file__).parent / "profiles"
    factory = DetectorFactory()
    factory.load_json_profile(
        [(directory / code).read_text(encoding="utf-8") for code in sorted(codes)]
    )
    factory.set_seed(0)  # an instance attribute: the class's stays as others left it
    return factory


def _lingua_detector(codes: frozenset[str], *, low_accuracy: bool) -> LanguageDetector:
    """Return the lingua detector for ``codes``, building it on first use."""
    key = (codes, low_accuracy)
    detector = _lingua_detectors.get(key)
    if detector is not None:
        return detector
    with _lock:
        detector = _lingua_detectors.get(key)
        if detector is None:
            detector = _build_lingua_detector(codes, low_accuracy=low_accuracy)
            _lingua_detectors[key] = detector
        return detector


def _build_lingua_detector(codes: frozenset[str], *, low_accuracy: bool) -> LanguageDetector:
    """Build a lingua detector restricted to ``codes``, its models loaded up front."""
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, LINGUA_NAMES[code]) for code in sorted(codes)]
    builder = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()
