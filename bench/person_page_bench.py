"""Person page: SQL statements and server CPU per ``GET /people/{id}``, against a static file.

    .venv/bin/python bench/person_page_bench.py                          # PostgreSQL, 200 requests
    .venv/bin/python bench/person_page_bench.py --backend sqlite --requests 100

Builds a fresh migrated database (PostgreSQL: a scratch database ``goodwill_ppage_*``, dropped at
the end; SQLite: a temporary file), seeds through the real services one busy person (default 400
events of every common kind over three years, orders with one cancelled, loyalty earns from
``award_all``, lots added by hand, redemptions, adjustments, facts, consent changes, a bank
refresh, an insights score with milestones) among a few hundred quiet people, logs an agent in,
then sends ``--requests`` requests through Starlette's TestClient (in process, no network) to:

- the reference, ``/static/favicon.svg`` (the app's middleware, no database);
- the person page ``/people/{id}`` of the busy person.

For each it prints SQL statements per request (a ``before_cursor_execute`` listener on the engine)
and CPU per request (``time.process_time``: the client, the app and, on SQLite, the database; on
PostgreSQL the backends' own CPU is in other processes and is reported apart, read from /proc),
and the page's ratio to the reference.
Statement counts are exact; CPU depends on the machine's load, so compare runs made back to back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event

import goodwill.models  # noqa: F401 - every table, so the ORM resolves every foreign key
from goodwill.config import load_settings, test_postgres_url
from goodwill.db import Database, utcnow
from goodwill.events.model import Order
from goodwill.events.service import NewEvent, record_event
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore
from goodwill.loyalty import awards, ledger
from goodwill.loyalty.model import EntryKind
from goodwill.loyalty.redemption import redeem
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people import service as people
from goodwill.people.service import PersonRecord
from goodwill.team.service import create_user
from goodwill.web.app import create_app

PREFIX = "goodwill_ppage_"
PASSWORD = "plum-orchard-lantern-7"  # noqa: S105 (a scratch user in a scratch database)
KINDS = ["purchase"] * 5 + ["visit"] * 2 + ["question", "question_answered", "praise", "complaint"]
KINDS += ["complaint_resolved", "review", "refund", "late_delivery"]


def seed(db: Database, settings: Any, *, events: int, quiet: int) -> int:
    """The busy person's id; see the module docstring for what they hold."""
    now = utcnow()
    with db.transaction() as s:
        create_user(session=s, email="agent@bench.test", role="agent", password=PASSWORD, name="Agent")
        people.resolve_people(
            s, [PersonRecord(name=f"Quiet {i}", email=f"quiet{i}@bench.test") for i in range(quiet)]
        )
        [pid], _ = people.resolve_people(
            s,
            [
                PersonRecord(
                    name="Zoë Lefèvre",
                    preferred_name="Zozo",
                    email="zoe@bench.test",
                    phone="+33 6 12 34 56 78",
                    city="Lyon",
                    country="France",
                    consent={"email": True, "sms": False},
                )
            ],
        )
        people.mark_customers(s, [pid])
        s.flush()
        orders: list[int] = []
        for i in range(events // 5):
            order = Order(
                person_id=pid,
                source="shop",
                external_id=f"o{i}",
                placed_at=now - timedelta(days=i),
                currency="USD",
                total_minor=1000 + i,
            )
            if i == 3:
                order.cancelled_at = now - timedelta(days=i - 1)
            s.add(order)
            s.flush()
            orders.append(order.id)
        for i in range(events):
            kind = KINDS[i % len(KINDS)]
            money = kind in ("purchase", "refund")
            record_event(
                s,
                NewEvent(
                    person_id=pid,
                    kind=kind,
                    occurred_at=now - timedelta(days=3 * 365 * i // events, hours=i % 24),
                    source="bench",
                    source_id=f"e{i}",
                    amount_minor=(1000 + 37 * i) // (5 if kind == "refund" else 1) if money else None,
                    currency="USD" if money else None,
                    text=f"{kind} number {i}" if not money else None,
                    order_id=orders[i % len(orders)] if money else None,
                ),
            )
        for i in range(12):
            people.add_fact(s, person_id=pid, text=f"Likes thing number {i}", source="staff")
        for i in range(20):
            people.record_consent(
                s,
                person_id=pid,
                channel=("email", "sms", "card", "call")[i % 4],
                granted=i % 2 == 0,
                source="preference centre",
                note="asked on the phone" if i % 4 == 0 else None,
                at=now - timedelta(days=40 - i),
            )
    with db.transaction() as s:
        awards.award_all(s, now=now, settings=settings, since=now - timedelta(days=3 * 365))
        for i in range(60):
            ledger.add_lot(
                s,
                person_id=pid,
                kind=EntryKind.earn,
                points=50 + i,
                key=f"earn:bench:{i}",
                at=now - timedelta(days=i * 5),
                available_at=now - timedelta(days=i * 5) + timedelta(days=14),
                expires_at=now + timedelta(days=400 - i * 6),
                rule="purchase",
            )
        ledger.adjust(
            s,
            person_id=pid,
            points=500,
            reason="Welcome bonus",
            key="adjust:bench:welcome",
            by_user_id=None,
            now=now,
            config=settings.loyalty,
        )
        reward = create_reward(
            s, data=RewardInput(name="Free shipping", kind="free_shipping", cost_points=100)
        )
        for i in range(8):
            redeem(
                s,
                person_id=pid,
                reward_id=reward.id,
                request_key=f"bench-{i}",
                ship_to=None,
                now=now,
                by="bench",
                settings=settings,
            )
    with db.transaction() as s:
        from goodwill.bank.config import load_bank_config
        from goodwill.bank.service import refresh_people

        refresh_people(
            session=s, person_ids=[pid], config=load_bank_config(settings), currency="USD", now=now
        )
        run = InsightRun(
            as_of=now.date(),
            engine="duckdb",
            period="D",
            horizon_months=12,
            monthly_discount=0.01,
            currency="USD",
            customers=1,
            params={},
        )
        s.add(run)
        s.flush()
        s.add(
            InsightScore(
                person_id=pid,
                run_id=run.id,
                first_purchase_on=(now - timedelta(days=1000)).date(),
                last_purchase_on=now.date(),
                orders=events // 3,
                frequency=100,
                recency_days=900,
                age_days=1000,
                total_spend_minor=1_234_500,
                r_score=5,
                f_score=5,
                m_score=5,
                segment="champions",
                p_alive=0.97,
                expected_purchases=6.2,
                clv_minor=98_700,
            )
        )
        for i in range(15):
            s.add(
                InsightMilestone(
                    person_id=pid,
                    run_id=run.id,
                    kind="orders",
                    value=10 * (i + 1),
                    reached_on=(now - timedelta(days=60 * i)).date(),
                )
            )
    return pid


def measure(
    client: TestClient, db: Database, path: str, requests: int, server: Callable[[], float] | None
) -> dict[str, float]:
    """Statements and CPU per request for ``path`` (after two warm-up requests); ``server`` reads
    the database server's CPU seconds, when it runs in other processes."""
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    for _ in range(2):
        assert client.get(path).status_code == 200, path
    event.listen(db.engine, "before_cursor_execute", count)
    cpu: list[float] = []
    server_before = server() if server else 0.0
    try:
        for _ in range(requests):
            started = time.process_time()
            answer = client.get(path)
            cpu.append(time.process_time() - started)
            assert answer.status_code == 200, path
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    server_after = server() if server else 0.0
    return {
        "server_ms_mean": (server_after - server_before) / requests * 1000,
        "statements": counted[0] / requests,
        "cpu_ms_median": statistics.median(cpu) * 1000,
        "cpu_ms_mean": statistics.fmean(cpu) * 1000,
    }


def login(client: TestClient) -> None:
    import re

    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = client.post(
        "/login",
        data={"email": "agent@bench.test", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def backend_cpu(admin: str, name: str) -> Callable[[], float]:
    """CPU seconds used so far by PostgreSQL's backends serving database ``name`` (from /proc; the
    server runs on this machine). Only backends alive at both reads count, so read around a run."""
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        with psycopg.connect(admin, autocommit=True) as conn:
            pids = [
                pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
            ]
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--events", type=int, default=400, help="events of the busy person")
    parser.add_argument("--quiet", type=int, default=300, help="other people in the database")
    args = parser.parse_args()

    admin = test_postgres_url()
    name = PREFIX + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "postgresql":
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = "postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        try:
            db.migrate()
            settings = load_settings(
                database_url=url,
                secret_key="person-page-bench",  # noqa: S106 (signs nothing outside this run)
                business={"name": "Bench Shop", "timezone": "UTC", "currency": "USD"},
            )
            pid = seed(db, settings, events=args.events, quiet=args.quiet)
            client = TestClient(create_app(settings, db), base_url="http://127.0.0.1")
            login(client)
            server = backend_cpu(admin, name) if args.backend == "postgresql" else None
            reference = measure(client, db, "/static/favicon.svg", args.requests, server)
            page = measure(client, db, f"/people/{pid}", args.requests, server)
            print(
                f"backend {args.backend}, {args.requests} requests each,"
                f" busy person {pid} ({args.events} events)"
            )
            print(
                f"{'route':<22} {'statements':>10} {'cpu ms median':>14} {'cpu ms mean':>12}"
                f" {'x static':>9} {'db cpu ms mean':>15}"
            )
            for label, figures in (("/static/favicon.svg", reference), ("/people/{id}", page)):
                ratio = figures["cpu_ms_median"] / reference["cpu_ms_median"]
                db_cpu = f"{figures['server_ms_mean']:.2f}" if server else "in process"
                print(
                    f"{label:<22} {figures['statements']:>10.1f} {figures['cpu_ms_median']:>14.2f}"
                    f" {figures['cpu_ms_mean']:>12.2f} {ratio:>9.1f} {db_cpu:>15}"
                )
        finally:
            db.dispose()
            if args.backend == "postgresql":
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
