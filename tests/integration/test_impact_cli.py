"""``goodwill impact`` through Typer's runner, on the business of test_impact_service (both backends)."""

from __future__ import annotations

import json

import pytest
import typer
from test_impact_service import build_business
from typer.testing import CliRunner, Result

from goodwill.cli import console
from goodwill.db import Database
from goodwill.impact.cli import impact_command


@pytest.fixture
def cli() -> typer.Typer:
    """``impact`` as a top-level command, the way ``goodwill.cli`` registers it."""
    root = typer.Typer()

    @root.callback()
    def main() -> None:
        """goodwill"""

    root.command("impact")(impact_command)
    return root


def run(cli: typer.Typer, db: Database, *args: str) -> Result:
    env = {
        "GOODWILL_DATABASE_URL": db.url,
        "GOODWILL_BUSINESS__TIMEZONE": "Europe/Paris",
        "GOODWILL_BUSINESS__CURRENCY": "EUR",
        "GOODWILL_IMPACT__BOOTSTRAP_SAMPLES": "400",
        "COLUMNS": "220",
    }
    # The CLI's console is made when goodwill.cli is first imported, so COLUMNS alone may come too
    # late: fix its width for the run, as a wide terminal would have it.
    saved = getattr(console, "_width", None)
    console.width = 220
    try:
        return CliRunner().invoke(cli, ["impact", *args], env=env)
    finally:
        setattr(console, "_width", saved)  # noqa: B010


def test_since_as_json_lists_every_plan_day_and_campaign_with_exact_values(
    cli: typer.Typer, db: Database
) -> None:
    build_business(db)
    result = run(cli, db, "--since", "2026-03-01", "--window", "30", "--json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert [(r["kind"], r["label"], r["treated_n"], r["holdout_n"]) for r in reports] == [
        ("campaign", "Spring thanks", 40, 40),
        ("day", "Plan of 2026-03-02", 50, 50),
        ("campaign", "Quiet note", 2, 1),
        ("day", "Plan of 2026-04-10", 3, 2),
    ]
    day = {c["metric"]: c for c in reports[1]["comparisons"]}
    assert (day["repeat_purchase"]["treated_value"], day["repeat_purchase"]["holdout_value"]) == (0.3, 0.2)
    assert (day["spend"]["treated_value"], day["spend"]["difference"]) == (1200.0, 600.0)
    assert day["unsubscribes"]["holdout_value"] == 0.06
    assert reports[1]["window_complete"] is True and reports[1]["start"] == "2026-03-02T23:00:00+00:00"
    assert all(c["verdict"] == "too small to tell" for c in reports[3]["comparisons"])


def test_one_campaign_by_name_and_one_day_as_tables(cli: typer.Typer, db: Database) -> None:
    build_business(db)
    campaign = run(cli, db, "--campaign", "Spring thanks", "--window", "30", "--json")
    assert campaign.exit_code == 0, campaign.output
    data = json.loads(campaign.stdout)
    assert data["label"] == "Spring thanks" and data["comparisons"][2]["difference"] == 1000.0
    table = run(cli, db, "--day", "2026-03-02", "--window", "30")
    out = table.stdout
    assert table.exit_code == 0, table.output
    assert "Plan of 2026-03-02 — 50 thanked, 50 held out (complete)" in out
    assert "Bought again" in out and "30.0%" in out and "+10.0 pts" in out
    assert "EUR 12.00" in out and "+EUR 6.00" in out
    assert "50 thanked, 50 held out, over the 30 days after 2 Mar 2026" in out


def test_mistakes_are_named_and_nothing_found_is_said_kindly(cli: typer.Typer, db: Database) -> None:
    empty = run(cli, db)
    assert empty.exit_code == 0 and "No holdout yet" in empty.stdout
    build_business(db)
    unknown = run(cli, db, "--campaign", "Winter")
    assert unknown.exit_code == 1
    assert "--campaign: no campaign with id or name 'Winter'" in unknown.stderr
    bad_day = run(cli, db, "--day", "2026-13-01")
    assert bad_day.exit_code == 2 and "--day: '2026-13-01' is not a date" in bad_day.stderr
    both = run(cli, db, "--day", "2026-03-02", "--since", "2026-03-01")
    assert both.exit_code == 2 and "choose one of --campaign, --day and --since" in both.stderr
    quiet = run(cli, db, "--day", "2026-03-09")
    assert quiet.exit_code == 1 and "--day: nobody was planned or held out on 2026-03-09" in quiet.stderr
    window = run(cli, db, "--day", "2026-03-02", "--window", "0")
    assert window.exit_code == 2


def test_help_names_every_option(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["impact", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--campaign", "--since", "--day", "--window", "--json"):
        assert option in result.stdout
