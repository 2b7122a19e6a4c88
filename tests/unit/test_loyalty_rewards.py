"""The catalogue's validation: every bad field is named, with the reason in plain words."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from goodwill.loyalty.model import RewardKind
from goodwill.loyalty.rewards import RewardError, RewardInput, check_reward, needs_address, needs_fulfilment

GOOD = RewardInput(name="Tote bag", kind="physical_gift", cost_points=500)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_good_reward_is_cleaned() -> None:
    clean = check_reward(replace(GOOD, name="  Tote   bag ", description="  Canvas, printed.  "))
    assert clean.name == "Tote bag"
    assert clean.description == "Canvas, printed."
    assert clean.cost_points == 500


def test_the_edges_that_are_allowed() -> None:
    check_reward(replace(GOOD, name="x" * 120, stock=0, per_person_limit=1, cost_points=1))
    check_reward(replace(GOOD, available_from=MAY, available_until=JUNE))
    check_reward(replace(GOOD, available_from=MAY))
    check_reward(replace(GOOD, available_until=JUNE))
    for kind in RewardKind:
        check_reward(replace(GOOD, kind=kind.value))


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty-name", {"name": "   "}, "name", "name: must be 1 to 120 characters, got 0"),
    ("long-name", {"name": "x" * 121}, "name", "name: must be 1 to 120 characters, got 121"),
    ("unknown-kind", {"kind": "voucher"}, "kind", "unknown kind 'voucher'"),
    ("zero-cost", {"cost_points": 0}, "cost_points", "cost_points: must be between 1 and"),
    ("negative-cost", {"cost_points": -5}, "cost_points", "got -5"),
    ("float-cost", {"cost_points": 5.5}, "cost_points", "must be a whole number, got 5.5"),
    ("bool-cost", {"cost_points": True}, "cost_points", "must be a whole number"),
    ("huge-cost", {"cost_points": 10**9}, "cost_points", "between 1 and 100000000"),
    ("negative-stock", {"stock": -1}, "stock", "stock: must be between 0 and"),
    ("zero-limit", {"per_person_limit": 0}, "per_person_limit", "per_person_limit: must be between 1 and"),
    ("long-description", {"description": "x" * 2001}, "description", "at most 2000 characters"),
    ("naive-start", {"available_from": datetime(2026, 5, 1)}, "available_from", "needs a time zone"),
    ("naive-end", {"available_until": datetime(2026, 5, 1)}, "available_until", "needs a time zone"),
    ("window-backwards", {"available_from": JUNE, "available_until": MAY}, "available_until",
     "available_until: must be after available_from"),
    ("window-empty", {"available_from": MAY, "available_until": MAY}, "available_until", "must be after"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "field", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_field_is_named(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(RewardError) as caught:
        check_reward(replace(GOOD, **changes))
    assert caught.value.field == field
    assert message in str(caught.value)


def test_which_kinds_need_an_address_or_fulfilment() -> None:
    assert [k.value for k in RewardKind if needs_address(k)] == ["physical_gift"]
    assert [k.value for k in RewardKind if needs_fulfilment(k)] == ["physical_gift", "experience"]
