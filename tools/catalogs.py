"""Catalog upkeep: fill the English catalog, and check every catalog is current and complete.

    python tools/catalogs.py fill-english   # msgstr = msgid for every English entry
    python tools/catalogs.py check          # exit 1 with a list of problems, else 0
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
KEYWORDS = ["--no-default-keywords", "-k", "_", "-k", "N_", "-k", "gettext:2",
            "-k", "ngettext:2,3"]
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _ids(catalog: Catalog) -> set[str]:
    return {str(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


def extract() -> Catalog:
    """Extract the marked strings from the source as it is now."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "messages.pot"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
             str(ROOT / "babel.cfg"), *KEYWORDS, "-o", str(out), str(ROOT)],
            check=True, cwd=ROOT, capture_output=True,
        )
        return _read(out)


def locales() -> list[Path]:
    """Every shipped catalog."""
    return sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def check() -> list[str]:
    """Problems that make the catalogs stale or incomplete."""
    problems: list[str] = []
    current = _ids(extract())
    committed = _ids(_read(POT))
    for missing in sorted(current - committed):
        problems.append(f"messages.pot is stale: missing {missing[:60]!r} (make update-catalogs)")
    for extra in sorted(committed - current):
        problems.append(f"messages.pot is stale: obsolete {extra[:60]!r} (make update-catalogs)")
    for path in locales():
        locale = path.parent.parent.name
        catalog = _read(path)
        have = {str(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}
        for msgid in sorted(current - set(have)):
            problems.append(f"{locale}: missing {msgid[:60]!r}")
        for msgid, message in have.items():
            if msgid not in current:
                continue
            strings = list(message.string) if isinstance(message.string, tuple) else [
                message.string]
            ids = list(message.id) if isinstance(message.id, tuple) else [message.id]
            if message.fuzzy:
                problems.append(f"{locale}: fuzzy {msgid[:60]!r}")
            if not all(strings):
                problems.append(f"{locale}: untranslated {msgid[:60]!r}")
                continue
            wanted = set(_PLACEHOLDER.findall(" ".join(ids)))
            for string in strings:
                if set(_PLACEHOLDER.findall(string)) != wanted:
                    problems.append(f"{locale}: placeholders differ in {msgid[:60]!r}")
    return problems


def fill_english() -> None:
    """Make the English catalog complete: each translation is its msgid."""
    path = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    catalog = _read(path)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            message.string = tuple(message.id)
        else:
            message.string = message.id
        message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, sort_by_file=True)


def main(argv: list[str]) -> int:
    if argv[1:] == ["fill-english"]:
        fill_english()
        return 0
    if argv[1:] == ["check"]:
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
