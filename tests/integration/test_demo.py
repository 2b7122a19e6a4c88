"""`goodwill demo` loads a living business through the real importers, and is idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from goodwill.cli import app
from goodwill.db import Database
from goodwill.events.model import Event, Order
from goodwill.loyalty.ledger import check
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, LoyaltyEntry, Redemption, Reward, RewardKind
from goodwill.notes.model import Note
from goodwill.people.model import Fact, Person
from goodwill.planner.model import PlanItem
from goodwill.team.model import User

runner = CliRunner()


def test_demo_loads_a_realistic_business_once(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"GOODWILL_DATABASE_URL": db.url}
    first = runner.invoke(app, ["demo", "--people", "120", "--seed", "3", "--no-serve"], env=env)
    assert first.exit_code == 0, first.output
    assert "Log in as owner@example.com with password" in first.output

    with db.reading() as s:
        kinds = dict(s.execute(select(Event.kind, func.count()).group_by(Event.kind)).all())
        people = s.scalar(select(func.count()).select_from(Person))
        prospects = s.scalar(select(func.count()).where(Person.kind == "prospect"))
        orders = s.scalar(select(func.count()).select_from(Order))
        facts = s.scalar(select(func.count()).select_from(Fact))
        roles = sorted(s.scalars(select(User.role)).all())
    assert people == 120
    assert prospects and prospects > 5  # window-shoppers are part of the business too
    assert orders and orders > 200
    assert facts and facts > 50
    for kind in ("purchase", "question", "complaint", "complaint_resolved", "praise", "late_delivery"):
        assert kinds.get(kind, 0) > 0, kind
    assert kinds["purchase"] < orders  # cancelled orders are not purchases
    assert roles == ["admin", "agent", "agent", "manager"]
    with db.reading() as s:
        planned = s.execute(select(PlanItem.moment, PlanItem.evidence, PlanItem.reason)).all()
        drafts = s.scalar(select(func.count()).select_from(Note).where(Note.status == "draft"))
    # The Today page has a real plan with reasons, and its notes wait for review.
    assert planned and drafts == len(planned)
    assert all(evidence and reason for _, evidence, reason in planned)

    loyalty = _loyalty(db)
    # A catalogue of things people want, of every kind, and points from two years of orders.
    assert set(loyalty["rewards"]) == set(RewardKind) and 6 <= sum(loyalty["rewards"].values()) <= 8
    assert loyalty["earned"] > 5000 and loyalty["members"] > 50 and loyalty["birthdays"] >= 3
    assert {"Member", "Silver"} <= set(loyalty["tiers"])
    # A few redemptions, one a gift by post still waiting to be fulfilled.
    assert 3 <= len(loyalty["redemptions"]) <= 6
    assert ("physical_gift", "pending") in loyalty["redemptions"]
    assert ("physical_gift", "shipped") in loyalty["redemptions"]
    assert loyalty["problems"] == []

    again = runner.invoke(app, ["demo", "--people", "120", "--seed", "3", "--no-serve"], env=env)
    assert again.exit_code == 0, again.output
    assert "New this run: 0 people, 0 orders, 0 events." in again.output
    assert _loyalty(db) == loyalty

    shown = runner.invoke(app, ["people", "show", "1", "--json"], env=env)
    assert json.loads(shown.output)["id"] == 1


def _loyalty(db: Database) -> dict[str, Any]:
    with db.reading() as s:
        return {
            "rewards": dict(s.execute(select(Reward.kind, func.count()).group_by(Reward.kind)).all()),
            "earned": s.scalar(
                select(func.sum(LoyaltyEntry.points)).where(LoyaltyEntry.kind == EntryKind.earn)
            ),
            "members": s.scalar(select(func.count()).select_from(LoyaltyAccount)),
            "birthdays": s.scalar(select(func.count()).where(LoyaltyAccount.birthday_month.is_not(None))),
            "tiers": dict(
                s.execute(select(LoyaltyAccount.tier, func.count()).group_by(LoyaltyAccount.tier)).all()
            ),
            "redemptions": sorted(
                (kind, status)
                for kind, status in s.execute(
                    select(Reward.kind, Redemption.status).join(Reward, Reward.id == Redemption.reward_id)
                )
            ),
            "problems": check(s),
        }
