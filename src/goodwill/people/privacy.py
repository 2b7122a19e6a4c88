"""Privacy: hand a person everything we hold about them, or erase them.

Erasure keeps the business's numbers and removes the person. The ``people`` row stays as a
tombstone ("erased person #42", kind kept, every detail cleared) so that events, orders, bank
entries and insight scores keep their amounts, kinds and times under an id that no longer leads to
anyone. Every free text that may quote them (event texts, notes, facts, plan evidence, messages,
consent notes, order items, stored API answers, complaints and their replies, log and staff notices,
kudos from their praise, and any kudos, staff notice or complaint theme that names them or, for a
theme, holds a word only their complaints used) is blanked or deleted, their identities are deleted
(the same email imported again makes a new person) and their addresses go on the suppression list
as keyed hashes, so that new person is never contacted either.

DESIGN rule 4 says events are never edited: erasure is the one deliberate exception. It blanks the
text of events (never their kind, amount, currency or time), because a right to erasure overrides
an append-only log; the ledgers' numbers are untouched, so balances and totals do not move.

On SQLite the erasure also leaves no copy in the files: what it clears is zeroed as it is freed and,
once it commits, the write-ahead log (which still holds the earlier pages) is emptied. The canary test
(tests/integration/test_privacy_canary.py) plants a unique value in every personal column and looks
for it in a full dump of the database afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    delete,
    event,
    exists,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.complaints.model import Complaint, ComplaintLog, ComplaintReply, ComplaintTheme, ReplyStatus
from goodwill.db import Base, as_utc, rows_changed, utcnow
from goodwill.events.model import Event, Order
from goodwill.insights.model import InsightMilestone, InsightRun, InsightScore
from goodwill.loyalty.model import LoyaltyAccount, LoyaltyEntry, Redemption, Reward
from goodwill.notes.model import Note, NoteStatus
from goodwill.outbox.model import Message, MessageAttempt
from goodwill.outbox.stop import cancel_pending
from goodwill.people.model import (
    Channel,
    ConsentChange,
    Fact,
    Person,
    PersonIdentity,
    Suppression,
    normalise_email,
)
from goodwill.people.service import PersonNotFound, get_person
from goodwill.people.suppression import address_hash, kind_for_channel, normalise_phone, suppress
from goodwill.planner.model import PlanHoldout, PlanItem
from goodwill.team.model import Kudos, StaffNotice
from goodwill.web.model import IdempotencyRecord

log = logging.getLogger(__name__)

EXPORT_SCHEMA = "goodwill.person-export"
EXPORT_VERSION = 1
ERASURE_SOURCE = "erasure"  # the source of the consent changes that record an erasure


def erasure_recorded(person_id: Any) -> ColumnElement[bool]:
    """The person (an id, or a column such as ``Event.person_id``) was erased: their record exists.

    The one definition of "erased" for everyone who must leave tombstones alone."""
    return exists(
        select(ConsentChange.id).where(
            ConsentChange.person_id == person_id, ConsentChange.source == ERASURE_SOURCE
        )
    )


ERASED = "erased"  # suppression reason, and what replaces a consent source that named the person
GONE = "the person was erased"
THEME_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # as goodwill.complaints.themes.WORD reads words
SHARED_WORD_CANDIDATES = 200  # complaints read to find a word of theirs in someone else's: else it is theirs
MIN_NEEDLE = 5  # shorter strings ("Jo", "12") would match unrelated stored answers

# Every table that points at people.id, and what erasure does to it (a test keeps this complete).
PERSON_TABLES: dict[str, str] = {
    "people": "kept as a tombstone: name 'erased person #<id>', kind kept, every other detail cleared",
    "person_identities": "deleted",
    "person_facts": "deleted",
    "consent_changes": "notes cleared; a revocation per channel records the erasure",
    "events": "text cleared; kind, amount, currency, channel, staff and times kept",
    "orders": "items cleared; totals, refunds and times kept",
    "bank_entries": "kept (numbers only)",
    "bank_standings": "kept (numbers only)",
    "insight_scores": "kept (numbers only)",
    "insight_milestones": "kept (numbers only)",
    "plan_items": "evidence, subject and reason cleared; planned ones skipped",
    "plan_holdouts": "evidence and details cleared; the random assignment kept",
    "notes": "subject, body, evidence, check problems and skip reason cleared; drafts skipped",
    "outbox_messages": "subject, body, address and errors cleared; queued and sending ones cancelled",
    "loyalty_accounts": "birthday cleared; balance, tier and totals kept",
    "loyalty_entries": "notes cleared; points, kinds, expiries and times kept",
    "loyalty_redemptions": "shipping address, tracking and any words in the history cleared; points kept",
    "complaints": "subject, body and resolution cleared, with their replies' subject and body (drafts "
    "discarded), the log's details and the staff notices about them; status, clocks and satisfaction kept",
    "campaign_members": "kept: the assignment (thanked, held out, or excluded with a reason code) holds no "
    "words, and impact analysis compares the groups as assigned",
    "kudos": "the reason cleared (their praise, thanks about their complaints, and any that names them) "
    "and the link to them removed; the thanks and points kept",
}
# What a redemption's history keeps after erasure: the steps, not what anyone wrote about them.
HISTORY_KEYS = ("status", "at", "by")


class ErasureRefused(ValueError):
    """The erasure cannot go ahead as asked (nothing was changed)."""


def tombstone_name(person_id: int) -> str:
    return f"erased person #{person_id}"


# ---- export -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        stamped = as_utc(value)
        return stamped.isoformat() if stamped else None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(obj: Base) -> dict[str, Any]:
    """Every column of a row, JSON-ready (times ISO 8601 in UTC; money stays in integer minor units)."""
    return {attr.key: _plain(getattr(obj, attr.key)) for attr in inspect(obj).mapper.column_attrs}


def _rows(session: Session, model: Any, where: Any, *order: Any) -> list[dict[str, Any]]:
    return [_row(r) for r in session.scalars(select(model).where(where).order_by(*order))]


def export_person(
    session: Session, *, person_ref: str | int, currency: str | None = None, secret_key: str | None = None
) -> dict[str, Any]:
    """Everything we hold about a person, grouped by area, ready for ``json.dumps``.

    ``currency`` labels the bank standing's ``value_minor`` (kept in the business currency);
    with ``secret_key`` the export also says which of their addresses are on the suppression list.
    """
    person = get_person(session, person_ref)
    pid = person.id
    messages = _rows(session, Message, Message.person_id == pid, Message.id)
    attempts: dict[int, list[dict[str, Any]]] = {}
    for attempt in _rows(
        session,
        MessageAttempt,
        MessageAttempt.message_id.in_(select(Message.id).where(Message.person_id == pid)),
        MessageAttempt.id,
    ):
        attempts.setdefault(attempt["message_id"], []).append(attempt)
    standing = session.get(BankStanding, pid)
    score = session.get(InsightScore, pid)
    run = session.get(InsightRun, score.run_id) if score is not None else None
    consent = _rows(session, ConsentChange, ConsentChange.person_id == pid, ConsentChange.id)
    erasure = [c for c in consent if c["source"] == ERASURE_SOURCE]
    named = _naming(session, _needles(session, person, _addresses(session, person)))
    return {
        "schema": EXPORT_SCHEMA,
        "schema_version": EXPORT_VERSION,
        "generated_at": _plain(utcnow()),
        "person": _row(person),
        "people": {
            "identities": [
                {"namespace": n, "value": v}
                for n, v in session.execute(
                    select(PersonIdentity.namespace, PersonIdentity.value)
                    .where(PersonIdentity.person_id == pid)
                    .order_by(PersonIdentity.id)
                )
            ],
            "facts": _rows(session, Fact, Fact.person_id == pid, Fact.id),
            "consent_changes": consent,
            "suppressions": _suppressions(session, person, secret_key) if secret_key else None,
        },
        "events": {
            "events": _rows(session, Event, Event.person_id == pid, Event.occurred_at, Event.id),
            "orders": _rows(session, Order, Order.person_id == pid, Order.placed_at, Order.id),
        },
        "bank": {
            "standing": {**_row(standing), "currency": currency} if standing else None,
            "entries": _rows(session, BankEntry, BankEntry.person_id == pid, BankEntry.at, BankEntry.id),
        },
        "insights": {
            "score": {**_row(score), "currency": run.currency if run else None} if score else None,
            "milestones": _rows(
                session, InsightMilestone, InsightMilestone.person_id == pid, InsightMilestone.id
            ),
        },
        "planner": {
            "items": _rows(session, PlanItem, PlanItem.person_id == pid, PlanItem.id),
            "holdouts": _rows(session, PlanHoldout, PlanHoldout.person_id == pid, PlanHoldout.id),
        },
        "notes": _rows(session, Note, Note.person_id == pid, Note.id),
        "outbox": [{**m, "attempts": attempts.get(m["id"], [])} for m in messages],
        "loyalty": _loyalty(session, pid),
        "complaints": _complaints(session, pid),
        # Thanks to staff that came from their praise, about their complaints, or that name them.
        "kudos": _rows(session, Kudos, or_(_their_kudos(pid), Kudos.id.in_(named["kudos"])), Kudos.id),
        # What staff were told about them (escalations of their complaints, their praise, kudos naming them).
        "staff_notices": _rows(
            session,
            StaffNotice,
            or_(_their_notices(session, pid), StaffNotice.id.in_(named["staff_notices"])),
            StaffNotice.id,
        ),
        "erasure": {"at": erasure[0]["at"], "note": erasure[0]["note"]} if erasure else None,
    }


def _loyalty(session: Session, pid: int) -> dict[str, Any]:
    account = session.get(LoyaltyAccount, pid)
    mine = select(Redemption.reward_id).where(Redemption.person_id == pid)
    rewards = {
        i: name for i, name in session.execute(select(Reward.id, Reward.name).where(Reward.id.in_(mine)))
    }
    return {
        "account": _row(account) if account else None,
        "entries": _rows(session, LoyaltyEntry, LoyaltyEntry.person_id == pid, LoyaltyEntry.id),
        "redemptions": [
            {**r, "reward": rewards.get(r["reward_id"])}
            for r in _rows(session, Redemption, Redemption.person_id == pid, Redemption.id)
        ],
    }


def _their_complaints(pid: int) -> Any:
    return select(Complaint.id).where(Complaint.person_id == pid)


def _their_kudos(pid: int) -> ColumnElement[bool]:
    return or_(Kudos.person_id == pid, Kudos.complaint_id.in_(_their_complaints(pid)))


def _complaints(session: Session, pid: int) -> list[dict[str, Any]]:
    """Their complaints, each with the replies written to them and what happened to it."""
    mine = _their_complaints(pid)
    replies: dict[int, list[dict[str, Any]]] = {}
    for reply in _rows(session, ComplaintReply, ComplaintReply.complaint_id.in_(mine), ComplaintReply.id):
        replies.setdefault(reply["complaint_id"], []).append(reply)
    log: dict[int, list[dict[str, Any]]] = {}
    for step in _rows(
        session, ComplaintLog, ComplaintLog.complaint_id.in_(mine), ComplaintLog.at, ComplaintLog.id
    ):
        log.setdefault(step["complaint_id"], []).append(step)
    return [
        {**c, "replies": replies.get(c["id"], []), "log": log.get(c["id"], [])}
        for c in _rows(session, Complaint, Complaint.person_id == pid, Complaint.received_at, Complaint.id)
    ]


def _addresses(session: Session, person: Person) -> dict[str, set[str]]:
    """The person's emails and phone numbers (normalised), from their row, identities and messages."""
    written: list[tuple[str | None, str | None]] = [("email", person.email), ("phone", person.phone)]
    written += [
        ("email", value)
        for value in session.scalars(
            select(PersonIdentity.value).where(
                PersonIdentity.person_id == person.id, PersonIdentity.namespace == "email"
            )
        )
    ]
    written += [
        (kind_for_channel(channel), address)
        for channel, address in session.execute(
            select(Message.channel, Message.address).where(
                Message.person_id == person.id, Message.address.is_not(None)
            )
        )
    ]
    found: dict[str, set[str]] = {"email": set(), "phone": set()}
    for kind, address in written:
        if kind and address and address.strip():
            found[kind].add(normalise_email(address) if kind == "email" else normalise_phone(address))
    return found


def _suppressions(session: Session, person: Person, secret_key: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    for kind, addresses in _addresses(session, person).items():
        for address in sorted(addresses):
            row = session.scalar(
                select(Suppression).where(
                    Suppression.kind == kind,
                    Suppression.address_hash == address_hash(secret_key, kind, address),
                )
            )
            listed.append(
                {
                    "kind": kind,
                    "address": address,
                    "suppressed": row is not None,
                    "reason": row.reason if row else None,
                    "at": _plain(row.at) if row else None,
                }
            )
    return listed


# ---- erasure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure did. Holds no personal data: it is printed, returned and stored as an API answer."""

    person_id: int | None  # None: erased earlier by email, and that person is gone from the lookup
    name: str  # the tombstone's name
    already_erased: bool
    erased_at: datetime | None  # when the erasure was first recorded
    suppressed: dict[str, int] = field(default_factory=dict)  # their addresses now on the list, by kind
    newly_suppressed: int = 0
    messages_cancelled: int = 0
    removed: dict[str, int] = field(default_factory=dict)  # rows deleted, per table
    blanked: dict[str, int] = field(default_factory=dict)  # rows whose personal data was cleared now
    kept: dict[str, int] = field(default_factory=dict)  # rows kept for their numbers, per table

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "erased_at": _plain(self.erased_at)}


def _set(obj: Any, **values: Any) -> bool:
    """Give the row these values; True if any of them changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _mentions(text: str | None, needles: set[str]) -> bool:
    folded = (text or "").casefold()
    return bool(folded) and any(n.casefold() in folded for n in needles)


def _opaque(secret_key: str, value: str) -> str:
    """A stable stand-in for an id that named the person: re-imports of it still match it."""
    key = hashlib.sha256(b"goodwill erasure v1\0" + secret_key.encode()).digest()
    return "erased:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def _needles(session: Session, person: Person, addresses: dict[str, set[str]]) -> set[str]:
    """Strings that identify the person or quote them, to find them where no person id points.

    Event texts are left out: every stored answer that shows an event also names its person_id.
    """
    pid = person.id
    texts: set[str | None] = {person.email, person.phone, person.preferred_name, person.address_line1}
    if person.name != tombstone_name(pid):
        texts.add(person.name)
    texts |= addresses["email"] | addresses["phone"]
    texts.update(session.scalars(select(PersonIdentity.value).where(PersonIdentity.person_id == pid)))
    texts.update(session.scalars(select(Fact.text).where(Fact.person_id == pid)))
    texts.update(
        session.scalars(
            select(ConsentChange.note).where(
                ConsentChange.person_id == pid, ConsentChange.source != ERASURE_SOURCE
            )
        )
    )
    # Where their rewards were sent: a name and an address that may not be on their own record.
    # (Filtered here: an erased address is stored as JSON null, which SQL does not see as NULL.)
    for ship_to in session.scalars(select(Redemption.ship_to).where(Redemption.person_id == pid)):
        if ship_to:
            texts.update(str(ship_to.get(k) or "") for k in ("name", "line1", "line2", "postal_code"))
    return _long(texts)


def _long(texts: set[str | None]) -> set[str]:
    """The texts long enough to search for without matching unrelated ones by chance."""
    return {t.strip() for t in texts if t and len(t.strip()) >= MIN_NEEDLE}


def _forget_stored_answers(
    session: Session, person_id: int, needles: set[str], complaint_ids: list[int]
) -> int:
    """Delete stored API answers (Idempotency-Key replays) that name or quote the person, point at one
    of their complaints (kudos given about it quote what happened) or at one of their ledger entries
    (an adjustment's answer holds its key but not the person), and those whose key, chosen by
    the client, holds one of their details (``points-jane@example.com``)."""
    patterns = {f'"person_id": {person_id},', f'"person_id": {person_id}}}', f'{{"id": {person_id}, "name": '}
    patterns |= {f'"complaint_id": {c}{end}' for c in complaint_ids for end in (",", "}")}
    # By the entry's key only (unique to it), never by its note: a redemption's note is the reward's
    # name and an adjustment's a staff reason, which other people's stored answers share.
    keys = session.scalars(select(LoyaltyEntry.key).where(LoyaltyEntry.person_id == person_id))
    patterns |= {f'"key": {json.dumps(key, ensure_ascii=False)}' for key in keys}
    for needle in needles:
        patterns |= {needle, json.dumps(needle, ensure_ascii=False)[1:-1]}
    ordered = sorted(patterns)
    removed = 0
    for start in range(0, len(ordered), 50):
        chunk = ordered[start : start + 50]
        condition = or_(*(IdempotencyRecord.response_body.contains(p, autoescape=True) for p in chunk))
        removed += rows_changed(session.execute(delete(IdempotencyRecord).where(condition)))
    if needles:
        keyed = [
            record_id
            for record_id, key in session.execute(
                select(IdempotencyRecord.id, IdempotencyRecord.key).where(
                    _may_quote(IdempotencyRecord.key, needles)
                )
            )
            if _mentions(key, needles)
        ]
        if keyed:
            removed += rows_changed(
                session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(keyed)))
            )
    return removed


def _erased_address_at(session: Session, secret_key: str, ref: str) -> datetime | None:
    """When an email given as the reference was put on the suppression list by an erasure."""
    if "@" not in ref:
        return None
    return session.scalar(
        select(Suppression.at).where(
            Suppression.kind == "email",
            Suppression.address_hash == address_hash(secret_key, "email", ref),
            Suppression.reason == ERASED,
        )
    )


def erase_person(
    session: Session, *, person_ref: str | int, secret_key: str, erased_by: str, reason: str
) -> ErasureReport:
    """Erase a person's personal data everywhere, keeping the ledgers' numbers under their id.

    In the caller's transaction: their addresses are suppressed (reason "erased"), their queued and
    sending messages cancelled, their personal data blanked or deleted (see ``PERSON_TABLES``), and a
    revocation of every channel records who erased them, when and why. Running it again is harmless:
    it blanks anything that arrived since and says ``already_erased``. Events keep their kind,
    amount and time but lose their text: a deliberate exception to the append-only rule.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise ErasureRefused("say why this person is erased (the reason is kept with the record)")
    if not secret_key:
        raise ErasureRefused("a secret key is needed to keep their addresses on the suppression list")
    try:
        person = get_person(session, person_ref)
    except PersonNotFound:
        erased_at = _erased_address_at(session, secret_key, str(person_ref).strip())
        if erased_at is None:
            raise
        return ErasureReport(person_id=None, name="", already_erased=True, erased_at=erased_at)
    pid = person.id
    addresses = _addresses(session, person)
    needles = _needles(session, person, addresses)
    if _mentions(reason, needles) or _mentions(erased_by, needles):
        raise ErasureRefused("the reason is kept after the erasure: leave the person's details out of it")
    restore_secure_delete = _scrub_sqlite_files(session)
    erased_at = session.scalar(
        select(func.min(ConsentChange.at)).where(
            ConsentChange.person_id == pid, ConsentChange.source == ERASURE_SOURCE
        )
    )
    now = utcnow()
    newly = 0
    for kind, found in addresses.items():
        for address in sorted(found):
            newly += suppress(
                session,
                secret_key=secret_key,
                kind=kind,
                address=address,
                reason=ERASED,
                source=f"{ERASURE_SOURCE}:{erased_by}",
            )
    cancelled = cancel_pending(session, person_ids=[pid], reason=GONE)
    # Source ids are rewritten only when they hold an address: a name or a number could match by
    # chance, and a rewritten id no longer stops a re-import from storing the same event twice.
    in_ids = _long({*addresses["email"], *addresses["phone"], person.email, person.phone})
    blanked = _blank(session, person, needles, in_ids, secret_key)
    removed = {
        "person_identities": rows_changed(
            session.execute(delete(PersonIdentity).where(PersonIdentity.person_id == pid))
        ),
        "person_facts": rows_changed(session.execute(delete(Fact).where(Fact.person_id == pid))),
        "idempotency_keys": _forget_stored_answers(
            session, pid, needles, list(session.scalars(_their_complaints(pid)))
        ),
    }
    tombstone: dict[str, Any] = {a.key: None for a in inspect(person).mapper.column_attrs}
    for keep in ("id", "kind", "created_at", "updated_at"):
        del tombstone[keep]
    tombstone.update(name=tombstone_name(pid), search_key="")
    if _set(person, **tombstone):
        person.updated_at = now
        blanked["people"] = 1
    if erased_at is None:
        note = f"erased by {erased_by}: {reason}"
        session.add_all(
            ConsentChange(
                person_id=pid, channel=c.value, granted=False, source=ERASURE_SOURCE, note=note, at=now
            )
            for c in Channel
        )
    session.flush()
    restore_secure_delete()
    kept = {
        model.__tablename__: session.scalar(
            select(func.count()).select_from(model).where(model.person_id == pid)
        )
        or 0
        for model in (
            Event, Order, BankEntry, InsightMilestone, PlanItem, PlanHoldout, Note, Message,
            LoyaltyEntry, Redemption, Complaint,
        )
    }  # fmt: skip
    return ErasureReport(
        person_id=pid,
        name=person.name,
        already_erased=erased_at is not None,
        erased_at=erased_at or now,
        suppressed={kind: len(found) for kind, found in addresses.items()},
        newly_suppressed=newly,
        messages_cancelled=cancelled,
        removed=removed,
        blanked={table: n for table, n in blanked.items() if n},
        kept=kept,
    )


def _scrub_sqlite_files(session: Session) -> Any:
    """On SQLite, leave no copy of what erasure clears in the database's files: the erasure's own
    writes zero what they free (``secure_delete``), and once the transaction commits the write-ahead
    log, which still holds earlier copies of the pages, is copied back and emptied
    (``wal_checkpoint(TRUNCATE)``; best effort: a reader still open keeps it, and the next erasure or
    checkpoint tries again). Returns what puts ``secure_delete`` back once the erasure is written.
    On PostgreSQL nothing is needed for a dump; the old row versions are VACUUM's to reclaim."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return lambda: None
    engine = bind.engine if isinstance(bind, Connection) else bind
    before = int(session.execute(text("PRAGMA secure_delete")).scalar() or 0)
    session.execute(text("PRAGMA secure_delete = ON"))

    def checkpoint(_: Session) -> None:
        # After the commit: the erasure is done whatever happens here, so a failure (no free
        # connection, a busy database) is logged, never raised to the caller as if it had failed.
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:
            log.warning("erasure committed; emptying SQLite's write-ahead log failed (retried next time)")

    event.listen(session, "after_commit", checkpoint, once=True)
    return lambda: session.execute(text(f"PRAGMA secure_delete = {1 if before else 0}"))


def _blank_complaint_trail(session: Session, pid: int) -> dict[str, int]:
    """Clear what quotes their complaints and praise: replies, the log, kudos reasons, staff notices.

    The rows stay (with their times, kinds, statuses and points) so the team's totals do not move."""
    mine = _their_complaints(pid)
    notices = _their_notices(session, pid)  # before the kudos are unlinked from them

    def reply(r: ComplaintReply) -> bool:
        discarded = r.status == ReplyStatus.draft and _set(r, status=ReplyStatus.discarded.value)
        return _set(r, subject="", body="", check_problems=[]) or discarded

    def changed(model: Any, where: Any, change: Any) -> int:
        return sum(
            bool(change(row)) for row in session.scalars(select(model).where(where).order_by(model.id))
        )

    return {
        "complaint_replies": changed(ComplaintReply, ComplaintReply.complaint_id.in_(mine), reply),
        "complaint_log": changed(
            ComplaintLog, ComplaintLog.complaint_id.in_(mine), lambda e: _set(e, detail="")
        ),
        "kudos": changed(
            Kudos,
            _their_kudos(pid),
            lambda k: _set(k, reason="", person_id=k.person_id if k.person_id != pid else None),
        ),
        "staff_notices": changed(StaffNotice, notices, lambda n: _set(n, text="")),
    }


def _their_notices(session: Session, pid: int) -> ColumnElement[bool]:
    """Staff notices about their complaints (escalations) and about kudos from or about them."""
    kudos_ids = list(session.scalars(select(Kudos.id).where(_their_kudos(pid))))
    complaint_ids = list(session.scalars(_their_complaints(pid)))
    quoting = [StaffNotice.link.in_([f"/complaints/{c}" for c in complaint_ids])]
    quoting += [StaffNotice.key.like(f"escalation:{c}:%") for c in complaint_ids]
    quoting.append(StaffNotice.key.in_([f"{kind}:{k}" for k in kudos_ids for kind in ("praise", "kudos")]))
    return or_(*quoting)


def _naming(session: Session, needles: set[str]) -> dict[str, list[int]]:
    """Kudos and staff notices that name or quote the person although nothing links them."""
    found: dict[str, list[int]] = {"kudos": [], "staff_notices": []}
    if not needles:
        return found
    for model, column, table in (
        (Kudos, Kudos.reason, "kudos"),
        (StaffNotice, StaffNotice.text, "staff_notices"),
    ):
        for row_id, said in session.execute(
            select(model.id, column).where(_may_quote(column, needles)).order_by(model.id)
        ):
            if _mentions(said, needles):
                found[table].append(row_id)
    return found


def _name_words(person: Person) -> set[str]:
    """The words of their name and preferred name ("cy", "moss"), folded."""
    texts = [person.preferred_name or ""]
    if person.name != tombstone_name(person.id):
        texts.append(person.name)
    return {w for t in texts for w in re.split(r"[\W_]+", t.casefold()) if len(w) >= 2}


def _may_quote(column: Any, needles: set[str]) -> ColumnElement[bool]:
    """Rows whose text may hold a needle; confirmed with ``_mentions`` (SQLite folds ASCII only)."""
    variants = sorted({v for n in needles for v in (n, n.casefold(), n.upper(), n.title())})
    return or_(*(column.icontains(v, autoescape=True) for v in variants))


def _theme_label(keywords: list[str]) -> str:
    """As the themes run names a theme: its first three keywords that share no word."""
    picked: list[str] = []
    for keyword in keywords:
        if not set(keyword.split()) & {w for p in picked for w in p.split()}:
            picked.append(keyword)
    return ", ".join(picked[:3])


def _words(text: str) -> set[str]:
    """The words of a text as the themes run reads them (``goodwill.complaints.themes.WORD``)."""
    return {w.split("'")[0] for w in THEME_WORD.findall(text.casefold()) if len(w) >= 3}


def _only_theirs(session: Session, pid: int, themes: list[ComplaintTheme]) -> set[str]:
    """Words of the themes' keywords that their complaints use and nobody else's complaint does.

    Built from few complaints, a theme's keywords can hold a word only one person wrote (their
    street, their dog's name): that word is theirs. Read before their complaints are blanked."""
    used = {w for t in themes for k in (t.keywords or []) + [t.label] for w in _words(k)}
    mine: set[str] = set()
    for subject, body in session.execute(
        select(Complaint.subject, Complaint.body).where(Complaint.person_id == pid)
    ):
        mine |= _words(f"{subject or ''}\n{body or ''}") & used

    def shared(word: str) -> bool:  # another person's complaint has the word (not only inside another)
        others = session.execute(
            select(Complaint.subject, Complaint.body)
            .where(
                Complaint.person_id != pid,
                or_(
                    Complaint.subject.icontains(word, autoescape=True),
                    Complaint.body.icontains(word, autoescape=True),
                ),
            )
            .limit(SHARED_WORD_CANDIDATES)
        )
        return any(word in _words(f"{subject or ''}\n{body or ''}") for subject, body in others)

    return {word for word in mine if not shared(word)}


def _blank_mentions(session: Session, needles: set[str], words: set[str]) -> dict[str, int]:
    """Clear texts that name the person where nothing points at them: colleagues' kudos ("you calmed
    Jane Doe down"), staff notices quoting those, and complaint themes (built from few complaints,
    a theme's keywords can hold a name or a word only they wrote; older runs are kept). A theme
    loses the keywords that quote them or hold one of ``words`` (their name's, and those only their
    complaints used), and its label is rebuilt from the rest."""
    counts = {"kudos": 0, "staff_notices": 0, "complaint_themes": 0}
    for table, ids in _naming(session, needles).items():
        model, key = (Kudos, "reason") if table == "kudos" else (StaffNotice, "text")
        for row in session.scalars(select(model).where(model.id.in_(ids)).order_by(model.id)):
            counts[table] += _set(row, **{key: ""})

    def theirs(text: str) -> bool:
        folded = text.casefold()
        return _mentions(text, needles) or bool((set(re.split(r"[\W_]+", folded)) | _words(folded)) & words)

    for theme in session.scalars(select(ComplaintTheme).order_by(ComplaintTheme.id)):
        kept = [k for k in theme.keywords or [] if not theirs(k)]
        if kept == list(theme.keywords or []) and not theirs(theme.label):
            continue
        label = _theme_label(kept)
        counts["complaint_themes"] += _set(
            theme, keywords=kept, label=label if label and not theirs(label) else f"theme {theme.id}"
        )
    return counts


def _blank(
    session: Session, person: Person, needles: set[str], in_ids: set[str], secret_key: str
) -> dict[str, int]:
    """Clear the free text of every row about the person; returns how many rows changed per table."""
    pid = person.id
    counts: dict[str, int] = {}
    # Before their complaints are blanked: the words only they wrote that a theme picked up.
    theirs = _name_words(person) | _only_theirs(
        session, pid, list(session.scalars(select(ComplaintTheme).order_by(ComplaintTheme.id)))
    )

    def each(model: Any, change: Any) -> None:
        rows = session.scalars(select(model).where(model.person_id == pid).order_by(model.id))
        counts[model.__tablename__] = sum(bool(change(row)) for row in rows)

    def event(e: Event) -> bool:
        renamed = _mentions(e.source_id, in_ids) and _set(e, source_id=_opaque(secret_key, e.source_id))
        return _set(e, text=None) or renamed

    def order(o: Order) -> bool:
        renamed = _mentions(o.external_id, in_ids) and _set(o, external_id=_opaque(secret_key, o.external_id))
        return _set(o, items=[]) or renamed

    def consent(c: ConsentChange) -> bool:
        if c.source == ERASURE_SOURCE:
            return False
        return _set(c, note=None) | (_mentions(c.source, needles) and _set(c, source=ERASED))

    def plan_item(p: PlanItem) -> bool:
        skipped = p.status == "planned" and _set(p, status="skipped")
        return _set(p, evidence="", subject=None, reason="") or skipped

    def note(n: Note) -> bool:
        if n.status == NoteStatus.draft:
            return _set(
                n, status=NoteStatus.skipped, skip_reason=GONE, subject="", body="", evidence="", problems=[]
            )
        keep_reason = n.skip_reason if n.skip_reason == GONE else None
        return _set(n, subject="", body="", evidence="", problems=[], skip_reason=keep_reason)

    def message(m: Message) -> bool:
        error = m.last_error if m.last_error == GONE else None
        return _set(m, subject="", body="", address=None, last_error=error)

    each(Event, event)
    each(Order, order)
    each(ConsentChange, consent)
    each(PlanItem, plan_item)
    each(PlanHoldout, lambda h: _set(h, evidence="", details={}))
    each(Note, note)
    each(Message, message)
    each(LoyaltyEntry, lambda e: _set(e, note=None))

    def redemption(r: Redemption) -> bool:
        steps = [{k: step[k] for k in HISTORY_KEYS if k in step} for step in r.history or []]
        renamed = _mentions(r.request_key, in_ids) and _set(r, request_key=_opaque(secret_key, r.request_key))
        return _set(r, ship_to=None, tracking=None, history=steps) or renamed

    each(Redemption, redemption)

    def complaint(c: Complaint) -> bool:
        renamed = _mentions(c.source_id, in_ids) and _set(c, source_id=_opaque(secret_key, c.source_id))
        return _set(c, subject="", body="", resolution=None if c.resolution is None else "") or renamed

    each(Complaint, complaint)
    counts.update(_blank_complaint_trail(session, pid))
    for table, n in _blank_mentions(session, needles, theirs).items():
        counts[table] = counts.get(table, 0) + n
    account = session.get(LoyaltyAccount, pid)
    counts["loyalty_accounts"] = int(
        account is not None and _set(account, birthday_month=None, birthday_day=None)
    )
    counts["outbox_attempts"] = rows_changed(
        session.execute(
            update(MessageAttempt)
            .where(
                MessageAttempt.message_id.in_(select(Message.id).where(Message.person_id == pid)),
                MessageAttempt.error.is_not(None),
            )
            .values(error=None)
        )
    )
    return counts
