"""``goodwill import people``: customers and prospects from a CSV (a CRM, a mailing list, a sheet).

A row names a person by ``email`` and/or ``external_id`` (``system:id``, e.g. ``crm:4711``).
A new person is created; a known one is updated with the non-empty cells that differ (an empty
cell never erases anything), gains the row's facts, and gets consent changes under the rule in
``consent.py``. A row that creates nobody counts as a duplicate, even when it updated details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from goodwill.config import Business
from goodwill.db import ignoring_duplicates, utcnow
from goodwill.events.importers.consent import apply_imported_consent
from goodwill.events.importers.csvfile import Progress
from goodwill.events.importers.parsing import RowError, check_email, clean_text, clean_zip, parse_yes_no
from goodwill.events.importers.records import csv_records, is_json_lines, jsonl_records
from goodwill.events.importers.report import ImportReport
from goodwill.people.model import Channel, Fact, Person, PersonKind, search_key_for
from goodwill.people.service import PersonRecord, find_ids, resolve_people

SOURCE = "import"
BATCH = 1000
CHANNELS = [c.value for c in Channel]
COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("e_mail", "email_address"),
    "external_id": ("id", "customer_id"),
    "name": ("full_name",),
    "first_name": ("given_name",),
    "last_name": ("family_name", "surname"),
    "preferred_name": ("nickname", "known_as"),
    "phone": ("telephone", "phone_number", "mobile"),
    "address_line1": ("address", "address1", "street"),
    "address_line2": ("address2",),
    "city": ("town",),
    "region": ("state", "province", "county"),
    "postal_code": ("zip", "zip_code", "postcode"),
    "country": (),
    "preferred_channel": ("channel",),
    "time_zone": ("timezone", "tz"),
    "kind": ("type",),
    **{f"consent_{c}": (f"{c}_consent", f"accepts_{c}") for c in CHANNELS},
    "facts": ("notes",),
}
# Person columns a file may set, with their length limits.
DETAILS = {
    "name": 200, "preferred_name": 100, "phone": 40, "address_line1": 200, "address_line2": 200,
    "city": 100, "region": 100, "country": 60, "preferred_channel": 16, "time_zone": 64,
}  # fmt: skip


@dataclass
class _Row:
    line: int
    record: PersonRecord
    details: dict[str, str]
    facts: list[str] = field(default_factory=list)


def import_people_file(
    *, session: Session, path: Path, business: Business, progress: Progress | None
) -> ImportReport:
    report = ImportReport()
    if is_json_lines(path):
        records = jsonl_records(path, COLUMNS, progress)
    else:
        records = csv_records(path, COLUMNS, [], "a people file", progress)
        # Checked here rather than as required columns: either identifies a person.
    batch: list[_Row] = []
    for line, fields in records:
        report.rows += 1
        try:
            if isinstance(fields, RowError):
                raise fields
            batch.append(_parse(line, fields))
        except RowError as exc:
            report.reject(line, str(exc))
            continue
        if len(batch) >= BATCH:
            _store(session, batch, report)
            batch = []
    _store(session, batch, report)
    return report


def _parse(line: int, f: dict[str, str]) -> _Row:
    email = f.get("email", "").strip()
    external = f.get("external_id", "").strip()
    if not email and not external:
        raise RowError("missing email (or external_id)")
    if email:
        email = check_email(email)
    key: tuple[str, str] | None = None
    if external:
        namespace, _, value = external.partition(":") if ":" in external else ("import", "", external)
        namespace = re.sub(r"[^a-z0-9_.-]", "", namespace.strip().lower())
        if (
            not namespace
            or not value.strip()
            or namespace == "email"
            or len(namespace) > 40
            or len(value) > 320
        ):
            raise RowError(f"external_id {external!r} is not like 'crm:4711' (system:id)")
        key = (namespace, value.strip())
    details: dict[str, str] = {}
    name = f.get("name", "") or f"{f.get('first_name', '')} {f.get('last_name', '')}"
    for column, limit in DETAILS.items():
        cell = clean_text(name if column == "name" else f.get(column, ""), limit=limit)
        if cell:
            details[column] = cell
    zip_code = clean_zip(f.get("postal_code", ""))
    if zip_code:
        details["postal_code"] = zip_code
    _check_choices(details)
    kind = f.get("kind", "").strip().lower() or PersonKind.prospect.value
    if kind not in (PersonKind.customer.value, PersonKind.prospect.value):
        raise RowError(f"kind {kind!r} is not customer or prospect")
    consent: dict[str, bool] = {}
    for channel in CHANNELS:
        granted = parse_yes_no(f.get(f"consent_{channel}", ""), field=f"consent_{channel}")
        if granted is not None:
            consent[channel] = granted
    facts = [" ".join(p.split()) for p in re.split(r"[;|\n]", f.get("facts", "")) if p.strip()]
    if any(len(fact) > 500 for fact in facts):
        raise RowError("a fact is longer than 500 characters")
    record = PersonRecord(
        email=email or None, external=key, kind=kind, consent=consent, **_record_details(details)
    )
    return _Row(line, record, details, facts)


def _check_choices(details: dict[str, str]) -> None:
    channel = details.get("preferred_channel")
    if channel is not None:
        details["preferred_channel"] = channel.lower()
        if channel.lower() not in CHANNELS:
            raise RowError(f"preferred_channel {channel!r} is not one of {', '.join(CHANNELS)}")
    zone = details.get("time_zone")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RowError(f"time_zone {zone!r} is not an IANA time zone like Europe/Paris") from None


def _record_details(details: dict[str, str]) -> dict[str, Any]:
    return {"name": details.get("name", ""), **{k: v for k, v in details.items() if k != "name"}}


def _store(session: Session, batch: list[_Row], report: ImportReport) -> None:
    if not batch:
        return
    records = [row.record for row in batch]
    known = find_ids(session, (key for r in records for key in r.identity_keys()))
    person_ids, created = resolve_people(session, records, source=f"{SOURCE} people")
    report.people += created
    creators: set[int] = set()  # ids created in this batch, by the first row naming them
    for row, person_id in zip(batch, person_ids, strict=True):
        is_new = not any(key in known for key in row.record.identity_keys()) and person_id not in creators
        if is_new:
            creators.add(person_id)
            report.kept_rows += 1
        else:
            report.duplicates += 1
            report.duplicate_rows += 1
    report.updated_people += _update_details(session, batch, person_ids, creators)
    now = utcnow()
    facts = {(pid, fact) for row, pid in zip(batch, person_ids, strict=True) for fact in row.facts}
    if facts:
        session.execute(
            ignoring_duplicates(session, Fact.__table__),
            [{"person_id": p, "text": t, "source": SOURCE, "created_at": now} for p, t in sorted(facts)],
        )
    wishes: dict[int, dict[str, bool]] = {}
    for row, pid in zip(batch, person_ids, strict=True):
        wishes.setdefault(pid, {}).update(row.record.consent)
    apply_imported_consent(session, wishes, source=f"{SOURCE} people")


def _update_details(session: Session, batch: list[_Row], person_ids: list[int], creators: set[int]) -> int:
    """Apply non-empty cells that differ to people who existed (or an earlier row created)."""
    first_row_of: dict[int, int] = {}
    for index, pid in enumerate(person_ids):
        first_row_of.setdefault(pid, index)
    targets = sorted(
        {pid for i, pid in enumerate(person_ids) if pid not in creators or first_row_of[pid] != i}
    )
    if not targets:
        return 0
    columns = [
        Person.id,
        Person.email,
        Person.kind,
        Person.postal_code,
        *(getattr(Person, c) for c in DETAILS),
    ]
    current: dict[int, dict[str, Any]] = {}
    for start in range(0, len(targets), 500):
        for found in session.execute(select(*columns).where(Person.id.in_(targets[start : start + 500]))):
            current[found.id] = dict(found._mapping)
    original = {pid: dict(values) for pid, values in current.items()}
    for index, (row, pid) in enumerate(zip(batch, person_ids, strict=True)):
        if pid not in current or (pid in creators and first_row_of[pid] == index):
            continue
        state = current[pid]
        if row.record.email and not state["email"]:
            state["email"] = row.record.email
        if row.record.kind == PersonKind.customer.value:
            state["kind"] = row.record.kind  # a file may promote a prospect, never demote a customer
        state.update(row.details)
    # Only the net change counts: a file that says Paris on one row and Lyon on a later one
    # leaves Lyon, and running it again changes nothing.
    changed: dict[int, dict[str, Any]] = {}
    for pid, state in current.items():
        diff = {k: v for k, v in state.items() if original[pid].get(k) != v}
        if diff:
            changed[pid] = diff
    for pid, diff in changed.items():
        person = current[pid]
        diff["search_key"] = search_key_for(
            person["name"], person["preferred_name"], person["email"], person["phone"]
        )
        diff["updated_at"] = utcnow()
        session.execute(update(Person).where(Person.id == pid).values(**diff))
    return len(changed)
