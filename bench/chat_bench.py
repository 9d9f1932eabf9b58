"""Throughput and latency of the JSON chat API under the production server.

``make bench`` runs this script. It serves the app with waitress (the production WSGI
server, as ``hatereport serve`` does) on a fresh SQLite database in a child process, with
one extra trivial route, ``POST /bench/bare``, registered on the same app object. From
this (another) process it then drives N concurrent conversations through the chat API
with aiohttp, one keep-alive connection each, for a fixed time; then the same N workers
hammer the bare endpoint for the same time. Each phase has an uncounted warm-up.

It prints requests, requests ("turns") per second, median and p99 latency for both, the
chat/bare throughput ratio, and whether the aims are met (ratio >= 0.5, chat p99 < 50 ms).
A missed aim is reported, never a failure; the exit status is non-zero only on errors
(non-2xx responses, failed connections, conversations that never finish).

Only 127.0.0.1 is used; every phase is bounded in time and every request by a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from web.config import default_server_threads

HOST = "127.0.0.1"
BARE_PATH = "/bench/bare"
FREE_TEXT = "Someone shouted abuse at me near the shops."
#: A conversation that has not finished after this many turns is an error (a loop).
MAX_TURNS_PER_CONVERSATION = 100
REQUEST_TIMEOUT_SECONDS = 30.0
SERVER_START_TIMEOUT_SECONDS = 60.0
AIM_RATIO = 0.5
AIM_P99_MS = 50.0


# --------------------------------------------------------------------------- the server


def _serve(db_url: str, data_key: str, threads: int, report: Connection) -> None:
    """Child process: build the app, add the bare route, serve it with waitress."""
    import logging

    from waitress.server import create_server

    from web import create_app

    # 50 clients on 8 threads keeps waitress's task queue deep; it warns on every
    # request about that. The queue depth is the point of the exercise, not news.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    app = create_app({"DATABASE_URL": db_url, "DATA_KEY": data_key, "HASH_KEY": data_key,
                      "TESTING": False})
    app.add_url_rule("/bench/bare", "bench_bare", lambda: {"ok": True}, methods=["POST"])
    server = create_server(app, host=HOST, port=0, threads=threads, ident="hatereport")
    report.send(server.effective_port)
    report.close()
    server.run()


class Server:
    """The app under waitress in a spawned child process, on a free port."""

    def __init__(self, workdir: Path, threads: int) -> None:
        from cryptography.fernet import Fernet

        self._context = multiprocessing.get_context("spawn")
        receiver, sender = self._context.Pipe(duplex=False)
        self.process = self._context.Process(
            target=_serve,
            args=(f"sqlite:///{workdir / 'bench.db'}", Fernet.generate_key().decode(),
                  threads, sender),
            name="bench-server",
            daemon=True,
        )
        self.process.start()
        sender.close()
        if not receiver.poll(SERVER_START_TIMEOUT_SECONDS):
            self.stop()
            raise RuntimeError("the server did not start in time")
        try:
            self.port: int = receiver.recv()
        except EOFError:
            self.process.join(10)
            code = self.process.exitcode
            self.stop()
            raise RuntimeError(
                f"the server process exited on start (exit code {code}); see its traceback above"
            ) from None
        self.base_url = f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(10)


# --------------------------------------------------------------------------- the load


@dataclass
class Phase:
    """What one phase measured inside its window."""

    name: str
    window_seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    conversations_finished: int = 0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        n = len(lat)
        return {
            "requests": n,
            "turns_per_second": round(n / self.window_seconds, 1),
            "median_ms": round(statistics.median(lat), 2) if n else None,
            "p99_ms": round(lat[math.ceil(0.99 * n) - 1], 2) if n else None,
            "max_ms": round(lat[-1], 2) if n else None,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            **({"conversations_finished": self.conversations_finished}
               if self.name.startswith("chat") else {}),
        }


class Window:
    """The measured interval: after the warm-up, until the deadline."""

    def __init__(self, warmup: float, seconds: float) -> None:
        now = time.perf_counter()
        self.start = now + warmup
        self.end = self.start + seconds

    def over(self) -> bool:
        return time.perf_counter() >= self.end


async def _post(
    session: Any, url: str, body: dict[str, Any], phase: Phase, window: Window
) -> tuple[int, Any]:
    """POST JSON; record the latency if the request lies wholly inside the window."""
    import aiohttp

    began = time.perf_counter()
    try:
        async with session.post(url, json=body) as response:
            payload = await response.json(content_type=None)
            status = response.status
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        phase.errors[type(exc).__name__] += 1
        return 0, None
    ended = time.perf_counter()
    if not 200 <= status < 300:
        phase.errors[f"HTTP {status}"] += 1
    elif began >= window.start and ended <= window.end:
        phase.latencies_ms.append((ended - began) * 1000.0)
    return status, payload


def _answer(messages: list[dict[str, Any]], first: bool, repeated: bool) -> str:
    """The reporter's next message, chosen generically from the last message's choices."""
    choices = [c["value"] for c in messages[-1].get("choices", [])]
    if first and "no" in choices:
        return "no"  # "Are you in danger right now?"
    for preferred in ("done", "submit"):  # multi-choice answered; the review step
        if preferred in choices:
            return preferred
    picks = [value for value in choices if value != "skip"]
    if picks:
        return str(picks[0])
    # Free text (optionally skippable). If the same question came back, the text was
    # not accepted: skip it if we may.
    return "skip" if repeated and "skip" in choices else FREE_TEXT


async def _converse(
    session: Any, base: str, phase: Phase, window: Window, think: float = 0.0, worker: int = 0
) -> None:
    """One worker: whole conversations back to back until the window closes.

    With ``think`` > 0 the worker pauses between turns like a person reading and
    tapping (uniformly 0.5 to 1.5 times ``think`` seconds).
    """
    # Each worker its own seeded pauses, and a random start: people don't arrive in lockstep.
    pace = random.Random(worker)
    if think:
        await asyncio.sleep(pace.uniform(0, 2 * think))
    while not window.over():
        status, payload = await _post(session, f"{base}/api/chat", {}, phase, window)
        if status != 201 or not isinstance(payload, dict):
            await asyncio.sleep(0.05)  # counted by _post; do not spin on a failing server
            continue
        url = f"{base}/api/chat/{payload['conversation']}"
        messages = payload["messages"]
        previous_question: str | None = None
        for turn in range(MAX_TURNS_PER_CONVERSATION):
            if window.over():
                return
            question = messages[-1]["text"]
            text = _answer(messages, turn == 0, question == previous_question)
            status, payload = await _post(session, url, {"text": text}, phase, window)
            if status != 200 or not isinstance(payload, dict):
                break  # counted; start a fresh conversation
            if payload["done"]:
                if window.start <= time.perf_counter() <= window.end:
                    phase.conversations_finished += 1
                break
            previous_question = question
            messages = payload["messages"]
            if think:
                await asyncio.sleep(think * pace.uniform(0.5, 1.5))
        else:
            phase.errors["conversation did not finish"] += 1


async def _hammer(session: Any, base: str, phase: Phase, window: Window) -> None:
    """One worker: the bare endpoint, back to back, until the window closes."""
    url = f"{base}{BARE_PATH}"
    while not window.over():
        await _post(session, url, {}, phase, window)


async def _run_phase(
    name: str, base: str, concurrency: int, warmup: float, seconds: float, think: float = 0.0
) -> Phase:
    import aiohttp

    phase = Phase(name, seconds)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        window = Window(warmup, seconds)
        if name.startswith("chat"):
            tasks = [asyncio.create_task(_converse(session, base, phase, window, think, n))
                     for n in range(concurrency)]
        else:
            tasks = [asyncio.create_task(_hammer(session, base, phase, window))
                     for _ in range(concurrency)]
        await asyncio.wait_for(
            asyncio.gather(*tasks),
            timeout=warmup + seconds + REQUEST_TIMEOUT_SECONDS + 5,
        )
    return phase


async def _wait_until_answering(base: str) -> None:
    import aiohttp

    deadline = time.perf_counter() + SERVER_START_TIMEOUT_SECONDS
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            try:
                async with session.post(f"{base}{BARE_PATH}", json={}) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError("the server does not answer")
            await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- the report


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def _results(
    args: argparse.Namespace, chat: Phase, bare: Phase, paced: Phase
) -> dict[str, Any]:
    c, b = chat.summary(), bare.summary()
    ratio = c["turns_per_second"] / b["turns_per_second"] if b["turns_per_second"] else 0.0
    return {
        "settings": {
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "concurrency": args.concurrency,
            "server_threads": args.threads,
            "server": "waitress",
            "database": "sqlite",
            "python": platform.python_version(),
            "cpus": multiprocessing.cpu_count(),
        },
        "chat": c,
        "chat_paced": {**paced.summary(), "think_seconds": args.think},
        "bare": b,
        "ratio": round(ratio, 3),
        "aims": {
            "ratio_at_least_0.5": ratio >= AIM_RATIO,
            "chat_p99_under_50ms": c["p99_ms"] is not None and c["p99_ms"] < AIM_P99_MS,
        },
    }


def _print_table(results: dict[str, Any]) -> None:
    s = results["settings"]
    print(f"\nhatereport chat benchmark: waitress ({s['server_threads']} threads) on SQLite, "
          f"{s['concurrency']} concurrent clients, {s['seconds']:g} s per phase "
          f"(+{s['warmup_seconds']:g} s warm-up), {s['cpus']} CPUs, Python {s['python']}\n")
    header = f"{'endpoint':<22}{'requests':>10}{'turns/s':>10}{'median ms':>11}" \
             f"{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    rows = (("chat", "chat, back to back"), ("chat_paced", "chat, paced"),
            ("bare", "bare Flask endpoint"))
    for name, label in rows:
        r = results[name]
        print(f"{label:<22}{r['requests']:>10}{r['turns_per_second']:>10.1f}"
              f"{_fmt(r['median_ms']):>11}{_fmt(r['p99_ms']):>9}{_fmt(r['max_ms']):>9}"
              f"{r['errors']:>8}")
    print(f"\nconversations finished in the window: {results['chat']['conversations_finished']}")
    aims = results["aims"]
    print(f"throughput chat/bare: {results['ratio']:.2f}   "
          f"aim >= {AIM_RATIO}: {_verdict(aims['ratio_at_least_0.5'])}")
    print(f"chat p99: {_fmt(results['chat']['p99_ms'])} ms   "
          f"aim < {AIM_P99_MS:g} ms: {_verdict(aims['chat_p99_under_50ms'])}")
    paced = results["chat_paced"]
    print(f"chat p99 with people pausing ~{paced['think_seconds']:g} s between turns "
          f"({paced['turns_per_second']:.0f} turns/s offered): {_fmt(paced['p99_ms'])} ms   "
          f"aim < {AIM_P99_MS:g} ms: {_verdict((paced['p99_ms'] or 1e9) < AIM_P99_MS)}")
    for name in ("chat", "chat_paced", "bare"):
        for kind, count in results[name]["error_kinds"].items():
            print(f"ERROR ({name}): {kind}: {count}", file=sys.stderr)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="measured seconds per phase (default 15)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="uncounted warm-up seconds per phase (default 2)")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="concurrent conversations / clients (default 50)")
    parser.add_argument("--threads", type=int, default=default_server_threads("sqlite://"),
                        help="waitress worker threads (default: as `hatereport serve` "
                             "on SQLite, 1)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause between turns in the paced phase, seconds (default 1)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 600 and 0 <= args.warmup <= 60
            and 1 <= args.concurrency <= 500 and 1 <= args.threads <= 64):
        parser.error("out of range: 0<seconds<=600, 0<=warmup<=60, "
                     "1<=concurrency<=500, 1<=threads<=64")

    def say(message: str) -> None:
        if not args.json:
            print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="hatereport-bench-") as workdir:
        say("starting the server (waitress, SQLite) ...")
        server = Server(Path(workdir), args.threads)
        try:
            asyncio.run(_wait_until_answering(server.base_url))
            say(f"serving on {server.base_url}; chat phase ...")
            chat = asyncio.run(_run_phase("chat", server.base_url, args.concurrency,
                                          args.warmup, args.seconds))
            say("paced chat phase (people pausing between turns) ...")
            paced = asyncio.run(_run_phase("chat_paced", server.base_url, args.concurrency,
                                           args.warmup, args.seconds, think=args.think))
            say("bare endpoint phase ...")
            bare = asyncio.run(_run_phase("bare", server.base_url, args.concurrency,
                                          args.warmup, args.seconds))
            if not server.alive():
                raise RuntimeError("the server process died during the run")
        finally:
            server.stop()

    results = _results(args, chat, bare, paced)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_table(results)
    errors = sum(results[name]["errors"] for name in ("chat", "chat_paced", "bare"))
    if errors or not results["chat"]["requests"] or not results["bare"]["requests"]:
        print(f"bench: {errors} errors (see above); failing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
