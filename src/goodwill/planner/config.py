"""``[planner.moments]`` and ``[planner.policy]`` in goodwill.toml: why and how we thank people.

Plain pydantic models (validation names the bad key); the pure rules in ``planner.moments`` and
``planner.policy`` take them as arguments and read nothing else.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from goodwill.planner.domain import EVENT_MOMENTS, MomentKind

CHANNELS = ("email", "sms", "card", "call")

DEFAULT_STRENGTH: dict[MomentKind, int] = {
    MomentKind.recovery: 90,
    MomentKind.complaint_resolved: 80,
    MomentKind.praise: 75,
    MomentKind.referral: 70,
    MomentKind.second_order: 65,
    MomentKind.drifting: 60,
    MomentKind.anniversary: 55,
    MomentKind.nth_order: 50,
    MomentKind.spend_milestone: 50,
    MomentKind.window_shopper: 40,
    # Ranks a campaign's people among themselves only (its plan holds nothing else), and below every
    # moment found in events, should the two ever compete for a card or a call.
    MomentKind.campaign: 30,
}


class MomentsConfig(BaseModel):
    """Which moments count, how strong each is, and the thresholds behind them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Events this many days back (plan day included) can make a moment today.
    lookback_days: int = Field(default=3, ge=1, le=30)
    # Campaign moments are never found in events; listing campaign here changes nothing.
    enabled: tuple[MomentKind, ...] = EVENT_MOMENTS
    strength: dict[MomentKind, int] = Field(default_factory=lambda: dict(DEFAULT_STRENGTH))
    # A loyal customer starts drifting on the day the gap since their last order grows past this
    # many times their usual gap between orders (two decimals at most: the rule and its SQL twin
    # compare whole numbers, gap * (orders - 1) * 100 > factor * 100 * (last - first order)).
    drifting_gap_factor: Decimal = Field(default=Decimal("2.5"), ge=1, le=20, decimal_places=2)
    drifting_min_orders: int = Field(default=3, ge=2, le=1000)
    drifting_segments: tuple[str, ...] = ("champions", "loyal", "cant_lose_them", "at_risk")
    # Relationship bank statuses that call for recovery outreach by a manager.
    recovery_statuses: tuple[str, ...] = ("overdrawn",)
    # Order-count milestones worth a moment (the 2nd order is its own moment).
    order_milestones: tuple[int, ...] = (5, 10, 25, 50, 100)

    @field_validator("strength")
    @classmethod
    def _strength_range(cls, value: dict[MomentKind, int]) -> dict[MomentKind, int]:
        merged = dict(DEFAULT_STRENGTH)
        for kind, strength in value.items():
            if not 0 <= strength <= 100:
                raise ValueError(f"{kind}: strength must be between 0 and 100, got {strength}")
            merged[kind] = strength
        return merged


class PolicyConfig(BaseModel):
    """The contact policy: consent, caps, cooldown, quiet hours, capacity and holdout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Channels in the order we fall back to when the preferred one is not allowed or full.
    channel_order: tuple[str, ...] = ("email", "card", "sms", "call")
    # One cap across all channels: at most `cap_per_window` appreciations in any `cap_window_days`
    # days, and at most `cap_per_year` in any 365 days.
    cap_window_days: int = Field(default=30, ge=1, le=365)
    cap_per_window: int = Field(default=1, ge=1, le=31)
    cap_per_year: int = Field(default=4, ge=1, le=365)
    # No appreciation within this many days after any contact from us (appreciation or not).
    cooldown_days: int = Field(default=7, ge=0, le=365)
    # SMS and calls only between these local hours, in the person's time zone.
    contact_from_hour: int = Field(default=8, ge=0, le=23)
    contact_until_hour: int = Field(default=21, ge=1, le=24)
    # What the team can do in a day, per channel.
    capacity: dict[str, int] = Field(
        default_factory=lambda: {"email": 200, "sms": 50, "card": 20, "call": 10}
    )
    # Share of eligible people held out at random (recorded, not contacted) to measure impact.
    holdout_share: Decimal = Field(default=Decimal("0.10"), ge=0, le=Decimal("0.5"))
    holdout_seed: str = "goodwill"

    @field_validator("channel_order")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        if len(set(value)) != len(value):
            raise ValueError("a channel is listed twice")
        return value

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, value: dict[str, int]) -> dict[str, int]:
        merged = {"email": 200, "sms": 50, "card": 20, "call": 10}
        for channel, count in value.items():
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
            if count < 0:
                raise ValueError(f"{channel}: capacity must be 0 or more, got {count}")
            merged[channel] = count
        return merged

    @model_validator(mode="after")
    def _hours(self) -> PolicyConfig:
        if self.contact_from_hour >= self.contact_until_hour:
            raise ValueError("contact_from_hour must be before contact_until_hour")
        if self.cap_per_year < self.cap_per_window:
            raise ValueError("cap_per_year must be at least cap_per_window")
        return self


class PlannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    moments: MomentsConfig = MomentsConfig()
    policy: PolicyConfig = PolicyConfig()
