"""Moments: the reasons to thank one person today, found in what we know of them.

Only kinds listed in ``[planner.moments] enabled`` are looked for; each moment's strength is
``strength[kind]``. Events and milestones count when they fall inside the look-back window
(``lookback_days`` back, the plan day included); anything dated after the plan day is ignored.
Each kind gives at most one moment per person (the latest matching event or milestone).

| moment             | when                                                                              |
|--------------------|-----------------------------------------------------------------------------------|
| second_order       | a recent purchase with ordinal 2 (or an ``nth_order`` milestone of 2)             |
| nth_order          | an ``nth_order`` milestone or a recent purchase's ordinal in ``order_milestones`` |
|                    | (2 excepted: the 2nd order is its own moment)                                     |
| anniversary        | an ``anniversary`` milestone (value: years)                                       |
| spend_milestone    | a ``lifetime_spend`` milestone (value: minor units)                               |
| complaint_resolved | a recent ``complaint_resolved`` event                                             |
| window_shopper     | a recent ``question`` or ``visit`` and no recent purchase (customers or prospects) |
| drifting           | a customer with ``drifting_min_orders``+ orders in ``drifting_segments`` and no   |
|                    | recent purchase who *became* overdue inside the look-back window: the gap since   |
|                    | the last order passed ``drifting_gap_factor`` times their mean gap between orders |
|                    | on one of the last ``lookback_days`` days (a transition, not a standing state)    |
| recovery           | bank status in ``recovery_statuses``; outreach by a manager                       |
| praise             | a recent ``praise`` event (the praised employee, if any, is kept)                 |
| referral           | a recent ``referral`` event                                                       |

Evidence, in plain words for whoever writes the note (dates ISO, under 200 characters):

| moment             | evidence, e.g.                                                                    |
|--------------------|-----------------------------------------------------------------------------------|
| second_order       | 2nd order on 2026-11-20; first order 2026-09-02                                   |
| nth_order          | 5th order on 2026-11-20; first order 2024-03-02                                   |
| anniversary        | 3 years since the first order on 2023-11-21; 14 orders since                      |
| spend_milestone    | lifetime spend passed USD 1,000.00 on 2026-11-19                                  |
| complaint_resolved | complaint resolved on 2026-11-21: the parcel was lost in transit                  |
| window_shopper     | asked on 2026-11-21: "Do you ship to Norway?"  (or: visited on 2026-11-21)        |
| drifting           | last order 2026-08-12 (101 days ago); usually orders every 40 days; P(alive) 0.42 |
| recovery           | relationship overdrawn; 3 bad experiences in a row; latest: defect on 2026-11-20  |
| praise             | praised Ana on 2026-11-21: "So patient with all my questions"                     |
| referral           | referred someone on 2026-11-20                                                    |

For window shoppers a question wins over a visit: what someone asked is the more personal
thing to answer. Quoted texts are shortened to about 80 characters and evidence to under 200.

Drifting is a moment on the days someone crosses the line, not on every day they stay past it:
overdue on a day D means ``gap(D) * (orders - 1) * 100 > int(drifting_gap_factor * 100) * span``,
with ``gap(D)`` the days from the last order to D and ``span`` the days from the first order to
the last (whole numbers, so ``planner.signals.drifting_ids`` finds exactly the same people in SQL).
It fires when they are overdue on the plan day and were not on the day ``lookback_days`` before.
P(alive) is only evidence: it falls as the gap grows against the person's own rhythm, which is
what the rule measures, and a standing "P(alive) below x" would fire every day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from goodwill.insights.milestones import describe
from goodwill.money import format_money
from goodwill.planner.config import MomentsConfig
from goodwill.planner.domain import MilestoneReached, Moment, MomentKind, RecentEvent, Signals

_TEXT_LIMIT = 80
_EVIDENCE_LIMIT = 199
_Dated = TypeVar("_Dated", RecentEvent, MilestoneReached)
# Bank withdrawals worth naming when we reach out to repair a relationship.
_WITHDRAWALS = {
    "late_delivery": "late delivery",
    "defect": "defect",
    "complaint": "complaint",
    "service_failure": "service failure",
    "return": "return",
}


@dataclass(frozen=True)
class _Found:
    """What a rule found, before the configured strength is attached."""

    evidence: str
    subject: str | None = None
    staff_id: int | None = None
    by_manager: bool = False


@dataclass(slots=True)
class _View:
    """One person's signals, narrowed to the look-back window and sorted newest first.

    (Slotted, not frozen: it is built for every candidate, tens of thousands a day, and private.)
    """

    signals: Signals
    today: date
    config: MomentsConfig
    currency: str
    recent: tuple[RecentEvent, ...]
    milestones: tuple[MilestoneReached, ...]

    def events(self, *kinds: str) -> list[RecentEvent]:
        return [e for e in self.recent if e.kind in kinds] if self.recent else []

    def reached(self, kind: str) -> list[MilestoneReached]:
        return [m for m in self.milestones if m.kind == kind] if self.milestones else []

    def first_order(self) -> str:
        first = self.signals.first_order_on
        return f"; first order {first.isoformat()}" if first else ""


def moments_for(
    signals: Signals, *, today: date, config: MomentsConfig, currency: str = "USD"
) -> list[Moment]:
    """All moments for one person on the plan day, strongest first (ties by kind name)."""
    since = today - timedelta(days=config.lookback_days - 1)
    view = _View(
        signals=signals,
        today=today,
        config=config,
        currency=currency,
        recent=_in_window(signals.recent, since, today),
        milestones=_in_window(signals.milestones, since, today),
    )
    found: list[Moment] = []
    for kind in dict.fromkeys(config.enabled):
        rule = _RULES.get(kind)
        if rule is None:  # a campaign's moment is chosen by a person (goodwill.campaigns), never found
            continue
        result = rule(view)
        if result is not None:
            found.append(
                Moment(
                    kind=kind,
                    strength=config.strength[kind],
                    evidence=_cap(result.evidence),
                    staff_id=result.staff_id,
                    by_manager=result.by_manager,
                    subject=result.subject,
                )
            )
    return sorted(found, key=_rank)


def _in_window(items: tuple[_Dated, ...], since: date, today: date) -> tuple[_Dated, ...]:
    """The items dated ``since`` to ``today``, newest first."""
    if not items:
        return ()
    return tuple(sorted((i for i in items if since <= i.on <= today), key=_newest))


def strongest(moments: Iterable[Moment]) -> Moment | None:
    """The strongest moment (ties by kind name), or None when there is none."""
    return min(moments, key=_rank, default=None)


def _rank(moment: Moment) -> tuple[int, str]:
    return (-moment.strength, moment.kind.value)


def _newest(item: RecentEvent | MilestoneReached) -> int:
    return -item.on.toordinal()


def _second_order(view: _View) -> _Found | None:
    days = [e.on for e in view.events("purchase") if e.ordinal == 2]
    days += [m.on for m in view.reached("nth_order") if m.value == 2]
    if not days:
        return None
    return _Found(f"2nd order on {max(days).isoformat()}{view.first_order()}")


def _nth_order(view: _View) -> _Found | None:
    if not view.recent and not view.milestones:
        return None
    wanted = set(view.config.order_milestones) - {2}  # the 2nd order is its own moment
    reached = {e.ordinal: e.on for e in view.events("purchase") if e.ordinal in wanted}
    reached.update({m.value: m.on for m in view.reached("nth_order") if m.value in wanted})
    if not reached:
        return None
    count = max(reached)
    return _Found(f"{describe('nth_order', count)} on {reached[count].isoformat()}{view.first_order()}")


def _anniversary(view: _View) -> _Found | None:
    reached = view.reached("anniversary")
    if not reached:
        return None
    years = max(m.value for m in reached)
    first, orders = view.signals.first_order_on, view.signals.orders
    text = describe("anniversary", years) + (f" on {first.isoformat()}" if first else "")
    since = orders - 1  # the first order is not "since" itself
    if since > 0:
        text += f"; {since} order{'s' if since != 1 else ''} since"
    return _Found(text)


def _spend_milestone(view: _View) -> _Found | None:
    reached = view.reached("lifetime_spend")
    if not reached:
        return None
    top = max(reached, key=lambda m: (m.value, m.on))
    return _Found(f"lifetime spend passed {format_money(top.value, view.currency)} on {top.on.isoformat()}")


def _complaint_resolved(view: _View) -> _Found | None:
    resolved = view.events("complaint_resolved")
    if not resolved:
        return None
    event = resolved[0]
    text = shorten(event.text)
    return _Found(
        f"complaint resolved on {event.on.isoformat()}" + (f": {text}" if text else ""), subject=text
    )


def _window_shopper(view: _View) -> _Found | None:
    if view.events("purchase"):
        return None
    questions, visits = view.events("question"), view.events("visit")
    if questions:
        text = shorten(questions[0].text)
        said = f': "{text}"' if text else ""
        return _Found(f"asked on {questions[0].on.isoformat()}{said}", subject=text)
    if visits:
        return _Found(f"visited on {visits[0].on.isoformat()}")
    return None


def _drifting(view: _View) -> _Found | None:
    signals, config = view.signals, view.config
    if (
        signals.kind != "customer"
        or signals.orders < config.drifting_min_orders
        or signals.segment not in config.drifting_segments
        or view.events("purchase")
        or signals.first_order_on is None
        or signals.last_order_on is None
        or not became_overdue(
            today=view.today,
            first_order_on=signals.first_order_on,
            last_order_on=signals.last_order_on,
            orders=signals.orders,
            config=config,
        )
    ):
        return None
    gap = (view.today - signals.last_order_on).days
    usual = (signals.last_order_on - signals.first_order_on).days / (signals.orders - 1)
    parts = [
        f"last order {signals.last_order_on.isoformat()} ({gap} days ago)",
        f"usually orders every {round(usual)} days",
    ]
    if signals.p_alive is not None:
        parts.append(f"P(alive) {signals.p_alive:.2f}")
    return _Found("; ".join(parts))


def gap_percent(config: MomentsConfig) -> int:
    """``drifting_gap_factor`` in hundredths (it has two decimals at most, so this is exact)."""
    return int(config.drifting_gap_factor * 100)


def is_overdue(*, gap_days: int, span_days: int, orders: int, config: MomentsConfig) -> bool:
    """The gap since the last order is over ``drifting_gap_factor`` times the mean gap between
    orders (``span_days``, first to last order, over ``orders - 1``), in whole numbers."""
    return gap_days * (orders - 1) * 100 > gap_percent(config) * span_days


def became_overdue(
    *, today: date, first_order_on: date, last_order_on: date, orders: int, config: MomentsConfig
) -> bool:
    """Overdue on ``today`` but not ``lookback_days`` before: the line was crossed in the window.

    ``planner.signals.drifting_ids`` is the same test in SQL; a test holds them to agreeing.
    """
    span = (last_order_on - first_order_on).days
    gap = (today - last_order_on).days
    return is_overdue(gap_days=gap, span_days=span, orders=orders, config=config) and not is_overdue(
        gap_days=gap - config.lookback_days, span_days=span, orders=orders, config=config
    )


def _recovery(view: _View) -> _Found | None:
    status = view.signals.bank_status
    if status is None or status not in view.config.recovery_statuses:
        return None
    parts = [f"relationship {status}"]
    streak = view.signals.bad_streak
    if streak > 0:
        parts.append(f"{streak} bad experience{'s' if streak != 1 else ''} in a row")
    latest = view.events(*_WITHDRAWALS)
    if latest:
        parts.append(f"latest: {_WITHDRAWALS[latest[0].kind]} on {latest[0].on.isoformat()}")
    return _Found("; ".join(parts), by_manager=True)


def _praise(view: _View) -> _Found | None:
    praised = view.events("praise")
    if not praised:
        return None
    event = praised[0]
    text = shorten(event.text)
    whom = _one_line(event.staff_name) or "us"
    said = f': "{text}"' if text else ""
    return _Found(f"praised {whom} on {event.on.isoformat()}{said}", subject=text, staff_id=event.staff_id)


def _referral(view: _View) -> _Found | None:
    referrals = view.events("referral")
    return _Found(f"referred someone on {referrals[0].on.isoformat()}") if referrals else None


_RULES: dict[MomentKind, Callable[[_View], _Found | None]] = {
    MomentKind.second_order: _second_order,
    MomentKind.nth_order: _nth_order,
    MomentKind.anniversary: _anniversary,
    MomentKind.spend_milestone: _spend_milestone,
    MomentKind.complaint_resolved: _complaint_resolved,
    MomentKind.window_shopper: _window_shopper,
    MomentKind.drifting: _drifting,
    MomentKind.recovery: _recovery,
    MomentKind.praise: _praise,
    MomentKind.referral: _referral,
}


def _one_line(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def shorten(text: str | None, limit: int = _TEXT_LIMIT) -> str | None:
    """One line, at most ``limit`` characters, cut at a word where possible."""
    flat = _one_line(text)
    if not flat:
        return None
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + "…"


def _cap(evidence: str) -> str:
    return evidence if len(evidence) <= _EVIDENCE_LIMIT else evidence[: _EVIDENCE_LIMIT - 1] + "…"
