"""Privacy: export everything about a person, erase them everywhere, keep the business's numbers.

The key test dumps every text and JSON column of every table after an erasure and looks for each
personal string; the same business without the erasure is the control (Ann's data stays findable).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder
from sqlalchemy import func, select
from test_web_client import add_user, make_client, token_for
from typer.testing import CliRunner

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.cli import app
from goodwill.complaints.model import Complaint, ComplaintLog, ComplaintReply, ComplaintTheme
from goodwill.complaints.service import NewComplaint, open_complaint, resolve
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.importers.service import import_events, import_orders
from goodwill.events.model import Event, Order
from goodwill.events.service import NewEvent, record_event
from goodwill.insights.model import InsightMilestone, InsightScore
from goodwill.insights.pipeline import ScoreOptions
from goodwill.insights.service import score_people
from goodwill.loyalty import ledger
from goodwill.loyalty.model import LoyaltyAccount, LoyaltyEntry, Redemption
from goodwill.loyalty.redemption import ShipTo, advance, redeem, refund
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.models import Base
from goodwill.notes import service as notes
from goodwill.notes.model import Note
from goodwill.outbox.model import Message, MessageAttempt
from goodwill.people.model import ConsentChange, Person
from goodwill.people.privacy import PERSON_TABLES, ErasureRefused, erase_person, export_person
from goodwill.people.service import (
    PersonNotFound,
    PersonRecord,
    add_fact,
    get_person,
    person_summary,
    purchase_totals,
    record_consent,
    resolve_people,
)
from goodwill.people.suppression import is_suppressed
from goodwill.planner.model import PlanHoldout, PlanItem
from goodwill.team.kudos import give_kudos, route_praise
from goodwill.team.model import Kudos, StaffNotice
from goodwill.team.notices import notify
from goodwill.team.service import create_user
from goodwill.team.teams import add_member, create_team
from goodwill.web.api import API_PREFIX
from goodwill.web.model import IdempotencyRecord

DAY = date(2026, 11, 20)
SECRET = "test-secret"
CY_EMAIL = "Cy@Example.com"
CY_PHONE = "+44 7700 900123"
# Everything personal about Cy, as it would be searched for in a leaked copy of the database.
CY_STRINGS = [
    "cy moss", "moss", "cy@example.com", "cy.old@example.net", "7700 900123", "447700900123",
    "cyrus", "thornbury", "bs35 1aa", "cast-iron kettles", "bristol market", "tin arrived dented",
    "granny", "crm-cy-7781", "zendesk-cy", "orchard row", "bs35 2xy", "trk-cy-55", "kettle club",
    # Planted in their complaint, its replies, log and staff notices, and in kudos from their praise.
    "wobbly handle", "cracked spout", "replacement spout", "sorry about the spout", "samovar",
    "still waiting",
]  # fmt: skip
# Cy's rewards go to their grandmother, at an address found nowhere else.
GRANNY = ShipTo(
    name="Granny Moss", line1="4 Orchard Row", city="Thornbury", postal_code="BS35 2XY", country="GB"
)
ORDERS_CSV = (
    "order_id,email,name,date,total,currency,phone,items\n"
    f"C-1001,{CY_EMAIL},Cy Moss,2026-03-01T10:00:00Z,25.00,GBP,{CY_PHONE},"
    "Engraved caddy for Granny x1; Cup x2\n"
    f"C-1002,{CY_EMAIL},Cy Moss,2026-07-01T10:00:00Z,31.50,GBP,{CY_PHONE},Cup x2\n"
    "A-2001,ann@example.com,Ann Lee,2026-09-01T10:00:00Z,30.00,GBP,,Teapot x1\n"
    "A-2002,ann@example.com,Ann Lee,2026-11-19T10:00:00Z,42.00,GBP,,Green tea x3\n"
)
EVENTS = [
    {"source_id": "zendesk-cy@example.com-4411", "email": CY_EMAIL, "name": "Cy Moss", "kind": "complaint",
     "occurred_at": "2026-11-10T09:00:00Z", "text": "Tin arrived dented at Thornbury"},
    {"source_id": "z-4412", "email": CY_EMAIL, "name": "Cy Moss", "kind": "complaint_resolved",
     "occurred_at": "2026-11-18T09:00:00Z", "text": "Tin arrived dented"},
    {"source_id": "v-1", "email": "ann@example.com", "name": "Ann Lee", "kind": "visit",
     "occurred_at": "2026-10-01T09:00:00Z", "text": "Ann Lee asked about oolong"},
]  # fmt: skip


def _settings(db: Database) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key=SECRET,
        business={"name": "Teapot & Co", "timezone": "Europe/London", "currency": "GBP"},
        planner={"policy": {"holdout_share": "0"}},
        # The follow-up question after a resolution is another message; the counts here leave it out.
        complaints={"satisfaction_follow_up": False},
    )


def _business(db: Database, tmp_path: Path, *, plan: bool = True) -> tuple[Settings, int, int]:
    """Two customers with orders, events, facts, consent, plans, notes, messages, scores and
    stored API answers; returns the settings and the ids of Cy (to erase) and Ann (the control)."""
    settings = _settings(db)
    maya = add_user(db, "maya@shop.test", "agent", name="Maya Gold")
    max_ = add_user(db, "max@shop.test", "manager", name="Max Stone")
    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    with db.transaction() as s:
        import_orders(session=s, path=tmp_path / "orders.csv", business=settings.business)
        import_events(session=s, path=tmp_path / "events.jsonl", business=settings.business)
        resolve_people(s, [PersonRecord(email=CY_EMAIL, external=("crm", "CRM-CY-7781"))])
        cy, ann = get_person(s, CY_EMAIL), get_person(s, "ann@example.com")
        cy.preferred_name, cy.address_line1, cy.postal_code = "Cyrus", "12 Thornbury Lane", "BS35 1AA"
        cy.city, cy.time_zone, cy.preferred_channel = "Thornbury", "Europe/London", "sms"
        add_fact(s, person_id=cy.id, text="collects Japanese cast-iron kettles", source="staff", user_id=maya)
        add_fact(s, person_id=ann.id, text="Ann Lee loves oolong", source="staff")
        record_consent(s, person_id=cy.id, channel="sms", granted=True, source="staff:maya@shop.test",
                       note="asked at the Bristol market stall")  # fmt: skip
        for person in (cy, ann):
            record_consent(s, person_id=person.id, channel="email", granted=True, source="test")
        cy_id, ann_id = cy.id, ann.id
    _loyalty(db, settings, cy_id, ann_id, maya)
    _complaints_and_praise(db, settings, cy_id, ann_id, maya, max_)
    if not plan:
        return settings, cy_id, ann_id
    with db.transaction() as s:
        score_people(s, business=settings.business, options=ScoreOptions(as_of=DAY))
        notes.plan_and_draft(s, day=DAY, settings=settings)
    with db.transaction() as s:
        cy_note = s.scalars(select(Note).where(Note.person_id == cy_id)).one()
        notes.approve(s, note_id=cy_note.id, user_id=maya, settings=settings)  # a queued SMS
        sent_at = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
        for status, address, error in [
            ("sent", "cy@example.com", None),
            ("failed", "cy.old@example.net", "550 5.1.1 <cy.old@example.net>: no such user (Cy Moss)"),
        ]:
            message = Message(person_id=cy_id, channel="email", subject="Thank you, Cyrus",
                              body="Dear Cy Moss, thank you for the kettles talk.", status=status,
                              address=address, last_error=error, attempts=1, created_at=sent_at)  # fmt: skip
            s.add(message)
            s.flush()
            s.add(MessageAttempt(message_id=message.id, number=1, worker="w1", started_at=sent_at,
                                 outcome=status, error=error))  # fmt: skip
        for key, person in [("k-cy", s.get(Person, cy_id)), ("k-ann", s.get(Person, ann_id))]:
            assert person is not None
            answer = json.dumps(
                jsonable_encoder(person_summary(s, person, currency="GBP")), ensure_ascii=False
            )
            s.add(
                IdempotencyRecord(
                    user_id=maya, key=key, request_hash="0" * 64, status_code=201, response_body=answer
                )
            )
    return settings, cy_id, ann_id


def _loyalty(db: Database, settings: Settings, cy_id: int, ann_id: int, maya: int) -> None:
    """Points for both; Cy sends two gifts to Granny (one shipped, one refunded with a reason)."""
    july, august = datetime(2026, 7, 1, 9, 0, tzinfo=UTC), datetime(2026, 8, 1, 9, 0, tzinfo=UTC)
    with db.transaction() as s:
        for pid, points, why in ((cy_id, 600, "thanks for the kettle club talk"), (ann_id, 100, "welcome")):
            ledger.adjust(s, person_id=pid, points=points, reason=why, key=f"adjust:{pid}", by_user_id=maya,
                          now=july, config=settings.loyalty)  # fmt: skip
        account = s.get(LoyaltyAccount, cy_id)
        assert account is not None
        account.birthday_month, account.birthday_day = 2, 29
        towel = create_reward(s, data=RewardInput(name="Tea towel", kind="physical_gift", cost_points=200)).id
        shipped, returned = (
            redeem(s, person_id=cy_id, reward_id=towel, request_key=key, ship_to=GRANNY, now=august,
                   by="customer", settings=settings).redemption.id
            for key in ("towel-1", "towel-2")
        )  # fmt: skip
        for status in ("to_fulfil", "shipped"):
            advance(
                s, redemption_id=shipped, to_status=status, by_user_id=maya, now=august, tracking="TRK-CY-55"
            )
        refund(
            s,
            redemption_id=returned,
            by_user_id=maya,
            now=august,
            reason="returned: Orchard Row has no letterbox",
        )
        # A stored answer that quotes only the shipping address (no person id, no name of theirs).
        answer = json.dumps({"ship_to": {"name": "Granny Moss", "line1": "4 Orchard Row"}})
        s.add(IdempotencyRecord(user_id=maya, key="k-towel", request_hash="1" * 64, status_code=201,
                                response_body=answer))  # fmt: skip


def _complaints_and_praise(
    db: Database, settings: Settings, cy_id: int, ann_id: int, maya: int, boss: int
) -> None:
    """Cy complains (answered, resolved, escalated, a colleague thanked for it) and praises Maya;
    Ann complains too (the control)."""
    at = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
    spout = "The cracked spout leaks everywhere"
    with db.transaction() as s:
        floor = create_team(s, name="Shop floor", manager_id=boss)
        add_member(s, team_id=floor.id, user_id=maya)
        new = NewComplaint(
            body=spout, subject="Wobbly handle too", source="api", source_id="c-cy-1", received_at=at,
            person_id=cy_id, assignee_id=maya,
        )  # fmt: skip
        complaint, _ = open_complaint(s, new=new, settings=settings)
        ann_new = NewComplaint(
            body="The oolong tin was stale",
            source="api",
            source_id="c-ann-1",
            received_at=at,
            person_id=ann_id,
        )
        open_complaint(s, new=ann_new, settings=settings)
        for status, subject in (
            ("queued", "Sorry about the spout, Cyrus"),
            ("draft", "Sorry about the spout"),
        ):
            s.add(
                ComplaintReply(
                    complaint_id=complaint.id, kind="first_response", channel="email", subject=subject,
                    body="Thank you for telling us about the cracked spout.", status=status,
                    check_problems=[{"kind": "generic", "quote": "cracked spout"}],
                )
            )  # fmt: skip
        resolve(
            s, complaint_id=complaint.id, resolution="Posted a replacement spout", by_user_id=maya,
            now=at + timedelta(hours=5), settings=settings,
        )  # fmt: skip
        complaint.satisfaction, complaint.satisfaction_at = "partly", at + timedelta(days=3)
        notify(
            s, user_id=boss, kind="escalation", key=f"escalation:{complaint.id}:resolution",
            text="Cy Moss is still waiting about the cracked spout", link=f"/complaints/{complaint.id}",
        )  # fmt: skip
        give_kudos(
            s, from_user_id=boss, to_user_id=maya, reason="Calmed things down over the wobbly handle",
            settings=settings, now=at + timedelta(hours=6), complaint_id=complaint.id,
        )  # fmt: skip
        praise, _ = record_event(
            s,
            NewEvent(
                person_id=cy_id, kind="praise", occurred_at=at, source="shop", source_id="praise-1",
                staff_id=maya, text="Maya found me the brass samovar",
            ),
        )  # fmt: skip
        assert route_praise(s, event_ids=[praise.id], settings=settings) == 1
        notify(s, user_id=boss, kind="digest", key="digest:2026-W46", text="Your team this week: 1 person")
        # Thanks that name Cy but point at nothing of theirs, and the notice that quotes it.
        give_kudos(
            s, from_user_id=maya, to_user_id=boss, reason="You calmed Cy Moss down so well",
            settings=settings, now=at + timedelta(hours=7),
        )  # fmt: skip
        # Themes built from few complaints can hold a name; older runs are kept.
        s.add_all(
            [
                ComplaintTheme(run_id=1, label="cy moss", keywords=["cy moss"], size=2),
                # "spout" and "handle" only Cy wrote; Ann's complaint says "tin" too.
                ComplaintTheme(run_id=2, label="moss, spout, handle",
                               keywords=["moss", "spout", "handle", "tin"], size=2),
                ComplaintTheme(run_id=2, label="oolong, lee, stale", keywords=["oolong", "lee", "stale"],
                               size=2),
            ]
        )  # fmt: skip
        complaint_id = complaint.id
    # A stored API answer that names neither Cy nor their id, only their complaint.
    given = make_client(db).post(
        f"{API_PREFIX}/kudos",
        json={"to_user_id": maya, "reason": "Great work on the cracked spout", "complaint_id": complaint_id},
        headers=token_for(db, boss) | {"Idempotency-Key": "kudos-spout"},
    )
    assert given.status_code == 201, given.text


def every_text(db: Database) -> Iterator[tuple[str, str, str]]:
    """(table, column, text) for every non-null value of every table, numbers and JSON included."""
    with db.reading() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is not None:
                        text = value if isinstance(value, str) else json.dumps(value, default=str)
                        yield table.name, column, text


def leaks(db: Database, strings: list[str]) -> list[tuple[str, str, str]]:
    found = []
    for table, column, text in every_text(db):
        folded = text.casefold()
        found.extend((table, column, s) for s in strings if s in folded)
    return found


def numbers(db: Database, person_id: int) -> dict[str, Any]:
    """The business's totals and the person's ledgers, which erasure must not change."""
    with db.reading() as s:

        def total(*columns: Any, where: Any = True) -> tuple[Any, ...]:
            return tuple(s.execute(select(*columns).where(where)).one())

        standing = s.get(BankStanding, person_id)
        score = s.get(InsightScore, person_id)
        mine = Event.person_id == person_id
        return {
            "events": total(func.count(Event.id), func.sum(Event.amount_minor)),
            "person_events": total(func.count(Event.id), func.sum(Event.amount_minor), where=mine),
            "kinds": sorted(s.scalars(select(Event.kind).where(mine))),
            "orders": total(
                func.count(Order.id), func.sum(Order.total_minor), func.sum(Order.refunded_minor)
            ),
            "bank": total(func.count(BankEntry.id), func.sum(BankEntry.amount)),
            "person_bank": total(
                func.count(BankEntry.id), func.sum(BankEntry.amount), where=BankEntry.person_id == person_id
            ),
            "standing": (standing.score, standing.bad_streak, standing.status, standing.value_minor)
            if standing
            else None,
            "spend": purchase_totals(s, person_id, currency="GBP"),
            "score": (score.orders, score.total_spend_minor, score.clv_minor) if score else None,
            "milestones": total(
                func.count(InsightMilestone.id), where=InsightMilestone.person_id == person_id
            ),
            "plans": total(func.count(PlanItem.id)) + total(func.count(PlanHoldout.id)),
            "loyalty": total(func.count(LoyaltyEntry.id), func.sum(LoyaltyEntry.points)),
            "person_loyalty": total(
                func.count(LoyaltyEntry.id),
                func.sum(LoyaltyEntry.points),
                where=LoyaltyEntry.person_id == person_id,
            ),
            "account": total(LoyaltyAccount.balance, LoyaltyAccount.issued, LoyaltyAccount.tier,
                             where=LoyaltyAccount.person_id == person_id),
            "redemptions": sorted(
                s.execute(select(Redemption.reward_id, Redemption.points, Redemption.status).where(
                    Redemption.person_id == person_id)).all()
            ),
            "complaints": s.execute(select(Complaint.status, Complaint.priority, Complaint.received_at,
                Complaint.first_responded_at, Complaint.resolved_at, Complaint.resolved_by_id,
                Complaint.resolution_due_at, Complaint.satisfaction).where(Complaint.person_id == person_id)
                .order_by(Complaint.id)).all(),
            # The team's statistics: every kudos (erasure unlinks them from the person) and the trail.
            "kudos": s.execute(select(Kudos.to_user_id, Kudos.from_kind, Kudos.points, Kudos.created_at)
                               .order_by(Kudos.id)).all(),
            "trail": total(func.count(ComplaintReply.id)) + total(func.count(ComplaintLog.id))
            + total(func.count(StaffNotice.id)),
        }  # fmt: skip


def test_every_table_that_points_at_people_is_handled_by_erasure() -> None:
    pointing = {"people"} | {
        table.name
        for table in Base.metadata.sorted_tables
        for column in table.columns
        for fk in column.foreign_keys
        if fk.column.table.name == "people"
    }
    assert pointing == set(PERSON_TABLES), "add the new table to PERSON_TABLES and to erase_person"


def test_export_holds_everything_and_is_plain_json(db: Database, tmp_path: Path) -> None:
    _, cy_id, _ = _business(db, tmp_path)
    with db.reading() as s:
        data = export_person(s, person_ref="cy@example.COM", currency="GBP", secret_key=SECRET)
        counts = {
            m.__tablename__: s.scalar(select(func.count()).select_from(m).where(m.person_id == cy_id))
            for m in (
                Event,
                Order,
                BankEntry,
                InsightMilestone,
                PlanItem,
                Note,
                Message,
                ConsentChange,
                Complaint,
            )
        }
    again = json.loads(json.dumps(data))  # no default=: everything is plain JSON already
    assert again == data
    assert data["schema"] == "goodwill.person-export" and data["schema_version"] == 1
    assert datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    person = data["person"]
    assert (person["id"], person["name"], person["email"], person["phone"]) == (
        cy_id,
        "Cy Moss",
        CY_EMAIL,
        CY_PHONE,
    )
    assert person["address_line1"] == "12 Thornbury Lane" and person["created_at"].endswith("+00:00")
    assert {(i["namespace"], i["value"]) for i in data["people"]["identities"]} == {
        ("email", "cy@example.com"), ("crm", "CRM-CY-7781")}  # fmt: skip
    assert "collects Japanese cast-iron kettles" in [f["text"] for f in data["people"]["facts"]]
    assert "asked at the Bristol market stall" in [c["note"] for c in data["people"]["consent_changes"]]
    assert len(data["people"]["consent_changes"]) == counts["consent_changes"]
    listed = {(x["kind"], x["address"]): x["suppressed"] for x in data["people"]["suppressions"]}
    assert listed == {("email", "cy@example.com"): False, ("email", "cy.old@example.net"): False,
                      ("phone", "+447700900123"): False}  # fmt: skip
    events = data["events"]["events"]
    assert len(events) == counts["events"]
    purchases = [e for e in events if e["kind"] == "purchase"]
    assert [(e["amount_minor"], e["currency"]) for e in purchases] == [(2500, "GBP"), (3150, "GBP")]
    assert "Tin arrived dented at Thornbury" in [e["text"] for e in events]
    orders = data["events"]["orders"]
    assert [(o["external_id"], o["total_minor"], o["currency"]) for o in orders] == [
        ("C-1001", 2500, "GBP"), ("C-1002", 3150, "GBP")]  # fmt: skip
    assert orders[0]["items"][0]["name"].startswith("Engraved caddy")
    assert len(data["bank"]["entries"]) == counts["bank_entries"] > 0
    assert data["bank"]["standing"]["currency"] == "GBP" and data["bank"]["standing"]["value_minor"] == 5650
    assert (
        data["insights"]["score"]["total_spend_minor"] == 5650
        and data["insights"]["score"]["currency"] == "GBP"
    )
    assert len(data["insights"]["milestones"]) == counts["insight_milestones"]
    assert [i["moment"] for i in data["planner"]["items"]] == ["complaint_resolved"] and counts[
        "plan_items"
    ] == 1
    assert len(data["notes"]) == counts["notes"] == 1 and "Cy" in data["notes"][0]["body"]
    assert len(data["outbox"]) == counts["outbox_messages"] == 3
    failed = next(m for m in data["outbox"] if m["status"] == "failed")
    assert failed["attempts"][0]["error"].startswith("550") and failed["address"] == "cy.old@example.net"
    loyalty = data["loyalty"]
    account = loyalty["account"]
    assert (account["balance"], account["issued"], account["birthday_month"], account["birthday_day"]) == (
        400, 600, 2, 29)  # fmt: skip
    assert [(e["kind"], e["points"]) for e in loyalty["entries"]] == [
        ("adjust", 600), ("redeem", -200), ("redeem", -200), ("reverse", 200)]  # fmt: skip
    assert loyalty["entries"][0]["note"] == "thanks for the kettle club talk"
    shipped, returned = loyalty["redemptions"]
    assert (shipped["reward"], shipped["status"], shipped["tracking"]) == (
        "Tea towel",
        "shipped",
        "TRK-CY-55",
    )
    assert shipped["ship_to"]["line1"] == "4 Orchard Row" and returned["status"] == "refunded"
    assert returned["history"][-1]["reason"] == "returned: Orchard Row has no letterbox"
    # The complaints (the one from the imported event and the one with a reply), kudos from their praise.
    complaints = {c["source"]: c for c in data["complaints"]}
    assert set(complaints) == {"events", "api"} and len(data["complaints"]) == counts["complaints"]
    theirs = complaints["api"]
    assert (theirs["subject"], theirs["body"], theirs["status"]) == (
        "Wobbly handle too", "The cracked spout leaks everywhere", "resolved")  # fmt: skip
    assert (theirs["resolution"], theirs["satisfaction"]) == ("Posted a replacement spout", "partly")
    assert theirs["received_at"] == "2026-11-12T10:00:00+00:00" and theirs["resolved_at"].startswith(
        "2026-11-12T15"
    )
    assert [r["subject"] for r in theirs["replies"]] == [
        "Sorry about the spout, Cyrus",
        "Sorry about the spout",
    ]
    assert "Posted a replacement spout" in [step["detail"] for step in theirs["log"]]
    assert complaints["events"]["body"] == "Tin arrived dented at Thornbury"
    # Kudos from their praise, about their complaint, and a colleague's that names them.
    assert sorted(k["reason"] for k in data["kudos"]) == [
        "Calmed things down over the wobbly handle", "Great work on the cracked spout",
        "Maya found me the brass samovar", "You calmed Cy Moss down so well"]  # fmt: skip
    # What staff were told about them: the escalation, the praise (to Maya and her manager) and the
    # notices of those kudos; not the manager's digest.
    notices = sorted(n["text"] for n in data["staff_notices"])
    assert (
        "Cy Moss is still waiting about the cracked spout" in notices and "Cyrus praised Maya Gold" in notices
    )
    assert not [n for n in notices if n.startswith("Your team")]
    assert "oolong" not in json.dumps(data)  # Ann's complaint is hers
    assert data["erasure"] is None
    with db.reading() as s, pytest.raises(PersonNotFound):
        export_person(s, person_ref="nobody@example.com")


def test_erasure_leaves_no_personal_string_and_keeps_every_number(db: Database, tmp_path: Path) -> None:
    settings, cy_id, ann_id = _business(db, tmp_path)
    before_leaks = {s for _, _, s in leaks(db, CY_STRINGS)}
    # Every string is there before (the phone only as written), so finding none after means something.
    assert before_leaks == set(CY_STRINGS) - {"447700900123"}
    before, ann_before = numbers(db, cy_id), numbers(db, ann_id)
    with db.transaction() as s:
        report = erase_person(s, person_ref=CY_EMAIL, secret_key=SECRET, erased_by="staff:boss@shop.test",
                              reason="asked to be forgotten (ticket 77)")  # fmt: skip

    assert (
        report.person_id == cy_id and report.name == f"erased person #{cy_id}" and not report.already_erased
    )
    assert report.suppressed == {"email": 2, "phone": 1} and report.newly_suppressed == 3
    assert report.messages_cancelled == 1
    # The stored answers: Cy's summary, one that quoted only where their gift was sent, and kudos
    # given through the API about their complaint.
    assert report.removed == {"person_identities": 2, "person_facts": 3, "idempotency_keys": 3}
    assert report.kept["loyalty_entries"] == 4 and report.kept["loyalty_redemptions"] == 2
    blanked = {t: n for t, n in report.blanked.items() if t.startswith("loyalty")}
    assert blanked == {"loyalty_accounts": 1, "loyalty_entries": 4, "loyalty_redemptions": 2}
    assert report.kept["events"] == before["person_events"][0] and report.kept["bank_entries"] > 0
    trail = {t: n for t, n in report.blanked.items() if t.startswith(("complaint", "kudos", "staff"))}
    assert trail.pop("complaint_log") >= 3  # received, assigned, resolved (and what else was logged)
    # Both their complaints; both replies; the kudos from their praise, the two about their complaint
    # and the one naming them; the escalation, praise (to Maya and Max) and three kudos notices, and
    # not Max's digest notice; the two themes that held their name.
    assert trail == {"complaints": 2, "complaint_replies": 2, "kudos": 4, "staff_notices": 6,
                     "complaint_themes": 2}  # fmt: skip
    assert report.kept["complaints"] == 2
    assert "Cy" not in json.dumps(report.as_dict())

    assert leaks(db, CY_STRINGS) == []
    assert leaks(db, ["ann lee", "ann@example.com", "loves oolong"]), "the control: Ann is untouched"
    assert {t for t, _, _ in leaks(db, ["oolong tin was stale"])} >= {"complaints", "events"}
    assert numbers(db, cy_id) == before and numbers(db, ann_id) == ann_before
    with db.reading() as s:
        for address in (CY_EMAIL, "cy@example.com", "cy.old@example.net"):
            assert is_suppressed(s, secret_key=SECRET, kind="email", address=address)
        assert is_suppressed(s, secret_key=SECRET, kind="phone", address="+447700900123")
        assert not is_suppressed(s, secret_key=SECRET, kind="email", address="ann@example.com")
        messages = s.scalars(select(Message).where(Message.person_id == cy_id).order_by(Message.id)).all()
        assert sorted(m.status for m in messages) == ["cancelled", "failed", "sent"]
        tomb = s.get(Person, cy_id)
        assert (
            tomb is not None and tomb.kind == "customer" and tomb.search_key == "" and tomb.time_zone is None
        )
        state = {c.channel: (c.granted, c.source) for c in s.scalars(select(ConsentChange).where(
            ConsentChange.person_id == cy_id).order_by(ConsentChange.at, ConsentChange.id))}  # fmt: skip
        assert state == {c: (False, "erasure") for c in ("email", "sms", "card", "call")}
        account = s.get(LoyaltyAccount, cy_id)
        assert account is not None and (account.birthday_month, account.birthday_day) == (None, None)
        gifts = s.scalars(select(Redemption).where(Redemption.person_id == cy_id)).all()
        assert {(g.ship_to is None, g.tracking) for g in gifts} == {(True, None)}
        assert all(set(step) == {"status", "at", "by"} for g in gifts for step in g.history)
        assert [step["status"] for step in gifts[0].history] == ["pending", "to_fulfil", "shipped"]
        record = export_person(s, person_ref=cy_id)
        assert (
            record["erasure"]["note"] == "erased by staff:boss@shop.test: asked to be forgotten (ticket 77)"
        )
        assert record["person"]["email"] is None and record["people"]["identities"] == []
        # The praise's kudos is unlinked from Cy; the two about their complaint stay with it, blank.
        assert [(k["person_id"], k["reason"]) for k in record["kudos"]] == [(None, "")] * 2
        assert all(k["complaint_id"] for k in record["kudos"])
        replies = s.scalars(select(ComplaintReply).order_by(ComplaintReply.id)).all()
        assert [(r.status, r.subject, r.body) for r in replies] == [("queued", "", ""), ("discarded", "", "")]
        assert (
            s.scalars(select(StaffNotice.text).where(StaffNotice.kind == "digest"))
            .one()
            .startswith("Your team")
        )
        themes = s.execute(select(ComplaintTheme.id, ComplaintTheme.label, ComplaintTheme.keywords)
                           .order_by(ComplaintTheme.id)).all()  # fmt: skip
        assert [(label, keywords) for _, label, keywords in themes] == [
            (f"theme {themes[0].id}", []), ("tin", ["tin"]),
            ("oolong, lee, stale", ["oolong", "lee", "stale"]),
        ]  # fmt: skip
        kudos = s.scalars(select(Kudos).order_by(Kudos.id)).all()
        assert [k.reason for k in kudos] == ["", "", "", ""]  # the thanks stay, not the words

    # Twice is harmless, by id or by the email that no longer leads anywhere.
    with db.transaction() as s:
        again = erase_person(s, person_ref=cy_id, secret_key=SECRET, erased_by="cli:ops", reason="again")
        by_email = erase_person(
            s, person_ref="cy@example.com", secret_key=SECRET, erased_by="cli:ops", reason="x"
        )
    assert again.already_erased and again.erased_at == report.erased_at
    assert again.blanked == {} and again.newly_suppressed == 0 and again.messages_cancelled == 0
    assert set(again.removed.values()) == {0}
    assert by_email.already_erased and by_email.person_id is None
    with db.reading() as s:
        assert s.scalar(select(func.count()).where(ConsentChange.source == "erasure")) == 4

    # The shop sends the same orders again: a new person, still never to be contacted.
    with db.transaction() as s:
        import_orders(session=s, path=tmp_path / "orders.csv", business=settings.business)
        newcomer = get_person(s, CY_EMAIL)
        assert newcomer.id != cy_id
        assert is_suppressed(s, secret_key=SECRET, kind="email", address=newcomer.email or "")
    assert numbers(db, cy_id) == before


def test_erasure_refuses_a_reason_that_names_the_person(db: Database, tmp_path: Path) -> None:
    _, cy_id, _ = _business(db, tmp_path)
    with db.transaction() as s, pytest.raises(ErasureRefused, match="leave the person's details out"):
        erase_person(s, person_ref=cy_id, secret_key=SECRET, erased_by="x", reason="Cy Moss asked by phone")
    # Where their rewards were sent identifies them too.
    with db.transaction() as s, pytest.raises(ErasureRefused, match="leave the person's details out"):
        erase_person(s, person_ref=cy_id, secret_key=SECRET, erased_by="x", reason="as granny moss asked")
    with db.transaction() as s, pytest.raises(ErasureRefused, match="say why"):
        erase_person(s, person_ref=cy_id, secret_key=SECRET, erased_by="x", reason="  ")
    with db.transaction() as s, pytest.raises(PersonNotFound):
        erase_person(s, person_ref="nobody@example.com", secret_key=SECRET, erased_by="x", reason="gone")
    with db.reading() as s:
        assert get_person(s, cy_id).name == "Cy Moss"


# ---- CLI --------------------------------------------------------------------------------------

runner = CliRunner()


def invoke(db: Database, *args: str, stdin: str | None = None) -> tuple[int, str]:
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_SECRET_KEY": SECRET}
    result = runner.invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.output


def test_cli_export_and_erase(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _, cy_id, _ = _business(db, tmp_path)
    code, out = invoke(db, "people", "export", "cy@example.com")
    assert code == 0, out
    assert json.loads(out)["person"]["name"] == "Cy Moss"
    target = tmp_path / "cy.json"
    code, out = invoke(db, "people", "export", str(cy_id), "--out", str(target))
    assert code == 0 and "cy.json" in out
    assert json.loads(target.read_text())["person"]["id"] == cy_id
    assert os.stat(target).st_mode & 0o777 == 0o600

    code, out = invoke(db, "people", "erase", str(cy_id), "--reason", "asked", stdin="n\n")
    assert code == 1 and "Cy Moss" in out and "nothing was erased" in out
    code, out = invoke(db, "people", "erase", str(cy_id), "--reason", "asked", stdin="y\n")
    assert code == 0, out
    assert f"Erased: person #{cy_id} is now erased person #{cy_id}" in out and "messages cancelled: 1" in out
    code, out = invoke(db, "people", "erase", str(cy_id), "--reason", "asked", "--yes", "--json")
    assert code == 0 and json.loads(out)["already_erased"] is True
    code, out = invoke(db, "people", "erase", "nobody@example.com", "--reason", "x", "--yes")
    assert code == 1 and "no person" in out
    code, out = invoke(db, "people", "export", "cy@example.com")
    assert code == 1 and "no person" in out


# ---- API --------------------------------------------------------------------------------------

P = f"{API_PREFIX}/people"


def test_api_is_for_admins_and_erasure_honours_idempotency_keys(db: Database, tmp_path: Path) -> None:
    client = make_client(db)
    admin = token_for(db, add_user(db, "boss@shop.test", "admin"))
    manager = token_for(db, add_user(db, "mgr@shop.test", "manager"))
    agent = token_for(db, add_user(db, "agent@shop.test", "agent"))
    body = {"name": "Zoë Brontë", "email": "zoe@example.com", "phone": "+33 6 12 34 56 78",
            "consent": {"email": True}}  # fmt: skip
    created = client.post(P, json=body, headers={**agent, "Idempotency-Key": "zoe-1"})
    assert created.status_code == 201
    pid = created.json()["id"]
    fact = {"text": "restores harpsichords in Lyon"}
    assert (
        client.post(f"{P}/{pid}/facts", json=fact, headers={**agent, "Idempotency-Key": "f-1"}).status_code
        == 201
    )

    for who in (manager, agent):
        refused = client.get(f"{P}/{pid}/export", headers=who)
        assert refused.status_code == 403 and "export or erase" in refused.json()["detail"]
        assert client.post(f"{P}/{pid}/erase", json={"reason": "asked"}, headers=who).status_code == 403
    exported = client.get(f"{P}/zoe@example.com/export", headers=admin)
    assert exported.status_code == 200 and exported.json()["people"]["facts"][0]["text"] == fact["text"]
    assert client.get(f"{P}/nobody@example.com/export", headers=admin).status_code == 404
    assert client.post(f"{P}/{pid}/erase", json={}, headers=admin).json()["detail"][0]["loc"] == [
        "body",
        "reason",
    ]
    named = client.post(f"{P}/{pid}/erase", json={"reason": "zoe@example.com asked"}, headers=admin)
    assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["body", "reason"]

    key = {**admin, "Idempotency-Key": "erase-zoe"}
    erased = client.post(f"{P}/{pid}/erase", json={"reason": "asked by email"}, headers=key)
    assert erased.status_code == 200, erased.text
    assert erased.json()["name"] == f"erased person #{pid}" and erased.json()["already_erased"] is False
    assert erased.json()["removed"]["idempotency_keys"] == 2  # the stored answers that quoted her
    replay = client.post(f"{P}/{pid}/erase", json={"reason": "asked by email"}, headers=key)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json() == erased.json()
    again = client.post(f"{P}/{pid}/erase", json={"reason": "asked by email"}, headers=admin)
    assert again.json()["already_erased"] is True
    assert leaks(db, ["zoë", "brontë", "zoe@example.com", "12 34 56 78", "33612345678", "harpsichord"]) == []
    with db.reading() as s:
        assert is_suppressed(s, secret_key=SECRET, kind="phone", address="+33612345678")
    assert client.get(f"{P}/{pid}", headers=agent).json()["name"] == f"erased person #{pid}"


def test_an_erased_person_is_never_planned(db: Database, tmp_path: Path) -> None:
    settings, cy_id, ann_id = _business(db, tmp_path, plan=False)
    with db.transaction() as s:
        erase_person(s, person_ref=cy_id, secret_key=SECRET, erased_by="x", reason="asked")
    with db.transaction() as s:
        _, drafted = notes.plan_and_draft(s, day=DAY, settings=settings)
    assert {note.person_id for note in drafted} == {ann_id}  # Cy's resolved complaint would be a moment


def test_erasure_keeps_other_peoples_stored_answers_that_share_a_note(db: Database) -> None:
    """A redemption's note is the reward's name and an adjustment's a staff reason: words other
    people's stored answers share. Only answers that point at the erased person go."""
    settings = load_settings(database_url=db.url, secret_key=SECRET)
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    with db.transaction() as s:
        staff = create_user(session=s, email="boss@shop.test", role="admin", password="a long passphrase 42")
        gone = Person(name="Gone Soon", email="gone@example.com", kind="customer")
        s.add(gone)
        s.flush()
        ledger.adjust(
            s, person_id=gone.id, points=50, reason="Goodwill gesture for the late parcel", key="adj-gone",
            by_user_id=staff.id, now=now, config=settings.loyalty,
        )  # fmt: skip
        theirs = '{"key": "adj-gone", "points": 50, "note": "Goodwill gesture for the late parcel"}'
        others = '{"key": "adj-other", "points": 20, "note": "Goodwill gesture for the late parcel"}'
        for key, body in (("k-gone", theirs), ("k-other", others)):
            s.add(IdempotencyRecord(user_id=staff.id, key=key, request_hash="0" * 64, status_code=201,
                                    response_body=body, created_at=now))  # fmt: skip
        gone_id = gone.id
    with db.transaction() as s:
        erase_person(s, person_ref=gone_id, secret_key=SECRET, erased_by="staff:boss@shop.test",
                     reason="asked to be forgotten")  # fmt: skip
    with db.reading() as s:
        assert s.scalars(select(IdempotencyRecord.key)).all() == ["k-other"]
