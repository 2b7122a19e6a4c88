"""Reading any transaction file (CSV or Parquet) into DuckDB, rejecting bad rows with line and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from goodwill.events.importers.report import Rejection
from goodwill.insights.pipeline import fit_models
from goodwill.insights.summary import Period, summarise


class FileProblem(ValueError):
    """The file as a whole cannot be read (missing, unknown column...); the message says why."""


@dataclass
class FileLoad:
    rows: int = 0
    kept: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_transactions(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    date_format: str | None = None,
    delimiter: str | None = None,
    table: str = "purchases",
) -> FileLoad:
    """Create ``table(customer_id VARCHAR, day DATE, amount DOUBLE)`` from the file's good rows.

    CSV lines are numbered as in a text editor, the header being line 1 (quoted fields spanning
    lines are not supported). Dates are calendar days as written: a time of day is ignored.
    """
    if not path.is_file():
        raise FileProblem(f"no such file: {path}")
    if path.suffix.lower() == ".parquet":
        reader = f"read_parquet({_literal(str(path))})"
    else:
        options = ", delim=" + _literal(delimiter) if delimiter else ""
        reader = f"read_csv({_literal(str(path))}, all_varchar=true, header=true{options})"
    try:
        numbered = f"SELECT row_number() OVER () + 1 AS line, * FROM {reader}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw_rows AS {numbered}")
    except duckdb.Error as exc:
        raise FileProblem(f"cannot read {path.name}: {exc}") from exc
    available = [row[0] for row in con.execute("DESCRIBE raw_rows").fetchall()][1:]
    for option, name in (
        ("--customer-col", customer_col),
        ("--date-col", date_col),
        ("--amount-col", amount_col),
    ):
        if name is not None and name not in available:
            raise FileProblem(
                f"{option}: no column {name!r} in {path.name} (columns: {', '.join(available)})"
            )

    text_date = f"trim(CAST({_quote(date_col)} AS VARCHAR))"
    if date_format:
        day = f"CAST(try_strptime({text_date}, {_literal(date_format)}) AS DATE)"
        shown = date_format.replace("'", "")
        date_problem = f"'date ' || coalesce({text_date}, '(empty)') || ' does not match {shown}'"
    else:
        day = f"coalesce(TRY_CAST({text_date} AS DATE), CAST(TRY_CAST({text_date} AS TIMESTAMP) AS DATE))"
        hint = "is not a date (use YYYY-MM-DD or --date-format)"
        date_problem = f"'date ' || coalesce({text_date}, '(empty)') || ' {hint}'"
    customer = f"nullif(trim(CAST({_quote(customer_col)} AS VARCHAR)), '')"
    if amount_col:
        text_amount = f"trim(CAST({_quote(amount_col)} AS VARCHAR))"
        amount = f"TRY_CAST({text_amount} AS DOUBLE)"
        amount_problem = f"""
            WHEN {amount} IS NULL THEN 'amount ' || coalesce({text_amount}, '(empty)') || ' is not a number'
            WHEN NOT isfinite({amount}) OR {amount} < 0
                THEN 'amount ' || {text_amount} || ' is negative or not finite'"""
    else:
        amount, amount_problem = "CAST(NULL AS DOUBLE)", ""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE checked_rows AS
        SELECT line, {customer} AS customer_id, {day} AS day, {amount} AS amount,
               CASE WHEN {customer} IS NULL THEN 'empty customer id'
                    WHEN {day} IS NULL THEN {date_problem}
                    {amount_problem}
               END AS problem
        FROM raw_rows""")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_quote(table)} AS "
        "SELECT customer_id, day, amount FROM checked_rows WHERE problem IS NULL"
    )
    load = FileLoad()
    load.rows = int(con.execute("SELECT count(*) FROM checked_rows").fetchall()[0][0])
    load.kept = int(con.execute(f"SELECT count(*) FROM {_quote(table)}").fetchall()[0][0])
    bad = con.execute(
        "SELECT line, problem FROM checked_rows WHERE problem IS NOT NULL ORDER BY line"
    ).fetchall()
    load.rejected = [Rejection(int(line), str(problem)) for line, problem in bad]
    con.execute("DROP TABLE raw_rows; DROP TABLE checked_rows")
    return load


@dataclass(frozen=True)
class FileColumns:
    customer: str
    date: str
    amount: str | None = None
    date_format: str | None = None
    delimiter: str | None = None


def fit_file(
    path: Path, columns: FileColumns, *, period: Period = "day", calibration_end: date | None = None
) -> dict[str, Any]:
    """Fit BG/NBD (and Gamma-Gamma when there are amounts) on a transaction file: the ``fit-file`` output."""
    con = duckdb.connect()
    try:
        load = load_transactions(
            con,
            path,
            customer_col=columns.customer,
            date_col=columns.date,
            amount_col=columns.amount,
            date_format=columns.date_format,
            delimiter=columns.delimiter,
        )
        if load.kept == 0:
            raise FileProblem(f"no usable rows in {path.name} ({len(load.rejected)} rejected)")
        end = calibration_end or con.execute("SELECT max(day) FROM purchases").fetchall()[0][0]
        summary = summarise(con, end, period=period)
    finally:
        con.close()
    if len(summary) == 0:
        raise FileProblem(f"no purchases on or before the calibration end {end.isoformat()}")
    bg, gg, notes, distinct = fit_models(summary)
    return {
        "customers": len(summary),
        "bgnbd": bg.as_dict() if bg else None,
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v} if gg and columns.amount else None,
        "calibration_end": end.isoformat(),
        "period": period,
        "distinct_triples": distinct,
        "rows": load.rows,
        "kept": load.kept,
        "rejected": [{"line": r.line, "reason": r.reason} for r in load.rejected],
        "notes": notes,
    }
