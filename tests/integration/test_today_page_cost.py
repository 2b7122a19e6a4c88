"""The Today page's cost does not grow with the day's plan: same statements for 20 and 80 items.

Under load the page was the most expensive one; most of its time went to reading every held-out
person of the day (~20,000 rows at 1M people) to list twelve of them. These tests pin the number
of SQL statements a ``GET /today`` runs, on a 20-item and an 80-item plan with drafted notes, and
(on PostgreSQL, where the driver reports it) the rows those statements return; and they check that
the page still shows what the full ``plan_view`` holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from test_web_client import BASE_URL, add_user, login

from goodwill.campaigns import service as campaigns
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.importers.service import import_events
from goodwill.notes import service as notes
from goodwill.people.service import get_person, record_consent
from goodwill.planner.model import PlanHoldout, PlanRun
from goodwill.planner.service import plan_view
from goodwill.web.app import create_app

SMALL_DAY = date(2026, 11, 20)
BIG_DAY = SMALL_DAY + timedelta(days=14)
MAX_STATEMENTS = 4  # session + items + holdout shown + latest run with the day's held-out count


def _settings(db: Database, *, capacity: int) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Teapot & Co", "timezone": "Europe/London", "currency": "GBP"},
        planner={"policy": {"holdout_share": "0.2", "capacity": {"email": capacity}}},
    )


def _seed_day(
    db: Database, tmp_path: Path, *, day: date, people: int, capacity: int, batch: str = ""
) -> None:
    """``people`` customers whose second order was the day before ``day``; ``day`` planned and drafted
    (again, for a second ``batch`` of people on a day already planned)."""
    tag = day.isoformat() + batch
    lines = []
    for i in range(people):
        person = {"email": f"p{i}-{tag}@example.com", "name": f"Person {i} {tag}"}
        lines.append({**person, "source_id": f"{tag}-a{i}", "kind": "purchase",
                      "occurred_at": "2025-01-06T10:00:00Z", "amount": "20.00"})  # fmt: skip
        lines.append({**person, "source_id": f"{tag}-b{i}", "kind": "purchase",
                      "occurred_at": f"{day - timedelta(days=1)}T10:00:00Z", "amount": "35.00"})  # fmt: skip
    path = tmp_path / f"events-{tag}.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    settings = _settings(db, capacity=capacity)
    with db.transaction() as s:
        report = import_events(session=s, path=path, business=settings.business)
        assert not report.rejected, report.rejected
        for i in range(people):
            person_id = get_person(s, f"p{i}-{tag}@example.com").id
            record_consent(s, person_id=person_id, channel="email", granted=True, source="test")
    with db.transaction() as s:
        _, drafted = notes.plan_and_draft(s, day=day, settings=settings)
    assert len(drafted) == capacity if not batch else drafted  # a later batch: the capacity left


@contextmanager
def _counting(db: Database) -> Iterator[dict[str, int]]:
    """Statements run, and rows they returned where the driver reports it (not SQLite's SELECTs)."""
    seen = {"statements": 0, "rows": 0}

    def before(*_: Any) -> None:
        seen["statements"] += 1

    def after(_conn: Any, cursor: Any, *_: Any) -> None:
        seen["rows"] += max(cursor.rowcount, 0)

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)


def _page(db: Database, client: TestClient, day: date) -> tuple[str, dict[str, int]]:
    client.get("/today", params={"day": day.isoformat()})  # warm: templates compiled, caches filled
    with _counting(db) as seen:
        page = client.get("/today", params={"day": day.isoformat()})
    assert page.status_code == 200
    return page.text, seen


def test_today_page_statements_do_not_grow_with_the_plan(db: Database, tmp_path: Path) -> None:
    _seed_day(db, tmp_path, day=SMALL_DAY, people=40, capacity=20)
    _seed_day(db, tmp_path, day=BIG_DAY, people=130, capacity=80)
    add_user(db, "max@shop.test", "manager", name="Max Stone")
    client = TestClient(create_app(_settings(db, capacity=200), db), base_url=BASE_URL)
    assert login(client, "max@shop.test").status_code == 303

    small, small_cost = _page(db, client, SMALL_DAY)
    big, big_cost = _page(db, client, BIG_DAY)

    assert small.count('class="priority"') == 20
    assert big.count('class="priority"') == 80
    assert big.count('href="/notes/') == 80  # every item's drafted note has its Review link
    assert small_cost["statements"] == big_cost["statements"] <= MAX_STATEMENTS, (small_cost, big_cost)
    if db.dialect == "postgresql":
        # 1 session row, the items, at most 12 held-out people and 1 run: holdouts not all read.
        assert big_cost["rows"] <= 80 + 12 + 2, big_cost


def test_today_page_shows_what_the_full_plan_view_holds(db: Database, tmp_path: Path) -> None:
    _seed_day(db, tmp_path, day=BIG_DAY, people=130, capacity=80)
    add_user(db, "max@shop.test", "manager", name="Max Stone")
    client = TestClient(create_app(_settings(db, capacity=200), db), base_url=BASE_URL)
    assert login(client, "max@shop.test").status_code == 303
    with db.reading() as s:
        full = plan_view(s, BIG_DAY, default_zone="Europe/London")
    held = full["holdout"]
    assert len(held) > 12  # enough for the "and N more" line

    page, _ = _page(db, client, BIG_DAY)

    assert f'<span class="stat-value">{len(held)}</span><span class="stat-label">held out</span>' in page
    assert f"<h2>Held out ({len(held)})</h2>" in page
    assert f'<li class="muted">and {len(held) - 12} more</li>' in page
    section = page.split("<h2>Held out", 1)[1]
    listed = [int(pid) for pid in re.findall(r'<li><a href="/people/(\d+)">', section)]
    assert listed == [h["person"]["id"] for h in held[:12]]
    rows = re.findall(r'<a class="person-link" href="/people/(\d+)">', page)
    assert [int(pid) for pid in rows] == [item["person"]["id"] for item in full["items"]]


def test_the_held_out_count_adds_up_every_daily_run_of_the_day(db: Database, tmp_path: Path) -> None:
    # The count is read from the runs (``PlanRun.held``), not from the holdout rows: a second run on
    # the same day (people who became eligible since) adds its own, and the page counts them all.
    _seed_day(db, tmp_path, day=BIG_DAY, people=60, capacity=20)
    _seed_day(db, tmp_path, day=BIG_DAY, people=70, capacity=40, batch="-later")
    add_user(db, "max@shop.test", "manager", name="Max Stone")
    client = TestClient(create_app(_settings(db, capacity=200), db), base_url=BASE_URL)
    assert login(client, "max@shop.test").status_code == 303
    with db.reading() as s:
        runs = s.scalars(select(PlanRun.held).where(PlanRun.day == BIG_DAY)).all()
        rows = s.scalar(select(func.count()).select_from(PlanHoldout).where(PlanHoldout.day == BIG_DAY))
        full = plan_view(s, BIG_DAY, default_zone="Europe/London")
    assert len(runs) == 2 and all(held > 0 for held in runs), runs
    assert rows == sum(runs) == len(full["holdout"])

    page, _ = _page(db, client, BIG_DAY)

    assert f"<h2>Held out ({rows})</h2>" in page
    assert f'<span class="stat-value">{rows}</span><span class="stat-label">held out</span>' in page


def test_a_campaign_held_out_on_the_same_day_is_not_counted(db: Database, tmp_path: Path) -> None:
    # A campaign's run on the day records its own holdout (``held``) but writes no holdout rows:
    # the day's count stays the daily runs', as when the rows were counted.
    _seed_day(db, tmp_path, day=BIG_DAY, people=60, capacity=20)  # ~30 left over by the capacity
    settings = _settings(db, capacity=20)
    with db.transaction() as s:
        draft = campaigns.CampaignDraft(
            name="Winter thanks", send_on=BIG_DAY, audience={"kind": "customer"}, templates={},
            channels=("email",), holdout_percent=50,
        )  # fmt: skip
        campaign_id = campaigns.create_campaign(s, draft=draft, user_id=None, settings=settings).id
    with db.transaction() as s:
        now = datetime.combine(BIG_DAY - timedelta(days=2), datetime.min.time(), tzinfo=UTC)
        report = campaigns.launch(s, campaign_id=campaign_id, user_id=None, settings=settings, now=now)
    assert report.holdout > 0, report
    add_user(db, "max@shop.test", "manager", name="Max Stone")
    client = TestClient(create_app(_settings(db, capacity=200), db), base_url=BASE_URL)
    assert login(client, "max@shop.test").status_code == 303
    with db.reading() as s:
        rows = s.scalar(select(func.count()).select_from(PlanHoldout).where(PlanHoldout.day == BIG_DAY))
        all_held = s.scalar(select(func.sum(PlanRun.held)).where(PlanRun.day == BIG_DAY))
    assert rows and all_held == rows + report.holdout  # the campaign's run is on the day too

    page, _ = _page(db, client, BIG_DAY)

    assert f"<h2>Held out ({rows})</h2>" in page
