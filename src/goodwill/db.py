"""Engine, sessions and the unit of work. SQLite is the embedded default; PostgreSQL is production."""

from __future__ import annotations

import json
import re
import select as select_module
import time
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rows_changed(result: object) -> int:
    """Rows an UPDATE or DELETE touched (the typed Result API does not declare ``rowcount``)."""
    return int(getattr(result, "rowcount", 0) or 0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str | None) -> datetime | None:
    """Aggregates (min/max) bypass the column type, and SQLite hands back strings: normalise them."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, *, immediate: bool = False, **kwargs: Any) -> Engine:
    """``immediate``: on SQLite, every transaction takes the write lock when it begins (BEGIN
    IMMEDIATE), so several writer processes queue on the busy timeout instead of failing at once
    when a transaction that started by reading tries to write (the outbox worker uses this).

    Parameters are hidden from SQL logs and error messages: they are customers' names, emails and
    tokens, which must not reach a log (ASVS V7.1.1)."""
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            # Freed pages are zeroed: erased personal data must not linger in the file (see privacy).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()
            if immediate:
                dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below

        if immediate:

            @event.listens_for(engine, "begin")
            def _begin_immediate(connection: Any) -> None:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if kwargs["pool_pre_ping"] and engine.dialect.driver == "psycopg":
        ping = QuietPing(engine.dialect.do_ping)
        engine.dialect.do_ping = ping  # type: ignore[method-assign]
        event.listen(engine, "checkin", ping.returned)
    return engine


class QuietPing:
    """The pool's pre-ping without a round trip when the connection is plainly alive.

    A pooled PostgreSQL connection waits idle between transactions, with nothing to read. A server
    that ends it (a restart, ``pg_terminate_backend``, a crash) closes the socket, usually after an
    error message: the socket turns readable. So a connection back in the pool for less than
    ``quiet_for`` seconds that is open, idle and has nothing to read is taken as alive; any other
    gets the real ping (``SELECT 1``), which the pool follows with a fresh connection if it fails.
    Under load that saves a round trip at the start of every transaction.

    What it cannot see: a peer that vanished without closing the socket (a host rebooted, a NAT or
    firewall that forgot the connection). Those happen to connections left idle for minutes, which
    get the real ping; a connection in steady use that meets one fails its transaction's first
    statement, where the real ping would have been answered by a fresh connection."""

    def __init__(self, full: Any) -> None:
        self.full = full
        self.quiet_for = 30.0  # seconds back in the pool after which the real ping is made
        self.round_trips = 0  # real pings made (tests read it)
        self._returned: WeakKeyDictionary[Any, float] = WeakKeyDictionary()

    def returned(self, dbapi_connection: Any, _record: Any) -> None:
        """The pool's ``checkin`` event: when the connection came back."""
        if dbapi_connection is not None:
            self._returned[dbapi_connection] = time.monotonic()

    def __call__(self, dbapi_connection: Any) -> bool:
        back_since = self._returned.get(dbapi_connection)
        recent = back_since is not None and time.monotonic() - back_since < self.quiet_for
        if recent and _idle_and_quiet(dbapi_connection):
            return True
        self.round_trips += 1
        return bool(self.full(dbapi_connection))


def _idle_and_quiet(conn: Any) -> bool:
    """An open psycopg connection, idle outside a transaction, with nothing waiting to be read."""
    from psycopg import pq

    if conn.closed or conn.broken or not hasattr(select_module, "poll"):  # no poll() on Windows
        return False
    pgconn = conn.pgconn
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poll = select_module.poll()  # not select(): it refuses descriptors above 1023
    poll.register(pgconn.socket, select_module.POLLIN)
    return not poll.poll(0)


class DriverStatement:
    """A statement that a hot path runs on PostgreSQL straight on psycopg's cursor.

    SQLAlchemy's execution layer (compiled-cache lookup, parameter and result set-up, the result
    object) costs 0.15 to 0.25 ms of CPU a statement here, more than the driver and often more than
    the query; a redemption sends three. This runs the SQL SQLAlchemy renders for the statement (a
    Core select or a text statement), with the same bind and result processing (the column
    types'), on the connection's current transaction, and raises what SQLAlchemy would: a
    ``StatementError`` for a value the type refuses, the driver's error wrapped (``DBAPIError``
    subclasses, values hidden) with a lost connection invalidated. Listeners of
    ``before_cursor_execute`` and ``after_cursor_execute`` see it (the statement-count tests), with
    no execution context; ``handle_error`` listeners and the engine's ``echo`` log do not. Other
    backends run the statement through SQLAlchemy as usual. Statements with values rendered per
    execution (an IN list) are refused: their SQL is not fixed.
    """

    def __init__(self, statement: Select[Any] | TextClause) -> None:
        if not isinstance(statement, (Select, TextClause)):
            raise TypeError("a DriverStatement is a Core select or a text statement")
        self.statement = statement
        self._built: tuple[str, dict[str, Any], list[tuple[str, Any]]] | None = None
        # The row class and the columns' result processors, from the first result (one assignment,
        # so another thread sees both or neither).
        self._shape: tuple[Any, list[Any]] | None = None

    def _build(self, dialect: Dialect) -> tuple[str, dict[str, Any], list[tuple[str, Any]]]:
        compiled = self.statement.compile(dialect=dialect)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise ValueError("a DriverStatement needs fixed SQL: no IN lists or literal_execute values")
        fixed: dict[str, Any] = {}
        processors: dict[str, Any] = {}  # by name: a parameter used twice is processed once
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:  # a value written into the statement (a literal, a constant)
                fixed[name] = process(bind.value) if process else bind.value
            elif process is not None:
                processors[name] = process
        return sql, fixed, list(processors.items())

    def _run(self, conn: Connection, params: dict[str, Any]) -> Any:
        dialect = conn.dialect
        if self._built is None:
            self._built = self._build(dialect)
        sql, fixed, processors = self._built
        values = {**fixed, **params}
        try:
            for name, process in processors:
                if name in values:
                    values[name] = process(values[name])
        except Exception as err:  # as SQLAlchemy reports a value its type refuses
            raise StatementError(str(err), sql, None, err) from err
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = dbapi_connection.cursor()
        try:
            if conn.dispatch.before_cursor_execute:
                conn.dispatch.before_cursor_execute(conn, cursor, sql, values, None, False)
            cursor.execute(sql, values)
            if conn.dispatch.after_cursor_execute:
                conn.dispatch.after_cursor_execute(conn, cursor, sql, values, None, False)
        except dialect.loaded_dbapi.Error as err:
            cursor.close()
            lost = dialect.is_disconnect(err, dbapi_connection, cursor)
            if lost:
                conn.invalidate(err)
            raise DBAPIError.instance(
                sql, values, err, dialect.loaded_dbapi.Error, hide_parameters=True,
                connection_invalidated=lost, dialect=dialect,
            ) from err  # fmt: skip
        except BaseException:
            cursor.close()
            raise
        return cursor

    def _rows(self, cursor: Any, dialect: Dialect) -> list[Any]:
        try:
            rows = cursor.fetchall()
            if self._shape is None:
                described = cursor.description
                results = []
                if isinstance(self.statement, Select):  # its columns' types
                    results = [
                        column.type.dialect_impl(dialect).result_processor(dialect, seen.type_code)
                        for column, seen in zip(self.statement.selected_columns, described, strict=True)
                    ]
                row_class: Any = namedtuple("DriverRow", [c.name for c in described], rename=True)  # type: ignore[misc]
                self._shape = (row_class, results if any(results) else [])
        finally:
            cursor.close()
        make, results = self._shape[0]._make, self._shape[1]
        if results:
            rows = [tuple(p(v) if p else v for p, v in zip(results, values, strict=True)) for values in rows]
        return [make(values) for values in rows]

    def first(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The first row (attributes by column name), or None."""
        if conn.dialect.driver != "psycopg":
            return conn.execute(self.statement, params).first()
        rows = self._rows(self._run(conn, params), conn.dialect)
        return rows[0] if rows else None

    def execute(self, conn: Connection, params: dict[str, Any]) -> None:
        """Run it for its effect; any rows are dropped."""
        if conn.dialect.driver != "psycopg":
            conn.execute(self.statement, params)
            return
        self._run(conn, params).close()


def end_session(session: Session, *, commit: bool) -> None:
    """The end of a unit of work: commit (rolled back if the commit fails) or roll back, then close."""
    try:
        if not commit:
            session.rollback()
            return
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise
    finally:
        session.close()


class Database:
    """One engine and its session factory; ``transaction()`` is the unit of work."""

    def __init__(self, url: str, *, immediate: bool = False, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, immediate=immediate, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def new_session(self) -> Session:
        """A session not yet connected (no I/O); the caller ends it with ``end_session``."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit if the block finishes, roll back if it raises. Services never commit themselves."""
        session = self._sessions()
        try:
            yield session
        except BaseException:
            end_session(session, commit=False)
            raise
        end_session(session, commit=True)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only; whatever it did is rolled back."""
        session = self._sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema with Alembic (creates the database file on SQLite)."""
        from alembic import command

        command.upgrade(alembic_config(self.url), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("goodwill") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["skip_logging_config"] = True
    return cfg


# Each backend's ``insert``, the one that knows ``ON CONFLICT``, by dialect name: statements built
# once a backend (hot paths) are built from these.
BACKEND_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def backend_insert(session: Session) -> Any:
    """The ``insert`` of this session's backend, the one that knows ``ON CONFLICT``."""
    return BACKEND_INSERTS["postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"]


def ignoring_duplicates(session: Session, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for this session's backend."""
    return backend_insert(session)(table).on_conflict_do_nothing()


def insert_ignoring_duplicates(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert; rows whose unique key already exists are skipped (idempotent re-runs)."""
    if rows:
        session.execute(ignoring_duplicates(session, table), list(rows))


IN_LIST_CHUNK = 500  # SQLite's IN lists go this many values at a time


def in_json_list(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """PostgreSQL: ``column IN (the elements of one JSON array parameter)``, for thousands of values.

    One parameter and one round trip, where IN lists go 500 at a time. JSON rather than an array
    parameter because psycopg dumps a Python list as an array in Python code (about 1 µs a
    value, ~1 s per 200k-row import); ``json.dumps`` is C.
    """
    elements = func.json_array_elements_text(
        cast(bindparam(None, json.dumps(list(values)), type_=Text), JSON)
    )
    condition: ColumnElement[bool] = column.in_(select(cast(elements, column.type)))
    return condition


def among(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids`` as one condition with one parameter, however many ids: a JSON array
    read by ``json_array_elements_text`` on PostgreSQL and ``json_each`` on SQLite.

    One statement per query kind instead of one per 500 ids: at 40k candidates the IN lists cost
    more in compiling their literals than in running.
    """
    if session.get_bind().dialect.name == "postgresql":
        return in_json_list(column, ids)
    elements = func.json_each(bindparam(None, json.dumps(list(ids)), type_=Text)).table_valued("value")
    condition: ColumnElement[bool] = column.in_(select(elements.c.value))
    return condition


def matching(session: Session, column: Any, values: Sequence[Any]) -> Iterator[ColumnElement[bool]]:
    """``column IN values`` as conditions to run one after another: a single JSON parameter on
    PostgreSQL, IN lists of 500 on SQLite; nothing at all for no values."""
    if not values:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield in_json_list(column, values)
        return
    for start in range(0, len(values), IN_LIST_CHUNK):
        yield column.in_(values[start : start + IN_LIST_CHUNK])


# The largest id a 64-bit column holds: past it no row can match, and the database refuses the value.
MAX_ID = 2**63 - 1
_ID_TEXT = re.compile(r"[0-9]{1,18}")


def id_from_text(text: str) -> int | None:
    """The id written in ``text`` (ASCII digits only: "²" passes str.isdigit() but not int()), or None."""
    stripped = text.strip()
    return int(stripped) if _ID_TEXT.fullmatch(stripped) else None


def hold_transaction_lock(session: Session, name: str) -> None:
    """Serialise transactions that take the same ``name`` until this one ends.

    PostgreSQL: a transaction-level advisory lock. SQLite: any write statement takes the database's
    write lock for the rest of the transaction.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": f"goodwill:{name}"})
    else:
        session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))
