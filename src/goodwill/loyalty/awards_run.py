"""One awarding pass: the rules in force, the people's tiers and segments, and each earn written.

``AwardRun.earn`` takes one candidate earn through the rule's dates, tier and segment limits and
its daily and monthly caps into a lot (``ledger.add_lot``); a bonus (any trigger but a purchase)
is also recorded as a ``points_earned`` event, and ``finish`` refreshes the bank for those people
and the tiers of everyone touched. ``goodwill.loyalty.awards`` drives it; import from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from goodwill.bank.config import load_bank_config
from goodwill.bank.service import refresh_people
from goodwill.config import Settings
from goodwill.db import matching, utcnow
from goodwill.events.service import NewEvent, record_event
from goodwill.insights.model import InsightScore
from goodwill.loyalty.awards_tiers import refresh_tiers
from goodwill.loyalty.config import EarnRuleConfig, LoyaltyConfig
from goodwill.loyalty.ledger import add_lot, hold_account
from goodwill.loyalty.model import EntryKind, LoyaltyAccount, LoyaltyEntry, LoyaltyRuleOverride
from goodwill.loyalty.rules import (
    capped,
    checked_rules,
    day_bounds,
    earn_times,
    local_day,
    month_bounds,
    points_text,
    rule_applies,
    validate_rule,
)
from goodwill.loyalty.tiers import multiplier_for, tier_named

BONUS_SOURCE = "loyalty"  # the source of points_earned events; their source_id is the entry key


@dataclass
class AwardReport:
    earned_entries: int = 0
    points: int = 0
    reversed_points: int = 0
    skipped: int = 0  # earns that gave nothing: rule not applicable, capped to 0, wrong currency...


def edited_rules(session: Session) -> set[str]:
    """Names of the rules an admin has edited (they replace goodwill.toml's)."""
    return set(session.scalars(select(LoyaltyRuleOverride.name)))


def load_rules_checked(
    session: Session, *, config: LoyaltyConfig
) -> tuple[tuple[EarnRuleConfig, ...], list[str]]:
    """goodwill.toml's rules with the admins' edits (``LoyaltyRuleOverride``) over them, and the
    stored edits that no longer fit the config, in plain words (``rules.checked_rules``)."""
    overrides = {row.name: row.definition for row in session.scalars(select(LoyaltyRuleOverride))}
    return checked_rules(config, overrides)


def load_rules(session: Session, *, config: LoyaltyConfig) -> tuple[EarnRuleConfig, ...]:
    """The rules in force: ``load_rules_checked`` without the problems (a stale edit is skipped)."""
    return load_rules_checked(session, config=config)[0]


def save_rule(
    session: Session, *, definition: Mapping[str, Any], by_user_id: int | None, config: LoyaltyConfig
) -> EarnRuleConfig:
    """Validate an admin's rule (``rules.RuleError`` names the bad field) and store it over the file's."""
    rule = validate_rule(definition, config)
    row = session.get(LoyaltyRuleOverride, rule.name)
    stored = rule.model_dump(mode="json")
    if row is None:
        session.add(LoyaltyRuleOverride(name=rule.name, definition=stored, updated_by_id=by_user_id))
    else:
        row.definition, row.updated_by_id, row.updated_at = stored, by_user_id, utcnow()
    session.flush()
    return rule


@dataclass
class AwardRun:
    """One awarding pass: the rules, who is in which tier and segment, and what changed."""

    session: Session
    settings: Settings
    now: datetime
    rules: tuple[EarnRuleConfig, ...]
    report: AwardReport = field(default_factory=AwardReport)
    tiers: dict[int, str] = field(default_factory=dict)
    segments: dict[int, str | None] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)
    bonus_people: set[int] = field(default_factory=set)
    # The events are new in this transaction: no earn of theirs can exist yet (no key check).
    fresh: bool = False
    earned_events: set[int] = field(default_factory=set)  # events this pass wrote an earn for
    segments_read: set[int] = field(default_factory=set)

    @property
    def config(self) -> LoyaltyConfig:
        return self.settings.loyalty

    def know(self, person_ids: set[int]) -> None:
        """Load the stored tier (and RFM segment, if a rule asks) of people not seen yet (``hold``
        reads the tiers of the accounts it locks on PostgreSQL)."""
        new = sorted(person_ids - self.tiers.keys())
        for condition in matching(self.session, LoyaltyAccount.person_id, new):
            stmt = select(LoyaltyAccount.person_id, LoyaltyAccount.tier).where(condition)
            self.tiers.update({pid: tier for pid, tier in self.session.execute(stmt)})
        if any(rule.segments for rule in self.rules):
            unread = sorted(person_ids - self.segments_read)
            for condition in matching(self.session, InsightScore.person_id, unread):
                stmt = select(InsightScore.person_id, InsightScore.segment).where(condition)
                self.segments.update({pid: segment for pid, segment in self.session.execute(stmt)})
            self.segments_read.update(unread)
        for person_id in new:
            self.tiers.setdefault(person_id, "")

    def hold(self, joining: Mapping[int, datetime], others: set[int]) -> None:
        """Lock, before anything is written, the accounts this pass may write, in person id order.

        ``joining``: people who may earn, with the time of their first candidate earn (an account
        missing yet is created as ``add_lot`` would, joined then); ``others``: people whose existing
        account may change (reversals). Two passes over the same people in different orders then
        wait for each other instead of deadlocking on PostgreSQL; on SQLite the first write takes
        the database lock. On PostgreSQL the lock reads each account's tier too (for ``know``).
        """
        for person_id in sorted(joining.keys() | others):
            joined = joining.get(person_id)
            tier = hold_account(
                self.session,
                person_id=person_id,
                now=(joined or self.now).astimezone(UTC),
                create=joined is not None,
            )
            if tier is not None:  # PostgreSQL: the lock read it, so ``know`` need not
                self.tiers.setdefault(person_id, tier)

    def multiplier(self, person_id: int) -> int:
        return multiplier_for(self.config.tiers, self.tiers.get(person_id, ""))

    def earned_between(self, person_id: int, rule: str, bounds: tuple[datetime, datetime]) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
                LoyaltyEntry.person_id == person_id,
                LoyaltyEntry.kind == EntryKind.earn.value,
                LoyaltyEntry.rule == rule,
                LoyaltyEntry.at >= bounds[0],
                LoyaltyEntry.at < bounds[1],
            )
        )
        return int(total or 0)

    def earn(
        self,
        *,
        person_id: int,
        rule: EarnRuleConfig,
        points: int,
        key: str,
        at: datetime,
        event_id: int | None,
    ) -> None:
        """One earn through the rule's limits and caps into a lot; bonuses also become an event."""
        stored = select(LoyaltyEntry.id).where(LoyaltyEntry.key == key)
        if not self.fresh and self.session.scalar(stored) is not None:
            return  # awarded before
        tz = self.settings.business.tz
        on = local_day(at, tz)
        tier = tier_named(self.config.tiers, self.tiers.get(person_id, "")).name
        if not rule_applies(rule, on=on, tier=tier, segment=self.segments.get(person_id)):
            self.report.skipped += 1
            return
        available_at, expires_at = earn_times(
            at, pending_days=self.config.pending_days, expiry_months=self.config.expiry_months
        )
        if points > 0 and (rule.cap_per_day is not None or rule.cap_per_month is not None):
            # Two transactions must not both read the same cap room: the caller holds the member's
            # account (``hold``; SQLite writes one transaction at a time).
            points = capped(
                points,
                rule,
                earned_today=self.earned_between(person_id, rule.name, day_bounds(on, tz)),
                earned_this_month=self.earned_between(person_id, rule.name, month_bounds(on, tz)),
            )
        if points <= 0:
            self.report.skipped += 1
            return
        entry = add_lot(
            self.session,
            person_id=person_id,
            kind=EntryKind.earn,
            points=points,
            key=key,
            at=at.astimezone(UTC),
            available_at=available_at,
            expires_at=expires_at,
            rule=rule.name,
            event_id=event_id,
        )
        if entry is None:
            return
        if event_id is not None:
            self.earned_events.add(event_id)
        self.report.earned_entries += 1
        self.report.points += points
        self.touched.add(person_id)
        if rule.trigger != "purchase":
            record_event(
                self.session,
                NewEvent(
                    person_id=person_id,
                    kind="points_earned",
                    occurred_at=at,
                    source=BONUS_SOURCE,
                    source_id=key,
                    text=points_text(points, rule.label or rule.name),
                ),
            )
            self.bonus_people.add(person_id)

    def finish(self) -> AwardReport:
        """The bank sees the bonuses; tiers follow the points."""
        if self.bonus_people:
            refresh_people(
                session=self.session,
                person_ids=self.bonus_people,
                config=load_bank_config(self.settings),
                currency=self.settings.business.currency,
                now=self.now,
            )
        if self.touched:
            # Every pass runs under the bulk lock already (shared for events, whole for dates).
            refresh_tiers(
                self.session,
                now=self.now,
                settings=self.settings,
                person_ids=sorted(self.touched),
                bulk_lock_held=True,
            )
        return self.report
