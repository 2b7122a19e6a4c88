"""Daily appreciation planner benchmark: ``make_plan`` for a day against a bare DuckDB scan.

    .venv/bin/python bench/plan_bench.py                          # 1M people, SQLite
    .venv/bin/python bench/plan_bench.py --people 100000
    .venv/bin/python bench/plan_bench.py --backend postgresql     # needs PostgreSQL on 127.0.0.1

1. Generates a seeded shop with DuckDB (cached under bench/out/plan/ by size and seed): 85 %
   customers whose purchases follow BG/NBD (goodwill.insights.simulate), 15 % prospects; visits,
   questions, late deliveries, complaints and resolutions, praise naming a team member, referrals
   and appreciations sent from another tool around those purchases; consent (mostly email, some
   SMS, card and call, a few revoked), preferred channels, time zones (several with DST), orders
   (2 % cancelled), relationship bank standings (a few % overdrawn) and a small team.
2. Loads it into a fresh migrated database (SQLite: cached too; PostgreSQL: a new database, dropped
   afterwards unless --keep), then scores everyone with Goodwill's own ``score_people`` (segments,
   P(alive), CLV and every milestone), as the nightly insights run would.
3. Floor: DuckDB holds the same people, events, orders, consent, standings, scores and milestones
   (loaded first, not timed) and finds the same candidates set-based: recent events in the
   look-back window, the window's milestones, drifting loyal customers and overdrawn relationships,
   joined with people, scores, standings, consent in force and past appreciations. Best of 3.
4. In a child process (its own peak memory): ``make_plan`` ``--repeat`` times, each rolled back,
   split into its phases; then ``plan_and_draft`` once (also rolled back), whose drafting is
   bounded by the day's capacity of a few hundred notes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import pstats
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import psycopg
import pyarrow as pa

from goodwill.config import Settings, load_settings
from goodwill.db import Database

ROOT = Path(__file__).resolve().parent
DATA_VERSION = 1  # bump when the generated data changes, so stale caches are not reused
PLAN_DAY = date(2026, 11, 20)
TIMEZONE = "America/New_York"
WINDOW_DAYS = 730.5  # two years, up to noon UTC (7:00 in New York) on the plan day
START = PLAN_DAY - timedelta(days=730)
CUSTOMER_SHARE = 0.85
TEAM = [("Ada Admin", "admin")] + [(n, "manager") for n in ("Maria Lopez", "Sam Okafor", "Ines Berg")]
TEAM += [
    (n, "agent")
    for n in ("Ana", "Ben", "Chloe", "Dev", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lea")
]

# Each loaded table: (column, how it is written) where "ts" is a UTC timestamp and "bool" a boolean.
TABLES: dict[str, list[tuple[str, str]]] = {
    "users": [("id", ""), ("email", ""), ("name", ""), ("role", ""), ("password_hash", ""),
              ("active", "bool"), ("created_at", "ts")],
    "people": [("id", ""), ("kind", ""), ("name", ""), ("email", ""), ("phone", ""), ("city", ""),
               ("country", ""), ("preferred_channel", ""), ("time_zone", ""), ("search_key", ""),
               ("created_at", "ts"), ("updated_at", "ts")],
    "orders": [("id", ""), ("person_id", ""), ("source", ""), ("external_id", ""), ("placed_at", "ts"),
               ("currency", ""), ("total_minor", ""), ("refunded_minor", ""), ("cancelled_at", "ts"),
               ("items", ""), ("recorded_at", "ts")],
    "events": [("id", ""), ("person_id", ""), ("kind", ""), ("occurred_at", "ts"), ("amount_minor", ""),
               ("currency", ""), ("channel", ""), ("staff_id", ""), ("text", ""), ("order_id", ""),
               ("source", ""), ("source_id", ""), ("recorded_at", "ts")],
    "consent_changes": [("id", ""), ("person_id", ""), ("channel", ""), ("granted", "bool"), ("source", ""),
                        ("at", "ts")],
    "bank_standings": [("person_id", ""), ("score", ""), ("bad_streak", ""), ("status", ""),
                       ("value_minor", ""), ("computed_at", "ts")],
}  # fmt: skip

QUESTIONS = [
    "Do you ship to Norway?", "Is the rye sourdough vegan?", "Can I change the delivery address on my order?",
    "Do you have gluten-free options for a birthday?", "When will the winter blend be back in stock?",
    "Could you gift-wrap the order and leave out the receipt?",
]  # fmt: skip
PRAISE = ["So patient with all my questions", "The packaging was lovely",
          "Fast and friendly help, thank you!", "Remembered my usual order, what a nice touch"]  # fmt: skip
RESOLVED = ["the parcel was lost in transit; a new one was sent", "a refund for the broken jar",
            "the wrong size was swapped at no cost"]  # fmt: skip
PRODUCTS = ["Rye sourdough", "Winter blend coffee", "Tulip bouquet", "Oat cookies", "Honey jar",
            "Tea sampler", "Olive oil", "Linen napkins", "Ceramic mug", "Chocolate box"]  # fmt: skip
FIRST = ["Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kofi", "Lina",
         "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara"]  # fmt: skip
LAST = ["Silva", "Smith", "Garcia", "Nguyen", "Muller", "Rossi", "Kowalski", "Okafor", "Tanaka", "Dubois",
        "Jensen", "Haddad", "Novak", "Costa", "Brown"]  # fmt: skip
CITIES = ["Boston", "Chicago", "Denver", "Austin", "Seattle", "London", "Paris", "Sydney", "Tokyo", "Phoenix"]


def generate(path: Path, people: int, seed: int) -> None:
    """The shop as DuckDB tables named and shaped like Goodwill's, in ``path``."""
    from goodwill.insights.simulate import simulate

    customers = round(people * CUSTOMER_SHARE)
    sim = simulate(customers, r=0.8, alpha=45.0, a=0.8, b=2.5, birth_days=700.0,
                   window_days=WINDOW_DAYS, seed=seed, start=START)  # fmt: skip
    purchases = pa.table({"customer_id": sim.customer_id, "t": sim.time, "amount": sim.amount})
    stride = next(p for p in (7919, 104_729, 1_299_709) if math.gcd(p, people) == 1)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.register("sim", purchases)
    # Hash-based draws: the same for a row whatever the thread schedule, so the seed fixes everything.
    con.execute(f"CREATE MACRO u(x, salt) AS CAST(hash(x, salt || ':{seed}') % 1000003 AS DOUBLE) / 1000003")
    con.execute(f"CREATE MACRO ts(d) AS TIMESTAMP '{START}' + to_microseconds(CAST(d * 86400e6 AS BIGINT))")
    con.execute(f"CREATE MACRO staff(k) AS {len(TEAM) - 11} + CAST(floor(u(k, 'staff') * 12) AS INTEGER)")
    con.execute(SHOP_SQL.format(stride=stride, people=people, customers=customers, window=WINDOW_DAYS))
    con.execute(EVENTS_SQL.format(window=WINDOW_DAYS, **PICKS))
    con.execute(TABLES_SQL.format(start=START, day=PLAN_DAY, team=len(TEAM), **PICKS))
    con.close()


def pick(values: list[str], key: str, salt: str) -> str:
    """SQL for a deterministic choice from ``values`` for row ``key``."""
    items = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"[{items}][1 + CAST(floor(u({key}, '{salt}') * {len(values)}) AS INTEGER)]"


PICKS = {
    "question_channel": pick(["email", "phone", "chat"], "k", "qc"),
    "question": pick(QUESTIONS, "k", "qt"),
    "complaint_channel": pick(["email", "phone"], "k", "cc"),
    "resolved": pick(RESOLVED, "k", "rt"),
    "praise": pick(PRAISE, "k", "pt"),
    "thanks_channel": pick(["email", "email", "card"], "k", "ac"),
    "own_channel": pick(["web", "store", "email"], "k", "sc"),
    "own_question": pick(QUESTIONS, "k", "st"),
    "names": ", ".join(f"'{n}'" for n, _ in TEAM),
    "roles": ", ".join(f"'{r}'" for _, r in TEAM),
    "first": pick(FIRST, "id", "fn"),
    "last": pick(LAST, "id", "ln"),
    "city": pick(CITIES, "id", "city"),
    "product": pick(PRODUCTS, "k", "it"),
}
# Purchases (k: order number) and when each person arrived (d: days since START).
SHOP_SQL = """
CREATE TEMP TABLE pur AS SELECT row_number() OVER (ORDER BY customer_id, t) AS k,
    (customer_id - 1) * {stride} % {people} + 1 AS person_id, t, amount FROM sim;
CREATE TEMP TABLE ppl AS SELECT idx, idx * {stride} % {people} + 1 AS id, idx < {customers} AS customer
    FROM range({people}) r(idx);
CREATE TEMP TABLE born AS
    SELECT ppl.id, ppl.customer,
        CASE WHEN ppl.customer THEN greatest(f.first - u(ppl.id, 'lead') * 30, 0)
             ELSE u(ppl.id, 'born') * ({window} - 1) END AS d
    FROM ppl LEFT JOIN (SELECT person_id, min(t) AS first FROM pur GROUP BY person_id) f
        ON f.person_id = ppl.id;
"""
# What happens around each purchase, then visits and questions of their own (all prospects ever do).
EVENTS_SQL = """
CREATE TEMP TABLE ev0 AS
SELECT person_id, 'purchase' AS kind, t AS d,
       CAST(greatest(round(amount * 100), 100) AS BIGINT) AS amount_minor,
       CASE WHEN u(k, 'pch') < 0.7 THEN 'web' ELSE 'store' END AS channel, NULL::INTEGER AS staff_id,
       NULL AS text, k AS order_id, 'shop' AS source FROM pur
UNION ALL SELECT person_id, 'visit', t - u(k, 'vd') * 2, NULL, 'web', NULL, NULL, NULL, 'web'
    FROM pur WHERE u(k, 'v') < 0.2
UNION ALL SELECT person_id, 'question', t + u(k, 'qd') * 20, NULL, {question_channel}, NULL, {question},
    NULL, 'helpdesk' FROM pur WHERE u(k, 'q') < 0.08
UNION ALL SELECT person_id, 'late_delivery', t + 2 + u(k, 'ld') * 5, NULL, NULL, NULL, NULL, k, 'shop'
    FROM pur WHERE u(k, 'l') < 0.04
UNION ALL SELECT person_id, 'complaint', t + 3 + u(k, 'cd') * 7, NULL, {complaint_channel}, NULL,
    'parcel late and the box was damaged', k, 'helpdesk' FROM pur WHERE u(k, 'c') < 0.03
UNION ALL SELECT person_id, 'complaint_resolved', t + 4 + u(k, 'cd') * 7 + u(k, 'rd') * 3, NULL, 'email',
    staff(k), {resolved}, k, 'helpdesk' FROM pur WHERE u(k, 'c') < 0.0225
UNION ALL SELECT person_id, 'defect', t + 5 + u(k, 'dd') * 10, NULL, NULL, NULL, NULL, k, 'helpdesk'
    FROM pur WHERE u(k, 'df') < 0.01
UNION ALL SELECT person_id, 'return', t + 5 + u(k, 'rtd') * 15, NULL, NULL, NULL, NULL, k, 'shop'
    FROM pur WHERE u(k, 'ret') < 0.02
UNION ALL SELECT person_id, 'praise', t + u(k, 'pd') * 5, NULL, 'review', staff(k), {praise}, NULL, 'reviews'
    FROM pur WHERE u(k, 'p') < 0.02
UNION ALL SELECT person_id, 'referral', t + 1 + u(k, 'fd') * 29, NULL, NULL, NULL, NULL, NULL, 'shop'
    FROM pur WHERE u(k, 'f') < 0.008
UNION ALL SELECT person_id, 'appreciation_sent', t + 2 + u(k, 'ad') * 8, NULL, {thanks_channel}, NULL, NULL,
    NULL, 'crm' FROM pur WHERE u(k, 'a') < 0.05;
INSERT INTO ev0
SELECT id, CASE WHEN u(k, 'sk') < 0.7 THEN 'visit' ELSE 'question' END, d + ({window} - d) * u(k, 'sd'),
       NULL, {own_channel}, NULL, {own_question}, NULL, 'web'
FROM (SELECT id, d, id * 64 + unnest(range(least(63,
          CAST(floor(-ln(1 - u(id, 'sn')) * CASE WHEN customer THEN 0.5 ELSE 1.5 END) AS BIGINT)
          + CASE WHEN customer THEN 0 ELSE 1 END))) AS k
      FROM born);
UPDATE ev0 SET text = NULL WHERE kind = 'visit';
DELETE FROM ev0 WHERE d >= {window} OR d < 0;
"""
TABLES_SQL = """
CREATE TABLE users AS SELECT i + 1 AS id, lower(replace(n, ' ', '.')) || '@bench.example' AS email,
    n AS name, r AS role, '!bench-no-login' AS password_hash, true AS active,
    TIMESTAMP '{start}' AS created_at
    FROM (SELECT unnest([{names}]) AS n, unnest([{roles}]) AS r, unnest(range({team})) AS i);
CREATE TABLE people AS SELECT id, CASE WHEN customer THEN 'customer' ELSE 'prospect' END AS kind,
    {first} || ' ' || {last} AS name, 'person' || id || '@example.com' AS email,
    '+1555' || lpad(CAST(id AS VARCHAR), 7, '0') AS phone, {city} AS city, 'US' AS country,
    CASE WHEN u(id, 'pc') < 0.70 THEN 'email' WHEN u(id, 'pc') < 0.80 THEN 'sms'
         WHEN u(id, 'pc') < 0.88 THEN 'card' WHEN u(id, 'pc') < 0.90 THEN 'call' END AS preferred_channel,
    CASE WHEN u(id, 'tz') < 0.40 THEN NULL WHEN u(id, 'tz') < 0.60 THEN 'America/New_York'
         WHEN u(id, 'tz') < 0.70 THEN 'America/Chicago' WHEN u(id, 'tz') < 0.78 THEN 'America/Los_Angeles'
         WHEN u(id, 'tz') < 0.85 THEN 'Europe/London' WHEN u(id, 'tz') < 0.90 THEN 'Europe/Paris'
         WHEN u(id, 'tz') < 0.93 THEN 'Australia/Sydney' WHEN u(id, 'tz') < 0.96 THEN 'Asia/Tokyo'
         ELSE 'America/Phoenix' END AS time_zone,
    'person ' || id AS search_key, ts(d) AS created_at, ts(d) AS updated_at
    FROM born ORDER BY id;
UPDATE people SET search_key = lower(name || ' ' || email);
CREATE TABLE orders AS SELECT k AS id, person_id, 'shop' AS source, '#' || k AS external_id,
    ts(t) AS placed_at, 'USD' AS currency, CAST(greatest(round(amount * 100), 100) AS BIGINT) AS total_minor,
    0 AS refunded_minor, CASE WHEN u(k, 'x') < 0.02 THEN ts(t) + INTERVAL 3 HOUR END AS cancelled_at,
    '[{{"name": "' || {product} || '", "quantity": 1}}]' AS items,
    ts(t) + INTERVAL 1 MINUTE AS recorded_at FROM pur ORDER BY k;
CREATE TABLE events AS SELECT *, CAST(id AS VARCHAR) AS source_id FROM (
    SELECT row_number() OVER (ORDER BY d, person_id, kind) AS id, person_id, kind, ts(d) AS occurred_at,
        amount_minor, CASE WHEN amount_minor IS NOT NULL THEN 'USD' END AS currency, channel, staff_id,
        text, order_id, source, ts(d) + INTERVAL 2 MINUTE AS recorded_at FROM ev0) ORDER BY id;
CREATE TABLE consent_changes AS SELECT row_number() OVER (ORDER BY "at", person_id, channel) AS id, *
FROM (
    SELECT id AS person_id, 'email' AS channel, true AS granted, 'bench' AS source, created_at AS "at"
        FROM people WHERE u(id, 'ce') < CASE WHEN kind = 'customer' THEN 0.85 ELSE 0.6 END
    UNION ALL SELECT id, 'email', false, 'unsubscribe link', created_at + INTERVAL 30 DAY
        FROM people WHERE u(id, 'ce') < 0.04
    UNION ALL SELECT id, 'sms', true, 'bench', created_at FROM people
        WHERE u(id, 'cs') < CASE WHEN preferred_channel = 'sms' THEN 0.9 ELSE 0.2 END
    UNION ALL SELECT id, 'sms', false, 'STOP', created_at + INTERVAL 60 DAY
        FROM people WHERE u(id, 'cs') < 0.02
    UNION ALL SELECT id, 'card', true, 'bench', created_at FROM people
        WHERE u(id, 'cp') < CASE WHEN preferred_channel = 'card' THEN 0.9 ELSE 0.3 END
    UNION ALL SELECT id, 'call', true, 'bench', created_at FROM people
        WHERE u(id, 'ck') < CASE WHEN preferred_channel = 'call' THEN 0.9 ELSE 0.05 END
) ORDER BY id;
DELETE FROM consent_changes WHERE "at" >= TIMESTAMP '{day} 12:00:00';
CREATE TABLE bank_standings AS
WITH per AS (
    SELECT person_id,
        count(*) FILTER (WHERE kind IN ('late_delivery', 'complaint', 'defect', 'return')
                         AND occurred_at >= TIMESTAMP '{day}' - INTERVAL 180 DAY) AS bad,
        coalesce(sum(amount_minor) FILTER (WHERE kind = 'purchase'), 0) AS spend
    FROM events GROUP BY person_id),
drawn AS (SELECT *, CASE
        WHEN (bad >= 2 AND u(person_id, 'ov') < 0.5) OR (bad = 1 AND u(person_id, 'ov') < 0.1)
             OR u(person_id, 'ov') < 0.004 THEN 'overdrawn'
        WHEN bad >= 1 OR u(person_id, 'ov') > 0.95 THEN 'watch' ELSE 'healthy' END AS status FROM per)
SELECT person_id,
       CAST(CASE status WHEN 'overdrawn' THEN -20 - bad * 10 WHEN 'watch' THEN 5 ELSE 40 END AS DOUBLE)
           AS score,
       CASE status WHEN 'overdrawn' THEN greatest(bad, 1) WHEN 'watch' THEN least(bad, 1) ELSE 0 END
           AS bad_streak,
       status, spend AS value_minor, TIMESTAMP '{day} 06:00:00' AS computed_at
FROM drawn ORDER BY person_id;
"""


@contextmanager
def without_indexes(cursor: Any, dialect: str, tables: list[str]) -> Iterator[None]:
    """Drop the secondary indexes of ``tables`` while loading, then build them once."""
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in tables)
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})",
            tables,
        )
    else:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (tables,),
        )
    found = list(cursor.fetchall())
    for name, _ in found:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    for _, definition in found:
        cursor.execute(definition)


def select_for(table: str, dialect: str) -> str:
    parts = []
    for column, how in TABLES[table]:
        if how == "ts":
            zone = "+00" if dialect == "postgresql" else ""
            parts.append(f"strftime(\"{column}\", '%Y-%m-%d %H:%M:%S.%f{zone}')")
        elif how == "bool" and dialect == "sqlite":
            parts.append(f'CAST("{column}" AS INTEGER)')
        else:
            parts.append(f'"{column}"')
    return f"SELECT {', '.join(parts)} FROM data.{table} ORDER BY 1"


def load(url: str, data: Path, work: Path) -> None:
    """Bulk-load the generated tables, then score everyone with Goodwill's insights."""
    db = Database(url)
    db.migrate()
    duck = duckdb.connect()
    duck.execute(f"ATTACH '{data}' AS data (READ_ONLY)")
    raw: Any = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.dialect == "sqlite":
            cursor.execute("PRAGMA foreign_keys=OFF")
        with without_indexes(cursor, db.dialect, list(TABLES)):
            for table, columns in TABLES.items():
                names = ", ".join(c for c, _ in columns)
                if db.dialect == "sqlite":
                    marks = ", ".join("?" for _ in columns)
                    reader = duck.execute(select_for(table, "sqlite"))
                    while batch := reader.fetchmany(100_000):
                        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
                else:
                    csv = work / f"{table}.csv"
                    duck.execute(f"COPY ({select_for(table, 'postgresql')}) TO '{csv}' (HEADER)")
                    statement = f"COPY {table} ({names}) FROM STDIN (FORMAT csv, HEADER true)"
                    with cursor.copy(statement) as copy, open(csv, "rb") as handle:
                        while chunk := handle.read(1 << 20):
                            copy.write(chunk)
                    csv.unlink()
                    if table != "bank_standings":
                        cursor.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
        duck.close()
    score(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.commit()
    db.dispose()


def score(db: Database) -> None:
    from goodwill.insights.pipeline import ScoreOptions
    from goodwill.insights.service import score_people

    settings = bench_settings(db.url)
    with db.transaction() as session:
        report = score_people(
            session, business=settings.business, options=ScoreOptions(as_of=PLAN_DAY - timedelta(days=1))
        )
    print(f"    scored {report.customers:,} customers, {report.milestones:,} milestones", flush=True)


def bench_settings(url: str) -> Settings:
    return load_settings(
        database_url=url,
        secret_key="bench",  # noqa: S106 (signs nothing: no web session is opened)
        business={"name": "Bench Bakery", "timezone": TIMEZONE},
    )


def fetch_table(db: Database, sql: str, names: list[str]) -> pa.Table:
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(sql).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pa.table({name: list(values) for name, values in zip(names, columns, strict=True)})


def floor(url: str, data: Path, settings: Settings, repeat: int = 3) -> tuple[float, int]:
    """Best time of a bare DuckDB query finding the same candidates, and how many it found."""
    from goodwill.planner.signals import CONTACT_EVENT_KINDS, MOMENT_KINDS, WITHDRAWAL_KINDS, day_bounds

    config = settings.planner.moments
    db = Database(url)
    scores = fetch_table(
        db,
        "SELECT person_id, segment, orders, recency_days, age_days, p_alive, m_score, first_purchase_on, "
        "last_purchase_on, total_spend_minor FROM insight_scores",
        ["person_id", "segment", "orders", "recency_days", "age_days", "p_alive", "m_score", "first_on",
         "last_on", "spend"],
    )  # fmt: skip
    milestones = fetch_table(
        db,
        "SELECT person_id, kind, value, reached_on FROM insight_milestones",
        ["person_id", "kind", "value", "on"],
    )
    db.dispose()
    con = duckdb.connect()
    con.execute(f"ATTACH '{data}' AS data (READ_ONLY)")
    for table in ("people", "events", "orders", "consent_changes", "bank_standings"):
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM data.{table}")
    con.register("scores_arrow", scores)
    con.register("milestones_arrow", milestones)
    # SQLite hands dates back as text.
    con.execute(
        "CREATE TABLE scores AS SELECT * REPLACE (CAST(first_on AS DATE) AS first_on, "
        "CAST(last_on AS DATE) AS last_on) FROM scores_arrow"
    )
    con.execute(
        'CREATE TABLE milestones AS SELECT * REPLACE (CAST("on" AS DATE) AS "on") FROM milestones_arrow'
    )
    start, end = (
        t.replace(tzinfo=None) for t in day_bounds(PLAN_DAY, ZoneInfo(TIMEZONE), config.lookback_days)
    )
    first = PLAN_DAY - timedelta(days=config.lookback_days - 1)
    kinds = ", ".join(f"'{k}'" for k in MOMENT_KINDS + WITHDRAWAL_KINDS)
    contacts = ", ".join(f"'{k}'" for k in CONTACT_EVENT_KINDS)
    segments = ", ".join(f"'{s}'" for s in config.drifting_segments)
    statuses = ", ".join(f"'{s}'" for s in config.recovery_statuses)
    factor = int(config.drifting_gap_factor * 100)
    query = f"""
    CREATE OR REPLACE TEMP TABLE found AS
    WITH recent AS (
        SELECT person_id, count(*) AS events, max(occurred_at) AS latest FROM events
        WHERE kind IN ({kinds}) AND occurred_at >= TIMESTAMP '{start}' AND occurred_at < TIMESTAMP '{end}'
          AND (kind <> 'purchase' OR order_id IS NULL
               OR order_id NOT IN (SELECT id FROM orders WHERE cancelled_at IS NOT NULL))
        GROUP BY person_id),
    reached AS (SELECT person_id, count(*) AS reached FROM milestones
                WHERE "on" BETWEEN DATE '{first}' AND DATE '{PLAN_DAY}' GROUP BY person_id),
    drifting AS (SELECT person_id FROM scores
                 WHERE segment IN ({segments}) AND orders >= {config.drifting_min_orders}
                 AND (DATE '{PLAN_DAY}' - last_on) * (orders - 1) * 100 > {factor} * recency_days
                 AND (DATE '{PLAN_DAY}' - last_on - {config.lookback_days}) * (orders - 1) * 100
                     <= {factor} * recency_days),
    recovery AS (SELECT person_id FROM bank_standings WHERE status IN ({statuses})),
    ids AS (SELECT person_id FROM recent UNION SELECT person_id FROM reached
            UNION SELECT person_id FROM drifting UNION SELECT person_id FROM recovery),
    consent AS (
        SELECT person_id, list(channel) FILTER (WHERE granted) AS channels FROM (
            SELECT person_id, channel, arg_max(granted, ("at", id)) AS granted FROM consent_changes
            WHERE person_id IN (SELECT person_id FROM ids) GROUP BY person_id, channel)
        GROUP BY person_id),
    thanked AS (
        SELECT person_id, list(occurred_at) AS appreciations, max(occurred_at) AS last_contact FROM events
        WHERE kind IN ({contacts}) AND person_id IN (SELECT person_id FROM ids)
          AND occurred_at >= TIMESTAMP '{PLAN_DAY}' - INTERVAL 400 DAY
        GROUP BY person_id)
    SELECT ids.person_id, p.kind, p.preferred_channel, p.time_zone, s.segment, s.orders, s.p_alive, s.m_score,
           s.first_on, s.last_on, s.spend, b.status, b.bad_streak, r.events, r.latest, m.reached, c.channels,
           t.appreciations, t.last_contact
    FROM ids JOIN people p ON p.id = ids.person_id
    LEFT JOIN scores s USING (person_id) LEFT JOIN bank_standings b USING (person_id)
    LEFT JOIN recent r USING (person_id) LEFT JOIN reached m USING (person_id)
    LEFT JOIN consent c USING (person_id) LEFT JOIN thanked t USING (person_id)
    """
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        con.execute(query)
        best = min(best, time.perf_counter() - started)
    found = int(con.execute("SELECT count(*) FROM found").fetchall()[0][0])
    con.close()
    return best, found


class Phases:
    """Wraps the planner's steps to time them (and count what they return) without touching src/."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.sizes: dict[str, int] = {}

    def wrap(self, module: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
            if isinstance(result, list | dict | set):
                self.sizes[name] = len(result)
            return result

        setattr(module, name, timed)


def peak_bytes() -> int:
    """This process's peak resident memory. ``VmHWM`` rather than ``ru_maxrss``: Linux carries
    ``ru_maxrss`` over fork and exec, so a child would report its parent's DuckDB floor."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(url: str, repeat: int, profile: str | None) -> None:
    """Runs in its own process: make_plan ``repeat`` times, then plan_and_draft once; JSON out."""
    from goodwill.notes.service import plan_and_draft
    from goodwill.planner import service, signals

    settings = bench_settings(url)
    db = Database(url)
    phases = Phases()
    for name in (
        "already_planned",
        "recent_events",
        "_purchase_ordinals",
        "milestones_on",
        "drifting_ids",
        "recovery_ids",
        "union_ids",
        "build_signals",
        "_load_consents",
        "_load_contacts",
    ):
        phases.wrap(signals, name)  # fmt: skip
    for name in ("candidates_for_day", "plan_day", "make_plan"):
        phases.wrap(service, name)
    runs: list[dict[str, Any]] = []
    outcome: Any = None
    for _ in range(repeat):
        phases.seconds.clear()
        with db.reading() as session:
            started = time.perf_counter()
            outcome = service.make_plan(session=session, day=PLAN_DAY, settings=settings)
            total = time.perf_counter() - started
        runs.append({"seconds": total, "phases": dict(phases.seconds)})
    planned_peak = peak_bytes()
    moments: dict[str, int] = defaultdict(int)
    channels: dict[str, int] = defaultdict(int)
    for item in outcome.new_items:
        moments[item.moment] += 1
        channels[item.channel] += 1
    if profile:
        profiler = cProfile.Profile()
        with db.reading() as session:
            profiler.runcall(service.make_plan, session=session, day=PLAN_DAY, settings=settings)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        Path(profile).write_text(text.getvalue())
    phases.seconds.clear()
    with db.reading() as session:
        started = time.perf_counter()
        _, notes = plan_and_draft(session=session, day=PLAN_DAY, settings=settings)
        drafted = time.perf_counter() - started
    result = {
        "runs": runs,
        "sizes": phases.sizes,
        "candidates": outcome.candidates,
        "items": len(outcome.new_items),
        "holdout": outcome.new_holdout,
        "skipped": outcome.skipped,
        "moments": dict(moments),
        "channels": dict(channels),
        "plan_and_draft": {"seconds": drafted, "make_plan": phases.seconds["make_plan"], "notes": len(notes)},
        "peak_bytes": peak_bytes(),
        "make_plan_peak_bytes": planned_peak,
    }
    db.dispose()
    print(json.dumps(result))


def data_sizes(data: Path) -> dict[str, Any]:
    con = duckdb.connect()
    con.execute(f"ATTACH '{data}' AS data (READ_ONLY)")

    def one(sql: str) -> list[Any]:
        return con.execute(sql).fetchall()

    sizes: dict[str, Any] = {t: one(f"SELECT count(*) FROM data.{t}")[0][0] for t in TABLES}
    sizes["people by kind"] = dict(one("SELECT kind, count(*) FROM data.people GROUP BY ALL ORDER BY 1"))
    sizes["standings"] = dict(one("SELECT status, count(*) FROM data.bank_standings GROUP BY ALL ORDER BY 1"))
    sizes["events by kind"] = dict(one("SELECT kind, count(*) FROM data.events GROUP BY ALL ORDER BY 2 DESC"))
    con.close()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeat", type=int, default=3, help="make_plan runs (best is reported)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--profile", action="store_true", help="cProfile one more make_plan run")
    parser.add_argument("--out", default=str(ROOT / "out" / "plan"), help="cache directory")
    parser.add_argument("--child", nargs=2, metavar=("URL", "PROFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.repeat, args.child[1] or None)
        return

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key = f"{args.people}-{args.seed}-v{DATA_VERSION}"
    data = out / f"data-{key}.duckdb"
    print(
        f"{args.people:,} people, seed {args.seed}, backend {args.backend}, plan day {PLAN_DAY}", flush=True
    )
    if not data.exists():
        started = time.perf_counter()
        generate(data.with_suffix(".tmp"), args.people, args.seed)
        data.with_suffix(".tmp").rename(data)
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    sizes = data_sizes(data)
    for name, value in sizes.items():
        print(f"    {name}: {value:,}" if isinstance(value, int) else f"    {name}: {value}")

    pg_name = f"goodwill_plan_bench_{uuid.uuid4().hex[:8]}"
    admin = args.pg_admin
    if args.backend == "sqlite":
        path = out / f"plan-{key}.db"
        url = f"sqlite:///{path}"
        if not path.exists():
            started = time.perf_counter()
            temporary = path.with_suffix(".loading")
            load(f"sqlite:///{temporary}", data, out)
            temporary.rename(path)
            print(f"loaded into SQLite in {time.perf_counter() - started:.1f} s", flush=True)
        Database(url).migrate()  # a cached file from an older schema catches up
    else:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = "postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + "/" + pg_name
    try:
        if args.backend == "postgresql":
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as work:
                load(url, data, Path(work))
            print(f"loaded into PostgreSQL in {time.perf_counter() - started:.1f} s", flush=True)
        settings = bench_settings(url)
        best_floor, floor_found = floor(url, data, settings)
        print(f"(a) floor, DuckDB candidate scan:   {best_floor:8.3f} s  ({floor_found:,} people, best of 3)")
        profile = str(out / f"profile-{key}-{args.backend}.txt") if args.profile else ""
        command = [sys.executable, __file__, "--child", url, profile, "--repeat", str(args.repeat)]
        result = json.loads(
            subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
        )
        report(result, best_floor)
        if profile:
            print(f"profile: {profile}")
    finally:
        if args.backend == "postgresql" and not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        elif args.backend == "postgresql":
            print(f"kept {url}")


def report(result: dict[str, Any], best_floor: float) -> None:
    runs = result["runs"]
    best = min(runs, key=lambda r: r["seconds"])
    p, sizes, drafted = best["phases"], result["sizes"], result["plan_and_draft"]
    find = sum(p.get(k, 0.0) for k in ("recent_events", "milestones_on", "drifting_ids", "recovery_ids"))
    rules = p["candidates_for_day"] - find - p["build_signals"] - p.get("union_ids", 0.0)
    store = best["seconds"] - p["already_planned"] - p["candidates_for_day"] - p["plan_day"]
    lines = [
        f"(b) make_plan:                      {best['seconds']:8.3f} s  "
        f"(runs: {', '.join(format(r['seconds'], '.2f') for r in runs)})",
        f"    find ids           {find:7.3f} s  (recent events {p['recent_events']:.3f}, of which purchase"
        f" ordinals {p['_purchase_ordinals']:.3f}; milestones {p['milestones_on']:.3f};"
        f" drifting {p['drifting_ids']:.3f}; recovery {p['recovery_ids']:.3f})",
        f"    load signals       {p['build_signals']:7.3f} s  (consent {p['_load_consents']:.3f},"
        f" contacts {p['_load_contacts']:.3f})",
        f"    moment rules       {rules:7.3f} s",
        f"    contact policy     {p['plan_day']:7.3f} s",
        f"    store plan         {store:7.3f} s  (and already_planned {p['already_planned']:.3f})",
        f"    ids gathered {sizes.get('union_ids', 0):,} (recent {sizes.get('recent_events', 0):,},"
        f" milestones {sizes.get('milestones_on', 0):,}, drifting {sizes.get('drifting_ids', 0):,},"
        f" recovery {sizes.get('recovery_ids', 0):,})",
        f"    candidates {result['candidates']:,}, items {result['items']:,},"
        f" holdout {result['holdout']:,}, skipped {result['skipped']}",
        f"    items by moment {result['moments']}, by channel {result['channels']}",
        f"(c) plan_and_draft once:            {drafted['seconds']:8.3f} s  (make_plan"
        f" {drafted['make_plan']:.3f} s, drafting {drafted['seconds'] - drafted['make_plan']:.3f} s"
        f" for {drafted['notes']:,} notes)",
        f"peak memory (child): {result['make_plan_peak_bytes'] / 2**20:,.0f} MiB after the make_plan runs,"
        f" {result['peak_bytes'] / 2**20:,.0f} MiB after plan_and_draft",
        f"ratio make_plan / floor: {best['seconds'] / best_floor:.1f}x (goal: under 10 s at 1M people)",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
