"""Relationship bank benchmark: full rebuild against a DuckDB floor, and one-person refresh latency.

    .venv/bin/python bench/bank_bench.py                       # 1M people, 10M events, SQLite
    .venv/bin/python bench/bank_bench.py --people 100000 --events 1000000
    .venv/bin/python bench/bank_bench.py --backend postgresql  # needs PostgreSQL on 127.0.0.1

1. Generates events with DuckDB (a realistic mix of kinds, seeded) into a CSV file, and loads them
   into a fresh, migrated Goodwill database (SQLite file or a new PostgreSQL database).
2. Floor: DuckDB loads the same CSV (not timed), then times a bare GROUP BY person sum of the
   default rule weights over the events.
3. Goodwill's ``rebuild`` (set-based SQL in the database), twice: into an empty ledger, then again
   over the full ledger (what a rules change costs). Each runs in a child process, so its peak
   memory (``ru_maxrss``) is its own.
4. ``refresh_people`` for one person at a time: median and p95 over ``--samples`` random people.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import psycopg

from goodwill.bank.rebuild import rebuild
from goodwill.bank.rules import RULES, BankConfig
from goodwill.bank.service import refresh_people
from goodwill.db import Database, utcnow

# (kind, share of events); texts for the kinds the rules read.
MIX = [
    ("purchase", 34),
    ("visit", 14),
    ("question", 6),
    ("question_answered", 5),
    ("appreciation_sent", 5),
    ("review", 4),
    ("late_delivery", 4),
    ("praise", 3),
    ("complaint", 3),
    ("return", 3),
    ("note", 3),
    ("complaint_resolved", 2.5),
    ("refund", 2.5),
    ("order_cancelled", 2),
    ("call_made", 2),
    ("defect", 1.5),
    ("service_failure", 1),
    ("referral", 1),
    ("card_sent", 1),
    ("reward_redeemed", 1),
    ("goodwill_adjustment", 0.5),
]
COLUMNS = "id, person_id, kind, occurred_at, amount_minor, currency, text, source, source_id, recorded_at"


def kind_case() -> str:
    total = sum(share for _, share in MIX)
    parts, edge = [], 0.0
    for kind, share in MIX:
        edge += share / total
        parts.append(f"WHEN r < {edge:.6f} THEN '{kind}'")
    return "CASE " + " ".join(parts) + " ELSE 'note' END"


def generate_csv(path: Path, people: int, events: int) -> None:
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(
        f"""COPY (
        WITH base AS (
          SELECT i AS id, 1 + CAST(floor(random() * {people}) AS BIGINT) AS person_id, random() AS r,
                 TIMESTAMP '2022-01-01' + to_microseconds(CAST(random() * 4 * 365 * 86400e6 AS BIGINT)) AS ts,
                 random() AS t
          FROM range(1, {events} + 1) AS s(i)),
        kinded AS (SELECT id, person_id, {kind_case()} AS kind, ts, t FROM base)
        SELECT id, person_id, kind, strftime(ts, '%Y-%m-%d %H:%M:%S.%f') AS occurred_at,
          CASE WHEN kind IN ('purchase', 'refund') THEN 500 + CAST(t * 20000 AS BIGINT) END AS amount_minor,
          CASE WHEN kind IN ('purchase', 'refund') THEN 'USD' END AS currency,
          CASE WHEN kind = 'review' THEN (CASE WHEN t < 0.5 THEN '5/5 lovely' WHEN t < 0.7 THEN '2/5 slow'
                                             ELSE 'nice shop' END)
               WHEN kind = 'goodwill_adjustment' THEN '+5 sorry for the wait'
               WHEN kind = 'note' THEN 'likes tulips' END AS text,
          'bench' AS source, CAST(id AS VARCHAR) AS source_id,
          strftime(ts, '%Y-%m-%d %H:%M:%S.%f') AS recorded_at
        FROM kinded) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()


def load_sqlite(db: Database, csv_path: Path, people: int) -> None:
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA foreign_keys=OFF")
        cur.execute(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
            "INSERT INTO people (id, kind, name, search_key, created_at, updated_at) "
            "SELECT x, 'customer', 'Person ' || x, 'person ' || x, '2022-01-01 00:00:00.000000', "
            "'2022-01-01 00:00:00.000000' FROM n",
            (people,),
        )
        # Index after loading: much faster than maintaining them row by row.
        cur.execute("DROP INDEX ix_events_person_occurred")
        cur.execute("DROP INDEX ix_events_kind_occurred")
        reader = duckdb.connect().execute(f"SELECT {COLUMNS} FROM read_csv('{csv_path}', header=true)")
        while batch := reader.fetchmany(200_000):
            cur.executemany(f"INSERT INTO events ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", batch)
        cur.execute("CREATE INDEX ix_events_person_occurred ON events (person_id, occurred_at)")
        cur.execute("CREATE INDEX ix_events_kind_occurred ON events (kind, occurred_at)")
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load_postgres(url: str, csv_path: Path, people: int) -> None:
    plain = "postgresql://" + url.split("://", 1)[1]
    with psycopg.connect(plain) as conn:
        conn.execute(
            "INSERT INTO people (id, kind, name, search_key, created_at, updated_at) "
            "SELECT x, 'customer', 'Person ' || x, 'person ' || x, now(), now() "
            "FROM generate_series(1, %s) x",
            (people,),
        )
        statement = f"COPY events ({COLUMNS}) FROM STDIN WITH (FORMAT csv, HEADER true)"
        with conn.cursor().copy(statement) as copy, open(csv_path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        conn.execute("SELECT setval('people_id_seq', %s)", (people,))
        conn.execute("SELECT setval('events_id_seq', (SELECT max(id) FROM events))")
        conn.execute("ANALYZE")


def floor_seconds(csv_path: Path) -> float:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE events AS SELECT * FROM read_csv('{csv_path}', header=true)")
    weights = ", ".join(f"('{r.name}', {r.weight})" for r in RULES)
    started = time.perf_counter()
    con.execute(
        f"CREATE TABLE floor AS SELECT e.person_id, SUM(w.amount) AS amount FROM events e "
        f"JOIN (VALUES {weights}) AS w(rule, amount) ON w.rule = e.kind GROUP BY e.person_id"
    )
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def child_rebuild(url: str) -> None:
    """Runs in its own process: one rebuild, reports seconds, report and peak memory as JSON."""
    db = Database(url)
    started = time.perf_counter()
    with db.transaction() as s:
        report = rebuild(session=s, config=BankConfig(), currency="USD")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "report": report.as_json()}))


def run_rebuild(url: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child-rebuild", url], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def incremental(db: Database, people: int, samples: int) -> list[float]:
    rng = random.Random(7)
    config, now, timings = BankConfig(), utcnow(), []
    for _ in range(samples):
        pid = rng.randint(1, people)
        with db.transaction() as s:
            started = time.perf_counter()
            refresh_people(session=s, person_ids=[pid], config=config, currency="USD", now=now)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    parser.add_argument("--child-rebuild", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rebuild:
        child_rebuild(args.child_rebuild)
        return

    work = Path(args.workdir) / f"goodwill-bank-bench-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    csv_path = work / "events.csv"
    print(f"{args.people:,} people, {args.events:,} events, backend {args.backend}, {os.cpu_count()} cpus")
    started = time.perf_counter()
    generate_csv(csv_path, args.people, args.events)
    print(f"generated events in {time.perf_counter() - started:.1f} s")

    pg_name = f"goodwill_bench_{uuid.uuid4().hex[:8]}"
    if args.backend == "sqlite":
        url = f"sqlite:///{work / 'goodwill.db'}"
    else:
        with psycopg.connect(args.pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = "postgresql+psycopg://" + args.pg_admin.split("://", 1)[1].rsplit("/", 1)[0] + "/" + pg_name
    db = Database(url)
    try:
        db.migrate()
        started = time.perf_counter()
        if args.backend == "sqlite":
            load_sqlite(db, csv_path, args.people)
        else:
            load_postgres(url, csv_path, args.people)
        print(f"loaded into {args.backend} in {time.perf_counter() - started:.1f} s")

        floor = floor_seconds(csv_path)
        print(f"(a) floor, DuckDB GROUP BY person:      {floor:8.3f} s")
        fresh = run_rebuild(url)
        again = run_rebuild(url)
        for label, result in (
            ("(b) rebuild into an empty ledger:", fresh),
            ("(b) rebuild over a full ledger: ", again),
        ):
            seconds = float(result["seconds"])  # type: ignore[arg-type]
            peak = int(result["peak_bytes"]) / 2**30  # type: ignore[call-overload]
            print(
                f"{label}       {seconds:8.3f} s  = {seconds / floor:6.1f}x floor, peak memory {peak:.2f} GiB"
            )
        report: dict[str, object] = fresh["report"]  # type: ignore[assignment]
        print(f"    entries {report['entries_after']:,}, people {report['people']:,}")
        print(f"    by status {report['by_status']}")
        timings = incremental(db, args.people, args.samples)
        cuts = statistics.quantiles(timings, n=20)
        print(
            f"(c) refresh_people, one person:     median {statistics.median(timings):.2f} ms, "
            f"p95 {cuts[18]:.2f} ms over {len(timings)} people"
        )
    finally:
        db.dispose()
        if args.backend == "postgresql":
            with psycopg.connect(args.pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        for leftover in sorted(work.iterdir(), reverse=True):
            leftover.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
