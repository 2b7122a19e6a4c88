"""The contact policy, as one pure function: who among today's candidates is thanked, how, and when.

``plan_day`` takes each candidate (one moment each, already their strongest) through these steps;
a person skipped counts under the first reason only, in this order:

1. **Consent.** Allowed channels are the channels they consented to, that are enabled and listed in
   ``channel_order``; a call they asked for is allowed without other consent. None: ``no_consent``.
2. **Cap.** One cap across all channels: in every window of ``cap_window_days`` consecutive days
   that contains the plan day, their appreciations (sent or already planned, past or future) plus
   this one must be at most ``cap_per_window``; likewise ``cap_per_year`` in every 365 days.
   Otherwise: ``cap``.
3. **Cooldown.** No appreciation when any contact from us falls within ``cooldown_days`` days of the
   plan day, either side (a contact already scheduled after it counts too); 0 turns it off.
   Otherwise: ``cooldown``.
4. **Holdout.** Eligible people are held out when blake2b("{holdout_seed}:{day}:{person_id}"), read
   as a fraction of 2^64, is below ``holdout_share``: random, yet the same on every re-run.
   Held people are recorded with their moment and never contacted.
5. **Priority**, an integer 0..100, rounded half up and clamped:
   ``0.45 x strength + 0.25 x value_score + status bonus + time since last thanked``, where the
   status bonus is 20 when overdrawn, 10 on watch, else 0, and time since last thanked is 10 when
   never thanked, else min(10, days / 36.5) (full after a year). Sorted by priority, highest first,
   then by person id.
6. **Channel**, in priority order so the most deserving get the team's time first: recovery
   (a manager's outreach) tries call, then card, then their preferred channel; everyone else their
   preferred channel; then ``channel_order``. The first allowed channel with capacity left today
   (``capacity[ch]`` minus ``used_capacity[ch]``) wins; none: ``capacity``.
7. **Quiet hours.** SMS and calls carry the window the person may be contacted on the plan day:
   ``contact_from_hour`` to ``contact_until_hour`` in their time zone, as aware UTC datetimes.

Days are the person's calendar days: an appreciation or contact (stored in UTC) falls on the day
it was in their time zone, and the plan day is a day on their calendar. An unknown time zone falls
back to UTC. Near daylight-saving changes the window is exactly the local contact hours: an hour
the clocks skip is read as the moment they jump, a repeated hour as its first occurrence.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from goodwill.planner.config import CHANNELS, PolicyConfig
from goodwill.planner.domain import Candidate, Held, Plan, PlanItem, SkipReason

STATUS_BONUS = {"overdrawn": 20, "watch": 10}
_WINDOWED = frozenset({"sms", "call"})
_NAMES = {"email": "email", "sms": "SMS", "card": "card", "call": "call"}
_YEAR_DAYS = 365
# Priority in exact integers (one point is 36_500 units: 0.45 x strength is 16_425 x strength,
# days / 36.5 is 1_000 x days) so that a half always rounds up; float sums like 0.45 x 10 can land
# a hair either side of .5.
_UNIT = 36_500


class _Ranked(NamedTuple):
    candidate: Candidate
    priority: int
    allowed: frozenset[str]
    days_since_thanked: int | None


def plan_day(
    candidates: Sequence[Candidate],
    *,
    day: date,
    config: PolicyConfig,
    used_capacity: Mapping[str, int] | None = None,
    enabled_channels: Collection[str] = CHANNELS,
) -> Plan:
    """The plan for ``day``: items by priority, the holdout, and who was skipped and why."""
    skipped: dict[int, SkipReason] = {}
    held: list[Held] = []
    ranked = _screen(candidates, day, config, frozenset(enabled_channels), skipped, held)
    ranked.sort(key=lambda r: (-r.priority, r.candidate.person_id))

    used = used_capacity or {}
    left = {ch: config.capacity.get(ch, 0) - used.get(ch, 0) for ch in CHANNELS}
    windows: dict[str, tuple[datetime, datetime]] = {}
    items: list[PlanItem] = []
    for entry in ranked:
        candidate = entry.candidate
        order = _preference(candidate.preferred_channel, candidate.moment.by_manager, config.channel_order)
        channel = _first_open(order, entry.allowed, left)
        if channel is None:
            skipped[candidate.person_id] = SkipReason.capacity
            continue
        left[channel] -= 1
        start = end = None
        if channel in _WINDOWED:
            if candidate.time_zone not in windows:
                windows[candidate.time_zone] = contact_window(
                    day, zone_for(candidate.time_zone), config.contact_from_hour, config.contact_until_hour
                )
            start, end = windows[candidate.time_zone]
        reason = f"{_channel_reason(candidate, channel, order, entry.allowed)}; {_rank_reason(entry)}"
        items.append(
            PlanItem(candidate.person_id, candidate.moment, channel, entry.priority, reason, start, end)
        )

    counts = dict.fromkeys((r.value for r in SkipReason), 0)
    for why in skipped.values():
        counts[why.value] += 1
    return Plan(
        day=day,
        items=tuple(items),
        holdout=tuple(sorted(held, key=lambda h: h.person_id)),
        skipped=counts,
        skipped_people=tuple(sorted(skipped.items())),
    )


def _screen(
    candidates: Sequence[Candidate],
    day: date,
    config: PolicyConfig,
    enabled: frozenset[str],
    skipped: dict[int, SkipReason],
    held: list[Held],
) -> list[_Ranked]:
    """Steps 1 to 5: records who is skipped or held out; returns the rest with their priority."""
    usable = enabled & frozenset(config.channel_order)
    threshold = math.ceil(config.holdout_share * (1 << 64))
    # The seed and day are hashed once; each person only adds their id to a copy.
    draw = hashlib.blake2b(f"{config.holdout_seed}:{day.isoformat()}:".encode(), digest_size=8)
    plan_ordinal = day.toordinal()
    window, per_window, per_year = config.cap_window_days, config.cap_per_window, config.cap_per_year
    ranked: list[_Ranked] = []
    seen: set[int] = set()
    for candidate in candidates:
        person = candidate.person_id
        if person in seen:
            raise ValueError(f"person {person} is a candidate twice; give one moment each")
        seen.add(person)
        allowed = candidate.consents & usable
        if candidate.call_requested and "call" in usable:
            allowed |= {"call"}
        if not allowed:
            skipped[person] = SkipReason.no_consent
            continue
        zone = zone_for(candidate.time_zone)
        offsets = [
            (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone).toordinal() - plan_ordinal
            for at in candidate.appreciations
        ]
        offsets.sort()
        if offsets and (breaks_cap(offsets, window, per_window) or breaks_cap(offsets, _YEAR_DAYS, per_year)):
            skipped[person] = SkipReason.cap
            continue
        if in_cooldown(candidate.last_contact_at, zone, day, config.cooldown_days):
            skipped[person] = SkipReason.cooldown
            continue
        hasher = draw.copy()
        hasher.update(str(person).encode())
        if int.from_bytes(hasher.digest(), "big") < threshold:
            held.append(Held(person, candidate.moment))
            continue
        past = [-k for k in offsets if k <= 0]
        since = min(past) if past else None
        ranked.append(_Ranked(candidate, priority_of(candidate, since), allowed, since))
    return ranked


def _first_open(order: tuple[str, ...], allowed: frozenset[str], left: dict[str, int]) -> str | None:
    for channel in order:
        if channel in allowed and left[channel] > 0:
            return channel
    return None


@lru_cache(maxsize=1024)
def zone_for(name: str) -> tzinfo:
    """The person's time zone; UTC when the name is unknown, so a typo never blocks a plan."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def local_day(at: datetime, zone: tzinfo) -> date:
    """The day ``at`` fell on in ``zone``; naive datetimes are UTC, as everything stored is."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).date()


def breaks_cap(offsets: Sequence[int], window: int, cap: int) -> bool:
    """Whether one more appreciation on day 0 breaks ``cap`` in some ``window``-day span containing it.

    ``offsets`` are the other appreciations' days relative to the plan day, sorted. The fullest span
    starts on one of their days (or on day 0), so only those starts are counted.
    """
    lo, hi = bisect_left(offsets, -(window - 1)), bisect_right(offsets, window - 1)
    if hi - lo < cap:
        return False
    for first in {*(k for k in offsets[lo:hi] if k <= 0), 0}:
        if bisect_right(offsets, first + window - 1) - bisect_left(offsets, first) >= cap:
            return True
    return False


def in_cooldown(last_contact_at: datetime | None, zone: tzinfo, day: date, cooldown_days: int) -> bool:
    if last_contact_at is None or cooldown_days == 0:
        return False
    return abs((day - local_day(last_contact_at, zone)).days) < cooldown_days


def priority_of(candidate: Candidate, days_since_thanked: int | None) -> int:
    """The documented priority formula (step 5), in exact integer arithmetic."""
    recency = 10 * _UNIT if days_since_thanked is None else min(10 * _UNIT, 1_000 * days_since_thanked)
    units = (
        16_425 * candidate.moment.strength
        + 9_125 * candidate.value_score
        + _UNIT * STATUS_BONUS.get(candidate.bank_status or "", 0)
        + recency
    )
    return max(0, min(100, (units + _UNIT // 2) // _UNIT))


def contact_window(day: date, zone: tzinfo, from_hour: int, until_hour: int) -> tuple[datetime, datetime]:
    """``from_hour``..``until_hour`` on ``day`` in ``zone``, as aware UTC datetimes (end excluded)."""
    until = datetime.combine(day + timedelta(days=until_hour // 24), time(until_hour % 24), tzinfo=zone)
    return _first_instant_at(datetime.combine(day, time(from_hour), tzinfo=zone)), _first_instant_at(until)


def _first_instant_at(local: datetime) -> datetime:
    """The first instant, in UTC, when the clock in ``local``'s zone shows ``local`` or later.

    A repeated time (clocks going back) gives its first occurrence; a time skipped by clocks
    going forward gives the jump itself, found to the second (zones do not jump at whole hours
    everywhere: Chatham jumps at 02:45).
    """
    first = local.astimezone(UTC)  # fold=0: the earlier reading of a repeated time
    other = local.replace(fold=1).astimezone(UTC)
    if first <= other:
        return first
    # Skipped: read with the offset after the jump (``other``) it falls before the jump, read with
    # the offset before it (``first``) after; the jump lies between, so bisect for it.
    zone, after = local.tzinfo, first.astimezone(local.tzinfo).utcoffset()
    low, high = int(other.timestamp()), int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def is_held_out(config: PolicyConfig, day: date, person_id: int) -> bool:
    return _holdout_draw(config.holdout_seed, day, person_id) < math.ceil(config.holdout_share * (1 << 64))


def _holdout_draw(seed: str, day: date, person_id: int) -> int:
    key = f"{seed}:{day.isoformat()}:{person_id}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


@lru_cache(maxsize=256)
def _preference(preferred: str | None, by_manager: bool, channel_order: tuple[str, ...]) -> tuple[str, ...]:
    first = ("call", "card", preferred) if by_manager else (preferred,)
    return tuple(dict.fromkeys(ch for ch in (*first, *channel_order) if ch in CHANNELS))


def _channel_reason(
    candidate: Candidate, channel: str, order: tuple[str, ...], allowed: frozenset[str]
) -> str:
    """Why this channel, in plain words, against the one we would have liked best."""
    name = _NAMES[channel]
    asked = "; they asked us to call" if channel == "call" and "call" not in candidate.consents else ""
    if not candidate.moment.by_manager and candidate.preferred_channel not in CHANNELS:
        # Without a preference the channels they do not allow are no news; only a full list is.
        wanted = next(ch for ch in order if ch in allowed)
        if channel == wanted:
            return f"no preferred channel; {name} first in our order{asked}"
        return f"no preferred channel; the {_NAMES[wanted]} list is full today; {name} instead{asked}"
    wanted = order[0]
    if channel == wanted:
        if candidate.moment.by_manager:
            return "recovery: a manager's call" + asked
        return f"prefers {name}{asked}"
    wanted_name = _NAMES[wanted]
    if wanted in allowed:
        why = f"the {wanted_name} list is full today"
    elif wanted not in candidate.consents and not (wanted == "call" and candidate.call_requested):
        why = f"has not consented to {'calls' if wanted == 'call' else wanted_name}"
    else:
        why = f"we are not using {'calls' if wanted == 'call' else wanted_name}"
    if candidate.moment.by_manager:
        return f"recovery: a manager's call, but {why}; {name} instead{asked}"
    return f"prefers {wanted_name} but {why}; {name} instead{asked}"


def _rank_reason(entry: _Ranked) -> str:
    candidate, since = entry.candidate, entry.days_since_thanked
    parts = [f"moment {candidate.moment.strength}", f"value {candidate.value_score}"]
    if candidate.bank_status in STATUS_BONUS:
        parts.append("overdrawn" if candidate.bank_status == "overdrawn" else "on watch")
    if since is None:
        parts.append("never thanked before")
    else:
        parts.append("last thanked today" if since == 0 else f"last thanked {since} days ago")
    return f"priority {entry.priority} ({', '.join(parts)})"
