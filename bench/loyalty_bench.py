"""Loyalty benchmark: points for purchases in bulk against a bare insert, and redemptions per second.

    .venv/bin/python bench/loyalty_bench.py --part award                         # 10M purchases, SQLite
    .venv/bin/python bench/loyalty_bench.py --part award --backend postgresql
    .venv/bin/python bench/loyalty_bench.py --part redeem --backend postgresql   # 20 clients, 20 s
    .venv/bin/python bench/loyalty_bench.py --events 200000 --backend postgresql --seconds 5

Part 1, award (both backends). A fresh migrated database (a temporary SQLite file, or a new
PostgreSQL database on the ``--pg-admin`` server) gets ``--people`` people and ``--events`` purchase
events over the 330 days before the award, written by one INSERT ... SELECT (recursive CTE on
SQLite, generate_series on PostgreSQL; secondary indexes built afterwards). Then, each after a
checkpoint:
  (b) ``goodwill.loyalty.awards.award_all`` in one transaction, in a child process (its own peak
      memory), followed by checks: exactly one earn per purchase, stored balances and issued points
      equal to the entries' sums, and ``ledger.check`` (up to 2M purchases, or with ``--check``);
  (a) the floor, after the award's rows are removed: one bare ``INSERT INTO loyalty_entries ...
      SELECT`` of the same rows (points = whole currency units, key, pending and expiry dates as
      plain column arithmetic) and one ``INSERT INTO loyalty_accounts ... GROUP BY person``, through
      the same engine (SQLite gets a 256 MiB page cache). The floor runs second, so it finds the
      events in the cache and, on SQLite, free pages in the file: if anything the ratio is pessimistic.
Goal (issue 7): (b) within 3x of (a).

Part 2, redeem (PostgreSQL only). A fresh database with ``--accounts`` members (two lots each; the
``--hot`` hot accounts ten large lots) and ``--rewards`` rewards with ample stock. ``--clients``
client threads, spread over ``--processes`` processes (one interpreter lock each), each thread with
its own pooled connection, call ``redemption.redeem`` in its own transaction for ``--seconds``:
  uniform: random accounts and rewards;   hot: all clients on the ``--hot`` accounts (contention).
The reference for each, in the same run with the same threads: a one-row UPDATE transaction through
the same Database and session (the floor of a transaction round trip). Afterwards ``ledger.check``
must be empty, stock must equal its start minus the redemptions, and every success must be stored.
Goal (issue 7): 500 redemptions/s with 20 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text

import goodwill.models  # noqa: F401 - every table, so the ORM resolves every foreign key
from goodwill.config import Settings, load_settings
from goodwill.db import Database, utcnow

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the award's "now": fixed, so runs compare
SPAN_SECONDS = 330 * 86400  # purchases fall in the 330 days before NOW: none expired, a few pending
START = NOW - timedelta(seconds=SPAN_SECONDS)
CHECK_LIMIT = 2_000_000  # ledger.check runs up to this many purchases unless --check
REWARD_KINDS = ("earned_bonus", "discount", "donation", "free_shipping")  # none needs an address
STOCK = 1_000_000_000
CURRENCY = "USD"
OUT: Any = sys.stdout  # human-readable lines; stderr when --json keeps stdout for the JSON document


def say(line: str) -> None:
    print(line, file=OUT, flush=True)


def bench_settings(url: str) -> Settings:
    return load_settings(
        database_url=url,
        secret_key="bench",  # noqa: S106 (signs nothing)
        business={"name": "Bench Shop", "timezone": "UTC", "currency": CURRENCY},
    )


@contextmanager
def scratch_database(backend: str, admin: str, workdir: str, keep: bool, label: str) -> Iterator[str]:
    """A new empty database (SQLite file or PostgreSQL database), removed afterwards unless ``keep``."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"goodwill-loyalty-{label}-", dir=workdir))
        url = f"sqlite:///{folder / 'goodwill.db'}"
        try:
            yield url
        finally:
            if keep:
                say(f"kept {url}")
            else:
                for leftover in folder.iterdir():
                    leftover.unlink()
                folder.rmdir()
        return
    name = f"goodwill_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if keep:
            say(f"kept {url}")
        else:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def checkpoint(db: Database) -> None:
    """Flush what earlier steps wrote, so a timed step does not pay for them."""
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.exec_driver_sql("CHECKPOINT")
        conn.commit()


def scalars(db: Database, sql: str, **params: Any) -> list[Any]:
    with db.engine.connect() as conn:
        row = conn.execute(text(sql), params).one()
    return list(row)


def peak_bytes() -> int:
    """This process's own peak resident memory (``VmHWM``; ``ru_maxrss`` carries over fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------------------------------------- data
# Deterministic, identical on both backends: h is a 32-bit multiplicative hash of the event id.
SQLITE_PEOPLE = """
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :people)
INSERT INTO people (id, kind, name, search_key, created_at, updated_at)
SELECT x, 'customer', 'Person ' || x, 'person ' || x, :start, :start FROM n
"""
SQLITE_EVENTS = """
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :events)
INSERT INTO events (id, person_id, kind, occurred_at, amount_minor, currency, channel, source, source_id,
                    recorded_at)
SELECT x, h % :people + 1, 'purchase', ts, 100 + (h / 7) % 19997, 'USD', 'web', 'bench', CAST(x AS TEXT), ts
FROM (SELECT x, (x * 2654435761) % 4294967296 AS h,
             strftime('%Y-%m-%d %H:%M:%S', :start_epoch + (x - 1) * :span / :events, 'unixepoch')
             || '.000000' AS ts FROM n)
"""
PG_PEOPLE = """
INSERT INTO people (id, kind, name, search_key, created_at, updated_at)
SELECT x, 'customer', 'Person ' || x, 'person ' || x, :start, :start FROM generate_series(1, :people) x
"""
PG_EVENTS = """
INSERT INTO events (id, person_id, kind, occurred_at, amount_minor, currency, channel, source, source_id,
                    recorded_at)
SELECT x, h % :people + 1, 'purchase', ts, 100 + (h / 7) % 19997, 'USD', 'web', 'bench', x::text, ts
FROM (SELECT x, (x * 2654435761) % 4294967296 AS h,
             to_timestamp(:start_epoch + (x - 1) * :span / :events) AS ts
      FROM generate_series(CAST(1 AS BIGINT), :events) x) g
"""


def secondary_indexes(conn: Any, dialect: str, table: str) -> list[tuple[str, str]]:
    if dialect == "sqlite":
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = :t"
    else:
        sql = (
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    return [(str(name), str(definition)) for name, definition in conn.execute(text(sql), {"t": table})]


def load(db: Database, people: int, events: int) -> None:
    """People and purchase events in bulk; the events' secondary indexes are built once, afterwards."""
    params = {
        "people": people,
        "events": events,
        "span": SPAN_SECONDS,
        "start_epoch": int(START.timestamp()),
        "start": START,
    }
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-524288")
            params["start"] = START.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")  # no FK triggers while loading
        found = secondary_indexes(conn, db.dialect, "events")
        for name, _ in found:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        sqlite = db.dialect == "sqlite"
        conn.execute(text(SQLITE_PEOPLE if sqlite else PG_PEOPLE), params)
        conn.execute(text(SQLITE_EVENTS if sqlite else PG_EVENTS), params)
        for _, definition in found:
            conn.exec_driver_sql(definition)
        if not sqlite:
            conn.exec_driver_sql(f"SELECT setval('people_id_seq', {people})")
            conn.exec_driver_sql(f"SELECT setval('events_id_seq', {events})")
            conn.exec_driver_sql("SET session_replication_role = DEFAULT")
        conn.commit()
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


# ---------------------------------------------------------------------------------------- part 1
def child_award(url: str) -> None:
    """Runs in its own process: award_all once, in one transaction; JSON out."""
    from goodwill.loyalty import awards  # imports awards_sql too, for PHASES

    phases: dict[str, float] = {}
    for module, name in PHASES:
        timed(module, name, phases)
    settings = bench_settings(url)
    db = Database(url)
    started = time.perf_counter()
    with db.transaction() as session:
        report = awards.award_all(session=session, now=NOW, settings=settings)
        phases["commit"] = -time.perf_counter()
    phases["commit"] += time.perf_counter()
    seconds = time.perf_counter() - started
    db.dispose()
    print(
        json.dumps({"seconds": seconds, "report": vars(report), "peak_bytes": peak_bytes(), "phases": phases})
    )


# award_all's steps, timed by wrapping them where award_all looks them up (nothing in src/ changes).
PHASES = [
    ("goodwill.loyalty.awards_sql", "award_purchases"),
    ("goodwill.loyalty.awards_sql", "events_to_revisit"),
    ("goodwill.loyalty.awards", "award_events"),
    ("goodwill.loyalty.awards", "refresh_tiers"),
]


def timed(module_name: str, name: str, phases: dict[str, float]) -> None:
    module = sys.modules[module_name]
    original = getattr(module, name, None)
    if original is None:
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - started

    setattr(module, name, wrapper)


def run_child(*arguments: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {arguments[0]} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


VERIFY = {
    "earns": "SELECT count(*), coalesce(sum(points), 0), count(DISTINCT event_id), coalesce(min(points), 0) "
    "FROM loyalty_entries WHERE kind = 'earn'",
    "other_entries": "SELECT count(*) FROM loyalty_entries WHERE kind <> 'earn'",
    "missing": "SELECT count(*) FROM events e WHERE e.kind = 'purchase' AND NOT EXISTS "
    "(SELECT 1 FROM loyalty_entries l WHERE l.event_id = e.id AND l.kind = 'earn')",
    "accounts": "SELECT count(*), coalesce(sum(balance), 0), coalesce(sum(issued), 0), "
    "coalesce(min(balance), 0) FROM loyalty_accounts",
    # What ledger.check verifies, as two set-based statements (the Python check is slow at 10M).
    "mismatched": "SELECT count(*) FROM loyalty_accounts a LEFT JOIN "
    "(SELECT person_id, sum(points) AS total, "
    "sum(CASE WHEN points > 0 AND kind IN ('earn', 'adjust') THEN points ELSE 0 END) AS issued "
    "FROM loyalty_entries GROUP BY person_id) e ON e.person_id = a.person_id "
    "WHERE a.balance <> coalesce(e.total, 0) OR a.issued <> coalesce(e.issued, 0)",
    "orphans": "SELECT count(*) FROM (SELECT DISTINCT person_id FROM loyalty_entries) e "
    "WHERE NOT EXISTS (SELECT 1 FROM loyalty_accounts a WHERE a.person_id = e.person_id)",
}


def verify_award(db: Database, run_check: bool) -> dict[str, Any]:
    earns, points, distinct_events, least = scalars(db, VERIFY["earns"])
    accounts, balance, issued, lowest = scalars(db, VERIFY["accounts"])
    found: dict[str, Any] = {
        "earned_entries": int(earns),
        "points": int(points),
        "distinct_events": int(distinct_events),
        "least_points": int(least),
        "other_entries": int(scalars(db, VERIFY["other_entries"])[0]),
        "purchases_without_earn": int(scalars(db, VERIFY["missing"])[0]),
        "accounts": int(accounts),
        "balance_total": int(balance),
        "issued_total": int(issued),
        "lowest_balance": int(lowest),
        "accounts_mismatched": int(scalars(db, VERIFY["mismatched"])[0]),
        "entries_without_account": int(scalars(db, VERIFY["orphans"])[0]),
        "check": None,
    }
    if run_check:
        from goodwill.loyalty.ledger import check

        started = time.perf_counter()
        with db.reading() as session:
            problems = check(session)
        found["check"] = {
            "problems": len(problems),
            "seconds": time.perf_counter() - started,
            "first": [f"{p.person_id}: {p.problem}" for p in problems[:5]],
        }
    return found


def reset_loyalty(db: Database) -> None:
    """Remove what the award wrote, so the floor writes the same rows into the same empty tables."""
    with db.engine.connect() as conn:
        tables = ("loyalty_draws", "loyalty_lots_drawn", "loyalty_entries", "loyalty_accounts")
        if db.dialect == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)}")
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in tables:
                conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.commit()
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")


def floor_statements(dialect: str, settings: Settings) -> tuple[str, str]:
    config = settings.loyalty
    if dialect == "sqlite":
        available = f"datetime(occurred_at, '+{config.pending_days} days') || '.000000'"
        expires = f"datetime(occurred_at, '+{config.expiry_months} months') || '.000000'"
    else:
        available = f"occurred_at + interval '{config.pending_days} days'"
        expires = f"occurred_at + interval '{config.expiry_months} months'"
    entries = (
        "INSERT INTO loyalty_entries (person_id, kind, points, key, rule, event_id, at, available_at, "
        "expires_at, recorded_at) "
        f"SELECT person_id, 'earn', amount_minor / 100, 'earn:purchase:event:' || id, 'purchase', id, "
        f"occurred_at, {available}, {expires}, :now FROM events WHERE kind = 'purchase'"
    )
    accounts = (
        "INSERT INTO loyalty_accounts (person_id, joined_at, balance, issued, tier, updated_at) "
        "SELECT person_id, min(at), sum(points), sum(points), '', :now "
        "FROM loyalty_entries GROUP BY person_id"
    )
    return entries, accounts


def floor(db: Database, settings: Settings) -> dict[str, Any]:
    """The bare insert of the same rows: entries, then accounts, each its own timed transaction."""
    entries_sql, accounts_sql = floor_statements(db.dialect, settings)
    now: Any = NOW.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") if db.dialect == "sqlite" else NOW
    timings: dict[str, Any] = {}
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-262144")  # what goodwill's bank rebuild uses
        conn.commit()
        for name, sql in (("entries", entries_sql), ("accounts", accounts_sql)):
            started = time.perf_counter()
            result = conn.execute(text(sql), {"now": now})
            conn.commit()
            timings[f"{name}_seconds"] = time.perf_counter() - started
            timings[f"{name}_rows"] = int(getattr(result, "rowcount", 0) or 0)
    timings["points"] = int(scalars(db, "SELECT coalesce(sum(points), 0) FROM loyalty_entries")[0])
    return timings


def part_award(url: str, events: int, people: int, force_check: bool) -> dict[str, Any]:
    db = Database(url)
    db.migrate()
    started = time.perf_counter()
    load(db, people, events)
    say(f"loaded {people:,} people and {events:,} purchases in {time.perf_counter() - started:.1f} s")
    # Untimed read of everything both sides read, so neither pays for a cold cache alone.
    purchases, buyers, unit_points = scalars(
        db,
        "SELECT count(*), count(DISTINCT person_id), coalesce(sum(amount_minor / 100), 0) "
        "FROM events WHERE kind = 'purchase'",
    )
    checkpoint(db)
    awarded = run_child("--child-award", url)
    report = awarded["report"]
    say(
        f"(b) award_all:          {awarded['seconds']:9.3f} s"
        f"  {purchases / awarded['seconds']:12,.0f} purchases/s"
        f"  peak memory {awarded['peak_bytes'] / 2**20:,.0f} MiB  report {report}"
    )
    say("    steps: " + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in awarded["phases"].items()))
    started = time.perf_counter()
    verified = verify_award(db, force_check or purchases <= CHECK_LIMIT)
    say(f"    checked in {time.perf_counter() - started:.1f} s: {verified}")
    reset_loyalty(db)
    checkpoint(db)
    bare = floor(db, bench_settings(url))
    floor_seconds = bare["entries_seconds"] + bare["accounts_seconds"]
    say(
        f"(a) floor, bare insert: {floor_seconds:9.3f} s  {purchases / floor_seconds:12,.0f} purchases/s"
        f"  (entries {bare['entries_seconds']:.3f} s for {bare['entries_rows']:,} rows, accounts"
        f" {bare['accounts_seconds']:.3f} s for {bare['accounts_rows']:,})"
    )
    db.dispose()
    ratio = awarded["seconds"] / floor_seconds
    ratio_entries = awarded["seconds"] / bare["entries_seconds"]
    consistent = (
        verified["earned_entries"] == purchases
        and verified["distinct_events"] == purchases
        and verified["purchases_without_earn"] == 0
        and verified["least_points"] > 0
        and verified["accounts"] == buyers
        and verified["balance_total"] == verified["issued_total"] == verified["points"]
        and verified["lowest_balance"] >= 0
        and verified["accounts_mismatched"] == 0
        and verified["entries_without_account"] == 0
        and (verified["check"] is None or verified["check"]["problems"] == 0)
    )
    say(
        f"    one earn per purchase and balances = entries: {'yes' if consistent else 'NO'}; points"
        f" {verified['points']:,} (1 a whole USD: {int(unit_points):,}; floor {bare['points']:,})"
    )
    say(
        f"ratio award / floor: {ratio:.2f}x (against the entries alone {ratio_entries:.2f}x; goal 3x:"
        f" {'met' if ratio <= 3 else 'not met'})"
    )
    return {
        "events": events,
        "people": people,
        "purchases": int(purchases),
        "buyers": int(buyers),
        "unit_points": int(unit_points),
        "seconds": awarded["seconds"],
        "peak_bytes": awarded["peak_bytes"],
        "phases": awarded["phases"],
        "report": report,
        "verified": verified,
        "consistent": consistent,
        "floor": bare,
        "floor_seconds": floor_seconds,
        "ratio": ratio,
        "ratio_entries": ratio_entries,
        "purchases_per_second": purchases / awarded["seconds"],
        "floor_purchases_per_second": purchases / floor_seconds,
    }


# ---------------------------------------------------------------------------------------- part 2
def seed_members(db: Database, accounts: int, hot: int, rewards: int) -> dict[str, Any]:
    """Members with lots of points, the reference counters and the catalogue.

    The lots and accounts are written in bulk, as ``award_all`` would leave them (``ledger.check``
    confirms it before the clients start), with a purchase for each lot: ordinary members two
    lots of 5,000 points, the hot ones ten lots of 200,000, all spendable now and expiring at
    different dates. The bank is then rebuilt over the purchases: every member has a standing, as
    after the award's refresh."""
    from goodwill.bank.rebuild import rebuild
    from goodwill.loyalty.ledger import check
    from goodwill.loyalty.rewards import RewardInput, create_reward

    now = utcnow()
    params = {"now": now, "accounts": accounts, "hot": hot, "currency": CURRENCY}
    with db.engine.connect() as conn:
        first = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM people").scalar_one())
        params["first"], params["last"] = first, first + accounts - 1
        for sql in SEED_SQL:
            conn.execute(text(sql), params)
        conn.commit()
    # The relationship bank over those purchases, as every member has after their earns (the award's
    # refresh): entries and a standing each, so a redemption appends to it as it would in use.
    with db.transaction() as session:
        rebuild(session=session, currency=CURRENCY, now=now)
    reward_ids = []
    with db.transaction() as session:
        for n in range(rewards):
            data = RewardInput(
                name=f"Bench reward {n + 1}",
                kind=REWARD_KINDS[n % len(REWARD_KINDS)],
                cost_points=10 * (1 + n % 5),
                stock=STOCK,
            )
            reward_ids.append(create_reward(session, data=data).id)
    with db.reading() as session:
        problems = check(session)
    if problems:
        raise SystemExit(f"the seeded ledger does not add up: {problems[:5]}")
    return {
        "first": first,
        "accounts": accounts,
        "hot": list(range(first, first + hot)),
        "rewards": reward_ids,
    }


SEED_SQL = [
    "INSERT INTO people (id, kind, name, search_key, created_at, updated_at) "
    "SELECT x, 'customer', 'Member ' || x, 'member ' || x, :now, :now "
    "FROM generate_series(CAST(:first AS BIGINT), :last) x",
    "SELECT setval('people_id_seq', (SELECT max(id) FROM people))",
    "CREATE TABLE bench_counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0)",
    "INSERT INTO bench_counters (id) SELECT x FROM generate_series(CAST(:first AS BIGINT), :last) x",
    "INSERT INTO loyalty_entries (person_id, kind, points, key, rule, at, available_at, expires_at, "
    "recorded_at) "
    "SELECT x, 'earn', CASE WHEN x < :first + :hot THEN 200000 ELSE 5000 END, "
    "'earn:bench:' || x || ':' || n, 'bench', :now - make_interval(days => 30 + n), "
    "CAST(:now AS timestamptz) - make_interval(days => 16 + n), "
    "CAST(:now AS timestamptz) + make_interval(days => 150 + 20 * n), :now "
    "FROM generate_series(CAST(:first AS BIGINT), :last) x, generate_series(0, 9) n "
    "WHERE n < CASE WHEN x < :first + :hot THEN 10 ELSE 2 END",
    "INSERT INTO loyalty_accounts (person_id, joined_at, balance, issued, tier, updated_at) "
    "SELECT person_id, min(at), sum(points), sum(points), '', :now FROM loyalty_entries "
    "WHERE person_id >= :first GROUP BY person_id",
    # The purchase each lot stands for (one point per whole unit spent), for the bank below. The lots
    # are not linked to them (event_id stays NULL): award_all would award these purchases again.
    "INSERT INTO events (person_id, kind, occurred_at, amount_minor, currency, source, source_id, "
    "recorded_at) "
    "SELECT person_id, 'purchase', at, 100 * points, :currency, 'bench', key, :now FROM loyalty_entries "
    "WHERE person_id >= :first AND kind = 'earn'",
]


def child_clients(spec: dict[str, Any]) -> None:
    """Runs in its own process: ``threads`` clients, each with its own connection, for ``seconds``."""
    from goodwill.loyalty.ledger import Refused
    from goodwill.loyalty.redemption import redeem

    url, mode, variant, threads = spec["url"], spec["mode"], spec["variant"], spec["threads"]
    settings = bench_settings(url)
    db = Database(url, pool_size=len(threads), max_overflow=0)
    pool = spec["hot"] if variant == "hot" else list(range(spec["first"], spec["first"] + spec["accounts"]))
    rewards: list[int] = spec["rewards"]
    counter = text("UPDATE bench_counters SET n = n + 1 WHERE id = :id")
    statements: Counter[int] = Counter()  # per thread: round trips to the server (BEGIN, COMMIT too)

    @event.listens_for(db.engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        statements[threading.get_ident()] += 1

    @event.listens_for(db.engine, "commit")
    def _count_commit(*_: Any) -> None:
        statements[threading.get_ident()] += 1

    def operation(rng: random.Random, key: str) -> None:
        person_id = rng.choice(pool)
        with db.transaction() as session:
            if mode == "reference":
                session.execute(counter, {"id": person_id})
                return
            result = redeem(
                session=session,
                person_id=person_id,
                reward_id=rng.choice(rewards),
                request_key=key,
                ship_to=None,
                now=None,  # as the API: read once the account is held
                by="customer",
                settings=settings,
            )
            if not result.created:
                raise RuntimeError(f"request key {key} was already used")

    ready = threading.Barrier(len(threads) + 1)
    go = threading.Event()
    clock: dict[str, float] = {}
    results: list[dict[str, Any]] = []

    def client(index: int) -> None:
        rng = random.Random(f"{spec['seed']}:{variant}:{mode}:{index}")
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        samples: list[str] = []
        finished = 0.0
        warm_ok = 0
        with db.reading() as session:  # hold a connection, so the pool opens one per thread now
            session.execute(text("SELECT 1"))
            ready.wait()
        # One untimed operation per thread: statement caches and connection state warm up.
        try:
            operation(rng, f"bench-{variant}-warm-{index}")
            warm_ok = 1
        except Exception as exc:  # counted and reported; the run goes on
            errors["warm-up " + describe(exc, Refused)] += 1
        ready.wait()
        go.wait()
        n, before = 0, statements[threading.get_ident()]
        while (started := time.perf_counter()) < clock["deadline"]:
            n += 1
            try:
                operation(rng, f"bench-{variant}-{index}-{n}")
            except Exception as exc:
                errors[describe(exc, Refused)] += 1
                if len(samples) < 3:
                    samples.append(repr(exc)[:300])
                continue
            finished = time.perf_counter()
            latencies.append((finished - started) * 1000)
        results.append(
            {"latencies": latencies, "errors": dict(errors), "samples": samples, "warm_ok": warm_ok,
             "elapsed": max(finished - clock["start"], 0.0), "attempts": n,
             "statements": statements[threading.get_ident()] - before}
        )  # fmt: skip

    workers = [threading.Thread(target=client, args=(i,)) for i in threads]
    for worker in workers:
        worker.start()
    ready.wait()  # connections open
    ready.wait()  # warm-up done
    print("ready", flush=True)
    start_at = float(sys.stdin.readline().split()[1])
    clock["start"] = time.perf_counter() + (start_at - time.time())
    clock["deadline"] = clock["start"] + spec["seconds"]
    time.sleep(max(clock["start"] - time.perf_counter(), 0.0))
    cpu = time.process_time()
    go.set()
    for worker in workers:
        worker.join()
    cpu = time.process_time() - cpu  # this process's CPU over the timed window (all its threads)
    db.dispose()
    print(json.dumps({"threads": results, "cpu_seconds": cpu}))


def describe(exc: Exception, refused: type[Exception]) -> str:
    code = getattr(exc, "code", None) if isinstance(exc, refused) else None
    return f"refused:{code}" if code else type(exc).__name__


def run_clients(
    base: dict[str, Any], mode: str, variant: str, clients: int, processes: int
) -> dict[str, Any]:
    """``clients`` threads over ``processes`` child processes, started together; the merged figures."""
    children = []
    for p in range(processes):
        spec = {**base, "mode": mode, "variant": variant, "threads": list(range(p, clients, processes))}
        if spec["threads"]:
            children.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--child-clients", json.dumps(spec)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise SystemExit(f"a client process failed to start:\n{child.communicate()[1][-4000:]}")
    start_at = time.time() + 0.3
    for child in children:  # all of them first: communicate() waits for the child to finish
        assert child.stdin is not None
        child.stdin.write(f"go {start_at}\n")
        child.stdin.flush()
    threads: list[dict[str, Any]] = []
    cpu = 0.0
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"a client process failed:\n{err[-4000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        threads.extend(result["threads"])
        cpu += result["cpu_seconds"]
    return {**summarise(threads), "client_cpu_seconds": cpu}


def summarise(threads: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = sorted(ms for t in threads for ms in t["latencies"])
    errors: Counter[str] = Counter()
    for t in threads:
        errors.update(t["errors"])
    elapsed = max(t["elapsed"] for t in threads)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    return {
        "ok": len(latencies),
        "warm_ok": sum(t["warm_ok"] for t in threads),
        "elapsed": elapsed,
        "per_second": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": cuts[49],
        "p95_ms": cuts[94],
        "p99_ms": cuts[98],
        "max_ms": latencies[-1] if latencies else 0.0,
        "statements_per_op": sum(t["statements"] for t in threads)
        / max(sum(t["attempts"] for t in threads), 1),
        "errors": dict(errors),
        "error_samples": [s for t in threads for s in t["samples"]][:5],
    }


def verify_redemptions(db: Database, seeded: dict[str, Any], variant: str, ok: int) -> dict[str, Any]:
    from goodwill.loyalty.ledger import check

    stored = int(scalars(db, "SELECT count(*) FROM loyalty_redemptions WHERE request_key LIKE :k",
                         k=f"bench-{variant}-%")[0])  # fmt: skip
    with db.engine.connect() as conn:
        sql = "SELECT reward_id, count(*) FROM loyalty_redemptions WHERE status <> 'refunded' GROUP BY 1"
        taken: dict[int, int] = {int(r): int(n) for r, n in conn.execute(text(sql))}
        stock: dict[int, int] = {
            int(r): int(n) for r, n in conn.execute(text("SELECT id, stock FROM loyalty_rewards"))
        }
    points, entries = scalars(
        db, "SELECT coalesce(sum(points), 0), count(*) FROM loyalty_redemptions WHERE status <> 'refunded'"
    )
    drawn, redeem_entries = scalars(
        db, "SELECT coalesce(-sum(points), 0), count(*) FROM loyalty_entries WHERE kind = 'redeem'"
    )
    started = time.perf_counter()
    with db.reading() as session:
        problems = check(session)
    return {
        "stored": stored,
        "stored_matches": stored == ok,
        "stock_consistent": all(stock[r] == STOCK - taken.get(r, 0) for r in seeded["rewards"]),
        "points_consistent": int(points) == int(drawn) and int(entries) == int(redeem_entries),
        "check_problems": len(problems),
        "check_first": [f"{p.person_id}: {p.problem}" for p in problems[:5]],
        "check_seconds": time.perf_counter() - started,
    }


def show(label: str, r: dict[str, Any]) -> str:
    return (
        f"{label:<22}{r['per_second']:9,.0f} /s  p50 {r['p50_ms']:6.2f}  p95 {r['p95_ms']:6.2f}"
        f"  p99 {r['p99_ms']:7.2f}  max {r['max_ms']:7.1f} ms  ({r['ok']:,} in {r['elapsed']:.1f} s,"
        f" {r['statements_per_op']:.1f} statements and"
        f" {r['client_cpu_seconds'] * 1000 / max(r['ok'], 1):.2f} ms of client CPU each,"
        f" errors {sum(r['errors'].values())}{' ' + str(r['errors']) if r['errors'] else ''})"
    )


def part_redeem(url: str, args: argparse.Namespace) -> dict[str, Any]:
    db = Database(url)
    db.migrate()
    started = time.perf_counter()
    seeded = seed_members(db, args.accounts, args.hot, args.rewards)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    say(
        f"seeded {args.accounts:,} members ({args.hot} hot), {args.rewards} rewards in"
        f" {time.perf_counter() - started:.1f} s; {args.clients} clients in {args.processes} processes,"
        f" {args.seconds:g} s each"
    )
    base = {**seeded, "url": url, "seconds": args.seconds, "seed": args.seed}
    variants: dict[str, Any] = {}
    for variant in ("uniform", "hot"):
        checkpoint(db)
        reference = run_clients(base, "reference", variant, args.clients, args.processes)
        checkpoint(db)
        redeemed = run_clients(base, "redeem", variant, args.clients, args.processes)
        verified = verify_redemptions(db, seeded, variant, redeemed["ok"] + redeemed["warm_ok"])
        ratio = reference["per_second"] / redeemed["per_second"] if redeemed["per_second"] else float("inf")
        label = "uniform" if variant == "uniform" else f"hot ({args.hot} accounts)"
        say(f"{label}:")
        say(show("  reference UPDATE", reference))
        say(show("  redeem", redeemed))
        say(
            f"  reference / redeem: {ratio:.1f}x; goal 500/s: "
            f"{'met' if redeemed['per_second'] >= 500 else 'not met'}; checks {verified}"
        )
        variants[variant] = {"reference": reference, "redeem": redeemed, "ratio": ratio, "verified": verified}
    db.dispose()
    return {
        "clients": args.clients,
        "processes": args.processes,
        "seconds": args.seconds,
        "accounts": args.accounts,
        "hot": args.hot,
        "rewards": args.rewards,
        **variants,
    }


# ------------------------------------------------------------------------------------------ main
def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--part", choices=["award", "redeem", "all"], default="all")
    parser.add_argument("--events", type=int, default=10_000_000, help="purchase events (part 1)")
    parser.add_argument("--people", type=int, help="people (part 1; default events / 10)")
    parser.add_argument("--check", action="store_true", help=f"ledger.check even above {CHECK_LIMIT:,}")
    parser.add_argument("--seconds", type=float, default=20.0, help="per timed run (part 2)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="client processes")
    parser.add_argument("--accounts", type=int, default=10_000, help="members (part 2)")
    parser.add_argument("--hot", type=int, default=5, help="accounts of the hot variant (part 2)")
    parser.add_argument("--rewards", type=int, default=10, help="rewards in the catalogue (part 2)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workdir", default=tempfile.gettempdir(), help="where the SQLite file goes")
    parser.add_argument("--keep", action="store_true", help="keep the database(s)")
    parser.add_argument("--json", action="store_true", help="JSON on stdout (the report goes to stderr)")
    parser.add_argument("--child-award", help=argparse.SUPPRESS)
    parser.add_argument("--child-clients", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_award:
        child_award(args.child_award)
        return
    if args.child_clients:
        child_clients(json.loads(args.child_clients))
        return
    if args.json:
        OUT = sys.stderr
    people = args.people or max(args.events // 10, 1)
    if args.part == "redeem" and args.backend != "postgresql":
        parser.error("part 2 (redeem) runs on PostgreSQL only: add --backend postgresql")
    say(
        f"loyalty bench: backend {args.backend}, part {args.part}, {os.cpu_count()} cpus,"
        f" load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    result: dict[str, Any] = {"backend": args.backend, "load_average": os.getloadavg()}
    if args.part in ("award", "all"):
        say(f"part 1: award points for {args.events:,} purchases by {people:,} people")
        with scratch_database(args.backend, args.pg_admin, args.workdir, args.keep, "award") as url:
            result["award"] = part_award(url, args.events, people, args.check)
    if args.part in ("redeem", "all"):
        if args.backend != "postgresql":
            say("part 2 (redeem) runs on PostgreSQL only; skipped (add --backend postgresql)")
        else:
            say("part 2: redemptions")
            with scratch_database(args.backend, args.pg_admin, args.workdir, args.keep, "redeem") as url:
                result["redeem"] = part_redeem(url, args)
    result["load_average_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
