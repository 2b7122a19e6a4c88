"""Exact money: integers in minor units, parsed from the many ways people write amounts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents; currencies not listed use 2.
_TWO_DECIMALS = (
    "AED AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF IDR ILS INR MXN MYR NOK NZD PHP PLN "
    "RON RUB SAR SEK SGD THB TRY TWD USD ZAR"
)
CURRENCY_EXPONENTS: dict[str, int] = dict.fromkeys(_TWO_DECIMALS.split(), 2)
CURRENCY_EXPONENTS.update({"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3})

_SYMBOLS = "$€£¥₹₩₽₺₪"
_AMOUNT_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")


class AmountError(ValueError):
    """An amount that cannot be read exactly."""


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


def parse_amount(text: str, currency: str, *, decimal_comma: bool = False) -> int:
    """Parse ``"53.91"``, ``"$1,234.50"``, ``"1.234,50"`` (with decimal_comma) to minor units.

    Rejects anything with more precision than the currency has, rather than rounding silently.
    """
    raw = text.strip().replace("\u00a0", "").replace(" ", "")
    for symbol in _SYMBOLS:
        raw = raw.replace(symbol, "")
    if raw[:3].upper() == currency.upper():
        raw = raw[3:]
    if raw.startswith("(") and raw.endswith(")"):
        raw = "-" + raw[1:-1]
    # "1.234,50" in decimal-comma locales; "1,234.50" otherwise.
    raw = raw.replace(".", "").replace(",", ".") if decimal_comma else raw.replace(",", "")
    if not _AMOUNT_RE.match(raw):
        raise AmountError(f"not an amount: {text!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards
        raise AmountError(f"not an amount: {text!r}") from exc
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{text!r} has more decimals than {currency.upper()} allows")
    return int(scaled)


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def format_money(minor: int, currency: str) -> str:
    """``12345, 'EUR'`` -> ``'EUR 123.45'``; for pages and reports."""
    places = exponent(currency)
    value = to_decimal(minor, currency)
    return f"{currency.upper()} {value:,.{places}f}"
