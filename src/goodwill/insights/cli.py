"""``goodwill insights ...``: fit the models on any transaction file, and score the app's people.

The helpers from ``goodwill.cli`` are imported inside each command because that module imports this one.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

insights_app = typer.Typer(
    help="Buying patterns: RFM segments, milestones, P(alive) and lifetime value.", no_args_is_help=True
)


def _parse_day(value: str | None, option: str) -> date | None:
    from goodwill.cli import fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date (use YYYY-MM-DD)")


def _period(value: str) -> Any:
    from goodwill.cli import fail

    if value not in ("day", "week"):
        fail(f"--period: {value!r} is not day or week")
    return value


@insights_app.command("fit-file")
def fit_file_command(
    file: Annotated[Path, typer.Argument(help="CSV (with a header row) or Parquet file of transactions.")],
    customer_col: Annotated[str, typer.Option("--customer-col", help="Column with the customer id.")],
    date_col: Annotated[str, typer.Option("--date-col", help="Column with the purchase date.")],
    amount_col: Annotated[
        str | None, typer.Option("--amount-col", help="Column with the amount spent.")
    ] = None,
    date_format: Annotated[
        str | None, typer.Option("--date-format", help="strptime format, e.g. %Y%m%d (default: ISO dates).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected).")
    ] = None,
    period: Annotated[str, typer.Option("--period", help="Unit of time: day or week (7 days).")] = "day",
    calibration_end: Annotated[
        str | None,
        typer.Option("--calibration-end", help="Last day of the calibration period (default: last date)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Fit BG/NBD and Gamma-Gamma on a transaction file; bad rows are rejected with line and reason."""
    from goodwill.cli import console, err_console, fail, print_json
    from goodwill.insights.files import FileColumns, FileProblem, fit_file

    columns = FileColumns(customer_col, date_col, amount_col, date_format, delimiter)
    try:
        result = fit_file(
            file,
            columns,
            period=_period(period),
            calibration_end=_parse_day(calibration_end, "--calibration-end"),
        )
    except FileProblem as exc:
        fail(str(exc))
    for rejection in result["rejected"][:20]:
        err_console.print(f"line {rejection['line']}: {rejection['reason']}")
    if len(result["rejected"]) > 20:
        err_console.print(f"... and {len(result['rejected']) - 20} more rejected rows")
    if as_json:
        print_json(result)
        return
    console.print(
        f"{result['customers']} customers, calibration end {result['calibration_end']}, "
        f"{result['kept']} of {result['rows']} rows kept"
    )
    for model in ("bgnbd", "gamma_gamma"):
        params = result[model]
        shown = ", ".join(f"{k}={v:.4g}" for k, v in params.items()) if params else "not fitted"
        console.print(f"  {model}: {shown}")
    for note in result["notes"]:
        console.print(f"  note: {note}")


@insights_app.command("score")
def score_command(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Calibration end (default: today).")] = None,
    period: Annotated[str, typer.Option("--period", help="Unit of time: day or week.")] = "day",
    months: Annotated[
        int, typer.Option("--months", min=1, max=120, help="Horizon of CLV and purchases.")
    ] = 12,
    discount: Annotated[
        float, typer.Option("--discount", min=0.0, max=0.5, help="Monthly discount rate.")
    ] = 0.01,
    engine: Annotated[str, typer.Option("--engine", help="Summary engine: duckdb or spark.")] = "duckdb",
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="Spark master URL for --engine spark.")
    ] = "local[2]",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Score everyone who bought and store segment, RFM, P(alive), CLV and milestones (full replace)."""
    from goodwill.cli import console, database, fail, print_json, settings
    from goodwill.insights.pipeline import ScoreOptions
    from goodwill.insights.service import score_people

    cfg = settings()
    day = _parse_day(as_of, "--as-of") or datetime.now(cfg.business.tz).date()
    if engine not in ("duckdb", "spark"):
        fail(f"--engine: {engine!r} is not duckdb or spark")
    spark = None
    if engine == "spark":
        from goodwill.insights.spark import spark_session

        spark = spark_session(spark_master)
    options = ScoreOptions(as_of=day, period=_period(period), months=months, monthly_discount=discount)
    with database(cfg).transaction() as s:
        report = score_people(
            s,
            business=cfg.business,
            options=options,
            engine=engine,  # type: ignore[arg-type]
            spark=spark,
        )
    if as_json:
        print_json(report.to_json())
        return
    console.print(
        f"Scored {report.customers} customers from {report.purchases} purchases as of "
        f"{report.as_of.isoformat()} ({report.milestones} milestones reached)."
    )
    for note in report.params["notes"]:
        console.print(f"  note: {note}")
