"""Fault benchmark: kill the web server and the workers, crash PostgreSQL, then check every invariant.

    .venv/bin/python bench/fault_bench.py                      # 180 s of faults, seed 1
    .venv/bin/python bench/fault_bench.py --duration 20 --seed 7
    .venv/bin/python bench/fault_bench.py --no-pg-restart      # kills only

Everything runs on loopback, in a throwaway PostgreSQL cluster (initdb into a temporary directory,
its own port; dropped at the end, even on error), never the machine's shared one.

1. Seed: staff with an API token, people with email and SMS consent (in a time zone where it is
   midday, so texts are not held for quiet hours), two orders each and a drafted thank-you note,
   loyalty points and a reward catalogue (one reward with little stock).
2. Run ``goodwill serve`` and two ``goodwill worker`` processes, a real SMTP server (aiosmtpd) and
   a real HTTP SMS provider (tests/integration/delivery_servers.py), and clients that, for
   ``--duration`` seconds, ingest events (``POST /api/v1/events``, with an ``Idempotency-Key`` and
   most with a ``source_id``), redeem rewards (``POST /api/v1/loyalty/redemptions``), approve notes
   (``POST /api/v1/notes/{id}/approve``) and unsubscribe some people right after their note was
   approved (the one-click ``POST /unsubscribe/{token}``). Clients follow the API's at-least-once
   contract: after a connection error, a 5xx or an idempotency race (409) they send the same
   request again with the same key, until it is answered.
3. Meanwhile, at random moments drawn from ``--seed``: SIGKILL the web server, SIGKILL a worker,
   or crash PostgreSQL (``pg_ctl stop -m immediate``) and start it again. A supervisor restarts
   whatever is down (a worker that exits on its own when the database vanishes included).
4. Then the faults stop, the clients finish their retries, the workers drain the outbox, and the
   checks run (bench/faults_checks.py): events, redemptions and approvals acknowledged are stored
   exactly once (lost 0, duplicated 0); loyalty balances equal their entries and never went below
   zero; each note reached the SMTP or SMS server at most once and nothing after an acknowledged
   opt-out; the bank equals a fresh rebuild. The exit code is 1 when any invariant fails.

The seed fixes the fault schedule and every client's choices; the exact interleaving with the
servers is up to the scheduler, so two runs with one seed are alike, not identical.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from faults_checks import (  # noqa: E402
    OptOut,
    Outcome,
    check_approvals,
    check_bank,
    check_deliveries,
    check_events,
    check_loyalty,
    check_opt_outs,
    check_redemptions,
)
from faults_pg import ThrowawayCluster, free_port  # noqa: E402
from faults_servers import TimedSmsProvider, TimedSmtpSink  # noqa: E402

SECRET = "fault-bench-secret"  # noqa: S105 - a throwaway key for a throwaway database
SMS_TOKEN = "fault-bench-token"  # noqa: S105 - the loopback provider's token
GOODWILL = str(Path(sys.executable).parent / "goodwill")
SCARCE_STOCK = 25  # the one reward that runs out during the run
KINDS = ["purchase", "purchase", "visit", "question", "praise", "review"]


def now() -> datetime:
    return datetime.now(UTC)


# --- processes ---------------------------------------------------------------------------------


class Proc:
    """A ``goodwill`` subprocess we may kill and start again; its output goes to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.starts += 1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout: float = 15) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


# --- seeding -----------------------------------------------------------------------------------


@dataclass
class Seeded:
    token: str
    people: list[tuple[int, str, str]]  # id, email, channel of their note
    notes: list[tuple[int, int, str]]  # note id, person id, channel
    rewards: list[int]


def midday_zone() -> str:
    """A fixed-offset zone where it is about 13:00 now, so SMS is inside the contact hours."""
    offset = (13 - now().hour) % 24
    if offset > 14:
        offset -= 24
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def seed_database(url: str, *, people: int, rng: random.Random) -> Seeded:
    from goodwill.bank.config import load_bank_config
    from goodwill.bank.rebuild import rebuild
    from goodwill.config import get_settings
    from goodwill.db import Database, utcnow
    from goodwill.events.service import NewEvent, record_event
    from goodwill.loyalty.ledger import adjust
    from goodwill.loyalty.rewards import RewardInput, create_reward
    from goodwill.notes.service import NoteError, draft_on_request
    from goodwill.people.service import PersonRecord, create_person
    from goodwill.team.service import create_api_token, create_user

    settings = get_settings()
    db = Database(url)
    db.migrate()
    zone = midday_zone()
    stamp = utcnow()
    found: list[tuple[int, str, str]] = []
    notes: list[tuple[int, int, str]] = []
    with db.transaction() as s:
        admin = create_user(
            session=s,
            email="admin@faults.example",
            role="admin",
            password="fault bench pass phrase",  # noqa: S106 - a throwaway account
        )
        token = create_api_token(session=s, user_id=admin.id, name="fault bench")
        rewards = [
            create_reward(s, data=RewardInput(name="Free shipping", kind="free_shipping", cost_points=60)).id,
            create_reward(s, data=RewardInput(name="Tree planted", kind="donation", cost_points=40)).id,
            create_reward(
                s,
                data=RewardInput(
                    name="Tasting voucher", kind="discount", cost_points=120, stock=SCARCE_STOCK
                ),
            ).id,
        ]
        for i in range(people):
            channel = "sms" if i % 3 == 0 else "email"
            person, _ = create_person(
                s,
                PersonRecord(
                    name=f"Customer {i:04d} Faultson",
                    email=f"customer{i:04d}@faults.example",
                    phone=f"+1555{i:07d}",
                    kind="customer",
                    preferred_channel=channel,
                    time_zone=zone,
                    consent={"email": True, "sms": True},
                ),
                source="fault-bench",
            )
            for n, days in enumerate((40, 0)):
                record_event(
                    s,
                    NewEvent(
                        person_id=person.id,
                        kind="purchase",
                        occurred_at=stamp - timedelta(days=days, hours=1),
                        source="fault-bench",
                        source_id=f"seed-{i}-{n}",
                        amount_minor=rng.randint(1500, 9000),
                        currency=settings.business.currency,
                        text=f"Order #{i}-{n}",
                    ),
                )
            adjust(
                s,
                person_id=person.id,
                points=rng.randint(100, 400),
                reason="fault bench opening points",
                key=f"fault-bench:seed:{person.id}",
                by_user_id=admin.id,
                now=stamp,
                config=settings.loyalty,
            )
            found.append((person.id, person.email or "", channel))
        s.flush()
        for pid, _, channel in found:
            try:
                note = draft_on_request(s, ref=str(pid), moment=None, channel=channel, settings=settings)
            except NoteError:
                continue
            notes.append((note.id, pid, channel))
        rebuild(session=s, config=load_bank_config(settings), currency=settings.business.currency)
    db.dispose()
    return Seeded(token=token, people=found, notes=notes, rewards=rewards)


# --- clients -----------------------------------------------------------------------------------


@dataclass
class Log:
    """What the clients tried and what the server acknowledged (a 2xx answer)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    event_markers: list[str] = field(default_factory=list)
    events_acked: list[str] = field(default_factory=list)
    redemptions: dict[str, int] = field(default_factory=dict)  # key -> person
    redemptions_acked: dict[str, int] = field(default_factory=dict)
    approvals: list[int] = field(default_factory=list)
    approvals_acked: dict[int, int] = field(default_factory=dict)  # note -> message
    approved_queue: list[tuple[int, str, int]] = field(default_factory=list)  # person, channel, message
    opt_outs: list[OptOut] = field(default_factory=list)
    opt_outs_attempted: list[tuple[int, str]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)  # kind:status of 4xx answers
    refusal_samples: dict[str, str] = field(default_factory=dict)  # kind:status -> the first answer

    def refuse(self, kind: str, answer: httpx.Response) -> None:
        code = ""
        if answer.status_code == 422:
            try:
                found = answer.json()
            except ValueError:
                found = {}
            code = str(found.get("code", "")) if isinstance(found, dict) else ""
        label = f"{kind}:{answer.status_code}{':' + code if code else ''}"
        self.refused[label] += 1
        self.refusal_samples.setdefault(label, answer.text[:300])

    gave_up: Counter[str] = field(default_factory=Counter)  # still unanswered when the clients stopped
    gave_up_samples: dict[str, str] = field(default_factory=dict)
    retries: Counter[str] = field(default_factory=Counter)


class Client:
    def __init__(self, base: str, token: str, log: Log, deadline: list[float]) -> None:
        self.http = httpx.Client(base_url=base, timeout=15, headers={"Authorization": f"Bearer {token}"})
        self.log = log
        self.deadline = deadline  # [monotonic time after which retries stop]; set at the end

    def send(
        self, kind: str, method: str, path: str, *, key: str | None, **kwargs: Any
    ) -> httpx.Response | None:
        """Send until answered (not a connection error, 5xx or 409 race), the same key every time."""
        headers = {"Idempotency-Key": key} if key else {}
        attempt = 0
        conflicts = 0
        while True:
            try:
                answer: httpx.Response | None = self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code < 500:
                if answer.status_code != 409 or conflicts >= 20:
                    return answer
                conflicts += 1
            if time.monotonic() > self.deadline[0]:
                last = (
                    f"HTTP {answer.status_code}: {answer.text[:200]}" if answer is not None else "no answer"
                )
                with self.log.lock:
                    self.log.gave_up[kind] += 1
                    self.log.gave_up_samples.setdefault(kind, f"{method} {path}: {last}")
                return None
            with self.log.lock:
                self.log.retries[kind] += 1
            attempt += 1
            time.sleep(min(2.0, 0.05 * 2 ** min(attempt, 6)))


def ingest(client: Client, seeded: Seeded, rng: random.Random, tag: str, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        marker = f"fault-bench {tag} event {n}"
        kind = rng.choice(KINDS)
        body: dict[str, Any] = {
            "kind": kind,
            "occurred_at": (now() - timedelta(minutes=rng.randint(1, 600))).isoformat(),
            "text": marker,
        }
        if rng.random() < 0.1:
            body["email"] = f"newcomer-{tag}-{n}@faults.example"
            body["name"] = f"Newcomer {n}"
        else:
            body["person_id"] = rng.choice(seeded.people)[0]
        if kind == "purchase":
            body["amount"] = f"{rng.randint(5, 200)}.{rng.randint(0, 99):02d}"
        if rng.random() < 0.75:
            body["source_id"] = f"fb-{tag}-{n}"
        with client.log.lock:
            client.log.event_markers.append(marker)
        answer = client.send("events", "POST", "/api/v1/events", key=f"ev-{tag}-{n}", json=body)
        with client.log.lock:
            if answer is not None and answer.is_success:
                client.log.events_acked.append(marker)
            elif answer is not None:
                client.log.refuse("events", answer)
        stop.wait(rng.uniform(0.01, 0.08))


def redeem(client: Client, seeded: Seeded, rng: random.Random, tag: str, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        key = f"rd-{tag}-{n}"
        person = rng.choice(seeded.people)[0]
        with client.log.lock:
            client.log.redemptions[key] = person
        body = {"person_id": person, "reward_id": rng.choice(seeded.rewards)}
        answer = client.send("redemptions", "POST", "/api/v1/loyalty/redemptions", key=key, json=body)
        with client.log.lock:
            if answer is not None and answer.is_success:
                client.log.redemptions_acked[key] = person
            elif answer is not None:
                client.log.refuse("redemptions", answer)
        stop.wait(rng.uniform(0.02, 0.1))


def approve(
    client: Client, seeded: Seeded, rng: random.Random, tag: str, stop: threading.Event, duration: float
) -> None:
    queue = list(seeded.notes)
    rng.shuffle(queue)
    pause = max(0.05, duration / max(1, len(queue)) * 0.8)
    for note_id, person, channel in queue:
        if stop.is_set():
            return
        with client.log.lock:
            client.log.approvals.append(note_id)
        answer = client.send(
            "approvals", "POST", f"/api/v1/notes/{note_id}/approve", key=f"ap-{tag}-{note_id}", json={}
        )
        with client.log.lock:
            if answer is not None and answer.is_success:
                message = int(answer.json()["message"]["id"])
                client.log.approvals_acked[note_id] = message
                client.log.approved_queue.append((person, channel, message))
            elif answer is not None:
                client.log.refuse("approvals", answer)
        stop.wait(rng.uniform(0.5, 1.5) * pause)


def opt_out(client: Client, rng: random.Random, stop: threading.Event, share: float) -> None:
    """Customers who click "unsubscribe" moments after their note was approved (some before it goes)."""
    from goodwill.people.unsubscribe import make_token

    seen = 0
    while not stop.is_set():
        stop.wait(rng.uniform(0.1, 0.6))
        with client.log.lock:
            fresh = client.log.approved_queue[seen:]
            seen = len(client.log.approved_queue)
        for person, channel, message in fresh:
            if rng.random() >= share:
                continue
            token = make_token(SECRET, person_id=person, channel=channel, message_id=message)
            asked = now()
            with client.log.lock:
                client.log.opt_outs_attempted.append((person, channel))
            answer = client.send(
                "opt_outs", "POST", f"/unsubscribe/{token}", key=None, data={"List-Unsubscribe": "One-Click"}
            )
            if answer is not None and answer.is_success:
                with client.log.lock:
                    client.log.opt_outs.append(OptOut(person, channel, asked, now()))
            elif answer is not None:
                with client.log.lock:
                    client.log.refuse("opt_outs", answer)


# --- the run -----------------------------------------------------------------------------------


def open_messages(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT count(*) FROM outbox_messages WHERE status IN ('queued', 'sending')"
            ).fetchone()
            return int(row[0]) if row else 0
    except psycopg.OperationalError:
        return -1


def wait_http(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + "/login", timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the web server did not answer at {base}")
        time.sleep(0.2)


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    tag = f"s{args.seed}"
    cluster = ThrowawayCluster()
    atexit.register(cluster.drop)
    procs: list[Proc] = []
    started = time.monotonic()
    try:
        cluster.create()
        url = "postgresql+psycopg://" + cluster.url.split("://", 1)[1]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with TimedSmtpSink() as smtp, TimedSmsProvider(token=SMS_TOKEN) as sms:
            env = {
                **os.environ,
                "GOODWILL_CONFIG": "/nonexistent/goodwill.toml",
                "GOODWILL_DATABASE_URL": url,
                "GOODWILL_SECRET_KEY": SECRET,
                "GOODWILL_SMTP_URL": smtp.url,
                "GOODWILL_SMS_URL": sms.url,
                "GOODWILL_SMS_TOKEN": SMS_TOKEN,
                "GOODWILL_DELIVERY__PUBLIC_URL": base,
                "GOODWILL_DELIVERY__CLAIM_TIMEOUT_SECONDS": str(args.claim_timeout),
                "GOODWILL_DELIVERY__BACKOFF_BASE_SECONDS": "1",
                "GOODWILL_DELIVERY__BACKOFF_CAP_SECONDS": "4",
                "GOODWILL_DELIVERY__MAX_ATTEMPTS": "50",
                "GOODWILL_DELIVERY__IDLE_SECONDS": "0.5",
            }
            os.environ.update({k: v for k, v in env.items() if k.startswith("GOODWILL_")})
            t0 = time.monotonic()
            seeded = seed_database(url, people=args.people, rng=random.Random(args.seed))
            seed_seconds = time.monotonic() - t0
            logs = Path(args.logs) if args.logs else Path(cluster.root) / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            server = Proc("server", [GOODWILL, "serve", "--port", str(port)], env, logs / "server.log")
            workers = [
                Proc(f"worker{i}", [GOODWILL, "worker", "--concurrency", "2"], env, logs / f"worker{i}.log")
                for i in range(args.workers)
            ]
            procs = [server, *workers]
            for p in procs:
                p.start()
            wait_http(base)

            log = Log()
            deadline = [float("inf")]
            stop = threading.Event()
            clients = [Client(base, seeded.token, log, deadline) for _ in range(6)]
            threads = [
                threading.Thread(
                    target=ingest, args=(clients[0], seeded, random.Random(rng.random()), tag + "a", stop)
                ),
                threading.Thread(
                    target=ingest, args=(clients[1], seeded, random.Random(rng.random()), tag + "b", stop)
                ),
                threading.Thread(
                    target=redeem, args=(clients[2], seeded, random.Random(rng.random()), tag + "a", stop)
                ),
                threading.Thread(
                    target=redeem, args=(clients[5], seeded, random.Random(rng.random()), tag + "b", stop)
                ),
                threading.Thread(
                    target=approve,
                    args=(clients[3], seeded, random.Random(rng.random()), tag, stop, args.duration),
                ),
                threading.Thread(
                    target=opt_out, args=(clients[4], random.Random(rng.random()), stop, args.opt_out_share)
                ),
            ]
            for t in threads:
                t.start()

            faults: Counter[str] = Counter()
            chaos = random.Random(rng.random())
            run_until = time.monotonic() + args.duration
            kinds = ["server", "worker"] + (["postgres"] if args.pg_restart else [])
            weights = [3, 3] + ([2] if args.pg_restart else [])
            next_fault = time.monotonic() + chaos.uniform(*args.fault_gap)
            while time.monotonic() < run_until:
                time.sleep(0.1)
                for p in procs:  # the supervisor: whatever is down is started again
                    if not p.alive():
                        faults[f"{p.name[:6]}_exited_by_itself"] += 1
                        p.start()
                if time.monotonic() < next_fault:
                    continue
                next_fault = time.monotonic() + chaos.uniform(*args.fault_gap)
                what = chaos.choices(kinds, weights)[0]
                if what == "server":
                    server.kill()
                    faults["server_kills"] += 1
                    time.sleep(chaos.uniform(0.0, 1.0))
                    server.start()
                elif what == "worker":
                    victim = chaos.choice(workers)
                    victim.kill()
                    faults["worker_kills"] += 1
                    time.sleep(chaos.uniform(0.0, 1.0))
                    victim.start()
                else:
                    cluster.crash()
                    faults["pg_restarts"] += 1
                    time.sleep(chaos.uniform(0.5, 3.0))
                    cluster.start()

            # Faults over: clients finish what they started (retrying), the outbox drains.
            stop.set()
            deadline[0] = time.monotonic() + args.grace
            for p in procs:
                if not p.alive():
                    p.start()
            for t in threads:
                t.join()
            drain_until = time.monotonic() + args.claim_timeout + 60
            left = open_messages(cluster.url)
            while left != 0 and time.monotonic() < drain_until:
                time.sleep(0.5)
                for p in workers:
                    if not p.alive():
                        p.start()
                left = open_messages(cluster.url)
            for p in procs:
                p.stop()
            time.sleep(0.5)  # the last SMTP/SMS answers are in
            outcomes = check_all(
                url, seeded, log, smtp.arrivals(), sms.first_deliveries(), args.tolerate_bank_lag
            )
            figures = report(
                args, seeded, log, faults, outcomes, left, seed_seconds, time.monotonic() - started
            )
    finally:
        for p in procs:
            p.kill()
        cluster.drop()
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    failed = [o for o in outcomes if not o.ok]
    return 1 if failed or figures["outbox_left_open"] != 0 else 0


def check_all(
    url: str,
    seeded: Seeded,
    log: Log,
    emails: dict[str, list[datetime]],
    sms: dict[str, datetime],
    tolerate_bank_lag: bool,
) -> list[Outcome]:
    from goodwill.config import get_settings
    from goodwill.db import Database

    db = Database(url)
    try:
        with db.reading() as s:
            outcomes = [
                check_events(s, markers=log.event_markers, acknowledged=log.events_acked),
                check_redemptions(
                    s,
                    attempted=log.redemptions,
                    acknowledged=log.redemptions_acked,
                    initial_stock={seeded.rewards[2]: SCARCE_STOCK},
                ),
                check_approvals(s, attempted=log.approvals, acknowledged=log.approvals_acked),
                check_loyalty(s),
                check_deliveries(s, emails=emails, sms=sms, opt_outs=log.opt_outs),
                check_opt_outs(s, attempted=log.opt_outs_attempted, acknowledged=log.opt_outs),
            ]
        with Session(db.engine) as s:
            try:
                outcomes.append(
                    check_bank(
                        s, currency=get_settings().business.currency, tolerate_delivery_lag=tolerate_bank_lag
                    )
                )
            finally:
                s.rollback()
    finally:
        db.dispose()
    return outcomes


def report(
    args: argparse.Namespace,
    seeded: Seeded,
    log: Log,
    faults: Counter[str],
    outcomes: list[Outcome],
    left: int,
    seed_seconds: float,
    seconds: float,
) -> dict[str, Any]:
    by_name = {o.name: o for o in outcomes}
    figures: dict[str, Any] = {
        "seed": args.seed,
        "duration_s": args.duration,
        "wall_s": round(seconds, 1),
        "seed_s": round(seed_seconds, 1),
        "people": len(seeded.people),
        "notes_drafted": len(seeded.notes),
        "faults": dict(sorted(faults.items())),
        "operations": {
            kind: {
                "attempted": by_name[name].figures["attempted"],
                "acknowledged": by_name[name].figures["acknowledged"],
                "lost": by_name[name].figures["lost"],
                "duplicated": by_name[name].figures["duplicated"],
                "retries": log.retries[kind],
                "gave_up": log.gave_up[kind],
            }
            for kind, name in (
                ("events", "events"),
                ("redemptions", "redemptions"),
                ("approvals", "approvals"),
                ("opt_outs", "opt_outs"),
            )
        },
        "refused_4xx": dict(sorted(log.refused.items())),
        "refusal_samples": log.refusal_samples,
        "gave_up_samples": log.gave_up_samples,
        "outbox_left_open": left,
        "checks": {o.name: {"ok": o.ok, **o.figures} for o in outcomes},
        "violations": [f"{o.name}: {v}" for o in outcomes for v in o.violations],
    }
    if not args.json:
        print(f"fault bench, seed {args.seed}: {args.duration:.0f} s of faults, {seconds:.0f} s in all")
        print(
            "faults: "
            + ", ".join(f"{k} {v}" for k, v in sorted(faults.items()))
            + f"; people {len(seeded.people)}, notes {len(seeded.notes)}"
        )
        print(
            f"{'operation':<12} {'attempted':>9} {'acked':>7} {'lost':>5} {'dup':>4} "
            f"{'retries':>8} {'gave up':>8}"
        )
        for kind, row in figures["operations"].items():
            print(
                f"{kind:<12} {row['attempted']:>9} {row['acknowledged']:>7} {row['lost']:>5} "
                f"{row['duplicated']:>4} {row['retries']:>8} {row['gave_up']:>8}"
            )
        print("refused (4xx): " + (", ".join(f"{k} {v}" for k, v in sorted(log.refused.items())) or "none"))
        for label, sample in sorted(log.gave_up_samples.items()):
            print(f"  gave up {label}: {sample}")
        for label, sample in sorted(log.refusal_samples.items()):
            print(f"  first {label}: {sample}")
        for o in outcomes:
            print(
                f"[{'ok' if o.ok else 'FAIL'}] {o.name}: "
                + ", ".join(f"{k} {v}" for k, v in o.figures.items())
            )
        if left:
            print(f"FAIL outbox: {left} messages still queued or sending after the drain")
        for v in figures["violations"][:50]:
            print(f"  violation: {v}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=180, help="seconds of faults (default 180)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--people", type=int, default=300, help="seeded people, one drafted note each")
    parser.add_argument("--workers", type=int, default=2, help="goodwill worker processes")
    parser.add_argument(
        "--no-pg-restart", dest="pg_restart", action="store_false", help="kill processes only"
    )
    parser.add_argument(
        "--opt-out-share", type=float, default=0.2, help="share of approved people who unsubscribe"
    )
    parser.add_argument("--claim-timeout", type=int, default=6, help="delivery.claim_timeout_seconds (>= 5)")
    parser.add_argument(
        "--fault-gap",
        type=float,
        nargs=2,
        default=(5.0, 15.0),
        metavar=("MIN", "MAX"),
        help="seconds between faults",
    )
    parser.add_argument(
        "--grace", type=float, default=120, help="seconds clients keep retrying after the faults"
    )
    parser.add_argument(
        "--tolerate-bank-lag",
        action="store_true",
        help="report, without failing, bank entries missing only for delivery events (fixed in 6e4db73; "
        "kept to diagnose a regression, see the README)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--logs", help="keep the server's and workers' output in this directory")
    args = parser.parse_args()

    def _terminate(signum: int, _: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
