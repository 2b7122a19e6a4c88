"""``goodwill import events``: any interaction (visits, complaints, praise...) from CSV or JSON Lines.

Fields: ``source_id, email, name, kind, occurred_at`` and optionally ``amount, currency, channel,
staff_email, text``. Stored with source "import" and the file's ``source_id``, so a re-run or an
overlapping file adds nothing twice. A ``staff_email`` that matches no staff account rejects the
row (rather than silently dropping who did it): add the user, or clear the cell, and re-run.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from goodwill.config import Business, Settings, get_settings
from goodwill.db import ignoring_duplicates, utcnow
from goodwill.events.follow_ups import after_new_events
from goodwill.events.importers.csvfile import Progress
from goodwill.events.importers.parsing import (
    RowError,
    check_currency,
    check_email,
    clean_text,
    parse_datetime,
    parse_money,
)
from goodwill.events.importers.records import Fields, csv_records, is_json_lines, jsonl_records
from goodwill.events.importers.report import ImportReport
from goodwill.events.model import EVENT_KINDS, Event
from goodwill.loyalty.awards import award_events
from goodwill.people.model import kind_for_first_event, normalise_email
from goodwill.people.service import PersonRecord, mark_customers, resolve_people
from goodwill.team.model import User

SOURCE = "import"
BATCH = 2000
CHUNK = 500
COLUMNS: dict[str, tuple[str, ...]] = {
    "source_id": ("id", "event_id", "external_id"),
    "email": ("e_mail", "email_address", "customer_email"),
    "name": ("customer_name", "full_name"),
    "kind": ("type", "event_type", "event_kind"),
    "occurred_at": ("date", "at", "timestamp", "datetime", "time"),
    "amount": ("total",),
    "currency": ("currency_code",),
    "channel": (),
    "staff_email": ("staff", "user_email"),
    "text": ("note", "notes", "description", "comment"),
}
REQUIRED = ["source_id", "email", "kind", "occurred_at"]


@dataclass(slots=True)
class _Row:
    line: int
    source_id: str
    person: PersonRecord
    kind: str
    occurred_at: datetime
    amount_minor: int | None
    currency: str | None
    channel: str | None
    staff_email: str | None
    text: str | None


def import_events_file(
    *,
    session: Session,
    path: Path,
    business: Business,
    progress: Progress | None,
    settings: Settings | None = None,
) -> ImportReport:
    """Store the file's new events batch by batch; each batch's new events earn loyalty points
    (when the program is on in ``settings``, by default this process's) in the same transaction."""
    report = ImportReport()
    loyalty = (settings or get_settings()).model_copy(update={"business": business})
    if is_json_lines(path):
        records = jsonl_records(path, COLUMNS, progress)
    else:
        records = csv_records(path, COLUMNS, REQUIRED, "an events file", progress)
    seen: set[str] = set()
    batch: list[_Row] = []
    for line, fields in records:
        report.rows += 1
        try:
            if isinstance(fields, RowError):
                raise fields
            row = _parse(line, fields, business)
        except RowError as exc:
            report.reject(line, str(exc))
            continue
        if row.source_id in seen:
            report.duplicates += 1
            report.duplicate_rows += 1
            continue
        seen.add(row.source_id)
        batch.append(row)
        if len(batch) >= BATCH:
            _store(session, batch, report, loyalty)
            batch = []
    _store(session, batch, report, loyalty)
    return report


def check_kind(text: str) -> str:
    kind = text.strip().lower()
    if not kind:
        raise RowError("missing kind")
    if kind not in EVENT_KINDS:
        close = difflib.get_close_matches(kind, EVENT_KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (see docs/import.md for the kinds)"
        raise RowError(f"unknown event kind {text.strip()!r}{hint}")
    return kind


def _parse(line: int, f: Fields, business: Business) -> _Row:
    source_id = f.get("source_id", "").strip()
    if not source_id:
        raise RowError("missing source_id")
    if len(source_id) > 200:
        raise RowError("source_id is longer than 200 characters")
    email = check_email(f.get("email", ""))
    kind = check_kind(f.get("kind", ""))
    occurred_at = parse_datetime(f.get("occurred_at", ""), business.tz, field="occurred_at")
    amount_text, currency_text = f.get("amount", ""), f.get("currency", "")
    amount = currency = None
    if amount_text.strip():
        currency = check_currency(currency_text, business.currency)
        amount = parse_money(amount_text, currency, field="amount")
    elif currency_text.strip():
        raise RowError(f"currency {currency_text.strip()!r} given without an amount")
    channel = clean_text(f.get("channel", ""), limit=1000)
    if channel and len(channel) > 40:
        raise RowError("channel is longer than 40 characters")
    staff = f.get("staff_email", "").strip()
    person = PersonRecord(
        name=clean_text(f.get("name", ""), limit=200) or "",
        email=email,
        kind=kind_for_first_event(kind).value,
    )
    return _Row(
        line, source_id, person, kind, occurred_at, amount, currency, channel.lower() if channel else None,
        normalise_email(check_email(staff)) if staff else None, f.get("text", "").strip() or None,
    )  # fmt: skip


def _store(session: Session, batch: list[_Row], report: ImportReport, settings: Settings) -> None:
    if not batch:
        return
    staff = _staff_ids(session, {r.staff_email for r in batch if r.staff_email})
    existing = _existing_source_ids(session, [r.source_id for r in batch])
    keep: list[_Row] = []
    for row in batch:
        if row.source_id in existing:
            report.duplicates += 1
            report.duplicate_rows += 1
        elif row.staff_email and row.staff_email not in staff:
            report.reject(
                row.line, f"staff_email {row.staff_email!r} matches no staff account (add the user first)"
            )
        else:
            keep.append(row)
    if not keep:
        return
    person_ids, created = resolve_people(session, [r.person for r in keep], source="import")
    report.people += created
    now = utcnow()
    values: list[dict[str, Any]] = [
        {
            "person_id": pid, "kind": r.kind, "occurred_at": r.occurred_at, "amount_minor": r.amount_minor,
            "currency": r.currency, "channel": r.channel, "staff_id": staff.get(r.staff_email or ""),
            "text": r.text, "order_id": None, "source": SOURCE, "source_id": r.source_id, "recorded_at": now,
        }
        for r, pid in zip(keep, person_ids, strict=True)
    ]  # fmt: skip
    stored = session.execute(
        ignoring_duplicates(session, Event.__table__).returning(Event.id, Event.person_id), values
    ).all()
    touched = [person_id for _, person_id in stored]
    report.events += len(touched)
    report.kept_rows += len(touched)
    report.duplicates += len(keep) - len(touched)  # stored by a concurrent import meanwhile
    report.duplicate_rows += len(keep) - len(touched)
    report.person_ids.update(touched)
    mark_customers(session, [pid for r, pid in zip(keep, person_ids, strict=True) if r.kind == "purchase"])
    if settings.loyalty.enabled and stored:
        award_events(session, event_ids=[event_id for event_id, _ in stored], now=now, settings=settings)
    after_new_events(session, event_ids=[event_id for event_id, _ in stored], settings=settings)


def _staff_ids(session: Session, emails: set[str]) -> dict[str, int]:
    if not emails:
        return {}
    rows = session.execute(
        select(func.lower(User.email), User.id).where(func.lower(User.email).in_(sorted(emails)))
    )
    return {email: uid for email, uid in rows}


def _existing_source_ids(session: Session, source_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(source_ids), CHUNK):
        found.update(
            session.scalars(
                select(Event.source_id).where(
                    Event.source == SOURCE, Event.source_id.in_(source_ids[start : start + CHUNK])
                )
            )
        )
    return found
