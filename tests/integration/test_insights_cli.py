"""``goodwill insights fit-file`` and ``score`` through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from test_insights_score import build_shop
from typer.testing import CliRunner

from goodwill.db import Database
from goodwill.insights.cli import insights_app
from goodwill.insights.model import InsightScore

CDNOW = Path(__file__).parent.parent / "data" / "cdnow" / "CDNOW_sample.txt"


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(insights_app, name="insights")
    return app


def cdnow_csv(folder: Path, bad_lines: bool = False) -> Path:
    lines = ["customer,date,cds,amount"]
    for row in CDNOW.read_text().splitlines():
        _, customer, day, cds, amount = row.split()
        lines.append(f"{customer},{day},{cds},{amount}")
    if bad_lines:
        lines.insert(3, "77,1997-02-30,1,5.00")  # line 4: not a YYYYMMDD date
        lines.insert(5, "78,19970301,1,lots")  # line 6: amount is not a number
        lines.insert(6, ",19970301,1,5.00")  # line 7: no customer
    path = folder / "cdnow.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_file_reproduces_cdnow_and_prints_json(cli: typer.Typer, tmp_path: Path) -> None:
    path = cdnow_csv(tmp_path)
    args = [
        "insights",
        "fit-file",
        str(path),
        "--customer-col",
        "customer",
        "--date-col",
        "date",
        "--amount-col",
        "amount",
        "--date-format",
        "%Y%m%d",
        "--period",
        "week",
        "--calibration-end",
        "1997-09-30",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["customers"] == 2357
    bg = data["bgnbd"]
    assert set(bg) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert (round(bg["r"], 3), round(bg["alpha"], 2), round(bg["a"], 3), round(bg["b"], 2)) == (
        0.243,
        4.41,
        0.793,
        2.43,
    )
    assert round(bg["log_likelihood"], 1) == -9582.4
    gg = data["gamma_gamma"]
    assert set(gg) == {"p", "q", "v"}
    assert (round(gg["p"], 2), round(gg["q"], 2), round(gg["v"], 1)) == (6.25, 3.74, 15.4)
    assert data["rejected"] == []


def test_fit_file_rejects_bad_rows_with_line_and_reason(cli: typer.Typer, tmp_path: Path) -> None:
    path = cdnow_csv(tmp_path, bad_lines=True)
    args = [
        "insights",
        "fit-file",
        str(path),
        "--customer-col",
        "customer",
        "--date-col",
        "date",
        "--amount-col",
        "amount",
        "--date-format",
        "%Y%m%d",
        "--period",
        "week",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["line"] for r in data["rejected"]] == [4, 6, 7]
    reasons = [r["reason"] for r in data["rejected"]]
    assert "1997-02-30" in reasons[0] and "%Y%m%d" in reasons[0]
    assert "lots" in reasons[1] and "not a number" in reasons[1]
    assert reasons[2] == "empty customer id"
    assert data["kept"] == data["rows"] - 3 == 6919
    assert data["calibration_end"] == "1998-06-30"  # the last date, when none is given
    assert "line 4:" in result.stderr


def test_fit_file_without_amounts_fits_only_bgnbd(cli: typer.Typer, tmp_path: Path) -> None:
    path = cdnow_csv(tmp_path)
    args = [
        "insights",
        "fit-file",
        str(path),
        "--customer-col",
        "customer",
        "--date-col",
        "date",
        "--date-format",
        "%Y%m%d",
        "--json",
    ]
    data = json.loads(CliRunner().invoke(cli, args).stdout)
    assert data["gamma_gamma"] is None
    assert data["bgnbd"]["r"] > 0


def test_fit_file_names_a_missing_column(cli: typer.Typer, tmp_path: Path) -> None:
    path = cdnow_csv(tmp_path)
    result = CliRunner().invoke(
        cli, ["insights", "fit-file", str(path), "--customer-col", "client", "--date-col", "date"]
    )
    assert result.exit_code == 1
    assert "--customer-col: no column 'client'" in result.stderr


def test_score_command_stores_scores(cli: typer.Typer, db: Database) -> None:
    build_shop(db, crowd=60)
    env = {
        "GOODWILL_DATABASE_URL": db.url,
        "GOODWILL_BUSINESS__TIMEZONE": "Europe/Paris",
        "GOODWILL_BUSINESS__CURRENCY": "EUR",
    }
    result = CliRunner().invoke(cli, ["insights", "score", "--as-of", "2025-06-30", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(InsightScore)) == report["customers"] > 60
    bad = CliRunner().invoke(cli, ["insights", "score", "--as-of", "30/06/2025"], env=env)
    assert bad.exit_code == 1
    assert "--as-of" in bad.stderr
