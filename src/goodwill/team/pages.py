"""The team's pages: the thanks wall (``/team``) with its "Say thanks" form, and the teams (``/team/teams``).

Every form posts its CSRF token and redirects (303) when it worked, or shows the page again with
the refusal in plain words (422) and what was typed kept. There is no ranking unless the business
turns ``[team] show_ranking`` on: thanks are not a contest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import utcnow
from goodwill.people.model import Person
from goodwill.people.privacy import erasure_recorded
from goodwill.team import kudos as kudos_service
from goodwill.team import teams as team_service
from goodwill.team.kudos_api import IdPath, IdQuery, TeamManager, TeamViewer, Thanker
from goodwill.team.model import Role, User
from goodwill.web.auth import Principal
from goodwill.web.deps import AppSettings, DbSession
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)
WALL_PAGE = 30


class ThanksForm(BaseModel):
    to_user_id: str = ""
    reason: str = ""
    points: str = ""
    person_id: str = ""


class TeamForm(BaseModel):
    name: str = ""
    manager_id: str = ""


class MemberForm(BaseModel):
    user_id: str = ""


# ASCII digits only (str.isdigit() also accepts "²", which int() refuses), and few enough of them to
# fit the database's 64-bit ids.
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def _number(field: str, text: str, error: Callable[[str, str], Exception]) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not WHOLE_NUMBER.fullmatch(text):
        raise error(field, "must be a whole number (at most 18 digits)")
    return int(text)


def _colleagues(session: Session, *, except_id: int | None = None) -> list[User]:
    stmt = select(User).where(User.active.is_(True)).order_by(User.name, User.email)
    return [u for u in session.scalars(stmt) if u.id != except_id]


def _customer_moment(session: Session, person_id: int | None) -> Person | None:
    """The customer a thanks is about, unless they are gone or were erased."""
    if person_id is None:
        return None
    erased = session.scalar(select(erasure_recorded(person_id)))
    return None if erased else session.get(Person, person_id)


def _wall_page(
    request: Request,
    session: Session,
    settings: Settings,
    who: Principal,
    *,
    status: int = 200,
    before_id: int | None = None,
    form: ThanksForm | None = None,
    **extra: Any,
) -> Response:
    now = utcnow()
    cards = kudos_service.wall(session, limit=WALL_PAGE + 1, before_id=before_id)
    cards, more = cards[:WALL_PAGE], len(cards) > WALL_PAGE
    ranking = None
    if settings.team.show_ranking:
        since = kudos_service.month_start(now, settings.business.tz)
        ranking = kudos_service.received_counts(session, since=since)
    form = form or ThanksForm()
    context = {
        "nav": "team",
        "cards": cards,
        "older": cards[-1].id if more else None,
        "before_id": before_id,
        "mine": kudos_service.wall(session, limit=5, to_user_id=who.user_id),
        "colleagues": _colleagues(session, except_id=who.user_id),
        "allowance": settings.team.monthly_allowance,
        "left": kudos_service.allowance_left(session, user_id=who.user_id, settings=settings, now=now),
        "ranking": ranking,
        "form": form,
        "moment": _customer_moment(session, _safe_int(form.person_id)),
        "may_arrange": who.role in (Role.admin.value, Role.manager.value),
        **extra,
    }
    return render(request, "team/wall.html", context, status_code=status)


def _safe_int(text: str) -> int | None:
    return int(text) if text and WHOLE_NUMBER.fullmatch(text.strip()) else None


@router.get("/team")
def wall_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: Thanker,
    before_id: IdQuery = None,
    thanked: IdQuery = None,
    person_id: IdQuery = None,
    to: IdQuery = None,
) -> Response:
    """The wall; ``to`` preselects the colleague to thank (the digest's "Say thanks" links here)."""
    form = ThanksForm(person_id=str(person_id or ""), to_user_id=str(to or ""))
    return _wall_page(request, session, settings, who, before_id=before_id, thanked=thanked, form=form)


@router.post("/team/kudos")
def say_thanks(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: Thanker,
    form: Annotated[ThanksForm, Form()],
) -> Response:
    try:
        to_user_id = _number("to_user_id", form.to_user_id, kudos_service.KudosError)
        if to_user_id is None:
            raise kudos_service.KudosError("to_user_id", "choose the colleague you are thanking")
        given = kudos_service.give_kudos(
            session, from_user_id=who.user_id, to_user_id=to_user_id, reason=form.reason, settings=settings,
            now=utcnow(), points=_number("points", form.points, kudos_service.KudosError) or 0,
            person_id=_number("person_id", form.person_id, kudos_service.KudosError),
        )  # fmt: skip
    except kudos_service.KudosError as exc:
        session.rollback()
        return _wall_page(
            request, session, settings, who, status=422, error=exc.message, error_field=exc.field, form=form
        )
    return RedirectResponse(f"/team?thanked={given.id}#kudos-{given.id}", status_code=303)


# -- teams ------------------------------------------------------------------------------------------


def _teams_page(
    request: Request, session: Session, who: Principal, *, status: int = 200, **extra: Any
) -> Response:
    teams = team_service.teams_with_members(session)
    is_admin = who.role == Role.admin.value
    if not is_admin:
        teams = [t for t in teams if t.manager is not None and t.manager.id == who.user_id]
    users = _colleagues(session)
    context = {
        "nav": "team",
        "teams": teams,
        "may_edit": is_admin,
        "users": users,
        "managers": [u for u in users if u.role in team_service.MANAGING_ROLES],
        "team_of": {m.id: t.name for t in team_service.teams_with_members(session) for m in t.members},
        **extra,
    }
    return render(request, "team/teams.html", context, status_code=status)


@router.get("/team/teams")
def teams_page(request: Request, session: DbSession, who: TeamViewer, saved: int | None = None) -> Response:
    return _teams_page(request, session, who, saved=saved)


def _refused(
    request: Request, session: Session, who: Principal, exc: team_service.TeamError, team_id: int
) -> Response:
    session.rollback()
    return _teams_page(
        request, session, who, status=422, error=exc.message, error_field=exc.field, error_id=team_id
    )


@router.post("/team/teams")
def create_team(
    request: Request, session: DbSession, who: TeamManager, form: Annotated[TeamForm, Form()]
) -> Response:
    try:
        manager_id = _number("manager_id", form.manager_id, team_service.TeamError)
        team = team_service.create_team(session, name=form.name, manager_id=manager_id)
    except team_service.TeamError as exc:
        return _refused(request, session, who, exc, 0)
    return RedirectResponse(f"/team/teams?saved={team.id}#team-{team.id}", status_code=303)


@router.post("/team/teams/{team_id}/manager")
def set_manager(
    request: Request, team_id: IdPath, session: DbSession, who: TeamManager, form: Annotated[TeamForm, Form()]
) -> Response:
    try:
        manager_id = _number("manager_id", form.manager_id, team_service.TeamError)
        team_service.set_manager(session, team_id=team_id, manager_id=manager_id)
        if form.name.strip():
            team_service.rename_team(session, team_id=team_id, name=form.name)
    except team_service.TeamError as exc:
        return _refused(request, session, who, exc, team_id)
    return RedirectResponse(f"/team/teams?saved={team_id}#team-{team_id}", status_code=303)


@router.post("/team/teams/{team_id}/members")
def add_member(
    request: Request,
    team_id: IdPath,
    session: DbSession,
    who: TeamManager,
    form: Annotated[MemberForm, Form()],
) -> Response:
    try:
        user_id = _number("user_id", form.user_id, team_service.TeamError)
        if user_id is None:
            raise team_service.TeamError("user_id", "choose whom to add")
        team_service.add_member(session, team_id=team_id, user_id=user_id)
    except team_service.TeamError as exc:
        return _refused(request, session, who, exc, team_id)
    return RedirectResponse(f"/team/teams?saved={team_id}#team-{team_id}", status_code=303)


@router.post("/team/teams/{team_id}/members/{user_id}/remove")
def remove_member(
    request: Request, team_id: IdPath, user_id: IdPath, session: DbSession, who: TeamManager
) -> Response:
    team_service.remove_member(session, team_id=team_id, user_id=user_id)
    return RedirectResponse(f"/team/teams?saved={team_id}#team-{team_id}", status_code=303)
