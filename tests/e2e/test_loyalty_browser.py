"""A customer and the shop in a real browser: the customer opens their signed loyalty link on a phone,
sees their points and redeems a gift in one click; staff find it on the fulfilment page and ship it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from serving import RunningServer
from shop import seed
from sqlalchemy import select
from test_web_browser import log_in, open_page

from goodwill.config import Settings, load_settings
from goodwill.db import Database, utcnow
from goodwill.loyalty import ledger
from goodwill.loyalty.links import customer_url
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, Redemption
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.service import get_person

pytestmark = pytest.mark.e2e

ZOE = "zoe@lefevre.test"


@pytest.fixture
def loyalty_server(tmp_path: Path) -> Iterator[tuple[str, Database, Settings]]:
    db = Database(f"sqlite:///{tmp_path / 'goodwill-loyalty.db'}")
    db.migrate()
    seed(db)
    running_settings = load_settings(
        database_url=db.url,
        secret_key="e2e-secret",
        business={"name": "Maison Lumière", "timezone": "Europe/Paris", "currency": "EUR"},
    )
    running = RunningServer(running_settings, db)
    settings = load_settings(
        database_url=db.url,
        secret_key="e2e-secret",
        business={"name": "Maison Lumière", "timezone": "Europe/Paris", "currency": "EUR"},
        delivery={"public_url": running.url},
    )
    yield running.url, db, settings
    running.stop()
    db.dispose()


def give_points(db: Database) -> tuple[int, int]:
    """Zoë's address on file, 640 points to spend and 120 on their way; a gift and free shipping."""
    now = utcnow()
    with db.transaction() as s:
        zoe = get_person(s, ZOE)
        zoe.address_line1, zoe.postal_code = "12 rue des Lilas", "69001"
        for key, points, available in [
            ("old", 640, now - timedelta(days=20)),
            ("new", 120, now + timedelta(days=6)),
        ]:
            ledger.add_lot(
                s,
                person_id=zoe.id,
                kind=EntryKind.earn,
                points=points,
                key=f"earn:e2e:{key}",
                at=available - timedelta(days=14),
                available_at=available,
                expires_at=now + timedelta(days=40 if key == "old" else 360),
                rule="purchase",
            )
        gift = create_reward(
            s,
            data=RewardInput(
                name="Lemon tart tin",
                kind="physical_gift",
                cost_points=500,
                stock=4,
                description="Our fluted tin, the one we bake in.",
            ),
        )
        create_reward(s, data=RewardInput(name="Free shipping", kind="free_shipping", cost_points=100))
        return zoe.id, gift.id


def test_a_customer_redeems_in_one_click_and_staff_ship_it(
    browser: Any, loyalty_server: tuple[str, Database, Settings], artifacts: Path
) -> None:
    base, db, settings = loyalty_server
    zoe, gift = give_points(db)
    link = customer_url(settings=settings, person_id=zoe, now=utcnow())
    assert link.startswith(f"{base}/my/loyalty/")

    context, page, problems = open_page(browser, viewport={"width": 390, "height": 844})  # a phone
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Hello Zo")
    expect(page.locator("#available")).to_have_text("640")
    expect(page.locator(".pending-lot")).to_contain_text("120 from")
    expect(page.locator(".expiring")).to_contain_text("640 points expire on")
    expect(page.get_by_role("link", name="People")).to_have_count(0)  # nothing of the staff app
    card = page.locator(f"#reward-{gift}")
    # A forwarded link must not tell where she lives: only her name is filled in from the file.
    expect(card.locator("input[name=name]")).to_have_value("Zoë Lefèvre")
    expect(card.locator("input[name=line1]")).to_have_value("")
    expect(page.get_by_text("12 rue des Lilas")).to_have_count(0)
    page.screenshot(path=str(artifacts / "loyalty-customer.png"), full_page=True)

    card.get_by_label("Address", exact=True).fill("12 rue des Lilas")
    card.get_by_label("Postcode").fill("69001")
    card.get_by_label("City").fill("Lyon")
    card.get_by_label("Country").fill("France")
    card.get_by_role("button", name="Redeem for 500 points").click()
    expect(page.get_by_role("status")).to_contain_text("Lemon tart tin is yours for 500 points")
    expect(page.get_by_role("status")).to_contain_text("the address you gave us")
    expect(page.locator("#available")).to_have_text("140")
    page.screenshot(path=str(artifacts / "loyalty-redeemed.png"), full_page=True)
    birthday = page.locator("#birthday")
    birthday.get_by_label("Month").select_option(label="February")
    birthday.get_by_label("Day").select_option("29")
    birthday.get_by_role("button", name="Save my birthday").click()
    expect(page.locator("#birthday").get_by_role("status")).to_contain_text("We will remember your birthday")
    context.close()
    assert problems == []
    with db.reading() as s:
        [made] = s.scalars(select(Redemption)).all()
        assert (made.person_id, made.reward_id, made.status) == (zoe, gift, "pending")
        assert made.ship_to is not None and made.ship_to["line1"] == "12 rue des Lilas"
        account = s.get(LoyaltyAccount, zoe)
        assert account is not None and (account.birthday_month, account.birthday_day) == (2, 29)
        rid = made.id

    context, page, problems = open_page(browser, viewport={"width": 1280, "height": 900})
    log_in(page, base)
    page.wait_for_url(f"{base}/people")
    page.get_by_role("link", name="Loyalty").click()
    expect(page.locator("#queue")).to_contain_text("1")
    page.get_by_role("link", name="Fulfilment").click()
    row = page.locator(f"#redemption-{rid}")
    expect(row).to_contain_text("Zoë Lefèvre")
    expect(row.locator("address")).to_contain_text("12 rue des Lilas")
    row.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("approved, ready to fulfil")
    row = page.locator(f"#redemption-{rid}")
    row.get_by_label("Tracking").fill("LP123456789FR")
    page.screenshot(path=str(artifacts / "loyalty-fulfilment.png"), full_page=True)
    row.get_by_role("button", name="Mark shipped").click()
    expect(page.get_by_role("status")).to_contain_text("marked shipped")
    expect(page.locator("#status-shipped")).to_contain_text("LP123456789FR")
    page.wait_for_url(re.compile(r".*/loyalty/fulfilment\?moved=\d+&to=shipped"))

    # The program page, the catalogue and the person's panel show the same facts.
    page.get_by_role("link", name="Program").click()
    expect(page.locator("#month-redeemed")).to_have_text("500")
    expect(page.locator(".tier-chart svg")).to_be_visible()
    page.screenshot(path=str(artifacts / "loyalty-overview.png"), full_page=True)
    page.get_by_role("link", name="Rewards", exact=True).click()
    expect(page.locator(f"#reward-{gift}")).to_contain_text("3")  # stock after the redemption
    page.screenshot(path=str(artifacts / "loyalty-rewards.png"), full_page=True)
    page.goto(f"{base}/people/{zoe}")
    expect(page.locator("#loyalty-available")).to_have_text("140")
    page.locator("#loyalty").screenshot(path=str(artifacts / "loyalty-person-panel.png"))
    context.close()
    assert problems == []
    with db.reading() as s:
        shipped = s.get(Redemption, rid)
        assert shipped is not None and (shipped.status, shipped.tracking) == ("shipped", "LP123456789FR")
