"""Logging in and out, sessions, CSRF, the login brake, security headers, roles and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import (
    PASSWORD,
    add_user,
    form_token,
    logged_in_agent,
    login,
    make_client,
    session_csrf,
    token_for,
)

from goodwill.db import Database, utcnow
from goodwill.team.model import Role
from goodwill.web.api import API_PREFIX
from goodwill.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from goodwill.web.deps import role_table
from goodwill.web.model import ApiToken, LoginFailure, WebSession
from goodwill.web.security import CONTENT_SECURITY_POLICY, sha256_hex


def session_count(db: Database) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(WebSession)) or 0


def test_login_success_sets_a_hardened_cookie_and_stores_only_its_hash(db: Database) -> None:
    add_user(db, "ana@shop.test", "manager", name="Ana")
    client = make_client(db)
    answer = login(client, "ANA@shop.test ", next="/people?q=zo")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/people?q=zo"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain http to 127.0.0.1 is local development
    token = client.cookies[SESSION_COOKIE]
    with db.reading() as s:
        stored = s.scalars(select(WebSession.token_hash)).all()
    assert stored == [sha256_hex(token)]
    page = client.get("/people")
    assert page.status_code == 200 and "Ana" in page.text and "manager" in page.text


def test_cookie_is_secure_off_loopback_and_when_configured(db: Database) -> None:
    add_user(db, "ana@shop.test")
    app = make_client(db).app
    plain = TestClient(app, base_url="http://goodwill.example.com").get("/login")
    assert "Secure" in plain.headers["set-cookie"]  # http, but not loopback: probably behind a proxy
    remote = TestClient(app, base_url="https://goodwill.example.com")
    answer = login(remote, "ana@shop.test")
    assert answer.status_code == 303
    assert all("Secure" in h for h in answer.headers.get_list("set-cookie"))
    assert remote.get("/people").status_code == 200
    forced = make_client(db, cookie_secure=True)
    assert all("Secure" in h for h in login(forced, "ana@shop.test").headers.get_list("set-cookie"))


def test_open_redirects_are_refused(db: Database) -> None:
    add_user(db, "ana@shop.test")
    assert login(make_client(db), "ana@shop.test", next="//evil.example/x").headers["location"] == "/people"


@pytest.mark.parametrize(
    ("email", "password"),
    [("ana@shop.test", "wrong password here"), ("nobody@shop.test", PASSWORD), ("ana@shop.test", "")],
)
def test_login_failure_is_friendly_and_recorded(db: Database, email: str, password: str) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    answer = login(client, email, password)
    assert answer.status_code == 401
    assert "do not match an active account" in answer.text
    assert SESSION_COOKIE not in client.cookies
    assert session_count(db) == 0
    with db.reading() as s:
        keys = set(s.scalars(select(LoginFailure.key)).all())
    assert "ip:testclient" in keys
    assert all(email not in k for k in keys)  # only a hash of the email is kept


def test_inactive_user_cannot_log_in(db: Database) -> None:
    user_id = add_user(db, "ana@shop.test")
    with db.transaction() as s:
        from goodwill.team.model import User

        user = s.get(User, user_id)
        assert user is not None
        user.active = False
    assert login(make_client(db), "ana@shop.test").status_code == 401


def test_each_login_starts_a_new_session_and_ends_the_old_one(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    client.cookies.set(
        SESSION_COOKIE, "planted-by-someone-else", domain="127.0.0.1"
    )  # session fixation attempt
    form = client.get("/login")
    form_cookie = client.cookies[LOGIN_CSRF_COOKIE]
    data = {"email": "ana@shop.test", "password": PASSWORD, "csrf_token": form_token(form.text)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    first = client.cookies[SESSION_COOKIE]
    assert first != "planted-by-someone-else"
    # A second tab still showing the login form logs in again: a new session replaces the first.
    client.cookies.set(LOGIN_CSRF_COOKIE, form_cookie, domain="127.0.0.1", path="/login")
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    assert session_count(db) == 1
    stale = make_client(db)
    stale.cookies.set(SESSION_COOKIE, first)
    assert stale.get("/people", follow_redirects=False).status_code == 303


def test_logout_deletes_the_session_server_side(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    login(client, "ana@shop.test")
    token = client.cookies[SESSION_COOKIE]
    csrf = session_csrf(client)
    answer = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert session_count(db) == 0
    replay = make_client(db)
    replay.cookies.set(SESSION_COOKIE, token)  # a copied cookie is worthless after logout
    assert replay.get(f"{API_PREFIX}/people").status_code == 401


def test_expired_session_is_refused(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    login(client, "ana@shop.test")
    with db.transaction() as s:
        for row in s.scalars(select(WebSession)):
            row.expires_at = utcnow() - timedelta(minutes=1)
    assert client.get(f"{API_PREFIX}/people").status_code == 401


def test_forms_without_the_csrf_token_are_refused(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    page = client.get("/login")
    no_token = client.post("/login", data={"email": "ana@shop.test", "password": PASSWORD})
    assert no_token.status_code == 403 and "expired" in no_token.text
    assert SESSION_COOKIE not in client.cookies
    other = make_client(db)  # a token from another browser's cookie does not fit this one
    other.get("/login")
    forged = other.post(
        "/login", data={"email": "ana@shop.test", "password": PASSWORD, "csrf_token": form_token(page.text)}
    )
    assert forged.status_code == 403
    login(client, "ana@shop.test")
    people_page = client.get("/people")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf_token": "guess"}, follow_redirects=False).status_code == 403
    assert session_count(db) == 1
    assert (
        client.post(
            "/logout", data={"csrf_token": form_token(people_page.text)}, follow_redirects=False
        ).status_code
        == 303
    )


def test_cookie_api_writes_need_the_csrf_header_but_bearer_calls_do_not(db: Database) -> None:
    user_id = add_user(db, "ana@shop.test")
    client = make_client(db)
    login(client, "ana@shop.test")
    refused = client.post(f"{API_PREFIX}/people", json={"name": "Zoë"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert client.get(f"{API_PREFIX}/people").status_code == 200  # reads need no token
    ok = client.post(
        f"{API_PREFIX}/people", json={"name": "Zoë"}, headers={"X-CSRF-Token": session_csrf(client)}
    )
    assert ok.status_code == 201
    machine = make_client(db)
    assert (
        machine.post(f"{API_PREFIX}/people", json={"name": "Zoë"}, headers=token_for(db, user_id)).status_code
        == 201
    )


def test_login_brake_answers_429_with_retry_after(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db, login_attempts_per_15_min=3)
    for _ in range(3):
        assert login(client, "ana@shop.test", "not the password").status_code == 401
    blocked = login(client, "ana@shop.test")  # even the right password waits
    assert blocked.status_code == 429
    assert "please wait about 15 minutes" in blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert SESSION_COOKIE not in client.cookies
    # Another account from the same address is held back too (guessing across accounts).
    add_user(db, "bo@shop.test")
    assert login(client, "bo@shop.test").status_code == 429


def test_login_brake_counts_failures_in_the_last_15_minutes_only(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db, login_attempts_per_15_min=2)
    for _ in range(2):
        login(client, "ana@shop.test", "not the password")
    with db.transaction() as s:
        for row in s.scalars(select(LoginFailure)):
            row.at = utcnow() - timedelta(minutes=16)
    assert login(client, "ana@shop.test").status_code == 303


def test_every_response_carries_the_security_headers(db: Database) -> None:
    agent_client = logged_in_agent(db)
    for path in (
        "/login",
        "/people",
        "/static/app.css",
        f"{API_PREFIX}/people",
        "/nowhere",
        f"{API_PREFIX}/openapi.json",
    ):
        answer = agent_client.get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "same-origin", path
    page = agent_client.get("/people").text
    assert "<script>" not in page and "<style" not in page and " style=" not in page
    assert '"includeIndicatorStyles": false' in page
    assert agent_client.get("/people").headers["cache-control"] == "no-store"


def test_swagger_and_redoc_are_off_but_openapi_is_served(db: Database) -> None:
    client = make_client(db)
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    spec = client.get(f"{API_PREFIX}/openapi.json").json()
    assert spec["info"]["title"] == "Goodwill API"
    assert f"{API_PREFIX}/events" in spec["paths"]


def test_unauthenticated_calls_get_401_json_and_pages_redirect_to_login(db: Database) -> None:
    client = make_client(db)
    answer = client.get(f"{API_PREFIX}/people")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "authentication required" in answer.json()["detail"]
    assert client.get(f"{API_PREFIX}/people", headers={"Authorization": "Bearer nope"}).status_code == 401
    page = client.get("/people/5?x=1", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fpeople%2F5%3Fx%3D1"
    htmx = client.get("/people", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login"


def test_only_admins_manage_users(db: Database) -> None:
    admin = token_for(db, add_user(db, "admin@shop.test", "admin"))
    manager = token_for(db, add_user(db, "manager@shop.test", "manager"))
    client = make_client(db)
    refused = client.get(f"{API_PREFIX}/users", headers=manager)
    assert refused.status_code == 403 and "manage staff accounts" in refused.json()["detail"]
    listed = client.get(f"{API_PREFIX}/users", headers=admin)
    assert [u["email"] for u in listed.json()] == ["admin@shop.test", "manager@shop.test"]
    assert all("password" not in str(u) for u in listed.json())
    new = {"email": "new@shop.test", "role": "agent", "password": PASSWORD}
    assert client.post(f"{API_PREFIX}/users", json=new, headers=manager).status_code == 403
    assert client.post(f"{API_PREFIX}/users", json=new, headers=admin).status_code == 201
    weak = client.post(
        f"{API_PREFIX}/users", json={**new, "email": "w@shop.test", "password": "short"}, headers=admin
    )
    assert weak.status_code == 422 and weak.json()["detail"][0]["loc"] == ["body", "password"]
    assert "short" not in weak.text  # the password is never echoed back


def test_every_route_but_login_and_home_declares_its_roles(db: Database) -> None:
    table = role_table(make_client(db).app)
    public = {path for (_, path), roles in table.items() if roles is None}
    # Customers follow unsubscribe links and their signed loyalty links without an account; the SMS
    # provider signs its webhook.
    assert public == {
        "/",
        "/login",
        "/unsubscribe/{token}",
        "/hooks/sms/inbound",
        "/my/loyalty/{token}",
        "/my/loyalty/{token}/redeem",
        "/my/loyalty/{token}/birthday",
        "/my/complaint/{token}",
    }
    everyone = frozenset(Role)
    assert table[("GET", f"{API_PREFIX}/people")] == everyone
    assert table[("POST", f"{API_PREFIX}/events")] == everyone
    assert table[("GET", "/people/{person_id}")] == everyone
    assert table[("GET", f"{API_PREFIX}/users")] == frozenset({Role.admin})


def test_bearer_tokens_are_stored_hashed_and_note_their_use(db: Database) -> None:
    user_id = add_user(db, "ana@shop.test")
    headers = token_for(db, user_id)
    token = headers["Authorization"].split()[1]
    with db.reading() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash == sha256_hex(token) and row.last_used_at is None
    assert make_client(db).get(f"{API_PREFIX}/people", headers=headers).status_code == 200
    with db.reading() as s:
        assert s.scalars(select(ApiToken)).one().last_used_at is not None
