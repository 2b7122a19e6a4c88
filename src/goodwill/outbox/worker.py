"""The outbox worker: claim a batch, re-check each message at send time, send, record, repeat.

Where the commits fall is the delivery guarantee (docs/delivery.md):
claim (commit) -> [email: hand-over stamp (commit)] -> provider call -> outcome (commit).
The only window in which a crash can leave a delivered message unrecorded is between the
provider's answer and the outcome commit: one small UPDATE, an attempt row and an event, and the
relationship bank's refresh of that person, which commits with them so that the bank never misses
a delivery (a crash there is the same as one just before: the claim is taken back as usual).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from goodwill.bank.service import mark_stale
from goodwill.config import Settings
from goodwill.db import Database, utcnow
from goodwill.outbox import service
from goodwill.outbox.delivered import delivery_event_kind, refresh_bank
from goodwill.outbox.model import AttemptOutcome
from goodwill.outbox.rules import WORKER_CHANNELS, Cancel, Defer, Fail, Send, decide, retry_delay
from goodwill.outbox.transports import open_transports
from goodwill.outbox.transports.base import (
    Envelope,
    PermanentError,
    TransientError,
    Transport,
    UnknownOutcome,
    idempotency_key,
)
from goodwill.people.unsubscribe import make_token, unsubscribe_url

log = logging.getLogger("goodwill.worker")


SLA_SWEEP_SECONDS = 60.0


class ClaimLost(Exception):
    """Another worker took the message back (this one was too slow): do not hand it over."""


@dataclass
class WorkerReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0
    unknown: int = 0
    lost: int = 0
    requeued_stale: int = 0
    failed_stale: int = 0
    batches: int = 0
    sla_breaches: int = 0  # complaint clocks found run out by the sweep this worker runs
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: WorkerReport) -> None:
        for name in ("sent", "retried", "failed", "cancelled", "deferred", "unknown", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("requeued_stale", "failed_stale", "batches", "sla_breaches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for reason, number in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + number

    def note(self, reason: str) -> None:
        key = reason.split(":")[0][:80]
        self.reasons[key] = self.reasons.get(key, 0) + 1

    @property
    def processed(self) -> int:
        return self.sent + self.retried + self.failed + self.cancelled + self.deferred + self.unknown


def worker_name(index: int = 0) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{index}"


class Worker:
    """One sending loop with its own transport connections; run several in threads or processes."""

    def __init__(
        self,
        *,
        database: Database,
        settings: Settings,
        name: str | None = None,
        transports: dict[str, Transport] | None = None,
        channels: Sequence[str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        sweep_seconds: float | None = None,
    ) -> None:
        self.database = database
        # How often this worker checks the complaint SLA clocks; None: it does not (another one does).
        self.sweep_seconds = sweep_seconds
        self.settings = settings
        self.name = name or worker_name()
        self.transports = transports if transports is not None else open_transports(settings)
        wanted = tuple(channels) if channels is not None else WORKER_CHANNELS
        self.channels = tuple(c for c in wanted if c in self.transports)
        self.clock = clock
        self.rng = rng or random.Random()  # jitter, not security
        self.rules = service.send_rules(settings)
        self.secret_key = settings.resolved_secret_key()
        self.idempotent = tuple(c for c, t in self.transports.items() if t.idempotent)

    def reclaim(self, report: WorkerReport) -> None:
        timeout = timedelta(seconds=self.settings.delivery.claim_timeout_seconds)
        with self.database.transaction() as session:
            found = service.reclaim_stale(
                session, now=self.clock(), timeout=timeout, idempotent_channels=self.idempotent
            )
        report.requeued_stale += found.requeued
        report.failed_stale += found.unknown
        if found.requeued or found.unknown:
            log.warning("took back %d stale claims; %d had been handed over", found.requeued, found.unknown)

    def sweep(self, report: WorkerReport) -> None:
        """Record complaint clocks that ran out (breach events, escalations), in their own transaction."""
        from goodwill.complaints.sweep import sweep_sla  # complaints build on the outbox, not the reverse

        with self.database.transaction() as session:
            found = sweep_sla(session, now=self.clock(), settings=self.settings)
        report.sla_breaches += len(found.breaches)
        if found.breaches:
            log.info("%d complaint clocks ran out; breaches recorded", len(found.breaches))

    def run_batch(self, report: WorkerReport) -> int:
        """Claim and process one batch; returns how many messages were claimed."""
        now = self.clock()
        with self.database.transaction() as session:
            claimed = service.claim(
                session,
                worker=self.name,
                channels=self.channels,
                now=now,
                limit=self.settings.delivery.batch_size,
            )
        if not claimed:
            return 0
        report.batches += 1
        with self.database.reading() as session:
            batch = service.load_claimed(
                session,
                claimed,
                secret_key=self.secret_key,
                default_zone=self.settings.business.timezone,
                now=now,
            )
        just_sent: dict[int, list[datetime]] = {}
        for item in batch:
            if (
                item.person_id is not None
                and item.person_id in just_sent
                and item.facts.purpose == "appreciation"
            ):
                # The cap counts what this batch already delivered to them, too.
                earlier = (*item.facts.other_appreciations, *just_sent[item.person_id])
                item = replace(item, facts=replace(item.facts, other_appreciations=earlier))
            if (
                self._process(item, report)
                and item.person_id is not None
                and item.facts.purpose == "appreciation"
            ):
                just_sent.setdefault(item.person_id, []).append(self.clock())
        return len(claimed)

    def _process(self, item: service.Claimed, report: WorkerReport) -> bool:
        now = self.clock()
        decision = decide(item.facts, now=now, rules=self.rules)
        if isinstance(decision, Cancel):
            self._finish(item, AttemptOutcome.cancelled, decision.reason, report)
            return False
        if isinstance(decision, Fail):
            self._finish(item, AttemptOutcome.permanent, decision.reason, report)
            return False
        if isinstance(decision, Defer):
            self._finish(item, AttemptOutcome.deferred, decision.reason, report, retry_at=decision.until)
            return False
        assert isinstance(decision, Send)
        return self._send(item, decision.address, report)

    def _envelope(self, item: service.Claimed, address: str) -> Envelope:
        link = None
        if item.person_id is not None:
            token = make_token(
                self.secret_key, person_id=item.person_id, channel=item.channel, message_id=item.message_id
            )
            link = unsubscribe_url(self.settings.delivery.public_url, token)
        return Envelope(
            message_id=item.message_id,
            idempotency_key=idempotency_key(item.message_id),
            channel=item.channel,
            to=address,
            to_name=item.to_name,
            subject=item.subject,
            text=item.body,
            unsubscribe_url=link,
        )

    def _send(self, item: service.Claimed, address: str, report: WorkerReport) -> bool:
        transport = self.transports[item.channel]

        def handing_over() -> None:
            # Every channel, idempotent or not: the stamp only succeeds while the message is still
            # ours and still sending, so an unsubscribe, a STOP or an erasure since the batch was
            # loaded (which cancel it) stops the send here. It also refreshes the claim.
            with self.database.engine.begin() as connection:
                if not service.hand_over(
                    connection,
                    message_id=item.message_id,
                    attempt=item.attempt,
                    worker=self.name,
                    now=self.clock(),
                ):
                    raise ClaimLost(item.message_id)

        try:
            provider_id = transport.send(self._envelope(item, address), handing_over=handing_over)
        except ClaimLost:
            report.lost += 1
            return False
        except TransientError as exc:
            self._retry(item, str(exc), report)
            return False
        except PermanentError as exc:
            self._finish(item, AttemptOutcome.permanent, str(exc), report)
            return False
        except UnknownOutcome as exc:
            self._finish(item, AttemptOutcome.unknown, f"delivery outcome unknown: {exc}", report)
            return False
        except Exception as exc:  # a bug or a library surprise: retried, and logged loudly
            log.exception("unexpected error sending message %s", item.message_id)
            self._retry(item, f"unexpected error: {exc!r}", report)
            return False
        with self.database.transaction() as session:
            done = service.finish_sent(
                session.connection(),
                claimed=item,
                worker=self.name,
                address=address,
                provider_id=provider_id,
                now=self.clock(),
            )
            if done and item.person_id is not None and delivery_event_kind(item.channel, item.purpose):
                # The bank sees the delivery event in the transaction that records it: a crash
                # leaves both or neither (a later, separate refresh could be lost for good). The
                # refresh is best effort within it: if it fails (a deadlock, a bug in one person's
                # projection) the delivery the provider accepted is still recorded, and the bank
                # catches up at the person's next refresh or a rebuild.
                try:
                    with session.begin_nested():
                        refresh_bank(session, [item.person_id], self.settings)
                except Exception:
                    log.exception(
                        "message %s was delivered; refreshing person %s's bank failed (it catches up later)",
                        item.message_id,
                        item.person_id,
                    )
                    # Their next refresh must be a full one: an append would build on a standing
                    # that misses this delivery. Best effort too: the delivery's record comes first.
                    try:
                        with session.begin_nested():
                            mark_stale(session, item.person_id, self.clock())
                    except Exception:
                        log.exception("marking person %s's bank for a full refresh failed", item.person_id)
        if done:
            report.sent += 1
        else:
            report.lost += 1  # someone else recorded it (an idempotent resend by another worker)
        return done

    def _retry(self, item: service.Claimed, error: str, report: WorkerReport) -> None:
        delivery = self.settings.delivery
        if item.attempt >= delivery.max_attempts:
            self._finish(
                item, AttemptOutcome.permanent, f"gave up after {item.attempt} attempts: {error}", report
            )
            return
        delay = retry_delay(
            item.attempt,
            base_seconds=delivery.backoff_base_seconds,
            cap_seconds=delivery.backoff_cap_seconds,
            draw=self.rng.random(),
        )
        self._finish(item, AttemptOutcome.transient, error, report, retry_at=self.clock() + delay)

    def _finish(
        self,
        item: service.Claimed,
        outcome: str,
        reason: str,
        report: WorkerReport,
        *,
        retry_at: datetime | None = None,
    ) -> None:
        with self.database.transaction() as session:
            status = service.finish_unsent(
                session,
                claimed=item,
                worker=self.name,
                outcome=outcome,
                reason=reason,
                now=self.clock(),
                retry_at=retry_at,
            )
        if status == "lost":
            report.lost += 1
            return
        counter = {
            AttemptOutcome.transient: "retried",
            AttemptOutcome.deferred: "deferred",
            AttemptOutcome.cancelled: "cancelled",
            AttemptOutcome.unknown: "unknown",
        }.get(outcome, "failed")
        setattr(report, counter, getattr(report, counter) + 1)
        if outcome != AttemptOutcome.transient:
            report.note(reason)

    def run(
        self,
        *,
        once: bool = False,
        stop: threading.Event | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> WorkerReport:
        """Send until stopped; with ``once``, until nothing is due. Stale claims are taken back as it goes."""
        stop = stop or threading.Event()
        report = WorkerReport()
        reclaim_every = max(1.0, self.settings.delivery.claim_timeout_seconds / 2)
        next_reclaim = next_sweep = 0.0
        try:
            while not stop.is_set():
                clock = self.clock().timestamp()
                try:
                    if clock >= next_reclaim:
                        self.reclaim(report)
                        next_reclaim = clock + reclaim_every
                    if self.sweep_seconds is not None and clock >= next_sweep:
                        self.sweep(report)
                        next_sweep = clock + self.sweep_seconds
                    claimed = self.run_batch(report)
                except SQLAlchemyError:
                    # The database restarted or is busy: wait and go on. A claim left half done is
                    # taken back after the claim timeout, by this worker or another.
                    log.exception("database error; retrying in %s s", self.settings.delivery.idle_seconds)
                    stop.wait(self.settings.delivery.idle_seconds)
                    continue
                if on_batch is not None and claimed:
                    on_batch(claimed)
                if claimed:
                    continue
                if once:
                    break
                stop.wait(self.settings.delivery.idle_seconds)
        finally:
            for transport in self.transports.values():
                transport.close()
        return report


def run_workers(
    *,
    database: Database,
    settings: Settings,
    concurrency: int,
    once: bool,
    stop: threading.Event,
    channels: Sequence[str] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> WorkerReport:
    """``concurrency`` workers in threads of this process (sending is I/O-bound), each with its own
    connections; returns their combined report."""
    total = WorkerReport()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            worker = Worker(
                database=database,
                settings=settings,
                name=worker_name(index),
                channels=channels,
                # One thread checks the complaint clocks; breaches are idempotent if processes overlap.
                sweep_seconds=SLA_SWEEP_SECONDS if index == 0 else None,
            )
            report = worker.run(once=once, stop=stop, on_batch=on_batch)
            with lock:
                total.add(report)
        except BaseException as exc:  # surfaced to the caller after the others stop
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=one, args=(i,), name=f"worker-{i}") for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return total
