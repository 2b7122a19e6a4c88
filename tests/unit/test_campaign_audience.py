"""A campaign's audience (validated field by field, said in words) and the pure assignment rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from goodwill.campaigns import rules
from goodwill.campaigns.audience import Audience, audience_json, describe, parse_audience
from goodwill.campaigns.errors import CampaignError
from goodwill.campaigns.files import draft_from, merged_draft, read_campaign_text
from goodwill.planner.config import PolicyConfig
from goodwill.planner.domain import Candidate, Moment, MomentKind


def parse(spec: dict[str, Any], currency: str = "GBP", tiers: list[str] | None = None) -> Audience:
    return parse_audience(spec, currency=currency, tiers=tiers)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"min_order": 3}, "audience.min_order"),
        ({"include_erased": True}, "audience.include_erased"),
        ({"include_erased": False}, "audience.include_erased"),
        ({"kind": "customers"}, "audience.kind"),
        ({"min_orders_this_year": -1}, "audience.min_orders_this_year"),
        ({"min_orders_this_year": "3"}, "audience.min_orders_this_year"),
        ({"min_orders_total": True}, "audience.min_orders_total"),
        ({"min_spend": "12.345"}, "audience.min_spend"),
        ({"min_spend": "lots"}, "audience.min_spend"),
        ({"min_spend": "-5"}, "audience.min_spend"),
        ({"min_spend": 12.5}, "audience.min_spend"),
        ({"last_order_within_days": 0}, "audience.last_order_within_days"),
        ({"not_thanked_days": 5000}, "audience.not_thanked_days"),
        ({"bank_status": ["healthy", "sad"]}, "audience.bank_status"),
        ({"bank_status": []}, "audience.bank_status"),
        ({"bank_status": [1]}, "audience.bank_status"),
        ({"rfm_segments": ["whales"]}, "audience.rfm_segments"),
        ({"loyalty_tiers": ["Platinum"]}, "audience.loyalty_tiers"),
        ({"kind": "prospect", "min_orders_total": 1}, "audience.min_orders_total"),
    ],
)
def test_every_problem_names_its_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(CampaignError) as refused:
        parse(spec, tiers=["Silver", "Gold"])
    assert refused.value.field == field
    assert refused.value.message and field in str(refused.value)


def test_a_valid_audience_is_kept_in_minor_units_and_stored_back_as_text() -> None:
    audience = parse(
        {
            "kind": "customer",
            "min_orders_this_year": 3,
            "min_spend": "£1,250.50",
            "bank_status": "healthy, watch",
            "rfm_segments": ["champions", "loyal", "champions"],
            "not_thanked_days": 60,
        },
    )
    assert audience.min_spend_minor == 125050
    assert audience.bank_status == ("healthy", "watch")
    assert audience.rfm_segments == ("champions", "loyal")  # duplicates dropped, order kept
    stored = audience_json(audience, currency="GBP")
    assert stored["min_spend"] == "1250.50" and "loyalty_tiers" not in stored
    assert parse(stored) == audience
    assert parse_audience({"min_spend": "1500"}, currency="JPY").min_spend_minor == 1500
    assert parse({}) == Audience() and parse_audience(None, currency="GBP") == Audience()
    # Without the program's tiers (None) any tier name is taken as written.
    assert parse({"loyalty_tiers": ["Gold"]}).loyalty_tiers == ("Gold",)


def test_the_audience_in_words() -> None:
    words = describe(
        parse(
            {
                "kind": "customer",
                "min_orders_this_year": 3,
                "bank_status": ["healthy", "watch"],
                "not_thanked_days": 60,
            }
        ),
        currency="GBP",
    )
    assert words == (
        "customers with 3 or more orders this year, whose relationship is healthy or on watch, "
        "not thanked in the 60 days before the send day"
    )
    assert describe(parse({}), currency="GBP") == "everyone we know (erased people excepted)"
    assert describe(parse({"kind": "prospect"}), currency="GBP") == "all prospects"
    spend = describe(
        parse(
            {"min_spend": "100", "rfm_segments": ["at_risk", "cant_lose_them"], "last_order_within_days": 1}
        ),
        currency="GBP",
    )
    assert spend == (
        "people who spent GBP 100.00 or more, who ordered in the day before the send day, "
        "in the At risk or Can't lose them segments"
    )


# --- a campaign file ---------------------------------------------------------------------------


def test_a_campaign_file_in_toml_or_json() -> None:
    toml = """
name = "Thanksgiving"
send_on = 2026-11-26
channels = ["email", "card"]
[audience]
kind = "customer"
min_orders_this_year = 3
[templates]
default = "Subject: Hi {{ first_name }}\\nThank you, {{ first_name }}."
"""
    draft = draft_from(read_campaign_text(toml, suffix=".toml"))
    assert draft.send_on == date(2026, 11, 26) and draft.channels == ("email", "card")
    assert draft.audience == {"kind": "customer", "min_orders_this_year": 3}
    as_json = read_campaign_text('{"name": "X", "send_on": "2026-12-01"}', suffix=".json")
    assert draft_from(as_json).send_on == date(2026, 12, 1)
    merged = merged_draft(
        read_campaign_text(toml, suffix=".toml"),
        fields={"name": "Other", "holdout_percent": None},
        audience={"not_thanked_days": 30, "kind": None},
        templates={},
    )
    assert (
        merged.name == "Other"
        and merged.audience["not_thanked_days"] == 30
        and merged.audience["kind"] == "customer"
    )
    for text, suffix, field in (
        ('name = "X"\nsend_on = 2026-11-26\ncolour = "red"', ".toml", "colour"),
        ('name = "X"', ".toml", "send_on"),
        ('name = "X"\nsend_on = "26/11/2026"', ".toml", "send_on"),
        ("name = ", ".toml", "file"),
        ("[1, 2]", ".json", "file"),
    ):
        with pytest.raises(CampaignError) as refused:
            draft_from(read_campaign_text(text, suffix=suffix))
        assert refused.value.field == field, text


# --- the pure rules ----------------------------------------------------------------------------

CHOICE = rules.Settings(
    seed="seed-1",
    send_on=date(2026, 11, 26),
    channels=("email", "card", "sms"),
    window_from_hour=10,
    window_until_hour=18,
    holdout_percent=0,
)
MOMENT = Moment(MomentKind.campaign, 30, "Thanksgiving")


def person(
    pid: int,
    *,
    consents: tuple[str, ...] = ("email",),
    reachable: tuple[str, ...] = ("email",),
    blocked: str | None = None,
    zone: str = "Europe/London",
    **extra: Any,
) -> rules.Person:
    candidate = Candidate(pid, MOMENT, 50, None, None, frozenset(consents), False, zone, **extra)
    return rules.Person(candidate, "loyal", blocked=blocked, reachable=frozenset(reachable))


def test_each_person_counts_under_the_first_reason_only() -> None:
    policy = PolicyConfig(capacity={"card": 1})
    people = [
        person(1, blocked="erased", consents=()),
        person(2, consents=()),
        person(3, consents=("call",), reachable=("call",)),  # call is not one of the campaign's channels
        person(4, reachable=()),
        person(5, appreciations=(datetime(2026, 11, 20, tzinfo=UTC),)),
        person(6, last_contact_at=datetime(2026, 11, 24, tzinfo=UTC)),
        person(7, consents=("card",), reachable=("card",)),
        person(8, consents=("card",), reachable=("card",)),  # the team writes one card that day
        person(9, consents=("sms",), reachable=("sms",), zone="America/New_York"),
    ]
    assigned = {a.person_id: a for a in rules.assign(people, choice=CHOICE, policy=policy, used_capacity={})}
    assert {pid: a.reason for pid, a in assigned.items() if a.group == "excluded"} == {
        1: "erased",
        2: "no_consent",
        3: "no_consent",
        4: "no_address",
        5: "cap",
        6: "cooldown",
        8: "capacity",
    }
    assert assigned[7].channel == "card" and assigned[9].channel == "sms"
    # The send window, in their own zone: 10:00-18:00 in New York is 15:00-23:00 UTC in November.
    assert assigned[9].window_start == datetime(2026, 11, 26, 15, tzinfo=UTC)
    assert assigned[9].window_end == datetime(2026, 11, 26, 23, tzinfo=UTC)
    # The daily plan's cards count against the team's capacity.
    again = rules.assign(people, choice=CHOICE, policy=policy, used_capacity={"card": 1})
    assert {a.person_id for a in again if a.reason == "capacity"} == {7, 8}


def test_sms_and_calls_keep_to_quiet_hours_inside_the_campaign_window() -> None:
    early = rules.Settings(**{**CHOICE.__dict__, "window_from_hour": 6, "window_until_hour": 23})
    policy = PolicyConfig()  # contact 08:00-21:00
    start, end = rules.send_window(early, "sms", "Europe/London", policy)
    assert (start.hour, end.hour) == (8, 21)
    start, end = rules.send_window(early, "email", "Europe/London", policy)
    assert (start.hour, end.hour) == (6, 23)
    assert not rules.windows_overlap(22, 24, policy) and rules.windows_overlap(20, 24, policy)


def test_the_holdout_and_review_draws_are_seeded_near_their_share_and_independent() -> None:
    ids = range(1, 20_001)
    held = [pid for pid in ids if rules.in_holdout("seed-1", pid, 10)]
    assert 1_800 < len(held) < 2_200  # 10% of 20,000; 3 standard deviations are about 127
    assert held == [pid for pid in ids if rules.in_holdout("seed-1", pid, 10)]  # the same on a re-run
    assert held != [pid for pid in ids if rules.in_holdout("seed-2", pid, 10)]
    reviewed = {pid for pid in ids if rules.in_review_sample("seed-1", pid, 50)}
    share_of_held = len(reviewed.intersection(held)) / len(held)
    assert 0.45 < share_of_held < 0.55  # not the same draw as the holdout
    assert not any(rules.in_holdout("s", pid, 0) for pid in range(1, 1000))
    assert all(rules.in_review_sample("s", pid, 100) for pid in range(1, 1000))
