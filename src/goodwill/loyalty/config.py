"""``[loyalty]`` in goodwill.toml: the points program, its earning rules and its tiers.

Plain pydantic models (validation names the bad key). Admins may replace a rule on the rules page;
``goodwill.loyalty.rules.effective_rules`` merges those edits over the rules defined here.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# What can trigger an earning rule: a purchase (points per currency unit spent), an event kind, or
# a date in the person's year (birthday, anniversary of their first order). "referred" is the
# other side of a referral: the person named in someone's referral event.
TRIGGERS = ("purchase", "review", "referral", "referred", "birthday", "anniversary")


class EarnRuleConfig(BaseModel):
    """One earning rule. ``points`` is a fixed award; ``points_per_unit`` scales with the amount spent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    trigger: str
    label: str = ""  # shown to customers ("Birthday bonus"); defaults to the name
    points: int = Field(default=0, ge=0, le=1_000_000)
    points_per_unit: int = Field(default=0, ge=0, le=10_000)  # per whole currency unit (1 USD)
    tier_multiplier: bool = True  # whether the person's tier multiplier applies
    cap_per_day: int | None = Field(default=None, ge=0)  # points from this rule per person per day
    cap_per_month: int | None = Field(default=None, ge=0)
    starts_on: date | None = None
    ends_on: date | None = None
    tiers: tuple[str, ...] = ()  # empty: every tier (and no tier)
    segments: tuple[str, ...] = ()  # RFM segments (insights); empty: everyone
    enabled: bool = True

    @field_validator("trigger")
    @classmethod
    def _known_trigger(cls, value: str) -> str:
        if value not in TRIGGERS:
            raise ValueError(f"unknown trigger {value!r}; known: {', '.join(TRIGGERS)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EarnRuleConfig:
        if self.trigger == "purchase":
            if self.points:
                raise ValueError(f"{self.name}: a purchase rule uses points_per_unit, not points")
        elif self.points_per_unit:
            raise ValueError(f"{self.name}: only a purchase rule can use points_per_unit")
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError(f"{self.name}: ends_on is before starts_on")
        return self


class TierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40)
    # Points earned (or spend, in minor units, when tier_basis = "spend") over the rolling window.
    threshold: int = Field(ge=0)
    # Earning multiplier in percent: 125 gives 1.25 x points (rounded down to whole points).
    multiplier_percent: int = Field(default=100, ge=100, le=1000)
    perks: str = ""


def _default_rules() -> tuple[EarnRuleConfig, ...]:
    return (
        EarnRuleConfig(name="purchase", trigger="purchase", label="Points for your order", points_per_unit=1),
        EarnRuleConfig(
            name="review", trigger="review", label="Thanks for your review", points=50, cap_per_month=100
        ),
        EarnRuleConfig(name="referral", trigger="referral", label="Thanks for the referral", points=200),
        EarnRuleConfig(name="referred", trigger="referred", label="Welcome: a friend sent you", points=100),
        EarnRuleConfig(
            name="birthday", trigger="birthday", label="Happy birthday", points=100, tier_multiplier=False
        ),
        EarnRuleConfig(
            name="anniversary",
            trigger="anniversary",
            label="A year with us",
            points=100,
            tier_multiplier=False,
        ),
    )


def _default_tiers() -> tuple[TierConfig, ...]:
    return (
        TierConfig(name="Member", threshold=0, multiplier_percent=100),
        TierConfig(name="Silver", threshold=500, multiplier_percent=110, perks="10% more points on orders"),
        TierConfig(
            name="Gold", threshold=1500, multiplier_percent=125, perks="25% more points, early access"
        ),
    )


class LoyaltyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Every earn carries its own expiry, this many months after it was earned (0: points never expire).
    expiry_months: int = Field(default=12, ge=0, le=120)
    # New points are pending (not yet spendable) for the returns window.
    pending_days: int = Field(default=14, ge=0, le=365)
    # Tiers are earned over a rolling window, on points earned or on spend; never on the balance.
    tier_basis: str = "points"
    tier_window_days: int = Field(default=365, ge=30, le=3650)
    # A tier that no longer qualifies is kept this many days before the person moves down.
    downgrade_grace_days: int = Field(default=90, ge=0, le=3650)
    tiers: tuple[TierConfig, ...] = Field(default_factory=_default_tiers)
    rules: tuple[EarnRuleConfig, ...] = Field(default_factory=_default_rules)
    # How long a customer's signed loyalty link works.
    link_days: int = Field(default=90, ge=1, le=3650)

    @field_validator("tier_basis")
    @classmethod
    def _basis(cls, value: str) -> str:
        if value not in ("points", "spend"):
            raise ValueError("tier_basis must be 'points' or 'spend'")
        return value

    @field_validator("tiers")
    @classmethod
    def _ordered_tiers(cls, value: tuple[TierConfig, ...]) -> tuple[TierConfig, ...]:
        if not value:
            raise ValueError("at least one tier is needed (the entry tier, threshold 0)")
        if value[0].threshold != 0:
            raise ValueError(f"the first tier ({value[0].name}) must have threshold 0")
        thresholds = [tier.threshold for tier in value]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must rise strictly, lowest first")
        if len({tier.name for tier in value}) != len(value):
            raise ValueError("a tier name is used twice")
        return value

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, value: tuple[EarnRuleConfig, ...]) -> tuple[EarnRuleConfig, ...]:
        names = [rule.name for rule in value]
        if len(set(names)) != len(names):
            raise ValueError("a rule name is used twice")
        return value

    @model_validator(mode="after")
    def _rule_tiers_exist(self) -> LoyaltyConfig:
        known = {tier.name for tier in self.tiers}
        for rule in self.rules:
            for tier in rule.tiers:
                if tier not in known:
                    raise ValueError(
                        f"rule {rule.name}: unknown tier {tier!r}; tiers: {', '.join(sorted(known))}"
                    )
        return self
