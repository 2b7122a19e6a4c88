"""Load the sample business through the same paths a real shop uses (importers, services)."""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from goodwill.config import Settings
from goodwill.db import Database
from goodwill.demo import catalogue as cat
from goodwill.demo.campaign import load_campaign
from goodwill.demo.generate import SHOPIFY_HEADERS, DemoBusiness, generate
from goodwill.demo.loyalty import LoyaltyDemo, load_loyalty
from goodwill.demo.team import load_team
from goodwill.events.importers.service import ImportReport, import_events, import_orders
from goodwill.insights.pipeline import ScoreOptions
from goodwill.insights.service import score_people
from goodwill.notes.service import plan_and_draft
from goodwill.people.service import PersonRecord, add_facts_bulk, resolve_people
from goodwill.team.model import User

Step = Callable[[str], None]


@dataclass
class DemoSummary:
    people: int
    orders: ImportReport
    events: ImportReport
    loyalty: LoyaltyDemo
    owner_email: str
    owner_password: str


def write_files(business: DemoBusiness, folder: Path) -> tuple[Path, Path]:
    orders = folder / "orders_export.csv"
    with orders.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SHOPIFY_HEADERS)
        writer.writeheader()
        writer.writerows(business.order_rows)
    events = folder / "events.jsonl"
    with events.open("w", encoding="utf-8") as handle:
        for record in business.events:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return orders, events


def _records(business: DemoBusiness) -> list[PersonRecord]:
    return [
        PersonRecord(
            name=p.name,
            email=p.email,
            preferred_name=p.preferred_name,
            phone=p.phone,
            address_line1=p.street,
            city=p.city[0],
            region=p.city[1] or None,
            postal_code=p.city[2],
            country=p.city[3],
            time_zone=p.city[4],
            preferred_channel=p.preferred_channel,
            consent=p.consent,
        )
        for p in business.people
    ]


def _ensure_staff(db: Database, owner_password: str) -> None:
    """The owner (whose password is new on every run, and printed) and the staff named in events."""
    from goodwill.team.service import create_user, set_password

    with db.transaction() as s:
        existing = set(s.scalars(select(User.email)).all())
        for email, name, role in cat.STAFF:
            if email not in existing:
                create_user(session=s, email=email, role=role, name=name, password=secrets.token_urlsafe(18))
        if cat.OWNER_EMAIL in existing:
            set_password(session=s, email=cat.OWNER_EMAIL, password=owner_password)
        else:
            create_user(
                session=s, email=cat.OWNER_EMAIL, role="admin", name=cat.OWNER_NAME, password=owner_password
            )


def load_demo(
    *, db: Database, settings: Settings, seed: int, people: int, now: datetime, folder: Path, step: Step
) -> DemoSummary:
    """Generate and import the sample business. Idempotent: the same seed adds nothing the second time."""
    business = settings.business
    step("Generating two years of a tea merchant's life")
    data = generate(seed=seed, people=people, now=now)
    orders_file, events_file = write_files(data, folder)
    owner_password = "-".join(secrets.token_hex(3) for _ in range(3))
    step("Creating staff accounts")
    _ensure_staff(db, owner_password)
    step(f"Adding {len(data.people)} people with their facts and consent")
    with db.transaction() as s:
        ids, created = resolve_people(s, _records(data), source="demo")
        add_facts_bulk(
            s,
            [(pid, fact) for pid, p in zip(ids, data.people, strict=True) for fact in p.facts],
            source="demo",
        )
    step(f"Importing {len(data.order_rows)} order lines (Shopify export)")
    with db.transaction() as s:
        orders = import_orders(
            session=s, path=orders_file, business=business, fmt="shopify", settings=settings
        )
    step(f"Importing {len(data.events)} questions, complaints, praise and deliveries")
    with db.transaction() as s:
        events = import_events(session=s, path=events_file, business=business, settings=settings)
    step("Scoring buying patterns (RFM, P(alive), lifetime value, milestones)")
    with db.transaction() as s:
        score_people(s, business=business, options=ScoreOptions(as_of=now.astimezone(business.tz).date()))
    step("Awarding loyalty points, birthdays and tiers; stocking the rewards catalogue")
    loyalty = load_loyalty(db=db, settings=settings, seed=seed, now=now)
    step("Forming the shop-floor team, thanking colleagues, grouping complaints into themes")
    load_team(db=db, settings=settings, now=now)
    step("Replaying last Thanksgiving's campaign, with its holdout, for the Impact page")
    load_campaign(db=db, settings=settings, seed=seed, now=now)
    step("Planning today's thank-yous and drafting their notes")
    with db.transaction() as s:
        plan_and_draft(s, day=now.astimezone(business.tz).date(), settings=settings)
    return DemoSummary(
        people=created,
        orders=orders,
        events=events,
        loyalty=loyalty,
        owner_email=cat.OWNER_EMAIL,
        owner_password=owner_password,
    )
