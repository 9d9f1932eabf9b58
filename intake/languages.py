"""The languages the product ships: one machine-readable list used by everything else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """A shipped language: its code, English name, own name and text direction."""

    code: str
    english_name: str
    native_name: str
    direction: str = "ltr"


#: Adding a language is adding its catalog under translations/ and one entry here.
#: English first, then the main languages of Derby's residents.
LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English"),
    Language("pl", "Polish", "Polski"),
    Language("pa", "Punjabi", "ਪੰਜਾਬੀ"),
    Language("ur", "Urdu", "اردو", "rtl"),
    Language("sk", "Slovak", "Slovenčina"),
    Language("ro", "Romanian", "Română"),
    Language("cs", "Czech", "Čeština"),
    Language("ar", "Arabic", "العربية", "rtl"),
    Language("ckb", "Kurdish (Sorani)", "کوردی (سۆرانی)", "rtl"),
    Language("fa", "Persian", "فارسی", "rtl"),
    Language("hu", "Hungarian", "Magyar"),
    Language("lt", "Lithuanian", "Lietuvių"),
    Language("lv", "Latvian", "Latviešu"),
    Language("pt", "Portuguese", "Português"),
    Language("ti", "Tigrinya", "ትግርኛ"),
)

DEFAULT_LANGUAGE = "en"

_BY_CODE = {language.code: language for language in LANGUAGES}


def get_language(code: str | None) -> Language:
    """Return the shipped language for ``code``, falling back to the default."""
    return _BY_CODE.get(code or "", _BY_CODE[DEFAULT_LANGUAGE])


def is_shipped(code: str) -> bool:
    """Say whether ``code`` names a shipped language."""
    return code in _BY_CODE


def codes() -> list[str]:
    """The codes of every shipped language, English first."""
    return [language.code for language in LANGUAGES]


def as_json() -> list[dict[str, str]]:
    """The list in machine-readable form (``hatereport languages --json``, the web chat)."""
    return [{"code": language.code, "english_name": language.english_name,
             "native_name": language.native_name, "direction": language.direction}
            for language in LANGUAGES]
