"""Complaint themes in the database: group the recent complaints, and read each theme's figures back.

``run_themes`` groups the latest ``LATEST`` complaints (by ``received_at``: what a manager acts on is
recent, and the grouping stays a few seconds long) with ``themes.find_themes``, writes the themes as
a new run and points each complaint at its theme. Older runs are kept, not shown; complaints older
than the window keep the theme of the run that last saw them, which no longer counts anywhere.
The same complaints always give the same themes (the grouping is deterministic and order-free), so
running it again changes nothing but the run number.

``theme_overview`` reads the latest run: per theme the count, what is still open, weekly volume in
the business's time zone, recent examples, the median time to resolve, and what the theme cost in
the relationship bank (the entries of its complaints' ``complaint`` and ``complaint_sla_breached``
events).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.orm import Session

from goodwill.bank.model import BankEntry
from goodwill.complaints.model import Complaint, ComplaintStatus, ComplaintTheme
from goodwill.complaints.themes import OTHER_LABEL, ThemeModel, find_themes
from goodwill.config import Settings
from goodwill.db import among, utcnow
from goodwill.events.model import Event

LATEST = 20_000
EXAMPLES = 3
SHORT = 140  # characters of an example shown
BREACH_KIND = "complaint_sla_breached"


@dataclass(frozen=True)
class Example:
    id: int
    text: str


@dataclass(frozen=True)
class ThemeSummary:
    id: int
    label: str
    keywords: tuple[str, ...]
    size: int
    is_other: bool
    examples: tuple[Example, ...]  # the most typical complaints of the theme


@dataclass(frozen=True)
class ThemesReport:
    run_id: int | None  # None when there were no complaints to group
    complaints: int
    k: int  # themes found, not counting Other
    chosen_by: str  # "given", "silhouette" or "too few"
    silhouette: float | None
    themes: tuple[ThemeSummary, ...]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WeekCount:
    week_start: date  # the Monday, in the business's time zone
    count: int

    @property
    def start_label(self) -> str:
        return f"{self.week_start.day} {self.week_start:%b}"


@dataclass(frozen=True)
class ThemeStats:
    id: int
    label: str
    keywords: tuple[str, ...]
    is_other: bool
    count: int
    open_count: int  # not resolved yet
    weekly: tuple[WeekCount, ...]  # oldest week first, the current week last
    examples: tuple[Example, ...]  # the most recent first
    resolved: int
    median_hours_to_resolve: float | None  # calendar hours from received to resolved
    bank_cost: int  # points, zero or negative


def short_text(subject: str, body: str) -> str:
    """The subject if there is one, else the start of the body, on one line."""
    text = " ".join((subject or body or "").split())
    return text if len(text) <= SHORT else text[: SHORT - 1].rstrip() + "…"


def run_themes(session: Session, *, settings: Settings, now: datetime, k: int | None = None) -> ThemesReport:
    """Group the latest complaints into themes (``k``, else ``[complaints] themes``, else automatic)."""
    rows = session.execute(
        select(Complaint.id, Complaint.subject, Complaint.body)
        .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        .limit(LATEST)
    ).all()
    if not rows:
        return ThemesReport(None, 0, 0, "too few", None, ())
    model = find_themes([f"{r.subject}\n{r.body}" for r in rows], k=k or settings.complaints.themes or None)
    themes = [
        ComplaintTheme(run_id=0, label=t.label, keywords=list(t.keywords), size=t.size, created_at=now)
        for t in model.themes
    ]
    session.add_all(themes)
    session.flush()
    # The run's number is its first theme's id: unique even when two runs overlap, and it grows.
    run_id = min(theme.id for theme in themes)
    for theme in themes:
        theme.run_id = run_id
    _assign(session, [r.id for r in rows], model, [theme.id for theme in themes])
    summaries = tuple(
        ThemeSummary(
            id=row.id,
            label=t.label,
            keywords=t.keywords,
            size=t.size,
            is_other=t.is_other,
            examples=tuple(
                Example(rows[i].id, short_text(rows[i].subject, rows[i].body))
                for i in model.members(t.index)[:EXAMPLES]
            ),
        )
        for t, row in zip(model.themes, themes, strict=True)
    )
    return ThemesReport(run_id, len(rows), model.k, model.chosen_by, model.silhouette, summaries)


def _assign(session: Session, complaint_ids: list[int], model: ThemeModel, theme_ids: list[int]) -> None:
    members: dict[int, list[int]] = defaultdict(list)
    for complaint_id, assignment in zip(complaint_ids, model.assignments, strict=True):
        members[theme_ids[assignment.theme]].append(complaint_id)
    for theme_id, ids in members.items():
        session.execute(
            update(Complaint)
            .where(among(session, Complaint.id, ids))
            # A theme is not a change to the complaint: its updated_at stays as it was.
            .values(theme_id=theme_id, updated_at=Complaint.updated_at)
            .execution_options(synchronize_session=False)
        )
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Complaint):
            session.expire(loaded, ["theme_id", "updated_at"])


def theme_overview(
    session: Session,
    *,
    settings: Settings,
    weeks: int = 12,
    now: datetime | None = None,
    examples_from: ColumnElement[bool] | None = None,
) -> list[ThemeStats]:
    """The latest run's themes with their figures, biggest first and Other last; [] before any run.

    The figures count every complaint of the theme: they are the business's picture. The examples
    are complaints' own words, so ``examples_from`` (a condition on ``Complaint``, such as who may
    see what) limits which complaints may be shown.
    """
    run_id = session.scalar(select(func.max(ComplaintTheme.run_id)))
    if run_id is None:
        return []
    themes = session.scalars(select(ComplaintTheme).where(ComplaintTheme.run_id == run_id)).all()
    complaints = session.execute(
        select(
            Complaint.id,
            Complaint.theme_id,
            Complaint.status,
            Complaint.received_at,
            Complaint.resolved_at,
            Complaint.event_id,
        ).where(Complaint.theme_id.in_([t.id for t in themes]))
    ).all()
    by_theme: dict[int, list[Any]] = defaultdict(list)
    for row in complaints:
        by_theme[row.theme_id].append(row)
    weeks_shown = _week_starts(now or utcnow(), settings, weeks)
    costs = _bank_costs(session, complaints)
    examples = _recent_examples(session, [t.id for t in themes], examples_from)
    stats = [
        _stats(theme, by_theme[theme.id], weeks_shown, settings, costs, examples.get(theme.id, ()))
        for theme in themes
    ]
    stats.sort(key=lambda s: (s.is_other, -s.count, s.label, s.id))
    return stats


def _stats(
    theme: ComplaintTheme,
    rows: list[Any],
    weeks: list[date],
    settings: Settings,
    costs: dict[int, int],
    examples: tuple[Example, ...],
) -> ThemeStats:
    tz = settings.business.tz
    per_week = dict.fromkeys(weeks, 0)
    for row in rows:
        day = row.received_at.astimezone(tz).date()
        monday = day - timedelta(days=day.weekday())
        if monday in per_week:
            per_week[monday] += 1
    hours = [(r.resolved_at - r.received_at).total_seconds() / 3600 for r in rows if r.resolved_at]
    return ThemeStats(
        id=theme.id,
        label=theme.label,
        keywords=tuple(theme.keywords),
        is_other=theme.label == OTHER_LABEL and not theme.keywords,
        count=len(rows),
        open_count=sum(1 for r in rows if r.status != ComplaintStatus.resolved),
        weekly=tuple(WeekCount(week, count) for week, count in per_week.items()),
        examples=examples,
        resolved=len(hours),
        median_hours_to_resolve=round(statistics.median(hours), 1) if hours else None,
        bank_cost=costs.get(theme.id, 0),
    )


def _week_starts(now: datetime, settings: Settings, weeks: int) -> list[date]:
    """The Mondays of the last ``weeks`` weeks in the business's time zone, this week's last."""
    today = now.astimezone(settings.business.tz).date()
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=n) for n in range(max(weeks, 1) - 1, -1, -1)]


def _bank_costs(session: Session, complaints: Sequence[Any]) -> dict[int, int]:
    """Theme id -> the sum of the bank entries of its complaints' complaint and breach events."""
    theme_of_complaint = {row.id: row.theme_id for row in complaints}
    theme_of_event = {row.event_id: row.theme_id for row in complaints if row.event_id is not None}
    breaches = session.execute(
        select(Event.id, Event.source_id).where(
            Event.kind == BREACH_KIND, Event.source == "complaints", Event.source_id.like("breach:%")
        )
    ).all()
    for event_id, source_id in breaches:
        complaint_id = source_id.split(":")[1]
        if complaint_id.isdigit() and int(complaint_id) in theme_of_complaint:
            theme_of_event[event_id] = theme_of_complaint[int(complaint_id)]
    costs: dict[int, int] = defaultdict(int)
    if theme_of_event:
        sums = session.execute(
            select(BankEntry.event_id, func.sum(BankEntry.amount))
            .where(among(session, BankEntry.event_id, list(theme_of_event)))
            .group_by(BankEntry.event_id)
        ).all()
        for event_id, amount in sums:
            costs[theme_of_event[event_id]] += int(amount)
    return costs


def _recent_examples(
    session: Session, theme_ids: list[int], condition: ColumnElement[bool] | None
) -> dict[int, tuple[Example, ...]]:
    """Each theme's latest ``EXAMPLES`` complaints (that ``condition`` allows), newest first."""
    newest_first = (Complaint.received_at.desc(), Complaint.id.desc())
    ranked = (
        select(
            Complaint.id,
            Complaint.theme_id,
            Complaint.subject,
            Complaint.body,
            func.row_number().over(partition_by=Complaint.theme_id, order_by=newest_first).label("place"),
        )
        .where(Complaint.theme_id.in_(theme_ids), condition if condition is not None else true())
        .subquery()
    )
    found: dict[int, list[Example]] = defaultdict(list)
    for row in session.execute(
        select(ranked).where(ranked.c.place <= EXAMPLES).order_by(ranked.c.theme_id, ranked.c.place)
    ):
        found[row.theme_id].append(Example(row.id, short_text(row.subject, row.body)))
    return {theme_id: tuple(examples) for theme_id, examples in found.items()}
