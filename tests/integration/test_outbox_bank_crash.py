"""A worker killed after a delivery is recorded but before the bank has seen it leaves no gap.

The worker runs in a child process that SIGKILLs itself the moment it first touches
``bank_entries``, i.e. as the bank refresh for a delivery starts. Whatever it had committed by then
stays; whatever it had not is rolled back by the database. Either way the bank must equal a fresh
rebuild from the events (bench/faults_checks.py ``check_bank``, run in a rolled-back transaction),
without any later event for the person or a ``goodwill bank rebuild``. A second, healthy worker
then finishes the job, and the bank still equals a rebuild, now with the delivery's deposit.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from delivery_servers import SmsProvider, SmtpSink
from sqlalchemy import select

from goodwill.bank.model import BankEntry
from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.outbox.model import Message
from goodwill.outbox.worker import Worker
from goodwill.people.model import Person
from goodwill.people.service import record_consent

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from faults_checks import check_bank  # noqa: E402

NOON = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SECRET = "crash-test-secret"

# The child: a real worker whose process dies (SIGKILL, no clean-up, no rollback by Python) at the
# first statement that reads or writes the bank's entries.
CHILD = """
import json, os, signal, sys
from datetime import datetime
from sqlalchemy import event
from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.outbox.worker import Worker

args = json.loads(sys.argv[1])
db = Database(args["url"])

@event.listens_for(db.engine, "before_cursor_execute")
def die(conn, cursor, statement, parameters, context, executemany):
    if "bank_entries" in statement:
        os.kill(os.getpid(), signal.SIGKILL)

at = datetime.fromisoformat(args["at"])
worker = Worker(
    database=db, settings=load_settings(**args["settings"]), name="doomed", clock=lambda: at,
    channels=[args["channel"]],
)
worker.run(once=True)
"""


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def sms() -> Iterator[SmsProvider]:
    with SmsProvider(token="sms-token") as provider:
        yield provider


def settings_for(db: Database, smtp: SmtpSink, sms: SmsProvider) -> dict[str, Any]:
    return {
        "database_url": db.url,
        "secret_key": SECRET,
        "business": {
            "name": "Teapot & Co",
            "timezone": "Europe/London",
            "postal_address": "1 Leaf Lane, Bristol BS1 4DJ",
        },
        "smtp_url": smtp.url,
        "sms_url": sms.url,
        "sms_token": "sms-token",
        "delivery": {"public_url": "https://thanks.teapot.test", "backoff_base_seconds": 60},
    }


def seed(db: Database, channel: str) -> tuple[int, int]:
    with db.transaction() as s:
        person = Person(name="Ada", email="ada@example.com", phone="+447700900123", kind="customer")
        s.add(person)
        s.flush()
        record_consent(
            s, person_id=person.id, channel=channel, granted=True, source="test", at=NOON - timedelta(days=60)
        )
        message = Message(
            person_id=person.id,
            channel=channel,
            purpose="appreciation",
            subject="Thank you" if channel == "email" else "",
            body="Thank you, truly.",
            created_at=NOON - timedelta(hours=1),
            next_attempt_at=NOON - timedelta(minutes=5),
        )
        s.add(message)
        s.flush()
        return person.id, message.id


def bank_matches_a_rebuild(db: Database) -> None:
    with db.reading() as s:  # the rebuild inside check_bank is rolled back with the session
        outcome = check_bank(s, currency="USD")
    assert outcome.ok, outcome.violations


def deposits(db: Database, person_id: int) -> list[str]:
    with db.reading() as s:
        return list(
            s.scalars(select(BankEntry.kind).where(BankEntry.person_id == person_id).order_by(BankEntry.id))
        )


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_worker_killed_as_it_banks_a_delivery_leaves_the_bank_equal_to_a_rebuild(
    db: Database, smtp: SmtpSink, sms: SmsProvider, channel: str
) -> None:
    person_id, message_id = seed(db, channel)
    settings = settings_for(db, smtp, sms)
    args = {"url": db.url, "settings": settings, "at": NOON.isoformat(), "channel": channel}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, timeout=120
    )
    # It did get as far as sending, and died where the bank refresh begins.
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    handed = smtp.received if channel == "email" else sms.delivered
    assert len(handed) == 1

    bank_matches_a_rebuild(db)

    # A healthy worker, after the claim timeout, finishes what the dead one left.
    later = NOON + timedelta(hours=1)
    Worker(database=db, settings=load_settings(**settings), name="healthy", clock=lambda: later).run(
        once=True
    )
    bank_matches_a_rebuild(db)
    with db.reading() as s:
        status = s.scalar(select(Message.status).where(Message.id == message_id))
        delivery_events = s.scalars(
            select(Event.kind).where(Event.person_id == person_id, Event.source == "goodwill")
        ).all()
    if status == "sent":
        assert delivery_events == ["appreciation_sent"]
        assert "appreciation_sent" in deposits(db, person_id)
    else:
        # Email is not idempotent: a claim found handed over is ended as "unknown", never resent.
        assert channel == "email" and status == "failed"
        assert delivery_events == []
