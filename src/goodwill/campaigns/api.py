"""``/api/v1/campaigns``: create and edit a draft, preview it, launch it once, follow it.

Staff read; managers and admins write, preview and launch. A bad field is 422 naming it
("audience.min_spend", "templates.champions"); a step the campaign is not in the state for
(editing or previewing a launched campaign) is 409. ``POST /campaigns`` and ``POST .../launch``
honour an ``Idempotency-Key``; launching is idempotent without one too (a second launch reports
the first one's result with ``already_launched``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import Field

from goodwill.campaigns import service
from goodwill.campaigns.access import CampaignReader, CampaignRunner
from goodwill.campaigns.reports import campaign_dict
from goodwill.db import utcnow
from goodwill.web.api.schemas import Strict, field_error
from goodwill.web.deps import AppSettings, DbSession
from goodwill.web.idempotency import Idempotent, json_response

router = APIRouter(prefix="/campaigns", tags=["campaigns"])


class CampaignIn(Strict):
    name: str = Field(min_length=1, max_length=120)
    send_on: date = Field(description="The send day, in each person's own time zone.")
    audience: dict[str, Any] = Field(
        default_factory=dict,
        description="kind, min_orders_this_year, min_orders_total, min_spend (a decimal string), "
        "last_order_within_days, bank_status, rfm_segments, loyalty_tiers, not_thanked_days.",
    )
    templates: dict[str, str] = Field(
        default_factory=dict, description='RFM segment (or "default") -> Jinja note template.'
    )
    description: str = Field(default="", max_length=2000)
    channels: list[str] = Field(default_factory=lambda: ["email", "sms", "card", "call"])
    window_from_hour: int = 10
    window_until_hour: int = 18
    review_rule: str = Field(default="all", description="all, or sample (review_percent of the notes).")
    review_percent: int = 100
    holdout_percent: int = 10

    def draft(self) -> service.CampaignDraft:
        values = self.model_dump()
        values["channels"] = tuple(values["channels"])
        return service.CampaignDraft(**values)


def _refused(exc: service.CampaignError) -> NoReturn:
    if exc.field == "status":
        raise HTTPException(409, exc.message)
    field_error(exc.field, exc.message)


def _found(session: Any, campaign_id: int) -> Any:
    try:
        return service.get_campaign(session, campaign_id)
    except service.CampaignNotFound as exc:
        raise HTTPException(404, str(exc)) from None


@router.post("", status_code=201)
def create(
    body: CampaignIn, session: DbSession, settings: AppSettings, who: CampaignRunner, idem: Idempotent
) -> Response:
    try:
        campaign = service.create_campaign(
            session, draft=body.draft(), user_id=who.user_id, settings=settings
        )
    except service.CampaignError as exc:
        _refused(exc)
    return idem.respond(201, campaign_dict(campaign, settings))


@router.get("")
def list_all(session: DbSession, settings: AppSettings, who: CampaignReader) -> dict[str, Any]:
    return {"items": [campaign_dict(c, settings) for c in service.list_campaigns(session)]}


@router.get("/{campaign_id:int}")
def show(campaign_id: int, session: DbSession, settings: AppSettings, who: CampaignReader) -> dict[str, Any]:
    return campaign_dict(_found(session, campaign_id), settings)


@router.put("/{campaign_id:int}")
def edit(
    campaign_id: int, body: CampaignIn, session: DbSession, settings: AppSettings, who: CampaignRunner
) -> Response:
    """Replace a draft's fields; a launched campaign cannot change (409)."""
    _found(session, campaign_id)
    try:
        campaign = service.update_campaign(
            session, campaign_id=campaign_id, draft=body.draft(), user_id=who.user_id, settings=settings
        )
    except service.CampaignError as exc:
        _refused(exc)
    return json_response(200, campaign_dict(campaign, settings))


@router.post("/{campaign_id:int}/preview")
def preview(
    campaign_id: int,
    session: DbSession,
    settings: AppSettings,
    who: CampaignRunner,
    samples: Annotated[int, Query(ge=0, le=50)] = 5,
) -> dict[str, Any]:
    """Who a launch now would reach and leave out (by reason), the workload, sample drafts. Writes nothing."""
    _found(session, campaign_id)
    try:
        return service.preview(session, campaign_id=campaign_id, settings=settings, samples=samples).as_dict()
    except service.CampaignError as exc:
        _refused(exc)


@router.post("/{campaign_id:int}/launch")
def launch(
    campaign_id: int, session: DbSession, settings: AppSettings, who: CampaignRunner, idem: Idempotent
) -> Response:
    """Assign everyone, draft the notes, approve outside the review sample; once only."""
    _found(session, campaign_id)
    try:
        report = service.launch(
            session, campaign_id=campaign_id, user_id=who.user_id, settings=settings, now=utcnow()
        )
    except service.CampaignError as exc:
        _refused(exc)
    return idem.respond(200, report.as_dict())


@router.get("/{campaign_id:int}/status")
def status(campaign_id: int, session: DbSession, who: CampaignReader) -> dict[str, Any]:
    _found(session, campaign_id)
    return service.status(session, campaign_id=campaign_id).as_dict()
