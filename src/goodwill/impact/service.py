"""Impact reports: did the people we thanked come back more than the people we randomly held out?

A report compares the two groups of one plan day or one campaign, as assigned (``cohorts``), on six
outcomes counted over the window after the day (``outcomes``), with the statistics of
``goodwill.impact.stats``. Read only: nothing is written.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.campaigns.model import Campaign, CampaignStatus
from goodwill.config import Settings
from goodwill.db import id_from_text
from goodwill.impact import cohorts
from goodwill.impact.cohorts import Analysis
from goodwill.impact.outcomes import OUTCOMES, AnalysisOutcomes, Outcome, outcomes_by_analysis
from goodwill.impact.stats import Comparison, adjust_for_outcomes, compare_means, compare_rates, plain_number
from goodwill.money import format_money

SINCE_DEFAULT_DAYS = 180


class ImpactError(ValueError):
    """The analysis asked for cannot be made; the message says why."""


class UnknownCampaign(ImpactError):
    """No campaign has that id or name."""


@dataclass(frozen=True)
class ImpactReport:
    """Thanked versus held out for one plan day or campaign: six comparisons and a headline."""

    label: str
    kind: str  # "day" or "campaign"
    day: date  # the plan day, or the campaign's send day
    campaign_id: int | None
    start: datetime  # the window is (start, end], UTC
    end: datetime
    as_of: datetime  # outcomes are counted up to here: ``end``, or now while the window is open
    window_days: int
    window_complete: bool
    treated_n: int
    holdout_n: int
    comparisons: list[Comparison]
    headline: str

    @property
    def days_so_far(self) -> int:
        return max(0, (self.as_of - self.start) // timedelta(days=1))

    def comparison(self, metric: str) -> Comparison:
        return next(c for c in self.comparisons if c.metric == metric)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "day": self.day.isoformat(),
            "campaign_id": self.campaign_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "window_complete": self.window_complete,
            "so_far": not self.window_complete,
            "treated_n": self.treated_n,
            "holdout_n": self.holdout_n,
            "headline": self.headline,
            "comparisons": [c.as_dict() for c in self.comparisons],
        }


def _compare(outcome: Outcome, found: AnalysisOutcomes, settings: Settings, seed: int) -> Comparison:
    treated, held = found.treated.values[outcome.key], found.holdout.values[outcome.key]
    config, currency = settings.impact, settings.business.currency
    if outcome.kind == "rate":
        return compare_rates(
            treated,
            held,
            metric=outcome.key,
            confidence=config.confidence,
            min_group_size=config.min_group_size,
        )
    return compare_means(
        treated,
        held,
        metric=outcome.key,
        confidence=config.confidence,
        min_group_size=config.min_group_size,
        resamples=config.bootstrap_samples,
        seed=seed,
        format_value=(lambda v: format_money(round(v), currency))
        if outcome.unit == "money"
        else plain_number,
    )


def _when(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _headline(analysis: Analysis, treated_n: int, holdout_n: int, repeat: Comparison) -> str:
    if not analysis.started:
        return f"The window opens after {_when(analysis.day)}: nothing to compare yet."
    span = (
        f"over the {analysis.window_days} days after {_when(analysis.day)}"
        if analysis.window_complete
        else f"so far ({(analysis.stop - analysis.start).days} of {analysis.window_days} days)"
    )
    return f"{treated_n:,} thanked, {holdout_n:,} held out, {span}: {repeat.sentence}"


def _reports(session: Session, analyses: Sequence[Analysis], settings: Settings) -> list[ImpactReport]:
    members = cohorts.members_table(session, analyses)
    found = outcomes_by_analysis(session, analyses, members, currency=settings.business.currency)
    reports = []
    for analysis, outcomes in zip(analyses, found, strict=True):
        seed = zlib.crc32(f"{analysis.kind}:{analysis.day}:{analysis.campaign_id}".encode())
        # Six outcomes tested at once: Holm's adjustment keeps the chance of any false "up" or
        # "down" at the stated level, not six times it.
        comparisons = adjust_for_outcomes([_compare(o, outcomes, settings, seed) for o in OUTCOMES])
        treated_n, holdout_n = outcomes.treated.size, outcomes.holdout.size
        reports.append(
            ImpactReport(
                label=analysis.label,
                kind=analysis.kind,
                day=analysis.day,
                campaign_id=analysis.campaign_id,
                start=analysis.start,
                end=analysis.end,
                as_of=analysis.stop,
                window_days=analysis.window_days,
                window_complete=analysis.window_complete,
                treated_n=treated_n,
                holdout_n=holdout_n,
                comparisons=comparisons,
                headline=_headline(analysis, treated_n, holdout_n, comparisons[0]),
            )
        )
    return reports


def _window(settings: Settings, window_days: int | None) -> int:
    days = settings.impact.window_days if window_days is None else window_days
    if not 1 <= days <= 730:
        raise ImpactError(f"window: {days} days is out of range (1 to 730)")
    return days


def impact_for_day(
    session: Session, *, day: date, settings: Settings, window_days: int | None = None, now: datetime
) -> ImpactReport:
    """Thanked versus held out on one plan day (daily runs only; campaign runs are their own)."""
    analysis = cohorts.day_analysis(
        day, tz=settings.business.tz, window_days=_window(settings, window_days), now=now
    )
    report = _reports(session, [analysis], settings)[0]
    if report.treated_n + report.holdout_n == 0:
        raise ImpactError(f"day: nobody was planned or held out on {day.isoformat()}")
    return report


def find_campaign(session: Session, reference: str) -> Campaign:
    """A campaign by id or by exact name."""
    text = reference.strip()
    campaign_id = id_from_text(text)
    campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
    campaign = campaign or session.scalar(select(Campaign).where(Campaign.name == text))
    if campaign is None:
        raise UnknownCampaign(f"campaign: no campaign with id or name {reference!r}")
    return campaign


def impact_for_campaign(
    session: Session, *, campaign_id: int, settings: Settings, window_days: int | None = None, now: datetime
) -> ImpactReport:
    """Thanked versus held-out members of a launched campaign (excluded people are not analysed)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise UnknownCampaign(f"campaign: no campaign with id {campaign_id}")
    if campaign.status != CampaignStatus.launched:
        raise ImpactError(f"campaign: {campaign.name!r} is not launched yet, so nobody is assigned")
    analysis = cohorts.campaign_analysis(
        campaign, tz=settings.business.tz, window_days=_window(settings, window_days), now=now
    )
    return _reports(session, [analysis], settings)[0]


def impact_since(
    session: Session, *, since: date, settings: Settings, now: datetime, window_days: int | None = None
) -> list[ImpactReport]:
    """Every plan day with a holdout and every launched campaign from ``since`` whose window has
    begun, oldest first."""
    tz, days = settings.business.tz, _window(settings, window_days)
    today = now.astimezone(tz).date()
    analyses = [
        cohorts.day_analysis(d, tz=tz, window_days=days, now=now)
        for d in cohorts.days_with_holdout(session, since=since, until=today)
    ]
    analyses += [
        cohorts.campaign_analysis(c, tz=tz, window_days=days, now=now)
        for c in cohorts.launched_campaigns(session, since=since, until=today)
    ]
    started = sorted((a for a in analyses if a.started), key=lambda a: (a.day, a.kind, a.campaign_id or 0))
    return _reports(session, started, settings) if started else []


def default_since(now: datetime, settings: Settings) -> date:
    return now.astimezone(settings.business.tz).date() - timedelta(days=SINCE_DEFAULT_DAYS)


@dataclass(frozen=True)
class Selection:
    """What the page or the command asked for, in words, and its reports (oldest first)."""

    scope: str
    single: bool  # one campaign or one plan day, rather than a period
    since: date | None
    reports: list[ImpactReport]


def select_reports(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    campaign: str | None = None,
    day: date | None = None,
    since: date | None = None,
    window_days: int | None = None,
) -> Selection:
    """One campaign (by id or name), one plan day, or everything since a day (180 days by default)."""
    if sum(x is not None for x in (campaign, day, since)) > 1:
        raise ImpactError("choose one of campaign, day and since")
    if campaign is not None:
        found = find_campaign(session, campaign)
        report = impact_for_campaign(
            session, campaign_id=found.id, settings=settings, window_days=window_days, now=now
        )
        return Selection(f"Campaign “{found.name}”", True, None, [report])
    if day is not None:
        report = impact_for_day(session, day=day, settings=settings, window_days=window_days, now=now)
        return Selection(f"Plan of {_when(day)}", True, None, [report])
    since = since or default_since(now, settings)
    reports = impact_since(session, since=since, settings=settings, now=now, window_days=window_days)
    return Selection(f"Plan days and campaigns since {_when(since)}", False, since, reports)
