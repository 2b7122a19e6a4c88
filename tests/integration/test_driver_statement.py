"""``db.DriverStatement``: the hot paths' statements run on psycopg's cursor, with SQLAlchemy's
parameter and result processing, its error types and its invalidation of a lost connection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from backends import terminate
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    bindparam,
    cast,
    column,
    event,
    exc,
    literal,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from statement_count import counting

from goodwill.db import Database, DriverStatement, UTCDateTime, end_session

PARIS = timezone(timedelta(hours=1))
STAMP = datetime(2026, 11, 24, 18, 30, tzinfo=PARIS)
_T = table("driver_probe", column("id", BigInteger()), column("at", UTCDateTime()), column("on", Boolean()))
READ = DriverStatement(
    select(_T.c.id, _T.c.at, _T.c.on, literal(7, BigInteger()).label("seven")).where(
        _T.c.id == bindparam("id", type_=BigInteger())
    )
)
WRITE = DriverStatement(
    text('INSERT INTO driver_probe (id, at, "on") VALUES (:id, :at, :on)').bindparams(
        bindparam("at", type_=UTCDateTime())
    )
)


def _with_table(db: Database) -> Iterator[Database]:
    """``db`` with a scratch table, dropped afterwards (the test databases are reused)."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS driver_probe")
        conn.exec_driver_sql(
            'CREATE TABLE driver_probe (id BIGINT PRIMARY KEY, at TIMESTAMP WITH TIME ZONE, "on" BOOLEAN)'
        )
    yield db
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS driver_probe")


@pytest.fixture
def probe(db: Database) -> Iterator[Database]:
    yield from _with_table(db)


@pytest.fixture
def pg_probe(pg_db: Database) -> Iterator[Database]:
    yield from _with_table(pg_db)


def test_values_go_in_and_come_out_as_through_sqlalchemy(probe: Database) -> None:
    db = probe
    with db.transaction() as s:
        conn = s.connection()
        WRITE.execute(conn, {"id": 1, "at": STAMP, "on": True})
        row = READ.first(conn, {"id": 1})
        assert READ.first(conn, {"id": 2}) is None
        plain = conn.execute(READ.statement, {"id": 1}).one()
    assert (row.id, row.at, row.on, row.seven) == (1, STAMP, True, 7)
    assert row.at.tzinfo == UTC  # UTCDateTime's result processing, as the plain row
    assert tuple(row) == tuple(plain)


def test_a_naive_time_is_refused_as_by_the_column_type(probe: Database) -> None:
    db = probe
    with pytest.raises(exc.StatementError, match="naive datetime"), db.transaction() as s:
        WRITE.execute(s.connection(), {"id": 1, "at": datetime(2026, 11, 24, 18, 30), "on": True})


def test_statement_listeners_see_it(probe: Database) -> None:
    db = probe
    after: list[str] = []

    def done(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        after.append(statement)

    event.listen(db.engine, "after_cursor_execute", done)
    try:
        with counting(db) as seen, db.transaction() as s:
            WRITE.execute(s.connection(), {"id": 1, "at": STAMP, "on": False})
            READ.first(s.connection(), {"id": 1})
    finally:
        event.remove(db.engine, "after_cursor_execute", done)
    assert len(seen) == 2 and seen[0].lstrip().startswith("INSERT") and after == seen


def test_it_runs_in_the_callers_transaction(probe: Database) -> None:
    db = probe
    with pytest.raises(RuntimeError), db.transaction() as s:
        WRITE.execute(s.connection(), {"id": 1, "at": STAMP, "on": True})
        raise RuntimeError("roll it back")
    with db.reading() as s:
        assert READ.first(s.connection(), {"id": 1}) is None


def test_a_driver_error_is_sqlalchemys_and_hides_the_values(pg_probe: Database) -> None:
    pg_db = pg_probe
    with pg_db.transaction() as s:
        WRITE.execute(s.connection(), {"id": 1, "at": STAMP, "on": True})
    with pytest.raises(exc.IntegrityError) as raised, pg_db.transaction() as s:
        WRITE.execute(s.connection(), {"id": 1, "at": STAMP, "on": True})
    assert "driver_probe" in str(raised.value) and "hidden" in str(raised.value)


def test_a_lost_connection_is_invalidated_and_the_next_unit_of_work_reconnects(pg_probe: Database) -> None:
    db = Database(pg_probe.url, pool_size=1, max_overflow=0)
    try:
        session = db.new_session()
        conn = session.connection()
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        WRITE.execute(conn, {"id": 1, "at": STAMP, "on": True})
        terminate(db, int(pid))  # the server ends this very connection mid-transaction
        with pytest.raises(exc.OperationalError) as raised:
            READ.first(conn, {"id": 1})
        assert raised.value.connection_invalidated and conn.invalidated
        end_session(session, commit=False)  # nothing left to roll back: no second error
        with db.transaction() as s:
            assert s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
            assert READ.first(s.connection(), {"id": 1}) is None  # the lost transaction wrote nothing
    finally:
        db.dispose()


def test_sql_rendered_per_execution_is_refused(pg_probe: Database) -> None:
    pg_db = pg_probe
    listed: Any = DriverStatement(select(_T.c.id).where(_T.c.id.in_([1, 2])))
    with pytest.raises(ValueError, match="fixed SQL"), pg_db.reading() as s:
        listed.first(s.connection(), {})


def test_a_parameter_used_twice_is_processed_once(pg_probe: Database) -> None:
    """Two bind objects of one name (as ``person`` in the redemption's read): a JSON value wrapped
    twice for the driver could not be sent."""
    doc = {"tier": "gold"}
    twice: Any = DriverStatement(
        select(
            cast(bindparam("doc", type_=JSON()), JSONB).label("a"),
            cast(bindparam("doc", type_=JSON()), JSONB).label("b"),
        )
    )
    with pg_probe.reading() as s:
        row = twice.first(s.connection(), {"doc": doc})
    assert (row.a, row.b) == (doc, doc)


def test_only_selects_and_text_are_taken() -> None:
    with pytest.raises(TypeError):
        DriverStatement(_T.insert())  # type: ignore[arg-type]
