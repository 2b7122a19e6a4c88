"""Gather what the moment rules and the contact policy need, set-based, for one plan day.

Candidates are found with a handful of indexed queries (recent events by kind and time, the
day's milestones, loyal customers whose insights show them drifting, relationships in recovery
status); everything else is then loaded for those people only, in bulk. No query runs per person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from goodwill.bank.model import BankStanding
from goodwill.db import as_utc, matching
from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.insights.model import InsightMilestone, InsightScore
from goodwill.notes.model import Note
from goodwill.outbox.model import Message, MessageStatus
from goodwill.people.model import ConsentChange, Person
from goodwill.planner.config import MomentsConfig
from goodwill.planner.domain import MilestoneReached, RecentEvent, Signals
from goodwill.planner.model import PlanHoldout, PlanItem
from goodwill.team.model import User

# Events that can make a moment, or that explain a recovery moment.
MOMENT_KINDS = ("purchase", "complaint_resolved", "question", "visit", "praise", "referral")
WITHDRAWAL_KINDS = ("late_delivery", "defect", "complaint", "service_failure", "return")
# Appreciations recorded outside Goodwill (imports): ours are counted through plan items and messages.
APPRECIATION_EVENT_KINDS = ("appreciation_sent", "card_sent", "call_made")
CONTACT_EVENT_KINDS = APPRECIATION_EVENT_KINDS
OWN_SOURCE = "goodwill"
PHONE_CHANNELS = ("call", "phone")


def day_bounds(day: date, tz: ZoneInfo, days: int = 1) -> tuple[datetime, datetime]:
    """UTC start of the local day ``days - 1`` before ``day`` and UTC end of ``day``."""
    start = datetime.combine(day - timedelta(days=days - 1), time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return as_utc(start) or start, as_utc(end) or end


@dataclass
class PersonFacts:
    """Per-candidate details loaded in bulk, beyond ``Signals``."""

    kind: str = "prospect"
    preferred_channel: str | None = None
    time_zone: str | None = None
    consents: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)  # channels whose latest change is a revocation
    call_requested: bool = False
    m_score: int | None = None
    appreciations: list[datetime] = field(default_factory=list)
    last_contact_at: datetime | None = None


def _local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def recent_events(
    session: Session,
    *,
    day: date,
    tz: ZoneInfo,
    config: MomentsConfig,
    person_ids: Sequence[int] | None = None,
) -> dict[int, list[RecentEvent]]:
    start, end = day_bounds(day, tz, config.lookback_days)
    kinds = MOMENT_KINDS + WITHDRAWAL_KINDS
    query = (
        select(
            Event.id,
            Event.person_id,
            Event.kind,
            Event.occurred_at,
            Event.amount_minor,
            Event.channel,
            Event.staff_id,
            User.name,
            Event.text,
        )
        .outerjoin(User, User.id == Event.staff_id)
        .where(Event.kind.in_(kinds), Event.occurred_at >= start, Event.occurred_at < end)
        .where(or_(Event.kind != "purchase", counts_as_spend()))
    )
    rows = []
    if person_ids is None:
        rows = list(session.execute(query).all())
    else:
        for condition in matching(session, Event.person_id, list(person_ids)):
            rows.extend(session.execute(query.where(condition)).all())
    ordinals = _purchase_ordinals(session, [r.id for r in rows if r.kind == "purchase"])
    found: dict[int, list[RecentEvent]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.occurred_at, r.id)):
        found[row.person_id].append(
            RecentEvent(
                kind=row.kind,
                on=_local_day(row.occurred_at, tz),
                ordinal=ordinals.get(row.id),
                amount_minor=row.amount_minor,
                channel=row.channel,
                staff_id=row.staff_id,
                staff_name=row.name or None,
                text=row.text,
            )
        )
    return found


def _purchase_ordinals(session: Session, event_ids: Sequence[int]) -> dict[int, int]:
    """Event id -> "this was their n-th paid order", for a few recent purchases."""
    earlier = aliased(Event)
    ordinal = (
        select(func.count())
        .where(
            earlier.person_id == Event.person_id,
            earlier.kind == "purchase",
            or_(
                earlier.occurred_at < Event.occurred_at,
                and_(earlier.occurred_at == Event.occurred_at, earlier.id <= Event.id),
            ),
            counts_as_spend(earlier),
        )
        .correlate(Event)
        .scalar_subquery()
    )
    result: dict[int, int] = {}
    for condition in matching(session, Event.id, list(event_ids)):
        result.update((row[0], row[1]) for row in session.execute(select(Event.id, ordinal).where(condition)))
    return result


def milestones_on(
    session: Session, *, day: date, config: MomentsConfig, person_ids: Sequence[int] | None = None
) -> dict[int, list[MilestoneReached]]:
    first = day - timedelta(days=config.lookback_days - 1)
    query = select(
        InsightMilestone.person_id, InsightMilestone.kind, InsightMilestone.value, InsightMilestone.reached_on
    ).where(InsightMilestone.reached_on >= first, InsightMilestone.reached_on <= day)
    rows = []
    if person_ids is None:
        rows = list(session.execute(query).all())
    else:
        for condition in matching(session, InsightMilestone.person_id, list(person_ids)):
            rows.extend(session.execute(query.where(condition)).all())
    found: dict[int, list[MilestoneReached]] = defaultdict(list)
    for row in rows:
        found[row.person_id].append(MilestoneReached(kind=row.kind, value=row.value, on=row.reached_on))
    return found


def drifting_ids(session: Session, *, config: MomentsConfig) -> list[int]:
    """Loyal customers whose insights may show drift; the moment rule decides for each."""
    p_alive_below = float(config.drifting_p_alive_below)
    query = select(InsightScore.person_id).where(
        InsightScore.segment.in_(config.drifting_segments),
        InsightScore.orders >= config.drifting_min_orders,
        # Either P(alive) is low, or the gap since the last order is long compared with their usual
        # one: (age - recency) > factor * recency / (orders - 1), kept in whole numbers.
        # (In insights, recency is first to last order and age is first order to the scoring day.)
        or_(
            InsightScore.p_alive < p_alive_below,
            (InsightScore.age_days - InsightScore.recency_days) * (InsightScore.orders - 1) * 100
            > int(config.drifting_gap_factor * 100) * InsightScore.recency_days,
        ),
    )
    return list(session.scalars(query).all())


def recovery_ids(session: Session, *, config: MomentsConfig) -> list[int]:
    query = select(BankStanding.person_id).where(BankStanding.status.in_(config.recovery_statuses))
    return list(session.scalars(query).all())


def already_planned(
    session: Session, day: date, *, holdout_days: int = 1, skipped_days: int = 1
) -> tuple[set[int], dict[str, int]]:
    """People already decided for, and the day's capacity already used.

    Decided: an item or a holdout on ``day``; a holdout in the ``holdout_days`` before it (a held
    person stays held for as long as a thank-you would have capped them, or the draw would let
    them in on the next day and the comparison would mean nothing); a note a person chose to skip
    in the ``skipped_days`` before it (the same moment must not come straight back).
    """
    people: set[int] = set(session.scalars(select(PlanItem.person_id).where(PlanItem.day == day)).all())
    people.update(
        session.scalars(
            select(PlanHoldout.person_id).where(
                PlanHoldout.day > day - timedelta(days=holdout_days), PlanHoldout.day <= day
            )
        ).all()
    )
    people.update(
        session.scalars(
            select(PlanItem.person_id).where(
                PlanItem.status == "skipped",
                PlanItem.day > day - timedelta(days=skipped_days),
                PlanItem.day < day,
            )
        ).all()
    )
    used = {
        row[0]: row[1]
        for row in session.execute(
            select(PlanItem.channel, func.count())
            .where(PlanItem.day == day, PlanItem.status != "skipped")
            .group_by(PlanItem.channel)
        )
    }
    return people, used


def build_signals(
    session: Session,
    person_ids: Sequence[int],
    *,
    recent: dict[int, list[RecentEvent]],
    milestones: dict[int, list[MilestoneReached]],
    day: date,
) -> tuple[dict[int, Signals], dict[int, PersonFacts]]:
    """Signals and contact facts for these people, a few bulk queries in all."""
    ids = list(person_ids)
    facts: dict[int, PersonFacts] = {pid: PersonFacts() for pid in ids}
    scores: dict[int, InsightScore] = {}
    standings: dict[int, tuple[str, int]] = {}
    for condition in matching(session, Person.id, ids):
        for person in session.execute(
            select(Person.id, Person.kind, Person.preferred_channel, Person.time_zone).where(condition)
        ):
            facts[person.id].kind = person.kind
            facts[person.id].preferred_channel = person.preferred_channel
            facts[person.id].time_zone = person.time_zone
    for condition in matching(session, InsightScore.person_id, ids):
        for scored in session.scalars(select(InsightScore).where(condition)):
            scores[scored.person_id] = scored
            facts[scored.person_id].m_score = scored.m_score
    for condition in matching(session, BankStanding.person_id, ids):
        for row in session.execute(
            select(BankStanding.person_id, BankStanding.status, BankStanding.bad_streak).where(condition)
        ):
            standings[row.person_id] = (row.status, row.bad_streak)
    _load_consents(session, ids, facts)
    _load_contacts(session, ids, facts, day)

    signals: dict[int, Signals] = {}
    for pid in ids:
        score = scores.get(pid)
        status, streak = standings.get(pid, (None, 0))
        events = tuple(recent.get(pid, ()))
        facts[pid].call_requested = any(
            e.kind in ("question", "complaint") and (e.channel or "").lower() in PHONE_CHANNELS
            for e in events
        )
        gap = None
        if score is not None and score.orders >= 2:
            gap = (score.last_purchase_on - score.first_purchase_on).days / (score.orders - 1)
        signals[pid] = Signals(
            person_id=pid,
            kind=facts[pid].kind,
            orders=score.orders if score else 0,
            first_order_on=score.first_purchase_on if score else None,
            last_order_on=score.last_purchase_on if score else None,
            spend_minor=score.total_spend_minor if score else 0,
            segment=score.segment if score else None,
            p_alive=score.p_alive if score else None,
            mean_gap_days=gap,
            clv_minor=score.clv_minor if score else None,
            bank_status=status,
            bad_streak=streak,
            recent=events,
            milestones=tuple(milestones.get(pid, ())),
        )
    return signals, facts


def _load_consents(session: Session, ids: list[int], facts: dict[int, PersonFacts]) -> None:
    latest: dict[tuple[int, str], tuple[datetime, int, bool]] = {}
    for condition in matching(session, ConsentChange.person_id, ids):
        for row in session.execute(
            select(
                ConsentChange.person_id,
                ConsentChange.channel,
                ConsentChange.at,
                ConsentChange.id,
                ConsentChange.granted,
            ).where(condition)
        ):
            key = (row.person_id, row.channel)
            stamp = (row.at, row.id, row.granted)
            if key not in latest or stamp[:2] > latest[key][:2]:
                latest[key] = stamp
    for (pid, channel), (_, _, granted) in latest.items():
        (facts[pid].consents if granted else facts[pid].revoked).add(channel)


def _load_contacts(session: Session, ids: list[int], facts: dict[int, PersonFacts], day: date) -> None:
    """Appreciations (any channel, a year either side of ``day``) and the latest contact of any kind."""
    low = datetime.combine(day - timedelta(days=400), time(0)).replace(tzinfo=ZoneInfo("UTC"))
    high = datetime.combine(day + timedelta(days=400), time(0)).replace(tzinfo=ZoneInfo("UTC"))

    def note_contact(pid: int, at: datetime | None) -> None:
        latest = facts[pid].last_contact_at
        if at is not None and (latest is None or at > latest):
            facts[pid].last_contact_at = at

    for condition in matching(session, PlanItem.person_id, ids):
        rows = session.execute(
            select(PlanItem.person_id, PlanItem.day, PlanItem.window_start).where(
                condition, PlanItem.status != "skipped", PlanItem.day != day
            )
        )
        for row in rows:
            facts[row.person_id].appreciations.append(
                row.window_start or datetime.combine(row.day, time(12), tzinfo=ZoneInfo("UTC"))
            )
    for condition in matching(session, Message.person_id, ids):
        rows = session.execute(
            select(Message.person_id, Message.purpose, Message.status, Message.created_at, Message.sent_at)
            .outerjoin(Note, Note.id == Message.note_id)
            .add_columns(Note.plan_item_id)
            .where(condition, Message.status.not_in((MessageStatus.cancelled, MessageStatus.failed)))
        )
        for row in rows:
            at = row.sent_at or row.created_at
            if row.status == MessageStatus.sent:
                note_contact(row.person_id, at)
            if row.purpose == "appreciation" and row.plan_item_id is None:
                facts[row.person_id].appreciations.append(at)
    for condition in matching(session, Event.person_id, ids):
        rows = session.execute(
            select(Event.person_id, Event.occurred_at, Event.source).where(
                condition,
                Event.kind.in_(CONTACT_EVENT_KINDS),
                Event.occurred_at >= low,
                Event.occurred_at < high,
            )
        )
        for row in rows:
            note_contact(row.person_id, row.occurred_at)
            if row.source != OWN_SOURCE:
                facts[row.person_id].appreciations.append(row.occurred_at)


def union_ids(*groups: Iterable[int]) -> list[int]:
    seen: set[int] = set()
    for group in groups:
        seen.update(group)
    return sorted(seen)
