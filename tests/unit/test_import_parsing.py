"""Parsing import values and reading messy CSV files, without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from goodwill.events.importers.csvfile import CsvRows, ImportFileError, normalise_header, sniff_delimiter
from goodwill.events.importers.generic_orders import parse_items
from goodwill.events.importers.parsing import (
    RowError,
    check_currency,
    check_email,
    clean_zip,
    parse_datetime,
    parse_money,
    parse_quantity,
    parse_yes_no,
    strptime_format,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-07 09:50:26 +0200", datetime(2025, 10, 7, 7, 50, 26, tzinfo=UTC)),
        ("2025-10-07 09:50:26 -0500", datetime(2025, 10, 7, 14, 50, 26, tzinfo=UTC)),
        ("2025-10-07T09:50:26+02:00", datetime(2025, 10, 7, 7, 50, 26, tzinfo=UTC)),
        ("2025-10-07T09:50:26Z", datetime(2025, 10, 7, 9, 50, 26, tzinfo=UTC)),
        # No offset: wall-clock time in the business zone (Paris is UTC+2 in summer, +1 in winter).
        ("2025-07-01 12:00", datetime(2025, 7, 1, 10, 0, tzinfo=UTC)),
        ("2025-12-01 12:00:00", datetime(2025, 12, 1, 11, 0, tzinfo=UTC)),
        ("2025-12-01", datetime(2025, 11, 30, 23, 0, tzinfo=UTC)),
    ],
)
def test_dates_with_and_without_offsets(text: str, expected: datetime) -> None:
    assert parse_datetime(text, PARIS) == expected


def test_slash_dates_need_a_date_format() -> None:
    with pytest.raises(RowError, match=r"date '03/04/2025' is ambiguous .*--date-format"):
        parse_datetime("03/04/2025", PARIS)
    assert parse_datetime("03/04/2025", PARIS, strptime_format("DD/MM/YYYY")) == datetime(
        2025, 4, 2, 22, 0, tzinfo=UTC
    )
    assert parse_datetime("03/04/2025 14:30", PARIS, strptime_format("MM/DD/YYYY")) == datetime(
        2025, 3, 4, 13, 30, tzinfo=UTC
    )
    assert strptime_format("%d.%m.%Y") == "%d.%m.%Y"
    with pytest.raises(ValueError, match="unknown date format"):
        strptime_format("day first")


@pytest.mark.parametrize("text", ["2025-13-45", "2025-13-45 10:00:00 +0200", "yesterday", "2025-02-30"])
def test_impossible_dates_are_rejected_with_the_value(text: str) -> None:
    with pytest.raises(RowError) as caught:
        parse_datetime(text, PARIS)
    assert str(caught.value) == f"date '{text}' is not a valid date"


def test_missing_date() -> None:
    with pytest.raises(RowError, match=r"^missing Created at$"):
        parse_datetime("  ", PARIS, field="Created at")


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("53.91", "EUR", 5391),
        ("53.9", "EUR", 5390),
        ("53", "EUR", 5300),
        ("$1,234.50", "USD", 123450),
        ("1,234,567", "USD", 123456700),
        ("EUR 10", "EUR", 1000),
        ("€ 0.05", "EUR", 5),
        ("1500", "JPY", 1500),
        ("-3.20", "EUR", -320),
        ("1.250", "KWD", 1250),
    ],
)
def test_amounts(text: str, currency: str, minor: int) -> None:
    assert parse_money(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12.345", "amount '12.345' has more decimals than EUR allows"),
        ("twelve", "amount 'twelve' is not an amount"),
        ("1.2.3", "amount '1.2.3' is not an amount"),
        ("53,91", "amount '53,91' has a decimal comma: write it with a point, like 53.91"),
        ("1.234,50", "amount '1.234,50' has a decimal comma: write it with a point, like 53.91"),
        ("", "missing amount"),
    ],
)
def test_bad_amounts(text: str, reason: str) -> None:
    with pytest.raises(RowError) as caught:
        parse_money(text, "EUR")
    assert str(caught.value) == reason


def test_currency_defaults_and_validation() -> None:
    assert check_currency("", "EUR") == "EUR"
    assert check_currency(" usd ", "EUR") == "USD"
    with pytest.raises(RowError, match="currency 'XXQ' is not a known ISO 4217 code"):
        check_currency("XXQ", "EUR")


def test_apostrophe_zip_codes_keep_leading_zeros() -> None:
    assert clean_zip("'07302") == "07302"
    assert clean_zip("'75008") == "75008"
    assert clean_zip("SW1A 1AA") == "SW1A 1AA"
    assert clean_zip(" ' ") is None


@pytest.mark.parametrize("email", ["zoe@example.com", " Jose@Example.COM ", "wang.fang@例え.jp", "a+b@x.co"])
def test_valid_emails(email: str) -> None:
    assert check_email(email) == email.strip()


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("", "missing email"),
        ("lena@@example.com", "email 'lena@@example.com' is not a valid address (it needs exactly one @)"),
        ("lena.example.com", "email 'lena.example.com' is not a valid address (it needs exactly one @)"),
        ("lena@example", "email 'lena@example' is not a valid address (bad domain after the @)"),
        ("le na@example.com", "email 'le na@example.com' is not a valid address (bad part before the @)"),
        (".lena@example.com", "email '.lena@example.com' is not a valid address (bad part before the @)"),
        ("lena@-example.com", "email 'lena@-example.com' is not a valid address (bad domain after the @)"),
    ],
)
def test_malformed_emails_say_why(email: str, reason: str) -> None:
    with pytest.raises(RowError) as caught:
        check_email(email)
    assert str(caught.value) == reason


def test_yes_no_and_quantity() -> None:
    assert parse_yes_no("yes", field="Accepts Marketing") is True
    assert parse_yes_no("FALSE", field="x") is False
    assert parse_yes_no("", field="x") is None
    with pytest.raises(RowError, match="Accepts Marketing 'maybe' is not yes or no"):
        parse_yes_no("maybe", field="Accepts Marketing")
    assert parse_quantity("3") == 3
    assert parse_quantity("") == 1
    with pytest.raises(RowError, match="quantity 'two' is not a whole number"):
        parse_quantity("two")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(" Order ID", "order_id"), ("order-id", "order_id"), ("OrderId", "order_id"), ("E-Mail", "e_mail"),
     ("Lineitem quantity", "lineitem_quantity"), ("Billing Address1", "billing_address1")],
)  # fmt: skip
def test_header_variants(header: str, expected: str) -> None:
    assert normalise_header(header) == expected


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("a|b|c", "|"), ('"x;y",b,c', ","), ("single", ",")],
)
def test_delimiter_sniffing(line: str, delimiter: str) -> None:
    assert sniff_delimiter(line) == delimiter


def test_bom_semicolons_and_physical_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    content = 'Order ID;E-mail;Note\r\n1;a@x.com;"two\r\nlines"\r\n\r\n2;b@x.com\r\n3;c@x.com;x;extra\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + content.encode())
    with CsvRows(path) as rows:
        assert rows.delimiter == ";"
        assert rows.header == ["Order ID", "E-mail", "Note"]
        assert rows.columns == {"order_id": 0, "e_mail": 1, "note": 2}
        found = list(rows)
    # The quoted note spans lines 2-3, line 4 is blank, short rows are padded, extra cells dropped.
    assert found == [
        (2, ["1", "a@x.com", "two\r\nlines"]),
        (5, ["2", "b@x.com", ""]),
        (6, ["3", "c@x.com", "x"]),
    ]


def test_unreadable_files_raise_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        CsvRows(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImportFileError, match="the file is empty"):
        CsvRows(empty)
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("name,email\nJos\xe9,j@x.com\n".encode("latin-1"))
    with pytest.raises(ImportFileError, match="not UTF-8"):
        CsvRows(latin)
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ImportFileError, match="binary file"):
        CsvRows(binary)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(ImportFileError, match="is a directory"):
        CsvRows(folder)


def test_generic_items() -> None:
    assert parse_items("Blue teapot x2; 3 x Cup | Saucer") == [
        {"name": "Blue teapot", "quantity": 2, "price_minor": None, "sku": None},
        {"name": "Cup", "quantity": 3, "price_minor": None, "sku": None},
        {"name": "Saucer", "quantity": 1, "price_minor": None, "sku": None},
    ]
    assert parse_items("") == []
