"""Who was thanked and who was held out: the groups that impact analysis compares, as assigned.

An *analysis* is one plan day or one launched campaign, with its outcome window. Its members are
read set-based (one grouped query per source table, never one query per person):

- a plan day D: the plan items of D's daily runs are the thanked group, whatever became of their
  note (intention to treat: skipped, approved, delivered or not), and D's plan holdouts the other.
  Plan runs that hold a campaign's items (``Campaign.run_id``) are not daily runs and are left out.
- a campaign: its members as assigned at launch, thanked versus held out; excluded people were
  never in either group and stay out.

Nobody leaves a group afterwards: a person who unsubscribed or was erased keeps their plan item,
holdout or campaign membership (erasure keeps those rows), so they are analysed as assigned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlalchemy import Select, false, literal, select, union
from sqlalchemy.orm import Session

from goodwill.campaigns.model import Campaign, CampaignMember, CampaignStatus, MemberGroup, campaign_run_ids
from goodwill.planner.model import PlanHoldout, PlanItem

# A SELECT of any columns (Select is generic over its row's column types).
AnySelect = Select[*tuple[Any, ...]]
MEMBERS_SCHEMA = pa.schema([("analysis", pa.int32()), ("person_id", pa.int64()), ("treated", pa.bool_())])


@dataclass(frozen=True)
class Analysis:
    """One comparison to make: whose outcomes to count, from when to when.

    ``start`` is the end of the plan day (or send day) in the business zone; the window is
    (start, end]. ``stop`` is where counting stops: ``end``, or ``now`` while the window is open.
    """

    kind: str  # "day" or "campaign"
    label: str
    start: datetime
    end: datetime
    stop: datetime
    window_days: int
    day: date
    campaign_id: int | None = None

    @property
    def window_complete(self) -> bool:
        return self.stop >= self.end

    @property
    def started(self) -> bool:
        return self.stop > self.start


def window_for(
    day: date, *, tz: ZoneInfo, window_days: int, now: datetime
) -> tuple[datetime, datetime, datetime]:
    """(start, end, stop) in UTC: local midnight after ``day``, local midnight ``window_days`` later,
    and where counting stops (the end, or now while the window is open)."""
    start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1 + window_days), time(0), tzinfo=tz).astimezone(UTC)
    return start, end, max(start, min(end, now.astimezone(UTC)))


def day_analysis(day: date, *, tz: ZoneInfo, window_days: int, now: datetime) -> Analysis:
    start, end, stop = window_for(day, tz=tz, window_days=window_days, now=now)
    return Analysis("day", f"Plan of {day.isoformat()}", start, end, stop, window_days, day)


def campaign_analysis(campaign: Campaign, *, tz: ZoneInfo, window_days: int, now: datetime) -> Analysis:
    start, end, stop = window_for(campaign.send_on, tz=tz, window_days=window_days, now=now)
    return Analysis(
        "campaign", campaign.name, start, end, stop, window_days, campaign.send_on, campaign_id=campaign.id
    )


def days_with_holdout(session: Session, *, since: date, until: date) -> list[date]:
    """Plan days in [since, until] whose daily runs held someone out (campaign runs do not count)."""
    rows = session.scalars(
        select(PlanHoldout.day)
        .where(
            PlanHoldout.day >= since,
            PlanHoldout.day <= until,
            PlanHoldout.run_id.not_in(campaign_run_ids()),
        )
        .group_by(PlanHoldout.day)
        .order_by(PlanHoldout.day)
    )
    return list(rows)


def launched_campaigns(session: Session, *, since: date, until: date) -> list[Campaign]:
    return list(
        session.scalars(
            select(Campaign)
            .where(
                Campaign.status == CampaignStatus.launched,
                Campaign.send_on >= since,
                Campaign.send_on <= until,
            )
            .order_by(Campaign.send_on, Campaign.id)
        )
    )


def _day_members(days: Sequence[date]) -> list[AnySelect]:
    if not days:
        return []
    low, high = min(days), max(days)
    # A date range, not an IN list of every day: the rows of days in between that are not analysed
    # are dropped when the members are keyed to their analysis (``members_table``).
    thanked = select(PlanItem.day, PlanItem.person_id, literal(True).label("treated")).where(
        PlanItem.day >= low, PlanItem.day <= high, PlanItem.run_id.not_in(campaign_run_ids())
    )
    held = select(PlanHoldout.day, PlanHoldout.person_id, literal(False).label("treated")).where(
        PlanHoldout.day >= low, PlanHoldout.day <= high, PlanHoldout.run_id.not_in(campaign_run_ids())
    )
    return [thanked, held]


def cohort_people(analyses: Sequence[Analysis]) -> AnySelect:
    """A subquery of every person in any of the analyses' groups (a superset is harmless)."""
    days = [a.day for a in analyses if a.kind == "day"]
    campaign_ids = [a.campaign_id for a in analyses if a.campaign_id is not None]
    parts: list[AnySelect] = [select(s.subquery().c.person_id) for s in _day_members(days)]
    if campaign_ids:
        parts.append(
            select(CampaignMember.person_id).where(
                CampaignMember.campaign_id.in_(campaign_ids),
                CampaignMember.assignment.in_((MemberGroup.thanked, MemberGroup.holdout)),
            )
        )
    if not parts:
        return select(literal(0)).where(false())
    return select(union(*parts).subquery().c.person_id) if len(parts) > 1 else parts[0]


def members_table(session: Session, analyses: Sequence[Analysis]) -> pa.Table:
    """``(analysis, person_id, treated)`` for every analysis, ``analysis`` being its index in the list."""
    by_day = {a.day: i for i, a in enumerate(analyses) if a.kind == "day"}
    by_campaign = {a.campaign_id: i for i, a in enumerate(analyses) if a.campaign_id is not None}
    index: list[int] = []
    person: list[int] = []
    treated: list[bool] = []
    for query in _day_members(list(by_day)):
        for day, person_id, is_treated in session.execute(query):
            if day in by_day:
                index.append(by_day[day])
                person.append(person_id)
                treated.append(bool(is_treated))
    if by_campaign:
        rows = session.execute(
            select(CampaignMember.campaign_id, CampaignMember.person_id, CampaignMember.assignment).where(
                CampaignMember.campaign_id.in_(list(by_campaign)),
                CampaignMember.assignment.in_((MemberGroup.thanked, MemberGroup.holdout)),
            )
        )
        for campaign_id, person_id, assignment in rows:
            index.append(by_campaign[campaign_id])
            person.append(person_id)
            treated.append(assignment == MemberGroup.thanked)
    return pa.Table.from_arrays(
        [pa.array(index, pa.int32()), pa.array(person, pa.int64()), pa.array(treated, pa.bool_())],
        schema=MEMBERS_SCHEMA,
    )
