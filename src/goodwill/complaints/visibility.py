"""Who may see which complaint: agents their own and the unassigned queue, managers their teams', admins all.

Anyone a complaint was escalated to sees it too: the escalation falls back to the first manager when
the assignee has no team manager, and the notice's link must open. Used as a SQL condition so
listings and single reads apply the very same rule; a complaint the caller may not see is "not
found" (a 404), never "forbidden", so its existence is not revealed.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, true
from sqlalchemy.orm import Session

from goodwill.complaints.model import Complaint
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
