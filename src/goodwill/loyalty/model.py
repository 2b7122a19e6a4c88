"""Loyalty tables: accounts, the append-only points ledger, lot draws, rewards and redemptions.

The ledger (``loyalty_entries``) is never edited: every change of points is a new entry. Positive
``earn`` and ``adjust`` entries are *lots* with their own availability and expiry; a redemption,
expiry or reversal takes points from lots, and ``loyalty_draws`` records from which (a negative
draw gives points back to a lot, when a redemption is refunded). A lot's remaining points are its
points minus its draws. Two stored figures are kept in step in the same transaction and checked
against the ledger (``goodwill loyalty check``): ``loyalty_accounts.balance`` (the entries' sum) and
``loyalty_lots_drawn.drawn`` (each lot's draws' sum), so spending reads a lot's remaining points
without adding up its history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from goodwill.db import Base, BigId, UTCDateTime, utcnow

# A lot: a positive earn or adjust entry (SQL, literal, so a partial index can be matched).
LOT_PREDICATE = "(kind = 'earn' OR kind = 'adjust') AND points > 0"


class EntryKind(StrEnum):
    earn = "earn"  # points given by an earning rule (+)
    redeem = "redeem"  # points spent on a reward (-)
    expire = "expire"  # points that reached their expiry unspent (-)
    reverse = "reverse"  # an earn taken back (order cancelled, refunded) (-), or a redemption refunded (+)
    adjust = "adjust"  # a staff correction with a reason (+ makes a lot, - draws from lots)


class RewardKind(StrEnum):
    physical_gift = "physical_gift"
    experience = "experience"
    earned_bonus = "earned_bonus"
    donation = "donation"
    discount = "discount"
    free_shipping = "free_shipping"


class RedemptionStatus(StrEnum):
    pending = "pending"  # physical: waiting for a person to check it
    to_fulfil = "to_fulfil"  # physical or experience: ready to pack, book or send
    shipped = "shipped"
    delivered = "delivered"  # done; rewards that need no fulfilment start here
    refunded = "refunded"  # points given back; stock returned


class LoyaltyAccount(Base):
    __tablename__ = "loyalty_accounts"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Sum of all entries' points (pending included, expired excluded once the expiry is written).
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # Sum of earn entries (and positive adjustments) ever: issued points.
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    tier: Mapped[str] = mapped_column(String(40), default="")
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Under the downgrade policy the tier is kept until this moment even if it no longer qualifies.
    tier_kept_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    birthday_month: Mapped[int | None] = mapped_column(SmallInteger)
    birthday_day: Mapped[int | None] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LoyaltyEntry(Base):
    __tablename__ = "loyalty_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(BigInteger)  # signed
    # Idempotency: the same key never writes twice ("earn:purchase:event:123", "redeem:r:45", ...).
    key: Mapped[str] = mapped_column(String(200), unique=True)
    rule: Mapped[str | None] = mapped_column(String(40))  # the earning rule, or a reason code
    event_id: Mapped[int | None] = mapped_column(BigInteger)  # the event it came from (no FK, as the bank)
    redemption_id: Mapped[int | None] = mapped_column(BigInteger)
    reverses_id: Mapped[int | None] = mapped_column(BigInteger)  # the entry this one takes back
    # A reversal of a lot: the points it asked back (``-points`` were taken; the rest is a shortfall,
    # settled when points come back to the lot). 0 on a settlement, which asks nothing new. Else NULL.
    asked: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it took effect
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # lots: spendable from
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # lots: gone after
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_loyalty_entries_person_at", "person_id", "at"),
        Index("ix_loyalty_entries_event_id", "event_id"),
        # A person's lots, without the rest of their history (spending reads them every time). The
        # predicate is on columns never changed, and matches ``ledger._is_lot``'s literal SQL.
        Index(
            "ix_loyalty_entries_person_lots",
            "person_id",
            postgresql_where=text(LOT_PREDICATE),
            sqlite_where=text(LOT_PREDICATE),
        ),
    )


class LoyaltyDraw(Base):
    """``points`` taken from lot ``lot_id`` by entry ``entry_id`` (negative: given back)."""

    __tablename__ = "loyalty_draws"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entries.id", ondelete="CASCADE"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entries.id", ondelete="CASCADE"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class LotDrawn(Base):
    """What has been drawn from lot ``lot_id`` so far: the sum of its draws (a lot never drawn from
    has no row). Kept in step with every draw, in its transaction; ``ledger.check`` compares it with
    the draws. The ledger stays append-only: this is a running figure beside it, as the balance is."""

    __tablename__ = "loyalty_lots_drawn"

    lot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_entries.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    drawn: Mapped[int] = mapped_column(BigInteger)


class Reward(Base):
    __tablename__ = "loyalty_rewards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    cost_points: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    per_person_limit: Mapped[int | None] = mapped_column(Integer)  # None: no limit
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Redemption(Base):
    __tablename__ = "loyalty_redemptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    reward_id: Mapped[int] = mapped_column(ForeignKey("loyalty_rewards.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    # The caller's key for this redemption (API Idempotency-Key, the customer page's form nonce).
    request_key: Mapped[str] = mapped_column(String(200))
    # Captured at redemption for physical rewards: name, line1, line2, city, region, postal_code, country.
    ship_to: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tracking: Mapped[str | None] = mapped_column(String(200))
    # [{"status": ..., "at": iso, "by": user id or "customer"}], newest last.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("person_id", "request_key"),
        # A person's redemptions, and of one reward (its per-person limit, counted at every
        # redemption): with an index on each column alone, PostgreSQL may count them with a
        # BitmapAnd that reads every redemption the reward ever had (tests/integration/test_redeem_plan.py).
        Index("ix_loyalty_redemptions_person_reward", "person_id", "reward_id"),
        Index("ix_loyalty_redemptions_status", "status", "created_at"),
    )


class LoyaltyRuleOverride(Base):
    """An earning rule as an admin edited it; it replaces goodwill.toml's rule of that name."""

    __tablename__ = "loyalty_rule_overrides"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnearnedEvent(Base):
    """An event the program processed that earned nothing (no rule applied, capped to 0, another
    currency...). With the events that have an earn, these are the events already processed: an
    event earns once, by the rules in force when it is first processed, and is never looked at again."""

    __tablename__ = "loyalty_unearned_events"

    event_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False
    )  # no FK, as entries
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
