"""A campaign's audience: a filter over people, validated and said in words. Pure (no I/O).

Fields (all optional; an empty audience is everyone who is not erased):

| field                    | meaning                                                                   |
|--------------------------|---------------------------------------------------------------------------|
| kind                     | customer, prospect or any (default any)                                   |
| min_orders_this_year     | paid orders from 1 January of the send day's year to the send day         |
| min_orders_total         | paid orders ever (cancelled orders never count)                           |
| min_spend                | spend net of refunds in the business currency, a decimal string ("150.00") |
| last_order_within_days   | the latest paid order no more than this many days before the send day     |
| bank_status              | relationship bank statuses: healthy, watch, overdrawn (none yet: healthy) |
| rfm_segments             | RFM segments from insights (champions, loyal, ...)                        |
| loyalty_tiers            | loyalty tiers of the program's members                                    |
| not_thanked_days         | no appreciation sent or planned from this many days before the send day   |

Erased people are never in an audience: there is no field to include them. An unknown field is
refused by name rather than ignored, so a typo cannot quietly widen the audience.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from goodwill.campaigns.errors import CampaignError
from goodwill.insights.rfm import SEGMENTS, segment_label
from goodwill.money import AmountError, format_money, parse_amount, to_decimal

KINDS = ("customer", "prospect", "any")
BANK_STATUSES = ("healthy", "watch", "overdrawn")
FIELDS = (
    "kind",
    "min_orders_this_year",
    "min_orders_total",
    "min_spend",
    "last_order_within_days",
    "bank_status",
    "rfm_segments",
    "loyalty_tiers",
    "not_thanked_days",
)
_MAX_DAYS = 3650
_MAX_ORDERS = 1_000_000


@dataclass(frozen=True)
class Audience:
    kind: str = "any"
    min_orders_this_year: int | None = None
    min_orders_total: int | None = None
    min_spend_minor: int | None = None
    last_order_within_days: int | None = None
    bank_status: tuple[str, ...] = ()
    rfm_segments: tuple[str, ...] = ()
    loyalty_tiers: tuple[str, ...] = ()
    not_thanked_days: int | None = None

    def needs_orders(self) -> bool:
        return any(
            v is not None for v in (self.min_orders_this_year, self.min_orders_total, self.min_spend_minor)
        ) or (self.last_order_within_days is not None)


def parse_audience(
    spec: Mapping[str, Any] | None, *, currency: str, tiers: Sequence[str] | None = None
) -> Audience:
    """The audience ``spec`` describes; ``CampaignError("audience.<field>", why)`` at the first problem.

    ``tiers``: the loyalty program's tier names, to refuse a tier that does not exist (None: any).
    """
    if spec is None:
        return Audience()
    if not isinstance(spec, Mapping):
        raise CampaignError("audience", 'must be a table of fields, such as {kind = "customer"}')
    for key in spec:
        if key == "include_erased":
            raise CampaignError(
                "audience.include_erased", "erased people are never contacted; this field is not allowed"
            )
        if key not in FIELDS:
            raise CampaignError(f"audience.{key}", f"unknown audience field; known: {', '.join(FIELDS)}")
    kind = spec.get("kind", "any")
    if kind not in KINDS:
        raise CampaignError("audience.kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    audience = Audience(
        kind=kind,
        min_orders_this_year=_count(spec, "min_orders_this_year", _MAX_ORDERS),
        min_orders_total=_count(spec, "min_orders_total", _MAX_ORDERS),
        min_spend_minor=_spend(spec.get("min_spend"), currency),
        last_order_within_days=_days(spec, "last_order_within_days"),
        bank_status=_choices(spec, "bank_status", BANK_STATUSES),
        rfm_segments=_choices(spec, "rfm_segments", tuple(SEGMENTS)),
        loyalty_tiers=_choices(spec, "loyalty_tiers", tuple(tiers) if tiers is not None else None),
        not_thanked_days=_days(spec, "not_thanked_days"),
    )
    if kind == "prospect":
        for key in ("min_orders_this_year", "min_orders_total", "min_spend", "last_order_within_days"):
            if spec.get(key) not in (None, 0, "0"):
                raise CampaignError(
                    f"audience.{key}", "prospects have not bought yet; use kind customer or any"
                )
    return audience


def audience_json(audience: Audience, *, currency: str) -> dict[str, Any]:
    """The stored form: only the fields set, the spend back as a decimal string."""
    stored: dict[str, Any] = {"kind": audience.kind}
    for key in ("min_orders_this_year", "min_orders_total", "last_order_within_days", "not_thanked_days"):
        value = getattr(audience, key)
        if value is not None:
            stored[key] = value
    if audience.min_spend_minor is not None:
        stored["min_spend"] = str(to_decimal(audience.min_spend_minor, currency))
    for key in ("bank_status", "rfm_segments", "loyalty_tiers"):
        if getattr(audience, key):
            stored[key] = list(getattr(audience, key))
    return stored


def describe(audience: Audience, *, currency: str) -> str:
    """The audience in one sentence: "customers with 3 or more orders this year, whose ..."."""
    who = {"customer": "customers", "prospect": "prospects", "any": "everyone"}[audience.kind]
    parts: list[str] = []
    if audience.min_orders_this_year:
        parts.append(f"with {_orders(audience.min_orders_this_year)} this year")
    if audience.min_orders_total:
        parts.append(f"with {_orders(audience.min_orders_total)} in all")
    if audience.min_spend_minor:
        parts.append(f"who spent {format_money(audience.min_spend_minor, currency)} or more")
    if audience.last_order_within_days is not None:
        parts.append(f"who ordered in the {_days_words(audience.last_order_within_days)} before the send day")
    if audience.bank_status:
        parts.append(
            f"whose relationship is {_or(s.replace('watch', 'on watch') for s in audience.bank_status)}"
        )
    if audience.rfm_segments:
        parts.append(f"in the {_or(segment_label(s) for s in audience.rfm_segments)} segment"
                     + ("s" if len(audience.rfm_segments) > 1 else ""))  # fmt: skip
    if audience.loyalty_tiers:
        parts.append(
            f"in the {_or(audience.loyalty_tiers)} loyalty tier"
            + ("s" if len(audience.loyalty_tiers) > 1 else "")
        )
    if audience.not_thanked_days is not None:
        parts.append(f"not thanked in the {_days_words(audience.not_thanked_days)} before the send day")
    if not parts:
        return "everyone we know (erased people excepted)" if audience.kind == "any" else f"all {who}"
    if who == "everyone":
        who = "people"
    return f"{who} " + ", ".join(parts)


def _count(spec: Mapping[str, Any], key: str, limit: int) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise CampaignError(f"audience.{key}", f"must be a whole number from 0 to {limit:,}, not {value!r}")
    return value


def _days(spec: Mapping[str, Any], key: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_DAYS:
        raise CampaignError(
            f"audience.{key}", f"must be a number of days from 1 to {_MAX_DAYS}, not {value!r}"
        )
    return value


def _spend(value: Any, currency: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CampaignError(
            "audience.min_spend", f'write the amount as text, such as "150.00", not {value!r}'
        )
    try:
        minor = parse_amount(str(value), currency)
    except AmountError as exc:
        raise CampaignError(
            "audience.min_spend", f'{exc} (an amount in {currency}, such as "150.00")'
        ) from None
    if minor < 0:
        raise CampaignError("audience.min_spend", "must not be negative")
    return minor


def _choices(spec: Mapping[str, Any], key: str, known: tuple[str, ...] | None) -> tuple[str, ...]:
    value = spec.get(key)
    if value is None:
        return ()
    if isinstance(value, str):  # "healthy, watch" from a command line
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise CampaignError(f"audience.{key}", "must be a list of names")
    if not value:
        raise CampaignError(f"audience.{key}", "is empty; leave the field out to include everyone")
    for item in value:
        if known is not None and item not in known:
            shown = ", ".join(known) if known else "none: the loyalty program has no tiers"
            raise CampaignError(f"audience.{key}", f"unknown value {item!r}; known: {shown}")
    return tuple(dict.fromkeys(value))


def _orders(n: int) -> str:
    return f"{n} or more orders" if n != 1 else "at least one order"


def _days_words(n: int) -> str:
    return "day" if n == 1 else f"{n} days"


def _or(names: Iterable[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
