"""A person's bank statement and the at-risk list, as plain data for the CLI, API and pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from goodwill.bank.chart import Chart, balance_chart
from goodwill.bank.config import load_bank_config
from goodwill.bank.model import BankStanding
from goodwill.bank.rules import LABELS, BankConfig, Status, running_balances, standing
from goodwill.bank.service import entries_of, refresh_due
from goodwill.config import get_settings
from goodwill.db import utcnow
from goodwill.events.model import Event
from goodwill.money import to_decimal
from goodwill.people.model import Person
from goodwill.people.service import get_person

ALERT_STATUSES = (Status.watch.value, Status.overdrawn.value)


@dataclass(frozen=True)
class StatementLine:
    at: datetime
    local_date: str  # in the business time zone
    event_id: int
    kind: str
    rule: str
    label: str
    detail: str  # the event's own words, shortened
    amount: int
    balance: float


@dataclass(frozen=True)
class Statement:
    person: dict[str, Any]
    as_of: datetime
    balance: float
    bad_streak: int
    status: str
    lines: list[StatementLine]
    chart: Chart | None

    def as_json(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "as_of": self.as_of.isoformat(),
            "opening_balance": 0.0,
            "balance": round(self.balance, 4),
            "bad_streak": self.bad_streak,
            "status": self.status,
            "entries": [
                {
                    "at": line.at.isoformat(),
                    "event_id": line.event_id,
                    "kind": line.kind,
                    "rule": line.rule,
                    "label": line.label,
                    "amount": line.amount,
                    "balance": round(line.balance, 4),
                }
                for line in self.lines
            ],
        }


def _texts(session: Session, event_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        for event_id, body in session.execute(select(Event.id, Event.text).where(Event.id.in_(chunk))):
            text = " ".join((body or "").split())
            found[event_id] = text if len(text) <= 80 else text[:79] + "…"
    return found


def statement(
    *,
    session: Session,
    person_ref: str | int,
    as_of: datetime | None = None,
    config: BankConfig | None = None,
    tz: ZoneInfo | None = None,
) -> Statement:
    """Opening balance 0, each entry with the running (decayed) balance, closing balance and status."""
    config = config or load_bank_config(get_settings())
    tz = tz or get_settings().business.tz
    as_of = as_of or utcnow()
    person = get_person(session, person_ref)
    entries = entries_of(session, person.id)
    rows, closing = running_balances(entries, config, as_of)
    now = standing(entries, config, as_of)
    texts = _texts(session, sorted({entry.event_id for entry, _ in rows}))
    lines = [
        StatementLine(
            at=entry.at,
            local_date=entry.at.astimezone(tz).strftime("%Y-%m-%d"),
            event_id=entry.event_id,
            kind=entry.kind,
            rule=entry.rule,
            label=LABELS.get(entry.rule, entry.rule),
            detail=texts.get(entry.event_id, ""),
            amount=entry.amount,
            balance=balance,
        )
        for entry, balance in rows
    ]
    chart = balance_chart([(e.at, b) for e, b in rows], as_of, config.half_life_days)
    return Statement(
        person={"id": person.id, "name": person.name, "email": person.email},
        as_of=as_of,
        balance=closing,
        bad_streak=now.bad_streak,
        status=now.status.value,
        lines=lines,
        chart=chart,
    )


def alerts(
    *,
    session: Session,
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
    config: BankConfig | None = None,
    currency: str | None = None,
    tz: ZoneInfo | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Everyone on watch or overdrawn, most valuable first, each with the streak that put them there.

    Standings whose future-dated entries have come due are refreshed first (this writes).
    """
    config = config or load_bank_config(get_settings())
    currency = currency or get_settings().business.currency
    tz = tz or get_settings().business.tz
    now = now or utcnow()
    try:
        # Deadlines that passed since the last write (unanswered questions) change standings. Two
        # readers may do this at once: whoever loses the race finds the work done by the other.
        with session.begin_nested():
            refresh_due(session=session, now=now, config=config, currency=currency)
    except IntegrityError:
        pass
    flagged = BankStanding.status.in_(ALERT_STATUSES)
    total = session.scalar(select(func.count()).select_from(BankStanding).where(flagged)) or 0
    rows = session.execute(
        select(BankStanding, Person)
        .join(Person, Person.id == BankStanding.person_id)
        .where(flagged)
        .order_by(BankStanding.value_minor.desc(), BankStanding.person_id)
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    ).all()
    items = []
    for row, person in rows:
        now_standing = standing(entries_of(session, person.id), config, now)
        texts = _texts(session, [e.event_id for e in now_standing.streak_entries])
        items.append(
            {
                "person": {"id": person.id, "name": person.name, "email": person.email},
                "status": row.status,
                "bad_streak": row.bad_streak,
                "balance": round(now_standing.balance, 4),
                "value": str(to_decimal(row.value_minor, currency)),
                "currency": currency,
                "streak": [
                    {
                        "at": e.at.isoformat(),
                        "local_date": e.at.astimezone(tz).strftime("%Y-%m-%d"),
                        "event_id": e.event_id,
                        "kind": e.kind,
                        "rule": e.rule,
                        "label": LABELS.get(e.rule, e.rule),
                        "amount": e.amount,
                        "detail": texts.get(e.event_id, ""),
                    }
                    for e in now_standing.streak_entries
                ],
            }
        )
    return items, int(total)
