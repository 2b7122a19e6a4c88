"""What each event is worth in the relationship bank. Pure: plain data in, plain data out.

The same rules are also expressed set-based in SQL (``bank/rebuild.py``); the tests prove the two
agree. Amounts are whole points (exact); only the decayed balance is a float.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# Decay is measured from a fixed epoch so a stored score (amount * 2^(days since epoch / half-life))
# can be summed in SQL; the half-life is bounded in config so these stay well inside a float.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
# A balance that shows as 0.00 is not overdrawn (and float noise never flips a status).
OVERDRAWN_BELOW = -0.005


class Side(StrEnum):
    """Who moved the balance: the customer investing trust, or the business (for good or ill)."""

    customer = "customer"
    business = "business"


class Effect(StrEnum):
    """What an entry does to the bad streak."""

    extends = "extends"  # a bad experience
    answers = "answers"  # the business made a deposit: the streak is over
    none = "none"


class Status(StrEnum):
    healthy = "healthy"
    watch = "watch"
    overdrawn = "overdrawn"


@dataclass(frozen=True)
class Rule:
    name: str  # shown on statements; the key in [bank.rules]
    kind: str  # the event kind it reads
    weight: int  # default points
    side: Side
    label: str


_B, _C = Side.business, Side.customer
RULES: tuple[Rule, ...] = (
    Rule("purchase", "purchase", 2, _C, "Bought from us"),
    Rule("praise", "praise", 5, _C, "Praised us"),
    Rule("referral", "referral", 6, _C, "Referred someone"),
    Rule("review", "review", 2, _C, "Wrote a review"),
    Rule("review_positive", "review", 6, _C, "Wrote a glowing review (4-5 of 5)"),
    Rule("review_negative", "review", -6, _B, "Wrote a poor review (1-2 of 5)"),
    Rule("appreciation_sent", "appreciation_sent", 3, _B, "We thanked them personally"),
    Rule("card_sent", "card_sent", 5, _B, "We sent a handwritten card"),
    Rule("call_made", "call_made", 3, _B, "We phoned them"),
    Rule("question_answered", "question_answered", 2, _B, "We answered their question"),
    # Loyalty: bonus points given (review, referral, birthday...), and a reward the customer enjoyed.
    # Purchase points make no entry of their own: the purchase already is a deposit.
    Rule("points_earned", "points_earned", 1, _B, "We gave them bonus points"),
    Rule("reward_redeemed", "reward_redeemed", 3, _B, "They enjoyed a loyalty reward"),
    Rule("complaint_resolved", "complaint_resolved", 4, _B, "We resolved their complaint"),
    Rule("complaint", "complaint", -6, _B, "Complained"),
    Rule("complaint_sla_breached", "complaint_sla_breached", -3, _B, "We kept them waiting on a complaint"),
    Rule("late_delivery", "late_delivery", -4, _B, "Delivery arrived late"),
    Rule("service_failure", "service_failure", -6, _B, "We let them down"),
    Rule("defect", "defect", -5, _B, "Product arrived broken or faulty"),
    Rule("return", "return", -2, _B, "Sent goods back"),
    Rule("order_cancelled", "order_cancelled", -3, _B, "Order cancelled"),
    Rule("question_unanswered", "question", -4, _B, "Question left unanswered"),
)
RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
# Kinds that produce nothing by default; a business may give them a weight (customer side).
NEUTRAL_KINDS: tuple[str, ...] = ("visit", "note", "refund", "question")
ADJUSTMENT = "goodwill_adjustment"
IN_TIME = "complaint_resolved_in_time"
LABELS: dict[str, str] = {
    **{rule.name: rule.label for rule in RULES},
    **{kind: kind.replace("_", " ").capitalize() for kind in NEUTRAL_KINDS},
    ADJUSTMENT: "Goodwill adjustment",
    IN_TIME: "We resolved their complaint in time",
}
DEPOSIT_RULES = frozenset(r.name for r in RULES if r.weight > 0)
WITHDRAWAL_RULES = frozenset(r.name for r in RULES if r.weight < 0)


@dataclass(frozen=True)
class BankConfig:
    weights: Mapping[str, int] = field(default_factory=lambda: {r.name: r.weight for r in RULES})
    half_life_days: int = 365
    watch_streak: int = 2
    at_risk_streak: int = 3
    question_sla_days: int = 2
    complaint_sla_days: int = 3
    recovery_bonus: int = 4
    recovery_step: int = 2

    def weight(self, rule: str) -> int:
        return int(self.weights.get(rule, 0))

    def side(self, rule: str) -> Side:
        if rule in RULES_BY_NAME:
            return RULES_BY_NAME[rule].side
        return Side.business if rule in (ADJUSTMENT, IN_TIME) else Side.customer


@dataclass(frozen=True)
class EventFact:
    """The parts of an event the bank reads."""

    id: int
    kind: str
    at: datetime
    text: str | None = None


@dataclass(frozen=True)
class Entry:
    event_id: int
    kind: str
    rule: str
    amount: int
    at: datetime
    side: Side
    effect: Effect

    @property
    def order_key(self) -> tuple[datetime, int, str]:
        return (self.at, self.event_id, self.rule)


_ADJUSTMENT_HEAD = re.compile(r"[+-][0-9]{1,4}", re.ASCII)


def adjustment_points(text: str | None) -> int:
    """A goodwill_adjustment's text starts with signed points and a space: ``"+10 replaced the vase"``.

    Anything else is worth nothing (0): a correction must say its size explicitly.
    """
    head = (text or "").split(" ", 1)[0]
    return int(head) if _ADJUSTMENT_HEAD.fullmatch(head) else 0


def review_rule(text: str | None) -> str:
    """A rating in the text (``4/5``, ``★★★★★``) makes a review glowing or poor; otherwise it is plain."""
    body = text or ""
    if any(mark in body for mark in ("5/5", "4/5", "★★★★")):
        return "review_positive"
    if any(mark in body for mark in ("1/5", "2/5")) or ("★" in body and "★★★" not in body):
        return "review_negative"
    return "review"


def effect_of(rule: str, amount: int, side: Side) -> Effect:
    if rule == ADJUSTMENT:  # a correction downwards is bookkeeping, not a bad experience
        return Effect.answers if amount > 0 else Effect.none
    if amount < 0:
        return Effect.extends
    return Effect.answers if side is Side.business else Effect.none


def recovery_bonus(streak_before: int, config: BankConfig) -> int:
    """Extra points for resolving a complaint in time: full after one bad experience, less after more."""
    return max(0, config.recovery_bonus - config.recovery_step * (max(streak_before, 1) - 1))


def _entry(event: EventFact, rule: str, amount: int, at: datetime, config: BankConfig) -> Entry:
    side = config.side(rule)
    return Entry(event.id, event.kind, rule, amount, at, side, effect_of(rule, amount, side))


def project(events: Iterable[EventFact], config: BankConfig) -> list[Entry]:
    """One person's events in any order -> their bank entries, ordered by (at, event id, rule)."""
    facts = list(events)
    answers = [e.at for e in facts if e.kind == "question_answered"]
    complaints = [e.at for e in facts if e.kind == "complaint"]
    question_sla = timedelta(days=config.question_sla_days)
    complaint_sla = timedelta(days=config.complaint_sla_days)
    raw: list[Entry] = []
    for event in facts:
        if event.kind == ADJUSTMENT:
            points = adjustment_points(event.text)
            if points:
                raw.append(_entry(event, ADJUSTMENT, points, event.at, config))
            continue
        rule = review_rule(event.text) if event.kind == "review" else event.kind
        if config.weight(rule):
            raw.append(_entry(event, rule, config.weight(rule), event.at, config))
        if event.kind == "question" and config.weight("question_unanswered"):
            due = event.at + question_sla
            if not any(event.at <= at <= due for at in answers):
                raw.append(
                    _entry(event, "question_unanswered", config.weight("question_unanswered"), due, config)
                )
    raw.sort(key=lambda e: e.order_key)
    entries: list[Entry] = []
    streak = 0
    for entry in raw:
        if entry.rule == "complaint_resolved" and any(
            entry.at - complaint_sla <= at <= entry.at for at in complaints
        ):
            amount = entry.amount + recovery_bonus(streak, config)
            entry = Entry(entry.event_id, entry.kind, IN_TIME, amount, entry.at, entry.side, entry.effect)
        entries.append(entry)
        if entry.effect is Effect.extends:
            streak += 1
        elif entry.effect is Effect.answers:
            streak = 0
    return entries


def decay(at: datetime, as_of: datetime, half_life_days: int) -> float:
    """How much of an entry made at ``at`` is left at ``as_of``: 1 now, 1/2 after one half-life."""
    return float(2.0 ** (-(as_of - at).total_seconds() / (half_life_days * 86400.0)))


def score_of(amount: int, at: datetime, half_life_days: int) -> float:
    """``amount`` grown from the epoch, so that ``sum(scores) * decay(EPOCH, now)`` is the balance."""
    return amount * float(2.0 ** ((at - EPOCH).total_seconds() / (half_life_days * 86400.0)))


def status_for(balance: float, bad_streak: int, config: BankConfig) -> Status:
    if balance < OVERDRAWN_BELOW or bad_streak >= config.at_risk_streak:
        return Status.overdrawn
    if bad_streak >= config.watch_streak:
        return Status.watch
    return Status.healthy


@dataclass(frozen=True)
class Standing:
    balance: float
    bad_streak: int
    status: Status
    streak_entries: tuple[Entry, ...]  # the withdrawals that make up the current streak


def standing(entries: Sequence[Entry], config: BankConfig, as_of: datetime) -> Standing:
    """Balance, bad streak and status from the entries made up to ``as_of``."""
    made = sorted((e for e in entries if e.at <= as_of), key=lambda e: e.order_key)
    balance = sum(e.amount * decay(e.at, as_of, config.half_life_days) for e in made)
    streak: list[Entry] = []
    for entry in made:
        if entry.effect is Effect.extends:
            streak.append(entry)
        elif entry.effect is Effect.answers:
            streak = []
    return Standing(balance, len(streak), status_for(balance, len(streak), config), tuple(streak))


def running_balances(
    entries: Sequence[Entry], config: BankConfig, as_of: datetime
) -> tuple[list[tuple[Entry, float]], float]:
    """Each entry up to ``as_of`` with the balance just after it (older ones decayed), and the closing."""
    rows: list[tuple[Entry, float]] = []
    balance = 0.0
    last: datetime | None = None
    for entry in sorted((e for e in entries if e.at <= as_of), key=lambda e: e.order_key):
        if last is not None:
            balance *= decay(last, entry.at, config.half_life_days)
        balance += entry.amount
        last = entry.at
        rows.append((entry, balance))
    closing = balance * decay(last, as_of, config.half_life_days) if last is not None else 0.0
    return rows, closing


# Kinds whose entries depend on the person's other events: a question's "unanswered" entry comes
# at its deadline, after events not yet seen; an answer takes back earlier questions' entries; a
# resolution is worth more when it answers a recent complaint, after a streak of a given length.
DEPENDENT_KINDS = frozenset({"question", "question_answered", "complaint_resolved"})


@dataclass(frozen=True)
class Carried:
    """A stored standing's running totals: what appending an entry starts from."""

    score: float
    bad_streak: int
    value_minor: int


def appended(
    event: EventFact, carried: Carried, spend: int, config: BankConfig, as_of: datetime
) -> tuple[list[Entry], Carried, Status] | None:
    """One new event that comes after every entry of its person, folded into their stored totals.

    The same entries and standing ``project`` and ``standing`` give over all the person's events,
    as long as the caller knows every stored entry is older than the event, none is dated in the
    future, and the totals are up to date. ``spend`` is what the event adds to the person's value
    (minor units; a refund is negative). None when the event needs the full projection: its kind
    depends on other events, or it is dated after ``as_of``.
    """
    if event.kind in DEPENDENT_KINDS or event.at > as_of:
        return None
    entries = project([event], config)
    score, streak = carried.score, carried.bad_streak
    for entry in entries:
        score += score_of(entry.amount, entry.at, config.half_life_days)
        if entry.effect is Effect.extends:
            streak += 1
        elif entry.effect is Effect.answers:
            streak = 0
    balance = score * decay(EPOCH, as_of, config.half_life_days)
    totals = Carried(score, streak, carried.value_minor + spend)
    return entries, totals, status_for(balance, streak, config)
