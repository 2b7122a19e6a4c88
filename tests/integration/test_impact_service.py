"""Impact reports on a small business whose true uplift is known by construction (SQLite and PostgreSQL).

``build_business`` writes plan days, a campaign and what people did afterwards so that every
number of the report can be worked out by hand: the report must give exactly those numbers.
The page and CLI tests reuse it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from goodwill.bank.model import BankEntry
from goodwill.campaigns.model import Campaign, CampaignMember, CampaignStatus
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.model import Event, Order
from goodwill.impact.service import ImpactError, impact_for_campaign, impact_for_day, impact_since
from goodwill.people.model import Person
from goodwill.people.privacy import erase_person
from goodwill.people.service import record_consent
from goodwill.planner.model import PlanHoldout, PlanItem, PlanRun

ZONE = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 2)  # the plan day, and the Spring campaign's send day
LATER_DAY = date(2026, 4, 10)  # a small daily plan
QUIET_DAY = date(2026, 3, 9)  # only a campaign ran that day: not a plan day
WINDOW = 30
# The window: from midnight after DAY in Paris (CET) to midnight 30 days later (CEST, after the
# clocks changed on 29 March), in UTC.
START = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
END = datetime(2026, 4, 1, 22, 0, tzinfo=UTC)
AFTER = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # "now", once every window is over


def settings_for(db: Database) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Teapot & Co", "timezone": "Europe/Paris", "currency": "EUR"},
        impact={"window_days": WINDOW, "bootstrap_samples": 400},
    )


@dataclass
class Shop:
    treated: list[int] = field(default_factory=list)  # the daily plan of DAY
    held: list[int] = field(default_factory=list)
    spring_thanked: list[int] = field(default_factory=list)  # the Spring campaign, send day DAY
    spring_held: list[int] = field(default_factory=list)
    spring_excluded: list[int] = field(default_factory=list)
    spring_id: int = 0
    quiet_id: int = 0
    draft_id: int = 0


class Writer:
    def __init__(self, session: Session) -> None:
        self.s = session
        self.n = 0

    def people(self, count: int, prefix: str) -> list[int]:
        found = [
            Person(kind="customer", name=f"{prefix} {i}", email=f"{prefix}{i}@example.com")
            for i in range(count)
        ]
        self.s.add_all(found)
        self.s.flush()
        return [p.id for p in found]

    def _next(self) -> str:
        self.n += 1
        return f"e{self.n}"

    def buy(
        self, pid: int, at: datetime, amount: int, currency: str = "EUR", order: Order | None = None
    ) -> None:
        source_id = self._next()
        self.s.add(
            Event(
                person_id=pid, kind="purchase", occurred_at=at, amount_minor=amount, currency=currency,
                order_id=order.id if order else None, source="test", source_id=source_id,
            )
        )  # fmt: skip

    def event(self, pid: int, kind: str, at: datetime) -> None:
        self.s.add(Event(person_id=pid, kind=kind, occurred_at=at, source="test", source_id=self._next()))

    def bank(self, pid: int, at: datetime, amount: int) -> None:
        self.n += 1
        self.s.add(
            BankEntry(
                person_id=pid, event_id=1_000_000 + self.n, kind="purchase", rule="test", amount=amount,
                at=at, side="deposit" if amount > 0 else "withdrawal", effect="normal",
            )
        )  # fmt: skip

    def run(self, day: date) -> int:
        run = PlanRun(day=day, candidates=0, items=0, held=0, skipped={})
        self.s.add(run)
        self.s.flush()
        return run.id

    def item(self, run_id: int, day: date, pid: int) -> None:
        self.s.add(
            PlanItem(
                run_id=run_id, day=day, person_id=pid, moment="repeat_purchase", strength=3, evidence="test",
                channel="email", priority=1, reason="test",
            )
        )  # fmt: skip

    def hold(self, run_id: int, day: date, pid: int) -> None:
        self.s.add(
            PlanHoldout(run_id=run_id, day=day, person_id=pid, moment="repeat_purchase", evidence="test")
        )

    def campaign(self, name: str, send_on: date, run_id: int | None, status: str = "launched") -> int:
        campaign = Campaign(name=name, send_on=send_on, seed=name, run_id=run_id, status=status)
        self.s.add(campaign)
        self.s.flush()
        return campaign.id

    def member(self, campaign_id: int, pid: int, assignment: str) -> None:
        self.s.add(CampaignMember(campaign_id=campaign_id, person_id=pid, assignment=assignment))


def day_after(n: float) -> datetime:
    return START + timedelta(days=n)


def build_business(db: Database) -> Shop:
    """The daily plan of DAY: 50 thanked, 50 held out. What they did in the window (START, END]:

    - bought again: 15 thanked (30%), two orders of EUR 20 each; 10 held out (20%), one of EUR 30;
      one held-out buyer also paid USD 9.99 (an order, not spend). Purchases on DAY, exactly at
      START, just after END or on a cancelled order do not count; one exactly at END does.
    - bank: every thanked person +5, the 10 held-out buyers -2 (and +100 before START, not counted).
    - complaints: 1 thanked, 5 held out. Unsubscribed: 2 thanked, 3 held out (and 1 before START).
    - the first thanked person was erased since; the third unsubscribed: both stay thanked.

    The Spring campaign (send day DAY, its own plan run on DAY): 40 thanked (12 bought, EUR 50),
    40 held out (8 bought, EUR 25), 10 excluded who all bought (never counted).
    """
    shop = Shop()
    with db.transaction() as s:
        w = Writer(s)
        shop.treated, shop.held = w.people(50, "thanked"), w.people(50, "held")
        daily = w.run(DAY)
        for pid in shop.treated:
            w.item(daily, DAY, pid)
        for pid in shop.held:
            w.hold(daily, DAY, pid)
        for i, pid in enumerate(shop.treated[:15]):
            w.buy(pid, day_after(1), 2000)
            w.buy(pid, END if i == 0 else day_after(5), 2000)  # the end itself is in the window
        for pid in shop.held[:10]:
            w.buy(pid, day_after(2), 3000)
            w.bank(pid, day_after(2), -2)
            w.bank(pid, START - timedelta(days=3), 100)
        w.buy(shop.held[0], day_after(3), 999, currency="USD")
        w.buy(shop.treated[20], START, 5000)  # the start is not in the window
        w.buy(shop.treated[21], END + timedelta(seconds=1), 5000)
        w.buy(shop.treated[22], datetime.combine(DAY, time(18), tzinfo=ZONE), 5000)  # on the plan day
        cancelled = Order(
            person_id=shop.held[20], source="test", external_id="o1", placed_at=day_after(4),
            currency="EUR", total_minor=7000, cancelled_at=day_after(6),
        )  # fmt: skip
        s.add(cancelled)
        s.flush()
        w.buy(shop.held[20], day_after(4), 7000, order=cancelled)
        for pid in shop.treated:
            w.bank(pid, day_after(7), 5)
        w.event(shop.treated[1], "complaint", day_after(8))
        for pid in shop.held[:5]:
            w.event(pid, "complaint", day_after(8))
        for pid in (shop.treated[2], shop.treated[3], *shop.held[:3]):
            record_consent(
                s, person_id=pid, channel="email", granted=False, source="unsubscribe", at=day_after(9)
            )
        record_consent(
            s, person_id=shop.treated[2], channel="sms", granted=False, source="sms_stop", at=day_after(9)
        )
        record_consent(
            s, person_id=shop.held[4], channel="email", granted=False, source="unsubscribe", at=START
        )

        # The Spring campaign: its own plan run on the same day, with a stray holdout row.
        spring_run = w.run(DAY)
        shop.spring_id = w.campaign("Spring thanks", DAY, spring_run)
        thanked, held, excluded = (
            w.people(40, "spring"),
            w.people(40, "spring-held"),
            w.people(10, "spring-out"),
        )
        shop.spring_thanked, shop.spring_held, shop.spring_excluded = thanked, held, excluded
        for pid in thanked:
            w.item(spring_run, DAY, pid)
            w.member(shop.spring_id, pid, "thanked")
        for pid in held:
            w.member(shop.spring_id, pid, "holdout")
        for pid in excluded:
            w.member(shop.spring_id, pid, "excluded")
            w.buy(pid, day_after(3), 90_000)
        w.hold(spring_run, DAY, excluded[0])
        for pid in thanked[:12]:
            w.buy(pid, day_after(2), 5000)
        for pid in held[:8]:
            w.buy(pid, day_after(2), 2500)

        # A small daily plan later, and a day when only a campaign ran (with a holdout row).
        later = w.run(LATER_DAY)
        for pid in shop.treated[:3]:
            w.item(later, LATER_DAY, pid)
        for pid in shop.held[30:32]:
            w.hold(later, LATER_DAY, pid)
        quiet_run = w.run(QUIET_DAY)
        shop.quiet_id = w.campaign("Quiet note", QUIET_DAY, quiet_run)
        quiet = w.people(3, "quiet")
        for pid in quiet[:2]:
            w.item(quiet_run, QUIET_DAY, pid)
            w.member(shop.quiet_id, pid, "thanked")
        w.hold(quiet_run, QUIET_DAY, quiet[2])
        w.member(shop.quiet_id, quiet[2], "holdout")
        shop.draft_id = w.campaign("Not yet", DAY, None, status=CampaignStatus.draft)
    with db.transaction() as s:
        erase_person(
            s, person_ref=shop.treated[0], secret_key="test-secret", erased_by="test", reason="asked"
        )
    return shop


def values(report: object, metric: str) -> tuple[object, ...]:
    c = report.comparison(metric)  # type: ignore[attr-defined]
    return c.treated_n, c.holdout_n, c.treated_value, c.holdout_value


def test_plan_day_report_gives_the_numbers_built_in(db: Database) -> None:
    shop = build_business(db)
    with db.reading() as s:
        report = impact_for_day(s, day=DAY, settings=settings_for(db), now=AFTER)
    assert (report.kind, report.label, report.start, report.end) == ("day", "Plan of 2026-03-02", START, END)
    assert report.window_complete and report.as_of == END
    # The Spring campaign's 40 plan items and its holdout row on the same day are not the daily plan's.
    assert (report.treated_n, report.holdout_n) == (50, 50)
    assert [c.metric for c in report.comparisons] == [
        "repeat_purchase", "orders", "spend", "bank_change", "complaints", "unsubscribes",
    ]  # fmt: skip
    assert values(report, "repeat_purchase") == (50, 50, 0.3, 0.2)
    assert report.comparison("repeat_purchase").difference == pytest.approx(0.1, abs=1e-12)
    assert values(report, "orders") == (50, 50, 30 / 50, 11 / 50)
    assert values(report, "spend") == (50, 50, 1200.0, 600.0)
    assert report.comparison("spend").difference == 600.0
    assert values(report, "bank_change") == (50, 50, 5.0, -20 / 50)
    assert values(report, "complaints") == (50, 50, 1 / 50, 5 / 50)
    assert values(report, "unsubscribes") == (50, 50, 2 / 50, 3 / 50)
    spend = report.comparison("spend")
    assert spend.low is not None and spend.high is not None and spend.low <= 600.0 <= spend.high
    assert "EUR" in spend.sentence
    assert "50 thanked, 50 held out" in report.headline and "so far" not in report.headline
    assert shop.treated[0] in shop.treated  # erased, and still counted: 15 buyers include them
    data = json.loads(json.dumps(report.as_dict()))
    assert data["treated_n"] == 50 and data["window_complete"] is True
    assert data["comparisons"][2]["metric"] == "spend" and data["comparisons"][2]["difference"] == 600.0


def test_window_not_over_is_reported_so_far(db: Database) -> None:
    build_business(db)
    now = START + timedelta(days=10)
    with db.reading() as s:
        report = impact_for_day(s, day=DAY, settings=settings_for(db), now=now)
    assert not report.window_complete and report.as_of == now and report.end == END
    assert "so far (10 of 30 days)" in report.headline
    assert report.as_dict()["so_far"] is True
    # The thanked buyer whose second order is at END has one order so far: 29, not 30.
    assert values(report, "orders") == (50, 50, 29 / 50, 11 / 50)
    assert values(report, "repeat_purchase") == (50, 50, 0.3, 0.2)


def test_a_longer_window_counts_what_came_later(db: Database) -> None:
    build_business(db)
    with db.reading() as s:
        report = impact_for_day(s, day=DAY, settings=settings_for(db), window_days=60, now=AFTER)
    # The purchase a second after the 30-day window is now in: 16 thanked buyers.
    assert values(report, "repeat_purchase") == (50, 50, 16 / 50, 0.2)
    assert report.window_days == 60


def test_campaign_report_compares_members_as_assigned(db: Database) -> None:
    shop = build_business(db)
    with db.reading() as s:
        report = impact_for_campaign(s, campaign_id=shop.spring_id, settings=settings_for(db), now=AFTER)
    assert (report.kind, report.label, report.campaign_id) == ("campaign", "Spring thanks", shop.spring_id)
    assert (report.treated_n, report.holdout_n) == (40, 40)  # the 10 excluded big spenders are out
    assert values(report, "repeat_purchase") == (40, 40, 0.3, 0.2)
    assert values(report, "spend") == (40, 40, 1500.0, 500.0)
    assert report.comparison("spend").difference == 1000.0
    assert values(report, "orders") == (40, 40, 0.3, 0.2)


def test_unknown_and_unlaunched_campaigns_and_empty_days_are_refused(db: Database) -> None:
    shop = build_business(db)
    settings = settings_for(db)
    with db.reading() as s:
        with pytest.raises(ImpactError, match="not launched"):
            impact_for_campaign(s, campaign_id=shop.draft_id, settings=settings, now=AFTER)
        with pytest.raises(ImpactError, match="no campaign with id 999999"):
            impact_for_campaign(s, campaign_id=999_999, settings=settings, now=AFTER)
        # Only a campaign's run was made that day: there is no daily plan to analyse.
        with pytest.raises(ImpactError, match="nobody was planned or held out on 2026-03-09"):
            impact_for_day(s, day=QUIET_DAY, settings=settings, now=AFTER)
        with pytest.raises(ImpactError, match="window"):
            impact_for_day(s, day=DAY, settings=settings, window_days=0, now=AFTER)


def test_since_lists_plan_days_with_a_holdout_and_launched_campaigns(db: Database) -> None:
    shop = build_business(db)
    with db.reading() as s:
        reports = impact_since(s, since=date(2026, 3, 1), settings=settings_for(db), now=AFTER)
        later = impact_for_day(s, day=LATER_DAY, settings=settings_for(db), now=AFTER)
    assert [(r.kind, r.label) for r in reports] == [
        ("campaign", "Spring thanks"),
        ("day", "Plan of 2026-03-02"),
        ("campaign", "Quiet note"),  # its day is not a plan day: only a campaign ran
        ("day", "Plan of 2026-04-10"),
    ]
    assert [(r.treated_n, r.holdout_n) for r in reports] == [(40, 40), (50, 50), (2, 1), (3, 2)]
    assert (later.treated_n, later.holdout_n) == (3, 2)
    assert all(c.verdict == "too small to tell" for c in later.comparisons)
    assert reports[1].comparisons == impact_for_day_again(db, shop)
    with db.reading() as s:
        assert (
            impact_since(s, since=date(2026, 4, 1), settings=settings_for(db), now=AFTER)[0].day == LATER_DAY
        )
        # A window that has not begun (the plan day is today) is left out of the list.
        assert (
            impact_since(s, since=date(2026, 4, 1), settings=settings_for(db), now=START - timedelta(hours=2))
            == []
        )


def impact_for_day_again(db: Database, shop: Shop) -> list[object]:
    """The same report on its own: a report does not depend on what else was analysed with it."""
    with db.reading() as s:
        return list(impact_for_day(s, day=DAY, settings=settings_for(db), now=AFTER).comparisons)
