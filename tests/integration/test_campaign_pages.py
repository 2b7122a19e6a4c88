"""The campaign pages on both backends: the list, the form (field errors keep what was typed), the
preview (who is left out and why, sample drafts with their sincerity check), launching once, the status,
who may do what, and CSRF on every form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import BASE_URL, add_user, form_token, login

from goodwill.campaigns.model import Campaign, CampaignMember
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.service import NewEvent, record_event
from goodwill.notes.model import Note
from goodwill.people import service as people
from goodwill.people.model import Person
from goodwill.people.privacy import erase_person
from goodwill.people.service import PersonRecord
from goodwill.web.app import create_app
from goodwill.web.deps import role_table

TZ = "Europe/Paris"
MANAGERS = frozenset({"admin", "manager"})
EVERYONE = frozenset({"admin", "manager", "agent"})
TEMPLATE = (
    "Subject: Thank you, {{ first_name }}\n"
    "Hi {{ first_name }}, thank you for your {{ orders }} orders this year. It meant a lot to us.\n"
    "{{ signature }}"
)


@dataclass
class Shop:
    regulars: list[int]
    no_consent: int
    erased: int
    thanked_lately: int
    send_on: date


def settings_for(db: Database) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Maison Lumière", "timezone": TZ, "currency": "EUR"},
    )


def seed(db: Database) -> Shop:
    """Ten customers with three orders each: six who may be thanked, one without consent, one erased,
    one thanked three weeks ago (the cap); one with a single order (outside the audience)."""
    add_user(db, "ada@shop.test", "admin", name="Ada Admin")
    add_user(db, "maya@shop.test", "manager", name="Maya Manager")
    add_user(db, "tom@shop.test", "agent", name="Tom Agent")
    now = datetime.now(UTC)
    names = ["Zoë Lefèvre", "Ōta Hiroshi", "Amélie Poulain", "Søren Berg", "José Álvarez", "Inès Moreau",
             "Léa Dubois", "Théo Garnier", "Noé Petit", "Ana Solo"]  # fmt: skip
    with db.transaction() as s:
        records = [
            PersonRecord(name=name, email=f"p{n}@shop.test", consent={"email": n != 6})
            for n, name in enumerate(names)
        ]
        ids, _ = people.resolve_people(s, records, source="seed")
        for n, pid in enumerate(ids):
            for k in range(1 if n == 9 else 3):
                at = now - timedelta(days=40 + 20 * k + n)
                order = NewEvent(person_id=pid, kind="purchase", occurred_at=at, source="shop",
                                 source_id=f"o-{n}-{k}", amount_minor=3000 + 100 * n,
                                 currency="EUR")  # fmt: skip
                record_event(s, order)
        thanks_at = now - timedelta(days=20)
        record_event(s, NewEvent(person_id=ids[8], kind="appreciation_sent", occurred_at=thanks_at,
                                 source="shop", source_id="thanks-8"))  # fmt: skip
        people.mark_customers(s, ids)
        erase_person(s, person_ref=ids[7], secret_key="test-secret", erased_by="test", reason="asked")
    send_on = datetime.now(UTC).astimezone(settings_for(db).business.tz).date() + timedelta(days=7)
    return Shop(ids[:6], ids[6], ids[7], ids[8], send_on)


def client_for(db: Database, email: str) -> TestClient:
    client = TestClient(create_app(settings_for(db), db), base_url=BASE_URL)
    assert login(client, email).status_code == 303
    return client


def fields(shop: Shop, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Thanksgiving",
        "description": "For our regulars",
        "send_on": shop.send_on.isoformat(),
        "window_from_hour": "10",
        "window_until_hour": "18",
        "kind": "customer",
        "min_orders_total": "2",
        "bank_status": ["healthy", "watch"],
        "channels": ["email", "card"],
        "template_default": TEMPLATE,
        "review_rule": "all",
        "review_percent": "100",
        "holdout_percent": "0",
    }
    return data | changes


def post(client: TestClient, url: str, data: dict[str, Any], *, csrf: str | None) -> httpx.Response:
    body = data | ({"csrf_token": csrf} if csrf else {})
    return client.post(url, data=body, follow_redirects=False)


def create(client: TestClient, shop: Shop, **changes: Any) -> int:
    csrf = form_token(client.get("/campaigns/new").text)
    answer = post(client, "/campaigns/new", fields(shop, **changes), csrf=csrf)
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/campaigns/(\d+)\?saved=1", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def count(db: Database, model: type) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def reason_count(html: str, reason: str) -> int:
    found = re.search(rf'<li data-reason="{reason}"><strong>(\d+)</strong>', html)
    assert found, f"no {reason} line on the page"
    return int(found.group(1))


def stat(html: str, name: str) -> int:
    found = re.search(rf'id="{name}">(\d+)<', html)
    assert found, f"no {name} number on the page"
    return int(found.group(1))


# -- roles and CSRF ----------------------------------------------------------------------------------


def test_the_role_table_lets_managers_run_campaigns_and_all_staff_view_them(db: Database) -> None:
    table = role_table(create_app(settings_for(db), db))
    assert table[("GET", "/campaigns")] == EVERYONE
    assert table[("GET", "/campaigns/{campaign_id}")] == EVERYONE
    one = "/campaigns/{campaign_id}"
    for key in [("GET", "/campaigns/new"), ("POST", "/campaigns/new"), ("GET", f"{one}/edit"),
                ("POST", f"{one}/edit"), ("POST", f"{one}/launch")]:  # fmt: skip
        assert table[key] == MANAGERS, key


def test_an_agent_views_but_cannot_create_edit_or_launch(db: Database) -> None:
    shop = seed(db)
    campaign_id = create(client_for(db, "maya@shop.test"), shop)
    agent = client_for(db, "tom@shop.test")
    listing = agent.get("/campaigns")
    assert listing.status_code == 200
    assert "Thanksgiving" in listing.text and "New campaign" not in listing.text
    assert "Customers with 2 or more orders in all" in listing.text
    page = agent.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200 and "Not launched yet" in page.text
    assert "Launch this campaign" not in page.text and 'id="audience-size"' not in page.text
    csrf = form_token(page.text)  # the log-out form carries it
    assert agent.get("/campaigns/new").status_code == 403
    assert agent.get(f"/campaigns/{campaign_id}/edit").status_code == 403
    assert post(agent, "/campaigns/new", fields(shop, name="Agent's"), csrf=csrf).status_code == 403
    assert post(agent, f"/campaigns/{campaign_id}/edit", fields(shop), csrf=csrf).status_code == 403
    assert post(agent, f"/campaigns/{campaign_id}/launch", {}, csrf=csrf).status_code == 403
    assert count(db, Campaign) == 1 and count(db, CampaignMember) == 0
    admin = client_for(db, "ada@shop.test")
    assert "New campaign" in admin.get("/campaigns").text
    assert admin.get("/campaigns/new").status_code == 200
    assert TestClient(create_app(settings_for(db), db), base_url=BASE_URL).get(
        "/campaigns", follow_redirects=False
    ).status_code in (303, 401)


def test_every_form_needs_the_csrf_token(db: Database) -> None:
    shop = seed(db)
    manager = client_for(db, "maya@shop.test")
    assert post(manager, "/campaigns/new", fields(shop), csrf=None).status_code == 403
    assert post(manager, "/campaigns/new", fields(shop), csrf="forged").status_code == 403
    assert count(db, Campaign) == 0
    campaign_id = create(manager, shop)
    renamed = fields(shop, name="Renamed")
    assert post(manager, f"/campaigns/{campaign_id}/edit", renamed, csrf=None).status_code == 403
    assert post(manager, f"/campaigns/{campaign_id}/launch", {}, csrf=None).status_code == 403
    with db.reading() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None and (campaign.name, campaign.status) == ("Thanksgiving", "draft")
    assert count(db, CampaignMember) == 0


# -- the form ---------------------------------------------------------------------------------------


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" role="alert" id="error-{field}">([^<]+)</p>', html)
    assert found, f"no error next to {field}"
    return found.group(1)


def test_field_errors_sit_next_to_their_field_and_keep_what_was_typed(db: Database) -> None:
    shop = seed(db)
    manager = client_for(db, "maya@shop.test")
    csrf = form_token(manager.get("/campaigns/new").text)
    typed = fields(shop, name="", min_orders_total="two", send_on="next thursday",
                   rfm_segments=["champions", "loyal"],
                   template_champions="Dear {{ first_name }}, champion!")  # fmt: skip
    refused = post(manager, "/campaigns/new", typed, csrf=csrf)
    assert refused.status_code == 422
    assert "whole number" in field_error(refused.text, "min_orders_total")
    assert "choose the day" in field_error(refused.text, "send_on")
    assert 'value="two"' in refused.text and 'value="next thursday"' in refused.text
    assert "For our regulars</textarea>" in refused.text
    assert "Dear {{ first_name }}, champion!</textarea>" in refused.text
    assert 'value="champions" checked' in refused.text and 'value="loyal" checked' in refused.text
    assert 'value="sms" checked' not in refused.text and 'value="card" checked' in refused.text
    assert count(db, Campaign) == 0

    # The service's own checks land next to their field too.
    cases = [
        ({"name": ""}, "name", "give the campaign a name"),
        ({"min_spend": "12.345"}, "min_spend", ""),
        ({"holdout_percent": "80"}, "holdout_percent", ""),
        ({"window_from_hour": "18", "window_until_hour": "9"}, "window_until_hour", "after"),
        ({"template_default": "Hi {{ first_name "}, "template_default", ""),
        ({"channels": []}, "channels", ""),
    ]
    for change, field, words in cases:
        answer = post(manager, "/campaigns/new", fields(shop, **change), csrf=csrf)
        assert answer.status_code == 422, (change, answer.text[:300])
        assert words in field_error(answer.text, field), change
        assert 'value="Thanksgiving"' in answer.text or change == {"name": ""}
    assert count(db, Campaign) == 0

    create(manager, shop)
    again = post(manager, "/campaigns/new", fields(shop, name="thanksgiving"), csrf=csrf)
    assert again.status_code == 422 and "already exists" in field_error(again.text, "name")
    assert count(db, Campaign) == 1


def test_editing_shows_the_stored_campaign_and_saves_changes(db: Database) -> None:
    shop = seed(db)
    manager = client_for(db, "maya@shop.test")
    campaign_id = create(manager, shop, rfm_segments=["loyal"], min_spend="150")
    page = manager.get(f"/campaigns/{campaign_id}/edit")
    assert page.status_code == 200
    assert 'value="Thanksgiving"' in page.text and 'value="150.00"' in page.text
    assert 'value="loyal" checked' in page.text and 'value="2"' in page.text
    edited = fields(shop, name="Thanksgiving 2", min_spend="", channels=["email"])
    changed = post(manager, f"/campaigns/{campaign_id}/edit", edited, csrf=form_token(page.text))
    assert changed.status_code == 303 and changed.headers["location"] == f"/campaigns/{campaign_id}?saved=1"
    with db.reading() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert (campaign.name, campaign.channels) == ("Thanksgiving 2", ["email"])
        assert "min_spend" not in campaign.audience
        assert {k: v.strip() for k, v in campaign.templates.items()} == {"default": TEMPLATE}


# -- preview, launch, status -------------------------------------------------------------------------


def test_the_preview_shows_who_is_left_out_and_why_and_sample_drafts(db: Database) -> None:
    shop = seed(db)
    manager = client_for(db, "maya@shop.test")
    campaign_id = create(manager, shop)
    page = manager.get(f"/campaigns/{campaign_id}?saved=1")
    assert page.status_code == 200, page.text
    html = page.text
    assert "Nothing is queued yet" in html
    assert stat(html, "audience-size") == 9  # ten customers, one with a single order
    assert stat(html, "to-thank") == 6 and stat(html, "held-out") == 0 and stat(html, "left-out") == 3
    assert reason_count(html, "no_consent") == 1
    assert reason_count(html, "erased") == 1
    assert reason_count(html, "cap") == 1
    assert 'data-reason="cooldown"' not in html  # zero counts are not listed
    assert html.count('class="campaign-bar campaign-bar-excluded"') == 3
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and "style=" not in html
    samples = re.findall(r'<article class="card campaign-sample sample-ok"', html)
    assert len(samples) == 5
    scores = [int(v) for v in re.findall(r'class="check-number" data-score="(\d+)"', html)]
    assert len(scores) == 5 and all(0 <= v <= 100 for v in scores)
    assert "thank you for your 3 orders this year" in html
    assert 'data-channel="email"><td>' in html and "6 emails, sent by the outbox" in html
    assert "Launch this campaign" in html and f'action="/campaigns/{campaign_id}/launch"' in html
    assert "Launching twice is harmless" in html
    assert count(db, CampaignMember) == 0 and count(db, Note) == 0  # a preview writes nothing


def test_cards_and_calls_show_as_staff_time(db: Database) -> None:
    shop = seed(db)
    with db.transaction() as s:
        for pid in shop.regulars:
            people.record_consent(s, person_id=pid, channel="card", granted=True, source="shop")
            person = s.get(Person, pid)
            assert person is not None
            person.preferred_channel, person.address_line1 = "card", "1 rue de la Paix"
            person.postal_code, person.city = "75002", "Paris"
    manager = client_for(db, "maya@shop.test")
    html = manager.get(f"/campaigns/{create(manager, shop, channels=['card'])}").text
    assert re.search(r"6 cards to write by hand: about \d+ minutes of the team", html), html


def test_launching_once_then_again_adds_nothing_and_shows_the_status(db: Database) -> None:
    shop = seed(db)
    manager = client_for(db, "maya@shop.test")
    campaign_id = create(manager, shop)
    csrf = form_token(manager.get(f"/campaigns/{campaign_id}").text)
    first = post(manager, f"/campaigns/{campaign_id}/launch", {}, csrf=csrf)
    assert first.status_code == 303 and first.headers["location"] == f"/campaigns/{campaign_id}?launched=1"
    members, notes = count(db, CampaignMember), count(db, Note)
    assert (members, notes) == (9, 6)

    status = manager.get(first.headers["location"]).text
    assert "Launched. Everyone in the audience" in status
    assert (stat(status, "thanked"), stat(status, "held-out"), stat(status, "left-out")) == (6, 0, 3)
    assert stat(status, "waiting") == 6 and stat(status, "approved") == 0 and stat(status, "queued") == 0
    assert reason_count(status, "no_consent") == 1 and reason_count(status, "erased") == 1
    assert 'href="/notes"' in status and f'href="/impact?campaign={campaign_id}"' in status
    assert "Launch this campaign" not in status and f"/campaigns/{campaign_id}/edit" not in status

    again = post(manager, f"/campaigns/{campaign_id}/launch", {}, csrf=csrf)
    assert again.status_code == 303
    assert again.headers["location"] == f"/campaigns/{campaign_id}?launched=again"
    assert "already launched: nothing was added" in manager.get(again.headers["location"]).text
    assert (count(db, CampaignMember), count(db, Note)) == (members, notes)

    refused = post(manager, f"/campaigns/{campaign_id}/edit", fields(shop, name="Changed"), csrf=csrf)
    assert refused.status_code == 422 and "can no longer be changed" in refused.text
    listing = manager.get("/campaigns").text
    row = re.search(rf'<tr id="campaign-{campaign_id}">(.*?)</tr>', listing, re.S)
    assert row and "Launched" in row.group(1)
    assert [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row.group(1))] == [6, 0, 3]
    assert client_for(db, "tom@shop.test").get(f"/campaigns/{campaign_id}").status_code == 200


def test_a_sample_review_rule_approves_the_rest_and_queues_them(db: Database) -> None:
    shop = seed(db)
    manager = client_for(db, "maya@shop.test")
    campaign_id = create(manager, shop, review_rule="sample", review_percent="1")
    csrf = form_token(manager.get(f"/campaigns/{campaign_id}").text)
    assert post(manager, f"/campaigns/{campaign_id}/launch", {}, csrf=csrf).status_code == 303
    status = manager.get(f"/campaigns/{campaign_id}").text
    approved, waiting = stat(status, "approved"), stat(status, "waiting")
    assert approved + waiting == 6 and approved >= 1
    assert stat(status, "queued") == approved


def test_an_unknown_campaign_is_404(db: Database) -> None:
    seed(db)
    manager = client_for(db, "maya@shop.test")
    assert manager.get("/campaigns/999").status_code == 404
    assert manager.get("/campaigns/999/edit").status_code == 404
    csrf = form_token(manager.get("/campaigns/new").text)
    assert post(manager, "/campaigns/999/launch", {}, csrf=csrf).status_code == 404


def test_a_second_campaign_in_the_cap_window_leaves_the_first_ones_people_out(db: Database) -> None:
    shop = seed(db)
    manager = client_for(db, "maya@shop.test")
    first = create(manager, shop)
    csrf = form_token(manager.get(f"/campaigns/{first}").text)
    assert post(manager, f"/campaigns/{first}/launch", {}, csrf=csrf).status_code == 303
    later = shop.send_on + timedelta(days=7)  # a week apart: one cap window; the old thanks 34 days back
    html = manager.get(f"/campaigns/{create(manager, shop, name='Winter', send_on=later.isoformat())}").text
    assert reason_count(html, "other_campaign") == 6
    assert "6 people in this audience were thanked by another campaign before" in html
    # Only the one the first campaign left out for the cap remains: 34 days on, the cap allows them.
    assert stat(html, "to-thank") == 1 and 'data-reason="cap"' not in html
    assert len(re.findall(r'<article class="card campaign-sample', html)) == 1
