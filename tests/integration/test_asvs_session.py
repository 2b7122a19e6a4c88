"""ASVS V3 (sessions and cookies), V2.1 (password rules on every path that sets one), V2.2.1 (login brake).

Cookies are checked by walking every Set-Cookie header a realistic visit collects, so a cookie added
later (by any route) is held to the same rules without being named here.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import PASSWORD, add_user, form_token, login, make_client, session_csrf, token_for
from typer.testing import CliRunner

from goodwill.cli import app as cli_app
from goodwill.db import Database
from goodwill.team.model import User
from goodwill.team.service import PasswordRejected, authenticate, set_password
from goodwill.web.api import API_PREFIX
from goodwill.web.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from goodwill.web.model import WebSession

WEAK = [
    "short-one",  # under 12 characters
    "password1234",  # on the common list
    "Qwertyuiop123",  # on the common list, whatever the case
    "bo@shop.test",  # the login itself (and short)
]


def visit(client: TestClient, email: str) -> list[str]:
    """Every Set-Cookie header of a visit: login form, failed and good logins, pages, errors, logout."""
    seen: list[httpx.Response] = []
    seen.append(client.get("/login"))
    seen.append(login(client, email, "not the password at all"))
    seen.append(login(client, email))
    csrf = session_csrf(client)
    for path in ("/people", "/today", "/nowhere", f"{API_PREFIX}/people", "/static/app.css"):
        seen.append(client.get(path, follow_redirects=False))
    seen.append(client.post("/logout", data={"csrf_token": "wrong"}, follow_redirects=False))
    seen.append(client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False))
    seen.append(client.get("/unsubscribe/broken.token"))
    seen.append(client.get("/my/loyalty/broken.token"))
    headers = [h for answer in seen for h in answer.headers.get_list("set-cookie")]
    return headers


def attributes(header: str) -> tuple[str, dict[str, str]]:
    cookie = SimpleCookie()
    cookie.load(header)
    [(name, morsel)] = cookie.items()
    return name, {key: str(value) for key, value in morsel.items() if value}


def test_every_cookie_is_secure_httponly_and_samesite_over_https(db: Database) -> None:
    add_user(db, "ana@shop.test", "admin")
    client = TestClient(make_client(db).app, base_url="https://goodwill.example.com")
    headers = visit(client, "ana@shop.test")
    names = set()
    for header in headers:
        name, attrs = attributes(header)
        names.add(name)
        assert "secure" in attrs, header
        assert "httponly" in attrs, header
        assert attrs.get("samesite", "").lower() in {"lax", "strict"}, header
        assert attrs.get("path", "").startswith("/"), header
    # Both cookies the app sets were seen (the walk did reach them).
    assert names == {SESSION_COOKIE, LOGIN_CSRF_COOKIE}


def test_over_plain_http_to_loopback_cookies_are_still_httponly_and_samesite(db: Database) -> None:
    add_user(db, "ana@shop.test", "admin")
    for header in visit(make_client(db), "ana@shop.test"):
        _, attrs = attributes(header)
        assert "httponly" in attrs and attrs.get("samesite", "").lower() == "lax", header


def test_login_rotates_the_session_id_and_its_csrf_token(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    form = client.get("/login")
    form_cookie = client.cookies[LOGIN_CSRF_COOKIE]
    data = {"email": "ana@shop.test", "password": PASSWORD, "csrf_token": form_token(form.text)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    first_cookie, first_csrf = client.cookies[SESSION_COOKIE], session_csrf(client)
    # Logging in again (a second tab still showing the form), with the old session cookie still sent.
    client.cookies.set(LOGIN_CSRF_COOKIE, form_cookie, domain="127.0.0.1", path="/login")
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    second_cookie, second_csrf = client.cookies[SESSION_COOKIE], session_csrf(client)
    assert first_cookie != second_cookie and first_csrf != second_csrf
    old = make_client(db)
    old.cookies.set(SESSION_COOKIE, first_cookie)
    assert old.get(f"{API_PREFIX}/people").status_code == 401
    # The old CSRF token is no good with the new session either.
    answer = client.post(f"{API_PREFIX}/people", json={"name": "Zoë"}, headers={"X-CSRF-Token": first_csrf})
    assert answer.status_code == 403
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 1


def test_logout_is_post_only_and_kills_the_session_server_side(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    login(client, "ana@shop.test")
    token = client.cookies[SESSION_COOKIE]
    assert client.get("/logout", follow_redirects=False).status_code == 405  # no logout by <img src>
    assert client.get(f"{API_PREFIX}/people").status_code == 200
    answer = client.post("/logout", data={"csrf_token": session_csrf(client)}, follow_redirects=False)
    assert answer.status_code == 303
    cleared = [h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    assert cleared and ("Max-Age=0" in cleared[0] or "expires=Thu, 01 Jan 1970" in cleared[0])
    replay = make_client(db)
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get(f"{API_PREFIX}/people").status_code == 401
    assert replay.get("/people", follow_redirects=False).status_code == 303


def test_a_new_password_ends_the_users_sessions(db: Database) -> None:
    add_user(db, "ana@shop.test")
    client = make_client(db)
    login(client, "ana@shop.test")
    with db.transaction() as s:
        set_password(session=s, email="ana@shop.test", password="another-long-passphrase")
    assert client.get(f"{API_PREFIX}/people").status_code == 401


# --- V2.1.1 / V2.1.7: every path that sets a password applies the same rules ---------------------------


def user_count(db: Database) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(User)) or 0


@pytest.mark.parametrize("weak", WEAK)
def test_cli_user_add_refuses_weak_passwords(db: Database, weak: str) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["user", "add", "bo@shop.test", "--role", "agent", "--password-stdin"],
        input=weak + "\n",
        env={"GOODWILL_DATABASE_URL": db.url},
    )
    assert result.exit_code != 0 and "password rejected" in result.output + result.stderr
    assert weak not in result.output + result.stderr
    assert user_count(db) == 0


@pytest.mark.parametrize("weak", WEAK)
def test_api_user_creation_refuses_weak_passwords(db: Database, weak: str) -> None:
    admin = token_for(db, add_user(db, "admin@shop.test", "admin"))
    body = {"email": "bo@shop.test", "role": "agent", "password": weak}
    answer = make_client(db).post(f"{API_PREFIX}/users", json=body, headers=admin)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "password"]
    assert weak not in answer.text
    assert user_count(db) == 1


@pytest.mark.parametrize("weak", WEAK)
def test_changing_a_password_refuses_weak_ones_and_keeps_the_old(db: Database, weak: str) -> None:
    add_user(db, "bo@shop.test")
    with pytest.raises(PasswordRejected), db.transaction() as s:
        set_password(session=s, email="bo@shop.test", password=weak)
    with db.reading() as s:
        assert authenticate(session=s, email="bo@shop.test", password=PASSWORD) is not None


def test_the_cli_and_api_accept_a_long_uncommon_password(db: Database) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["user", "add", "bo@shop.test", "--role", "agent", "--password-stdin"],
        input="kettle-heron-marmalade\n",
        env={"GOODWILL_DATABASE_URL": db.url},
    )
    assert result.exit_code == 0, result.output
    admin = token_for(db, add_user(db, "admin@shop.test", "admin"))
    body = {"email": "cy@shop.test", "role": "agent", "password": "kettle-heron-marmalade"}
    assert make_client(db).post(f"{API_PREFIX}/users", json=body, headers=admin).status_code == 201


# --- V2.2.1: the login brake, per address and per account ---------------------------------------------


def client_from(db: Database, ip: str, limit: int) -> TestClient:
    app = make_client(db, login_attempts_per_15_min=limit).app
    return TestClient(app, base_url="http://127.0.0.1", client=(ip, 50000))


def attempt(client: TestClient, email: str, password: str) -> int:
    page = client.get("/login")
    data = {"email": email, "password": password, "csrf_token": form_token(page.text)}
    return client.post("/login", data=data, follow_redirects=False).status_code


def test_the_brake_holds_an_account_whichever_address_guesses(db: Database) -> None:
    add_user(db, "ana@shop.test")
    add_user(db, "bo@shop.test")
    for n in range(3):  # three guesses, each from a different address
        assert attempt(client_from(db, f"198.51.100.{n}", 3), "ana@shop.test", "wrong guess here") == 401
    fresh = client_from(db, "203.0.113.9", 3)
    assert attempt(fresh, "ana@shop.test", PASSWORD) == 429  # the account is held, even with its password
    assert attempt(fresh, "bo@shop.test", PASSWORD) == 303  # that address may still log others in


def test_the_brake_holds_an_address_whichever_account_it_guesses(db: Database) -> None:
    add_user(db, "ana@shop.test")
    guesser = client_from(db, "198.51.100.7", 3)
    for n in range(3):
        assert attempt(guesser, f"user{n}@shop.test", "wrong guess here") == 401
    assert attempt(guesser, "ana@shop.test", PASSWORD) == 429
    assert attempt(client_from(db, "203.0.113.9", 3), "ana@shop.test", PASSWORD) == 303
