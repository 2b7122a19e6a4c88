"""The Impact page over real HTTP: who may see it, what it says, and its charts (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_impact_service import build_business
from test_web_client import BASE_URL, add_user, login

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.web.app import create_app
from goodwill.web.deps import role_table


def client_as(db: Database, role: str) -> TestClient:
    settings = load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Teapot & Co", "timezone": "Europe/Paris", "currency": "EUR"},
        impact={"window_days": 30, "bootstrap_samples": 400},
    )
    client = TestClient(create_app(settings, db), base_url=BASE_URL)
    add_user(db, f"{role}@shop.test", role)
    assert login(client, f"{role}@shop.test").status_code == 303
    return client


def content(html: str) -> str:
    """The page's own part: below the shared header (whose htmx script tag is allowed)."""
    return html.split('<main class="page">', 1)[1]


def cells(main: str, outcome: str) -> list[str]:
    """Thanked, held out and difference from the row of one outcome in the "Every outcome" table."""
    row = main.split(f"<tr><td>{outcome}</td>", 1)[1].split("</tr>", 1)[0]
    return re.findall(r'<td class="num">([^<]*)</td>', row)


def test_only_managers_and_admins_may_see_impact(db: Database) -> None:
    app = client_as(db, "admin").app
    assert isinstance(app, FastAPI)
    assert role_table(app)[("GET", "/impact")] == frozenset({"admin", "manager"})
    anonymous = TestClient(client_as(db, "manager").app, base_url=BASE_URL)
    assert anonymous.get("/impact", follow_redirects=False).status_code == 303
    agent = client_as(db, "agent")
    refused = agent.get("/impact")
    assert refused.status_code == 403 and "may not see whether thanks brings people back" in refused.text
    assert 'href="/impact"' not in agent.get("/people").text  # no menu link to a page they cannot open


def test_without_a_holdout_the_page_says_so_kindly(db: Database) -> None:
    page = client_as(db, "manager").get("/impact")
    assert page.status_code == 200
    assert "No holdout yet:" in page.text and "<svg" not in content(page.text)


def test_period_page_shows_cards_charts_and_a_row_per_plan_day_and_campaign(db: Database) -> None:
    build_business(db)
    page = client_as(db, "admin").get("/impact?since=2026-03-01")
    assert page.status_code == 200, page.text
    main = content(page.text)
    assert "<script" not in main and "style=" not in main and "<style" not in main
    # Two uplift charts: a mark (dot and error bar) per plan day or campaign, and the zero line.
    assert main.count('<svg xmlns="http://www.w3.org/2000/svg" class="impact-chart"') == 2
    assert main.count('class="impact-mark') == 2 * 4 and main.count('class="impact-zero"') == 2
    rows = re.findall(r'<a href="(/impact\?[^"]+)">([^<]+)</a>', main)
    assert [label for _, label in rows][-4:] == [
        "Plan of 2026-04-10", "Quiet note", "Plan of 2026-03-02", "Spring thanks",
    ]  # fmt: skip
    assert "+10.0 pts" in main  # the plan day's and the campaign's difference in buying again
    # The cards are the latest complete report with enough people in both groups: the plan of
    # 2 March (the plan of 10 April has 3 and 2 people, drawn as hollow dots without an interval).
    featured = main.split('id="featured-title">', 1)[1].split("</h2>", 1)[0]
    assert "Latest complete:" in featured and "Plan of 2026-03-02" in featured
    assert "50 thanked, 50 held out, over the 30 days after 2 Mar 2026:" in main
    assert main.count('class="card impact-card') == 6
    assert main.count('class="impact-mark impact-small"') == 2 * 2  # 10 April and the Quiet note
    assert "Too small to tell" in main and "How to read this" in main and "docs/impact.md" in main


def test_one_campaign_by_id_or_name_and_one_plan_day(db: Database) -> None:
    shop = build_business(db)
    client = client_as(db, "manager")
    by_id = content(client.get(f"/impact?campaign={shop.spring_id}").text)
    by_name = content(client.get("/impact", params={"campaign": "Spring thanks"}).text)
    for main in (by_id, by_name):
        assert "Campaign “Spring thanks”" in main
        assert "40 thanked, 40 held out" in main
        # Bought again 30% vs 20%; spend EUR 15.00 vs EUR 5.00 a person.
        assert cells(main, "Bought again") == ["30.0%", "20.0%", "+10.0 pts"]
        assert cells(main, "Spend per person") == ["EUR 15.00", "EUR 5.00", "+EUR 10.00"]
    day = content(client.get("/impact?day=2026-03-02").text)
    assert "Plan of 2 Mar 2026" in day and "50 thanked, 50 held out" in day
    assert day.count('class="impact-mark') == 2  # one mark in each chart


def test_bad_parameters_are_named(db: Database) -> None:
    build_business(db)
    client = client_as(db, "manager")
    missing = client.get("/impact?campaign=999999")
    assert missing.status_code == 404 and "no campaign with id or name" in missing.text
    draft = client.get("/impact", params={"campaign": "Not yet"})
    assert draft.status_code == 400 and "not launched yet" in draft.text
    bad = client.get("/impact?since=1st%20of%20March")
    assert bad.status_code == 400 and "since: &#39;1st of March&#39; is not a date" in bad.text
    assert client.get("/impact?day=2026-03-09").status_code == 400  # only a campaign ran that day
    # Odd digits, ids past 64 bits and days at the calendar's end are the caller's error, not a 500.
    for query in ("campaign=%C2%B2", "campaign=99999999999999999999", "day=9999-12-31"):
        assert client.get(f"/impact?{query}").status_code in (400, 404, 422), query


@pytest.mark.parametrize("query", ["", "?since=2026-03-01"])
def test_page_is_read_only(db: Database, query: str) -> None:
    build_business(db)
    client = client_as(db, "manager")
    assert client.post(f"/impact{query}").status_code in (403, 405)
