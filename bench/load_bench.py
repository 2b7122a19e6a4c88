"""Load: the web app under 20 concurrent clients on PostgreSQL holding 1M people and 10M events.

    .venv/bin/python bench/load_bench.py --keep                 # build 1M/10M, load 60 s, keep the db
    .venv/bin/python bench/load_bench.py --reuse goodwill_load_1a2b3c4d   # load again, no build
    .venv/bin/python bench/load_bench.py --people 20000 --events 200000 --duration 10

1. Build (skipped with ``--reuse``): a new PostgreSQL database ``goodwill_load_*``, migrated by
   Alembic. DuckDB generates seeded people (names, emails, consent for most) and events (the
   relationship bank benchmark's realistic mix of kinds, over the four years before the build
   day); they are written with the importers' bulk writer (``BulkWriter.insert``, COPY), the
   events' secondary indexes built afterwards as after a large import. Then, as a business would
   after such an import: the relationship bank's ``rebuild``, loyalty's ``award_all`` for the last
   30 days, a 5,000-point welcome bonus (``ledger.adjust``) for 20,000 sampled people (so members
   can redeem), and VACUUM ANALYZE.
2. Prepare (every run): an admin user with a browser session (cookie) and an API token, three
   rewards of 10 points with unlimited stock, today's plan (``plan_and_draft``) if none exists,
   and the id files the load scripts draw from (random real people; members with >= 200 points).
3. Serve: ``goodwill serve --workers N`` (production settings: N = 2 x cores, proxy headers,
   no access log) on a free loopback port.
4. Warm-up: ``--warmup`` seconds (default 5) of the mix below, not measured.
   Reference, same server, same run: wrk with ``--clients`` connections for a few seconds on a
   static file (``/static/favicon.svg``), and one psycopg connection doing bare primary-key
   SELECTs on ``people``.
5. Load: four wrk processes at once, one Lua script each, ``--clients`` split evenly between them
   (20 = 4 x 5), for ``--duration`` seconds: person page ``GET /people/{id}`` and Today page
   ``GET /today`` (session cookie), ``POST /api/v1/events`` (bearer token, unique source ids,
   purchases, visits, questions, praise, reviews), ``POST /api/v1/loyalty/redemptions`` (bearer token,
   a fresh Idempotency-Key each). Each script counts statuses in wrk's ``response`` hook, so
   anything not 2xx is an error of its kind. The RSS of the uvicorn processes is sampled every
   second.
6. Alone (``--solo`` seconds each, default 5; 0 skips it): each kind by itself with all the
   clients, with the server's and PostgreSQL's CPU a request of that kind. Not a goal: it shows
   which kind costs what.

Prints p50/p95/p99 and throughput per kind and overall, ratios to the references, the memory
figures and whether the goals hold: p95 < 100 ms for pages, < 50 ms for ingestion (redemption is
reported against the ingestion goal too), no errors, memory stable (least-squares slope of the
total RSS over the second half of the run below 1 % of its start per minute).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from sqlalchemy import func, select, text

import goodwill.models  # noqa: F401 - every table, so the ORM resolves every foreign key
from goodwill.config import Settings, load_settings
from goodwill.db import Database, utcnow
from goodwill.events.importers.bulk import BulkWriter
from goodwill.events.model import Event
from goodwill.people.model import ConsentChange, Person, PersonIdentity, search_key_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bank_bench import kind_case  # the bank benchmark's seeded mix of event kinds

PREFIX = "goodwill_load_"
KINDS = ("person", "today", "ingest", "redeem")
PAGE_KINDS = ("person", "today")
GOALS_MS = {"person": 100.0, "today": 100.0, "ingest": 50.0, "redeem": 50.0}
BATCH = 200_000
AWARD_DAYS = 30  # award_all's window: its per-event path (reviews, referrals) costs ~18 ms an event
MEMBERS = 20_000  # people given GRANT_POINTS through ledger.adjust
GRANT_POINTS = 5_000
MIN_BALANCE = 200  # redemption clients draw members holding at least this
ADMIN_EMAIL = "load-admin@example.com"
FIRST = ["Zoe", "Jose", "Ana", "Pierre", "Wang", "Lena", "Sam", "Aiko", "Ngozi", "Oskar", "Maelle", "Tomas",
         "Ines", "Kofi", "Mira", "Yusuf", "Hana", "Liam", "Noor", "Pablo"]  # fmt: skip
LAST = ["Martin", "Alvarez", "ONeil", "Dupont", "Fang", "Berg", "Lee", "Sato", "Okafor", "Nystrom", "Brandt",
        "Rossi", "Novak", "Silva", "Kaur", "Haddad", "Ito", "Moreau", "Schulz", "Costa"]  # fmt: skip
OUT: Any = sys.stdout


def say(line: str) -> None:
    print(line, file=OUT, flush=True)


def sqlalchemy_url(admin: str, name: str) -> str:
    return "postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name


def plain_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def bench_settings(url: str) -> Settings:
    return load_settings(
        database_url=url,
        secret_key="load-bench",  # noqa: S106 (signs nothing outside this run)
        business={"name": "Load Shop", "timezone": "UTC", "currency": "USD"},
    )


# ------------------------------------------------------------------------------------------- build
def people_rows(con: duckdb.DuckDBPyConnection, people: int, created: str) -> Any:
    first = "[" + ", ".join(f"'{n}'" for n in FIRST) + "]"
    last = "[" + ", ".join(f"'{n}'" for n in LAST) + "]"
    return con.execute(
        f"""SELECT i AS id, CASE WHEN r < 0.85 THEN 'customer' ELSE 'prospect' END AS kind,
              list_extract({first}, 1 + CAST(floor(a * {len(FIRST)}) AS INTEGER)) || ' ' ||
              list_extract({last}, 1 + CAST(floor(b * {len(LAST)}) AS INTEGER)) AS name,
              r < 0.95 AS has_email, r < 0.7 AS consents
            FROM (SELECT i, random() AS r, random() AS a, random() AS b FROM range(1, {people} + 1) s(i))
            ORDER BY i"""
    )


def events_query(people: int, events: int, end: date) -> str:
    """The bank benchmark's generator, over the four years before ``end``, as COPY-ready text."""
    start = end - timedelta(days=4 * 365)
    return f"""
        WITH base AS (
          SELECT i AS id, 1 + CAST(floor(random() * {people}) AS BIGINT) AS person_id, random() AS r,
                 TIMESTAMP '{start.isoformat()}'
                   + to_microseconds(CAST(random() * 4 * 365 * 86400e6 AS BIGINT)) AS ts,
                 random() AS t
          FROM range(1, {events} + 1) AS s(i)),
        kinded AS (SELECT id, person_id, {kind_case()} AS kind, ts, t FROM base)
        SELECT id, person_id, kind, strftime(ts, '%Y-%m-%d %H:%M:%S.%f+00') AS occurred_at,
          CASE WHEN kind IN ('purchase', 'refund') THEN 500 + CAST(t * 20000 AS BIGINT) END AS amount_minor,
          CASE WHEN kind IN ('purchase', 'refund') THEN 'USD' END AS currency,
          CASE WHEN kind = 'review' THEN (CASE WHEN t < 0.5 THEN '5/5 lovely' WHEN t < 0.7 THEN '2/5 slow'
                                             ELSE 'nice shop' END)
               WHEN kind = 'goodwill_adjustment' THEN '+5 sorry for the wait'
               WHEN kind = 'note' THEN 'likes tulips' END AS text,
          'bench' AS source, CAST(id AS VARCHAR) AS source_id,
          strftime(ts, '%Y-%m-%d %H:%M:%S.%f+00') AS recorded_at
        FROM kinded ORDER BY id"""


EVENT_COLUMNS = ["id", "person_id", "kind", "occurred_at", "amount_minor", "currency", "text", "source",
                 "source_id", "recorded_at"]  # fmt: skip


def load_people(db: Database, people: int, seed: float) -> None:
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed})")
    created = "2022-01-01 00:00:00+00"
    reader = people_rows(con, people, created)
    person_cols = ["id", "kind", "name", "email", "search_key", "created_at", "updated_at"]
    while batch := reader.fetchmany(BATCH):
        persons, identities, consents = [], [], []
        for pid, kind, name, has_email, consents_email in batch:
            email = f"{name.replace(' ', '.').lower()}.{pid}@example.com" if has_email else None
            persons.append(
                (pid, kind, name, email, search_key_for(name, None, email, None), created, created)
            )
            if email:
                identities.append((pid, "email", email))
                if consents_email:
                    consents.append((pid, "email", True, "import", created))
        with db.transaction() as session:
            writer = BulkWriter(session)
            writer.insert(Person.__table__, person_cols, persons, known_new=True)  # type: ignore[arg-type]
            writer.insert(
                PersonIdentity.__table__,  # type: ignore[arg-type]
                ["person_id", "namespace", "value"],
                identities,
                known_new=True,
            )
            writer.insert(
                ConsentChange.__table__,  # type: ignore[arg-type]
                ["person_id", "channel", "granted", "source", "at"],
                consents,
                known_new=True,
            )
    con.close()
    with db.transaction() as session:
        session.execute(text("SELECT setval('people_id_seq', (SELECT max(id) FROM people))"))


def load_events(db: Database, people: int, events: int, end: date, seed: float) -> None:
    with db.engine.connect() as conn:
        indexes = conn.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'events' "
                "AND i.indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
        ).all()
        for name, _ in indexes:  # built once afterwards, as after any large import
            conn.execute(text(f'DROP INDEX "{name}"'))
        conn.commit()
    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed})")
    reader = con.execute(events_query(people, events, end))
    written = 0
    while batch := reader.fetchmany(BATCH):
        with db.transaction() as session:
            written += BulkWriter(session).insert(Event.__table__, EVENT_COLUMNS, batch, known_new=True)  # type: ignore[arg-type]
        if written % 2_000_000 < BATCH:
            say(f"    {written:,} events")
    con.close()
    with db.engine.connect() as conn:
        conn.execute(text("SELECT setval('events_id_seq', (SELECT max(id) FROM events))"))
        for _, definition in indexes:
            conn.execute(text(definition))
        conn.commit()


def grant_points(db: Database, settings: Settings, people: int) -> None:
    """A welcome bonus through the ledger's own ``adjust`` for a seeded sample of people, so the
    redemption clients have members who can afford rewards (award_all covers only recent buying)."""
    from goodwill.loyalty.ledger import adjust

    chosen = random.Random(11).sample(range(1, people + 1), min(MEMBERS, max(people // 10, 1)))
    now = utcnow()
    for start in range(0, len(chosen), 2000):
        with db.transaction() as session:
            for pid in chosen[start : start + 2000]:
                adjust(
                    session, person_id=pid, points=GRANT_POINTS, reason="Welcome bonus",
                    key=f"load-welcome-{pid}", by_user_id=None, now=now, config=settings.loyalty,
                )  # fmt: skip


def analyze(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def build(url: str, people: int, events: int) -> dict[str, float]:
    from goodwill.bank.rebuild import rebuild
    from goodwill.bank.rules import BankConfig
    from goodwill.loyalty.awards import award_all

    settings = bench_settings(url)
    db = Database(url)
    phases: dict[str, float] = {}

    def phase(name: str, started: float) -> None:
        phases[name] = time.perf_counter() - started
        say(f"  {name}: {phases[name]:.1f} s")

    try:
        started = time.perf_counter()
        db.migrate()
        phase("migrate", started)
        started = time.perf_counter()
        load_people(db, people, 0.17)
        phase("people (BulkWriter)", started)
        started = time.perf_counter()
        end = utcnow().date()
        load_events(db, people, events, end, 0.42)
        phase("events (BulkWriter) and indexes", started)
        started = time.perf_counter()
        analyze(db)
        phase("vacuum analyze", started)
        started = time.perf_counter()
        with db.transaction() as session:
            rebuild(session=session, config=BankConfig(), currency="USD")
        phase("bank rebuild", started)
        started = time.perf_counter()
        now = utcnow()
        with db.transaction() as session:
            award_all(session, now=now, settings=settings, since=now - timedelta(days=AWARD_DAYS))
        phase(f"loyalty award_all (last {AWARD_DAYS} days)", started)
        started = time.perf_counter()
        grant_points(db, settings, people)
        phase("loyalty adjust (members' points)", started)
        started = time.perf_counter()
        analyze(db)
        phase("vacuum analyze", started)
    finally:
        db.dispose()
    return phases


# ----------------------------------------------------------------------------------------- prepare
def prepare(url: str, workdir: Path, samples: int) -> dict[str, Any]:
    """Credentials, rewards, today's plan and the id files; cheap, so it runs every time."""
    from goodwill.loyalty.model import LoyaltyAccount, LoyaltyEntry, Reward
    from goodwill.loyalty.rewards import RewardInput, create_reward
    from goodwill.notes.service import plan_and_draft
    from goodwill.planner.model import PlanItem
    from goodwill.team.model import User
    from goodwill.team.service import create_api_token, create_user
    from goodwill.web.auth import start_session

    settings = bench_settings(url)
    db = Database(url)
    try:
        with db.transaction() as session:
            user = session.scalar(select(User).where(User.email == ADMIN_EMAIL))
            if user is None:
                user = create_user(
                    session=session, email=ADMIN_EMAIL, role="admin", password=uuid.uuid4().hex, name="Load"
                )
            cookie = start_session(session, user_id=user.id, hours=12)
            token = create_api_token(session=session, user_id=user.id, name=f"load {uuid.uuid4().hex[:6]}")
            rewards = list(
                session.scalars(
                    select(Reward.id).where(Reward.name.like("Load reward %")).order_by(Reward.id)
                )
            )
            for n in range(3 - len(rewards)):
                data = RewardInput(name=f"Load reward {n + 1}", kind="discount", cost_points=10)
                rewards.append(create_reward(session, data=data).id)
            user_id = user.id
        today = datetime.now(settings.business.tz).date()
        with db.reading() as session:
            planned = session.scalar(select(func.count()).select_from(PlanItem).where(PlanItem.day == today))
        started = time.perf_counter()
        if not planned:
            with db.transaction() as session:
                plan_and_draft(session, day=today, settings=settings, planned_by_id=user_id)
        plan_seconds = time.perf_counter() - started
        with db.reading() as session:
            planned = session.scalar(select(func.count()).select_from(PlanItem).where(PlanItem.day == today))
            people_ids = list(
                session.scalars(select(Person.id).order_by(func.random()).limit(samples))  # type: ignore[arg-type]
            )
            # Welcome-bonus holders: their points are spendable now (recent earns may still be pending).
            members = list(
                session.scalars(
                    select(LoyaltyAccount.person_id)
                    .join(LoyaltyEntry, LoyaltyEntry.person_id == LoyaltyAccount.person_id)
                    .where(LoyaltyEntry.key.like("load-welcome-%"), LoyaltyAccount.balance >= MIN_BALANCE)
                    .order_by(func.random())
                    .limit(samples)
                )
            )
    finally:
        db.dispose()
    if not members:
        raise SystemExit(f"no member holds {MIN_BALANCE} points: the build gave nobody enough")
    (workdir / "people.txt").write_text("\n".join(map(str, people_ids)) + "\n")
    (workdir / "members.txt").write_text("\n".join(map(str, members)) + "\n")
    (workdir / "rewards.txt").write_text("\n".join(map(str, rewards)) + "\n")
    return {
        "cookie": cookie,
        "token": token,
        "plan_items_today": int(planned or 0),
        "plan_seconds": plan_seconds,
        "people_sampled": len(people_ids),
        "members_sampled": len(members),
        "rewards": rewards,
    }


# --------------------------------------------------------------------------------------- wrk / Lua
LUA_COMMON = r"""
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local function read_ids(path)
  local ids = {}
  for line in io.lines(path) do
    if line ~= "" then ids[#ids + 1] = tonumber(line) end
  end
  return ids
end

ok, bad, codes = 0, 0, ""
local seen = {}
function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if not seen[status] then seen[status] = true; codes = codes .. status .. " " end
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, all_codes = 0, 0, ""
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
    all_codes = all_codes .. t:get("codes")
  end
  local e = summary.errors
  io.write(string.format(
    'LOADJSON {"requests": %d, "duration_us": %d, "ok": %d, "non2xx": %d, "codes": "%s", ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, ok_total, bad_total, all_codes,
    e.connect + e.read + e.write, e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max))
end
"""

LUA_KIND = {
    "reference": r"""
function request() return wrk.format("GET", "/static/favicon.svg") end
""",
    "person": r"""
local ids
function init(args)
  ids = read_ids(args[1]); math.randomseed(tid * 7919 + os.time())
  wrk.headers["Cookie"] = "goodwill_session=" .. args[2]
end
function request() return wrk.format("GET", "/people/" .. ids[math.random(#ids)]) end
""",
    "today": r"""
function init(args) wrk.headers["Cookie"] = "goodwill_session=" .. args[2] end
function request() return wrk.format("GET", "/today") end
""",
    "ingest": r"""
local ids, run, n = nil, nil, 0
local kinds = {"purchase", "purchase", "purchase", "visit", "visit", "question", "praise", "review"}
function init(args)
  ids = read_ids(args[1]); run = args[3]; math.randomseed(tid * 104729 + os.time())
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  local kind = kinds[math.random(#kinds)]
  local extra = ""
  if kind == "purchase" then
    extra = string.format(', "amount": "%d.%02d"', math.random(5, 250), math.random(0, 99))
  elseif kind == "review" then extra = ', "text": "5/5 lovely tea"'
  elseif kind == "praise" then extra = ', "text": "Thanks for the quick help"' end
  local body = string.format(
    '{"person_id": %d, "kind": "%s", "occurred_at": "%s", "source_id": "load-%s-%d-%d"%s}',
    ids[math.random(#ids)], kind, os.date("!%Y-%m-%dT%H:%M:%S+00:00"), run, tid, n, extra)
  return wrk.format("POST", "/api/v1/events", nil, body)
end
""",
    "redeem": r"""
local ids, rewards, run, n = nil, nil, nil, 0
function init(args)
  ids = read_ids(args[1]); rewards = read_ids(args[4]); run = args[3]
  math.randomseed(tid * 15485863 + os.time())
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  -- wrk.format uses the headers given instead of wrk.headers, not as well: copy them.
  local headers = {["Idempotency-Key"] = string.format("load-%s-%d-%d", run, tid, n)}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  local body = string.format('{"person_id": %d, "reward_id": %d}', ids[math.random(#ids)],
    rewards[math.random(#rewards)])
  return wrk.format("POST", "/api/v1/loyalty/redemptions", headers, body)
end
""",
}


def wrk_command(
    kind: str, port: int, connections: int, seconds: int, workdir: Path, creds: dict[str, Any]
) -> list[str]:
    script = workdir / f"{kind}.lua"
    script.write_text(LUA_COMMON + LUA_KIND[kind])
    ids = workdir / ("members.txt" if kind == "redeem" else "people.txt")
    secret = creds["cookie"] if kind in PAGE_KINDS else creds["token"]
    return [
        shutil.which("wrk") or "/usr/bin/wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(script), f"http://127.0.0.1:{port}", "--",
        str(ids), secret, creds["run"], str(workdir / "rewards.txt"),
    ]  # fmt: skip


def parse_wrk(kind: str, output: str, connections: int) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith("LOADJSON "):
            raw = json.loads(line.removeprefix("LOADJSON "))
            seconds = raw["duration_us"] / 1e6
            return {
                "kind": kind,
                "connections": connections,
                "requests": raw["requests"],
                "ok": raw["ok"],
                "non2xx": raw["non2xx"],
                "codes": sorted({int(c) for c in raw["codes"].split()}),
                "socket_errors": raw["socket_errors"],
                "timeouts": raw["timeouts"],
                "seconds": seconds,
                "per_second": raw["requests"] / seconds if seconds else 0.0,
                "p50_ms": raw["p50_us"] / 1000,
                "p95_ms": raw["p95_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "mean_ms": raw["mean_us"] / 1000,
                "max_ms": raw["max_us"] / 1000,
            }
    raise SystemExit(f"wrk ({kind}) printed no summary:\n{output}")


# ------------------------------------------------------------------------------------ server, RSS
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "GOODWILL_DATABASE_URL": plain_url(url),
        "GOODWILL_SECRET_KEY": "load-bench",
        "GOODWILL_BUSINESS__NAME": "Load Shop",
        "GOODWILL_BUSINESS__TIMEZONE": "UTC",
        "GOODWILL_BUSINESS__CURRENCY": "USD",
        "GOODWILL_CONFIG": str(log.parent / "absent.toml"),
    }
    goodwill = Path(sys.executable).parent / "goodwill"
    command = [str(goodwill), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    handle = log.open("wb")
    server = subprocess.Popen(
        command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/favicon.svg", timeout=2):
                pass
            if workers == 1 or len(descendants(server.pid)) >= workers:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(server)
    raise SystemExit(f"the server did not answer within 120 s:\n{log.read_text()[-3000:]}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()  # uvicorn's parent stops its workers on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: [1] is the parent, [11:15] utime, stime, cutime, cstime."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (exited ones count as 0)."""
    total = 0
    for pid in pids:
        fields = stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def postgres_cpu_seconds() -> float:
    """PostgreSQL's CPU so far, monotonic: every postgres process's own, plus what the postmaster's
    exited children used (its cutime and cstime), so backends that end between two readings still
    count. Summing only the live processes lost them, and gave negative figures."""
    pids = set(postgres_pids())
    total = 0
    for pid in pids:
        fields = stat_fields(pid)
        if fields is None:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if int(fields[1]) not in pids:  # the postmaster: its parent is not a postgres process
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped children
    return total / os.sysconf("SC_CLK_TCK")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Every second: the RSS of the uvicorn parent and each of its descendants (workers)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int, dict[int, int]]] = []
        self.halt = threading.Event()
        self.commands: dict[int, str] = {}

    def run(self) -> None:
        started = time.monotonic()
        while not self.halt.is_set():
            per = {p: rss_bytes(p) for p in [self.pid, *descendants(self.pid)]}
            for p in per:
                if p not in self.commands:
                    self.commands[p] = cmdline(p)
            self.samples.append((time.monotonic() - started, sum(per.values()), per))
            self.halt.wait(1.0)


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def memory_report(sampler: RssSampler) -> dict[str, Any]:
    samples = sampler.samples
    mib = 2**20
    totals = [(t, total / mib) for t, total, _ in samples]
    second_half = [p for p in totals if p[0] >= totals[-1][0] / 2]
    start, end = totals[0][1], totals[-1][1]
    slope_all, slope_late = slope_per_minute(totals), slope_per_minute(second_half)
    workers = {pid: (rss / mib) for pid, rss in samples[0][2].items()}
    return {
        "samples": len(samples),
        "processes": len(samples[0][2]),  # uvicorn's parent, its workers, multiprocessing's helper
        "workers": sum(1 for pid in samples[0][2] if "spawn_main" in sampler.commands.get(pid, "")),
        "start_mib": start,
        "end_mib": end,
        "max_mib": max(y for _, y in totals),
        "slope_mib_per_min": slope_all,
        "slope_second_half_mib_per_min": slope_late,
        "per_process_start_end_mib": {
            str(pid): [round(first, 1), round(samples[-1][2].get(pid, 0) / mib, 1)]
            for pid, first in workers.items()
        },
        "stable": slope_late < 0.01 * start,
    }


# ------------------------------------------------------------------------------------------ runs
def bare_select(url: str, people_ids: list[int], count: int) -> dict[str, float]:
    timings = []
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        for i in range(count):
            started = time.perf_counter()
            conn.execute("SELECT * FROM people WHERE id = %s", (people_ids[i % len(people_ids)],)).fetchone()
            timings.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(timings, n=100)
    return {"count": count, "p50_ms": statistics.median(timings), "p95_ms": cuts[94], "p99_ms": cuts[98]}


def split_clients(clients: int) -> dict[str, int]:
    if clients < len(KINDS):
        raise SystemExit(f"--clients must be at least {len(KINDS)} (one per kind)")
    return {
        kind: clients // len(KINDS) + (1 if i < clients % len(KINDS) else 0) for i, kind in enumerate(KINDS)
    }


def run_wrk_group(
    kinds: dict[str, int], port: int, seconds: int, workdir: Path, creds: dict[str, Any]
) -> list[dict[str, Any]]:
    procs = {
        kind: subprocess.Popen(
            wrk_command(kind, port, n, seconds, workdir, creds),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for kind, n in kinds.items()
    }
    results = []
    for kind, proc in procs.items():
        output, _ = proc.communicate(timeout=seconds + 120)
        if proc.returncode:
            raise SystemExit(f"wrk ({kind}) exited with {proc.returncode}:\n{output}")
        results.append(parse_wrk(kind, output, kinds[kind]))
    return results


def counted(url: str, run: str) -> dict[str, int]:
    """What the load stored, to confirm wrk's 2xx counts against the database."""
    with psycopg.connect(plain_url(url)) as conn:
        events = conn.execute(
            "SELECT count(*) FROM events WHERE source = 'api' AND source_id LIKE %s", (f"load-{run}-%",)
        ).fetchone()
        redemptions = conn.execute(
            "SELECT count(*) FROM loyalty_redemptions WHERE request_key LIKE %s", (f"%load-{run}-%",)
        ).fetchone()
    return {
        "events": int(events[0]) if events else 0,
        "redemptions": int(redemptions[0]) if redemptions else 0,
    }


def solo_phase(
    args: argparse.Namespace, port: int, workdir: Path, creds: dict[str, Any], server_pids: list[int]
) -> list[dict[str, Any]]:
    """After the mix, each kind alone with all the clients: what one request of it costs (server
    and PostgreSQL CPU), so the mix's figures can be read kind by kind. Not part of the goals."""
    alone = []
    for kind in KINDS:
        before = (cpu_seconds(server_pids), postgres_cpu_seconds())
        [result] = run_wrk_group(
            {kind: args.clients}, port, args.solo, workdir, creds | {"run": creds["run"] + "s"}
        )
        spent = (cpu_seconds(server_pids) - before[0], postgres_cpu_seconds() - before[1])
        requests = max(result["requests"], 1)
        alone.append(
            result
            | {
                "server_ms_per_request": 1000 * spent[0] / requests,
                "postgres_ms_per_request": 1000 * spent[1] / requests,
            }
        )
    return alone


def load_phase(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    creds = prepare(url, workdir, samples=20_000)
    creds["run"] = uuid.uuid4().hex[:8]
    say(
        f"prepared: {creds['people_sampled']:,} people and {creds['members_sampled']:,} members to draw "
        f"from, "
        f"{creds['plan_items_today']} plan items today (planned in {creds['plan_seconds']:.1f} s)"
    )
    workers = args.workers or 2 * (os.cpu_count() or 1)
    port = free_port()
    log = workdir / "server.log"
    server = start_server(url, port, workers, log)
    try:
        say(f"serving with {workers} workers on 127.0.0.1:{port}")
        people_ids = [int(x) for x in (workdir / "people.txt").read_text().split()]
        # Warm-up, not measured: every worker imports, compiles templates and fills its pool.
        run_wrk_group(
            split_clients(args.clients), port, args.warmup, workdir, creds | {"run": creds["run"] + "w"}
        )
        ref_seconds = max(3, args.duration // 6)
        reference = run_wrk_group({"reference": args.clients}, port, ref_seconds, workdir, creds)[0]
        select_ref = bare_select(url, people_ids, 2000)
        sampler = RssSampler(server.pid)
        sampler.start()
        server_pids = [server.pid, *descendants(server.pid)]
        cpu_before = (cpu_seconds(server_pids), postgres_cpu_seconds())
        started = time.perf_counter()
        results = run_wrk_group(split_clients(args.clients), port, args.duration, workdir, creds)
        wall = time.perf_counter() - started
        cpu = (cpu_seconds(server_pids) - cpu_before[0], postgres_cpu_seconds() - cpu_before[1])
        sampler.halt.set()
        sampler.join()
        server_alive = server.poll() is None
        alone = solo_phase(args, port, workdir, creds, server_pids) if server_alive and args.solo else []
    finally:
        stop_server(server)
    stored = counted(url, creds["run"])
    total_requests = sum(r["requests"] for r in results)
    overall = {
        "requests": total_requests,
        "per_second": sum(r["per_second"] for r in results),
        "non2xx": sum(r["non2xx"] for r in results),
        "socket_errors": sum(r["socket_errors"] + r["timeouts"] for r in results),
        # wrk gives each process its own histogram: the overall quantiles are request-weighted means
        # of the per-kind ones (an approximation, labelled as such).
        **{
            f"{q}_ms_weighted": sum(r[f"{q}_ms"] * r["requests"] for r in results) / max(total_requests, 1)
            for q in ("p50", "p95", "p99")
        },
    }
    memory = memory_report(sampler)
    cores = os.cpu_count() or 1
    cpu_ms = {
        "server_ms_per_request": 1000 * cpu[0] / max(total_requests, 1),
        "postgres_ms_per_request": 1000 * cpu[1] / max(total_requests, 1),
        "cores": cores,
        "load_average_after": os.getloadavg()[0],
    }
    # Little's law for a closed loop: clients = throughput x latency, and throughput cannot pass
    # cores / CPU per request; so no mean latency below clients x CPU per request / cores.
    cpu_ms["mean_latency_floor_ms"] = (
        args.clients * (cpu_ms["server_ms_per_request"] + cpu_ms["postgres_ms_per_request"]) / cores
    )
    goals = {
        r["kind"]: {
            "p95_goal_ms": GOALS_MS[r["kind"]],
            "p95_met": r["p95_ms"] < GOALS_MS[r["kind"]],
            "errors_met": r["non2xx"] == 0 and r["socket_errors"] == 0 and r["timeouts"] == 0,
        }
        for r in results
    }
    return {
        "run": creds["run"],
        "workers": workers,
        "clients": args.clients,
        "duration": args.duration,
        "wall_seconds": wall,
        "plan_items_today": creds["plan_items_today"],
        "reference": {"static": reference, "bare_select": select_ref},
        "kinds": results,
        "alone": alone,
        "overall": overall,
        "memory": memory,
        "cpu": cpu_ms,
        "stored": stored,
        "server_alive": server_alive,
        "goals": goals,
        "all_goals_met": all(g["p95_met"] and g["errors_met"] for g in goals.values())
        and memory["stable"]
        and server_alive,
    }


def show(report: dict[str, Any]) -> None:
    ref, sel = report["reference"]["static"], report["reference"]["bare_select"]
    say(
        f"reference, static file ({ref['connections']} conns, {ref['seconds']:.0f} s): "
        f"p50 {ref['p50_ms']:.2f} / p95 {ref['p95_ms']:.2f} / p99 {ref['p99_ms']:.2f} ms, "
        f"{ref['per_second']:,.0f}/s, "
        f"non-2xx {ref['non2xx']}"
    )
    say(f"reference, bare SELECT by id (1 conn): p50 {sel['p50_ms']:.3f} / p95 {sel['p95_ms']:.3f} ms")
    say(
        f"load: {report['clients']} clients for {report['duration']} s, {report['workers']} workers"
        f" (run {report['run']})"
    )
    say(
        f"{'kind':8} {'conns':>5} {'requests':>9} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'non2xx':>6} {'p95/static':>10} {'p50/select':>10}  goal"
    )
    for r in report["kinds"]:
        goal = report["goals"][r["kind"]]
        verdict = "met" if goal["p95_met"] and goal["errors_met"] else "NOT met"
        codes = f" codes {r['codes']}" if r["codes"] else ""
        say(
            f"{r['kind']:8} {r['connections']:>5} {r['requests']:>9,} {r['per_second']:>8.1f} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} "
            f"{r['non2xx']:>6} "
            f"{r['p95_ms'] / max(ref['p95_ms'], 1e-6):>9.1f}x "
            f"{r['p50_ms'] / max(sel['p50_ms'], 1e-6):>9.0f}x  "
            f"p95 < {goal['p95_goal_ms']:.0f} ms, no errors: {verdict}{codes}"
        )
    o = report["overall"]
    say(
        f"overall: {o['requests']:,} requests, {o['per_second']:.1f}/s, non-2xx {o['non2xx']}, socket errors "
        f"{o['socket_errors']}; request-weighted p50/p95/p99 {o['p50_ms_weighted']:.1f} / "
        f"{o['p95_ms_weighted']:.1f} / {o['p99_ms_weighted']:.1f} ms"
    )
    m = report["memory"]
    say(
        f"memory ({m['processes']} processes, {m['workers']} of them workers, {m['samples']} samples): "
        f"start {m['start_mib']:.0f} MiB, end "
        f"{m['end_mib']:.0f}, max {m['max_mib']:.0f}; slope {m['slope_mib_per_min']:+.1f} MiB/min overall, "
        f"{m['slope_second_half_mib_per_min']:+.1f} MiB/min over the second half: "
        f"{'stable' if m['stable'] else 'NOT stable'}"
    )
    c = report["cpu"]
    say(
        f"CPU a request (mix): server {c['server_ms_per_request']:.1f} ms + PostgreSQL "
        f"{c['postgres_ms_per_request']:.1f} ms on {c['cores']} cores: with {report['clients']} clients "
        f"no mean latency can be below {c['mean_latency_floor_ms']:.0f} ms (load average after: "
        f"{c['load_average_after']:.1f})"
    )
    if report["alone"]:
        say(
            f"each kind alone afterwards ({report['clients']} clients, "
            f"{report['alone'][0]['seconds']:.0f} s each; not a goal):"
        )
        for r in report["alone"]:
            say(
                f"  {r['kind']:8} {r['per_second']:>8.1f}/s  p50 {r['p50_ms']:>7.1f}  "
                f"p95 {r['p95_ms']:>7.1f} ms  "
                f"CPU a request: server {r['server_ms_per_request']:.1f} + PostgreSQL "
                f"{r['postgres_ms_per_request']:.1f} ms  non-2xx {r['non2xx']}"
            )
    s = report["stored"]
    say(f"stored by this run: {s['events']:,} events, {s['redemptions']:,} redemptions")
    say(f"all goals met: {'yes' if report['all_goals_met'] else 'NO'}")


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections, split over 4 kinds")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of unmeasured load first")
    parser.add_argument(
        "--solo", type=int, default=5, help="seconds of each kind alone after the mix (0: skip)"
    )
    parser.add_argument("--workers", type=int, default=0, help="uvicorn workers (default 2 x cores)")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database for --reuse")
    parser.add_argument("--reuse", metavar="DATABASE", help=f"a database kept by --keep ({PREFIX}*)")
    parser.add_argument("--build-only", action="store_true", help="build (and keep) the database, no load")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = parser.parse_args()
    if args.json:
        OUT = sys.stderr
    if args.reuse and not args.reuse.startswith(PREFIX):
        raise SystemExit(f"--reuse takes a database named {PREFIX}*")
    keep = args.keep or args.build_only or bool(args.reuse)
    say(f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}")
    name = args.reuse or f"{PREFIX}{uuid.uuid4().hex[:8]}"
    url = sqlalchemy_url(args.pg_admin, name)
    workdir = Path(tempfile.mkdtemp(prefix="goodwill-load-"))
    report: dict[str, Any] = {"database": name, "people": args.people, "events": args.events}
    try:
        if not args.reuse:
            with psycopg.connect(args.pg_admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            say(f"building {name}: {args.people:,} people, {args.events:,} events")
            started = time.perf_counter()
            report["build_phases"] = build(url, args.people, args.events)
            report["build_seconds"] = time.perf_counter() - started
            say(f"built in {report['build_seconds']:.1f} s")
        else:
            with psycopg.connect(plain_url(url)) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM people), (SELECT count(*) FROM events)"
                ).fetchone()
            report["people"], report["events"] = (int(row[0]), int(row[1])) if row else (0, 0)
            say(f"reusing {name}: {report['people']:,} people, {report['events']:,} events")
        if not args.build_only:
            report |= load_phase(url, args, workdir)
            show(report)
    finally:
        if keep:
            say(f"kept database {name} (run again with --reuse {name}; drop it with DROP DATABASE)")
        else:
            with psycopg.connect(args.pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
