"""Suggest which shipped language a reporter wrote in, best first.

The suggestion is only ever offered to the reporter to confirm: a two-word text message
is not enough to switch language silently. The method, measured on a public corpus by
``bench/language_bench.py``, is described in ``docs/languages.md``:

1. **Script first.** Letters are counted per script; the script with most letters picks
   the candidates. Gurmukhi means Punjabi, Ge'ez (Ethiopic) means Tigrinya: no detector
   is asked.
2. **Arabic script: letters, then a detector.** Sorani has letters that Arabic, Persian
   and Urdu lack (ڕ ڵ ۆ ێ ە); Urdu has letters the others lack (ٹ ڈ ڑ ں ے ہ, and ھ when
   no Sorani letter is present). Such a letter puts its language first. Persian-only
   letters (پ چ ژ گ ک ی) rule Arabic out of first place; Arabic-only forms (ة ى ي ك أ إ
   ؤ) without them put Arabic first. The rest is ordered by the statistical detectors,
   restricted to the Arabic-script candidates (neither detector knows Sorani).
3. **Latin script: the detectors**, restricted to the shipped Latin-script languages.
   langdetect runs with its own factory holding only those profiles and a fixed seed;
   lingua runs in high accuracy mode on the same languages. ``combined`` (the default)
   averages their scores; see the docs for the measurement behind that choice.

No usable signal gives ``[]``: a text with no letters (digits, emoji, punctuation), one
whose script no shipped language is written in, or fewer than :data:`MIN_LETTERS` letters
where only a detector could decide (``"ok"``, ``"a"``). A one-letter Gurmukhi or Ethiopic
text still gives Punjabi or Tigrinya: the script alone decides.

Everything is deterministic (langdetect is seeded per call, lingua has no randomness) and
thread-safe: models are built once per candidate set under a lock and only read after.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from langdetect.detector_factory import DetectorFactory
    from lingua import LanguageDetector

__all__ = [
    "DEFAULT_STRATEGY",
    "MIN_LETTERS",
    "STRATEGIES",
    "Strategy",
    "script_of_text",
    "suggest_languages",
    "warm_up",
]

#: How the statistical part ranks candidates. Only the benchmark asks for anything but
#: the default; the docs give the measured accuracy of each.
Strategy = Literal["langdetect", "lingua-low", "lingua-high", "combined"]
STRATEGIES: Final[tuple[Strategy, ...]] = ("langdetect", "lingua-low", "lingua-high", "combined")
DEFAULT_STRATEGY: Final[Strategy] = "combined"

#: Fewer letters than this, where a detector would have to decide, is no signal.
MIN_LETTERS: Final = 3
#: A detector score below this does not make a language worth offering.
MIN_SCORE: Final = 0.05
#: How many languages are offered at most.
DEFAULT_LIMIT: Final = 3

LATIN: Final = "Latin"
ARABIC: Final = "Arabic"
GURMUKHI: Final = "Gurmukhi"
ETHIOPIC: Final = "Ethiopic"

#: The script each known language is written in. A shipped code missing here is never
#: suggested: adding a language means adding it here (and to the detectors' maps below
#: when they know it).
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

#: Shipped codes whose langdetect profile is the file of the same name (there is no
#: profile for Sorani or Tigrinya).
LANGDETECT_CODES: Final = frozenset(
    {"en", "pl", "sk", "ro", "cs", "hu", "lt", "lv", "pt", "pa", "ar", "fa", "ur"}
)

#: Shipped codes to lingua's language names (lingua knows neither Sorani nor Tigrinya).
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

# Letters that single out one Arabic-script language among ar, fa, ur and ckb.
SORANI_LETTERS: Final = frozenset("ڕڵۆێە")
URDU_LETTERS: Final = frozenset("ٹڈڑںےۓہ")
#: Heh doachashmee: Urdu's aspiration mark, but also Sorani's h in some spellings.
DO_CHASHMI_HE: Final = "ھ"
#: Letters Persian (and Urdu, and Sorani) use and standard Arabic does not.
PERSIAN_LETTERS: Final = frozenset("پچژگکی")
#: Forms standard Arabic uses and Persian, Urdu and Sorani spell otherwise.
ARABIC_FORMS: Final = frozenset("ةىيكأإؤ")

_URL_OR_HANDLE = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+|@\w+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
#: Zero-width non-joiner and joiner are part of Persian and Sorani spelling.
_JOINERS: Final = frozenset("\u200c\u200d")
_APOSTROPHES: Final = frozenset("'’")

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
    signal (see the module docstring). ``strategy`` picks the statistical ranking and
    exists for the benchmark; callers leave it alone.
    """
    if limit < 1:
        return []
    clean = _clean(text)
    counts = _script_counts(clean)
    if not counts:
        return []
    script = max(counts, key=lambda name: (counts[name], name))
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
    return _rank_by_detectors(clean, candidates, strategy)[:limit]


def script_of_text(text: str) -> str | None:
    """Return the script most of the letters of ``text`` are in, or None for no letters.

    Only the scripts of the known languages are told apart; every other is "Other".
    """
    counts = _script_counts(_clean(text))
    if not counts:
        return None
    return max(counts, key=lambda name: (counts[name], name))


def warm_up(shipped: Iterable[str] | None = None, strategy: Strategy = DEFAULT_STRATEGY) -> None:
    """Load the models ``suggest_languages`` will need for ``shipped`` (default: all known).

    Call it once at start-up so the first reporter does not wait seconds for it.
    """
    codes = list(SCRIPT_OF) if shipped is None else list(shipped)
    for script in (LATIN, ARABIC):
        candidates = frozenset(code for code in codes if SCRIPT_OF.get(code) == script)
        if len(candidates) < 2:
            continue
        if strategy in ("langdetect", "combined"):
            _langdetect_factory(candidates & LANGDETECT_CODES)
        if strategy in ("lingua-high", "combined"):
            _lingua_detector(frozenset(candidates & LINGUA_NAMES.keys()), low_accuracy=False)
        if strategy == "lingua-low":
            _lingua_detector(frozenset(candidates & LINGUA_NAMES.keys()), low_accuracy=True)


# --------------------------------------------------------------------------- the text


def _clean(text: str) -> str:
    """Return ``text`` in NFKC with links, handles, digits, symbols and emoji as spaces."""
    text = _URL_OR_HANDLE.sub(" ", unicodedata.normalize("NFKC", text))
    kept = [
        char
        if char in _JOINERS or char in _APOSTROPHES or unicodedata.category(char)[0] in "LM"
        else " "
        for char in text
    ]
    return _SPACES.sub(" ", "".join(kept)).strip()


def _script_of_char(char: str) -> str:
    """Name the script of one letter, as far as the shipped languages need."""
    point = ord(char)
    if point < 0x250 or 0x1E00 <= point <= 0x1EFF:
        return LATIN
    if 0x600 <= point <= 0x6FF or 0x750 <= point <= 0x77F or 0x8A0 <= point <= 0x8FF:
        return ARABIC
    if 0xA00 <= point <= 0xA7F:
        return GURMUKHI
    if 0x1200 <= point <= 0x139F or 0x2D80 <= point <= 0x2DDF or 0xAB00 <= point <= 0xAB2F:
        return ETHIOPIC
    return "Other"


def _script_counts(clean: str) -> dict[str, int]:
    """Count the letters (not marks) of ``clean`` per script."""
    counts: dict[str, int] = {}
    for char in clean:
        if unicodedata.category(char)[0] == "L":
            script = _script_of_char(char)
            counts[script] = counts.get(script, 0) + 1
    return counts


# --------------------------------------------------------------------------- ranking


def _rank_arabic(
    clean: str, letters: int, candidates: list[str], strategy: Strategy
) -> list[str]:
    """Rank Arabic-script candidates: telling letters first, then the detectors."""
    chars = set(clean)
    first: list[str] = []
    if "ckb" in candidates and chars & SORANI_LETTERS:
        first.append("ckb")
    elif "ur" in candidates and (chars & URDU_LETTERS or DO_CHASHMI_HE in chars):
        first.append("ur")
    # Without a Sorani letter nothing points to Sorani: no detector knows it.
    rest = [code for code in candidates if code not in first and code != "ckb"]
    if not rest or (letters < MIN_LETTERS and not first):
        return first
    ranked = rest if len(rest) == 1 else _rank_by_detectors(clean, rest, strategy)
    if "ar" in ranked:
        if chars & PERSIAN_LETTERS:
            ranked = [code for code in ranked if code != "ar"] + ["ar"]
        elif chars & ARABIC_FORMS:
            ranked = ["ar"] + [code for code in ranked if code != "ar"]
    return first + [code for code in ranked if code not in first]


def _rank_by_detectors(clean: str, candidates: list[str], strategy: Strategy) -> list[str]:
    """Order ``candidates`` by the strategy's scores, dropping those scored too low."""
    scores = _scores(clean, candidates, strategy)
    order = sorted(candidates, key=lambda code: (-scores.get(code, 0.0), candidates.index(code)))
    return [code for code in order if scores.get(code, 0.0) >= MIN_SCORE]


def _scores(clean: str, candidates: list[str], strategy: Strategy) -> dict[str, float]:
    """Score each candidate in [0, 1] with the strategy's detector(s)."""
    if strategy == "langdetect":
        return _langdetect_scores(clean, candidates)
    if strategy == "lingua-low":
        return _lingua_scores(clean, candidates, low_accuracy=True)
    if strategy == "lingua-high":
        return _lingua_scores(clean, candidates, low_accuracy=False)
    first = _langdetect_scores(clean, candidates)
    second = _lingua_scores(clean, candidates, low_accuracy=False)
    return _average(candidates, first, second)


def _average(
    candidates: list[str], first: Mapping[str, float], second: Mapping[str, float]
) -> dict[str, float]:
    """Average two detectors' scores; a language one of them cannot score gets the other's."""
    known_first = set(first) or set()
    known_second = set(second) or set()
    averaged: dict[str, float] = {}
    for code in candidates:
        values = [
            scores.get(code, 0.0)
            for scores, known in ((first, known_first), (second, known_second))
            if known and _knows(code, scores)
        ]
        if values:
            averaged[code] = sum(values) / len(values)
    return averaged


def _knows(code: str, scores: Mapping[str, float]) -> bool:
    """Say whether a score map comes from a detector that can score ``code`` at all."""
    return code in scores


def _langdetect_scores(clean: str, candidates: list[str]) -> dict[str, float]:
    """Return langdetect's probabilities for the candidates it has profiles for.

    Every candidate it knows is in the map (0.0 when below langdetect's own cut-off), so
    a combination can tell "scored nothing" from "cannot score".
    """
    from langdetect.lang_detect_exception import LangDetectException

    known = frozenset(candidates) & LANGDETECT_CODES
    if len(known) < 2:
        return {code: 1.0 for code in known}
    detector = _langdetect_factory(known).create()
    # langdetect skips words written in capitals; a message shouted in capitals has
    # nothing else.
    detector.append(clean.lower() if clean.isupper() else clean)
    scores = dict.fromkeys(known, 0.0)
    try:
        for result in detector.get_probabilities():
            scores[str(result.lang)] = float(result.prob)
    except LangDetectException:
        pass
    return scores


def _lingua_scores(clean: str, candidates: list[str], *, low_accuracy: bool) -> dict[str, float]:
    """Return lingua's confidence values for the candidates it knows."""
    known = frozenset(candidates) & LINGUA_NAMES.keys()
    if len(known) < 2:
        return {code: 1.0 for code in known}
    detector = _lingua_detector(known, low_accuracy=low_accuracy)
    codes = {LINGUA_NAMES[code]: code for code in known}
    scores = dict.fromkeys(known, 0.0)
    for confidence in detector.compute_language_confidence_values(clean):
        scores[codes[confidence.language.name]] = float(confidence.value)
    return scores


# --------------------------------------------------------------------------- models


def _langdetect_factory(codes: frozenset[str]) -> DetectorFactory:
    """Return a private, seeded langdetect factory holding only ``codes``' profiles.

    langdetect's module-level factory is left alone: it loads all 55 profiles and is
    seeded only through a class attribute shared with every other user.
    """
    with _lock:
        factory = _langdetect_factories.get(codes)
        if factory is None:
            factory = _build_langdetect_factory(codes)
            _langdetect_factories[codes] = factory
        return factory


def _build_langdetect_factory(codes: frozenset[str]) -> DetectorFactory:
    """Load the profiles for ``codes`` (sorted, so the index order is fixed) and seed."""
    import langdetect
    from langdetect.detector_factory import DetectorFactory

    directory = Path(langdetect.__file__).parent / "profiles"
    profiles = [(directory / code).read_text(encoding="utf-8") for code in sorted(codes)]
    factory = DetectorFactory()
    factory.load_json_profile(profiles)
    # An instance attribute: the class attribute stays as other users left it.
    factory.set_seed(0)
    return factory


def _lingua_detector(codes: frozenset[str], *, low_accuracy: bool) -> LanguageDetector:
    """Return one lingua detector for ``codes``, with its models loaded up front."""
    key = (codes, low_accuracy)
    with _lock:
        detector = _lingua_detectors.get(key)
        if detector is None:
            detector = _build_lingua_detector(codes, low_accuracy=low_accuracy)
            _lingua_detectors[key] = detector
        return detector


def _build_lingua_detector(codes: frozenset[str], *, low_accuracy: bool) -> LanguageDetector:
    """Build a lingua detector restricted to ``codes``."""
    from lingua import Language, LanguageDetectorBuilder

    languages = [Language[LINGUA_NAMES[code]] for code in sorted(codes)]
    builder = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.build()


#: For the benchmark: the raw score functions, by name.
RAW_SCORERS: Final[Mapping[str, Callable[[str, list[str]], dict[str, float]]]] = {
    "langdetect": _langdetect_scores,
    "lingua-low": lambda clean, codes: _lingua_scores(clean, codes, low_accuracy=True),
    "lingua-high": lambda clean, codes: _lingua_scores(clean, codes, low_accuracy=False),
}
