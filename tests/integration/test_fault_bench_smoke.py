"""The fault benchmark's invariant checkers catch what they claim to, and the benchmark runs end to end.

The checkers (bench/faults_checks.py) are first shown a clean database, then one with a fault
planted behind the services' backs: an event stored twice, an acknowledged event missing, points
taken below zero, a stored balance that disagrees with its entries, a message that reached the SMTP
server twice, one handed over after an opt-out, a bank entry that a rebuild would not give. Then a
short run of bench/fault_bench.py, with kills and a PostgreSQL crash in its own throwaway cluster,
must exit 0 and report no lost or duplicated operation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.bank.service import refresh_people
from goodwill.config import get_settings
from goodwill.db import Database, utcnow
from goodwill.events.service import NewEvent, record_event
from goodwill.loyalty.ledger import adjust
from goodwill.loyalty.model import LoyaltyAccount, LoyaltyEntry, Redemption, Reward
from goodwill.outbox.model import Message
from goodwill.people.model import ConsentChange
from goodwill.people.service import PersonRecord, create_person
from goodwill.people.unsubscribe import UnsubscribeRequest, unsubscribe

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from faults_checks import (  # noqa: E402
    OptOut,
    check_bank,
    check_deliveries,
    check_events,
    check_loyalty,
    check_opt_outs,
    check_redemptions,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def person(db: Database, n: int) -> int:
    with db.transaction() as s:
        found, _ = create_person(
            s,
            PersonRecord(
                name=f"Pat {n}", email=f"pat{n}@example.com", kind="customer", consent={"email": True}
            ),
            source="test",
        )
        return found.id


def event(db: Database, pid: int, source_id: str, text: str, kind: str = "purchase") -> None:
    with db.transaction() as s:
        record_event(
            s,
            NewEvent(
                person_id=pid,
                kind=kind,
                occurred_at=NOW,
                source="api",
                source_id=source_id,
                amount_minor=2500 if kind == "purchase" else None,
                currency="USD" if kind == "purchase" else None,
                text=text,
            ),
        )


def test_event_checker_counts_lost_and_duplicated_events(db: Database) -> None:
    pid = person(db, 1)
    event(db, pid, "a", "op 1")
    event(db, pid, "b", "op 2")
    with db.reading() as s:
        clean = check_events(s, markers=["op 1", "op 2", "op 3"], acknowledged=["op 1", "op 2"])
    assert clean.ok, clean.violations
    assert clean.figures["lost"] == clean.figures["duplicated"] == 0
    assert clean.figures["stored"] == 2

    # The same operation stored a second time under another source_id (a retry that was not
    # recognised), and an acknowledged operation that never reached the table.
    event(db, pid, "b-again", "op 2")
    with db.reading() as s:
        found = check_events(s, markers=["op 1", "op 2", "op 3"], acknowledged=["op 1", "op 2", "op 3"])
    assert not found.ok
    assert found.figures["lost"] == 1
    assert found.figures["duplicated"] == 1
    assert any("'op 2' is stored 2 times" in v for v in found.violations)
    assert any("'op 3' was acknowledged but is not stored" in v for v in found.violations)


def test_loyalty_checker_finds_a_negative_history_and_a_wrong_balance(db: Database) -> None:
    pid = person(db, 1)
    other = person(db, 2)
    config = get_settings().loyalty
    with db.transaction() as s:
        for who, points in ((pid, 100), (other, 50)):
            adjust(
                s,
                person_id=who,
                points=points,
                reason="welcome",
                key=f"welcome:{who}",
                by_user_id=None,
                now=utcnow(),
                config=config,
            )
    with db.reading() as s:
        clean = check_loyalty(s)
    assert clean.ok, clean.violations
    assert clean.figures["accounts"] == 2 and clean.figures["entries"] == 2

    # Written around the ledger: 150 points taken from someone holding 100 (the balance kept in step,
    # so only the history shows it), and another account whose stored balance drifted.
    with db.transaction() as s:
        s.add(LoyaltyEntry(person_id=pid, kind="redeem", points=-150, key="planted", at=utcnow()))
        s.execute(update(LoyaltyAccount).where(LoyaltyAccount.person_id == pid).values(balance=-50))
        s.execute(update(LoyaltyAccount).where(LoyaltyAccount.person_id == other).values(balance=80))
    with db.reading() as s:
        found = check_loyalty(s)
    assert not found.ok
    assert found.figures["negative_histories"] == 1
    assert any(f"person {pid}'s points went down to -50" in v for v in found.violations)
    assert any(f"person {pid}'s balance is negative: -50" in v for v in found.violations)
    assert any(
        f"person {other}'s stored balance is 80 but the entries add up to 50" in v for v in found.violations
    )


def test_redemption_checker_finds_a_lost_one_a_double_charge_and_stock_that_does_not_add_up(
    db: Database,
) -> None:
    pid = person(db, 1)
    with db.transaction() as s:
        reward = Reward(name="Voucher", kind="discount", cost_points=40, stock=4)
        s.add(reward)
        s.flush()
        redemption = Redemption(
            person_id=pid, reward_id=reward.id, points=40, status="delivered", request_key="k1"
        )
        s.add(redemption)
        s.flush()
        s.add(
            LoyaltyEntry(
                person_id=pid, kind="redeem", points=-40, key="r1", redemption_id=redemption.id, at=NOW
            )
        )
        reward_id, redemption_id = reward.id, redemption.id
    with db.reading() as s:
        clean = check_redemptions(
            s, attempted={"k1": pid}, acknowledged={"k1": pid}, initial_stock={reward_id: 5}
        )
    assert clean.ok, clean.violations

    # Charged twice, the stock not taken, and an acknowledged key with nothing stored.
    with db.transaction() as s:
        s.add(
            LoyaltyEntry(
                person_id=pid, kind="redeem", points=-40, key="r1b", redemption_id=redemption_id, at=NOW
            )
        )
        s.execute(update(Reward).where(Reward.id == reward_id).values(stock=5))
    with db.reading() as s:
        found = check_redemptions(
            s,
            attempted={"k1": pid, "k2": pid},
            acknowledged={"k1": pid, "k2": pid},
            initial_stock={reward_id: 5},
        )
    assert found.figures["lost"] == 1
    assert (
        f"redemption {redemption_id} (40 points) has redeem entries [-40, -40], not [-40]" in found.violations
    )
    assert f"reward {reward_id} had 5 in stock, 1 were redeemed, and 5 are left" in found.violations


def message(db: Database, pid: int, *, status: str = "sent", handed_over_at: datetime | None = None) -> int:
    with db.transaction() as s:
        row = Message(
            person_id=pid,
            channel="email",
            body="Thank you",
            status=status,
            address=f"pat{pid}@example.com",
            handed_over_at=handed_over_at,
        )
        s.add(row)
        s.flush()
        return row.id


def test_delivery_checker_finds_double_deliveries_and_sends_after_an_opt_out(db: Database) -> None:
    pid = person(db, 1)
    opted = person(db, 2)
    once = message(db, pid, handed_over_at=NOW)
    twice = message(db, pid, handed_over_at=NOW)
    early = message(db, opted, handed_over_at=NOW)
    header = "<goodwill-message-{}@shop.example>".format
    emails = {header(once): [NOW], header(twice): [NOW], header(early): [NOW + timedelta(seconds=5)]}
    # The opt-out came after ``early`` was handed over: its late arrival is allowed.
    opt_out = OptOut(opted, "email", NOW + timedelta(seconds=1), NOW + timedelta(seconds=2))
    with db.reading() as s:
        clean = check_deliveries(s, emails=emails, sms={}, opt_outs=[opt_out])
    assert clean.ok, clean.violations
    assert clean.figures["emails_received"] == 3

    # ``twice`` arrives a second time, a message is handed over and delivered after the opt-out,
    # and one marked sent never arrived.
    late = message(db, opted, handed_over_at=NOW + timedelta(seconds=3))
    missing = message(db, pid, handed_over_at=NOW)
    emails[header(twice)].append(NOW + timedelta(seconds=9))
    emails[header(late)] = [NOW + timedelta(seconds=4)]
    with db.reading() as s:
        found = check_deliveries(s, emails=emails, sms={}, opt_outs=[opt_out])
    assert not found.ok
    assert f"message {twice} was delivered 2 times" in found.violations
    assert found.figures["double_deliveries"] == 1
    assert found.figures["delivered_after_opt_out"] == 1
    assert found.figures["handed_over_after_opt_out"] == 1
    assert f"message {missing} is marked sent but never arrived" in found.violations
    assert not any(f"message {early} " in v for v in found.violations)


def test_delivery_checker_counts_sms_by_idempotency_key(db: Database) -> None:
    pid = person(db, 1)
    mid = message(db, pid, handed_over_at=NOW)
    with db.transaction() as s:
        s.execute(update(Message).where(Message.id == mid).values(channel="sms"))
    with db.reading() as s:
        assert check_deliveries(s, emails={}, sms={f"goodwill-message-{mid}": NOW}, opt_outs=[]).ok
        # The same message also arrived as an email: delivered twice.
        found = check_deliveries(
            s,
            emails={f"<goodwill-message-{mid}@x>": [NOW]},
            sms={f"goodwill-message-{mid}": NOW},
            opt_outs=[],
        )
    assert f"message {mid} was delivered 2 times" in found.violations


def test_opt_out_checker_finds_a_lost_and_a_repeated_unsubscribe(db: Database) -> None:
    first, second = person(db, 1), person(db, 2)
    with db.transaction() as s:
        unsubscribe(s, secret_key="k", request=UnsubscribeRequest(first, "email", 0), source="test")
    done = OptOut(first, "email", NOW, NOW)
    with db.reading() as s:
        clean = check_opt_outs(s, attempted=[(first, "email")], acknowledged=[done])
    assert clean.ok, clean.violations
    # An acknowledged unsubscribe that is not in force, and one recorded twice.
    with db.transaction() as s:
        s.add(ConsentChange(person_id=first, channel="email", granted=False, source="planted", at=utcnow()))
    with db.reading() as s:
        found = check_opt_outs(
            s,
            attempted=[(first, "email"), (second, "email")],
            acknowledged=[done, OptOut(second, "email", NOW, NOW)],
        )
    assert found.figures["lost"] == 1 and found.figures["duplicated"] == 1
    assert f"person {second}'s email opt-out was acknowledged but is not in force" in found.violations
    assert f"person {first}'s email opt-out is recorded 2 times" in found.violations


def test_bank_checker_compares_with_a_fresh_rebuild(db: Database) -> None:
    pid = person(db, 1)
    event(db, pid, "o1", "order 1")
    event(db, pid, "c1", "late parcel", kind="complaint")
    with db.transaction() as s:
        refresh_people(session=s, person_ids=[pid])
    with db.reading() as s:  # the rebuild is rolled back with the session
        clean = check_bank(s, currency="USD")
    assert clean.ok, clean.violations
    assert clean.figures["entries"] >= 2

    # An entry edited by hand: the stored ledger no longer follows from the events.
    with db.transaction() as s:
        first = s.scalars(select(BankEntry.id).order_by(BankEntry.id)).first()
        s.execute(update(BankEntry).where(BankEntry.id == first).values(amount=BankEntry.amount + 7))
    with db.reading() as s:
        found = check_bank(s, currency="USD")
    assert not found.ok
    assert found.figures["missing_entries"] == found.figures["extra_entries"] == 1
    assert found.figures["standings_differing"] == 0

    # A standing that a rebuild would not give (the entries put right first).
    with db.transaction() as s:
        s.execute(update(BankEntry).where(BankEntry.id == first).values(amount=BankEntry.amount - 7))
        s.execute(
            update(BankStanding)
            .where(BankStanding.person_id == pid)
            .values(value_minor=BankStanding.value_minor + 100)
        )
    with db.reading() as s:
        found = check_bank(s, currency="USD")
    assert found.figures["missing_entries"] == found.figures["extra_entries"] == 0
    assert found.figures["standings_differing"] == 1
    assert any(f"person {pid}'s standing is" in v for v in found.violations)


def test_bank_checker_tells_a_delivery_the_worker_did_not_bank_from_other_gaps(db: Database) -> None:
    pid = person(db, 1)
    event(db, pid, "o1", "order 1")
    with db.transaction() as s:
        refresh_people(session=s, person_ids=[pid])
        # What a worker killed between sending and its batch's bank refresh leaves behind.
        record_event(
            s,
            NewEvent(
                person_id=pid,
                kind="appreciation_sent",
                occurred_at=NOW,
                source="goodwill",
                source_id="message:1",
            ),
        )
    with db.reading() as s:
        strict = check_bank(s, currency="USD")
    assert not strict.ok
    assert strict.figures["delivery_lag_people"] == 1
    with db.reading() as s:
        tolerant = check_bank(s, currency="USD", tolerate_delivery_lag=True)
    assert tolerant.ok, tolerant.violations
    assert tolerant.figures["delivery_lag_entries"] == 1

    # Any other missing entry stays a violation, and so does the same person's delivery then.
    event(db, pid, "o2", "order 2")
    with db.reading() as s:
        tolerant = check_bank(s, currency="USD", tolerate_delivery_lag=True)
    assert not tolerant.ok
    assert tolerant.figures["delivery_lag_people"] == 0
    assert len([v for v in tolerant.violations if "missing before the rebuild" in v]) == 2


@pytest.mark.slow
def test_a_short_fault_run_keeps_every_invariant() -> None:
    command = [
        sys.executable,
        str(ROOT / "bench" / "fault_bench.py"),
        "--duration",
        "12",
        "--people",
        "30",
        "--seed",
        "3",
        "--fault-gap",
        "1.5",
        "3",
        "--grace",
        "45",
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures["violations"] == []
    faults = figures["faults"]
    assert faults.get("server_kills", 0) + faults.get("worker_kills", 0) + faults.get("pg_restarts", 0) >= 3
    for kind, row in figures["operations"].items():
        assert row["lost"] == row["duplicated"] == 0, kind
    assert figures["operations"]["events"]["acknowledged"] > 0
    assert (
        figures["checks"]["deliveries"]["emails_received"] + figures["checks"]["deliveries"]["sms_delivered"]
        > 0
    )
    assert all(check["ok"] for check in figures["checks"].values())
