"""The plan and the review queue through the API, the pages and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_appreciation_flow import DAY, _load, _settings
from test_web_client import BASE_URL, add_user, login, session_csrf, token_for
from typer.testing import CliRunner

from goodwill.cli import app
from goodwill.db import Database
from goodwill.outbox.model import Message
from goodwill.web.app import create_app

runner = CliRunner()


@pytest.fixture
def client(db: Database, tmp_path: Path) -> TestClient:
    _load(db, tmp_path, _settings(db))
    return TestClient(create_app(_settings(db), db), base_url=BASE_URL)


def test_api_plan_review_and_approve(db: Database, client: TestClient) -> None:
    agent = token_for(db, add_user(db, "agent2@shop.test", "agent", name="Ola Berg"))
    manager = token_for(db, add_user(db, "boss@shop.test", "manager", name="Kim Vale"))

    assert client.post("/api/v1/plan", json={"date": DAY.isoformat()}, headers=agent).status_code == 403
    made = client.post("/api/v1/plan", json={"date": DAY.isoformat()}, headers=manager)
    assert made.status_code == 201, made.text
    assert made.json()["added"] == 3 and made.json()["drafted"] == 3
    shown = client.get(f"/api/v1/plan?day={DAY.isoformat()}", headers=agent).json()
    names = [i["person"]["name"] for i in made.json()["items"]]
    assert [i["person"]["name"] for i in shown["items"]] == names
    assert shown["skipped"] == {"no_consent": 1, "cap": 1, "cooldown": 0, "capacity": 0}

    queue = client.get("/api/v1/notes", headers=agent).json()["items"]
    assert len(queue) == 3
    note_id = queue[0]["id"]

    bad = client.patch(
        f"/api/v1/notes/{note_id}", json={"body": "Dear {first_name}, shop now!!!"}, headers=agent
    )
    assert bad.status_code == 200
    kinds = {p["kind"] for p in bad.json()["check"]["problems"]}
    assert {"placeholder", "sales_pitch", "shouting"} <= kinds
    refused = client.post(f"/api/v1/notes/{note_id}/approve", json={}, headers=agent)
    assert refused.status_code == 422
    assert refused.json()["detail"]["check"]["ok"] is False

    body = queue[0]["body"]
    key = {"Idempotency-Key": "approve-once-1234"}
    first = client.post(f"/api/v1/notes/{note_id}/approve", json={"body": body}, headers=agent | key)
    assert first.status_code == 201, first.text
    assert first.json()["message"]["status"] == "queued"
    replay = client.post(f"/api/v1/notes/{note_id}/approve", json={"body": body}, headers=agent | key)
    assert replay.status_code == 201 and replay.json() == first.json()
    again = client.post(f"/api/v1/notes/{note_id}/approve", json={"body": body}, headers=agent)
    assert again.status_code == 409
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 1

    skip_id = queue[1]["id"]
    assert client.post(f"/api/v1/notes/{skip_id}/skip", json={"reason": ""}, headers=agent).status_code == 422
    skipped = client.post(f"/api/v1/notes/{skip_id}/skip", json={"reason": "Called her today"}, headers=agent)
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    assert client.get("/api/v1/notes/999999", headers=agent).status_code == 404

    checked = client.post(
        "/api/v1/notes/check",
        json={"text": "Thank you, valued customer. We appreciate your business!", "first_name": "Ann"},
        headers=agent,
    )
    assert checked.status_code == 200
    assert checked.json()["ok"] is False
    assert set(checked.json()) == {"ok", "score", "problems"}
    assert client.post("/api/v1/notes/check", json={"text": "hi"}).status_code == 401


def test_pages_today_and_review(db: Database, client: TestClient) -> None:
    add_user(db, "boss@shop.test", "manager", name="Kim Vale")
    assert login(client, "boss@shop.test").status_code == 303
    empty = client.get(f"/today?day={DAY.isoformat()}")
    assert empty.status_code == 200 and "No plan yet" in empty.text
    csrf = session_csrf(client)
    form = {"day": DAY.isoformat(), "csrf_token": csrf}
    made = client.post("/today/plan", data=form, follow_redirects=True)
    assert made.status_code == 200
    assert "2nd order on 2026-11-19" in made.text
    assert "Review" in made.text

    queue = client.get("/notes")
    assert queue.status_code == 200
    note_path = queue.text.split('href="/notes/')[1].split('"')[0]
    review = client.get(f"/notes/{note_path}")
    assert review.status_code == 200 and "Sincerity check" in review.text

    live = client.post(
        f"/notes/{note_path}/check",
        data={"body": "Dear valued customer, use code THANKS10"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert live.status_code == 200
    assert 'data-kind="sales_pitch"' in live.text and "needs changes" in live.text

    blocked = client.post(
        f"/notes/{note_path}/approve", data={"body": "Dear valued customer, shop now!!!", "csrf_token": csrf}
    )
    assert blocked.status_code == 422 and "problems to fix" in blocked.text
    without_csrf = client.post(f"/notes/{note_path}/approve", data={"body": "Thank you"})
    assert without_csrf.status_code == 403


def test_cli_plan_and_note_commands(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _load(db, tmp_path, _settings(db))
    env = {
        "GOODWILL_DATABASE_URL": db.url,
        "GOODWILL_BUSINESS__TIMEZONE": "Europe/London",
        "GOODWILL_BUSINESS__CURRENCY": "GBP",
        "GOODWILL_PLANNER__POLICY__HOLDOUT_SHARE": "0",
    }
    result = runner.invoke(app, ["plan", "--date", DAY.isoformat(), "--json"], env=env)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert set(plan) >= {"date", "items", "holdout", "skipped"}
    assert {"person", "moment", "evidence", "channel", "priority"} <= set(plan["items"][0])
    assert plan["skipped"]["no_consent"] == 1

    bad_day = runner.invoke(app, ["plan", "--date", "20-11-2026"], env=env)
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output

    sincere = runner.invoke(
        app,
        ["note", "check", "--first-name", "Ann", "--fact", "training for the Lisbon marathon", "--json"],
        input="Ann, good luck with the Lisbon marathon training. Thank you for coming back to us.\n— Maya",
        env=env,
    )
    assert sincere.exit_code == 0, sincere.output
    assert json.loads(sincere.output)["ok"] is True
    pitch = runner.invoke(
        app, ["note", "check", "--first-name", "Ann", "--json"], input="Hi Bob! Use code SAVE10.", env=env
    )
    assert pitch.exit_code == 1
    kinds = {p["kind"] for p in json.loads(pitch.output)["problems"]}
    assert {"wrong_name", "sales_pitch"} <= kinds

    typo = runner.invoke(app, ["note", "draft", "bo@example.com", "--moment", "secnd_order"], env=env)
    assert typo.exit_code == 2 and "second_order" in typo.output  # names the moments there are
    nothing = runner.invoke(app, ["note", "draft", "bo@example.com", "--moment", "praise"], env=env)
    assert nothing.exit_code == 1 and "no praise moment" in nothing.output
