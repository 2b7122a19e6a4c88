"""The "Today" page: whom to thank today, why, how, and who was held out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from goodwill.notes.service import plan_and_draft
from goodwill.planner.service import plan_page_view
from goodwill.web.deps import AppSettings, DbSession, NoteReviewer, Planner
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

MOMENT_LABELS = {
    "second_order": "Second order",
    "nth_order": "Order milestone",
    "anniversary": "Anniversary",
    "spend_milestone": "Spend milestone",
    "complaint_resolved": "Complaint resolved",
    "window_shopper": "Asked or visited",
    "drifting": "Drifting away",
    "recovery": "Recovery",
    "praise": "Praised us",
    "referral": "Referred someone",
    "campaign": "Campaign",
}
CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "card": "Handwritten card", "call": "Phone call"}
HOLDOUT_SHOWN = 12  # held-out people listed by name; the rest are counted


@router.get("/today")
def today_page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: NoteReviewer,
    day: Annotated[date | None, Query()] = None,
) -> Response:
    today = datetime.now(settings.business.tz).date()
    shown = day or today
    view = plan_page_view(
        session, shown, default_zone=settings.business.timezone, holdout_shown=HOLDOUT_SHOWN
    )
    by_channel: dict[str, int] = {}
    waiting = 0
    rows = []
    for item in view["items"]:
        channel, moment, note, window = item["channel"], item["moment"], item["note"], item["window"]
        if item["status"] != "skipped":  # a skipped note frees its slot
            by_channel[channel] = by_channel.get(channel, 0) + 1
        if note and note["status"] == "draft":
            waiting += 1
        # What each row shows, in the order the template unpacks it: rendering ~300 rows that look
        # values up in nested dicts cost more than the queries behind them.
        rows.append(
            (
                item["priority"],
                item["person"]["id"],
                item["person"]["name"] or "(no name)",
                moment,
                MOMENT_LABELS.get(moment, moment),
                item["evidence"],
                channel,
                CHANNEL_LABELS.get(channel, channel),
                item["reason"],
                window["local"] if window else None,
                note["id"] if note else None,
                note["status"] if note else None,
            )
        )
    context = {
        "nav": "today",
        "plan": view,
        "rows": rows,
        "day": shown,
        "is_today": shown == today,
        "by_channel": by_channel,
        "to_thank": sum(by_channel.values()),
        "capacity": settings.planner.policy.capacity,
        "moment_labels": MOMENT_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "can_plan": who.role in ("admin", "manager"),
        "waiting": waiting,
    }
    return render(request, "planner/today.html", context)


@router.post("/today/plan")
def plan_now(
    session: DbSession,
    settings: AppSettings,
    who: Planner,
    day: Annotated[date | None, Form()] = None,
) -> Response:
    shown = day or datetime.now(settings.business.tz).date()
    plan_and_draft(session, day=shown, settings=settings, planned_by_id=who.user_id)
    return RedirectResponse(f"/today?day={shown.isoformat()}", status_code=303)
