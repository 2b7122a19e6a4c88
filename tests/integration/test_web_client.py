"""Shared helpers for the web tests (imported by the other test_web_* modules), and tests of them.

Every client is a Starlette TestClient over the real app and a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.team.service import create_api_token, create_user
from goodwill.web.app import create_app

PASSWORD = "plum-orchard-lantern-7"
BASE_URL = "http://127.0.0.1"  # loopback over http: the one place cookies are not Secure by default


def make_settings(db: Database, **web: Any) -> Settings:
    return load_settings(database_url=db.url, secret_key="test-secret", web=web)


def make_client(db: Database, **web: Any) -> TestClient:
    return TestClient(create_app(make_settings(db, **web), db), base_url=BASE_URL)


def add_user(db: Database, email: str, role: str = "agent", name: str = "") -> int:
    with db.transaction() as s:
        return create_user(session=s, email=email, role=role, password=PASSWORD, name=name).id


def token_for(db: Database, user_id: int) -> dict[str, str]:
    with db.transaction() as s:
        return {"Authorization": f"Bearer {create_api_token(session=s, user_id=user_id, name='tests')}"}


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    page = client.get("/login")
    data = {"email": email, "password": password, "csrf_token": form_token(page.text), **extra}
    return client.post("/login", data=data, follow_redirects=False)


def session_csrf(client: TestClient) -> str:
    """The session's CSRF token, as a page hands it to HTMX."""
    page = client.get("/people")
    found = re.search(r"hx-headers='\{&#34;X-CSRF-Token&#34;: &#34;([^&]+)&#34;\}'", page.text)
    if found is None:
        found = re.search(r'hx-headers=\'\{"X-CSRF-Token": "([^"]+)"\}\'', page.text)
    assert found, "no hx-headers with the CSRF token on <body>"
    return found.group(1)


def logged_in_agent(db: Database) -> TestClient:
    """A browser-like client logged in as an agent, with its CSRF header set for API calls."""
    add_user(db, "agent@shop.test", "agent", name="Agnes Agent")
    client = make_client(db)
    assert login(client, "agent@shop.test").status_code == 303
    client.headers["X-CSRF-Token"] = session_csrf(client)
    return client


def test_login_helper_gives_a_session_whose_csrf_token_the_api_accepts(db: Database) -> None:
    agent_client = logged_in_agent(db)
    created = agent_client.post("/api/v1/people", json={"name": "Helper Check"})
    assert created.status_code == 201, created.text
    del agent_client.headers["X-CSRF-Token"]
    assert agent_client.post("/api/v1/people", json={"name": "Helper Check 2"}).status_code == 403


def test_create_app_with_no_arguments_uses_the_initialised_database_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``goodwill serve`` does: settings and database from the working directory."""
    from typer.testing import CliRunner

    from goodwill.cli import app as cli_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOODWILL_DATABASE_URL", raising=False)
    assert CliRunner().invoke(cli_app, ["init"]).exit_code == 0
    client = TestClient(create_app(), base_url=BASE_URL)
    assert client.get("/login").status_code == 200
    assert (tmp_path / "goodwill.secret").exists()


def test_create_app_refuses_an_uninitialised_database(tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(RuntimeError, match="goodwill init"):
        create_app(load_settings(database_url=empty.url, secret_key="x"), empty)
