"""The JSON API, mounted under ``/api/v1``. Each capability adds its router here."""

from fastapi import APIRouter

from goodwill.bank import api as bank
from goodwill.campaigns import api as campaigns
from goodwill.complaints import api as complaints
from goodwill.loyalty import api as loyalty
from goodwill.notes import api as notes
from goodwill.planner import api as plan
from goodwill.team import kudos_api
from goodwill.web.api import events, people, users

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
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
