"""Casework at scale: the due-update sweep over 100,000 open cases, and allocation.

``make bench`` runs this script. On a throwaway SQLite database it inserts synthetic
open cases (named, reachable by SMS, their next update spread over the coming
fortnight, already reminded), then makes a chosen number due now and times
``updates.run_due`` (the sweep the jobs loop runs every minute), committing what it
queues. It does this for 10,000 and 100,000 cases and for 100 and 1,000 due, to show the
cost follows the number due, not all cases, and prints the query plan. Then it times
``Casework.on_submitted`` (allocation, alerts and timeline) for new cases among 50
officers. Aims (casework issue): the sweep over 100,000 under 2 s; allocation under 5 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import insert, select, text, update

from intake import crypto
from intake.areas import DERBY_AREAS
from intake.casework import Casework, add_officer
from intake.db import make_engine, make_sessionmaker, migrate, transaction
from intake.models import Case, Officer
from intake.updates import run_due

NOW = datetime(2026, 11, 27, 12, 0)  # a Friday noon: outside the quiet hours


def seed(sessions: Any, total: int, officers: list[int]) -> None:
    """``total`` open cases, due over the next fortnight, each already reminded."""
    rng = random.Random(7)
    table = Case.__table__
    rows = []
    for number in range(total):
        due = NOW + timedelta(minutes=rng.randint(60, 14 * 24 * 60))
        rows.append({
            "reference": f"HR-B{number:07d}", "channel": "sms", "language": "en",
            "created_at": due - timedelta(days=14), "urgent": False, "danger_now": False,
            "classification": "hate_incident", "role": "victim", "anonymous": False,
            "description": "synthetic", "behaviours": ["verbal_abuse"],
            "characteristics": [], "by_association": False, "area": rng.choice(DERBY_AREAS),
            "stop_hate_uk_consent": False, "support": [], "contact_method": "text",
            "contact_details": "07700 900123", "leave_messages": True, "status": "open",
            "officer_id": rng.choice(officers), "next_update_due_at": due,
            "update_reminded_for": due, "followup_failures": 0,
        })
    with transaction(sessions) as session:
        for start in range(0, total, 5000):
            session.execute(insert(table), rows[start:start + 5000])


def make_due(sessions: Any, count: int) -> None:
    with transaction(sessions) as session:
        ids = session.scalars(select(Case.id).where(Case.status == "open")
                              .order_by(Case.id).limit(count)).all()
        session.execute(update(Case).where(Case.id.in_(ids))
                        .values(next_update_due_at=NOW - timedelta(minutes=5)))


def sweep(sessions: Any, casework: Casework) -> tuple[float, int]:
    started = time.perf_counter()
    with transaction(sessions) as session:
        report = run_due(session, NOW, casework)
    return time.perf_counter() - started, report.sent


def plan(sessions: Any) -> list[str]:
    with sessions() as session:
        rows = session.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM cases WHERE status = 'open' AND "
            "next_update_due_at IS NOT NULL AND next_update_due_at <= :limit AND "
            "(next_update_due_at <= :now OR update_reminded_for IS NULL OR "
            "update_reminded_for != next_update_due_at)"),
            {"limit": NOW + timedelta(days=2), "now": NOW}).all()
    return [str(row[-1]) for row in rows]


def fresh_database(folder: Path, name: str) -> Any:
    engine = make_engine(f"sqlite:///{folder / name}")
    migrate(engine)
    return engine


def officers_in(sessions: Any, count: int) -> list[int]:
    with transaction(sessions) as session:
        for number in range(count):
            add_officer(session, name=f"Officer {number}", email=f"o{number}@bench.example",
                        password="x" * 12, now=NOW,
                        areas=[DERBY_AREAS[number % len(DERBY_AREAS)]],
                        duty=number == 0, role="manager" if number == count - 1 else "officer")
        return list(session.scalars(select(Officer.id)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args(argv)
    crypto.configure(Fernet.generate_key().decode(), "bench-hash-key-" + "x" * 32)
    casework = Casework()
    results: dict[str, Any] = {"sweeps": []}
    with tempfile.TemporaryDirectory() as tmp:
        for total in sorted({10_000, args.cases}):
            for due in (100, 1000):
                engine = fresh_database(Path(tmp), f"sweep-{total}-{due}.db")
                sessions = make_sessionmaker(engine)
                officers = officers_in(sessions, 50)
                seed(sessions, total, officers)
                idle, _ = sweep(sessions, casework)  # nothing due yet: the steady state
                make_due(sessions, due)
                seconds, sent = sweep(sessions, casework)
                results["sweeps"].append({"open_cases": total, "due": due, "sent": sent,
                                          "seconds": round(seconds, 3),
                                          "idle_seconds": round(idle, 4)})
                if total == args.cases and due == 1000:
                    results["plan"] = plan(sessions)
                engine.dispose()
        # Allocation: the extra cost of submitting, among 50 officers and many cases.
        engine = fresh_database(Path(tmp), "allocation.db")
        sessions = make_sessionmaker(engine)
        officers = officers_in(sessions, 50)
        seed(sessions, args.cases, officers)
        timings = []
        rng = random.Random(3)
        for number in range(300):
            with transaction(sessions) as session:
                case = Case(reference=f"HR-N{number:07d}", channel="web", language="en",
                            created_at=NOW, urgent=number % 10 == 0, danger_now=False,
                            classification="hate_incident", anonymous=False,
                            description="synthetic", behaviours=[], characteristics=[],
                            by_association=False, area=rng.choice(DERBY_AREAS),
                            stop_hate_uk_consent=False, support=[], status="open",
                            followup_failures=0)
                session.add(case)
                session.flush()
                started = time.perf_counter()
                casework.on_submitted(session, case.id, NOW)
                session.flush()
                timings.append(time.perf_counter() - started)
        engine.dispose()
    timings.sort()
    results["allocation_ms"] = {"median": round(statistics.median(timings) * 1000, 2),
                                "p99": round(timings[int(len(timings) * 0.99) - 1] * 1000, 2)}
    biggest = max((row for row in results["sweeps"] if row["due"] == 1000),
                  key=lambda row: row["open_cases"])
    results["aims"] = {"sweep_under_2s": biggest["seconds"] < 2.0,
                       "allocation_under_5ms": results["allocation_ms"]["median"] < 5.0}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("Due-update sweep (updates.run_due), SQLite, one run each")
    print(f"{'open cases':>10} {'due':>6} {'queued':>6} {'seconds':>8} {'idle run (s)':>12}")
    for row in results["sweeps"]:
        print(f"{row['open_cases']:>10} {row['due']:>6} {row['sent']:>6} {row['seconds']:>8} "
              f"{row['idle_seconds']:>12}")
    print("query plan:", "; ".join(results.get("plan", [])))
    print(f"allocation on submit ({args.cases} cases, 50 officers, 300 submissions): median "
          f"{results['allocation_ms']['median']} ms, p99 {results['allocation_ms']['p99']} ms")
    print(f"aims: sweep over {biggest['open_cases']} with 1000 due under 2 s: "
          f"{'MET' if results['aims']['sweep_under_2s'] else 'MISSED'} "
          f"({biggest['seconds']} s); allocation under 5 ms: "
          f"{'MET' if results['aims']['allocation_under_5ms'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
