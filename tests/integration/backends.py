"""PostgreSQL server processes, for tests of what happens when the server ends a connection."""

from __future__ import annotations

import time

import psycopg

from goodwill.db import Database


def terminate(db: Database, pid: int) -> None:
    """End that server process from another connection, and wait until it is gone."""
    admin = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there"
            time.sleep(0.02)
