"""``goodwill campaign create|preview|launch|status|list`` and ``/api/v1/campaigns``, on both backends.

The send day is a week from today (the API and CLI launch at the real time); the audience counts
orders ever, so the shop of test_campaigns.py matches whatever the year.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from test_campaigns import build_shop, shop_settings
from test_web_client import BASE_URL, token_for
from typer.testing import CliRunner

from goodwill.campaigns.cli import app as campaign_app
from goodwill.campaigns.model import CampaignMember
from goodwill.db import Database
from goodwill.notes.model import Note
from goodwill.planner.model import PlanItem
from goodwill.web.app import create_app

SEND_ON = date.today() + timedelta(days=7)
API = "/api/v1/campaigns"
AUDIENCE = {"kind": "customer", "min_orders_total": 2}
TEMPLATE = (
    'Subject: {{ first_name }}, thank you\n{% if channel == "sms" %}Hi {{ first_name }}, thank you.\n'
    "– {{ signature }}{% else %}Hi {{ first_name }},\n\n"
    "You have ordered {{ orders }} times, and we noticed.\n\n"
    "{{ writer_name }}{% endif %}\n"
)
runner = CliRunner()


def invoke(db: Database, *args: str) -> tuple[int, str, str]:
    env = {
        "GOODWILL_DATABASE_URL": db.url,
        "GOODWILL_SECRET_KEY": "test-secret",
        "GOODWILL_BUSINESS__TIMEZONE": "Europe/London",
        "GOODWILL_BUSINESS__CURRENCY": "GBP",
        "GOODWILL_CONFIG": "/nonexistent/goodwill.toml",
    }
    result = runner.invoke(campaign_app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def counts(db: Database) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    with db.reading() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(m)) or 0) for m in (CampaignMember, PlanItem, Note)
        )


def test_the_cli_creates_previews_launches_once_and_reports(db: Database, tmp_path: Path) -> None:
    settings = shop_settings(db)
    build_shop(db, settings, regulars=6)
    before = counts(db)
    template = tmp_path / "loyal.j2"
    template.write_text(TEMPLATE, encoding="utf-8")
    spec = tmp_path / "thanks.toml"
    spec.write_text(
        f'name = "Thanks"\nsend_on = {SEND_ON.isoformat()}\nchannels = ["email"]\nholdout_percent = 0\n'
        '[audience]\nkind = "customer"\nmin_orders_total = 2\n',
        encoding="utf-8",
    )
    # A bad option is named, and nothing is created.
    code, _, err = invoke(db, "create", "--from", str(spec), "--min-spend", "12.345")
    assert code == 1 and "--min-spend" in err and "more decimals" in err
    code, _, err = invoke(db, "create", "--from", str(spec), "--window-from", "20", "--window-until", "9")
    assert code == 1 and "--window-until" in err
    assert counts(db) == before

    code, out, err = invoke(
        db,
        "create",
        "--from",
        str(spec),
        "--template",
        f"loyal={template}",
        "--review-rule",
        "sample",
        "--review-percent",
        "0",
        "--by",
        "max@shop.test",
        "--json",
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["name"] == "Thanks" and created["templates"]["loyal"].startswith("Subject:")
    assert created["audience"] == AUDIENCE and created["review_rule"] == "sample"
    code, out, _ = invoke(db, "list", "--json")
    assert [c["name"] for c in json.loads(out)] == ["Thanks"]
    code, out, _ = invoke(db, "list")
    assert "Thanks" in out and "customers with 2 or more orders in all" in out

    code, out, err = invoke(db, "preview", "Thanks", "--json", "--samples", "2")
    assert code == 0, err
    preview = json.loads(out)
    # The regulars at least (who else depends on today's date against the shop's fixed history).
    thanked = preview["thanked"]
    assert thanked >= 6 and preview["excluded"]["erased"] == 1 and preview["excluded"]["already_planned"] == 0
    assert len(preview["samples"]) == 2
    code, out, err = invoke(db, "preview", str(created["id"]))
    assert code == 0, err
    assert "to thank" in out and "Left out" in out and "Subject:" in out
    assert counts(db) == before

    code, out, err = invoke(db, "launch", "Thanks", "--json", "--by", "max@shop.test")
    assert code == 0, err
    first = json.loads(out)
    assert first["thanked"] == thanked and not first["already_launched"]
    assert first["auto_approved"] == thanked and first["to_review"] == 0  # a 0% sample: all go when they pass
    stored = counts(db)
    code, out, _ = invoke(db, "launch", "Thanks", "--json")
    assert json.loads(out) == first | {"already_launched": True}
    assert counts(db) == stored
    code, out, _ = invoke(db, "launch", "Thanks")
    assert f"Already launched: {thanked} thanked" in out

    code, out, _ = invoke(db, "status", "Thanks", "--json")
    view = json.loads(out)
    assert view["members"]["thanked"] == view["messages"]["queued"] == view["notes"]["approved"] == thanked
    code, out, _ = invoke(db, "status", "Thanks")
    assert f"Messages: queued {thanked}" in out
    code, _, err = invoke(db, "status", "Easter")
    assert code == 1 and "no campaign 'Easter'" in err


def body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Year end",
        "send_on": SEND_ON.isoformat(),
        "audience": AUDIENCE,
        "channels": ["email"],
        "holdout_percent": 0,
        **changes,
    }


def test_the_api_checks_roles_fields_and_launches_once(db: Database) -> None:
    settings = shop_settings(db)
    shop = build_shop(db, settings, regulars=5)
    client = TestClient(create_app(settings, db), base_url=BASE_URL)
    manager, agent = token_for(db, shop.manager_id), token_for(db, shop.agent_id)

    assert client.post(API, json=body(), headers=agent).status_code == 403
    refused = client.post(API, json=body(audience={"min_spend": "1.234"}), headers=manager)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "audience.min_spend"]
    assert client.post(API, json=body(templates={"whales": "x"}), headers=manager).status_code == 422
    assert client.post(API, json=body(colour="red"), headers=manager).status_code == 422

    key = {"Idempotency-Key": "create-year-end"}
    created = client.post(API, json=body(), headers=manager | key)
    assert created.status_code == 201, created.text
    replay = client.post(API, json=body(), headers=manager | key)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    campaign_id = created.json()["id"]
    assert replay.json()["id"] == campaign_id
    assert client.post(API, json=body(), headers=manager).status_code == 422  # the name is taken

    listed = client.get(API, headers=agent).json()["items"]
    assert [c["id"] for c in listed] == [campaign_id]
    assert client.get(f"{API}/{campaign_id}", headers=agent).json()["audience_words"].startswith("customers")
    assert client.get(f"{API}/999", headers=agent).status_code == 404
    edited = client.put(f"{API}/{campaign_id}", json=body(description="For the year"), headers=manager)
    assert edited.status_code == 200 and edited.json()["description"] == "For the year"
    assert client.put(f"{API}/{campaign_id}", json=body(), headers=agent).status_code == 403

    assert client.post(f"{API}/{campaign_id}/preview", headers=agent).status_code == 403
    preview = client.post(f"{API}/{campaign_id}/preview?samples=1", headers=manager).json()
    thanked = preview["thanked"]
    assert thanked >= 5 and len(preview["samples"]) == 1 and preview["notes"]

    assert client.post(f"{API}/{campaign_id}/launch", headers=agent).status_code == 403
    first = client.post(f"{API}/{campaign_id}/launch", headers=manager | {"Idempotency-Key": "go-1"})
    assert (
        first.status_code == 200
        and first.json()["thanked"] == thanked
        and not first.json()["already_launched"]
    )
    stored = counts(db)
    again = client.post(f"{API}/{campaign_id}/launch", headers=manager | {"Idempotency-Key": "go-2"})
    assert again.json() == first.json() | {"already_launched": True}
    replayed = client.post(f"{API}/{campaign_id}/launch", headers=manager | {"Idempotency-Key": "go-1"})
    assert replayed.json() == first.json() and replayed.headers.get("Idempotent-Replayed") == "true"
    assert counts(db) == stored

    assert client.put(f"{API}/{campaign_id}", json=body(), headers=manager).status_code == 409
    assert client.post(f"{API}/{campaign_id}/preview", headers=manager).status_code == 409
    status = client.get(f"{API}/{campaign_id}/status", headers=agent).json()
    assert status["members"]["thanked"] == status["notes"]["draft"] == thanked
