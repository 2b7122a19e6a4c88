"""Taking back an order's purchase points when it is cancelled or refunded.

A cancellation takes back everything of the order's earns not asked back before; a refund takes
back ``floor(earned * refunded so far / order total)`` less what earlier refunds of the order
asked back, so several partial refunds add up to the proportion of their sum, in whatever order
they are processed. What was *asked* counts, not what could be taken: if the customer had already
spent the points, the shortfall is not chased later from newer points (``ledger.reverse_earn``
never goes below zero and notes the shortfall). Each reversal's key names its lot and its cause,
so re-processing takes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.events.model import Event
from goodwill.loyalty.ledger import reverse_earn
from goodwill.loyalty.model import EntryKind, LoyaltyEntry
from goodwill.loyalty.rules import refund_target


@dataclass(frozen=True)
class OrderLot:
    id: int
    person_id: int
    points: int
    event_id: int


@dataclass(frozen=True)
class Taken:
    person_id: int
    points: int


def refund_key(lot_id: int, refund_event_id: int) -> str:
    return f"reverse:{lot_id}:event:{refund_event_id}"


def cancel_key(lot_id: int, order_id: int) -> str:
    return f"reverse:{lot_id}:cancel:{order_id}"


def order_lots(session: Session, order_id: int) -> list[OrderLot]:
    """The earns of the order's purchase events (every purchase rule's)."""
    rows = session.execute(
        select(LoyaltyEntry.id, LoyaltyEntry.person_id, LoyaltyEntry.points, LoyaltyEntry.event_id)
        .join(Event, Event.id == LoyaltyEntry.event_id)
        .where(
            Event.order_id == order_id,
            Event.kind == "purchase",
            LoyaltyEntry.kind == EntryKind.earn.value,
            LoyaltyEntry.points > 0,
        )
        .order_by(LoyaltyEntry.id)
    )
    return [
        OrderLot(lot_id, person_id, points, event_id or 0) for lot_id, person_id, points, event_id in rows
    ]


@dataclass(frozen=True)
class _Money:
    total: int  # the order's purchases in the business currency
    refunded_through: dict[int, int]  # refund event id -> refunded up to and including it


def _money(session: Session, order_id: int, currency: str) -> _Money:
    rows = session.execute(
        select(Event.id, Event.kind, Event.amount_minor)
        .where(
            Event.order_id == order_id,
            Event.kind.in_(("purchase", "refund")),
            Event.currency == currency,
            Event.amount_minor.is_not(None),
        )
        .order_by(Event.occurred_at, Event.id)
    )
    total = refunded = 0
    through: dict[int, int] = {}
    for event_id, kind, amount in rows:
        if kind == "purchase":
            total += amount or 0
        else:
            refunded += amount or 0
            through[event_id] = refunded
    return _Money(total, through)


def _reversal_keys(session: Session, lot: OrderLot) -> set[str]:
    """Keys of the lot's reversals (they carry the earn's event id, which is indexed)."""
    return set(
        session.scalars(
            select(LoyaltyEntry.key).where(
                LoyaltyEntry.event_id == lot.event_id, LoyaltyEntry.reverses_id == lot.id
            )
        )
    )


def _asked_before(lot: OrderLot, keys: set[str], money: _Money) -> int:
    """What earlier refunds of the order asked back from this lot (the largest of their targets)."""
    asked = [
        refund_target(lot.points, through, money.total)
        for refund_id, through in money.refunded_through.items()
        if refund_key(lot.id, refund_id) in keys
    ]
    return max(asked, default=0)


def reverse_refund(
    session: Session, *, order_id: int, refund_event_id: int, currency: str, at: datetime
) -> Iterator[Taken]:
    """Take back the refunded share of the order's points (per lot, what was not asked before)."""
    money = _money(session, order_id, currency)
    if refund_event_id not in money.refunded_through:
        return
    target_through = money.refunded_through[refund_event_id]
    for lot in order_lots(session, order_id):
        keys = _reversal_keys(session, lot)
        if cancel_key(lot.id, order_id) in keys or refund_key(lot.id, refund_event_id) in keys:
            continue
        wanted = refund_target(lot.points, target_through, money.total) - _asked_before(lot, keys, money)
        if wanted > 0:
            taken = reverse_earn(
                session,
                lot_id=lot.id,
                points=wanted,
                key=refund_key(lot.id, refund_event_id),
                at=at,
                reason="order refunded",
            )
            yield Taken(lot.person_id, taken)


def reverse_cancel(session: Session, *, order_id: int, currency: str, at: datetime) -> Iterator[Taken]:
    """Take back all of the order's points not asked back before."""
    money = _money(session, order_id, currency)
    for lot in order_lots(session, order_id):
        keys = _reversal_keys(session, lot)
        if cancel_key(lot.id, order_id) in keys:
            continue
        wanted = lot.points - _asked_before(lot, keys, money)
        if wanted > 0:
            taken = reverse_earn(
                session,
                lot_id=lot.id,
                points=wanted,
                key=cancel_key(lot.id, order_id),
                at=at,
                reason="order cancelled",
            )
            yield Taken(lot.person_id, taken)
