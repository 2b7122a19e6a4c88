"""Seeing, on PostgreSQL, that another transaction of a test waits for a lock: the lock-order and
race tests start a writer in a thread and must know it queued up before they let go."""

from __future__ import annotations

import time

from sqlalchemy import text

from goodwill.db import Database

PATIENCE = 30.0  # seconds: a test that never sees the wait fails instead of hanging


def waiting(db: Database, wait_event: str | None = None) -> int:
    """Backends of this test's database waiting for a lock (of this kind: 'advisory', 'tuple'...).

    Only this database: xdist's other worker, on its own database, may be waiting at the same time.
    A fresh transaction each call: pg_stat_activity is read once a transaction and then cached.
    """
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    if wait_event is not None:
        sql += " AND wait_event = :event"
    with db.reading() as s:
        return int(s.execute(text(sql), {"event": wait_event}).scalar_one())


def wait_for_waiters(db: Database, count: int = 1, wait_event: str | None = None) -> None:
    """Until ``count`` backends of this database wait for a lock (bounded by PATIENCE)."""
    deadline = time.monotonic() + PATIENCE
    while waiting(db, wait_event) < count:
        assert time.monotonic() < deadline, f"no {count} transaction(s) waiting for a lock in {PATIENCE:g} s"
        time.sleep(0.02)


def granted_advisory_locks(db: Database) -> int:
    """Advisory locks granted in this test's database, to anyone but the caller."""
    sql = (
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        " WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted"
        " AND l.pid <> pg_backend_pid()"
    )
    with db.reading() as s:
        return int(s.execute(text(sql)).scalar_one())
