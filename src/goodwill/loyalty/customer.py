"""A customer's own loyalty page, reached by a signed link: no login, the link is the credential.

``GET /my/loyalty/{token}`` shows their points (what is spendable, what is pending and until when,
what expires soon), their tier and what keeps or lifts it, and the rewards they can afford, each
with a one-click *Redeem* button. ``POST /my/loyalty/{token}/redeem`` redeems;
``POST /my/loyalty/{token}/birthday`` keeps (or forgets) their birthday, month and day only.

- The person is whoever the token names, and only that: no form field can say otherwise.
- Each button's form carries a random nonce (unguessable, made when the page is shown) that is the
  redemption's ``request_key``: a double click or a resubmitted form finds the same redemption
  instead of spending twice.
- No CSRF token: the token in the path is the whole authorisation, as on the unsubscribe pages
  (and CSP ``form-action 'self'`` keeps the forms here). These routes read no login cookie.
- The token sits in the URL, so these pages send ``Referrer-Policy: no-referrer``: a link followed
  from here never hands it to another site.
- A link is a bearer credential that may be forwarded, so the page never shows where the person
  lives (the delivery form starts with their name and country only) nor their birthday, and a
  link of someone erased since it was made works no more (their tombstone row still exists).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from goodwill.config import Settings
from goodwill.db import utcnow
from goodwill.loyalty import awards, ledger
from goodwill.loyalty.ledger import AccountSummary, Refused
from goodwill.loyalty.links import BadLink, read_customer_token
from goodwill.loyalty.members import BadBirthday, birthday_of, is_erased, set_birthday
from goodwill.loyalty.model import Redemption, Reward
from goodwill.loyalty.redemption import redeem, redemptions
from goodwill.loyalty.rewards import KIND_LABELS, ShipTo, list_rewards, needs_address
from goodwill.loyalty.tiers import TierProgress
from goodwill.people.model import Person
from goodwill.web.deps import AppSettings, DbSession
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

PUBLIC_HEADERS = {"referrer-policy": "no-referrer"}
NONCE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
CLOSE_SHOWN = 3  # rewards just out of reach, to show what a little more would bring
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
MONTHS = [(n, date(2000, n, 1).strftime("%B")) for n in range(1, 13)]
BIRTHDAY_WORDS = {
    "saved": "Thank you! We will remember your birthday.",
    "forgotten": "Done: we no longer keep your birthday.",
}
STATUS_WORDS = {
    "pending": "received, we will check it shortly",
    "to_fulfil": "being prepared",
    "shipped": "on its way",
    "delivered": "done",
    "refunded": "cancelled, points returned",
}


@dataclass
class CustomerView:
    person: Person
    summary: AccountSummary
    progress: TierProgress
    pending_lots: list[tuple[datetime, int]]  # (available from, points), soonest first
    affordable: list[Reward]
    close: list[Reward]
    recent: list[tuple[Redemption, str]]  # their latest redemptions and the reward's name
    perks: dict[str, str]
    birthday_known: bool
    nonces: dict[int, str] = field(default_factory=dict)  # reward id -> the form's nonce


def customer_view(session: Session, *, person: Person, now: datetime, settings: Settings) -> CustomerView:
    """Everything the page shows, read in the request's transaction."""
    summary = ledger.summary(session, person_id=person.id, now=now)
    pending: dict[datetime, int] = {}
    for lot in ledger.lots_of(session, person_id=person.id):
        if lot.is_pending(now):
            pending[lot.available_at] = pending.get(lot.available_at, 0) + lot.remaining
    rewards = list_rewards(session, available_at=now)
    names = {r.id: r.name for r in list_rewards(session)}
    recent = [
        (r, names.get(r.reward_id, "a reward")) for r in redemptions(session, person_id=person.id, limit=5)
    ]
    return CustomerView(
        person=person,
        summary=summary,
        progress=awards.tier_progress(
            session,
            person_id=person.id,
            now=now,
            config=settings.loyalty,
            currency=settings.business.currency,
        ),
        pending_lots=sorted(pending.items()),
        affordable=[r for r in rewards if r.cost_points <= summary.available],
        close=[r for r in rewards if r.cost_points > summary.available][:CLOSE_SHOWN],
        recent=recent,
        perks={tier.name: tier.perks for tier in settings.loyalty.tiers},
        birthday_known=birthday_of(session, person_id=person.id) is not None,
        nonces={r.id: secrets.token_urlsafe(24) for r in rewards if r.cost_points <= summary.available},
    )


def _person(request: Request, session: Session, token: str) -> Person | Response:
    """The token's person, or the page saying the link no longer works (410 expired, 404 otherwise)."""
    try:
        person_id = read_customer_token(secret_key=request.app.state.secret_key, token=token, now=utcnow())
    except BadLink as exc:
        status = 410 if exc.expired else 404
        return render(
            request,
            "loyalty/link_broken.html",
            {"expired": exc.expired},
            status_code=status,
            headers=PUBLIC_HEADERS,
        )
    person = session.get(Person, person_id)
    if person is None or is_erased(session, person_id=person.id):  # erased since the link was made
        return render(
            request, "loyalty/link_broken.html", {"expired": False}, status_code=404, headers=PUBLIC_HEADERS
        )
    return person


def _page(
    request: Request, session: Session, settings: Settings, person: Person, token: str, **extra: Any
) -> Response:
    view = customer_view(session, person=person, now=utcnow(), settings=settings)
    context = {
        "view": view,
        "token": token,
        "kind_labels": KIND_LABELS,
        "needs_address": needs_address,
        "status_words": STATUS_WORDS,
        "months": MONTHS,
        **extra,
    }
    return render(
        request,
        "loyalty/customer.html",
        context,
        status_code=422 if "error" in extra or "birthday_error" in extra else 200,
        headers=PUBLIC_HEADERS,
    )


@router.get("/my/loyalty/{token}")
def customer_page(
    request: Request,
    token: str,
    session: DbSession,
    settings: AppSettings,
    redeemed: int | None = None,
    birthday: str = "",
) -> Response:
    found = _person(request, session, token)
    if isinstance(found, Response):
        return found
    if birthday in BIRTHDAY_WORDS:
        return _page(request, session, settings, found, token, birthday_done=BIRTHDAY_WORDS[birthday])
    done = session.get(Redemption, redeemed) if redeemed is not None else None
    if done is None or done.person_id != found.id:  # someone else's number in the query: say nothing
        return _page(request, session, settings, found, token)
    return _page(
        request, session, settings, found, token, done=done, done_reward=session.get(Reward, done.reward_id)
    )


def ship_to_from(form: dict[str, str]) -> ShipTo | None:
    """The address typed in, or None when the form had none (rewards that are not sent by post)."""
    values = {name: " ".join(form.get(name, "").split()) for name in ADDRESS_FIELDS}
    if not any(values.values()):
        return None
    return ShipTo(**values)


@router.post("/my/loyalty/{token}/redeem")
def customer_redeem(
    request: Request,
    token: str,
    session: DbSession,
    settings: AppSettings,
    reward_id: Annotated[int, Form()],
    nonce: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)] = "",
    line1: Annotated[str, Form(max_length=200)] = "",
    line2: Annotated[str, Form(max_length=200)] = "",
    city: Annotated[str, Form(max_length=100)] = "",
    region: Annotated[str, Form(max_length=100)] = "",
    postal_code: Annotated[str, Form(max_length=20)] = "",
    country: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    found = _person(request, session, token)
    if isinstance(found, Response):
        return found
    address = {
        "name": name,
        "line1": line1,
        "line2": line2,
        "city": city,
        "region": region,
        "postal_code": postal_code,
        "country": country,
    }
    if not NONCE.match(nonce):
        return _page(
            request,
            session,
            settings,
            found,
            token,
            error="This form is out of date: please try again.",
            error_reward=reward_id,
            address=address,
        )
    try:
        result = redeem(
            session,
            person_id=found.id,
            reward_id=reward_id,
            request_key=f"page:{nonce}",
            ship_to=ship_to_from(address),
            now=None,  # read once the account is held
            by="customer",
            settings=settings,
        )
    except Refused as exc:
        session.rollback()  # nothing of a refused redemption is kept
        return _page(
            request,
            session,
            settings,
            found,
            token,
            error=exc.message,
            error_reward=reward_id,
            address=address,
        )
    return RedirectResponse(
        f"/my/loyalty/{token}?redeemed={result.redemption.id}", status_code=303, headers=PUBLIC_HEADERS
    )


@router.post("/my/loyalty/{token}/birthday")
def customer_birthday(
    request: Request,
    token: str,
    session: DbSession,
    settings: AppSettings,
    month: Annotated[str, Form(max_length=2)] = "",
    day: Annotated[str, Form(max_length=2)] = "",
    forget: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Their birthday, month and day (no year), for the birthday bonus; ``forget`` drops it."""
    found = _person(request, session, token)
    if isinstance(found, Response):
        return found
    try:
        if forget:
            set_birthday(session, person_id=found.id, month=None, day=None, now=utcnow())
        elif not (month.isdigit() and day.isdigit()):
            raise BadBirthday("Please choose the month and the day.")
        else:
            set_birthday(session, person_id=found.id, month=int(month), day=int(day), now=utcnow())
    except BadBirthday as exc:
        session.rollback()
        words = str(exc)
        return _page(request, session, settings, found, token, birthday_error=words[:1].upper() + words[1:])
    done = "forgotten" if forget else "saved"
    return RedirectResponse(
        f"/my/loyalty/{token}?birthday={done}#birthday", status_code=303, headers=PUBLIC_HEADERS
    )
