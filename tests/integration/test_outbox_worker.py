"""The outbox worker against a real SMTP server (aiosmtpd) and a real HTTP SMS provider on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from delivery_servers import SmsProvider, SmtpSink
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from goodwill.bank.model import BankEntry
from goodwill.bank.service import refresh_appended, refresh_people
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.events.service import NewEvent, record_event
from goodwill.outbox.model import Message, MessageAttempt
from goodwill.outbox.service import retry_failed
from goodwill.outbox.worker import Worker, WorkerReport
from goodwill.people.model import Person
from goodwill.people.service import record_consent
from goodwill.people.suppression import suppress
from goodwill.people.unsubscribe import read_token

# 15:00 UTC is 10:00 in New York and 15:00 in London: inside quiet hours for both.
NOON = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SECRET = "worker-test-secret"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def sms() -> Iterator[SmsProvider]:
    with SmsProvider(token="sms-token") as provider:
        yield provider


def make_settings(db: Database, smtp: SmtpSink, sms: SmsProvider, **delivery: Any) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key=SECRET,
        business={
            "name": "Teapot & Co",
            "timezone": "Europe/London",
            "postal_address": "1 Leaf Lane, Bristol BS1 4DJ",
        },
        smtp_url=smtp.url,
        sms_url=sms.url,
        sms_token="sms-token",
        delivery={"public_url": "https://thanks.teapot.test", "backoff_base_seconds": 60, **delivery},
    )


def add_person(
    db: Database,
    name: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    consents: tuple[str, ...] = ("email", "sms"),
    time_zone: str | None = None,
) -> int:
    with db.transaction() as s:
        person = Person(name=name, email=email, phone=phone, kind="customer", time_zone=time_zone)
        s.add(person)
        s.flush()
        for channel in consents:
            record_consent(
                s, person_id=person.id, channel=channel, granted=True, source="test",
                at=NOON - timedelta(days=60),
            )  # fmt: skip
        return person.id


def queue(db: Database, person_id: int, channel: str, body: str = "Thank you, truly.", **extra: Any) -> int:
    with db.transaction() as s:
        message = Message(
            person_id=person_id,
            channel=channel,
            purpose=extra.pop("purpose", "appreciation"),
            subject=extra.pop("subject", "Thank you" if channel == "email" else ""),
            body=body,
            created_at=extra.pop("created_at", NOON - timedelta(hours=1)),
            next_attempt_at=extra.pop("next_attempt_at", NOON - timedelta(minutes=5)),
            **extra,
        )
        s.add(message)
        s.flush()
        return message.id


def run(db: Database, settings: Settings, at: datetime = NOON) -> WorkerReport:
    worker = Worker(database=db, settings=settings, name="test-worker", clock=lambda: at)
    return worker.run(once=True)


def message(db: Database, message_id: int) -> Message:
    with db.reading() as s:
        found = s.get(Message, message_id)
        assert found is not None
        s.expunge(found)
        return found


def attempts(db: Database, message_id: int) -> list[MessageAttempt]:
    with db.reading() as s:
        found = list(
            s.scalars(
                select(MessageAttempt)
                .where(MessageAttempt.message_id == message_id)
                .order_by(MessageAttempt.id)
            )
        )
        s.expunge_all()
        return found


def test_email_goes_out_with_idempotency_key_unsubscribe_headers_and_footer(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    settings = make_settings(db, smtp, sms)
    ann = add_person(db, "Ann Lee", email="ann@example.com")
    mid = queue(db, ann, "email", "Dear Ann,\n\nThank you for your second order.\n\nRosa")
    report = run(db, settings)
    assert report.sent == 1
    [got] = smtp.received
    assert got.message_id == f"<goodwill-message-{mid}@thanks.teapot.test>"
    assert got.recipients == ["ann@example.com"]
    mail = got.message
    assert mail["To"] == "Ann Lee <ann@example.com>"
    assert mail["Subject"] == "Thank you"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(mail["List-Unsubscribe"]).strip().strip("<>")
    assert link.startswith("https://thanks.teapot.test/unsubscribe/")
    request = read_token(SECRET, link.rsplit("/", 1)[1])
    assert (request.person_id, request.channel, request.message_id) == (ann, "email", mid)
    parts = {part.get_content_type(): part.get_content() for part in mail.walk() if not part.is_multipart()}
    assert "Thank you for your second order." in parts["text/plain"]
    assert "1 Leaf Lane, Bristol BS1 4DJ" in parts["text/plain"]
    assert "<p>Thank you for your second order.</p>" in parts["text/html"]
    assert "1 Leaf Lane, Bristol BS1 4DJ" in parts["text/html"]
    sent = message(db, mid)
    assert sent.status == "sent" and sent.address == "ann@example.com"
    assert sent.provider_id is not None and "queued as" in sent.provider_id
    assert [a.outcome for a in attempts(db, mid)] == ["sent"]
    with db.reading() as s:
        event = s.scalars(select(Event).where(Event.source_id == f"message:{mid}")).one()
        assert (event.kind, event.source, event.person_id) == ("appreciation_sent", "goodwill", ann)
        # The bank saw the deposit.
        deposits = s.scalar(
            select(func.count())
            .select_from(BankEntry)
            .where(BankEntry.person_id == ann, BankEntry.amount > 0)
        )
        assert deposits == 1


def test_sms_goes_to_the_provider_with_its_idempotency_key_and_token(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    settings = make_settings(db, smtp, sms)
    cy = add_person(db, "Cy Moss", phone="+447700900123")
    mid = queue(db, cy, "sms", "Cy, thank you for telling us about the dented tin. Rosa")
    assert run(db, settings).sent == 1
    body = sms.delivered[f"goodwill-message-{mid}"]
    assert body["to"] == "+447700900123" and body["body"].startswith("Cy, thank you")
    assert message(db, mid).provider_id == "SM00000001"
    assert sms.unauthorised == 0


def test_send_time_checks_cancel_what_must_not_go(db: Database, smtp: SmtpSink, sms: SmsProvider) -> None:
    settings = make_settings(db, smtp, sms)
    withdrawn = add_person(db, "Wit Drawn", email="wd@example.com")
    never = add_person(db, "Nev Er", email="nev@example.com", consents=())
    blocked = add_person(db, "Sup Pressed", email="Sup@Example.com")
    capped = add_person(db, "Cap Ped", email="cap@example.com")
    old = add_person(db, "Old News", email="old@example.com")
    erased = add_person(db, "Gone Person", email="gone@example.com")
    no_address = add_person(db, "No Mail")
    ids = {
        "withdrawn": queue(db, withdrawn, "email"),
        "never": queue(db, never, "email"),
        "blocked": queue(db, blocked, "email"),
        "capped": queue(db, capped, "email"),
        "old": queue(db, old, "email", created_at=NOON - timedelta(days=8)),
        "erased": queue(db, erased, "email"),
        "no_address": queue(db, no_address, "email"),
    }
    earlier = queue(db, capped, "email")
    with db.transaction() as s:
        # Consent withdrawn after approval, an address suppressed in another case, a thank-you
        # already delivered nine days ago, and a person erased: all after the messages were queued.
        record_consent(s, person_id=withdrawn, channel="email", granted=False, source="phone call", at=NOON)
        suppress(
            s, secret_key=SECRET, kind="email", address=" sup@example.COM", reason="unsubscribed", source="t"
        )
        s.execute(
            update(Message)
            .where(Message.id == earlier)
            .values(status="sent", sent_at=NOON - timedelta(days=9))
        )
        s.execute(update(Message).where(Message.id == ids["erased"]).values(person_id=None))
    report = run(db, settings)
    assert report.sent == 0 and smtp.received == []
    status = {name: (message(db, mid).status, message(db, mid).last_error) for name, mid in ids.items()}
    assert status["withdrawn"] == ("cancelled", "consent for email was withdrawn")
    assert status["never"] == ("cancelled", "no consent for email")
    assert status["blocked"] == ("cancelled", "the address is on the suppression list")
    assert status["capped"][0] == "cancelled" and "contact cap" in (status["capped"][1] or "")
    assert status["old"][0] == "cancelled" and "within 7 days" in (status["old"][1] or "")
    assert status["erased"] == ("cancelled", "the person was erased")
    assert status["no_address"] == ("failed", "no email address on file")
    assert report.cancelled == 6 and report.failed == 1


def test_sms_waits_for_quiet_hours_in_the_persons_zone(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    settings = make_settings(db, smtp, sms)
    # 03:00 UTC is 22:00 the day before in New York: too late; sent after 08:00 New York time.
    night = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    ny = add_person(db, "Ny Person", phone="+12125550100", time_zone="America/New_York")
    mid = queue(
        db, ny, "sms", next_attempt_at=night - timedelta(minutes=1), created_at=night - timedelta(hours=1)
    )
    report = run(db, settings, at=night)
    assert report.deferred == 1 and not sms.delivered
    waiting = message(db, mid)
    assert waiting.status == "queued" and waiting.attempts == 0
    assert waiting.next_attempt_at == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert run(db, settings, at=datetime(2026, 11, 23, 12, 59, tzinfo=UTC)).processed == 0  # not due yet
    assert run(db, settings, at=datetime(2026, 11, 23, 13, 0, tzinfo=UTC)).sent == 1
    assert [a.outcome for a in attempts(db, mid)] == ["deferred", "sent"]


def test_transient_errors_back_off_and_permanent_ones_stop(db: Database, sms: SmsProvider) -> None:
    with SmtpSink(transient_share=1.0) as busy:
        settings = make_settings(db, busy, sms, max_attempts=3)
        ann = add_person(db, "Ann Lee", email="ann@example.com")
        bounce = add_person(db, "Bo Unce", email="bounce@example.com")
        retried, refused = queue(db, ann, "email"), queue(db, bounce, "email")
        at = NOON
        report = run(db, settings, at=at)
        assert (report.retried, report.failed) == (1, 1)
        failed = message(db, refused)
        assert failed.status == "failed" and "550" in (failed.last_error or "")
        waits = []
        for _ in range(2):
            waiting = message(db, retried)
            assert waiting.status == "queued" and "451" in (waiting.last_error or "")
            assert waiting.next_attempt_at is not None
            waits.append((waiting.next_attempt_at - at).total_seconds())
            at = waiting.next_attempt_at
            run(db, settings, at=at)
        # Equal jitter: attempt 1 waits 30..60 s, attempt 2 60..120 s (base 60 s).
        assert 30 <= waits[0] <= 60 and 60 <= waits[1] <= 120
        gave_up = message(db, retried)
        assert gave_up.status == "failed" and (gave_up.last_error or "").startswith(
            "gave up after 3 attempts"
        )
        assert [a.outcome for a in attempts(db, retried)] == ["transient", "transient", "permanent"]
        assert busy.received == []


def test_sms_provider_rejection_is_permanent(db: Database, smtp: SmtpSink, sms: SmsProvider) -> None:
    settings = make_settings(db, smtp, sms)
    local = add_person(db, "Lo Cal", phone="07700 900123")
    mid = queue(db, local, "sms")
    assert run(db, settings).failed == 1
    assert "400" in (message(db, mid).last_error or "") and not sms.delivered


def test_stale_claims_are_taken_back_but_a_handed_over_email_is_never_sent_twice(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    settings = make_settings(db, smtp, sms, claim_timeout_seconds=60)
    ann = add_person(db, "Ann Lee", email="ann@example.com", phone="+447700900001")
    claimed_only = queue(db, ann, "email")
    handed_over = queue(db, ann, "email", purpose="service")
    sms_handed = queue(db, ann, "sms", purpose="service")
    fresh = queue(db, ann, "email", purpose="service")
    with db.transaction() as s:
        # A worker died: two minutes ago it claimed these; it had handed two of them over.
        long_ago = NOON - timedelta(minutes=2)
        for mid in (claimed_only, handed_over, sms_handed):
            s.execute(
                update(Message)
                .where(Message.id == mid)
                .values(status="sending", claimed_by="dead", claimed_at=long_ago, attempts=1)
            )
            s.add(MessageAttempt(message_id=mid, number=1, worker="dead", started_at=long_ago))
        s.execute(
            update(Message).where(Message.id.in_([handed_over, sms_handed])).values(handed_over_at=long_ago)
        )
        # Another worker claimed this one 10 s ago and is still working on it.
        s.execute(
            update(Message)
            .where(Message.id == fresh)
            .values(status="sending", claimed_by="alive", claimed_at=NOON - timedelta(seconds=10))
        )
    report = run(db, settings)
    assert (report.requeued_stale, report.failed_stale) == (2, 1)
    assert message(db, claimed_only).status == "sent"
    assert message(db, sms_handed).status == "sent"  # the provider dedupes its key: safe to resend
    unknown = message(db, handed_over)
    assert unknown.status == "failed" and "outcome unknown" in (unknown.last_error or "")
    assert [a.outcome for a in attempts(db, handed_over)] == ["unknown"]
    assert [a.outcome for a in attempts(db, claimed_only)] == ["abandoned", "sent"]
    assert message(db, fresh).status == "sending"  # not stale yet: left alone
    assert [r.message_id for r in smtp.received] == [f"<goodwill-message-{claimed_only}@thanks.teapot.test>"]
    # Staff checked the mail log and decided to send it after all.
    with db.transaction() as s:
        retry_failed(s, message_id=handed_over, now=NOON)
    assert run(db, settings).sent == 1
    assert message(db, handed_over).status == "sent"


def test_a_worker_that_lost_its_claim_does_not_hand_over(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    settings = make_settings(db, smtp, sms)
    ann = add_person(db, "Ann Lee", email="ann@example.com")
    mid = queue(db, ann, "email")
    worker = Worker(database=db, settings=settings, name="slow", clock=lambda: NOON)
    with db.transaction() as s:
        from goodwill.outbox import service

        claimed = service.claim(s, worker="slow", channels=["email"], now=NOON, limit=5)
    with db.transaction() as s:  # meanwhile another worker took it back and holds it
        s.execute(update(Message).where(Message.id == mid).values(claimed_by="other"))
    with db.reading() as s:
        [item] = service.load_claimed(s, claimed, secret_key=SECRET, default_zone="UTC", now=NOON)
    report = WorkerReport()
    assert worker._process(item, report) is False
    assert report.lost == 1 and smtp.received == []


def test_worker_command_sends_and_reports_json(
    db: Database, smtp: SmtpSink, sms: SmsProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from goodwill.cli import app

    ann = add_person(db, "Ann Lee", email="ann@example.com", phone="+447700900001")
    queue(
        db,
        ann,
        "email",
        next_attempt_at=datetime.now(UTC) - timedelta(minutes=1),
        created_at=datetime.now(UTC),
    )
    queue(db, ann, "email", body="An order update.", purpose="service", created_at=datetime.now(UTC))
    for key, value in {
        "GOODWILL_DATABASE_URL": db.url,
        "GOODWILL_SECRET_KEY": SECRET,
        "GOODWILL_SMTP_URL": smtp.url,
        "GOODWILL_SMS_URL": sms.url,
        "GOODWILL_SMS_TOKEN": "sms-token",
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["worker", "--once", "--concurrency", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["sent"] == 2 and summary["failed"] == 0
    assert len(smtp.received) == 2
    status = CliRunner().invoke(app, ["outbox", "status", "--json"])
    assert json.loads(status.output) == {"sent": {"email": 2}}


def test_worker_command_without_transports_says_what_to_set(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from goodwill.cli import app

    monkeypatch.setenv("GOODWILL_DATABASE_URL", db.url)
    monkeypatch.delenv("GOODWILL_SMTP_URL", raising=False)
    monkeypatch.delenv("GOODWILL_SMS_URL", raising=False)
    result = CliRunner().invoke(app, ["worker", "--once"])
    assert result.exit_code == 2
    assert "GOODWILL_SMTP_URL" in result.output


def test_a_claim_takes_at_most_its_limit_and_each_message_once(db: Database) -> None:
    from goodwill.outbox import service

    with db.transaction() as s:
        s.add_all(
            Message(channel="email", body="x", purpose="service", created_at=NOON, next_attempt_at=NOON)
            for _ in range(30)
        )
    taken: list[int] = []
    for worker in ("a", "b", "c", "d"):
        with db.transaction() as s:
            batch = service.claim(s, worker=worker, channels=["email"], now=NOON, limit=10)
        assert len(batch) == (10 if worker != "d" else 0)
        taken.extend(mid for mid, _ in batch)
    assert len(taken) == len(set(taken)) == 30


def test_staff_can_cancel_a_queued_message_but_not_a_sent_one(
    db: Database, smtp: SmtpSink, sms: SmsProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from goodwill.cli import app

    ann = add_person(db, "Ann Lee", email="ann@example.com")
    held, sent = queue(db, ann, "card"), queue(db, ann, "email", status="sent")
    monkeypatch.setenv("GOODWILL_DATABASE_URL", db.url)
    result = CliRunner().invoke(app, ["outbox", "cancel", str(held), "--reason", "note too long for a card"])
    assert result.exit_code == 0, result.output
    assert message(db, held).status == "cancelled"
    assert message(db, held).last_error == "cancelled by staff: note too long for a card"
    refused = CliRunner().invoke(app, ["outbox", "cancel", str(sent), "--reason", "oops"])
    assert refused.exit_code == 1 and "only queued messages" in refused.output
    assert message(db, sent).status == "sent"


@pytest.mark.parametrize("what", ["unsubscribe", "erase"])
def test_an_unsubscribe_or_erasure_after_the_batch_was_loaded_still_stops_the_send(
    db: Database, smtp: SmtpSink, sms: SmsProvider, what: str
) -> None:
    from goodwill.outbox import service
    from goodwill.people.privacy import erase_person
    from goodwill.people.unsubscribe import UnsubscribeRequest, unsubscribe

    settings = make_settings(db, smtp, sms)
    ann = add_person(db, "Ann Lee", email="ann@example.com", phone="+447700900001")
    by_email, by_sms = queue(db, ann, "email"), queue(db, ann, "sms", purpose="service")
    worker = Worker(database=db, settings=settings, name="w1", clock=lambda: NOON)
    with db.transaction() as s:
        claimed = service.claim(s, worker="w1", channels=["email", "sms"], now=NOON, limit=10)
    with db.reading() as s:
        batch = service.load_claimed(s, claimed, secret_key=SECRET, default_zone="UTC", now=NOON)
    with db.transaction() as s:  # the customer acts while the worker holds the loaded batch
        if what == "unsubscribe":
            for mid, channel in ((by_email, "email"), (by_sms, "sms")):
                unsubscribe(
                    s, secret_key=SECRET, source="unsubscribe link",
                    request=UnsubscribeRequest(person_id=ann, channel=channel, message_id=mid),
                )  # fmt: skip
        else:
            erase_person(s, person_ref=str(ann), secret_key=SECRET, erased_by="test", reason="asked")
    report = WorkerReport()
    for item in batch:
        worker._process(item, report)
    assert report.sent == 0 and report.lost == 2
    assert smtp.received == [] and sms.delivered == {}
    assert message(db, by_email).status == message(db, by_sms).status == "cancelled"


def test_the_cap_counts_what_the_same_batch_just_delivered(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    settings = make_settings(db, smtp, sms)
    ann = add_person(db, "Ann Lee", email="ann@example.com", phone="+447700900001")
    first, second = queue(db, ann, "email"), queue(db, ann, "sms")
    report = run(db, settings)
    assert (report.sent, report.cancelled) == (1, 1)
    assert message(db, first).status == "sent"
    assert "contact cap" in (message(db, second).last_error or "")


def test_a_line_break_in_the_subject_fails_at_once_instead_of_retrying(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    settings = make_settings(db, smtp, sms)
    ann = add_person(db, "Ann Lee", email="ann@example.com")
    mid = queue(db, ann, "email", subject="Thanks\nBcc: everyone@example.com")
    assert run(db, settings).failed == 1
    failed = message(db, mid)
    assert failed.status == "failed" and (failed.last_error or "").startswith("cannot build this email")
    assert smtp.received == []


def test_a_slow_worker_whose_claim_was_taken_back_cannot_requeue_or_resend(
    db: Database, smtp: SmtpSink, sms: SmsProvider
) -> None:
    from goodwill.outbox import service

    settings = make_settings(db, smtp, sms, claim_timeout_seconds=60)
    ann = add_person(db, "Ann Lee", email="ann@example.com")
    mid = queue(db, ann, "email")
    with db.transaction() as s:
        claimed = service.claim(s, worker="slow", channels=["email"], now=NOON, limit=1)
    with db.reading() as s:
        [stale] = service.load_claimed(s, claimed, secret_key=SECRET, default_zone="UTC", now=NOON)
    # Two minutes later another worker takes the claim back and sends the message.
    later = NOON + timedelta(minutes=2)
    assert run(db, settings, at=later).sent == 1
    # The slow worker now gets a transient error and tries to put it back in the queue: refused.
    with db.transaction() as s:
        status = service.finish_unsent(
            s, claimed=stale, worker="slow", outcome="transient", reason="451", now=later, retry_at=later
        )
    assert status == "lost"
    assert message(db, mid).status == "sent"
    assert smtp.counts()[f"<goodwill-message-{mid}@thanks.teapot.test>"] == 1


def test_a_failing_bank_refresh_never_undoes_a_delivery_the_provider_accepted(
    db: Database, smtp: SmtpSink, sms: SmsProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_refresh(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug in one person's projection")

    monkeypatch.setattr("goodwill.outbox.worker.refresh_bank", broken_refresh)
    settings = make_settings(db, smtp, sms)
    ann = add_person(db, "Ann Lee", email="ann@example.com")
    with db.transaction() as s:  # a bank standing, which the failed refresh leaves behind
        record_event(
            s,
            NewEvent(
                person_id=ann,
                kind="purchase",
                occurred_at=NOON - timedelta(days=3),
                source="t",
                source_id="1",
            ),
        )
        refresh_people(session=s, person_ids=[ann], now=NOON - timedelta(days=3))
    mid = queue(db, ann, "email", "Dear Ann,\n\nThank you for your second order.\n\nRosa")
    report = run(db, settings)
    assert report.sent == 1 and len(smtp.received) == 1
    assert message(db, mid).status == "sent"
    with db.reading() as s:
        # The delivery is on record (the planner's contact cap sees it); the bank catches up later.
        assert s.scalars(select(Event.kind).where(Event.source_id == f"message:{mid}")).all() == [
            "appreciation_sent"
        ]
    # Her standing is marked for a full refresh: the next event's append must not build on figures
    # that miss the delivery (it would leave the delivery out of her bank until a rebuild).
    with db.transaction() as s:
        praise, _ = record_event(
            s,
            NewEvent(
                person_id=ann, kind="praise", occurred_at=NOON + timedelta(hours=1), source="t", source_id="2"
            ),
        )
        refresh_appended(session=s, event=praise, now=NOON + timedelta(hours=2))
    with db.reading() as s:
        rules = sorted(s.scalars(select(BankEntry.rule).where(BankEntry.person_id == ann)))
    assert rules == ["appreciation_sent", "praise", "purchase"]
