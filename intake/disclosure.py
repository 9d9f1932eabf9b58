"""Disclosure control for the published quarterly figures.

A count from 1 to 4 is shown as "fewer than 5" (primary suppression). Where a table has
such a count, a fixed list of its least informative rows (its *complement*: "other",
"not recorded" and the like, given by the caller) is hidden too (secondary
suppression); if a count not shown could still be worked out from what is published,
the whole table is withheld. Areas with few cases are merged before their table is
protected.

Two kinds of table:

* additive: every case is in exactly one row, so the cells add up to the total;
* multi: a case can be in several rows and every case is in at least one, so the
  cells add up to at least the total and none is more than it.

A table is safe when a reader who knows the method, the exact cells, the total and the
kind of table still has at least two possible values for every cell not shown.

Every choice the method makes is a function of what it publishes: which cells are
hidden depends only on which cells are "fewer than 5" and which complement rows are 0
(both shown), and whether a table is withheld depends only on the table it would
publish. So a reader who replays the method on every set of counts they think
possible learns nothing from a published table beyond the published constraints: every
set of counts that fits them is published the same way. A withheld table tells them
only that the table it would have published was not safe (docs/figures.md says when
that can still narrow a count down).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Counts from 1 to ``PRIMARY_LIMIT - 1`` are never shown exactly.
PRIMARY_LIMIT = 5


class Shown(enum.Enum):
    """How one published count is shown."""

    #: The true count, shown as it is.
    EXACT = "exact"
    #: "Fewer than 5": the count is from 1 to 4.
    FEWER_THAN_5 = "fewer_than_5"
    #: Not shown, so a small number cannot be worked out; the count is 5 or more.
    HIDDEN = "hidden"


@dataclass(frozen=True)
class Cell:
    """One published count: ``value`` is set only when it is shown exactly."""

    key: str
    shown: Shown
    value: int | None


@dataclass(frozen=True)
class Table:
    """A protected table, cells in the order given; ``withheld`` means show none of it."""

    cells: tuple[Cell, ...]
    withheld: bool


def _is_small(count: int) -> bool:
    return 0 < count < PRIMARY_LIMIT


def protect_total(total: int) -> Cell:
    """The quarter's total number of cases: exact unless it is from 1 to 4."""
    if total < 0:
        raise ValueError("a total cannot be negative")
    if _is_small(total):
        return Cell("total", Shown.FEWER_THAN_5, None)
    return Cell("total", Shown.EXACT, total)


def _bounds(shown: Shown, total: int) -> tuple[int, int]:
    """What a reader knows of a cell not shown: the least and most it can be."""
    if shown is Shown.FEWER_THAN_5:
        return 1, min(PRIMARY_LIMIT - 1, total)
    return PRIMARY_LIMIT, total


def feasible_ranges(
    cells: Sequence[Cell], total: int, *, additive: bool
) -> dict[str, tuple[int, int]]:
    """For each cell not shown, the least and most a reader could work out it is.

    Each such cell lies in a known range (1 to 4, or 5 to the total), and the cells
    together meet one condition: they add up to the total (additive) or to at least
    it (multi). With a single condition like that the possible values of one cell
    form an unbroken range, worked out here from the others' least and most. A range
    whose least is more than its most means no values fit (a table not truthful).
    """
    rest = total - sum(cell.value or 0 for cell in cells if cell.shown is Shown.EXACT)
    unknown = [cell for cell in cells if cell.shown is not Shown.EXACT]
    bounds = [_bounds(cell.shown, total) for cell in unknown]
    sum_low = sum(low for low, _ in bounds)
    sum_high = sum(high for _, high in bounds)
    ranges: dict[str, tuple[int, int]] = {}
    for cell, (low, high) in zip(unknown, bounds, strict=True):
        others_low, others_high = sum_low - low, sum_high - high
        least = max(low, rest - others_high)
        most = min(high, rest - others_low) if additive else high
        ranges[cell.key] = (least, most)
    return ranges


def is_safe(cells: Sequence[Cell], total: int, *, additive: bool) -> bool:
    """True when every cell not shown could be at least two different numbers."""
    ranges = feasible_ranges(cells, total, additive=additive)
    return all(most > least for least, most in ranges.values())


def _check(counts: Mapping[str, int], total: int, *, additive: bool) -> None:
    if total < 0 or any(count < 0 for count in counts.values()):
        raise ValueError("counts cannot be negative")
    if additive and sum(counts.values()) != total:
        raise ValueError("an additive table's counts must add up to its total")
    if not additive and (
        sum(counts.values()) < total or any(count > total for count in counts.values())
    ):
        raise ValueError("a multi table's counts must add up to at least its total, none above")


def protect(
    counts: Mapping[str, int],
    total: int,
    *,
    additive: bool,
    complement: Sequence[str] = (),
) -> Table:
    """Protect one table of counts whose cases number ``total``.

    Counts from 1 to 4 become "fewer than 5". If any count does, every row named in
    ``complement`` (the table's least informative rows, fixed per table; names not in
    ``counts`` are ignored) that is not 0 and not itself "fewer than 5" is hidden, and
    nothing else. If a count not shown could then still be worked out from the table
    so published, or the total itself is from 1 to 4, the table is withheld. Which
    cells are hidden never depends on the size of a count not shown. Raises
    ``ValueError`` for counts that do not fit the kind of table.
    """
    _check(counts, total, additive=additive)
    if _is_small(total):
        return _withheld(counts)
    primary = any(_is_small(count) for count in counts.values())
    hide = set(complement) if primary else set()
    cells = [
        Cell(key, Shown.FEWER_THAN_5, None) if _is_small(count)
        else Cell(key, Shown.HIDDEN, None) if count and key in hide
        else Cell(key, Shown.EXACT, count)
        for key, count in counts.items()
    ]
    if not is_safe(cells, total, additive=additive):
        return _withheld(counts)
    return Table(tuple(cells), withheld=False)


def _withheld(counts: Mapping[str, int]) -> Table:
    return Table(tuple(Cell(key, Shown.HIDDEN, None) for key in counts), withheld=True)


def merge_small_areas(counts: Mapping[str, int], other_key: str = "other") -> dict[str, int]:
    """Merge areas with 1 to 4 cases into ``other_key``; areas with none are dropped.

    An existing ``other_key`` count joins the merged group, which comes last; the other
    areas keep their order. Nothing more is merged: the group may itself have 1 to 4
    cases (then it is "fewer than 5" in the table), so which areas are merged depends
    only on which are small, never on how many cases the group ends up with.
    """
    if any(count < 0 for count in counts.values()):
        raise ValueError("counts cannot be negative")
    other = counts.get(other_key, 0)
    kept: dict[str, int] = {}
    for key, count in counts.items():
        if key == other_key or count == 0:
            continue
        if _is_small(count):
            other += count
        else:
            kept[key] = count
    if other:
        kept[other_key] = other
    return kept
