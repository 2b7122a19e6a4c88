"""Pure parsing of the values found in import files: dates, amounts, emails, yes/no, zip codes.

Every parser returns the clean value or raises ``RowError`` whose message is the human reason
a row is rejected ("date '2025-13-45' is not a valid date"). Nothing here touches a database.
The hot paths (Shopify dates and amounts) have fast paths, because a million-row export calls
them hundreds of thousands of times.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from goodwill.money import CURRENCY_EXPONENTS, AmountError, parse_amount


class RowError(ValueError):
    """Why one row cannot be imported; the message is shown to the person importing."""


# --- dates -------------------------------------------------------------------------------------

_FRIENDLY_FORMATS = {
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "DD-MM-YYYY": "%d-%m-%Y",
    "MM-DD-YYYY": "%m-%d-%Y",
    "YYYY/MM/DD": "%Y/%m/%d",
    "DD/MM/YY": "%d/%m/%y",
    "MM/DD/YY": "%m/%d/%y",
}
_SLASH_DATE = re.compile(r"^\s*\d{1,4}[/.]\d{1,2}[/.]\d{1,4}\b")
# "2025-10-07 09:50:26 +0200": the space before the offset is the only thing fromisoformat minds.
_SPACED_OFFSET = re.compile(r"\s+([+-]\d{2}:?\d{2}|Z)$")
# Dates an import accepts: anything outside is a typo (0202 for 2020) or a placeholder (9999-12-31),
# and a date at the very edge of what Python can hold overflows as soon as it is shifted to UTC or
# has a year of points expiry added to it.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def strptime_format(date_format: str) -> str:
    """``--date-format`` accepts ``DD/MM/YYYY``-style names or a strptime pattern like ``%d/%m/%Y``."""
    clean = date_format.strip()
    if clean.upper() in _FRIENDLY_FORMATS:
        return _FRIENDLY_FORMATS[clean.upper()]
    if "%" not in clean:
        known = ", ".join(_FRIENDLY_FORMATS)
        raise ValueError(
            f"unknown date format {date_format!r}: use one of {known} or a pattern like %d/%m/%Y"
        )
    return clean


def parse_datetime(text: str, tz: tzinfo, date_format: str | None = None, *, field: str = "date") -> datetime:
    """An aware UTC datetime from ISO 8601 (offset optional) or ``date_format``.

    A value without an offset is wall-clock time in ``tz`` (the business's zone). A slash date
    like 03/04/2025 is only read with an explicit ``date_format``: guessing day or month first
    row by row would silently mix two readings in one file.
    """
    raw = text.strip()
    if not raw:
        raise RowError(f"missing {field}")
    value: datetime | None = None
    if date_format is not None:
        value = _with_format(raw, date_format)
    if value is None:
        value = _iso(raw)
    if value is None:
        if date_format is None and _SLASH_DATE.match(raw):
            raise RowError(
                f"{field} {raw!r} is ambiguous (day/month or month/day?): "
                "pass --date-format DD/MM/YYYY or MM/DD/YYYY"
            )
        if date_format is not None:
            raise RowError(f"{field} {raw!r} is not a valid date (expected ISO 8601 or {date_format})")
        raise RowError(f"{field} {raw!r} is not a valid date")
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    try:
        stamped = value.astimezone(UTC)
    except OverflowError:  # 9999-12-31 23:59 west of UTC, 0001-01-01 east of it
        stamped = None
    if stamped is None or not EARLIEST <= stamped < LATEST:
        raise RowError(f"{field} {raw!r} is out of range (years 1900 to 2199)")
    return stamped


def _iso(raw: str) -> datetime | None:
    if len(raw) == 25 and raw[19] == " " and raw[20] in "+-":  # Shopify: "2025-10-07 09:50:26 +0200"
        candidate = raw[:19] + raw[20:]
    else:
        candidate = _SPACED_OFFSET.sub(r"\1", raw) if " " in raw else raw
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        return None


def _with_format(raw: str, date_format: str) -> datetime | None:
    for pattern in (date_format, date_format + " %H:%M:%S", date_format + " %H:%M"):
        try:
            return datetime.strptime(raw, pattern)
        except ValueError:
            continue
    return None


# --- amounts -----------------------------------------------------------------------------------

_PLAIN_AMOUNT = re.compile(r"^(\d{1,15})(?:\.(\d{1,2}))?$")
_BAD_GROUPING = re.compile(r",(?!\d{3}(?:[^0-9]|$))")  # a thousands comma is followed by exactly 3 digits


# The largest amount (minor units) one cell may hold: far beyond any real order, far inside the
# database's BIGINT, so totals summed over many orders cannot overflow either.
MAX_MINOR = 10**15
MAX_QUANTITY = 1_000_000

_money_cache: dict[tuple[str, str], int] = {}  # prices and totals repeat; only successes are kept


def parse_money(text: str, currency: str, *, field: str = "amount") -> int:
    """Minor units from ``53.91``, ``$1,234.50``, ``EUR 10``; rejects more decimals than the currency has."""
    cached = _money_cache.get((text, currency))
    if cached is not None:
        return cached
    minor = _parse_money(text, currency, field)
    if abs(minor) > MAX_MINOR:
        raise RowError(f"{field} {text.strip()[:40]!r} is too large to be an amount")
    if len(_money_cache) >= 200_000:
        _money_cache.clear()
    _money_cache[(text, currency)] = minor
    return minor


def _parse_money(text: str, currency: str, field: str) -> int:
    raw = text.strip()
    if not raw:
        raise RowError(f"missing {field}")
    match = _PLAIN_AMOUNT.match(raw)
    if match is not None and CURRENCY_EXPONENTS.get(currency, 2) == 2:
        whole, cents = match.groups()
        return int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
    if _BAD_GROUPING.search(raw):
        # "53,91" is a decimal comma, not 5391: refuse rather than be off by a factor of 100.
        raise RowError(f"{field} {raw!r} has a decimal comma: write it with a point, like 53.91")
    try:
        return parse_amount(raw, currency)
    except AmountError as exc:
        if "decimals" in str(exc):
            raise RowError(f"{field} {raw!r} has more decimals than {currency} allows") from exc
        raise RowError(f"{field} {raw!r} is not an amount") from exc


def optional_money(text: str, currency: str, *, field: str) -> int:
    return parse_money(text, currency, field=field) if text.strip() else 0


def check_currency(text: str, default: str) -> str:
    code = text.strip().upper() or default
    if code not in CURRENCY_EXPONENTS:
        raise RowError(f"currency {text.strip()!r} is not a known ISO 4217 code")
    return code


def parse_quantity(text: str) -> int:
    raw = text.strip()
    if not raw:
        return 1
    try:
        value = int(raw)
    except ValueError:
        raise RowError(f"quantity {raw!r} is not a whole number") from None
    if value < 0:
        raise RowError(f"quantity {raw!r} is negative")
    if value > MAX_QUANTITY:
        raise RowError(f"quantity {raw[:40]!r} is more than {MAX_QUANTITY:,}")
    return value


# --- people fields -----------------------------------------------------------------------------

# Deliberately simpler than RFC 5322: one @, a local part without spaces, a dotted domain whose
# labels are letters (any script), digits or hyphens. Good enough to catch typos in exports;
# email-validator is ~50x slower and a million-row import validates every order's email.
_LOCAL = re.compile(r"^[^\s@\"(),:;<>\[\]\\]+$")
_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$")
_email_cache: dict[str, str] = {}


def check_email(text: str) -> str:
    """The email as written (trimmed) if it looks deliverable, else ``RowError`` saying why."""
    raw = text.strip()
    cached = _email_cache.get(raw)
    if cached is not None:
        return cached
    if not raw:
        raise RowError("missing email")
    if raw.count("@") != 1:
        raise RowError(f"email {raw!r} is not a valid address (it needs exactly one @)")
    local, domain = raw.split("@")
    if not local or not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise RowError(f"email {raw!r} is not a valid address (bad part before the @)")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) and "_" not in label for label in labels):
        raise RowError(f"email {raw!r} is not a valid address (bad domain after the @)")
    if len(raw) > 320 or labels[-1].isdigit():
        raise RowError(f"email {raw!r} is not a valid address")
    if len(_email_cache) < 500_000:
        _email_cache[raw] = raw
    return raw


_YES = {"yes", "y", "true", "1", "x", "granted", "subscribed", "opt-in", "opted in"}
_NO = {"no", "n", "false", "0", "revoked", "unsubscribed", "opt-out", "opted out"}


def parse_yes_no(text: str, *, field: str) -> bool | None:
    """True, False, or None for an empty cell (which means "no change")."""
    raw = text.strip().lower()
    if not raw:
        return None
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    raise RowError(f"{field} {text.strip()!r} is not yes or no")


def clean_zip(text: str) -> str | None:
    """Spreadsheets keep leading zeros by prefixing an apostrophe (``'07302``); drop it."""
    raw = text.strip().lstrip("'").strip()
    return raw[:20] or None


def clean_text(text: str, *, limit: int) -> str | None:
    raw = " ".join(text.split())
    return raw[:limit] or None
