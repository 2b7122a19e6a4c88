"""Teams of staff: one team per person, a manager per team. Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from goodwill.team.model import Role, Team, TeamMember, User

MAX_TEAM_NAME = 120
MANAGING_ROLES = frozenset({Role.manager.value, Role.admin.value})


class TeamError(ValueError):
    """Bad input for a team operation; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class TeamView:
    id: int
    name: str
    manager: User | None
    members: list[User]


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").replace("\x00", "").split())  # PostgreSQL text cannot hold NUL
    if not cleaned:
        raise TeamError("name", "a team needs a name")
    if len(cleaned) > MAX_TEAM_NAME:
        raise TeamError("name", f"a team name is at most {MAX_TEAM_NAME} characters")
    return cleaned


def _check_unique_name(session: Session, name: str, *, except_id: int | None = None) -> None:
    # "Shop Floor" and "shop floor" would read as one team on every page.
    stmt = select(Team.id).where(func.lower(Team.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Team.id != except_id)
    if session.scalar(stmt) is not None:
        raise TeamError("name", f"there is already a team called {name!r}")


def _active_user(session: Session, user_id: int, *, field: str) -> User:
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise TeamError(field, f"no active member of staff with id {user_id}")
    return user


def _manager(session: Session, manager_id: int | None) -> int | None:
    if manager_id is None:
        return None
    user = _active_user(session, manager_id, field="manager_id")
    if user.role not in MANAGING_ROLES:
        raise TeamError(
            "manager_id", f"{user.email} is an {user.role}; a team's manager must be a manager or admin"
        )
    return user.id


def get_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise TeamError("team_id", f"no team with id {team_id}")
    return team


def find_team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == " ".join(name.replace("\x00", "").split())))
    if team is None:
        raise TeamError("team", f"no team called {name!r}")
    return team


def create_team(session: Session, *, name: str, manager_id: int | None = None) -> Team:
    cleaned = _clean_name(name)
    _check_unique_name(session, cleaned)
    team = Team(name=cleaned, manager_id=_manager(session, manager_id))
    session.add(team)
    session.flush()
    return team


def rename_team(session: Session, *, team_id: int, name: str) -> Team:
    team = get_team(session, team_id)
    cleaned = _clean_name(name)
    _check_unique_name(session, cleaned, except_id=team.id)
    team.name = cleaned
    session.flush()
    return team


def set_manager(session: Session, *, team_id: int, manager_id: int | None) -> Team:
    team = get_team(session, team_id)
    team.manager_id = _manager(session, manager_id)
    session.flush()
    return team


def add_member(session: Session, *, team_id: int, user_id: int) -> TeamMember:
    """Put a user in a team; someone already in another team moves (one team per person)."""
    team = get_team(session, team_id)
    _active_user(session, user_id, field="user_id")
    member = session.get(TeamMember, user_id)
    if member is None:
        member = TeamMember(user_id=user_id, team_id=team.id)
        session.add(member)
    else:
        member.team_id = team.id
    session.flush()
    return member


def remove_member(session: Session, *, team_id: int, user_id: int) -> bool:
    """Take a user out of the team; False when they were not in it."""
    result = session.execute(
        delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )
    return bool(getattr(result, "rowcount", 0))


def teams_with_members(session: Session) -> list[TeamView]:
    teams = list(session.scalars(select(Team).order_by(Team.name)))
    rows = session.execute(
        select(TeamMember.team_id, User)
        .join(User, User.id == TeamMember.user_id)
        .order_by(User.name, User.email)
    ).all()
    members: dict[int, list[User]] = {}
    for team_id, user in rows:
        members.setdefault(team_id, []).append(user)
    managers = {
        u.id: u
        for u in session.scalars(
            select(User).where(User.id.in_({t.manager_id for t in teams if t.manager_id}))
        )
    }
    return [
        TeamView(id=t.id, name=t.name, manager=managers.get(t.manager_id or 0), members=members.get(t.id, []))
        for t in teams
    ]


def team_of(session: Session, user_id: int) -> Team | None:
    return session.scalar(
        select(Team).join(TeamMember, TeamMember.team_id == Team.id).where(TeamMember.user_id == user_id)
    )


def manager_of(session: Session, user_id: int) -> User | None:
    """The manager of the user's team: None without a team, without a manager, or when it is themselves."""
    manager = session.scalar(
        select(User)
        .join(Team, Team.manager_id == User.id)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == user_id, User.active.is_(True))
    )
    return manager if manager is not None and manager.id != user_id else None


def managed_user_ids(session: Session, manager_id: int) -> list[int]:
    """Members of the teams this user manages (the manager too, when they sit in their own team)."""
    return list(
        session.scalars(
            select(TeamMember.user_id)
            .join(Team, Team.id == TeamMember.team_id)
            .where(Team.manager_id == manager_id)
            .order_by(TeamMember.user_id)
        )
    )
