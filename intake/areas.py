"""Areas (patches) a case can belong to: configuration, with Derby's as the default."""

from __future__ import annotations

import re

#: Derby's neighbourhood areas; override with HATEREPORT_AREAS="Name A,Name B,...".
DERBY_AREAS: tuple[str, ...] = (
    "Abbey",
    "Allestree",
    "Alvaston",
    "Arboretum",
    "Blagreaves",
    "Boulton",
    "Chaddesden",
    "Chellaston",
    "Darley",
    "Derwent",
    "Littleover",
    "Mackworth",
    "Mickleover",
    "Normanton",
    "Oakwood",
    "Sinfin",
    "Spondon",
)


def parse_areas(value: str | None) -> tuple[str, ...]:
    """Read a comma-separated list of area names; empty or None gives Derby's."""
    if not value:
        return DERBY_AREAS
    names = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    return names or DERBY_AREAS


def detect_area(text: str, areas: tuple[str, ...]) -> str | None:
    """Find the one configured area named in ``text``, if exactly one is named."""
    found = [
        area
        for area in areas
        if re.search(rf"(?<!\w){re.escape(area)}(?!\w)", text, flags=re.IGNORECASE)
    ]
    return found[0] if len(found) == 1 else None
