"""Fuzzing the pure parsing under the importers and the complaints mailbox (no database, many examples).

Properties: every cell parser returns a clean value or raises ``RowError`` (nothing else), and what
it returns fits the database (amounts inside BIGINT, dates that survive a shift to UTC and a year of
points expiry, text without NULs or lone surrogates); a file reader either refuses the file with
``ImportFileError`` or yields every record with its line, whatever the bytes; the mailbox parser
either opens a complaint or rejects the message with ``MailRejected``, whatever the bytes.

Derandomized for CI; ``GOODWILL_FUZZ_EXAMPLES=20000`` runs that many random examples per test.
"""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from goodwill.complaints.mailbox import MailRejected, _who_and_what, html_to_text, parse_message, sender_date
from goodwill.config import Business, fuzz_examples
from goodwill.events.importers import events_file, generic_orders, people_file
from goodwill.events.importers.csvfile import CsvRows, ImportFileError
from goodwill.events.importers.parsing import (
    MAX_MINOR,
    RowError,
    check_currency,
    check_email,
    parse_datetime,
    parse_money,
    parse_quantity,
    parse_yes_no,
)
from goodwill.events.importers.records import csv_records, is_json_lines, jsonl_records

RUN = fuzz_examples()
BUSINESS = Business(timezone="Pacific/Kiritimati", currency="USD")  # UTC+14: the edge of every date
WEST = Business(timezone="Pacific/Pago_Pago", currency="JPY")  # UTC-11, and no minor units


def budget(examples: int) -> Any:
    return settings(
        max_examples=RUN or examples,
        derandomize=not RUN,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


NUMBERS = [
    "1e309", "-1e309", "NaN", "Infinity", "-0", "+5", str(2**63), str(2**64), "9" * 40, "9" * 5000,
    "١٢٣", "１２", "0x10", "1_000", "(5)", "$-5", "12,34", "1,234.5", "€ 10", "EUR 10", "0.001", "1e3",
]  # fmt: skip
DATES = [
    "9999-12-31T23:59:59-14:00", "9999-12-31", "0001-01-01", "0001-01-01T00:00:00+14:00", "1899-12-31",
    "2199-12-31T23:59", "2200-01-01", "2025-13-45", "2025-02-29", "2024-02-29T24:00", "2025-03-30T02:30",
    "2025-01-01T00:00:00+25:00", "2025-W01-1", "20250101", "2025-01-01T10:00:00.123456789Z",
    "2025-01-01 10:00 +0200", "31/12/9999", "03/04/2025", "\u0662\u0660\u0662\u0665-01-01",
]  # fmt: skip
cell = st.one_of(st.sampled_from(NUMBERS + DATES), st.text(max_size=40))


def check_fits(minor: int) -> None:
    assert isinstance(minor, int) and abs(minor) <= MAX_MINOR < 2**63


@budget(3000)
@given(text=cell)
@example(text="9999-12-31T23:59:59-14:00")  # OverflowError before the range check
@example(text="0001-01-01T00:00:00+14:00")
@example(text=str(2**64))  # past BIGINT: the database refused the whole import
def test_cell_parsers_return_clean_values_or_row_errors(text: str) -> None:
    for business in (BUSINESS, WEST):
        for date_format in (None, "%d/%m/%Y", "%Y"):
            try:
                when = parse_datetime(text, business.tz, date_format)
            except RowError as exc:
                assert str(exc)
            else:
                assert when.tzinfo is UTC
                _ = when + timedelta(days=3660) - timedelta(days=3660)  # room for expiry and look-backs
        for currency in ("USD", "JPY", "BHD"):
            with contextlib.suppress(RowError):
                check_fits(parse_money(text, currency))
    for parse in (
        parse_quantity,
        check_email,
        lambda t: parse_yes_no(t, field="x"),
        lambda t: check_currency(t, "EUR"),
    ):
        with contextlib.suppress(RowError):
            parse(text)
    with contextlib.suppress(RowError):
        assert 0 <= parse_quantity(text) <= 1_000_000
    for item in generic_orders.parse_items(text):
        assert len(item["name"]) <= 300 and item["quantity"] >= 0


@budget(1500)
@given(fields=st.dictionaries(st.sampled_from(sorted(people_file.COLUMNS)), cell, max_size=8))
def test_people_rows_parse_or_are_rejected(fields: dict[str, str]) -> None:
    try:
        row = people_file._parse(2, fields)
    except RowError:
        return
    assert all(len(value) <= people_file.DETAILS.get(name, 20) for name, value in row.details.items())


@budget(1500)
@given(fields=st.dictionaries(st.sampled_from(sorted(events_file.COLUMNS)), cell, max_size=10))
def test_event_rows_parse_or_are_rejected(fields: dict[str, str]) -> None:
    try:
        row = events_file._parse(2, fields, BUSINESS)
    except RowError:
        return
    assert 0 < len(row.source_id) <= 200
    if row.amount_minor is not None:
        check_fits(row.amount_minor)


def _read_all(path: Path) -> list[tuple[int, Any]]:
    if is_json_lines(path):
        return list(jsonl_records(path, events_file.COLUMNS, None))
    return list(csv_records(path, events_file.COLUMNS, [], "an events file", None))


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    """A few byte-level edits: what a broken export, a bad copy or a wrong encoding does to a file."""
    out = bytearray(data)
    for _ in range(rnd.randint(1, 6)):
        at = rnd.randint(0, len(out))
        action = rnd.randrange(6)
        if action == 0 and out:
            del out[at : at + rnd.randint(1, 8)]
        elif action == 1:
            out[at:at] = rnd.choice(
                [b'"', b"\r", b"\n", b"\r\n", b",", b";", b"\x00", b"\xff", b"\xc3", b"{", b"\\u0000"]
            )
        elif action == 2 and out:
            out[at : at + 1] = bytes([rnd.randrange(256)])
        elif action == 3:
            out[at:at] = b"\xef\xbb\xbf"
        elif action == 4:
            out[at:at] = rnd.choice([b"x" * 70_000, "😀".encode() * 100, b"[" * 2000, b"1" * 5000])
        else:
            start = rnd.randint(0, len(out))
            out[at:at] = out[start : start + rnd.randint(1, 200)]  # a duplicated stretch
    return bytes(out)


VALID_CSV = (
    "source_id,email,name,kind,occurred_at,amount,currency,text\n"
    'e1,a@example.com,Ana,purchase,2025-01-02,10.50,EUR,"said ""hi"", twice"\n'
    "e2,b@example.com,Bo,visit,2025-01-03T10:00:00+02:00,,,\n"
    'e3,c@example.com,"Zoë, Q",praise,2025-01-04,,,"line one\nline two"\n'
).encode()
VALID_JSONL = (
    b'{"source_id": "e1", "email": "a@example.com", "kind": "purchase", "occurred_at": "2025-01-02",'
    b' "amount": 10.5}\n'
    b'{"source_id": "e2", "email": "b@example.com", "kind": "visit", "occurred_at": "2025-01-03"}\n'
)


@budget(600)
@given(
    base=st.sampled_from([VALID_CSV, VALID_JSONL]),
    suffix=st.sampled_from([".csv", ".jsonl", ".txt", ""]),
    seed=st.integers(0, 2**32),
)
def test_mutated_files_are_read_or_refused_whole(base: bytes, suffix: str, seed: int) -> None:
    data = _mutate(base, random.Random(seed))
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / f"events{suffix}"
        path.write_bytes(data)
        try:
            records = _read_all(path)
        except ImportFileError as exc:
            assert str(exc)
            return
        lines = [line for line, _ in records]
        assert lines == sorted(lines) and len(lines) == len(set(lines))
        for _, fields in records:
            if isinstance(fields, RowError):
                assert str(fields)
                continue
            for value in fields.values():
                assert "\x00" not in value
                value.encode("utf-8")  # no lone surrogate: every database can store it
            with contextlib.suppress(RowError):
                events_file._parse(2, fields, BUSINESS)


@budget(400)
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".jsonl", ""]))
def test_random_bytes_are_read_or_refused_whole(data: bytes, suffix: str) -> None:
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / f"file{suffix}"
        path.write_bytes(data)
        try:
            _read_all(path)
            with CsvRows(path) as rows:
                list(rows)
        except ImportFileError:
            pass


# --- the complaints mailbox ----------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MAIL = (
    b"From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\n"
    b"Reply-To: Zoe <zoe@example.com>\r\n"
    b"To: complaints@teapot.test\r\n"
    b"Subject: =?utf-8?b?Q3JhY2tlZCBsaWQg8J+YgA==?=\r\n"
    b"Date: Mon, 23 Nov 2026 09:15:00 +0000\r\n"
    b"Message-ID: <abc@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"The lid was cracked =E2=80=94 again.\r\n\r\nOn Mon, 1 Jan 2026, Shop wrote:\r\n> thanks\r\n"
    b"--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"PHA+VGhlIGxpZCB3YXMgY3JhY2tlZDwvcD48YmxvY2txdW90ZT5vbGQ8L2Jsb2NrcXVvdGU+\r\n"
    b"--b1--\r\n"
)
POISON_FROM = b"From: =?utf-8?q?Zo=C3=AB?= e: text/html; charset=iso-8859-1\r\n"
HEADER_NOISE = [
    POISON_FROM,
    b"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n", b"Date: \x00\r\n", b"From: <>\r\n", b"From: @\r\n",
    b"From: \"a\" <a@b@c>, ,,\r\n", b"Reply-To: =?x-unknown?q?=FF?= <x@y.z>\r\n",
    b"Message-ID: " + b"<" * 500 + b"\r\n",
    b"Content-Type: text/plain; charset=x-no-such-charset\r\n", b"Content-Type: multipart/mixed\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Auto-Submitted: auto-replied\r\n",
    b"Subject: " + b"\xff" * 50 + b"\r\n",
    b"X-Long: " + b"a" * 100_000 + b"\r\n",
]  # fmt: skip


@budget(1500)
@given(seed=st.integers(0, 2**32), noise=st.lists(st.sampled_from(HEADER_NOISE), max_size=3))
@example(seed=0, noise=[])
@example(seed=0, noise=[POISON_FROM])  # AttributeError inside the email package, once uncaught
def test_a_mangled_email_opens_a_complaint_or_is_rejected(seed: int, noise: list[bytes]) -> None:
    raw = b"".join(noise) + MAIL
    if seed:
        raw = _mutate(raw, random.Random(seed))
    _parse_any(raw)


@budget(1500)
@given(raw=st.binary(max_size=600))
def test_random_bytes_as_an_email(raw: bytes) -> None:
    _parse_any(raw)


def _parse_any(raw: bytes) -> None:
    try:
        complaint = parse_message(raw, received_at=NOW)
    except MailRejected as exc:
        assert str(exc)
    else:
        assert complaint.body and "\x00" not in complaint.body + complaint.subject + complaint.name
        assert "@" in complaint.email and len(complaint.source_id) <= 200
    when = sender_date(raw)
    assert when is None or when.tzinfo is not None
    who, what = _who_and_what(raw)
    assert len(who) <= 200 and len(what) <= 200


@budget(1000)
@given(
    markup=st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    "<p>",
                    "</p>",
                    "<div class='gmail_quote'>",
                    "</div>",
                    "<br>",
                    "<script>",
                    "</script>",
                    "<blockquote>",
                    "x",
                    "&amp;",
                    "&#0;",
                    "&#x110000;",
                    "<!--",
                    "<![CDATA[",
                ]
            ),
            max_size=40,
        ).map("".join),
    )
)
def test_html_bodies_become_text(markup: str) -> None:
    text = html_to_text(markup)
    assert "\x00" not in text
