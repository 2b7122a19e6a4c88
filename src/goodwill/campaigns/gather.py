"""Gather what ``campaigns.rules.assign`` needs for a campaign's audience: a few bulk queries.

The audience query (``campaigns.selection``), then, for all its people at once: erasures, other
campaigns in the cap window, the daily plans around the send day, RFM segments and addresses; the
contact facts (consents, appreciations, last contact, time zone) come from the planner's own
``build_signals``, so campaigns and daily plans read the contact policy's inputs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from goodwill.campaigns import rules
from goodwill.campaigns.audience import Audience
from goodwill.campaigns.model import Campaign, CampaignMember, CampaignStatus, MemberGroup
from goodwill.campaigns.selection import audience_ids
from goodwill.config import Settings
from goodwill.db import among
from goodwill.insights.model import InsightScore
from goodwill.outbox.cards import missing_address
from goodwill.people.model import ConsentChange, Person
from goodwill.people.privacy import ERASURE_SOURCE
from goodwill.planner.domain import Candidate, Moment, MomentKind
from goodwill.planner.model import PlanHoldout, PlanItem
from goodwill.planner.service import value_score
from goodwill.planner.signals import build_signals

DEFAULT_SEGMENT = "default"


@dataclass
class Gathered:
    people: list[rules.Person]
    used_capacity: dict[str, int]
    in_other_campaigns: int = 0  # thanked by another launched campaign, at any time
    moment: Moment = field(default_factory=lambda: Moment(MomentKind.campaign, 0, ""))


def campaign_moment(campaign: Campaign, settings: Settings) -> Moment:
    strength = settings.planner.moments.strength.get(MomentKind.campaign, 30)
    return Moment(kind=MomentKind.campaign, strength=strength, evidence=campaign.name)


def choice_of(campaign: Campaign) -> rules.Settings:
    return rules.Settings(
        seed=campaign.seed,
        send_on=campaign.send_on,
        channels=tuple(campaign.channels),
        window_from_hour=campaign.window_from_hour,
        window_until_hour=campaign.window_until_hour,
        holdout_percent=campaign.holdout_percent,
    )


def gather(session: Session, *, campaign: Campaign, audience: Audience, settings: Settings) -> Gathered:
    business = settings.business
    day = campaign.send_on
    window = settings.planner.policy.cap_window_days
    ids = audience_ids(session, audience, send_on=day, tz=business.tz, currency=business.currency)
    moment = campaign_moment(campaign, settings)
    if not ids:
        return Gathered([], {}, 0, moment)
    blocked: dict[int, str] = {}
    # Checked in reverse order of precedence, so the first reason in EXCLUSION_REASONS wins.
    for pid in _held_out_daily(session, campaign, window):
        blocked[pid] = "held_out_daily"
    for pid in session.scalars(select(PlanItem.person_id).where(PlanItem.day == day)):
        blocked[pid] = "already_planned"
    for pid in _in_other_campaigns(session, campaign, ids, window):
        blocked[pid] = "other_campaign"
    erased = select(ConsentChange.person_id).where(
        ConsentChange.source == ERASURE_SOURCE, among(session, ConsentChange.person_id, ids)
    )
    for pid in session.scalars(erased.distinct()):
        blocked[pid] = "erased"

    scored = select(InsightScore.person_id, InsightScore.segment).where(
        among(session, InsightScore.person_id, ids)
    )
    segments = {pid: segment for pid, segment in session.execute(scored)}
    open_ids = [pid for pid in ids if pid not in blocked]
    signals, facts = build_signals(session, open_ids, recent={}, milestones={}, day=day)
    reachable = _reachable(session, open_ids)
    people: list[rules.Person] = []
    for pid in ids:
        segment = segments.get(pid) or DEFAULT_SEGMENT
        if pid in blocked:
            stub = Candidate(pid, moment, 0, None, None, frozenset(), False, business.timezone)
            people.append(rules.Person(stub, segment, blocked=blocked[pid]))
            continue
        known = facts[pid]
        candidate = Candidate(
            person_id=pid,
            moment=moment,
            value_score=value_score(known.kind, known.m_score),
            bank_status=signals[pid].bank_status,
            preferred_channel=known.preferred_channel,
            consents=frozenset(known.consents),
            call_requested=False,  # a call nobody asked for needs consent, as any other channel
            time_zone=known.time_zone or business.timezone,
            appreciations=tuple(sorted(known.appreciations)),
            last_contact_at=known.last_contact_at,
        )
        people.append(rules.Person(candidate, segment, reachable=reachable.get(pid, frozenset())))
    used_query = (
        select(PlanItem.channel, func.count())
        .where(PlanItem.day == day, PlanItem.status != "skipped")
        .group_by(PlanItem.channel)
    )
    used = {channel: int(n) for channel, n in session.execute(used_query)}
    return Gathered(people, used, _thanked_elsewhere(session, campaign, ids), moment)


def _held_out_daily(session: Session, campaign: Campaign, window: int) -> list[int]:
    """Held out of a daily plan within the cap window up to the send day (``already_planned``'s rule)."""
    day = campaign.send_on
    query = select(PlanHoldout.person_id).where(
        PlanHoldout.day > day - timedelta(days=window), PlanHoldout.day <= day
    )
    return list(session.scalars(query))


def _in_other_campaigns(session: Session, campaign: Campaign, ids: list[int], window: int) -> list[int]:
    day = campaign.send_on
    query = (
        select(CampaignMember.person_id)
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(
            Campaign.id != campaign.id,
            Campaign.status == CampaignStatus.launched,
            Campaign.send_on > day - timedelta(days=window),
            Campaign.send_on < day + timedelta(days=window),
            CampaignMember.assignment.in_((MemberGroup.thanked, MemberGroup.holdout)),
            among(session, CampaignMember.person_id, ids),
        )
        .distinct()
    )
    return list(session.scalars(query))


def _thanked_elsewhere(session: Session, campaign: Campaign, ids: list[int]) -> int:
    query = (
        select(func.count(func.distinct(CampaignMember.person_id)))
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(
            Campaign.id != campaign.id,
            Campaign.status == CampaignStatus.launched,
            CampaignMember.assignment == MemberGroup.thanked,
            among(session, CampaignMember.person_id, ids),
        )
    )
    return int(session.scalar(query) or 0)


def _reachable(session: Session, ids: list[int]) -> dict[int, frozenset[str]]:
    """The channels we hold an address for: email, a phone (SMS and calls), a postal address (cards)."""
    if not ids:
        return {}
    rows = session.execute(
        select(Person.id, Person.name, Person.email, Person.phone, Person.address_line1, Person.city,
               Person.postal_code).where(among(session, Person.id, ids))
    )  # fmt: skip
    found: dict[int, frozenset[str]] = {}
    for pid, name, email, phone, line1, city, postal_code in rows:
        channels = set()
        if email and email.strip():
            channels.add("email")
        if phone and phone.strip():
            channels.update(("sms", "call"))
        if missing_address(name=name or "", line1=line1, city=city, postal_code=postal_code) is None:
            channels.add("card")
        found[pid] = frozenset(channels)
    return found
