"""The preview's words: which sample drafts to show, and what the numbers mean for the team. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from goodwill.campaigns.drafting import DEFAULT_TEMPLATE
from goodwill.campaigns.model import Campaign, ReviewRule
from goodwill.campaigns.reports import SampleDraft
from goodwill.campaigns.rules import Assigned
from goodwill.config import Settings
from goodwill.insights.rfm import segment_label

_STAFF_WORK = {"card": ("handwritten card", "to write and post"), "call": ("phone call", "to make")}
# What each exclusion means, after "N left out: ".
REASON_WORDS = {
    "erased": "erased at their request",
    "other_campaign": "in another campaign within the cap window",
    "already_planned": "already in the daily plan on the send day",
    "held_out_daily": "held out of a daily plan within the cap window (kept apart for measuring)",
    "no_consent": "no consent for any of the campaign's channels",
    "no_address": "no address for the channels they consented to",
    "cap": "thanked, or planned to be, too recently (the contact cap across all channels)",
    "cooldown": "heard from us within the cooldown",
    "capacity": "reachable only by card or call, and the team's capacity that day is used up",
}


def pick_samples(thanked: Sequence[Assigned], n: int) -> list[Assigned]:
    """Up to ``n`` people, one segment after another (highest priority first in each), so the
    samples show as many of the campaign's templates as they can."""
    if n <= 0:
        return []
    by_segment: dict[str, list[Assigned]] = {}
    for person in sorted(thanked, key=lambda a: (-a.priority, a.person_id)):
        by_segment.setdefault(person.segment, []).append(person)
    queues = sorted(by_segment.values(), key=lambda q: (-len(q), q[0].segment))
    chosen: list[Assigned] = []
    depth = 0
    while len(chosen) < n and any(depth < len(q) for q in queues):
        chosen.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return chosen[:n]


def preview_notes(
    campaign: Campaign,
    *,
    thanked: Sequence[Assigned],
    holdout: int,
    excluded: Mapping[str, int],
    by_channel: Mapping[str, int],
    to_review: int,
    samples: Sequence[SampleDraft],
    settings: Settings,
    today: date,
) -> list[str]:
    notes: list[str] = []
    if campaign.send_on < today:
        notes.append(f"The send day ({campaign.send_on}) has passed: choose a new day before launching.")
    if not thanked and not holdout and not any(excluded.values()):
        return ["Nobody matches this audience: widen it, or check the insights are scored."]
    for channel, (what, action) in _STAFF_WORK.items():
        count = by_channel.get(channel, 0)
        if count:
            notes.append(f"{_people(count, what)} {action}: staff time on the send day.")
    if campaign.review_rule == ReviewRule.sample:
        notes.append(
            f"{_people(to_review, 'note')} ({campaign.review_percent}% at random) "
            f"{'waits' if to_review == 1 else 'wait'} for review; the others are approved at launch when "
            "they pass the sincerity check, else they wait too."
        )
    elif thanked:
        notes.append(f"All {_people(len(thanked), 'note')} wait for review before anything is sent.")
    if holdout:
        notes.append(
            f"{_people(holdout, 'person', 'people')} ({campaign.holdout_percent}% of the eligible) "
            f"{'is' if holdout == 1 else 'are'} held out at random and not contacted, so the campaign's "
            "impact can be measured."
        )
    missing = _without_template(campaign, thanked)
    if missing:
        segments = ", ".join(segment_label(s) for s in sorted(missing))
        fallback = (
            "the campaign's default template" if DEFAULT_TEMPLATE in campaign.templates else "a built-in one"
        )
        without = sum(missing.values())
        notes.append(
            f"{_people(without, 'person', 'people')} {_have(without)} no template for their segment "
            f"({segments}): {fallback} is used."
        )
    for reason, count in excluded.items():
        if count:
            notes.append(f"{count:,} left out: {REASON_WORDS.get(reason, reason)}.")
    failing = [s for s in samples if not s.ok]
    if failing:
        notes.append(
            f"{len(failing)} of the {len(samples)} sample drafts do not pass the sincerity check: "
            "look at their problems and improve the template."
        )
    if any(by_channel.get(ch, 0) for ch in _STAFF_WORK) or excluded.get("capacity"):
        cap = settings.planner.policy.capacity
        notes.append(
            f"The team's daily capacity caps cards at {cap.get('card', 0)} and calls at "
            f"{cap.get('call', 0)}, the daily plan's included."
        )
    return notes


def _without_template(campaign: Campaign, thanked: Sequence[Assigned]) -> dict[str, int]:
    missing: dict[str, int] = {}
    for person in thanked:
        if person.segment not in campaign.templates:
            missing[person.segment] = missing.get(person.segment, 0) + 1
    return missing


def _have(n: int) -> str:
    return "has" if n == 1 else "have"


def _people(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"
