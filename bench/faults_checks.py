"""The invariants the fault benchmark checks once the faults stop (bench/fault_bench.py).

Each checker reads the database through a Session (SQLite or PostgreSQL alike) and, where the
truth lives outside it, the clients' log of what was acknowledged and the receiving servers'
counts. Each returns plain figures and a list of violations, one sentence each; an empty list means
the invariant held. They are kept apart from the benchmark so a test can feed them a database with
a planted fault and see them fail.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from goodwill.bank.model import BankEntry, BankStanding
from goodwill.events.model import Event
from goodwill.loyalty.ledger import check as ledger_check
from goodwill.loyalty.model import LoyaltyAccount, LoyaltyDraw, LoyaltyEntry, Redemption, Reward
from goodwill.notes.model import Note
from goodwill.outbox.model import Message
from goodwill.people.model import ConsentChange

MESSAGE_ID = re.compile(r"goodwill-message-(\d+)")


@dataclass
class Outcome:
    """What one checker found: figures for the report and the violations (empty: it held)."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _aware(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_events(session: Session, *, markers: Iterable[str], acknowledged: Iterable[str]) -> Outcome:
    """Every acknowledged event stored exactly once, and no attempted one stored twice.

    ``markers``: the text each attempted event carried (unique per operation, whatever its
    source_id or lack of one); ``acknowledged``: those the server answered 2xx for. Counting by the
    text rather than the source_id catches a duplicate stored under another source_id too (an
    event sent with only an Idempotency-Key gets a fresh one each time it is stored).
    """
    wanted = sorted(set(markers))
    acked = set(acknowledged)
    stored: Counter[str] = Counter()
    for chunk in _chunks(wanted):
        for text_, n in session.execute(
            select(Event.text, func.count()).where(Event.text.in_(chunk)).group_by(Event.text)
        ):
            stored[str(text_)] = int(n)
    lost = sorted(m for m in acked if stored[m] == 0)
    duplicated = sorted(m for m in wanted if stored[m] > 1)
    outcome = Outcome(
        "events",
        {
            "attempted": len(wanted),
            "acknowledged": len(acked),
            "stored": sum(1 for m in wanted if stored[m] > 0),
            "stored_unacknowledged": sum(1 for m in wanted if stored[m] > 0 and m not in acked),
            "lost": len(lost),
            "duplicated": len(duplicated),
        },
    )
    outcome.violations += [f"event {m!r} was acknowledged but is not stored" for m in lost[:20]]
    outcome.violations += [f"event {m!r} is stored {stored[m]} times" for m in duplicated[:20]]
    return outcome


def check_redemptions(
    session: Session,
    *,
    attempted: Mapping[str, int],
    acknowledged: Mapping[str, int],
    initial_stock: Mapping[int, int] | None = None,
) -> Outcome:
    """Every acknowledged redemption stored once (by its key), each with exactly one redeem entry.

    ``attempted``/``acknowledged``: request key -> person id (acknowledged: a 2xx answer).
    ``initial_stock``: reward id -> its stock before the run; the stock left must be that minus
    the redemptions of the reward (none refunded here), and never below zero.
    """
    stored: Counter[tuple[int, str]] = Counter()
    redemptions: dict[tuple[int, str], list[Redemption]] = defaultdict(list)
    keys = sorted(attempted)
    for chunk in _chunks(keys):
        for r in session.scalars(select(Redemption).where(Redemption.request_key.in_(chunk))):
            stored[(r.person_id, r.request_key)] += 1
            redemptions[(r.person_id, r.request_key)].append(r)
    lost = sorted(k for k, pid in acknowledged.items() if stored[(pid, k)] == 0)
    duplicated = sorted(k for k, pid in attempted.items() if stored[(pid, k)] > 1)
    outcome = Outcome(
        "redemptions",
        {
            "attempted": len(attempted),
            "acknowledged": len(acknowledged),
            "stored": sum(1 for k, pid in attempted.items() if stored[(pid, k)] > 0),
            "lost": len(lost),
            "duplicated": len(duplicated),
        },
    )
    outcome.violations += [f"redemption {k!r} was acknowledged but is not stored" for k in lost[:20]]
    outcome.violations += [
        f"redemption {k!r} is stored {stored[(attempted[k], k)]} times" for k in duplicated
    ]
    # Each redemption took its points exactly once: one redeem entry of -points.
    ids = [r.id for rs in redemptions.values() for r in rs]
    entries: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        for rid, points in session.execute(
            select(LoyaltyEntry.redemption_id, LoyaltyEntry.points).where(
                LoyaltyEntry.redemption_id.in_(ids[start : start + 500]), LoyaltyEntry.kind == "redeem"
            )
        ):
            entries[int(rid)].append(int(points))
    for rs in redemptions.values():
        for r in rs:
            if entries[r.id] != [-r.points]:
                outcome.violations.append(
                    f"redemption {r.id} ({r.points} points) has redeem entries {entries[r.id]}, "
                    f"not [{-r.points}]"
                )
    outcome.figures["points_redeemed"] = sum(r.points for rs in redemptions.values() for r in rs)
    for reward_id, before in (initial_stock or {}).items():
        left = session.scalar(select(Reward.stock).where(Reward.id == reward_id))
        taken = session.scalar(
            select(func.count()).where(Redemption.reward_id == reward_id, Redemption.status != "refunded")
        )
        outcome.figures[f"reward_{reward_id}_stock_left"] = left
        if left is None or left < 0 or before - left != taken:
            outcome.violations.append(
                f"reward {reward_id} had {before} in stock, {taken} were redeemed, and {left} are left"
            )
    return outcome


def check_loyalty(session: Session) -> Outcome:
    """Balances equal their entries, and no balance or lot was ever below zero.

    Every account's stored balance is the sum of its entries; replaying each person's entries in the
    order they were written (by id), the running balance never drops below zero; every lot keeps
    between 0 and its points once its draws are taken; and ``goodwill loyalty check`` agrees.
    """
    outcome = Outcome("loyalty")
    totals: dict[int, int] = defaultdict(int)
    lowest: dict[int, tuple[int, int]] = {}
    entries = 0
    for pid, eid, points in session.execute(
        select(LoyaltyEntry.person_id, LoyaltyEntry.id, LoyaltyEntry.points).order_by(
            LoyaltyEntry.person_id, LoyaltyEntry.id
        )
    ):
        entries += 1
        totals[pid] += int(points)
        if totals[pid] < 0 and (pid not in lowest or totals[pid] < lowest[pid][0]):
            lowest[pid] = (totals[pid], int(eid))
    for pid, (low, eid) in sorted(lowest.items())[:20]:
        outcome.violations.append(f"person {pid}'s points went down to {low} at entry {eid}")
    accounts = 0
    for pid, balance in session.execute(select(LoyaltyAccount.person_id, LoyaltyAccount.balance)):
        accounts += 1
        if int(balance) != totals.get(pid, 0):
            outcome.violations.append(
                f"person {pid}'s stored balance is {balance} but the entries add up to {totals.get(pid, 0)}"
            )
        if int(balance) < 0:
            outcome.violations.append(f"person {pid}'s balance is negative: {balance}")
    drawn = func.coalesce(func.sum(LoyaltyDraw.points), 0)
    lots = session.execute(
        select(LoyaltyEntry.id, LoyaltyEntry.points, drawn)
        .outerjoin(LoyaltyDraw, LoyaltyDraw.lot_id == LoyaltyEntry.id)
        .where(LoyaltyEntry.points > 0, LoyaltyEntry.kind.in_(["earn", "adjust"]))
        .group_by(LoyaltyEntry.id, LoyaltyEntry.points)
    ).all()
    for lot_id, points, taken in lots:
        if int(taken) < 0 or int(taken) > int(points):
            outcome.violations.append(f"lot {lot_id} of {points} points has {taken} drawn from it")
    mismatches = ledger_check(session)
    outcome.violations += [f"loyalty check: person {m.person_id}: {m.problem}" for m in mismatches[:20]]
    outcome.figures = {
        "accounts": accounts,
        "entries": entries,
        "lots": len(lots),
        "negative_histories": len(lowest),
        "ledger_check_problems": len(mismatches),
    }
    return outcome


def check_approvals(
    session: Session, *, attempted: Iterable[int], acknowledged: Mapping[int, int]
) -> Outcome:
    """Every acknowledged approval left the note approved with exactly its one outbox message.

    ``acknowledged``: note id -> the message id the 2xx answer named.
    """
    tried = sorted(set(attempted))
    status: dict[int, str] = {}
    messages: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(tried), 500):
        chunk = tried[start : start + 500]
        status.update(
            {
                int(i): str(st)
                for i, st in session.execute(select(Note.id, Note.status).where(Note.id.in_(chunk)))
            }
        )
        for mid, nid in session.execute(
            select(Message.id, Message.note_id).where(Message.note_id.in_(chunk))
        ):
            messages[int(nid)].append(int(mid))
    lost = [n for n, mid in acknowledged.items() if status.get(n) != "approved" or mid not in messages[n]]
    duplicated = [n for n in tried if len(messages[n]) > 1]
    outcome = Outcome(
        "approvals",
        {
            "attempted": len(tried),
            "acknowledged": len(acknowledged),
            "approved": sum(1 for n in tried if status.get(n) == "approved"),
            "lost": len(lost),
            "duplicated": len(duplicated),
        },
    )
    outcome.violations += [
        f"note {n} was approved (message {acknowledged[n]}) but is {status.get(n)} "
        f"with messages {messages[n]}"
        for n in lost[:20]
    ]
    outcome.violations += [f"note {n} has {len(messages[n])} outbox messages" for n in duplicated[:20]]
    return outcome


@dataclass(frozen=True)
class OptOut:
    """A customer's unsubscribe that the server acknowledged: sent at ``asked_at``, 2xx at ``acked_at``."""

    person_id: int
    channel: str
    asked_at: datetime
    acked_at: datetime


def check_deliveries(
    session: Session,
    *,
    emails: Mapping[str, list[datetime]],
    sms: Mapping[str, datetime],
    opt_outs: Iterable[OptOut],
) -> Outcome:
    """Every note delivered at most once, counted at the receiving servers, and none after an opt-out.

    ``emails``: Message-ID header -> the times the SMTP server accepted it (more than one is a
    double delivery); ``sms``: Idempotency-Key -> when the SMS provider first delivered it (the
    provider answers a repeated key with the first answer and delivers nothing). Several messages
    for one note would each be delivered, so deliveries are also added up per note.

    After an opt-out: a delivery that reached the server after the unsubscribe was acknowledged
    counts only if the message was handed over (stamped) after the unsubscribe was sent; one stamped
    before it was already on its way, which the design allows. A message stamped after the
    acknowledgement is a violation whether or not it arrived (the stamp must fail once cancelled).
    """
    delivered: Counter[int] = Counter()
    arrived: dict[int, datetime] = {}
    for header, times in emails.items():
        found = MESSAGE_ID.search(header)
        if found is None:
            continue
        mid = int(found.group(1))
        delivered[mid] += len(times)
        arrived[mid] = max(_aware(t) or t for t in times)
    for key, at in sms.items():
        found = MESSAGE_ID.search(key)
        if found is None:
            continue
        mid = int(found.group(1))
        delivered[mid] += 1
        arrived[mid] = _aware(at) or at
    rows = session.execute(
        select(
            Message.id,
            Message.note_id,
            Message.person_id,
            Message.channel,
            Message.status,
            Message.handed_over_at,
        )
    ).all()
    by_id = {int(r[0]): r for r in rows}
    per_note: Counter[int] = Counter()
    outcome = Outcome("deliveries")
    for mid, n in delivered.items():
        if mid not in by_id:
            outcome.violations.append(f"message {mid} arrived at a server but is not in the outbox")
            continue
        if n > 1:
            outcome.violations.append(f"message {mid} was delivered {n} times")
        note_id = by_id[mid][1]
        if note_id is not None:
            per_note[int(note_id)] += n
    outcome.violations += [f"note {n} was delivered {c} times" for n, c in per_note.items() if c > 1]
    sent_missing = [
        mid
        for mid, r in by_id.items()
        if r[4] == "sent" and r[3] in ("email", "sms") and mid not in delivered
    ]
    outcome.violations += [f"message {mid} is marked sent but never arrived" for mid in sent_missing[:20]]
    after = 0
    stamped_after = 0
    by_person: dict[tuple[int, str], list[OptOut]] = defaultdict(list)
    for o in opt_outs:
        by_person[(o.person_id, o.channel)].append(o)
    for mid, r in by_id.items():
        for o in by_person.get((int(r[2] or -1), str(r[3])), []):
            stamped = _aware(r[5])
            if stamped is not None and stamped > o.acked_at:
                stamped_after += 1
                outcome.violations.append(
                    f"message {mid} to person {r[2]} was handed over at {stamped.isoformat()}, "
                    f"after their {r[3]} opt-out was acknowledged at {o.acked_at.isoformat()}"
                )
            if mid in arrived and arrived[mid] > o.acked_at and (stamped is None or stamped > o.asked_at):
                after += 1
                outcome.violations.append(
                    f"message {mid} reached person {r[2]} at {arrived[mid].isoformat()}, after their "
                    f"{r[3]} opt-out (acknowledged {o.acked_at.isoformat()}), handed over "
                    f"{stamped.isoformat() if stamped else 'never'}"
                )
    statuses = Counter(str(r[4]) for r in rows)
    outcome.figures = {
        "messages": len(rows),
        "by_status": dict(sorted(statuses.items())),
        "emails_received": sum(len(t) for t in emails.values()),
        "sms_delivered": len(sms),
        "notes_delivered": len(per_note),
        "double_deliveries": sum(1 for c in per_note.values() if c > 1)
        + sum(1 for c in delivered.values() if c > 1),
        "marked_sent_not_received": len(sent_missing),
        "delivered_after_opt_out": after,
        "handed_over_after_opt_out": stamped_after,
    }
    return outcome


def check_opt_outs(
    session: Session, *, attempted: Iterable[tuple[int, str]], acknowledged: Iterable[OptOut]
) -> Outcome:
    """Every acknowledged unsubscribe is in force, recorded once (following the link again adds nothing)."""
    tried = set(attempted)
    acked = {(o.person_id, o.channel) for o in acknowledged}
    people = sorted({pid for pid, _ in tried | acked})
    withdrawals: Counter[tuple[int, str]] = Counter()
    latest: dict[tuple[int, str], bool] = {}
    for start in range(0, len(people), 500):
        for pid, channel, granted in session.execute(
            select(ConsentChange.person_id, ConsentChange.channel, ConsentChange.granted)
            .where(ConsentChange.person_id.in_(people[start : start + 500]))
            .order_by(ConsentChange.at, ConsentChange.id)
        ):
            key = (int(pid), str(channel))
            latest[key] = bool(granted)
            if not granted:
                withdrawals[key] += 1
    lost = sorted(k for k in acked if withdrawals[k] == 0 or latest.get(k) is not False)
    duplicated = sorted(k for k in tried | acked if withdrawals[k] > 1)
    outcome = Outcome(
        "opt_outs",
        {
            "attempted": len(tried),
            "acknowledged": len(acked),
            "lost": len(lost),
            "duplicated": len(duplicated),
        },
    )
    outcome.violations += [
        f"person {p}'s {c} opt-out was acknowledged but is not in force" for p, c in lost[:20]
    ]
    outcome.violations += [
        f"person {p}'s {c} opt-out is recorded {withdrawals[(p, c)]} times" for p, c in duplicated
    ]
    return outcome


def _bank_snapshot(session: Session) -> tuple[Counter[tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    entries: Counter[tuple[Any, ...]] = Counter(
        (int(pid), int(eid), rule, int(amount), _aware(at), side, effect)
        for pid, eid, rule, amount, at, side, effect in session.execute(
            select(
                BankEntry.person_id,
                BankEntry.event_id,
                BankEntry.rule,
                BankEntry.amount,
                BankEntry.at,
                BankEntry.side,
                BankEntry.effect,
            )
        )
    )
    standings = {
        int(pid): (round(float(score), 6), int(streak), status, int(value))
        for pid, score, streak, status, value in session.execute(
            select(
                BankStanding.person_id,
                BankStanding.score,
                BankStanding.bad_streak,
                BankStanding.status,
                BankStanding.value_minor,
            )
        )
    }
    return entries, standings


DELIVERY_KINDS = ("appreciation_sent", "card_sent", "call_made")


def check_bank(session: Session, *, currency: str, tolerate_delivery_lag: bool = False) -> Outcome:
    """Every bank entry and standing as stored equals what a fresh rebuild from the events gives.

    Runs ``goodwill.bank.rebuild.rebuild`` in the caller's transaction and compares before and
    after; the caller rolls back if the database must stay as it was.

    ``delivery_lag`` counts the people whose only difference is a missing entry for one of our own
    delivery events (``appreciation_sent``...): the outbox worker refreshes the bank after a whole
    batch, in its own transaction, so a worker killed mid-batch leaves them out until the next
    refresh of that person. ``tolerate_delivery_lag`` reports those without calling them violations
    (any other difference still is one).
    """
    from goodwill.bank.config import load_bank_config
    from goodwill.bank.rebuild import rebuild
    from goodwill.config import get_settings

    before_entries, before_standings = _bank_snapshot(session)
    report = rebuild(session=session, config=load_bank_config(get_settings()), currency=currency)
    session.flush()
    after_entries, after_standings = _bank_snapshot(session)
    missing = after_entries - before_entries
    extra = before_entries - after_entries
    outcome = Outcome(
        "bank",
        {
            "entries": sum(after_entries.values()),
            "standings": len(after_standings),
            "missing_entries": sum(missing.values()),
            "extra_entries": sum(extra.values()),
            "rebuild_added": report.added,
            "rebuild_removed": report.removed,
            "rebuild_changed": report.changed,
        },
    )
    event_ids = sorted({entry[1] for entry in missing})
    deliveries: set[int] = set()
    for start in range(0, len(event_ids), 500):
        deliveries.update(
            int(i)
            for i in session.scalars(
                select(Event.id).where(
                    Event.id.in_(event_ids[start : start + 500]),
                    Event.source == "goodwill",
                    Event.kind.in_(DELIVERY_KINDS),
                )
            )
        )
    lagging = {entry[0] for entry in missing if entry[1] in deliveries}
    other_people = {entry[0] for entry in missing if entry[1] not in deliveries} | {
        entry[0] for entry in extra
    }
    lagging -= other_people
    tolerated = lagging if tolerate_delivery_lag else set()
    outcome.figures["delivery_lag_people"] = len(lagging)
    outcome.figures["delivery_lag_entries"] = sum(n for entry, n in missing.items() if entry[0] in lagging)
    for entry in [e for e in missing if e[0] not in tolerated][:10]:
        outcome.violations.append(f"bank entry missing before the rebuild: {entry}")
    for entry in list(extra)[:10]:
        outcome.violations.append(f"bank entry stored but not derived from the events: {entry}")
    differ = [
        pid
        for pid in set(before_standings) | set(after_standings)
        if before_standings.get(pid) != after_standings.get(pid)
    ]
    outcome.figures["standings_differing"] = len(differ)
    for pid in sorted(p for p in differ if p not in tolerated)[:10]:
        outcome.violations.append(
            f"person {pid}'s standing is {before_standings.get(pid)} "
            f"but a rebuild gives {after_standings.get(pid)}"
        )
    return outcome
