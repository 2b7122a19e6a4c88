"""The Insights page and the person partial render from stored scores, with SVG charts and no script."""

from __future__ import annotations

import re

from test_insights_score import BUSINESS, _score, build_shop

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.insights.pages import chart_context
from goodwill.insights.views import overview_context, person_context
from goodwill.web.templating import make_templates


def _templates() -> object:
    return make_templates(load_settings(business=BUSINESS))


def test_insights_page_renders_charts_without_script_or_inline_style(db: Database) -> None:
    build_shop(db, crowd=120)
    _score(db)
    with db.reading() as s:
        context = overview_context(s)
        context.update(chart_context(context))
        html = _templates().get_template("insights/index.html").render(**context)  # type: ignore[attr-defined]
    content = html.split('<main class="page">', 1)[1]
    assert content.count("<svg") == 4  # segment map, P(alive), CLV, repeat buying
    assert "<script" not in content and "style=" not in content
    assert "Champions" in content and "Can&#39;t lose them" in content
    assert re.search(r"Scored \d+ customers as of 30 Jun 2025", content)


def test_insights_page_without_a_run_explains_how_to_score(db: Database) -> None:
    with db.reading() as s:
        context = overview_context(s)
    html = _templates().get_template("insights/index.html").render(**context)  # type: ignore[attr-defined]
    assert "goodwill insights score" in html


def test_person_partial_shows_segment_milestones_and_value(db: Database) -> None:
    shop = build_shop(db, crowd=60)
    _score(db)
    template = _templates().get_template("insights/_person.html")  # type: ignore[attr-defined]
    with db.reading() as s:
        html = template.render(**person_context(s, shop.alice))
        nobody = template.render(**person_context(s, shop.bob))
    assert "2nd order" in html and "Lifetime spend reached EUR 100.00" in html
    assert "likely" in html and "EUR " in html
    assert "No buying pattern yet" in nobody


def test_insights_page_and_person_page_over_http(db: Database) -> None:
    from fastapi.testclient import TestClient
    from test_web_client import BASE_URL, add_user, login, make_settings

    from goodwill.web.app import create_app

    shop = build_shop(db, crowd=60)
    _score(db)
    client = TestClient(create_app(make_settings(db), db), base_url=BASE_URL)
    assert client.get("/insights", follow_redirects=False).status_code in (302, 303, 401)
    add_user(db, "agent@shop.test", "agent")
    login(client, "agent@shop.test")
    page = client.get("/insights")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script>" not in page.text
    profile = client.get(f"/people/{shop.alice}")
    assert profile.status_code == 200
    assert "Buying pattern" in profile.text and "Relationship bank" in profile.text
