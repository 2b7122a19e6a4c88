"""``score_people`` on real SQLite and PostgreSQL: purchases read in bulk, rules applied, results stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.model import Event, Order
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore
from goodwill.insights.pipeline import ScoreOptions
from goodwill.insights.service import score_people
from goodwill.insights.simulate import simulate
from goodwill.insights.views import person_context
from goodwill.people.service import PersonRecord, resolve_people

BUSINESS = Business(name="Tea shop", timezone="Europe/Paris", currency="EUR")
AS_OF = date(2025, 6, 30)


@dataclass
class Shop:
    alice: int  # three orders on two days, one partly refunded
    bob: int  # one order, cancelled after the purchase was recorded
    carol: int  # one fully refunded order and one kept
    dan: int  # bought at 23:30 UTC: already the next day in Paris
    crowd: list[int]


def _at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def build_shop(db: Database, crowd: int = 150) -> Shop:
    """A small shop: four people with edge cases and a simulated crowd so both models can be fitted."""
    sim = simulate(crowd, r=0.9, alpha=30.0, a=0.8, b=2.5, seed=3, start=date(2023, 7, 1))
    with db.transaction() as s:
        records = [
            PersonRecord(name=n, email=f"{n.lower()}@example.com", kind="customer")
            for n in ("Alice", "Bob", "Carol", "Dan")
        ]
        records += [
            PersonRecord(name=f"Crowd {i}", email=f"c{i}@example.com", kind="customer") for i in range(crowd)
        ]
        ids, _ = resolve_people(s, records, source="test")
        events: list[dict[str, Any]] = []

        def order(
            person: int, ref: str, at: datetime, minor: int, *, cancelled: datetime | None = None
        ) -> int:
            row = {
                "person_id": person,
                "source": "test",
                "external_id": ref,
                "placed_at": at,
                "currency": "EUR",
                "total_minor": minor,
                "refunded_minor": 0,
                "cancelled_at": cancelled,
                "items": [],
            }
            return int(s.execute(insert(Order).returning(Order.id), [row]).scalar_one())

        def event(
            person: int, kind: str, at: datetime, minor: int | None, order_id: int | None, ref: str
        ) -> None:
            events.append(
                {
                    "person_id": person,
                    "kind": kind,
                    "occurred_at": at,
                    "amount_minor": minor,
                    "currency": "EUR" if minor is not None else None,
                    "order_id": order_id,
                    "source": "test",
                    "source_id": ref,
                    "recorded_at": at,
                }
            )

        alice, bob, carol, dan = ids[:4]
        a1 = order(alice, "a1", _at(date(2025, 1, 5)), 4_000)
        a2 = order(alice, "a2", _at(date(2025, 3, 9), 9), 10_000)
        a3 = order(alice, "a3", _at(date(2025, 3, 9), 17), 2_000)
        event(alice, "purchase", _at(date(2025, 1, 5)), 4_000, a1, "a1")
        event(alice, "purchase", _at(date(2025, 3, 9), 9), 10_000, a2, "a2")
        event(alice, "refund", _at(date(2025, 3, 20)), 3_000, a2, "a2-refund")
        event(alice, "purchase", _at(date(2025, 3, 9), 17), 2_000, a3, "a3")
        b1 = order(bob, "b1", _at(date(2025, 2, 1)), 5_000, cancelled=_at(date(2025, 2, 2)))
        event(bob, "purchase", _at(date(2025, 2, 1)), 5_000, b1, "b1")
        event(bob, "order_cancelled", _at(date(2025, 2, 2)), 5_000, b1, "b1-cancel")
        c1 = order(carol, "c1", _at(date(2025, 4, 1)), 7_000)
        c2 = order(carol, "c2", _at(date(2025, 5, 1)), 1_500)
        event(carol, "purchase", _at(date(2025, 4, 1)), 7_000, c1, "c1")
        event(carol, "refund", _at(date(2025, 4, 3)), 7_000, c1, "c1-refund")
        event(carol, "purchase", _at(date(2025, 5, 1)), 1_500, c2, "c2")
        d1 = order(dan, "d1", _at(date(2025, 6, 1), 23, 30), 12_000)
        event(dan, "purchase", _at(date(2025, 6, 1), 23, 30), 12_000, d1, "d1")

        crowd_ids = ids[4:]
        for n, (customer, t, amount) in enumerate(zip(sim.customer_id, sim.time, sim.amount, strict=True)):
            at = datetime(2023, 7, 1, tzinfo=UTC) + timedelta(days=float(t))
            event(crowd_ids[int(customer) - 1], "purchase", at, round(amount * 100), None, f"crowd-{n}")
        s.execute(insert(Event), events)
    return Shop(alice, bob, carol, dan, crowd_ids)


def _score(db: Database, engine: str = "duckdb", spark: Any = None) -> dict[str, Any]:
    with db.transaction() as s:
        return score_people(
            s,
            business=BUSINESS,
            options=ScoreOptions(as_of=AS_OF),
            engine=engine,  # type: ignore[arg-type]
            spark=spark,
        ).to_json()


def stored_scores(db: Database) -> dict[int, SimpleNamespace]:
    with db.reading() as s:
        rows = s.execute(select(InsightScore.__table__)).mappings().all()
    return {row["person_id"]: SimpleNamespace(**row) for row in rows}


def test_score_applies_refunds_cancellations_and_the_business_day(db: Database) -> None:
    shop = build_shop(db)
    report = _score(db)
    assert report["bgnbd"] is not None and report["gamma_gamma"] is not None
    scores = stored_scores(db)
    assert report["customers"] == len(scores)

    alice = scores[shop.alice]
    assert (alice.orders, alice.frequency) == (3, 1)  # two orders on 9 March are one purchase day
    assert alice.total_spend_minor == 4_000 + (10_000 - 3_000) + 2_000
    assert (alice.first_purchase_on, alice.last_purchase_on) == (date(2025, 1, 5), date(2025, 3, 9))
    assert alice.recency_days == 63 and alice.age_days == (AS_OF - date(2025, 1, 5)).days
    assert shop.bob not in scores  # the cancelled order was never a purchase
    carol = scores[shop.carol]
    assert (carol.orders, carol.total_spend_minor, carol.first_purchase_on) == (1, 1_500, date(2025, 5, 1))
    assert scores[shop.dan].first_purchase_on == date(2025, 6, 2)  # 23:30 UTC is 01:30 in Paris

    for row in scores.values():
        assert row.p_alive is not None and 0.0 < row.p_alive <= 1.0
        assert row.expected_purchases is not None and row.expected_purchases >= 0
        assert row.clv_minor is not None and row.clv_minor >= 0
        assert 1 <= row.r_score <= 5 and row.segment
    assert scores[shop.carol].p_alive == 1.0  # one purchase day: never seen dropping out

    with db.reading() as s:
        alice_milestones = s.execute(
            select(InsightMilestone.kind, InsightMilestone.value, InsightMilestone.reached_on)
            .where(InsightMilestone.person_id == shop.alice)
            .order_by(InsightMilestone.reached_on, InsightMilestone.kind)
        ).all()
    # 100 EUR reached on 9 March: 40 + (100 - 30 refunded) + 20; the 2nd order the same day.
    assert [tuple(m) for m in alice_milestones] == [
        ("lifetime_spend", 10_000, date(2025, 3, 9)),
        ("nth_order", 2, date(2025, 3, 9)),
    ]


def test_scoring_again_replaces_the_results(db: Database) -> None:
    build_shop(db, crowd=60)
    first = _score(db)
    second = _score(db)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(InsightScore)) == first["customers"]
        assert s.scalar(select(func.count()).select_from(InsightMilestone)) == second["milestones"]
        assert set(s.scalars(select(InsightScore.run_id))) == {second["run_id"]}
        assert s.scalar(select(func.count()).select_from(InsightRun)) == 2
    assert first["milestones"] == second["milestones"]
    assert first["bgnbd"] == second["bgnbd"]


def test_person_context_for_the_page_partial(db: Database) -> None:
    shop = build_shop(db, crowd=60)
    with db.reading() as s:
        assert person_context(s, shop.alice) == {"insights": None}
    _score(db)
    with db.reading() as s:
        context = person_context(s, shop.alice)["insights"]
        nobody = person_context(s, shop.bob)["insights"]
    assert context is not None
    assert context["segment"] and context["segment_label"] and context["segment_meaning"]
    assert context["clv_minor"] == stored_scores(db)[shop.alice].clv_minor
    assert context["currency"] == "EUR"
    labels = [m["label"] for m in context["milestones"]]
    assert "2nd order" in labels
    assert "lifetime spend reached EUR 100.00" in labels
    assert nobody is None


def test_overview_is_kept_with_the_run(db: Database) -> None:
    build_shop(db, crowd=100)
    report = _score(db)
    with db.reading() as s:
        run = s.get(InsightRun, report["run_id"])
        assert run is not None
        overview = run.params["overview"]
    assert sum(overview["segments"].values()) == report["customers"]
    assert int(np.sum(overview["grid"])) == report["customers"]
    assert sum(overview["p_alive_bins"]) == report["customers"]
    months = overview["repeat_rate"]
    assert months and all(0 <= m["returning"] <= m["buyers"] for m in months)
