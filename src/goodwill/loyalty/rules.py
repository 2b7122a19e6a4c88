"""What an event or a date is worth in points. Pure: plain data in, plain data out.

Points are whole numbers. A purchase earns per *whole* currency unit of its amount (45.90 USD is
45 units), times the rule's ``points_per_unit``, times the person's tier multiplier in percent,
rounded down at the end: 45 units at 1 point and 125 % is 56 points. Only purchases in the
business currency earn (there is no exchange rate in Goodwill to turn 30 GBP into dollars).

The same arithmetic is written set-based in SQL for bulk awarding (``loyalty/awards_sql.py``);
the integration tests prove the two give the same entries.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from goodwill.loyalty.config import EarnRuleConfig, LoyaltyConfig
from goodwill.loyalty.lots import expiry_for


class RuleError(ValueError):
    """An earning rule that cannot be used; ``field`` names the bad key (``""``: the rule as a whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def validate_rule(definition: Mapping[str, Any], config: LoyaltyConfig) -> EarnRuleConfig:
    """An admin's rule definition as a checked rule; the first problem raises RuleError naming its field."""
    try:
        rule = EarnRuleConfig.model_validate(dict(definition))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise RuleError(field, message) from None
    known = [tier.name for tier in config.tiers]
    for tier in rule.tiers:
        if tier not in known:
            raise RuleError("tiers", f"unknown tier {tier!r}; tiers: {', '.join(known)}")
    return rule


def checked_rules(
    config: LoyaltyConfig, overrides: Mapping[str, Mapping[str, Any]]
) -> tuple[tuple[EarnRuleConfig, ...], list[str]]:
    """goodwill.toml's rules with the admins' edits, and the edits that could not be used.

    An edit replaces the rule of its name, in place; a rule that exists only as an edit comes after
    the file's rules, by name. Each edit is checked on its own against today's config: one that no
    longer fits (a tier renamed in goodwill.toml since, a key an older version stored) is left out
    with a problem in plain words, and the file's rule of that name applies (or none). Awarding must
    never fail because of a stale edit.
    """
    in_file = {rule.name for rule in config.rules}
    edited: dict[str, EarnRuleConfig] = {}
    problems: list[str] = []
    for name in sorted(overrides):
        try:
            rule = validate_rule(overrides[name], config)
            if rule.name != name:
                raise RuleError("name", f"the stored rule {name!r} is named {rule.name!r} inside")
        except RuleError as exc:
            instead = "goodwill.toml's rule of that name applies" if name in in_file else "no rule applies"
            problems.append(
                f"The edit of rule {name!r} is not used ({exc}); {instead}. Save it again to fix."
            )
            continue
        edited[name] = rule
    rules = [edited.pop(rule.name, rule) for rule in config.rules]
    return (*rules, *(edited[name] for name in sorted(edited))), problems


def effective_rules(
    config: LoyaltyConfig, overrides: Mapping[str, Mapping[str, Any]]
) -> tuple[EarnRuleConfig, ...]:
    """``checked_rules`` without the problems: the rules awarding uses (stale edits left out)."""
    return checked_rules(config, overrides)[0]


def rules_for(rules: tuple[EarnRuleConfig, ...], trigger: str) -> tuple[EarnRuleConfig, ...]:
    """The enabled rules with this trigger (a disabled rule does nothing at all)."""
    return tuple(rule for rule in rules if rule.enabled and rule.trigger == trigger)


def multiplied(points: int, rule: EarnRuleConfig, multiplier_percent: int) -> int:
    return points * (multiplier_percent if rule.tier_multiplier else 100) // 100


def purchase_points(rule: EarnRuleConfig, amount_minor: int, exponent: int, multiplier_percent: int) -> int:
    """Points for a purchase of ``amount_minor`` (in a currency with ``exponent`` decimals)."""
    if amount_minor <= 0:
        return 0
    units = amount_minor // 10**exponent
    return multiplied(units * rule.points_per_unit, rule, multiplier_percent)


def bonus_points(rule: EarnRuleConfig, multiplier_percent: int) -> int:
    """Points of a fixed-award rule (review, referral, birthday...)."""
    return multiplied(rule.points, rule, multiplier_percent)


def rule_applies(rule: EarnRuleConfig, *, on: date, tier: str, segment: str | None) -> bool:
    """Whether the rule gives anything for an event on local day ``on`` to a person in ``tier``
    (their tier, or the entry tier's name when they have none yet) and RFM ``segment``."""
    if not rule.enabled:
        return False
    if rule.starts_on is not None and on < rule.starts_on:
        return False
    if rule.ends_on is not None and on > rule.ends_on:
        return False
    if rule.tiers and tier not in rule.tiers:
        return False
    return not rule.segments or segment in rule.segments


def capped(points: int, rule: EarnRuleConfig, *, earned_today: int, earned_this_month: int) -> int:
    """``points`` cut to what the rule's daily and monthly caps leave (never below 0).

    ``earned_today`` / ``earned_this_month``: what this rule already gave the person on that local
    day and month. Greedy, in event order: the first events fill the cap.
    """
    allowed = points
    if rule.cap_per_day is not None:
        allowed = min(allowed, rule.cap_per_day - earned_today)
    if rule.cap_per_month is not None:
        allowed = min(allowed, rule.cap_per_month - earned_this_month)
    return max(0, allowed)


def earn_times(at: datetime, *, pending_days: int, expiry_months: int) -> tuple[datetime, datetime | None]:
    """(available_at, expires_at) of points earned at ``at``.

    Pending for ``pending_days`` whole days of 24 hours; expiring ``expiry_months`` calendar months
    later on the UTC calendar, clamped to the month's end (``lots.expiry_for``; 0: never). Bulk
    awarding writes the same in SQL, and a test proves they agree.
    """
    utc = at.astimezone(UTC)
    return utc + timedelta(days=pending_days), expiry_for(utc, expiry_months)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def day_bounds(on: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local day ``on``, in UTC (23 or 25 hours long across a DST change)."""
    start = datetime.combine(on, time(), tzinfo=tz)
    end = datetime.combine(on + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_bounds(on: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local month of ``on``, in UTC."""
    first = on.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime.combine(first, time(), tzinfo=tz).astimezone(UTC),
        datetime.combine(following, time(), tzinfo=tz).astimezone(UTC),
    )


def yearly_dates(on: date) -> list[tuple[int, int]]:
    """The (month, day) pairs whose yearly return falls on ``on``: 29 February is celebrated on
    28 February in years without one."""
    pairs = [(on.month, on.day)]
    if (on.month, on.day) == (2, 28) and not calendar.isleap(on.year):
        pairs.append((2, 29))
    return pairs


def refund_target(earned: int, refunded_minor: int, total_minor: int) -> int:
    """Points of an earn that ``refunded_minor`` (all refunds so far) of a ``total_minor`` order takes
    back: in proportion, rounded down, never more than the earn."""
    if total_minor <= 0 or refunded_minor <= 0:
        return 0
    return earned * min(refunded_minor, total_minor) // total_minor


_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def emails_in(text: str | None) -> list[str]:
    """Email addresses written in a text (a referral's "referred jo@example.com"), lower-cased, in order."""
    found: dict[str, None] = {}
    for match in _EMAIL.finditer(text or ""):
        found[match.group(0).strip(".").lower()] = None
    return list(found)


def points_text(points: int, label: str) -> str:
    """The text of the ``points_earned`` event a bonus writes: ``"+50 points: Thanks for your review"``."""
    return f"{points:+d} points: {label}"
