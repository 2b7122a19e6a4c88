"""Someone we wrote to, in a real browser: open the unsubscribe link, press the button, done.

The server is the shared Uvicorn start-up over the seeded shop; this fixture also hands the test the
database (to make a real token for a real queued message, and to check what the button did).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from serving import RunningServer
from shop import seed
from test_web_browser import open_page

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.outbox.model import Message
from goodwill.people.service import current_consent, get_person
from goodwill.people.suppression import is_suppressed
from goodwill.people.unsubscribe import make_token, unsubscribe_url

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret"
ZOE = "zoe@lefevre.test"
BROKEN_LOG = "Failed to load resource: the server responded with a status of 400 (Bad Request)"


@pytest.fixture
def unsubscribe_server(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    db = Database(f"sqlite:///{tmp_path / 'goodwill-unsubscribe.db'}")
    db.migrate()
    seed(db)
    running = RunningServer(
        load_settings(
            database_url=db.url,
            secret_key=SECRET,
            business={"name": "Maison Lumière", "timezone": "Europe/Paris", "currency": "EUR"},
        ),
        db,
    )
    yield running.url, db
    running.stop()
    db.dispose()


def queue_email(db: Database, email: str) -> tuple[int, int]:
    with db.transaction() as s:
        person = get_person(s, email)
        message = Message(person_id=person.id, channel="email", subject="Thank you", body="Thank you, Zo.")
        s.add(message)
        s.flush()
        return person.id, message.id


def state(db: Database, person_id: int, message_id: int) -> tuple[dict[str, Any] | None, bool, str]:
    with db.reading() as s:
        message = s.get(Message, message_id)
        assert message is not None
        return (
            current_consent(s, person_id).get("email"),
            is_suppressed(s, secret_key=SECRET, kind="email", address=ZOE),
            message.status,
        )


def test_unsubscribe_by_the_button_and_a_tampered_link(
    browser: Any, unsubscribe_server: tuple[str, Database], artifacts: Path
) -> None:
    base, db = unsubscribe_server
    person_id, message_id = queue_email(db, ZOE)
    token = make_token(SECRET, person_id=person_id, channel="email", message_id=message_id)
    context, page, problems = open_page(browser, viewport={"width": 390, "height": 760})  # a phone

    # Opening the link (as a mail scanner would) shows the question and changes nothing.
    page.goto(unsubscribe_url(base, token))
    expect(page.locator("h1")).to_have_text("Unsubscribe from emails?")
    expect(page.locator(".brand")).to_have_text("Maison Lumière")
    expect(page.get_by_role("button")).to_have_count(1)
    expect(page.get_by_role("link", name="People")).to_have_count(0)  # nothing of the staff app
    page.screenshot(path=str(artifacts / "unsubscribe-question.png"), full_page=True)
    consent, blocked, status = state(db, person_id, message_id)
    assert consent is not None and consent["granted"] is True and not blocked and status == "queued"

    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("h1")).to_have_text("You're unsubscribed")
    expect(page.get_by_role("status")).to_contain_text("Maison Lumière will not send you emails any more")
    page.screenshot(path=str(artifacts / "unsubscribe-done.png"), full_page=True)
    consent, blocked, status = state(db, person_id, message_id)
    assert consent is not None and consent["granted"] is False and consent["source"] == "unsubscribe link"
    assert blocked and status == "cancelled"

    # A link changed on the way: a calm page saying it is broken, and a 400.
    payload, signature = token.split(".")
    tampered = f"{payload}.{signature[:-3]}{'AAA' if signature[-3:] != 'AAA' else 'BBB'}"
    answer = page.goto(unsubscribe_url(base, tampered))
    assert answer is not None and answer.status == 400
    expect(page.locator("h1")).to_have_text("This link is broken")
    expect(page.get_by_role("button")).to_have_count(0)
    page.screenshot(path=str(artifacts / "unsubscribe-broken.png"), full_page=True)
    context.close()
    assert set(problems) <= {BROKEN_LOG}, problems
