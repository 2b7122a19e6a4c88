"""``/api/v1/loyalty``: accounts, redemptions, fulfilment, adjustments, the catalogue and the rules.

A refusal (``Refused``) is ``422`` with ``{"detail": <plain words>, "code": <code>}`` (``409`` for a
request key reused for another reward, ``404`` for an unknown redemption); nothing of a refused
request is kept, so a retry runs again. ``POST /redemptions`` needs an ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import Field, field_validator
from sqlalchemy.orm import Session

from goodwill.db import MAX_ID, utcnow
from goodwill.loyalty import awards, awards_run, ledger, members
from goodwill.loyalty import redemption as redeeming
from goodwill.loyalty import rewards as catalogue
from goodwill.loyalty.config import EarnRuleConfig
from goodwill.loyalty.ledger import AccountSummary
from goodwill.loyalty.lots import Lot
from goodwill.loyalty.model import (
    LoyaltyEntry,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
)
from goodwill.loyalty.rules import RuleError
from goodwill.loyalty.tiers import TierProgress
from goodwill.web.api.people import person_or_404
from goodwill.web.api.schemas import IsoDateTime, Problem, Strict, field_error
from goodwill.web.deps import (
    AppSettings,
    DbSession,
    LoyaltyRuleEditor,
    LoyaltyRunner,
    PeopleReader,
    PeopleWriter,
    RewardRedeemer,
)
from goodwill.web.idempotency import HEADER, Idempotent, json_response

# A rule's name, as goodwill.loyalty.config.RuleConfig has it.
RULE_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"

router = APIRouter(prefix="/loyalty", tags=["loyalty"])
NOT_FOUND_CODES = {"unknown_redemption"}
CONFLICT_CODES = {"key_reused"}


class ShipToIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str = Field(default="", max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(min_length=1, max_length=60)


class RedemptionIn(Strict):
    person_id: int
    reward_id: int
    ship_to: ShipToIn | None = None


class BirthdayIn(Strict):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)


class StatusIn(Strict):
    status: RedemptionStatus
    tracking: str | None = Field(default=None, max_length=200)


class RefundIn(Strict):
    reason: str = Field(min_length=1, max_length=300)


class AdjustmentIn(Strict):
    person_id: int
    # Zero changes nothing and is refused: the schema says so too (``not: {const: 0}``).
    points: int = Field(ge=-1_000_000, le=1_000_000, json_schema_extra={"not": {"const": 0}})
    reason: str = Field(min_length=1, max_length=300)

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("an adjustment of 0 points changes nothing")
        return value


class RewardIn(Strict):
    name: str = Field(min_length=1, max_length=catalogue.NAME_MAX)
    kind: RewardKind
    cost_points: int = Field(ge=1, le=catalogue.COST_MAX)
    description: str = Field(default="", max_length=catalogue.DESCRIPTION_MAX)
    stock: int | None = Field(default=None, ge=0, le=catalogue.STOCK_MAX)
    per_person_limit: int | None = Field(default=None, ge=1, le=catalogue.LIMIT_MAX)
    available_from: IsoDateTime | None = None
    available_until: IsoDateTime | None = None
    active: bool = True

    def data(self) -> catalogue.RewardInput:
        return catalogue.RewardInput(**(self.model_dump() | {"kind": self.kind.value}))


def account_json(
    found: AccountSummary, progress: TierProgress, lots: list[Lot], now: datetime
) -> dict[str, Any]:
    waiting = sorted((lot.available_at, lot.remaining) for lot in lots if lot.is_pending(now))
    return asdict(found) | {
        "expiring": [{"at": at, "points": points} for at, points in found.expiring],
        "pending_lots": [{"available_at": at, "points": points} for at, points in waiting],
        "progress": asdict(progress),
    }


def entry_json(entry: LoyaltyEntry) -> dict[str, Any]:
    fields = (
        "id",
        "kind",
        "points",
        "key",
        "rule",
        "event_id",
        "redemption_id",
        "reverses_id",
        "at",
        "available_at",
        "expires_at",
        "note",
        "created_by_id",
    )
    return {name: getattr(entry, name) for name in fields}


def redemption_json(found: Redemption) -> dict[str, Any]:
    fields = (
        "id",
        "person_id",
        "reward_id",
        "points",
        "status",
        "request_key",
        "ship_to",
        "tracking",
        "history",
        "created_at",
        "updated_at",
    )
    return {name: getattr(found, name) for name in fields}


def reward_json(reward: Reward) -> dict[str, Any]:
    fields = (
        "id",
        "name",
        "kind",
        "description",
        "cost_points",
        "stock",
        "per_person_limit",
        "available_from",
        "available_until",
        "active",
    )
    return {name: getattr(reward, name) for name in fields}


def rule_json(rule: EarnRuleConfig, edited: bool) -> dict[str, Any]:
    return rule.model_dump(mode="json") | {"edited": edited}


def refusal(session: Session, exc: ledger.LoyaltyError) -> Response:
    """A loyalty error as JSON; whatever the request wrote before it is rolled back."""
    session.rollback()
    if isinstance(exc, catalogue.RewardError):
        field_error(exc.field, exc.reason)
    if isinstance(exc, catalogue.RewardNotFound):
        return JSONResponse({"detail": str(exc), "code": "unknown_reward"}, status_code=404)
    code = exc.code if isinstance(exc, ledger.Refused) else "invalid"
    message = exc.message if isinstance(exc, ledger.Refused) else str(exc)
    status = 404 if code in NOT_FOUND_CODES else 409 if code in CONFLICT_CODES else 422
    return JSONResponse({"detail": message, "code": code}, status_code=status)


@router.get("/accounts/{person_id}")
def account(person_id: int, session: DbSession, settings: AppSettings, _: PeopleReader) -> dict[str, Any]:
    """Points available and pending, tier and progress, points expiring soon."""
    person_or_404(session, person_id)
    now = utcnow()
    found = ledger.summary(session, person_id=person_id, now=now)
    progress = awards.tier_progress(
        session, person_id=person_id, now=now, config=settings.loyalty, currency=settings.business.currency
    )
    return account_json(found, progress, ledger.lots_of(session, person_id=person_id), now)


@router.get("/accounts/{person_id}/entries")
def entries(
    person_id: int,
    session: DbSession,
    _: PeopleReader,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The ledger, newest first; pass ``next_before_id`` back as ``before_id`` for the next page."""
    person_or_404(session, person_id)
    if before_id is not None:  # a cursor past any id an entry can have means "from the newest"
        before_id = max(0, min(before_id, MAX_ID))
    rows = ledger.entries_of(session, person_id=person_id, limit=limit, before_id=before_id)
    return {
        "items": [entry_json(e) for e in rows],
        "next_before_id": rows[-1].id if len(rows) == limit else None,
    }


@router.post("/accounts/{person_id}/link", status_code=201)
def make_link(person_id: int, session: DbSession, settings: AppSettings, _: RewardRedeemer) -> Response:
    """A fresh signed link to the customer's own points page, to send them (none once erased)."""
    person_or_404(session, person_id)
    link = members.staff_link(session, settings=settings, person_id=person_id, now=utcnow())
    if link is None:
        return refusal(session, ledger.Refused(members.ERASED_CODE, members.ERASED_WORDS))
    return json_response(201, {"url": link.url, "expires_at": link.expires_at})


@router.put("/accounts/{person_id}/birthday")
def set_birthday(
    person_id: int,
    session: DbSession,
    _: PeopleWriter,
    body: Annotated[BirthdayIn | None, Body()],
) -> Response:
    """Their birthday for the birthday rule: ``{"month", "day"}`` (no year), or ``null`` to forget it."""
    person_or_404(session, person_id)
    try:
        kept = members.set_birthday(
            session,
            person_id=person_id,
            month=body.month if body else None,
            day=body.day if body else None,
            now=utcnow(),
        )
    except members.BadBirthday as exc:
        session.rollback()
        field_error("day", str(exc))
    except ledger.LoyaltyError as exc:
        return refusal(session, exc)
    birthday = {"month": kept.month, "day": kept.day} if kept else None
    return json_response(200, {"person_id": person_id, "birthday": birthday})


@router.post(
    "/redemptions",
    status_code=201,
    responses={
        200: {"description": "Already redeemed with this key"},
        428: {"model": Problem, "description": "No Idempotency-Key header: one is required here"},
    },
)
def redeem(
    body: RedemptionIn,
    session: DbSession,
    settings: AppSettings,
    who: RewardRedeemer,
    idem: Idempotent,
) -> Response:
    """Redeem in one step: balance, stock and limits are checked and written together."""
    if idem.key is None:
        raise HTTPException(
            428, f"send an {HEADER} header (any unique string) so a retry cannot redeem twice"
        )
    erased = members.erased_or_not(session, person_id=body.person_id)
    ship_to = catalogue.ShipTo(**body.ship_to.model_dump()) if body.ship_to else None
    try:
        if erased:
            raise ledger.Refused(members.ERASED_CODE, members.ERASED_WORDS)
        result = redeeming.redeem(
            session,
            person_id=body.person_id,
            reward_id=body.reward_id,
            request_key=idem.key,
            ship_to=ship_to,
            now=None,  # read once the account is held
            by=str(who.user_id),
            settings=settings,
        )
    except ledger.LoyaltyError as exc:
        return refusal(session, exc)
    return idem.respond(201 if result.created else 200, redemption_json(result.redemption))


@router.get("/redemptions")
def list_redemptions(
    session: DbSession,
    _: LoyaltyRunner,
    status: Annotated[list[RedemptionStatus] | None, Query()] = None,
    person_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    """Newest first; ``status`` (repeatable) narrows to a fulfilment queue.

    Managers and admins only, as the Fulfilment page: the items carry shipping addresses.
    """
    statuses = [s.value for s in status] if status else None
    rows = redeeming.redemptions(session, statuses=statuses, person_id=person_id, limit=limit)
    return {"items": [redemption_json(r) for r in rows]}


@router.post("/redemptions/{redemption_id}/status")
def advance(redemption_id: int, body: StatusIn, session: DbSession, who: LoyaltyRunner) -> Response:
    """Move a redemption along (pending → to_fulfil → shipped → delivered); ``tracking`` when shipping."""
    try:
        found = redeeming.advance(
            session,
            redemption_id=redemption_id,
            to_status=body.status.value,
            by_user_id=who.user_id,
            now=utcnow(),
            tracking=body.tracking,
        )
    except ledger.LoyaltyError as exc:
        return refusal(session, exc)
    return json_response(200, redemption_json(found))


@router.post("/redemptions/{redemption_id}/refund")
def refund(redemption_id: int, body: RefundIn, session: DbSession, who: LoyaltyRunner) -> Response:
    """Points back to the lots they came from, stock back; refunding again changes nothing."""
    try:
        found = redeeming.refund(
            session, redemption_id=redemption_id, by_user_id=who.user_id, now=utcnow(), reason=body.reason
        )
    except ledger.LoyaltyError as exc:
        return refusal(session, exc)
    return json_response(200, redemption_json(found))


def adjustment_key(user_id: int, idempotency_key: str | None) -> str:
    """The ledger key: the caller's Idempotency-Key (hashed to fit), or a new one for each call."""
    if idempotency_key is None:
        return f"adjust:api:{secrets.token_hex(16)}"
    return f"adjust:api:{user_id}:{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}"


@router.post("/adjustments", status_code=201)
def adjust(
    body: AdjustmentIn, session: DbSession, settings: AppSettings, who: LoyaltyRunner, idem: Idempotent
) -> Response:
    """A staff correction with a reason: positive adds a lot, negative takes points (refused if short)."""
    person_or_404(session, body.person_id)
    try:
        entry = ledger.adjust(
            session,
            person_id=body.person_id,
            points=body.points,
            reason=body.reason,
            key=adjustment_key(who.user_id, idem.key),
            by_user_id=who.user_id,
            now=utcnow(),
            config=settings.loyalty,
        )
    except ledger.LoyaltyError as exc:
        return refusal(session, exc)
    if entry is None:  # the ledger had this key: an earlier answer that was not kept
        return JSONResponse(
            {"detail": "this adjustment was already recorded", "code": "already_recorded"}, 200
        )
    return idem.respond(201, entry_json(entry))


@router.get("/rewards")
def list_rewards(session: DbSession, _: PeopleReader, available: bool = False) -> dict[str, Any]:
    """The catalogue, cheapest first; ``available=true``: only what can be redeemed now."""
    rows = catalogue.list_rewards(session, available_at=utcnow() if available else None)
    return {"items": [reward_json(r) for r in rows]}


@router.post("/rewards", status_code=201)
def add_reward(body: RewardIn, session: DbSession, _: LoyaltyRunner, idem: Idempotent) -> Response:
    try:
        created = catalogue.create_reward(session, data=body.data())
    except ledger.LoyaltyError as exc:
        return refusal(session, exc)
    return idem.respond(201, reward_json(created))


@router.put("/rewards/{reward_id}")
def change_reward(reward_id: int, body: RewardIn, session: DbSession, _: LoyaltyRunner) -> Response:
    """Replaces every field (send the whole reward)."""
    try:
        changed = catalogue.update_reward(session, reward_id=reward_id, data=body.data())
    except ledger.LoyaltyError as exc:
        return refusal(session, exc)
    return json_response(200, reward_json(changed))


@router.get("/rules")
def rules(session: DbSession, settings: AppSettings, _: PeopleReader) -> dict[str, Any]:
    """The earning rules in force: goodwill.toml's, with admins' edits over them; ``problems``: stored
    edits that no longer fit goodwill.toml and are not used."""
    edited = awards_run.edited_rules(session)
    rules, problems = awards.load_rules_checked(session, config=settings.loyalty)
    return {"items": [rule_json(r, r.name in edited) for r in rules], "problems": problems}


@router.put("/rules/{name}")
def save_rule(
    name: Annotated[str, Path(pattern=RULE_NAME_PATTERN)],
    session: DbSession,
    settings: AppSettings,
    who: LoyaltyRuleEditor,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    """Replace one rule (the whole definition; ``name`` comes from the path)."""
    if body.get("name", name) != name:
        field_error("name", f"the body names rule {body['name']!r} but the path names {name!r}")
    try:
        saved = awards.save_rule(
            session, definition=body | {"name": name}, by_user_id=who.user_id, config=settings.loyalty
        )
    except RuleError as exc:
        session.rollback()
        field_error(exc.field or "definition", exc.message)
    return json_response(200, rule_json(saved, True))
