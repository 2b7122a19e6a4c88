"""A campaign as a manager writes it (``CampaignDraft``), checked field by field. Pure (no I/O).

Every problem is a ``CampaignError`` naming the field ("send_on", "audience.min_spend",
"templates.champions"), so forms, the API (422) and the CLI can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from goodwill.campaigns.audience import audience_json, parse_audience
from goodwill.campaigns.drafting import check_templates
from goodwill.campaigns.errors import CampaignError
from goodwill.campaigns.model import ReviewRule
from goodwill.campaigns.rules import windows_overlap
from goodwill.config import Settings
from goodwill.planner.config import CHANNELS

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_HOLDOUT = 50  # the daily plan's holdout share stops at half too


@dataclass(frozen=True)
class CampaignDraft:
    name: str
    send_on: date
    audience: dict[str, Any]
    templates: dict[str, str]
    description: str = ""
    channels: tuple[str, ...] = ("email", "sms", "card", "call")
    window_from_hour: int = 10
    window_until_hour: int = 18
    review_rule: str = "all"
    review_percent: int = 100
    holdout_percent: int = 10


def checked(draft: CampaignDraft, settings: Settings) -> dict[str, Any]:
    """The Campaign columns for ``draft``, or ``CampaignError`` at the first problem."""
    name = draft.name.strip() if isinstance(draft.name, str) else ""
    if not name:
        raise CampaignError("name", "give the campaign a name")
    if len(name) > MAX_NAME:
        raise CampaignError("name", f"is {len(name)} characters; {MAX_NAME} at most")
    if name.isdigit():
        # Campaigns are found by id or by name: a name of digits would be read as an id.
        raise CampaignError("name", "must contain a letter (a name of digits would read as an id)")
    description = (draft.description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise CampaignError("description", f"is {len(description):,} characters; {MAX_DESCRIPTION:,} at most")
    if isinstance(draft.send_on, datetime) or not isinstance(draft.send_on, date):
        raise CampaignError("send_on", "must be a day (YYYY-MM-DD)")
    if not date(2000, 1, 1) <= draft.send_on <= date(2999, 12, 31):
        raise CampaignError("send_on", "must be a day between 2000 and 2999")
    channels = _channels(draft.channels)
    start = _whole(draft.window_from_hour, "window_from_hour", 0, 23)
    until = _whole(draft.window_until_hour, "window_until_hour", 1, 24)
    if start >= until:
        raise CampaignError("window_until_hour", f"must be after the window's start ({start}:00)")
    policy = settings.planner.policy
    if {"sms", "call"} & set(channels) and not windows_overlap(start, until, policy):
        raise CampaignError(
            "window_from_hour",
            f"SMS and calls may only go between {policy.contact_from_hour}:00 and "
            f"{policy.contact_until_hour}:00 (the contact policy's quiet hours); "
            "this window has no hour in common with them",
        )
    if draft.review_rule not in tuple(ReviewRule):
        raise CampaignError(
            "review_rule", f"must be one of {', '.join(ReviewRule)}, not {draft.review_rule!r}"
        )
    review_percent = _whole(draft.review_percent, "review_percent", 0, 100)
    holdout = _whole(draft.holdout_percent, "holdout_percent", 0, MAX_HOLDOUT)
    currency = settings.business.currency
    tiers = [tier.name for tier in settings.loyalty.tiers]
    audience = parse_audience(draft.audience, currency=currency, tiers=tiers)
    templates = check_templates(draft.templates or {}, channels)
    return {
        "name": name,
        "description": description,
        "send_on": draft.send_on,
        "audience": audience_json(audience, currency=currency),
        "channels": list(channels),
        "templates": templates,
        "window_from_hour": start,
        "window_until_hour": until,
        "review_rule": draft.review_rule,
        "review_percent": review_percent if draft.review_rule == ReviewRule.sample else 100,
        "holdout_percent": holdout,
    }


def _channels(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise CampaignError("channels", f"list at least one of {', '.join(CHANNELS)}")
    for channel in value:
        if channel not in CHANNELS:
            raise CampaignError("channels", f"unknown channel {channel!r}; use {', '.join(CHANNELS)}")
    if len(set(value)) != len(value):
        raise CampaignError("channels", "a channel is listed twice")
    return tuple(value)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CampaignError(name, f"must be a whole number from {low} to {high}, not {value!r}")
    return value
