"""Recompute every bank entry and standing from the event log, set-based, inside the database.

This is ``bank.rules.project`` written as SQL (window functions for the streak), for SQLite and
PostgreSQL alike: nothing is loaded row by row into Python. The integration tests prove it gives
exactly what ``refresh_people`` gives.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from goodwill.bank.config import CONFIGURABLE_RULES, load_bank_config
from goodwill.bank.rules import ADJUSTMENT, EPOCH, IN_TIME, OVERDRAWN_BELOW, RULES_BY_NAME, BankConfig, decay
from goodwill.config import get_settings
from goodwill.db import utcnow
from goodwill.events.service import SPEND_SQL

ENTRY_COLUMNS = "person_id, event_id, kind, rule, amount, at, side, effect"
_IDENTIFIER = re.compile(r"^[a-z_]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass
class RebuildReport:
    entries_before: int = 0
    entries_after: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    people: int = 0
    status_changes: dict[str, int] = field(default_factory=dict)  # new status -> people who moved to it
    by_status: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


class _Dialect:
    """The few expressions SQLite and PostgreSQL spell differently."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def plus_days(self, column: str, days: int) -> str:
        if self.sqlite:
            # Whole seconds go through strftime (which would round .9996 up), the stored microseconds
            # are carried over as text: the result keeps SQLAlchemy's format exactly.
            whole = f"substr({column}, 1, 19)"
            return f"(strftime('%Y-%m-%d %H:%M:%S', {whole}, '{days:+d} days') || substr({column}, 20))"
        return f"({column} + interval '1 hour' * {24 * days})"  # hours: no DST shift, like timedelta

    def epoch_days(self, column: str) -> str:
        if self.sqlite:
            # julianday() keeps whole milliseconds only, which shifts a decayed score by ~1e-11 of
            # itself per entry: enough to differ from Python where a balance is a small difference
            # of large scores. Whole days from the date, and the time of day from the stored text.
            seconds = (
                f"CAST(substr({column}, 12, 2) AS INTEGER) * 3600"
                f" + CAST(substr({column}, 15, 2) AS INTEGER) * 60 + CAST(substr({column}, 18) AS REAL)"
            )
            days = f"julianday(substr({column}, 1, 10)) - julianday('{EPOCH:%Y-%m-%d}')"
            return f"(({days}) + ({seconds}) / 86400.0)"
        return f"((EXTRACT(EPOCH FROM {column})::float8 - {EPOCH.timestamp()}) / 86400.0)"

    def power_of_two(self, exponent: str) -> str:
        return f"pow(2.0, {exponent})" if self.sqlite else f"power(2.0::float8, {exponent})"

    def adjustment_head(self) -> tuple[str, str]:
        """(the text before the first space, the test that it is signed points like '+10')."""
        if self.sqlite:
            head = "substr(text, 1, instr(text || ' ', ' ') - 1)"
            ok = "h GLOB '[+-][0-9]*' AND length(h) BETWEEN 2 AND 5 AND substr(h, 2) NOT GLOB '*[^0-9]*'"
            return head, ok
        return "split_part(text, ' ', 1)", "h ~ '^[+-][0-9]{1,4}$'"

    def timestamp(self, value: datetime) -> str:
        utc = value.astimezone(UTC)
        if self.sqlite:
            return f"'{utc:%Y-%m-%d %H:%M:%S.%f}'"
        return f"TIMESTAMPTZ '{utc:%Y-%m-%d %H:%M:%S.%f}+00'"


def _direct_rules(config: BankConfig) -> list[tuple[str, int, str]]:
    """(rule, points, side) for every rule read straight off one event, skipping rules turned off."""
    rules = []
    for name in CONFIGURABLE_RULES:
        points = config.weight(name)
        if name == "question_unanswered" or points == 0:
            continue
        if not _IDENTIFIER.match(name):  # names come from our own vocabulary: safe to inline
            raise ValueError(f"refusing to build SQL from rule name {name!r}")
        rules.append((name, int(points), config.side(name).value))
    return rules


def _lookup(pairs: list[tuple[str, str]], default: str) -> str:
    """``CASE rule WHEN 'purchase' THEN 2 ... END`` from (rule, SQL literal) pairs.

    An inline CASE rather than a join to a VALUES table: one pass over the events and no join order
    for the planner to get wrong (SQLite scanned the events once per rule with the join).
    """
    whens = " ".join(f"WHEN '{rule}' THEN {literal}" for rule, literal in pairs)
    return f"CASE rule {whens} ELSE {default} END" if pairs else default


def entries_select(config: BankConfig, d: _Dialect) -> str:
    """One SELECT producing every entry (ENTRY_COLUMNS) from the events table."""
    head, head_ok = d.adjustment_head()
    unanswered = config.weight("question_unanswered")
    review = (
        "CASE WHEN kind <> 'review' THEN kind"
        " WHEN text LIKE '%5/5%' OR text LIKE '%4/5%' OR text LIKE '%★★★★%' THEN 'review_positive'"
        " WHEN text LIKE '%1/5%' OR text LIKE '%2/5%' OR (text LIKE '%★%' AND text NOT LIKE '%★★★%')"
        " THEN 'review_negative' ELSE 'review' END"
    )
    question_due = d.plus_days("q.occurred_at", config.question_sla_days)
    complaint_window_start = d.plus_days("grouped.at", -config.complaint_sla_days)
    bonus = (
        f"({config.recovery_bonus} - {config.recovery_step}"
        " * (CASE WHEN streak_before < 1 THEN 0 ELSE streak_before - 1 END))"
    )
    rules = _direct_rules(config)
    kinds = ", ".join(
        sorted({f"'{RULES_BY_NAME[r].kind}'" if r in RULES_BY_NAME else f"'{r}'" for r, _, _ in rules})
    )
    points = _lookup([(rule, str(amount)) for rule, amount, _ in rules], "0")
    side = _lookup([(rule, f"'{side}'") for rule, _, side in rules], "'customer'")
    return f"""
WITH raw AS (
  SELECT person_id, event_id, kind, rule, amount, at, side FROM (
    SELECT person_id, event_id, kind, rule, {points} AS amount, at, {side} AS side FROM (
      SELECT person_id, id AS event_id, kind, {review} AS rule, occurred_at AS at FROM events
      WHERE kind IN ({kinds or "''"})) e) r
  WHERE amount <> 0
  UNION ALL
  SELECT person_id, id, kind, '{ADJUSTMENT}', CAST(h AS INTEGER), occurred_at, 'business'
  FROM (SELECT person_id, id, kind, occurred_at, {head} AS h FROM events WHERE kind = '{ADJUSTMENT}') a
  WHERE {head_ok} AND CAST(h AS INTEGER) <> 0
  UNION ALL
  SELECT q.person_id, q.id, q.kind, 'question_unanswered', {unanswered}, {question_due}, 'business'
  FROM events q
  WHERE {unanswered} <> 0 AND q.kind = 'question' AND NOT EXISTS (
    SELECT 1 FROM events a WHERE a.person_id = q.person_id AND a.kind = 'question_answered'
    AND a.occurred_at >= q.occurred_at AND a.occurred_at <= {question_due})
),
flagged AS (
  SELECT raw.*, CASE
    WHEN rule = '{ADJUSTMENT}' THEN (CASE WHEN amount > 0 THEN 'answers' ELSE 'none' END)
    WHEN amount < 0 THEN 'extends' WHEN side = 'business' THEN 'answers' ELSE 'none' END AS effect
  FROM raw
),
grouped AS (
  SELECT flagged.*, COALESCE(SUM(CASE WHEN effect = 'answers' THEN 1 ELSE 0 END) OVER (
    PARTITION BY person_id ORDER BY at, event_id, rule
    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS grp
  FROM flagged
),
streaked AS (
  SELECT grouped.*, COALESCE(SUM(CASE WHEN effect = 'extends' THEN 1 ELSE 0 END) OVER (
    PARTITION BY person_id, grp ORDER BY at, event_id, rule
    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS streak_before,
    CASE WHEN rule = 'complaint_resolved' AND EXISTS (
      SELECT 1 FROM events c WHERE c.person_id = grouped.person_id AND c.kind = 'complaint'
      AND c.occurred_at <= grouped.at AND c.occurred_at >= {complaint_window_start}
    ) THEN 1 ELSE 0 END AS in_time
  FROM grouped
)
SELECT person_id, event_id, kind,
  CASE WHEN in_time = 1 THEN '{IN_TIME}' ELSE rule END AS rule,
  amount + CASE WHEN in_time = 1 AND {bonus} > 0 THEN {bonus} ELSE 0 END AS amount,
  at, side, effect
FROM streaked"""


def standings_select(config: BankConfig, d: _Dialect, now: datetime, currency: str) -> str:
    """One SELECT producing every standing row from the new entries (``bank_new``) and events."""
    if not _CURRENCY.match(currency):
        raise ValueError("refusing to build SQL from an unexpected value")
    moment = d.timestamp(now)
    growth = d.power_of_two(f"{d.epoch_days('at')} / {config.half_life_days}.0")
    to_now = decay(EPOCH, now, config.half_life_days)
    balance = f"COALESCE(pp.score, 0.0) * {to_now!r}"
    streak = "COALESCE(pp.bad_streak, 0)"
    return f"""
WITH made AS (
  SELECT person_id, amount, at, effect, SUM(CASE WHEN effect = 'answers' THEN 1 ELSE 0 END) OVER (
    PARTITION BY person_id ORDER BY at, event_id, rule ROWS UNBOUNDED PRECEDING) AS g
  FROM bank_new WHERE at <= {moment}
),
in_last_group AS (SELECT made.*, MAX(g) OVER (PARTITION BY person_id) AS last_g FROM made),
per_person AS (
  SELECT person_id, SUM(amount * {growth}) AS score,
    SUM(CASE WHEN g = last_g AND effect = 'extends' THEN 1 ELSE 0 END) AS bad_streak
  FROM in_last_group GROUP BY person_id
),
due AS (SELECT person_id, MIN(at) AS next_due_at FROM bank_new WHERE at > {moment} GROUP BY person_id),
spend AS (
  SELECT person_id, SUM(CASE WHEN kind = 'purchase' THEN amount_minor ELSE -amount_minor END) AS value_minor
  FROM events WHERE kind IN ('purchase', 'refund') AND currency = '{currency}' AND amount_minor IS NOT NULL
    AND {SPEND_SQL}
  GROUP BY person_id
),
everyone AS (SELECT person_id FROM bank_new UNION SELECT person_id FROM spend)
SELECT everyone.person_id, COALESCE(pp.score, 0.0) AS score, {streak} AS bad_streak,
  CASE WHEN {balance} < {OVERDRAWN_BELOW} OR {streak} >= {config.at_risk_streak} THEN 'overdrawn'
       WHEN {streak} >= {config.watch_streak} THEN 'watch' ELSE 'healthy' END AS status,
  COALESCE(s.value_minor, 0) AS value_minor, due.next_due_at, {moment} AS computed_at
FROM everyone
LEFT JOIN per_person pp ON pp.person_id = everyone.person_id
LEFT JOIN due ON due.person_id = everyone.person_id
LEFT JOIN spend s ON s.person_id = everyone.person_id"""


def _count(session: Session, sql: str) -> int:
    return int(session.execute(text(sql)).scalar_one() or 0)


def rebuild(
    *,
    session: Session,
    config: BankConfig | None = None,
    currency: str | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> RebuildReport:
    """Replace all entries and standings with what the current rules make of the event log."""
    started = time.perf_counter()
    config = config or load_bank_config(get_settings())
    currency = currency or get_settings().business.currency
    now = now or utcnow()
    step = progress or (lambda _message: None)
    d = _Dialect(session.get_bind().dialect.name)
    report = RebuildReport()
    for table in ("bank_new", "bank_standings_new"):
        session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    restore = _bigger_sqlite_cache(session) if d.sqlite else []
    step("projecting events through the rules")
    session.execute(text(f"CREATE TEMP TABLE bank_new AS {entries_select(config, d)}"))
    step("computing standings")
    session.execute(
        text(f"CREATE TEMP TABLE bank_standings_new AS {standings_select(config, d, now, currency)}")
    )
    # Without it the status comparison below probes the new standings by a full scan per person.
    session.execute(text("CREATE INDEX ix_bank_standings_new_person ON bank_standings_new (person_id)"))
    step("comparing with the current ledger")
    report.entries_before = _count(session, "SELECT COUNT(*) FROM bank_entries")
    report.entries_after = _count(session, "SELECT COUNT(*) FROM bank_new")
    report.added = _count(
        session,
        "SELECT COUNT(*) FROM bank_new n WHERE NOT EXISTS (SELECT 1 FROM bank_entries o"
        " WHERE o.event_id = n.event_id AND o.rule = n.rule)",
    )
    report.changed = _count(
        session,
        "SELECT COUNT(*) FROM bank_new n JOIN bank_entries o ON o.event_id = n.event_id AND o.rule = n.rule"
        " WHERE o.amount <> n.amount OR o.at <> n.at",
    )
    report.removed = report.entries_before - (report.entries_after - report.added)
    moved = session.execute(
        text(
            "SELECT n.status, COUNT(*) FROM bank_standings_new n LEFT JOIN bank_standings o"
            " ON o.person_id = n.person_id WHERE COALESCE(o.status, 'healthy') <> n.status GROUP BY n.status"
            " UNION ALL SELECT 'healthy', COUNT(*) FROM bank_standings o WHERE o.status <> 'healthy'"
            " AND NOT EXISTS (SELECT 1 FROM bank_standings_new n WHERE n.person_id = o.person_id)"
        )
    )
    for status, count in moved:
        if count:
            report.status_changes[status] = report.status_changes.get(status, 0) + int(count)
    step("writing the new ledger")
    session.execute(text("DELETE FROM bank_entries"))
    session.execute(text(f"INSERT INTO bank_entries ({ENTRY_COLUMNS}) SELECT {ENTRY_COLUMNS} FROM bank_new"))
    session.execute(text("DELETE FROM bank_standings"))
    columns = "person_id, score, bad_streak, status, value_minor, next_due_at, computed_at"
    session.execute(text(f"INSERT INTO bank_standings ({columns}) SELECT {columns} FROM bank_standings_new"))
    report.by_status = {
        str(status): int(count)
        for status, count in session.execute(
            text("SELECT status, COUNT(*) FROM bank_standings GROUP BY status ORDER BY status")
        )
    }
    report.people = sum(report.by_status.values())
    for table in ("bank_new", "bank_standings_new"):
        session.execute(text(f"DROP TABLE {table}"))
    for pragma in restore:
        session.execute(text(pragma))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _bigger_sqlite_cache(session: Session) -> list[str]:
    """256 MiB of page cache for the main and temp databases while rebuilding (the default 2 MiB
    makes sorting and indexing millions of rows spill to disk); returns the pragmas that undo it."""
    restore = []
    for schema in ("main", "temp"):
        before = int(session.execute(text(f"PRAGMA {schema}.cache_size")).scalar_one())
        session.execute(text(f"PRAGMA {schema}.cache_size = -262144"))
        restore.append(f"PRAGMA {schema}.cache_size = {before}")
    return restore
