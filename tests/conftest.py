"""Shared fixtures: every integration test runs on real SQLite and real PostgreSQL.

PostgreSQL is required: a missing server fails the run loudly instead of skipping.
Each test run (and each xdist worker) gets its own PostgreSQL database, dropped at the end.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from goodwill.config import running_in_ci, test_postgres_url
from goodwill.db import Database
from goodwill.models import Base

BACKENDS = ["sqlite", "postgresql"]


def _admin_url() -> str:
    return test_postgres_url()


def _sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@contextmanager
def _new_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards; its SQLAlchemy URL."""
    admin = _admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the integration tests and is not reachable at {admin}: {exc}. "
            "Start it or set GOODWILL_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    try:
        yield _sqlalchemy_url(admin.rsplit("/", 1)[0] + "/" + name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this run; its SQLAlchemy URL."""
    with _new_postgres_database("goodwill_test") as url:
        database = Database(url)
        database.migrate()
        database.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, unmigrated database of its own on each backend in turn (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with _new_postgres_database("goodwill_migrate") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


def _truncate_all(database: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def make_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "goodwill.db"
        shutil.copy(template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        url: str = request.getfixturevalue("postgres_database")
        database = Database(url)
        try:
            yield database
        finally:
            _truncate_all(database)
            database.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A clean, migrated database on each backend in turn."""
    yield from make_database(request.param, request, tmp_path)


@pytest.fixture
def sqlite_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from make_database("sqlite", request, tmp_path)


@pytest.fixture
def pg_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from make_database("postgresql", request, tmp_path)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a run that passed nothing, or skipped anything, is a failure: nothing may hide."""
    if not running_in_ci() or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    passed = len(reporter.stats.get("passed", []))
    skipped = len(reporter.stats.get("skipped", []))
    if passed == 0 or skipped:
        reporter.write_line(
            f"CI guard: {passed} passed and {skipped} skipped; CI needs passing tests and no skips.", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
