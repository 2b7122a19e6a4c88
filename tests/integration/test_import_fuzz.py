"""Fuzzing the file importers against real databases (SQLite and PostgreSQL), with hypothesis.

Every importer that reads a file (people, events from CSV and JSON Lines, generic orders, Shopify
orders) gets hostile files: broken structure (unbalanced quotes, missing, duplicated or renamed
headers, BOMs, CR/LF mixes, NULs, invalid UTF-8 half-way through) and hostile cells (1e309, NaN,
2**64, dates at the edge of time, emoji, RTL marks, Jinja and HTML, huge fields). The properties:

* nothing escapes but ``ImportFileError``; a bad row is a rejection with its line and a reason;
* no partial write: a file refused as a whole (even after several batches were stored) leaves the
  database exactly as before, byte for byte; a file with bad rows stores exactly its good rows;
* the database holds what the report says, and the loyalty ledger still balances;
* importing the same file again changes nothing at all.

The examples are derandomized and few, so CI stays quick and repeatable. For a longer, random run:
``GOODWILL_FUZZ_EXAMPLES=500 .venv/bin/python -m pytest -p no:randomly tests/integration/test_import_fuzz.py``
(the number is examples per test).
"""

from __future__ import annotations

import csv
import io
import json
import mailbox
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from goodwill.complaints.mailbox import fetch_mail
from goodwill.complaints.model import Complaint
from goodwill.config import Business, fuzz_examples, load_settings
from goodwill.db import Database
from goodwill.events.importers import events_file, people_file, service
from goodwill.events.importers.orders_store import OrderSink
from goodwill.events.importers.parsing import clean_text
from goodwill.events.importers.report import MAX_REASON
from goodwill.events.importers.service import ImportFileError, ImportReport
from goodwill.events.model import Event, Order
from goodwill.loyalty.ledger import check
from goodwill.models import Base
from goodwill.people.model import Person

BUSINESS = Business(timezone="Europe/Paris", currency="EUR")
SETTINGS = load_settings(business=BUSINESS.model_dump())  # loyalty on: imports award points too
RUN = fuzz_examples()


def budget(examples: int) -> Any:
    """CI: ``examples``, derandomized (the same inputs every run). GOODWILL_FUZZ_EXAMPLES: more, random."""
    return settings(
        max_examples=RUN or examples,
        derandomize=not RUN,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# --- the database, whole ---------------------------------------------------------------------------


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order: equal snapshots mean nothing at all was written."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.reading() as s:
        for table in Base.metadata.sorted_tables:
            rows = s.execute(select(table).order_by(*table.primary_key.columns)).all()
            if rows:
                found[table.name] = [tuple(row) for row in rows]
    return found


def reset(db: Database) -> None:
    with db.transaction() as s:
        for table in reversed(Base.metadata.sorted_tables):
            s.execute(delete(table))


# --- running an importer ---------------------------------------------------------------------------

KINDS = ["people.csv", "people.jsonl", "events.csv", "events.jsonl", "orders.csv", "shopify.csv"]


def run_import(session: Any, kind: str, path: Path) -> ImportReport:
    if kind.startswith("people"):
        return service.import_people(session=session, path=path, business=BUSINESS)
    if kind.startswith("events"):
        return service.import_events(session=session, path=path, business=BUSINESS, settings=SETTINGS)
    fmt = {"orders.csv": "generic", "shopify.csv": "shopify"}.get(kind, "auto")
    return service.import_orders(session=session, path=path, business=BUSINESS, fmt=fmt, settings=SETTINGS)


def stored_count(db: Database, kind: str) -> int:
    with db.reading() as s:
        return _count_in(s, kind)


def _count_in(session: Any, kind: str) -> int:
    model = Person if kind.startswith("people") else Event if kind.startswith("events") else Order
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def new_things(kind: str, report: ImportReport) -> int:
    if kind.startswith("people"):
        return report.people
    return report.events if kind.startswith("events") else report.orders


@dataclass
class Outcome:
    report: ImportReport | None  # None: the file was refused as a whole (ImportFileError)
    error: str = ""


def import_twice(db: Database, kind: str, path: Path) -> Outcome:
    """Import in a committed transaction, check every property, import again, check nothing changed."""
    before = snapshot(db)
    try:
        with db.transaction() as s:
            first = run_import(s, kind, path)
    except ImportFileError as exc:
        assert str(exc).strip()
        assert snapshot(db) == before, "a refused file left something in the database"
        return Outcome(None, str(exc))
    check_report(first)
    assert stored_count(db, kind) == new_things(kind, first)  # the database started empty
    with db.reading() as s:
        assert check(s) == [], "loyalty balances no longer equal their entries"
    after = snapshot(db)
    with db.transaction() as s:
        again = run_import(s, kind, path)
    assert snapshot(db) == after, "importing the same file again changed the database"
    assert (again.people, again.events, again.orders, again.kept_rows) == (0, 0, 0, 0)
    assert again.rows == first.rows
    assert [r.line for r in again.rejected] == [r.line for r in first.rejected]
    return Outcome(first)


def check_report(report: ImportReport) -> None:
    lines = [r.line for r in report.rejected]
    assert lines == sorted(lines) and len(lines) == len(set(lines)), "each bad line is reported once"
    assert all(line >= 1 for line in lines)  # a JSON Lines file has no header: its first record is line 1
    assert all(r.reason.strip() and len(r.reason) <= MAX_REASON for r in report.rejected)
    assert report.rows == report.kept_rows + report.duplicate_rows + len(report.rejected)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few rows, so a short file is stored in several batches (and, on PostgreSQL,
    by the orders' background thread) before a fault near its end."""
    monkeypatch.setattr(events_file, "BATCH", 3)
    monkeypatch.setattr(people_file, "BATCH", 3)
    monkeypatch.setattr(service, "OrderSink", partial(OrderSink, batch_size=3))


# --- hostile values --------------------------------------------------------------------------------

NASTY = [
    "", " ", "\t", "1e309", "-1e309", "NaN", "nan", "Infinity", "-Infinity", "-0", "-0.0", "+5",
    str(2**64), str(2**63), "9" * 40, "0.001", "1_000", "١٢٣", "１２", "0x10", "(5)", "$-5", "12,34",
    "2025-13-45", "2025-02-29", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01",
    "9999-12-31", "2025-03-30T02:30", "2025-10-26T02:30", "2025-01-01T00:00:00+25:00", "24:00",
    "2025-01-01T10:00:00.123456789Z", "2025-01-01 10:00 +0200", "03/04/2025", "1735689600",
    "{{ 7*7 }}", "{% for x in range(9) %}x{% endfor %}", "{{ ''.__class__.__mro__ }}",
    "<script>alert(1)</script>", "'; DROP TABLE people; --", '=HYPERLINK("http://x")',
    "😀" * 30, "\u202eevil\u202c", "e\u0301" * 8, "\u200b", "\ufeff", "\x1b[31m", "a\u2028b", "a\x85b",
    "\x00", "a\x00b", 'x"y', '"', '""', "a,b", "a;b", "a|b", "a\tb", "a\nb", "a\r\nb", "a\rb",
    "x" * 5000, "Europe/Paris", "../../etc/passwd", "Mars/Olympus", "yes", "maybe", "crm:", "email:x",
    "customer", "vip", "purchase", "purchse", "a@example.com", "A@Example.COM", "a@@b.c", "@", "a@b",
    "zoë@exämple.de", "a@-x-.com", "a@b.123",
]  # fmt: skip
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
cells = st.one_of(st.sampled_from(NASTY), TEXT)

HEADERS = {
    "people": ["email", "external_id", "name", "first_name", "city", "postal_code", "time_zone", "kind",
               "consent_email", "consent_sms", "preferred_channel", "facts"],
    "events": ["source_id", "email", "name", "kind", "occurred_at", "amount", "currency", "channel",
               "staff_email", "text"],
    "orders": ["order_id", "email", "name", "date", "total", "currency", "status", "refunded", "items"],
    "shopify": ["Name", "Email", "Financial Status", "Accepts Marketing", "Currency", "Total", "Created at",
                "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku", "Billing Name",
                "Cancelled at", "Refunded Amount"],
}  # fmt: skip


@st.composite
def headers(draw: st.DrawFn, kind: str) -> list[str]:
    """The importer's header, often messed with: columns dropped, doubled, renamed, restyled, reordered."""
    names = list(HEADERS[kind.split(".")[0]])
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(names) - 1))
        action = draw(st.sampled_from(["drop", "double", "rename", "style", "swap"]))
        if action == "drop" and len(names) > 1:
            names.pop(i)
        elif action == "double":
            names.insert(draw(st.integers(0, len(names))), names[i])
        elif action == "rename":
            names[i] = draw(cells)
        elif action == "style":
            names[i] = draw(st.sampled_from([names[i].upper(), f"  {names[i]} ", names[i].replace("_", "-")]))
        else:
            j = draw(st.integers(0, len(names) - 1))
            names[i], names[j] = names[j], names[i]
    return names


@st.composite
def hostile_files(draw: st.DrawFn, kind: str) -> bytes:
    """A whole hostile file for ``kind``: random bytes now and then, else a header and messy rows."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    header = draw(headers(kind))
    rows = draw(st.lists(st.lists(cells, max_size=len(header) + 2), max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    if kind.endswith(".jsonl"):
        lines = []
        for row in rows:
            shape = draw(st.integers(0, 9))
            if shape == 0:  # not an object, or not JSON at all
                lines.append(
                    draw(
                        st.sampled_from(["[1, 2]", '"text"', "42", "null", "{broken", "[" * 3000, "1" * 5000])
                    )
                )
                continue
            values: list[Any] = list(row)
            if shape == 1 and values:  # nested and extreme values
                values[draw(st.integers(0, len(values) - 1))] = draw(
                    st.sampled_from(
                        [{"a": 1}, [1, 2], True, None, 1e308, float("nan"), 2**64, "\ud800", -0.0]
                    )
                )
            lines.append(
                json.dumps(dict(zip(header, values, strict=False)), ensure_ascii=draw(st.booleans()))
            )
        text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    elif draw(st.booleans()):  # quoted the way a spreadsheet writes it
        out = io.StringIO()
        delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
        writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
        text = out.getvalue()
    else:  # joined by hand: unbalanced quotes, stray delimiters and line breaks stay as they are
        delimiter = draw(st.sampled_from([",", ";"]))
        text = newline.join(delimiter.join(row) for row in [header, *rows])
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data  # a byte order mark
    if data and draw(st.integers(0, 5)) == 0:  # a byte that is not UTF-8, somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + data[at:]
    return data


@pytest.mark.parametrize("kind", KINDS)
@budget(10)
@given(data=st.data())
def test_hostile_files_never_break_an_import(db: Database, kind: str, data: st.DataObject) -> None:
    """Any file: refused whole with the database untouched, or imported with every row accounted for."""
    raw = data.draw(hostile_files(kind))
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / ("import." + kind.split(".")[1])
        path.write_bytes(raw)
        try:
            import_twice(db, kind, path)
        finally:
            reset(db)


# --- valid files with a few rows broken: the good rows must all be kept ------------------------------

GOOD_NAMES = st.one_of(
    st.sampled_from(
        ["Zoë Ålmqvist", "O'Brien", "李小龙", "محمد", "{{ 7*7 }}", "<b>Bob</b>", "😀 Ana", "e\u0301mile"]
    ),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40),
)
GOOD_DATES = st.sampled_from(
    [
        "2025-01-02",
        "2025-03-04 10:00",
        "2025-03-04T10:00:00+02:00",
        "2024-02-29T23:59:59Z",
        "2025-03-30T02:30",
    ]
)
GOOD_AMOUNTS = st.sampled_from(["10", "0", "1,234.50", "$5.00", "0.5", "999999999.99"])

BAD_CELLS = {  # column -> values that row must be rejected for
    "email": ["bad@", "a@@b.c", "no email", "@example.com"],
    "date": [
        "2025-13-45",
        "03/04/2025",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "99999-01-01",
    ],
    "amount": ["1e309", "NaN", "Infinity", "12.345", "12,34", str(2**64) + "00", "abc"],
    "kind": ["purchse", "vip"],
    "time_zone": ["Mars/Olympus", "../../etc/passwd", "a\x00b"],
    "status": ["??", "on hold"],
}
JSON_BAD_LINES = [
    "[1, 2]",
    '"just text"',
    "42",
    "null",
    "{broken",
    "[" * 3000,
    '{"email": ' + "1" * 5000 + "}",
]


@dataclass
class Plan:
    """A generated file and what importing it must do."""

    kind: str
    rows: list[dict[str, str]] = field(default_factory=list)  # in file order; "_bad" marks a broken row
    text: str = ""
    bad_lines: list[int] = field(default_factory=list)
    good_keys: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)  # key -> the name as it must be stored


def _good_row(kind: str, i: int, draw: st.DrawFn) -> dict[str, str]:
    email = f"p{i}.{draw(st.sampled_from(['a', 'zoë', 'o_o']))}@example.com"
    name = draw(GOOD_NAMES)
    if kind == "people":
        return {"email": email, "name": name, "city": draw(GOOD_NAMES), "time_zone": "Europe/Lisbon",
                "consent_email": draw(st.sampled_from(["yes", "no", ""])),
                "facts": draw(GOOD_NAMES)}  # fmt: skip
    if kind == "events":
        return {"source_id": f"ev-{i}", "email": email, "name": name, "occurred_at": draw(GOOD_DATES),
                "kind": draw(st.sampled_from(["visit", "purchase", "praise", "complaint"])),
                "amount": draw(GOOD_AMOUNTS), "currency": "", "text": draw(GOOD_NAMES)}  # fmt: skip
    return {"order_id": f"#{1000 + i}", "email": email, "name": name, "date": draw(GOOD_DATES),
            "total": draw(GOOD_AMOUNTS), "status": draw(st.sampled_from(["paid", "", "cancelled"])),
            "items": draw(GOOD_NAMES)}  # fmt: skip


BAD_COLUMNS = {
    "people": {"email": "email", "time_zone": "time_zone"},
    "events": {"email": "email", "date": "occurred_at", "amount": "amount", "kind": "kind"},
    "orders": {"email": "email", "date": "date", "amount": "total", "status": "status"},
}


def _line_breaks(text: str) -> int:
    return len(re.findall(r"\r\n|\r|\n", text))


@st.composite
def mutated_files(draw: st.DrawFn, kind: str) -> Plan:
    base, _, fmt = kind.partition(".")
    plan = Plan(kind)
    count = draw(st.integers(1, 10))
    for i in range(count):
        row = _good_row(base, i, draw)
        if draw(st.integers(0, 3)) == 0:
            bad = draw(st.sampled_from(sorted(BAD_COLUMNS[base])))
            row[BAD_COLUMNS[base][bad]] = draw(st.sampled_from(BAD_CELLS[bad]))
            row["_bad"] = "cell"
        elif fmt == "jsonl" and draw(st.integers(0, 5)) == 0:
            row["_bad"] = draw(st.sampled_from(JSON_BAD_LINES))
        plan.rows.append(row)
    if draw(st.booleans()):  # an exact copy of an earlier row: a duplicate, neither kept twice nor rejected
        plan.rows.append({**draw(st.sampled_from(plan.rows)), "_copy": "1"})
    header = HEADERS[base]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    out = io.StringIO()
    if fmt == "csv":
        csv.writer(out, lineterminator=newline).writerow(header)
    key_column = {"people": "email", "events": "source_id", "orders": "order_id"}[base]
    for row in plan.rows:
        if draw(st.integers(0, 5)) == 0:
            out.write(newline)  # a blank line is no row
        line = _line_breaks(out.getvalue()) + 1
        if fmt == "csv":
            csv.writer(out, lineterminator=newline).writerow([row.get(name, "") for name in header])
        elif row.get("_bad", "cell") != "cell":
            out.write(row["_bad"] + newline)
        else:
            out.write(json.dumps({k: v for k, v in row.items() if not k.startswith("_")}) + newline)
        if "_bad" in row and "_copy" not in row:
            plan.bad_lines.append(line)
        elif "_bad" not in row and "_copy" not in row:
            plan.good_keys.add(row[key_column].strip())
            plan.names[row[key_column].strip()] = clean_text(row["name"], limit=200) or ""
        elif "_bad" in row:
            plan.bad_lines.append(line)  # a copy of a bad row is just as bad
    plan.text = out.getvalue()
    return plan


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize("kind", ["people.csv", "people.jsonl", "events.csv", "events.jsonl", "orders.csv"])
@budget(8)
@given(data=st.data(), bom=st.booleans())
def test_mutated_files_keep_exactly_the_good_rows(
    db: Database, kind: str, data: st.DataObject, bom: bool
) -> None:
    plan = data.draw(mutated_files(kind))
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / ("import." + kind.split(".")[1])
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + plan.text.encode("utf-8"))
        try:
            outcome = import_twice(db, kind, path)
            assert outcome.report is not None, outcome.error
            report = outcome.report
            assert [r.line for r in report.rejected] == sorted(plan.bad_lines)
            assert _stored(db, kind) == {key: plan.names[key] for key in plan.good_keys}
        finally:
            reset(db)


def _stored(db: Database, kind: str) -> dict[str, str]:
    """Key of each stored row -> the name of its person, as stored."""
    with db.reading() as s:
        if kind.startswith("people"):
            return {email: name for email, name in s.execute(select(Person.email, Person.name))}
        if kind.startswith("events"):
            rows = s.execute(select(Event.source_id, Person.name).join(Person, Person.id == Event.person_id))
        else:
            rows = s.execute(
                select(Order.external_id, Person.name).join(Person, Person.id == Order.person_id)
            )
        return {key: name for key, name in rows}


# --- Shopify: a broken first row takes its whole order; the other orders are kept ---------------------


@st.composite
def shopify_exports(draw: st.DrawFn) -> tuple[str, set[str], list[int]]:
    header = HEADERS["shopify"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    good: set[str] = set()
    bad_lines: list[int] = []
    line = 1
    for n in range(draw(st.integers(1, 6))):
        name = f"#{2000 + n}"
        first = dict.fromkeys(header, "")
        first |= {"Name": name, "Email": f"s{n}@example.com", "Financial Status": "paid", "Currency": "EUR",
                  "Total": draw(GOOD_AMOUNTS), "Created at": "2025-10-07 09:50:26 +0200",
                  "Lineitem quantity": "1", "Lineitem name": draw(GOOD_NAMES),
                  "Billing Name": draw(GOOD_NAMES)}  # fmt: skip
        broken = draw(st.integers(0, 2)) == 0
        if broken:
            column = draw(st.sampled_from(["Email", "Total", "Created at", "Accepts Marketing"]))
            bad = {"Email": BAD_CELLS["email"], "Total": BAD_CELLS["amount"],
                   "Created at": BAD_CELLS["date"], "Accepts Marketing": ["maybe"]}  # fmt: skip
            first[column] = draw(st.sampled_from(bad[column]))
        items = draw(st.integers(0, 2))
        writer.writerow([first[h] for h in header])
        line += 1
        order_lines = [line]
        for _ in range(items):  # later rows: Name and line item only
            writer.writerow(
                [
                    {"Name": name, "Lineitem quantity": "2", "Lineitem name": draw(GOOD_NAMES)}.get(h, "")
                    for h in header
                ]
            )
            line += 1
            order_lines.append(line)
        if broken:
            bad_lines += order_lines
        else:
            good.add(name)
    return out.getvalue(), good, bad_lines


@pytest.mark.usefixtures("small_batches")
@budget(8)
@given(export=shopify_exports())
def test_mutated_shopify_exports_keep_the_good_orders(
    db: Database, export: tuple[str, set[str], list[int]]
) -> None:
    text, good, bad_lines = export
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders_export.csv"
        path.write_text(text, encoding="utf-8")
        try:
            outcome = import_twice(db, "shopify.csv", path)
            assert outcome.report is not None, outcome.error
            assert [r.line for r in outcome.report.rejected] == bad_lines
            assert set(_stored(db, "shopify.csv")) == good
        finally:
            reset(db)


# --- the hostile rows that once broke an import, each between two good rows --------------------------

EVENTS_HEADER = "source_id,email,name,kind,occurred_at,amount,text\n"
GOOD_EVENT = "{id},{id}@example.com,Ana,purchase,2025-01-02,10,fine\n"
ORDERS_HEADER = "order_id,email,name,date,total\n"
GOOD_ORDER = "{id},{id}@example.com,Ana,2025-01-02,10\n"


def _event_json(**fields: Any) -> str:
    return json.dumps({"source_id": "bad", "email": "bad@example.com", "kind": "purchase",
                       "occurred_at": "2025-01-02", **fields})  # fmt: skip


ONE_BAD_ROW = {  # name -> (kind, header, the row between two good ones, rejected?)
    "amount of 2**64": (
        "events.csv", EVENTS_HEADER, f"bad,bad@example.com,Bo,purchase,2025-01-02,{2**64},x", True),
    "total of 2**64": ("orders.csv", ORDERS_HEADER, f"bad,bad@example.com,Bo,2025-01-02,{2**64}", True),
    "the last moment in 9999, west of UTC": (
        "events.csv", EVENTS_HEADER, "bad,bad@example.com,Bo,visit,9999-12-31T23:59:59-14:00,,x", True),
    "the first moment of year 1, east of UTC": (
        "orders.csv", ORDERS_HEADER, "bad,bad@example.com,Bo,0001-01-01T00:00:00+14:00,10", True),
    "a date in 9999 that points would expire after": (
        "events.csv", EVENTS_HEADER, "bad,bad@example.com,Bo,purchase,9999-12-30T00:00:00Z,10,x", True),
    "a JSON number of 5000 digits": (
        "events.jsonl", "", _event_json()[:-1] + ', "amount": ' + "1" * 5000 + "}", True),
    "JSON nested 3000 deep": ("events.jsonl", "", "[" * 3000 + "]" * 3000, True),
    "a JSON NaN": ("events.jsonl", "", _event_json()[:-1] + ', "amount": NaN}', True),
    "a JSON lone surrogate": ("events.jsonl", "", _event_json(name="\ud800"), True),
    "a JSON NUL (PostgreSQL refuses NUL in text)": ("events.jsonl", "", _event_json(text="a\u0000b"), False),
    "a NUL in a CSV cell near the top": (
        "events.csv", EVENTS_HEADER, "bad,bad@example.com,B\x00o,visit,2025-01-02,,x", False),
    "a NUL in a people file": ("people.csv", "email,name\n", "bad@example.com,B\x00o", False),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(ONE_BAD_ROW))
def test_a_hostile_row_is_rejected_alone(db: Database, tmp_path: Path, case: str) -> None:
    kind, header, bad, rejected = ONE_BAD_ROW[case]
    base, _, fmt = kind.partition(".")
    if fmt == "jsonl":
        good = [_event_json(source_id=key, email=f"{key}@example.com") for key in ("g1", "g2")]
    else:
        line = {"events": GOOD_EVENT, "orders": GOOD_ORDER, "people": "{id}@example.com,Ana\n"}[base]
        good = [line.format(id=key).rstrip("\n") for key in ("g1", "g2")]
    path = tmp_path / f"import.{fmt}"
    path.write_text(
        header + "\n".join([good[0], bad, good[1]]) + "\n", encoding="utf-8", errors="surrogatepass"
    )
    outcome = import_twice(db, kind, path)
    assert outcome.report is not None, outcome.error
    first_line = 1 if fmt == "jsonl" else 2
    assert [r.line for r in outcome.report.rejected] == ([first_line + 1] if rejected else [])
    stored = set(_stored(db, kind))
    keys = {"g1@example.com", "g2@example.com"} if base == "people" else {"g1", "g2"}
    assert stored == (keys if rejected else keys | {"bad@example.com" if base == "people" else "bad"})
    if not rejected:
        assert "\x00" not in repr(snapshot(db)), "the NUL was stored"


# --- a file that breaks after several batches were stored: nothing of it stays ----------------------


def _long_valid_file(kind: str, rows: int = 36) -> str:
    """Well over the 64 KiB a file is first checked on, in rows the importer stores batch by batch."""
    filler = "tea " * 500
    base, _, fmt = kind.partition(".")
    records: list[dict[str, str]] = []
    for i in range(rows):
        row = {"people": {"email": f"p{i}@example.com", "name": f"P {i}",
                          "facts": ";".join([filler[:400]] * 5)},
               "events": {"source_id": f"e{i}", "email": f"p{i}@example.com", "kind": "purchase",
                          "occurred_at": "2025-01-02", "amount": "12.50", "text": filler},
               "orders": {"order_id": f"o{i}", "email": f"p{i}@example.com", "date": "2025-01-02",
                          "total": "12.50", "items": filler}}[base]  # fmt: skip
        records.append(row)
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in records)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def _shopify_long_file(rows: int = 36) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADERS["shopify"], lineterminator="\n", restval="")
    writer.writeheader()
    for i in range(rows):
        writer.writerow({"Name": f"#{i}", "Email": f"p{i}@example.com", "Total": "12.50",
                         "Created at": "2025-10-07 09:50:26 +0200", "Lineitem quantity": "1",
                         "Lineitem name": "tea " * 500})  # fmt: skip
    return out.getvalue()


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize("kind", KINDS)
def test_a_file_broken_near_its_end_leaves_the_database_as_it_was(
    db: Database, tmp_path: Path, kind: str
) -> None:
    text = _shopify_long_file() if kind == "shopify.csv" else _long_valid_file(kind)
    path = tmp_path / ("import." + kind.split(".")[1])
    # Something already in the database, which must stay exactly as it is.
    path.write_text(text.splitlines(keepends=True)[0] + "".join(text.splitlines(keepends=True)[1:4]))
    with db.transaction() as s:
        run_import(s, kind, path)
    before = snapshot(db)
    data = text.encode() + b"\xff\xfe broken\n"  # not UTF-8, past the 64 KiB checked first
    assert len(data) > 70_000
    path.write_bytes(data)
    written = 0
    with pytest.raises(ImportFileError, match="UTF-8"), db.transaction() as s:
        try:
            run_import(s, kind, path)
        except ImportFileError:
            written = _count_in(s, kind)  # what the import had stored before the fault, not committed
            raise
    assert written > 3 + 6, "the fault must come after several batches were stored"
    assert snapshot(db) == before


# --- the complaints mailbox: one unreadable message must not stop the others ---------------------------

POISON = (
    b"From: =?utf-8?q?Zo=C3=AB?= e: text/html; charset=iso-8859-1\r\n"  # the email package trips on it
    b"Message-ID: <poison@example.com>\r\nSubject: hello\r\n\r\nThe lid is cracked.\r\n"
)
GOOD_MAIL = (
    b"From: Ann <ann@example.com>\r\nMessage-ID: <ann@example.com>\r\nSubject: Lid\r\n\r\nCracked lid.\r\n"
)


def test_an_unreadable_email_is_rejected_and_the_rest_opened(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "complaints"
    box = mailbox.Maildir(str(path), create=True)
    box.add(POISON)
    box.add(GOOD_MAIL)
    settings = load_settings(database_url=db.url, secret_key="fuzz-secret", business=BUSINESS.model_dump())
    report = fetch_mail(database=db, settings=settings, url=f"maildir://{path}")
    assert (report.read, report.opened, len(report.rejected)) == (2, 1, 1)
    assert report.rejected[0].reason == "no sender address (From)"  # the From the parser trips on
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1
