"""The pool's pre-ping on PostgreSQL: no round trip for a live connection, a fresh one for a dead one."""

from __future__ import annotations

import pytest
from backends import terminate
from sqlalchemy import exc, text

from goodwill.db import Database, QuietPing


def _backend(db: Database) -> int:
    with db.transaction() as s:
        return int(s.scalar(text("SELECT pg_backend_pid()")))


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
        terminate(db, first)
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
        terminate(db, _backend(db))
        with pytest.raises(exc.OperationalError):
            _backend(db)
        _backend(db)  # the pool was invalidated: the next one connects afresh
    finally:
        db.dispose()


def test_a_connection_back_in_the_pool_for_long_gets_the_real_ping(pg_db: Database) -> None:
    """A peer that vanished without closing the socket cannot be seen without a round trip: a
    connection idle for ``quiet_for`` seconds or more gets the real ping."""
    db = Database(pg_db.url, pool_size=1, max_overflow=0)
    try:
        ping = db.engine.dialect.do_ping
        assert isinstance(ping, QuietPing)
        _backend(db)
        ping.quiet_for = 0.0  # every connection counts as idle for long
        _backend(db)
        _backend(db)
        assert ping.round_trips == 2
    finally:
        db.dispose()
