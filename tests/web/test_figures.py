"""The quarterly public figures: what a quarter publishes, the page and the PDF, and the
proof that no published table lets a suppressed count be worked out.

The proof renders the real page for many random small datasets, reads the tables back
out of the HTML (the cells carry ``data-cell`` and ``data-value``), and runs a checker
written here, independent of ``intake.disclosure``: for each cell not shown it tries
every value it could have against every combination of the other cells not shown, and
asserts at least two values fit what is published.
"""

from __future__ import annotations

import io
import random
import re
import statistics
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from argon2 import PasswordHasher

from intake.cases import create_case
from intake.db import transaction
from intake.disclosure import Shown
from intake.figures import OTHER_AREAS, published_quarters, quarterly
from intake.i18n import gettext
from web import create_app
from web.extensions import services

#: The service's clock: late November 2026, so 2026-Q3 is the latest complete quarter.
NOW = datetime(2026, 11, 27, 14, 0)
AREA_NAMES = ("Normanton", "Alvaston", "Sinfin", "Chaddesden", "Littleover", "Mickleover",
              "Allestree", "Spondon")
CHARACTERISTICS = ("race", "religion", "sexual_orientation", "transgender_identity",
                   "disability", "alternative_subculture", "other")
BEHAVIOURS = ("verbal_abuse", "intimidation", "threats", "harassment", "assault",
              "property_damage", "online", "other")


@pytest.fixture(autouse=True)
def _quick_codes(monkeypatch):
    """Anonymous cases hash their follow-up code with argon2: cheap settings here, as
    the casework tests do, so hundreds of cases take seconds."""
    monkeypatch.setattr("intake.cases._HASHER",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def app(tmp_path, data_key):
    from ..conftest import HASH_KEY

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'fig.db'}",
                      "DATA_KEY": data_key, "HASH_KEY": HASH_KEY,
                      "PUBLIC_URL": "https://report.example.org"})
    services(app).intake.clock = lambda: NOW
    yield app
    services(app).db.dispose()


@dataclass
class Report:
    """One synthetic case and what it counts under."""

    when: datetime
    area: str | None = "Normanton"
    characteristics: tuple[str, ...] = ("race",)
    behaviours: tuple[str, ...] = ("verbal_abuse",)
    anonymous: bool = False
    outcome: str | None = None  # None: still open
    updates: str | None = None  # "yes" (on time), "no" (late), None (none due yet)


def add(session, report: Report, number: int = 0) -> None:
    answers = {
        "role": "victim", "anonymous": "anonymous" if report.anonymous else "named",
        "description": "They shouted at me.", "behaviours": list(report.behaviours),
        "characteristics": list(report.characteristics),
        "where_type": "home" if report.area else "online",
    }
    if report.area:
        answers.update(area=report.area, place=f"{number} Oak Street")
    if not report.anonymous:
        answers.update(name="Test Person", contact_method="phone",
                       contact_details=f"07700 9{number:05d}")
    case, _ = create_case(session, answers=answers, channel="web", language="en",
                          urgent=False, now=report.when)
    if report.outcome:
        case.status, case.outcome = "closed", report.outcome
    if report.updates == "yes":
        case.updates_on_time = 1
    elif report.updates == "no":
        case.updates_late = 1


def load(app, reports: list[Report]) -> None:
    # A few cases a transaction: one long session slows down as it grows.
    for start in range(0, len(reports), 20):
        with transaction(services(app).sessions) as session:
            for number, report in enumerate(reports[start:start + 20], start):
                add(session, report, number)


def in_q3(day: int) -> datetime:
    return datetime(2026, 7, 1, 12) + timedelta(days=day % 90)


# ------------------------------------------------------------------ reading the page


@dataclass
class PageTable:
    name: str
    additive: bool
    withheld: bool
    #: (row key, "exact" | "fewer" | "hidden", value or None)
    cells: list[tuple[str, str, int | None]] = field(default_factory=list)


class FiguresParser(HTMLParser):
    """The published numbers, read back from the data attributes of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.total: tuple[str, int | None] | None = None
        self.tables: dict[str, PageTable] = {}
        self._table: PageTable | None = None
        self._row: str | None = None
        self.withheld_all = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-total" in a:
            value = a.get("data-value")
            self.total = (a["data-total"], int(value) if value is not None else None)
        if "data-withheld-all" in a:
            self.withheld_all = True
        if tag == "section" and "data-table" in a:
            self._table = PageTable(a["data-table"], a["data-additive"] == "true",
                                    "data-withheld" in a)
            self.tables[self._table.name] = self._table
        if tag == "tr" and "data-key" in a:
            self._row = a["data-key"]
        if tag == "td" and "data-cell" in a and self._table is not None:
            value = a.get("data-value")
            self._table.cells.append(
                (self._row, a["data-cell"], int(value) if value is not None else None))

    def handle_endtag(self, tag):
        if tag == "section":
            self._table = None


def read_page(html: str) -> FiguresParser:
    parser = FiguresParser()
    parser.feed(html)
    return parser


# ------------------------------------------------------------------ the checker


def feasible_values(table: PageTable, total: int) -> dict[str, set[int]]:
    """Every value each cell not shown could have, given what the page shows.

    What a reader knows: a "fewer than 5" cell is 1 to 4, a "not shown" one 5 or more,
    no cell is above the total, and the cells add up to the total (a table where every
    report is in one row). A table where a report can be in several rows publishes only
    the reasons given, not the reports that gave none, so its cells add up to an unknown
    number of at least the reports giving one: no more than "at most the total". For each
    cell not shown, each of its possible values is tried against every combination of
    the other unknown cells (their reachable sums, built one cell at a time)."""
    known = sum(value for _, shown, value in table.cells if shown == "exact")
    rest = total - known
    unknown = [(key, range(1, min(4, total) + 1) if shown == "fewer" else range(5, total + 1))
               for key, shown, _ in table.cells if shown != "exact"]
    out: dict[str, set[int]] = {}
    for index, (key, values) in enumerate(unknown):
        sums = {0}
        for other, (_, other_values) in enumerate(unknown):
            if other != index:
                sums = {s + v for s in sums for v in other_values}
        if table.additive:
            out[key] = {v for v in values if rest - v in sums}
        else:
            out[key] = set(values)
    return out


def assert_safe(page: FiguresParser, truth: dict[str, Counter[str]], total: int) -> int:
    """Every published number is true, and no cell not shown can be worked out.
    Returns how many cells were not shown exactly."""
    shown, value = page.total
    if 1 <= total <= 4:
        assert shown == "fewer" and value is None and page.withheld_all
        assert not page.tables
        return 0
    assert (shown, value) == ("exact", total)
    suppressed = 0
    for name, table in page.tables.items():
        true = truth[name]
        if table.withheld:
            assert not table.cells
            continue
        for key, how, published in table.cells:
            actual = true.get(key, 0)
            if how == "exact":
                assert published == actual, (name, key)
            elif how == "fewer":
                assert 1 <= actual <= 4, (name, key, actual)
            else:
                assert actual >= 5, (name, key, actual)
        ranges = feasible_values(table, total)
        for key, values in ranges.items():
            suppressed += 1
            assert true[key] in values, (name, key, true[key], values)
            assert len(values) >= 2, f"{name}: {key} can only be {values} ({table.cells})"
    return suppressed


# ------------------------------------------------------------------ intake.figures


def test_published_quarters_are_complete_ones_with_cases_newest_first(app):
    load(app, [Report(datetime(2026, 2, 10, 9)), Report(in_q3(5)), Report(in_q3(40)),
               Report(datetime(2026, 11, 1, 9))])  # 2026-Q4 is still going on
    with services(app).sessions() as session:
        assert published_quarters(session, NOW) == ["2026-Q3", "2026-Q1"]
        # 30 September 23:30 UTC is already 1 October in London: Q3 has ended.
        assert published_quarters(session, datetime(2026, 9, 30, 23, 30))[0] == "2026-Q3"
        assert published_quarters(session, datetime(2026, 9, 30, 22, 30)) == ["2026-Q1"]


def test_a_quarter_totals_merges_small_areas_and_protects_small_counts(app):
    reports = (
        [Report(in_q3(day), area="Normanton", characteristics=("race",)) for day in range(9)]
        + [Report(in_q3(day), area="Alvaston", characteristics=("religion",),
                  behaviours=("threats", "assault")) for day in range(7)]
        + [Report(in_q3(day), area="Sinfin", characteristics=("disability",))
           for day in range(3)]
        + [Report(in_q3(day), area="Spondon", characteristics=("race", "religion"),
                  outcome="resolved") for day in range(2)]
        + [Report(datetime(2026, 4, 2, 9), area="Sinfin")]  # another quarter
    )
    load(app, reports)
    with services(app).sessions() as session:
        figures = quarterly(session, "2026-Q3")
    assert figures.quarter == "2026-Q3"
    assert (figures.total.shown, figures.total.value) == (Shown.EXACT, 21)
    areas = {cell.key: cell for cell in figures.table("areas").cells}
    # Sinfin (3) and Spondon (2) are counted together: 5, shown; never by name.
    assert list(areas) == ["Alvaston", "Normanton", OTHER_AREAS]
    assert (areas[OTHER_AREAS].shown, areas[OTHER_AREAS].value) == (Shown.EXACT, 5)
    assert areas["Normanton"].value == 9
    characteristics = {cell.key: cell for cell in figures.table("characteristics").cells}
    assert characteristics["race"].value == 11
    assert characteristics["religion"].value == 9
    assert characteristics["disability"].shown is Shown.FEWER_THAN_5
    assert characteristics["sexual_orientation"].value == 0
    outcomes = {cell.key: cell for cell in figures.table("outcomes").cells}
    # 19 open, 2 resolved: the 2 are fewer than 5, and 19 would give them away.
    assert outcomes["resolved"].shown is Shown.FEWER_THAN_5
    assert outcomes["open"].shown is Shown.HIDDEN
    fortnightly = {cell.key: cell for cell in figures.table("fortnightly").cells}
    assert fortnightly["not_yet_due"].value == 21
    assert [table.additive for table in figures.tables] == [False, False, True, True, True]


def test_a_quarter_of_three_cases_is_withheld(app):
    load(app, [Report(in_q3(day)) for day in range(3)])
    with services(app).sessions() as session:
        figures = quarterly(session, "2026-Q3")
    assert figures.total.shown is Shown.FEWER_THAN_5
    assert all(table.withheld for table in figures.tables)
    page = app.test_client().get("/figures/2026-Q3")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "There were fewer than 5 reports in this period" in text
    assert "Normanton" not in text
    parsed = read_page(text)
    assert parsed.total == ("fewer", None) and not parsed.tables


# ------------------------------------------------------------------ the page


def test_the_latest_quarter_is_public_and_in_words(app):
    load(app, [Report(in_q3(day)) for day in range(12)]
         + [Report(datetime(2026, 2, 1, 9)) for _ in range(6)])
    client = app.test_client()
    page = client.get("/figures")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "July to September 2026" in text
    assert '<html lang="en" dir="ltr">' in text
    assert page.headers["Cache-Control"] == "public, max-age=300"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in page.headers
    assert read_page(text).total == ("exact", 12)
    # How to report, the notes, the date, the other quarter, the PDF, the languages.
    assert 'href="/?lang=en"' in text
    assert "“Fewer than 5” means 1, 2, 3 or 4 reports." in text
    assert "Produced on 27 November 2026." in text
    assert 'href="/figures/2026-Q1?lang=en">January to March 2026</a>' in text
    assert 'href="/figures/2026-Q3.pdf?lang=en"' in text
    assert 'hreflang="pa"' in text and "ਪੰਜਾਬੀ" in text
    assert "https://report.example.org/figures/2026-Q3?lang=en" in text
    # Every table has a caption and headers with scope.
    assert text.count("<caption>") == 5
    assert text.count('scope="col"') == 10
    assert 'scope="row"' in text


def test_a_quarter_in_another_language(app):
    load(app, [Report(in_q3(day)) for day in range(12)])
    text = app.test_client().get("/figures/2026-Q3?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in text
    assert gettext("ar", "July to September %(year)s", year="2026") in text
    assert gettext("ar", "Race or nationality") in text
    assert gettext("ar", "About these figures") in text
    assert "About these figures" not in text
    # Polish numbers and dates in Polish.
    text = app.test_client().get("/figures/2026-Q3?lang=pl").get_data(as_text=True)
    assert "27 listopada 2026" in text
    # An unknown language is English.
    text = app.test_client().get("/figures/2026-Q3?lang=xx").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in text


@pytest.mark.parametrize("path", ["/figures/2026-Q4", "/figures/2026-Q2", "/figures/1999-Q1",
                                  "/figures/2026-Q4.pdf"])
def test_unpublished_quarters_are_not_found(app, path):
    load(app, [Report(in_q3(day)) for day in range(6)] + [Report(datetime(2026, 11, 2, 9))])
    page = app.test_client().get(path)
    assert page.status_code == 404
    assert "There are no published figures for that period." in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/figures/2026-Q5", "/figures/2026Q3", "/figures/latest",
                                  "/figures/2026-q3", "/figures/%3Cscript%3E.pdf"])
def test_malformed_quarters_get_a_clear_page(app, path):
    page = app.test_client().get(path)
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Periods are written like 2026-Q3" in text
    assert "<script>" not in text


def test_no_figures_yet(app):
    page = app.test_client().get("/figures?lang=pl")
    assert page.status_code == 200
    assert gettext("pl", "No figures have been published yet. Figures for a period are "
                   "published once it has ended.") in page.get_data(as_text=True)


# ------------------------------------------------------------------ the PDF


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def font_names(reader) -> set[str]:
    """The fonts the pages of a PDF use (their /BaseFont names)."""
    names = set()
    for page in reader.pages:
        for ref in page["/Resources"].get_object().get("/Font", {}).values():
            names.add(str(ref.get_object()["/BaseFont"]))
    return names


def letters(text: str) -> str:
    """Text without spaces and combining marks: PDF text extraction puts vowel signs
    (Gurmukhi, Arabic) and right-to-left runs in an order of its own. Alef is left out
    too: pypdf reads the glyph of alef with hamza above (in "أو") as nothing."""
    return "".join(char for char in unicodedata.normalize("NFKD", text)
                   if not char.isspace() and char != "\u0627"
                   and not unicodedata.category(char).startswith("M"))


def pdf_text(document: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


@pytest.mark.parametrize(("lang", "font"), [("en", None), ("pa", "NotoSansGurmukhi"),
                                            ("ar", "NotoNaskhArabic"),
                                            ("ti", "NotoSansEthiopic")])
def test_the_pdf_is_a4_in_each_script_with_its_font(app, lang, font):
    from pypdf import PdfReader

    load(app, [Report(in_q3(day), characteristics=("race", "disability")) for day in range(14)])
    response = app.test_client().get(f"/figures/2026-Q3.pdf?lang={lang}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f"inline; filename=hatereport-figures-2026-Q3-{lang}.pdf")
    document = response.data
    assert document.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(document))
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(width - 595.28) < 1 and abs(height - 841.89) < 1  # A4 in points
    # Compared without spaces: lines wrap, and text extraction may split or join words
    # in some scripts.
    text = squash(pdf_text(document))
    assert "14" in text
    assert "https://report.example.org/figures/2026-Q3?lang=" + lang in text
    for words in ("July to September %(year)s", "Reports in total", "Race or nationality",
                  "About these figures"):
        for word in gettext(lang, words, year="2026").split():
            assert letters(word) in letters(text), (words, word)
    fonts = font_names(reader)
    if font is not None:
        # The script's own Noto font is embedded (names are like ABCDEF+Noto-Naskh-Arabic).
        assert any(font in name.replace("-", "") for name in fonts), fonts
    assert b"Exit this page" not in document


def test_the_pdf_is_drawn_once_for_the_same_figures(app):
    load(app, [Report(in_q3(day)) for day in range(8)])
    client = app.test_client()
    started = time.perf_counter()
    first = client.get("/figures/2026-Q3.pdf").data
    drawing = time.perf_counter() - started
    started = time.perf_counter()
    again = client.get("/figures/2026-Q3.pdf").data
    assert again == first
    assert time.perf_counter() - started < drawing


# ------------------------------------------------------------------ the proof


def random_reports(rng: random.Random, year: int, quarter: int) -> list[Report]:
    """A small random quarter: a few areas (some tiny), skewed counts, so that small
    cells, secondary hiding, merged areas and withheld tables all come up."""
    count = rng.choice([0, 1, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 22, 27, 33])
    areas = rng.sample(AREA_NAMES, rng.randint(1, 6))
    area_weights = [rng.choice([1, 1, 2, 5, 10]) for _ in areas]
    characteristic_weights = [rng.choice([0, 1, 1, 3, 8]) for _ in CHARACTERISTICS]
    behaviour_weights = [rng.choice([0, 1, 1, 3, 8]) for _ in BEHAVIOURS]
    first_month = 3 * (quarter - 1) + 1
    reports = []
    for _ in range(count):
        when = datetime(year, first_month, 1, 12) + timedelta(days=rng.randint(0, 88))
        characteristics: tuple[str, ...]
        roll = rng.random()
        if roll < 0.08:
            characteristics = ()
        elif roll < 0.14:
            characteristics = ("not_sure",)
        else:
            characteristics = tuple(set(rng.choices(
                CHARACTERISTICS, weights=[w + 0.01 for w in characteristic_weights],
                k=rng.choice([1, 1, 1, 2, 3]))))
        behaviours = () if rng.random() < 0.06 else tuple(set(rng.choices(
            BEHAVIOURS, weights=[w + 0.01 for w in behaviour_weights],
            k=rng.choice([1, 1, 2, 3]))))
        anonymous = rng.random() < 0.3
        reports.append(Report(
            when=when,
            area=None if rng.random() < 0.1 else rng.choices(areas, area_weights)[0],
            characteristics=characteristics, behaviours=behaviours, anonymous=anonymous,
            outcome=rng.choice([None, None, None, "resolved", "resolved", "referred",
                                "no_further_action", "withdrawn"]),
            updates=None if anonymous else rng.choice([None, "yes", "yes", "no"]),
        ))
    return reports


def truth(reports: list[Report]) -> dict[str, Counter[str]]:
    """What the tables should count, from the reports themselves."""
    out: dict[str, Counter[str]] = {name: Counter() for name in
                                    ("characteristics", "behaviours", "areas", "outcomes",
                                     "fortnightly")}
    for report in reports:
        out["characteristics"].update(report.characteristics or ("not_recorded",))
        out["behaviours"].update(report.behaviours or ("not_recorded",))
        out["areas"][report.area or ""] += 1
        out["outcomes"][report.outcome or "open"] += 1
        out["fortnightly"]["not_applicable" if report.anonymous
                           else {"yes": "yes", "no": "no", None: "not_yet_due"}[report.updates]] += 1
    return out


def merged_truth(areas: Counter[str], shown: list[str]) -> Counter[str]:
    """The true area counts as published: the areas not shown by name, together."""
    out = Counter({key: n for key, n in areas.items() if key in shown and key != OTHER_AREAS})
    out[OTHER_AREAS] = sum(n for key, n in areas.items() if key not in out)
    return out


def test_no_published_table_lets_a_suppressed_count_be_recovered(app):
    """THE PROOF, over the real page: 60 random quarters (2010 to 2024), each rendered
    at /figures/<quarter>, read back, and checked cell by cell."""
    rng = random.Random(20261127)
    datasets = {}
    for number in range(60):
        year, quarter = 2010 + number // 4, number % 4 + 1
        datasets[f"{year}-Q{quarter}"] = random_reports(rng, year, quarter)
    load(app, [report for reports in datasets.values() for report in reports])
    client = app.test_client()
    suppressed = withheld = merged = 0
    for quarter, reports in datasets.items():
        response = client.get(f"/figures/{quarter}")
        if not reports:
            assert response.status_code == 404
            continue
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        page = read_page(html)
        expected = truth(reports)
        if "areas" in page.tables and not page.tables["areas"].withheld:
            shown = [key for key, _, _ in page.tables["areas"].cells]
            expected["areas"] = merged_truth(expected["areas"], shown)
            # An area not shown by name never appears on the page at all.
            for area in AREA_NAMES:
                if area not in shown:
                    assert area not in html, (quarter, area)
            merged += OTHER_AREAS in shown
        else:
            assert not any(area in html for area in AREA_NAMES)
        suppressed += assert_safe(page, expected, len(reports))
        withheld += page.withheld_all + sum(table.withheld for table in page.tables.values())
    # The datasets really did exercise the protection.
    assert suppressed >= 50 and withheld >= 5 and merged >= 10, (suppressed, withheld, merged)


def test_the_checker_catches_a_table_that_gives_a_count_away():
    """The checker itself: 20 reports, 17 shown, one "fewer than 5" left: it is 3."""
    table = PageTable("outcomes", True, False,
                      [("open", "exact", 17), ("resolved", "fewer", None)])
    assert feasible_values(table, 20) == {"resolved": {3}}
    multi = PageTable("characteristics", False, False,
                      [("race", "exact", 17), ("religion", "fewer", None)])
    assert feasible_values(multi, 20) == {"religion": {1, 2, 3, 4}}


# ------------------------------------------------------------------ timing


def test_the_page_and_the_pdf_are_quick_on_a_small_database(app, capsys):
    rng = random.Random(7)
    load(app, random_reports(rng, 2026, 3) + random_reports(rng, 2026, 2))
    client = app.test_client()
    client.get("/figures/2026-Q3")
    page_times, pdf_times = [], []
    for _ in range(15):
        started = time.perf_counter()
        assert client.get("/figures/2026-Q3").status_code == 200
        page_times.append(time.perf_counter() - started)
    for lang in ("en", "pl", "ar", "pa", "ti"):
        started = time.perf_counter()
        assert client.get(f"/figures/2026-Q3.pdf?lang={lang}").status_code == 200
        pdf_times.append(time.perf_counter() - started)
    with capsys.disabled():
        print(f"\nfigures page: median {statistics.median(page_times) * 1000:.1f} ms; "
              f"PDF (drawn): median {statistics.median(pdf_times) * 1000:.0f} ms")
    assert statistics.median(page_times) < 1.0
