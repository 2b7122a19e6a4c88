"""A person's bank statement and the at-risk list, as plain data for the CLI, API and pages."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from goodwill.bank.chart import Chart, balance_chart
from goodwill.bank.config import load_bank_config
from goodwill.bank.model import BankEntry, BankStanding
from goodwill.bank.rules import (
    LABELS,
    BankConfig,
    Entry,
    Status,
    running_balances,
    standing,
)
from goodwill.bank.service import ENTRY_COLUMNS, entries_of, refresh_due, stored_entry
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


def _detail(body: str | None) -> str:
    """An event's text on one line, at most 80 characters."""
    text = " ".join((body or "").split())
    return text if len(text) <= 80 else text[:79] + "…"


def _texts(session: Session, event_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        for event_id, body in session.execute(select(Event.id, Event.text).where(Event.id.in_(chunk))):
            found[event_id] = _detail(body)
    return found


# ``service.entries_select`` with each entry's event text, built once with a bound person id.
ENTRIES_WITH_TEXTS = (
    select(*ENTRY_COLUMNS, Event.text)
    .outerjoin(Event, Event.id == BankEntry.event_id)
    .where(BankEntry.person_id == bindparam("person_id"))
    .order_by(BankEntry.at, BankEntry.event_id, BankEntry.rule)
)


def _entries_with_texts(session: Session, person_id: int) -> tuple[list[Entry], dict[int, str]]:
    """``service.entries_of`` and each entry's event text (shortened) in one statement."""
    rows = session.execute(ENTRIES_WITH_TEXTS, {"person_id": person_id})
    entries: list[Entry] = []
    texts: dict[int, str] = {}
    for row in rows:
        entry = stored_entry(row)
        entries.append(entry)
        if entry.event_id not in texts:
            texts[entry.event_id] = _detail(row[7])
    return entries, texts


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
    entries, texts = _entries_with_texts(session, person.id)
    rows, closing = running_balances(entries, config, as_of)
    now = standing(entries, config, as_of)
    lines = [
        StatementLine(
            at=entry.at,
            local_date=entry.at.astimezone(tz).date().isoformat(),
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


def hide_details(found: Statement, event_ids: Collection[int], text: str) -> Statement:
    """``found`` with the details of the given events' lines replaced by ``text`` (for a viewer who may
    not read those events' words; the amounts and balances stay)."""
    if not event_ids:
        return found
    lines = [replace(line, detail=text) if line.event_id in event_ids else line for line in found.lines]
    return replace(found, lines=lines)


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
