"""The staff's loyalty pages: the program at a glance, the catalogue, the earning rules, fulfilment,
and the loyalty panel on a person's page (with point adjustments).

Every handler parses a form, calls one service and either redirects (303, so a reload never posts
twice) or shows the page again with the refusal in plain words (422). Anyone on the staff may read;
the forms appear only to those whose role may send them, and the POST routes check the role again.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy import Select, Table, and_, bindparam, case, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from goodwill.config import Settings
from goodwill.db import UTCDateTime, utcnow
from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.loyalty import awards, ledger
from goodwill.loyalty import redemption as redeeming
from goodwill.loyalty import rewards as catalogue
from goodwill.loyalty.awards_run import edited_rules
from goodwill.loyalty.links import customer_link
from goodwill.loyalty.lots import expiring_soon, pending, spendable
from goodwill.loyalty.model import (
    EntryKind,
    LoyaltyAccount,
    LoyaltyEntry,
    Redemption,
    RedemptionStatus,
    Reward,
)
from goodwill.loyalty.rules import RuleError, month_bounds
from goodwill.loyalty.tiers import progress
from goodwill.people.model import Person
from goodwill.people.privacy import erasure_recorded
from goodwill.people.service import get_person
from goodwill.web.auth import Principal
from goodwill.web.deps import (
    AppSettings,
    DbSession,
    LoyaltyRuleEditor,
    LoyaltyRunner,
    PeopleReader,
    edit_loyalty_rules,
    run_loyalty,
)
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

OPEN = (RedemptionStatus.pending, RedemptionStatus.to_fulfil, RedemptionStatus.shipped)
STATUS_TITLES = {
    "pending": "New: check and approve",
    "to_fulfil": "To fulfil: pack, book or send",
    "shipped": "Shipped: waiting for delivery",
}
ACTION_LABELS = {"to_fulfil": "Approve", "shipped": "Mark shipped", "delivered": "Mark delivered"}
DONE_WORDS = {
    "to_fulfil": "approved, ready to fulfil",
    "shipped": "marked shipped",
    "delivered": "marked delivered",
    "refunded": "refunded, points given back",
}
ENTRY_LABELS = {
    "earn": "Earned",
    "redeem": "Redeemed",
    "expire": "Expired",
    "reverse": "Reversed",
    "adjust": "Adjusted",
}
NONCE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH, CHART_WIDTH = 22, 10, 110, 420
_A = cast(Table, LoyaltyAccount.__table__)
_E = cast(Table, LoyaltyEntry.__table__)
_EV = cast(Table, Event.__table__)


def may(principal: Principal | None, requirement: Any) -> bool:
    return principal is not None and principal.role in requirement.roles


# -- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierBar:
    name: str
    members: int
    y: int
    width: int


def tier_bars(session: Session, settings: Settings) -> list[TierBar]:
    """Members per tier, in the tiers' order, as bars of an inline SVG chart (no script needed)."""
    names = [tier.name for tier in settings.loyalty.tiers]
    counts = dict.fromkeys(names, 0)
    for tier, count in session.execute(
        select(LoyaltyAccount.tier, func.count()).group_by(LoyaltyAccount.tier)
    ):
        name = tier if tier in counts else names[0]  # "" (not yet placed) counts as the entry tier
        counts[name] += count
    widest = max(counts.values()) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 60
    return [
        TierBar(name, count, i * (BAR_HEIGHT + BAR_GAP), max(2, room * count // widest) if count else 0)
        for i, (name, count) in enumerate(counts.items())
    ]


def month_flows(session: Session, *, since: datetime) -> dict[str, int]:
    """Points issued, redeemed, expired, reversed (net of refunds) and taken off by staff since ``since``."""
    kind, points = LoyaltyEntry.kind, LoyaltyEntry.points

    def total(condition: ColumnElement[bool], sign: int = 1) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((condition, sign * points), else_=0)), 0)

    row = session.execute(
        select(
            total(and_(kind.in_(("earn", "adjust")), points > 0)),
            total(kind == "redeem", -1),
            total(kind == "expire", -1),
            total(kind == "reverse", -1),
            total(and_(kind == "adjust", points < 0), -1),
        ).where(LoyaltyEntry.at >= since)
    ).one()
    return dict(
        zip(("issued", "redeemed", "expired", "reversed", "adjusted"), (int(v) for v in row), strict=True)
    )


def fulfilment_rows(session: Session, found: Sequence[Redemption]) -> list[dict[str, Any]]:
    """Redemptions with their reward and person, and where each may go next."""
    rewards = {
        r.id: r for r in session.scalars(select(Reward).where(Reward.id.in_({f.reward_id for f in found})))
    }
    people = {
        p.id: p for p in session.scalars(select(Person).where(Person.id.in_({f.person_id for f in found})))
    }
    return [
        {
            "redemption": f,
            "reward": rewards[f.reward_id],
            "person": people.get(f.person_id),
            "next": catalogue.next_statuses(f.status, rewards[f.reward_id].kind),
        }
        for f in found
    ]


def _panel_statement(dialect: str, basis: str) -> Select[Any]:
    """The panel's figures in one statement: the account (outer-joined, so a non-member still gets
    a row), the ledger figures (``ledger.FIGURES_OF``), the lots (``ledger.LOTS_JSON``), the tier
    measure now and whether the person was erased. Bind ``person_id``, ``start``, ``now`` and
    ``currency``.
    """
    person: BindParameter[Any] = bindparam("person_id")
    start, now = bindparam("start", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime())
    figures = ledger.FIGURES_OF.subquery("figures")  # an aggregate without GROUP BY: always one row
    return select(
        _A.c.person_id,
        _A.c.balance,
        _A.c.issued,
        _A.c.tier,
        _A.c.tier_since,
        _A.c.tier_kept_until,
        *figures.c,
        ledger.LOTS_JSON[dialect].label("lots"),
        _measure(basis, person, start, now).label("measure"),
        erasure_recorded(person).label("erased"),
    ).select_from(figures.outerjoin(_A, _A.c.person_id == person))


def _measure(basis: str, person: Any, start: Any, now: Any) -> ScalarSelect[Any]:
    """``awards.tier_measure`` for one person as a scalar subquery (before the floor at 0): the same
    window and rules as ``awards_tiers.measures`` (the tests compare the two)."""
    if basis == "spend":
        signed = case((_EV.c.kind == "purchase", _EV.c.amount_minor), else_=-_EV.c.amount_minor)
        return (
            select(func.coalesce(func.sum(signed), 0))
            .where(
                _EV.c.person_id == person,
                _EV.c.kind.in_(("purchase", "refund")),
                _EV.c.currency == bindparam("currency"),
                _EV.c.amount_minor.is_not(None),
                _EV.c.occurred_at > start,
                _EV.c.occurred_at <= now,
                counts_as_spend(_EV.c),
            )
            .scalar_subquery()
        )
    earns = (_E.c.person_id == person, _E.c.kind == EntryKind.earn.value, _E.c.at > start, _E.c.at <= now)
    reversal = aliased(_E)
    earned = select(func.coalesce(func.sum(_E.c.points), 0)).where(*earns).scalar_subquery()
    taken_back = (
        select(func.coalesce(func.sum(-reversal.c.points), 0))
        .select_from(_E.join(reversal, reversal.c.reverses_id == _E.c.id))
        # A reversal is always the earn's person's (ledger.reverse_earn, _settle): saying so lets
        # PostgreSQL find the reversals by person instead of scanning them all (11 ms a person
        # page at 1M people).
        .where(
            *earns,
            reversal.c.person_id == person,
            reversal.c.kind == EntryKind.reverse.value,
            reversal.c.points < 0,
        )
        .scalar_subquery()
    )
    return select(earned - taken_back).scalar_subquery()


_PANEL_STATEMENTS: dict[tuple[str, str], Select[Any]] = {}
# The panel's other two reads, built once (what ``redemption.redemptions`` and ``ledger.entries_of``
# would read): building them per page view was a good part of the panel's cost. Only the columns
# the panel prints, not ORM objects (nor the redemptions' JSON history and address).
_PANEL_REDEMPTIONS = (
    select(Redemption.id, Redemption.reward_id, Redemption.points, Redemption.status, Reward.name)
    .join(Reward, Reward.id == Redemption.reward_id)
    .where(Redemption.person_id == bindparam("person_id"))
    .order_by(Redemption.created_at.desc(), Redemption.id.desc())
    .limit(5)
)
_PANEL_ENTRIES = (
    select(
        LoyaltyEntry.id,
        LoyaltyEntry.at,
        LoyaltyEntry.kind,
        LoyaltyEntry.rule,
        LoyaltyEntry.note,
        LoyaltyEntry.points,
    )
    .where(LoyaltyEntry.person_id == bindparam("person_id"))
    .order_by(LoyaltyEntry.id.desc())
    .limit(8)
)


def person_loyalty(session: Session, *, person_id: int, settings: Settings, now: datetime) -> dict[str, Any]:
    """The loyalty panel on a person's page (``loyalty/_person.html``), in three statements: the
    figures (``_panel_statement``), the latest entries, the latest redemptions with their rewards.

    Shows what ``ledger.summary``, ``awards.tier_progress``, ``ledger.entries_of``,
    ``redemption.redemptions`` and ``members.staff_link`` would, without reading anything twice.
    """
    config = settings.loyalty
    dialect = session.get_bind().dialect.name
    key = (dialect, config.tier_basis)
    if key not in _PANEL_STATEMENTS:
        _PANEL_STATEMENTS[key] = _panel_statement(*key)
    row = session.execute(
        _PANEL_STATEMENTS[key],
        {
            "person_id": person_id,
            "start": now - timedelta(days=config.tier_window_days),
            "now": now,
            "currency": settings.business.currency,
        },
    ).one()
    member, balance, issued, tier, tier_since, kept_until = row[:6]
    _, redeemed, expired, reversed_, adjusted, _ = (int(v) for v in row[6:12])
    lots = ledger.lots_from_json(row.lots)
    summary = ledger.AccountSummary(
        person_id=person_id,
        member=member is not None,
        balance=balance or 0,
        available=spendable(lots, now),
        pending=pending(lots, now),
        issued=issued or 0,
        redeemed=redeemed,
        expired=expired,
        reversed=reversed_,
        tier=tier or "",
        tier_since=tier_since,
        tier_kept_until=kept_until,
        expiring=expiring_soon(lots, now, 60),
        adjusted=adjusted,
    )
    return {
        "loyalty": summary,
        "loyalty_progress": progress(
            config.tiers,
            current=summary.tier,
            measure=max(0, int(row.measure or 0)),
            basis=config.tier_basis,
            kept_until=kept_until,
        ),
        "loyalty_pending": sorted((lot.available_at, lot.remaining) for lot in lots if lot.is_pending(now)),
        "loyalty_entries": session.execute(_PANEL_ENTRIES, {"person_id": person_id}).all(),
        "loyalty_redemptions": session.execute(_PANEL_REDEMPTIONS, {"person_id": person_id}).all(),
        "loyalty_link": None
        if row.erased
        else customer_link(settings=settings, person_id=person_id, now=now),
        "loyalty_nonce": secrets.token_urlsafe(24),
        "entry_labels": ENTRY_LABELS,
    }


# -- forms ------------------------------------------------------------------------------------------


class RewardForm(BaseModel):
    name: str = ""
    kind: str = ""
    cost_points: str = ""
    description: str = ""
    stock: str = ""
    per_person_limit: str = ""
    available_from: str = ""
    available_until: str = ""
    active: str = ""

    def data(self, tz: ZoneInfo) -> catalogue.RewardInput:
        """The form as the catalogue's input; a number or time that does not read is a RewardError."""
        return catalogue.RewardInput(
            name=self.name,
            kind=self.kind,
            cost_points=_whole("cost_points", self.cost_points) or 0,
            description=self.description,
            stock=_whole("stock", self.stock),
            per_person_limit=_whole("per_person_limit", self.per_person_limit),
            available_from=_local_time("available_from", self.available_from, tz),
            available_until=_local_time("available_until", self.available_until, tz),
            active=bool(self.active),
        )


def _whole(field: str, text: str) -> int | None:
    text = text.strip().replace(",", "").replace(" ", "")
    if not text:
        return None
    if not re.fullmatch(r"-?\d{1,12}", text):
        raise catalogue.RewardError(field, f"must be a whole number, got {text!r}")
    return int(text)


def _local_time(field: str, text: str, tz: ZoneInfo) -> datetime | None:
    """A ``datetime-local`` field, read in the business's time zone."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=tz)
    except ValueError:
        raise catalogue.RewardError(field, f"is not a date and time: {text!r}") from None


def _number(text: str) -> int | str | None:
    """A whole number typed into a form; anything else goes on as typed, for validation to name."""
    clean = text.strip().replace(",", "")
    return int(clean) if re.fullmatch(r"-?\d{1,12}", clean) else (clean or None)


class RuleForm(BaseModel):
    trigger: str = ""
    label: str = ""
    points: str = ""
    points_per_unit: str = ""
    tier_multiplier: str = ""
    cap_per_day: str = ""
    cap_per_month: str = ""
    starts_on: str = ""
    ends_on: str = ""
    tiers: list[str] = []
    segments: str = ""
    enabled: str = ""

    def definition(self, name: str) -> dict[str, Any]:
        """The rule as ``save_rule`` takes it; empty fields are "none" (no cap, no date)."""
        numbers = {
            f: getattr(self, f).strip() or None
            for f in ("points", "points_per_unit", "cap_per_day", "cap_per_month")
        }
        return {
            "name": name,
            "trigger": self.trigger,
            "label": self.label.strip(),
            "points": numbers["points"] or 0,
            "points_per_unit": numbers["points_per_unit"] or 0,
            "tier_multiplier": bool(self.tier_multiplier),
            "cap_per_day": numbers["cap_per_day"],
            "cap_per_month": numbers["cap_per_month"],
            "starts_on": self.starts_on.strip() or None,
            "ends_on": self.ends_on.strip() or None,
            "tiers": [t for t in self.tiers if t],
            "segments": [s.strip() for s in self.segments.split(",") if s.strip()],
            "enabled": bool(self.enabled),
        }


# -- pages ------------------------------------------------------------------------------------------


@router.get("/loyalty")
def overview(request: Request, session: DbSession, settings: AppSettings, who: PeopleReader) -> Response:
    now = utcnow()
    start, _ = month_bounds(now.astimezone(settings.business.tz).date(), settings.business.tz)
    queue = redeeming.redemptions(session, statuses=[RedemptionStatus.pending, RedemptionStatus.to_fulfil])
    context = {
        "nav": "loyalty",
        "totals": ledger.totals(session, now=now),
        "month": month_flows(session, since=start),
        "month_start": start,
        "bars": tier_bars(session, settings),
        "chart": {"width": CHART_WIDTH, "label": LABEL_WIDTH, "bar": BAR_HEIGHT, "gap": BAR_GAP},
        "queue": len(queue),
        "may_run": may(who, run_loyalty),
    }
    return render(request, "loyalty/overview.html", context)


def _rewards_page(
    request: Request, session: Session, who: Principal, status: int = 200, **extra: Any
) -> Response:
    context = {
        "nav": "loyalty",
        "rewards": catalogue.list_rewards(session),
        "kind_labels": catalogue.KIND_LABELS,
        "may_edit": may(who, run_loyalty),
        **extra,
    }
    return render(request, "loyalty/rewards.html", context, status_code=status)


@router.get("/loyalty/rewards")
def rewards_page(
    request: Request, session: DbSession, who: PeopleReader, saved: int | None = None
) -> Response:
    return _rewards_page(request, session, who, saved=saved)


@router.post("/loyalty/rewards")
def add_reward(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    who: LoyaltyRunner,
    form: Annotated[RewardForm, Form()],
) -> Response:
    try:
        created = catalogue.create_reward(session, data=form.data(settings.business.tz))
    except catalogue.RewardError as exc:
        session.rollback()
        return _rewards_page(
            request, session, who, 422, error=exc.reason, error_field=exc.field, form=form, error_id=0
        )
    return RedirectResponse(f"/loyalty/rewards?saved={created.id}#reward-{created.id}", status_code=303)


@router.post("/loyalty/rewards/{reward_id}")
def change_reward(
    request: Request,
    reward_id: int,
    session: DbSession,
    settings: AppSettings,
    who: LoyaltyRunner,
    form: Annotated[RewardForm, Form()],
) -> Response:
    try:
        catalogue.update_reward(session, reward_id=reward_id, data=form.data(settings.business.tz))
    except (catalogue.RewardError, catalogue.RewardNotFound) as exc:
        session.rollback()
        reason, field = (exc.reason, exc.field) if isinstance(exc, catalogue.RewardError) else (str(exc), "")
        return _rewards_page(
            request, session, who, 422, error=reason, error_field=field, form=form, error_id=reward_id
        )
    return RedirectResponse(f"/loyalty/rewards?saved={reward_id}#reward-{reward_id}", status_code=303)


def _rules_page(
    request: Request, session: Session, settings: Settings, who: Principal, status: int = 200, **extra: Any
) -> Response:
    rules, problems = awards.load_rules_checked(session, config=settings.loyalty)
    context = {
        "nav": "loyalty",
        "rules": rules,
        "problems": problems,
        "edited": edited_rules(session),
        "tiers": [tier.name for tier in settings.loyalty.tiers],
        "may_edit": may(who, edit_loyalty_rules),
        **extra,
    }
    return render(request, "loyalty/rules.html", context, status_code=status)


@router.get("/loyalty/rules")
def rules_page(
    request: Request, session: DbSession, settings: AppSettings, who: PeopleReader, saved: str | None = None
) -> Response:
    return _rules_page(request, session, settings, who, saved=saved)


@router.post("/loyalty/rules/{name}")
def save_rule(
    request: Request,
    name: str,
    session: DbSession,
    settings: AppSettings,
    who: LoyaltyRuleEditor,
    form: Annotated[RuleForm, Form()],
) -> Response:
    try:
        awards.save_rule(
            session, definition=form.definition(name), by_user_id=who.user_id, config=settings.loyalty
        )
    except RuleError as exc:
        session.rollback()
        return _rules_page(request, session, settings, who, 422, error=str(exc), error_rule=name)
    return RedirectResponse(f"/loyalty/rules?saved={name}#rule-{name}", status_code=303)


def _fulfilment_page(request: Request, session: Session, status: int = 200, **extra: Any) -> Response:
    rows = fulfilment_rows(session, redeeming.redemptions(session, statuses=list(OPEN)))
    done = fulfilment_rows(
        session,
        redeeming.redemptions(
            session, statuses=[RedemptionStatus.delivered, RedemptionStatus.refunded], limit=10
        ),
    )
    groups = [
        (s.value, STATUS_TITLES[s.value], [r for r in rows if r["redemption"].status == s]) for s in OPEN
    ]
    context = {
        "nav": "loyalty",
        "groups": groups,
        "total": len(rows),
        "done": done,
        "action_labels": ACTION_LABELS,
        **extra,
    }
    return render(request, "loyalty/fulfilment.html", context, status_code=status)


@router.get("/loyalty/fulfilment")
def fulfilment(
    request: Request, session: DbSession, _: LoyaltyRunner, moved: int | None = None, to: str = ""
) -> Response:
    flash = f"Redemption #{moved}: {DONE_WORDS[to]}." if moved is not None and to in DONE_WORDS else None
    return _fulfilment_page(request, session, flash=flash)


@router.post("/loyalty/fulfilment/{redemption_id}/status")
def advance(
    request: Request,
    redemption_id: int,
    session: DbSession,
    who: LoyaltyRunner,
    to_status: Annotated[str, Form(max_length=20)],
    tracking: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        redeeming.advance(
            session,
            redemption_id=redemption_id,
            to_status=to_status,
            by_user_id=who.user_id,
            now=utcnow(),
            tracking=tracking or None,
        )
    except ledger.Refused as exc:
        session.rollback()
        return _fulfilment_page(request, session, 422, error=exc.message, error_id=redemption_id)
    return RedirectResponse(
        f"/loyalty/fulfilment?{urlencode({'moved': redemption_id, 'to': to_status})}", status_code=303
    )


@router.post("/loyalty/fulfilment/{redemption_id}/refund")
def refund(
    request: Request,
    redemption_id: int,
    session: DbSession,
    who: LoyaltyRunner,
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    try:
        redeeming.refund(
            session, redemption_id=redemption_id, by_user_id=who.user_id, now=utcnow(), reason=reason
        )
    except ledger.Refused as exc:
        session.rollback()
        return _fulfilment_page(request, session, 422, error=exc.message, error_id=redemption_id)
    return RedirectResponse(f"/loyalty/fulfilment?moved={redemption_id}&to=refunded", status_code=303)


@router.post("/people/{person_id}/loyalty/adjust")
def adjust(
    request: Request,
    person_id: int,
    session: DbSession,
    settings: AppSettings,
    who: LoyaltyRunner,
    points: Annotated[int, Form(ge=-1_000_000, le=1_000_000)],
    reason: Annotated[str, Form(min_length=1, max_length=300)],
    nonce: Annotated[str, Form(pattern=NONCE.pattern)],
) -> Response:
    """A correction from the person page; the form's nonce makes a double submit write once."""
    get_person(session, person_id)
    try:
        ledger.adjust(
            session,
            person_id=person_id,
            points=points,
            reason=reason,
            key=f"adjust:page:{nonce}",
            by_user_id=who.user_id,
            now=utcnow(),
            config=settings.loyalty,
        )
    except ledger.LoyaltyError as exc:
        session.rollback()
        message = exc.message if isinstance(exc, ledger.Refused) else str(exc)
        context = {"nav": "people", "message": message, "person_id": person_id}
        return render(request, "loyalty/refused.html", context, status_code=422)
    return RedirectResponse(f"/people/{person_id}#loyalty", status_code=303)
