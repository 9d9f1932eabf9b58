"""The quarterly public figures (policy 5.3): a public page and a printable A4 PDF.

``GET /figures`` shows the latest published quarter, ``GET /figures/2026-Q3`` one
quarter, ``GET /figures/2026-Q3.pdf`` the same as an A4 document for notice boards and
letters (WeasyPrint, from the same template and stylesheet), each in the language
``?lang=`` names. No login, no cookies: the figures are aggregate and protected
(:mod:`intake.figures`), so they may be cached for a few minutes.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel.dates import format_date
from babel.numbers import format_decimal
from flask import Blueprint, Response, current_app, render_template, request, url_for
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse
from werkzeug.security import safe_join

from intake.disclosure import Cell, Shown
from intake.figures import (
    AREA_LABELS,
    BEHAVIOUR_LABELS,
    CHARACTERISTIC_LABELS,
    FORTNIGHTLY_LABELS,
    OUTCOME_LABELS,
    QUARTER_NAMES,
    Figures,
    published_quarters,
    quarter_number,
    quarterly,
)
from intake.i18n import N_, gettext
from intake.languages import LANGUAGES, Language, get_language
from intake.stats import LONDON
from web.extensions import services

bp = Blueprint("figures", __name__)

#: How long a browser or proxy may keep a page (the figures are public and aggregate,
#: but outcomes move as cases close).
CACHE_SECONDS = 300
#: PDFs kept in memory, keyed by what they show: drawing one takes a fraction of a
#: second, so a public endpoint should not redo it for every request.
PDF_CACHE_SIZE = 64

_QUARTER = re.compile(r"^[0-9]{4}-Q[1-4]$")

#: Per table: its caption, the heading of its first column, and its row labels.
TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "characteristics": (
        N_("Why people think it happened (a report can give more than one reason)"),
        N_("Reason"), CHARACTERISTIC_LABELS),
    "behaviours": (
        N_("What happened (a report can name more than one thing)"),
        N_("What happened"), BEHAVIOUR_LABELS),
    "areas": (N_("Where it happened"), N_("Area"), AREA_LABELS),
    "outcomes": (N_("What has happened to the reports"), N_("Outcome"), OUTCOME_LABELS),
    "fortnightly": (
        N_("Did we update the people who reported every fortnight?"),
        N_("Updates"), FORTNIGHTLY_LABELS),
}

FEWER_THAN_5 = N_("fewer than 5")
BUSY = N_("The printable version is being made for someone else. Please try again in a "
          "minute.")
NOT_SHOWN = N_("not shown")
NOT_A_QUARTER = N_("That is not a period we publish figures for. Periods are written like "
                   "2026-Q3 (July to September 2026).")
NOT_PUBLISHED = N_("There are no published figures for that period. Figures for a period "
                   "are published once it has ended.")
NONE_YET = N_("No figures have been published yet. Figures for a period are published "
              "once it has ended.")


@dataclass(frozen=True)
class Row:
    """One row as the template shows it."""

    key: str
    label: str
    shown: str
    text: str
    value: int | None
    #: Set for names that are not translated (areas): shown in their own direction.
    proper_name: bool = False


def babel_locale(code: str) -> str:
    """The Babel locale for dates and numbers (British English for English)."""
    return "en_GB" if code == "en" else code


def period_name(locale: str, quarter: str) -> str:
    """The quarter in words, e.g. "July to September 2026"."""
    year, number = quarter_number(quarter)
    return gettext(locale, QUARTER_NAMES[number], year=str(year))


def _number(locale: str, value: int) -> str:
    return format_decimal(value, locale=babel_locale(locale))


def _cell_text(locale: str, cell: Cell) -> str:
    if cell.shown is Shown.EXACT and cell.value is not None:
        return _number(locale, cell.value)
    return gettext(locale, FEWER_THAN_5 if cell.shown is Shown.FEWER_THAN_5 else NOT_SHOWN)


def _shown(cell: Cell) -> str:
    return {Shown.EXACT: "exact", Shown.FEWER_THAN_5: "fewer", Shown.HIDDEN: "hidden"}[cell.shown]


def _tables(locale: str, figures: Figures) -> list[dict[str, Any]]:
    out = []
    for published in figures.tables:
        caption, header, labels = TABLES[published.name]
        rows = []
        for cell in published.cells:
            proper = published.name == "areas" and cell.key not in labels
            label = cell.key if proper or cell.key not in labels else gettext(
                locale, labels[cell.key])
            rows.append(Row(cell.key, label, _shown(cell), _cell_text(locale, cell),
                            cell.value if cell.shown is Shown.EXACT else None, proper))
        out.append({"name": published.name, "additive": published.additive,
                    "caption": gettext(locale, caption), "header": gettext(locale, header),
                    "withheld": published.withheld, "rows": rows})
    return out


def _now() -> datetime:
    return services().intake.clock()


def _today(now: datetime) -> date:
    return now.replace(tzinfo=UTC).astimezone(LONDON).date()


def _public_url(path: str) -> str:
    """The full address of ``path`` from ``HATEREPORT_PUBLIC_URL``; without it, the path
    alone: never the request's Host header, which anyone can set (it would print their
    address on our figures and make every PDF a new one to draw)."""
    base = current_app.config.get("PUBLIC_URL")
    return str(base).rstrip("/") + path if base else path


def _ltr(text: str) -> str:
    """``text`` (an address) kept left to right inside any paragraph (Unicode isolate)."""
    return f"\u2066{text}\u2069"


def _languages(endpoint: str, current: Language, **values: Any) -> list[dict[str, Any]]:
    return [{"code": language.code, "name": language.native_name,
             "direction": language.direction, "current": language.code == current.code,
             "url": url_for(endpoint, lang=language.code, **values)}
            for language in LANGUAGES]


def _render(language: Language, *, quarter: str | None, figures: Figures | None,
            published: list[str], message: str | None = None, pdf: bool = False) -> str:
    locale = language.code
    endpoint, values = ("figures.latest", {}) if quarter is None else (
        "figures.quarter", {"quarter": quarter})
    context: dict[str, Any] = {
        "_": partial(gettext, locale),
        "locale": locale,
        "direction": language.direction,
        "quick_exit_url": current_app.config["QUICK_EXIT_URL"],
        "pdf": pdf,
        "message": gettext(locale, message) if message else None,
        "figures": figures,
        "languages": _languages(endpoint, language, **values),
        "others": [{"quarter": other, "name": period_name(locale, other),
                    "url": url_for("figures.quarter", quarter=other, lang=locale)}
                   for other in published if other != quarter],
        "produced": format_date(_today(_now()), format="long", locale=babel_locale(locale)),
    }
    if figures is not None and quarter is not None:
        context.update(
            quarter=quarter,
            period=period_name(locale, quarter),
            total=figures.total,
            total_text=_cell_text(locale, figures.total),
            total_shown=_shown(figures.total),
            tables=_tables(locale, figures),
            pdf_url=url_for("figures.pdf", quarter=quarter, lang=locale),
            page_url=_ltr(_public_url(url_for("figures.quarter", quarter=quarter, lang=locale))),
            report_url=_ltr(_public_url(url_for("chat.page", lang=locale))),
        )
    return render_template("figures/index.html", **context)


def _page(html: str, status: int = 200) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    if status == 200:
        response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response


def _published() -> list[str]:
    the = services()
    with the.sessions() as session:
        return published_quarters(session, _now())


def _figures(quarter: str) -> Figures:
    with services().sessions() as session:
        return quarterly(session, quarter)


@bp.get("/figures")
def latest() -> Response:
    """The latest published quarter."""
    language = get_language(request.args.get("lang"))
    published = _published()
    if not published:
        return _page(_render(language, quarter=None, figures=None, published=[],
                             message=NONE_YET))
    quarter = published[0]
    return _page(_render(language, quarter=quarter, figures=_figures(quarter),
                         published=published))


def _check(quarter: str, language: Language) -> tuple[list[str], Response | None]:
    """The published quarters, and an error page if ``quarter`` is not one of them."""
    if not _QUARTER.match(quarter):
        return [], _page(_render(language, quarter=None, figures=None,
                                 published=_published(), message=NOT_A_QUARTER), 400)
    published = _published()
    if quarter not in published:
        return published, _page(_render(language, quarter=None, figures=None,
                                        published=published, message=NOT_PUBLISHED), 404)
    return published, None


@bp.get("/figures/<quarter>")
def quarter(quarter: str) -> Response:
    """One published quarter, e.g. ``2026-Q3``."""
    language = get_language(request.args.get("lang"))
    published, error = _check(quarter, language)
    if error is not None:
        return error
    return _page(_render(language, quarter=quarter, figures=_figures(quarter),
                         published=published))


# -- the printable PDF ------------------------------------------------------------------

_pdfs: OrderedDict[bytes, bytes] = OrderedDict()
_pdfs_lock = threading.Lock()
#: One PDF drawn at a time: WeasyPrint (Pango, fontconfig) is not promised to be safe
#: across threads, and a public endpoint should not let requests pile up CPU work.
_drawing = threading.Lock()


class StaticFetcher(URLFetcher):  # type: ignore[misc]  # weasyprint is untyped
    """WeasyPrint's resources come from the app's static folder on disk, never the
    network: the PDF is drawn from this app's own stylesheet and nothing else."""

    def __init__(self, folder: str, prefix: str) -> None:
        super().__init__(fail_on_errors=True)
        self.folder, self.prefix = folder, prefix.rstrip("/") + "/"

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        path = urlsplit(url).path
        found = safe_join(self.folder, path[len(self.prefix):]) if path.startswith(
            self.prefix) else None
        if found is None or not Path(found).is_file():
            raise ValueError(f"the PDF may only use this app's static files, not {url}")
        mime_type = mimetypes.guess_type(found)[0] or "application/octet-stream"
        return URLFetcherResponse(url, Path(found).read_bytes(),
                                  {"Content-Type": mime_type})


def render_pdf(html: str) -> bytes:
    """An HTML page of this app as a PDF (A4 from the stylesheet's ``@page``)."""
    # The static files' URL as the page links them: under the app's own path prefix
    # (SCRIPT_NAME) when it is served below the site's root.
    fetcher = StaticFetcher(str(current_app.static_folder), url_for("static", filename=""))
    document: bytes = HTML(string=html, base_url=request.url_root,
                           url_fetcher=fetcher).write_pdf()
    return document


def cached_pdf(html: str) -> bytes:
    """The PDF of ``html``, drawn once while it stays among the last few asked for."""
    key = hashlib.sha256(html.encode()).digest()
    with _pdfs_lock:
        document = _pdfs.get(key)
        if document is not None:
            _pdfs.move_to_end(key)
            return document
    if not _drawing.acquire(timeout=DRAW_WAIT_SECONDS):
        raise Busy
    try:
        with _pdfs_lock:
            document = _pdfs.get(key)  # drawn by the request this one waited for
        if document is None:
            document = render_pdf(html)
            with _pdfs_lock:
                _pdfs[key] = document
                while len(_pdfs) > PDF_CACHE_SIZE:
                    _pdfs.popitem(last=False)
    finally:
        _drawing.release()
    return document


class Busy(Exception):
    """Another PDF is being drawn and this request waited long enough."""


#: How long a PDF request waits for another to be drawn before it is told to come back
#: (503), so requests for new PDFs cannot hold every server thread.
DRAW_WAIT_SECONDS = 5.0


@bp.get("/figures/<quarter>.pdf")
def pdf(quarter: str) -> Response:
    """One published quarter as a printable A4 PDF."""
    language = get_language(request.args.get("lang"))
    published, error = _check(quarter, language)
    if error is not None:
        return error
    figures = _figures(quarter)
    html = _render(language, quarter=quarter, figures=figures, published=published,
                   pdf=True)
    try:
        document = cached_pdf(html)
    except Busy:
        busy = Response(gettext(language.code, BUSY) + "\n", status=503,
                        mimetype="text/plain")
        busy.headers["Retry-After"] = "30"
        return busy
    response = Response(document, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"inline; filename=hatereport-figures-{quarter}-{language.code}.pdf")
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response
