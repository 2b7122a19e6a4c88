"""The points ledger on both backends: every write, its idempotent replay, expiry, reversal and checks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from lock_waits import wait_for_waiters
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from goodwill.db import Database
from goodwill.loyalty import ledger
from goodwill.loyalty.config import LoyaltyConfig
from goodwill.loyalty.lots import Lot, plan_draws
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, LoyaltyDraw, LoyaltyEntry
from goodwill.people.service import PersonRecord, resolve_people

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CONFIG = LoyaltyConfig()


def person(s: Session, name: str = "Ada") -> int:
    [pid], _ = resolve_people(s, [PersonRecord(name=name, email=f"{name.lower()}@example.com")])
    return pid


def earn(
    s: Session,
    pid: int,
    points: int,
    key: str,
    *,
    at: datetime = T0,
    pending_days: int = 0,
    expires_in: timedelta | None = 365 * DAY,
) -> int:
    entry = ledger.add_lot(
        s,
        person_id=pid,
        kind=EntryKind.earn,
        points=points,
        key=key,
        at=at,
        available_at=at + pending_days * DAY,
        expires_at=at + expires_in if expires_in is not None else None,
        rule="purchase",
    )
    assert entry is not None
    return entry.id


def redeem(s: Session, pid: int, points: int, key: str, now: datetime = T0) -> LoyaltyEntry | None:
    ledger.lock_account(s, person_id=pid, now=now)
    draws = plan_draws(ledger.lots_of(s, person_id=pid), points, now)
    return ledger.take(s, person_id=pid, kind=EntryKind.redeem, key=key, at=now, draws=draws)


def balance(s: Session, pid: int) -> int:
    stored = s.scalar(select(LoyaltyAccount.balance).where(LoyaltyAccount.person_id == pid))
    assert stored is not None
    return stored


def count_entries(s: Session, key: str | None = None) -> int:
    stmt = select(func.count()).select_from(LoyaltyEntry)
    if key is not None:
        stmt = stmt.where(LoyaltyEntry.key == key)
    return s.scalar(stmt) or 0


def remaining(s: Session, pid: int) -> dict[int, int]:
    return {lot.id: lot.remaining for lot in ledger.lots_of(s, person_id=pid)}


# -- accounts and lots ------------------------------------------------------------------------------


def test_ensure_account_creates_one_account_once(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        first = ledger.ensure_account(s, person_id=pid, now=T0)
        again = ledger.ensure_account(s, person_id=pid, now=T0 + DAY)
        assert first is again
        assert (again.balance, again.issued, again.joined_at) == (0, 0, T0)
        assert s.scalar(select(func.count()).select_from(LoyaltyAccount)) == 1
        locked = ledger.lock_account(s, person_id=pid, now=T0 + 2 * DAY)
        assert locked.joined_at == T0


def test_add_lot_keeps_balance_and_issued_and_replay_writes_nothing(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        lot_id = earn(s, pid, 100, "earn:purchase:event:1")
        again = ledger.add_lot(
            s,
            person_id=pid,
            kind=EntryKind.earn,
            points=999,
            key="earn:purchase:event:1",
            at=T0,
            available_at=T0,
            expires_at=None,
        )
        assert again is None
        account = ledger.ensure_account(s, person_id=pid, now=T0)
        assert (account.balance, account.issued) == (100, 100)
        assert count_entries(s) == 1
        assert ledger.lots_of(s, person_id=pid) == [Lot(lot_id, 100, 100, T0, T0, T0 + 365 * DAY)]
    with db.transaction() as s:  # replay in a later transaction too
        assert (
            ledger.add_lot(
                s,
                person_id=pid,
                kind=EntryKind.earn,
                points=100,
                key="earn:purchase:event:1",
                at=T0,
                available_at=T0,
                expires_at=None,
            )
            is None
        )
        assert balance(s, pid) == 100
        assert ledger.check(s) == []


def test_add_lot_refuses_what_is_not_a_lot(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        for kind, points in ((EntryKind.redeem, 10), (EntryKind.earn, 0), (EntryKind.adjust, -5)):
            with pytest.raises(ledger.LoyaltyError):
                ledger.add_lot(
                    s,
                    person_id=pid,
                    kind=kind,
                    points=points,
                    key=f"bad:{kind}:{points}",
                    at=T0,
                    available_at=T0,
                    expires_at=None,
                )
        assert count_entries(s) == 0


def test_lots_of_counts_draws_and_leaves_out_used_up_lots(db: Database) -> None:
    with db.transaction() as s:
        pid, other = person(s), person(s, "Bob")
        soon = earn(s, pid, 50, "e1", expires_in=30 * DAY)
        later = earn(s, pid, 80, "e2", expires_in=90 * DAY)
        never = earn(s, pid, 20, "e3", expires_in=None, pending_days=14)
        earn(s, other, 500, "e4")
        redeem(s, pid, 70, "r1")
        assert remaining(s, pid) == {later: 60, never: 20}  # `soon` is used up
        lots = {lot.id: lot for lot in ledger.lots_of(s, person_id=pid)}
        assert lots[never].available_at == T0 + 14 * DAY and lots[never].expires_at is None
        assert soon not in lots


def test_lots_read_as_json_are_the_lots_of(db: Database) -> None:
    """``LOTS_JSON`` (the lots read along with something else in one statement) gives ``lots_of``."""
    with db.transaction() as s:
        pid, other, nobody = person(s), person(s, "Bob"), person(s, "Cy")
        odd = T0 - DAY + timedelta(microseconds=123457)  # microseconds survive the JSON
        earn(s, pid, 50, "e1", at=odd, expires_in=30 * DAY)
        earn(s, pid, 80, "e2", expires_in=90 * DAY)
        earn(s, pid, 20, "e3", at=odd, expires_in=None, pending_days=14)
        earn(s, pid, 10, "e4", at=T0 - 400 * DAY, expires_in=DAY)  # past its expiry, points left
        earn(s, other, 500, "e5")
        redeem(s, pid, 70, "r1")
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":  # timestamps come out of JSON in the session's time zone
            s.execute(text("SET LOCAL TIME ZONE 'Europe/Paris'"))

        def from_json(pid: int) -> list[Lot]:
            value = s.scalar(select(ledger.LOTS_JSON[dialect]), {"person_id": pid})
            return sorted(ledger.lots_from_json(value), key=lambda lot: lot.id)

        lots = sorted(ledger.lots_of(s, person_id=pid), key=lambda lot: lot.id)
        assert from_json(pid) == lots
        assert [lot.remaining for lot in lots] == [60, 20, 10]
        assert from_json(nobody) == []


# -- take and give back -----------------------------------------------------------------------------


def test_take_writes_negative_entry_with_draws_and_replay_writes_nothing(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        a = earn(s, pid, 50, "e1", expires_in=30 * DAY)
        b = earn(s, pid, 80, "e2", expires_in=90 * DAY)
        entry = redeem(s, pid, 70, "redeem:1")
        assert entry is not None
        assert (entry.kind, entry.points) == ("redeem", -70)
        draws = s.execute(
            select(LoyaltyDraw.lot_id, LoyaltyDraw.points).where(LoyaltyDraw.entry_id == entry.id)
        ).all()
        assert sorted(draws) == [(a, 50), (b, 20)]
        assert balance(s, pid) == 60
        replay = ledger.take(s, person_id=pid, kind=EntryKind.redeem, key="redeem:1", at=T0, draws=[(b, 10)])
        assert replay is None
        assert balance(s, pid) == 60 and count_entries(s, "redeem:1") == 1
        assert remaining(s, pid) == {b: 60}
        assert ledger.check(s) == []


def test_take_never_draws_more_than_a_lot_holds_or_from_someone_else(db: Database) -> None:
    with db.transaction() as s:
        pid, other = person(s), person(s, "Bob")
        mine = earn(s, pid, 50, "e1")
        theirs = earn(s, other, 500, "e2")
        ledger.lock_account(s, person_id=pid, now=T0)
        bad_draws = [[(mine, 51)], [(mine, 30), (mine, 30)], [(theirs, 10)], [(mine, 0)], [(mine, -5)]]
        for draws in bad_draws:
            with pytest.raises(ledger.LoyaltyError):
                ledger.take(s, person_id=pid, kind=EntryKind.redeem, key="r", at=T0, draws=draws)
        with pytest.raises(ledger.LoyaltyError):
            ledger.take(s, person_id=pid, kind=EntryKind.earn, key="r", at=T0, draws=[(mine, 5)])
        assert count_entries(s) == 2 and balance(s, pid) == 50


def test_take_refuses_to_push_a_stored_balance_below_zero(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        lot = earn(s, pid, 100, "e1")
        s.execute(text("UPDATE loyalty_accounts SET balance = 10 WHERE person_id = :p"), {"p": pid})
        with pytest.raises(ledger.LoyaltyError, match="below"):
            ledger.take(s, person_id=pid, kind=EntryKind.redeem, key="r", at=T0, draws=[(lot, 50)])


def test_give_back_restores_the_lots_and_replay_writes_nothing(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        a = earn(s, pid, 50, "e1", expires_in=30 * DAY)
        b = earn(s, pid, 80, "e2", expires_in=90 * DAY)
        spent = redeem(s, pid, 70, "redeem:7")
        assert spent is not None
        assert remaining(s, pid) == {b: 60}
        back = ledger.give_back(
            s, person_id=pid, key="refund:7", at=T0 + DAY, draws=[(a, 50), (b, 20)], redemption_id=7
        )
        assert back is not None
        assert (back.kind, back.points, back.redemption_id) == ("reverse", 70, 7)
        assert remaining(s, pid) == {a: 50, b: 80}
        assert balance(s, pid) == 130
        assert ledger.give_back(s, person_id=pid, key="refund:7", at=T0, draws=[(a, 50)]) is None
        assert balance(s, pid) == 130 and count_entries(s, "refund:7") == 1
        # Nothing more was drawn from the lots: nothing more can be given back.
        with pytest.raises(ledger.LoyaltyError, match="drawn"):
            ledger.give_back(s, person_id=pid, key="refund:8", at=T0, draws=[(a, 1)])
        summary = ledger.summary(s, person_id=pid, now=T0 + DAY)
        assert (summary.redeemed, summary.reversed, summary.balance) == (70, -70, 130)
        assert ledger.check(s) == []


# -- expiry -----------------------------------------------------------------------------------------


def test_expire_due_expires_what_is_left_in_each_due_lot_once(db: Database) -> None:
    with db.transaction() as s:
        pid, other = person(s), person(s, "Bob")
        a = earn(s, pid, 50, "e1", expires_in=30 * DAY)
        b = earn(s, pid, 80, "e2", expires_in=40 * DAY)
        c = earn(s, pid, 30, "e3", expires_in=90 * DAY)
        d = earn(s, other, 25, "e4", expires_in=40 * DAY)
        redeem(s, pid, 60, "r1")  # all of a, 10 of b
        now = T0 + 40 * DAY  # b and d expire exactly now
        assert ledger.expire_due(s, now=now) == 70 + 25
        rows = s.execute(
            select(LoyaltyEntry.key, LoyaltyEntry.points, LoyaltyEntry.person_id, LoyaltyEntry.at)
            .where(LoyaltyEntry.kind == "expire")
            .order_by(LoyaltyEntry.key)
        ).all()
        assert rows == [(f"expire:{b}", -70, pid, now), (f"expire:{d}", -25, other, now)]
        assert f"expire:{a}" not in {row[0] for row in rows}  # nothing was left in a
        assert remaining(s, pid) == {c: 30} and remaining(s, other) == {}
        assert (balance(s, pid), balance(s, other)) == (30, 0)
        assert ledger.expire_due(s, now=now) == 0
        assert ledger.expire_due(s, now=now + 10 * DAY) == 0
        assert count_entries(s) == 4 + 1 + 2
        assert ledger.check(s) == []
    with db.transaction() as s:
        assert ledger.expire_due(s, now=now + 50 * DAY) == 30
        assert ledger.summary(s, person_id=pid, now=now).expired == 100
        assert ledger.check(s) == []


def test_expire_due_for_some_people_leaves_the_others(db: Database) -> None:
    with db.transaction() as s:
        pid, other = person(s), person(s, "Bob")
        earn(s, pid, 50, "e1", expires_in=DAY)
        earn(s, other, 60, "e2", expires_in=DAY)
        assert ledger.expire_due(s, now=T0 + DAY, person_ids=[other]) == 60
        assert (balance(s, pid), balance(s, other)) == (50, 0)
        assert ledger.expire_due(s, now=T0 + DAY, person_ids=[]) == 0
        assert ledger.expire_due(s, now=T0 + DAY, person_ids=[pid, pid]) == 50


def test_expire_due_in_batches_of_people(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger, "EXPIRE_CHUNK", 3)
    with db.transaction() as s:
        people = [person(s, f"P{i}") for i in range(8)]
        for i, pid in enumerate(people):
            earn(s, pid, 10 + i, f"a{i}", expires_in=DAY)
            earn(s, pid, 5, f"b{i}", expires_in=DAY + timedelta(hours=i))
            earn(s, pid, 7, f"c{i}", expires_in=None)
        assert ledger.expire_due(s, now=T0 + DAY) == sum(10 + i for i in range(8)) + 5
        assert [balance(s, pid) for pid in people] == [7] + [12] * 7
        assert ledger.expire_due(s, now=T0 + 2 * DAY) == 5 * 7
        assert [balance(s, pid) for pid in people] == [7] * 8
        assert ledger.check(s) == []


def test_points_given_back_into_an_expired_lot_expire_again(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        lot = earn(s, pid, 100, "e1", expires_in=10 * DAY)
        spent = redeem(s, pid, 40, "redeem:1")
        assert spent is not None
        assert ledger.expire_due(s, now=T0 + 10 * DAY) == 60
        ledger.give_back(s, person_id=pid, key="refund:1", at=T0 + 11 * DAY, draws=[(lot, 40)])
        assert balance(s, pid) == 40
        summary = ledger.summary(s, person_id=pid, now=T0 + 11 * DAY)
        assert (summary.available, summary.pending) == (0, 0)  # already past its expiry
        assert ledger.expire_due(s, now=T0 + 11 * DAY) == 40
        assert count_entries(s, f"expire:{lot}:2") == 1
        assert balance(s, pid) == 0
        assert ledger.expire_due(s, now=T0 + 12 * DAY) == 0
        assert ledger.check(s) == []


# -- reversal ---------------------------------------------------------------------------------------


def test_reverse_earn_takes_its_own_lot_first_then_others_and_notes_the_shortfall(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        reversed_lot = earn(s, pid, 200, "e1", expires_in=300 * DAY)
        earn(s, pid, 50, "e2", expires_in=20 * DAY)
        pend = earn(s, pid, 30, "e3", pending_days=14, expires_in=400 * DAY)
        redeem(s, pid, 200, "r1")  # 50 from e2 (expires first), 150 from the reversed lot
        assert remaining(s, pid) == {reversed_lot: 50, pend: 30}
        taken = ledger.reverse_earn(
            s,
            lot_id=reversed_lot,
            points=200,
            key=f"reverse:{reversed_lot}:event:9",
            at=T0 + DAY,
            reason="refund",
        )
        assert taken == 80  # its own 50, then the pending 30 of another lot
        assert balance(s, pid) == 0 and remaining(s, pid) == {}
        entry = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.kind == "reverse")).one()
        assert entry.points == -80 and entry.reverses_id == reversed_lot and entry.rule == "purchase"
        assert entry.note == "refund; 120 of 200 points could not be taken back: already spent"
        again = ledger.reverse_earn(
            s, lot_id=reversed_lot, points=200, key=f"reverse:{reversed_lot}:event:9", at=T0, reason="refund"
        )
        assert again == 0 and count_entries(s) == 5
        assert ledger.summary(s, person_id=pid, now=T0 + DAY).reversed == 80
        assert ledger.check(s) == []


def test_reverse_earn_with_nothing_left_records_the_shortfall_and_takes_nothing(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        lot = earn(s, pid, 100, "e1")
        redeem(s, pid, 100, "r1")
        assert ledger.reverse_earn(s, lot_id=lot, points=100, key="reverse:x", at=T0, reason="cancelled") == 0
        entry = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == "reverse:x")).one()
        assert entry.points == 0
        assert entry.note == "cancelled; 100 of 100 points could not be taken back: already spent"
        assert balance(s, pid) == 0
        assert ledger.check(s) == []


def test_reverse_earn_partly_takes_only_what_is_asked(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        lot = earn(s, pid, 100, "e1")
        other = earn(s, pid, 40, "e2")
        assert (
            ledger.reverse_earn(s, lot_id=lot, points=30, key="reverse:p", at=T0, reason="part refund") == 30
        )
        assert remaining(s, pid) == {lot: 70, other: 40}
        entry = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == "reverse:p")).one()
        assert entry.note == "part refund"


def test_reverse_earn_uses_its_own_expired_lot_but_not_other_expired_lots(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        lot = earn(s, pid, 100, "e1", expires_in=10 * DAY)
        old = earn(s, pid, 60, "e2", expires_in=5 * DAY)
        fresh = earn(s, pid, 80, "e3", expires_in=300 * DAY)
        # Twenty days on, neither expiry has been written yet.
        taken = ledger.reverse_earn(s, lot_id=lot, points=150, key="reverse:e", at=T0 + 20 * DAY, reason="r")
        assert taken == 150
        assert remaining(s, pid) == {old: 60, fresh: 30}
        assert ledger.expire_due(s, now=T0 + 20 * DAY) == 60
        assert balance(s, pid) == 30


def test_reverse_earn_refuses_an_entry_that_is_not_a_lot(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        earn(s, pid, 100, "e1")
        spent = redeem(s, pid, 10, "r1")
        assert spent is not None
        with pytest.raises(ledger.LoyaltyError):
            ledger.reverse_earn(s, lot_id=spent.id, points=10, key="reverse:r", at=T0, reason="x")
        with pytest.raises(ledger.LoyaltyError):
            ledger.reverse_earn(s, lot_id=99999, points=10, key="reverse:n", at=T0, reason="x")


def test_points_given_back_to_a_lot_whose_reversal_fell_short_are_taken_back_at_once(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        order = earn(s, pid, 500, "e1", expires_in=100 * DAY)
        earn(s, pid, 100, "e2", expires_in=300 * DAY)
        spent = redeem(s, pid, 500, "r1")  # all of it from the order's lot, which expires first
        assert spent is not None
        # The order is cancelled: 100 come from the other lot, 400 were already spent.
        cancel = f"reverse:{order}:cancel:1"
        assert ledger.reverse_earn(s, lot_id=order, points=500, key=cancel, at=T0, reason="cancelled") == 100
        assert balance(s, pid) == 0
        back = ledger.give_back(s, person_id=pid, key="refund:1", at=T0 + DAY, draws=[(order, 500)])
        assert back is not None and back.points == 500
        # Of the 500 back in the order's lot, the 400 its cancellation could not take are taken now.
        settle = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == f"settle:{order}:{back.id}")).one()
        assert (settle.kind, settle.points, settle.reverses_id, settle.asked) == ("reverse", -400, order, 0)
        assert (settle.rule, settle.at) == ("purchase", T0 + DAY)
        assert remaining(s, pid) == {order: 100} and balance(s, pid) == 100
        assert ledger.give_back(s, person_id=pid, key="refund:1", at=T0, draws=[(order, 500)]) is None
        assert count_entries(s, f"settle:{order}:{back.id}") == 1 and balance(s, pid) == 100
        # Settled: points given back to that lot later stay with the customer.
        again = redeem(s, pid, 100, "r2")
        assert again is not None
        later = ledger.give_back(s, person_id=pid, key="refund:2", at=T0 + DAY, draws=[(order, 100)])
        assert later is not None and count_entries(s) == 8  # 2 earns, 2 redeems, cancel, 2 refunds, settle
        assert remaining(s, pid) == {order: 100} and balance(s, pid) == 100
        figures = ledger.summary(s, person_id=pid, now=T0 + DAY)
        assert (figures.issued, figures.redeemed, figures.reversed, figures.balance) == (600, 600, -100, 100)
        assert ledger.check(s) == []


def test_a_shortfall_settles_only_from_what_comes_back_to_its_own_lot(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        order = earn(s, pid, 300, "e1", expires_in=100 * DAY)
        old = earn(s, pid, 200, "e2", expires_in=50 * DAY)
        redeem(s, pid, 500, "r1")  # 200 from the old lot, 300 from the order's
        assert (
            ledger.reverse_earn(s, lot_id=order, points=300, key="reverse:c", at=T0, reason="cancelled") == 0
        )
        back = ledger.give_back(s, person_id=pid, key="refund:old", at=T0, draws=[(old, 200)])
        assert back is not None
        assert count_entries(s, f"settle:{old}:{back.id}") == 0 and remaining(s, pid) == {old: 200}
        back = ledger.give_back(s, person_id=pid, key="refund:part", at=T0, draws=[(order, 120)])
        assert back is not None
        assert count_entries(s, f"settle:{order}:{back.id}") == 1 and remaining(s, pid) == {old: 200}
        back = ledger.give_back(s, person_id=pid, key="refund:rest", at=T0, draws=[(order, 180)])
        assert back is not None
        assert remaining(s, pid) == {old: 200} and balance(s, pid) == 200
        assert ledger.check(s) == []


# -- adjustments ------------------------------------------------------------------------------------


def test_adjust_up_makes_a_lot_available_now_that_expires_per_config(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        entry = ledger.adjust(
            s,
            person_id=pid,
            points=75,
            reason="goodwill gesture",
            key="adj:1",
            by_user_id=None,
            now=T0,
            config=CONFIG,
        )
        assert entry is not None
        assert (entry.kind, entry.points, entry.note) == ("adjust", 75, "goodwill gesture")
        assert entry.available_at == T0 and entry.expires_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
        never = LoyaltyConfig(expiry_months=0)
        forever = ledger.adjust(
            s, person_id=pid, points=5, reason="x", key="adj:2", by_user_id=None, now=T0, config=never
        )
        assert forever is not None and forever.expires_at is None
        assert (
            ledger.adjust(
                s,
                person_id=pid,
                points=75,
                reason="again",
                key="adj:1",
                by_user_id=None,
                now=T0,
                config=CONFIG,
            )
            is None
        )
        summary = ledger.summary(s, person_id=pid, now=T0)
        assert (summary.balance, summary.issued, summary.available) == (80, 80, 80)


def test_adjust_down_draws_pending_points_too_and_refuses_past_zero(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        ready = earn(s, pid, 40, "e1", expires_in=100 * DAY)
        pend = earn(s, pid, 60, "e2", pending_days=14, expires_in=50 * DAY)
        gone = earn(s, pid, 500, "e3", expires_in=DAY, at=T0 - 5 * DAY)  # expired, not yet written
        with pytest.raises(ledger.Refused) as refused:
            ledger.adjust(
                s,
                person_id=pid,
                points=-101,
                reason="typo",
                key="adj:-1",
                by_user_id=None,
                now=T0,
                config=CONFIG,
            )
        assert refused.value.code == "not_enough_points"
        assert refused.value.message == (
            "This person has 100 points that can be taken off; the adjustment takes 101."
        )
        entry = ledger.adjust(
            s, person_id=pid, points=-70, reason="typo", key="adj:-2", by_user_id=None, now=T0, config=CONFIG
        )
        assert entry is not None and entry.points == -70
        # Draw order: the pending lot expires first, so it goes first; the expired lot is left alone.
        assert remaining(s, pid) == {ready: 30, gone: 500}
        assert pend not in remaining(s, pid)
        assert (
            ledger.adjust(
                s,
                person_id=pid,
                points=-70,
                reason="typo",
                key="adj:-2",
                by_user_id=None,
                now=T0,
                config=CONFIG,
            )
            is None
        )
        summary = ledger.summary(s, person_id=pid, now=T0)
        assert (summary.adjusted, summary.balance) == (70, 530)
        assert ledger.check(s) == []


def test_adjust_refuses_zero_points_and_a_missing_reason(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        for points, reason, code in ((0, "x", "no_points"), (10, "  ", "reason_needed")):
            with pytest.raises(ledger.Refused) as refused:
                ledger.adjust(
                    s,
                    person_id=pid,
                    points=points,
                    reason=reason,
                    key="k",
                    by_user_id=None,
                    now=T0,
                    config=CONFIG,
                )
            assert refused.value.code == code
        assert count_entries(s) == 0


# -- reading ----------------------------------------------------------------------------------------


def test_summary_of_someone_without_an_account_is_zeros(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        summary = ledger.summary(s, person_id=pid, now=T0)
        assert not summary.member
        assert (summary.balance, summary.available, summary.pending, summary.issued) == (0, 0, 0, 0)
        assert summary.expiring == [] and summary.tier == ""


def test_summary_splits_available_pending_and_points_past_expiry(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        earn(s, pid, 100, "e1", expires_in=20 * DAY)
        earn(s, pid, 40, "e2", pending_days=14, expires_in=365 * DAY)
        earn(s, pid, 25, "e3", at=T0 - 400 * DAY, expires_in=365 * DAY)  # expired, not yet written
        redeem(s, pid, 30, "r1")
        summary = ledger.summary(s, person_id=pid, now=T0, expiring_days=30)
        assert summary.member
        assert (summary.balance, summary.available, summary.pending) == (135, 70, 40)
        assert (summary.issued, summary.redeemed, summary.expired) == (165, 30, 0)
        assert summary.expiring == [(T0 + 20 * DAY, 70)]
        assert ledger.summary(s, person_id=pid, now=T0 + 14 * DAY).available == 110
        ledger.expire_due(s, now=T0)
        after = ledger.summary(s, person_id=pid, now=T0)
        assert (after.balance, after.available, after.expired) == (110, 70, 25)


def test_entries_of_newest_first_in_pages(db: Database) -> None:
    with db.transaction() as s:
        pid, other = person(s), person(s, "Bob")
        ids = [earn(s, pid, 10 + i, f"e{i}") for i in range(5)]
        earn(s, other, 10, "x")
        page = ledger.entries_of(s, person_id=pid, limit=3)
        assert [e.id for e in page] == ids[::-1][:3]
        rest = ledger.entries_of(s, person_id=pid, limit=3, before_id=page[-1].id)
        assert [e.id for e in rest] == ids[1::-1]


def test_totals_add_up_for_the_program(db: Database) -> None:
    with db.transaction() as s:
        ada, bob = person(s), person(s, "Bob")
        lot = earn(s, ada, 100, "e1", expires_in=10 * DAY)
        earn(s, ada, 50, "e2", pending_days=14)
        earn(s, bob, 70, "e3", expires_in=5 * DAY)
        redeem(s, ada, 30, "r1")
        ledger.reverse_earn(s, lot_id=lot, points=20, key="reverse:1", at=T0, reason="refund")
        ledger.adjust(
            s, person_id=bob, points=-10, reason="fix", key="a1", by_user_id=None, now=T0, config=CONFIG
        )
        ledger.adjust(
            s, person_id=bob, points=15, reason="fix", key="a2", by_user_id=None, now=T0, config=CONFIG
        )
        ledger.expire_due(s, now=T0 + 5 * DAY)
        totals = ledger.totals(s, now=T0)
        assert totals == ledger.ProgramTotals(
            members=2,
            issued=235,
            redeemed=30,
            expired=60,
            reversed=20,
            adjusted=10,
            outstanding=115,
            pending=50,
        )
        assert (
            totals.issued - totals.redeemed - totals.expired - totals.reversed - totals.adjusted
            == totals.outstanding
        )


# -- check ------------------------------------------------------------------------------------------


def _ledger_with_history(s: Session) -> tuple[int, int]:
    pid = person(s)
    lot = earn(s, pid, 100, "e1", expires_in=10 * DAY)
    earn(s, pid, 60, "e2")
    redeem(s, pid, 30, "r1")
    ledger.expire_due(s, now=T0 + 10 * DAY)
    return pid, lot


def test_check_finds_nothing_wrong_in_a_clean_ledger(db: Database) -> None:
    with db.transaction() as s:
        _ledger_with_history(s)
        assert ledger.check(s) == []


def test_check_reports_a_corrupted_stored_balance_and_issued(db: Database) -> None:
    with db.transaction() as s:
        pid, _ = _ledger_with_history(s)
        s.execute(
            text("UPDATE loyalty_accounts SET balance = balance + 5, issued = 3 WHERE person_id = :p"),
            {"p": pid},
        )
        assert ledger.check(s) == [
            ledger.BalanceMismatch(pid, "stored balance is 65 but the entries add up to 60"),
            ledger.BalanceMismatch(pid, "stored issued points are 3 but the lots add up to 160"),
        ]


def test_check_reports_a_negative_balance_and_a_missing_account(db: Database) -> None:
    with db.transaction() as s:
        pid, _ = _ledger_with_history(s)
        s.execute(text("UPDATE loyalty_accounts SET balance = -4 WHERE person_id = :p"), {"p": pid})
        problems = {m.problem for m in ledger.check(s)}
        assert "the stored balance is negative (-4)" in problems
        s.execute(text("DELETE FROM loyalty_accounts WHERE person_id = :p"), {"p": pid})
        assert ledger.check(s) == [
            ledger.BalanceMismatch(pid, "has entries adding up to 60 points but no loyalty account")
        ]


def test_check_reports_overdrawn_lots_and_entries_that_do_not_match_their_draws(db: Database) -> None:
    with db.transaction() as s:
        pid, lot = _ledger_with_history(s)
        spent = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == "r1")).one()
        s.add(LoyaltyDraw(entry_id=spent.id, lot_id=lot, points=5))
        s.flush()
        problems = [m.problem for m in ledger.check(s) if m.person_id == pid]
        assert problems == [
            f"lot {lot} had 100 points but 105 were drawn from it",
            f"entry {spent.id} (redeem, -30 points) does not match its draws (35 drawn)",
            f"lot {lot}: 100 points are stored as drawn from it, but its draws add up to 105",
        ]


def test_check_reports_draws_from_someone_elses_lot(db: Database) -> None:
    with db.transaction() as s:
        pid, _ = _ledger_with_history(s)
        bob = person(s, "Bob")
        bobs = earn(s, bob, 10, "b1")
        spent = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == "r1")).one()
        s.add(LoyaltyDraw(entry_id=spent.id, lot_id=bobs, points=0))
        s.flush()
        assert ledger.check(s) == [
            ledger.BalanceMismatch(pid, f"entry {spent.id} draws from entry {bobs}, not one of their lots")
        ]


def test_check_reports_a_lot_with_points_left_while_taking_it_back_fell_short(db: Database) -> None:
    with db.transaction() as s:
        pid = person(s)
        lot = earn(s, pid, 500, "e1")
        redeem(s, pid, 500, "r1")
        assert ledger.reverse_earn(s, lot_id=lot, points=500, key="reverse:c", at=T0, reason="cancelled") == 0
        assert ledger.check(s) == []
        # Points given back to the lot without settling its reversal: spendable points of a cancelled order.
        back = LoyaltyEntry(person_id=pid, kind="reverse", points=500, key="refund:raw", at=T0)
        s.add(back)
        s.flush()
        s.add(LoyaltyDraw(entry_id=back.id, lot_id=lot, points=-500))
        s.execute(
            text("UPDATE loyalty_accounts SET balance = balance + 500 WHERE person_id = :p"), {"p": pid}
        )
        s.execute(text("UPDATE loyalty_lots_drawn SET drawn = drawn - 500 WHERE lot_id = :l"), {"l": lot})
        s.flush()
        assert ledger.check(s) == [
            ledger.BalanceMismatch(
                pid, f"lot {lot} has 500 points left, but taking it back fell 500 points short"
            )
        ]


# -- concurrency ------------------------------------------------------------------------------------


def test_lock_account_takes_the_sqlite_write_lock(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as s:
        pid = person(s)
    other = Database(sqlite_db.url)
    try:
        with sqlite_db.transaction() as s:
            ledger.lock_account(s, person_id=pid, now=T0)
            with other.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA busy_timeout=0")
                with pytest.raises(OperationalError, match="locked"):
                    conn.exec_driver_sql("UPDATE loyalty_accounts SET tier = 'x'")
    finally:
        other.dispose()


def test_two_writers_with_one_key_write_once_on_postgres(pg_db: Database) -> None:
    with pg_db.transaction() as s:
        pid = person(s)
    results: list[LoyaltyEntry | None] = []

    def second_writer() -> None:
        with pg_db.transaction() as s2:
            results.append(
                ledger.add_lot(
                    s2,
                    person_id=pid,
                    kind=EntryKind.earn,
                    points=100,
                    key="earn:purchase:event:1",
                    at=T0,
                    available_at=T0,
                    expires_at=None,
                )
            )
            # The outer transaction survived the duplicate key: it can go on writing.
            earn(s2, pid, 1, "after")

    with pg_db.transaction() as s:
        earn(s, pid, 100, "earn:purchase:event:1")
        thread = threading.Thread(target=second_writer)
        thread.start()
        wait_for_waiters(pg_db)
    thread.join()
    assert results == [None]
    with pg_db.reading() as s:
        assert count_entries(s, "earn:purchase:event:1") == 1
        assert balance(s, pid) == 101
        assert ledger.check(s) == []


def test_locked_spenders_never_overspend_on_postgres(pg_db: Database) -> None:
    with pg_db.transaction() as s:
        pid = person(s)
        earn(s, pid, 100, "e1")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def spender(n: int) -> None:
        barrier.wait()
        try:
            with pg_db.transaction() as s:
                entry = redeem(s, pid, 40, f"redeem:{n}")
                outcomes.append("spent" if entry else "replayed")
        except ValueError:
            outcomes.append("short")

    threads = [threading.Thread(target=spender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["short", "short", "spent", "spent"]
    with pg_db.reading() as s:
        assert balance(s, pid) == 20
        assert ledger.check(s) == []
