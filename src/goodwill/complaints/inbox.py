"""The complaints inbox: what the caller may see, filtered, with what is due first.

Order: complaints still open or answered come first, by the clock that runs now (the first
response while nobody has answered, then the resolution), so breached ones, whose clocks ran out
earliest, lead; resolved complaints come last, newest resolution first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import Session, aliased

from goodwill.complaints.model import Complaint, ComplaintStatus, Priority
from goodwill.complaints.visibility import team_condition, visible_condition
from goodwill.people.model import Person
from goodwill.team.model import Role, User

SCOPES = ("all", "mine", "team", "unassigned")
STATUSES = ("active", "open", "responded", "resolved")
SCOPE_LABELS = {
    "all": "Everything I can see",
    "mine": "Assigned to me",
    "team": "My team's",
    "unassigned": "Not yet taken",
}


class InboxFilterError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class InboxRow:
    complaint: Complaint
    person_name: str
    person_email: str | None
    assignee_name: str | None


def scopes_for(role: str) -> tuple[str, ...]:
    """Agents see their own and the queue; "team" is for those who manage a team."""
    if role == Role.agent:
        return ("all", "mine", "unassigned")
    return SCOPES


def running_due() -> ColumnElement[object]:
    return case(
        (Complaint.status == ComplaintStatus.open, Complaint.first_response_due_at),
        (Complaint.status == ComplaintStatus.responded, Complaint.resolution_due_at),
        else_=None,
    )


def list_visible(
    session: Session,
    *,
    user_id: int,
    role: str,
    scope: str = "all",
    status: str | None = None,
    priority: str | None = None,
    limit: int = 200,
) -> list[InboxRow]:
    if scope not in scopes_for(role):
        raise InboxFilterError("scope", f"unknown scope {scope!r}; use {', '.join(scopes_for(role))}")
    conditions: list[ColumnElement[bool]] = [visible_condition(session, user_id=user_id, role=role)]
    if scope == "mine":
        conditions.append(Complaint.assignee_id == user_id)
    elif scope == "unassigned":
        conditions.append(Complaint.assignee_id.is_(None))
    elif scope == "team":
        conditions.append(team_condition(session, user_id=user_id))
    if status:
        if status not in STATUSES:
            raise InboxFilterError("status", f"unknown status {status!r}; use {', '.join(STATUSES)}")
        wanted = [ComplaintStatus.open, ComplaintStatus.responded] if status == "active" else [status]
        conditions.append(Complaint.status.in_(wanted))
    if priority:
        if priority not in Priority.__members__:
            raise InboxFilterError(
                "priority", f"unknown priority {priority!r}; use urgent, high, normal or low"
            )
        conditions.append(Complaint.priority == priority)
    assignee = aliased(User)
    stmt = (
        select(Complaint, Person.name, Person.email, assignee.name, assignee.email)
        .join(Person, Person.id == Complaint.person_id)
        .outerjoin(assignee, assignee.id == Complaint.assignee_id)
        .where(*conditions)
        .order_by(
            case((Complaint.status == ComplaintStatus.resolved, 1), else_=0),
            running_due(),
            Complaint.resolved_at.desc(),
            Complaint.id,
        )
        .limit(limit)
    )
    return [
        InboxRow(complaint, name or "", email, (a_name or a_email) if a_email else None)
        for complaint, name, email, a_name, a_email in session.execute(stmt)
    ]
