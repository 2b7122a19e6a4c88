"""Jinja2 set-up for the pages: money and times shown the business's way, and the common context."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from goodwill import __version__
from goodwill.config import Settings
from goodwill.events.model import EVENT_KINDS
from goodwill.money import exponent, format_money

# How each event kind looks on a timeline: a label and a tone (the colour of its dot).
KIND_TONES = {
    "purchase": "money",
    "refund": "warn",
    "order_cancelled": "warn",
    "return": "warn",
    "complaint": "trouble",
    "defect": "trouble",
    "late_delivery": "trouble",
    "service_failure": "trouble",
    "complaint_resolved": "good",
    "praise": "good",
    "referral": "good",
    "review": "good",
    "appreciation_sent": "thanks",
    "card_sent": "thanks",
    "call_made": "thanks",
    "reward_redeemed": "thanks",
    "points_earned": "thanks",
    "goodwill_adjustment": "thanks",
}


CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "card": "Card", "call": "Call"}


def kind_label(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def make_templates(settings: Settings) -> Jinja2Templates:
    folder = resources.files("goodwill.web") / "templates"
    templates = Jinja2Templates(directory=str(folder))
    env = templates.env
    # The templates ship with the package and do not change under a running server: without this,
    # every render stats each template file it uses to see whether it changed.
    env.auto_reload = False
    tz = settings.business.tz

    def local(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
        # "03 May" reads as "3 May"; stripping here avoids the platform-specific "%-d".
        return value.astimezone(tz).strftime(fmt).removeprefix("0") if value is not None else ""

    def money(amount: int | Decimal | str | None, currency: str | None = None) -> str:
        """Minor units (int), or an exact Decimal or decimal string, in the given or the business currency."""
        if amount is None:
            return ""
        if isinstance(amount, str):
            amount = Decimal(amount)
        code = currency or settings.business.currency
        minor = int(amount.scaleb(exponent(code))) if isinstance(amount, Decimal) else amount
        return format_money(minor, code)

    env.filters["local"] = local
    env.filters["money"] = money
    env.filters["kind_label"] = kind_label
    env.globals.update(
        business=settings.business,
        version=__version__,
        kind_tones=KIND_TONES,
        channel_labels=CHANNEL_LABELS,
        kind_meanings=EVENT_KINDS,
    )
    return templates


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    principal = getattr(request.state, "principal", None)
    full = {"principal": principal, "csrf_token": principal.csrf_token if principal else None}
    full.update(context or {})
    response = templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)
    response.headers["vary"] = "HX-Request"
    return response
