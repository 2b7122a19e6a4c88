"""Bulk awarding, set-based: every purchase without its earn yet, in one statement per purchase rule.

This is ``awards.award_events`` for purchases written as SQL for SQLite and PostgreSQL alike:
the rule's dates, tier and segment limits, the tier multiplier, whole-unit rounding down, the
daily and monthly caps (window functions over the events in order, on top of what the rule
already gave that local day and month) and the lot's pending and expiry dates. Nothing goes row
by row through Python. The integration tests prove it writes exactly what ``award_events`` writes.

Local days (``awards_dialect``) are only computed for rules with caps or dates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.orm import Session

from goodwill.db import UTCDateTime, as_utc
from goodwill.loyalty.awards_dialect import Dialect
from goodwill.loyalty.config import EarnRuleConfig, LoyaltyConfig

ENTRY_COLUMNS = "person_id, kind, points, key, rule, event_id, at, available_at, expires_at, recorded_at"


def purchase_key_prefix(rule: str) -> str:
    return f"earn:{rule}:event:"


def _names(prefix: str, values: tuple[str, ...], params: dict[str, Any]) -> str:
    """``:prefix0, :prefix1, ...`` bound to ``values`` (names from config never go into the SQL)."""
    for index, value in enumerate(values):
        params[f"{prefix}{index}"] = value
    return ", ".join(f":{prefix}{index}" for index in range(len(values)))


def _multiplier(rule: EarnRuleConfig, config: LoyaltyConfig, params: dict[str, Any]) -> str:
    """The person's tier multiplier in percent (``tiers.multiplier_for``): the entry tier's without
    an account, without a tier or in a tier no longer configured."""
    entry = config.tiers[0].multiplier_percent
    if not rule.tier_multiplier:
        return "100"
    others = [tier for tier in config.tiers[1:] if tier.multiplier_percent != entry]
    if not others:
        return str(entry)
    whens = " ".join(
        f"WHEN :mult_tier{index} THEN {tier.multiplier_percent}" for index, tier in enumerate(others)
    )
    params.update({f"mult_tier{index}": tier.name for index, tier in enumerate(others)})
    return f"(CASE a.tier {whens} ELSE {entry} END)"


def _base(
    d: Dialect, rule: EarnRuleConfig, config: LoyaltyConfig, unit: int, since: bool, params: dict[str, Any]
) -> str:
    """The purchases this rule may award: business currency, order not cancelled, no earn yet,
    in the rule's tiers and segments; with the points before caps (``raw``) and, when the caps or
    the dates need them, the local day and month."""
    multiplier = _multiplier(rule, config, params)
    local = d.local_day("e.occurred_at")
    needs_day = rule.cap_per_day is not None or rule.cap_per_month is not None
    needs_day = needs_day or rule.starts_on is not None or rule.ends_on is not None
    columns = f", {local} AS local_day, {d.local_month(local)} AS local_month" if needs_day else ""
    joins = ""
    where = [
        "e.kind = 'purchase'",
        "e.currency = :currency",
        f"e.amount_minor >= {unit}",
        "NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = e.order_id AND o.cancelled_at IS NOT NULL)",
        # An event earns once, by the rules that apply when it is first processed: one that earned
        # before this pass, or was recorded as unearned, is left alone (a rule switched on since,
        # or limited to a tier the person reached since, does not award it after the fact).
        # ``award_events`` does the same.
        # PostgreSQL reads the earned events once (``earned``, materialised) and anti-joins: planned
        # per row against a table analysed while empty, the check scanned it for every purchase.
        "NOT EXISTS (SELECT 1 FROM loyalty_entries x WHERE x.event_id = e.id AND x.kind = 'earn'"
        " AND x.id <= :before)"
        " AND NOT EXISTS (SELECT 1 FROM loyalty_unearned_events u WHERE u.event_id = e.id)"
        if d.sqlite
        else "NOT EXISTS (SELECT 1 FROM earned x WHERE x.event_id = e.id)",
    ]
    if since:
        where.append("e.occurred_at >= :since")
    if multiplier.startswith("(") or rule.tiers:
        joins += " LEFT JOIN loyalty_accounts a ON a.person_id = e.person_id"
    if rule.tiers:
        known = _names("known_tier", tuple(tier.name for tier in config.tiers), params)
        params["entry_tier"] = config.tiers[0].name
        allowed = _names("rule_tier", rule.tiers, params)
        where.append(f"(CASE WHEN a.tier IN ({known}) THEN a.tier ELSE :entry_tier END) IN ({allowed})")
    if rule.segments:
        joins += " LEFT JOIN insight_scores s ON s.person_id = e.person_id"
        where.append(f"s.segment IN ({_names('segment', rule.segments, params)})")
    raw = f"(e.amount_minor / {unit}) * {rule.points_per_unit} * {multiplier} / 100"
    return (
        f"SELECT e.id AS event_id, e.person_id, e.occurred_at AS at, {raw} AS raw{columns}"
        f" FROM events e{joins} WHERE {' AND '.join(where)}"
    )


def _dated(d: Dialect, rule: EarnRuleConfig, params: dict[str, Any]) -> str:
    where = ["raw > 0"]
    if rule.starts_on is not None:
        params["starts_on"] = d.day_value(rule.starts_on)
        where.append("local_day >= :starts_on")
    if rule.ends_on is not None:
        params["ends_on"] = d.day_value(rule.ends_on)
        where.append("local_day <= :ends_on")
    return f"SELECT * FROM base WHERE {' AND '.join(where)}"


def _caps(d: Dialect, rule: EarnRuleConfig) -> tuple[list[str], str]:
    """CTEs that apply the caps greedily in event order, on top of what the rule gave before.

    After an event the rule has given min(cap, before + running sum), so each event gets that
    minus the same just before it: ``rules.capped`` applied event after event. The monthly cap
    then applies to what the daily caps left: a month holds whole days, so it is the same fill.
    """
    ctes: list[str] = []
    source = "picked"
    for unit, cap in (("day", rule.cap_per_day), ("month", rule.cap_per_month)):
        if cap is None:
            continue
        column = f"local_{unit}"
        local = d.local_day("at")
        period = local if unit == "day" else d.local_month(local)
        ctes.append(
            f"prior_{unit} AS (SELECT person_id, {column}, SUM(points) AS given FROM ("
            f"SELECT person_id, points, {period} AS {column} FROM loyalty_entries"
            f" WHERE kind = 'earn' AND rule = :rule) p GROUP BY person_id, {column})"
        )
        before = "COALESCE(p.given, 0)"
        running = (
            f"SUM(raw) OVER (PARTITION BY person_id, {column} ORDER BY at, event_id ROWS UNBOUNDED PRECEDING)"
        )
        given = f"{d.least(str(cap), f'{before} + c.run')} - {d.least(str(cap), f'{before} + c.run - c.raw')}"
        ctes.append(
            f"after_{unit} AS (SELECT c.event_id, c.person_id, c.at, c.local_day, c.local_month,"
            f" {given} AS raw"
            f" FROM (SELECT {source}.*, {running} AS run FROM {source}) c"
            f" LEFT JOIN prior_{unit} p ON p.person_id = c.person_id AND p.{column} = c.{column})"
        )
        source = f"after_{unit}"
    return ctes, source


_EARNED = (
    "earned AS MATERIALIZED (SELECT event_id FROM loyalty_entries WHERE kind = 'earn' AND id <= :before"
    " UNION ALL SELECT event_id FROM loyalty_unearned_events)"
)


def _earns_sql(
    d: Dialect, rule: EarnRuleConfig, config: LoyaltyConfig, unit: int, since: bool
) -> tuple[str, dict[str, Any]]:
    """(CTEs ending in ``earns``: the new entries' columns, and their parameters)."""
    params: dict[str, Any] = {"rule": rule.name, "prefix": purchase_key_prefix(rule.name)}
    ctes = [] if d.sqlite else [_EARNED]
    ctes += [
        f"base AS ({_base(d, rule, config, unit, since, params)})",
        f"picked AS ({_dated(d, rule, params)})",
    ]
    capped, source = _caps(d, rule)
    ctes += capped
    available = d.plus_days("at", config.pending_days)
    expires = d.plus_months("at", config.expiry_months) if config.expiry_months else "NULL"
    ctes.append(
        "earns AS (SELECT person_id, 'earn' AS kind, raw AS points,"
        " :prefix || CAST(event_id AS TEXT) AS key, :rule AS rule, event_id, at,"
        f" {available} AS available_at, {expires} AS expires_at, :now AS recorded_at"
        f" FROM {source} WHERE raw > 0)"
    )
    return "WITH " + ",\n".join(ctes), params


def _statement(sql: str, params: dict[str, Any]) -> TextClause:
    """``text(sql)`` with the parameters it names (times as UTC columns: text on SQLite)."""
    used = set(re.findall(r"(?<!:):([a-z_][a-z0-9_]*)", sql))
    typed = [bindparam(name, params[name], type_=UTCDateTime()) for name in ("now", "since") if name in used]
    return text(sql).bindparams(
        *typed, **{k: v for k, v in params.items() if k in used and k not in ("now", "since")}
    )


def purchase_span(session: Session) -> tuple[datetime, datetime] | None:
    """The first and last purchase (for SQLite's table of UTC offsets)."""
    first, last = session.execute(
        text("SELECT MIN(occurred_at), MAX(occurred_at) FROM events WHERE kind = 'purchase'")
    ).one()
    start, end = as_utc(first), as_utc(last)
    return (start, end) if start is not None and end is not None else None


def award_purchases(
    session: Session,
    *,
    rules: tuple[EarnRuleConfig, ...],
    config: LoyaltyConfig,
    currency: str,
    exponent: int,
    zone: str,
    now: datetime,
    since: datetime | None,
) -> tuple[int, int]:
    """Earn entries for every purchase the ``rules`` (enabled purchase rules) have not awarded yet,
    accounts created or credited in the same pass; (entries written, points)."""
    span = purchase_span(session)
    if span is None:
        return 0, 0
    d = Dialect.of(session, zone, span)
    if not rules:
        mark_unearned_purchases(session, now=now, since=since)
        return 0, 0
    unit = 10**exponent
    entries = points = 0
    if d.sqlite:
        # Any write takes SQLite's database lock, so no other writer adds entries until the commit:
        # the rows after ``before`` are then exactly ours.
        session.execute(text("UPDATE loyalty_accounts SET balance = balance WHERE 0"))
    before = int(session.execute(text("SELECT COALESCE(MAX(id), 0) FROM loyalty_entries")).scalar_one())
    for rule in rules:
        ctes, params = _earns_sql(d, rule, config, unit, since is not None)
        params.update(currency=currency, now=now, since=since, before=before)
        if d.sqlite:
            sql = f"INSERT INTO loyalty_entries ({ENTRY_COLUMNS}) {ctes} SELECT {ENTRY_COLUMNS} FROM earns"
            session.execute(_statement(sql, params))
            continue
        sql = (
            f"{ctes},\n"
            f"written AS (INSERT INTO loyalty_entries ({ENTRY_COLUMNS}) SELECT {ENTRY_COLUMNS} FROM earns"
            " RETURNING person_id, points, at),\n"
            "per_person AS (SELECT person_id, COUNT(*) AS entries, SUM(points) AS points, MIN(at) AS first_at"
            " FROM written GROUP BY person_id),\n"
            f"credited AS ({_CREDIT.format(source='per_person')} RETURNING 1)\n"
            "SELECT COALESCE(SUM(entries), 0), COALESCE(SUM(points), 0) FROM per_person"
        )
        written, given = session.execute(_statement(sql, params)).one()
        entries, points = entries + int(written), points + int(given)
    if d.sqlite:
        per_person = (
            "SELECT person_id, COUNT(*) AS entries, SUM(points) AS points, MIN(at) AS first_at"
            " FROM loyalty_entries WHERE id > :before GROUP BY person_id"
        )
        session.execute(_statement(_CREDIT.format(source=f"({per_person})"), {"before": before, "now": now}))
        written, given = session.execute(
            text("SELECT COUNT(*), COALESCE(SUM(points), 0) FROM loyalty_entries WHERE id > :before"),
            {"before": before},
        ).one()
        entries, points = int(written), int(given)
    mark_unearned_purchases(session, now=now, since=since)
    return entries, points


def mark_unearned_purchases(session: Session, *, now: datetime, since: datetime | None) -> None:
    """Record the purchases this pass looked at that earned nothing (``loyalty_unearned_events``),
    as ``award_events`` does, so that no later pass awards them under rules changed since."""
    where = ["e.kind = 'purchase'"]
    if since is not None:
        where.append("e.occurred_at >= :since")
    sql = (
        "INSERT INTO loyalty_unearned_events (event_id, processed_at) SELECT e.id, :now FROM events e"
        f" WHERE {' AND '.join(where)}"
        " AND NOT EXISTS (SELECT 1 FROM loyalty_entries x WHERE x.event_id = e.id AND x.kind = 'earn')"
        " AND NOT EXISTS (SELECT 1 FROM loyalty_unearned_events u WHERE u.event_id = e.id)"
    )
    session.execute(_statement(sql, {"now": now, "since": since}))


# Accounts created for new members (joined when first credited, as ``ledger.add_lot`` does) or
# credited, in one upsert. The WHERE keeps SQLite's parser from reading ON CONFLICT as a join's ON.
_CREDIT = (
    "INSERT INTO loyalty_accounts (person_id, joined_at, balance, issued, tier, updated_at)"
    " SELECT person_id, first_at, points, points, '', :now FROM {source} credit WHERE true"
    " ORDER BY person_id"  # rows locked in one order, as everyone else locks accounts
    " ON CONFLICT (person_id) DO UPDATE SET balance = loyalty_accounts.balance + excluded.balance,"
    " issued = loyalty_accounts.issued + excluded.issued, updated_at = excluded.updated_at"
)


def earn_times_sql(d: Dialect, column: str, config: LoyaltyConfig) -> tuple[str, str]:
    """(available_at, expires_at) of points earned at ``column``, as SQL (``rules.earn_times``)."""
    expires = d.plus_months(column, config.expiry_months) if config.expiry_months else "NULL"
    return d.plus_days(column, config.pending_days), expires


def events_to_revisit(session: Session, *, bonus_kinds: list[str], since: datetime | None) -> list[int]:
    """Events ``award_all`` hands to ``award_events``: reviews and referrals never processed (no
    earn, not recorded as unearned: an event recorded while the program was switched off, or by a
    big import),
    refunds and cancellations of orders with an earn not yet taken back for them, and purchases
    of orders marked cancelled whose points were not taken back."""
    when = " AND e.occurred_at >= :since" if since is not None else ""
    params: dict[str, Any] = {"since": since}
    found: list[int] = []
    if bonus_kinds:
        kinds = _names("kind", tuple(bonus_kinds), params)
        found += session.scalars(
            _statement(
                f"SELECT e.id FROM events e WHERE e.kind IN ({kinds}){when}"
                " AND NOT EXISTS (SELECT 1 FROM loyalty_entries x WHERE x.event_id = e.id)"
                " AND NOT EXISTS (SELECT 1 FROM loyalty_unearned_events u WHERE u.event_id = e.id)",
                params,
            )
        )
    reversal_key = (
        "'reverse:' || CAST(l.id AS TEXT) || CASE WHEN e.kind = 'refund'"
        " THEN ':event:' || CAST(e.id AS TEXT) ELSE ':cancel:' || CAST(e.order_id AS TEXT) END"
    )
    found += session.scalars(
        _statement(
            "SELECT e.id FROM events e WHERE e.kind IN ('refund', 'order_cancelled')"
            f" AND e.order_id IS NOT NULL{when} AND EXISTS (SELECT 1 FROM events p"
            " JOIN loyalty_entries l ON l.event_id = p.id AND l.kind = 'earn'"
            " WHERE p.order_id = e.order_id AND p.kind = 'purchase' AND NOT EXISTS ("
            f"SELECT 1 FROM loyalty_entries x WHERE x.event_id = p.id AND x.key = {reversal_key}))",
            params,
        )
    )
    found += session.scalars(
        _statement(
            "SELECT DISTINCT e.id FROM events e JOIN orders o ON o.id = e.order_id"
            " JOIN loyalty_entries l ON l.event_id = e.id AND l.kind = 'earn'"
            f" WHERE e.kind = 'purchase' AND o.cancelled_at IS NOT NULL{when} AND NOT EXISTS ("
            "SELECT 1 FROM loyalty_entries x WHERE x.event_id = e.id"
            " AND x.key = 'reverse:' || CAST(l.id AS TEXT) || ':cancel:' || CAST(o.id AS TEXT))",
            params,
        )
    )
    return sorted(set(found))


@contextmanager
def bigger_sqlite_cache(session: Session) -> Iterator[None]:
    """256 MiB of page cache on SQLite while awarding in bulk (as the bank's rebuild does): the
    default 2 MiB makes sorting and indexing millions of rows spill to disk."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    restore = []
    for schema in ("main", "temp"):
        before = int(session.execute(text(f"PRAGMA {schema}.cache_size")).scalar_one())
        session.execute(text(f"PRAGMA {schema}.cache_size = -262144"))
        restore.append(f"PRAGMA {schema}.cache_size = {before}")
    try:
        yield
    finally:
        for pragma in restore:
            session.execute(text(pragma))
