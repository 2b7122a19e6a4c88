"""Complaint themes in the database (SQLite and PostgreSQL): the run, the overview figures, the command.

Complaints are opened through ``open_complaint`` (which records the ``complaint`` event and refreshes
the bank); breaches are recorded the way the SLA sweep records them (source "complaints",
source_id ``breach:<id>:<clock>``); resolutions are set on the row.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from goodwill.bank.config import load_bank_config
from goodwill.bank.model import BankEntry
from goodwill.bank.service import refresh_people
from goodwill.complaints import themes_service
from goodwill.complaints.model import Complaint, ComplaintStatus, ComplaintTheme
from goodwill.complaints.service import NewComplaint, open_complaint
from goodwill.complaints.themes_cli import app as themes_app
from goodwill.complaints.themes_service import run_themes, theme_overview
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event

PARIS = ZoneInfo("Europe/Paris")
# A Wednesday; its week (in Paris) starts on Monday 10 March, the one before on Monday 3 March.
ANCHOR = datetime(2025, 3, 12, 12, 0, tzinfo=PARIS)

REFUNDS = [
    "I returned the dress three weeks ago and my refund has still not arrived.",
    "Still waiting for my refund, you received the return on the 5th.",
    "Where is my refund? The return was signed for a month ago and no money back yet.",
    "Refund not received for the returned boots, please chase the refund.",
    "My refund for the returned lamp is three weeks late, I want my money back.",
    "You confirmed the return but the refund never reached my card.",
]
SIZES = [
    "The jeans are far too small, your size 12 is more like a size 8.",
    "Your size guide is wrong, the dress is two sizes too big.",
    "Shoes run a full size small, I need a size bigger please.",
    "The coat is the wrong size, far too tight on the shoulders, the size chart is off.",
    "Size medium fits like a small, too tight everywhere.",
    "The trousers are too small in the waist even in my usual size.",
]


def settings_for(db: Database, **complaints: object) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "The Tea Shop", "timezone": "Europe/Paris", "currency": "EUR"},
        complaints=complaints,
    )


def open_one(db: Database, settings: Settings, n: int, body: str, received: datetime) -> int:
    with db.transaction() as s:
        complaint, created = open_complaint(
            s,
            new=NewComplaint(
                body=body,
                source="api",
                source_id=f"themes-{n}",
                received_at=received.astimezone(UTC),
                email=f"customer{n}@example.com",
                name=f"Customer {n}",
            ),
            settings=settings,
        )
        assert created
        return complaint.id


def breach(db: Database, settings: Settings, complaint_id: int, clock: str) -> None:
    """What the SLA sweep records when a clock runs out, with the bank refreshed."""
    with db.transaction() as s:
        complaint = s.get_one(Complaint, complaint_id)
        record_event(
            s,
            NewEvent(
                person_id=complaint.person_id,
                kind="complaint_sla_breached",
                occurred_at=complaint.first_response_due_at,
                source="complaints",
                source_id=f"breach:{complaint.id}:{clock}",
            ),
        )
        refresh_people(
            session=s, person_ids=[complaint.person_id], config=load_bank_config(settings), currency="EUR"
        )


def resolve_after(db: Database, complaint_id: int, hours: float) -> None:
    with db.transaction() as s:
        complaint = s.get_one(Complaint, complaint_id)
        complaint.status = ComplaintStatus.resolved
        complaint.resolved_at = complaint.received_at + timedelta(hours=hours)


def scenario(db: Database, settings: Settings) -> dict[str, list[int]]:
    """Six refund and six sizing complaints over the weeks before ANCHOR, and one too short to group."""
    refunds = [
        open_one(db, settings, n, text, ANCHOR - timedelta(days=days))
        for n, (text, days) in enumerate(zip(REFUNDS, [0, 1, 2, 7, 9, 120], strict=True))
    ]
    sizes = [
        open_one(db, settings, 10 + n, text, ANCHOR - timedelta(days=days))
        for n, (text, days) in enumerate(zip(SIZES, [3, 8, 15, 16, 22, 30], strict=True))
    ]
    short = [open_one(db, settings, 99, "Help!", ANCHOR - timedelta(days=4))]
    breach(db, settings, refunds[0], "first_response")
    breach(db, settings, refunds[0], "resolution")
    breach(db, settings, refunds[3], "first_response")
    for complaint_id, hours in zip(refunds[2:5], [10, 30, 50], strict=True):
        resolve_after(db, complaint_id, hours)
    resolve_after(db, sizes[0], 4)
    return {"refunds": refunds, "sizes": sizes, "short": short}


def themes_of(db: Database, ids: list[int]) -> set[int | None]:
    with db.reading() as s:
        return set(s.scalars(select(Complaint.theme_id).where(Complaint.id.in_(ids))))


def test_run_themes_groups_the_complaints_and_points_each_at_its_theme(db: Database) -> None:
    settings = settings_for(db)
    ids = scenario(db, settings)
    with db.reading() as s:
        updated_before = {i: at for i, at in s.execute(select(Complaint.id, Complaint.updated_at))}
    with db.transaction() as s:
        report = run_themes(s, settings=settings, now=ANCHOR)
    assert (report.complaints, report.k, report.chosen_by) == (13, 2, "silhouette")
    refund_theme, size_theme, short_theme = (themes_of(db, ids[key]) for key in ("refunds", "sizes", "short"))
    assert len(refund_theme) == len(size_theme) == len(short_theme) == 1
    assert len(refund_theme | size_theme | short_theme) == 3
    by_id = {t.id: t for t in report.themes}
    assert "refund" in by_id[next(iter(refund_theme))].keywords
    assert "size" in by_id[next(iter(size_theme))].keywords
    other = by_id[next(iter(short_theme))]
    assert (other.is_other, other.label, other.size, [e.id for e in other.examples]) == (
        True,
        "Other",
        1,
        ids["short"],
    )
    with db.reading() as s:
        stored = s.scalars(select(ComplaintTheme).where(ComplaintTheme.run_id == report.run_id)).all()
        assert sorted(t.id for t in stored) == sorted(by_id)
        assert sum(t.size for t in stored) == 13
        # a theme is not a change to the complaint
        assert {i: at for i, at in s.execute(select(Complaint.id, Complaint.updated_at))} == updated_before


def test_running_again_gives_the_same_themes_under_a_new_run(db: Database) -> None:
    settings = settings_for(db)
    ids = scenario(db, settings)
    with db.transaction() as s:
        first = run_themes(s, settings=settings, now=ANCHOR)
    partition = [themes_of(db, ids[key]) for key in ("refunds", "sizes", "short")]
    with db.transaction() as s:
        second = run_themes(s, settings=settings, now=ANCHOR)
    assert second.run_id is not None and first.run_id is not None and second.run_id > first.run_id
    shape = [(t.label, t.keywords, t.size, [e.id for e in t.examples]) for t in first.themes]
    assert [(t.label, t.keywords, t.size, [e.id for e in t.examples]) for t in second.themes] == shape
    again = [themes_of(db, ids[key]) for key in ("refunds", "sizes", "short")]
    assert all(len(theme) == 1 for theme in again) and again != partition  # the new run's theme rows
    with db.reading() as s:
        runs = s.scalars(select(ComplaintTheme.run_id).distinct()).all()
        assert sorted(runs) == [first.run_id, second.run_id]  # older runs are kept, not shown
        latest = theme_overview(s, settings=settings, now=ANCHOR)
    assert {t.id for t in latest} == {t.id for t in second.themes}


def test_overview_counts_weeks_time_to_resolve_and_bank_cost(db: Database) -> None:
    settings = settings_for(db)
    ids = scenario(db, settings)
    with db.transaction() as s:
        run_themes(s, settings=settings, now=ANCHOR)
    with db.reading() as s:
        stats = theme_overview(s, settings=settings, weeks=12, now=ANCHOR)
    assert [(t.count, t.is_other) for t in stats] == [(6, False), (6, False), (1, True)]
    refunds = next(t for t in stats if t.id in themes_of(db, ids["refunds"]))
    sizes = next(t for t in stats if t.id in themes_of(db, ids["sizes"]))
    assert (refunds.count, refunds.open_count, refunds.resolved) == (6, 3, 3)
    assert (sizes.count, sizes.open_count, sizes.resolved) == (6, 5, 1)
    # Weeks start on Monday in Paris; the current week is last. 120 days ago is outside the 12 weeks.
    assert len(refunds.weekly) == 12 and refunds.weekly[-1].week_start == date(2025, 3, 10)
    assert refunds.weekly[0].week_start == date(2024, 12, 23)
    refund_weeks = {w.week_start: w.count for w in refunds.weekly if w.count}
    assert refund_weeks == {date(2025, 3, 10): 3, date(2025, 3, 3): 2}
    size_weeks = {w.week_start: w.count for w in sizes.weekly if w.count}
    assert size_weeks == {
        date(2025, 3, 3): 2,  # 3 and 8 days before Wednesday the 12th: Sunday 9th and Tuesday 4th
        date(2025, 2, 24): 2,
        date(2025, 2, 17): 1,
        date(2025, 2, 10): 1,
    }
    # Calendar hours from received to resolved: 10, 30, 50 -> median 30.
    assert refunds.median_hours_to_resolve == 30.0 and sizes.median_hours_to_resolve == 4.0
    assert stats[-1].median_hours_to_resolve is None
    # The 3 most recent, newest first.
    assert [e.id for e in refunds.examples] == ids["refunds"][:3]
    assert refunds.examples[0].text.startswith("I returned the dress")
    # Bank cost: the entries of the complaint events plus those of the breach events.
    with db.reading() as s:
        complaint_events = s.scalars(select(Complaint.event_id).where(Complaint.id.in_(ids["refunds"]))).all()
        breach_events = s.scalars(
            select(Event.id).where(Event.source == "complaints", Event.kind == "complaint_sla_breached")
        ).all()
        expected = s.scalar(
            select(func.sum(BankEntry.amount)).where(
                BankEntry.event_id.in_([*complaint_events, *breach_events])
            )
        )
    assert len(breach_events) == 3
    assert refunds.bank_cost == expected == 6 * -6 + 3 * -3
    assert sizes.bank_cost == 6 * -6 and stats[-1].bank_cost == -6


def test_examples_can_be_limited_to_what_the_viewer_may_see(db: Database) -> None:
    settings = settings_for(db)
    ids = scenario(db, settings)
    with db.transaction() as s:
        run_themes(s, settings=settings, now=ANCHOR)
    allowed = ids["refunds"][1::2]
    with db.reading() as s:
        stats = theme_overview(s, settings=settings, now=ANCHOR, examples_from=Complaint.id.in_(allowed))
    refunds = next(t for t in stats if t.id in themes_of(db, ids["refunds"]))
    assert [e.id for e in refunds.examples] == allowed  # newest first, only the allowed ones
    assert refunds.count == 6  # the figures still count every complaint
    assert all(t.examples == () for t in stats if t.id not in themes_of(db, ids["refunds"]))


def test_k_comes_from_the_settings_and_only_the_latest_complaints_are_grouped(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(db, themes=3)
    ids = scenario(db, settings)
    monkeypatch.setattr(themes_service, "LATEST", 10)
    with db.transaction() as s:
        report = run_themes(s, settings=settings, now=ANCHOR)
    assert (report.k, report.chosen_by, report.complaints) == (3, "given", 10)
    oldest = [ids["refunds"][5], ids["sizes"][4], ids["sizes"][5]]  # 120, 22 and 30 days old
    assert themes_of(db, oldest) == {None}
    with db.transaction() as s:
        assert run_themes(s, settings=settings, now=ANCHOR, k=2).k == 2


def test_no_complaints_no_themes(db: Database) -> None:
    settings = settings_for(db)
    with db.transaction() as s:
        report = run_themes(s, settings=settings, now=ANCHOR)
        assert (report.run_id, report.complaints, report.themes) == (None, 0, ())
        assert theme_overview(s, settings=settings, now=ANCHOR) == []


def test_the_themes_command_prints_and_saves_the_themes(db: Database, tmp_path: Path) -> None:
    settings = settings_for(db)
    ids = scenario(db, settings)
    config = tmp_path / "goodwill.toml"
    config.write_text('[business]\ntimezone = "Europe/Paris"\ncurrency = "EUR"\n')
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_CONFIG": str(config)}
    runner = CliRunner()
    cli = typer.Typer()
    cli.add_typer(themes_app, name="complaints")  # as `goodwill complaints themes`
    result = runner.invoke(cli, ["complaints", "themes", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["complaints"], data["k"]) == (13, 2)
    assert [t["size"] for t in data["themes"]] == [6, 6, 1]
    assert len(themes_of(db, ids["refunds"])) == 1 and themes_of(db, ids["refunds"]) != {None}
    text = runner.invoke(cli, ["complaints", "themes", "--k", "3"], env=env)
    assert text.exit_code == 0, text.output
    assert "3 themes in 13 complaints (given)" in text.output and "Other" in text.output
    assert f"#{ids['short'][0]}: Help!" in text.output
    refused = runner.invoke(cli, ["complaints", "themes", "--k", "0"], env=env)
    assert refused.exit_code == 2 and "--k" in refused.output
