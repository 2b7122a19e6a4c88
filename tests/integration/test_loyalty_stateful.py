"""The ledger against a plain in-memory model: earn, redeem, refund, expire, reverse, adjust, and time.

Hypothesis drives random sequences of ledger calls on a real database (both backends) and checks
after every step that the stored balance, the entries, the lots and the model all agree, that no
balance goes below zero, and that ``check()`` finds nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from goodwill.db import Database
from goodwill.loyalty import ledger
from goodwill.loyalty.config import LoyaltyConfig
from goodwill.loyalty.lots import NotEnoughPoints, expiry_for, plan_draws
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, LoyaltyEntry
from goodwill.people.service import PersonRecord, resolve_people

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
CONFIG = LoyaltyConfig()
NEVER = datetime.max.replace(tzinfo=UTC)
RUN = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass
class ModelLot:
    id: int
    points: int
    remaining: int
    earned_at: datetime
    available_at: datetime
    expires_at: datetime | None


@dataclass
class Model:
    """What the ledger should hold, kept by hand: lots, and the totals by kind."""

    lots: dict[int, ModelLot] = field(default_factory=dict)
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0
    adjusted: int = 0  # taken off by negative adjustments
    # Per lot, what reversals asked back and could not take (spent): points given back to that lot
    # later (a refund) are taken back at once, up to this.
    short: dict[int, int] = field(default_factory=dict)

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots.values())

    def ordered(self) -> list[ModelLot]:
        return sorted(self.lots.values(), key=lambda x: (x.expires_at or NEVER, x.earned_at, x.id))

    @staticmethod
    def gone(lot: ModelLot, now: datetime) -> bool:
        return lot.expires_at is not None and lot.expires_at <= now

    def usable(self, now: datetime, *, with_pending: bool) -> list[ModelLot]:
        return [
            lot
            for lot in self.ordered()
            if lot.remaining > 0 and not self.gone(lot, now) and (with_pending or lot.available_at <= now)
        ]

    def spendable(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.usable(now, with_pending=False))

    def pending(self, now: datetime) -> int:
        return sum(lot.remaining for lot in self.usable(now, with_pending=True) if lot.available_at > now)

    def draw(self, lots: list[ModelLot], points: int) -> list[tuple[int, int]]:
        draws = []
        for lot in lots:
            part = min(points, lot.remaining)
            if part > 0:
                draws.append((lot.id, part))
                lot.remaining -= part
                points -= part
        return draws


class LedgerMachine(RuleBasedStateMachine):
    database: Database
    people = itertools.count(1)

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.model = Model()
        self.keys = itertools.count(1)
        self.earn_keys: list[tuple[str, int]] = []
        self.redemptions: list[tuple[str, list[tuple[int, int]]]] = []
        n = next(self.people)
        with self.database.transaction() as s:
            [self.pid], _ = resolve_people(s, [PersonRecord(name=f"P{n}", email=f"p{n}@example.com")])

    def key(self, kind: str) -> str:
        return f"{self.pid}:{kind}:{next(self.keys)}"

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        points=st.integers(min_value=1, max_value=500),
        pending_days=st.sampled_from([0, 3, 14]),
        expiry_days=st.sampled_from([None, 2, 10, 30, 90]),
    )
    def earn(self, points: int, pending_days: int, expiry_days: int | None) -> None:
        key = self.key("earn")
        available_at = self.now + timedelta(days=pending_days)
        expires_at = self.now + timedelta(days=expiry_days) if expiry_days is not None else None
        with self.database.transaction() as s:
            entry = ledger.add_lot(
                s,
                person_id=self.pid,
                kind=EntryKind.earn,
                points=points,
                key=key,
                at=self.now,
                available_at=available_at,
                expires_at=expires_at,
                rule="purchase",
            )
        assert entry is not None
        self.model.lots[entry.id] = ModelLot(entry.id, points, points, self.now, available_at, expires_at)
        self.model.issued += points
        self.earn_keys.append((key, points))

    @precondition(lambda self: self.earn_keys)
    @rule(data=st.data())
    def replay_earn(self, data: st.DataObject) -> None:
        key, points = data.draw(st.sampled_from(self.earn_keys))
        with self.database.transaction() as s:
            again = ledger.add_lot(
                s,
                person_id=self.pid,
                kind=EntryKind.earn,
                points=points,
                key=key,
                at=self.now,
                available_at=self.now,
                expires_at=None,
            )
        assert again is None

    @rule(points=st.integers(min_value=1, max_value=600))
    def redeem(self, points: int) -> None:
        key = self.key("redeem")
        expected = self.model.spendable(self.now) >= points
        with self.database.transaction() as s:
            ledger.lock_account(s, person_id=self.pid, now=self.now)
            try:
                draws = plan_draws(ledger.lots_of(s, person_id=self.pid), points, self.now)
            except NotEnoughPoints:
                assert not expected
                return
            entry = ledger.take(
                s, person_id=self.pid, kind=EntryKind.redeem, key=key, at=self.now, draws=draws
            )
            assert entry is not None
            replay = ledger.take(
                s, person_id=self.pid, kind=EntryKind.redeem, key=key, at=self.now, draws=draws
            )
            assert replay is None
        assert expected
        assert draws == self.model.draw(self.model.usable(self.now, with_pending=False), points)
        self.model.redeemed += points
        self.redemptions.append((key, draws))

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        key, draws = self.redemptions.pop(data.draw(st.integers(0, len(self.redemptions) - 1)))
        with self.database.transaction() as s:
            ledger.lock_account(s, person_id=self.pid, now=self.now)
            back = ledger.give_back(s, person_id=self.pid, key=f"refund:{key}", at=self.now, draws=draws)
            assert back is not None
            assert (
                ledger.give_back(s, person_id=self.pid, key=f"refund:{key}", at=self.now, draws=draws) is None
            )
        for lot_id, part in draws:
            settled = min(part, self.model.short.get(lot_id, 0))
            self.model.lots[lot_id].remaining += part - settled
            self.model.short[lot_id] = self.model.short.get(lot_id, 0) - settled
            self.model.reversed += settled - part

    @rule(everyone=st.booleans())
    def expire(self, everyone: bool) -> None:
        with self.database.transaction() as s:
            if everyone:
                # People of earlier examples share the database: count only this person's expiry.
                before = ledger.summary(s, person_id=self.pid, now=self.now).expired
                total = ledger.expire_due(s, now=self.now)
                expired = ledger.summary(s, person_id=self.pid, now=self.now).expired - before
                assert total >= expired
            else:
                expired = ledger.expire_due(s, now=self.now, person_ids=[self.pid])
        due = [
            lot for lot in self.model.lots.values() if lot.remaining > 0 and self.model.gone(lot, self.now)
        ]
        assert expired == sum(lot.remaining for lot in due)
        for lot in due:
            lot.remaining = 0
        self.model.expired += expired

    @precondition(lambda self: self.earn_keys)
    @rule(data=st.data(), points=st.integers(min_value=1, max_value=400))
    def reverse(self, data: st.DataObject, points: int) -> None:
        lot_id = data.draw(st.sampled_from(sorted(lot.id for lot in self.model.lots.values())))
        with self.database.transaction() as s:
            taken = ledger.reverse_earn(
                s, lot_id=lot_id, points=points, key=self.key("reverse"), at=self.now, reason="refund"
            )
        own = self.model.lots[lot_id]
        order = [own] + [lot for lot in self.model.usable(self.now, with_pending=True) if lot is not own]
        expected = self.model.draw(order, min(points, self.model.balance))
        assert taken == sum(part for _, part in expected)
        self.model.reversed += taken
        self.model.short[lot_id] = self.model.short.get(lot_id, 0) + points - taken

    @rule(points=st.integers(min_value=1, max_value=300), up=st.booleans())
    def adjust(self, points: int, up: bool) -> None:
        signed = points if up else -points
        key = self.key("adjust")
        can = (
            up
            or self.model.balance
            - sum(lot.remaining for lot in self.model.lots.values() if self.model.gone(lot, self.now))
            >= points
        )
        with self.database.transaction() as s:
            try:
                entry = ledger.adjust(
                    s,
                    person_id=self.pid,
                    points=signed,
                    reason="correction",
                    key=key,
                    by_user_id=None,
                    now=self.now,
                    config=CONFIG,
                )
            except ledger.Refused as refused:
                assert not can and refused.code == "not_enough_points"
                return
        assert can and entry is not None and entry.points == signed
        if up:
            expires_at = expiry_for(self.now, CONFIG.expiry_months)
            self.model.lots[entry.id] = ModelLot(entry.id, points, points, self.now, self.now, expires_at)
            self.model.issued += points
        else:
            self.model.draw(self.model.usable(self.now, with_pending=True), points)
            self.model.adjusted += points

    @rule(hours=st.integers(min_value=1, max_value=24 * 40))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def ledger_agrees_with_the_model(self) -> None:
        with self.database.reading() as s:
            stored = s.scalar(select(LoyaltyAccount.balance).where(LoyaltyAccount.person_id == self.pid))
            entries = s.scalar(
                select(func.sum(LoyaltyEntry.points)).where(LoyaltyEntry.person_id == self.pid)
            )
            summary = ledger.summary(s, person_id=self.pid, now=self.now)
            lots = {lot.id: lot.remaining for lot in ledger.lots_of(s, person_id=self.pid)}
            shortfalls = ledger.shortfalls(s, person_id=self.pid, lot_ids=self.model.lots)
            problems = ledger.check(s)
        model = self.model
        assert (stored or 0) >= 0
        assert (stored or 0) == (entries or 0) == model.balance == summary.balance
        assert lots == {lot.id: lot.remaining for lot in model.lots.values() if lot.remaining > 0}
        assert shortfalls == {lot_id: short for lot_id, short in model.short.items() if short > 0}
        assert all(model.lots[lot_id].remaining == 0 for lot_id in shortfalls)  # settled as points return
        assert (summary.issued, summary.redeemed, summary.expired, summary.reversed, summary.adjusted) == (
            model.issued,
            model.redeemed,
            model.expired,
            model.reversed,
            model.adjusted,
        )
        outstanding = (
            summary.issued - summary.redeemed - summary.expired - summary.reversed - summary.adjusted
        )
        assert outstanding == summary.balance
        assert (summary.available, summary.pending) == (model.spendable(self.now), model.pending(self.now))
        assert problems == []


def test_ledger_matches_a_simple_model(db: Database) -> None:
    machine = type("Machine", (LedgerMachine,), {"database": db, "people": itertools.count(1)})
    run_state_machine_as_test(machine, settings=RUN)
