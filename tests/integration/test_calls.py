"""The call list: approved call notes, listed in each person's own hours; outcomes recorded by staff."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_web_client import BASE_URL, add_user, form_token, login

from goodwill.bank.model import BankEntry
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.importers.service import import_events
from goodwill.events.model import Event
from goodwill.notes import service as notes
from goodwill.notes.model import Note
from goodwill.outbox.calls import CallError, CallNotFound, call_list, mark_call
from goodwill.outbox.model import Message, MessageAttempt
from goodwill.people.model import ConsentChange
from goodwill.people.service import current_consent, get_person, record_consent
from goodwill.people.suppression import is_suppressed
from goodwill.web.app import create_app

DAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 12:00 London, 21:00 Tokyo, 04:00 Los Angeles


def _settings(db: Database) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Teapot & Co", "timezone": "Europe/London", "currency": "GBP"},
        planner={"policy": {"holdout_share": "0"}},
    )


def _event(source_id: str, email: str, name: str, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"source_id": source_id, "email": email, "name": name, "kind": kind, "occurred_at": at, **extra}


EVENTS = [
    # Ann (London) and Ken (Tokyo): their second order the day before; both said yes to calls.
    _event("a1", "ann@example.com", "Ann Lee", "purchase", "2026-09-01T10:00:00Z", amount="30.00"),
    _event("a2", "ann@example.com", "Ann Lee", "purchase", "2026-11-19T10:00:00Z", amount="42.00"),
    _event("k1", "ken@example.com", "Ken Sato", "purchase", "2026-08-01T10:00:00Z", amount="20.00"),
    _event("k2", "ken@example.com", "Ken Sato", "purchase", "2026-11-19T01:00:00Z", amount="25.00"),
    # Lou (Los Angeles) never gave call consent but asked a question on the phone: a call he asked for.
    _event("l1", "lou@example.com", "Lou Diaz", "question", "2026-11-19T18:00:00Z",
           text="Do you have the green teapot again?", channel="phone"),
]  # fmt: skip
PEOPLE = {
    "ann@example.com": ("+44 20 7946 0001", "Europe/London", True),
    "ken@example.com": ("+81 3 1234 5678", "Asia/Tokyo", True),
    "lou@example.com": ("+1 213 555 0101", "America/Los_Angeles", False),
}


def _queue_calls(db: Database, tmp_path: Path, settings: Settings) -> dict[str, int]:
    """Plan the day, approve every call note; the message id per email."""
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    add_user(db, "maya@shop.test", "agent", name="Maya Gold")
    with db.transaction() as s:
        report = import_events(session=s, path=path, business=settings.business)
        assert not report.rejected, report.rejected
        for email, (phone, zone, consents) in PEOPLE.items():
            person = get_person(s, email)
            person.phone, person.time_zone, person.preferred_channel = phone, zone, "call"
            if consents:
                record_consent(s, person_id=person.id, channel="call", granted=True, source="checkout")
    with db.transaction() as s:
        notes.plan_and_draft(s, day=DAY, settings=settings)
    ids: dict[str, int] = {}
    with db.transaction() as s:
        drafts = s.scalars(select(Note).where(Note.channel == "call").order_by(Note.id)).all()
        assert len(drafts) == 3, [(n.person_id, n.channel) for n in s.scalars(select(Note))]
        for note in drafts:
            assert note.writer_id is not None
            message = notes.approve(s, note_id=note.id, user_id=note.writer_id, settings=settings)
            email = next(e for e in PEOPLE if get_person(s, e).id == note.person_id)
            ids[email] = message.id
    return ids


def _client(db: Database, settings: Settings, email: str | None = "maya@shop.test") -> TestClient:
    client = TestClient(create_app(settings, db), base_url=BASE_URL)
    if email is not None:
        assert login(client, email).status_code == 303
    return client


def _mark(db: Database, settings: Settings, message_id: int, outcome: str, summary: str = "") -> Message:
    with db.transaction() as s:
        maya = s.scalar(select(Note.writer_id).limit(1))
        assert maya is not None
        return mark_call(
            s,
            message_id=message_id,
            user_id=maya,
            outcome=outcome,
            summary=summary,
            settings=settings,
        )


def test_the_list_shows_each_call_in_the_persons_own_hours(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    with db.reading() as s:
        rows = {r.message_id: r for r in call_list(s, day=DAY, settings=settings, now=NOON)}
        assert call_list(s, day=date(2026, 11, 19), settings=settings, now=NOON) == []  # not due yet
    assert set(rows) == set(ids.values())
    ann, ken, lou = rows[ids["ann@example.com"]], rows[ids["ken@example.com"]], rows[ids["lou@example.com"]]

    assert (ann.state, ken.state, lou.state) == ("call now", "too late today", "too early")
    assert [r.message_id for r in rows.values()] == [ann.message_id, lou.message_id, ken.message_id]
    assert ann.window_start.isoformat() == "2026-11-20T08:00:00+00:00"
    assert ken.window_start.isoformat() == "2026-11-20T08:00:00+09:00"
    assert ken.window_end.isoformat() == "2026-11-20T21:00:00+09:00"
    assert ken.business_start.isoformat() == "2026-11-19T23:00:00+00:00"  # the same window, London time
    assert lou.window_start.isoformat() == "2026-11-20T08:00:00-08:00"
    assert lou.business_end.isoformat() == "2026-11-21T05:00:00+00:00"
    assert lou.local_now.isoformat() == "2026-11-20T04:00:00-08:00" and lou.time_zone == "America/Los_Angeles"
    assert lou.blocked_reason is None  # no call consent, but he asked for the call
    assert ann.name == "Ann Lee" and ann.phone == "+44 20 7946 0001" and ann.tel == "+442079460001"
    assert ann.moment == "second_order" and "2nd order on 2026-11-19" in ann.why_now
    assert ann.reason and "prefers call" in ann.reason
    assert lou.moment and lou.why_now  # what the planner found (an unanswered question weighs on the bank)
    with db.reading() as s:
        assert ann.note_text == s.get(Message, ann.message_id).body  # type: ignore[union-attr]
        assert ann.writer == "Maya Gold" and "Ann" in ann.note_text


def test_the_page_and_the_csv_export(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    with db.transaction() as s:
        ken = get_person(s, "ken@example.com")
        ken.name = '=HYPERLINK("http://evil.test","Ken")'  # a name that would run as a formula
    client = _client(db, settings)
    page = client.get("/calls", params={"day": DAY.isoformat()})
    assert page.status_code == 200
    assert 'href="tel:+442079460001"' in page.text and "Ann Lee" in page.text
    assert "08:00–21:00" in page.text and "UTC+09:00 · Asia/Tokyo" in page.text
    assert "UTC-08:00 · America/Los_Angeles" in page.text
    assert 'href="/calls"' in page.text and 'aria-current="page">Calls' in page.text
    assert f'action="/calls/{ids["ann@example.com"]}/outcome"' in page.text
    assert "HYPERLINK" in page.text and '<a href="http://evil' not in page.text  # escaped

    export = client.get("/calls.csv", params={"day": DAY.isoformat()})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert 'filename="calls-2026-11-20.csv"' in export.headers["content-disposition"]
    parsed = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"), newline="")))
    assert [int(r["message_id"]) for r in parsed] == sorted(
        ids.values(), key=lambda i: [r.message_id for r in _rows(db, settings)].index(i)
    )
    by_id = {int(r["message_id"]): r for r in parsed}
    ken_row = by_id[ids["ken@example.com"]]
    assert ken_row["name"] == "'" + '=HYPERLINK("http://evil.test","Ken")'
    assert ken_row["phone"] == "'+81 3 1234 5678"
    assert ken_row["window_start"].endswith("T08:00:00+09:00") and ken_row["time_zone"] == "Asia/Tokyo"
    assert ken_row["window_end"].endswith("T21:00:00+09:00")
    for row in parsed:
        assert not row["name"].startswith(("=", "+", "-", "@")) and not row["phone"].startswith("+")
        assert row["state"] in ("call now", "too early", "too late today")
        with db.reading() as s:
            assert row["note"] == s.get(Message, int(row["message_id"])).body  # type: ignore[union-attr]
    with db.reading() as s:
        lou_evidence = s.scalar(
            select(Note.evidence).where(Note.person_id == get_person(s, "lou@example.com").id)
        )
    assert lou_evidence and by_id[ids["lou@example.com"]]["why_now"] == lou_evidence


def _rows(db: Database, settings: Settings) -> list[Any]:
    with db.reading() as s:
        return call_list(s, day=DAY, settings=settings)


def test_strangers_are_sent_to_log_in(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    stranger = _client(db, settings, email=None)
    for path in ("/calls", "/calls.csv"):
        answer = stranger.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    posted = stranger.post(
        f"/calls/{ids['ann@example.com']}/outcome", data={"outcome": "done"}, follow_redirects=False
    )
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login")
    with db.reading() as s:
        assert s.get(Message, ids["ann@example.com"]).status == "queued"  # type: ignore[union-attr]


def test_a_call_made_is_sent_with_an_event_and_a_deposit(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    add_user(db, "agnes@shop.test", "agent", name="Agnes Agent")
    client = _client(db, settings, "agnes@shop.test")
    page = client.get("/calls", params={"day": DAY.isoformat()})
    message_id = ids["ann@example.com"]
    answer = client.post(
        f"/calls/{message_id}/outcome",
        data={"outcome": "done", "summary": "Loved the Earl Grey; visiting in May", "day": DAY.isoformat(),
              "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/calls?day=2026-11-20&done={message_id}&outcome=done"
    after = client.get(answer.headers["location"])
    assert f"Call #{message_id} recorded: call made, thank you." in after.text
    assert f'id="call-{message_id}"' not in after.text
    with db.reading() as s:
        message = s.get(Message, message_id)
        assert message is not None and message.status == "sent" and message.sent_at is not None
        agnes = s.scalar(select(Note.writer_id).where(Note.id == message.note_id))
        event = s.scalars(select(Event).where(Event.source_id == f"message:{message_id}")).one()
        assert event.kind == "call_made" and event.person_id == message.person_id and event.channel == "call"
        assert message.provider_id == f"call:{event.staff_id}" and event.staff_id != agnes
        summary = s.scalars(select(Event).where(Event.source_id == f"call-summary:{message_id}")).one()
        assert summary.kind == "note" and summary.text == "Call summary: Loved the Earl Grey; visiting in May"
        deposit = s.scalars(select(BankEntry).where(BankEntry.event_id == event.id)).one()
        assert deposit.amount > 0 and deposit.person_id == message.person_id
        attempts = s.scalars(select(MessageAttempt).where(MessageAttempt.message_id == message_id)).all()
        assert [(a.outcome, a.worker) for a in attempts] == [("sent", "agnes@shop.test")]
    again = client.post(
        f"/calls/{message_id}/outcome",
        data={"outcome": "done", "day": DAY.isoformat(), "csrf_token": form_token(page.text)},
    )
    assert again.status_code == 422 and "already sent" in again.text


def test_three_unanswered_calls_fail_the_message(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    message_id = ids["lou@example.com"]
    for tries in (1, 2):
        message = _mark(db, settings, message_id, "no answer", "rang ten times")
        assert message.status == "queued" and message.last_error == "no answer: rang ten times"
        row = next(r for r in _rows(db, settings) if r.message_id == message_id)
        assert row.no_answers == tries
    message = _mark(db, settings, message_id, "no answer")
    assert message.status == "failed" and message.last_error == "no answer after 3 tries"
    assert message_id not in [r.message_id for r in _rows(db, settings)]
    with db.reading() as s:
        attempts = s.scalars(
            select(MessageAttempt)
            .where(MessageAttempt.message_id == message_id)
            .order_by(MessageAttempt.number)
        ).all()
        assert [(a.number, a.outcome) for a in attempts] == [
            (1, "transient"),
            (2, "transient"),
            (3, "permanent"),
        ]
        assert s.scalars(select(Event).where(Event.kind == "call_made")).all() == []
    with pytest.raises(CallError, match="already failed"):
        _mark(db, settings, message_id, "no answer")


def test_asked_not_to_be_called_revokes_consent_and_suppresses_the_number(
    db: Database, tmp_path: Path
) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    message = _mark(db, settings, ids["ken@example.com"], "asked not to be called", "prefers email")
    assert message.status == "failed" and message.last_error == "asked not to be called: prefers email"
    with db.reading() as s:
        ken = get_person(s, "ken@example.com")
        state = current_consent(s, ken.id)["call"]
        assert state["granted"] is False and state["source"] == "asked on a call"
        change = s.scalars(select(ConsentChange).where(ConsentChange.source == "asked on a call")).one()
        assert change.note == "prefers email"
        assert is_suppressed(s, secret_key="test-secret", kind="phone", address="+81312345678")
        assert not is_suppressed(s, secret_key="test-secret", kind="phone", address="+44 20 7946 0001")
        attempt = s.scalars(select(MessageAttempt).where(MessageAttempt.message_id == message.id)).one()
        assert attempt.outcome == "permanent"
    wrong = _mark(db, settings, ids["ann@example.com"], "wrong number")
    assert wrong.status == "failed" and wrong.last_error == "wrong number"


def test_withdrawn_consent_blocks_the_call(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    with db.transaction() as s:
        ann = get_person(s, "ann@example.com")
        record_consent(s, person_id=ann.id, channel="call", granted=False, source="unsubscribe")
    message_id = ids["ann@example.com"]
    row = next(r for r in _rows(db, settings) if r.message_id == message_id)
    assert row.state == "blocked" and row.blocked_reason == "they withdrew consent for calls"
    assert not row.callable
    with pytest.raises(CallError, match="blocked: they withdrew consent for calls"):
        _mark(db, settings, message_id, "done")

    client = _client(db, settings)
    page = client.get("/calls", params={"day": DAY.isoformat()})
    assert "Blocked: do not call" in page.text and 'href="tel:+442079460001"' not in page.text
    refused = client.post(
        f"/calls/{message_id}/outcome",
        data={"outcome": "done", "day": DAY.isoformat(), "csrf_token": form_token(page.text)},
    )
    assert refused.status_code == 422 and "withdrew consent for calls" in refused.text
    export = client.get("/calls.csv", params={"day": DAY.isoformat()})
    states = {
        int(r["message_id"]): r["state"] for r in csv.DictReader(io.StringIO(export.text.lstrip("\ufeff")))
    }
    assert states[message_id] == "blocked: they withdrew consent for calls"
    with pytest.raises(CallError, match="say why"):
        _mark(db, settings, message_id, "cancel")
    cancelled = _mark(db, settings, message_id, "cancel", "consent withdrawn")
    assert cancelled.status == "cancelled" and cancelled.last_error == "cancelled: consent withdrawn"
    with db.reading() as s:
        assert s.get(Message, message_id).status == "cancelled"  # type: ignore[union-attr]
        assert s.scalars(select(Event).where(Event.kind == "call_made")).all() == []


def test_outcomes_are_checked(db: Database, tmp_path: Path) -> None:
    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    with pytest.raises(CallError, match="unknown outcome"):
        _mark(db, settings, ids["ann@example.com"], "voicemail")
    with pytest.raises(CallNotFound):
        _mark(db, settings, 999_999, "done")
    client = _client(db, settings)
    page = client.get("/calls")
    assert (
        client.post(
            "/calls/999999/outcome", data={"outcome": "done", "csrf_token": form_token(page.text)}
        ).status_code
        == 404
    )
    no_token = client.post(f"/calls/{ids['ann@example.com']}/outcome", data={"outcome": "done"})
    assert no_token.status_code == 403


def test_the_cli_lists_exports_and_prints_json(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from goodwill.cli import app

    settings = _settings(db)
    ids = _queue_calls(db, tmp_path, settings)
    monkeypatch.chdir(tmp_path)
    env = {
        "GOODWILL_DATABASE_URL": db.url,
        "GOODWILL_SECRET_KEY": "test-secret",
        "GOODWILL_BUSINESS__TIMEZONE": "Europe/London",
    }
    runner = CliRunner()
    shown = runner.invoke(app, ["calls", "list", "--date", "2026-11-20", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    listed = {row["message_id"]: row for row in json.loads(shown.output)}
    assert set(listed) == set(ids.values())
    ken = listed[ids["ken@example.com"]]
    assert ken["window_start"] == "2026-11-20T08:00:00+09:00" and ken["time_zone"] == "Asia/Tokyo"
    assert ken["business_window_start"] == "2026-11-19T23:00:00+00:00" and ken["state"] != "blocked"

    out = tmp_path / "calls.csv"
    written = runner.invoke(app, ["calls", "list", "--date", "2026-11-20", "--csv", str(out)], env=env)
    assert written.exit_code == 0 and "Wrote 3 calls" in written.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        parsed = list(csv.DictReader(handle))
    assert {int(r["message_id"]) for r in parsed} == set(ids.values())
    assert all(r["phone"].startswith("'+") for r in parsed)

    table = runner.invoke(app, ["calls", "list", "--date", "2026-11-20"], env=env)
    assert table.exit_code == 0 and "Ann Lee" in table.output and "Asia/Tokyo" in table.output
    early = runner.invoke(app, ["calls", "list", "--date", "2026-11-19", "--json"], env=env)
    assert early.exit_code == 0 and json.loads(early.output) == []
    bad = runner.invoke(app, ["calls", "list", "--date", "20 Nov"], env=env)
    assert bad.exit_code == 2 and "not a date" in bad.output
