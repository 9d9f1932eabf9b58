"""The server-drawn SVG charts: well-formed, labelled, escaped, to scale, never dividing by zero."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup, escape

from web.charts import (
    PALETTE,
    bar_chart,
    column_chart,
    nice_ticks,
    stacked_column_chart,
)

NS = "{http://www.w3.org/2000/svg}"
AREAS = [("Normanton", 12), ("Pontefract", 5), ("Castleford", 9), ("Knottingley", 1),
         ("Featherstone", 0), ("Ossett", 7), ("Horbury", 3)]
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


def parse(svg: Markup) -> ET.Element:
    return ET.fromstring(str(svg))


def by_class(root: ET.Element, cls: str, tag: str = "*") -> list[ET.Element]:
    return [el for el in root.iter(f"{NS}{tag}" if tag != "*" else tag)
            if cls in (el.get("class") or "").split()]


def title_of(el: ET.Element) -> str:
    title = el.find(f"{NS}title")
    assert title is not None, f"{el.tag} {el.attrib} has no <title>"
    return title.text or ""


def f(el: ET.Element, attr: str) -> float:
    return float(el.attrib[attr])


def luminance(colour: str) -> float:
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    channels = [int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_on_white(colour: str) -> float:
    return 1.05 / (luminance(colour) + 0.05)


def all_charts(chart_id: str = "c") -> list[Markup]:
    return [
        bar_chart("Cases by area", AREAS, chart_id=chart_id),
        column_chart("Cases by month", list(zip(MONTHS, range(12), strict=True)),
                     chart_id=chart_id),
        stacked_column_chart("Open and closed", MONTHS[:3],
                             [("Open", [1, 2, 3]), ("Closed", [4, 5, 6])], chart_id=chart_id),
        bar_chart("Nothing", [], chart_id=chart_id),
        column_chart("Nothing", [], chart_id=chart_id),
        stacked_column_chart("Nothing", [], [], chart_id=chart_id),
    ]


# -- the frame every chart shares ---------------------------------------------------------


@pytest.mark.parametrize("index", range(6))
def test_every_chart_is_a_labelled_scalable_image(index):
    svg = all_charts("trend-by-area")[index]
    assert isinstance(svg, Markup)
    root = parse(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    assert root.get("focusable") == "false"
    assert root.get("width") == "100%"
    assert root.get("height") is None  # scales with its width, keeping the viewBox's shape
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox") or "")
    assert root.get("aria-labelledby") == "trend-by-area-title trend-by-area-desc"
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert title is not None and title.get("id") == "trend-by-area-title"
    assert desc is not None and desc.get("id") == "trend-by-area-desc"
    assert title.text and desc.text
    # Drawn without any stylesheet or script: presentation attributes, no style, no JS.
    assert "<script" not in svg and "style=" not in svg and "<style" not in svg
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_the_same_input_draws_the_same_string():
    assert all_charts() == all_charts()


def test_ids_are_prefixed_with_the_chart_id_so_charts_can_share_a_page():
    for svg in all_charts("by-month-2"):
        ids = [el.get("id") for el in parse(svg).iter() if el.get("id")]
        assert ids and all(i.startswith("by-month-2-") for i in ids)
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize("chart_id", ["", "Area", "by area", "a_b", 'x"y', "é", "a\n", "<b>"])
def test_a_bad_chart_id_is_refused(chart_id):
    with pytest.raises(ValueError):
        bar_chart("t", AREAS, chart_id=chart_id)
    with pytest.raises(ValueError):
        column_chart("t", [], chart_id=chart_id)
    with pytest.raises(ValueError):
        stacked_column_chart("t", [], [], chart_id=chart_id)


def test_negative_values_are_refused():
    with pytest.raises(ValueError):
        bar_chart("t", [("a", -1)], chart_id="c")
    with pytest.raises(ValueError):
        column_chart("t", [("a", 2), ("b", -1)], chart_id="c")
    with pytest.raises(ValueError):
        stacked_column_chart("t", ["a"], [("Open", [-1])], chart_id="c")


def test_colours_meet_contrast_on_white():
    assert all(contrast_on_white(c) >= 3 for c in PALETTE)
    for svg in all_charts():
        root = parse(svg)
        for el in root.iter(f"{NS}text"):
            assert contrast_on_white(el.attrib["fill"]) >= 4.5, el.attrib
        for el in by_class(root, "chart-bar") + by_class(root, "chart-col"):
            assert contrast_on_white(el.attrib["fill"]) >= 3
        background = by_class(root, "chart-bg")
        assert background and background[0].get("fill") == "#fff"


# -- escaping ------------------------------------------------------------------------------


EVIL = '<script>alert("x")</script> & \'co\''


def test_text_from_data_is_escaped_everywhere():
    charts = [
        bar_chart(EVIL, [(EVIL, 3), ("b", 1)], chart_id="c", unit=EVIL),
        column_chart(EVIL, [(EVIL, 3), ("b", 1)], chart_id="c", unit=EVIL),
        stacked_column_chart(EVIL, [EVIL, "b"], [(EVIL, [1, 2]), ("b", [0, 1])],
                             chart_id="c", unit=EVIL),
        bar_chart(EVIL, [], chart_id="c", unit=EVIL),
    ]
    label = by_class(parse(charts[0]), "chart-label", "text")[0]
    assert "".join(label.itertext()).startswith(EVIL + "<script>")  # its <title>, then drawn
    for svg in charts:
        assert "<script" not in svg
        assert escape(svg) == svg  # Jinja will not escape it again
        root = parse(svg)
        assert root.find(f"{NS}title").text == EVIL  # round-trips as text, not markup
        assert EVIL in root.find(f"{NS}desc").text
        tips = [title_of(el) for el in root.iter(f"{NS}rect") if el.find(f"{NS}title") is not None]
        if tips:
            assert tips[0].startswith(EVIL) and tips[0].endswith(EVIL)


def test_characters_xml_forbids_are_dropped_so_the_svg_stays_well_formed():
    svg = bar_chart("t\x00", [("Nor\x07manton\x1b", 2), ("new\nline", 1)], chart_id="c")
    root = parse(svg)
    bars = by_class(root, "chart-bar")
    assert title_of(bars[0]) == "Normanton: 2 cases"
    assert title_of(bars[1]) == "new line: 1 case"


# -- horizontal bars -------------------------------------------------------------------------


def test_bar_chart_has_one_titled_bar_per_item_in_order():
    root = parse(bar_chart("Cases by area", AREAS, chart_id="areas"))
    bars = by_class(root, "chart-bar", "rect")
    assert [title_of(b) for b in bars] == [
        "Normanton: 12 cases", "Pontefract: 5 cases", "Castleford: 9 cases",
        "Knottingley: 1 case", "Featherstone: 0 cases", "Ossett: 7 cases", "Horbury: 3 cases"]
    ys = [f(b, "y") for b in bars]
    assert ys == sorted(ys)
    assert [b.get("fill") for b in bars] == ["#1d4ed8"] * len(AREAS)


def test_bar_lengths_are_proportional_to_values():
    root = parse(bar_chart("Cases by area", AREAS, chart_id="areas"))
    bars = by_class(root, "chart-bar", "rect")
    widths = [f(b, "width") for b in bars]
    top = max(widths)
    for (_, value), w in zip(AREAS, widths, strict=True):
        assert w == pytest.approx(top * value / 12, abs=0.02)
    assert len({f(b, "x") for b in bars}) == 1  # a common baseline
    view_w = float(root.attrib["viewBox"].split()[2])
    assert all(f(b, "x") + f(b, "width") <= view_w for b in bars)


def test_bar_values_are_printed_at_the_bar_ends_and_labels_to_the_left():
    root = parse(bar_chart("Cases by area", AREAS, chart_id="areas"))
    bars = by_class(root, "chart-bar", "rect")
    values = by_class(root, "chart-value", "text")
    labels = by_class(root, "chart-label", "text")
    assert [v.text for v in values] == [str(v) for _, v in AREAS]
    assert [lab.text for lab in labels] == [a for a, _ in AREAS]
    for bar, value, label in zip(bars, values, labels, strict=True):
        assert f(value, "x") > f(bar, "x") + f(bar, "width")
        assert f(label, "x") < f(bar, "x") and label.get("text-anchor") == "end"


def test_bar_chart_summary_in_words():
    desc = parse(bar_chart("Cases by area", AREAS, chart_id="areas")).find(f"{NS}desc").text
    assert "Highest: Normanton, 12 cases." in desc
    assert "7 bars" in desc
    assert "37 cases in all" in desc
    assert "Lowest: Featherstone, 0 cases." in desc


def test_ties_are_named_together():
    desc = parse(bar_chart("t", [("A", 4), ("B", 4), ("C", 1)], chart_id="c")).find(
        f"{NS}desc").text
    assert "Highest: A and B, 4 cases each." in desc


def test_long_labels_are_cut_with_an_ellipsis_but_titled_in_full():
    name = "The Very Long Name Of An Estate In West Yorkshire Near Wakefield"
    root = parse(bar_chart("t", [(name, 3), ("Ossett", 2)], chart_id="c", width=400))
    label = by_class(root, "chart-label", "text")[0]
    drawn = "".join(label.itertext()).replace(title_of(label), "", 1)
    assert drawn.endswith("\u2026") and len(drawn) < len(name)
    assert name.startswith(drawn[:-1])
    assert title_of(label) == name
    assert title_of(by_class(root, "chart-bar")[0]) == f"{name}: 3 cases"


def test_bar_chart_with_all_zeros_draws_empty_bars_without_dividing_by_zero():
    root = parse(bar_chart("t", [("A", 0), ("B", 0)], chart_id="c"))
    bars = by_class(root, "chart-bar", "rect")
    assert [f(b, "width") for b in bars] == [0, 0]
    assert [title_of(b) for b in bars] == ["A: 0 cases", "B: 0 cases"]
    assert "0 cases in all" in root.find(f"{NS}desc").text


def test_a_single_bar_and_another_unit():
    root = parse(bar_chart("t", [("A", 1)], chart_id="c", unit="reports"))
    assert title_of(by_class(root, "chart-bar")[0]) == "A: 1 report"
    assert root.find(f"{NS}desc").text == "1 bar, 1 report in all. A: 1 report."


# -- empty data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("svg", [
    bar_chart("Cases by area", [], chart_id="empty"),
    column_chart("Cases by month", [], chart_id="empty"),
    stacked_column_chart("Open and closed", [], [], chart_id="empty"),
    stacked_column_chart("Open and closed", ["2026-01"], [], chart_id="empty"),
])
def test_no_data_says_so(svg):
    root = parse(svg)
    assert root.find(f"{NS}desc").text == "No cases in this period."
    assert [el.text for el in by_class(root, "chart-empty", "text")] == [
        "No cases in this period."]
    assert not by_class(root, "chart-bar") and not by_class(root, "chart-col")
    assert root.find(f"{NS}title").text


def test_no_data_uses_the_unit():
    root = parse(column_chart("t", [], chart_id="c", unit="reports"))
    assert root.find(f"{NS}desc").text == "No reports in this period."


# -- y ticks --------------------------------------------------------------------------------------


def is_round(n: int) -> bool:
    return n > 0 and n / 10 ** int(math.log10(n)) in (1, 2, 5)


@pytest.mark.parametrize("top", [*range(0, 250), 999, 1000, 1001, 4321, 99_999, 1_234_567])
def test_ticks_are_three_to_five_round_steps_covering_the_top(top):
    ticks = nice_ticks(top)
    assert 3 <= len(ticks) <= 5
    assert ticks[0] == 0 and ticks[-1] >= top
    step = ticks[1]
    assert is_round(step)
    assert ticks == [i * step for i in range(len(ticks))]
    # not wastefully high: one step fewer would not have reached the top, or was too few
    assert ticks[-2] < top or len(ticks) == 3


def test_examples_of_ticks():
    assert nice_ticks(0) == [0, 1, 2]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(12) == [0, 5, 10, 15]
    assert nice_ticks(100) == [0, 50, 100]


# -- columns ------------------------------------------------------------------------------------------


def columns_of(values: list[int], **kw) -> ET.Element:
    labels = [f"{2024 + i // 12}-{i % 12 + 1:02d}" for i in range(len(values))]
    return parse(column_chart("Cases by month", list(zip(labels, values, strict=True)),
                              chart_id="months", **kw))


def test_column_heights_are_proportional_and_on_the_tick_scale():
    values = [3, 0, 14, 7, 9, 1]
    root = columns_of(values)
    cols = by_class(root, "chart-col", "rect")
    assert [title_of(c) for c in cols] == [
        "2024-01: 3 cases", "2024-02: 0 cases", "2024-03: 14 cases", "2024-04: 7 cases",
        "2024-05: 9 cases", "2024-06: 1 case"]
    bottoms = {round(f(c, "y") + f(c, "height"), 1) for c in cols}
    assert len(bottoms) == 1
    ticks = by_class(root, "chart-tick", "text")
    assert [int(t.text) for t in ticks] == nice_ticks(14) == [0, 5, 10, 15]
    zero_y, top_y = f(ticks[0], "y"), f(ticks[-1], "y")
    per_case = (zero_y - top_y) / 15
    for col, value in zip(cols, values, strict=True):
        assert f(col, "height") == pytest.approx(value * per_case, abs=0.02)
    xs = [f(c, "x") for c in cols]
    assert xs == sorted(xs)


def test_many_columns_thin_their_labels_but_title_every_column():
    values = [i % 7 for i in range(36)]
    root = columns_of(values)
    cols = by_class(root, "chart-col", "rect")
    assert len(cols) == 36
    assert {title_of(c).split(":")[0] for c in cols} == {
        f"{2024 + i // 12}-{i % 12 + 1:02d}" for i in range(36)}
    months = [f"{2024 + i // 12}-{i % 12 + 1:02d}" for i in range(36)]
    labels = by_class(root, "chart-label", "text")
    assert 3 <= len(labels) < 36
    shown = [lab.text for lab in labels]
    step = months.index(shown[1]) - months.index(shown[0])
    assert step > 1
    assert shown == months[::-1][::step][::-1]  # every nth, counted back from the latest
    assert shown[-1] == "2026-12"
    centres = {months[i]: f(c, "x") + f(c, "width") / 2 for i, c in enumerate(cols)}
    xs = [f(lab, "x") for lab in labels]
    for label, x in zip(labels[1:-1], xs[1:-1], strict=True):
        assert x == pytest.approx(centres[label.text], abs=0.02)
    assert min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= len("2026-12") * 6
    view_w = float(root.get("viewBox").split()[2])
    half = len("2026-12") * 12 * 0.6 / 2
    assert xs[0] - half >= 0 and xs[-1] + half <= view_w  # not clipped at either end


def test_few_columns_label_every_column():
    root = columns_of([1, 2, 3])
    assert [lab.text for lab in by_class(root, "chart-label", "text")] == [
        "2024-01", "2024-02", "2024-03"]
    assert [v.text for v in by_class(root, "chart-value", "text")] == ["1", "2", "3"]


def test_columns_of_zero_do_not_divide_by_zero():
    root = columns_of([0, 0, 0])
    assert [f(c, "height") for c in by_class(root, "chart-col")] == [0, 0, 0]
    assert [t.text for t in by_class(root, "chart-tick", "text")] == ["0", "1", "2"]
    assert "Each column: 0 cases." in root.find(f"{NS}desc").text


def test_column_summary_in_words():
    desc = columns_of([3, 0, 14, 7]).find(f"{NS}desc").text
    assert desc == ("4 columns, 2024-01 to 2024-04: 24 cases in all. Highest: 2024-03, 14 cases."
                    " Lowest: 2024-02, 0 cases. Latest: 2024-04, 7 cases.")


def test_width_and_height_set_the_view_box():
    root = columns_of([1, 2], width=320, height=180)
    assert root.get("viewBox") == "0 0 320 180"
    with pytest.raises(ValueError):
        columns_of([1], height=10)


# -- stacked columns ------------------------------------------------------------------------------------


OPEN = [4, 0, 7, 2]
CLOSED = [1, 3, 0, 6]
PERIODS = ["2026-01", "2026-02", "2026-03", "2026-04"]


def stacked(**kw) -> ET.Element:
    return parse(stacked_column_chart("Open and closed", PERIODS,
                                      [("Open", OPEN), ("Closed", CLOSED)],
                                      chart_id="status", **kw))


def test_stacked_segments_sum_to_the_period_total():
    root = stacked()
    ticks = by_class(root, "chart-tick", "text")
    assert [int(t.text) for t in ticks] == nice_ticks(8)
    per_case = (f(ticks[0], "y") - f(ticks[-1], "y")) / nice_ticks(8)[-1]
    stacks = by_class(root, "chart-stack", "g")
    assert len(stacks) == 4
    for stack, o, c in zip(stacks, OPEN, CLOSED, strict=True):
        open_seg, closed_seg = stack.findall(f"{NS}rect")
        assert "chart-series-0" in open_seg.get("class")
        assert "chart-series-1" in closed_seg.get("class")
        assert f(open_seg, "height") == pytest.approx(o * per_case, abs=0.02)
        assert f(closed_seg, "height") == pytest.approx(c * per_case, abs=0.02)
        # closed sits on open: together one column as tall as the total
        assert f(closed_seg, "y") + f(closed_seg, "height") == pytest.approx(
            f(open_seg, "y"), abs=0.02)
        total = f(open_seg, "height") + f(closed_seg, "height")
        assert total == pytest.approx((o + c) * per_case, abs=0.05)
    assert [v.text for v in by_class(root, "chart-value", "text")] == ["5", "3", "7", "8"]


def test_stacked_segments_are_titled():
    root = stacked()
    titles = [title_of(s) for s in by_class(root, "chart-seg", "rect")]
    assert titles[:4] == ["2026-01, Open: 4 cases", "2026-01, Closed: 1 case",
                          "2026-02, Open: 0 cases", "2026-02, Closed: 3 cases"]
    assert len(titles) == 8


def test_series_differ_by_pattern_as_well_as_colour_and_have_a_legend():
    series = [(f"S{i}", [i, 1]) for i in range(6)]
    root = parse(stacked_column_chart("t", ["a", "b"], series, chart_id="six"))
    patterns = {p.get("id"): p for p in root.iter(f"{NS}pattern")}
    fills = []
    for i in range(6):
        segs = by_class(root, f"chart-series-{i}", "rect")
        assert len(segs) == 3  # two segments and the legend swatch
        fill = {s.get("fill") for s in segs}
        assert len(fill) == 1
        fills.append(fill.pop())
    assert len(set(fills)) == 6
    assert fills[0] == PALETTE[0]
    marks = set()
    for i, fill in enumerate(fills[1:], start=1):
        pid = re.fullmatch(r"url\(#(.+)\)", fill).group(1)
        pattern = patterns[pid]
        base, *mark = list(pattern)
        assert base.get("fill") == PALETTE[i]  # the colour...
        assert mark  # ...with a white mark on it
        marks.add(ET.tostring(mark[0]))
    assert len(marks) == 5  # every pattern is a different shape
    legend = by_class(root, "chart-legend", "text")
    assert [t.text for t in legend] == [f"S{i}" for i in range(6)]
    # segments are parted by a white line
    assert {s.get("stroke") for s in by_class(root, "chart-seg")} == {"#fff"}


def test_stacked_summary_names_each_series():
    desc = stacked().find(f"{NS}desc").text
    assert "Highest: 2026-04, 8 cases." in desc
    assert "Series, bottom to top: Open 13 cases, Closed 10 cases." in desc


def test_stacked_all_zero_and_bad_shapes():
    root = parse(stacked_column_chart("t", ["a", "b"], [("Open", [0, 0]), ("Closed", [0, 0])],
                                      chart_id="z"))
    assert {f(s, "height") for s in by_class(root, "chart-seg")} == {0}
    with pytest.raises(ValueError):
        stacked_column_chart("t", ["a", "b"], [("Open", [1])], chart_id="c")
    with pytest.raises(ValueError):
        stacked_column_chart("t", ["a"], [(f"S{i}", [1]) for i in range(7)], chart_id="c")


def test_a_long_legend_wraps_and_the_chart_grows_to_hold_it():
    names = [f"A rather long series name number {i}" for i in range(5)]
    root = parse(stacked_column_chart("t", ["a"], [(n, [1]) for n in names], chart_id="c",
                                      width=400, height=200))
    swatches = by_class(root, "chart-swatch", "rect")
    assert len({f(s, "y") for s in swatches}) > 1
    view_h = float(root.get("viewBox").split()[3])
    assert view_h > 200
    lowest_legend = max(f(s, "y") + f(s, "height") for s in swatches)
    assert all(f(s, "y") > lowest_legend for s in by_class(root, "chart-seg"))
