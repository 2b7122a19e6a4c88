"""The team's web layer on both backends: the kudos and teams API, the thanks wall and the teams page,
with role checks, CSRF on every form, idempotent retries and no ranking unless the business wants one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import BASE_URL, add_user, form_token, login, make_client, token_for

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.people.privacy import erase_person
from goodwill.team import teams
from goodwill.team.model import Kudos, Team, TeamMember
from goodwill.web.api import API_PREFIX
from goodwill.web.app import create_app
from goodwill.web.deps import role_table

K, T = f"{API_PREFIX}/kudos", f"{API_PREFIX}/teams"
EVERYONE, MANAGERS, ADMINS = (
    frozenset({"admin", "manager", "agent"}),
    frozenset({"admin", "manager"}),
    frozenset({"admin"}),
)


@dataclass
class Staff:
    ada: int
    maya: int
    tom: int
    zoe: int
    team_id: int
    admin: dict[str, str]
    manager: dict[str, str]
    agent: dict[str, str]


def seed(db: Database) -> Staff:
    ada = add_user(db, "ada@shop.test", "admin", name="Ada Lovelace")
    maya = add_user(db, "maya@shop.test", "manager", name="Maya Angelou")
    tom = add_user(db, "tom@shop.test", "agent", name="Tom Baker")
    zoe = add_user(db, "zoe@shop.test", "agent", name="Zoë Martin")
    with db.transaction() as s:
        team = teams.create_team(s, name="Shop floor", manager_id=maya)
        teams.add_member(s, team_id=team.id, user_id=tom)
        team_id = team.id
    return Staff(ada, maya, tom, zoe, team_id, token_for(db, ada), token_for(db, maya), token_for(db, tom))


def client_with(db: Database, **team: Any) -> TestClient:
    settings = load_settings(
        database_url=db.url, secret_key="test-secret", business={"timezone": "Europe/Paris"}, team=team
    )
    return TestClient(create_app(settings, db), base_url=BASE_URL)


def count(db: Database, model: type) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def logged_in(db: Database, email: str, **team: Any) -> tuple[TestClient, str]:
    client = client_with(db, **team)
    assert login(client, email).status_code == 303
    return client, form_token(client.get("/team").text)


def thanks(client: TestClient, csrf: str | None, **fields: Any) -> httpx.Response:
    data = {k: str(v) for k, v in fields.items()} | ({"csrf_token": csrf} if csrf else {})
    return client.post("/team/kudos", data=data, follow_redirects=False)


# -- API ---------------------------------------------------------------------------------------------


def test_giving_kudos_through_the_api_is_idempotent_with_a_key(db: Database) -> None:
    staff, client = seed(db), make_client(db)
    body = {"to_email": "ZOE@shop.test", "reason": "Took my phone shift"}
    first = client.post(K, json=body, headers=staff.agent | {"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["to_user_id"], made["from_user_id"], made["from_kind"]) == (
        staff.zoe,
        staff.tom,
        "colleague",
    )
    assert made["allowance_left"] is None
    again = client.post(K, json=body, headers=staff.agent | {"Idempotency-Key": "k-1"})
    assert (
        again.status_code == 201 and again.json() == made and again.headers["idempotent-replayed"] == "true"
    )
    other = client.post(
        K, json=body | {"reason": "Something else"}, headers=staff.agent | {"Idempotency-Key": "k-1"}
    )
    assert other.status_code == 409
    by_manager = client.post(
        K, json={"to_user_id": staff.tom, "reason": "Handled a hard call"}, headers=staff.manager
    )
    assert by_manager.status_code == 201 and by_manager.json()["from_kind"] == "manager"
    assert count(db, Kudos) == 2
    assert client.post(K, json=body).status_code == 401


def test_refused_kudos_are_422_naming_the_field(db: Database) -> None:
    staff, client = seed(db), make_client(db)
    cases = [
        ({"to_user_id": staff.zoe, "reason": "ok"}, "reason", "at least 3"),
        ({"to_user_id": staff.tom, "reason": "Thanks me"}, "to_user_id", "yourself"),
        ({"to_email": "ghost@shop.test", "reason": "Thanks"}, "to_email", "ghost@shop.test"),
        ({"reason": "Thanks"}, "to_user_id", "whom"),
        ({"to_user_id": staff.zoe, "reason": "Thanks", "points": 5}, "points", "no monthly allowance"),
        ({"to_user_id": staff.zoe, "reason": "Thanks", "extra": 1}, "extra", ""),
    ]
    for body, field, words in cases:
        answer = client.post(K, json=body, headers=staff.agent)
        assert answer.status_code == 422, (body, answer.text)
        [detail] = answer.json()["detail"]
        assert detail["loc"][-1] == field and words in detail["msg"], detail
    assert count(db, Kudos) == 0


def test_points_come_out_of_the_monthly_allowance(db: Database) -> None:
    staff, client = seed(db), client_with(db, monthly_allowance=50)
    made = client.post(
        K, json={"to_user_id": staff.zoe, "reason": "Great cover", "points": 30}, headers=staff.agent
    )
    assert made.status_code == 201 and made.json()["allowance_left"] == 20
    over = client.post(K, json={"to_user_id": staff.zoe, "reason": "More", "points": 21}, headers=staff.agent)
    assert over.status_code == 422
    assert over.json()["detail"][0]["msg"] == "You have 20 of your 50 points left this month"


def test_the_wall_api_pages_back_and_shows_a_customer_by_first_name_only(db: Database) -> None:
    staff, client = seed(db), make_client(db)
    for n in range(3):
        client.post(K, json={"to_user_id": staff.zoe, "reason": f"Thanks number {n}"}, headers=staff.agent)
    praise = {
        "email": "amelie@montmartre.test", "name": "Amélie Poulain", "kind": "praise",
        "occurred_at": "2025-05-02T15:00:00+02:00", "text": "Tom wrapped it beautifully",
    }  # fmt: skip
    assert client.post(f"{API_PREFIX}/events", json=praise, headers=staff.admin).status_code == 201
    first = client.get(K, params={"limit": 2}, headers=staff.agent).json()
    [customer, newest] = first["items"]
    assert (
        customer["from_customer"]
        and customer["giver"] == "a customer"
        and customer["recipient"] == "Tom Baker"
    )
    assert customer["customer_first_name"] == "Amélie" and customer["reason"] == "Tom wrapped it beautifully"
    assert "amelie@" not in str(first) and "Poulain" not in str(first)
    assert newest["reason"] == "Thanks number 2"
    rest = client.get(
        K, params={"limit": 2, "before_id": first["next_before_id"]}, headers=staff.agent
    ).json()
    assert [c["reason"] for c in rest["items"]] == ["Thanks number 1", "Thanks number 0"]
    assert rest["next_before_id"] is None
    mine = client.get(K, params={"to_user_id": staff.tom}, headers=staff.agent).json()
    assert [c["from_kind"] for c in mine["items"]] == ["customer"]


def test_teams_api_admins_arrange_managers_look_agents_do_not(db: Database) -> None:
    staff, client = seed(db), make_client(db)
    assert client.get(T, headers=staff.agent).status_code == 403
    assert [t["name"] for t in client.get(T, headers=staff.manager).json()["items"]] == ["Shop floor"]
    assert client.post(T, json={"name": "Back office"}, headers=staff.manager).status_code == 403
    created = client.post(T, json={"name": "Back office", "manager_id": staff.ada}, headers=staff.admin)
    assert created.status_code == 201, created.text
    back = created.json()
    assert back["manager"]["email"] == "ada@shop.test" and back["members"] == []
    duplicate = client.post(T, json={"name": "back office"}, headers=staff.admin)
    assert duplicate.status_code == 422 and duplicate.json()["detail"][0]["loc"] == ["body", "name"]
    not_a_manager = client.post(T, json={"name": "Tea", "manager_id": staff.zoe}, headers=staff.admin)
    assert not_a_manager.status_code == 422 and "manager or admin" in not_a_manager.json()["detail"][0]["msg"]
    moved = client.post(f"{T}/{back['id']}/members", json={"user_id": staff.tom}, headers=staff.admin)
    assert moved.status_code == 200 and [m["id"] for m in moved.json()["members"]] == [staff.tom]
    assert (
        client.post(f"{T}/9999/members", json={"user_id": staff.tom}, headers=staff.admin).status_code == 404
    )
    unknown = client.post(f"{T}/{back['id']}/members", json={"user_id": 9999}, headers=staff.admin)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "user_id"]
    renamed = client.patch(
        f"{T}/{back['id']}", json={"name": "Back room", "clear_manager": True}, headers=staff.admin
    )
    assert (
        renamed.status_code == 200
        and renamed.json()["name"] == "Back room"
        and renamed.json()["manager"] is None
    )
    removed = client.delete(f"{T}/{back['id']}/members/{staff.tom}", headers=staff.admin)
    assert removed.status_code == 200 and removed.json()["members"] == []
    assert client.delete(f"{T}/{back['id']}/members/{staff.tom}", headers=staff.admin).status_code == 404
    everything = client.get(T, headers=staff.admin).json()["items"]
    assert [t["name"] for t in everything] == ["Back room", "Shop floor"]
    assert client.get(T, headers=staff.manager).json()["items"][0]["members"] == []


def test_every_team_route_declares_its_roles(db: Database) -> None:
    table = role_table(make_client(db).app)
    expected = {
        ("POST", K): EVERYONE,
        ("GET", K): EVERYONE,
        ("GET", T): MANAGERS,
        ("POST", T): ADMINS,
        ("PATCH", f"{T}/{{team_id}}"): ADMINS,
        ("POST", f"{T}/{{team_id}}/members"): ADMINS,
        ("DELETE", f"{T}/{{team_id}}/members/{{user_id}}"): ADMINS,
        ("GET", "/team"): EVERYONE,
        ("POST", "/team/kudos"): EVERYONE,
        ("GET", "/team/teams"): MANAGERS,
        ("POST", "/team/teams"): ADMINS,
        ("POST", "/team/teams/{team_id}/manager"): ADMINS,
        ("POST", "/team/teams/{team_id}/members"): ADMINS,
        ("POST", "/team/teams/{team_id}/members/{user_id}/remove"): ADMINS,
    }
    assert {route: table.get(route) for route in expected} == expected


# -- the thanks wall --------------------------------------------------------------------------------


def test_an_agent_says_thanks_on_the_wall_with_a_csrf_token(db: Database) -> None:
    staff = seed(db)
    client, csrf = logged_in(db, "tom@shop.test")
    page = client.get("/team")
    assert page.status_code == 200
    assert "Say thanks" in page.text and 'name="points"' not in page.text  # no allowance: no points
    assert "Thanks received this month" not in page.text  # no ranking by default
    assert "Tom Baker</option>" not in page.text and "Zoë Martin</option>" in page.text  # not yourself
    assert thanks(client, None, to_user_id=staff.zoe, reason="Without a token").status_code == 403
    assert thanks(client, "wrong", to_user_id=staff.zoe, reason="Wrong token").status_code == 403
    assert count(db, Kudos) == 0
    sent = thanks(client, csrf, to_user_id=staff.zoe, reason="You found the lost parcel")
    assert sent.status_code == 303 and sent.headers["location"].startswith("/team?thanked=")
    wall = client.get(sent.headers["location"])
    card = re.search(r'<article class="kudos-card[^"]*" id="kudos-\d+">(.*?)</article>', wall.text, re.S)
    assert card and "Tom Baker" in card.group(1) and "Zoë Martin" in card.group(1)
    assert "You found the lost parcel" in card.group(1)
    assert "Your thanks is on the wall" in wall.text


def test_a_refused_thanks_shows_why_and_keeps_what_was_typed(db: Database) -> None:
    staff = seed(db)
    client, csrf = logged_in(db, "tom@shop.test")
    refused = thanks(client, csrf, to_user_id=staff.zoe, reason="ok")
    assert refused.status_code == 422 and "at least 3 characters" in refused.text
    assert ">ok</textarea>" in refused.text
    not_chosen = thanks(client, csrf, to_user_id="", reason="Thanks a lot")
    assert not_chosen.status_code == 422 and "choose the colleague" in not_chosen.text
    assert ">Thanks a lot</textarea>" in not_chosen.text
    assert thanks(client, csrf, to_user_id="abc", reason="Thanks a lot").status_code == 422
    assert count(db, Kudos) == 0


def test_with_an_allowance_the_form_shows_what_is_left_and_refuses_more(db: Database) -> None:
    staff = seed(db)
    client, csrf = logged_in(db, "tom@shop.test", monthly_allowance=50)
    page = client.get("/team").text
    assert 'name="points"' in page and "you have 50 of your 50 left this month" in page
    assert thanks(client, csrf, to_user_id=staff.zoe, reason="Great cover", points=30).status_code == 303
    assert "you have 20 of your 50 left this month" in client.get("/team").text
    over = thanks(client, csrf, to_user_id=staff.zoe, reason="More", points=25)
    assert over.status_code == 422 and "You have 20 of your 50 points left this month" in over.text
    assert "+30 points" in client.get("/team").text


def test_the_ranking_is_hidden_by_default_and_shown_when_enabled(db: Database) -> None:
    staff = seed(db)
    api = make_client(db)
    for giver in (staff.agent, staff.manager):
        api.post(K, json={"to_user_id": staff.zoe, "reason": "Thanks"}, headers=giver)
    hidden, _ = logged_in(db, "zoe@shop.test")
    assert "Thanks received this month" not in hidden.get("/team").text
    shown, _ = logged_in(db, "zoe@shop.test", show_ranking=True)
    page = shown.get("/team").text
    ranking = re.search(r'<ol class="ranking small">(.*?)</ol>', page, re.S)
    assert ranking and "Zoë Martin" in ranking.group(1) and ">2</span>" in ranking.group(1)


def test_customer_praise_is_a_card_of_its_own_with_their_words(db: Database) -> None:
    staff = seed(db)
    praise = {
        "email": "amelie@montmartre.test", "name": "Amélie Poulain", "kind": "praise",
        "occurred_at": "2025-05-02T15:00:00+02:00", "text": "Zoë <b>remembered</b> my name",
        "staff_email": "zoe@shop.test",
    }  # fmt: skip
    assert make_client(db).post(f"{API_PREFIX}/events", json=praise, headers=staff.admin).status_code == 201
    client, _ = logged_in(db, "zoe@shop.test")
    page = client.get("/team").text
    card = re.search(r'<article class="kudos-card kudos-customer" id="kudos-\d+">(.*?)</article>', page, re.S)
    assert card, "no customer card on the wall"
    assert "A customer praised <strong>Zoë Martin</strong>" in card.group(1)
    assert "Zoë &lt;b&gt;remembered&lt;/b&gt; my name" in card.group(1)  # escaped, quoted
    assert "— Amélie" in card.group(1) and "Poulain" not in page and "amelie@" not in page
    with db.transaction() as s:
        [kudos] = s.scalars(select(Kudos)).all()
        erase_person(
            s, person_ref=kudos.person_id, secret_key="test-secret", erased_by="test", reason="asked"
        )
    erased = client.get("/team").text
    assert (
        "Their words are no longer kept." in erased and "remembered" not in erased and "Amélie" not in erased
    )


def test_the_wall_pages_back_to_older_thanks(db: Database) -> None:
    staff = seed(db)
    api = make_client(db)
    for n in range(32):
        api.post(K, json={"to_user_id": staff.zoe, "reason": f"Thanks number {n:02d}"}, headers=staff.agent)
    client, _ = logged_in(db, "tom@shop.test")
    page = client.get("/team").text
    assert "Thanks number 31" in page and "Thanks number 01" not in page
    older = re.search(r'href="/team\?before_id=(\d+)">Older thanks', page)
    assert older
    rest = client.get(f"/team?before_id={older.group(1)}").text
    assert "Thanks number 01" in rest and "Thanks number 00" in rest and "Thanks number 31" not in rest


def test_say_thanks_from_the_digest_preselects_the_colleague(db: Database) -> None:
    staff = seed(db)
    client, _ = logged_in(db, "maya@shop.test")
    page = client.get(f"/team?to={staff.zoe}")
    assert page.status_code == 200
    assert re.search(rf'<option value="{staff.zoe}"\s+selected>', page.text), "Zoë is not preselected"
    assert len(re.findall(r"<option [^>]*selected", page.text)) == 1
    # Themselves, someone unknown, or nobody: nothing is preselected.
    for to in (staff.maya, 9999, ""):
        assert "selected>" not in client.get("/team", params={"to": to}).text


def test_praise_without_words_reads_as_such_not_as_erased(db: Database) -> None:
    staff = seed(db)
    praise = {
        "email": "amelie@montmartre.test", "name": "Amélie Poulain", "kind": "praise",
        "occurred_at": "2025-05-02T15:00:00+02:00", "staff_email": "zoe@shop.test",
    }  # fmt: skip
    assert make_client(db).post(f"{API_PREFIX}/events", json=praise, headers=staff.admin).status_code == 201
    client, _ = logged_in(db, "zoe@shop.test")
    page = client.get("/team").text
    card = re.search(r'<article class="kudos-card kudos-customer" id="kudos-\d+">(.*?)</article>', page, re.S)
    assert card and "no longer kept" not in card.group(1)
    assert "No words, just their thanks" in card.group(1) and "— Amélie" in card.group(1)


BIG = str(2**63)  # one past the largest id a database column holds
DIGITS = "\u00b2"  # a superscript two: str.isdigit() says yes, int() says no


def test_out_of_range_and_odd_numbers_are_refused_not_a_server_error(db: Database) -> None:
    staff = seed(db)
    api = make_client(db)
    for body in (
        {"to_user_id": int(BIG), "reason": "Thanks"},
        {"to_user_id": staff.zoe, "reason": "Thanks", "person_id": int(BIG)},
        {"to_user_id": staff.zoe, "reason": "Thanks", "complaint_id": int(BIG)},
    ):
        answer = api.post(K, json=body, headers=staff.agent)
        assert answer.status_code == 422, (body, answer.text)
    assert api.get(K, params={"before_id": BIG}, headers=staff.agent).status_code == 422
    assert api.get(K, params={"to_user_id": BIG}, headers=staff.agent).status_code == 422
    assert api.patch(f"{T}/{BIG}", json={"name": "X"}, headers=staff.admin).status_code == 422
    assert api.post(T, json={"name": "X", "manager_id": int(BIG)}, headers=staff.admin).status_code == 422
    assert api.post(f"{T}/{BIG}/members", json={"user_id": staff.tom}, headers=staff.admin).status_code == 422
    assert (
        api.post(f"{T}/{staff.team_id}/members", json={"user_id": int(BIG)}, headers=staff.admin).status_code
        == 422
    )
    assert api.delete(f"{T}/{staff.team_id}/members/{BIG}", headers=staff.admin).status_code == 422
    assert api.delete(f"{T}/{BIG}/members/{staff.tom}", headers=staff.admin).status_code == 422

    client, csrf = logged_in(db, "tom@shop.test", monthly_allowance=50)
    for query in ("person_id", "before_id", "to", "thanked"):
        assert client.get("/team", params={query: BIG}).status_code == 422, query
    for fields in (
        {"to_user_id": DIGITS},
        {"to_user_id": BIG},
        {"to_user_id": staff.zoe, "points": DIGITS},
        {"to_user_id": staff.zoe, "person_id": BIG},
        {"to_user_id": staff.zoe, "person_id": DIGITS},
    ):
        refused = thanks(client, csrf, reason="Thanks a lot", **fields)
        assert refused.status_code == 422 and "whole number" in refused.text, fields
    assert count(db, Kudos) == 0

    admin, admin_csrf = logged_in(db, "ada@shop.test")
    for path, data in (
        ("/team/teams", {"name": "Mine", "manager_id": BIG}),
        (f"/team/teams/{staff.team_id}/manager", {"manager_id": DIGITS}),
        (f"/team/teams/{staff.team_id}/members", {"user_id": BIG}),
        (f"/team/teams/{BIG}/members", {"user_id": str(staff.zoe)}),
        (f"/team/teams/{BIG}/manager", {"manager_id": str(staff.maya)}),
        (f"/team/teams/{staff.team_id}/members/{BIG}/remove", {}),
    ):
        answer = admin.post(path, data={"csrf_token": admin_csrf, **data}, follow_redirects=False)
        assert answer.status_code in (404, 422), (path, answer.status_code)


def test_nul_characters_are_dropped_from_what_staff_type(db: Database) -> None:
    staff = seed(db)
    api = make_client(db)
    made = api.post(K, json={"to_user_id": staff.zoe, "reason": "Thanks\x00 a lot"}, headers=staff.agent)
    assert made.status_code == 201 and made.json()["reason"] == "Thanks a lot"
    by_email = api.post(K, json={"to_email": "zoe@shop.test\x00", "reason": "Again"}, headers=staff.agent)
    assert by_email.status_code == 201, by_email.text
    team = api.post(T, json={"name": "Back\x00 office"}, headers=staff.admin)
    assert team.status_code == 201 and team.json()["name"] == "Back office"
    client, csrf = logged_in(db, "tom@shop.test")
    assert thanks(client, csrf, to_user_id=staff.zoe, reason="On the\x00 form").status_code == 303
    with db.reading() as s:
        assert sorted(s.scalars(select(Kudos.reason))) == ["Again", "On the form", "Thanks a lot"]


# -- teams page -------------------------------------------------------------------------------------


def test_the_teams_page_admins_arrange_managers_read_agents_may_not(db: Database) -> None:
    staff = seed(db)
    agent, _ = logged_in(db, "tom@shop.test")
    assert agent.get("/team/teams").status_code == 403
    manager, manager_csrf = logged_in(db, "maya@shop.test")
    page = manager.get("/team/teams")
    assert page.status_code == 200 and "Shop floor" in page.text and "Tom Baker" in page.text
    assert "Create a team" not in page.text and "/members/" not in page.text
    denied = manager.post(
        "/team/teams", data={"csrf_token": manager_csrf, "name": "Mine"}, follow_redirects=False
    )
    assert denied.status_code == 403

    admin, csrf = logged_in(db, "ada@shop.test")
    no_token = admin.post("/team/teams", data={"name": "Back office"}, follow_redirects=False)
    assert no_token.status_code == 403 and count(db, Team) == 1
    made = admin.post(
        "/team/teams", data={"csrf_token": csrf, "name": "Back office", "manager_id": str(staff.ada)},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303
    with db.reading() as s:
        back = s.scalar(select(Team).where(Team.name == "Back office"))
        assert back is not None and back.manager_id == staff.ada
        back_id = back.id
    duplicate = admin.post(
        "/team/teams", data={"csrf_token": csrf, "name": "Shop Floor"}, follow_redirects=False
    )
    assert duplicate.status_code == 422 and "already a team" in duplicate.text
    moved = admin.post(f"/team/teams/{back_id}/members", data={"csrf_token": csrf, "user_id": str(staff.tom)})
    assert moved.status_code == 200 and "Saved." in moved.text
    with db.reading() as s:
        assert s.get(TeamMember, staff.tom).team_id == back_id  # type: ignore[union-attr]
    bad_manager = admin.post(
        f"/team/teams/{back_id}/manager",
        data={"csrf_token": csrf, "manager_id": str(staff.zoe), "name": "Back office"},
    )
    assert bad_manager.status_code == 422 and "manager or admin" in bad_manager.text
    renamed = admin.post(
        f"/team/teams/{back_id}/manager",
        data={"csrf_token": csrf, "manager_id": str(staff.maya), "name": "Back room"},
    )
    assert renamed.status_code == 200 and "Back room" in renamed.text
    removed = admin.post(f"/team/teams/{back_id}/members/{staff.tom}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 200
    with db.reading() as s:
        assert s.get(TeamMember, staff.tom) is None
        assert s.get(Team, back_id).manager_id == staff.maya  # type: ignore[union-attr]
    # The manager now sees both teams they manage.
    assert "Back room" in manager.get("/team/teams").text
