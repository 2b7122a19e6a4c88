"""Redeeming rewards in one step: refusals in plain words, idempotent replays, fulfilment, refunds."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lock_waits import PATIENCE, granted_advisory_locks, wait_for_waiters
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from goodwill.bank.config import load_bank_config
from goodwill.bank.model import BankEntry, BankStanding
from goodwill.bank.service import refresh_people
from goodwill.config import load_settings
from goodwill.db import Database, utcnow
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.loyalty import ledger
from goodwill.loyalty.ledger import Refused
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, LoyaltyEntry, Redemption, Reward
from goodwill.loyalty.redemption import ShipTo, advance, redeem, redemptions, refund
from goodwill.loyalty.rewards import (
    RewardError,
    RewardInput,
    RewardNotFound,
    create_reward,
    get_reward,
    list_rewards,
    update_reward,
)
from goodwill.people.service import PersonRecord, create_person
from goodwill.team.model import User
from goodwill.team.service import create_user

PASSWORD = "a long enough staff password"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EARNED = NOW - timedelta(days=60)
# Paris: local dates in messages differ from UTC dates near midnight.
SETTINGS = load_settings(business={"timezone": "Europe/Paris"}, bank={"rules": {"reward_redeemed": 2}})
HOME = ShipTo(name=" Ann  Lee ", line1="1 Rue de la Paix", city="Paris", postal_code="75002", country="FR")
GIFT = RewardInput(name="Tote bag", kind="physical_gift", cost_points=300, stock=3)
DISCOUNT = RewardInput(name="10% off", kind="discount", cost_points=300)
TRIP = RewardInput(name="Roastery visit", kind="experience", cost_points=300)


def _person(s: Session, email: str = "ann@example.com") -> int:
    person, _ = create_person(s, PersonRecord(name="Ann", email=email), source="test")
    return person.id


def _staff(db: Database) -> int:
    """The fulfilment clerk (created once per database)."""
    with db.transaction() as s:
        found = s.scalar(select(User.id).where(User.email == "clerk@shop.test"))
        if found is not None:
            return found
        return create_user(session=s, email="clerk@shop.test", role="agent", password=PASSWORD).id


def _earn(
    s: Session,
    person_id: int,
    points: int,
    *,
    key: str,
    available_at: datetime = EARNED,
    expires_at: datetime | None = None,
) -> int:
    entry = ledger.add_lot(
        s,
        person_id=person_id,
        kind=EntryKind.earn,
        points=points,
        key=key,
        at=min(available_at, EARNED),
        available_at=available_at,
        expires_at=expires_at,
        rule="test",
    )
    assert entry is not None
    return entry.id


def _setup(db: Database, points: int, reward: RewardInput) -> tuple[int, int]:
    with db.transaction() as s:
        person_id = _person(s)
        if points:
            _earn(s, person_id, points, key="earn:seed")
        return person_id, create_reward(s, data=reward).id


def _redeem(
    db: Database, person_id: int, reward_id: int, key: str = "k1", ship_to: ShipTo | None = HOME, **kw: Any
) -> tuple[int, bool]:
    with db.transaction() as s:
        result = redeem(
            s,
            person_id=person_id,
            reward_id=reward_id,
            request_key=key,
            ship_to=ship_to,
            now=kw.get("now", NOW),
            by="customer",
            settings=SETTINGS,
        )
        return result.redemption.id, result.created


def _refused(db: Database, person_id: int, reward_id: int, **kw: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        _redeem(db, person_id, reward_id, **kw)
    return caught.value


def _state(db: Database, person_id: int, reward_id: int) -> tuple[int, int | None, int, int]:
    """(balance, stock, redemptions, redeem entries) as committed."""
    with db.reading() as s:
        account = s.get(LoyaltyAccount, person_id)
        reward = s.get(Reward, reward_id)
        assert reward is not None
        count = s.scalar(select(func.count()).select_from(Redemption))
        entries = s.scalar(select(func.count()).where(LoyaltyEntry.kind == EntryKind.redeem))
        return (account.balance if account else 0), reward.stock, count or 0, entries or 0


def _no_mismatch(db: Database) -> None:
    with db.reading() as s:
        assert ledger.check(s) == []


# --- Redeeming ---------------------------------------------------------------------------------


def test_redeeming_takes_points_stock_and_tells_the_bank(db: Database) -> None:
    person_id, reward_id = _setup(db, 1000, GIFT)
    redemption_id, created = _redeem(db, person_id, reward_id)
    assert created
    assert _state(db, person_id, reward_id) == (700, 2, 1, 1)
    with db.reading() as s:
        redemption = s.get(Redemption, redemption_id)
        assert redemption is not None
        assert (redemption.status, redemption.points) == ("pending", 300)
        assert redemption.ship_to == {
            "name": "Ann Lee", "line1": "1 Rue de la Paix", "line2": "", "city": "Paris", "region": "",
            "postal_code": "75002", "country": "FR",
        }  # fmt: skip
        assert redemption.history == [{"status": "pending", "at": NOW.isoformat(), "by": "customer"}]
        entry = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == f"redeem:{redemption_id}")).one()
        assert (entry.points, entry.redemption_id) == (-300, redemption_id)
        event = s.scalars(select(Event).where(Event.source_id == f"redemption:{redemption_id}")).one()
        assert (event.kind, event.source, event.text, event.person_id) == (
            "reward_redeemed", "loyalty", "Tote bag", person_id
        )  # fmt: skip
        bank = s.scalars(select(BankEntry).where(BankEntry.event_id == event.id)).one()
        assert (bank.rule, bank.amount) == ("reward_redeemed", 2)
        assert s.get(BankStanding, person_id) is not None
    _no_mismatch(db)


FIRST_STATUS = [(GIFT, "pending"), (TRIP, "to_fulfil"), (DISCOUNT, "delivered"),
    (replace(DISCOUNT, kind="donation"), "delivered"), (replace(DISCOUNT, kind="earned_bonus"), "delivered"),
    (replace(DISCOUNT, kind="free_shipping"), "delivered")]  # fmt: skip


@pytest.mark.parametrize(("reward", "status"), FIRST_STATUS, ids=[r.kind for r, _ in FIRST_STATUS])
def test_each_kind_starts_in_its_status(db: Database, reward: RewardInput, status: str) -> None:
    person_id, reward_id = _setup(db, 300, reward)
    redemption_id, _ = _redeem(
        db, person_id, reward_id, ship_to=HOME if reward.kind == "physical_gift" else None
    )
    with db.reading() as s:
        redemption = s.get(Redemption, redemption_id)
        assert redemption is not None
        assert redemption.status == status
        assert redemption.ship_to is None or reward.kind == "physical_gift"


def test_points_come_from_the_lots_expiring_first_and_expired_points_are_written_off(db: Database) -> None:
    with db.transaction() as s:
        person_id = _person(s)
        gone = _earn(s, person_id, 500, key="earn:gone", expires_at=NOW - timedelta(hours=1))
        later = _earn(s, person_id, 200, key="earn:later", expires_at=NOW + timedelta(days=200))
        sooner = _earn(s, person_id, 200, key="earn:sooner", expires_at=NOW + timedelta(days=20))
        reward_id = create_reward(s, data=DISCOUNT).id
    _redeem(db, person_id, reward_id)
    with db.reading() as s:
        remaining = {lot.id: lot.remaining for lot in ledger.lots_of(s, person_id=person_id)}
        assert remaining == {later: 100}
        assert gone not in remaining and sooner not in remaining
        expired = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == f"expire:{gone}")).one()
        assert expired.points == -500
    assert _state(db, person_id, reward_id)[0] == 100
    _no_mismatch(db)


# --- Refusals ----------------------------------------------------------------------------------

PARIS_MIDNIGHT_1_MARCH = datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
REFUSALS: list[tuple[str, RewardInput, int, ShipTo | None, str, str]] = [
    ("inactive", replace(DISCOUNT, active=False), 1000, None, "inactive",
     "This reward is not offered at the moment."),
    ("not-yet", replace(DISCOUNT, available_from=datetime(2026, 12, 2, 23, 30, tzinfo=UTC)), 1000, None,
     "not_yet_available", "This reward can be redeemed from 3 December."),
    ("ended", replace(DISCOUNT, available_from=datetime(2026, 1, 1, tzinfo=UTC),
                      available_until=PARIS_MIDNIGHT_1_MARCH), 1000, None,
     "no_longer_available", "This reward could be redeemed until 28 February."),
    ("ended-last-year", replace(DISCOUNT, available_until=datetime(2025, 6, 30, 12, tzinfo=UTC)), 1000, None,
     "no_longer_available", "This reward could be redeemed until 30 June 2025."),
    ("out-of-stock", replace(GIFT, stock=0), 1000, HOME, "out_of_stock", "This reward is out of stock."),
    ("no-address", GIFT, 1000, None, "address_needed",
     "This gift is sent by post: please give a delivery address."),
    ("no-city", GIFT, 1000, replace(HOME, city="  "), "address_needed", "The delivery address needs a city."),
    ("no-postcode", GIFT, 1000, replace(HOME, postal_code=""), "address_needed",
     "The delivery address needs a postal code."),
    ("long-postcode", GIFT, 1000, replace(HOME, postal_code="7" * 21), "address_invalid",
     "The address's postal code is too long (at most 20 characters)."),
    ("short", replace(DISCOUNT, cost_points=500), 420, None, "not_enough_points",
     "You have 420 points; this reward needs 500."),
    ("none", replace(DISCOUNT, cost_points=1500), 0, None, "not_enough_points",
     "You have 0 points; this reward needs 1,500."),
    ("one", replace(DISCOUNT, cost_points=500), 1, None, "not_enough_points",
     "You have 1 point; this reward needs 500."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("reward", "points", "ship_to", "code", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_a_refusal_says_why_and_writes_nothing(
    db: Database, reward: RewardInput, points: int, ship_to: ShipTo | None, code: str, message: str
) -> None:
    person_id, reward_id = _setup(db, points, reward)
    before = _state(db, person_id, reward_id)
    refused = _refused(db, person_id, reward_id, ship_to=ship_to)
    assert (refused.code, refused.message) == (code, message)
    assert _state(db, person_id, reward_id) == before
    _no_mismatch(db)


def test_an_unknown_reward_is_refused(db: Database) -> None:
    with db.transaction() as s:
        person_id = _person(s)
    refused = _refused(db, person_id, 999)
    assert (refused.code, refused.message) == ("unknown_reward", "There is no reward number 999.")


def test_pending_points_are_explained_with_the_local_date(db: Database) -> None:
    with db.transaction() as s:
        person_id = _person(s)
        _earn(s, person_id, 400, key="earn:old")
        # 23:30 UTC on 2 December is already 3 December in Paris.
        _earn(s, person_id, 200, key="earn:new", available_at=datetime(2026, 12, 2, 23, 30, tzinfo=UTC))
        reward_id = create_reward(s, data=replace(DISCOUNT, cost_points=500)).id
    refused = _refused(db, person_id, reward_id)
    assert (refused.code, refused.message) == (
        "points_pending",
        "You have 600 points, but 200 are still pending until 3 December; this reward needs 500.",
    )
    # Once they are available, the same request goes through.
    _redeem(db, person_id, reward_id, now=datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    assert _state(db, person_id, reward_id)[0] == 100


def test_pending_points_on_several_dates_name_the_day_enough_is_there(db: Database) -> None:
    with db.transaction() as s:
        person_id = _person(s)
        _earn(s, person_id, 400, key="earn:old")
        _earn(s, person_id, 100, key="earn:a", available_at=datetime(2026, 11, 25, 10, tzinfo=UTC))
        _earn(s, person_id, 100, key="earn:b", available_at=datetime(2026, 12, 3, 10, tzinfo=UTC))
        reward_id = create_reward(s, data=replace(DISCOUNT, cost_points=450)).id
        short_id = create_reward(s, data=replace(DISCOUNT, name="Big", cost_points=700)).id
    refused = _refused(db, person_id, reward_id)
    assert refused.message == (
        "You have 600 points, but 200 are still pending (enough of them from 25 November); "
        "this reward needs 450."
    )
    refused = _refused(db, person_id, short_id)
    assert (refused.code, refused.message) == (
        "not_enough_points",
        "You have 600 points (200 of them still pending); this reward needs 700.",
    )


def test_the_per_person_limit_counts_all_but_refunded_redemptions(db: Database) -> None:
    person_id, reward_id = _setup(db, 2000, replace(DISCOUNT, per_person_limit=2))
    first, _ = _redeem(db, person_id, reward_id, key="a")
    _redeem(db, person_id, reward_id, key="b")
    refused = _refused(db, person_id, reward_id, key="c")
    assert (refused.code, refused.message) == (
        "limit_reached",
        "You have already redeemed this reward 2 times; the limit is 2 per person.",
    )
    clerk = _staff(db)
    with db.transaction() as s:
        refund(s, redemption_id=first, by_user_id=clerk, now=NOW, reason="wrong size")
    _, created = _redeem(db, person_id, reward_id, key="c")
    assert created


def test_a_limit_of_one_reads_once(db: Database) -> None:
    person_id, reward_id = _setup(db, 2000, replace(DISCOUNT, per_person_limit=1))
    _redeem(db, person_id, reward_id, key="a")
    refused = _refused(db, person_id, reward_id, key="b")
    assert refused.message == "You have already redeemed this reward once; the limit is 1 per person."


# --- Idempotency -------------------------------------------------------------------------------


def test_the_same_request_twice_redeems_once(db: Database) -> None:
    person_id, reward_id = _setup(db, 1000, GIFT)
    first, created = _redeem(db, person_id, reward_id, key="abc")
    again, created_again = _redeem(db, person_id, reward_id, key=" abc ")
    assert (created, created_again, again) == (True, False, first)
    assert _state(db, person_id, reward_id) == (700, 2, 1, 1)
    with db.reading() as s:
        assert s.scalar(select(func.count()).where(Event.kind == "reward_redeemed")) == 1


def test_the_same_key_for_another_reward_is_refused(db: Database) -> None:
    person_id, reward_id = _setup(db, 1000, GIFT)
    with db.transaction() as s:
        other = create_reward(s, data=DISCOUNT).id
    _redeem(db, person_id, reward_id, key="abc")
    refused = _refused(db, person_id, other, key="abc")
    assert refused.code == "key_reused"
    assert _state(db, person_id, reward_id) == (700, 2, 1, 1)


def test_the_same_key_for_an_unknown_reward_is_refused_as_reused(db: Database) -> None:
    person_id, reward_id = _setup(db, 1000, GIFT)
    _redeem(db, person_id, reward_id, key="abc")
    refused = _refused(db, person_id, 999, key="abc")
    assert refused.code == "key_reused"


def test_objects_loaded_in_the_session_see_what_the_redemption_changed(db: Database) -> None:
    person_id, reward_id = _setup(db, 1000, GIFT)
    with db.transaction() as s:
        reward = get_reward(s, reward_id=reward_id)
        account = s.get(LoyaltyAccount, person_id)
        assert account is not None and (reward.stock, account.balance) == (3, 1000)
        result = redeem(
            s, person_id=person_id, reward_id=reward_id, request_key="k1", ship_to=HOME, now=NOW,
            by="customer", settings=SETTINGS,
        )  # fmt: skip
        assert (reward.stock, account.balance) == (2, 700)
        assert s.get(Redemption, result.redemption.id) is result.redemption
        assert (result.redemption.status, result.redemption.request_key, result.redemption.tracking) == (
            "pending", "k1", None
        )  # fmt: skip


def test_the_same_key_from_another_person_is_their_own_request(db: Database) -> None:
    person_id, reward_id = _setup(db, 1000, DISCOUNT)
    with db.transaction() as s:
        bo = _person(s, "bo@example.com")
        _earn(s, bo, 300, key="earn:bo")
    _redeem(db, person_id, reward_id, key="abc")
    _, created = _redeem(db, bo, reward_id, key="abc")
    assert created


def test_a_refund_gives_the_points_back_to_their_lots_once(db: Database) -> None:
    with db.transaction() as s:
        person_id = _person(s)
        a = _earn(s, person_id, 200, key="earn:a", expires_at=NOW + timedelta(days=10))
        b = _earn(s, person_id, 200, key="earn:b", expires_at=NOW + timedelta(days=90))
        reward_id = create_reward(s, data=GIFT).id
    redemption_id, _ = _redeem(db, person_id, reward_id)
    with db.reading() as s:
        assert {lot.id: lot.remaining for lot in ledger.lots_of(s, person_id=person_id)} == {b: 100}
    clerk = _staff(db)
    for _ in range(2):
        with db.transaction() as s:
            refunded = refund(s, redemption_id=redemption_id, by_user_id=clerk, now=NOW, reason=" damaged ")
            assert refunded.status == "refunded"
    assert _state(db, person_id, reward_id) == (400, 3, 1, 1)
    with db.reading() as s:
        assert {lot.id: lot.remaining for lot in ledger.lots_of(s, person_id=person_id)} == {a: 200, b: 200}
        back = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == f"refund:{redemption_id}")).one()
        assert back.points == 300
        redemption = s.get(Redemption, redemption_id)
        assert redemption is not None
        assert [step["status"] for step in redemption.history] == ["pending", "refunded"]
        assert redemption.history[-1]["reason"] == "damaged"
    _no_mismatch(db)


def test_refunding_an_unlimited_reward_leaves_its_stock_unlimited(db: Database) -> None:
    person_id, reward_id = _setup(db, 300, DISCOUNT)
    redemption_id, _ = _redeem(db, person_id, reward_id)
    clerk = _staff(db)
    with db.transaction() as s:
        refund(s, redemption_id=redemption_id, by_user_id=clerk, now=NOW, reason="")
    assert _state(db, person_id, reward_id) == (300, None, 1, 1)


def test_refunding_a_redemption_paid_with_a_cancelled_orders_points_gives_none_back(db: Database) -> None:
    with db.transaction() as s:
        person_id = _person(s)
        order_lot = _earn(s, person_id, 500, key="earn:order")
        reward_id = create_reward(s, data=replace(DISCOUNT, cost_points=500)).id
    redemption_id, _ = _redeem(db, person_id, reward_id)
    with db.transaction() as s:  # the order is cancelled after its points were spent
        cancel = f"reverse:{order_lot}:cancel:1"
        assert (
            ledger.reverse_earn(s, lot_id=order_lot, points=500, key=cancel, at=NOW, reason="cancelled") == 0
        )
    clerk = _staff(db)
    for _ in range(2):
        with db.transaction() as s:
            refund(s, redemption_id=redemption_id, by_user_id=clerk, now=NOW, reason="changed their mind")
    assert _state(db, person_id, reward_id) == (0, None, 1, 1)
    with db.reading() as s:
        points = ledger.summary(s, person_id=person_id, now=NOW)
        assert (points.balance, points.available, points.pending) == (0, 0, 0)
        back = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == f"refund:{redemption_id}")).one()
        settled = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key.like("settle:%"))).one()
        assert settled.key == f"settle:{order_lot}:{back.id}"
        assert (settled.kind, settled.points, settled.reverses_id) == ("reverse", -500, order_lot)
    _no_mismatch(db)


def _stock_runs_out_just_before_it_is_taken(db: Database, reward_id: int) -> Callable[[], None]:
    """Set the reward's stock to 0 on the redeeming connection right before the statement that
    takes it: what the locks rule out, forced, to see that a refusal then has written nothing."""
    done: list[bool] = []

    def run_out(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not done and "UPDATE loyalty_rewards SET stock" in statement:
            done.append(True)
            cursor.execute(f"UPDATE loyalty_rewards SET stock = 0 WHERE id = {int(reward_id)}")

    event.listen(db.engine, "before_cursor_execute", run_out)
    return lambda: event.remove(db.engine, "before_cursor_execute", run_out)


def test_stock_gone_at_the_write_is_refused_and_a_caught_refusal_leaves_nothing_written(db: Database) -> None:
    person_id, reward_id = _setup(db, 1000, GIFT)
    stop = _stock_runs_out_just_before_it_is_taken(db, reward_id)
    try:
        with db.transaction() as s:  # a caller that catches the refusal and commits (as the demo does)
            with pytest.raises(Refused) as caught:
                redeem(
                    s, person_id=person_id, reward_id=reward_id, request_key="k1", ship_to=HOME, now=NOW,
                    by="customer", settings=SETTINGS,
                )  # fmt: skip
            assert caught.value.code == "out_of_stock"
    finally:
        stop()
    assert _state(db, person_id, reward_id) == (1000, 0, 0, 0)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.kind == "reward_redeemed")) == 0
        assert s.scalar(select(func.count()).select_from(LoyaltyEntry)) == 1  # the seed earn
    _no_mismatch(db)


# --- Fulfilment --------------------------------------------------------------------------------

# (reward, moves that reach the starting status, asked status, refusal message or None if allowed)
FLOW: list[tuple[str, RewardInput, tuple[str, ...], str, str | None]] = [
    ("gift-pending-to-fulfil", GIFT, (), "to_fulfil", None),
    ("gift-to-fulfil-shipped", GIFT, ("to_fulfil",), "shipped", None),
    ("gift-shipped-delivered", GIFT, ("to_fulfil", "shipped"), "delivered", None),
    ("trip-to-fulfil-delivered", TRIP, (), "delivered", None),
    ("gift-pending-shipped", GIFT, (), "shipped",
     "A pending reward can only be marked to fulfil or refunded."),
    ("gift-pending-delivered", GIFT, (), "delivered",
     "A pending reward can only be marked to fulfil or refunded."),
    ("gift-to-fulfil-delivered", GIFT, ("to_fulfil",), "delivered",
     "A reward waiting to be fulfilled can only be marked shipped or refunded."),
    ("gift-to-fulfil-pending", GIFT, ("to_fulfil",), "pending",
     "A reward waiting to be fulfilled can only be marked shipped or refunded."),
    ("gift-shipped-to-fulfil", GIFT, ("to_fulfil", "shipped"), "to_fulfil",
     "A shipped reward can only be marked delivered or refunded."),
    ("gift-delivered-shipped", GIFT, ("to_fulfil", "shipped", "delivered"), "shipped",
     "A delivered reward can only be refunded."),
    ("trip-to-fulfil-shipped", TRIP, (), "shipped",
     "A reward waiting to be fulfilled can only be marked delivered or refunded."),
    ("discount-delivered-to-fulfil", DISCOUNT, (), "to_fulfil", "A delivered reward can only be refunded."),
    ("gift-refunded-delivered", GIFT, ("refunded",), "delivered",
     "A refunded reward cannot change any more."),
    ("gift-unknown-status", GIFT, (), "lost", "A pending reward can only be marked to fulfil or refunded."),
    ("gift-advance-to-refunded", GIFT, ("to_fulfil",), "refunded",
     "Refund it instead: that gives the points back and returns the stock."),
]  # fmt: skip


def _move(db: Database, redemption_id: int, to_status: str, by: int, **kw: Any) -> Redemption:
    with db.transaction() as s:
        if to_status == "refunded" and not kw.get("advance"):
            return refund(s, redemption_id=redemption_id, by_user_id=by, now=NOW, reason="test")
        return advance(s, redemption_id=redemption_id, to_status=to_status, by_user_id=by, now=NOW,
                       tracking=kw.get("tracking"))  # fmt: skip


@pytest.mark.parametrize(
    ("reward", "moves", "to_status", "refusal"), [f[1:] for f in FLOW], ids=[f[0] for f in FLOW]
)
def test_the_fulfilment_flow(
    db: Database, reward: RewardInput, moves: tuple[str, ...], to_status: str, refusal: str | None
) -> None:
    person_id, reward_id = _setup(db, 300, reward)
    clerk = _staff(db)
    redemption_id, _ = _redeem(
        db, person_id, reward_id, ship_to=HOME if reward.kind == "physical_gift" else None
    )
    for status in moves:
        _move(db, redemption_id, status, clerk)
    if refusal is None:
        moved = _move(db, redemption_id, to_status, clerk)
        assert moved.status == to_status
        assert moved.history[-1] == {"status": to_status, "at": NOW.isoformat(), "by": clerk}
        assert len(moved.history) == len(moves) + 2
    else:
        with pytest.raises(Refused) as caught:
            _move(db, redemption_id, to_status, clerk, advance=True)
        assert (caught.value.code, caught.value.message) == ("bad_transition", refusal)
    with db.reading() as s:
        stored = s.get(Redemption, redemption_id)
        assert stored is not None
        assert len(stored.history) == len(moves) + (2 if refusal is None else 1)


def test_shipping_records_the_tracking_and_repeating_a_move_changes_nothing(db: Database) -> None:
    person_id, reward_id = _setup(db, 300, GIFT)
    clerk = _staff(db)
    redemption_id, _ = _redeem(db, person_id, reward_id)
    _move(db, redemption_id, "to_fulfil", clerk)
    shipped = _move(db, redemption_id, "shipped", clerk, tracking=" LA123456789FR ")
    again = _move(db, redemption_id, "shipped", clerk, tracking="other")
    assert (shipped.tracking, again.tracking) == ("LA123456789FR", "LA123456789FR")
    assert [step["status"] for step in again.history] == ["pending", "to_fulfil", "shipped"]
    with db.reading() as s:
        assert [r.id for r in redemptions(s, statuses=["shipped"])] == [redemption_id]
        assert redemptions(s, statuses=["pending", "to_fulfil"]) == []
        assert [r.id for r in redemptions(s, person_id=person_id)] == [redemption_id]


def test_an_unknown_redemption_is_refused(db: Database) -> None:
    clerk = _staff(db)
    with pytest.raises(Refused) as caught:
        _move(db, 404, "shipped", clerk)
    assert caught.value.code == "unknown_redemption"
    with pytest.raises(Refused):
        _move(db, 404, "refunded", clerk)


# --- The catalogue -----------------------------------------------------------------------------


def test_the_catalogue_lists_what_can_be_redeemed_now(db: Database) -> None:
    with db.transaction() as s:
        ids = {
            data.name: create_reward(s, data=data).id
            for data in [
                replace(GIFT, name="Mug", cost_points=200),
                replace(DISCOUNT, name="Off", active=False),
                replace(GIFT, name="Gone", stock=0),
                replace(TRIP, name="Soon", available_from=NOW + timedelta(days=1)),
                replace(TRIP, name="Over", available_until=NOW),
                replace(
                    TRIP, name="Open", cost_points=900, available_from=NOW, available_until=NOW + timedelta(1)
                ),
                replace(DISCOUNT, name="Always", stock=None),
            ]
        }
    with db.reading() as s:
        assert [r.name for r in list_rewards(s, available_at=NOW)] == ["Mug", "Always", "Open"]
        assert len(list_rewards(s)) == 7
        assert get_reward(s, reward_id=ids["Mug"]).cost_points == 200
        with pytest.raises(RewardNotFound):
            get_reward(s, reward_id=999)


def test_updating_a_reward_replaces_its_fields_after_checking_them(db: Database) -> None:
    with db.transaction() as s:
        reward_id = create_reward(s, data=GIFT).id
    with db.transaction() as s:
        update_reward(
            s, reward_id=reward_id, data=replace(GIFT, name=" Big  tote ", stock=None, per_person_limit=1)
        )
    with db.transaction() as s, pytest.raises(RewardError) as caught:
        update_reward(s, reward_id=reward_id, data=replace(GIFT, cost_points=0))
    assert caught.value.field == "cost_points"
    with db.transaction() as s, pytest.raises(RewardError) as caught:
        create_reward(s, data=replace(GIFT, kind="coupon"))
    assert caught.value.field == "kind"
    with db.transaction() as s, pytest.raises(RewardNotFound):
        update_reward(s, reward_id=999, data=GIFT)
    with db.reading() as s:
        reward = get_reward(s, reward_id=reward_id)
        assert (reward.name, reward.stock, reward.per_person_limit, reward.cost_points) == (
            "Big tote",
            None,
            1,
            300,
        )
        assert s.scalar(select(func.count()).select_from(Reward)) == 1


def _complaint(s: Session, person_id: int, at: datetime, source_id: str) -> None:
    new = NewEvent(person_id=person_id, kind="complaint", occurred_at=at, source="test", source_id=source_id)
    record_event(s, new)
    bank, currency = load_bank_config(SETTINGS), SETTINGS.business.currency
    refresh_people(session=s, person_ids=[person_id], config=bank, currency=currency, now=at)


def _bank_as_stored(db: Database, person_id: int) -> tuple[float, int, str, list[tuple[int, str, int]]]:
    with db.reading() as s:
        standing = s.get_one(BankStanding, person_id)
        entries = s.execute(
            select(BankEntry.event_id, BankEntry.rule, BankEntry.amount)
            .where(BankEntry.person_id == person_id)
            .order_by(BankEntry.event_id, BankEntry.rule)
        ).all()
        return standing.score, standing.bad_streak, standing.status, [tuple(e) for e in entries]


def _bank_is_as_a_full_refresh_leaves_it(db: Database, person_id: int, now: datetime) -> None:
    """Re-projecting the person's whole history changes nothing the redemptions left."""
    stored = _bank_as_stored(db, person_id)
    with db.transaction() as s:
        bank, currency = load_bank_config(SETTINGS), SETTINGS.business.currency
        report = refresh_people(session=s, person_ids=[person_id], config=bank, currency=currency, now=now)
    assert (report.added, report.removed, report.changed) == (0, 0, 0)
    fresh = _bank_as_stored(db, person_id)
    assert math.isclose(stored[0], fresh[0], rel_tol=1e-12) and stored[1:] == fresh[1:]


def _redeem_in_thread(db: Database, person_id: int, reward_id: int) -> tuple[threading.Thread, list[Any]]:
    """A live redemption (``now=None``) in its own thread; its result, or what it raised, in the list."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(_redeem(db, person_id, reward_id, now=None))
        except BaseException as exc:  # re-raised by the test
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _finished(thread: threading.Thread, outcome: list[Any]) -> tuple[int, bool]:
    thread.join(PATIENCE)
    assert not thread.is_alive() and outcome, "the redemption did not finish"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    result: tuple[int, bool] = outcome[0]
    return result


def test_redemptions_leave_the_bank_as_a_full_refresh_would(db: Database) -> None:
    """The redemption appends its event to the standing it read with the reward (under the bank's
    hold): after each one, re-projecting the person's whole history changes nothing."""
    person_id, reward_id = _setup(db, 2000, DISCOUNT)
    with db.transaction() as s:
        _complaint(s, person_id, NOW - timedelta(days=2), "c1")  # a bad streak the deposit answers
    # Three complaints each followed by a redemption; then a complaint already refreshed into the
    # standing before a redemption dated earlier (a request that waited for the lock): that standing
    # is no place to append to, and the whole history is read (as of the redemption, the complaint
    # is still to come).
    steps = [(10, 30, 0), (70, 90, 0), (130, 150, 0), (200, 195, 0)]
    for n, (complained, redeemed, streak) in enumerate(steps):
        with db.transaction() as s:
            _complaint(s, person_id, NOW + timedelta(minutes=complained), f"c-{n}")
        _redeem(db, person_id, reward_id, key=f"k{n}", now=NOW + timedelta(minutes=redeemed))
        assert _bank_as_stored(db, person_id)[1] == streak  # the reward answered the complaint before it
        _bank_is_as_a_full_refresh_leaves_it(db, person_id, NOW + timedelta(minutes=redeemed))


def test_a_redemption_reads_the_bank_standing_only_once_it_holds_the_bank(pg_db: Database) -> None:
    """Another unit of work changing the person's bank (a complaint coming in) holds it; the
    redemption waits for it before reading the standing it appends to, so nothing is lost."""
    db = pg_db
    person_id, reward_id = _setup(db, 2000, DISCOUNT)
    with db.transaction() as s:
        _complaint(s, person_id, NOW - timedelta(days=2), "c0")
    with db.transaction() as s:
        _complaint(s, person_id, NOW - timedelta(hours=1), "c1")  # holds the bank until committed
        thread, outcome = _redeem_in_thread(db, person_id, reward_id)
        wait_for_waiters(db, wait_event="advisory")
    assert _finished(thread, outcome)[1]
    _bank_is_as_a_full_refresh_leaves_it(db, person_id, utcnow())


def test_a_live_redemption_waits_for_the_account_first_and_is_dated_after_the_wait(pg_db: Database) -> None:
    """The account, then the bank: while the redemption waits for the account it holds no bank (the
    order every unit of work keeps, so none can deadlock). ``now=None`` (the API, the customer page)
    reads the clock once the account is held: the redemption is dated after the wait."""
    db = pg_db
    person_id, reward_id = _setup(db, 2000, DISCOUNT)
    with db.transaction() as s:
        _complaint(s, person_id, NOW - timedelta(days=2), "c0")  # a standing to append to
    with db.transaction() as s:
        ledger.lock_account(s, person_id=person_id, now=NOW)  # another unit of work holds the account
        thread, outcome = _redeem_in_thread(db, person_id, reward_id)
        wait_for_waiters(db, wait_event="transactionid")  # for the transaction holding the row
        assert granted_advisory_locks(db) == 0
        released = utcnow()
    redemption_id, created = _finished(thread, outcome)
    assert created
    with db.reading() as s:
        made = s.get_one(Redemption, redemption_id).created_at
        dated = s.scalar(select(Event.occurred_at).where(Event.source_id == f"redemption:{redemption_id}"))
    assert dated is not None and made > released and dated > released
