"""A manager in a real browser: make today's plan, review a draft with the live sincerity check, approve it.

The shared ``live_server`` fixture only takes web settings, and this flow needs a holdout share of 0
(so every seeded moment is planned) and the database the server writes to (to see the outbox row).
``appreciation_server`` below starts the same Uvicorn server with those two differences.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from serving import RunningServer
from shop import seed
from sqlalchemy import select
from test_web_browser import log_in, open_page

from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.importers.service import import_events
from goodwill.notes.model import Note
from goodwill.outbox.model import Message
from goodwill.people.service import get_person, record_consent

pytestmark = pytest.mark.e2e

# Each came back for a second order yesterday; all consented to email.
RETURNING = {
    "ines@moreau.test": "Inès Moreau",
    "theo@garnier.test": "Théo Garnier",
    "lea@dubois.test": "Léa Dubois",
}
REFUSED_LOG = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
PITCH = "\n\nDear valued customer, use code SAVE10 for 10% off your next order!"


def seed_second_orders(db: Database, settings: Settings, folder: Path) -> dict[str, str]:
    """Second orders relative to now, so they are a moment on today's date in the business time zone.

    Returns each person's expected evidence ("2nd order on <local date>").
    """
    now = datetime.now(UTC)
    lines = []
    evidence = {}
    for n, (email, name) in enumerate(RETURNING.items()):
        for ordinal, days_ago in ((1, 200), (2, 1)):
            at = (now - timedelta(days=days_ago, minutes=n)).isoformat()
            lines.append(
                {
                    "source_id": f"ret-{n}-{ordinal}",
                    "email": email,
                    "name": name,
                    "kind": "purchase",
                    "occurred_at": at,
                    "amount": f"{30 + 5 * n}.00",
                }
            )
        second = (now - timedelta(days=1, minutes=n)).astimezone(settings.business.tz).date()
        evidence[name] = f"2nd order on {second.isoformat()}"
    path = folder / "second-orders.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with db.transaction() as s:
        report = import_events(session=s, path=path, business=settings.business)
        assert not report.rejected, report.rejected
        for email in RETURNING:
            record_consent(
                s, person_id=get_person(s, email).id, channel="email", granted=True, source="checkout"
            )
    return evidence


@pytest.fixture
def appreciation_server(tmp_path: Path) -> Iterator[tuple[str, Database, dict[str, str]]]:
    db = Database(f"sqlite:///{tmp_path / 'goodwill-appreciation.db'}")
    db.migrate()
    seed(db)
    settings = load_settings(
        database_url=db.url,
        secret_key="e2e-secret",
        business={"name": "Maison Lumière", "timezone": "Europe/Paris", "currency": "EUR"},
        planner={"policy": {"holdout_share": "0"}},
    )
    evidence = seed_second_orders(db, settings, tmp_path)
    running = RunningServer(settings, db)
    yield running.url, db, evidence
    running.stop()
    db.dispose()


def queued_for(db: Database, note_id: int) -> list[str]:
    with db.reading() as s:
        return list(s.scalars(select(Message.status).where(Message.note_id == note_id)).all())


def note_status(db: Database, note_id: int) -> str:
    with db.reading() as s:
        note = s.get(Note, note_id)
        assert note is not None
        return note.status


def score(page: Any) -> int:
    return int(page.locator("#check .check-number").get_attribute("data-score"))


def make_the_plan(page: Any, base: str) -> None:
    log_in(page, base)
    page.wait_for_url(f"{base}/people")
    page.goto(f"{base}/today")
    expect(page.locator("h1")).to_have_text("Today")
    expect(page.locator(".empty-state")).to_contain_text("No plan yet")
    page.get_by_role("button", name="Make the plan").click()
    page.wait_for_url(re.compile(r".*/today\?day=\d{4}-\d{2}-\d{2}$"))
    expect(page.get_by_role("button", name="Plan again")).to_be_visible()


def test_plan_review_with_live_check_and_approve(
    browser: Any, appreciation_server: tuple[str, Database, dict[str, str]], artifacts: Path
) -> None:
    base, db, evidence = appreciation_server
    context, page, problems = open_page(browser, viewport={"width": 1280, "height": 900})

    # Today: no plan yet; the manager makes it and sees whom to thank, and why.
    make_the_plan(page, base)
    for name in RETURNING.values():
        row = page.locator("tbody tr", has_text=name)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Second order")
        expect(row).to_contain_text(evidence[name])
        expect(row).to_contain_text("Email")
        expect(row.get_by_role("link", name="Review")).to_be_visible()
    expect(page.locator(".stat", has_text="held out")).to_contain_text("0")
    page.screenshot(path=str(artifacts / "today-plan.png"), full_page=True)

    # Review Inès's draft: it starts sincere.
    page.locator("tbody tr", has_text="Inès Moreau").get_by_role("link", name="Review").click()
    page.wait_for_url(re.compile(r".*/notes/\d+$"))
    note_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("h1")).to_contain_text("Inès Moreau")
    expect(page.locator(".card", has_text="Why now")).to_contain_text(evidence["Inès Moreau"])
    check = page.locator("#check")
    expect(check).to_contain_text("reads as sincere")
    sincere = page.input_value("#note-body")
    assert "Inès" in sincere
    first_score = score(page)
    assert first_score >= 90

    # A pitch typed into the editor: the panel is re-checked live (HTMX), nothing is saved.
    page.fill("#note-body", sincere + PITCH)
    expect(check).to_contain_text("needs changes before it can go")
    pitches = check.locator('li.problem-blocking[data-kind="sales_pitch"]')
    for words in ("code SAVE10", "10% off"):
        expect(pitches.filter(has_text=words).locator(".badge")).to_have_text("sales pitch")
    expect(check.locator('li.problem[data-kind="cliche"]')).to_contain_text("valued customer")
    assert score(page) <= 60 < first_score
    page.screenshot(path=str(artifacts / "note-review-pitch.png"), full_page=True)

    page.fill("#note-body", sincere)
    expect(check).to_contain_text("reads as sincere")
    expect(check.locator("li.problem-blocking")).to_have_count(0)
    assert score(page) == first_score
    page.screenshot(path=str(artifacts / "note-review.png"), full_page=True)

    # Approving with a blocking problem is refused: the edit is kept, and nothing is queued.
    page.fill("#note-body", sincere + PITCH)
    expect(check).to_contain_text("needs changes before it can go")
    with page.expect_response(lambda r: r.url.endswith(f"/notes/{note_id}/approve")) as refused:
        page.get_by_role("button", name="Approve and queue").click()
    assert refused.value.status == 422
    expect(page.locator(".field-error[role=alert]")).to_contain_text("problems to fix")
    expect(page.locator(".field-error[role=alert]")).to_contain_text("sales pitch")
    expect(check).to_contain_text("needs changes before it can go")
    assert page.input_value("#note-body").endswith(PITCH.strip())
    assert queued_for(db, note_id) == []
    assert note_status(db, note_id) == "draft"
    page.screenshot(path=str(artifacts / "note-review-refused.png"), full_page=True)

    # Fixed on the refused page (the live check works there too), then approved: on to the next draft.
    page.fill("#note-body", sincere)
    expect(check).to_contain_text("reads as sincere")
    page.get_by_role("button", name="Approve and queue").click()
    page.wait_for_url(re.compile(rf".*/notes/\d+\?done={note_id}&outcome=approved$"))
    expect(page.locator(".alert[role=status]")).to_have_text(
        f"Note #{note_id} approved. Here is the next one."
    )
    assert not page.url.startswith(f"{base}/notes/{note_id}?")
    assert queued_for(db, note_id) == ["queued"]
    assert note_status(db, note_id) == "approved"
    with db.reading() as s:
        message = s.scalars(select(Message).where(Message.note_id == note_id)).one()
        assert message.channel == "email" and message.status == "queued"
        # Browsers submit a textarea's line breaks as CRLF; the note and its message keep LF.
        assert message.body == sincere.strip()

    # The approved note is listed as approved, and shows its text read-only.
    page.goto(f"{base}/notes?status=approved")
    row = page.locator("tbody tr", has_text="Inès Moreau")
    expect(row).to_have_count(1)
    expect(page.locator("tbody tr")).to_have_count(1)
    row.get_by_role("link", name="Open").click()
    page.wait_for_url(f"{base}/notes/{note_id}")
    expect(page.locator("#note-body")).to_have_count(0)
    expect(page.locator(".note-text")).to_have_text(sincere.strip())
    expect(page.locator(".card", has_text="Approved by")).to_contain_text("Camille Roux")

    # Today shows the decision instead of a Review link.
    page.goto(f"{base}/today")
    expect(page.locator("tbody tr", has_text="Inès Moreau").locator(".pill")).to_have_text("approved")
    context.close()
    # Chromium logs the refused approval's 422 page; anything else is a CSP violation or a script error.
    assert problems == [REFUSED_LOG]


def test_working_through_the_queue_with_a_skip_ends_on_a_clear_queue(
    browser: Any, appreciation_server: tuple[str, Database, dict[str, str]], artifacts: Path
) -> None:
    base, db, _ = appreciation_server
    context, page, problems = open_page(browser, viewport={"width": 1280, "height": 900})
    make_the_plan(page, base)
    with db.reading() as s:
        drafts = len(s.scalars(select(Note.id).where(Note.status == "draft")).all())
    assert drafts >= len(RETURNING)

    page.get_by_role("link", name=f"Review {drafts} notes").click()
    page.wait_for_url(f"{base}/notes")
    expect(page.locator("tbody tr")).to_have_count(drafts)
    page.locator("tbody tr").first.get_by_role("link", name="Review").click()
    page.wait_for_url(re.compile(r".*/notes/\d+$"))
    skipped_id = int(page.url.rsplit("/", 1)[1])

    # Skipping needs a reason; without one the page says so and the note stays a draft.
    with page.expect_response(lambda r: r.url.endswith(f"/notes/{skipped_id}/skip")) as refused:
        page.get_by_role("button", name="Skip").click()
    assert refused.value.status == 422
    expect(page.locator(".skip-form .field-error[role=alert]")).to_contain_text("say why")
    assert note_status(db, skipped_id) == "draft"
    page.fill("#skip-reason", "Spoke to them in the shop this morning")
    page.get_by_role("button", name="Skip").click()
    page.wait_for_url(re.compile(rf".*/notes/\d+\?done={skipped_id}&outcome=skipped$"))
    expect(page.locator(".alert[role=status]")).to_contain_text(f"Note #{skipped_id} skipped.")

    # Approve the rest as drafted; the last approval lands on the cleared queue.
    approved: list[int] = []
    for _ in range(drafts - 1):
        approved.append(int(page.url.split("?", 1)[0].rsplit("/", 1)[1]))
        expect(page.locator("#check")).to_contain_text("reads as sincere")
        page.get_by_role("button", name="Approve and queue").click()
        page.wait_for_url(re.compile(rf".*\?done={approved[-1]}&outcome=approved$"))
    assert page.url == f"{base}/notes?done={approved[-1]}&outcome=approved"
    expect(page.locator(".alert[role=status]")).to_have_text(
        f"Note #{approved[-1]} approved. The queue is clear."
    )
    expect(page.locator(".empty-state h2")).to_have_text("Nothing to review")
    page.screenshot(path=str(artifacts / "notes-queue-clear.png"), full_page=True)

    with db.reading() as s:
        messages = {note_id: status for note_id, status in s.execute(select(Message.note_id, Message.status))}
        skipped = s.get(Note, skipped_id)
        assert skipped is not None and skipped.skip_reason == "Spoke to them in the shop this morning"
    assert messages == {note_id: "queued" for note_id in approved}

    # Planning the day again adds nobody twice, and every row shows its decision.
    page.goto(f"{base}/today")
    page.get_by_role("button", name="Plan again").click()
    page.wait_for_url(re.compile(r".*/today\?day=\d{4}-\d{2}-\d{2}$"))
    expect(page.locator("tbody tr")).to_have_count(drafts)
    expect(page.locator("tbody tr .pill", has_text="approved")).to_have_count(drafts - 1)
    expect(page.locator("tbody tr .pill", has_text="skipped")).to_have_count(1)
    expect(page.get_by_role("link", name="Review")).to_have_count(0)
    context.close()
    assert problems == [REFUSED_LOG]  # the refused skip; nothing else
