"""The sample shop's loyalty program: its rewards, points from its orders, birthdays and redemptions.

Through the real services (``award_all``, ``award_dates``, ``expire_due``, ``redeem``,
``advance``), so the demo shows what a shop sees after running ``goodwill loyalty award`` and
``expire`` over its history. Idempotent like the rest of the demo: rewards are matched by name,
awards and expiries by their keys, birthdays are set only where none is, and the sample
redemptions are made once."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import Database
from goodwill.demo import catalogue as cat
from goodwill.loyalty.awards import award_all, award_dates, refresh_tiers
from goodwill.loyalty.ledger import Refused, expire_due, summary
from goodwill.loyalty.model import LoyaltyAccount, Redemption, Reward
from goodwill.loyalty.redemption import ShipTo, advance, redeem
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.model import Person
from goodwill.team.model import User

KEY_PREFIX = "demo:"  # request keys of the sample redemptions
BIRTHDAY_EVERY = 8  # one member in eight told us their birthday
# The sample redemptions, dearest first, and how far their fulfilment has gone.
REDEMPTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Blue glazed teapot, 0.8 l", ("to_fulfil", "shipped")),
    ("Private tasting with our tea buyer", ()),  # to fulfil: book a time
    ("Bamboo matcha whisk set", ()),  # pending: waiting for someone to check and pack it
    ("Plant ten tea bushes in Nilgiri", ()),
    ("Free shipping on your next order", ()),
    ("$5 off your next order", ()),
]
TRACKING = "1Z 999 AA1 01 2345 6784"


@dataclass
class LoyaltyDemo:
    rewards: int  # added this run
    points: int  # awarded this run
    redemptions: int  # made this run


def _rewards(session: Session) -> int:
    known = set(session.scalars(select(Reward.name)))
    added = 0
    for name, kind, cost, description, stock, limit in cat.REWARDS:
        if name not in known:
            create_reward(
                session,
                data=RewardInput(
                    name=name,
                    kind=kind,
                    cost_points=cost,
                    description=description,
                    stock=stock,
                    per_person_limit=limit,
                ),
            )
            added += 1
    return added


def _birthdays(session: Session, *, seed: int, now: datetime, settings: Settings) -> None:
    """A few members' birthdays; the first is today, so today's birthday bonus shows."""
    rng = random.Random(f"birthdays:{seed}")
    today = now.astimezone(settings.business.tz).date()
    members = session.scalars(select(LoyaltyAccount).order_by(LoyaltyAccount.person_id)).all()
    for n, account in enumerate(members[::BIRTHDAY_EVERY]):
        if account.birthday_month is None:
            month, day = (today.month, today.day) if n == 0 else (rng.randint(1, 12), rng.randint(1, 28))
            account.birthday_month, account.birthday_day = month, day


def _ship_to(person: Person) -> ShipTo:
    return ShipTo(
        name=person.name,
        line1=person.address_line1 or "",
        city=person.city or "",
        postal_code=person.postal_code or "",
        country=person.country or "",
        region=person.region or "",
    )


def _redemptions(session: Session, *, now: datetime, settings: Settings) -> int:
    """Sample redemptions by the members with the most spendable points, once."""
    done = session.scalar(select(Redemption.id).where(Redemption.request_key.startswith(KEY_PREFIX)).limit(1))
    if done is not None:
        return 0
    owner = session.scalars(select(User.id).where(User.email == cat.OWNER_EMAIL)).one()
    rewards = {r.name: r for r in session.scalars(select(Reward))}
    richest = session.scalars(
        select(LoyaltyAccount.person_id)
        .order_by(LoyaltyAccount.balance.desc(), LoyaltyAccount.person_id)
        .limit(30)
    ).all()
    spendable = {pid: summary(session, person_id=pid, now=now).available for pid in richest}
    made = 0
    for name, steps in REDEMPTIONS:
        reward = rewards[name]
        for pid in sorted(spendable, key=lambda p: (-spendable[p], p)):
            if spendable[pid] < reward.cost_points:
                break
            person = session.get(Person, pid)
            assert person is not None
            try:
                result = redeem(
                    session,
                    person_id=pid,
                    reward_id=reward.id,
                    request_key=f"{KEY_PREFIX}{reward.id}",
                    ship_to=_ship_to(person),
                    now=now,
                    by="customer",
                    settings=settings,
                )
            except Refused:
                continue  # no full address on file, say: the next member it is
            for status in steps:
                tracking = TRACKING if status == "shipped" else None
                advance(
                    session,
                    redemption_id=result.redemption.id,
                    to_status=status,
                    by_user_id=owner,
                    now=now,
                    tracking=tracking,
                )
            del spendable[pid]  # one reward each, so the fulfilment page shows several people
            made += 1
            break
    return made


def load_loyalty(*, db: Database, settings: Settings, seed: int, now: datetime) -> LoyaltyDemo:
    with db.transaction() as s:
        added = _rewards(s)
    with db.transaction() as s:
        awarded = award_all(s, now=now, settings=settings)
    with db.transaction() as s:
        _birthdays(s, seed=seed, now=now, settings=settings)
        s.flush()
        dates = award_dates(s, day=now.astimezone(settings.business.tz).date(), settings=settings)
    with db.transaction() as s:
        # Two years of history: the first year's points have passed their expiry, as the daily
        # `goodwill loyalty expire` would have recorded.
        expire_due(s, now=now)
        refresh_tiers(s, now=now, settings=settings)
    with db.transaction() as s:
        made = _redemptions(s, now=now, settings=settings)
    return LoyaltyDemo(rewards=added, points=awarded.points + dates.points, redemptions=made)
