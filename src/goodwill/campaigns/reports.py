"""What the campaign services hand back: plain frozen data with ``as_dict()`` for JSON, CLI and pages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from goodwill.campaigns.audience import audience_json, describe, parse_audience
from goodwill.campaigns.model import Campaign
from goodwill.config import Settings


@dataclass(frozen=True)
class SampleDraft:
    person_id: int
    first_name: str
    segment: str
    channel: str
    subject: str
    body: str
    score: int  # the sincerity check, 0..100
    ok: bool  # no blocking problem: under the sample rule it would be approved at launch
    problems: list[dict[str, Any]]  # kind, text, hint, blocking
    template: str = ""  # the segment's, the campaign's default, or a built-in one


@dataclass(frozen=True)
class Preview:
    """Who a launch now would reach, who is left out and why, the work it makes; nothing is written."""

    campaign_id: int
    audience_size: int  # everyone the audience describes, erased people included
    eligible: int  # after every exclusion: thanked + holdout
    holdout: int  # of the eligible, held out at random (not contacted, measured)
    excluded: dict[str, int]  # reason -> people (every reason listed, zeros included)
    by_channel: dict[str, int]  # the thanked, by channel: the expected workload
    by_segment: dict[str, int]  # the thanked, by RFM segment ("default": no segment)
    samples: list[SampleDraft]
    in_other_campaigns: int  # in the audience and thanked by another launched campaign (ever)
    notes: list[str]  # plain-language warnings and what the numbers mean
    thanked: int = 0  # eligible - holdout
    to_review: int = 0  # notes that will wait for a person (all of them under the "all" rule)
    staff_time: dict[str, int] = field(default_factory=dict)  # cards to write and calls to make
    audience_words: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LaunchReport:
    campaign_id: int
    thanked: int
    holdout: int
    excluded: dict[str, int]
    drafted: int  # notes drafted, one per thanked person
    auto_approved: int  # approved at launch (sample rule, outside the sample, check passed)
    to_review: int  # drafts waiting for a person
    already_launched: bool  # this call found the campaign launched and changed nothing
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CampaignStatusView:
    campaign_id: int
    name: str
    status: str  # draft | launched
    send_on: str
    members: dict[str, int]  # thanked, holdout, excluded
    excluded: dict[str, int]  # reason -> people
    notes: dict[str, int]  # draft, approved, skipped
    messages: dict[str, int]  # queued, sending, sent, failed, cancelled
    holdout: int
    launched_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def campaign_dict(campaign: Campaign, settings: Settings) -> dict[str, Any]:
    """A campaign as plain data (the API, ``--json``)."""
    currency = settings.business.currency
    try:
        words = describe(parse_audience(campaign.audience, currency=currency), currency=currency)
        audience = audience_json(parse_audience(campaign.audience, currency=currency), currency=currency)
    except ValueError:  # stored before a rule changed: show it as stored
        words, audience = "", dict(campaign.audience)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "description": campaign.description,
        "status": campaign.status,
        "send_on": campaign.send_on.isoformat(),
        "audience": audience,
        "audience_words": words,
        "channels": list(campaign.channels),
        "templates": dict(campaign.templates),
        "window_from_hour": campaign.window_from_hour,
        "window_until_hour": campaign.window_until_hour,
        "review_rule": campaign.review_rule,
        "review_percent": campaign.review_percent,
        "holdout_percent": campaign.holdout_percent,
        "run_id": campaign.run_id,
        "created_by_id": campaign.created_by_id,
        "created_at": campaign.created_at.isoformat() if campaign.created_at else None,
        "launched_at": campaign.launched_at.isoformat() if campaign.launched_at else None,
        "launched_by_id": campaign.launched_by_id,
    }
