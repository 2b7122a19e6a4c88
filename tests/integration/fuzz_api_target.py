"""The target of the API fuzz (tests/integration/test_api_fuzz.py): a seeded database and the app over it.

Each backend gets its OWN database for the whole fuzz module (not the shared ``db`` fixture): the fuzz
seeds it once and runs every operation x role against it, and with ``pytest -n 2`` other modules'
tests run on the same worker in between, truncating the shared database after each of their tests.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import schemathesis
from fastapi import FastAPI
from schemathesis.schemas import BaseSchema

from goodwill.config import load_settings, test_postgres_url
from goodwill.db import Database
from goodwill.demo.service import load_demo
from goodwill.team.service import create_api_token, create_user
from goodwill.web.api import API_PREFIX
from goodwill.web.app import create_app

ROLES = ("admin", "manager", "agent")
PASSWORD = "plum-orchard-lantern-7"
# A fixed clock for the demo business, so the seeded rows (and so the run) are the same every time.
SEEDED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FuzzTarget:
    backend: str
    app: FastAPI
    database: Database
    # role -> request headers carrying that role's API token; "anonymous" -> no credentials at all.
    auth: dict[str, dict[str, str]]


def seed(database: Database, folder: Path) -> dict[str, dict[str, str]]:
    """The demo tea merchant (people, orders, events, facts, loyalty, rewards, redemptions, a complaint,
    a team, kudos, a campaign, a plan and its drafted note) through the project's own services, plus one
    staff account with an API token per role."""
    settings = load_settings(database_url=database.url, secret_key="fuzz-secret")
    load_demo(
        db=database, settings=settings, seed=7, people=12, now=SEEDED_AT, folder=folder, step=lambda _: None
    )
    auth: dict[str, dict[str, str]] = {"anonymous": {}}
    with database.transaction() as s:
        for role in ROLES:
            user = create_user(
                session=s, email=f"fuzz-{role}@shop.test", role=role, password=PASSWORD, name=f"Fuzz {role}"
            )
            token = create_api_token(session=s, user_id=user.id, name="api fuzz")
            auth[role] = {"Authorization": f"Bearer {token}"}
    return auth


def _target(backend: str, database: Database, folder: Path) -> FuzzTarget:
    auth = seed(database, folder)
    app = create_app(load_settings(database_url=database.url, secret_key="fuzz-secret"), database)
    return FuzzTarget(backend=backend, app=app, database=database, auth=auth)


def sqlite_target(template: Path, folder: Path) -> Iterator[FuzzTarget]:
    path = folder / "fuzz.db"
    shutil.copy(template, path)
    database = Database(f"sqlite:///{path}")
    try:
        yield _target("sqlite", database, folder)
    finally:
        database.dispose()


def postgres_target(folder: Path) -> Iterator[FuzzTarget]:
    admin = test_postgres_url()
    name = f"goodwill_apifuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = Database("postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name)
    try:
        database.migrate()
        yield _target("postgresql", database, folder)
    finally:
        database.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_schemas(count: int) -> list[BaseSchema]:
    """``/api/v1/openapi.json`` as the app serves it (``count`` copies, each configurable on its own),
    fetched through ASGI at collection time from an app over a throwaway migrated SQLite file. The
    document does not depend on the data; every call, and every probe a check sends, passes the
    backend's own app."""
    folder = Path(tempfile.mkdtemp(prefix="goodwill-apifuzz-schema-"))
    try:
        database = Database(f"sqlite:///{folder / 'schema.db'}")
        database.migrate()
        app = create_app(load_settings(database_url=database.url, secret_key="fuzz-schema"), database)
        schemas = [schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", app) for _ in range(count)]
        database.dispose()
        return schemas
    finally:
        shutil.rmtree(folder, ignore_errors=True)
