"""The role matrix of complaints and team appreciation: admin, manager, agent and a stranger against
every page and endpoint under /complaints, /api/v1/complaints, /team, /api/v1/kudos, /api/v1/teams and
/my/complaint.

``EXPECTED`` is the whole table, written out. It is checked two ways: against ``role_table(app)``
(so a new route under these prefixes without a row here fails), and by real requests with each role
(a refusal is 403, or 401 / a redirect to the login page for a stranger, never a 5xx). Then the rule
the issue asks for: agents see their own queue, managers their team's, admins everything; a
complaint one may not see is "not found" (404), not "forbidden".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from test_web_client import add_user, login, make_client, session_csrf, token_for

from goodwill.complaints.service import NewComplaint, open_complaint
from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.team.teams import add_member, create_team
from goodwill.web.api import API_PREFIX
from goodwill.web.deps import role_table

PREFIXES = ("/complaints", f"{API_PREFIX}/complaints", "/team", f"{API_PREFIX}/kudos", f"{API_PREFIX}/teams",
            "/my/complaint")  # fmt: skip
ALL = frozenset({"admin", "manager", "agent"})
MANAGERS = frozenset({"admin", "manager"})
ADMINS = frozenset({"admin"})
PUBLIC = None  # no account: the customer's own signed link
C, API = "/complaints/{complaint_id:int}", f"{API_PREFIX}/complaints"
EXPECTED: dict[tuple[str, str], frozenset[str] | None] = {
    # Complaints: every member of staff handles them; which ones they see is the visibility rule.
    ("GET", "/complaints"): ALL,
    ("GET", "/complaints/new"): ALL,
    ("POST", "/complaints/new"): ALL,
    ("GET", C): ALL,
    ("POST", f"{C}/assign"): ALL,
    ("POST", f"{C}/priority"): ALL,
    ("POST", f"{C}/resolve"): ALL,
    ("GET", "/complaints/{complaint_id}/reply"): ALL,
    ("POST", "/complaints/{complaint_id}/reply"): ALL,
    ("POST", "/complaints/{complaint_id}/reply/check"): ALL,
    ("GET", API): ALL,
    ("POST", API): ALL,
    ("GET", f"{API}/{{complaint_id:int}}"): ALL,
    ("POST", f"{API}/{{complaint_id:int}}/assign"): ALL,
    ("POST", f"{API}/{{complaint_id:int}}/priority"): ALL,
    ("POST", f"{API}/{{complaint_id:int}}/resolve"): ALL,
    # Service gaps: the themes, for those who decide what to fix.
    ("GET", "/complaints/themes"): MANAGERS,
    ("POST", "/complaints/themes/refresh"): MANAGERS,
    # The customer's one question after a resolution, through a signed link.
    ("GET", "/my/complaint/{token}"): PUBLIC,
    ("POST", "/my/complaint/{token}"): PUBLIC,
    # Kudos and the thanks wall: all staff. Teams: managers read, admins change.
    ("GET", "/team"): ALL,
    ("POST", "/team/kudos"): ALL,
    ("GET", f"{API_PREFIX}/kudos"): ALL,
    ("POST", f"{API_PREFIX}/kudos"): ALL,
    ("GET", "/team/teams"): MANAGERS,
    ("POST", "/team/teams"): ADMINS,
    ("POST", "/team/teams/{team_id}/manager"): ADMINS,
    ("POST", "/team/teams/{team_id}/members"): ADMINS,
    ("POST", "/team/teams/{team_id}/members/{user_id}/remove"): ADMINS,
    ("GET", f"{API_PREFIX}/teams"): MANAGERS,
    ("POST", f"{API_PREFIX}/teams"): ADMINS,
    ("PATCH", f"{API_PREFIX}/teams/{{team_id}}"): ADMINS,
    ("POST", f"{API_PREFIX}/teams/{{team_id}}/members"): ADMINS,
    ("DELETE", f"{API_PREFIX}/teams/{{team_id}}/members/{{user_id}}"): ADMINS,
    # The weekly digest is for managers (their teams) and admins (everyone); notices are everyone's own.
    ("GET", "/team/digest"): MANAGERS,
    ("GET", "/team/notices"): ALL,
    ("POST", "/team/notices/read"): ALL,
}
ROLES = ("admin", "manager", "agent", "anonymous")


@dataclass
class Shop:
    ids: dict[str, int]  # path parameters and complaint ids by name
    api: dict[str, dict[str, str]]  # bearer headers by role
    pages: dict[str, TestClient]  # logged-in browsers (with their CSRF header) by role, and "anonymous"


def seed(db: Database) -> Shop:
    """Ada (admin); Max manages the day team (Ann); Bo is on the night team; Sam is on a spare team
    that the admin-only requests may change. One complaint in the shared queue, one each for Ann and Bo."""
    settings = load_settings(database_url=db.url, secret_key="test-secret")
    users = {
        name: add_user(db, f"{name}@shop.test", role, name=name.title())
        for name, role in (
            ("ada", "admin"),
            ("max", "manager"),
            ("ann", "agent"),
            ("bo", "agent"),
            ("sam", "agent"),
        )
    }
    at = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
    with db.transaction() as s:
        day = create_team(s, name="Day", manager_id=users["max"])
        night = create_team(s, name="Night")
        spare = create_team(s, name="Spare")
        for user, team in (("ann", day), ("bo", night), ("sam", spare)):
            add_member(s, team_id=team.id, user_id=users[user])
        ids = {"team_id": spare.id, "user_id": users["sam"]}
        for name, assignee in (("shared", None), ("ann_c", users["ann"]), ("bo_c", users["bo"])):
            new = NewComplaint(
                body=f"The {name} teapot dripped", source="api", source_id=name, received_at=at,
                email=f"{name}@customer.test", assignee_id=assignee,
            )  # fmt: skip
            ids[name] = open_complaint(s, new=new, settings=settings)[0].id
    ids["complaint_id"] = ids["shared"]
    api = {
        role: token_for(db, users[name])
        for role, name in (("admin", "ada"), ("manager", "max"), ("agent", "ann"))
    }
    pages = {"anonymous": make_client(db)}
    for role, name in (("admin", "ada"), ("manager", "max"), ("agent", "ann")):
        client = make_client(db)
        assert login(client, f"{name}@shop.test").status_code == 303
        client.headers["X-CSRF-Token"] = session_csrf(client)
        pages[role] = client
    return Shop(ids, api, pages)


def fill(path: str, ids: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return "not-a-signed-link" if name == "token" else str(ids[name])

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def call(shop: Shop, role: str, method: str, path: str) -> httpx.Response:
    url = fill(path, shop.ids)
    if path.startswith(f"{API_PREFIX}/"):
        client, headers = shop.pages["anonymous"], shop.api.get(role, {})
        body = {} if method in ("POST", "PATCH", "PUT") else None
        return client.request(method, url, json=body, headers=headers, follow_redirects=False)
    return shop.pages[role].request(
        method, url, data={} if method == "POST" else None, follow_redirects=False
    )


def test_every_route_under_the_issue_8_prefixes_has_its_row(db: Database) -> None:
    table = role_table(make_client(db).app)
    found = {route: roles for route, roles in table.items() if route[1].startswith(PREFIXES)}
    missing = sorted(set(found) - set(EXPECTED))
    assert not missing, f"new routes need a row in EXPECTED: {missing}"
    assert found == EXPECTED


def test_each_role_is_let_in_or_refused_as_the_table_says(db: Database) -> None:
    shop = seed(db)
    wrong = []
    for (method, path), allowed in EXPECTED.items():
        for role in ROLES:
            response = call(shop, role, method, path)
            may = allowed is None or role in allowed
            status = response.status_code
            if status >= 500:
                ok = False
            elif may:
                ok = status not in (401, 403)
            elif role != "anonymous":
                ok = status == 403
            elif path.startswith(f"{API_PREFIX}/"):
                ok = status == 401
            else:  # a page: off to the login page
                ok = status == 303 and response.headers["location"].startswith("/login")
            if not ok:
                wrong.append((method, path, role, status))
    assert wrong == []


@pytest.mark.parametrize(
    "viewer, complaint, visible",
    [
        ("agent", "ann_c", True),  # their own
        ("agent", "shared", True),  # the queue to pick from
        ("agent", "bo_c", False),  # another agent's
        ("manager", "ann_c", True),  # their team's
        ("manager", "shared", True),
        ("manager", "bo_c", False),  # an agent outside their team
        ("admin", "bo_c", True),
    ],
)
def test_a_complaint_one_may_not_see_is_not_found(
    db: Database, viewer: str, complaint: str, visible: bool
) -> None:
    shop = seed(db)
    cid = shop.ids[complaint]
    expected = 200 if visible else 404
    api = shop.pages["anonymous"].get(f"{API_PREFIX}/complaints/{cid}", headers=shop.api[viewer])
    assert api.status_code == expected, api.text
    page = shop.pages[viewer]
    assert page.get(f"/complaints/{cid}").status_code == expected
    assert page.get(f"/complaints/{cid}/reply").status_code == expected
    listed = shop.pages["anonymous"].get(f"{API_PREFIX}/complaints", headers=shop.api[viewer])
    assert listed.status_code == 200
    assert (cid in [item["id"] for item in listed.json()["items"]]) is visible
    # Acting on it is "not found" too.
    resolved = shop.pages["anonymous"].post(
        f"{API_PREFIX}/complaints/{cid}/resolve", json={"resolution": "Refunded"}, headers=shop.api[viewer]
    )
    assert resolved.status_code == expected, resolved.text
