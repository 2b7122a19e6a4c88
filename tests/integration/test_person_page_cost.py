"""The person page's cost in SQL statements, and the cheaper reads it uses showing what the services
they replaced would.

Statement counts are deterministic (unlike time), so the page's count is pinned with an upper
bound, and a person with four times the history must cost the same number of statements (no query
per row). The panel's one-statement read of the loyalty figures and tier measure is compared with
``ledger.summary`` and ``awards.tier_progress`` on both tier bases. ``bench/person_page_bench.py``
measures the CPU.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from statement_count import counting
from test_web_client import logged_in_agent

from goodwill.bank.config import load_bank_config
from goodwill.bank.service import refresh_people
from goodwill.config import Settings, load_settings
from goodwill.db import Database, utcnow
from goodwill.events.model import Order
from goodwill.events.service import NewEvent, record_event
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore
from goodwill.loyalty import awards, ledger, members
from goodwill.loyalty.model import EntryKind
from goodwill.loyalty.pages import person_loyalty
from goodwill.loyalty.redemption import redeem, redemptions
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people import service as people
from goodwill.people.privacy import erase_person
from goodwill.people.service import PersonRecord

# Measured: 14 on both backends (session, person with purchase totals, timeline, complaint
# visibility, bank statement, consent, emails, facts, insights 3, loyalty 3). Anything more is a
# regression to look at.
PAGE_STATEMENTS = 14
KINDS = ("visit", "question", "praise", "complaint", "complaint_resolved", "late_delivery")


def settings_for(db: Database, **loyalty: Any) -> Settings:
    return load_settings(
        database_url=db.url, secret_key="test-secret", business={"currency": "USD"}, loyalty=loyalty
    )


def seed_person(db: Database, settings: Settings, name: str, *, scale: int) -> int:
    """A customer with some of everything the page shows; ``scale`` multiplies every count."""
    now = utcnow()
    with db.transaction() as s:
        [pid], _ = people.resolve_people(
            s, [PersonRecord(name=name, email=f"{name.lower()}@x.test", consent={"email": True})]
        )
        people.mark_customers(s, [pid])
        for i in range(10 * scale):
            at = now - timedelta(days=400 - 9 * i)
            cancelled = now - timedelta(days=1) if i == 2 else None
            order = Order(
                person_id=pid,
                source="test",
                external_id=f"{name}-{i}",
                placed_at=at,
                currency="USD",
                total_minor=2000 + i,
                cancelled_at=cancelled,
            )
            s.add(order)
            s.flush()
            for kind, amount, when in [("purchase", 2000 + i, at), ("refund", 500, at + timedelta(days=3))]:
                if kind == "refund" and i % 3:
                    continue
                record_event(
                    s,
                    NewEvent(
                        person_id=pid,
                        kind=kind,
                        occurred_at=when,
                        source="test",
                        source_id=f"{name}-{kind}-{i}",
                        amount_minor=amount,
                        currency="USD",
                        order_id=order.id,
                    ),
                )
            record_event(
                s,
                NewEvent(
                    person_id=pid,
                    kind=KINDS[i % len(KINDS)],
                    occurred_at=at + timedelta(hours=5),
                    source="test",
                    source_id=f"{name}-other-{i}",
                    text=f"note {i}",
                ),
            )
        for i in range(3 * scale):
            people.add_fact(s, person_id=pid, text=f"Fact {i} about {name}", source="staff")
            people.record_consent(
                s, person_id=pid, channel=("sms", "email")[i % 2], granted=bool(i % 3), source="form"
            )
    with db.transaction() as s:
        awards.award_all(s, now=now, settings=settings, since=now - timedelta(days=500))
        for i in range(2 * scale):
            ledger.add_lot(
                s,
                person_id=pid,
                kind=EntryKind.earn,
                points=100 + i,
                key=f"earn:{name}:{i}",
                at=now - timedelta(days=3 * i),
                available_at=now + timedelta(days=5) if i % 2 else now - timedelta(days=1),
                expires_at=now + timedelta(days=20 + i),
                rule="purchase",
            )
        ledger.adjust(
            s,
            person_id=pid,
            points=-50,
            reason="took back a double award",
            key=f"adjust:{name}",
            by_user_id=None,
            now=now,
            config=settings.loyalty,
        )
        reward = create_reward(
            s, data=RewardInput(name=f"Shipping {name}", kind="free_shipping", cost_points=10)
        )
        for i in range(2 * scale):
            redeem(
                s,
                person_id=pid,
                reward_id=reward.id,
                request_key=f"{name}-{i}",
                ship_to=None,
                now=now,
                by="test",
                settings=settings,
            )
        refresh_people(
            session=s, person_ids=[pid], config=load_bank_config(settings), currency="USD", now=now
        )
        run = InsightRun(
            as_of=now.date(),
            engine="duckdb",
            period="D",
            horizon_months=12,
            monthly_discount=0.01,
            currency="USD",
            customers=1,
            params={},
        )
        s.add(run)
        s.flush()
        s.add(
            InsightScore(
                person_id=pid,
                run_id=run.id,
                first_purchase_on=(now - timedelta(days=400)).date(),
                last_purchase_on=now.date(),
                orders=10 * scale,
                frequency=10,
                recency_days=390,
                age_days=400,
                total_spend_minor=20000 * scale,
                r_score=4,
                f_score=3,
                m_score=5,
                segment="champions",
                p_alive=0.9,
                expected_purchases=2.5,
                clv_minor=12000,
            )
        )
        for i in range(2 * scale):
            s.add(
                InsightMilestone(
                    person_id=pid,
                    run_id=run.id,
                    kind="orders",
                    value=5 * (i + 1),
                    reached_on=(now - timedelta(days=30 * i)).date(),
                )
            )
    return pid


def test_the_person_page_costs_a_fixed_small_number_of_statements(db: Database) -> None:
    client = logged_in_agent(db)
    settings = settings_for(db)
    small = seed_person(db, settings, "Zoe", scale=1)
    big = seed_person(db, settings, "Hiro", scale=4)
    with db.transaction() as s:
        [empty], _ = people.resolve_people(s, [PersonRecord(name="Nobody", email="nobody@x.test")])
    counts = {}
    for pid in (small, big, empty):
        assert client.get(f"/people/{pid}").status_code == 200  # warm: the session's first use may write
        with counting(db) as seen:
            page = client.get(f"/people/{pid}")
        assert page.status_code == 200
        counts[pid] = len(seen)
    assert "loyalty-available" in page.text and "Not a member yet" in page.text
    assert counts[small] == counts[big], "the page's statement count grows with the person's history"
    assert max(counts.values()) <= PAGE_STATEMENTS, (
        f"the person page runs {counts} statements, more than {PAGE_STATEMENTS}"
    )


def test_the_person_and_their_totals_read_together_match_the_separate_reads(db: Database) -> None:
    settings = settings_for(db)
    busy = seed_person(db, settings, "Zoe", scale=2)
    with db.transaction() as s:
        [empty], _ = people.resolve_people(s, [PersonRecord(name="Nobody", email="nobody@x.test")])
    for pid in (busy, empty):
        for currency in ("USD", "EUR"):
            with db.reading() as s:
                person, totals = people.person_with_totals(s, pid, currency=currency)
                assert person is people.get_person(s, pid)
                assert totals == people.purchase_totals(s, pid, currency=currency)
    with db.reading() as s:
        for missing in (empty + 1000, -1, 2**63):
            with pytest.raises(people.PersonNotFound, match=f"no person with id or email '{missing}'"):
                people.person_with_totals(s, missing, currency="USD")


@pytest.mark.parametrize("basis", ["points", "spend"])
def test_the_loyalty_panel_shows_what_the_ledger_and_tier_services_say(db: Database, basis: str) -> None:
    settings = settings_for(db, tier_basis=basis, downgrade_grace_days=30)
    busy = seed_person(db, settings, "Zoe", scale=2)
    erased = seed_person(db, settings, "Hiro", scale=1)
    with db.transaction() as s:
        [stranger], _ = people.resolve_people(s, [PersonRecord(name="Stranger", email="s@x.test")])
        erase_person(s, person_ref=erased, secret_key="test-secret", erased_by="test", reason="asked")
    now = utcnow()
    with db.transaction() as s:  # a member in the grace period, to show "kept until"
        awards.refresh_tiers(s, now=now + timedelta(days=300), settings=settings, person_ids=[busy])
    seen_tiers = set()
    for moment in (now, now + timedelta(days=40), now + timedelta(days=300)):
        for pid in (busy, erased, stranger):
            with db.reading() as s:
                with counting(db) as statements:
                    panel = person_loyalty(s, person_id=pid, settings=settings, now=moment)
                assert len(statements) == 3
                summary = ledger.summary(s, person_id=pid, now=moment)
                tier = awards.tier_progress(
                    s, person_id=pid, now=moment, config=settings.loyalty, currency="USD"
                )
                assert panel["loyalty"] == summary
                assert panel["loyalty_progress"] == tier
                seen_tiers.add((tier.tier, tier.measure > 0, tier.kept_until is not None))
                lots = ledger.lots_of(s, person_id=pid)
                assert panel["loyalty_pending"] == sorted(
                    (lot.available_at, lot.remaining) for lot in lots if lot.is_pending(moment)
                )
                assert [e.id for e in panel["loyalty_entries"]] == [
                    e.id for e in ledger.entries_of(s, person_id=pid, limit=8)
                ]
                assert [(r.id, r.reward_id) for r in panel["loyalty_redemptions"]] == [
                    (r.id, r.reward_id) for r in redemptions(s, person_id=pid, limit=5)
                ]
                link = members.staff_link(s, settings=settings, person_id=pid, now=moment)
                assert panel["loyalty_link"] == link
                assert (link is None) == (pid == erased)
    assert any(measured for _, measured, _ in seen_tiers) and any(kept for *_, kept in seen_tiers)


def test_purchase_totals_and_consent_read_once_agree_with_the_rules(db: Database) -> None:
    now = datetime(2026, 3, 1, 12, 0).astimezone()
    with db.transaction() as s:
        [pid], _ = people.resolve_people(s, [PersonRecord(name="Ana", email="ana@x.test")])
        cancelled = Order(
            person_id=pid,
            source="t",
            external_id="c",
            placed_at=now,
            currency="USD",
            total_minor=999,
            cancelled_at=now,
        )
        s.add(cancelled)
        s.flush()
        for i, (kind, amount, currency, order_id) in enumerate(
            [
                ("purchase", 1000, "USD", None),
                ("purchase", 700, "EUR", None),  # an order, but not spend in USD
                ("purchase", 999, "USD", cancelled.id),  # cancelled: neither
                ("refund", 250, "USD", None),
                ("refund", 999, "USD", cancelled.id),
                ("visit", None, None, None),
            ]
        ):
            record_event(
                s,
                NewEvent(
                    person_id=pid,
                    kind=kind,
                    occurred_at=now + timedelta(days=i),
                    source="t",
                    source_id=str(i),
                    amount_minor=amount,
                    currency=currency,
                    order_id=order_id,
                ),
            )
        for granted, at in [(True, now), (False, now), (True, now - timedelta(days=1))]:
            people.record_consent(s, person_id=pid, channel="email", granted=granted, source="t", at=at)
    with db.reading() as s:
        totals = people.purchase_totals(s, pid, currency="USD")
        assert (totals.orders, str(totals.total_spent)) == (2, "7.50")
        assert (totals.first_order_at, totals.last_order_at) == (now, now + timedelta(days=1))
        nothing = people.purchase_totals(s, pid, currency="GBP")
        assert (nothing.orders, str(nothing.total_spent)) == (2, "0.00")
        # Two changes at the same moment: the later one (higher id) is in force.
        assert people.current_consent(s, pid)["email"]["granted"] is False
        assert people.consent_in_force(people.consent_history(s, pid)) == people.current_consent(s, pid)
