"""The pool's pre-ping on PostgreSQL: no round trip for a live connection, a fresh one for a dead one."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import exc, text

from goodwill.db import Database, QuietPing


def _backend(db: Database) -> int:
    with db.transaction() as s:
        return int(s.scalar(text("SELECT pg_backend_pid()")))


def _terminate(db: Database, pid: int) -> None:
    """End that server process from another connection, and wait until it is gone."""
    admin = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there"
            time.sleep(0.02)


def test_a_live_connection_is_checked_without_a_round_trip(pg_db: Database) -> None:
    db = Database(pg_db.url, pool_size=1, max_overflow=0)
    try:
        ping = db.engine.dialect.do_ping
        assert isinstance(ping, QuietPing)
        pids = {_backend(db) for _ in range(5)}
        assert len(pids) == 1  # one pooled connection, reused
        assert ping.round_trips == 0
    finally:
        db.dispose()


def test_a_connection_the_server_ended_is_replaced_before_use(pg_db: Database) -> None:
    db = Database(pg_db.url, pool_size=1, max_overflow=0)
    try:
        first = _backend(db)
        _terminate(db, first)
        second = _backend(db)  # no error: the pool saw the dead connection and opened another
        assert second != first
        assert db.engine.dialect.do_ping.round_trips == 1  # type: ignore[attr-defined]
        assert _backend(db) == second
    finally:
        db.dispose()


def test_without_the_pre_ping_the_same_ending_fails_a_transaction(pg_db: Database) -> None:
    """What the check above saves a caller from (and so that the test can tell)."""
    db = Database(pg_db.url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    try:
        _terminate(db, _backend(db))
        with pytest.raises(exc.OperationalError):
            _backend(db)
        _backend(db)  # the pool was invalidated: the next one connects afresh
    finally:
        db.dispose()
