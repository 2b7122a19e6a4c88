"""Redeeming a reward in one step, and the fulfilment flow that follows.

``redeem`` is one atomic call: it locks the person's account, then their bank, then the reward
row (always in that order, so two redemptions never deadlock), writes any expiries that are due,
checks the reward and the points, and writes the redemption, its ledger entry, the stock and a
``reward_redeemed`` event together. A refusal says why in plain words, with the numbers. Callers
own the transaction.

It is a hot path, so it costs few statements, built once (on PostgreSQL run on the driver's cursor,
``db.DriverStatement``): the account lock with the bank's hold (PostgreSQL: one statement); one read
of the reward (locked) with everything the checks need (the person's lots, their count of this
reward, a redemption already made with the request key) and the person's bank standing; on
PostgreSQL one statement for every write, the bank's append of the reward_redeemed event to that
standing included when it is one entry and a new standing (``bank.service.plan_append``, the usual
case); on SQLite one statement each, then the bank's append. Expiries are written only when due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    BigInteger,
    Table,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, make_transient_to_detached

from goodwill.bank.config import load_bank_config
from goodwill.bank.service import (
    APPEND_BINDS,
    APPEND_CTES,
    STANDING_TO_APPEND,
    StoredEvent,
    hold_people,
    hold_person_sql,
    plan_append,
    refresh_appended,
    refresh_people,
)
from goodwill.config import Settings
from goodwill.db import DriverStatement, UTCDateTime, rows_changed, utcnow
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.loyalty.ledger import (
    HOLD_ACCOUNT,
    LOTS_JSON,
    LoyaltyError,
    Refused,
    expire_held,
    forget_accounts,
    give_back,
    hold_account,
    lock_account,
    lots_from_json,
    lots_of,
    take,
)
from goodwill.loyalty.lots import Lot, pending, plan_draws, spendable
from goodwill.loyalty.model import (
    EntryKind,
    LoyaltyAccount,
    LoyaltyDraw,
    LoyaltyEntry,
    Redemption,
    RedemptionStatus,
    Reward,
)
from goodwill.loyalty.rewards import (
    ShipTo,
    check_ship_to,
    first_status,
    local_day,
    needs_address,
    next_statuses,
    not_enough_message,
    pending_message,
    times,
    transition_message,
)

S = RedemptionStatus
_RewardRow = Any  # REWARD_TO_REDEEM's row: the driver's row on PostgreSQL, SQLAlchemy's on SQLite
__all__ = ["RedeemResult", "ShipTo", "advance", "redeem", "redemptions", "refund"]
REQUEST_KEY_MAX = 200  # loyalty_redemptions.request_key


@dataclass(frozen=True)
class RedeemResult:
    redemption: Redemption
    created: bool


def _history(redemption: Redemption, status: str, now: datetime, by: str | int, **extra: Any) -> None:
    # A new list, not append: the JSON column is only written when the attribute is assigned.
    step = {"status": status, "at": now.isoformat(), "by": by, **extra}
    redemption.history = [*(redemption.history or []), step]


_R = typed(Table, Redemption.__table__)
_W = typed(Table, Reward.__table__)
_A = typed(Table, LoyaltyAccount.__table__)

# Statements built once: redeem is a hot path, and building statements and running them through
# the ORM cost more than the queries. They run on the session's connection, under the account lock.
_PERSON = bindparam("person", type_=BigInteger())
STORED = select(_R.c.id).where(_R.c.person_id == _PERSON, _R.c.request_key == bindparam("request"))
# The person's redemptions of this reward that count against its per-person limit; counted only
# when it has one (the database evaluates a CASE's subquery only for the branch taken), so a
# member's past redemptions of an unlimited reward are not read at every redemption.
_COUNTED = case(
    (
        _W.c.per_person_limit.is_not(None),
        select(func.count())
        .select_from(_R)
        .where(_R.c.person_id == _PERSON, _R.c.reward_id == _W.c.id, _R.c.status != S.refunded)
        .scalar_subquery(),
    ),
    else_=literal_column("0"),
)
# The reward, locked, with all redeem decides on: the person's redemptions of it that count
# against its limit, a redemption already made with this request key, and the person's lots.
# And the person's bank standing to append the reward_redeemed event to (``refresh_appended``), read
# under the hold of their bank that ``_hold`` takes with the account (no standing: NULL columns).
_STANDING = STANDING_TO_APPEND.add_columns(literal(True).label("has_standing")).subquery("standing")
REWARD_TO_REDEEM = {
    dialect: DriverStatement(select(
        _W.c.id, _W.c.name, _W.c.kind, _W.c.cost_points, _W.c.stock, _W.c.per_person_limit,
        _W.c.available_from, _W.c.available_until, _W.c.active,
        _COUNTED.label("done"), STORED.scalar_subquery().label("stored_id"), lots.label("lots"),
        *_STANDING.c,
    )
    .select_from(_W.outerjoin(_STANDING, true()))
    .where(_W.c.id == bindparam("reward"))
    .with_for_update(of=_W))
    for dialect, lots in LOTS_JSON.items()
}  # fmt: skip
# PostgreSQL: the account's row lock, then the person's bank (the order every unit of work keeps,
# ``bank.service.hold_people``), in one statement: the outer query's output is computed on the row
# the inner FOR UPDATE (``ledger.HOLD_ACCOUNT``'s) has locked. No row: no account yet, and neither
# is held.
_LOCKED_ACCOUNT = HOLD_ACCOUNT.add_columns(_A.c.person_id).subquery()
HOLD_ACCOUNT_AND_BANK = DriverStatement(
    select(hold_person_sql(_LOCKED_ACCOUNT.c.person_id)).select_from(_LOCKED_ACCOUNT)
)
TAKE_STOCK = (
    update(_W)
    .where(_W.c.id == bindparam("reward"), _W.c.stock > 0)  # never below zero, lock or not
    .values(stock=_W.c.stock - 1, updated_at=bindparam("wall", type_=UTCDateTime()))
)
# PostgreSQL: every write of a redemption in one statement, all or nothing. The redemption; the
# stock; the ledger entry, its draws, the lots' drawn points and the debit of the stored balance
# (what ``ledger.take`` writes, for draws just planned under the lock, and the balance never below
# zero); and the reward_redeemed event (what ``record_event`` writes). The redemption, and so
# everything else, is written only if the reward still has stock (or none is kept): the locks make
# that so already, but a refusal must never follow a write, as a caller may catch it and commit.
# One row always: its id is NULL if nothing was written (``in_stock`` says whether for want of stock
# or a taken request key).
_WRITES = """
WITH reward AS (
    SELECT stock FROM loyalty_rewards WHERE id = :reward AND (stock IS NULL OR stock > 0)
), redemption AS (
    INSERT INTO loyalty_redemptions (person_id, reward_id, points, status, request_key, ship_to,
                                     tracking, history, created_at, updated_at)
    SELECT :person, :reward, :cost, :status, :request, :ship_to, NULL, :history, :now, :now FROM reward
    ON CONFLICT (person_id, request_key) DO NOTHING
    RETURNING id
), stock AS (
    UPDATE loyalty_rewards SET stock = stock - 1, updated_at = :wall
    WHERE id = :reward AND stock > 0 AND EXISTS (SELECT FROM redemption)
    RETURNING id
), entry AS (
    INSERT INTO loyalty_entries (person_id, kind, points, key, redemption_id, at, note, recorded_at)
    SELECT :person, 'redeem', -:cost, 'redeem:' || id, id, :now, :name, :wall FROM redemption
    ON CONFLICT (key) DO NOTHING
    RETURNING id
), draws AS (
    INSERT INTO loyalty_draws (entry_id, lot_id, points)
    SELECT entry.id, part.lot_id, part.points
    FROM entry, unnest(:lot_ids, :lot_points) AS part (lot_id, points)
    RETURNING lot_id, points
), lots_drawn AS (
    INSERT INTO loyalty_lots_drawn (lot_id, drawn)
    SELECT lot_id, points FROM draws
    ON CONFLICT (lot_id) DO UPDATE SET drawn = loyalty_lots_drawn.drawn + excluded.drawn
), debit AS (
    UPDATE loyalty_accounts SET balance = balance - :cost, updated_at = :wall
    WHERE person_id = :person AND balance >= :cost AND EXISTS (SELECT FROM entry)
    RETURNING person_id
), event AS (
    INSERT INTO events (person_id, kind, occurred_at, text, source, source_id, recorded_at)
    SELECT :person, 'reward_redeemed', :now, :name, 'loyalty', 'redemption:' || id, :wall
    FROM redemption
    ON CONFLICT (source, source_id) DO NOTHING
    RETURNING id
)"""
_WRITTEN = """
SELECT (SELECT id FROM redemption) AS id, (SELECT id FROM entry) AS entry_id,
       (SELECT count(*) FROM draws) AS draws, (SELECT count(*) FROM debit) AS debits,
       (SELECT count(*) FROM stock) AS stock_taken, (SELECT count(*) FROM reward) AS in_stock,
       (SELECT count(stock) FROM reward) AS stock_kept, (SELECT id FROM event) AS event_id"""
_WRITE_BINDS = (
    bindparam("cost", type_=BigInteger()),
    bindparam("ship_to", type_=_R.c.ship_to.type),
    bindparam("history", type_=_R.c.history.type),
    bindparam("now", type_=UTCDateTime()),
    bindparam("wall", type_=UTCDateTime()),
    bindparam("lot_ids", type_=postgresql.ARRAY(BigInteger())),
    bindparam("lot_points", type_=postgresql.ARRAY(BigInteger())),
)
REDEMPTION_WRITES = DriverStatement(text(_WRITES + _WRITTEN + ", 0 AS banked").bindparams(*_WRITE_BINDS))
# The same and the bank's append of the reward_redeemed event (``bank.service.plan_append``): one
# statement fewer, and one round trip less under the person's locks.
REDEMPTION_AND_BANK_WRITES = DriverStatement(
    text(
        _WRITES
        + ", appended_event AS (SELECT id FROM event), "
        + APPEND_CTES
        + _WRITTEN
        + ", (SELECT count(*) FROM bank_standing) AS banked"
    ).bindparams(*_WRITE_BINDS, *APPEND_BINDS)
)


@dataclass(frozen=True)
class _Planned:
    """A redemption that passed every check, with the draws planned for it."""

    person_id: int
    reward: _RewardRow
    key: str
    status: str
    ship_to: dict[str, str] | None
    history: list[dict[str, Any]]
    draws: list[tuple[int, int]]
    now: datetime

    def redemption(self, **known: Any) -> Redemption:
        return Redemption(
            person_id=self.person_id,
            reward_id=self.reward.id,
            points=self.reward.cost_points,
            status=self.status,
            request_key=self.key,
            ship_to=self.ship_to,
            tracking=None,
            history=self.history,
            created_at=self.now,
            updated_at=self.now,
            **known,
        )


# What a write returns: the redemption stored, its reward_redeemed event (for the bank) if stored,
# and whether the bank's append was written with it.
_Written = tuple[Redemption, StoredEvent | Event | None, bool]


def _write_in_one(session: Session, plan: _Planned, append: dict[str, Any] | None) -> _Written | None:
    """``append``: the bank's append of the event (``plan_append``), written in the same statement."""
    reward = plan.reward
    params = {
        "person": plan.person_id,
        "reward": reward.id,
        "cost": reward.cost_points,
        "status": str(plan.status),
        "request": plan.key,
        "ship_to": plan.ship_to,
        "history": plan.history,
        "now": plan.now,
        "wall": utcnow(),
        "name": reward.name,
        "lot_ids": [lot for lot, _ in plan.draws],
        "lot_points": [points for _, points in plan.draws],
    }
    if append is None:
        made = REDEMPTION_WRITES.first(session.connection(), params)
    else:
        made = REDEMPTION_AND_BANK_WRITES.first(session.connection(), params | append)
    if made.id is None:
        if not made.in_stock:  # nothing was written
            raise Refused("out_of_stock", "This reward is out of stock.")
        return None
    # Past this point something was written: a failure is a bug, and the caller must roll back.
    if made.entry_id is None:
        raise LoyaltyError(f"redemption {made.id} already has a ledger entry")
    if made.draws != len(plan.draws) or made.debits != 1:
        raise LoyaltyError(f"person {plan.person_id}: the stored balance is below {reward.cost_points}")
    if made.stock_taken != made.stock_kept:
        raise LoyaltyError(f"redemption {made.id}: the stock of reward {reward.id} was not taken")
    if append is not None and made.banked != (made.event_id is not None):
        raise LoyaltyError(f"redemption {made.id}: the bank's append was not written with its event")
    forget_accounts(session, [plan.person_id])
    # The redemption as the session would have loaded it, without reading it back.
    redemption = plan.redemption(id=made.id)
    make_transient_to_detached(redemption)
    session.add(redemption)
    event = None
    if made.event_id is not None:
        event = StoredEvent(
            id=made.event_id,
            person_id=plan.person_id,
            kind="reward_redeemed",
            occurred_at=plan.now,
            text=reward.name,
        )
    return redemption, event, bool(made.banked)


def _write_in_steps(session: Session, plan: _Planned) -> _Written:
    """The writes of REDEMPTION_WRITES one by one (SQLite, where the database lock taken with the
    account's keeps out any twin request, so the insert cannot meet the same key). The stock first:
    if it is gone, the refusal comes before anything is written."""
    reward = plan.reward
    if reward.stock is not None:
        taken = session.connection().execute(TAKE_STOCK, {"reward": reward.id, "wall": utcnow()})
        if rows_changed(taken) != 1:
            raise Refused("out_of_stock", "This reward is out of stock.")
    redemption = plan.redemption()
    session.add(redemption)
    session.flush()
    entry = take(
        session,
        person_id=plan.person_id,
        kind=EntryKind.redeem,
        key=f"redeem:{redemption.id}",
        at=plan.now,
        draws=plan.draws,
        redemption_id=redemption.id,
        note=reward.name,
    )
    if entry is None:
        raise LoyaltyError(f"redemption {redemption.id} already has a ledger entry")
    event, created = record_event(
        session,
        NewEvent(
            person_id=plan.person_id,
            kind="reward_redeemed",
            occurred_at=plan.now,
            source="loyalty",
            source_id=f"redemption:{redemption.id}",
            text=reward.name,
        ),
    )
    return redemption, event if created else None, False


def _stored(session: Session, redemption_id: int) -> Redemption:
    return session.get_one(Redemption, redemption_id, populate_existing=True)


def _replay(stored: Redemption, reward_id: int) -> RedeemResult:
    if stored.reward_id != reward_id:
        raise Refused("key_reused", "This request was already used to redeem a different reward.")
    return RedeemResult(stored, created=False)


def _locked_reward(session: Session, reward_id: int) -> Reward | None:
    return session.scalar(
        select(Reward)
        .where(Reward.id == reward_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _check_reward(reward: _RewardRow, *, now: datetime, settings: Settings) -> None:
    tz = settings.business.tz
    if not reward.active:
        raise Refused("inactive", "This reward is not offered at the moment.")
    if reward.available_from is not None and reward.available_from > now:
        day = local_day(reward.available_from, tz, now)
        raise Refused("not_yet_available", f"This reward can be redeemed from {day}.")
    if reward.available_until is not None and reward.available_until <= now:
        # The window's end is exclusive: its last day is the one before a midnight end.
        day = local_day(reward.available_until - timedelta(microseconds=1), tz, now)
        raise Refused("no_longer_available", f"This reward could be redeemed until {day}.")
    if reward.stock is not None and reward.stock <= 0:
        raise Refused("out_of_stock", "This reward is out of stock.")
    # ``done`` was counted under the account lock, so two requests cannot both see one slot left.
    if reward.per_person_limit is not None and reward.done >= reward.per_person_limit:
        raise Refused(
            "limit_reached",
            f"You have already redeemed this reward {times(reward.done)}; "
            f"the limit is {reward.per_person_limit} per person.",
        )


def _check_points(lots: list[Lot], cost: int, now: datetime, settings: Settings) -> None:
    usable = spendable(lots, now)
    if usable >= cost:
        return
    waiting = pending(lots, now)
    # The first moment enough pending points have become spendable (expiries counted), if ever.
    moments = sorted({lot.available_at for lot in lots if lot.remaining > 0 and lot.is_pending(now)})
    ready = next((moment for moment in moments if spendable(lots, moment) >= cost), None)
    if ready is None:
        raise Refused("not_enough_points", not_enough_message(usable, waiting, cost))
    all_by_then = all(
        local_day(lot.available_at, settings.business.tz, now) == local_day(ready, settings.business.tz, now)
        for lot in lots
        if lot.remaining > 0 and lot.is_pending(now)
    )
    day = local_day(ready, settings.business.tz, now)
    raise Refused("points_pending", pending_message(usable, waiting, cost, day, all_by_then))


def redeem(
    session: Session,
    *,
    person_id: int,
    reward_id: int,
    request_key: str,
    ship_to: ShipTo | None,
    now: datetime | None,
    by: str,
    settings: Settings,
) -> RedeemResult:
    """Redeem ``reward_id`` for the person in one step, or raise Refused saying why.

    The same (person, request_key) again returns the stored redemption with ``created=False`` and
    writes nothing; with another reward it is refused (``key_reused``).

    ``now``: the moment of the redemption; None (live requests) reads the clock once the person's
    account is held, so a request that waited for another redemption of the same person is dated
    after it, and the bank appends it to their standing instead of re-reading their history.
    """
    key = request_key.strip()
    if not 1 <= len(key) <= REQUEST_KEY_MAX:
        raise LoyaltyError(f"request_key: must be 1 to {REQUEST_KEY_MAX} characters")
    session.flush()  # what follows runs on the connection, where the ORM does not autoflush
    conn = session.connection()
    _hold(session, person_id=person_id, now=now or utcnow())  # the time only dates a new account
    now = now or utcnow()
    reward = REWARD_TO_REDEEM[conn.dialect.name].first(
        conn,
        {"person": person_id, "request": key, "reward": reward_id, "person_id": person_id},  # LOTS_JSON's
    )
    # Read under the lock: a twin request may have committed while this one waited for it.
    stored_id = reward.stored_id if reward else conn.scalar(STORED, {"person": person_id, "request": key})
    if stored_id is not None:
        return _replay(_stored(session, stored_id), reward_id)
    if reward is None:
        raise Refused("unknown_reward", f"There is no reward number {reward_id}.")
    _check_reward(reward, now=now, settings=settings)
    address = None
    if needs_address(reward.kind):
        if ship_to is None:
            raise Refused("address_needed", "This gift is sent by post: please give a delivery address.")
        address = check_ship_to(ship_to)
    lots = lots_from_json(reward.lots)
    # The row's standing columns (score, bad_streak, status, value_minor, next_due_at, last_at: no
    # reward column has those names) are what ``refresh_appended`` builds on.
    standing = reward if reward.has_standing else None
    if any(lot.expired(now) for lot in lots):  # these are only lots with points left
        expire_held(session, now=now, person_ids=[person_id])
        lots = lots_of(session, person_id=person_id)
        # Expiries write no events today; the bank reads the standing again all the same (a rare
        # path), so an expiry that ever became an event could not be missed.
        standing = None
    _check_points(lots, reward.cost_points, now, settings)
    status = first_status(reward.kind)
    plan = _Planned(
        person_id=person_id,
        reward=reward,
        key=key,
        status=status,
        ship_to=address,
        history=[{"status": status, "at": now.isoformat(), "by": by}],
        draws=plan_draws(lots, reward.cost_points, now),
        now=now,
    )
    bank = load_bank_config(settings)
    currency = settings.business.currency
    if conn.dialect.name == "postgresql":
        append = None
        if standing is not None:  # the bank's append, planned now to be written with the redemption
            event = StoredEvent(
                id=0, person_id=person_id, kind="reward_redeemed", occurred_at=now, text=reward.name
            )  # not stored yet: the write statement gives the bank entry the event's id
            append = plan_append(event=event, standing=standing, config=bank, currency=currency, now=now)
        written = _write_in_one(session, plan, append)
    else:
        written = _write_in_steps(session, plan)
    if written is None:  # the unique (person, request_key): a twin got there first after all
        stored_id = conn.scalar(STORED, {"person": person_id, "request": key})
        if stored_id is None:
            raise LoyaltyError(f"request {key!r} of person {person_id}: neither written nor stored")
        return _replay(_stored(session, stored_id), reward_id)
    redemption, stored, banked = written
    _forget(session, Reward, reward.id)
    if banked:  # the bank's append of the reward_redeemed event was written with it
        return RedeemResult(redemption, created=True)
    if stored is not None:  # the bank appends the reward_redeemed event to the person's history
        refresh_appended(
            session=session, event=stored, config=bank, currency=currency, now=now, standing=standing
        )
    else:  # the event was there already (a twin request's): the bank re-reads the person
        refresh_people(session=session, person_ids=[person_id], config=bank, currency=currency, now=now)
    return RedeemResult(redemption, created=True)


def _hold(session: Session, *, person_id: int, now: datetime) -> None:
    """Hold the person's loyalty account (created if missing) and then their bank, until the end.

    PostgreSQL: one statement when the account exists. SQLite: ``hold_account``'s write takes the
    database's lock, which holds the bank too.
    """
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        hold_account(session, person_id=person_id, now=now)
    elif HOLD_ACCOUNT_AND_BANK.first(conn, {"person_id": person_id}) is None:  # no account yet
        hold_account(session, person_id=person_id, now=now)
        hold_people(session, [person_id])


def _forget(session: Session, model: type[Any], ident: int) -> None:
    """A loaded object was changed in SQL: it is read again when next used."""
    loaded = session.identity_map.get(session.identity_key(model, ident))
    if loaded is not None:
        session.expire(loaded)


def _locked_redemption(session: Session, redemption_id: int) -> Redemption:
    redemption = session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if redemption is None:
        raise Refused("unknown_redemption", f"There is no redemption number {redemption_id}.")
    return redemption


def advance(
    session: Session,
    *,
    redemption_id: int,
    to_status: str,
    by_user_id: int,
    now: datetime,
    tracking: str | None = None,
) -> Redemption:
    """Move a redemption along its fulfilment flow. Asking for the status it already has changes nothing."""
    redemption = _locked_redemption(session, redemption_id)
    if to_status == redemption.status:
        return redemption
    kind = session.scalars(select(Reward.kind).where(Reward.id == redemption.reward_id)).one()
    if to_status == S.refunded and redemption.status != S.refunded:
        raise Refused(
            "bad_transition", "Refund it instead: that gives the points back and returns the stock."
        )
    if to_status not in next_statuses(redemption.status, kind):
        raise Refused(
            "bad_transition", transition_message(redemption.status, next_statuses(redemption.status, kind))
        )
    if tracking is not None and tracking.strip():
        if len(tracking.strip()) > 200:
            raise Refused("bad_tracking", "A tracking reference has at most 200 characters.")
        redemption.tracking = tracking.strip()
    redemption.status = to_status
    redemption.updated_at = now
    _history(redemption, to_status, now, by_user_id)
    session.flush()
    return redemption


def refund(
    session: Session, *, redemption_id: int, by_user_id: int, now: datetime, reason: str
) -> Redemption:
    """Give the points back to the lots they came from and return the stock. Refunding twice is
    a no-op that returns the refunded redemption."""
    found = session.get(Redemption, redemption_id)
    if found is None:
        raise Refused("unknown_redemption", f"There is no redemption number {redemption_id}.")
    # Same lock order as redeem: account, then reward, then the redemption itself.
    lock_account(session, person_id=found.person_id, now=now)
    _locked_reward(session, found.reward_id)
    redemption = _locked_redemption(session, redemption_id)
    if redemption.status == S.refunded:
        return redemption
    why = " ".join(reason.split())[:300]
    spent = session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.key == f"redeem:{redemption.id}")).one()
    draws = session.execute(
        select(LoyaltyDraw.lot_id, LoyaltyDraw.points)
        .where(LoyaltyDraw.entry_id == spent.id)
        .order_by(LoyaltyDraw.id)
    ).all()
    give_back(
        session,
        person_id=redemption.person_id,
        key=f"refund:{redemption.id}",
        at=now,
        draws=[(lot_id, points) for lot_id, points in draws],
        redemption_id=redemption.id,
        reverses_id=spent.id,
        note=why or None,
        created_by_id=by_user_id,
    )
    session.execute(
        update(Reward)
        .where(Reward.id == redemption.reward_id, Reward.stock.is_not(None))
        .values(stock=Reward.stock + 1)
    )
    redemption.status = S.refunded
    redemption.updated_at = now
    _history(redemption, S.refunded, now, by_user_id, reason=why)
    session.flush()
    return redemption


def redemptions(
    session: Session,
    *,
    statuses: Sequence[str] | None = None,
    person_id: int | None = None,
    limit: int = 200,
) -> list[Redemption]:
    """Newest first; ``statuses`` narrows to a fulfilment queue (e.g. pending and to_fulfil)."""
    stmt = select(Redemption)
    if statuses is not None:
        stmt = stmt.where(Redemption.status.in_(list(statuses)))
    if person_id is not None:
        stmt = stmt.where(Redemption.person_id == person_id)
    return list(
        session.scalars(stmt.order_by(Redemption.created_at.desc(), Redemption.id.desc()).limit(limit))
    )
