"""Moment rules, one by one, with the evidence a note writer reads (see planner/moments.py)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodwill.planner.config import DEFAULT_STRENGTH, MomentsConfig
from goodwill.planner.domain import MilestoneReached, Moment, MomentKind, RecentEvent, Signals
from goodwill.planner.moments import moments_for, strongest

TODAY = date(2026, 11, 21)
CONFIG = MomentsConfig()


def d(text: str) -> date:
    return date.fromisoformat(text)


def person(**fields: Any) -> Signals:
    fields.setdefault("person_id", 1)
    fields.setdefault("kind", "customer")
    return Signals(**fields)


def found(signals: Signals, kind: MomentKind, **config: Any) -> Moment | None:
    """The moment of ``kind`` for ``signals`` today, with only that kind enabled."""
    cfg = MomentsConfig(enabled=(kind,), **config)
    moments = moments_for(signals, today=TODAY, config=cfg)
    assert len(moments) <= 1
    return moments[0] if moments else None


def evidence(signals: Signals, kind: MomentKind, **config: Any) -> str | None:
    moment = found(signals, kind, **config)
    return moment.evidence if moment else None


def purchase(on: str, ordinal: int) -> RecentEvent:
    return RecentEvent("purchase", d(on), ordinal=ordinal, amount_minor=5_000)


# second_order


def test_second_order_from_a_recent_purchase() -> None:
    signals = person(orders=2, first_order_on=d("2026-09-02"), recent=(purchase("2026-11-20", 2),))
    moment = found(signals, MomentKind.second_order)
    assert moment is not None
    assert moment.evidence == "2nd order on 2026-11-20; first order 2026-09-02"
    assert moment.strength == DEFAULT_STRENGTH[MomentKind.second_order]
    assert not moment.by_manager


def test_second_order_from_the_insights_milestone_too() -> None:
    signals = person(milestones=(MilestoneReached("nth_order", 2, d("2026-11-19")),))
    assert evidence(signals, MomentKind.second_order) == "2nd order on 2026-11-19"


@pytest.mark.parametrize(
    "event",
    [
        purchase("2026-11-20", 3),  # not the second
        purchase("2026-11-22", 2),  # after the plan day
        purchase("2026-11-18", 2),  # before the 3-day look-back (19th to 21st)
        RecentEvent("refund", d("2026-11-20"), ordinal=2),
    ],
)
def test_no_second_order(event: RecentEvent) -> None:
    assert found(person(recent=(event,)), MomentKind.second_order) is None


# nth_order


def test_nth_order_from_a_milestone() -> None:
    signals = person(
        orders=5,
        first_order_on=d("2024-03-02"),
        milestones=(MilestoneReached("nth_order", 5, d("2026-11-20")),),
    )
    assert evidence(signals, MomentKind.nth_order) == "5th order on 2026-11-20; first order 2024-03-02"


def test_nth_order_from_a_purchase_ordinal_and_both_sources_make_one_moment() -> None:
    signals = person(
        first_order_on=d("2024-03-02"),
        recent=(purchase("2026-11-21", 10),),
        milestones=(MilestoneReached("nth_order", 10, d("2026-11-21")),),
    )
    assert evidence(signals, MomentKind.nth_order) == "10th order on 2026-11-21; first order 2024-03-02"


def test_nth_order_names_the_highest_milestone_reached() -> None:
    signals = person(
        recent=(purchase("2026-11-19", 5),), milestones=(MilestoneReached("nth_order", 10, TODAY),)
    )
    assert evidence(signals, MomentKind.nth_order) == "10th order on 2026-11-21"


@pytest.mark.parametrize(
    "signals",
    [
        person(recent=(purchase("2026-11-20", 7),)),  # 7 is not a milestone
        person(milestones=(MilestoneReached("nth_order", 7, TODAY),)),
        person(milestones=(MilestoneReached("nth_order", 2, TODAY),)),  # the 2nd order is its own moment
        person(milestones=(MilestoneReached("anniversary", 5, TODAY),)),
        person(milestones=(MilestoneReached("nth_order", 5, d("2026-11-10")),)),  # too long ago
    ],
)
def test_no_nth_order(signals: Signals) -> None:
    assert found(signals, MomentKind.nth_order) is None


def test_the_second_order_stays_its_own_moment_even_listed_as_a_milestone() -> None:
    signals = person(
        recent=(purchase("2026-11-20", 2),), milestones=(MilestoneReached("nth_order", 2, TODAY),)
    )
    config = MomentsConfig(order_milestones=(2, 5))
    assert [m.kind for m in moments_for(signals, today=TODAY, config=config)] == [MomentKind.second_order]


def test_order_milestones_are_configurable() -> None:
    signals = person(recent=(purchase("2026-11-20", 3),))
    assert evidence(signals, MomentKind.nth_order, order_milestones=(3,)) == "3rd order on 2026-11-20"
    assert found(signals, MomentKind.nth_order) is None


# anniversary


def test_anniversary() -> None:
    signals = person(
        orders=15,
        first_order_on=d("2023-11-21"),
        milestones=(MilestoneReached("anniversary", 3, TODAY),),
    )
    assert evidence(signals, MomentKind.anniversary) == (
        "3 years since the first order on 2023-11-21; 14 orders since"
    )


def test_first_anniversary_with_a_single_order_says_no_more() -> None:
    signals = person(
        orders=1,
        first_order_on=d("2025-11-20"),
        milestones=(MilestoneReached("anniversary", 1, d("2026-11-20")),),
    )
    assert evidence(signals, MomentKind.anniversary) == "1 year since the first order on 2025-11-20"


def test_one_order_since_is_singular() -> None:
    signals = person(
        orders=2, first_order_on=d("2024-11-21"), milestones=(MilestoneReached("anniversary", 2, TODAY),)
    )
    assert (
        evidence(signals, MomentKind.anniversary)
        == "2 years since the first order on 2024-11-21; 1 order since"
    )


def test_no_anniversary_without_the_milestone() -> None:
    assert found(person(orders=3, first_order_on=d("2023-11-21")), MomentKind.anniversary) is None


# spend_milestone


def test_spend_milestone_formats_money() -> None:
    signals = person(milestones=(MilestoneReached("lifetime_spend", 100_000, d("2026-11-19")),))
    assert evidence(signals, MomentKind.spend_milestone) == "lifetime spend passed USD 1,000.00 on 2026-11-19"


def test_spend_milestone_in_a_currency_without_minor_units() -> None:
    signals = person(milestones=(MilestoneReached("lifetime_spend", 50_000, TODAY),))
    moments = moments_for(
        signals, today=TODAY, config=MomentsConfig(enabled=(MomentKind.spend_milestone,)), currency="JPY"
    )
    assert [m.evidence for m in moments] == ["lifetime spend passed JPY 50,000 on 2026-11-21"]


def test_spend_milestone_names_the_highest_threshold_crossed() -> None:
    signals = person(
        milestones=(
            MilestoneReached("lifetime_spend", 50_000, TODAY),
            MilestoneReached("lifetime_spend", 100_000, TODAY),
        )
    )
    assert evidence(signals, MomentKind.spend_milestone) == "lifetime spend passed USD 1,000.00 on 2026-11-21"


def test_no_spend_milestone_from_other_milestones() -> None:
    assert (
        found(person(milestones=(MilestoneReached("nth_order", 5, TODAY),)), MomentKind.spend_milestone)
        is None
    )


# complaint_resolved


def test_complaint_resolved_quotes_the_complaint_shortened() -> None:
    text = (
        "The parcel was lost in transit and nobody answered my emails for two weeks, "
        "which was really frustrating"
    )
    signals = person(recent=(RecentEvent("complaint_resolved", d("2026-11-21"), text=text),))
    moment = found(signals, MomentKind.complaint_resolved)
    assert moment is not None
    assert moment.subject is not None
    assert moment.subject.endswith("…")
    assert len(moment.subject) <= 80
    assert text.startswith(moment.subject[:-1])
    assert moment.evidence == f"complaint resolved on 2026-11-21: {moment.subject}"
    assert moment.strength == 80


def test_complaint_resolved_without_text() -> None:
    signals = person(recent=(RecentEvent("complaint_resolved", d("2026-11-20")),))
    moment = found(signals, MomentKind.complaint_resolved)
    assert moment is not None
    assert moment.evidence == "complaint resolved on 2026-11-20"
    assert moment.subject is None


def test_an_open_complaint_is_no_moment() -> None:
    signals = person(recent=(RecentEvent("complaint", d("2026-11-20"), text="broken"),))
    assert found(signals, MomentKind.complaint_resolved) is None


# window_shopper


def test_window_shopper_asked_a_question() -> None:
    signals = person(
        kind="prospect",
        recent=(
            RecentEvent("visit", d("2026-11-21")),
            RecentEvent("question", d("2026-11-20"), text="Do you ship\nto Norway?"),
        ),
    )
    moment = found(signals, MomentKind.window_shopper)
    assert moment is not None
    assert moment.evidence == 'asked on 2026-11-20: "Do you ship to Norway?"'
    assert moment.subject == "Do you ship to Norway?"


def test_window_shopper_visited() -> None:
    signals = person(recent=(RecentEvent("visit", d("2026-11-21")),))
    moment = found(signals, MomentKind.window_shopper)
    assert moment is not None
    assert (moment.evidence, moment.subject) == ("visited on 2026-11-21", None)


def test_no_window_shopper_after_a_purchase() -> None:
    signals = person(
        recent=(RecentEvent("question", d("2026-11-20"), text="Size?"), purchase("2026-11-21", 1))
    )
    assert found(signals, MomentKind.window_shopper) is None


def test_no_window_shopper_without_a_question_or_visit() -> None:
    assert found(person(recent=(RecentEvent("review", TODAY),)), MomentKind.window_shopper) is None


# drifting: 5 orders over 160 days (one every 40), so with the default factor 2.5 the gap since the
# last order is overdue from 101 days on (101 * 4 * 100 > 250 * 160); 2026-08-12 is 101 days back.

LOYAL = {
    "orders": 5,
    "segment": "loyal",
    "first_order_on": d("2026-03-05"),
    "last_order_on": d("2026-08-12"),
    "mean_gap_days": 40.0,
    "p_alive": 0.42,
}


def days_since_last(days: int) -> dict[str, Any]:
    """LOYAL, moved so that the last order was ``days`` days before the plan day (same rhythm)."""
    last = TODAY - timedelta(days=days)
    return {**LOYAL, "last_order_on": last, "first_order_on": last - timedelta(days=160)}


def test_drifting_evidence_on_the_day_they_become_overdue() -> None:
    assert evidence(person(**LOYAL), MomentKind.drifting) == (
        "last order 2026-08-12 (101 days ago); usually orders every 40 days; P(alive) 0.42"
    )
    signals = person(**{**LOYAL, "p_alive": None})
    assert evidence(signals, MomentKind.drifting) == (
        "last order 2026-08-12 (101 days ago); usually orders every 40 days"
    )


@pytest.mark.parametrize(("days", "fires"), [(100, False), (101, True), (102, True), (103, True),
                                             (104, False), (173, False), (400, False)])  # fmt: skip
def test_drifting_fires_on_the_lookback_days_from_becoming_overdue(days: int, fires: bool) -> None:
    # 100 days is exactly 2.5 times the usual 40: at the threshold, not past it. From 104 days on
    # they were already overdue lookback_days (3) before: a standing state, no longer a moment.
    assert (found(person(**days_since_last(days)), MomentKind.drifting) is not None) is fires


def test_a_low_p_alive_alone_is_no_moment() -> None:
    for days in (30, 400):
        assert found(person(**{**days_since_last(days), "p_alive": 0.01}), MomentKind.drifting) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"segment": "new"},
        {"segment": None},
        {"orders": 2},
        {"kind": "prospect"},
        {"recent": (purchase("2026-11-20", 7),)},
        {"last_order_on": None},
        {"first_order_on": None},
    ],
)
def test_not_drifting(changes: dict[str, Any]) -> None:
    assert found(person(**{**LOYAL, **changes}), MomentKind.drifting) is None


def test_drifting_thresholds_are_configurable() -> None:
    signals = person(**days_since_last(104))  # overdue since 101 days: outside the 3-day window
    assert found(signals, MomentKind.drifting) is None
    assert found(signals, MomentKind.drifting, lookback_days=4) is not None
    # Factor 2.6: overdue from 105 days (104 * 400 = 41,600 is not over 260 * 160 = 41,600).
    assert found(signals, MomentKind.drifting, drifting_gap_factor=Decimal("2.6")) is None
    assert found(person(**days_since_last(105)), MomentKind.drifting, drifting_gap_factor=Decimal("2.6"))
    # Factor 2.55: overdue from 103 days (102 * 400 = 40,800 = 255 * 160), so 103..105 fire.
    assert found(signals, MomentKind.drifting, drifting_gap_factor=Decimal("2.55")) is not None
    assert found(signals, MomentKind.drifting, drifting_min_orders=6) is None
    assert found(signals, MomentKind.drifting, lookback_days=4, drifting_segments=("champions",)) is None
    with pytest.raises(ValueError, match="decimal places"):
        MomentsConfig(drifting_gap_factor=Decimal("2.555"))


@given(
    span=st.integers(min_value=0, max_value=2000),
    orders=st.integers(min_value=3, max_value=500),
    factor=st.decimals(min_value=1, max_value=20, places=2),
    lookback=st.integers(min_value=1, max_value=30),
)
def test_drifting_is_a_transition_of_exactly_lookback_days(
    span: int, orders: int, factor: Decimal, lookback: int
) -> None:
    """Day by day after the last order, drifting fires on the first overdue day and the
    ``lookback_days - 1`` days after it, and on no other day."""
    config = MomentsConfig(enabled=(MomentKind.drifting,), drifting_gap_factor=factor, lookback_days=lookback)
    last = d("2020-01-01")
    base = person(
        orders=orders, segment="loyal", first_order_on=last - timedelta(days=span), last_order_on=last
    )
    # The first whole gap with gap * (orders - 1) * 100 > factor * 100 * span.
    crossing = int(factor * 100) * span // ((orders - 1) * 100) + 1
    # Every day around both edges (and the first days after the order); in between overdue only grows.
    days = sorted({1, 2, *range(max(1, crossing - 5), crossing + lookback + 5)})
    fired = [g for g in days if moments_for(base, today=last + timedelta(days=g), config=config)]
    assert fired == list(range(crossing, crossing + lookback))


# recovery


def test_recovery_is_by_a_manager_and_names_the_latest_bad_experience() -> None:
    signals = person(
        bank_status="overdrawn",
        bad_streak=3,
        recent=(
            RecentEvent("defect", d("2026-11-19")),
            RecentEvent("late_delivery", d("2026-11-20")),
            RecentEvent("praise", d("2026-11-21")),
        ),
    )
    moment = found(signals, MomentKind.recovery)
    assert moment is not None
    assert moment.by_manager
    assert moment.strength == 90
    assert (
        moment.evidence
        == "relationship overdrawn; 3 bad experiences in a row; latest: late delivery on 2026-11-20"
    )


def test_recovery_without_recent_events() -> None:
    signals = person(bank_status="overdrawn", bad_streak=1)
    assert evidence(signals, MomentKind.recovery) == "relationship overdrawn; 1 bad experience in a row"


def test_no_recovery_for_a_healthy_or_unknown_relationship() -> None:
    assert found(person(bank_status="healthy", bad_streak=2), MomentKind.recovery) is None
    assert found(person(bank_status=None), MomentKind.recovery) is None
    assert found(person(bank_status="watch"), MomentKind.recovery) is None


def test_recovery_statuses_are_configurable() -> None:
    assert evidence(person(bank_status="watch"), MomentKind.recovery, recovery_statuses=("watch",)) == (
        "relationship watch"
    )


# praise and referral


def test_praise_names_the_employee() -> None:
    signals = person(
        recent=(
            RecentEvent("praise", d("2026-11-21"), staff_id=7, staff_name="Ana", text="So patient with me"),
        )
    )
    moment = found(signals, MomentKind.praise)
    assert moment is not None
    assert moment.evidence == 'praised Ana on 2026-11-21: "So patient with me"'
    assert (moment.staff_id, moment.subject) == (7, "So patient with me")


def test_praise_of_the_business() -> None:
    signals = person(recent=(RecentEvent("praise", d("2026-11-20")),))
    moment = found(signals, MomentKind.praise)
    assert moment is not None
    assert (moment.evidence, moment.staff_id, moment.subject) == ("praised us on 2026-11-20", None, None)


def test_the_latest_praise_wins() -> None:
    signals = person(
        recent=(
            RecentEvent("praise", d("2026-11-19"), staff_id=1, staff_name="Bo"),
            RecentEvent("praise", d("2026-11-21"), staff_id=2, staff_name="Cy"),
        )
    )
    moment = found(signals, MomentKind.praise)
    assert moment is not None
    assert moment.staff_id == 2


def test_referral() -> None:
    signals = person(recent=(RecentEvent("referral", d("2026-11-20")),))
    assert evidence(signals, MomentKind.referral) == "referred someone on 2026-11-20"
    assert found(person(recent=(RecentEvent("referral", d("2026-11-23")),)), MomentKind.referral) is None


# all together

EVERYTHING = person(
    orders=15,
    first_order_on=d("2023-11-21"),
    bank_status="overdrawn",
    bad_streak=2,
    recent=(
        purchase("2026-11-20", 5),
        RecentEvent("praise", d("2026-11-21"), staff_name="Ana", staff_id=3),
        RecentEvent("referral", d("2026-11-21")),
        RecentEvent("complaint_resolved", d("2026-11-21")),
    ),
    milestones=(
        MilestoneReached("anniversary", 3, TODAY),
        MilestoneReached("lifetime_spend", 100_000, TODAY),
    ),
)


def test_moments_come_strongest_first_ties_by_kind_name() -> None:
    kinds = [m.kind for m in moments_for(EVERYTHING, today=TODAY, config=CONFIG)]
    assert kinds == [
        MomentKind.recovery,
        MomentKind.complaint_resolved,
        MomentKind.praise,
        MomentKind.referral,
        MomentKind.anniversary,
        MomentKind.nth_order,  # 50, before spend_milestone (50) by name
        MomentKind.spend_milestone,
    ]


def test_only_enabled_kinds_with_configured_strength() -> None:
    config = MomentsConfig(
        enabled=(MomentKind.referral, MomentKind.nth_order),
        strength={MomentKind.nth_order: 95},
    )
    moments = moments_for(EVERYTHING, today=TODAY, config=config)
    assert [(m.kind, m.strength) for m in moments] == [(MomentKind.nth_order, 95), (MomentKind.referral, 70)]


def test_equal_strengths_go_by_kind_name() -> None:
    config = MomentsConfig(strength={MomentKind.anniversary: 70})  # referral is 70 too
    kinds = [m.kind for m in moments_for(EVERYTHING, today=TODAY, config=config)]
    assert kinds.index(MomentKind.anniversary) == kinds.index(MomentKind.referral) - 1
    assert (
        strongest(m for m in moments_for(EVERYTHING, today=TODAY, config=config) if m.strength == 70)
        == (moments_for(EVERYTHING, today=TODAY, config=config)[kinds.index(MomentKind.anniversary)])
    )


def test_strongest() -> None:
    moments = moments_for(EVERYTHING, today=TODAY, config=CONFIG)
    assert strongest(reversed(moments)) == moments[0]
    assert strongest([]) is None
    tie = [Moment(MomentKind.spend_milestone, 50, "b"), Moment(MomentKind.nth_order, 50, "a")]
    assert strongest(tie) == tie[1]


def test_nothing_for_someone_with_nothing_going_on() -> None:
    assert moments_for(person(orders=1, kind="customer"), today=TODAY, config=CONFIG) == []


def test_a_longer_look_back_sees_older_events() -> None:
    signals = person(recent=(RecentEvent("referral", d("2026-11-15")),))
    assert moments_for(signals, today=TODAY, config=CONFIG) == []
    assert [m.kind for m in moments_for(signals, today=TODAY, config=MomentsConfig(lookback_days=7))] == [
        MomentKind.referral
    ]


@given(
    text=st.text(min_size=0, max_size=400),
    name=st.text(min_size=0, max_size=300),
    kind=st.sampled_from(["praise", "question", "complaint_resolved"]),
)
def test_evidence_stays_short_whatever_people_write(text: str, name: str, kind: str) -> None:
    signals = person(kind="prospect", recent=(RecentEvent(kind, TODAY, staff_name=name, text=text),))
    moments = moments_for(signals, today=TODAY, config=CONFIG)
    assert moments
    for moment in moments:
        assert len(moment.evidence) < 200
        assert "\n" not in moment.evidence
        assert moment.subject is None or len(moment.subject) <= 80
