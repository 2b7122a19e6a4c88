from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goodwill.money import AmountError, format_money, parse_amount, to_decimal


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("53.91", "USD", 5391),
        ("$1,234.50", "USD", 123450),
        (" 1 234.5 ", "EUR", 123450),
        ("€12", "EUR", 1200),
        ("(5.00)", "USD", -500),
        ("-0.01", "USD", -1),
        ("1200", "JPY", 1200),
        ("1.234", "KWD", 1234),
        ("USD 7.10", "USD", 710),
    ],
)
def test_parse_amount(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency) == expected


def test_decimal_comma() -> None:
    assert parse_amount("1.234,50", "EUR", decimal_comma=True) == 123450


@pytest.mark.parametrize(
    ("text", "currency"), [("12.345", "USD"), ("1.5", "JPY"), ("abc", "USD"), ("", "USD"), ("1e5", "USD")]
)
def test_rejects_what_cannot_be_exact(text: str, currency: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text, currency)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_round_trip_is_exact(minor: int) -> None:
    text = str(to_decimal(minor, "USD"))
    assert parse_amount(text, "USD") == minor
    assert to_decimal(minor, "USD") == Decimal(minor) / 100


def test_format() -> None:
    assert format_money(123456, "EUR") == "EUR 1,234.56"
    assert format_money(1200, "JPY") == "JPY 1,200"
