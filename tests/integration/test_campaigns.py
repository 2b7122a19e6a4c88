"""Campaigns on a built business: validation, preview counts by reason, holdout, launch, the sample
review rule, one campaign per cap window, and the daily planner on the send day. Both backends.

``build_shop`` (also used by test_campaigns_cli_api.py) writes a small shop straight into the real
database: customers with orders this year, consents, RFM segments, and one person for each reason a
campaign leaves someone out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_web_client import add_user

from goodwill.campaigns import service as campaigns
from goodwill.campaigns.model import Campaign, CampaignMember
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.insights.model import InsightRun, InsightScore
from goodwill.notes.model import Note
from goodwill.outbox.model import Message
from goodwill.people.model import Person
from goodwill.people.privacy import erase_person
from goodwill.people.service import record_consent
from goodwill.planner.model import PlanHoldout, PlanItem, PlanRun

SEND_ON = date(2026, 11, 26)
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
SEGMENTS = ("champions", "loyal", "at_risk")


def shop_settings(db: Database, **policy: Any) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Teapot & Co", "timezone": "Europe/London", "currency": "GBP"},
        planner={"policy": {"holdout_share": "0", **policy}},
    )


@dataclass
class Shop:
    ids: dict[str, int] = field(default_factory=dict)  # special people by their role in the story
    regulars: list[int] = field(default_factory=list)
    manager_id: int = 0
    agent_id: int = 0


def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def add_customer(
    s: Session,
    run_id: int,
    n: int,
    *,
    name: str | None = None,
    consents: Iterable[str] = ("email",),
    orders: Iterable[date] = (date(2026, 3, 2), date(2026, 6, 2), date(2026, 10, 2)),
    segment: str | None = "loyal",
    zone: str | None = None,
    phone: str | None = None,
    address: bool = False,
    kind: str = "customer",
) -> int:
    person = Person(
        kind=kind,
        name=name or f"Customer {n} Test",
        email=f"c{n}@example.com",
        phone=phone,
        time_zone=zone,
        address_line1="1 High St" if address else None,
        city="Leeds" if address else None,
    )
    s.add(person)
    s.flush()
    days = sorted(orders)
    for i, day in enumerate(days):
        s.add(
            Event(
                person_id=person.id,
                kind="purchase",
                occurred_at=_at(day),
                amount_minor=2500,
                currency="GBP",
                source="test",
                source_id=f"p{person.id}-{i}",
            )
        )
    for channel in consents:
        record_consent(
            s,
            person_id=person.id,
            channel=channel,
            granted=True,
            source="test",
            at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    if segment is not None and days:
        s.add(
            InsightScore(
                person_id=person.id,
                run_id=run_id,
                first_purchase_on=days[0],
                last_purchase_on=days[-1],
                orders=len(days),
                frequency=len(days) - 1,
                recency_days=50,
                age_days=300,
                total_spend_minor=2500 * len(days),
                r_score=3,
                f_score=3,
                m_score=3,
                segment=segment,
            )
        )
    return person.id


def insight_run(s: Session) -> int:
    run = InsightRun(
        as_of=date(2026, 11, 1),
        engine="python",
        period="day",
        horizon_months=12,
        monthly_discount=0.01,
        currency="GBP",
        customers=0,
    )
    s.add(run)
    s.flush()
    return run.id


def build_shop(
    db: Database, settings: Settings, *, regulars: int = 12, zones: Iterable[str | None] = (None,)
) -> Shop:
    """``regulars`` plain customers (3 orders this year, email consent, RFM segments in turn, time
    zones in turn), and one person for each exclusion reason, plus people outside the audience."""
    shop = Shop()
    shop.agent_id = add_user(db, "maya@shop.test", "agent", name="Maya Gold")
    shop.manager_id = add_user(db, "max@shop.test", "manager", name="Max Stone")
    zone_list = list(zones)
    with db.transaction() as s:
        run = insight_run(s)
        for i in range(regulars):
            shop.regulars.append(
                add_customer(
                    s, run, i, segment=SEGMENTS[i % len(SEGMENTS)], zone=zone_list[i % len(zone_list)]
                )
            )
        ids = shop.ids
        ids["no_consent"] = add_customer(s, run, 9001, consents=())
        ids["no_address"] = add_customer(s, run, 9002, consents=("card",))  # no postal address
        ids["cap"] = add_customer(s, run, 9003)
        s.add(
            Event(
                person_id=ids["cap"],
                kind="appreciation_sent",
                occurred_at=_at(SEND_ON - timedelta(days=10)),
                source="crm",
                source_id="thanks-1",
            )
        )
        ids["cooldown"] = add_customer(s, run, 9004)
        s.add(
            Message(
                person_id=ids["cooldown"],
                channel="email",
                purpose="complaint_reply",
                body="We fixed it.",
                status="sent",
                sent_at=_at(SEND_ON - timedelta(days=3)),
            )
        )
        ids["already_planned"] = add_customer(s, run, 9005)
        ids["held_out_daily"] = add_customer(s, run, 9006)
        daily = PlanRun(day=SEND_ON, candidates=2, items=1, held=1, skipped={})
        s.add(daily)
        s.flush()
        s.add(
            PlanItem(
                run_id=daily.id,
                day=SEND_ON,
                person_id=ids["already_planned"],
                moment="second_order",
                strength=65,
                evidence="2nd order",
                channel="email",
                priority=50,
                reason="test",
            )
        )
        s.add(
            PlanHoldout(
                run_id=daily.id,
                day=SEND_ON - timedelta(days=5),
                person_id=ids["held_out_daily"],
                moment="second_order",
                evidence="2nd order",
            )
        )
        ids["erased"] = add_customer(s, run, 9007)
        ids["other_campaign"] = add_customer(s, run, 9008, segment="new")
        # Outside the audience: no order this year; a prospect.
        ids["last_year"] = add_customer(s, run, 9100, orders=(date(2025, 5, 1), date(2025, 6, 1)))
        ids["prospect"] = add_customer(s, run, 9101, orders=(), kind="prospect", segment=None)
    with db.transaction() as s:
        erase_person(s, person_ref=ids["erased"], secret_key="test-secret", erased_by="test", reason="asked")
    return shop


def draft(name: str = "Thanksgiving", **changes: Any) -> campaigns.CampaignDraft:
    base = campaigns.CampaignDraft(
        name=name,
        send_on=SEND_ON,
        audience={"kind": "customer", "min_orders_this_year": 2},
        templates={},
        channels=("email", "card"),
        holdout_percent=0,
    )
    return replace(base, **changes)


def create(db: Database, settings: Settings, user_id: int | None = None, **changes: Any) -> int:
    with db.transaction() as s:
        return campaigns.create_campaign(s, draft=draft(**changes), user_id=user_id, settings=settings).id


def launch(db: Database, settings: Settings, campaign_id: int, user_id: int | None = None) -> Any:
    with db.transaction() as s:
        return campaigns.launch(s, campaign_id=campaign_id, user_id=user_id, settings=settings, now=NOW)


def counts(db: Database, *models: Any) -> list[int]:
    with db.reading() as s:
        return [int(s.scalar(select(func.count()).select_from(m)) or 0) for m in models]


# --- create and validate ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"channels": ("email", "fax")}, "channels"),
        ({"channels": ()}, "channels"),
        ({"window_from_hour": 18, "window_until_hour": 10}, "window_until_hour"),
        ({"window_from_hour": 22, "window_until_hour": 24, "channels": ("sms",)}, "window_from_hour"),
        ({"review_rule": "some"}, "review_rule"),
        ({"review_rule": "sample", "review_percent": 120}, "review_percent"),
        ({"holdout_percent": 60}, "holdout_percent"),
        ({"name": "2025"}, "name"),  # digits would be read as an id
        ({"send_on": date(9999, 12, 1)}, "send_on"),
        ({"audience": {"min_orders": 3}}, "audience.min_orders"),
        ({"audience": {"include_erased": True}}, "audience.include_erased"),
        ({"audience": {"min_spend": "12.345"}}, "audience.min_spend"),
        ({"templates": {"whales": "Hi {{ first_name }}"}}, "templates.whales"),
        ({"templates": {"loyal": "Subject: Hi\nHi {{ first_name }} from {{ town }}"}}, "templates.loyal"),
        ({"templates": {"loyal": "Hi {{ first_name }}, thank you."}}, "templates.loyal"),  # no subject
        ({"templates": {"default": "Subject: x\n{% if %}"}}, "templates.default"),
    ],
)
def test_create_names_the_field_at_fault_and_keeps_nothing(
    db: Database, changes: dict[str, Any], field: str
) -> None:
    settings = shop_settings(db)
    with pytest.raises(campaigns.CampaignError) as refused, db.transaction() as s:
        campaigns.create_campaign(s, draft=draft(**changes), user_id=None, settings=settings)
    assert refused.value.field == field, refused.value
    assert counts(db, Campaign) == [0]


def test_create_update_get_and_list(db: Database) -> None:
    settings = shop_settings(db)
    template = (
        "Subject: {{ first_name }}, thank you\n"
        + "Hi {{ first_name }}, thanks for the year.\n– {{ signature }}"
    )
    first = create(
        db, settings, templates={"loyal": template}, audience={"kind": "customer", "min_spend": "50"}
    )
    with pytest.raises(campaigns.CampaignError) as taken, db.transaction() as s:
        campaigns.create_campaign(s, draft=draft(name="thanksgiving"), user_id=None, settings=settings)
    assert taken.value.field == "name"
    second = create(db, settings, name="Year end", send_on=SEND_ON + timedelta(days=30))
    with db.transaction() as s:
        campaigns.update_campaign(
            s,
            campaign_id=first,
            draft=draft(description="Our first", holdout_percent=20),
            user_id=None,
            settings=settings,
        )
    with db.reading() as s:
        found = campaigns.get_campaign(s, "Thanksgiving")
        assert found.id == first and found.holdout_percent == 20 and found.description == "Our first"
        assert found.audience == {"kind": "customer", "min_orders_this_year": 2}
        assert campaigns.get_campaign(s, str(second)).name == "Year end"
        assert [c.id for c in campaigns.list_campaigns(s)] == [second, first]
        with pytest.raises(campaigns.CampaignNotFound):
            campaigns.get_campaign(s, "Easter")


# --- preview ---------------------------------------------------------------------------------


def test_preview_counts_everyone_by_reason_and_writes_nothing(db: Database) -> None:
    settings = shop_settings(db)
    shop = build_shop(db, settings, regulars=12)
    # Another campaign, launched, thanks the "other_campaign" person five days before this one.
    earlier = create(
        db,
        settings,
        name="Early thanks",
        send_on=SEND_ON - timedelta(days=5),
        audience={"rfm_segments": ["new"]},
        channels=("email",),
    )
    assert launch(db, settings, earlier).thanked == 1
    campaign_id = create(db, settings, holdout_percent=0)
    before = counts(db, CampaignMember, PlanItem, PlanRun, Note, Message)

    with db.reading() as s:
        preview = campaigns.preview(s, campaign_id=campaign_id, settings=settings, samples=4)
    assert counts(db, CampaignMember, PlanItem, PlanRun, Note, Message) == before

    expected = dict.fromkeys(
        (
            "erased",
            "other_campaign",
            "already_planned",
            "held_out_daily",
            "no_consent",
            "no_address",
            "cap",
            "cooldown",
        ),
        1,
    ) | {"capacity": 0}
    assert preview.excluded == expected
    # The regulars are thanked; the last-year customer and the prospect are not in the audience.
    assert preview.audience_size == 12 + 8
    assert preview.eligible == preview.thanked == 12 and preview.holdout == 0
    assert preview.by_channel == {"email": 12, "card": 0}
    assert preview.by_segment == {"champions": 4, "loyal": 4, "at_risk": 4}
    assert preview.in_other_campaigns == 1
    assert preview.to_review == 12
    assert len(preview.samples) == 4
    assert {s.segment for s in preview.samples} == set(SEGMENTS)  # one per segment first
    for sample in preview.samples:
        assert sample.ok and sample.score >= 90, sample.problems
        assert sample.first_name in sample.body and sample.subject
        assert sample.person_id in shop.regulars
    words = " ".join(preview.notes)
    assert "12 people have no template for their segment" in words
    assert "All 12 notes wait for review" in words
    as_dict = preview.as_dict()
    assert as_dict["excluded"]["cap"] == 1 and as_dict["samples"][0]["body"]


def test_preview_uses_the_segment_template_and_says_who_falls_back(db: Database) -> None:
    settings = shop_settings(db)
    build_shop(db, settings, regulars=6)
    champions = (
        "Subject: {{ first_name }}, a thank-you for our champions\n"
        "Hi {{ first_name }}, you have ordered {{ orders }} times this year and we noticed every one.\n\n"
        "{{ writer_name }}"
    )
    campaign_id = create(db, settings, templates={"champions": champions})
    with db.reading() as s:
        preview = campaigns.preview(s, campaign_id=campaign_id, settings=settings, samples=6)
    own = [p for p in preview.samples if p.segment == "champions"]
    assert own and all(p.template == "segment" and "you have ordered 3 times" in p.body for p in own)
    assert all(p.template == "built_in" for p in preview.samples if p.segment != "champions")
    assert any(
        "5 people have no template for their segment (At risk, Loyal, New)" in n for n in preview.notes
    )


# --- launch ----------------------------------------------------------------------------------


def test_launch_records_members_items_and_drafts_once(db: Database) -> None:
    settings = shop_settings(db)
    shop = build_shop(db, settings, regulars=9)
    campaign_id = create(db, settings, holdout_percent=0)
    with db.reading() as s:
        expected = campaigns.preview(s, campaign_id=campaign_id, settings=settings, samples=0)

    first = launch(db, settings, campaign_id, shop.manager_id)
    assert not first.already_launched
    # The regulars, and the person kept for another campaign (there is none in this story).
    assert (first.thanked, first.holdout, first.drafted) == (10, 0, 10)
    assert first.excluded == expected.excluded
    assert first.auto_approved == 0 and first.to_review == 10  # the "all" rule
    tables = (CampaignMember, PlanItem, PlanRun, Note, Message)
    stored = counts(db, *tables)

    again = launch(db, settings, campaign_id, shop.manager_id)
    assert again.already_launched
    assert replace(again, already_launched=False) == first
    assert counts(db, *tables) == stored

    with db.reading() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None and campaign.status == "launched" and campaign.run_id == first.run_id
        assert campaign.launched_by_id == shop.manager_id
        members = s.scalars(select(CampaignMember).where(CampaignMember.campaign_id == campaign_id)).all()
        assert len(members) == first.thanked + sum(first.excluded.values())
        thanked = [m for m in members if m.assignment == "thanked"]
        assert {m.person_id for m in thanked} == {*shop.regulars, shop.ids["other_campaign"]}
        assert all(m.plan_item_id and m.note_id and m.channel == "email" for m in thanked)
        assert {m.person_id: m.reason for m in members if m.assignment == "excluded"} == {
            pid: reason for reason, pid in shop.ids.items() if first.excluded.get(reason)
        }
        items = s.scalars(select(PlanItem).where(PlanItem.run_id == campaign.run_id)).all()
        assert (
            len(items) == 10
            and {i.moment for i in items} == {"campaign"}
            and {i.day for i in items} == {SEND_ON}
        )
        notes = s.scalars(select(Note).where(Note.plan_item_id.in_([i.id for i in items]))).all()
        assert len(notes) == 10
        assert all(
            n.status == "draft" and n.moment == "campaign" and n.evidence == "Thanksgiving" for n in notes
        )
        assert all(n.writer_id == shop.agent_id for n in notes)
        # The daily plan item of the "already planned" person is untouched, and still the only one.
        assert (
            s.scalar(select(func.count()).select_from(PlanItem).where(PlanItem.run_id != campaign.run_id))
            == 1
        )
        view = campaigns.status(s, campaign_id=campaign_id).as_dict()
    assert view["members"] == {"thanked": 10, "holdout": 0, "excluded": 7}
    assert view["notes"] == {"draft": 10, "approved": 0, "skipped": 0}
    assert view["messages"]["queued"] == 0
    with db.reading() as s, pytest.raises(campaigns.CampaignError) as refused:
        campaigns.preview(s, campaign_id=campaign_id, settings=settings)
    assert refused.value.field == "status"
    with pytest.raises(campaigns.CampaignError), db.transaction() as s:
        campaigns.update_campaign(s, campaign_id=campaign_id, draft=draft(), user_id=None, settings=settings)


def test_holdout_is_random_near_its_share_and_assigned_before_any_note(db: Database) -> None:
    settings = shop_settings(db)
    build_shop(db, settings, regulars=400)
    campaign_id = create(db, settings, holdout_percent=25)
    with db.reading() as s:
        preview = campaigns.preview(s, campaign_id=campaign_id, settings=settings, samples=0)
    report = launch(db, settings, campaign_id)
    assert report.holdout == preview.holdout and report.thanked == preview.thanked
    assert report.thanked + report.holdout == 401  # the regulars and the "other_campaign" person
    # 25% of 401 is 100, with a standard deviation of about 8.7: far outside +-35 means a broken draw.
    assert 65 <= report.holdout <= 135, report.holdout
    with db.reading() as s:
        held = s.scalars(select(CampaignMember).where(CampaignMember.assignment == "holdout")).all()
        assert all(m.plan_item_id is None and m.note_id is None and m.channel == "email" for m in held)
        held_ids = {m.person_id for m in held}
        assert not held_ids & set(s.scalars(select(PlanItem.person_id)).all())
        assert not held_ids & set(s.scalars(select(Note.person_id)).all())
        last_assigned = s.scalar(select(func.max(CampaignMember.assigned_at)))
        first_note = s.scalar(select(func.min(Note.created_at)))
        max_member_id = s.scalar(select(func.max(CampaignMember.id)))
        assert last_assigned is not None and first_note is not None
        assert str(last_assigned) <= str(first_note)  # strings: aggregates bypass the column type
        assert max_member_id == report.thanked + report.holdout + sum(report.excluded.values())


def test_the_sample_rule_approves_the_rest_within_the_send_window(db: Database) -> None:
    settings = shop_settings(db)
    zones = ("America/New_York", None, "Asia/Tokyo")
    shop = build_shop(db, settings, regulars=30, zones=zones)
    campaign_id = create(
        db, settings, review_rule="sample", review_percent=30, window_from_hour=9, window_until_hour=17
    )
    report = launch(db, settings, campaign_id, shop.manager_id)
    assert report.thanked == 31 and report.drafted == 31  # the regulars and the "other_campaign" person
    assert report.auto_approved + report.to_review == 31
    assert 3 <= report.to_review <= 20  # 30% of 31, at random
    with db.reading() as s:
        rows = s.execute(
            select(Message, Person.time_zone, Note)
            .join(Note, Note.id == Message.note_id)
            .join(Person, Person.id == Message.person_id)
        ).all()
        assert len(rows) == report.auto_approved
        for message, zone_name, note in rows:
            zone = ZoneInfo(zone_name or "Europe/London")
            assert message.status == "queued" and message.purpose == "appreciation"
            assert message.not_before == datetime.combine(SEND_ON, time(9), tzinfo=zone).astimezone(UTC)
            assert message.not_after == datetime.combine(SEND_ON, time(17), tzinfo=zone).astimezone(UTC)
            assert note.status == "approved" and note.decided_by_id == shop.manager_id
        assert {z for _, z, _ in rows} == set(zones)
        waiting = s.scalar(select(func.count()).select_from(Note).where(Note.status == "draft"))
        assert waiting == report.to_review
        view = campaigns.status(s, campaign_id=campaign_id)
    assert view.notes["approved"] == report.auto_approved and view.messages["queued"] == report.auto_approved
    # A reviewer approving a sampled note later does not change what the launch reports.
    with db.reading() as s:
        draft_id = s.scalar(select(Note.id).where(Note.status == "draft").limit(1))
    from goodwill.notes.service import approve

    with db.transaction() as s:
        approve(s, note_id=draft_id, user_id=shop.agent_id, settings=settings)
    assert launch(db, settings, campaign_id) == replace(report, already_launched=True)


def test_nobody_is_in_two_campaigns_in_one_cap_window(db: Database) -> None:
    settings = shop_settings(db)
    shop = build_shop(db, settings, regulars=10)
    first = create(db, settings, name="Thanksgiving", holdout_percent=30)
    done = launch(db, settings, first)
    assert done.thanked + done.holdout == 11 and done.holdout > 0  # the regulars and "other_campaign"
    near = create(db, settings, name="Advent", send_on=SEND_ON + timedelta(days=20))
    with db.reading() as s:
        preview = campaigns.preview(s, campaign_id=near, settings=settings, samples=0)
    # Thanked and held-out people of the first campaign are both left out of the second.
    assert preview.excluded["other_campaign"] == 11
    # Only two are left: the "cap" and "cooldown" people, whose reasons have lapsed by then.
    assert preview.thanked + preview.holdout == 2
    # (In January "this year" has hardly begun: this audience counts orders ever.)
    later = create(
        db,
        settings,
        name="Spring",
        send_on=SEND_ON + timedelta(days=45),
        audience={"kind": "customer", "min_orders_total": 2},
    )
    report = launch(db, settings, later)
    assert report.excluded["other_campaign"] == 0
    with db.reading() as s:
        second = set(
            s.scalars(
                select(CampaignMember.person_id).where(
                    CampaignMember.campaign_id == later, CampaignMember.assignment.in_(("thanked", "holdout"))
                )
            )
        )
    assert set(shop.regulars) <= second  # outside the cap window they may be thanked again


def test_the_daily_planner_does_not_plan_a_campaign_person_again(db: Database) -> None:
    from goodwill.notes.service import plan_and_draft
    from goodwill.planner.service import candidates_for_day

    settings = shop_settings(db)
    shop = build_shop(db, settings, regulars=3)
    # Two regulars place their 4th and 5th orders the day before the send day: a daily moment.
    milestone = shop.regulars[:2]
    with db.transaction() as s:
        for i, pid in enumerate(milestone):
            for hour in (10, 13):
                s.add(
                    Event(
                        person_id=pid,
                        kind="purchase",
                        occurred_at=_at(SEND_ON - timedelta(days=1), hour),
                        amount_minor=900,
                        currency="GBP",
                        source="test",
                        source_id=f"late-{i}-{hour}",
                    )
                )
    with db.reading() as s:
        daily = {c.person_id: c.moment.kind for c in candidates_for_day(s, day=SEND_ON, settings=settings)}
    assert {daily.get(pid) for pid in milestone} == {"nth_order"}  # the daily plan would thank them
    report = launch(db, settings, create(db, settings))
    assert report.thanked == 4  # the regulars and the "other_campaign" person
    with db.transaction() as s:
        outcome, _ = plan_and_draft(s, day=SEND_ON, settings=settings)
    assert not {item.person_id for item in outcome.new_items} & set(shop.regulars)
    with db.reading() as s:
        per_day = s.execute(
            select(PlanItem.person_id, func.count())
            .where(PlanItem.day == SEND_ON)
            .group_by(PlanItem.person_id)
        ).all()
        moments = set(s.scalars(select(PlanItem.moment).where(PlanItem.person_id.in_(milestone))))
    assert all(n == 1 for _, n in per_day)
    assert moments == {"campaign"}


def test_a_campaigns_emails_use_no_daily_capacity_and_its_holdout_stays_held(db: Database) -> None:
    """The daily plan after a campaign: its emails took none of the team's capacity, and its held-out
    people are not thanked by the daily plan while the holdout lasts (that would spoil the comparison)."""
    from goodwill.planner.signals import already_planned

    settings = shop_settings(db)
    build_shop(db, settings, regulars=16)
    holdout_days = settings.planner.policy.cap_window_days
    with db.reading() as s:
        _, used_before = already_planned(s, SEND_ON, holdout_days=holdout_days)
    campaign_id = create(db, settings, holdout_percent=50)
    launch(db, settings, campaign_id)
    with db.reading() as s:
        held = set(
            s.scalars(
                select(CampaignMember.person_id).where(
                    CampaignMember.campaign_id == campaign_id, CampaignMember.assignment == "holdout"
                )
            )
        )
        emailed = s.scalar(
            select(func.count())
            .select_from(PlanItem)
            .where(PlanItem.day == SEND_ON, PlanItem.channel == "email")
        )
        decided, _ = already_planned(s, SEND_ON + timedelta(days=3), holdout_days=holdout_days)
        _, used_on_the_day = already_planned(s, SEND_ON, holdout_days=holdout_days)
    assert held and emailed  # the draw held someone out, and the campaign emails someone
    assert held <= decided  # still held three days later
    with db.reading() as s:
        decided_before, _ = already_planned(s, SEND_ON - timedelta(days=3), holdout_days=holdout_days)
    assert held <= decided_before  # and already held by the daily plans before the send day
    assert used_on_the_day.get("email", 0) == used_before.get("email", 0)  # the daily plan's own only
    with db.reading() as s:
        decided_later, _ = already_planned(
            s, SEND_ON + timedelta(days=holdout_days), holdout_days=holdout_days
        )
    assert not held & decided_later  # released once a thank-you would no longer have capped them
