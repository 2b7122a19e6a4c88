"""Tiers: which tier a person's measure earns, the downgrade policy, and progress. Pure.

The measure is what the person did over the rolling window (points earned, or spend in minor
units), never their balance: spending points on a reward never costs a tier.

Downgrade policy: moving up is immediate. When the measure falls below the current tier's
threshold, the tier is kept for ``grace_days`` from the moment that is first seen
(``kept_until``); qualifying again before then ends the grace. When the grace is over and the
person still does not qualify, they move to the tier their measure qualifies for then (which may
be one step down or several, never below where they stand).

A person with no tier yet (``""``), or in a tier that is no longer configured, counts as the
entry tier (the first one, threshold 0) for multipliers and rule limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from goodwill.loyalty.config import TierConfig


@dataclass(frozen=True)
class TierState:
    tier: str
    since: datetime | None
    kept_until: datetime | None


@dataclass(frozen=True)
class TierProgress:
    tier: str
    next_tier: str | None
    to_next: int | None  # measure still needed for the next tier (None at the top)
    to_keep: int  # measure still needed to keep the current tier (0: it qualifies)
    measure: int
    basis: str  # "points" or "spend" (minor units)
    kept_until: datetime | None  # under the grace period: the tier is kept until then


def _rank(tiers: Sequence[TierConfig], name: str) -> int:
    """Position of the tier, lowest first; an unknown or empty name is the entry tier (0)."""
    for index, tier in enumerate(tiers):
        if tier.name == name:
            return index
    return 0


def tier_named(tiers: Sequence[TierConfig], name: str) -> TierConfig:
    """The tier of that name, or the entry tier for "" and names no longer configured."""
    return tiers[_rank(tiers, name)]


def qualifying_tier(tiers: Sequence[TierConfig], measure: int) -> TierConfig:
    """The highest tier whose threshold the measure reaches (the entry tier's is 0)."""
    reached = tiers[0]
    for tier in tiers:
        if measure >= tier.threshold:
            reached = tier
    return reached


def multiplier_for(tiers: Sequence[TierConfig], tier: str) -> int:
    """Earning multiplier in percent of that tier (the entry tier's for "" or an unknown name)."""
    return tier_named(tiers, tier).multiplier_percent


def next_state(
    current: TierState, *, measure: int, tiers: Sequence[TierConfig], now: datetime, grace_days: int
) -> TierState:
    """The tier after looking at the measure ``now``, under the downgrade policy (module docstring)."""
    known = current.tier in {tier.name for tier in tiers}
    qualified = qualifying_tier(tiers, measure)
    if not known:  # new member, or a tier removed from the configuration: start where they stand
        return TierState(qualified.name, now, None)
    held = _rank(tiers, current.tier)
    reached = _rank(tiers, qualified.name)
    if reached > held:
        return TierState(qualified.name, now, None)
    if reached == held:
        return TierState(current.tier, current.since, None)
    if current.kept_until is None:
        kept_until = now + timedelta(days=grace_days)
        if kept_until > now:
            return TierState(current.tier, current.since, kept_until)
        return TierState(qualified.name, now, None)  # no grace period configured
    if now < current.kept_until:
        return current
    return TierState(qualified.name, now, None)


def progress(
    tiers: Sequence[TierConfig], *, current: str, measure: int, basis: str, kept_until: datetime | None
) -> TierProgress:
    """How far the measure is from keeping the current tier and from reaching the next one."""
    held = _rank(tiers, current)
    tier = tiers[held]
    above = tiers[held + 1] if held + 1 < len(tiers) else None
    return TierProgress(
        tier=tier.name,
        next_tier=above.name if above else None,
        to_next=max(0, above.threshold - measure) if above else None,
        to_keep=max(0, tier.threshold - measure),
        measure=measure,
        basis=basis,
        kept_until=kept_until,
    )
