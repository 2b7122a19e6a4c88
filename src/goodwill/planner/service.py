"""Make and read the daily plan: moments -> candidates -> contact policy -> stored items and drafts.

``make_plan`` is idempotent for a day: people already planned or held out keep their place, and
only people who became eligible since are added, within the capacity left.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Row, Select, Table, and_, bindparam, func, insert, select
from sqlalchemy.orm import Session

from goodwill.campaigns.model import campaign_run_ids
from goodwill.config import Settings
from goodwill.db import hold_transaction_lock
from goodwill.people.model import Person
from goodwill.planner import signals as gather
from goodwill.planner.domain import Candidate, Moment, MomentKind
from goodwill.planner.model import PlanHoldout, PlanItem, PlanRun
from goodwill.planner.moments import moments_for, strongest
from goodwill.planner.policy import plan_day
from goodwill.team.model import User


@dataclass
class PlanOutcome:
    day: date
    run_id: int
    candidates: int
    new_items: list[PlanItem] = field(default_factory=list)
    new_holdout: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def value_score(kind: str, m_score: int | None) -> int:
    """0..100: the RFM monetary quintile (1..5 -> 20..100); prospects and unscored people 0."""
    if kind != "customer" or m_score is None:
        return 0
    return max(0, min(100, m_score * 20))


def candidates_for_day(
    session: Session, *, day: date, settings: Settings, exclude: set[int] | None = None
) -> list[Candidate]:
    """Everyone with a moment on ``day`` and what the policy needs about them."""
    config = settings.planner.moments
    tz = settings.business.tz
    recent = gather.recent_events(session, day=day, tz=tz, config=config)
    milestones = gather.milestones_on(session, day=day, config=config)
    # Standing-state queries only for the moments that use them: their lists can be long.
    found: list[list[int]] = []
    if MomentKind.drifting in config.enabled:
        found.append(gather.drifting_ids(session, day=day, config=config))
    if MomentKind.recovery in config.enabled:
        found.append(gather.recovery_ids(session, config=config))
    ids = gather.union_ids(recent, milestones, *found)
    if exclude:
        ids = [pid for pid in ids if pid not in exclude]
    signals, facts = gather.build_signals(session, ids, recent=recent, milestones=milestones, day=day)
    candidates: list[Candidate] = []
    for pid in ids:
        moment = strongest(
            moments_for(signals[pid], today=day, config=config, currency=settings.business.currency)
        )
        if moment is None:
            continue
        person = facts[pid]
        candidates.append(
            Candidate(
                person_id=pid,
                moment=moment,
                value_score=value_score(person.kind, person.m_score),
                bank_status=signals[pid].bank_status,
                preferred_channel=person.preferred_channel,
                consents=frozenset(person.consents),
                call_requested=person.call_requested,
                time_zone=person.time_zone or settings.business.timezone,
                appreciations=tuple(sorted(person.appreciations)),
                last_contact_at=person.last_contact_at,
            )
        )
    return candidates


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a day's candidates are built and planned.

    Planning 1M people builds about a million small objects that all live until the plan is
    stored; each time the heap grows by a quarter the collector walks all of it and frees nothing
    (a third of make_plan's time at 1M people). Reference counting frees memory as usual; the
    collector resumes afterwards (as Mercurial's ``util.nogc`` does for the same reason).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def make_plan(
    *, session: Session, day: date, settings: Settings, planned_by_id: int | None = None
) -> PlanOutcome:
    """Plan ``day`` (or add to its plan): stores items and the holdout; drafting is the caller's next step."""
    with _collector_paused():
        return _make_plan(session=session, day=day, settings=settings, planned_by_id=planned_by_id)


def hold_planning_lock(session: Session) -> None:
    """Serialise whatever decides whom to contact (a day's plan, a campaign's launch) until commit.

    Each reads who is already planned and then writes its own choices; two at once would each miss
    the other's uncommitted rows and could contact one person twice.
    """
    hold_transaction_lock(session, "planning")


def _make_plan(*, session: Session, day: date, settings: Settings, planned_by_id: int | None) -> PlanOutcome:
    hold_planning_lock(session)
    policy, moments = settings.planner.policy, settings.planner.moments
    done, used = gather.already_planned(
        session,
        day,
        holdout_days=policy.cap_window_days,
        skipped_days=max(moments.lookback_days, policy.cooldown_days),
    )
    candidates = candidates_for_day(session, day=day, settings=settings, exclude=done)
    plan = plan_day(candidates, day=day, config=settings.planner.policy, used_capacity=used)
    run = PlanRun(
        day=day,
        planned_by_id=planned_by_id,
        candidates=len(candidates),
        items=len(plan.items),
        held=len(plan.holdout),
        skipped=dict(plan.skipped),
    )
    session.add(run)
    session.flush()
    items = [
        PlanItem(
            run_id=run.id,
            day=day,
            person_id=item.person_id,
            moment=item.moment.kind.value,
            strength=item.moment.strength,
            evidence=item.moment.evidence,
            subject=item.moment.subject,
            staff_id=item.moment.staff_id,
            by_manager=item.moment.by_manager,
            channel=item.channel,
            priority=item.priority,
            reason=item.reason,
            window_start=item.window_start,
            window_end=item.window_end,
        )
        for item in plan.items
    ]
    session.add_all(items)
    session.flush()
    if plan.holdout:
        # Thousands of rows nobody reads back here: one bulk insert, not an ORM object each.
        session.execute(
            insert(PlanHoldout),
            [
                {
                    "run_id": run.id,
                    "day": day,
                    "person_id": held.person_id,
                    "moment": held.moment.kind.value,
                    "evidence": held.moment.evidence,
                }
                for held in plan.holdout
            ],
        )
    return PlanOutcome(
        day=day,
        run_id=run.id,
        candidates=len(candidates),
        new_items=items,
        new_holdout=len(plan.holdout),
        skipped=dict(plan.skipped),
    )


def moment_of(item: PlanItem) -> Moment:
    return Moment(
        kind=MomentKind(item.moment),
        strength=item.strength,
        evidence=item.evidence,
        staff_id=item.staff_id,
        by_manager=item.by_manager,
        subject=item.subject,
    )


def moments_for_person(session: Session, *, person_id: int, day: date, settings: Settings) -> list[Moment]:
    """Every moment one person has on ``day`` (for drafting a note by hand)."""
    config = settings.planner.moments
    tz = settings.business.tz
    recent = gather.recent_events(session, day=day, tz=tz, config=config, person_ids=[person_id])
    milestones = gather.milestones_on(session, day=day, config=config, person_ids=[person_id])
    signals, _ = gather.build_signals(session, [person_id], recent=recent, milestones=milestones, day=day)
    return moments_for(signals[person_id], today=day, config=config, currency=settings.business.currency)


def plan_view(session: Session, day: date, *, default_zone: str = "UTC") -> dict[str, Any]:
    """The stored plan of ``day`` as plain data: the CLI's ``--json`` and the API."""
    items = _items_view(session, day, default_zone)
    held = session.execute(_HOLDOUT_ROWS, {"day": day}).all()
    planned, skipped = _runs_view(session, day)
    return {
        "date": day.isoformat(),
        "planned": planned,
        "items": items,
        "holdout": [_holdout_view(row) for row in held],
        "skipped": skipped,
    }


def plan_page_view(
    session: Session, day: date, *, default_zone: str = "UTC", holdout_shown: int = 12
) -> dict[str, Any]:
    """``plan_view`` for the Today page: the holdout's first ``holdout_shown`` people and its size.

    The page lists a dozen held-out people and counts the rest; at 1M people a day's holdout is
    ~20,000 rows. ``holdout_count`` is the length ``plan_view``'s ``holdout`` would have, and
    ``holdout`` is its first ``holdout_shown`` entries. The count comes from the day's daily runs,
    which record how many they held out (``PlanRun.held``): only they write holdouts, in the same
    transaction, and holdouts are never deleted; counting the rows instead cost ~5 ms of database
    time a page at 1M people.
    """
    items = _items_view(session, day, default_zone)
    held = session.execute(_HOLDOUT_SHOWN, {"day": day, "shown": holdout_shown}).all()
    latest = session.execute(_LATEST_RUN_AND_HELD, {"day": day}).first()
    planned, skipped = _skipped(None if latest is None else latest.skipped)
    return {
        "date": day.isoformat(),
        "planned": planned,
        "items": items,
        "holdout": [_holdout_view(row) for row in held],
        "holdout_count": int(latest.held) if latest is not None else 0,
        "skipped": skipped,
    }


# The page's statements, built once with bind parameters: building them per request (and letting
# SQLAlchemy work out their cache keys again) was a good part of the Today page's CPU.
_PLAN_RUNS = cast(Table, PlanRun.__table__)
_DAILY_RUNS = _PLAN_RUNS.alias("daily_runs")
_HOLDOUTS = cast(Table, PlanHoldout.__table__)
_PEOPLE = cast(Table, Person.__table__)


# A campaign's run on the same day has its own page; the day's view is the daily plan's.
def _daily_runs_of_the_day(runs: Any) -> ColumnElement[bool]:
    return and_(runs.c.day == bindparam("day"), runs.c.id.not_in(campaign_run_ids()))


_LATEST_RUN = (
    select(_PLAN_RUNS.c.skipped)
    .where(_daily_runs_of_the_day(_PLAN_RUNS))
    .order_by(_PLAN_RUNS.c.id.desc())
    .limit(1)
)
# The latest daily run's skipped counts, and how many all the day's daily runs held out.
_LATEST_RUN_AND_HELD = _LATEST_RUN.add_columns(
    select(func.coalesce(func.sum(_DAILY_RUNS.c.held), 0))
    .where(_daily_runs_of_the_day(_DAILY_RUNS))
    .scalar_subquery()
    .label("held")
)

_HOLDOUT_ROWS: Select[int, str, str, str] = (
    select(_HOLDOUTS.c.person_id, _HOLDOUTS.c.moment, _HOLDOUTS.c.evidence, _PEOPLE.c.name)
    .join(_PEOPLE, _PEOPLE.c.id == _HOLDOUTS.c.person_id)
    .where(_HOLDOUTS.c.day == bindparam("day"))
    .order_by(_HOLDOUTS.c.person_id)
)
_HOLDOUT_SHOWN = _HOLDOUT_ROWS.limit(bindparam("shown"))


def _runs_view(session: Session, day: date) -> tuple[bool, dict[str, int]]:
    """Whether ``day`` was planned, and who its latest daily run left out and why."""
    return _skipped(session.scalar(_LATEST_RUN, {"day": day}))


def _skipped(latest: dict[str, int] | None) -> tuple[bool, dict[str, int]]:
    """Whether there was a daily run (``latest`` is its skipped counts), and those counts."""
    skipped: dict[str, int] = {"no_consent": 0, "cap": 0, "cooldown": 0, "capacity": 0}
    if latest is not None:
        # Each run reports the people it looked at; the latest run's view of who was left out stands.
        skipped.update(latest)
    return latest is not None, skipped


def _holdout_view(row: Row[int, str, str, str]) -> dict[str, Any]:
    person_id, moment, evidence, name = row
    return {"person": {"id": person_id, "name": name}, "moment": moment, "evidence": evidence}


@cache
def _items_statement() -> Select[Any]:
    """The day's items with their person, note and praised staff member (built on first use: the
    notes package imports the planner)."""
    from goodwill.notes.model import Note

    items = cast(Table, PlanItem.__table__)
    notes = cast(Table, Note.__table__)
    users = cast(Table, User.__table__)
    # Columns, not ORM entities: the page reads each row once, and building ~300 tracked objects
    # per request cost more than the queries themselves (the Today page under load).
    return (
        select(
            items.c.person_id,
            items.c.moment,
            items.c.evidence,
            items.c.channel,
            items.c.priority,
            items.c.reason,
            items.c.by_manager,
            items.c.window_start,
            items.c.window_end,
            items.c.status,
            _PEOPLE.c.name,
            _PEOPLE.c.preferred_name,
            notes.c.id,
            notes.c.status,
            users.c.name,
            _PEOPLE.c.time_zone,
        )
        .join(_PEOPLE, _PEOPLE.c.id == items.c.person_id)
        .outerjoin(notes, notes.c.plan_item_id == items.c.id)
        .outerjoin(users, users.c.id == items.c.staff_id)
        .where(items.c.day == bindparam("day"))
        .order_by(items.c.priority.desc(), items.c.person_id)
    )


def _items_view(session: Session, day: date, default_zone: str) -> list[dict[str, Any]]:
    rows = session.execute(_items_statement(), {"day": day}).all()
    # Most people share a handful of windows (same hours, same zone): each is worked out once.
    windows: dict[tuple[datetime | None, datetime | None, str], dict[str, str] | None] = {}
    found: list[dict[str, Any]] = []
    for (
        person_id,
        moment,
        evidence,
        channel,
        priority,
        reason,
        by_manager,
        window_start,
        window_end,
        status,
        name,
        preferred,
        note_id,
        note_status,
        staff_name,
        zone,
    ) in rows:
        key = (window_start, window_end, zone or default_zone)
        window = windows[key] if key in windows else windows.setdefault(key, _window(*key))
        found.append(
            {
                "person": {"id": person_id, "name": name, "preferred_name": preferred},
                "moment": moment,
                "evidence": evidence,
                "channel": channel,
                "priority": priority,
                "reason": reason,
                "by_manager": by_manager,
                "praised_staff": staff_name,
                "window": window,
                "status": status,
                "note": {"id": note_id, "status": note_status} if note_id else None,
            }
        )
    return found


def _window(start: datetime | None, end: datetime | None, zone: str) -> dict[str, str] | None:
    """When they may be contacted: UTC bounds, and the same in their own time zone for people."""
    if start is None or end is None:
        return None
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    local = f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M} {zone}"
    return {"start": start.isoformat(), "end": end.isoformat(), "local": local}


def items_by_id(session: Session, ids: Sequence[int]) -> list[PlanItem]:
    return list(session.scalars(select(PlanItem).where(PlanItem.id.in_(list(ids)))).all())
