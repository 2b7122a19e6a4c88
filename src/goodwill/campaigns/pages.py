"""The campaign pages: the list, the form (new and edit), and one campaign: its preview before launch
(who it reaches, who is left out and why, the team's work, sample notes with their sincerity check)
and its progress after.

Anyone on the staff may read; managers and admins create, edit, preview and launch (the forms
appear only to them, and every POST route checks the role again). Every form posts its CSRF token
and redirects (303) when it worked, or shows the form again with each problem next to its field
(422) and what was typed kept. Launching twice is harmless: the service adds nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from goodwill.campaigns import service as campaigns
from goodwill.campaigns.audience import BANK_STATUSES, describe, parse_audience
from goodwill.campaigns.model import Campaign, CampaignMember, CampaignStatus
from goodwill.config import Settings
from goodwill.db import utcnow
from goodwill.insights.rfm import SEGMENTS, segment_label
from goodwill.team.model import Role
from goodwill.web.auth import Principal
from goodwill.web.deps import STAFF, AppSettings, DbSession, require_role
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

view_campaigns = require_role("see campaigns", *STAFF)
run_campaigns = require_role("create, edit, preview and launch campaigns", Role.admin, Role.manager)
CampaignViewer = Annotated[Principal, Depends(view_campaigns)]
CampaignRunner = Annotated[Principal, Depends(run_campaigns)]

CHANNELS = {"email": "Email", "sms": "SMS", "card": "Handwritten card", "call": "Phone call"}
KINDS = (("any", "Everyone"), ("customer", "Customers"), ("prospect", "Prospects (never bought)"))
BANK_LABELS = {"healthy": "Healthy", "watch": "On watch", "overdrawn": "Overdrawn"}
STATUS_LABELS = {"draft": "Draft", "launched": "Launched"}
# Why someone is left out, said to a manager; the keys are the service's stable reason strings.
REASONS = {
    "no_consent": "no consent to any channel this campaign allows",
    "cap": "thanked recently enough already (the contact cap across all channels)",
    "cooldown": "heard from us in the last few days (cooldown)",
    "other_campaign": "in another campaign within the same cap window",
    "already_planned": "already in the daily plan on the send day",
    "held_out_daily": "held out of a daily plan lately (kept apart for measuring)",
    "erased": "asked to be forgotten",
    "no_address": "no address for a channel they agreed to",
    "capacity": "beyond the team's daily capacity for cards and calls",
    "holdout": "held out at random, to measure what the thanks changes",
}
SHORT_REASONS = {
    "no_consent": "No consent", "cap": "Contact cap", "cooldown": "Cooldown",
    "other_campaign": "Other campaign", "already_planned": "Already planned",
    "held_out_daily": "Held out daily",
    "erased": "Erased", "no_address": "No address", "capacity": "Capacity", "holdout": "Holdout (random)",
}  # fmt: skip
# A rough time per note the team writes or makes by hand, to show cards and calls as staff hours.
STAFF_MINUTES = {"card": 6, "call": 8}
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, CHART_WIDTH = 22, 8, 130, 520


def may_run(principal: Principal | None) -> bool:
    return principal is not None and principal.role in run_campaigns.roles


# -- the form ---------------------------------------------------------------------------------------

TEXT_FIELDS = ("name", "description", "send_on", "kind", "min_spend", "review_rule")
NUMBER_FIELDS = ("window_from_hour", "window_until_hour", "review_percent", "holdout_percent")
AUDIENCE_NUMBERS = ("min_orders_this_year", "min_orders_total", "last_order_within_days", "not_thanked_days")
AUDIENCE_LISTS = ("bank_status", "rfm_segments", "loyalty_tiers")


@dataclass
class CampaignForm:
    """The form as typed: every value a string (or a list of ticked boxes), so a refusal keeps it."""

    name: str = ""
    description: str = ""
    send_on: str = ""
    window_from_hour: str = "10"
    window_until_hour: str = "18"
    kind: str = "customer"
    min_orders_this_year: str = ""
    min_orders_total: str = ""
    min_spend: str = ""
    last_order_within_days: str = ""
    not_thanked_days: str = ""
    bank_status: list[str] = field(default_factory=lambda: ["healthy", "watch"])
    rfm_segments: list[str] = field(default_factory=list)
    loyalty_tiers: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=lambda: list(CHANNELS))
    templates: dict[str, str] = field(default_factory=dict)
    review_rule: str = "all"
    review_percent: str = "100"
    holdout_percent: str = "10"

    def __getitem__(self, name: str) -> Any:  # the template reads fields by name
        return getattr(self, name)

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignForm:
        """The form showing a stored campaign."""
        form, audience = cls(), campaign.audience or {}
        for name in ("name", "description", "review_rule", *NUMBER_FIELDS):
            setattr(form, name, str(getattr(campaign, name)))
        for name in ("kind", "min_spend", *AUDIENCE_NUMBERS):
            setattr(form, name, str(audience.get(name, "any" if name == "kind" else "")))
        for name in AUDIENCE_LISTS:
            setattr(form, name, list(audience.get(name, [])))
        form.send_on, form.channels = campaign.send_on.isoformat(), list(campaign.channels)
        form.templates = dict(campaign.templates)
        return form

    def draft(self) -> tuple[campaigns.CampaignDraft | None, dict[str, str]]:
        """The service's draft, or the problems found reading the numbers (by form field)."""
        errors: dict[str, str] = {}
        numbers = {name: _whole(name, getattr(self, name), errors) for name in NUMBER_FIELDS}
        audience: dict[str, Any] = {"kind": self.kind or "any"}
        for name in AUDIENCE_NUMBERS:
            audience[name] = _whole(name, getattr(self, name), errors)
        audience["min_spend"] = self.min_spend.strip() or None
        for name in AUDIENCE_LISTS:
            audience[name] = getattr(self, name) or None
        send_on: date | None = None
        try:
            send_on = date.fromisoformat(self.send_on.strip())
        except ValueError:
            errors["send_on"] = "choose the day to send, such as 2025-11-27"
        if errors or send_on is None:
            return None, errors
        draft = campaigns.CampaignDraft(
            name=self.name, send_on=send_on, description=self.description,
            audience={k: v for k, v in audience.items() if v is not None},
            templates={k: v for k, v in self.templates.items() if v.strip()},
            channels=tuple(self.channels), review_rule=self.review_rule,
            **{k: v for k, v in numbers.items() if v is not None},
        )  # fmt: skip
        return draft, {}


def _whole(name: str, text: str, errors: dict[str, str]) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        errors[name] = f"must be a whole number, not {text!r}"
        return None
    return int(text)


async def campaign_form(request: Request) -> CampaignForm:
    """The posted form (already read for its CSRF token; Starlette keeps it)."""
    posted = await request.form()

    def text(name: str) -> str:
        value = posted.get(name)
        return value.replace("\r\n", "\n") if isinstance(value, str) else ""

    def ticked(name: str) -> list[str]:
        return [v for v in posted.getlist(name) if isinstance(v, str)]

    form = CampaignForm(channels=ticked("channels"))
    for name in (*TEXT_FIELDS, *NUMBER_FIELDS, *AUDIENCE_NUMBERS):
        setattr(form, name, text(name))
    for name in AUDIENCE_LISTS:
        setattr(form, name, ticked(name))
    form.templates = {seg: text(f"template_{seg}") for seg in ("default", *SEGMENTS)}
    return form


PostedCampaign = Annotated[CampaignForm, Depends(campaign_form)]
# Problems the form shows beside a field; any other (the campaign's status) goes at the top.
TEMPLATE_FIELDS = tuple(f"template_{segment}" for segment in ("default", *SEGMENTS))
FORM_FIELDS = frozenset(
    (*TEXT_FIELDS, *NUMBER_FIELDS, *AUDIENCE_NUMBERS, *AUDIENCE_LISTS, *TEMPLATE_FIELDS,
     "audience", "channels", "templates")
)  # fmt: skip


def form_field(service_field: str) -> str:
    """The form field a service error names: "audience.min_spend" -> "min_spend"."""
    if service_field.startswith("templates."):
        return "template_" + service_field.removeprefix("templates.")
    return service_field.removeprefix("audience.") or "name"


def _form_page(
    request: Request, settings: Settings, form: CampaignForm, *, campaign: Campaign | None = None,
    errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    errors = errors or {}
    context = {
        "nav": "campaigns",
        "campaign": campaign,
        "form": form,
        "errors": errors,
        "action": f"/campaigns/{campaign.id}/edit" if campaign else "/campaigns/new",
        "year": utcnow().year,
        "kinds": KINDS,
        "bank_statuses": [(s, BANK_LABELS.get(s, s)) for s in BANK_STATUSES],
        "segments": [(s, segment_label(s), meaning) for s, meaning in SEGMENTS.items()],
        "tiers": [tier.name for tier in settings.loyalty.tiers],
        "channel_choices": list(CHANNELS.items()),
        "general_errors": [msg for name, msg in errors.items() if name not in FORM_FIELDS],
        "segment_templates_open": any(form.templates.get(s, "").strip() for s in SEGMENTS)
        or any(k.startswith("template_") and k != "template_default" for k in errors),
    }
    return render(request, "campaigns/form.html", context, status_code=422 if errors else 200)


def _saved_or_refused(
    request: Request, session: Session, settings: Settings, form: CampaignForm, save: Any,
    campaign: Campaign | None = None,
) -> Response:  # fmt: skip
    draft, errors = form.draft()
    if draft is not None:
        try:
            saved = save(draft)
        except campaigns.CampaignError as exc:
            session.rollback()
            errors = {form_field(exc.field): exc.message}
        else:
            return RedirectResponse(f"/campaigns/{saved.id}?saved=1", status_code=303)
    return _form_page(request, settings, form, campaign=campaign, errors=errors)


# -- reading ----------------------------------------------------------------------------------------


def audience_words(campaign: Campaign, settings: Settings) -> str:
    """The audience in a sentence; a stored audience that no longer reads (a tier renamed) says so."""
    try:
        audience = parse_audience(campaign.audience, currency=settings.business.currency)
    except campaigns.CampaignError as exc:
        return f"an audience that no longer reads ({exc.field}: {exc.message})"
    words = describe(audience, currency=settings.business.currency)
    return words[:1].upper() + words[1:] + "."


def member_counts(session: Session) -> dict[int, dict[str, int]]:
    """``{campaign id: {group: people}}`` for every launched campaign, in one grouped query."""
    counts: dict[int, dict[str, int]] = {}
    stmt = select(CampaignMember.campaign_id, CampaignMember.assignment, func.count()).group_by(
        CampaignMember.campaign_id, CampaignMember.assignment
    )
    for campaign_id, assignment, count in session.execute(stmt):
        counts.setdefault(campaign_id, {})[assignment] = count
    return counts


def _rows(session: Session, settings: Settings) -> list[dict[str, Any]]:
    counts = member_counts(session)
    return [
        {
            "id": c.id, "name": c.name, "description": c.description, "status": c.status,
            "send_on": c.send_on, "audience_words": audience_words(c, settings),
            "launched": c.status == CampaignStatus.launched,
            **dict.fromkeys(("thanked", "holdout", "excluded"), 0), **counts.get(c.id, {}),
        }
        for c in campaigns.list_campaigns(session)
    ]  # fmt: skip


@dataclass(frozen=True)
class Bar:
    reason: str
    label: str
    count: int
    tone: str
    y: int
    width: int


def left_out_chart(rows: list[tuple[str, int]]) -> dict[str, Any]:
    """Bars for the exclusions by reason and the holdout, for ``campaigns/_chart.html``."""
    widest = max((count for _, count in rows), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 50
    bars = [
        Bar(reason, SHORT_REASONS.get(reason, reason), count,
            "holdout" if reason == "holdout" else "excluded",
            i * (BAR_HEIGHT + BAR_GAP), max(2, room * count // widest))
        for i, (reason, count) in enumerate(rows)
    ]  # fmt: skip
    summary = ", ".join(f"{b.label}: {b.count}" for b in bars)
    return {
        "bars": bars, "width": CHART_WIDTH, "height": max(len(bars) * (BAR_HEIGHT + BAR_GAP), 1),
        "label_width": LABEL_WIDTH, "bar_height": BAR_HEIGHT, "label": f"Left out, by reason: {summary}",
    }  # fmt: skip


def staff_time(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"about {rest} minutes"
    return f"about {hours} h" + (f" {rest:02d} min" if rest else "")


def workload(by_channel: dict[str, int], settings: Settings) -> list[dict[str, Any]]:
    """Each channel's notes, and what they take: cards and calls are the team's own hours."""
    capacity = settings.planner.policy.capacity
    rows = []
    for channel, label in CHANNELS.items():
        count = by_channel.get(channel, 0)
        if not count:
            continue
        if channel in STAFF_MINUTES:
            verb = "cards to write by hand" if channel == "card" else "calls to make"
            effort = f"{count} {verb}: {staff_time(count * STAFF_MINUTES[channel])} of the team's time"
            effort += f" (the team's usual capacity is {capacity[channel]} a day)"
        else:
            effort = f"{count} {'emails' if channel == 'email' else 'text messages'}, sent by the outbox"
        rows.append({"channel": channel, "label": label, "count": count, "effort": effort})
    return rows


def preview_context(preview: campaigns.Preview, settings: Settings) -> dict[str, Any]:
    excluded = sorted(((r, n) for r, n in preview.excluded.items() if n), key=lambda rn: (-rn[1], rn[0]))
    left_out = excluded + ([("holdout", preview.holdout)] if preview.holdout else [])
    return {
        "preview": preview,
        "to_thank": preview.thanked,
        "excluded_total": sum(n for _, n in excluded),
        "left_out": [{"reason": r, "count": n, "meaning": REASONS.get(r, r)} for r, n in left_out],
        "chart": left_out_chart(left_out),
        "workload": workload(preview.by_channel, settings),
        "by_segment": sorted(preview.by_segment.items(), key=lambda sc: (-sc[1], sc[0])),
    }


def _campaign(session: Session, campaign_id: int) -> Campaign:
    try:
        return campaigns.get_campaign(session, campaign_id)
    except campaigns.CampaignNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None


def _campaign_page(
    request: Request, session: Session, settings: Settings, who: Principal, campaign_id: int,
    *, status: int = 200, **extra: Any,
) -> Response:  # fmt: skip
    campaign = _campaign(session, campaign_id)
    launched = campaign.status == CampaignStatus.launched
    context: dict[str, Any] = {
        "nav": "campaigns", "campaign": campaign, "launched": launched, "may_launch": may_run(who),
        "audience_words": audience_words(campaign, settings), "status_labels": STATUS_LABELS,
        "segment_label": segment_label, "channel_labels": CHANNELS, "preview": None, **extra,
    }  # fmt: skip
    if launched:
        context["progress"] = campaigns.status(session, campaign_id=campaign.id)
        context["reasons"] = REASONS
    elif may_run(who):
        found = campaigns.preview(session, campaign_id=campaign.id, settings=settings)
        context |= preview_context(found, settings)
    return render(request, "campaigns/campaign.html", context, status_code=status)


# -- routes -----------------------------------------------------------------------------------------


@router.get("/campaigns")
def list_page(request: Request, session: DbSession, settings: AppSettings, who: CampaignViewer) -> Response:
    context = {"nav": "campaigns", "rows": _rows(session, settings), "may_create": may_run(who),
               "status_labels": STATUS_LABELS}  # fmt: skip
    return render(request, "campaigns/list.html", context)


@router.get("/campaigns/new")
def new_page(request: Request, settings: AppSettings, _: CampaignRunner) -> Response:
    return _form_page(request, settings, CampaignForm())


@router.post("/campaigns/new")
def create(
    request: Request, session: DbSession, settings: AppSettings, who: CampaignRunner, form: PostedCampaign
) -> Response:
    def save(draft: campaigns.CampaignDraft) -> Campaign:
        return campaigns.create_campaign(session, draft=draft, user_id=who.user_id, settings=settings)

    return _saved_or_refused(request, session, settings, form, save)


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    request: Request, campaign_id: int, session: DbSession, settings: AppSettings, who: CampaignViewer
) -> Response:
    return _campaign_page(request, session, settings, who, campaign_id)


@router.get("/campaigns/{campaign_id}/edit")
def edit_page(
    request: Request, campaign_id: int, session: DbSession, settings: AppSettings, _: CampaignRunner
) -> Response:
    campaign = _campaign(session, campaign_id)
    if campaign.status != CampaignStatus.draft:  # its members were assigned under these settings
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    return _form_page(request, settings, CampaignForm.of(campaign), campaign=campaign)


@router.post("/campaigns/{campaign_id}/edit")
def edit(
    request: Request, campaign_id: int, session: DbSession, settings: AppSettings, who: CampaignRunner,
    form: PostedCampaign,
) -> Response:  # fmt: skip
    campaign = _campaign(session, campaign_id)

    def save(draft: campaigns.CampaignDraft) -> Campaign:
        return campaigns.update_campaign(
            session, campaign_id=campaign_id, draft=draft, user_id=who.user_id, settings=settings
        )

    return _saved_or_refused(request, session, settings, form, save, campaign)


@router.post("/campaigns/{campaign_id}/launch")
def launch(
    request: Request, campaign_id: int, session: DbSession, settings: AppSettings, who: CampaignRunner
) -> Response:
    try:
        report = campaigns.launch(
            session, campaign_id=campaign_id, user_id=who.user_id, settings=settings, now=utcnow()
        )
    except campaigns.CampaignNotFound as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except campaigns.CampaignError as exc:
        session.rollback()
        return _campaign_page(request, session, settings, who, campaign_id, status=422, error=exc.message)
    outcome = "again" if report.already_launched else "1"
    return RedirectResponse(f"/campaigns/{campaign_id}?launched={outcome}", status_code=303)
