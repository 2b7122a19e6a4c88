"""Outbox benchmark: deliver 10,000 emails and 10,000 SMS with 4 workers, against a bare sending loop.

    .venv/bin/python bench/outbox_bench.py                        # SQLite, 10,000 + 10,000, 4 workers
    .venv/bin/python bench/outbox_bench.py --backend postgresql   # needs PostgreSQL on 127.0.0.1
    .venv/bin/python bench/outbox_bench.py --emails 2000 --sms 2000 --workers 2

1. A real SMTP server (aiosmtpd) and a real HTTP SMS provider run on loopback in their own process
   (tests/integration/delivery_servers.py), so neither side steals the other's interpreter lock.
2. Floor: ``--workers`` processes that send the same messages with the same transports (the same
   email building, the same SMTP connection reuse, the same HTTP client) in a bare loop, without
   any database work. Best of ``--repeat``.
3. Goodwill: a fresh migrated database holding the people (with consent) and the queued messages,
   then ``--workers`` ``goodwill worker --once`` processes, timed from start to the last exit; every
   send-time check, claim, hand-over stamp, outcome commit, attempt row, event and bank refresh
   included. The servers' counters confirm every message arrived exactly once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from goodwill.config import load_settings  # noqa: E402
from goodwill.db import Database, utcnow  # noqa: E402
from goodwill.outbox.model import Message  # noqa: E402
from goodwill.outbox.transports import open_transports  # noqa: E402
from goodwill.outbox.transports.base import Envelope, idempotency_key  # noqa: E402
from goodwill.people.model import ConsentChange, Person  # noqa: E402

SECRET = "bench-secret"  # noqa: S105 - a throwaway key for a throwaway database
TOKEN = "bench-token"  # noqa: S105 - the local fake provider's token
GOODWILL = str(Path(sys.executable).parent / "goodwill")
BODY = (
    "Dear {name},\n\nThank you for your fifth order: the Darjeeling first flush is one of our "
    "favourites too, and it was a pleasure packing it for you.\n\nRosa, Teapot & Co"
)
SMS_BODY = "{name}, thank you for coming back to us. It means a lot. Rosa at Teapot & Co"


def start_servers() -> tuple[subprocess.Popen[str], dict[str, str]]:
    servers = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "integration" / "delivery_servers.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert servers.stdout is not None
    return servers, json.loads(servers.stdout.readline())


def stats(urls: dict[str, str]) -> dict[str, int]:
    return dict(httpx.get(urls["stats_url"]).json())


def _env(urls: dict[str, str], database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "GOODWILL_DATABASE_URL": database_url,
        "GOODWILL_SECRET_KEY": SECRET,
        "GOODWILL_SMTP_URL": urls["smtp_url"],
        "GOODWILL_SMS_URL": urls["sms_url"],
        "GOODWILL_SMS_TOKEN": TOKEN,
        "GOODWILL_CONFIG": "/nonexistent/goodwill.toml",
        "GOODWILL_DELIVERY__BATCH_SIZE": "50",
        "GOODWILL_PLANNER__POLICY__CONTACT_FROM_HOUR": "0",
        "GOODWILL_PLANNER__POLICY__CONTACT_UNTIL_HOUR": "24",
    }


def _floor_worker(args: tuple[dict[str, str], list[tuple[int, str]], str]) -> int:
    """One bare sending loop: the same transports, no database."""
    urls, jobs, run_id = args
    settings = load_settings(
        database_url="sqlite:///unused.db",
        secret_key=SECRET,
        smtp_url=urls["smtp_url"],
        sms_url=urls["sms_url"],
        sms_token=TOKEN,
        business={"name": "Teapot & Co", "postal_address": "1 Leaf Lane, Bristol BS1 4DJ"},
    )
    transports = open_transports(settings)
    for n, channel in jobs:
        name = f"Person {n}"
        envelope = Envelope(
            message_id=n,
            idempotency_key=f"{idempotency_key(n)}-{run_id}",
            channel=channel,
            to=f"p{n}@example.com" if channel == "email" else f"+1555{n:07d}",
            to_name=name,
            subject="Thank you",
            text=(BODY if channel == "email" else SMS_BODY).format(name=name),
            unsubscribe_url=f"https://thanks.teapot.test/unsubscribe/token-{n}",
        )
        transports[channel].send(envelope, handing_over=lambda: None)
    for transport in transports.values():
        transport.close()
    return len(jobs)


def floor(urls: dict[str, str], emails: int, sms: int, workers: int) -> float:
    jobs = [(n, "email") for n in range(emails)] + [(emails + n, "sms") for n in range(sms)]
    jobs.sort(key=lambda job: job[0] % 7)  # mix the channels as the queue would
    shares = [jobs[i::workers] for i in range(workers)]
    run_id = uuid.uuid4().hex[:8]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        pool.map(_floor_worker, [(urls, [], run_id)] * workers)  # start-up, not timed
        started = time.perf_counter()
        sent = sum(pool.map(_floor_worker, [(urls, share, run_id) for share in shares]))
        elapsed = time.perf_counter() - started
    assert sent == emails + sms
    return elapsed


def seed(db: Database, emails: int, sms: int) -> None:
    now = utcnow()
    total = emails + sms
    with db.transaction() as s:
        s.execute(
            insert(Person),
            [
                {
                    "name": f"Person {n}",
                    "kind": "customer",
                    "email": f"p{n}@example.com",
                    "phone": f"+1555{n:07d}",
                    "search_key": f"person {n}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(total)
            ],
        )
        ids = list(s.scalars(select(Person.id).order_by(Person.id)))
        s.execute(
            insert(ConsentChange),
            [
                {
                    "person_id": pid,
                    "channel": c,
                    "granted": True,
                    "source": "bench",
                    "at": now - timedelta(days=3),
                }
                for pid in ids
                for c in ("email", "sms")
            ],
        )
        s.execute(
            insert(Message),
            [
                {
                    "person_id": pid,
                    "channel": "email" if n < emails else "sms",
                    "purpose": "appreciation",
                    "subject": "Thank you",
                    "body": (BODY if n < emails else SMS_BODY).format(name=f"Person {n}"),
                    "status": "queued",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now - timedelta(seconds=(n * 7919) % total),
                }
                for n, pid in enumerate(ids)
            ],
        )


def goodwill_run(urls: dict[str, str], url: str, workers: int) -> tuple[float, dict[str, int]]:
    env = _env(urls, url)
    started = time.perf_counter()
    processes = [
        subprocess.Popen([GOODWILL, "worker", "--once", "--json"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    totals: dict[str, int] = {}
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"worker failed ({process.returncode}): {out}")
        for key, value in json.loads(out).items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return time.perf_counter() - started, totals


def fresh_database(backend: str, pg_admin: str, folder: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'outbox-bench.db'}", None
    name = f"goodwill_outbox_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = pg_admin.rsplit("/", 1)[0]
    return f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--sms", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="floor runs (best is reported)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    servers, urls = start_servers()
    try:
        floors = [floor(urls, args.emails, args.sms, args.workers) for _ in range(args.repeat)]
        best_floor = min(floors)
        before = stats(urls)
        with tempfile.TemporaryDirectory() as folder:
            url, drop = fresh_database(args.backend, args.pg_admin, Path(folder))
            db = Database(url)
            try:
                db.migrate()
                seed(db, args.emails, args.sms)
                elapsed, totals = goodwill_run(urls, url, args.workers)
                with db.reading() as s:
                    status = dict(
                        s.execute(select(Message.status, func.count()).group_by(Message.status)).all()
                    )
            finally:
                db.dispose()
                if drop is not None:
                    drop()
        after = stats(urls)
    finally:
        assert servers.stdin is not None
        servers.stdin.close()
        servers.wait()

    total = args.emails + args.sms
    emails_arrived = after["distinct_emails"] - before["distinct_emails"]
    sms_arrived = after["sms_delivered"] - before["sms_delivered"]
    print(f"{args.emails:,} emails + {args.sms:,} SMS, {args.workers} workers, backend {args.backend}")
    print(
        f"floor, bare sending loop:  {best_floor:7.2f} s  ({total / best_floor:,.0f} msg/s; runs "
        f"{', '.join(f'{f:.2f}' for f in floors)})"
    )
    print(
        f"goodwill worker --once:    {elapsed:7.2f} s  "
        f"({total / elapsed:,.0f} msg/s, process start-up included)"
    )
    print(f"ratio worker / floor:      {elapsed / best_floor:7.2f}x  (goal: within 2x)")
    print(f"outbox after the run: {status}; worker totals: {totals}")
    print(
        f"arrived: {emails_arrived:,} distinct emails (received {after['emails'] - before['emails']:,}), "
        f"{sms_arrived:,} SMS (requests {after['sms_requests'] - before['sms_requests']:,})"
    )
    if status.get("sent") != total or emails_arrived != args.emails or sms_arrived != args.sms:
        raise SystemExit("not every message was delivered exactly once")


if __name__ == "__main__":
    main()
