"""The contact policy: each step by example, then properties no plan may ever break (hypothesis)."""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goodwill.planner.config import CHANNELS, PolicyConfig
from goodwill.planner.domain import Candidate, Moment, MomentKind, Plan, PlanItem, SkipReason
from goodwill.planner.policy import breaks_cap, contact_window, is_held_out, plan_day, priority_of

DAY = date(2026, 11, 23)
NOON = datetime.combine(DAY, time(12), tzinfo=UTC)


def moment(kind: MomentKind = MomentKind.nth_order, strength: int = 50) -> Moment:
    return Moment(kind, strength, "5th order on 2026-11-20", by_manager=kind == MomentKind.recovery)


def cand(
    person_id: int = 1,
    *,
    kind: MomentKind = MomentKind.nth_order,
    strength: int = 50,
    value: int = 50,
    status: str | None = None,
    preferred: str | None = "email",
    consents: Collection[str] = ("email",),
    call_requested: bool = False,
    tz: str = "UTC",
    appreciations: Sequence[datetime] = (),
    last_contact_at: datetime | None = None,
) -> Candidate:
    return Candidate(
        person_id=person_id,
        moment=moment(kind, strength),
        value_score=value,
        bank_status=status,
        preferred_channel=preferred,
        consents=frozenset(consents),
        call_requested=call_requested,
        time_zone=tz,
        appreciations=tuple(appreciations),
        last_contact_at=last_contact_at,
    )


def plan(candidates: Sequence[Candidate], *, used: Mapping[str, int] | None = None, **config: Any) -> Plan:
    config.setdefault("holdout_share", Decimal(0))
    enabled = config.pop("enabled", CHANNELS)
    return plan_day(
        candidates, day=DAY, config=PolicyConfig(**config), used_capacity=used, enabled_channels=enabled
    )


def one(candidate: Candidate, **config: Any) -> PlanItem | SkipReason | str:
    """What became of a single candidate: their item, why they were skipped, or "held"."""
    result = plan([candidate], **config)
    if result.items:
        return result.items[0]
    if result.holdout:
        return "held"
    return result.skipped_people[0][1]


def item(candidate: Candidate, **config: Any) -> PlanItem:
    result = one(candidate, **config)
    assert isinstance(result, PlanItem), result
    return result


def days_ago(n: int, hour: int = 12) -> datetime:
    return datetime.combine(DAY - timedelta(days=n), time(hour), tzinfo=UTC)


# 1. consent


def test_no_consent_at_all() -> None:
    assert one(cand(consents=())) == SkipReason.no_consent


def test_consent_to_a_channel_we_do_not_use_is_no_consent() -> None:
    assert one(cand(consents=("sms",)), enabled=("email", "card")) == SkipReason.no_consent
    assert one(cand(consents=("sms",)), channel_order=("email", "card")) == SkipReason.no_consent


def test_a_call_they_asked_for_needs_no_other_consent() -> None:
    planned = item(cand(consents=(), preferred=None, call_requested=True))
    assert planned.channel == "call"
    assert "they asked us to call" in planned.reason
    assert one(cand(consents=(), call_requested=True), enabled=("email",)) == SkipReason.no_consent


# 2. cap


@pytest.mark.parametrize(("ago", "capped"), [(10, True), (29, True), (30, False), (-29, True), (-30, False)])
def test_one_appreciation_per_30_days_either_side(ago: int, capped: bool) -> None:
    result = one(cand(appreciations=[days_ago(ago)]))
    assert (result == SkipReason.cap) is capped


def test_cap_counts_days_in_the_persons_time_zone() -> None:
    # 02:00 UTC on 25 October is still 24 October in New York: 30 days before the plan day.
    sent = datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert one(cand(tz="UTC", appreciations=[sent])) == SkipReason.cap
    assert isinstance(one(cand(tz="America/New_York", appreciations=[sent])), PlanItem)


def test_a_naive_appreciation_is_read_as_utc() -> None:
    assert one(cand(appreciations=[datetime(2026, 11, 20, 9, 0)])) == SkipReason.cap


def test_more_per_window_when_configured() -> None:
    assert isinstance(one(cand(appreciations=[days_ago(3)]), cap_per_window=2), PlanItem)
    assert one(cand(appreciations=[days_ago(3), days_ago(-20)]), cap_per_window=2) == SkipReason.cap
    # The two are 49 days apart: no 30-day window holds both with the plan day.
    assert isinstance(one(cand(appreciations=[days_ago(25), days_ago(-24)]), cap_per_window=2), PlanItem)


@pytest.mark.parametrize(("ago", "capped"), [(364, True), (365, False), (-364, True), (-365, False)])
def test_one_appreciation_per_365_days(ago: int, capped: bool) -> None:
    result = one(cand(appreciations=[days_ago(ago)]), cap_per_year=1)
    assert (result == SkipReason.cap) is capped


def test_cap_per_year() -> None:
    history = [days_ago(100), days_ago(200), days_ago(300)]
    assert one(cand(appreciations=history), cap_per_year=3) == SkipReason.cap
    assert isinstance(one(cand(appreciations=history), cap_per_year=4), PlanItem)
    assert isinstance(one(cand(appreciations=[days_ago(365), *history[:2]]), cap_per_year=3), PlanItem)


def test_breaks_cap_finds_the_fullest_window() -> None:
    assert not breaks_cap([], 30, 1)
    assert breaks_cap([0], 1, 1)
    assert not breaks_cap([-1, 1], 1, 1)
    assert breaks_cap([-5, 5], 11, 2)
    assert not breaks_cap([-6, 5], 11, 2)


# 3. cooldown


@pytest.mark.parametrize(("ago", "cooling"), [(0, True), (6, True), (7, False), (40, False), (-3, True)])
def test_cooldown_after_any_contact(ago: int, cooling: bool) -> None:
    assert (one(cand(last_contact_at=days_ago(ago))) == SkipReason.cooldown) is cooling


def test_cooldown_counts_days_in_the_persons_time_zone() -> None:
    contact = datetime(2026, 11, 17, 3, 0, tzinfo=UTC)  # 16 November in Los Angeles: 7 days back
    assert one(cand(last_contact_at=contact)) == SkipReason.cooldown
    assert isinstance(one(cand(tz="America/Los_Angeles", last_contact_at=contact)), PlanItem)


def test_no_cooldown_when_turned_off() -> None:
    assert isinstance(one(cand(last_contact_at=NOON), cooldown_days=0), PlanItem)


def test_a_person_counts_under_the_first_reason_only() -> None:
    everything: dict[str, Any] = {"appreciations": [days_ago(1)], "last_contact_at": days_ago(1)}
    result = plan(
        [cand(1, consents=(), **everything), cand(2, **everything), cand(3, last_contact_at=days_ago(1))]
    )
    assert result.skipped_people == (
        (1, SkipReason.no_consent),
        (2, SkipReason.cap),
        (3, SkipReason.cooldown),
    )
    assert result.skipped == {"no_consent": 1, "cap": 1, "cooldown": 1, "capacity": 0}


# 4. holdout


def test_holdout_is_recorded_with_the_moment_and_never_contacted() -> None:
    people = [cand(i) for i in range(1, 201)]
    result = plan(people, holdout_share=Decimal("0.3"))
    held = {h.person_id for h in result.holdout}
    assert held == {
        c.person_id
        for c in people
        if is_held_out(PolicyConfig(holdout_share=Decimal("0.3")), DAY, c.person_id)
    }
    assert 30 < len(held) < 90
    assert not held & {i.person_id for i in result.items}
    assert all(h.moment == moment() for h in result.holdout)


def test_holdout_is_keyed_by_seed_day_and_person() -> None:
    config = PolicyConfig(holdout_share=Decimal("0.5"))
    digest = hashlib.blake2b(b"goodwill:2026-11-23:42", digest_size=8).digest()
    assert is_held_out(config, DAY, 42) == (int.from_bytes(digest, "big") / 2**64 < 0.5)
    today = [is_held_out(config, DAY, p) for p in range(200)]
    tomorrow = [is_held_out(config, DAY + timedelta(days=1), p) for p in range(200)]
    reseeded = [is_held_out(config.model_copy(update={"holdout_seed": "other"}), DAY, p) for p in range(200)]
    assert today != tomorrow
    assert today != reseeded


def test_no_holdout_at_zero_share() -> None:
    assert plan([cand(i) for i in range(500)]).holdout == ()


@pytest.mark.parametrize("share", ["0.05", "0.10", "0.25", "0.5"])
def test_holdout_share_over_many_people(share: str) -> None:
    n, p = 20_000, float(share)
    people = [cand(i, consents=CHANNELS) for i in range(1, n + 1)]
    result = plan(people, holdout_share=Decimal(share), capacity=dict.fromkeys(CHANNELS, 0))
    # The draw is a fixed hash, so this never flakes; 5 standard deviations is a wide margin.
    assert abs(len(result.holdout) - n * p) <= 5 * math.sqrt(n * p * (1 - p))


# 5. priority


@pytest.mark.parametrize(
    ("strength", "value", "status", "since", "expected"),
    [
        (80, 40, None, None, 56),  # 36 + 10 + 0 + 10 (never thanked)
        (80, 40, "overdrawn", None, 76),
        (80, 40, "watch", None, 66),
        (80, 40, "healthy", 73, 48),  # 36 + 10 + 0 + 2
        (80, 40, None, 400, 56),  # a year or more counts as never
        (10, 0, None, 0, 5),  # 4.5 rounds half up
        (0, 0, None, 18, 0),  # 18 / 36.5 = 0.49
        (0, 0, None, 19, 1),
        (0, 0, None, 182, 5),
        (0, 0, None, 365, 10),
        (100, 100, "overdrawn", None, 100),
        (0, 0, None, 0, 0),
    ],
)
def test_priority_formula(
    strength: int, value: int, status: str | None, since: int | None, expected: int
) -> None:
    assert priority_of(cand(strength=strength, value=value, status=status), since) == expected


def test_items_by_priority_then_person() -> None:
    people = [
        cand(5, strength=50),
        cand(3, strength=90),
        cand(4, strength=50),
        cand(1, strength=50, appreciations=[days_ago(73)]),
    ]
    result = plan(people)
    assert [(i.person_id, i.priority) for i in result.items] == [(3, 63), (4, 45), (5, 45), (1, 37)]
    assert result.items[0].reason.endswith("; priority 63 (moment 90, value 50, never thanked before)")
    assert result.items[3].reason.endswith("last thanked 73 days ago)")


# 6. channel


@pytest.mark.parametrize(
    ("candidate", "config", "channel", "reason"),
    [
        (cand(preferred="email", consents=CHANNELS), {}, "email", "prefers email"),
        (
            cand(preferred="sms", consents=("email", "card")),
            {},
            "email",
            "prefers SMS but has not consented to SMS; email instead",
        ),
        (
            cand(preferred="card", consents=("email", "card")),
            {"capacity": {"card": 0}},
            "email",
            "prefers card but the card list is full today; email instead",
        ),
        (
            cand(preferred="sms", consents=("email", "sms")),
            {"enabled": ("email", "card")},
            "email",
            "prefers SMS but we are not using SMS; email instead",
        ),
        (
            cand(preferred=None, consents=("card", "sms")),
            {},
            "card",
            "no preferred channel; card first in our order",
        ),
        (
            cand(preferred=None, consents=("email", "sms")),
            {"channel_order": ("sms", "email")},
            "sms",
            "no preferred channel; SMS first in our order",
        ),
        (
            cand(preferred=None, consents=("email", "sms")),
            {"capacity": {"email": 0}},
            "sms",
            "no preferred channel; the email list is full today; SMS instead",
        ),
        (
            cand(kind=MomentKind.recovery, preferred="email", consents=CHANNELS),
            {},
            "call",
            "recovery: a manager's call",
        ),
        (
            cand(kind=MomentKind.recovery, preferred="email", consents=("email", "card")),
            {},
            "card",
            "recovery: a manager's call, but has not consented to calls; card instead",
        ),
        (
            cand(kind=MomentKind.recovery, preferred="sms", consents=("email", "sms", "call")),
            {"capacity": {"call": 0}},
            "sms",
            "recovery: a manager's call, but the call list is full today; SMS instead",
        ),
    ],
)
def test_channel_and_reason(candidate: Candidate, config: dict[str, Any], channel: str, reason: str) -> None:
    planned = item(candidate, **config)
    assert planned.channel == channel
    assert planned.reason.split("; priority ")[0] == reason


def test_capacity_goes_to_the_highest_priority_first() -> None:
    people = [cand(1, strength=40), cand(2, strength=90), cand(3, strength=60, consents=("email", "card"))]
    result = plan(people, capacity={"email": 3, "card": 0}, used={"email": 1})
    assert [(i.person_id, i.channel) for i in result.items] == [(2, "email"), (3, "email")]
    assert result.skipped_people == ((1, SkipReason.capacity),)
    assert result.skipped["capacity"] == 1


def test_used_capacity_beyond_the_limit_plans_nothing_on_that_channel() -> None:
    assert one(cand(), used={"email": 500}) == SkipReason.capacity


# 7. quiet hours


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "day", "hours", "window"),
    [
        ("UTC", DAY, (8, 21), (utc(2026, 11, 23, 8), utc(2026, 11, 23, 21))),
        ("America/New_York", DAY, (8, 21), (utc(2026, 11, 23, 13), utc(2026, 11, 24, 2))),
        ("Asia/Kathmandu", DAY, (8, 21), (utc(2026, 11, 23, 2, 15), utc(2026, 11, 23, 15, 15))),
        ("Nowhere/Atlantis", DAY, (8, 21), (utc(2026, 11, 23, 8), utc(2026, 11, 23, 21))),
        # Spring forward: 02:00 does not exist in New York; the day's 22 hours end at midnight EDT.
        ("America/New_York", date(2026, 3, 8), (2, 24), (utc(2026, 3, 8, 7), utc(2026, 3, 9, 4))),
        # Fall back: 01:00 happens twice; the window ends at the first one.
        ("America/New_York", date(2026, 11, 1), (0, 1), (utc(2026, 11, 1, 4), utc(2026, 11, 1, 5))),
        ("Europe/London", date(2026, 3, 29), (8, 21), (utc(2026, 3, 29, 7), utc(2026, 3, 29, 20))),
        # Chatham jumps from 02:45 to 03:45: an end at 03:00, skipped, ends at the jump.
        ("Pacific/Chatham", date(2026, 9, 27), (1, 3), (utc(2026, 9, 26, 12, 15), utc(2026, 9, 26, 14))),
        ("Pacific/Chatham", date(2026, 9, 27), (3, 5), (utc(2026, 9, 26, 14), utc(2026, 9, 26, 15, 15))),
        # London skips 01:00 to 02:00: midnight to one o'clock is the hour up to the jump.
        ("Europe/London", date(2026, 3, 29), (0, 1), (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1))),
    ],
)
def test_contact_window(
    tz: str, day: date, hours: tuple[int, int], window: tuple[datetime, datetime]
) -> None:
    zone = ZoneInfo("UTC") if tz.startswith("Nowhere") else ZoneInfo(tz)
    assert contact_window(day, zone, *hours) == window


def test_contact_windows_stay_within_local_hours_on_every_clock_change() -> None:
    """Every zone, every pair of hours, on the days around each clock change in 2026."""
    for name in ZONES[1:-1]:  # UTC and the unknown zone never change their clocks
        # The day before too: its window may end at midnight of a day that starts with a jump.
        for day in {t + timedelta(days=k) for t in TRANSITIONS for k in (-1, 0)}:
            for from_hour in range(24):
                for until_hour in range(from_hour + 1, 25):
                    start, end = contact_window(day, zone(name), from_hour, until_hour)
                    first = start.astimezone(zone(name))
                    last = (end - timedelta(microseconds=1)).astimezone(zone(name))
                    assert first.date() == last.date() == day, (name, day, from_hour, until_hour)
                    assert from_hour <= first.hour and last.hour < until_hour, (
                        name,
                        day,
                        from_hour,
                        until_hour,
                    )
                    # At most the clock change itself (an hour) is lost or gained.
                    hours = (end - start) / timedelta(hours=1)
                    assert until_hour - from_hour - 1 <= hours <= until_hour - from_hour + 1


def test_sms_and_calls_carry_a_window_email_and_cards_do_not() -> None:
    people = [
        cand(1, preferred="sms", consents=("sms",), tz="Europe/London"),
        cand(2, preferred="call", consents=("call",), tz="Nowhere/Atlantis"),
        cand(3, preferred="email"),
        cand(4, preferred="card", consents=("card",)),
    ]
    windows = {i.person_id: (i.window_start, i.window_end) for i in plan(people).items}
    assert windows == {
        1: (utc(2026, 11, 23, 8), utc(2026, 11, 23, 21)),
        2: (utc(2026, 11, 23, 8), utc(2026, 11, 23, 21)),
        3: (None, None),
        4: (None, None),
    }


def test_plan_shape_and_duplicates() -> None:
    empty = plan([])
    assert (empty.day, empty.items, empty.holdout, empty.skipped_people) == (DAY, (), (), ())
    assert empty.skipped == {"no_consent": 0, "cap": 0, "cooldown": 0, "capacity": 0}
    with pytest.raises(ValueError, match="person 1 is a candidate twice"):
        plan([cand(1), cand(1, strength=90)])


# Properties

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Nowhere/Atlantis",
]
# Days when one of the zones above changes its clocks, and the days around them.
TRANSITIONS = [
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 4, 5),
    date(2026, 9, 27),
    date(2026, 10, 4),
]
days = st.one_of(
    st.dates(date(2024, 1, 1), date(2028, 12, 31)),
    st.builds(lambda d, k: d + timedelta(days=k), st.sampled_from(TRANSITIONS), st.integers(-1, 1)),
)
channel_sets = st.frozensets(st.sampled_from(CHANNELS))


@st.composite
def configs(draw: st.DrawFn) -> PolicyConfig:
    per_window = draw(st.integers(1, 3))
    from_hour = draw(st.integers(0, 23))
    return PolicyConfig(
        channel_order=tuple(draw(st.permutations(CHANNELS))[: draw(st.integers(1, 4))]),
        cap_window_days=draw(st.integers(1, 60)),
        cap_per_window=per_window,
        cap_per_year=draw(st.integers(per_window, 6)),
        cooldown_days=draw(st.integers(0, 20)),
        contact_from_hour=from_hour,
        contact_until_hour=draw(st.integers(from_hour + 1, 24)),
        capacity=draw(st.fixed_dictionaries({ch: st.integers(0, 6) for ch in CHANNELS})),
        holdout_share=draw(st.sampled_from([Decimal(0), Decimal("0.1"), Decimal("0.5")])),
        holdout_seed=draw(st.sampled_from(["goodwill", "spring"])),
    )


@st.composite
def candidates(draw: st.DrawFn, day: date) -> list[Candidate]:
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    # Whole days and the minute apart, so that days on a window's edge, at any hour, come up often.
    offsets = st.one_of(st.integers(-70, 70), st.integers(-400, 400))
    instants = st.builds(lambda d, m: midnight + timedelta(days=d, minutes=m), offsets, st.integers(0, 1439))
    ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=25))
    people = []
    for person_id in ids:
        kind = draw(st.sampled_from(list(MomentKind)))
        people.append(
            Candidate(
                person_id=person_id,
                moment=Moment(kind, draw(st.integers(0, 100)), "e", by_manager=kind == MomentKind.recovery),
                value_score=draw(st.integers(0, 100)),
                bank_status=draw(st.sampled_from([None, "healthy", "watch", "overdrawn"])),
                preferred_channel=draw(st.sampled_from([None, *CHANNELS])),
                consents=draw(channel_sets),
                call_requested=draw(st.booleans()),
                time_zone=draw(st.sampled_from(ZONES)),
                appreciations=tuple(draw(st.lists(instants, max_size=5))),
                last_contact_at=draw(st.none() | instants),
            )
        )
    return people


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Candidate], date, PolicyConfig, dict[str, int], frozenset[str]]:
    day = draw(days)
    used = draw(st.fixed_dictionaries({}, optional={ch: st.integers(0, 8) for ch in CHANNELS}))
    return draw(candidates(day)), day, draw(configs()), used, draw(channel_sets)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def local(at: datetime, name: str) -> date:
    return at.astimezone(zone(name)).date()


def allowed_channels(c: Candidate, config: PolicyConfig, enabled: Collection[str]) -> set[str]:
    return {ch for ch in CHANNELS if ch in enabled and ch in config.channel_order} & (
        set(c.consents) | ({"call"} if c.call_requested else set())
    )


def capped(c: Candidate, day: date, config: PolicyConfig) -> bool:
    """Brute force: every window of each length that contains the plan day, one day at a time."""
    sent = [local(a, c.time_zone) for a in c.appreciations]
    for length, cap in ((config.cap_window_days, config.cap_per_window), (365, config.cap_per_year)):
        for back in range(length):
            first = day - timedelta(days=back)
            if sum(first <= s < first + timedelta(days=length) for s in sent) + 1 > cap:
                return True
    return False


def cooling(c: Candidate, day: date, config: PolicyConfig) -> bool:
    if c.last_contact_at is None:
        return False
    return abs((day - local(c.last_contact_at, c.time_zone)).days) < config.cooldown_days


def held_out(person_id: int, day: date, config: PolicyConfig) -> bool:
    digest = hashlib.blake2b(f"{config.holdout_seed}:{day}:{person_id}".encode(), digest_size=8).digest()
    return Decimal(int.from_bytes(digest, "big")) / Decimal(2**64) < config.holdout_share


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_plan_ever_breaks_the_policy(
    scenario: tuple[list[Candidate], date, PolicyConfig, dict[str, int], frozenset[str]],
) -> None:
    people, day, config, used, enabled = scenario
    result = plan_day(people, day=day, config=config, used_capacity=used, enabled_channels=enabled)
    by_id = {c.person_id: c for c in people}
    planned = {i.person_id: i for i in result.items}
    held = {h.person_id for h in result.holdout}
    skipped = dict(result.skipped_people)

    # Everyone lands in exactly one place; the counts agree with the people.
    assert len(planned) + len(held) + len(skipped) == len(people)
    assert planned.keys() | held | skipped.keys() == by_id.keys()
    assert result.skipped == {r.value: Counter(skipped.values())[r] for r in SkipReason}

    for person_id, entry in planned.items():
        c = by_id[person_id]
        # (a) consent, (b) caps, (c) cooldown, (e) holdout
        assert entry.channel in allowed_channels(c, config, enabled)
        assert entry.channel in c.consents or (entry.channel == "call" and c.call_requested)
        assert not capped(c, day, config)
        assert not cooling(c, day, config)
        assert not held_out(person_id, day, config)
        assert entry.moment == c.moment
        if entry.channel in ("sms", "call"):
            assert entry.window_start is not None and entry.window_end is not None
            assert entry.window_start < entry.window_end
            assert entry.window_start.utcoffset() == timedelta(0)
            first = entry.window_start.astimezone(zone(c.time_zone))
            last = (entry.window_end - timedelta(microseconds=1)).astimezone(zone(c.time_zone))
            assert first.date() == last.date() == day
            assert config.contact_from_hour <= first.hour and last.hour < config.contact_until_hour
        else:
            assert entry.window_start is None and entry.window_end is None

    # (d) capacity per channel, counting what was already used today
    per_channel = Counter(i.channel for i in result.items)
    for ch in CHANNELS:
        assert per_channel[ch] <= max(0, config.capacity[ch] - used.get(ch, 0))

    # Held people were eligible and drawn; nobody eligible and drawn escapes the holdout.
    for person_id in held:
        c = by_id[person_id]
        assert (
            allowed_channels(c, config, enabled)
            and not capped(c, day, config)
            and not cooling(c, day, config)
        )
        assert held_out(person_id, day, config)

    # Every skip is deserved, under the first reason that applies.
    for person_id, why in skipped.items():
        c = by_id[person_id]
        checks = [
            (SkipReason.no_consent, not allowed_channels(c, config, enabled)),
            (SkipReason.cap, capped(c, day, config)),
            (SkipReason.cooldown, cooling(c, day, config)),
        ]
        first_failing = next((reason for reason, fails in checks if fails), SkipReason.capacity)
        assert why == first_failing
        if why == SkipReason.capacity:
            assert not held_out(person_id, day, config)
            for ch in allowed_channels(c, config, enabled):
                assert per_channel[ch] >= config.capacity[ch] - used.get(ch, 0)

    keys = [(-i.priority, i.person_id) for i in result.items]
    assert keys == sorted(keys)
    assert all(0 <= i.priority <= 100 for i in result.items)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.randoms(use_true_random=False))
def test_plans_are_deterministic_whatever_the_order(
    scenario: tuple[list[Candidate], date, PolicyConfig, dict[str, int], frozenset[str]],
    rng: random.Random,
) -> None:
    people, day, config, used, enabled = scenario
    first = plan_day(people, day=day, config=config, used_capacity=used, enabled_channels=enabled)
    shuffled = list(people)
    rng.shuffle(shuffled)
    assert (
        plan_day(shuffled, day=day, config=config, used_capacity=dict(used), enabled_channels=enabled)
        == first
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[Candidate, date, PolicyConfig]:
    """One person whose appreciations crowd the edges of the cap windows, at any hour."""
    day, window = draw(days), draw(st.integers(1, 45))
    per_window = draw(st.integers(1, 3))
    config = PolicyConfig(
        cap_window_days=window,
        cap_per_window=per_window,
        cap_per_year=draw(st.integers(per_window, 5)),
        holdout_share=Decimal(0),
    )
    edges = st.builds(int.__mul__, st.sampled_from([window - 1, window, 364, 365]), st.sampled_from([-1, 1]))
    offsets = st.one_of(edges, st.integers(-window, window), st.integers(-366, 366))
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    sent = draw(
        st.lists(
            st.builds(lambda d, m: midnight + timedelta(days=d, minutes=m), offsets, st.integers(-720, 2160)),
            max_size=6,
        )
    )
    return cand(tz=draw(st.sampled_from(ZONES)), consents=CHANNELS, appreciations=sent), day, config


@settings(max_examples=500, deadline=None)
@given(histories())
def test_the_cap_decision_is_exactly_the_brute_force_one(
    history: tuple[Candidate, date, PolicyConfig],
) -> None:
    candidate, day, config = history
    result = plan_day([candidate], day=day, config=config)
    assert (result.skipped["cap"] == 1) == capped(candidate, day, config)
