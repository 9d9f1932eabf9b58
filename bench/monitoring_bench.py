"""Monitoring at scale: the managers' trends page and the public quarterly figures over
1,000,000 cases in SQLite.

``make bench`` runs this script. It builds a throwaway SQLite database of synthetic
cases spread over five years (areas, characteristics, behaviours, channels, languages,
outcomes, first contact and fortnightly updates drawn at random), with the monitoring
summary counted from each case by ``intake.stats.facts`` exactly as the service counts
it, then times, through the Flask app as a browser would ask:

- ``GET /dashboard/trends`` for a signed-in manager: the default period (the last 12 months),
  one area, and all five years;
- ``GET /dashboard/trends.csv`` for the last 12 months;
- ``GET /figures/<quarter>``, the public quarterly figures, in English and in Arabic;

each a few times, printing the median. Aim (monitoring issue): the trends page and the
quarterly figures each render in under 1 second with 1,000,000 cases.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select

from intake import crypto, stats
from intake.areas import DERBY_AREAS
from intake.casework import OUTCOMES, add_officer
from intake.db import make_engine, make_sessionmaker, migrate, transaction
from intake.models import Case

NOW = datetime(2026, 11, 27, 12, 0)
YEARS = 5
PASSWORD = "bench password 12345"  # noqa: S105 - a throwaway database's manager
CHARACTERISTICS = (("race", 50), ("religion", 18), ("sexual_orientation", 12),
                   ("disability", 9), ("transgender_identity", 4),
                   ("alternative_subculture", 1), ("other", 4), ("not_sure", 2))
BEHAVIOURS = (("verbal_abuse", 45), ("intimidation", 15), ("threats", 12),
              ("harassment", 12), ("assault", 5), ("property_damage", 6),
              ("online", 4), ("other", 1))
CHANNELS = (("web", 5), ("sms", 3), ("telegram", 2))
LANGUAGES = (("en", 70), ("pl", 8), ("pa", 5), ("ur", 5), ("ar", 4), ("ro", 3),
             ("sk", 2), ("ti", 1), ("fa", 1), ("ckb", 1))


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...], k: int = 1) -> list[str]:
    values, weights = zip(*weighted, strict=True)
    return sorted(set(rng.choices(values, weights, k=k)))


def _case(rng: random.Random, number: int) -> SimpleNamespace:
    """One synthetic case, with every attribute :func:`intake.stats.facts` reads."""
    created = NOW - timedelta(minutes=rng.randrange(YEARS * 365 * 24 * 60))
    age = NOW - created
    anonymous = rng.random() < 0.2
    closed = age > timedelta(days=60) and rng.random() < 0.95
    behaviours = _pick(rng, BEHAVIOURS, rng.choice((1, 1, 2, 3)))
    contacted = not anonymous and rng.random() < 0.9
    fortnights = min(int(age.days // 14), 8)
    late = sum(rng.random() < 0.08 for _ in range(fortnights)) if not anonymous else 0
    # -1: no place named well enough to compare (online, "outside my house").
    place_seen = rng.choice((0, 0, 0, 0, 0, 1, 2)) if rng.random() < 0.8 else -1
    return SimpleNamespace(
        reference=f"HR-{number:09d}", created_at=created,
        area=rng.choice(DERBY_AREAS) if rng.random() < 0.95 else None,
        characteristics=_pick(rng, CHARACTERISTICS, rng.choice((1, 1, 1, 2))),
        behaviours=behaviours, channel=_pick(rng, CHANNELS)[0],
        language=_pick(rng, LANGUAGES)[0],
        classification="hate_crime" if {"threats", "harassment", "assault",
                                        "property_damage"} & set(behaviours)
        else "hate_incident",
        status="closed" if closed else "open",
        outcome=rng.choice(list(OUTCOMES)) if closed else None,
        anonymous=anonymous, role="victim" if rng.random() < 0.7 else "witness",
        first_contact_at=(created + timedelta(hours=rng.expovariate(1 / 30)))
        if contacted else None,
        updates_on_time=0 if anonymous else fortnights - late, updates_late=late,
        place_hash="p" if place_seen >= 0 and not anonymous else None, place_seen=place_seen,
        victim_hash=None if anonymous else "v",
        victim_seen=-1 if anonymous else rng.choice((0, 0, 0, 1)),
        repeated=rng.choice(("yes", "no", "not_sure", None)), by_association=False,
    )


def seed(path: Path, total: int, seed_value: int = 11) -> dict[str, float]:
    """Write ``total`` synthetic cases and their summary straight into the database
    (the service's own code counts each case; only the insert is done in bulk)."""
    started = time.perf_counter()
    rng = random.Random(seed_value)
    # The encrypted columns hold the same few sealed values: the pages never read them.
    description = crypto.EncryptedText().process_bind_param("synthetic", None)
    summary: Counter[stats.Key] = Counter()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    sealed: dict[tuple[str, ...], str] = {}
    as_json: dict[tuple[str, ...], str] = {}
    columns = ("reference", "channel", "language", "created_at", "urgent", "danger_now",
               "classification", "role", "anonymous", "description", "behaviours",
               "characteristics", "by_association", "area", "status", "outcome",
               "first_contact_at", "updates_on_time", "updates_late", "place_hash",
               "place_seen", "victim_seen", "stop_hate_uk_consent", "support",
               "followup_failures", "counted", "repeated", "victim_hash")
    insert = (f"INSERT INTO cases ({', '.join(columns)}) "  # noqa: S608 - our own names
              f"VALUES ({', '.join('?' for _ in columns)})")
    sealer = crypto.EncryptedJSON()
    no = sealer.process_bind_param(False, None)
    batch: list[tuple[Any, ...]] = []
    for number in range(total):
        case = _case(rng, number)
        facts = stats.facts(case)  # type: ignore[arg-type]
        summary.update(stats.cells(facts))
        motive, acts = tuple(case.characteristics), tuple(case.behaviours)
        if motive not in sealed:
            sealed[motive] = sealer.process_bind_param(list(motive), None) or ""
        if acts not in as_json:
            as_json[acts] = json.dumps(list(acts))
        batch.append((
            case.reference, case.channel, case.language,
            case.created_at.isoformat(sep=" "), 0, 0, case.classification, case.role,
            int(case.anonymous), description, as_json[acts], sealed[motive], no,
            case.area, case.status, case.outcome,
            case.first_contact_at.isoformat(sep=" ") if case.first_contact_at else None,
            case.updates_on_time, case.updates_late,
            f"{case.place_hash}{number % 50000}" if case.place_hash else None,
            case.place_seen, case.victim_seen, 0, "[]", 0,
            sealer.process_bind_param(facts, None), case.repeated,
            f"{case.victim_hash}{number % 80000}" if case.victim_hash else None))
        if len(batch) == 20_000:
            connection.executemany(insert, batch)
            batch.clear()
            print(f"\r  seeding: {number + 1:,} of {total:,} cases", end="", file=sys.stderr,
                  flush=True)
    if batch:
        connection.executemany(insert, batch)
    rows = [(*key, n) for key, n in sorted(summary.items()) if n]
    connection.executemany(
        "INSERT INTO stats_counts (month, area, dim, value, n) VALUES (?, ?, ?, ?, ?)", rows)
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    print(file=sys.stderr)
    return {"seconds": round(time.perf_counter() - started, 1), "summary_rows": len(rows)}


def _median_ms(client: Any, url: str, repeat: int) -> dict[str, Any]:
    timings = []
    response = None
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    assert response is not None
    return {"url": url, "median_ms": round(statistics.median(timings), 1),
            "max_ms": round(max(timings), 1), "bytes": len(response.data)}


def _sign_in(client: Any, email: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no sign-in form"
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": token.group(1)})
    assert response.status_code == 302, "the manager could not sign in"


def pages(path: Path, data_key: str, repeat: int) -> dict[str, Any]:
    """Time the trends page and the public figures through the app."""
    from web import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "DATA_KEY": data_key,
                      "HASH_KEY": "bench-hash-key-" + "z" * 32, "SECRET_KEY": "bench",
                      "SESSION_COOKIE_SECURE": False, "TESTING": True,
                      "WTF_CSRF_ENABLED": True, "JOBS_INTERVAL_SECONDS": 0})
    sessions = make_sessionmaker(make_engine(f"sqlite:///{path}"))
    with transaction(sessions) as session:
        add_officer(session, name="Bench Manager", email="manager@bench.example",
                    password=PASSWORD, now=NOW, role="manager")
        assert session.scalar(select(Case.id).limit(1)) is not None
    client = app.test_client()
    _sign_in(client, "manager@bench.example")
    quarter = "2026-Q3"
    area = DERBY_AREAS[2]
    first = f"{NOW.year - YEARS}-{NOW.month:02d}"
    urls = ["/dashboard/trends", f"/dashboard/trends?area={area}",
            f"/dashboard/trends?from={first}&to=2026-11",
            "/dashboard/trends.csv", f"/figures/{quarter}", f"/figures/{quarter}?lang=ar"]
    results = [_median_ms(client, url, repeat) for url in urls]
    return {"pages": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="requests timed per page")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    data_key = Fernet.generate_key().decode()
    crypto.configure(data_key, "bench-hash-key-" + "z" * 32)
    with tempfile.TemporaryDirectory(prefix="hatereport-bench-") as folder:
        path = Path(folder) / "monitoring.db"
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        engine.dispose()
        seeded = seed(path, args.cases)
        results: dict[str, Any] = {"cases": args.cases, "seed": seeded,
                                   **pages(path, data_key, args.repeat)}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"Monitoring over {args.cases:,} cases (SQLite; seeded in {seeded['seconds']} s, "
          f"{seeded['summary_rows']:,} summary rows); median of {args.repeat} requests")
    print(f"{'page':<48} {'median ms':>10} {'max ms':>8} {'bytes':>8}")
    for row in results["pages"]:
        print(f"{row['url']:<48} {row['median_ms']:>10} {row['max_ms']:>8} {row['bytes']:>8}")
    worst = max(row["median_ms"] for row in results["pages"]
                if not row["url"].endswith(".csv"))
    print(f"aim: trends page and quarterly figures each under 1000 ms: "
          f"{'MET' if worst < 1000 else 'MISSED'} (slowest median {worst} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
