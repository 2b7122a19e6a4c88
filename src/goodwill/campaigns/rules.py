"""Who in a campaign's audience is thanked, held out or excluded, and why. Pure (no I/O).

Each person goes through these steps; an excluded person counts under the first reason only:

1. **Stored state** (gathered by ``campaigns.gather``): ``erased``; ``other_campaign`` (thanked or
   held out by another launched campaign whose send day is within ``cap_window_days`` of this
   one's: nobody is in two campaigns in one cap window, and another campaign's holdout stays
   untouched); ``already_planned`` (a daily plan item on the send day); ``held_out_daily`` (held
   out of a daily plan in the ``cap_window_days`` up to the send day, as the daily planner keeps them).
2. **Consent**: the campaign's channels they consented to; none: ``no_consent``.
3. **Address**: of those, the ones we can reach (an email address, a phone number, a postal
   address for a card); none: ``no_address``.
4. **The contact policy** (``planner.policy.plan_day`` on the send day, with the campaign's
   channels as the channel order): ``cap`` (planned and sent appreciations, every channel),
   ``cooldown``, and ``capacity``. Only cards and calls are limited by the team's daily capacity
   (what the daily plan already uses that day is taken off): they are staff time. Email and SMS
   are not capped by the team's capacity in a campaign: review is the work there, and the preview
   counts it.
5. **Holdout**: among everyone left (the eligible), blake2b("{seed}:{person_id}") read as a fraction
   of 2^64 below ``holdout_percent`` / 100 holds them out: recorded, never contacted. The seed is
   the campaign's own, so a repeated draw gives the same people.
6. **Thanked**: the channel the policy chose, and the send window: the campaign's hours on the send
   day in the person's time zone (for SMS and calls, within the contact policy's quiet hours too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from goodwill.planner.config import CHANNELS, PolicyConfig
from goodwill.planner.domain import Candidate
from goodwill.planner.policy import contact_window, plan_day, zone_for

# Stable strings, stored on members and shown in previews, in the order they are checked.
EXCLUSION_REASONS = (
    "erased",
    "other_campaign",
    "already_planned",
    "held_out_daily",
    "no_consent",
    "no_address",
    "cap",
    "cooldown",
    "capacity",
)
STAFF_CHANNELS = ("card", "call")  # a person writes or calls: the team's time
_WINDOWED = ("sms", "call")


@dataclass(frozen=True)
class Settings:
    """The campaign's own choices that decide who is thanked and when."""

    seed: str
    send_on: date
    channels: tuple[str, ...]
    window_from_hour: int
    window_until_hour: int
    holdout_percent: int


@dataclass(frozen=True)
class Person:
    """One person of the audience, as gathered: the candidate the policy needs, or why not."""

    candidate: Candidate
    segment: str
    blocked: str | None = None  # erased, other_campaign, already_planned, held_out_daily
    reachable: frozenset[str] = frozenset()  # channels we have an address for


@dataclass(frozen=True)
class Assigned:
    person_id: int
    group: str  # thanked | holdout | excluded (campaigns.model.MemberGroup)
    segment: str
    reason: str | None = None  # why excluded
    channel: str | None = None  # thanked and held-out people: the channel the policy chose
    priority: int = 0
    why: str = ""  # the policy's reason for the channel and rank, for the plan item
    window_start: datetime | None = None
    window_end: datetime | None = None


def fraction(seed: str, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "big")


def threshold(percent: int) -> int:
    return (percent * (1 << 64) + 99) // 100  # ceil(percent / 100 * 2^64), exactly


def in_holdout(seed: str, person_id: int, percent: int) -> bool:
    return fraction(seed, str(person_id)) < threshold(percent)


def in_review_sample(seed: str, person_id: int, percent: int) -> bool:
    """The "sample" review rule: this person's note waits for a person (a draw apart from the holdout's)."""
    return fraction(seed, f"review:{person_id}") < threshold(percent)


def send_window(
    choice: Settings, channel: str, time_zone: str, policy: PolicyConfig
) -> tuple[datetime, datetime]:
    """The campaign's hours on the send day in the person's zone; SMS and calls within quiet hours."""
    start, until = choice.window_from_hour, choice.window_until_hour
    if channel in _WINDOWED:
        start, until = max(start, policy.contact_from_hour), min(until, policy.contact_until_hour)
    return contact_window(choice.send_on, zone_for(time_zone), start, until)


def windows_overlap(from_hour: int, until_hour: int, policy: PolicyConfig) -> bool:
    return max(from_hour, policy.contact_from_hour) < min(until_hour, policy.contact_until_hour)


def campaign_policy(policy: PolicyConfig, choice: Settings, *, people: int) -> PolicyConfig:
    """The daily contact policy with the campaign's channels first and its own holdout (drawn after)."""
    capacity = {ch: (policy.capacity.get(ch, 0) if ch in STAFF_CHANNELS else people + 1) for ch in CHANNELS}
    return policy.model_copy(
        update={"channel_order": choice.channels, "holdout_share": Decimal(0), "capacity": capacity}
    )


def assign(
    people: Sequence[Person],
    *,
    choice: Settings,
    policy: PolicyConfig,
    used_capacity: Mapping[str, int],
) -> list[Assigned]:
    """Everyone's group, in person id order (see the module docstring for the steps)."""
    channels = frozenset(choice.channels)
    out: dict[int, Assigned] = {}
    segments: dict[int, str] = {}
    candidates: list[Candidate] = []
    for person in people:
        pid = person.candidate.person_id
        segments[pid] = person.segment
        consented = person.candidate.consents & channels
        why = person.blocked
        if why is None and not consented:
            why = "no_consent"
        if why is None and not consented & person.reachable:
            why = "no_address"
        if why is not None:
            out[pid] = Assigned(pid, "excluded", person.segment, reason=why)
            continue
        # Channels outside the campaign stay in: the policy then says "we are not using SMS", not
        # "has not consented to SMS", when someone who prefers SMS is reached by email instead.
        candidates.append(replace(person.candidate, consents=person.candidate.consents & person.reachable))
    config = campaign_policy(policy, choice, people=len(candidates))
    used = {ch: used_capacity.get(ch, 0) for ch in STAFF_CHANNELS}
    plan = plan_day(
        candidates, day=choice.send_on, config=config, used_capacity=used, enabled_channels=channels
    )
    for pid, skip in plan.skipped_people:
        out[pid] = Assigned(pid, "excluded", segments[pid], reason=skip.value)
    zones = {c.person_id: c.time_zone for c in candidates}
    windows: dict[tuple[str, str], tuple[datetime, datetime]] = {}  # (channel, zone): a few distinct
    for item in plan.items:
        pid = item.person_id
        group = "holdout" if in_holdout(choice.seed, pid, choice.holdout_percent) else "thanked"
        start = end = None
        if group == "thanked":
            key = (item.channel, zones[pid])
            if key not in windows:
                windows[key] = send_window(choice, item.channel, zones[pid], policy)
            start, end = windows[key]
        out[pid] = Assigned(
            pid, group, segments[pid], channel=item.channel, priority=item.priority, why=item.reason,
            window_start=start, window_end=end,
        )  # fmt: skip
    return [out[pid] for pid in sorted(out)]


def count_by(values: Iterable[str | None], keys: Sequence[str]) -> dict[str, int]:
    """Counts for every key (zeros kept, so reports always show the same rows), in ``keys`` order."""
    counts = dict.fromkeys(keys, 0)
    for value in values:
        if value is not None:
            counts[value] = counts.get(value, 0) + 1
    return counts
