"""Awarding points: events and dates through the earning rules into the ledger, and tiers after.

``award_events`` is the live path (intake and imports call it in the transaction that stored
the events); ``award_all`` the bulk path for backlogs (purchases set-based in SQL, the few other
events through ``award_events``); ``award_dates`` the daily birthdays and anniversaries.

Idempotent by key: an event's earn is ``earn:<rule>:event:<event id>``, a date's
``earn:<rule>:<person id>:<year>``, a reversal ``reverse:<lot id>:<cause>``; processing the same
event or day again writes nothing. An event earns once, by the rules in force when it is first
processed: one that earned nothing is recorded (``UnearnedEvent``) and never looked at again, so a
rule switched on later does not reach back; the bulk run only picks up events never processed.

The relationship bank: a *bonus* (review, referral, birthday, anniversary) is recorded as a
``points_earned`` event ("+50 points: Thanks for your review"), a small deposit, and the bank
is refreshed for those people. Purchase points write no event: the purchase itself already is a
deposit, and counting it twice would make big spenders' balances all purchases.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import cast

from sqlalchemy import Table, and_, func, or_, select
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import insert_ignoring_duplicates, matching, utcnow
from goodwill.events.model import Event, Order
from goodwill.events.service import counts_as_spend
from goodwill.loyalty import awards_orders, awards_sql
from goodwill.loyalty.awards_dialect import hold_bulk_lock
from goodwill.loyalty.awards_run import AwardReport, AwardRun, load_rules, load_rules_checked, save_rule
from goodwill.loyalty.awards_tiers import refresh_tiers, tier_measure, tier_progress
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, LoyaltyEntry, UnearnedEvent
from goodwill.loyalty.rules import (
    bonus_points,
    day_bounds,
    emails_in,
    local_day,
    purchase_points,
    rules_for,
    yearly_dates,
)
from goodwill.money import exponent
from goodwill.people.privacy import erasure_recorded
from goodwill.people.service import find_ids

__all__ = [
    "AwardReport",
    "award_all",
    "award_dates",
    "award_events",
    "award_new_events",
    "load_rules",
    "load_rules_checked",
    "refresh_tiers",
    "save_rule",
    "tier_measure",
    "tier_progress",
]

EARNING_KINDS = ("purchase", "review", "referral")
REVERSING_KINDS = ("order_cancelled", "refund")


def _purchase(run: AwardRun, event: Event, cancelled: Mapping[int, datetime]) -> None:
    currency = run.settings.business.currency
    if event.currency != currency or not event.amount_minor or event.amount_minor <= 0:
        run.report.skipped += 1  # only purchases in the business currency earn
        return
    if event.order_id is not None and event.order_id in cancelled:
        run.report.skipped += 1  # the order was cancelled: no points (any given are taken back)
        return
    for rule in rules_for(run.rules, "purchase"):
        points = purchase_points(
            rule, event.amount_minor, exponent(currency), run.multiplier(event.person_id)
        )
        key = f"{awards_sql.purchase_key_prefix(rule.name)}{event.id}"
        run.earn(
            person_id=event.person_id,
            rule=rule,
            points=points,
            key=key,
            at=event.occurred_at,
            event_id=event.id,
        )


def _bonus(run: AwardRun, event: Event, trigger: str, person_id: int) -> None:
    for rule in rules_for(run.rules, trigger):
        points = bonus_points(rule, run.multiplier(person_id))
        key = f"earn:{rule.name}:event:{event.id}"
        run.earn(
            person_id=person_id, rule=rule, points=points, key=key, at=event.occurred_at, event_id=event.id
        )


def _referred(run: AwardRun, event: Event) -> int | None:
    """The known person whose email the referral names (the first one that is not the referrer)."""
    emails = emails_in(event.text)
    if not emails or not rules_for(run.rules, "referred"):
        return None
    found = find_ids(run.session, [("email", email) for email in emails])
    for email in emails:
        person_id = found.get(("email", email))
        if person_id is not None and person_id != event.person_id:
            return person_id
    return None


def _processed_before(session: Session, events: list[Event]) -> set[int]:
    """Of these events, those processed already: with an earn, or recorded as having earned nothing.
    An event earns once, by the rules in force when it is first processed (``awards_sql`` leaves
    the same events alone)."""
    earning = sorted({event.id for event in events if event.kind in EARNING_KINDS})
    found: set[int] = set()
    for condition in matching(session, LoyaltyEntry.event_id, earning):
        stmt = select(LoyaltyEntry.event_id).where(condition, LoyaltyEntry.kind == EntryKind.earn.value)
        found.update(event_id for event_id in session.scalars(stmt) if event_id is not None)
    for condition in matching(session, UnearnedEvent.event_id, earning):
        found.update(session.scalars(select(UnearnedEvent.event_id).where(condition)))
    return found


def _mark_unearned(
    session: Session, events: list[Event], now: datetime, *, earned: set[int] | None = None
) -> None:
    """Record the events just processed that earned nothing, so no later pass awards them.

    ``earned``: the events with an earn, when the caller knows them all (events new in this
    transaction: only this pass can have written their earns); otherwise they are read."""
    processed = [event for event in events if event.kind in EARNING_KINDS]
    if earned is None:
        earned = _processed_before(session, processed)
    rows = [{"event_id": e.id, "processed_at": now} for e in processed if e.id not in earned]
    insert_ignoring_duplicates(session, cast(Table, UnearnedEvent.__table__), rows)


def _may_earn(run: AwardRun, event: Event, cancelled: Mapping[int, datetime]) -> bool:
    """Whether an event could give its person points under the rules (to create their account first)."""
    if event.kind == "purchase":
        return (
            bool(rules_for(run.rules, "purchase"))
            and event.currency == run.settings.business.currency
            and (event.amount_minor or 0) > 0
            and not (event.order_id is not None and event.order_id in cancelled)
        )
    return event.kind in ("review", "referral") and bool(rules_for(run.rules, event.kind))


def _load_events(session: Session, event_ids: Sequence[int]) -> list[Event]:
    events: list[Event] = []
    kinds = EARNING_KINDS + REVERSING_KINDS
    for condition in matching(session, Event.id, sorted(set(event_ids))):
        events.extend(session.scalars(select(Event).where(condition, Event.kind.in_(kinds))))
    return sorted(events, key=lambda e: (e.occurred_at, e.id))


def _cancelled_orders(session: Session, order_ids: set[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for condition in matching(session, Order.id, sorted(order_ids)):
        stmt = select(Order.id, Order.cancelled_at).where(condition, Order.cancelled_at.is_not(None))
        found.update({oid: at for oid, at in session.execute(stmt) if at is not None})
    return found


def _reversals_of(session: Session, order_ids: set[int]) -> list[tuple[datetime, int, int, str]]:
    """(occurred_at, id, order id, kind) of the refunds and cancellations of these orders."""
    found: list[tuple[datetime, int, int, str]] = []
    for condition in matching(session, Event.order_id, sorted(order_ids)):
        stmt = select(Event.occurred_at, Event.id, Event.order_id, Event.kind).where(
            condition, Event.kind.in_(REVERSING_KINDS)
        )
        found.extend((at, eid, oid, kind) for at, eid, oid, kind in session.execute(stmt) if oid is not None)
    return found


def award_events(
    session: Session, *, event_ids: Sequence[int], now: datetime, settings: Settings
) -> AwardReport:
    """Earn (and take back) points for these events, in the caller's transaction.

    First every earn, in event order (occurred_at, id): purchases, reviews, referrals (both sides).
    Then the reversals: cancelled orders (an ``order_cancelled`` event, or an order marked
    cancelled) and refunds, including earlier refunds of orders whose purchase earned just now.
    The multiplier and tier limits are the tiers stored when the pass starts; tiers are refreshed
    for everyone touched at the end.
    """
    if not settings.loyalty.enabled:
        return AwardReport()
    return _award(session, _load_events(session, event_ids), now=now, settings=settings, new=False)


def award_new_events(
    session: Session, *, events: Sequence[Event], now: datetime, settings: Settings
) -> AwardReport:
    """``award_events`` for events this transaction has just stored, given as the rows themselves.

    Nothing is read back: events of a kind that neither earns nor takes back points cost no
    statement at all, and as nothing can have been processed yet for an event no other transaction
    can see, the "processed before" reads and the entry key checks are left out (the entry insert
    still ignores a key written before).
    """
    if not settings.loyalty.enabled:
        return AwardReport()
    kinds = EARNING_KINDS + REVERSING_KINDS
    chosen = sorted((e for e in events if e.kind in kinds), key=lambda e: (e.occurred_at, e.id))
    return _award(session, chosen, now=now, settings=settings, new=True)


def _award(
    session: Session, events: list[Event], *, now: datetime, settings: Settings, new: bool
) -> AwardReport:
    if not events:
        return AwardReport()
    hold_bulk_lock(session, shared=True)  # never alongside a bulk job (see hold_bulk_lock)
    run = AwardRun(session, settings, now, load_rules(session, config=settings.loyalty), fresh=new)
    orders = {event.order_id for event in events if event.order_id is not None}
    cancelled = _cancelled_orders(session, orders)
    earned = set() if new else _processed_before(session, events)
    to_earn = [event for event in events if event.id not in earned and event.kind in EARNING_KINDS]
    referred_by = {e.id: _referred(run, e) for e in to_earn if e.kind == "referral"}
    # Every account this pass may write is locked first, in person id order (see ``AwardRun.hold``).
    joining: dict[int, datetime] = {}
    for event in to_earn:
        people = [event.person_id] if _may_earn(run, event, cancelled) else []
        people += [p for p in [referred_by.get(event.id)] if p is not None]
        for person_id in people:
            joining[person_id] = min(joining.get(person_id, event.occurred_at), event.occurred_at)
    run.hold(joining, {event.person_id for event in events})
    run.know({event.person_id for event in events})  # the tiers the locks did not read already
    for event in to_earn:
        if event.kind == "purchase":
            _purchase(run, event, cancelled)
        elif event.kind == "review":
            _bonus(run, event, "review", event.person_id)
        elif event.kind == "referral":
            _bonus(run, event, "referral", event.person_id)
            referred = referred_by.get(event.id)
            if referred is not None:
                run.know({referred})
                _bonus(run, event, "referred", referred)
    # Reversals: these events', and those stored earlier for the orders whose purchase came now.
    purchased = {e.order_id for e in events if e.kind == "purchase" and e.order_id is not None}
    reversals = {
        (e.occurred_at, e.id, e.order_id, e.kind)
        for e in events
        if e.kind in REVERSING_KINDS and e.order_id is not None
    }
    reversals.update(_reversals_of(session, purchased))
    refunds = sorted((at, eid, oid) for at, eid, oid, kind in reversals if kind == "refund")
    to_cancel = {oid for _, _, oid, kind in reversals if kind == "order_cancelled"}
    to_cancel |= purchased & cancelled.keys()
    currency = settings.business.currency
    taken: list[awards_orders.Taken] = []
    for _, refund_id, order_id in refunds:
        taken += awards_orders.reverse_refund(
            session, order_id=order_id, refund_event_id=refund_id, currency=currency, at=now
        )
    for order_id in sorted(to_cancel):
        taken += awards_orders.reverse_cancel(session, order_id=order_id, currency=currency, at=now)
    for part in taken:
        run.report.reversed_points += part.points
        run.touched.add(part.person_id)
    _mark_unearned(session, to_earn, now, earned=run.earned_events if new else None)
    return run.finish()


def _birthdays(session: Session, day: date) -> list[int]:
    pairs = yearly_dates(day)
    stmt = select(LoyaltyAccount.person_id).where(
        or_(*(and_(LoyaltyAccount.birthday_month == m, LoyaltyAccount.birthday_day == d) for m, d in pairs))
    )
    return sorted(session.scalars(stmt))


def _anniversaries(session: Session, day: date, settings: Settings) -> list[int]:
    """People whose first purchase (a cancelled order is none) was on this local day of an earlier
    year: the local day's bounds in UTC for each year since the first purchase of all."""
    first_at = session.scalar(select(func.min(Event.occurred_at)).where(Event.kind == "purchase"))
    if first_at is None:
        return []
    tz = settings.business.tz
    ranges = []
    for year in range(local_day(first_at, tz).year, day.year):
        for month, dom in yearly_dates(day):
            if month == 2 and dom == 29 and not calendar.isleap(year):
                continue
            ranges.append(day_bounds(date(year, month, dom), tz))
    if not ranges:
        return []
    first = func.min(Event.occurred_at)
    stmt = (
        select(Event.person_id)
        .where(Event.kind == "purchase", counts_as_spend(), ~erasure_recorded(Event.person_id))
        .group_by(Event.person_id)
        .having(or_(*(and_(first >= start, first < end) for start, end in ranges)))
    )
    return sorted(session.scalars(stmt))


def award_dates(session: Session, *, day: date, settings: Settings) -> AwardReport:
    """Birthday and anniversary bonuses of the local day ``day`` (run daily; repeating it is safe).

    A birthday is the month and day on the loyalty account; an anniversary is a year (two...)
    since the person's first purchase, its local date. Each is awarded at the start of the day,
    once a year (key ``earn:<rule>:<person id>:<year>``).
    """
    config = settings.loyalty
    if not config.enabled:
        return AwardReport()
    hold_bulk_lock(session)  # birthdays then anniversaries lock in two sorted runs: a bulk job
    rules = load_rules(session, config=config)
    birthday, anniversary = rules_for(rules, "birthday"), rules_for(rules, "anniversary")
    at = datetime.combine(day, time(), tzinfo=settings.business.tz).astimezone(UTC)
    run = AwardRun(session, settings, utcnow(), rules)  # tiers and the bank as of the real now
    for trigger_rules, people in (
        (birthday, _birthdays(session, day) if birthday else []),
        (anniversary, _anniversaries(session, day, settings) if anniversary else []),
    ):
        run.know(set(people))
        run.hold(dict.fromkeys(people, at), set())
        for person_id in people:
            for rule in trigger_rules:
                points = bonus_points(rule, run.multiplier(person_id))
                key = f"earn:{rule.name}:{person_id}:{day.year}"
                run.earn(person_id=person_id, rule=rule, points=points, key=key, at=at, event_id=None)
    return run.finish()


def award_all(
    session: Session, *, now: datetime, settings: Settings, since: datetime | None = None
) -> AwardReport:
    """Everything not awarded yet (events since ``since``, by when they happened), in bulk.

    Purchases go set-based (``awards_sql``: a statement per purchase rule, the same entries
    ``award_events`` would write); reviews and referrals without an earn, refunds and
    cancellations with points still to take back go through ``award_events``. Then every member's
    tier is refreshed.
    """
    config = settings.loyalty
    if not config.enabled:
        return AwardReport()
    hold_bulk_lock(session)  # one bulk job at a time (PostgreSQL)
    rules = load_rules(session, config=config)
    currency = settings.business.currency
    with awards_sql.bigger_sqlite_cache(session):
        entries, points = awards_sql.award_purchases(
            session,
            rules=rules_for(rules, "purchase"),
            config=config,
            currency=currency,
            exponent=exponent(currency),
            zone=settings.business.timezone,
            now=now,
            since=since,
        )
        # Every review and referral never processed, even with no rule for it: processing records
        # it as unearned, so a rule switched on later does not award it after the fact.
        revisit = awards_sql.events_to_revisit(session, bonus_kinds=["review", "referral"], since=since)
        report = award_events(session, event_ids=revisit, now=now, settings=settings)
        report.earned_entries += entries
        report.points += points
        refresh_tiers(session, now=now, settings=settings)
    return report
