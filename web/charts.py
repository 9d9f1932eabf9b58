"""Accessible charts drawn on the server as inline SVG: no JavaScript, no third-party files.

Each function returns an ``<svg role="img">`` labelled by its own ``<title>`` and
``<desc>`` (the desc sums the data up in words); every bar, column and segment has a
``<title>`` child ("Normanton: 12 cases") for a pointer's tooltip. The numbers themselves
belong in a table next to the chart, which is the page's job.

The drawing needs no stylesheet: every shape carries explicit ``fill``/``stroke``
presentation attributes (the app's Content-Security-Policy forbids inline styles, and
WeasyPrint renders attributes), and CSS classes for a page that wants to restyle them:
``chart`` (the svg), ``chart-bg``, ``chart-bar``, ``chart-col``, ``chart-seg`` with
``chart-series-N``, ``chart-label``, ``chart-value``, ``chart-axis``, ``chart-grid``,
``chart-tick``, ``chart-legend``, ``chart-swatch`` and ``chart-empty``. The svg has
``width="100%"`` and a ``viewBox``, so it scales to its container; cap its size in CSS.

Colours: bars #1d4ed8 (6.7:1 on white), the other series at least 3:1 on white, text
#111 (18.9:1) on a white background the chart draws itself. Stacked series differ by
pattern as well as by colour, and segments are parted by a white line.

Output is deterministic: the same arguments give the same string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "column_chart", "stacked_column_chart", "nice_ticks", "PALETTE"]

TEXT = "#111111"
MUTED = "#4b5563"  # axis and tick labels: 7.6:1 on white
GRID = "#d1d5db"  # decoration only
BAR = "#1d4ed8"
#: Series colours, each at least 3:1 against white.
PALETTE: tuple[str, ...] = ("#1d4ed8", "#b45309", "#047857", "#7e22ce", "#be123c", "#374151")

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
FONT_SIZE = 13
CHAR_EM = 0.6  # a generous average glyph width, in ems, for fitting text

_CHART_ID = re.compile(r"[a-z0-9-]+")
# Characters XML 1.0 forbids, which would make the svg ill-formed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACE = re.compile(r"\s+")


# -- helpers ---------------------------------------------------------------------------


def _check(chart_id: str, width: int, height: int | None = None) -> None:
    if not _CHART_ID.fullmatch(chart_id):
        raise ValueError(f"chart_id must match [a-z0-9-]+, not {chart_id!r}")
    if width < 200:
        raise ValueError("width must be at least 200")
    if height is not None and height < 120:
        raise ValueError("height must be at least 120")


def _check_values(values: Sequence[int]) -> None:
    for v in values:
        if v < 0:
            raise ValueError(f"chart values must not be negative, got {v}")


def _clean(text: str) -> str:
    """One line of XML-safe text (not yet escaped)."""
    return _SPACE.sub(" ", _NOT_XML.sub("", str(text))).strip()


def _e(text: str) -> str:
    return str(escape(_clean(text)))


def _n(x: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros, never '-0'."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _count(value: int, unit: str) -> str:
    """'12 cases', '1 case' (a plural unit ending in s loses it for one)."""
    u = _clean(unit)
    if value == 1 and u.endswith("s") and len(u) > 1:
        u = u[:-1]
    return f"{value:,} {u}"


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    return len(text) * size * CHAR_EM


def _fit(text: str, max_width: float, size: float = FONT_SIZE) -> tuple[str, bool]:
    """The text cut with an ellipsis to fit max_width; and whether it was cut."""
    text = _clean(text)
    if _text_width(text, size) <= max_width:
        return text, False
    keep = max(int(max_width / (size * CHAR_EM)) - 1, 1)
    return text[:keep].rstrip() + "\u2026", True


def _text(x: float, y: float, text: str, *, cls: str, fill: str = TEXT, anchor: str = "start",
          size: float = FONT_SIZE, full: str | None = None) -> str:
    """A <text>; ``full`` (the uncut text) is added as its <title> when it differs."""
    tip = f"<title>{_e(full)}</title>" if full is not None and _clean(full) != text else ""
    return (f'<text class="{cls}" x="{_n(x)}" y="{_n(y)}" fill="{fill}" font-size="{_n(size)}"'
            f' text-anchor="{anchor}">{tip}{_e(text)}</text>')


def _names(labels: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C', 'A, B, C and 2 more'."""
    names = [_clean(label) for label in labels]
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return ", ".join(names[:3]) + f" and {len(names) - 3} more"


def _extremes(items: Sequence[tuple[str, int]], unit: str, noun: str) -> str:
    """'Highest: A, 12 cases. Lowest: B, 1 case.' (ties named together)."""
    values = [v for _, v in items]
    hi, lo = max(values), min(values)
    if hi == lo:
        return f"Each {noun}: {_count(hi, unit)}." if len(items) > 1 else ""
    each = " each"
    highs = [label for label, v in items if v == hi]
    lows = [label for label, v in items if v == lo]
    return (f"Highest: {_names(highs)}, {_count(hi, unit)}{each if len(highs) > 1 else ''}. "
            f"Lowest: {_names(lows)}, {_count(lo, unit)}{each if len(lows) > 1 else ''}.")


def _svg(chart_id: str, width: float, height: float, title: str, desc: str, body: str,
         defs: str = "") -> Markup:
    cid = chart_id
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
            f' aria-labelledby="{cid}-title {cid}-desc" focusable="false"'
            f' viewBox="0 0 {_n(width)} {_n(height)}" width="100%"'
            f' preserveAspectRatio="xMinYMin meet" font-family="{FONT}">'
            f'<title id="{cid}-title">{_e(title)}</title>'
            f'<desc id="{cid}-desc">{_e(desc)}</desc>')
    defs = f"<defs>{defs}</defs>" if defs else ""
    bg = (f'<rect class="chart-bg" x="0" y="0" width="{_n(width)}" height="{_n(height)}"'
          ' fill="#fff"/>')
    # Safe: every piece of text from the caller went through _e (markupsafe.escape), and
    # chart_id is checked against [a-z0-9-]+; the rest is this module's own markup.
    return Markup(head + defs + bg + body + "</svg>")  # noqa: S704


def _empty(title: str, chart_id: str, unit: str, width: int) -> Markup:
    words = f"No {_clean(unit)} in this period."
    height = 48
    body = _text(16, height / 2 + FONT_SIZE * 0.35, words, cls="chart-empty")
    return _svg(chart_id, width, height, title, words, body)


def nice_ticks(top: int) -> list[int]:
    """3 to 5 round y-axis ticks from 0 whose last is at least ``top``.

    The step is 1, 2 or 5 times a power of ten: 7 gives 0, 2, 4, 6, 8; 12 gives
    0, 5, 10, 15; 0 gives 0, 1, 2.
    """
    top = max(top, 1)
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            step = m * magnitude
            intervals = max(-(-top // step), 2)
            if intervals <= 4:
                return [i * step for i in range(intervals + 1)]
        magnitude *= 10


# -- horizontal bars -------------------------------------------------------------------


def bar_chart(title: str, items: Sequence[tuple[str, int]], *, chart_id: str,
              unit: str = "cases", width: int = 640) -> Markup:
    """Horizontal bars, one per (label, value): the label left, the value at the bar's end.

    Bars are in the order given. Bar length is proportional to value (the longest bar is
    the maximum); labels longer than about 40% of the width are cut with an ellipsis.
    """
    _check(chart_id, width)
    _check_values([v for _, v in items])
    if not items:
        return _empty(title, chart_id, unit, width)

    row, bar_h, pad = 28, 20, 8
    values = [v for _, v in items]
    top = max(values)
    label_w = min(max(_text_width(_clean(label)) for label, _ in items), width * 0.4)
    value_w = _text_width(f"{top:,}")
    x0 = pad + label_w + 8
    span = max(width - x0 - value_w - 6 - pad, 1.0)
    height = pad * 2 + row * len(items)

    parts: list[str] = []
    for i, (label, value) in enumerate(items):
        y = pad + i * row + (row - bar_h) / 2
        mid = y + bar_h / 2 + FONT_SIZE * 0.35
        length = span * value / top if top else 0.0
        shown, _ = _fit(label, label_w)
        parts.append(_text(x0 - 8, mid, shown, cls="chart-label", anchor="end", full=label))
        parts.append(
            f'<rect class="chart-bar" x="{_n(x0)}" y="{_n(y)}" width="{_n(length)}"'
            f' height="{_n(bar_h)}" fill="{BAR}"><title>{_e(label)}: {_e(_count(value, unit))}'
            f"</title></rect>")
        parts.append(_text(x0 + length + 6, mid, f"{value:,}", cls="chart-value"))
    parts.append(f'<line class="chart-axis" x1="{_n(x0)}" y1="{pad}" x2="{_n(x0)}"'
                 f' y2="{_n(height - pad)}" stroke="{MUTED}" stroke-width="1"/>')

    n = len(items)
    desc = " ".join(s for s in (
        f"{n} bar{'s' if n != 1 else ''}, {_count(sum(values), unit)} in all.",
        _extremes(items, unit, "bar") if n > 1 else f"{_clean(items[0][0])}: {_count(top, unit)}.",
    ) if s)
    return _svg(chart_id, width, height, title, desc, "".join(parts))


# -- vertical columns --------------------------------------------------------------------


class _Frame:
    """The plot area of a column chart, its y scale and its x bands."""

    def __init__(self, width: int, top_y: float, bottom_y: float, count: int,
                 ticks: list[int]) -> None:
        self.ticks = ticks
        self.left = 8 + _text_width(f"{ticks[-1]:,}", FONT_SIZE - 1) + 6
        self.right = width - 8.0
        self.top_y, self.bottom_y = top_y, bottom_y
        self.band = (self.right - self.left) / count
        self.col_w = min(self.band * 0.7, 56.0)

    def y(self, value: float) -> float:
        return self.bottom_y - (self.bottom_y - self.top_y) * value / self.ticks[-1]

    def x(self, index: int) -> float:
        """The left edge of column ``index``."""
        return self.left + index * self.band + (self.band - self.col_w) / 2

    def axes(self) -> str:
        parts: list[str] = []
        for t in self.ticks:
            y = self.y(t)
            if t:
                parts.append(f'<line class="chart-grid" x1="{_n(self.left)}" y1="{_n(y)}"'
                             f' x2="{_n(self.right)}" y2="{_n(y)}" stroke="{GRID}"'
                             f' stroke-width="1"/>')
            parts.append(_text(self.left - 6, y + FONT_SIZE * 0.35, f"{t:,}", cls="chart-tick",
                               fill=MUTED, anchor="end", size=FONT_SIZE - 1))
        parts.append(f'<line class="chart-axis" x1="{_n(self.left)}" y1="{_n(self.bottom_y)}"'
                     f' x2="{_n(self.right)}" y2="{_n(self.bottom_y)}" stroke="{MUTED}"'
                     f' stroke-width="1"/>')
        return "".join(parts)

    def x_labels(self, labels: Sequence[str]) -> str:
        """Every nth label, counted back from the last so the latest is always shown."""
        step = _label_step(labels, self.band)
        room = self.band * step - 4
        parts: list[str] = []
        last = len(labels) - 1
        for i, label in enumerate(labels):
            if (last - i) % step:
                continue
            shown, _ = _fit(label, room, FONT_SIZE - 1)
            # centred under its column, but kept inside the drawing at either end
            half = _text_width(shown, FONT_SIZE - 1) / 2
            cx = self.left + (i + 0.5) * self.band
            cx = max(min(cx, self.right + 6 - half), half + 2)
            parts.append(_text(cx, self.bottom_y + FONT_SIZE + 4, shown, cls="chart-label",
                               anchor="middle", size=FONT_SIZE - 1, full=label))
        return "".join(parts)


def _label_step(labels: Sequence[str], band: float) -> int:
    """Show every nth x label so that labels (up to 10 characters) do not overlap."""
    widest = max((min(len(_clean(label)), 10) for label in labels), default=1)
    need = widest * (FONT_SIZE - 1) * CHAR_EM + 8
    return max(math.ceil(need / band), 1) if band > 0 else 1


def _column_desc(kind: str, periods: Sequence[str], totals: Sequence[int], unit: str) -> str:
    n = len(periods)
    span = (f"{_clean(periods[0])} to {_clean(periods[-1])}" if n > 1
            else _clean(periods[0]))
    items = list(zip(periods, totals, strict=True))
    ext = _extremes(items, unit, kind) if n > 1 else ""
    return " ".join(s for s in (
        f"{n} {kind}{'s' if n != 1 else ''}, {span}: {_count(sum(totals), unit)} in all.",
        ext,
        f"Latest: {_clean(periods[-1])}, {_count(totals[-1], unit)}." if n > 1 else "",
    ) if s)


def column_chart(title: str, items: Sequence[tuple[str, int]], *, chart_id: str,
                 unit: str = "cases", width: int = 640, height: int = 240) -> Markup:
    """Vertical columns, e.g. one per month ("2026-01") in time order.

    A y axis with 3-5 round ticks (``nice_ticks``); when the x labels would collide only
    every nth is drawn (counted back from the last), but every column's <title> names its
    label. The value is printed above each column when all values fit.
    """
    _check(chart_id, width, height)
    _check_values([v for _, v in items])
    if not items:
        return _empty(title, chart_id, unit, width)

    labels = [label for label, _ in items]
    values = [v for _, v in items]
    ticks = nice_ticks(max(values))
    frame = _Frame(width, 12 + FONT_SIZE, height - FONT_SIZE - 14, len(items), ticks)
    show_values = frame.band >= _text_width(f"{max(values):,}", FONT_SIZE - 1) + 4

    parts = [frame.axes()]
    for i, (label, value) in enumerate(items):
        x, y = frame.x(i), frame.y(value)
        parts.append(
            f'<rect class="chart-col" x="{_n(x)}" y="{_n(y)}" width="{_n(frame.col_w)}"'
            f' height="{_n(frame.bottom_y - y)}" fill="{BAR}"><title>{_e(label)}:'
            f" {_e(_count(value, unit))}</title></rect>")
        if show_values:
            parts.append(_text(x + frame.col_w / 2, y - 4, f"{value:,}", cls="chart-value",
                               anchor="middle", size=FONT_SIZE - 1))
    parts.append(frame.x_labels(labels))
    desc = _column_desc("column", labels, values, unit)
    return _svg(chart_id, width, height, title, desc, "".join(parts))


# -- stacked columns -----------------------------------------------------------------------


# The white mark drawn over each series' colour, so series differ by more than colour.
_MARKS: tuple[str, ...] = (
    "",  # series 0: solid
    '<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="#fff" stroke-width="1.5"/>',
    '<circle cx="4" cy="4" r="1.5" fill="#fff"/>',
    '<path d="M0,4 h8" stroke="#fff" stroke-width="1.5"/>',
    '<path d="M0,0 l8,8 M8,0 l-8,8" stroke="#fff" stroke-width="1"/>',
    '<path d="M4,0 v8" stroke="#fff" stroke-width="1.5"/>',
)


def _pattern(chart_id: str, index: int) -> str:
    """Series ``index``'s colour with its white mark, as a tiling <pattern>."""
    return (f'<pattern id="{chart_id}-pattern-{index}" patternUnits="userSpaceOnUse"'
            f' width="8" height="8"><rect width="8" height="8" fill="{PALETTE[index]}"/>'
            f"{_MARKS[index]}</pattern>")


def _series_fill(chart_id: str, index: int) -> str:
    """The fill attribute value for series ``index`` (a pattern, or the plain colour)."""
    return PALETTE[0] if index == 0 else f"url(#{chart_id}-pattern-{index})"


def _legend(chart_id: str, names: Sequence[str], width: int) -> tuple[str, float]:
    """The legend's markup, wrapped to the width, and the height it takes."""
    x, y, line = 8.0, 8.0, FONT_SIZE + 8
    max_text = width * 0.45
    parts: list[str] = []
    for i, name in enumerate(names):
        shown, _ = _fit(name, max_text)
        item_w = 14 + 6 + _text_width(shown) + 16
        if x > 8 and x + item_w > width - 8:
            x, y = 8.0, y + line
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect class="chart-swatch chart-series-{i}" x="{_n(x)}" y="{_n(y)}" width="14"'
            f' height="14" fill="{_series_fill(chart_id, i)}" stroke="{colour}"'
            f' stroke-width="1"/>')
        parts.append(_text(x + 20, y + 7 + FONT_SIZE * 0.35, shown, cls="chart-legend",
                           full=name))
        x += item_w
    return "".join(parts), y + line


def stacked_column_chart(title: str, periods: Sequence[str],
                         series: Sequence[tuple[str, Sequence[int]]], *, chart_id: str,
                         unit: str = "cases", width: int = 640, height: int = 240) -> Markup:
    """Columns of stacked segments, e.g. open and closed cases per month, with a legend.

    ``series`` is (name, one value per period); the first series is at the bottom. Series
    differ by fill colour and by pattern (solid, stripes, dots, ...), segments are parted
    by a white line, and every segment's <title> reads "2026-01, Open: 5 cases". At most
    six series. ``height`` is the plot's: the legend's rows are added above it.
    """
    _check(chart_id, width, height)
    for name, values in series:
        if len(values) != len(periods):
            raise ValueError(f"series {name!r} has {len(values)} values for"
                             f" {len(periods)} periods")
        _check_values(values)
    if not periods or not series:
        return _empty(title, chart_id, unit, width)
    if len(series) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} series")

    totals = [sum(values[i] for _, values in series) for i in range(len(periods))]
    legend, legend_h = _legend(chart_id, [name for name, _ in series], width)
    ticks = nice_ticks(max(totals))
    frame = _Frame(width, legend_h + FONT_SIZE + 4, legend_h + height - FONT_SIZE - 14,
                   len(periods), ticks)
    show_values = frame.band >= _text_width(f"{max(totals):,}", FONT_SIZE - 1) + 4

    parts = [legend, frame.axes()]
    for i, period in enumerate(periods):
        x, below = frame.x(i), 0
        parts.append('<g class="chart-stack">')
        for s, (name, values) in enumerate(series):
            value = values[i]
            y0, y1 = frame.y(below), frame.y(below + value)
            below += value
            parts.append(
                f'<rect class="chart-seg chart-series-{s}" x="{_n(x)}" y="{_n(y1)}"'
                f' width="{_n(frame.col_w)}" height="{_n(y0 - y1)}"'
                f' fill="{_series_fill(chart_id, s)}" stroke="#fff" stroke-width="1">'
                f"<title>{_e(period)}, {_e(name)}: {_e(_count(value, unit))}</title></rect>")
        parts.append("</g>")
        if show_values:
            parts.append(_text(x + frame.col_w / 2, frame.y(totals[i]) - 4, f"{totals[i]:,}",
                               cls="chart-value", anchor="middle", size=FONT_SIZE - 1))
    parts.append(frame.x_labels(periods))

    defs = "".join(_pattern(chart_id, s) for s in range(1, len(series)))
    by_series = ", ".join(f"{_clean(name)} {_count(sum(values), unit)}"
                          for name, values in series)
    desc = (_column_desc("column", periods, totals, unit)
            + f" Series, bottom to top: {by_series}.")
    return _svg(chart_id, width, legend_h + height, title, desc, "".join(parts), defs)
