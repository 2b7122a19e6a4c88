"""The role matrix: every page and endpoint x role x method, as ``docs/security.md`` states it.

Two checks. The table derived from the app (``goodwill.web.role_doc.role_matrix``) must be the one
between the markers in ``docs/security.md``, so a new route, a changed role or a new public route
without a stated protection fails until the doc is regenerated. Then every route is really called
as admin, manager, agent and a stranger (pages with a logged-in browser, API operations with a
bearer token and again with the session cookie and its CSRF header): a role the table refuses gets
403 (a stranger: a redirect to the login page, or 401 from the API); a role it allows never gets
401 or 403, nor a redirect to the login page; nothing answers with a server error. Public routes
are called with valid credentials of their own kind (signed links, a signed webhook, a password).
"""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_web_client import BASE_URL, PASSWORD, form_token, login, session_csrf

from goodwill.complaints.reply_service import satisfaction_token
from goodwill.complaints.service import NewComplaint, open_complaint
from goodwill.config import Settings, load_settings
from goodwill.db import Database, utcnow
from goodwill.loyalty import ledger
from goodwill.loyalty.links import customer_token
from goodwill.loyalty.model import EntryKind
from goodwill.loyalty.redemption import redeem
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.service import PersonRecord, create_person
from goodwill.people.sms_inbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature
from goodwill.people.unsubscribe import make_token
from goodwill.team.service import create_api_token, create_user
from goodwill.team.teams import add_member, create_team
from goodwill.web.api import API_PREFIX
from goodwill.web.app import create_app
from goodwill.web.deps import role_table
from goodwill.web.role_doc import (
    END,
    START,
    UNDOCUMENTED,
    RouteRow,
    replace_section,
    role_matrix,
    route_rows,
    section_of,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
REGENERATE = ".venv/bin/python -m goodwill.web.role_doc docs/security.md"
SECRET = "test-secret"
HOOK_TOKEN = "matrix-hook-token"
STAFF_ROLES = ("admin", "manager", "agent")
ROLES = (*STAFF_ROLES, "anonymous")


def settings_for(db: Database) -> Settings:
    return load_settings(database_url=db.url, secret_key=SECRET, sms_webhook_token=HOOK_TOKEN)


# --- the document ----------------------------------------------------------------------------------


def test_the_document_states_the_role_matrix_the_app_has(sqlite_db: Database) -> None:
    derived = role_matrix(create_app(settings_for(sqlite_db), sqlite_db))
    assert UNDOCUMENTED not in derived, (
        "a public route has no stated protection: add it to goodwill.web.role_doc.PUBLIC_PROTECTION\n"
        + "\n".join(line for line in derived.splitlines() if UNDOCUMENTED in line)
    )
    documented = section_of(DOC.read_text(encoding="utf-8"))
    if documented != derived:
        diff = "".join(
            difflib.unified_diff(
                documented.splitlines(keepends=True),
                derived.splitlines(keepends=True),
                "docs/security.md",
                "the app",
            )
        )
        pytest.fail(f"docs/security.md's role matrix differs from the app; regenerate it with\n"
                    f"    {REGENERATE}\nand review the change:\n{diff}")  # fmt: skip


def test_the_section_between_the_markers_is_replaced_and_nothing_else() -> None:
    document = f"# Title\n\nBefore.\n\n{START}\nold table\n{END}\n\nAfter.\n"
    rewritten = replace_section(document, "| new | table |\n")
    assert rewritten == f"# Title\n\nBefore.\n\n{START}\n| new | table |\n{END}\n\nAfter.\n"
    assert section_of(rewritten) == "| new | table |\n"
    assert replace_section(rewritten, "| new | table |\n") == rewritten  # stable
    with pytest.raises(ValueError, match="markers"):
        section_of("no markers here")
    with pytest.raises(ValueError, match="markers"):
        replace_section(f"{END}\n{START}\n", "x")


def test_the_rows_agree_with_role_table_and_cover_every_route(sqlite_db: Database) -> None:
    app = create_app(settings_for(sqlite_db), sqlite_db)
    rows = {(r.method, r.path): r for r in route_rows(app)}
    for key, roles in role_table(app).items():
        assert key in rows, f"{key} is missing from the matrix"
        assert rows[key].roles == roles, key
    # Beyond role_table: the OpenAPI document and the static files are listed as public too.
    assert rows[("GET", f"{API_PREFIX}/openapi.json")].roles is None
    assert rows[("GET", "/static/{path}")].roles is None
    assert rows[("GET", "/login")].roles is None and rows[("POST", "/logout")].roles is not None
    assert list(rows.values()) == sorted(rows.values(), key=RouteRow.sort_key)
    assert role_matrix(app) == role_matrix(app)


# --- real calls, every route x every role -----------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    emails: dict[str, str]
    values: dict[str, str]  # path parameter values by name
    tokens: dict[str, str]  # signed links by the path they belong to
    browsers: dict[str, TestClient] = field(default_factory=dict)  # logged in, CSRF header set
    bearers: dict[str, dict[str, str]] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE_URL)


def build(db: Database) -> World:
    settings = settings_for(db)
    now = utcnow()
    at = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
    emails = {role: f"{role}@matrix.test" for role in STAFF_ROLES}
    with db.transaction() as s:
        users = {
            role: create_user(session=s, email=email, role=role, password=PASSWORD, name=role.title()).id
            for role, email in emails.items()
        }
        spare_member = create_user(session=s, email="sam@matrix.test", role="agent", password=PASSWORD).id
        create_team(s, name="Day", manager_id=users["manager"])
        spare = create_team(s, name="Spare")
        add_member(s, team_id=spare.id, user_id=spare_member)
        zoe, _ = create_person(s, PersonRecord(name="Zoe Matrix", email="zoe@customer.test", kind="customer"),
                               source="test")  # fmt: skip
        victim, _ = create_person(s, PersonRecord(name="Vic Erase", email="vic@customer.test"), source="test")
        ledger.add_lot(
            s, person_id=zoe.id, kind=EntryKind.earn, points=1000, key="earn:matrix",
            at=now - timedelta(days=30), available_at=now - timedelta(days=16), expires_at=None,
        )  # fmt: skip
        reward = create_reward(
            s, data=RewardInput(name="Free shipping", kind="free_shipping", cost_points=100)
        )
        redemption = redeem(
            s, person_id=zoe.id, reward_id=reward.id, request_key="matrix", ship_to=None, now=now,
            by="test", settings=settings,
        ).redemption  # fmt: skip
        complaint, _ = open_complaint(
            s,
            new=NewComplaint(body="The teapot dripped", source="api", source_id="matrix", received_at=at,
                             email="zoe@customer.test"),
            settings=settings,
        )  # fmt: skip
        bearers = {
            role: {"Authorization": f"Bearer {create_api_token(session=s, user_id=uid, name='matrix')}"}
            for role, uid in users.items()
        }
        values = {
            "person_id": str(zoe.id),
            "ref": str(victim.id),
            "complaint_id": str(complaint.id),
            "redemption_id": str(redemption.id),
            "reward_id": str(reward.id),
            "name": "purchase",
            "team_id": str(spare.id),
            "user_id": str(spare_member),
            "campaign_id": "1",
            "note_id": "1",
            "message_id": "1",
            "path": "app.css",
        }
        later = now + timedelta(days=7)
        tokens = {
            "/my/loyalty/": customer_token(secret_key=SECRET, person_id=zoe.id, expires_at=later),
            "/my/complaint/": satisfaction_token(
                secret_key=SECRET, complaint_id=complaint.id, expires_at=later
            ),
            "/unsubscribe/": make_token(SECRET, person_id=zoe.id, channel="email", message_id=1),
        }  # fmt: skip
    world = World(create_app(settings, db), emails, values, tokens, bearers=bearers)
    world.browsers["anonymous"] = world.client()
    for role in STAFF_ROLES:
        world.browsers[role] = logged_in(world, role)
    return world


def logged_in(world: World, role: str) -> TestClient:
    client = world.client()
    assert login(client, world.emails[role]).status_code == 303
    client.headers["X-CSRF-Token"] = session_csrf(client)
    return client


def url_for(world: World, path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "token":
            return next(token for prefix, token in world.tokens.items() if path.startswith(prefix))
        return world.values[name]

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def signed_sms(sid: str) -> tuple[bytes, dict[str, str]]:
    body = f"From=%2B15550001111&Body=hello&MessageSid={sid}".encode()
    stamp = str(int(time.time()))
    return body, {
        "content-type": "application/x-www-form-urlencoded",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: webhook_signature(HOOK_TOKEN, stamp, body),
    }


def call(world: World, row: RouteRow, role: str, *, via: str) -> httpx.Response:
    """One request as ``role``: ``via`` is "browser" (session cookie, CSRF header) or "bearer"."""
    method, url = row.method, url_for(world, row.path)
    if (method, row.path) == ("POST", "/login"):
        client = world.client()
        if role == "anonymous":  # a stranger with a wrong password: the form says no (401), nothing else
            data = {"email": "nobody@matrix.test", "password": "wrong-password-123"}
        else:
            data = {"email": world.emails[role], "password": PASSWORD}
        data["csrf_token"] = form_token(client.get("/login").text)
        return client.post(url, data=data, follow_redirects=False)
    if (method, row.path) == ("POST", "/logout") and role != "anonymous":
        client = logged_in(world, role)  # logging out ends the session: not the shared one
        return client.post(url, follow_redirects=False)
    if row.path == "/hooks/sms/inbound":
        signed, hook_headers = signed_sms(f"SM-{role}-{via}")
        return world.client().post(url, content=signed, headers=hook_headers)
    if via == "bearer":
        client, headers = world.browsers["anonymous"], world.bearers.get(role, {})
    else:
        client, headers = world.browsers[role], {}
    if row.kind == "api" or row.path.startswith(f"{API_PREFIX}/"):
        payload: dict[str, str] | None = {} if method in ("POST", "PUT", "PATCH") else None
        return client.request(method, url, json=payload, headers=headers, follow_redirects=False)
    form: dict[str, str] | None = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, url, data=form, headers=headers, follow_redirects=False)


def to_login(response: httpx.Response) -> bool:
    return response.status_code in (302, 303, 307) and response.headers.get("location", "").startswith(
        "/login"
    )


def problem(row: RouteRow, role: str, response: httpx.Response) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if row.roles is None or role in row.roles:
        if status in (401, 403) and not (
            (row.method, row.path) == ("POST", "/login") and role == "anonymous"
        ):
            return f"allowed but refused with {status}"
        logged_out = (row.method, row.path) == ("POST", "/logout") and response.headers[
            "location"
        ] == "/login"
        if to_login(response) and not logged_out:
            return "allowed but sent to the login page"
        return None
    if role != "anonymous":
        return None if status == 403 else f"should be refused with 403, got {status}"
    if row.kind == "api":
        return None if status == 401 else f"a stranger should get 401, got {status}"
    return None if to_login(response) else f"a stranger should be sent to /login, got {status}"


def test_each_role_is_let_in_or_refused_as_the_matrix_says(db: Database) -> None:
    world = build(db)
    rows = route_rows(world.app)
    wrong: list[tuple[str, str, str, str, str]] = []
    calls = 0
    for row in rows:
        for role in ROLES:
            ways = ("bearer", "browser") if row.kind == "api" else ("browser",)
            for via in ways:
                response = call(world, row, role, via=via)
                calls += 1
                found = problem(row, role, response)
                if found:
                    wrong.append((row.method, row.path, role, via, found))
    assert wrong == []
    api = sum(1 for r in rows if r.kind == "api")
    assert calls == len(rows) * len(ROLES) + api * len(ROLES)


def test_the_public_routes_answer_their_own_credentials_for_real(db: Database) -> None:
    """The calls above with valid links must do what they are for, not fail quietly with a 4xx."""
    world = build(db)
    client = world.client()
    assert client.get(url_for(world, "/my/loyalty/{token}")).status_code == 200
    assert "Zoe" in client.get(url_for(world, "/my/loyalty/{token}")).text
    assert client.get(url_for(world, "/my/complaint/{token}")).status_code == 200
    assert client.get(url_for(world, "/unsubscribe/{token}")).status_code == 200
    body, headers = signed_sms("SM-public")
    assert client.post("/hooks/sms/inbound", content=body, headers=headers).status_code == 200
    assert client.get("/static/app.css").status_code == 200
    assert client.get(f"{API_PREFIX}/openapi.json").json()["info"]["title"] == "Goodwill API"
    # And with a wrong credential of their kind, each one refuses.
    assert client.get("/my/loyalty/x.y").status_code == 404
    assert client.get("/my/complaint/x.y").status_code == 404
    assert client.get("/unsubscribe/x.y").status_code == 400
    body, headers = signed_sms("SM-forged")
    headers[SIGNATURE_HEADER] = "0" * 64
    assert client.post("/hooks/sms/inbound", content=body, headers=headers).status_code == 403
