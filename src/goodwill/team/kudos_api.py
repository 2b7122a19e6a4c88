"""``/api/v1/kudos`` and ``/api/v1/teams``: thanks between staff, the thanks wall, and teams.

A refusal is ``422`` naming the field (``{"detail": [{"loc": ["body", "reason"], "msg": ...}]}``);
nothing of a refused request is kept. POSTs take an ``Idempotency-Key`` so a retry cannot thank twice.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.db import MAX_ID, utcnow
from goodwill.people.model import normalise_email
from goodwill.team import kudos as kudos_service
from goodwill.team import teams as team_service
from goodwill.team.model import Kudos, Role, User
from goodwill.web.api.schemas import Strict, field_error
from goodwill.web.auth import Principal
from goodwill.web.deps import STAFF, AppSettings, DbSession, require_role
from goodwill.web.idempotency import Idempotent, json_response

router = APIRouter(tags=["team"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# Kudos and the thanks wall are for all staff; teams are arranged by admins, and managers may look.
thank_colleagues = require_role("thank colleagues and read the thanks wall", *STAFF)
see_teams = require_role("see teams", Role.admin, Role.manager)
manage_teams = require_role("arrange teams", Role.admin)
Thanker = Annotated[Principal, Depends(thank_colleagues)]
TeamViewer = Annotated[Principal, Depends(see_teams)]
TeamManager = Annotated[Principal, Depends(manage_teams)]


class KudosIn(Strict):
    to_user_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    to_email: str | None = Field(default=None, max_length=320, description="Instead of to_user_id.")
    reason: str = Field(
        min_length=kudos_service.MIN_REASON,
        max_length=5000,
        description="What you thank them for (3 to 1000 characters).",
    )
    points: int = Field(default=0, ge=0, le=100_000, description="Only when there is a monthly allowance.")
    person_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="The customer moment behind it.")
    complaint_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class TeamIn(Strict):
    name: str = Field(min_length=1, max_length=team_service.MAX_TEAM_NAME)
    manager_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class TeamChange(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=team_service.MAX_TEAM_NAME)
    manager_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    clear_manager: bool = False


class MemberIn(Strict):
    user_id: int = Field(ge=1, le=MAX_ID)


def card_json(card: kudos_service.WallCard) -> dict[str, Any]:
    return asdict(card) | {"from_customer": card.from_customer}


def kudos_json(kudos: Kudos) -> dict[str, Any]:
    fields = ("id", "to_user_id", "from_user_id", "from_kind", "reason", "points", "person_id")
    return {name: getattr(kudos, name) for name in (*fields, "complaint_id", "event_id", "created_at")}


def user_json(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "name": user.name, "email": user.email}


def team_json(team: team_service.TeamView) -> dict[str, Any]:
    members = [user_json(u) for u in team.members]
    return {"id": team.id, "name": team.name, "manager": user_json(team.manager), "members": members}


def _recipient(session: Session, body: KudosIn) -> int:
    if body.to_user_id is not None:
        return body.to_user_id
    if body.to_email:
        email = normalise_email(body.to_email.replace("\x00", ""))  # PostgreSQL text cannot hold NUL
        found = session.scalar(select(User.id).where(User.email == email))
        if found is None:
            field_error("to_email", f"no member of staff with the email {body.to_email!r}")
        return found
    field_error("to_user_id", "say whom you are thanking: to_user_id or to_email")


@router.post("/kudos", status_code=201)
def give(
    body: KudosIn, session: DbSession, settings: AppSettings, who: Thanker, idem: Idempotent
) -> Response:
    """Thank a colleague; ``from_kind`` is "manager" when you manage their team."""
    now = utcnow()
    try:
        given = kudos_service.give_kudos(
            session, from_user_id=who.user_id, to_user_id=_recipient(session, body), reason=body.reason,
            settings=settings, now=now, points=body.points, person_id=body.person_id,
            complaint_id=body.complaint_id,
        )  # fmt: skip
    except kudos_service.KudosError as exc:
        field_error(exc.field, exc.message)
    left = kudos_service.allowance_left(session, user_id=who.user_id, settings=settings, now=now)
    return idem.respond(201, kudos_json(given) | {"allowance_left": left})


@router.get("/kudos")
def the_wall(
    session: DbSession,
    _: Thanker,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: IdQuery = None,
    to_user_id: IdQuery = None,
) -> dict[str, Any]:
    """The thanks wall, newest first; pass ``next_before_id`` back as ``before_id`` for older thanks."""
    cards = kudos_service.wall(session, limit=limit + 1, before_id=before_id, to_user_id=to_user_id)
    cards, more = cards[:limit], len(cards) > limit  # one extra tells whether there is an older page
    return {"items": [card_json(c) for c in cards], "next_before_id": cards[-1].id if more else None}


@router.get("/teams")
def list_teams(session: DbSession, who: TeamViewer) -> dict[str, Any]:
    """Every team for admins; the teams they manage for managers."""
    teams = team_service.teams_with_members(session)
    if who.role != Role.admin:
        teams = [t for t in teams if t.manager is not None and t.manager.id == who.user_id]
    return {"items": [team_json(t) for t in teams]}


def _one(session: Session, team_id: int) -> dict[str, Any]:
    return team_json(next(t for t in team_service.teams_with_members(session) if t.id == team_id))


@router.post("/teams", status_code=201)
def create(body: TeamIn, session: DbSession, _: TeamManager, idem: Idempotent) -> Response:
    try:
        team = team_service.create_team(session, name=body.name, manager_id=body.manager_id)
    except team_service.TeamError as exc:
        field_error(exc.field, exc.message)
    return idem.respond(201, _one(session, team.id))


@router.patch("/teams/{team_id}")
def change(team_id: IdPath, body: TeamChange, session: DbSession, _: TeamManager) -> Response:
    """Rename, set the manager, or ``clear_manager``."""
    try:
        if body.name is not None:
            team_service.rename_team(session, team_id=team_id, name=body.name)
        if body.manager_id is not None or body.clear_manager:
            team_service.set_manager(session, team_id=team_id, manager_id=body.manager_id)
        team_service.get_team(session, team_id)
    except team_service.TeamError as exc:
        if exc.field == "team_id":
            return json_response(404, {"detail": exc.message})
        field_error(exc.field, exc.message)
    return json_response(200, _one(session, team_id))


@router.post("/teams/{team_id}/members")
def add(team_id: IdPath, body: MemberIn, session: DbSession, _: TeamManager, idem: Idempotent) -> Response:
    """Add someone; a person in another team moves here (one team per person)."""
    try:
        team_service.add_member(session, team_id=team_id, user_id=body.user_id)
    except team_service.TeamError as exc:
        if exc.field == "team_id":
            return json_response(404, {"detail": exc.message})
        field_error(exc.field, exc.message)
    return idem.respond(200, _one(session, team_id))


@router.delete("/teams/{team_id}/members/{user_id}")
def remove(team_id: IdPath, user_id: IdPath, session: DbSession, _: TeamManager) -> Response:
    if not team_service.remove_member(session, team_id=team_id, user_id=user_id):
        return json_response(404, {"detail": f"user {user_id} is not in team {team_id}"})
    return json_response(200, _one(session, team_id))
