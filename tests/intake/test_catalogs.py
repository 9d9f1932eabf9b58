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
