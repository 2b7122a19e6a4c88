"""Campaigns: create and edit a draft, preview it (nothing written), launch it once, follow it.

Every function takes the session and keyword arguments and never commits: the caller's unit of
work does. Bad input raises ``CampaignError`` naming the field; an unknown campaign raises
``CampaignNotFound``. Who is thanked, held out or excluded is decided by ``campaigns.rules``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from goodwill.campaigns import rules
from goodwill.campaigns.audience import describe, parse_audience
from goodwill.campaigns.drafting import Drafted, draft_for, in_turn, own_templates, recipients
from goodwill.campaigns.errors import CampaignError, CampaignNotFound
from goodwill.campaigns.gather import choice_of, gather
from goodwill.campaigns.launching import launch, status
from goodwill.campaigns.model import Campaign, CampaignStatus, ReviewRule
from goodwill.campaigns.previewing import pick_samples, preview_notes
from goodwill.campaigns.reports import CampaignStatusView, LaunchReport, Preview, SampleDraft
from goodwill.campaigns.validation import CampaignDraft, checked
from goodwill.config import Settings
from goodwill.db import MAX_ID, id_from_text, utcnow
from goodwill.notes.service import problem_dict, templates_for
from goodwill.planner.domain import Moment

__all__ = [
    "CampaignDraft",
    "CampaignError",
    "CampaignNotFound",
    "CampaignStatusView",
    "LaunchReport",
    "Preview",
    "SampleDraft",
    "create_campaign",
    "get_campaign",
    "launch",
    "list_campaigns",
    "preview",
    "status",
    "update_campaign",
]


def create_campaign(
    session: Session, *, draft: CampaignDraft, user_id: int | None, settings: Settings
) -> Campaign:
    """A new draft campaign, every field checked; its random draws get a seed of their own."""
    fields = checked(draft, settings)
    _name_free(session, fields["name"])
    campaign = Campaign(
        **fields, status=CampaignStatus.draft, seed=secrets.token_hex(16), created_by_id=user_id
    )
    session.add(campaign)
    _flush_named(session, fields["name"])
    return campaign


def update_campaign(
    session: Session, *, campaign_id: int, draft: CampaignDraft, user_id: int | None, settings: Settings
) -> Campaign:
    """Replace a draft's fields (the seed stays). A launched campaign cannot change: its members
    were assigned under these rules."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status != CampaignStatus.draft:
        raise CampaignError("status", "the campaign is launched; it can no longer be changed")
    fields = checked(draft, settings)
    _name_free(session, fields["name"], but=campaign.id)
    for key, value in fields.items():
        setattr(campaign, key, value)
    _flush_named(session, fields["name"])
    return campaign


def get_campaign(session: Session, campaign_id_or_name: int | str) -> Campaign:
    """By id (a number, or digits) or by exact name."""
    ref = campaign_id_or_name
    found: Campaign | None = None
    campaign_id = id_from_text(ref) if isinstance(ref, str) else ref if 0 < ref <= MAX_ID else None
    if campaign_id is not None:
        found = session.get(Campaign, campaign_id)
    if found is None and isinstance(ref, str):
        found = session.scalars(select(Campaign).where(Campaign.name == ref.strip())).one_or_none()
    if found is None:
        raise CampaignNotFound(f"no campaign {ref!r}")
    return found


def list_campaigns(session: Session) -> list[Campaign]:
    """Newest send day first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.send_on.desc(), Campaign.id.desc())))


def preview(session: Session, *, campaign_id: int, settings: Settings, samples: int = 5) -> Preview:
    """What launching now would do: counts by group, reason, channel and segment, sample drafts with
    their sincerity check, and warnings in words. Reads only; a launched campaign has ``status``."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status != CampaignStatus.draft:
        raise CampaignError("status", "the campaign is launched; its status shows who was thanked")
    currency = settings.business.currency
    audience = parse_audience(campaign.audience, currency=currency)
    found = gather(session, campaign=campaign, audience=audience, settings=settings)
    assigned = rules.assign(
        found.people,
        choice=choice_of(campaign),
        policy=settings.planner.policy,
        used_capacity=found.used_capacity,
    )
    thanked = [a for a in assigned if a.group == "thanked"]
    drafted = _sample_drafts(session, campaign, pick_samples(thanked, samples), found.moment, settings)
    excluded = rules.count_by((a.reason for a in assigned if a.group == "excluded"), rules.EXCLUSION_REASONS)
    by_channel = rules.count_by((a.channel for a in thanked), tuple(campaign.channels))
    by_segment: dict[str, int] = {}
    for a in thanked:
        by_segment[a.segment] = by_segment.get(a.segment, 0) + 1
    holdout = sum(1 for a in assigned if a.group == "holdout")
    to_review = _expected_reviews(campaign, thanked)
    return Preview(
        campaign_id=campaign.id,
        audience_size=len(assigned),
        eligible=len(thanked) + holdout,
        holdout=holdout,
        excluded=excluded,
        by_channel=by_channel,
        by_segment=dict(sorted(by_segment.items(), key=lambda kv: (-kv[1], kv[0]))),
        samples=drafted,
        in_other_campaigns=found.in_other_campaigns,
        notes=preview_notes(
            campaign,
            thanked=thanked,
            holdout=holdout,
            excluded=excluded,
            by_channel=by_channel,
            to_review=to_review,
            samples=drafted,
            settings=settings,
            today=utcnow().astimezone(settings.business.tz).date(),
        ),
        thanked=len(thanked),
        to_review=to_review,
        staff_time={ch: by_channel.get(ch, 0) for ch in rules.STAFF_CHANNELS if ch in campaign.channels},
        audience_words=describe(audience, currency=currency),
    )


def _expected_reviews(campaign: Campaign, thanked: Sequence[rules.Assigned]) -> int:
    """Notes that will wait for a person (under "sample", before counting drafts that fail the check)."""
    if campaign.review_rule != ReviewRule.sample:
        return len(thanked)
    return sum(
        1 for a in thanked if rules.in_review_sample(campaign.seed, a.person_id, campaign.review_percent)
    )


def _sample_drafts(
    session: Session,
    campaign: Campaign,
    chosen: Sequence[rules.Assigned],
    moment: Moment,
    settings: Settings,
) -> list[SampleDraft]:
    if not chosen:
        return []
    sending = in_turn(session, [(a.person_id, a.channel) for a in chosen])
    found = recipients(session, sending, moment=moment, settings=settings)
    own = own_templates(campaign.templates, campaign_id=campaign.id)
    built_in = templates_for(settings)
    samples: list[SampleDraft] = []
    for a in chosen:
        recipient = found.get(a.person_id)
        if recipient is None:
            continue
        note: Drafted = draft_for(
            recipient, segment=a.segment, own=own, built_in=built_in, campaign_id=campaign.id
        )
        samples.append(
            SampleDraft(
                person_id=a.person_id,
                first_name=recipient.context.first_name,
                segment=a.segment,
                channel=recipient.context.channel,
                subject=note.draft.subject,
                body=note.draft.body,
                score=note.check.score,
                ok=note.check.ok,
                problems=[problem_dict(p) for p in note.check.problems],
                template=note.source,
            )
        )
    return samples


def _name_free(session: Session, name: str, *, but: int | None = None) -> None:
    query = select(Campaign.id).where(func.lower(Campaign.name) == name.lower())
    if but is not None:
        query = query.where(Campaign.id != but)
    if session.scalar(query) is not None:
        raise CampaignError("name", f"a campaign named {name!r} already exists; choose another name")


def _flush_named(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:  # the same name created at the same moment by someone else
        raise CampaignError(
            "name", f"a campaign named {name!r} already exists; choose another name"
        ) from None
