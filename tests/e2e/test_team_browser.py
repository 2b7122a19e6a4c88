"""The thanks wall in a real browser: an agent thanks a colleague and sees the card on the wall; a
customer's praise for that colleague, sent through the events API, shows as a customer card.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from serving import RunningServer
from shop import STAFF_PASSWORD, seed
from test_web_browser import open_page

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.team.service import create_api_token, create_user

pytestmark = pytest.mark.e2e

AGENT = "theo@maison.test"


@pytest.fixture
def team_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The seeded shop plus two agents, Théo and Tom; yields the URL and a manager's API token."""
    db = Database(f"sqlite:///{tmp_path / 'goodwill-team.db'}")
    db.migrate()
    seed(db)
    with db.transaction() as s:
        for email, name in ((AGENT, "Théo Marchand"), ("tom@maison.test", "Tom Baker")):
            create_user(session=s, email=email, role="agent", password=STAFF_PASSWORD, name=name)
        token = create_api_token(session=s, user_id=1, name="e2e")  # Camille, the seeded manager
    settings = load_settings(
        database_url=db.url,
        secret_key="e2e-secret",
        business={"name": "Maison Lumière", "timezone": "Europe/Paris", "currency": "EUR"},
    )
    running = RunningServer(settings, db)
    yield running.url, token
    running.stop()
    db.dispose()


def test_an_agent_thanks_a_colleague_and_customer_praise_joins_the_wall(
    browser: Any, team_server: tuple[str, str], artifacts: Path
) -> None:
    base, token = team_server
    context, page, problems = open_page(browser, viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/login?next=/team")
    page.fill("input[name=email]", AGENT)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/team")
    expect(page.locator("h1")).to_have_text("Thanks wall")
    expect(page.locator(".wall-empty")).to_be_visible()
    assert page.locator("text=Thanks received this month").count() == 0  # no ranking by default

    page.select_option("select[name=to_user_id]", label="Tom Baker")
    page.fill("textarea[name=reason]", "You stayed late to repack Zoë's order so it left on time.")
    page.click("text=Send thanks")
    page.wait_for_url(f"{base}/team?thanked=*")
    card = page.locator("article.kudos-card").first
    expect(card).to_contain_text("Théo Marchand thanked Tom Baker")
    expect(card).to_contain_text("You stayed late to repack Zoë's order so it left on time.")
    expect(page.locator(".alert-done")).to_contain_text("Your thanks is on the wall")
    page.screenshot(path=str(artifacts / "team-wall.png"), full_page=True)

    praise = {
        "email": "amelie@montmartre.test",
        "kind": "praise",
        "occurred_at": "2025-05-02T15:00:00+02:00",
        "text": "Tom found exactly the teapot I wanted.",
        "source_id": "e2e-praise-1",
    }
    answer = httpx.post(f"{base}/api/v1/events", json=praise, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.text
    page.goto(f"{base}/team")
    customer = page.locator("article.kudos-customer")
    expect(customer).to_have_count(1)
    expect(customer).to_contain_text("A customer praised Tom Baker")
    expect(customer.locator("blockquote")).to_have_text("Tom found exactly the teapot I wanted.")
    expect(customer).to_contain_text("Amélie")
    assert "amelie@montmartre.test" not in page.content() and "Poulain" not in customer.inner_text()
    expect(page.locator("article.kudos-card")).to_have_count(2)
    page.screenshot(path=str(artifacts / "team-wall-praise.png"), full_page=True)
    assert problems == []
    context.close()
