"""A campaign in a real browser: a manager creates one for the seeded shop's regulars (a typo first,
refused next to its field with the rest kept), previews who it reaches, who is left out and why, and
sample drafts with their sincerity scores, launches it through the confirmation, and sees its status.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from serving import RunningServer
from shop import seed
from sqlalchemy import func, select
from test_web_browser import log_in, open_page

from goodwill.campaigns.model import Campaign, CampaignMember
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.service import NewEvent, record_event
from goodwill.people import service as people
from goodwill.people.service import PersonRecord

pytestmark = pytest.mark.e2e

# Regulars added to the seeded shop: three orders each, all agreed to email; Yann was thanked lately.
REGULARS = {
    "ines@moreau.test": "Inès Moreau",
    "leo@garnier.test": "Léo Garnier",
    "yann@kerbrat.test": "Yann Kerbrat",
}
REFUSED_LOG = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
TEMPLATE = """Subject: Thank you, {{ first_name }}
{% if channel == "email" %}Hi {{ first_name }},

With the year ending, I wanted to thank you for coming back to us {{ orders }} times.
It means a lot to a small shop.

{{ writer_name }}
{{ business_name }}{% else %}Thank you, {{ first_name }}. – {{ signature }}{% endif %}"""


def add_regulars(db: Database) -> None:
    now = datetime.now(UTC)
    with db.transaction() as s:
        records = [
            PersonRecord(name=name, email=email, consent={"email": True}) for email, name in REGULARS.items()
        ]
        ids, _ = people.resolve_people(s, records, source="e2e")
        for n, pid in enumerate(ids):
            for k in range(3):
                at = now - timedelta(days=30 + 25 * k + n)
                order = NewEvent(person_id=pid, kind="purchase", occurred_at=at, source="shop",
                                 source_id=f"reg-{n}-{k}", amount_minor=4200, currency="EUR")  # fmt: skip
                record_event(s, order)
        thanked_at = now - timedelta(days=12)  # Yann: within the contact cap's window
        record_event(s, NewEvent(person_id=ids[2], kind="appreciation_sent", occurred_at=thanked_at,
                                 source="shop", source_id="reg-thanks"))  # fmt: skip
        people.mark_customers(s, ids)


@pytest.fixture
def campaign_server(tmp_path: Path) -> Iterator[tuple[str, Database, Settings]]:
    db = Database(f"sqlite:///{tmp_path / 'goodwill-campaigns.db'}")
    db.migrate()
    seed(db)
    add_regulars(db)
    settings = load_settings(
        database_url=db.url,
        secret_key="e2e-secret",
        business={"name": "Maison Lumière", "timezone": "Europe/Paris", "currency": "EUR"},
    )
    running = RunningServer(settings, db)
    yield running.url, db, settings
    running.stop()
    db.dispose()


def members(db: Database) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(CampaignMember)) or 0


def test_a_manager_creates_previews_and_launches_a_campaign(
    browser: Any, campaign_server: tuple[str, Database, Settings], artifacts: Path
) -> None:
    base, db, settings = campaign_server
    send_on = (datetime.now(UTC).astimezone(settings.business.tz) + timedelta(days=5)).date()
    context, page, problems = open_page(browser, viewport={"width": 1280, "height": 900})
    log_in(page, base)
    page.wait_for_url(f"{base}/people")
    page.goto(f"{base}/campaigns")
    expect(page.locator("h1")).to_have_text("Campaigns")
    expect(page.locator(".empty-state")).to_contain_text("No campaigns yet")
    page.get_by_role("link", name="New campaign").click()
    page.wait_for_url(f"{base}/campaigns/new")

    # The form: a typo in a number is refused next to its field; everything typed is kept.
    page.fill("input[name=name]", "End of year thanks")
    page.fill("textarea[name=description]", "Our regulars, by email")
    page.fill("input[name=send_on]", send_on.isoformat())
    page.select_option("select[name=kind]", "customer")
    page.fill("input[name=min_orders_total]", "2")
    page.fill("input[name=min_spend]", "12.345")
    for channel in ("sms", "card", "call"):
        page.uncheck(f"input[name=channels][value={channel}]")
    page.fill("textarea[name=template_default]", TEMPLATE)
    page.fill("input[name=holdout_percent]", "0")
    page.get_by_role("button", name="Create and preview").click()
    error = page.locator("#error-min_spend")
    expect(error).to_be_visible()
    expect(page.locator(".alert-error")).to_contain_text("not saved")
    assert page.input_value("input[name=name]") == "End of year thanks"
    assert page.input_value("textarea[name=template_default]") == TEMPLATE
    assert page.is_checked("input[name=channels][value=email]") and not page.is_checked(
        "input[name=channels][value=card]"
    )
    page.screenshot(path=str(artifacts / "campaign-form-refused.png"), full_page=True)
    page.fill("input[name=min_spend]", "")
    page.get_by_role("button", name="Create and preview").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+\?saved=1$"))

    # The preview: who it reaches, who is left out and why, the work, and how the notes read.
    expect(page.locator("h1")).to_contain_text("End of year thanks")
    expect(page.locator(".page-head p.muted")).to_contain_text("Customers with 2 or more orders in all")
    expect(page.locator("#audience-size")).to_have_text("4")  # Zoë and the three regulars
    expect(page.locator("#to-thank")).to_have_text("3")
    expect(page.locator("#left-out")).to_have_text("1")
    expect(page.locator("#left-out-panel li[data-reason=cap]")).to_contain_text("thanked recently")
    expect(page.locator("#left-out-panel svg[role=img] .campaign-bar")).to_have_count(1)
    expect(page.locator("#workload-panel tr[data-channel=email]")).to_contain_text("3 emails")
    samples = page.locator("article.campaign-sample")
    expect(samples).to_have_count(3)
    for i in range(3):
        sample = samples.nth(i)
        expect(sample.locator(".campaign-sample-body")).to_contain_text("thank you for coming back to us")
        score = int(sample.locator(".check-number").get_attribute("data-score") or "-1")
        assert 0 <= score <= 100
    expect(page.locator("article.campaign-sample", has_text="Inès")).to_contain_text("reads as sincere")
    assert members(db) == 0  # a preview writes nothing
    page.screenshot(path=str(artifacts / "campaign-preview.png"), full_page=True)

    # Launch, through the confirmation.
    launch_now = page.get_by_role("button", name="Yes, launch it")
    expect(launch_now).to_be_hidden()
    page.locator("summary", has_text="Launch this campaign").click()
    expect(launch_now).to_be_visible()
    expect(page.locator(".campaign-confirm-body")).to_contain_text("Launching twice is harmless")
    page.screenshot(path=str(artifacts / "campaign-confirm.png"), full_page=True)
    launch_now.click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+\?launched=1$"))
    expect(page.locator("#launch-result")).to_contain_text("Launched.")
    expect(page.locator("#thanked")).to_have_text("3")
    expect(page.locator("#held-out")).to_have_text("0")
    expect(page.locator("#left-out")).to_have_text("1")
    expect(page.locator("#waiting")).to_have_text("3")
    expect(page.locator("#notes-panel")).to_contain_text("3 waiting for review")
    expect(page.get_by_role("link", name="open the review queue")).to_have_attribute("href", "/notes")
    campaign_id = int(page.url.split("/campaigns/")[1].split("?")[0])
    impact = page.locator("#impact-link")
    expect(impact).to_have_attribute("href", f"/impact?campaign={campaign_id}")
    expect(page.get_by_role("button", name="Yes, launch it")).to_have_count(0)
    page.screenshot(path=str(artifacts / "campaign-status.png"), full_page=True)
    assert members(db) == 4
    with db.reading() as s:
        stored = s.get(Campaign, campaign_id)
        assert stored is not None and stored.status == "launched"

    page.goto(f"{base}/campaigns")
    row = page.locator(f"#campaign-{campaign_id}")
    expect(row).to_contain_text("Launched")
    expect(row.locator("td.num")).to_have_text(["3", "0", "1"])
    page.screenshot(path=str(artifacts / "campaigns-list.png"), full_page=True)
    assert problems == [REFUSED_LOG]  # the one refused form (422), nothing else: no CSP violation
    context.close()
