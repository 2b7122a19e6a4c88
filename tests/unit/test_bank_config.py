"""[bank] settings: defaults, overrides, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from goodwill.bank.config import BankConfigError, bank_config_from, load_bank_config
from goodwill.config import load_settings


def test_defaults_when_nothing_is_configured() -> None:
    config = bank_config_from({})
    assert config.weight("late_delivery") == -4
    assert (config.half_life_days, config.watch_streak, config.at_risk_streak) == (365, 2, 3)


def test_overrides_from_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "goodwill.toml"
    path.write_text(
        "[bank]\nhalf_life_days = 180\nwatch_streak = 1\n\n[bank.rules]\nlate_delivery = -8\nvisit = 1\n"
    )
    monkeypatch.setenv("GOODWILL_CONFIG", str(path))
    config = load_bank_config(load_settings())
    assert config.weight("late_delivery") == -8
    assert config.weight("visit") == 1
    assert config.weight("purchase") == 2
    assert (config.half_life_days, config.watch_streak) == (180, 1)


def test_environment_strings_are_read_as_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOODWILL_CONFIG", "/nonexistent/goodwill.toml")
    monkeypatch.setenv("GOODWILL_BANK__RULES__LATE_DELIVERY", "-9")
    assert load_bank_config(load_settings()).weight("late_delivery") == -9


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": {"late_delivry": -8}}, "bank.rules.late_delivry: unknown rule"),
        ({"rules": {"late_delivery": "lots"}}, "bank.rules.late_delivery: must be a whole number"),
        ({"rules": {"late_delivery": -2.5}}, "bank.rules.late_delivery: must be a whole number"),
        ({"rules": {"late_delivery": True}}, "bank.rules.late_delivery: must be a whole number"),
        ({"rules": {"late_delivery": 3}}, "bank.rules.late_delivery: is a withdrawal"),
        ({"rules": {"card_sent": -1}}, "bank.rules.card_sent: is a deposit"),
        ({"rules": {"goodwill_adjustment": 5}}, "bank.rules.goodwill_adjustment: an adjustment's points"),
        ({"rules": {"praise": 5000}}, "bank.rules.praise: at most 1000"),
        ({"rules": 3}, "bank.rules: must be a table"),
        ({"half_life": 10}, "bank.half_life: unknown setting"),
        ({"half_life_days": 7}, "bank.half_life_days: must be between 30 and 3650"),
        ({"watch_streak": 4}, "bank.at_risk_streak: must be at least watch_streak (4)"),
    ],
)
def test_bad_settings_name_their_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(BankConfigError) as caught:
        bank_config_from(raw)
    assert message in str(caught.value)
