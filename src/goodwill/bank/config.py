"""``[bank]`` and ``[bank.rules]`` from goodwill.toml (or GOODWILL_BANK__* variables), validated.

Every mistake names its key: ``bank.rules.late_delivry: unknown rule``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from goodwill.bank.rules import ADJUSTMENT, DEPOSIT_RULES, IN_TIME, NEUTRAL_KINDS, RULES, BankConfig
from goodwill.config import ConfigError, Settings, load_settings

CONFIGURABLE_RULES: tuple[str, ...] = tuple(r.name for r in RULES) + NEUTRAL_KINDS
# (lowest, highest) allowed for each [bank] number; the half-life bounds keep stored scores finite.
LIMITS: dict[str, tuple[int, int]] = {
    "half_life_days": (30, 3650),
    "watch_streak": (1, 100),
    "at_risk_streak": (1, 100),
    "question_sla_days": (1, 365),
    "complaint_sla_days": (1, 365),
    "recovery_bonus": (0, 1000),
    "recovery_step": (0, 1000),
}


class BankConfigError(ConfigError):
    """A [bank] setting is wrong; the message names it."""


def _whole_number(key: str, value: Any) -> int:
    # Environment variables arrive as strings; TOML numbers arrive as int (or float: refused).
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BankConfigError(f"{key}: must be a whole number, got {value!r}")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise BankConfigError(f"{key}: must be a whole number, got {value!r}") from None
    return value


def _weights(raw: Any) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise BankConfigError("bank.rules: must be a table of rule = points")
    weights = {rule.name: rule.weight for rule in RULES}
    for name, value in raw.items():
        key = f"bank.rules.{name}"
        if name == ADJUSTMENT:
            raise BankConfigError(f"{key}: an adjustment's points come from each event, not from a rule")
        if name == IN_TIME:
            raise BankConfigError(f"{key}: set complaint_resolved and [bank] recovery_bonus instead")
        if name not in CONFIGURABLE_RULES:
            raise BankConfigError(
                f"{key}: unknown rule; known rules: {', '.join(sorted(CONFIGURABLE_RULES))}"
            )
        points = _whole_number(key, value)
        if name in DEPOSIT_RULES and points < 0:
            raise BankConfigError(f"{key}: is a deposit, so it must be 0 (off) or more, got {points}")
        if name not in DEPOSIT_RULES and name not in NEUTRAL_KINDS and points > 0:
            raise BankConfigError(f"{key}: is a withdrawal, so it must be 0 (off) or less, got {points}")
        if abs(points) > 1000:
            raise BankConfigError(f"{key}: at most 1000 points either way, got {points}")
        weights[name] = points
    return weights


def bank_config_from(raw: Mapping[str, Any]) -> BankConfig:
    """Validate the ``[bank]`` table; missing keys keep their defaults."""
    numbers: dict[str, int] = {}
    for name, value in raw.items():
        if name == "rules":
            continue
        if name not in LIMITS:
            known = ", ".join(["rules", *LIMITS])
            raise BankConfigError(f"bank.{name}: unknown setting; known settings: {known}")
        number = _whole_number(f"bank.{name}", value)
        low, high = LIMITS[name]
        if not low <= number <= high:
            raise BankConfigError(f"bank.{name}: must be between {low} and {high}, got {number}")
        numbers[name] = number
    config = BankConfig(weights=_weights(raw.get("rules", {})), **numbers)
    if config.at_risk_streak < config.watch_streak:
        raise BankConfigError(
            f"bank.at_risk_streak: must be at least watch_streak ({config.watch_streak}), "
            f"got {config.at_risk_streak}"
        )
    return config


def load_bank_config(settings: Settings | None = None) -> BankConfig:
    return bank_config_from((settings or load_settings()).bank)
