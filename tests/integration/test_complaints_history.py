"""Resolutions that arrive as events (helpdesk history, another tool) close the complaint they answer."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from test_complaints_intake import complaint_settings

from goodwill.complaints import service
from goodwill.complaints.model import Complaint, ComplaintLog
from goodwill.config import Settings
from goodwill.db import Database, utcnow
from goodwill.events.follow_ups import after_new_events
from goodwill.events.importers.service import import_events
from goodwill.outbox.model import Message

NOW = utcnow()


def at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def run_import(db: Database, settings: Settings, path: Path, lines: list[dict[str, Any]]) -> None:
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    with db.transaction() as s:
        import_events(session=s, path=path, business=settings.business, settings=settings)


def complaints(db: Database) -> list[tuple[str, str, str | None]]:
    with db.reading() as s:
        rows = s.scalars(select(Complaint).order_by(Complaint.received_at)).all()
        return [(c.body, c.status, c.resolution) for c in rows]


LATER = [
    {"source_id": "r-2", "email": "zoe@example.test", "kind": "complaint_resolved", "occurred_at": at(1),
     "text": "Refunded in full."},
    {"source_id": "r-3", "email": "ivo@example.test", "kind": "complaint_resolved", "occurred_at": at(1)},
]  # fmt: skip


def test_history_resolves_the_oldest_open_complaint_and_is_idempotent(db: Database, tmp_path: Path) -> None:
    settings = complaint_settings(db)
    history = [
        {"source_id": "c-1", "email": "zoe@example.test", "kind": "complaint", "occurred_at": at(40),
         "text": "The lid was chipped."},
        {"source_id": "c-2", "email": "zoe@example.test", "kind": "complaint", "occurred_at": at(30),
         "text": "The refund never came."},
        {"source_id": "r-1", "email": "zoe@example.test", "kind": "complaint_resolved", "occurred_at": at(29),
         "text": "Sent a new lid."},
    ]  # fmt: skip
    for _ in range(2):  # the same file again closes nothing more
        run_import(db, settings, tmp_path / "history.jsonl", history)
    assert complaints(db) == [
        ("The lid was chipped.", "resolved", "Sent a new lid."),
        ("The refund never came.", "open", None),
    ]
    # A later file resolves the next one; a resolution before any complaint of theirs closes nothing.
    run_import(
        db,
        settings,
        tmp_path / "later.jsonl",
        LATER,
    )
    assert [status for _, status, _ in complaints(db)] == ["resolved", "resolved"]
    with db.reading() as s:
        assert s.scalar(select(Message).limit(1)) is None  # history sends nobody a follow-up question
        details = s.scalars(select(ComplaintLog.detail).where(ComplaintLog.action == "resolved")).all()
        assert len(details) == 2 and all("from event" in d for d in details)


def test_a_resolution_recorded_here_is_not_taken_for_another_complaint(db: Database, tmp_path: Path) -> None:
    settings = complaint_settings(db, satisfaction_follow_up=False)
    lines = [
        {"source_id": f"c-{n}", "email": "zoe@example.test", "kind": "complaint",
         "occurred_at": at(2 - n / 10), "text": f"Problem {n}."}
        for n in (1, 2)
    ]  # fmt: skip
    run_import(db, settings, tmp_path / "two.jsonl", lines)
    with db.transaction() as s:
        second = s.scalars(select(Complaint).order_by(Complaint.received_at.desc())).first()
        assert second is not None
        done = service.resolve(
            s,
            complaint_id=second.id,
            resolution="Called her back.",
            by_user_id=None,
            now=NOW,
            settings=settings,
        )
        # Our own resolution handed to the follow-ups (as any new event may be) closes nothing else.
        assert done.resolved_event_id is not None
        after_new_events(s, event_ids=[done.resolved_event_id], settings=settings)
    assert complaints(db) == [("Problem 1.", "open", None), ("Problem 2.", "resolved", "Called her back.")]


def test_an_outside_resolution_closes_only_a_complaint_that_came_as_an_event(
    db: Database, tmp_path: Path
) -> None:
    """A helpdesk's resolution answers the helpdesk's complaint, not one emailed to us or sent by API."""
    settings = complaint_settings(db, satisfaction_follow_up=False)
    with db.transaction() as s:
        emailed, _ = service.open_complaint(
            s,
            new=service.NewComplaint(
                body="Emailed: the box was wet.", source="email", source_id="<m-1@example.test>",
                received_at=NOW - timedelta(days=5), email="zoe@example.test",
            ),
            settings=settings,
        )  # fmt: skip
        emailed_id = emailed.id
    resolution = {"source_id": "r-9", "email": "zoe@example.test", "kind": "complaint_resolved",
                  "occurred_at": at(3), "text": "Helpdesk ticket closed."}  # fmt: skip
    run_import(db, settings, tmp_path / "resolution.jsonl", [resolution])
    assert complaints(db) == [("Emailed: the box was wet.", "open", None)]
    # Her helpdesk complaint, newer than the emailed one, is the one a later helpdesk resolution closes.
    lines = [
        {"source_id": "c-9", "email": "zoe@example.test", "kind": "complaint", "occurred_at": at(2),
         "text": "Helpdesk: rude driver."},
        {"source_id": "r-10", "email": "zoe@example.test", "kind": "complaint_resolved", "occurred_at": at(1),
         "text": "Spoke to the driver."},
    ]  # fmt: skip
    run_import(db, settings, tmp_path / "helpdesk.jsonl", lines)
    assert complaints(db) == [
        ("Emailed: the box was wet.", "open", None),
        ("Helpdesk: rude driver.", "resolved", "Spoke to the driver."),
    ]
    with db.reading() as s:
        still_open = s.get(Complaint, emailed_id)
        assert still_open is not None and still_open.resolved_event_id is None
