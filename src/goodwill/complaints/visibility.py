"""Who may see which complaint: agents their own and the unassigned queue, managers their teams', admins all.

Anyone a complaint was escalated to sees it too: the escalation falls back to the first manager when
the assignee has no team manager, and the notice's link must open. Used as a SQL condition so
listings and single reads apply the very same rule; a complaint the caller may not see is "not
found" (a 404), never "forbidden", so its existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint
from goodwill.events.model import Event
from goodwill.team.model import Role
from goodwill.team.teams import managed_user_ids


def visible_condition(session: Session, *, user_id: int, role: str) -> ColumnElement[bool]:
    if role == Role.admin:
        return true()
    mine_or_queue = or_(
        Complaint.assignee_id.is_(None),
        Complaint.assignee_id == user_id,
        Complaint.escalated_to_id == user_id,
    )
    if role == Role.manager:
        team = [uid for uid in managed_user_ids(session, user_id) if uid != user_id]
        if team:
            return or_(mine_or_queue, Complaint.assignee_id.in_(team))
    return mine_or_queue


def team_condition(session: Session, *, user_id: int) -> ColumnElement[bool]:
    """Complaints assigned to the members of the teams this user manages, or to them."""
    return Complaint.assignee_id.in_({user_id, *managed_user_ids(session, user_id)})


# The events a complaint leaves on its person's timeline; their text is the complaint's own words,
# its resolution or its breach, so they follow the complaint's visibility.
COMPLAINT_EVENT_KINDS = frozenset({"complaint", "complaint_resolved", "complaint_sla_breached"})
# What a viewer reads instead of the words of a complaint outside their view.
HIDDEN_TEXT = "(a complaint outside your view: its words are hidden)"


def _breached_complaint_id(source: str, source_id: str) -> int | None:
    # charge_breach records ``breach:{complaint id}:{clock}`` from source "complaints".
    if source != "complaints":
        return None
    parts = source_id.split(":")
    if len(parts) == 3 and parts[0] == "breach" and parts[1].isdigit():
        return int(parts[1])
    return None


def hidden_event_ids(session: Session, *, user_id: int, role: str, event_ids: Iterable[int]) -> set[int]:
    """Ids among ``event_ids`` that belong to a complaint this viewer may not see.

    Such events stay on the timeline and the bank statement (they moved the bank), but their words
    must not: callers show ``HIDDEN_TEXT`` instead. Events of complaints Goodwill has no row for are
    not restricted. Admins see everything, so for them this reads nothing.
    """
    wanted = list(set(event_ids))
    if role == Role.admin or not wanted:
        return set()
    by_complaint: dict[int, set[int]] = {}
    linked: list[int] = []
    for event_id, source, source_id in session.execute(
        select(Event.id, Event.source, Event.source_id).where(
            Event.id.in_(wanted), Event.kind.in_(COMPLAINT_EVENT_KINDS)
        )
    ):
        complaint_id = _breached_complaint_id(source, source_id)
        if complaint_id is not None:
            by_complaint.setdefault(complaint_id, set()).add(event_id)
        else:
            linked.append(event_id)
    if not by_complaint and not linked:
        return set()
    rows = session.execute(
        select(Complaint.id, Complaint.event_id, Complaint.resolved_event_id).where(
            or_(
                Complaint.id.in_(list(by_complaint)),
                Complaint.event_id.in_(linked),
                Complaint.resolved_event_id.in_(linked),
            )
        )
    ).all()
    found: dict[int, set[int]] = {}
    for complaint_id, opened_id, resolved_id in rows:
        mine = found.setdefault(complaint_id, set(by_complaint.get(complaint_id, ())))
        mine.update(i for i in (opened_id, resolved_id) if i is not None and i in linked)
    if not found:
        return set()
    visible = set(
        session.scalars(
            select(Complaint.id).where(
                Complaint.id.in_(list(found)), visible_condition(session, user_id=user_id, role=role)
            )
        )
    )
    return {event_id for cid, ids in found.items() if cid not in visible for event_id in ids}


def complaint_event_ids(pairs: Iterable[tuple[int | None, str]]) -> list[int]:
    """The event ids among (event id, kind) pairs that a complaint may have left."""
    return [event_id for event_id, kind in pairs if event_id is not None and kind in COMPLAINT_EVENT_KINDS]


def hide_streak_details(
    session: Session, *, user_id: int, role: str, items: Iterable[MutableMapping[str, Any]]
) -> None:
    """Blank, in place, the words of hidden complaints in the bank's at-risk items (their streaks)."""
    items = list(items)
    entries = [entry for item in items for entry in item["streak"]]
    hidden = hidden_event_ids(
        session,
        user_id=user_id,
        role=role,
        event_ids=complaint_event_ids((entry["event_id"], entry["kind"]) for entry in entries),
    )
    for entry in entries:
        if entry["event_id"] in hidden:
            entry["detail"] = HIDDEN_TEXT
