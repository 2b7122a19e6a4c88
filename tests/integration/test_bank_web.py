"""The bank's JSON API, the At-risk page and the statement partial, over the real app and databases."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from test_bank_cli import history
from test_web_client import BASE_URL, add_user, make_settings, token_for

from goodwill.bank.statements import statement
from goodwill.db import Database, utcnow
from goodwill.web.app import create_app
from goodwill.web.templating import make_templates


def bank_client(db: Database) -> TestClient:
    """The real app: create_app mounts the bank's API and At-risk page like every other router."""
    return TestClient(create_app(make_settings(db), db), base_url=BASE_URL)


def test_statement_api_needs_a_login_and_returns_the_statement(db: Database) -> None:
    pid = history(
        db, "Ada", [("purchase", 40, 5000), ("complaint", 3, None), ("complaint_resolved", 2, None)]
    )
    client = bank_client(db)
    assert client.get(f"/api/v1/bank/people/{pid}/statement").status_code == 401
    headers = token_for(db, add_user(db, "agent@shop.test", "agent"))
    response = client.get(f"/api/v1/bank/people/{pid}/statement", headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert [(e["rule"], e["amount"]) for e in data["entries"]] == [
        ("purchase", 2),
        ("complaint", -6),
        ("complaint_resolved_in_time", 8),
    ]
    assert (data["status"], data["bad_streak"]) == ("healthy", 0)
    past = (utcnow() - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S")
    earlier = client.get(
        f"/api/v1/bank/people/{pid}/statement", params={"as_of": past}, headers=headers
    ).json()
    assert [e["rule"] for e in earlier["entries"]] == ["purchase"]
    assert client.get("/api/v1/bank/people/999999/statement", headers=headers).status_code == 404


def test_alerts_api_is_paged_most_valuable_first(db: Database) -> None:
    low = history(db, "Low", [("purchase", 30, 1000), ("late_delivery", 3, None), ("defect", 2, None)])
    high = history(db, "High", [("purchase", 30, 9000), ("complaint", 3, None), ("complaint", 2, None)])
    history(db, "Calm", [("purchase", 30, 99000)])
    client = bank_client(db)
    headers = token_for(db, add_user(db, "agent@shop.test", "agent"))
    first = client.get("/api/v1/bank/alerts", params={"per_page": 1}, headers=headers).json()
    second = client.get("/api/v1/bank/alerts", params={"per_page": 1, "page": 2}, headers=headers).json()
    assert (first["total"], first["page"], first["per_page"]) == (2, 1, 1)
    assert [i["person"]["id"] for i in first["items"] + second["items"]] == [high, low]
    assert client.get("/api/v1/bank/alerts", params={"per_page": 0}, headers=headers).status_code == 422


def test_at_risk_page_lists_people_and_their_streak(db: Database) -> None:
    pid = history(db, "Rae", [("purchase", 30, 4000), ("late_delivery", 3, None), ("defect", 2, None)])
    history(db, "Calm", [("purchase", 30, 99000)])
    client = bank_client(db)
    add_user(db, "agent@shop.test", "agent")
    from test_web_client import login

    assert login(client, "agent@shop.test").status_code == 303
    page = client.get("/at-risk")
    assert page.status_code == 200, page.text
    assert "content-security-policy" in page.headers
    assert f'href="/people/{pid}#bank"' in page.text and "Calm" not in page.text
    assert "parcel left in the rain" in page.text and "overdrawn" in page.text
    assert "<script>" not in page.text and "style=" not in page.text


def test_statement_partial_draws_an_inline_svg_chart_without_script(db: Database) -> None:
    pid = history(
        db,
        "Ivy",
        [
            ("purchase", 300, 4000),
            ("praise", 200, None),
            ("late_delivery", 100, None),
            ("card_sent", 5, None),
        ],
    )
    settings = make_settings(db)
    with db.reading() as s:
        found = statement(session=s, person_ref=pid, tz=settings.business.tz)
    html = make_templates(settings).env.get_template("bank/_statement.html").render(statement=found)
    points = re.search(r'<polyline points="([^"]+)"', html)
    assert points is not None
    coordinates = [tuple(map(float, pair.split(","))) for pair in points.group(1).split()]
    assert len(coordinates) > 4 * 6  # decay curves between entries are sampled
    assert min(x for x, _ in coordinates) >= 0 and max(x for x, _ in coordinates) <= found.chart.width  # type: ignore[union-attr]
    assert "<script" not in html and "style=" not in html
    assert html.count('class="bank-deposit"') == 3 and html.count('class="bank-withdrawal"') == 1
    assert "Closing balance" in html and f"{found.balance:.2f}" in html
