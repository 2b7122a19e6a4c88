"""Bulk writes for importers, fast on each backend, inside the caller's transaction.

SQLite: the driver's own ``executemany`` of ``INSERT OR IGNORE`` (C speed, no per-row Python
in SQLAlchemy). PostgreSQL: ``COPY`` into a temporary staging table, then one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING``. Both skip rows whose unique key exists and
return how many rows were new. Values are given in column order, already in Python types the
driver takes (aware datetimes, ints, str, None); JSON columns take ``json.dumps`` text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from goodwill.db import hold_transaction_lock, matching


class JsonText(str):
    """Text already encoded as JSON, for a JSON column: written as is, not encoded again."""


def dump_json(value: Any) -> str:
    return value if isinstance(value, JsonText) else json.dumps(value)


class JsonItems:
    """An order's items as JSON text, exactly as ``json.dumps`` writes them, from cached pieces.

    The same few products recur on most orders, so each distinct item is encoded once.
    """

    def __init__(self) -> None:
        self.pieces: dict[tuple[Any, ...], str] = {}

    def __call__(self, items: list[dict[str, Any]]) -> JsonText:
        pieces = self.pieces
        encoded = []
        for item in items:
            try:
                key = tuple(item.items())
                piece = pieces.get(key)
            except TypeError:  # an unhashable value: encode it every time
                key, piece = (), None
            if piece is None:
                piece = json.dumps(item)
                if key and len(pieces) < 100_000:
                    pieces[key] = piece
            encoded.append(piece)
        return JsonText("[" + ", ".join(encoded) + "]")


def sqlite_datetime(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC with microseconds), so reads agree."""
    # isoformat is C code: several times quicker than formatting the seven fields in Python.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class BulkWriter:
    """One per import: knows the backend, the staging tables made so far, and when to ANALYZE."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        self._staged: set[str] = set()
        self._grown: dict[str, int] = {}
        self._analyzed_at: dict[str, int] = {}

    def lock(self, name: str) -> None:
        """Serialise imports: what we looked up stays true until we have written."""
        hold_transaction_lock(self.session, name)

    def matching(self, column: Any, values: Sequence[Any]) -> Iterable[ColumnElement[bool]]:
        """``column IN values`` as chunked conditions (one JSON parameter on PostgreSQL)."""
        return matching(self.session, column, values)

    def allocate_ids(self, table: Table, count: int) -> list[int]:
        """Ids for rows about to be inserted, so children can point at them without RETURNING."""
        if count == 0:
            return []
        if self.postgres:
            # One row of text, not one row per id: fetching 5000 result rows costs more than nextval.
            sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
            ids = self.session.scalar(
                text(f"SELECT string_agg(nextval({sequence})::text, ',') FROM generate_series(1, :n)"),
                {"n": count},
            )
            return [int(i) for i in str(ids).split(",")]
        top = self.session.scalar(select(table.c.id).order_by(table.c.id.desc()).limit(1)) or 0
        return list(range(top + 1, top + 1 + count))

    def insert(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, known_new: bool = False
    ) -> int:
        """Insert ``rows`` (tuples in ``columns`` order); duplicates of a unique key are skipped.

        ``known_new``: the caller already excluded existing keys (under ``lock``) and duplicates
        within ``rows``, so PostgreSQL can COPY straight into the table, skipping the staging step.
        """
        if not rows:
            return 0
        if not self.postgres:
            inserted = self._insert_sqlite(table, columns, rows)
        elif known_new:
            inserted = self._copy_postgres(table.name, columns, rows, self._json_positions(table, columns))
        else:
            inserted = self._insert_postgres(table, columns, rows)
        self._maybe_analyze(table, inserted)
        return inserted

    def _insert_sqlite(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        converting = [
            (i, c) for i, name in enumerate(columns) if (c := _sqlite_converter(table.c[name].type))
        ]
        if converting:
            rows = [_converted(row, converting) for row in rows]
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT OR IGNORE INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
        cursor = self._cursor()
        try:
            cursor.executemany(sql, rows)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _insert_postgres(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        stage = f"gw_stage_{table.name}"
        names = ", ".join(columns)
        with self._cursor() as cur:
            if stage in self._staged:
                cur.execute(f"TRUNCATE {stage}")
            else:
                cur.execute(
                    f"CREATE TEMP TABLE {stage} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP"
                )
                self._staged.add(stage)
        self._copy_postgres(stage, columns, rows, self._json_positions(table, columns))
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} ON CONFLICT DO NOTHING"
            )
            return int(cur.rowcount)

    def _copy_postgres(
        self, target: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], json_at: list[int]
    ) -> int:
        with self._cursor() as cur, cur.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                if json_at:
                    row = [dump_json(v) if i in json_at else v for i, v in enumerate(row)]
                copy.write_row(row)
        return len(rows)

    def _cursor(self) -> Any:
        return self.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]

    @staticmethod
    def _json_positions(table: Table, columns: Sequence[str]) -> list[int]:
        return [i for i, name in enumerate(columns) if table.c[name].type.__class__.__name__ == "JSON"]

    def note_growth(self, table: Table, inserted: int) -> None:
        """Rows another function inserted into ``table`` in this transaction."""
        self._maybe_analyze(table, inserted)

    def _maybe_analyze(self, table: Table, inserted: int) -> None:
        """Keep the planner's row counts honest while one transaction grows a table from empty.

        Autovacuum cannot see uncommitted rows, so a table that grew by 100k rows in this
        transaction still looks empty to the planner, which then scans instead of using indexes.
        Analysing when a table has doubled costs O(log n) ANALYZEs per import. Each samples
        3,000 rows rather than the default 30,000 (10x quicker): enough for the planner to see
        the table's size and that the looked-up keys are unique; autovacuum analyses it in full
        once the import is committed.
        """
        if not self.postgres:
            return
        grown = self._grown[table.name] = self._grown.get(table.name, 0) + inserted
        if grown >= max(5000, 2 * self._analyzed_at.get(table.name, 0)):
            setting = {"name": "default_statistics_target"}
            before = self.session.scalar(text("SELECT current_setting(:name)"), setting)
            self.session.execute(text("SELECT set_config(:name, '10', true)"), setting)
            self.session.execute(text(f"ANALYZE {table.name}"))
            self.session.execute(text("SELECT set_config(:name, :value, true)"), setting | {"value": before})
            self._analyzed_at[table.name] = grown


def _converted(row: Sequence[Any], converting: list[tuple[int, Any]]) -> list[Any]:
    values = list(row)
    for index, convert in converting:
        value = values[index]
        if value is not None:
            values[index] = convert(value)
    return values


def _sqlite_converter(column_type: Any) -> Any:
    name = column_type.__class__.__name__
    if name == "UTCDateTime":
        return sqlite_datetime
    if name == "JSON":
        return dump_json
    if name == "Boolean":
        return int
    return None
