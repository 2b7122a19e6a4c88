"""The complaints API and pages on both backends: who sees what, due-first order, assign, priority, resolve.

Ann is an agent in the Front desk team managed by Max; Bob is an agent in no team; Ada is the admin.
Four complaints: Ann's, Bob's, Max's own and one nobody has taken yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from test_complaints_intake import API, client_for, complaint_settings, count
from test_web_client import add_user, form_token, login, token_for

from goodwill.complaints import service
from goodwill.complaints.model import Complaint
from goodwill.config import Settings
from goodwill.db import Database, utcnow
from goodwill.team.teams import add_member, create_team
from goodwill.web.deps import role_table


@dataclass
class Office:
    settings: Settings
    ids: dict[str, int]  # users
    tokens: dict[str, dict[str, str]]
    complaints: dict[str, int]  # ann, bob, max, free


def _open(
    db: Database, settings: Settings, key: str, assignee: int | None, received: datetime, body: str
) -> int:
    with db.transaction() as s:
        complaint, _ = service.open_complaint(
            s,
            new=service.NewComplaint(
                body=body,
                source="api",
                source_id=key,
                received_at=received,
                email=f"{key}@example.test",
                name=f"Customer {key.title()}",
                assignee_id=assignee,
            ),
            settings=settings,
        )
        return complaint.id


@pytest.fixture
def office(db: Database) -> Office:
    settings = complaint_settings(db)
    ids = {
        "ada": add_user(db, "ada@shop.test", "admin", name="Ada"),
        "max": add_user(db, "max@shop.test", "manager", name="Max"),
        "ann": add_user(db, "ann@shop.test", "agent", name="Ann"),
        "bob": add_user(db, "bob@shop.test", "agent", name="Bob"),
    }
    with db.transaction() as s:
        team = create_team(s, name="Front desk", manager_id=ids["max"])
        add_member(s, team_id=team.id, user_id=ids["ann"])
    start = datetime(2025, 5, 12, 9, 0, tzinfo=UTC)
    complaints = {
        "free": _open(db, settings, "free", None, start + timedelta(hours=3), "The scones were stale. " * 20),
        "ann": _open(
            db, settings, "ann", ids["ann"], start + timedelta(hours=1), "Charged twice for one order."
        ),
        "bob": _open(db, settings, "bob", ids["bob"], start, "The courier left it in the rain."),
        "max": _open(db, settings, "max", ids["max"], start + timedelta(hours=2), "Rude on the phone."),
    }
    tokens = {name: token_for(db, uid) for name, uid in ids.items()}
    return Office(settings, ids, tokens, complaints)


def listed(client: TestClient, office: Office, who: str, **params: str) -> list[int]:
    response = client.get(API, params=params, headers=office.tokens[who])
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_each_role_sees_its_own_queue(db: Database, office: Office) -> None:
    client, c = client_for(db, office.settings), office.complaints
    # Due first: Bob's arrived first, then Ann's, Max's, the free one.
    assert listed(client, office, "ada") == [c["bob"], c["ann"], c["max"], c["free"]]
    assert listed(client, office, "ann") == [c["ann"], c["free"]]
    assert listed(client, office, "bob") == [c["bob"], c["free"]]
    assert listed(client, office, "max") == [c["ann"], c["max"], c["free"]]
    assert listed(client, office, "max", scope="team") == [c["ann"], c["max"]]
    assert listed(client, office, "max", scope="mine") == [c["max"]]
    assert listed(client, office, "ann", scope="unassigned") == [c["free"]]
    refused = client.get(API, params={"scope": "team"}, headers=office.tokens["ann"])
    assert refused.status_code == 422 and "scope" in refused.text


def test_a_complaint_you_may_not_see_is_not_found(db: Database, office: Office) -> None:
    client, c = client_for(db, office.settings), office.complaints
    for path in (f"{API}/{c['bob']}",):
        assert client.get(path, headers=office.tokens["ann"]).status_code == 404
        assert client.get(path, headers=office.tokens["max"]).status_code == 404
        assert client.get(path, headers=office.tokens["ada"]).status_code == 200
    resolve = client.post(f"{API}/{c['bob']}/resolve", json={"resolution": "x"}, headers=office.tokens["ann"])
    assert resolve.status_code == 404
    shown = client.get(f"{API}/{c['ann']}", headers=office.tokens["max"]).json()
    assert shown["body"] == "Charged twice for one order." and shown["log"][0]["action"] == "received"
    assert client.get(f"{API}/99999", headers=office.tokens["ada"]).status_code == 404


def test_agents_take_unassigned_complaints_and_managers_assign_anyone(db: Database, office: Office) -> None:
    client, c, ids, t = client_for(db, office.settings), office.complaints, office.ids, office.tokens
    assign = f"{API}/{c['free']}/assign"
    to_bob = client.post(assign, json={"assignee_id": ids["bob"]}, headers=t["ann"])
    assert to_bob.status_code == 422 and "assignee_id" in to_bob.text
    taken = client.post(assign, json={"assignee_id": ids["ann"]}, headers=t["ann"])
    assert taken.status_code == 200 and taken.json()["assignee_id"] == ids["ann"]
    assert client.post(assign, json={"assignee_id": ids["bob"]}, headers=t["bob"]).status_code == 404
    moved = client.post(assign, json={"assignee_id": ids["bob"]}, headers=t["max"])
    assert moved.status_code == 200 and moved.json()["assignee_id"] == ids["bob"]
    assert client.get(f"{API}/{c['free']}", headers=t["ann"]).status_code == 404
    assert [e["action"] for e in moved.json()["log"]] == ["received", "assigned", "assigned"]
    ghost = client.post(f"{API}/{c['ann']}/assign", json={"assignee_id": 99999}, headers=t["ada"])
    assert ghost.status_code == 422


def test_priority_and_resolve_through_the_api(db: Database, office: Office) -> None:
    client, c, t = client_for(db, office.settings), office.complaints, office.tokens
    before = client.get(f"{API}/{c['ann']}", headers=t["ann"]).json()
    urgent = client.post(f"{API}/{c['ann']}/priority", json={"priority": "urgent"}, headers=t["ann"])
    assert urgent.status_code == 200 and urgent.json()["priority"] == "urgent"
    assert urgent.json()["first_response_due_at"] < before["first_response_due_at"]
    bad = client.post(f"{API}/{c['ann']}/priority", json={"priority": "now"}, headers=t["ann"])
    assert bad.status_code == 422 and "priority" in bad.text
    empty = client.post(f"{API}/{c['ann']}/resolve", json={"resolution": ""}, headers=t["ann"])
    assert empty.status_code == 422 and "resolution" in empty.text
    done = client.post(
        f"{API}/{c['ann']}/resolve", json={"resolution": "Refunded the double charge."}, headers=t["ann"]
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert [tm["state"] for tm in done.json()["timers"]] == ["missed"]
    # Resolved complaints come last.
    assert listed(client, office, "ann") == [c["free"], c["ann"]]
    assert listed(client, office, "ann", status="active") == [c["free"]]
    assert listed(client, office, "ann", status="resolved") == [c["ann"]]


def test_every_complaints_route_is_for_staff(db: Database, office: Office) -> None:
    app = client_for(db, office.settings).app
    table = role_table(app)  # type: ignore[arg-type]
    actions = ("assign", "priority", "resolve")
    ours = {
        ("POST", API), ("GET", API), ("GET", f"{API}/{{complaint_id:int}}"),
        *(("POST", f"{API}/{{complaint_id:int}}/{action}") for action in actions),
        ("GET", "/complaints"), ("GET", "/complaints/new"), ("POST", "/complaints/new"),
        ("GET", "/complaints/{complaint_id:int}"),
        *(("POST", f"/complaints/{{complaint_id:int}}/{action}") for action in actions),
    }  # fmt: skip
    routes = {key: roles for key, roles in table.items() if key in ours}
    assert set(routes) == ours
    assert all(roles == frozenset({"admin", "manager", "agent"}) for roles in routes.values()), routes
    assert client_for(db, office.settings).get(API).status_code == 401


def browser(db: Database, office: Office, email: str) -> TestClient:
    client = client_for(db, office.settings)
    assert login(client, email).status_code == 303
    return client


def test_inbox_page_shows_people_words_priority_assignee_and_timers(db: Database, office: Office) -> None:
    fresh = _open(db, office.settings, "fresh", None, utcnow(), "Just now: the door handle came off.")
    page = browser(db, office, "ann@shop.test").get("/complaints")
    assert page.status_code == 200
    html = page.text
    assert "Customer Ann" in html and "Customer Free" in html and "Customer Bob" not in html
    assert "Charged twice for one order." in html and "Ann" in html and "not yet taken" in html
    assert "…" in html  # the long complaint is shortened in the list
    assert f'class="inbox-row sla-overdue" id="complaint-{office.complaints["ann"]}"' in html
    assert "first response overdue by" in html
    fresh_row = html.split(f'id="complaint-{fresh}"')[1].split("</tr>")[0]
    assert "first response due in" in fresh_row and "(business hours)" in fresh_row
    assert html.index(f'id="complaint-{office.complaints["ann"]}"') < html.index(f'id="complaint-{fresh}"')
    mine = browser(db, office, "ann@shop.test").get("/complaints?scope=mine").text
    assert "Customer Ann" in mine and "Customer Free" not in mine
    # An agent has no "team" filter: a link with one shows everything they may see.
    team = browser(db, office, "ann@shop.test").get("/complaints?scope=team&status=bogus")
    assert team.status_code == 200 and "Customer Free" in team.text and "My team" not in team.text


def test_detail_page_take_and_resolve(db: Database, office: Office) -> None:
    client, free = browser(db, office, "ann@shop.test"), office.complaints["free"]
    page = client.get(f"/complaints/{free}")
    assert page.status_code == 200
    assert "The scones were stale." in page.text and f"/complaints/{free}/reply" in page.text
    with db.reading() as s:
        person_id = s.get(Complaint, free).person_id  # type: ignore[union-attr]
    assert f'href="/people/{person_id}"' in page.text
    assert "Take it" in page.text
    token = form_token(page.text)
    assert (
        client.post(f"/complaints/{free}/assign", data={"assignee_id": str(office.ids["ann"])}).status_code
        == 403
    )
    took = client.post(
        f"/complaints/{free}/assign",
        data={"csrf_token": token, "assignee_id": str(office.ids["ann"])},
        follow_redirects=False,
    )
    assert took.status_code == 303
    after = client.get(took.headers["location"])
    assert "Assignment saved." in after.text and "Take it" not in after.text and "assigned" in after.text
    missing = client.post(f"/complaints/{free}/resolve", data={"csrf_token": token, "resolution": " "})
    assert missing.status_code == 422 and "say what was done" in missing.text
    done = client.post(
        f"/complaints/{free}/resolve", data={"csrf_token": token, "resolution": "Sent fresh scones."}
    )
    assert done.status_code == 200 and "Resolved. What was done is recorded." in done.text
    assert "Sent fresh scones." in done.text
    assert client.get(f"/complaints/{office.complaints['bob']}").status_code == 404
    assert count(db, Complaint, Complaint.status == "resolved") == 1


def test_manager_changes_priority_and_assigns_from_the_page(db: Database, office: Office) -> None:
    client, ann_c = browser(db, office, "max@shop.test"), office.complaints["ann"]
    page = client.get(f"/complaints/{ann_c}")
    assert page.status_code == 200 and "Assign to" in page.text and "Take it" not in page.text
    token = form_token(page.text)
    changed = client.post(f"/complaints/{ann_c}/priority", data={"csrf_token": token, "priority": "high"})
    assert changed.status_code == 200 and "Priority changed" in changed.text
    wrong = client.post(f"/complaints/{ann_c}/priority", data={"csrf_token": token, "priority": "someday"})
    assert wrong.status_code == 422 and "unknown priority" in wrong.text
    moved = client.post(
        f"/complaints/{ann_c}/assign", data={"csrf_token": token, "assignee_id": str(office.ids["bob"])}
    )
    # Bob is not in Max's team: the complaint has left Max's view, so Max is back in the inbox.
    assert moved.status_code == 200 and f"Complaint #{ann_c} assigned; it has left your view." in moved.text
    assert client.get(f"/complaints/{ann_c}").status_code == 404


def test_odd_ids_on_the_pages_are_not_found_or_named_never_a_server_error(
    db: Database, office: Office
) -> None:
    client, free = browser(db, office, "ann@shop.test"), office.complaints["free"]
    for huge in (str(2**63), str(2**64 + 1)):
        assert client.get(f"/complaints/{huge}").status_code == 404
        token = form_token(client.get(f"/complaints/{free}").text)
        for action in ("assign", "priority", "resolve"):
            posted = client.post(
                f"/complaints/{huge}/{action}", data={"csrf_token": token, "resolution": "x"}
            )
            assert posted.status_code == 404, (action, posted.status_code)
        page = client.get(f"/complaints/new?person_id={huge}")
        assert page.status_code == 200 and 'name="email"' in page.text  # no such person: ask who it was
    assert client.get("/complaints/new?person_id=%C2%B2").status_code == 200  # "²" passes str.isdigit()
    page = client.get("/complaints/new")
    base = {
        "csrf_token": form_token(page.text),
        "nonce": "n" * 24,
        "channel": "letter",
        "body": "Torn label.",
    }
    for person_id in ("²", "١٢", str(2**64), "12abc"):
        refused = client.post("/complaints/new", data=base | {"person_id": person_id, "name": "Ms Rowe"})
        assert refused.status_code == 422 and 'id="error-person_id"' in refused.text, person_id
    assert count(db, Complaint) == 4
    token = form_token(client.get(f"/complaints/{free}").text)
    for assignee in ("²", str(2**64)):
        refused = client.post(
            f"/complaints/{free}/assign", data={"csrf_token": token, "assignee_id": assignee}
        )
        assert refused.status_code == 422 and "Not saved: assignee id: " in refused.text, assignee
    with db.reading() as s:
        unchanged = s.get(Complaint, free)
        assert unchanged is not None and unchanged.assignee_id is None


def test_nul_characters_typed_into_the_form_are_dropped(db: Database, office: Office) -> None:
    client = browser(db, office, "ann@shop.test")
    page = client.get("/complaints/new")
    form = {"csrf_token": form_token(page.text), "nonce": "m" * 24, "channel": "phone", "priority": "normal",
            "name": "Mr\x00 Pike", "subject": "Late\x00", "body": "Two\x00 weeks late."}  # fmt: skip
    posted = client.post("/complaints/new", data=form, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    new_id = int(posted.headers["location"].split("/")[2].split("?")[0])
    with db.reading() as s:
        complaint = s.get(Complaint, new_id)
        assert complaint is not None and (complaint.body, complaint.subject) == ("Two weeks late.", "Late")
    token = form_token(client.get(f"/complaints/{new_id}").text)
    done = client.post(
        f"/complaints/{new_id}/resolve", data={"csrf_token": token, "resolution": "Re\x00funded."}
    )
    assert done.status_code == 200 and "Refunded." in done.text


def test_reading_complaints_writes_nothing(db: Database, office: Office) -> None:
    """Their clocks ran out long ago, but looking at them charges nothing: only the sweep and actions do."""
    from goodwill.complaints.model import ComplaintLog
    from goodwill.events.model import Event

    def snapshot() -> tuple[int, int, list[object]]:
        with db.reading() as s:
            stamps = [c.updated_at for c in s.query(Complaint).order_by(Complaint.id)]
        return count(db, Event), count(db, ComplaintLog), stamps

    before = snapshot()
    page_client = browser(db, office, "max@shop.test")
    api_client = client_for(db, office.settings)
    for path in ("/complaints", *(f"/complaints/{cid}" for cid in office.complaints.values())):
        assert page_client.get(path).status_code in (200, 404)
    for cid in office.complaints.values():
        assert api_client.get(f"{API}/{cid}", headers=office.tokens["ada"]).status_code == 200
    assert api_client.get(API, headers=office.tokens["ada"]).status_code == 200
    assert snapshot() == before
