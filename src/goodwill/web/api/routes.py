"""The JSON API's router, mounted under ``/api/v1``. Each capability adds its router here."""

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.security import APIKeyCookie, HTTPBearer

from goodwill.bank import api as bank
from goodwill.campaigns import api as campaigns
from goodwill.complaints import api as complaints
from goodwill.loyalty import api as loyalty
from goodwill.notes import api as notes
from goodwill.planner import api as plan
from goodwill.team import kudos_api
from goodwill.web.api import API_PREFIX, events, people, users
from goodwill.web.api.schemas import Problem
from goodwill.web.auth import SESSION_COOKIE

# How a caller proves who it is, declared so the OpenAPI document says it (and clients and fuzzers can
# see it). Both are read by ``goodwill.web.deps.current_principal``; these declarations only document
# them (auto_error=False: they never refuse anything themselves). A session cookie also needs the
# X-CSRF-Token header on writes.
bearer_token = HTTPBearer(
    auto_error=False, scheme_name="apiToken", description="An API token: `goodwill users token EMAIL`."
)
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="session",
    description="The browser session (pages' HTMX calls); writes also need the X-CSRF-Token header.",
)

# Answers any operation can give besides its own: every operation needs a caller with a role, takes
# ids or refs that may name nothing, and writes take an Idempotency-Key header.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A malformed request header (such as Idempotency-Key)."},
    401: {"model": Problem, "description": "No valid API token or session."},
    403: {"model": Problem, "description": "The caller's role may not do this, or a missing CSRF token."},
    404: {"model": Problem, "description": "Nothing with that id, or nothing at that path."},
    409: {"model": Problem, "description": "Clashes with an earlier request or the record's current state."},
    422: {"model": Problem, "description": "A value was missing, malformed or out of range."},
}

api_router = APIRouter(
    prefix=API_PREFIX,
    responses=ERRORS,
    dependencies=[Depends(bearer_token), Depends(session_cookie)],
)
api_router.include_router(people.router)
api_router.include_router(events.router)
api_router.include_router(users.router)
api_router.include_router(bank.router)
api_router.include_router(plan.router)
api_router.include_router(notes.router)
api_router.include_router(loyalty.router)
api_router.include_router(complaints.router)
api_router.include_router(kudos_api.router)
api_router.include_router(campaigns.router)
