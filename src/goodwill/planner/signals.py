"""Gather what the moment rules and the contact policy need, set-based, for one plan day.

Candidates are found with a handful of indexed queries (recent events by kind and time, the
day's milestones, loyal customers whose insights show them becoming overdue in the window,
relationships in recovery status; the last two only when their moment is enabled); everything
else is then loaded for those people only, in bulk. No query runs per person.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session, aliased

from goodwill.bank.model import BankStanding
from goodwill.campaigns.model import Campaign, CampaignMember, MemberGroup, campaign_run_ids
from goodwill.db import among, as_utc
from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore
from goodwill.notes.model import Note
from goodwill.outbox.model import Message, MessageStatus
from goodwill.people.model import Person
from goodwill.people.service import consents_in_force
from goodwill.planner.config import MomentsConfig
from goodwill.planner.domain import MilestoneReached, RecentEvent, Signals
from goodwill.planner.model import PlanHoldout, PlanItem
from goodwill.planner.moments import gap_percent
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
    if person_ids is not None:
        if not person_ids:
            return {}
        query = query.where(among(session, Event.person_id, person_ids))
    rows = session.execute(query).all()
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
    if not event_ids:
        return {}
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
    rows = session.execute(select(Event.id, ordinal).where(among(session, Event.id, event_ids)))
    return {row[0]: row[1] for row in rows}


def milestones_on(
    session: Session, *, day: date, config: MomentsConfig, person_ids: Sequence[int] | None = None
) -> dict[int, list[MilestoneReached]]:
    first = day - timedelta(days=config.lookback_days - 1)
    query = select(
        InsightMilestone.person_id, InsightMilestone.kind, InsightMilestone.value, InsightMilestone.reached_on
    ).where(InsightMilestone.reached_on >= first, InsightMilestone.reached_on <= day)
    if person_ids is not None:
        if not person_ids:
            return {}
        query = query.where(among(session, InsightMilestone.person_id, person_ids))
    rows = session.execute(query).all()
    found: dict[int, list[MilestoneReached]] = defaultdict(list)
    for row in rows:
        found[row.person_id].append(MilestoneReached(kind=row.kind, value=row.value, on=row.reached_on))
    return found


def drifting_ids(session: Session, *, day: date, config: MomentsConfig) -> list[int]:
    """Loyal customers who became overdue within the look-back window: ``moments.became_overdue``
    in SQL (the moment rule still checks kind and recent purchases for each).

    No date arithmetic in SQL (SQLite and PostgreSQL differ): insights keep whole days, span =
    last - first order and age = run's ``as_of`` - first order, so the gap on the plan day is
    (day - as_of) + age - span, with (day - as_of) worked out here for each scoring run.
    """
    runs = session.execute(select(InsightRun.id, InsightRun.as_of).order_by(InsightRun.id.desc())).all()
    if not runs:
        return []
    days_after = {run.id: (day - run.as_of).days for run in runs}
    offset = cast(case(days_after, value=InsightScore.run_id), BigInteger)
    gap = offset + InsightScore.age_days - InsightScore.recency_days
    weight = cast(InsightScore.orders - 1, BigInteger) * 100
    line = cast(InsightScore.recency_days, BigInteger) * gap_percent(config)
    query = select(InsightScore.person_id).where(
        InsightScore.segment.in_(config.drifting_segments),
        InsightScore.orders >= config.drifting_min_orders,
        gap * weight > line,  # overdue on the plan day...
        (gap - config.lookback_days) * weight <= line,  # ...and not lookback_days before it
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
    # A campaign's held-out people stay held for as long as its thank-you would have capped them,
    # like a daily holdout: a daily note reaching them would spoil the campaign's comparison.
    people.update(
        session.scalars(
            select(CampaignMember.person_id)
            .join(Campaign, Campaign.id == CampaignMember.campaign_id)
            .where(
                CampaignMember.assignment == MemberGroup.holdout.value,
                # Both sides of the send day: a campaign launched ahead of it holds its holdout
                # from the daily plans before it too, the span its cap keeps its thanked people.
                Campaign.send_on > day - timedelta(days=holdout_days),
                Campaign.send_on < day + timedelta(days=holdout_days),
            )
        ).all()
    )
    # A campaign's emails and texts go out without the team's hands, so they use none of the day's
    # capacity; its cards and calls are the team's work like any other.
    from_campaign = PlanItem.run_id.in_(campaign_run_ids())
    used = {
        row[0]: row[1]
        for row in session.execute(
            select(PlanItem.channel, func.count())
            .where(
                PlanItem.day == day,
                PlanItem.status != "skipped",
                or_(~from_campaign, PlanItem.channel.in_(("card", "call"))),
            )
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
    signals: dict[int, Signals] = {}
    if not ids:
        return signals, facts
    rows = session.execute(
        select(
            Person.id,
            Person.kind,
            Person.preferred_channel,
            Person.time_zone,
            InsightScore.orders,
            InsightScore.first_purchase_on,
            InsightScore.last_purchase_on,
            InsightScore.total_spend_minor,
            InsightScore.segment,
            InsightScore.p_alive,
            InsightScore.clv_minor,
            InsightScore.m_score,
            BankStanding.status,
            BankStanding.bad_streak,
        )
        .outerjoin(InsightScore, InsightScore.person_id == Person.id)
        .outerjoin(BankStanding, BankStanding.person_id == Person.id)
        .where(among(session, Person.id, ids))
    ).all()
    known = {row[0]: row for row in rows}
    _load_consents(session, ids, facts)
    _load_contacts(session, ids, facts, day)

    for pid in ids:
        person = facts[pid]
        events = tuple(recent.get(pid, ()))
        person.call_requested = bool(events) and any(
            e.kind in ("question", "complaint") and (e.channel or "").lower() in PHONE_CHANNELS
            for e in events
        )
        reached = tuple(milestones.get(pid, ()))
        row = known.get(pid)
        if row is None:
            signals[pid] = Signals(person_id=pid, kind=person.kind, recent=events, milestones=reached)
            continue
        # Plain tuple unpacking: named access on tens of thousands of rows adds up to a second.
        _, kind, channel, zone, orders, first, last, spend, segment, p_alive, clv, m_score, status, bad = row
        person.kind, person.preferred_channel, person.time_zone = kind, channel, zone
        scored = orders is not None
        person.m_score = m_score if scored else None
        signals[pid] = Signals(
            person_id=pid,
            kind=kind,
            orders=orders if scored else 0,
            first_order_on=first,
            last_order_on=last,
            spend_minor=spend if scored else 0,
            segment=segment,
            p_alive=p_alive,
            mean_gap_days=(last - first).days / (orders - 1) if scored and orders >= 2 else None,
            clv_minor=clv,
            bank_status=status,
            bad_streak=bad if bad is not None else 0,
            recent=events,
            milestones=reached,
        )
    return signals, facts


def _load_consents(session: Session, ids: list[int], facts: dict[int, PersonFacts]) -> None:
    """Channels whose consent in force grants, and those whose latest change revokes."""
    for pid, channels in consents_in_force(session, ids).items():
        for channel, granted in channels.items():
            (facts[pid].consents if granted else facts[pid].revoked).add(channel)


# Contact events of a few people are read through (person_id, occurred_at): a table row for each
# of their events of any kind in the window (~60 µs a person at 1M people, SQLite). For many people
# it is cheaper to go through (kind, occurred_at) and read every contact event in the window
# (~3 µs each): once there are at most _PER_PERSON_COST contact events per person asked about.
# Below _FEW_PEOPLE people, counting the contact events costs more than it could save.
_PER_PERSON_COST = 20
_FEW_PEOPLE = 500


def _load_contacts(session: Session, ids: list[int], facts: dict[int, PersonFacts], day: date) -> None:
    """Appreciations (any channel, a year either side of ``day``) and the latest contact of any kind."""
    low = datetime.combine(day - timedelta(days=400), time(0)).replace(tzinfo=ZoneInfo("UTC"))
    high = datetime.combine(day + timedelta(days=400), time(0)).replace(tzinfo=ZoneInfo("UTC"))

    def note_contact(pid: int, at: datetime | None) -> None:
        latest = facts[pid].last_contact_at
        if at is not None and (latest is None or at > latest):
            facts[pid].last_contact_at = at

    planned = session.execute(
        select(PlanItem.person_id, PlanItem.day, PlanItem.window_start).where(
            among(session, PlanItem.person_id, ids), PlanItem.status != "skipped", PlanItem.day != day
        )
    )
    for item in planned:
        facts[item.person_id].appreciations.append(
            item.window_start or datetime.combine(item.day, time(12), tzinfo=ZoneInfo("UTC"))
        )
    messages = session.execute(
        select(Message.person_id, Message.purpose, Message.status, Message.created_at, Message.sent_at)
        .outerjoin(Note, Note.id == Message.note_id)
        .add_columns(Note.plan_item_id)
        .where(
            among(session, Message.person_id, ids),
            Message.status.not_in((MessageStatus.cancelled, MessageStatus.failed)),
        )
    )
    for message in messages:
        at = message.sent_at or message.created_at
        if message.status == MessageStatus.sent:
            note_contact(message.person_id, at)
        if message.purpose == "appreciation" and message.plan_item_id is None:
            facts[message.person_id].appreciations.append(at)
    in_window = (Event.kind.in_(CONTACT_EVENT_KINDS), Event.occurred_at >= low, Event.occurred_at < high)
    by_kind = False
    if len(ids) >= _FEW_PEOPLE:
        count = session.scalar(select(func.count()).select_from(Event).where(*in_window)) or 0
        by_kind = count <= len(ids) * _PER_PERSON_COST
    # ``person_id + 0`` is the same people, but no longer a bare column the planner could look up
    # by its index: it keeps to (kind, occurred_at) and checks each row against the id list.
    person = Event.person_id + 0 if by_kind else Event.person_id
    contacts = select(Event.person_id, Event.occurred_at, Event.source).where(
        *in_window, among(session, person, ids)
    )
    for row in session.execute(contacts):
        note_contact(row.person_id, row.occurred_at)
        if row.source != OWN_SOURCE:
            facts[row.person_id].appreciations.append(row.occurred_at)


def union_ids(*groups: Iterable[int]) -> list[int]:
    seen: set[int] = set()
    for group in groups:
        seen.update(group)
    return sorted(seen)
