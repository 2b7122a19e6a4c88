"""ASVS V4.2.2 / V3.5.x: every state-changing route refuses a cookie-authenticated request without its
CSRF token, and every public one is listed here with what protects it instead.

The routes are read from the app (``role_table``), so a new POST route is covered the day it is added:
a staff route is walked automatically, a public one fails ``PUBLIC_WRITES`` until it is listed.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from test_web_client import (
    BASE_URL,
    PASSWORD,
    add_user,
    form_token,
    login,
    make_client,
    session_csrf,
    token_for,
)

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.models import Base
from goodwill.web.api import API_PREFIX
from goodwill.web.app import create_app
from goodwill.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from goodwill.web.deps import SAFE_METHODS, role_table

# Every public route that changes something, and what stands in for the session's CSRF token.
PUBLIC_WRITES = {
    ("POST", "/login"): "double-submit: the goodwill_login_csrf cookie and its HMAC in the form",
    ("POST", "/unsubscribe/{token}"): "the signed unsubscribe token in the path is the authorisation",
    ("POST", "/my/complaint/{token}"): "the signed, expiring satisfaction token in the path",
    ("POST", "/my/loyalty/{token}/redeem"): "the signed, expiring loyalty token in the path",
    ("POST", "/my/loyalty/{token}/birthday"): "the signed, expiring loyalty token in the path",
    ("POST", "/hooks/sms/inbound"): "the SMS provider's HMAC signature of the request (no cookie read)",
}


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: "changes nothing" is checked against all of it."""
    with db.reading() as s:
        return {
            table.name: sorted((tuple(row) for row in s.execute(select(table)).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }


def concrete(path: str) -> str:
    """A path template with every parameter filled by 1 (objects with id 1 exist, see ``seed``)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def seed(db: Database, admin_id: int) -> None:
    """Objects with id 1 behind the paths, so a request that got through would change something."""
    client = make_client(db)
    headers = token_for(db, admin_id)
    assert (
        client.post(f"{API_PREFIX}/people", json={"name": "Ria Canary"}, headers=headers).status_code == 201
    )
    assert client.post(f"{API_PREFIX}/teams", json={"name": "Counter"}, headers=headers).status_code == 201


def send(client: TestClient, method: str, path: str, *, csrf: str | None) -> int:
    """A browser-like request: JSON for the API, a form for pages; the token where each carries it."""
    url = concrete(path)
    headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
    if path.startswith(API_PREFIX):
        answer = client.request(method, url, json={}, headers=headers, follow_redirects=False)
    else:
        form = {"csrf_token": csrf} if csrf is not None else {}
        answer = client.request(method, url, data=form, headers=headers, follow_redirects=False)
    return answer.status_code


def staff_writes(client: TestClient) -> list[tuple[str, str]]:
    table = role_table(client.app)  # type: ignore[arg-type]
    routes = sorted((m, p) for (m, p), roles in table.items() if m not in SAFE_METHODS and roles is not None)
    # Logging out ends the session the walk uses: it goes last.
    return sorted(routes, key=lambda route: route == ("POST", "/logout"))


def test_every_staff_write_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing(db: Database) -> None:
    admin_id = add_user(db, "admin@shop.test", "admin", name="Ada Admin")
    add_user(db, "other@shop.test", "admin")
    seed(db, admin_id)
    other = make_client(db)
    assert login(other, "other@shop.test").status_code == 303
    someone_elses_token = session_csrf(other)  # real, but bound to another session
    client = make_client(db)
    assert login(client, "admin@shop.test").status_code == 303
    own_token = session_csrf(client)
    routes = staff_writes(client)
    assert len(routes) > 50, routes  # the walk really covers the app, not an empty list
    before = snapshot(db)
    for method, path in routes:
        for csrf in (None, "", "guess", someone_elses_token, own_token[:-1]):
            status = send(client, method, path, csrf=csrf)
            assert status == 403, (method, path, csrf, status)
    assert snapshot(db) == before
    # The control: with the session's own token the same requests get past the CSRF check (whatever
    # they then answer), so the 403s above came from the missing token and nothing else.
    for method, path in routes:
        status = send(client, method, path, csrf=own_token)
        assert status != 403, (method, path, status)


def test_bearer_calls_need_no_csrf_token_but_a_cookie_next_to_one_does_not_help(db: Database) -> None:
    admin_id = add_user(db, "admin@shop.test", "admin")
    client = make_client(db)
    login(client, "admin@shop.test")
    bearer = token_for(db, admin_id)
    assert client.post(f"{API_PREFIX}/people", json={"name": "By Token"}, headers=bearer).status_code == 201
    # A wrong bearer token is refused outright; the request does not fall back to the session cookie.
    wrong = {"Authorization": "Bearer not-a-token"}
    assert client.post(f"{API_PREFIX}/people", json={"name": "X"}, headers=wrong).status_code == 401


def test_the_public_writes_are_exactly_the_listed_ones(db: Database) -> None:
    table = role_table(make_client(db).app)
    public = {(m, p) for (m, p), roles in table.items() if m not in SAFE_METHODS and roles is None}
    assert public == set(PUBLIC_WRITES)


def test_login_needs_its_own_csrf_cookie_and_the_matching_form_token(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    page = client.get("/login")
    token = form_token(page.text)
    data = {"email": "ana@shop.test", "password": PASSWORD}
    cases: list[dict[str, str]] = [
        data,
        {**data, "csrf_token": ""},
        {**data, "csrf_token": token[:-2] + "00"},
    ]
    for form in cases:
        assert client.post("/login", data=form, follow_redirects=False).status_code == 403
    # The right form token without its cookie (a cross-site form cannot set it) is refused too.
    cookieless = make_client(db)
    answer = cookieless.post("/login", data={**data, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in client.cookies and SESSION_COOKIE not in cookieless.cookies
    assert LOGIN_CSRF_COOKIE in client.cookies
    assert (
        client.post("/login", data={**data, "csrf_token": token}, follow_redirects=False).status_code == 303
    )


def test_customer_forms_do_nothing_without_a_valid_signed_token(db: Database) -> None:
    admin_id = add_user(db, "admin@shop.test", "admin")
    seed(db, admin_id)
    client = make_client(db)
    login(client, "admin@shop.test")  # a logged-in staff cookie lends the customer forms nothing
    before = snapshot(db)
    for (method, path), _why in PUBLIC_WRITES.items():
        if "{token}" not in path:
            continue
        for token in ("1", "AAAA.AAAA", "MS4x.AAAAAAAAAAAAAAAAAAAAAA"):
            url = path.replace("{token}", token)
            answer = client.request(
                method,
                url,
                data={"answer": "yes", "reward_id": "1", "nonce": "n1", "month": "5", "day": "4"},
                follow_redirects=False,
            )
            assert answer.status_code in {400, 404, 410}, (url, answer.status_code)
    assert snapshot(db) == before


def test_the_sms_webhook_reads_no_cookie_and_refuses_an_unsigned_request(db: Database) -> None:
    add_user(db, "admin@shop.test", "admin")
    settings = load_settings(database_url=db.url, secret_key="test-secret", sms_webhook_token="hook-secret")
    client = TestClient(create_app(settings, db), base_url=BASE_URL)
    login(client, "admin@shop.test")
    before = snapshot(db)
    answer = client.post(
        "/hooks/sms/inbound", data={"From": "+441234567890", "Body": "STOP", "MessageSid": "SM1"}
    )
    assert answer.status_code == 403, answer.status_code
    assert snapshot(db) == before
