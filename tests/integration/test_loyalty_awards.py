"""Awarding on both backends: events and dates into the ledger, reversals, tiers, the bank, hooks,
and the bulk path giving exactly what the live path gives."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from goodwill.bank.model import BankEntry
from goodwill.bank.rules import BankConfig
from goodwill.config import Settings, load_settings
from goodwill.db import Database, UTCDateTime
from goodwill.events.importers.service import import_events
from goodwill.events.intake import IncomingEvent, record_incoming
from goodwill.events.model import Event, Order
from goodwill.events.service import NewEvent, record_event
from goodwill.insights.model import InsightRun, InsightScore
from goodwill.loyalty import awards_sql, ledger
from goodwill.loyalty.awards import (
    award_all,
    award_dates,
    award_events,
    load_rules,
    load_rules_checked,
    refresh_tiers,
    save_rule,
    tier_measure,
    tier_progress,
)
from goodwill.loyalty.awards_dialect import Dialect
from goodwill.loyalty.awards_tiers import measures
from goodwill.loyalty.config import LoyaltyConfig
from goodwill.loyalty.ledger import check
from goodwill.loyalty.model import (
    EntryKind,
    LoyaltyAccount,
    LoyaltyDraw,
    LoyaltyEntry,
    LoyaltyRuleOverride,
    UnearnedEvent,
)
from goodwill.loyalty.rules import RuleError, earn_times, local_day
from goodwill.loyalty.tiers import TierState, next_state
from goodwill.people.service import PersonRecord, resolve_people

NEW_YORK = "America/New_York"
T0 = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2025, 4, 20, 12, 0, tzinfo=UTC)


def settings_with(**loyalty: Any) -> Settings:
    return load_settings(business={"timezone": NEW_YORK, "currency": "USD"}, loyalty=loyalty)


SETTINGS = settings_with()


def person(s: Session, name: str) -> int:
    [pid], _ = resolve_people(s, [PersonRecord(name=name, email=f"{name.lower()}@example.com")])
    return pid


_counter = iter(range(1, 10**9))


def event(
    s: Session,
    pid: int,
    kind: str,
    at: datetime,
    *,
    amount: int | None = None,
    currency: str = "USD",
    order_id: int | None = None,
    text_: str | None = None,
) -> int:
    stored, _ = record_event(
        s,
        NewEvent(
            person_id=pid,
            kind=kind,
            occurred_at=at,
            source="test",
            source_id=f"{kind}-{next(_counter)}",
            amount_minor=amount,
            currency=currency if amount is not None else None,
            order_id=order_id,
            text=text_,
        ),
    )
    return stored.id


def order(s: Session, pid: int, total: int, at: datetime, cancelled_at: datetime | None = None) -> int:
    row = Order(
        person_id=pid,
        source="test",
        external_id=f"o{next(_counter)}",
        placed_at=at,
        currency="USD",
        total_minor=total,
        cancelled_at=cancelled_at,
    )
    s.add(row)
    s.flush()
    return row.id


def entries(s: Session, pid: int | None = None) -> list[LoyaltyEntry]:
    stmt = select(LoyaltyEntry).order_by(LoyaltyEntry.id)
    if pid is not None:
        stmt = stmt.where(LoyaltyEntry.person_id == pid)
    return list(s.scalars(stmt))


def account(s: Session, pid: int) -> LoyaltyAccount:
    found = s.get(LoyaltyAccount, pid, populate_existing=True)
    assert found is not None
    return found


def award(s: Session, *ids: int, settings: Settings = SETTINGS, now: datetime = NOW) -> Any:
    return award_events(s, event_ids=list(ids), now=now, settings=settings)


# -- purchases --------------------------------------------------------------------------------------


def test_a_purchase_earns_once_with_its_pending_and_expiry_dates(db: Database) -> None:
    at = datetime(2025, 1, 31, 22, 30, tzinfo=UTC)
    with db.transaction() as s:
        ada = person(s, "Ada")
        buy = event(s, ada, "purchase", at, amount=4590)
        first = award(s, buy)
        again = award(s, buy)
        [entry] = entries(s, ada)
        assert (first.earned_entries, first.points, again.earned_entries, again.points) == (1, 45, 0, 0)
        assert (entry.kind, entry.points, entry.key, entry.rule, entry.event_id) == (
            "earn", 45, f"earn:purchase:event:{buy}", "purchase", buy
        )  # fmt: skip
        assert (entry.at, entry.available_at, entry.expires_at) == (
            at,
            at + timedelta(days=14),
            datetime(2026, 1, 31, 22, 30, tzinfo=UTC),
        )
        assert (account(s, ada).balance, account(s, ada).issued, account(s, ada).tier) == (45, 45, "Member")
        # The purchase is a deposit already: no points_earned event for purchase points.
        assert s.scalar(select(Event.id).where(Event.kind == "points_earned")) is None
        assert check(s) == []


def test_only_business_currency_and_uncancelled_orders_earn(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        euros = event(s, ada, "purchase", T0, amount=9000, currency="EUR")
        gone = order(s, ada, 5000, T0, cancelled_at=T0 + timedelta(hours=1))
        cancelled = event(s, ada, "purchase", T0, amount=5000, order_id=gone)
        report = award(s, euros, cancelled)
        assert (report.earned_entries, report.skipped) == (0, 2)
        assert entries(s, ada) == []


def test_tier_multiplier_and_disabled_rules(db: Database) -> None:
    settings = settings_with(
        rules=[
            {"name": "purchase", "trigger": "purchase", "points_per_unit": 1},
            {"name": "old_promo", "trigger": "purchase", "points_per_unit": 5, "enabled": False},
        ]
    )
    with db.transaction() as s:
        ada = person(s, "Ada")
        s.add(LoyaltyAccount(person_id=ada, tier="Gold"))
        s.flush()
        report = award(s, event(s, ada, "purchase", T0, amount=4599), settings=settings)
        assert report.points == 56  # 45 whole dollars x 125 %, rounded down; the disabled promo gives nothing
        assert [e.rule for e in entries(s, ada)] == ["purchase"]


# -- bonuses and the bank ---------------------------------------------------------------------------


def test_review_bonus_is_capped_and_becomes_a_bank_deposit(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        reviews = [event(s, ada, "review", T0 + timedelta(days=n), text_="Lovely") for n in range(3)]
        april = event(s, ada, "review", datetime(2025, 4, 2, 12, tzinfo=UTC))
        report = award(s, *reviews, april)
        assert [e.points for e in entries(s, ada)] == [50, 50, 50]  # 100 a month: the third March one gives 0
        assert (report.earned_entries, report.skipped) == (3, 1)
        bonus = list(s.scalars(select(Event).where(Event.kind == "points_earned").order_by(Event.id)))
        assert (bonus[0].source, bonus[0].source_id, bonus[0].text) == (
            "loyalty",
            f"earn:review:event:{reviews[0]}",
            "+50 points: Thanks for your review",
        )
        assert len(bonus) == 3
        deposits = s.scalars(select(BankEntry).where(BankEntry.rule == "points_earned")).all()
        assert sorted((d.event_id, d.amount, d.side) for d in deposits) == sorted(
            (b.id, 1, "business") for b in bonus
        )
        assert award(s, *reviews, april).earned_entries == 0  # replay: nothing twice


def test_referral_earns_on_both_sides(db: Database) -> None:
    with db.transaction() as s:
        ada, bo = person(s, "Ada"), person(s, "Bo")
        referral = event(s, ada, "referral", T0, text_="Sent my friend BO@example.com and ada@example.com")
        report = award(s, referral)
        assert report.points == 300
        [to_ada] = entries(s, ada)
        [to_bo] = entries(s, bo)
        assert (to_ada.rule, to_ada.points, to_ada.key) == (
            "referral",
            200,
            f"earn:referral:event:{referral}",
        )
        assert (to_bo.rule, to_bo.points, to_bo.key) == ("referred", 100, f"earn:referred:event:{referral}")
        texts = s.scalars(
            select(Event.text).where(Event.kind == "points_earned", Event.person_id == bo)
        ).all()
        assert texts == ["+100 points: Welcome: a friend sent you"]
        nobody = event(s, ada, "referral", T0, text_="told stranger@example.com")
        assert award(s, nobody).points == 200  # the friend is not known: only the referrer earns


# -- cancellations and refunds ----------------------------------------------------------------------


def test_refunds_take_back_in_proportion_and_a_cancel_takes_the_rest(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        oid = order(s, ada, 4590, T0)
        buy = event(s, ada, "purchase", T0, amount=4590, order_id=oid)
        award(s, buy)
        [lot] = entries(s, ada)
        first = event(s, ada, "refund", T0 + timedelta(days=2), amount=1000, order_id=oid)
        assert award(s, first).reversed_points == 9  # floor(45 x 1000 / 4590)
        second = event(s, ada, "refund", T0 + timedelta(days=3), amount=1000, order_id=oid)
        assert award(s, second).reversed_points == 10  # floor(45 x 2000 / 4590) = 19 in all
        assert award(s, first, second).reversed_points == 0
        cancel = event(s, ada, "order_cancelled", T0 + timedelta(days=4), order_id=oid)
        assert award(s, cancel).reversed_points == 26
        keys = [e.key for e in entries(s, ada)][1:]
        assert keys == [
            f"reverse:{lot.id}:event:{first}",
            f"reverse:{lot.id}:event:{second}",
            f"reverse:{lot.id}:cancel:{oid}",
        ]
        assert (account(s, ada).balance, account(s, ada).issued) == (0, 45)
        assert award(s, cancel, first, buy).reversed_points == 0
        assert check(s) == []


def test_refunds_processed_out_of_order_add_up_the_same(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        oid = order(s, ada, 10000, T0)
        award(s, event(s, ada, "purchase", T0, amount=10000, order_id=oid))
        refunds = [
            event(s, ada, "refund", T0 + timedelta(days=n), amount=3333, order_id=oid) for n in (1, 2, 3)
        ]
        taken = [award(s, refund).reversed_points for refund in reversed(refunds)]
        assert taken == [99, 0, 0]  # floor(100 x 9999 / 10000): the earlier refunds asked for less
        assert account(s, ada).balance == 1


def test_refunds_stored_before_the_purchase_earned_are_applied_with_it(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        oid = order(s, ada, 10000, T0)
        buy = event(s, ada, "purchase", T0, amount=10000, order_id=oid)
        event(s, ada, "refund", T0 + timedelta(days=1), amount=5000, order_id=oid)
        report = award(s, buy)
        assert (report.points, report.reversed_points, account(s, ada).balance) == (100, 50, 50)


def test_a_cancellation_stored_before_the_purchase_earned_is_applied_with_it(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        oid = order(s, ada, 3000, T0)
        cancel = event(s, ada, "order_cancelled", T0 + timedelta(hours=1), order_id=oid)
        assert award(s, cancel).reversed_points == 0  # nothing earned yet
        report = award(s, event(s, ada, "purchase", T0, amount=3000, order_id=oid))
        assert (report.points, report.reversed_points, account(s, ada).balance) == (30, 30, 0)


def test_an_order_marked_cancelled_later_gives_its_points_back(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        oid = order(s, ada, 2000, T0)
        buy = event(s, ada, "purchase", T0, amount=2000, order_id=oid)
        award(s, buy)
        s.get(Order, oid).cancelled_at = T0 + timedelta(days=1)  # type: ignore[union-attr]
        s.flush()
        assert award_all(s, now=NOW, settings=SETTINGS).reversed_points == 20
        assert account(s, ada).balance == 0
        again = award_all(s, now=NOW, settings=SETTINGS)
        assert (again.earned_entries, again.reversed_points) == (0, 0)


def test_a_refund_of_spent_points_takes_only_what_is_left(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        oid = order(s, ada, 10000, T0)
        award(s, event(s, ada, "purchase", T0, amount=10000, order_id=oid))
        [lot] = entries(s, ada)
        spent = ledger.take(
            s, person_id=ada, kind=EntryKind.redeem, key="redeem:1", at=NOW, draws=[(lot.id, 70)]
        )
        assert spent is not None
        refund = event(s, ada, "refund", T0 + timedelta(days=2), amount=10000, order_id=oid)
        assert award(s, refund).reversed_points == 30
        assert account(s, ada).balance == 0
        assert check(s) == []


# -- dates --------------------------------------------------------------------------------------------


def test_birthdays_and_anniversaries_in_the_business_time_zone(db: Database) -> None:
    with db.transaction() as s:
        ada, bo, cy = person(s, "Ada"), person(s, "Bo"), person(s, "Cy")
        s.add_all(
            [
                LoyaltyAccount(person_id=ada, birthday_month=2, birthday_day=29),
                LoyaltyAccount(person_id=bo, birthday_month=3, birthday_day=1),
            ]
        )
        s.flush()
        # 28 February 2026, 23:30 in New York is already 1 March in UTC: the local date counts.
        event(s, cy, "purchase", datetime(2026, 3, 1, 4, 30, tzinfo=UTC), amount=1000)
        event(s, cy, "purchase", datetime(2026, 5, 1, tzinfo=UTC), amount=1000)
        report = award_dates(s, day=date(2027, 2, 28), settings=SETTINGS)
        assert report.earned_entries == 2
        [birthday] = entries(s, ada)
        [anniversary] = entries(s, cy)
        midnight = datetime(2027, 2, 28, 5, 0, tzinfo=UTC)  # local midnight, EST
        assert (birthday.key, birthday.points, birthday.at) == (f"earn:birthday:{ada}:2027", 100, midnight)
        assert (anniversary.key, anniversary.rule) == (f"earn:anniversary:{cy}:2027", "anniversary")
        assert entries(s, bo) == []
        assert award_dates(s, day=date(2027, 2, 28), settings=SETTINGS).earned_entries == 0
        assert award_dates(s, day=date(2027, 3, 1), settings=SETTINGS).earned_entries == 1  # Bo
        assert (
            award_dates(s, day=date(2026, 2, 28), settings=SETTINGS).earned_entries == 1
        )  # Ada only: same year
        texts = s.scalars(
            select(Event.text).where(Event.kind == "points_earned", Event.person_id == cy)
        ).all()
        assert texts == ["+100 points: A year with us"]


# -- tiers --------------------------------------------------------------------------------------------


def test_tiers_follow_points_earned_with_a_grace_period(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        award(s, event(s, ada, "purchase", T0, amount=60000), now=T0)
        assert (account(s, ada).tier, account(s, ada).tier_since) == ("Silver", T0)
        assert tier_measure(s, person_id=ada, now=T0, config=SETTINGS.loyalty) == 600
        year_later = T0 + timedelta(days=366)
        assert refresh_tiers(s, now=year_later, settings=SETTINGS, person_ids=[ada]) == 1
        assert (account(s, ada).tier, account(s, ada).tier_kept_until) == (
            "Silver",
            year_later + timedelta(days=90),
        )
        progress = tier_progress(s, person_id=ada, now=year_later, config=SETTINGS.loyalty)
        assert (progress.tier, progress.to_keep, progress.next_tier, progress.to_next) == (
            "Silver",
            500,
            "Gold",
            1500,
        )
        assert refresh_tiers(s, now=year_later + timedelta(days=30), settings=SETTINGS) == 0
        after_grace = year_later + timedelta(days=90)
        assert refresh_tiers(s, now=after_grace, settings=SETTINGS) == 1
        assert (account(s, ada).tier, account(s, ada).tier_kept_until) == ("Member", None)


def test_tier_measure_nets_reversals_and_ignores_redemptions(db: Database) -> None:
    spend = settings_with(tier_basis="spend")
    with db.transaction() as s:
        ada = person(s, "Ada")
        oid = order(s, ada, 100000, T0)
        award(s, event(s, ada, "purchase", T0, amount=100000, order_id=oid), event(s, ada, "review", T0))
        award(s, event(s, ada, "refund", T0 + timedelta(days=1), amount=40000, order_id=oid))
        lot = entries(s, ada)[0]
        ledger.take(s, person_id=ada, kind=EntryKind.redeem, key="redeem:1", at=NOW, draws=[(lot.id, 600)])
        assert tier_measure(s, person_id=ada, now=NOW, config=SETTINGS.loyalty) == 1000 + 50 - 400
        assert tier_measure(s, person_id=ada, now=NOW, config=spend.loyalty, currency="USD") == 60000


# -- rules edited by admins ---------------------------------------------------------------------------


def test_saved_rules_replace_the_files_and_bad_ones_name_the_field(db: Database) -> None:
    with db.transaction() as s:
        save_rule(
            s,
            definition={"name": "review", "trigger": "review", "points": 80},
            by_user_id=None,
            config=SETTINGS.loyalty,
        )
        save_rule(
            s,
            definition={"name": "review", "trigger": "review", "points": 75},
            by_user_id=None,
            config=SETTINGS.loyalty,
        )
        with pytest.raises(RuleError) as bad:
            save_rule(
                s,
                definition={"name": "x1", "trigger": "review", "points": -1},
                by_user_id=None,
                config=SETTINGS.loyalty,
            )
        assert bad.value.field == "points"
    with db.transaction() as s:
        review = next(rule for rule in load_rules(s, config=SETTINGS.loyalty) if rule.name == "review")
        assert (review.points, review.cap_per_month) == (75, None)
        ada = person(s, "Ada")
        assert award(s, event(s, ada, "review", T0)).points == 75


# -- hooks --------------------------------------------------------------------------------------------


def test_a_stale_rule_edit_never_stops_awarding(db: Database) -> None:
    """An admin saved ``review`` for tier Gold; goodwill.toml renamed Gold to Platinum since; an older
    version stored a rule with a key that no longer exists. Intake and the bulk run still award by
    the file's rule, and the problems are there to show."""
    renamed = settings_with(
        tiers=[{"name": "Member", "threshold": 0}, {"name": "Platinum", "threshold": 1500}],
        rules=[{"name": "review", "trigger": "review", "points": 50, "label": "Thanks for your review"}],
    )
    with db.transaction() as s:
        s.add(
            LoyaltyRuleOverride(
                name="review",
                definition={"name": "review", "trigger": "review", "points": 9, "tiers": ["Gold"]},
            )
        )
        s.add(
            LoyaltyRuleOverride(name="old", definition={"name": "old", "trigger": "review", "colour": "red"})
        )
    with db.transaction() as s:
        stored, _ = record_incoming(
            session=s,
            incoming=IncomingEvent(kind="review", occurred_at=T0, email="ada@example.com", source_id="r1"),
            source="api",
            currency="USD",
            bank=BankConfig(),
            settings=renamed,
        )
        assert [e.points for e in entries(s, stored.person_id)] == [50]  # the file's rule
        later = event(s, stored.person_id, "review", T0 + timedelta(days=1))
        assert award_all(s, now=NOW, settings=renamed).points == 50
        assert s.scalar(select(LoyaltyEntry.points).where(LoyaltyEntry.event_id == later)) == 50
        rules, problems = load_rules_checked(s, config=renamed.loyalty)
        assert [rule.points for rule in rules] == [50]
        assert len(problems) == 2
        assert "'old'" in problems[0] and "colour" in problems[0]
        assert "'review'" in problems[1] and "unknown tier 'Gold'" in problems[1]


def _switchable(enabled: bool) -> Settings:
    return settings_with(
        rules=[
            {"name": "purchase", "trigger": "purchase", "points_per_unit": 1, "enabled": enabled},
            {"name": "review", "trigger": "review", "points": 50, "enabled": enabled},
        ]
    )


def test_an_event_processed_while_its_rule_was_off_never_earns_later(db: Database) -> None:
    """An event earns once, by the rules in force when first processed: switching a rule on later
    awards neither the live path's nor the bulk run's earlier events; events never processed (the
    program was off when they came) are the bulk run's backlog and do earn."""
    off, on = _switchable(False), _switchable(True)
    with db.transaction() as s:
        ada, bob, cy = person(s, "Ada"), person(s, "Bob"), person(s, "Cy")
        live = [event(s, ada, "review", T0), event(s, ada, "purchase", T0, amount=4590)]
        assert award(s, *live, settings=off).earned_entries == 0
        bulk = [event(s, bob, "review", T0), event(s, bob, "purchase", T0, amount=2000)]
        assert award_all(s, now=NOW, settings=off).earned_entries == 0
        backlog = [event(s, cy, "review", T0), event(s, cy, "purchase", T0, amount=3000)]
        unearned = set(s.scalars(select(UnearnedEvent.event_id)))
        assert unearned == {*live, *bulk}
    with db.transaction() as s:
        report = award_all(s, now=NOW, settings=on)
        assert (report.earned_entries, report.points) == (2, 80)  # Cy's review and purchase only
        assert {e.event_id for e in entries(s)} == set(backlog)
        assert award(s, *live, *bulk, settings=on).earned_entries == 0  # the live path agrees


def test_record_incoming_awards_new_events_in_the_same_transaction(db: Database) -> None:
    with db.transaction() as s:
        stored, created = record_incoming(
            session=s,
            incoming=IncomingEvent(
                kind="purchase", occurred_at=T0, email="ada@example.com", amount="45.90", source_id="x1"
            ),
            source="api",
            currency="USD",
            bank=BankConfig(),
            settings=SETTINGS,
        )
        assert created
        [entry] = entries(s, stored.person_id)
        assert (entry.points, entry.event_id) == (45, stored.id)
        record_incoming(
            session=s,
            incoming=IncomingEvent(
                kind="purchase", occurred_at=T0, email="ada@example.com", amount="45.90", source_id="x1"
            ),
            source="api",
            currency="USD",
            bank=BankConfig(),
            settings=SETTINGS,
        )
        assert len(entries(s, stored.person_id)) == 1
        off = settings_with(enabled=False)
        later, _ = record_incoming(
            session=s,
            incoming=IncomingEvent(
                kind="purchase", occurred_at=T0, person_id=stored.person_id, amount="10", source_id="x2"
            ),
            source="api",
            currency="USD",
            bank=BankConfig(),
            settings=off,
        )
        assert s.scalar(select(LoyaltyEntry.id).where(LoyaltyEntry.event_id == later.id)) is None


def test_importing_events_awards_each_batch(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "source_id,email,kind,occurred_at,amount,text\n"
        "e1,ada@example.com,purchase,2025-03-01 10:00,45.90,\n"
        "e2,ada@example.com,review,2025-03-02 10:00,,5/5 lovely\n"
        "e3,bo@example.com,referral,2025-03-03 10:00,,told ada@example.com\n"
    )
    with db.transaction() as s:
        import_events(session=s, path=path, business=SETTINGS.business, settings=SETTINGS)
        rules = sorted(rule or "" for rule in s.scalars(select(LoyaltyEntry.rule)))
        assert rules == ["purchase", "referral", "referred", "review"]
        import_events(session=s, path=path, business=SETTINGS.business, settings=SETTINGS)
        assert len(entries(s)) == 4


# -- SQL agrees with Python ---------------------------------------------------------------------------


EDGE_TIMES = [
    datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2024, 2, 29, 0, 0, tzinfo=UTC),
    datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2025, 3, 9, 6, 59, 59, tzinfo=UTC),  # New York springs forward at 07:00 UTC
    datetime(2025, 3, 9, 7, 0, tzinfo=UTC),
    datetime(2025, 11, 2, 5, 59, 59, tzinfo=UTC),  # and falls back at 06:00 UTC
    datetime(2025, 11, 2, 6, 0, tzinfo=UTC),
    datetime(2025, 3, 1, 4, 59, 59, tzinfo=UTC),  # still 28 February locally
    datetime(2025, 12, 31, 23, 30, tzinfo=UTC),
    datetime(2025, 8, 31, 0, 0, tzinfo=UTC),
    datetime(2025, 10, 31, 18, 0, tzinfo=UTC),
    datetime(2025, 1, 2, 4, 59, 59, 999600, tzinfo=UTC),  # 23:59:59.9996 locally: still 1 January
    datetime(2024, 3, 29, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2025, 5, 31, 1, 0, tzinfo=UTC),
    datetime(2025, 7, 30, 2, 0, tzinfo=UTC),
]


@pytest.mark.parametrize(("pending", "months"), [(14, 12), (0, 1), (30, 0), (1, 37)])
def test_earn_times_and_local_days_in_sql_agree_with_python(db: Database, pending: int, months: int) -> None:
    config = LoyaltyConfig(pending_days=pending, expiry_months=months)
    with db.reading() as s:
        d = Dialect.of(s, NEW_YORK, (min(EDGE_TIMES), max(EDGE_TIMES)))
        available, expires = awards_sql.earn_times_sql(d, "c", config)
        column = "CAST(:at AS TIMESTAMPTZ)" if not d.sqlite else ":at"
        sql = f"SELECT {available}, {expires}, {d.local_day('c')} FROM (SELECT {column} AS c) t"
        typed = text(sql).bindparams(bindparam("at", type_=UTCDateTime()))
        for at in EDGE_TIMES:
            got_available, got_expires, got_day = s.execute(typed, {"at": at}).one()
            assert (as_time(got_available), as_time(got_expires)) == earn_times(
                at, pending_days=pending, expiry_months=months
            ), at
            assert str(got_day) == local_day(at, ZoneInfo(NEW_YORK)).isoformat(), at


def as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- the bulk path gives exactly what the live path gives ---------------------------------------------

BULK_RULES = [
    {"name": "purchase", "trigger": "purchase", "points_per_unit": 1, "cap_per_day": 150},
    {
        "name": "double",
        "trigger": "purchase",
        "points_per_unit": 2,
        "cap_per_month": 400,
        "starts_on": "2025-03-05",
        "ends_on": "2025-03-20",
        "tiers": ["Silver", "Gold"],
    },
    {
        "name": "champs",
        "trigger": "purchase",
        "points_per_unit": 1,
        "segments": ["champions"],
        "tier_multiplier": False,
        "cap_per_day": 30,
        "cap_per_month": 70,
    },
    {
        "name": "review",
        "trigger": "review",
        "label": "Thanks for your review",
        "points": 50,
        "cap_per_month": 100,
    },
    {"name": "referral", "trigger": "referral", "points": 200, "cap_per_day": 300},
    {"name": "referred", "trigger": "referred", "points": 100},
]
BULK = settings_with(rules=BULK_RULES, pending_days=10, expiry_months=1)


def generated_history(s: Session, seed: int) -> None:
    """A few hundred events: bursts of purchases around local midnights, month ends and the DST
    change, orders refunded and cancelled, reviews and referrals; tiers and segments preset."""
    rng = random.Random(seed)
    people = [person(s, f"P{n}") for n in range(30)]
    run = InsightRun(
        as_of=date(2025, 3, 1), engine="duckdb", period="month", horizon_months=12,
        monthly_discount=0.01, currency="USD", customers=10,
    )  # fmt: skip
    s.add(run)
    s.flush()
    for index, pid in enumerate(people):
        if index % 3:
            s.add(LoyaltyAccount(person_id=pid, tier=["", "Member", "Silver", "Gold", "Gone"][index % 5]))
        if index % 4 == 0:
            s.add(
                InsightScore(
                    person_id=pid, run_id=run.id, first_purchase_on=date(2024, 1, 1),
                    last_purchase_on=date(2025, 2, 1), orders=3, frequency=2, recency_days=20, age_days=400,
                    total_spend_minor=9000, r_score=5, f_score=4, m_score=3,
                    segment="champions" if index % 8 == 0 else "at_risk",
                )
            )  # fmt: skip
    s.flush()
    anchors = [
        datetime(2025, 1, 31, 23, 0, tzinfo=UTC),
        datetime(2025, 3, 1, 4, 30, tzinfo=UTC),
        datetime(2025, 3, 9, 3, 0, tzinfo=UTC),
        datetime(2025, 3, 15, 16, 0, tzinfo=UTC),
        datetime(2025, 3, 31, 3, 0, tzinfo=UTC),
    ]
    for pid in people:
        for _ in range(rng.randint(4, 16)):
            at = rng.choice(anchors) + timedelta(minutes=rng.randint(-300, 300))
            amount = rng.randint(50, 30000)
            roll = rng.random()
            if roll < 0.1:
                event(s, pid, "purchase", at, amount=amount, currency="EUR")
            elif roll < 0.4:
                oid = order(
                    s, pid, amount, at, cancelled_at=at + timedelta(hours=2) if rng.random() < 0.2 else None
                )
                event(s, pid, "purchase", at, amount=amount, order_id=oid)
                for _ in range(rng.randint(0, 2)):
                    event(
                        s,
                        pid,
                        "refund",
                        at + timedelta(days=1),
                        amount=rng.randint(1, amount // 2 + 1),
                        order_id=oid,
                    )
                if rng.random() < 0.2:
                    event(s, pid, "order_cancelled", at + timedelta(days=2), order_id=oid)
            elif roll < 0.8:
                event(s, pid, "purchase", at, amount=amount)
            elif roll < 0.9:
                event(s, pid, "review", at, text_="5/5")
            else:
                friend = rng.choice(people)
                event(s, pid, "referral", at, text_=f"referred p{people.index(friend)}@example.com")


def snapshot(s: Session) -> dict[str, Any]:
    rows = list(s.scalars(select(LoyaltyEntry).order_by(LoyaltyEntry.id)))
    lot_keys = {row.id: row.key for row in rows}

    def key_of(row: LoyaltyEntry) -> str:
        if row.key.startswith("reverse:"):
            _, lot, cause = row.key.split(":", 2)
            return f"reverse:[{lot_keys[int(lot)]}]:{cause}"
        return row.key

    found = sorted(
        (r.person_id, r.kind, r.points, key_of(r), r.rule, r.event_id, r.at, r.available_at, r.expires_at,
         lot_keys.get(r.reverses_id or 0))
        for r in rows
    )  # fmt: skip
    draws = sorted((key_of(s.get(LoyaltyEntry, d.entry_id)), lot_keys[d.lot_id], d.points)  # type: ignore[arg-type]
                   for d in s.scalars(select(LoyaltyDraw)))  # fmt: skip
    accounts = sorted(
        (a.person_id, a.balance, a.issued, a.tier, a.tier_since, a.tier_kept_until)
        for a in s.scalars(select(LoyaltyAccount).execution_options(populate_existing=True))
    )
    bonuses = sorted(
        (e.person_id, e.source_id, e.text, e.occurred_at)
        for e in s.scalars(select(Event).where(Event.kind == "points_earned"))
    )
    return {"entries": found, "draws": draws, "accounts": accounts, "bonuses": bonuses}


def test_award_all_writes_exactly_what_award_events_writes(db: Database) -> None:
    with db.transaction() as s:
        generated_history(s, seed=7)
        ids = list(s.scalars(select(Event.id)))
    assert len(ids) > 250
    with db.reading() as s:
        live = award_events(s, event_ids=ids, now=NOW, settings=BULK)
        refresh_tiers(s, now=NOW, settings=BULK)
        by_events = snapshot(s)
        assert check(s) == []
    with db.reading() as s:
        bulk = award_all(s, now=NOW, settings=BULK)
        by_bulk = snapshot(s)
        assert check(s) == []
        award_all(s, now=NOW, settings=BULK)
        after = snapshot(s)
    # Run again, nothing is written twice. Only events that earned nothing at all (every rule capped
    # or limited out) are looked at again, and may now earn from a rule of a tier reached since.
    assert set(by_bulk["entries"]) <= set(after["entries"])
    earned = {row[5] for row in by_bulk["entries"] if row[1] == "earn"}
    assert all(row[5] not in earned for row in set(after["entries"]) - set(by_bulk["entries"]))
    assert (bulk.earned_entries, bulk.points, bulk.reversed_points) == (
        live.earned_entries, live.points, live.reversed_points
    )  # fmt: skip
    for part in ("entries", "draws", "accounts", "bonuses"):
        assert by_bulk[part] == by_events[part], part
    rules = {row[4] for row in by_events["entries"]}
    assert rules >= {"purchase", "double", "champs", "review", "referral", "referred"}
    assert any(row[1] == "reverse" for row in by_events["entries"])
    capped_days = {
        (row[0], local_day(row[6], ZoneInfo(NEW_YORK)))
        for row in by_events["entries"]
        if row[4] == "purchase" and row[1] == "earn"
    }
    totals = {key: 0 for key in capped_days}
    for row in by_events["entries"]:
        if row[4] == "purchase" and row[1] == "earn":
            totals[(row[0], local_day(row[6], ZoneInfo(NEW_YORK)))] += row[2]
    assert max(totals.values()) == 150  # the daily cap was reached somewhere, never passed
    clamped = [
        row for row in by_events["entries"] if row[1] == "earn" and row[6].day == 31 and row[6].month == 1
    ]
    assert clamped and all(row[8].month == 2 and row[8].day == 28 for row in clamped)


def test_award_all_since_leaves_older_events(db: Database) -> None:
    with db.transaction() as s:
        ada = person(s, "Ada")
        event(s, ada, "purchase", T0, amount=1000)
        late = event(s, ada, "purchase", T0 + timedelta(days=10), amount=2000)
        report = award_all(s, now=NOW, settings=SETTINGS, since=T0 + timedelta(days=1))
        assert report.points == 20
        assert [e.event_id for e in entries(s, ada)] == [late]


@pytest.mark.parametrize("basis", ["points", "spend"])
def test_refresh_tiers_in_sql_agrees_with_the_pure_policy(db: Database, basis: str) -> None:
    """Members in every state (no tier, each tier, a removed one; with and without a grace that
    has or has not ended) and measures around every threshold: the UPDATE does what next_state says."""
    settings = settings_with(tier_basis=basis, downgrade_grace_days=30)
    config = settings.loyalty
    rng = random.Random(3)
    states: dict[int, TierState] = {}
    with db.transaction() as s:
        for n in range(60):
            pid = person(s, f"T{n}")
            tier = rng.choice(["", "Member", "Silver", "Gold", "Platinum"])
            since = NOW - timedelta(days=rng.randint(1, 400)) if tier else None
            kept = rng.choice([None, NOW - timedelta(days=1), NOW, NOW + timedelta(days=5)]) if tier else None
            s.add(LoyaltyAccount(person_id=pid, tier=tier, tier_since=since, tier_kept_until=kept))
            states[pid] = TierState(tier, since, kept)
            for lot in range(rng.randint(0, 3)):
                points = rng.choice([0, 1, 250, 499, 500, 1000, 1499, 1500]) or 1
                at = NOW - timedelta(days=rng.choice([1, 100, 364, 366]))
                ledger.add_lot(
                    s, person_id=pid, kind=EntryKind.earn, points=points, key=f"k{pid}-{lot}", at=at,
                    available_at=at, expires_at=None, rule="purchase",
                )  # fmt: skip
                event(s, pid, "purchase", at, amount=points * 100)
    with db.transaction() as s:
        measured = measures(s, now=NOW, config=config, currency="USD", person_ids=None)
        expected = {
            pid: next_state(state, measure=measured.get(pid, 0), tiers=config.tiers, now=NOW, grace_days=30)
            for pid, state in states.items()
        }
        changed = refresh_tiers(s, now=NOW, settings=settings)
        found = {
            a.person_id: TierState(a.tier, a.tier_since, a.tier_kept_until)
            for a in s.scalars(select(LoyaltyAccount).execution_options(populate_existing=True))
        }
    assert found == expected
    assert changed == sum(1 for pid in states if expected[pid] != states[pid]) > 10
    assert {state.tier for state in found.values()} == {"Member", "Silver", "Gold"}
    assert any(state.kept_until is not None for state in found.values())


def test_an_erased_person_gets_no_anniversary_bonus(db: Database) -> None:
    from goodwill.people.privacy import erase_person

    with db.transaction() as s:
        cy, dee = person(s, "Cy"), person(s, "Dee")
        event(s, cy, "purchase", datetime(2026, 3, 1, 17, 0, tzinfo=UTC), amount=1000)
        event(s, dee, "purchase", datetime(2026, 3, 1, 17, 0, tzinfo=UTC), amount=1000)
        erase_person(s, person_ref=dee, secret_key="k" * 32, erased_by="test", reason="asked to be forgotten")
        report = award_dates(s, day=date(2027, 3, 1), settings=SETTINGS)
        assert report.earned_entries == 1
        assert [e.key for e in entries(s, cy) if e.rule == "anniversary"] == [f"earn:anniversary:{cy}:2027"]
        assert [e for e in entries(s, dee) if e.rule == "anniversary"] == []
