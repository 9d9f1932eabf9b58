"""Disclosure control: the rules by hand-worked examples, and a proof by exhaustive search.

The proof does not trust disclosure.py's own reasoning. For every published table it
lists every set of numbers a reader could put in the cells not shown (1 to 4 for
"fewer than 5", 5 to the total for hidden) that fits what is published, and checks
each such cell could be at least two different numbers. Small tables are searched by
trying every combination; larger ones by the exact set of sums the other cells can
reach, which the small tables check against the combinations.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.disclosure import (
    PRIMARY_LIMIT,
    Cell,
    Shown,
    Table,
    feasible_ranges,
    is_safe,
    merge_small_areas,
    protect,
    protect_total,
)

#: Tables with at most this many combinations of unknown cells are searched one by one.
ENUMERATION_LIMIT = 40_000


# ---------------------------------------------------------------- the independent checker


def _reader_ranges(cells: tuple[Cell, ...], total: int) -> list[range]:
    """What a reader knows of each cell not shown, written out again here."""
    return [
        range(1, min(4, total) + 1) if cell.shown is Shown.FEWER_THAN_5 else range(5, total + 1)
        for cell in cells
        if cell.shown is not Shown.EXACT
    ]


def _rest(cells: tuple[Cell, ...], total: int) -> int:
    return total - sum(cell.value or 0 for cell in cells if cell.shown is Shown.EXACT)


def _fits(sum_unknown: int, rest: int, additive: bool) -> bool:
    return sum_unknown == rest if additive else sum_unknown >= rest


def enumerate_values(cells: tuple[Cell, ...], total: int, additive: bool) -> dict[str, set[int]]:
    """Every value each unknown cell takes over every assignment that fits: all combinations."""
    unknown = [cell.key for cell in cells if cell.shown is not Shown.EXACT]
    rest = _rest(cells, total)
    fitting = [
        assignment
        for assignment in itertools.product(*_reader_ranges(cells, total))
        if _fits(sum(assignment), rest, additive)
    ]
    columns = list(zip(*fitting, strict=True)) or [() for _ in unknown]
    return {key: set(column) for key, column in zip(unknown, columns, strict=True)}


def _sums(ranges: list[range]) -> int:
    """Every sum of one value from each range, as a bit set (bit s set: s can be reached)."""
    reachable = 1
    for values in ranges:
        reachable = _or_shifts(reachable, values)
    return reachable


def _or_shifts(reachable: int, values: range) -> int:
    out = 0
    for value in values:
        out |= reachable << value
    return out


def sumset_values(cells: tuple[Cell, ...], total: int, additive: bool) -> dict[str, set[int]]:
    """The same as ``enumerate_values``, from the exact sums the other cells can reach."""
    unknown = [cell.key for cell in cells if cell.shown is not Shown.EXACT]
    ranges = _reader_ranges(cells, total)
    rest = _rest(cells, total)
    values: dict[str, set[int]] = {}
    for index, key in enumerate(unknown):
        others = _sums(ranges[:index] + ranges[index + 1 :])
        found = set()
        for value in ranges[index]:
            need = rest - value
            if additive:
                ok = need >= 0 and bool(others >> need & 1)
            else:
                ok = bool(others >> max(need, 0))
            if ok:
                found.add(value)
        values[key] = found
    return values


def possible_values(cells: tuple[Cell, ...], total: int, additive: bool) -> dict[str, set[int]]:
    """Every value each unknown cell could take, by the cheaper exhaustive search."""
    size = math.prod(len(values) for values in _reader_ranges(cells, total))
    if size <= ENUMERATION_LIMIT:
        return enumerate_values(cells, total, additive)
    return sumset_values(cells, total, additive)


def assert_cannot_be_recovered(
    table: Table, counts: dict[str, int], total: int, additive: bool
) -> None:
    """The proof for one table: what is published is true and pins no unknown cell."""
    assert [cell.key for cell in table.cells] == list(counts), "cells keep their order"
    if table.withheld:
        assert all(cell.value is None for cell in table.cells)
        # Withheld only when needed: the total is small or hiding every cell is not enough.
        everything = tuple(
            Cell(key, Shown.FEWER_THAN_5, None) if 1 <= count <= 4
            else Cell(key, Shown.HIDDEN, None) if count else Cell(key, Shown.EXACT, 0)
            for key, count in counts.items()
        )
        values = possible_values(everything, total, additive)
        assert 1 <= total <= 4 or any(len(found) < 2 for found in values.values())
        return
    for cell in table.cells:
        true = counts[cell.key]
        if cell.shown is Shown.EXACT:
            assert cell.value == true, "exact cells are the true counts"
            assert not 1 <= true <= 4, "a count from 1 to 4 is never shown"
        elif cell.shown is Shown.FEWER_THAN_5:
            assert cell.value is None and 1 <= true <= 4
        else:
            assert cell.value is None and 5 <= true <= total
    assert all(cell.shown is Shown.EXACT for cell in table.cells if counts[cell.key] == 0)
    values = possible_values(table.cells, total, additive)
    for key, found in values.items():
        assert counts[key] in found, "the true assignment fits what is published"
        assert len(found) >= 2, f"{key} can be worked out: {sorted(found)}"


def assert_no_more_hidden_than_needed(
    table: Table, counts: dict[str, int], total: int, additive: bool
) -> None:
    """Showing the last cell hidden again would let a count be worked out."""
    hidden = [cell.key for cell in table.cells if cell.shown is Shown.HIDDEN]
    if table.withheld or not hidden:
        return
    last = max(hidden, key=lambda key: (counts[key], key))
    fewer = tuple(
        Cell(cell.key, Shown.EXACT, counts[cell.key]) if cell.key == last else cell
        for cell in table.cells
    )
    values = possible_values(fewer, total, additive)
    assert any(len(found) < 2 for found in values.values())


def check(counts: dict[str, int], total: int, additive: bool) -> Table:
    table = protect(counts, total, additive=additive)
    assert_cannot_be_recovered(table, counts, total, additive)
    assert_no_more_hidden_than_needed(table, counts, total, additive)
    return table


def shown(table: Table) -> list[object]:
    """The cells as a reader sees them: a number, "<5" or "hidden"."""
    labels = {Shown.FEWER_THAN_5: "<5", Shown.HIDDEN: "hidden"}
    return [cell.value if cell.shown is Shown.EXACT else labels[cell.shown] for cell in table.cells]


# ---------------------------------------------------------------- hand-worked examples


def test_total_is_exact_unless_one_to_four():
    assert protect_total(0) == Cell("total", Shown.EXACT, 0)
    assert protect_total(5) == Cell("total", Shown.EXACT, 5)
    assert protect_total(100) == Cell("total", Shown.EXACT, 100)
    for total in range(1, PRIMARY_LIMIT):
        assert protect_total(total) == Cell("total", Shown.FEWER_THAN_5, None)
    with pytest.raises(ValueError):
        protect_total(-1)


def test_nothing_small_nothing_hidden():
    table = check({"a": 0, "b": 5, "c": 95}, 100, additive=True)
    assert shown(table) == [0, 5, 95] and not table.withheld


def test_one_small_cell_in_an_additive_table_hides_the_next_smallest():
    # 3 of 100 with 97 shown gives 3 away; hiding 97 leaves 1-4 and 96-99.
    table = check({"a": 3, "b": 97}, 100, additive=True)
    assert shown(table) == ["<5", "hidden"]


def test_hiding_the_smallest_may_not_be_enough():
    # 1, 5, 94 of 100: hiding 5 alone leaves "<5" + hidden = 6, so 1 + 5; 94 goes too.
    cells = (Cell("a", Shown.FEWER_THAN_5, None), Cell("b", Shown.HIDDEN, None),
             Cell("c", Shown.EXACT, 94))
    assert enumerate_values(cells, 100, True) == {"a": {1}, "b": {5}}
    table = check({"a": 1, "b": 5, "c": 94}, 100, additive=True)
    assert shown(table) == ["<5", "hidden", "hidden"]


def test_two_small_cells_protect_each_other():
    table = check({"a": 2, "b": 3, "c": 95}, 100, additive=True)
    assert shown(table) == ["<5", "<5", 95]


def test_two_small_cells_pinned_by_their_sum():
    # 1 + 1 = 2 leaves each "<5" only one value; hiding 98 frees them.
    table = check({"a": 1, "b": 1, "c": 98}, 100, additive=True)
    assert shown(table) == ["<5", "<5", "hidden"]


def test_ties_are_broken_by_key_and_zeros_stay():
    table = check({"z": 40, "y": 4, "b": 40, "a": 0, "c": 16}, 100, additive=True)
    assert shown(table) == [40, "<5", 40, 0, "hidden"]
    table = check({"z": 7, "y": 4, "b": 7, "c": 82}, 100, additive=True)
    assert shown(table) == [7, "<5", "hidden", 82]


def test_small_total_withholds_the_table():
    table = check({"a": 3, "b": 0}, 3, additive=True)
    assert table.withheld
    assert all(cell.shown is Shown.HIDDEN and cell.value is None for cell in table.cells)


def test_five_ones_cannot_be_protected():
    # Five cells "fewer than 5" adding up to 5 must all be 1, and none is left to hide.
    table = check({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}, 5, additive=True)
    assert table.withheld


def test_one_nonzero_cell_is_shown():
    # Nothing small: the total already says everything is in one row.
    table = check({"a": 0, "b": 12, "c": 0}, 12, additive=True)
    assert shown(table) == [0, 12, 0]


def test_empty_quarter():
    assert check({"a": 0, "b": 0}, 0, additive=True) == Table(
        (Cell("a", Shown.EXACT, 0), Cell("b", Shown.EXACT, 0)), withheld=False
    )
    assert protect({}, 0, additive=False) == Table((), withheld=False)


def test_multi_small_cell_pinned_by_the_known_sum():
    # 10 cases, 6 in "a": the other 4 must all be in "not recorded", so 4 is pinned.
    cells = (Cell("a", Shown.EXACT, 6), Cell("not_recorded", Shown.FEWER_THAN_5, None))
    assert enumerate_values(cells, 10, False) == {"not_recorded": {4}}
    table = check({"a": 6, "not_recorded": 4}, 10, additive=False)
    assert shown(table) == ["hidden", "<5"]


def test_multi_small_cell_not_pinned_when_the_rows_overlap():
    # 20 cases, 12 + 10 shown: "not recorded" needs none of its own, so it is 1-4.
    table = check({"a": 12, "b": 10, "not_recorded": 3}, 20, additive=False)
    assert shown(table) == [12, 10, "<5"]


def test_multi_cells_may_not_exceed_the_total():
    table = check({"a": 30, "b": 30, "c": 30, "not_recorded": 4}, 30, additive=False)
    assert shown(table) == [30, 30, 30, "<5"]


def test_counts_must_fit_the_kind_of_table():
    with pytest.raises(ValueError):
        protect({"a": 3, "b": 4}, 8, additive=True)
    with pytest.raises(ValueError):
        protect({"a": 3, "b": 4}, 8, additive=False)
    with pytest.raises(ValueError):
        protect({"a": 9, "b": 4}, 8, additive=False)
    with pytest.raises(ValueError):
        protect({"a": -1, "b": 9}, 8, additive=True)


def test_closed_form_ranges_by_hand():
    cells = (Cell("a", Shown.FEWER_THAN_5, None), Cell("b", Shown.HIDDEN, None),
             Cell("c", Shown.EXACT, 90))
    assert feasible_ranges(cells, 100, additive=True) == {"a": (1, 4), "b": (6, 9)}
    assert feasible_ranges(cells, 100, additive=False) == {"a": (1, 4), "b": (6, 100)}
    assert is_safe(cells, 100, additive=True)


def test_merge_small_areas():
    assert merge_small_areas({"A": 10, "B": 3, "C": 0, "D": 4, "E": 7}) == {
        "A": 10, "E": 7, "other": 7}
    # A group of 2 takes the smallest area left (ties by name) until it has 5 or more.
    assert merge_small_areas({"A": 10, "B": 2, "C": 6, "D": 6}) == {"A": 10, "D": 6, "other": 8}
    # An existing "other" joins the group; a small one counts as small.
    assert merge_small_areas({"A": 9, "other": 3, "B": 1}) == {"other": 13}
    assert merge_small_areas({"A": 9, "other": 6, "B": 1}) == {"A": 9, "other": 7}
    assert merge_small_areas({"A": 9, "B": 5}) == {"A": 9, "B": 5}
    assert merge_small_areas({"A": 2, "B": 1}, other_key="elsewhere") == {"elsewhere": 3}
    assert merge_small_areas({"A": 0}) == {}
    counts = {"A": 3, "B": 40, "C": 2, "D": 0}
    merged = merge_small_areas(counts)
    assert sum(merged.values()) == sum(counts.values())
    assert all(count >= PRIMARY_LIMIT for count in merged.values())
    table = check(merged, sum(counts.values()), additive=True)
    assert shown(table) == [40, 5]


TRICKY = [
    ({"a": 1, "b": 5, "c": 94}, 100, True),
    ({"a": 4, "b": 4, "c": 4, "d": 4, "e": 4}, 20, True),
    ({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}, 5, True),
    ({"a": 4, "b": 1}, 5, True),
    ({"a": 4, "b": 5}, 9, True),
    ({"a": 5, "b": 5}, 10, True),
    ({"a": 1, "b": 5, "c": 5, "d": 5}, 16, True),
    ({"a": 4, "b": 5, "c": 5, "d": 0, "e": 6}, 20, True),
    ({"a": 1, "b": 0, "c": 0, "d": 0, "e": 0, "f": 0, "g": 60}, 61, True),
    ({"a": 3, "b": 3, "c": 3, "d": 51}, 60, True),
    ({"a": 6, "not_recorded": 4}, 10, False),
    ({"a": 5, "not_recorded": 4}, 5, False),
    ({"a": 5, "b": 5, "not_recorded": 1}, 5, False),
    ({"a": 1, "b": 1, "not_recorded": 4}, 6, False),
    ({"a": 60, "b": 4, "c": 4, "not_recorded": 4}, 60, False),
    ({"a": 56, "b": 1, "not_recorded": 4}, 60, False),
    ({"a": 7, "b": 8, "not_recorded": 0}, 15, False),
    ({"a": 5, "b": 5, "c": 5, "not_recorded": 1}, 16, False),
]


@pytest.mark.parametrize(("counts", "total", "additive"), TRICKY)
def test_tricky_tables_cannot_be_recovered(counts, total, additive):
    check(counts, total, additive)


# ---------------------------------------------------------------- the proof, over random tables

SMALL = st.integers(min_value=0, max_value=6)


@st.composite
def additive_tables(draw: st.DrawFn) -> tuple[dict[str, int], int]:
    size = draw(st.integers(min_value=2, max_value=7))
    counts = draw(st.lists(st.one_of(SMALL, SMALL, st.integers(0, 25)),
                           min_size=size, max_size=size))
    return {f"k{index}": count for index, count in enumerate(counts)}, sum(counts)


@st.composite
def multi_tables(draw: st.DrawFn) -> tuple[dict[str, int], int]:
    total = draw(st.integers(min_value=0, max_value=60))
    size = draw(st.integers(min_value=1, max_value=6))
    small = st.integers(0, min(6, total))
    counts = draw(st.lists(st.one_of(small, small, st.integers(0, total)),
                           min_size=size, max_size=size))
    not_recorded = draw(small)
    not_recorded += max(0, total - sum(counts) - not_recorded)
    table = {f"k{index}": count for index, count in enumerate(counts)}
    table["not_recorded"] = not_recorded
    return table, total


@settings(max_examples=300, deadline=None)
@given(additive_tables())
def test_no_additive_table_gives_a_small_count_away(table):
    counts, total = table
    check(counts, total, additive=True)


@settings(max_examples=300, deadline=None)
@given(multi_tables())
def test_no_multi_table_gives_a_small_count_away(table):
    counts, total = table
    check(counts, total, additive=False)


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(5, 30),
    additive=st.booleans(),
    pattern=st.lists(st.tuples(st.sampled_from(Shown), st.integers(0, 30)), min_size=1,
                     max_size=5),
)
def test_the_two_searches_and_the_closed_form_agree(total, additive, pattern):
    """On any published pattern, not just protect's, all three give the same answer."""
    cells = tuple(
        Cell(f"k{index}", how, min(value, total) if how is Shown.EXACT else None)
        for index, (how, value) in enumerate(pattern)
    )
    by_sums = sumset_values(cells, total, additive)
    if math.prod(len(values) for values in _reader_ranges(cells, total)) <= 10_000:
        assert enumerate_values(cells, total, additive) == by_sums
    closed = feasible_ranges(cells, total, additive=additive)
    if all(by_sums.values()):
        assert {key: (min(found), max(found)) for key, found in by_sums.items()} == closed
        assert all(found == set(range(min(found), max(found) + 1)) for found in by_sums.values())
        assert is_safe(cells, total, additive=additive) == all(
            len(found) >= 2 for found in by_sums.values())
