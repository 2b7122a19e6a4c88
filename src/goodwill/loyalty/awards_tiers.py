"""Tiers in the database: each member's measure over the rolling window, and their stored tier.

The rules are ``loyalty.tiers`` (pure); this reads the measure in bulk and writes the tiers that
changed. Import these from ``goodwill.loyalty.awards``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, case, func, select, text
from sqlalchemy.orm import Session, aliased

from goodwill.config import Settings, get_settings
from goodwill.db import UTCDateTime, among, rows_changed
from goodwill.events.model import Event
from goodwill.events.service import counts_as_spend
from goodwill.loyalty.awards_dialect import hold_bulk_lock
from goodwill.loyalty.config import LoyaltyConfig
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, LoyaltyEntry
from goodwill.loyalty.tiers import TierProgress, progress

_A = cast(Table, LoyaltyAccount.__table__)
_E = cast(Table, LoyaltyEntry.__table__)
_EV = cast(Table, Event.__table__)


def _earned_in_window(start: datetime, now: datetime) -> tuple[Select[Any], Select[Any]]:
    """(earned, taken back) per person: earns made in (start, now], and the reversals of those earns
    (cancelled or refunded orders), whenever they happened. Redemptions never lower the measure."""
    in_window = (_E.c.kind == EntryKind.earn.value, _E.c.at > start, _E.c.at <= now)
    earned = select(_E.c.person_id, func.sum(_E.c.points)).where(*in_window).group_by(_E.c.person_id)
    reversal = aliased(_E)
    taken_back = (
        select(_E.c.person_id, func.sum(-reversal.c.points))
        .join(reversal, reversal.c.reverses_id == _E.c.id)
        .where(*in_window, reversal.c.kind == EntryKind.reverse.value, reversal.c.points < 0)
        .group_by(_E.c.person_id)
    )
    return earned, taken_back


def _spend_in_window(start: datetime, now: datetime, currency: str) -> Select[Any]:
    """Purchases net of refunds in the business currency (minor units), cancelled orders left out."""
    signed = case((_EV.c.kind == "purchase", _EV.c.amount_minor), else_=-_EV.c.amount_minor)
    return (
        select(_EV.c.person_id, func.sum(signed))
        .where(
            _EV.c.kind.in_(("purchase", "refund")),
            _EV.c.currency == currency,
            _EV.c.amount_minor.is_not(None),
            _EV.c.occurred_at > start,
            _EV.c.occurred_at <= now,
            counts_as_spend(_EV.c),
        )
        .group_by(_EV.c.person_id)
    )


def measures(
    session: Session, *, now: datetime, config: LoyaltyConfig, currency: str, person_ids: Sequence[int] | None
) -> dict[int, int]:
    """Each person's tier measure at ``now`` (people with nothing in the window are left out: 0)."""
    start = now - timedelta(days=config.tier_window_days)
    found: dict[int, int] = {}
    if config.tier_basis == "spend":
        parts = [(_spend_in_window(start, now, currency), _EV.c.person_id, 1)]
    else:
        earned, taken_back = _earned_in_window(start, now)
        parts = [(earned, _E.c.person_id, 1), (taken_back, _E.c.person_id, -1)]
    for query, person, sign in parts:
        if person_ids is not None:
            query = query.where(among(session, person, list(person_ids)))
        for person_id, value in session.execute(query):
            found[person_id] = found.get(person_id, 0) + sign * int(value or 0)
    return {person_id: max(0, value) for person_id, value in found.items()}


def tier_measure(
    session: Session, *, person_id: int, now: datetime, config: LoyaltyConfig, currency: str | None = None
) -> int:
    """Points earned (or spend) over the rolling window up to ``now``; never the balance.

    Spend is in ``currency``, by default the business currency of this process's settings.
    """
    if currency is None:
        currency = get_settings().business.currency
    return measures(session, now=now, config=config, currency=currency, person_ids=[person_id]).get(
        person_id, 0
    )


def _people_filter(
    session: Session, column: str, person_ids: Sequence[int] | None, params: dict[str, Any]
) -> str:
    if person_ids is None:
        return ""
    params["ids"] = json.dumps(sorted(set(person_ids)))
    if session.get_bind().dialect.name == "postgresql":
        elements = "json_array_elements_text(CAST(:ids AS JSON))"
        return f" AND {column} IN (SELECT CAST(value AS BIGINT) FROM {elements})"
    return f" AND {column} IN (SELECT value FROM json_each(:ids))"


def _measure_sql(
    session: Session, config: LoyaltyConfig, person_ids: Sequence[int] | None, params: dict[str, Any]
) -> str:
    """Each person's measure as SQL: ``measures`` set-based, for every account at once."""
    if config.tier_basis == "spend":
        who = _people_filter(session, "e.person_id", person_ids, params)
        return (
            "SELECT e.person_id,"
            " SUM(CASE WHEN e.kind = 'purchase' THEN e.amount_minor ELSE -e.amount_minor END) AS measure"
            " FROM events e WHERE e.kind IN ('purchase', 'refund') AND e.currency = :currency"
            f" AND e.amount_minor IS NOT NULL AND e.occurred_at > :start AND e.occurred_at <= :now{who}"
            " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = e.order_id AND o.cancelled_at IS NOT NULL)"
            " GROUP BY e.person_id"
        )
    earned = _people_filter(session, "person_id", person_ids, params)
    # A reversal is always its earn's person's: filtering the reversals by person too lets
    # PostgreSQL find them by index instead of scanning every reversal (a person's tier refresh).
    reversed_ = _people_filter(session, "e.person_id", person_ids, params)
    reversed_ += _people_filter(session, "r.person_id", person_ids, params)
    return (
        "SELECT person_id, SUM(points) AS measure FROM ("
        "SELECT person_id, points FROM loyalty_entries WHERE kind = 'earn' AND at > :start AND at <= :now"
        f"{earned} UNION ALL SELECT e.person_id, r.points FROM loyalty_entries r"
        " JOIN loyalty_entries e ON e.id = r.reverses_id WHERE r.kind = 'reverse' AND r.points < 0"
        f" AND e.kind = 'earn' AND e.at > :start AND e.at <= :now{reversed_}) x GROUP BY person_id"
    )


def _refresh_sql(
    session: Session, config: LoyaltyConfig, person_ids: Sequence[int] | None, params: dict[str, Any]
) -> str:
    """``tiers.next_state`` for every account at once, as one UPDATE of the rows that change."""
    names = [tier.name for tier in config.tiers]
    params.update({f"tier{index}": name for index, name in enumerate(names)})
    held = " ".join(f"WHEN :tier{index} THEN {index}" for index in range(len(names)))
    reached = " ".join(
        f"WHEN COALESCE(m.measure, 0) >= {tier.threshold} THEN {index}"
        for index, tier in reversed(list(enumerate(config.tiers)))
    )
    named = " ".join(f"WHEN {index} THEN :tier{index}" for index in range(len(names)))
    no_grace = "'down'" if config.downgrade_grace_days == 0 else "'grace'"
    who = _people_filter(session, "a.person_id", person_ids, params)
    return f"""
WITH m AS ({_measure_sql(session, config, person_ids, params)}),
ranked AS (
  SELECT a.person_id, a.tier_kept_until, CASE a.tier {held} ELSE -1 END AS held,
    CASE {reached} ELSE 0 END AS reached
  FROM loyalty_accounts a LEFT JOIN m ON m.person_id = a.person_id WHERE 1 = 1{who}
),
moved AS (
  SELECT person_id, reached, CASE
    WHEN held < 0 OR reached > held THEN 'up'
    WHEN reached = held THEN 'same'
    WHEN tier_kept_until IS NULL THEN {no_grace}
    WHEN :now < tier_kept_until THEN 'kept'
    ELSE 'down' END AS move
  FROM ranked
)
UPDATE loyalty_accounts SET
  tier = CASE WHEN moved.move IN ('up', 'down') THEN CASE moved.reached {named} END
    ELSE loyalty_accounts.tier END,
  tier_since = CASE WHEN moved.move IN ('up', 'down') THEN :now ELSE loyalty_accounts.tier_since END,
  tier_kept_until = CASE WHEN moved.move = 'grace' THEN :kept_until ELSE NULL END
FROM moved
WHERE loyalty_accounts.person_id = moved.person_id AND (moved.move IN ('up', 'down', 'grace')
  OR (moved.move = 'same' AND loyalty_accounts.tier_kept_until IS NOT NULL))"""


def refresh_tiers(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    person_ids: Sequence[int] | None = None,
    bulk_lock_held: bool = False,
) -> int:
    """Move members (these, or everyone) to the tier their measure gives under the downgrade policy
    (``tiers.next_state``, here as one set-based UPDATE; the tests prove they agree); returns how
    many changed (tier, since or kept-until). ``bulk_lock_held``: the caller's transaction holds
    ``hold_bulk_lock`` already, as this call would take it (an awarding pass)."""
    config = settings.loyalty
    if person_ids is not None and not person_ids:
        return 0
    # An UPDATE of every account is a bulk job; of some accounts, a live pass (see hold_bulk_lock).
    if not bulk_lock_held:
        hold_bulk_lock(session, shared=person_ids is not None)
    params: dict[str, Any] = {"currency": settings.business.currency}
    sql = _refresh_sql(session, config, person_ids, params)
    times = {
        "now": now,
        "start": now - timedelta(days=config.tier_window_days),
        "kept_until": now + timedelta(days=config.downgrade_grace_days),
    }
    used = {name for name in [*params, *times] if f":{name}" in sql}
    statement = text(sql).bindparams(
        *(bindparam(name, value, type_=UTCDateTime()) for name, value in times.items() if name in used),
        **{name: value for name, value in params.items() if name in used},
    )
    changed = rows_changed(session.execute(statement))
    if changed < 0:  # Python's sqlite3 gives no row count for a statement that starts with WITH
        changed = int(session.execute(text("SELECT changes()")).scalar_one())
    if changed:
        for loaded in list(session.identity_map.values()):  # loaded accounts re-read their tier when used
            if isinstance(loaded, LoyaltyAccount):
                session.expire(loaded, ["tier", "tier_since", "tier_kept_until"])
    return changed


def tier_progress(
    session: Session, *, person_id: int, now: datetime, config: LoyaltyConfig, currency: str | None = None
) -> TierProgress:
    """The member's stored tier, the measure now, and how far it is to keep it and reach the next."""
    account = session.get(LoyaltyAccount, person_id)
    return progress(
        config.tiers,
        current=account.tier if account else "",
        measure=tier_measure(session, person_id=person_id, now=now, config=config, currency=currency),
        basis=config.tier_basis,
        kept_until=account.tier_kept_until if account else None,
    )
