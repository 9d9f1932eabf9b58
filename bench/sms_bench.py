"""What a complete report costs over SMS, in segments, in every shipped language.

``make bench`` runs this script. For each shipped language it texts the service the way
a reporter would: the first message in their own words (a sentence of the language's
own catalog, so detection has real text), "1" to the offer to carry on in that
language, then an answer to every question (numbers for choices, a few words for
text), up to the reference. It does this through ``IntakeService.receive`` and the SMS
adapter, the same path as the ``POST /sms`` webhook, on a throwaway SQLite database.

It prints, per language and for an anonymous and a named report: the messages sent,
the segments they cost, the alphabet (GSM-7 or UCS-2) and the longest message; and
whether the aim (a complete English report under 25 segments) is met. A missed aim is
reported, not a failure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bot.sms import SmsAdapter, encoding, segments
from intake import crypto
from intake.db import make_engine, make_sessionmaker, migrate
from intake.engine import Engine
from intake.i18n import gettext
from intake.languages import LANGUAGES
from intake.models import Conversation
from intake.outbox import identity_hash
from intake.service import IntakeService

AIM_SEGMENTS = 25

#: What an SMS reporter sends at each question (choice numbers, or a few words).
ANSWERS = {
    "safety": "2",
    "role": "1",
    "anonymous": "2",
    "name": "Sam",
    "description": "Two men shouted abuse at me by the shops.",
    "behaviours": "1 3",
    "characteristics": "2",
    "when": "yesterday",
    "where_type": "2",
    "place": "Osmaston Road",
    "platform": "An app",
    "area": "14",
    "repeated": "1",
    "perpetrator": "2",
    "injuries": "2",
    "vulnerable": "2",
    "police": "3",
    "crime_reference": "skip",
    "stop_hate": "1",
    "support": "1 2",
    "outcome": "For it to stop.",
    "contact_method": "1",
    "contact_details": "07700900123",
    "contact_times": "evenings",
    "leave_messages": "1",
    "review": "1",
}
#: A sentence in each language for the first message: its own catalog's words.
OPENING = "What happened? Tell us in your own words."


@dataclass
class Cost:
    language: str
    kind: str
    messages: int
    segments: int
    alphabet: str
    longest_chars: int
    locale_reached: str


#: Seconds each webhook turn took (receive + render), for the 15-second limit.
TURN_SECONDS: list[float] = []


def run_report(service: IntakeService, code: str, named: bool, number: str) -> Cost:
    """Text one complete report; return what the replies cost."""
    adapter = SmsAdapter()
    identity = identity_hash("sms", number)
    sent: list[str] = []
    counter = 0

    def text(body: str) -> Any:
        nonlocal counter
        counter += 1
        started = time.perf_counter()
        turn = service.receive("sms", identity, body, f"SM{code}{named}{counter:04d}")
        sent.extend(message.text for message in adapter.render(turn.result))
        TURN_SECONDS.append(time.perf_counter() - started)
        return turn

    turn = text(gettext(code, OPENING) if code != "en" else "Hello, I need to report abuse")
    answers = dict(ANSWERS, anonymous="1" if named else "2")
    for _ in range(80):
        if turn.result.done:
            break
        with service.sessions() as session:
            conversation = session.get(Conversation, turn.conversation_id)
            assert conversation is not None
            mode, step = conversation.mode, conversation.step
        turn = text("1" if mode == "confirm_language" else answers[step])
    else:
        raise RuntimeError(f"{code}: the report never finished")
    cost = sum(segments(body) for body in sent)
    alphabets = {encoding(body) for body in sent}
    return Cost(code, "named" if named else "anonymous", len(sent), cost,
                "UCS-2" if "UCS-2" in alphabets else "GSM-7",
                max(len(body) for body in sent), turn.result.locale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    crypto.configure(Fernet.generate_key().decode(), "bench-hash-key-" + "x" * 32)
    costs: list[Cost] = []
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate(engine)
        service = IntakeService(make_sessionmaker(engine), Engine())
        for index, language in enumerate(LANGUAGES):
            for named in (False, True):
                costs.append(run_report(service, language.code, named,
                                        f"+4477009{index:02d}{int(named)}23"))
        engine.dispose()
    cold = TURN_SECONDS[0]
    warm = sorted(TURN_SECONDS[1:])
    timing = {"turns": len(TURN_SECONDS), "cold_first_turn_ms": round(cold * 1000, 1),
              "median_ms": round(statistics.median(warm) * 1000, 2),
              "p99_ms": round(warm[int(len(warm) * 0.99) - 1] * 1000, 2),
              "max_ms": round(warm[-1] * 1000, 2)}
    english = next(cost for cost in costs if cost.language == "en" and cost.kind == "anonymous")
    met = english.segments < AIM_SEGMENTS
    if args.json:
        print(json.dumps({"costs": [asdict(cost) for cost in costs],
                          "aim": {"english_anonymous_segments": english.segments,
                                  "under": AIM_SEGMENTS, "met": met},
                          "turn_time": timing}, indent=2))
        return 0
    print("SMS cost of a complete report (segments sent by the service)")
    print(f"{'language':<9} {'report':<10} {'messages':>8} {'segments':>8} {'alphabet':<8} "
          f"{'longest':>7}")
    for cost in costs:
        flag = "" if cost.locale_reached == cost.language else f"  (ended in {cost.locale_reached})"
        print(f"{cost.language:<9} {cost.kind:<10} {cost.messages:>8} {cost.segments:>8} "
              f"{cost.alphabet:<8} {cost.longest_chars:>7}{flag}")
    named = next(cost for cost in costs if cost.language == "en" and cost.kind == "named")
    print(f"\naim: a complete English report under {AIM_SEGMENTS} segments: anonymous "
          f"{english.segments} ({'MET' if met else 'MISSED'}), named {named.segments} "
          f"({'MET' if named.segments < AIM_SEGMENTS else 'MISSED'})")
    print(f"time per SMS turn (receive + render, in-process, SQLite), {timing['turns']} turns: "
          f"median {timing['median_ms']} ms, p99 {timing['p99_ms']} ms, max "
          f"{timing['max_ms']} ms; the first turn of a cold process (detection models "
          f"loading, which `serve` does at start) {timing['cold_first_turn_ms']} ms. "
          f"Twilio waits 15 s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
