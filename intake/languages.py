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
LANGUAGES: tuple[Language, ...] = (Language("en", "English", "English"),)

DEFAULT_LANGUAGE = "en"

_BY_CODE = {language.code: language for language in LANGUAGES}


def get_language(code: str | None) -> Language:
    """Return the shipped language for ``code``, falling back to the default."""
    return _BY_CODE.get(code or "", _BY_CODE[DEFAULT_LANGUAGE])


def is_shipped(code: str) -> bool:
    """Say whether ``code`` names a shipped language."""
    return code in _BY_CODE
