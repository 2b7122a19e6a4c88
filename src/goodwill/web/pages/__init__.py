"""Server-rendered pages (Jinja2 + HTMX). Each capability adds its router here."""

from fastapi import APIRouter

from goodwill.bank.pages import router as bank_router
from goodwill.campaigns.pages import router as campaigns_router
from goodwill.complaints.pages import router as complaints_router
from goodwill.complaints.reply_pages import public_router as complaint_answer_router
from goodwill.complaints.reply_pages import router as complaint_reply_router
from goodwill.complaints.themes_pages import router as complaint_themes_router
from goodwill.impact.pages import router as impact_router
from goodwill.insights.pages import router as insights_router
from goodwill.loyalty.customer import router as loyalty_customer_router
from goodwill.loyalty.pages import router as loyalty_router
from goodwill.notes.pages import router as notes_router
from goodwill.outbox.call_pages import router as calls_router
from goodwill.people.unsubscribe_pages import router as unsubscribe_router
from goodwill.planner.pages import router as today_router
from goodwill.team.digest_pages import router as team_digest_router
from goodwill.team.pages import router as team_router
from goodwill.web.pages import auth, people

pages_router = APIRouter()
pages_router.include_router(auth.router)
pages_router.include_router(people.router)
pages_router.include_router(insights_router)
pages_router.include_router(impact_router)
pages_router.include_router(bank_router)
pages_router.include_router(today_router)
pages_router.include_router(notes_router)
pages_router.include_router(calls_router)
pages_router.include_router(unsubscribe_router)
pages_router.include_router(loyalty_router)
pages_router.include_router(loyalty_customer_router)
pages_router.include_router(complaint_themes_router)
pages_router.include_router(complaints_router)
pages_router.include_router(complaint_reply_router)
pages_router.include_router(complaint_answer_router)
pages_router.include_router(team_digest_router)
pages_router.include_router(team_router)
pages_router.include_router(campaigns_router)
