"""Privacy, proved with canaries: a unique value planted in every column of every table that can hold a
customer's personal data, through the product's own services and API wherever they reach.

* ``TABLES`` classifies every table of ``Base.metadata``: a table added later without a line here
  fails ``test_every_table_is_classified`` with its name.
* The export of the person holds every one of their canaries.
* After the erasure (through the API, as an admin does it), a full dump of the database
  (``pg_dump --data-only`` on PostgreSQL; on SQLite ``iterdump`` plus the raw bytes of the database
  file and its write-ahead log) holds none of them, in any case, with or without separators, nor a
  plain hash of their addresses; the other person's canaries are all still there, their export is
  unchanged, and the ledgers' totals did not move.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from test_web_client import BASE_URL, add_user, token_for

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.campaigns import service as campaigns
from goodwill.campaigns.model import CampaignMember
from goodwill.complaints import reply_service
from goodwill.complaints.mailbox import parse_message
from goodwill.complaints.model import Complaint, ComplaintReply, ComplaintTheme
from goodwill.complaints.service import open_complaint
from goodwill.complaints.themes_service import run_themes
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.importers.service import import_orders, import_people
from goodwill.events.model import Event, Order
from goodwill.insights.model import InsightMilestone, InsightScore
from goodwill.insights.pipeline import ScoreOptions
from goodwill.insights.service import score_people
from goodwill.loyalty.model import LoyaltyAccount, LoyaltyEntry, Redemption
from goodwill.models import Base
from goodwill.notes import service as notes
from goodwill.outbox.model import Message, MessageAttempt
from goodwill.people.model import Person
from goodwill.people.service import get_person
from goodwill.people.sms_replies import InboundSms, handle_reply
from goodwill.planner.model import PlanHoldout, PlanItem
from goodwill.team.kudos import route_praise
from goodwill.team.model import Kudos
from goodwill.team.notices import notify
from goodwill.web.api import API_PREFIX
from goodwill.web.app import create_app

SECRET = "test-secret"  # what make_client's settings use
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

# ---- the classification -------------------------------------------------------------------------

# Tables that hold a customer's personal data, and the columns a canary is planted in (each must
# hold one of the person's canaries before the erasure, or the test says which one was missed).
CUSTOMER: dict[str, tuple[str, ...]] = {
    "people": (
        "name",
        "preferred_name",
        "email",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "search_key",
    ),
    "person_identities": ("value",),
    "person_facts": ("text",),
    "consent_changes": ("note",),
    "events": ("text", "source_id"),  # a source id is kept unless it holds an address
    "orders": ("items", "external_id"),  # the same for an order's number
    "plan_items": ("evidence", "subject"),
    "plan_holdouts": ("evidence", "details"),
    "notes": ("subject", "body", "evidence", "problems", "skip_reason"),
    "outbox_messages": ("subject", "body", "address", "last_error"),
    "outbox_attempts": ("error",),
    "loyalty_entries": ("note",),
    "loyalty_redemptions": ("request_key", "ship_to", "tracking", "history"),
    "complaints": ("subject", "body", "resolution", "source_id"),
    "complaint_replies": ("subject", "body", "check_problems"),
    "complaint_log": ("detail",),
    "complaint_themes": ("label", "keywords"),  # built from complaint texts, so from their words
    "kudos": ("reason",),  # from their praise, about their complaint, or naming them
    "staff_notices": ("text",),  # quoting the above
    "idempotency_keys": ("key", "response_body"),  # stored API answers replay what was written
}
# Personal columns whose format leaves no room for a canary: checked cleared by value instead.
FORMATTED: dict[str, tuple[str, ...]] = {
    "people": ("country", "time_zone", "preferred_channel"),
    "loyalty_accounts": ("birthday_month", "birthday_day"),
}
CUSTOMER_DATA = "a customer's personal data (columns in CUSTOMER and FORMATTED)"
NUMBERS = "points at a person, holds only numbers, times and codes: kept by erasure (the ledgers)"
KEYED = "addresses as keyed hashes (HMAC with the secret key), kept so the erased are never contacted"
STAFF = "staff only"
BUSINESS = "the business's own settings and runs: nothing about any one person"
TABLES: dict[str, str] = {
    **dict.fromkeys(CUSTOMER, CUSTOMER_DATA),
    "loyalty_accounts": CUSTOMER_DATA,  # the birthday; balance, tier and totals are numbers
    **dict.fromkeys(
        [
            "bank_entries",
            "bank_standings",
            "insight_scores",
            "insight_milestones",
            "campaign_members",
            "loyalty_draws",
            "loyalty_lots_drawn",
            "loyalty_unearned_events",
        ],
        NUMBERS,
    ),
    "suppressions": KEYED,
    # Accounts, teams, sessions, tokens, failed staff logins (the email as SHA-256), rule edits.
    **dict.fromkeys(
        [
            "users",
            "teams",
            "team_members",
            "web_sessions",
            "api_tokens",
            "login_failures",
            "loyalty_rule_overrides",
        ],
        STAFF,
    ),
    **dict.fromkeys(["campaigns", "loyalty_rewards", "insight_runs", "plan_runs"], BUSINESS),
}


def test_every_table_is_classified() -> None:
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    unclassified = sorted(set(tables) - set(TABLES))
    assert not unclassified, (
        f"classify {unclassified} in TABLES of tests/integration/test_privacy_canary.py; if it can hold "
        "personal data, list its columns in CUSTOMER, plant a canary in each, and make "
        "goodwill.people.privacy export and erase them"
    )
    assert not sorted(set(TABLES) - set(tables)), "a classified table no longer exists"
    personal = {t for t, group in TABLES.items() if group == CUSTOMER_DATA}
    assert personal == set(CUSTOMER) | set(FORMATTED)
    for table, columns in [*CUSTOMER.items(), *FORMATTED.items()]:
        missing = set(columns) - set(tables[table].columns.keys())
        assert not missing, f"{table} has no column {missing}"
    # Every text or JSON column of a customer table holds a canary, or a code the product writes.
    for table in CUSTOMER:
        free = {
            c.name
            for c in tables[table].columns
            if c.type.python_type in (str, dict, list) and not c.foreign_keys
        }
        unplanned = free - set(CUSTOMER[table]) - set(FORMATTED.get(table, ())) - CODES.get(table, set())
        assert not unplanned, f"{table}.{sorted(unplanned)}: plant a canary there, or list it in CODES"
    # The tables that point at a person are all classified as holding a customer's data or numbers.
    pointing = {
        t.name
        for t in tables.values()
        for c in t.columns
        for fk in c.foreign_keys
        if fk.column.table.name == "people"
    }
    assert {TABLES[t] for t in pointing} <= {CUSTOMER_DATA, NUMBERS}


# Text columns of customer tables that hold codes the product writes (kinds, statuses, channels...).
CODES: dict[str, set[str]] = {
    "people": {"kind"},
    "person_identities": {"namespace"},
    "person_facts": {"source"},
    "consent_changes": {"channel", "source"},
    "events": {"kind", "currency", "channel", "source"},
    "orders": {"source", "currency"},
    "plan_items": {"moment", "channel", "status", "reason"},  # the planner's rule, in its words
    "plan_holdouts": {"moment"},
    "notes": {"moment", "channel", "template", "status"},
    "outbox_messages": {"channel", "purpose", "status", "claimed_by", "provider_id"},
    "outbox_attempts": {"worker", "outcome", "provider_id"},
    "loyalty_entries": {"kind", "key", "rule"},
    "loyalty_redemptions": {"status"},
    "complaints": {"source", "channel", "priority", "status", "satisfaction"},
    "complaint_replies": {"kind", "channel", "status"},
    "complaint_log": {"action"},
    "complaint_themes": set(),
    "kudos": {"from_kind"},
    "staff_notices": {"kind", "key", "link"},
    "idempotency_keys": {"request_hash"},
}


# ---- canaries -----------------------------------------------------------------------------------


@dataclass
class Canaries:
    """One person's canaries: every value carries a unique hex core, searched for in every form."""

    who: str
    cores: dict[str, str] = field(default_factory=dict)  # core -> where it was planted
    phones: dict[str, str] = field(default_factory=dict)  # national digits -> where
    hashes: dict[str, str] = field(default_factory=dict)  # hex digest of an address -> which

    def _core(self, where: str, size: int = 20, letters: bool = False) -> str:
        core = uuid.uuid4().hex[:size]
        if letters:  # a word a tokenizer keeps ("[a-z]+"), as a rare word someone wrote would be
            core = core.translate(str.maketrans("0123456789abcdef", "ghijklmnopqrstuv"))
        self.cores[core] = where
        return core

    def text(self, where: str, *, letters: bool = False) -> str:
        return f"CANARY-{where.replace('.', '-')}-{self._core(where, letters=letters)}"

    def code(self, where: str) -> str:
        """A short code (a postal code): twelve hex digits, in capitals."""
        return self._core(where, 12).upper()

    def word(self, where: str) -> str:
        """A name-like word, letters only (as a name, a street or a rare word someone wrote)."""
        return f"Canary{self._core(where, letters=True)}"

    def email(self, where: str) -> str:
        return f"{self.who}.{self._core(where).upper()}@Example.ORG"  # stored lower-cased too

    def phone(self, where: str) -> str:
        digits = f"7700{uuid.uuid4().int % 10**6:06d}"
        self.phones[digits] = where
        return f"+44 {digits[:4]} {digits[4:]}"

    def found_in(self, text: str) -> set[str]:
        """Where each canary found in ``text`` was planted, in any case or spacing, or hashed plainly."""
        folded = text.casefold()
        squeezed = re.sub(r"[\s\-().+]", "", folded)
        found = {where for core, where in self.cores.items() if core in folded}
        found |= {where for digits, where in self.phones.items() if digits in squeezed}
        return found | {where for digest, where in self.hashes.items() if digest in folded}

    def address_hashes(self, emails: list[str], phones: list[str]) -> None:
        """Plain (unkeyed) hashes of their addresses: a leak as much as the address itself."""
        for value in [*(e.casefold() for e in emails), *phones, *(p.replace(" ", "") for p in phones)]:
            for algorithm in ("sha256", "sha1", "md5"):
                self.hashes[hashlib.new(algorithm, value.encode()).hexdigest()] = f"{algorithm}({value})"


# ---- the business, planted ----------------------------------------------------------------------


def _settings(db: Database) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key=SECRET,
        business={"name": "Teapot & Co", "timezone": "Europe/London", "currency": "GBP"},
        planner={"policy": {"holdout_share": "0"}},
    )


@dataclass
class Customer:
    canaries: Canaries
    id: int = 0
    email: str = ""
    phone: str = ""
    name: str = ""
    complaint_id: int = 0
    body_word: str = ""  # a rare word of their complaint


@dataclass
class Staff:
    maya: int
    boss: int
    admin: int
    headers: dict[int, dict[str, str]]


def _people_csv(tmp_path: Path, people: list[Customer]) -> Path:
    header = (
        "email,external_id,name,preferred_name,phone,address_line1,address_line2,city,region,"
        "postal_code,country,time_zone,preferred_channel,consent_email,consent_sms,kind,facts\n"
    )
    lines = []
    for p in people:
        c = p.canaries
        p.email, p.phone = c.email("people.email"), c.phone("people.phone")
        p.name = f"{p.canaries.who.title()} {c.word('people.name')}"
        cells = [
            p.email,
            c.text("person_identities.value"),
            p.name,
            c.word("people.preferred_name"),
            p.phone,
            c.text("people.address_line1"),
            c.text("people.address_line2"),
            c.text("people.city"),
            c.text("people.region"),
            c.code("people.postal_code"),
            "GB",
            "Europe/Paris",
            "email",
            "yes",
            "yes",
            "customer",
            c.text("person_facts.text"),
        ]
        lines.append(",".join(cells))
    path = tmp_path / "people.csv"
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def _orders_csv(tmp_path: Path, people: list[Customer]) -> Path:
    rows = ["order_id,email,name,date,total,currency,items"]
    for p in people:
        c = p.canaries
        # An order number the shop built from the address (kept after erasure only as an opaque id).
        rows.append(
            f"web-{p.email.lower()}-1,{p.email},{p.name},2026-03-01T10:00:00Z,25.00,GBP,"
            f"{c.text('orders.items')} x1"
        )
        rows.append(f"W-{c.who}-2,{p.email},{p.name},2026-07-01T10:00:00Z,31.50,GBP,Cup x2")
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _ok(response: Any, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _plant_person(
    db: Database, api: Any, settings: Settings, staff: Staff, p: Customer, reward_id: int
) -> None:
    """Everything one person can leave behind, through the API and the services."""
    c, admin, boss, maya = p.canaries, staff.headers[staff.admin], staff.headers[staff.boss], staff.maya
    people = f"{API_PREFIX}/people/{p.id}"

    def keyed(who: dict[str, str], what: str) -> dict[str, str]:
        # Clients pick their own Idempotency-Keys; some build them from the customer's address.
        return who | {"Idempotency-Key": f"{what}-{p.email.lower()}"}

    _ok(api.post(f"{people}/facts", json={"text": c.text("person_facts.text")}, headers=keyed(admin, "fact")))
    _ok(
        api.post(
            f"{people}/consent",
            headers=admin,
            json={"channel": "card", "granted": True, "note": c.text("consent_changes.note")},
        )
    )
    visit = {
        "person_id": p.id,
        "kind": "visit",
        "occurred_at": "2026-10-01T09:00:00Z",
        "text": c.text("events.text"),
        "source_id": f"till:{p.email.lower()}:1",
    }
    _ok(api.post(f"{API_PREFIX}/events", json=visit, headers=keyed(admin, "visit")))
    praise = {
        "person_id": p.id,
        "kind": "praise",
        "occurred_at": "2026-11-12T10:00:00Z",
        "staff_email": "maya@shop.test",
        "text": f"Maya was so kind {c.text('events.text(praise)')}",
    }
    praised = _ok(api.post(f"{API_PREFIX}/events", json=praise, headers=admin))

    # Loyalty: points with a note, a birthday, a gift shipped and a gift refunded with a reason.
    loyalty = f"{API_PREFIX}/loyalty"
    _ok(
        api.post(
            f"{loyalty}/adjustments",
            headers=keyed(admin, "points"),
            json={"person_id": p.id, "points": 600, "reason": c.text("loyalty_entries.note")},
        )
    )
    _ok(api.put(f"{loyalty}/accounts/{p.id}/birthday", json={"month": 2, "day": 29}, headers=admin))
    ship_to = {
        "name": f"Granny {c.word('ship_to.name')}",
        "line1": c.text("ship_to.line1"),
        "line2": c.text("ship_to.line2"),
        "city": c.text("ship_to.city"),
        "region": c.text("ship_to.region"),
        "postal_code": c.code("ship_to.postal_code"),
        "country": "GB",
    }
    gifts = []
    for n in (1, 2):
        body = {"person_id": p.id, "reward_id": reward_id, "ship_to": ship_to}
        gifts.append(_ok(api.post(f"{loyalty}/redemptions", json=body, headers=keyed(admin, f"gift{n}"))))
    shipped, returned = (g["id"] for g in gifts)
    _ok(api.post(f"{loyalty}/redemptions/{shipped}/status", json={"status": "to_fulfil"}, headers=admin))
    _ok(
        api.post(
            f"{loyalty}/redemptions/{shipped}/status",
            headers=admin,
            json={"status": "shipped", "tracking": c.text("loyalty_redemptions.tracking")},
        )
    )
    _ok(
        api.post(
            f"{loyalty}/redemptions/{returned}/refund",
            headers=admin,
            json={"reason": c.text("loyalty_redemptions.history")},
        )
    )

    # A complaint through the API, answered, resolved, escalated; thanks given about it.
    p.body_word = c.word("complaints.body")
    complaint = {
        "person_id": p.id,
        "subject": c.text("complaints.subject"),
        "body": f"The spout leaks at {p.body_word} and the handle wobbles. Regards, {p.name}",
        "source_id": f"helpdesk:{p.email.lower()}:77",
        "assignee_id": maya,
    }
    p.complaint_id = _ok(api.post(f"{API_PREFIX}/complaints", json=complaint, headers=keyed(admin, "c")))[
        "id"
    ]
    with db.transaction() as s:
        reply = reply_service.draft_first_response(
            s, complaint_id=p.complaint_id, user_id=maya, settings=settings
        )
        reply_service.approve_reply(
            s,
            reply_id=reply.id,
            user_id=maya,
            settings=settings,
            now=datetime.now(UTC),
            subject=f"About your spout {c.text('complaint_replies.subject')}",
            body=f"Dear {p.name}, we are sorry about the spout. {c.text('complaint_replies.body')}",
        )
        notify(
            s,
            user_id=staff.boss,
            kind="escalation",
            key=f"escalation:{p.complaint_id}:resolution",
            text=f"{p.name} is still waiting: {c.text('staff_notices.text')}",
            link=f"/complaints/{p.complaint_id}",
        )
        route_praise(s, event_ids=[praised["id"]], settings=settings)  # the API may have routed it already
        assert s.scalar(select(func.count()).where(Kudos.event_id == praised["id"])) == 1
    resolution = {"resolution": c.text("complaints.resolution")}
    _ok(api.post(f"{API_PREFIX}/complaints/{p.complaint_id}/resolve", json=resolution, headers=admin))
    thanks = {
        "to_user_id": maya,
        "reason": f"Well handled: {c.text('kudos.reason')}",
        "complaint_id": p.complaint_id,
    }
    _ok(api.post(f"{API_PREFIX}/kudos", json=thanks, headers=keyed(boss, "kudos")))
    named = {"to_user_id": staff.boss, "reason": f"You calmed {p.name} down so well"}
    _ok(api.post(f"{API_PREFIX}/kudos", json=named, headers=staff.headers[maya]))

    # A complaint by email, read from the complaints mailbox.
    raw = (
        f'From: "{p.name}" <{p.email}>\r\nTo: complaints@teapot.test\r\n'
        f"Subject: {c.text('complaints.subject(mail)')}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mail.example.org>\r\n"
        "Date: Thu, 12 Nov 2026 10:00:00 +0000\r\n\r\n"
        f"The lid is chipped. {c.word('complaints.body(mail)')}\r\n"
    ).encode()
    with db.transaction() as s:
        mailed, _ = open_complaint(
            s, new=parse_message(raw, received_at=NOW - timedelta(days=8)), settings=settings
        )
        # Its reply is a draft greeting the wrong name: the check's hint names them.
        draft = reply_service.draft_first_response(s, complaint_id=mailed.id, user_id=maya, settings=settings)
        reply_service.revise_reply(
            s,
            reply_id=draft.id,
            user_id=maya,
            body=f"Dear Bob, we are sorry about the lid. {c.text('complaint_replies.body(draft)')}",
        )
        # They text STOP: consent withdrawn, the number suppressed (keyed hash only).
        handle_reply(s, secret_key=SECRET, message=InboundSms(p.phone, "STOP", f"SM{uuid.uuid4().hex}"))


def _business(db: Database, tmp_path: Path) -> tuple[Settings, Staff, Customer, Customer, Any]:
    """Cy (to be erased) and Ann (the control), each with a canary in every personal column."""
    settings = _settings(db)
    maya = add_user(db, "maya@shop.test", "agent", name="Maya Gold")
    boss = add_user(db, "max@shop.test", "manager", name="Max Stone")
    admin = add_user(db, "root@shop.test", "admin", name="Ada Root")
    staff = Staff(maya, boss, admin, {u: token_for(db, u) for u in (maya, boss, admin)})
    api = TestClient(create_app(settings, db), base_url=BASE_URL)
    cy, ann = Customer(Canaries("cy")), Customer(Canaries("ann"))
    with db.transaction() as s:
        import_people(session=s, path=_people_csv(tmp_path, [cy, ann]), business=settings.business)
        import_orders(
            session=s, path=_orders_csv(tmp_path, [cy, ann]), business=settings.business, settings=settings
        )
        for p in (cy, ann):
            p.id = get_person(s, p.email).id
    # Maya is in Max's team: praise for her tells him too, naming the customer.
    team = _ok(
        api.post(
            f"{API_PREFIX}/teams",
            json={"name": "Shop floor", "manager_id": boss},
            headers=staff.headers[admin],
        )
    )
    _ok(
        api.post(
            f"{API_PREFIX}/teams/{team['id']}/members", json={"user_id": maya}, headers=staff.headers[admin]
        )
    )
    towel = {"name": "Tea towel", "kind": "physical_gift", "cost_points": 200}
    reward_id = _ok(api.post(f"{API_PREFIX}/loyalty/rewards", json=towel, headers=staff.headers[admin]))["id"]
    for p in (cy, ann):
        _plant_person(db, api, settings, staff, p, reward_id)

    today = datetime.now(UTC).date()
    with db.transaction() as s:
        score_people(s, business=settings.business, options=ScoreOptions(as_of=today))
        _, drafted = notes.plan_and_draft(s, day=today, settings=settings)
        daily = {n.person_id: n.id for n in drafted}
        themes = run_themes(s, settings=settings, now=datetime.now(UTC))
        assert themes.themes, themes
        draft = campaigns.CampaignDraft(
            name="Thanksgiving",
            send_on=today + timedelta(days=2),
            audience={"kind": "customer"},
            templates={},
            channels=("email",),
            holdout_percent=0,
        )
        campaign = campaigns.create_campaign(s, draft=draft, user_id=boss, settings=settings)
        launched = campaigns.launch(
            s, campaign_id=campaign.id, user_id=boss, settings=settings, now=datetime.now(UTC)
        )
        # Both were thanked today, so the campaign leaves them out (members with a reason code).
        assert launched.excluded and not launched.thanked, launched
    admin_h = staff.headers[admin]
    for p in (cy, ann):
        c = p.canaries
        assert p.id in daily, daily
        # The daily note, edited (greeting the wrong name: the check's hint names them), then skipped
        # with a reason that quotes them.
        edit = {
            "subject": f"Thank you {c.text('notes.subject')}",
            "body": f"Dear Bob, thank you for your patience. {c.text('notes.body')}",
        }
        _ok(api.patch(f"{API_PREFIX}/notes/{daily[p.id]}", json=edit, headers=admin_h))
        skip = {"reason": f"spoke to {p.name} yesterday {c.text('notes.skip_reason')}"}
        _ok(api.post(f"{API_PREFIX}/notes/{daily[p.id]}/skip", json=skip, headers=admin_h))
    with db.transaction() as s:
        for p in (cy, ann):
            _plant_directly(s, p)
    return settings, staff, cy, ann, api


def _plant_directly(s: Any, p: Customer) -> None:
    """What no service writes in a test: a delivery that failed at the mail server (the worker writes
    the server's answer), and the planner's words where its rules quote a person."""
    c, at = p.canaries, datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    error = f"550 5.1.1 <{p.email.lower()}>: no such user {c.text('outbox.last_error')}"
    message = Message(
        person_id=p.id,
        channel="email",
        subject=c.text("outbox_messages.subject"),
        body=c.text("outbox_messages.body"),
        status="failed",
        address=p.email.lower(),
        last_error=error,
        attempts=1,
        created_at=at,
    )
    s.add(message)
    s.flush()
    s.add(
        MessageAttempt(
            message_id=message.id,
            number=1,
            worker="w1",
            started_at=at,
            outcome="failed",
            error=f"{error} {c.text('outbox_attempts.error')}",
        )
    )
    # An older themes run, from few complaints: a rare word of theirs became the label.
    word = p.body_word.lower()
    s.add(ComplaintTheme(run_id=0, label=f"{word}, spout", keywords=[word, "spout"], size=2, created_at=at))
    # A moment held out of thanks (the planner's random holdout, which a test cannot aim at a person).
    run_id = s.scalar(select(func.max(PlanItem.run_id)))
    s.add(
        PlanHoldout(
            run_id=run_id,
            day=at.date(),
            person_id=p.id,
            moment="complaint_resolved",
            evidence=f"complaint resolved: {c.text('plan_holdouts.evidence')}",
            assigned_at=at,
            details={"subject": c.text("plan_holdouts.details")},
        )
    )


# ---- looking for the canaries -------------------------------------------------------------------


def _columns(db: Database) -> dict[tuple[str, str], str]:
    """(table, column) -> every value of that column, as text, one per line (JSON as written)."""
    found: dict[tuple[str, str], list[str]] = {}
    with db.reading() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is not None:
                        text = value if isinstance(value, str) else json.dumps(value, default=str)
                        found.setdefault((table.name, column), []).append(text)
    return {key: "\n".join(values) for key, values in found.items()}


def _unplanted(db: Database, p: Customer) -> list[str]:
    """The personal columns that hold none of the person's canaries (the planting missed them)."""
    columns = _columns(db)
    return [
        f"{table}.{column}"
        for table, names in CUSTOMER.items()
        for column in names
        if not p.canaries.found_in(columns.get((table, column), ""))
    ]


def _pg_dump_binary(server_major: int) -> str:
    """A pg_dump at least as new as the server (an older one refuses to dump it)."""
    for candidate in (f"/usr/lib/postgresql/{server_major}/bin/pg_dump", shutil.which("pg_dump")):
        if candidate and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=True)
            found = re.search(r"\(PostgreSQL\)\s+(\d+)", version.stdout)
            if found is not None and int(found.group(1)) >= server_major:
                return candidate
    pytest.fail(f"no pg_dump of version {server_major} or newer (install postgresql-client-{server_major})")


def full_dump(db: Database) -> dict[str, str]:
    """Everything the database holds, as text: where it came from -> what it says."""
    url = make_url(db.url)
    if url.get_backend_name() == "postgresql":
        with db.reading() as s:
            server_major = int(s.scalar(select(func.current_setting("server_version_num"))) or 0) // 10000
        command = [
            _pg_dump_binary(server_major),
            "--data-only",
            "--format=plain",
            "--no-owner",
            "--no-privileges",
            "--host",
            url.host or "127.0.0.1",
            "--port",
            str(url.port or 5432),
            "--username",
            url.username or "postgres",
            "--dbname",
            url.database or "",
        ]
        env = {**os.environ, "PGPASSWORD": url.password or "", "PGCONNECT_TIMEOUT": "10"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "COPY public.people" in done.stdout, "the dump holds no people: dumped the wrong database?"
        return {"pg_dump": done.stdout}
    path = Path(url.database or "")
    with sqlite3.connect(path) as conn:  # a second reader, as a backup tool would be
        dumped = "\n".join(conn.iterdump())
    conn.close()
    assert 'INSERT INTO "people"' in dumped, "the dump holds no people: dumped the wrong file?"
    found = {"iterdump": dumped}
    for suffix in ("", "-wal", "-journal"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            found[f"{side.name} (raw bytes)"] = side.read_bytes().decode("latin-1")
    return found


def leaked(canaries: Canaries, dump: dict[str, str]) -> dict[str, set[str]]:
    return {source: hits for source, text in dump.items() if (hits := canaries.found_in(text))}


def planted(canaries: Canaries) -> set[str]:
    return set(canaries.cores.values()) | set(canaries.phones.values())


def ledgers(db: Database, person_id: int) -> dict[str, Any]:
    """The totals erasure must not move: the business's and the person's."""
    with db.reading() as s:

        def total(*columns: Any, where: Any = True) -> tuple[Any, ...]:
            return tuple(s.execute(select(*columns).where(where)).one())

        standing = s.get(BankStanding, person_id)
        score = s.get(InsightScore, person_id)
        return {
            "bank": total(func.count(BankEntry.id), func.sum(BankEntry.amount)),
            "person_bank": total(
                func.count(BankEntry.id), func.sum(BankEntry.amount), where=BankEntry.person_id == person_id
            ),
            "standing": standing and (standing.score, standing.status, standing.value_minor),
            "loyalty": total(func.count(LoyaltyEntry.id), func.sum(LoyaltyEntry.points)),
            "person_loyalty": total(
                func.count(LoyaltyEntry.id),
                func.sum(LoyaltyEntry.points),
                where=LoyaltyEntry.person_id == person_id,
            ),
            "outstanding": total(func.sum(LoyaltyAccount.balance), func.sum(LoyaltyAccount.issued)),
            "redemptions": total(func.count(Redemption.id), func.sum(Redemption.points)),
            "orders": total(
                func.count(Order.id), func.sum(Order.total_minor), func.sum(Order.refunded_minor)
            ),
            "events": total(func.count(Event.id), func.sum(Event.amount_minor)),
            "person_events": sorted(
                s.execute(
                    select(Event.kind, Event.amount_minor, Event.occurred_at).where(
                        Event.person_id == person_id
                    )
                ).all()
            ),
            "score": score and (score.orders, score.total_spend_minor, score.clv_minor, score.segment),
            "milestones": total(func.count(InsightMilestone.id)),
            "campaign": sorted(
                s.execute(
                    select(
                        CampaignMember.campaign_id,
                        CampaignMember.assignment,
                        CampaignMember.reason,
                        func.count(),
                    ).group_by(CampaignMember.campaign_id, CampaignMember.assignment, CampaignMember.reason)
                ).all()
            ),
            "plans": total(func.count(PlanItem.id)) + total(func.count(PlanHoldout.id)),
            "complaints": sorted(
                s.execute(select(Complaint.status, func.count()).group_by(Complaint.status)).all()
            ),
            "replies": total(func.count(ComplaintReply.id)),
            "kudos": total(func.count(Kudos.id), func.sum(Kudos.points)),
            "messages": total(func.count(Message.id)),
            "people": total(func.count(Person.id)),
        }


def test_every_canary_is_exported_and_none_survives_erasure(db: Database, tmp_path: Path) -> None:
    _, staff, cy, ann, api = _business(db, tmp_path)
    admin = staff.headers[staff.admin]
    cy.canaries.address_hashes([cy.email], [cy.phone])
    ann.canaries.address_hashes([ann.email], [ann.phone])

    # Planted where the product really keeps them: every personal column holds a canary of each.
    assert _unplanted(db, cy) == [] and _unplanted(db, ann) == []
    # The dump sees them all (so finding none later means something).
    before = full_dump(db)
    seen = set().union(*leaked(cy.canaries, before).values())
    assert planted(cy.canaries) - seen == set()

    # The export: every canary of theirs, none of Ann's.
    exported = _ok(api.get(f"{API_PREFIX}/people/{cy.id}/export", headers=admin))
    text = json.dumps(exported, ensure_ascii=False)
    assert planted(cy.canaries) - cy.canaries.found_in(text) == set(), "missing from the export"
    assert ann.canaries.found_in(text) == set(), "another person's data in the export"
    ann_export = _ok(api.get(f"{API_PREFIX}/people/{ann.id}/export", headers=admin))

    numbers, ann_numbers = ledgers(db, cy.id), ledgers(db, ann.id)
    erased = api.post(
        f"{API_PREFIX}/people/{cy.id}/erase",
        json={"reason": "asked to be forgotten"},
        headers=admin | {"Idempotency-Key": "erase-1"},
    )
    assert erased.status_code == 200, erased.text

    after = full_dump(db)
    assert leaked(cy.canaries, after) == {}, "the erased person's data is still in the database"
    ann_seen = set().union(*leaked(ann.canaries, after).values())
    assert planted(ann.canaries) - ann_seen == set(), "the erasure took another person's data"
    assert ledgers(db, cy.id) == numbers and ledgers(db, ann.id) == ann_numbers
    ann_again = _ok(api.get(f"{API_PREFIX}/people/{ann.id}/export", headers=admin))
    assert {k: v for k, v in ann_again.items() if k != "generated_at"} == {
        k: v for k, v in ann_export.items() if k != "generated_at"
    }
    with db.reading() as s:
        tomb = s.get(Person, cy.id)
        assert tomb is not None
        assert all(getattr(tomb, column) is None for column in FORMATTED["people"])
        account = s.get(LoyaltyAccount, cy.id)
        assert account is not None and (account.birthday_month, account.birthday_day) == (None, None)
