"""FastAPI dependencies: the unit of work per request, the caller, CSRF, and who may do what.

Authorisation lives here only: every route names a ``RoleRequirement``, so the role table can be
read back from the app (see ``role_table``) instead of being restated in each handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import end_session
from goodwill.team.model import Role
from goodwill.web.auth import SESSION_COOKIE, Principal, principal_for_bearer, principal_for_session
from goodwill.web.security import same_secret

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


class NotAuthenticated(Exception):
    def __init__(self, reason: str = "log in first") -> None:
        super().__init__(reason)
        self.reason = reason


class Forbidden(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed when the handler returns (before the response goes out).

    ``Database.transaction`` split at its ``yield``: opening a session does no I/O, so it happens on
    the event loop, and the commit (or the rollback, if the handler or a later dependency raised)
    and the close run in one worker thread, outside the shared pool. A synchronous generator
    dependency costs a thread hand-off on the way in and another on the way out, and each hand-off
    wakes a thread (a few percent of the server's CPU each, bench/README.md, load). The ending is
    shielded from cancellation (a client that hangs up): the session is always ended and its
    connection returned.
    """
    session = request.app.state.database.new_session()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _end_in_thread(session, commit=False)
        raise
    with anyio.CancelScope(shield=True):
        await _end_in_thread(session, commit=True)


async def _end_in_thread(session: Session, *, commit: bool) -> None:
    # Not the shared thread pool: when its threads are all taken by requests waiting for a database
    # connection, the ending that would give one back must not queue behind them (FastAPI ends
    # synchronous generator dependencies the same way, with a limiter of their own).
    ending = partial(end_session, session, commit=commit)
    await anyio.to_thread.run_sync(ending, limiter=anyio.CapacityLimiter(1))


DbSession = Annotated[Session, Depends(db_session, scope="function")]


async def app_settings(request: Request) -> Settings:
    # async: no I/O, and a plain function would cost a thread hand-off a request.
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]


async def sent_csrf_token(request: Request) -> str | None:
    """The CSRF token from the header (HTMX, API) or a form field (plain HTML forms)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if request.method not in SAFE_METHODS and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def current_principal(
    request: Request, session: DbSession, csrf: Annotated[str | None, Depends(sent_csrf_token)]
) -> Principal:
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        found = principal_for_bearer(session, authorization[7:].strip())
        if found is None:
            raise NotAuthenticated("the API token is not valid (revoked, mistyped or its user deactivated)")
        return found  # a bearer token cannot be sent by a browser on its own, so it needs no CSRF token
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = principal_for_session(session, cookie) if cookie else None
    if principal is None:
        raise NotAuthenticated("log in first" if not cookie else "your session has ended; log in again")
    if request.method not in SAFE_METHODS and not same_secret(csrf, principal.csrf_token):
        raise Forbidden(
            f"missing or wrong CSRF token: send the {CSRF_HEADER} header (or reload the page and try again)"
        )
    request.state.principal = principal
    return principal


class RoleRequirement:
    """A dependency that lets a request through only for the given roles."""

    def __init__(self, name: str, *roles: Role) -> None:
        self.name = name
        self.roles = frozenset(roles)

    async def __call__(self, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        # async: a comparison, no I/O; a plain method would cost a thread hand-off a request.
        if principal.role not in self.roles:
            raise Forbidden(f"your role ({principal.role}) may not {self.name}")
        return principal

    def __repr__(self) -> str:
        return f"RoleRequirement({self.name!r}, {sorted(self.roles)})"


def require_role(name: str, *roles: Role) -> RoleRequirement:
    return RoleRequirement(name, *roles)


STAFF = (Role.admin, Role.manager, Role.agent)
read_people = require_role("read people", *STAFF)
write_people = require_role("record facts, consent and events about people", *STAFF)
manage_users = require_role("manage staff accounts", Role.admin)
make_plans = require_role("plan whom to thank", Role.admin, Role.manager)
review_notes = require_role("review, approve and skip notes", *STAFF)
# Handing over or erasing all of a person's data is for admins only.
handle_personal_data = require_role("export or erase a person's data", Role.admin)
# Loyalty: every staff member may redeem a reward for a customer (at the counter, on the phone);
# the catalogue, fulfilment and point adjustments are the managers'; earning rules are the admins'.
redeem_rewards = require_role("redeem rewards for customers", *STAFF)
run_loyalty = require_role("run the loyalty program", Role.admin, Role.manager)
edit_loyalty_rules = require_role("edit loyalty earning rules", Role.admin)

PeopleReader = Annotated[Principal, Depends(read_people)]
PeopleWriter = Annotated[Principal, Depends(write_people)]
UserManager = Annotated[Principal, Depends(manage_users)]
Planner = Annotated[Principal, Depends(make_plans)]
NoteReviewer = Annotated[Principal, Depends(review_notes)]
PrivacyAdmin = Annotated[Principal, Depends(handle_personal_data)]
RewardRedeemer = Annotated[Principal, Depends(redeem_rewards)]
LoyaltyRunner = Annotated[Principal, Depends(run_loyalty)]
LoyaltyRuleEditor = Annotated[Principal, Depends(edit_loyalty_rules)]


def route_requirement(dependant: Any) -> RoleRequirement | None:
    """The role requirement a route declares (searched through its dependency tree), if any."""
    stack: list[Any] = [dependant]
    while stack:
        current = stack.pop()
        if isinstance(current.call, RoleRequirement):
            return current.call
        stack.extend(current.dependencies)
    return None


def all_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Any]]:
    """(full path, methods, the route object) of every route, through included routers."""
    iter_contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if iter_contexts is None:  # FastAPI before routers were included lazily
        for route in app.routes:
            yield getattr(route, "path", ""), set(getattr(route, "methods", None) or ()), route
        return
    for context in iter_contexts(app.routes):
        yield context.path, set(context.methods or ()), context.original_route


def _api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Any]]:
    """(full path, methods, dependant) of every API route."""
    for path, methods, route in all_routes(app):
        if isinstance(route, APIRoute):
            yield path, methods, route.dependant


def role_table(app: FastAPI) -> dict[tuple[str, str], frozenset[str] | None]:
    """``{(method, path): roles}`` for every API and page route; None marks a public one (login).

    ``goodwill.web.role_doc`` turns this (plus the static files and the OpenAPI document) into the
    matrix of ``docs/security.md``.
    """
    table: dict[tuple[str, str], frozenset[str] | None] = {}
    for path, methods, dependant in _api_routes(app):
        requirement = route_requirement(dependant)
        for method in sorted(methods):
            table[(method, path)] = requirement.roles if requirement else None
    return table
