"""Generate a living sample business: two years of orders, questions, complaints, praise and delays.

Pure: the same seed, size and "now" always give the same data. The output is in the formats
real shops hand us (a Shopify orders export and an events JSON Lines file), so the demo runs
through the same importers a real business uses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from goodwill.demo import catalogue as cat
from goodwill.people.model import fold

SHOPIFY_HEADERS = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Notes", "Cancelled at",
    "Payment Method", "Refunded Amount", "Vendor", "Id", "Tags", "Source", "Phone",
]  # fmt: skip

# How often each kind of customer buys: (share of people, orders per year, active months ago span)
ARCHETYPES: dict[str, tuple[float, float]] = {
    "loyal": (0.12, 7.0),
    "regular": (0.25, 3.0),
    "occasional": (0.25, 1.2),
    "lapsed": (0.13, 3.0),
    "new": (0.10, 2.0),
    "prospect": (0.15, 0.0),
}


@dataclass
class DemoPerson:
    name: str
    email: str
    archetype: str
    phone: str | None
    city: tuple[str, str, str, str, str]
    street: str
    preferred_name: str | None
    preferred_channel: str
    consent: dict[str, bool]
    facts: list[str] = field(default_factory=list)
    # Some customers meet several problems in a row: their stories show on the At-risk page.
    unlucky: bool = False
    # How much this person tends to buy at once (mean 1): people differ, as Gamma-Gamma assumes.
    basket: float = 1.0


@dataclass
class DemoBusiness:
    people: list[DemoPerson]
    order_rows: list[dict[str, str]]
    events: list[dict[str, Any]]


def _email_for(name: str, index: int) -> str:
    ascii_part = "".join(ch for ch in fold(name) if ch.isascii() and (ch.isalnum() or ch == " "))
    local = ".".join(ascii_part.split()) or "customer"
    return f"{local}.{index}@example.com"


def _person(rng: random.Random, index: int) -> DemoPerson:
    if rng.random() < 0.04:
        name = rng.choice(cat.NATIVE_NAMES)
    else:
        name = f"{rng.choice(cat.FIRST_NAMES)} {rng.choice(cat.LAST_NAMES)}"
    archetype = rng.choices(list(ARCHETYPES), weights=[a[0] for a in ARCHETYPES.values()])[0]
    city = rng.choice(cat.CITIES)
    channel = rng.choices(["email", "sms", "card", "call"], weights=[60, 15, 20, 5])[0]
    consent = {"email": rng.random() < 0.85, "sms": channel == "sms" or rng.random() < 0.2}
    if channel == "card":
        consent["card"] = True
    if channel == "call":
        consent["call"] = True
    first = name.split()[0]
    preferred = None
    if first in {"Margaret", "Thomas", "Samuel", "Eleanor", "Daniel"} and rng.random() < 0.5:
        preferred = {
            "Margaret": "Maggie",
            "Thomas": "Tom",
            "Samuel": "Sam",
            "Eleanor": "Nell",
            "Daniel": "Dan",
        }[first]
    phone = f"+1 503 555 {rng.randint(1000, 9999)}" if rng.random() < 0.7 else None
    facts = rng.sample(cat.FACTS, k=rng.choice([0, 1, 1, 2]))
    return DemoPerson(
        name=name,
        email=_email_for(name, index),
        archetype=archetype,
        phone=phone,
        city=city,
        street=f"{rng.randint(1, 240)} {rng.choice(cat.STREETS)}",
        preferred_name=preferred,
        preferred_channel=channel,
        consent=consent,
        facts=facts,
        unlucky=archetype != "prospect" and rng.random() < 0.05,
        basket=rng.gammavariate(3.0, 1 / 3),
    )


def _order_times(rng: random.Random, archetype: str, now: datetime) -> list[datetime]:
    rate = ARCHETYPES[archetype][1]
    if rate == 0:
        return []
    span_days = 730
    start = now - timedelta(days=span_days)
    end = now
    if archetype == "lapsed":
        end = now - timedelta(days=rng.randint(200, 400))
    if archetype == "new":
        start = now - timedelta(days=rng.randint(10, 90))
    else:
        start = start + timedelta(days=rng.randint(0, 300))
    times: list[datetime] = []
    t = start
    while True:
        t += timedelta(days=rng.expovariate(rate / 365.0))
        if t >= end:
            break
        times.append(t.replace(hour=rng.randint(7, 22), minute=rng.randint(0, 59), second=rng.randint(0, 59)))
    if not times:
        times.append(start + (end - start) * rng.random())
    return times


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def generate(*, seed: int, people: int, now: datetime) -> DemoBusiness:
    rng = random.Random(seed)
    crowd = [_person(rng, i) for i in range(people)]
    order_rows: list[dict[str, str]] = []
    events: list[dict[str, Any]] = []
    order_number = 1000
    event_number = 0

    def event(person: DemoPerson, kind: str, at: datetime, **extra: Any) -> None:
        nonlocal event_number
        event_number += 1
        if at > now:
            return
        record = {
            "source_id": f"demo-{seed}-{event_number}",
            "email": person.email,
            "name": person.name,
            "kind": kind,
            "occurred_at": at.isoformat(),
        }
        record.update({k: v for k, v in extra.items() if v is not None})
        events.append(record)

    for person in crowd:
        tz = ZoneInfo(person.city[4])
        for placed in _order_times(rng, person.archetype, now):
            order_number += 1
            name = f"#{order_number}"
            local = placed.astimezone(tz)
            wanted = round(person.basket * rng.choice([1, 1, 2, 2, 3]))
            lines = rng.sample(cat.PRODUCTS, k=min(5, max(1, wanted)))
            quantities = [max(1, round(person.basket * rng.choice([1, 1, 1, 2]))) for _ in lines]
            subtotal = sum(price * q for (_, _, price), q in zip(lines, quantities, strict=True))
            shipping = 0 if subtotal >= 5000 else 595
            taxes = round(subtotal * 0.08)
            total = subtotal + shipping + taxes
            cancelled = rng.random() < 0.015
            refunded = 0
            if not cancelled and rng.random() < 0.04:
                refunded = total if rng.random() < 0.5 else rng.choice(lines)[2]
            for index, ((item, sku, price), quantity) in enumerate(zip(lines, quantities, strict=True)):
                row = dict.fromkeys(SHOPIFY_HEADERS, "")
                row.update(
                    {
                        "Name": name,
                        "Email": person.email,
                        "Lineitem quantity": str(quantity),
                        "Lineitem name": item,
                        "Lineitem price": _money(price),
                        "Lineitem sku": sku,
                        "Lineitem requires shipping": "true",
                        "Lineitem taxable": "true",
                        "Lineitem fulfillment status": "fulfilled",
                        "Vendor": cat.BUSINESS_NAME,
                    }
                )
                if index == 0:
                    stamp = local.strftime("%Y-%m-%d %H:%M:%S %z")
                    row.update(
                        {
                            "Financial Status": "refunded"
                            if refunded == total
                            else "partially_refunded"
                            if refunded
                            else "voided"
                            if cancelled
                            else "paid",
                            "Paid at": "" if cancelled else stamp,
                            "Fulfillment Status": "unfulfilled" if cancelled else "fulfilled",
                            "Accepts Marketing": "yes" if person.consent["email"] else "no",
                            "Currency": "USD",
                            "Subtotal": _money(subtotal),
                            "Shipping": _money(shipping),
                            "Taxes": _money(taxes),
                            "Total": _money(total),
                            "Discount Amount": "0.00",
                            "Shipping Method": "Standard",
                            "Created at": stamp,
                            "Billing Name": person.name,
                            "Billing Street": person.street,
                            "Billing Address1": person.street,
                            "Billing City": person.city[0],
                            "Billing Zip": "'" + person.city[2],
                            "Billing Province": person.city[1],
                            "Billing Country": person.city[3],
                            "Billing Phone": person.phone or "",
                            "Cancelled at": (local + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S %z")
                            if cancelled
                            else "",
                            "Payment Method": "Shopify Payments",
                            "Refunded Amount": _money(refunded),
                            "Id": str(5_000_000_000 + order_number),
                            "Source": "web",
                            "Phone": person.phone or "",
                        }
                    )
                order_rows.append(row)
            if cancelled:
                continue
            _order_aftermath(rng, person, placed, event)
        _conversations(rng, person, now, event)
    events.sort(key=lambda e: e["occurred_at"])
    return DemoBusiness(people=crowd, order_rows=order_rows, events=events)


def _staff(rng: random.Random) -> str:
    return rng.choice(cat.STAFF)[0]


def _order_aftermath(rng: random.Random, person: DemoPerson, placed: datetime, event: Any) -> None:
    """What can happen after an order: delays, defects, complaints and how they were handled."""
    unlucky = person.unlucky
    trouble = 0.45 if unlucky else 0.04
    if rng.random() < trouble:
        event(person, "late_delivery", placed + timedelta(days=rng.randint(6, 12)), text="Courier delay")
        if rng.random() < (0.6 if unlucky else 0.25):
            complain(rng, person, placed + timedelta(days=rng.randint(8, 14)), event, unlucky)
    if rng.random() < (0.2 if unlucky else 0.012):
        event(person, "defect", placed + timedelta(days=rng.randint(3, 8)), text="Arrived damaged")
        complain(rng, person, placed + timedelta(days=rng.randint(4, 9)), event, unlucky)
    if rng.random() < 0.04:
        event(person, "praise", placed + timedelta(days=rng.randint(3, 20)), text=rng.choice(cat.PRAISE),
              staff_email=_staff(rng), channel="email")  # fmt: skip
    if rng.random() < 0.08:
        event(person, "review", placed + timedelta(days=rng.randint(5, 30)), text=rng.choice(cat.REVIEWS))
    if rng.random() < 0.02:
        event(person, "referral", placed + timedelta(days=rng.randint(10, 60)), text="Told a friend about us")


def complain(rng: random.Random, person: DemoPerson, at: datetime, event: Any, unlucky: bool) -> None:
    event(person, "complaint", at, text=rng.choice(cat.COMPLAINTS), channel=rng.choice(["email", "phone"]))
    if rng.random() < (0.35 if unlucky else 0.85):
        event(person, "complaint_resolved", at + timedelta(hours=rng.randint(2, 120)),
              text=rng.choice(cat.RESOLUTIONS), staff_email=_staff(rng))  # fmt: skip


def _conversations(rng: random.Random, person: DemoPerson, now: datetime, event: Any) -> None:
    """Questions and visits, which prospects (window-shoppers) have too."""
    count = rng.choices([0, 1, 2, 3], weights=[50, 30, 15, 5])[0]
    if person.archetype == "prospect":
        count += 1
    for _ in range(count):
        at = now - timedelta(days=rng.uniform(1, 700))
        kind = rng.choice(["question", "question", "visit"])
        if kind == "visit":
            event(person, "visit", at, channel="shop", text="Browsed the tasting bar")
            continue
        event(person, "question", at, text=rng.choice(cat.QUESTIONS), channel="email")
        if rng.random() < 0.93:
            event(
                person, "question_answered", at + timedelta(hours=rng.randint(1, 48)), staff_email=_staff(rng)
            )
