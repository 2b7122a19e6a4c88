"""The rewards catalogue: what points can buy, how many are left, who may have them and when.

``check_reward`` is pure (it validates a ``RewardInput`` and names the bad field); the catalogue
functions take the caller's session and never commit. The pure rules of redeeming (the delivery
address, the fulfilment flow, the words of a refusal) live here too, so
``goodwill.loyalty.redemption`` is only the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from goodwill.loyalty.ledger import LoyaltyError, Refused
from goodwill.loyalty.model import RedemptionStatus, Reward, RewardKind

NAME_MAX = 120  # loyalty_rewards.name
DESCRIPTION_MAX = 2000
# Upper bounds that catch a slipped finger (an extra zero or three) before customers see it.
COST_MAX = 100_000_000
STOCK_MAX = 1_000_000_000  # loyalty_rewards.stock is a 32-bit integer
LIMIT_MAX = 10_000

KIND_LABELS: dict[str, str] = {
    RewardKind.physical_gift: "Physical gift",
    RewardKind.experience: "Experience",
    RewardKind.earned_bonus: "Earned bonus",
    RewardKind.donation: "Donation",
    RewardKind.discount: "Discount",
    RewardKind.free_shipping: "Free shipping",
}


@dataclass(frozen=True)
class RewardInput:
    name: str
    kind: str
    cost_points: int
    description: str = ""
    stock: int | None = None  # None: unlimited
    per_person_limit: int | None = None  # None: no limit
    available_from: datetime | None = None  # inclusive
    available_until: datetime | None = None  # exclusive
    active: bool = True


class RewardError(LoyaltyError):
    """A reward field that cannot be stored; ``field`` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RewardNotFound(LoyaltyError):
    pass


def needs_address(kind: str) -> bool:
    """Rewards sent by post: the delivery address is captured when they are redeemed."""
    return kind == RewardKind.physical_gift


def needs_fulfilment(kind: str) -> bool:
    """Rewards a person on the team has to pack, book or send (the others are delivered at once)."""
    return kind in (RewardKind.physical_gift, RewardKind.experience)


def _whole(field: str, value: object, *, low: int, high: int) -> int:
    # bool is an int in Python; True points are a bug, not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise RewardError(field, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise RewardError(field, f"must be between {low} and {high}, got {value}")
    return value


def _aware(field: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise RewardError(field, "needs a time zone")
    return value


def check_reward(data: RewardInput) -> RewardInput:
    """The input cleaned (name and description trimmed), or RewardError naming the first bad field."""
    name = " ".join(data.name.split())
    if not 1 <= len(name) <= NAME_MAX:
        raise RewardError("name", f"must be 1 to {NAME_MAX} characters, got {len(name)}")
    if data.kind not in RewardKind.__members__:
        raise RewardError("kind", f"unknown kind {data.kind!r}; known kinds: {', '.join(RewardKind)}")
    _whole("cost_points", data.cost_points, low=1, high=COST_MAX)
    description = data.description.strip()
    if len(description) > DESCRIPTION_MAX:
        raise RewardError("description", f"must be at most {DESCRIPTION_MAX} characters")
    if data.stock is not None:
        _whole("stock", data.stock, low=0, high=STOCK_MAX)
    if data.per_person_limit is not None:
        _whole("per_person_limit", data.per_person_limit, low=1, high=LIMIT_MAX)
    start = _aware("available_from", data.available_from)
    end = _aware("available_until", data.available_until)
    if start is not None and end is not None and end <= start:
        raise RewardError("available_until", "must be after available_from")
    if not isinstance(data.active, bool):
        raise RewardError("active", f"must be true or false, got {data.active!r}")
    return replace(data, name=name, description=description)


def _apply(reward: Reward, data: RewardInput) -> None:
    reward.name = data.name
    reward.kind = data.kind
    reward.description = data.description
    reward.cost_points = data.cost_points
    reward.stock = data.stock
    reward.per_person_limit = data.per_person_limit
    reward.available_from = data.available_from
    reward.available_until = data.available_until
    reward.active = data.active


def create_reward(session: Session, *, data: RewardInput) -> Reward:
    reward = Reward()
    _apply(reward, check_reward(data))
    session.add(reward)
    session.flush()
    return reward


def get_reward(session: Session, *, reward_id: int) -> Reward:
    reward = session.get(Reward, reward_id)
    if reward is None:
        raise RewardNotFound(f"there is no reward with id {reward_id}")
    return reward


def update_reward(session: Session, *, reward_id: int, data: RewardInput) -> Reward:
    """Replace every field. The row is locked first so a new stock count is not lost to a
    redemption decrementing the old one at the same moment."""
    clean = check_reward(data)
    reward = session.scalar(
        select(Reward)
        .where(Reward.id == reward_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if reward is None:
        raise RewardNotFound(f"there is no reward with id {reward_id}")
    _apply(reward, clean)
    session.flush()
    return reward


def list_rewards(session: Session, *, available_at: datetime | None = None) -> list[Reward]:
    """The catalogue, cheapest first. With ``available_at``: only what can be redeemed at that moment
    (active, inside its window, in stock); limits and balances are the person's, checked at redemption."""
    stmt = select(Reward)
    if available_at is not None:
        stmt = stmt.where(
            Reward.active.is_(True),
            or_(Reward.available_from.is_(None), Reward.available_from <= available_at),
            or_(Reward.available_until.is_(None), Reward.available_until > available_at),
            or_(Reward.stock.is_(None), Reward.stock > 0),
        )
    return list(session.scalars(stmt.order_by(Reward.cost_points, Reward.name, Reward.id)))


# --- Redeeming, the pure part: addresses, the fulfilment flow, refusals in plain words ---
# (goodwill.loyalty.redemption applies these inside its transaction.)

S = RedemptionStatus
# ship_to field -> (required, longest length)
ADDRESS_FIELDS: dict[str, tuple[bool, int]] = {
    "name": (True, 200),
    "line1": (True, 200),
    "line2": (False, 200),
    "city": (True, 100),
    "region": (False, 100),
    "postal_code": (True, 20),
    "country": (True, 60),
}
ADDRESS_WORDS = {"name": "a name", "line1": "a street address", "city": "a city",
                 "postal_code": "a postal code", "country": "a country"}  # fmt: skip


_STATUS_SUBJECT: dict[str, str] = {
    S.pending: "A pending reward",
    S.to_fulfil: "A reward waiting to be fulfilled",
    S.shipped: "A shipped reward",
    S.delivered: "A delivered reward",
}
_STATUS_WORD: dict[str, str] = {S.to_fulfil: "to fulfil", S.shipped: "shipped", S.delivered: "delivered"}


def local_day(at: datetime, tz: ZoneInfo, now: datetime) -> str:
    """``3 December`` in the business's time zone; the year is added when it is not this year."""
    day, today = at.astimezone(tz).date(), now.astimezone(tz).date()
    text = f"{day.day} {day:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def points_text(count: int) -> str:
    return "1 point" if count == 1 else f"{count:,} points"


def times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def not_enough_message(usable: int, waiting: int, cost: int) -> str:
    held = points_text(usable + waiting)
    if waiting:
        held += f" ({waiting:,} of them still pending)"
    return f"You have {held}; this reward needs {cost:,}."


def pending_message(usable: int, waiting: int, cost: int, day: str, all_by_then: bool) -> str:
    verb = "is" if waiting == 1 else "are"
    when = f"until {day}" if all_by_then else f"(enough of them from {day})"
    return (
        f"You have {points_text(usable + waiting)}, but {waiting:,} {verb} still pending {when}; "
        f"this reward needs {cost:,}."
    )


def transition_message(status: str, options: Sequence[str]) -> str:
    if status == S.refunded:
        return "A refunded reward cannot change any more."
    choices = [_STATUS_WORD[option] for option in options] + ["refunded"]
    if len(choices) == 1:
        return f"{_STATUS_SUBJECT[status]} can only be refunded."
    return f"{_STATUS_SUBJECT[status]} can only be marked {', '.join(choices[:-1])} or {choices[-1]}."


@dataclass(frozen=True)
class ShipTo:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""


def check_ship_to(ship_to: ShipTo) -> dict[str, str]:
    """The address as stored (trimmed), or Refused naming what is missing or too long."""
    clean = {field: " ".join(str(value).split()) for field, value in asdict(ship_to).items()}
    for field, (required, longest) in ADDRESS_FIELDS.items():
        if required and not clean[field]:
            raise Refused("address_needed", f"The delivery address needs {ADDRESS_WORDS[field]}.")
        if len(clean[field]) > longest:
            label = field.replace("_", " ").replace("line1", "first line").replace("line2", "second line")
            raise Refused(
                "address_invalid", f"The address's {label} is too long (at most {longest} characters)."
            )
    return clean


def first_status(kind: str) -> str:
    """Physical gifts wait for a person to check them; experiences go straight to fulfilment."""
    if needs_address(kind):
        return S.pending
    return S.to_fulfil if needs_fulfilment(kind) else S.delivered


def next_statuses(status: str, kind: str) -> tuple[str, ...]:
    """Where ``advance`` may move a redemption of this kind (refunds go through ``refund``)."""
    if status == S.pending:
        return (S.to_fulfil,)
    if status == S.to_fulfil:
        return (S.shipped,) if needs_address(kind) else (S.delivered,)
    if status == S.shipped:
        return (S.delivered,)
    return ()
