"""The complaint themes page over the real app (both backends): who sees it, the refresh, the cards."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_complaint_themes_service import REFUNDS, SIZES, open_one, settings_for
from test_web_client import BASE_URL, add_user, form_token, login

from goodwill.complaints.model import Complaint, ComplaintTheme
from goodwill.config import Settings
from goodwill.db import Database, utcnow
from goodwill.web.app import create_app
from goodwill.web.deps import role_table


def complaints(db: Database, settings: Settings) -> list[int]:
    """Six refund and six sizing complaints over the last weeks, and one too short to group."""
    now = utcnow()
    texts = [*REFUNDS, *SIZES, "Help!"]
    return [open_one(db, settings, n, text, now - timedelta(days=n * 3)) for n, text in enumerate(texts)]


def client_as(db: Database, settings: Settings, email: str, role: str) -> TestClient:
    add_user(db, email, role)
    client = TestClient(create_app(settings, db), base_url=BASE_URL)
    assert login(client, email).status_code == 303
    return client


def theme_count(db: Database) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(ComplaintTheme)) or 0)


def test_a_manager_refreshes_the_themes_and_sees_a_card_for_each(db: Database) -> None:
    settings = settings_for(db)
    ids = complaints(db, settings)
    manager = client_as(db, settings, "manager@shop.test", "manager")
    empty = manager.get("/complaints/themes")
    assert empty.status_code == 200, empty.text
    assert "No themes yet" in empty.text and 'action="/complaints/themes/refresh"' in empty.text
    refreshed = manager.post(
        "/complaints/themes/refresh", data={"csrf_token": form_token(empty.text)}, follow_redirects=False
    )
    assert refreshed.status_code == 303
    assert refreshed.headers["location"] == "/complaints/themes?refreshed=13"
    page = manager.get(refreshed.headers["location"])
    assert page.status_code == 200, page.text
    assert "Themes refreshed from 13 complaints." in page.text
    cards = re.findall(r'<section class="card reward-card theme-card[^"]*" id="theme-(\d+)"', page.text)
    assert len(cards) == 3 and theme_count(db) == 3
    counts = [int(n) for n in re.findall(r'<strong class="theme-count">(\d+)</strong>', page.text)]
    assert counts == [6, 6, 1]
    assert "refund" in page.text and "size" in page.text and "Too short, or too unlike the rest" in page.text
    assert page.text.count('<svg class="theme-sparkline"') == 3  # a chart per card
    assert (
        'aria-label="Complaints per week about' in page.text
        and page.text.count('class="theme-bar"') == 3 * 12
    )
    assert f'href="/complaints/{ids[0]}"' in page.text and f'href="/complaints/{ids[12]}"' in page.text
    assert re.search(r"<strong>-\d+ points</strong>", page.text)
    assert "style=" not in page.text and "<script>" not in page.text


def test_agents_may_neither_see_nor_refresh_the_themes(db: Database) -> None:
    settings = settings_for(db)
    complaints(db, settings)
    agent = client_as(db, settings, "agent@shop.test", "agent")
    assert agent.get("/complaints/themes").status_code == 403
    token = form_token(agent.get("/people").text)
    refused = agent.post("/complaints/themes/refresh", data={"csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403 and theme_count(db) == 0
    app = create_app(settings, db)
    roles = role_table(app)
    assert roles[("GET", "/complaints/themes")] == roles[("POST", "/complaints/themes/refresh")]
    assert roles[("GET", "/complaints/themes")] == frozenset({"admin", "manager"})


def test_the_refresh_needs_the_csrf_token(db: Database) -> None:
    settings = settings_for(db)
    complaints(db, settings)
    manager = client_as(db, settings, "manager@shop.test", "manager")
    missing = manager.post("/complaints/themes/refresh", data={}, follow_redirects=False)
    wrong = manager.post("/complaints/themes/refresh", data={"csrf_token": "nope"}, follow_redirects=False)
    assert missing.status_code == wrong.status_code == 403
    assert theme_count(db) == 0


def test_examples_are_only_complaints_the_viewer_may_open(db: Database) -> None:
    settings = settings_for(db)
    ids = complaints(db, settings)
    agent_id = add_user(db, "someone@shop.test", "agent")
    with db.transaction() as s:
        s.get_one(Complaint, ids[0]).assignee_id = agent_id  # not in any team the manager runs
    admin = client_as(db, settings, "admin@shop.test", "admin")
    page = admin.get("/complaints/themes")
    admin.post("/complaints/themes/refresh", data={"csrf_token": form_token(page.text)})
    assert f'href="/complaints/{ids[0]}"' in admin.get("/complaints/themes").text
    manager = client_as(db, settings, "manager@shop.test", "manager")
    seen = manager.get("/complaints/themes").text
    assert f'href="/complaints/{ids[0]}"' not in seen and f'href="/complaints/{ids[1]}"' in seen
    counts = [int(n) for n in re.findall(r'<strong class="theme-count">(\d+)</strong>', seen)]
    assert counts == [6, 6, 1]  # the figures still count it
