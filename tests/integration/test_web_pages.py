"""The pages: the people list with live search, the profile, facts through HTMX, friendly errors."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi.testclient import TestClient
from test_web_client import form_token, logged_in_agent, make_client

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.events.service import NewEvent, record_event
from goodwill.people import service as people
from goodwill.people.service import PersonRecord
from goodwill.web.app import create_app


def seed_person(
    db: Database, name: str, email: str, *, orders: list[tuple[str, int]] = (), **extra: str
) -> int:  # type: ignore[assignment]
    with db.transaction() as s:
        [pid], _ = people.resolve_people(s, [PersonRecord(name=name, email=email, **extra)])
        for index, (when, cents) in enumerate(orders):
            record_event(
                s,
                NewEvent(
                    person_id=pid,
                    kind="purchase",
                    occurred_at=datetime.fromisoformat(when),
                    source="shop",
                    source_id=f"{email}-{index}",
                    amount_minor=cents,
                    currency="USD",
                ),
            )
        if orders:
            people.mark_customers(s, [pid])
    return pid


def test_people_page_lists_orders_and_spend_per_row(db: Database) -> None:
    agent_client = logged_in_agent(db)
    seed_person(
        db,
        "Zoë Lefèvre",
        "zoe@x.test",
        orders=[("2025-01-02T10:00:00+00:00", 1250), ("2025-02-03T10:00:00+00:00", 999)],
    )
    seed_person(db, "Ōta Hiroshi", "ota@x.test")
    page = agent_client.get("/people")
    assert page.status_code == 200
    assert "<html" in page.text and "Zoë Lefèvre" in page.text and "Ōta Hiroshi" in page.text
    row = re.search(r"Zoë Lefèvre.*?</tr>", page.text, re.S)
    assert row and ">2</td>" in row.group(0) and "USD 22.49" in row.group(0)
    assert "Showing 1–2 of 2" in page.text


def test_live_search_answers_htmx_with_the_results_fragment_only(db: Database) -> None:
    agent_client = logged_in_agent(db)
    seed_person(db, "Zoë Lefèvre", "zoe@x.test")
    seed_person(db, "Ōta Hiroshi", "ota@x.test")
    fragment = agent_client.get("/people", params={"q": "zoe"}, headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Zoë Lefèvre" in fragment.text and "Ōta" not in fragment.text
    assert fragment.headers["vary"] == "HX-Request"
    restore = agent_client.get(
        "/people", params={"q": "zoe"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.text  # going back in history needs the whole page
    none = agent_client.get("/people", params={"q": "nobody-like-this"}, headers={"HX-Request": "true"})
    assert "No one matches" in none.text
    prospects = agent_client.get("/people", params={"kind": "prospect"})
    assert "Zoë" in prospects.text and 'value="prospect" selected' in prospects.text


def test_paging_links_carry_the_search(db: Database) -> None:
    agent_client = logged_in_agent(db)
    with db.transaction() as s:
        people.resolve_people(
            s, [PersonRecord(name=f"Client {i:02d}", email=f"c{i}@x.test") for i in range(30)]
        )
    first = agent_client.get("/people", params={"q": "client"})
    assert (
        "Showing 1–25 of 30" in first.text
        and "/people?q=client&amp;kind=&amp;page=2" in first.text
        and "Previous" not in first.text
    )
    second = agent_client.get("/people", params={"q": "client", "page": 2})
    assert "Showing 26–30 of 30" in second.text and "Previous" in second.text and "Next" not in second.text


def test_profile_shows_summary_facts_consent_and_timeline(db: Database) -> None:
    agent_client = logged_in_agent(db)
    pid = seed_person(
        db,
        "Zoë Lefèvre",
        "zoe@x.test",
        preferred_name="Zozo",
        orders=[("2025-01-02T23:30:00+00:00", 1250), ("2025-03-04T10:00:00+00:00", 999)],
    )
    with db.transaction() as s:
        people.add_fact(s, person_id=pid, text="Has a dog called Biscuit", source="staff")
        people.record_consent(s, person_id=pid, channel="email", granted=True, source="checkout")
    page = agent_client.get(f"/people/{pid}").text
    assert "Zozo" in page and "zoe@x.test" in page and "badge-customer" in page
    assert "USD 22.49" in page and "USD 12.50" in page
    assert "2 Jan 2025" in page and "4 Mar 2025" in page  # the business time zone here is UTC
    assert "Has a dog called Biscuit" in page
    assert "checkout" in page and "not asked" in page
    assert page.index("USD 9.99") < page.index("USD 12.50")  # newest first


def test_profile_times_follow_the_business_time_zone(db: Database) -> None:
    from test_web_client import add_user, login, session_csrf

    add_user(db, "agent@shop.test")
    pid = seed_person(db, "Kai", "kai@x.test", orders=[("2025-01-02T23:30:00+00:00", 100)])
    settings = load_settings(database_url=db.url, secret_key="t", business={"timezone": "Asia/Tokyo"})
    client = TestClient(create_app(settings, db), base_url="http://127.0.0.1")
    login(client, "agent@shop.test")
    assert session_csrf(client)
    page = client.get(f"/people/{pid}").text
    assert "3 Jan 2025, 08:30" in page


def test_adding_a_fact_through_htmx_returns_the_updated_list(db: Database) -> None:
    agent_client = logged_in_agent(db)
    pid = seed_person(db, "Zoë", "zoe@x.test")
    added = agent_client.post(
        f"/people/{pid}/facts", data={"text": "Prefers oat milk"}, headers={"HX-Request": "true"}
    )
    assert added.status_code == 200 and "<html" not in added.text
    assert 'id="facts"' in added.text and "Prefers oat milk" in added.text
    empty = agent_client.post(f"/people/{pid}/facts", data={"text": "   "}, headers={"HX-Request": "true"})
    assert "A fact cannot be empty." in empty.text
    plain = agent_client.post(
        f"/people/{pid}/facts", data={"text": "Plays the cello"}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"] == f"/people/{pid}#facts"
    assert "Plays the cello" in agent_client.get(f"/people/{pid}").text


def test_fact_form_needs_the_csrf_token(db: Database) -> None:
    from test_web_client import add_user, login

    add_user(db, "agent@shop.test")
    pid = seed_person(db, "Zoë", "zoe@x.test")
    client = make_client(db)
    login(client, "agent@shop.test")
    refused = client.post(f"/people/{pid}/facts", data={"text": "sneaky"})
    assert refused.status_code == 403 and "CSRF" in refused.text and "<html" in refused.text
    token = form_token(client.get(f"/people/{pid}").text)
    assert (
        client.post(
            f"/people/{pid}/facts", data={"text": "fine", "csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )


def test_timeline_loads_more_through_htmx(db: Database) -> None:
    agent_client = logged_in_agent(db)
    pid = seed_person(
        db,
        "Busy Bee",
        "bee@x.test",
        orders=[(f"2025-01-{day:02d}T10:00:00+00:00", day * 100) for day in range(1, 26)],
    )
    page = agent_client.get(f"/people/{pid}").text
    assert page.count('class="tl-item') == 20
    more = re.search(r'hx-get="(/people/\d+/timeline\?before_id=\d+)"', page)
    assert more
    rest = agent_client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}).text
    assert rest.count('class="tl-item') == 5 and "Load more" not in rest
    assert "USD 1.00" in rest and "USD 25.00" not in rest


def test_unknown_person_and_path_get_friendly_pages(db: Database) -> None:
    agent_client = logged_in_agent(db)
    missing = agent_client.get("/people/424242")
    assert missing.status_code == 404
    assert "We could not find that" in missing.text and "Traceback" not in missing.text
    assert agent_client.get("/nowhere").status_code == 404
    assert "We could not find that" in agent_client.get("/nowhere").text


def test_unexpected_errors_render_a_friendly_page_without_details(db: Database) -> None:
    app = make_client(db).app

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail zoe@x.test")

    client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    answer = client.get("/boom")
    assert answer.status_code == 500
    assert "Something went wrong on our side" in answer.text
    assert "secret detail" not in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


def test_root_redirects_to_people(db: Database) -> None:
    answer = make_client(db).get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/people"
