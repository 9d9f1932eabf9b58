"""Translations for reporter-facing text, with the locale always passed explicitly.

Strings are marked at module level with :func:`N_` (a no-op marker that Babel
extracts) and translated at the moment of use with :func:`gettext` for one
conversation's locale. Nothing here reads a locale from global or thread state,
so one reporter's language can never leak into another's reply.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark ``message`` for extraction without translating it yet."""
    return message


@lru_cache(maxsize=64)
def translations_for(locale: str) -> NullTranslations:
    """Load (once) the compiled catalog for ``locale``; English falls back to the msgids."""
    return Translations.load(str(TRANSLATIONS_DIR), [locale], DOMAIN)


def gettext(locale: str, message: str, **params: Any) -> str:
    """Translate ``message`` into ``locale`` and fill its ``%(name)s`` placeholders."""
    text = translations_for(locale).ugettext(message)
    return text % params if params else text


def ngettext(locale: str, singular: str, plural: str, n: int, **params: Any) -> str:
    """Translate a message with a count into ``locale``, choosing the right plural form."""
    text = translations_for(locale).ungettext(singular, plural, n)
    return text % {"num": n, **params}
