"""Replies to complaints on both backends: draft -> revise -> approve -> outbox -> SMTP, the reply page,
and the one-question follow-up after resolution with its public page.

Ann complained on Monday 23 November 2026 at 13:00 (London); with the default SLA (24 business hours
to resolve, 09:00-17:00 on weekdays) the resolution is due on Thursday 26 November. She has given no
marketing consent at all: a reply to her own complaint goes to her anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from delivery_servers import SmsProvider, SmtpSink
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_web_client import BASE_URL, add_user, form_token, login

from goodwill.complaints import reply_service as replies
from goodwill.complaints.model import Complaint, ComplaintLog, ComplaintReply
from goodwill.complaints.replies import QUESTION
from goodwill.complaints.service import NewComplaint, mark_responded, open_complaint, resolve, sweep_sla
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.loyalty.links import customer_token
from goodwill.outbox.model import Message
from goodwill.outbox.service import cancel_queued, claim, finish_unsent, load_claimed
from goodwill.outbox.worker import Worker
from goodwill.people.model import Person
from goodwill.people.privacy import erase_person
from goodwill.people.service import PersonRecord, create_person, record_consent
from goodwill.people.suppression import suppress
from goodwill.web.app import create_app

SECRET = "replies-secret"
RECEIVED = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
WORDS = "The teapot arrived with a cracked lid. It was wrapped in one sheet of paper."
PITCH = "\n\nUse code SORRY15 for 15% off your next order!"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def sms() -> Iterator[SmsProvider]:
    with SmsProvider(token="sms-token") as provider:
        yield provider


def make_settings(db: Database, smtp_url: str = "", sms_url: str = "", **complaints: object) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key=SECRET,
        business={
            "name": "Teapot & Co",
            "timezone": "Europe/London",
            "postal_address": "1 Leaf Lane, Bristol",
        },
        smtp_url=smtp_url,
        sms_url=sms_url,
        sms_token="sms-token",
        delivery={"public_url": "https://thanks.teapot.test"},
        complaints=complaints,
    )


@dataclass
class Shop:
    settings: Settings
    rosa: int  # the agent the complaint is assigned to
    sam: int  # another agent
    ann: int  # the person
    complaint: int


def person(db: Database, name: str, email: str | None = None, phone: str | None = None) -> int:
    with db.transaction() as s:
        found, _ = create_person(
            s, PersonRecord(name=name, email=email, phone=phone, kind="customer"), source="test"
        )
        return found.id


def complain(
    db: Database, settings: Settings, *, source_id: str, email: str | None = None, **extra: object
) -> int:
    with db.transaction() as s:
        complaint, _ = open_complaint(
            s,
            new=NewComplaint(
                body=str(extra.pop("body", WORDS)),
                source="api",
                source_id=source_id,
                received_at=RECEIVED,
                email=email,
                subject="Cracked lid",
                **extra,  # type: ignore[arg-type]
            ),
            settings=settings,
        )
        return complaint.id


def shop(db: Database, smtp_url: str = "", sms_url: str = "", **complaints: object) -> Shop:
    settings = make_settings(db, smtp_url, sms_url, **complaints)
    rosa = add_user(db, "rosa@teapot.test", "agent", name="Rosa Field")
    sam = add_user(db, "sam@teapot.test", "agent", name="Sam Stone")
    ann = person(db, "Ann Lee", "ann@example.com")
    complaint = complain(db, settings, source_id="c-1", email="ann@example.com", assignee_id=rosa)
    return Shop(settings, rosa, sam, ann, complaint)


def draft(db: Database, s: Shop, complaint_id: int | None = None) -> ComplaintReply:
    with db.transaction() as session:
        return replies.draft_first_response(
            session, complaint_id=complaint_id or s.complaint, user_id=s.rosa, settings=s.settings, now=NOW
        )


def approve(db: Database, s: Shop, reply_id: int, **extra: str) -> ComplaintReply:
    with db.transaction() as session:
        return replies.approve_reply(
            session, reply_id=reply_id, user_id=s.rosa, settings=s.settings, now=NOW, **extra
        )


def load(db: Database, model: type, row_id: int) -> object:
    with db.reading() as session:
        found = session.get(model, row_id)
        assert found is not None
        session.expunge(found)
        return found


def follow_ups(db: Database) -> list[Message]:
    with db.reading() as session:
        found = list(session.scalars(select(Message).where(Message.purpose == "complaint_satisfaction")))
        session.expunge_all()
        return found


def run_worker(db: Database, settings: Settings, at: datetime) -> None:
    Worker(database=db, settings=settings, name="test-worker", clock=lambda: at).run(once=True)


def test_draft_revise_approve_queues_the_reply_and_stops_the_first_response_clock(db: Database) -> None:
    s = shop(db)
    first = draft(db, s)
    assert first.kind == "first_response" and first.channel == "email" and first.status == "draft"
    assert "Ann" in first.body and "cracked lid" in first.body and "by Thursday 26 November" in first.body
    assert first.body.endswith("Rosa\nTeapot & Co") and first.subject == "Re: Cracked lid"
    assert first.check_score is not None and first.check_score >= 90
    assert draft(db, s).id == first.id  # idempotent: the open draft comes back

    with db.transaction() as session:
        revised = replies.revise_reply(session, reply_id=first.id, body=first.body + PITCH, user_id=s.sam)
        assert {p["kind"] for p in revised.check_problems} >= {"sales_pitch"}
    with pytest.raises(replies.ReplyBlocked, match="sales pitch"):
        approve(db, s, first.id)
    assert (load(db, Complaint, s.complaint)).status == "open"  # type: ignore[attr-defined]
    with db.reading() as session:
        assert session.scalars(select(Message)).all() == []

    clean = first.body.replace("I have read your message", "I read your message")
    queued = approve(db, s, first.id, body=clean + "\r\n")
    assert queued.status == "queued" and queued.approved_by_id == s.rosa and queued.body == clean
    message = load(db, Message, queued.message_id)  # type: ignore[arg-type]
    assert (message.purpose, message.channel, message.person_id) == ("complaint_reply", "email", s.ann)  # type: ignore[attr-defined]
    assert message.body == clean and message.subject == "Re: Cracked lid"  # type: ignore[attr-defined]
    complaint = load(db, Complaint, s.complaint)
    assert complaint.status == "responded" and complaint.first_responded_at == NOW  # type: ignore[attr-defined]
    assert draft(db, s).id == first.id  # the queued one comes back: no second first response
    with pytest.raises(replies.ReplyError, match="already queued"):
        approve(db, s, first.id)


def test_approve_is_refused_when_resolved_or_erased_and_discard_frees_a_new_draft(db: Database) -> None:
    s = shop(db, satisfaction_follow_up=False)
    first = draft(db, s)
    with db.transaction() as session:
        replies.discard_reply(session, reply_id=first.id, user_id=s.rosa)
    second = draft(db, s)
    assert second.id != first.id and second.status == "draft"
    with db.transaction() as session:
        resolve(
            session,
            complaint_id=s.complaint,
            resolution="Sent a new lid",
            by_user_id=s.rosa,
            now=NOW,
            settings=s.settings,
        )
    with pytest.raises(replies.ReplyError, match="already resolved"):
        approve(db, s, second.id)
    other = complain(db, s.settings, source_id="c-2", email="ann@example.com")
    reply = draft(db, s, other)
    undrafted = complain(db, s.settings, source_id="c-4", email="ann@example.com")
    with db.transaction() as session:
        erase_person(
            session, person_ref=s.ann, secret_key=SECRET, erased_by="test", reason="asked to be forgotten"
        )
    with pytest.raises(replies.ReplyError, match="discarded"):  # erasure throws their drafts away
        approve(db, s, reply.id)
    with pytest.raises(replies.ReplyError, match="erased"):
        draft(db, s, undrafted)
    nobody = complain(
        db, s.settings, source_id="c-3", person_id=person(db, "Walk In"), body="Rude at the till."
    )
    with pytest.raises(replies.ReplyError, match="no email address"):
        draft(db, s, nobody)


def test_reply_is_delivered_by_smtp_without_consent_and_a_suppressed_address_stops_it(
    db: Database, smtp: SmtpSink
) -> None:
    s = shop(db, smtp.url)
    bo = person(db, "Bo Quinn", "bo@example.com")
    with db.transaction() as session:
        record_consent(
            session, person_id=bo, channel="email", granted=True, source="test", at=NOW - timedelta(days=9)
        )
        suppress(
            session,
            secret_key=SECRET,
            kind="email",
            address="bo@example.com",
            reason="bounced",
            source="test",
        )
    ann_reply = approve(db, s, draft(db, s).id)
    bo_reply = approve(
        db, s, draft(db, s, complain(db, s.settings, source_id="c-bo", email="bo@example.com")).id
    )
    run_worker(db, s.settings, NOW + timedelta(minutes=1))
    [got] = smtp.received
    assert got.recipients == ["ann@example.com"]
    assert got.message["Subject"] == "Re: Cracked lid"
    text = got.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "cracked lid" in text and "Thursday 26 November" in text and QUESTION not in text
    assert load(db, Message, ann_reply.message_id).status == "sent"  # type: ignore[arg-type, attr-defined]
    stopped = load(db, Message, bo_reply.message_id)  # type: ignore[arg-type]
    assert stopped.status == "cancelled" and "suppression" in stopped.last_error  # type: ignore[attr-defined]
    # A reply that never went out is no answer: Bo's first-response clock runs again, Ann's stays stopped.
    bo_complaint = load(db, Complaint, bo_reply.complaint_id)
    assert (bo_complaint.status, bo_complaint.first_responded_at) == ("open", None)  # type: ignore[attr-defined]
    assert load(db, ComplaintReply, bo_reply.id).status == "undelivered"  # type: ignore[attr-defined]
    assert "suppression" in not_delivered(db, bo_reply.complaint_id)[0]
    ann_complaint = load(db, Complaint, s.complaint)
    assert (ann_complaint.status, ann_complaint.first_responded_at) == ("responded", NOW)  # type: ignore[attr-defined]
    assert load(db, ComplaintReply, ann_reply.id).status == "queued"  # type: ignore[attr-defined]
    assert not_delivered(db, s.complaint) == []


def not_delivered(db: Database, complaint_id: int) -> list[str]:
    """The "reply not delivered" lines of a complaint's log."""
    with db.reading() as session:
        return list(
            session.scalars(
                select(ComplaintLog.detail).where(
                    ComplaintLog.complaint_id == complaint_id, ComplaintLog.action == "reply not delivered"
                )
            )
        )


def test_a_reply_the_worker_could_not_deliver_reopens_the_first_response_clock(
    db: Database, smtp: SmtpSink
) -> None:
    """Refused by the mail server, no address left, too old: no answer reached them, so the complaint
    is unanswered again, and the SLA sweep charges the breach it would have been charged."""
    s = shop(db, smtp.url)
    bounced = approve(
        db, s, draft(db, s, complain(db, s.settings, source_id="b-1", email="cy.bounce@example.com")).id
    )
    gone = approve(db, s, draft(db, s, complain(db, s.settings, source_id="g-1", email="di@example.com")).id)
    with db.transaction() as session:
        di = session.get(Complaint, gone.complaint_id)
        assert di is not None
        found = session.get(Person, di.person_id)
        assert found is not None
        found.email = None  # their address was removed after the reply was approved
    run_worker(db, s.settings, NOW + timedelta(minutes=1))
    assert load(db, Message, bounced.message_id).status == "failed"  # type: ignore[arg-type, attr-defined]
    assert load(db, Message, gone.message_id).status == "failed"  # type: ignore[arg-type, attr-defined]
    for reply, words in ((bounced, "no such mailbox"), (gone, "no email address")):
        complaint = load(db, Complaint, reply.complaint_id)
        assert (complaint.status, complaint.first_responded_at) == ("open", None)  # type: ignore[attr-defined]
        assert load(db, ComplaintReply, reply.id).status == "undelivered"  # type: ignore[attr-defined]
        [line] = not_delivered(db, reply.complaint_id)
        assert words in line and "clock runs again" in line

    late = approve(db, s, draft(db, s).id)  # Ann's, approved at NOW: the worker only runs 8 days later
    run_worker(db, s.settings, NOW + timedelta(days=8))
    assert "not sent within 7 days" in load(db, Message, late.message_id).last_error  # type: ignore[arg-type, attr-defined]
    assert load(db, Complaint, s.complaint).first_responded_at is None  # type: ignore[attr-defined]
    with db.transaction() as session:
        report = sweep_sla(session, now=NOW + timedelta(days=8), settings=s.settings)
    charged = {(b.complaint_id, b.clock) for b in report.breaches}
    assert (s.complaint, "first_response") in charged  # answered in time only on paper, before the fix

    # A new first response can be written; the undelivered one is still shown, with why.
    again = draft(db, s)
    assert again.id != late.id and again.status == "draft"
    rosa = staff_client(db, s, "rosa@teapot.test")
    page = rosa.get(f"/complaints/{s.complaint}/reply")
    assert "Not delivered" in page.text and "not sent within 7 days" in page.text


def test_staff_cancelling_the_reply_reopens_the_clock_but_an_earlier_answer_still_counts(
    db: Database,
) -> None:
    s = shop(db)
    reply = approve(db, s, draft(db, s).id)
    with db.transaction() as session:
        cancel_queued(session, message_id=reply.message_id or 0, reason="wrong person", now=NOW)
    complaint = load(db, Complaint, s.complaint)
    assert (complaint.status, complaint.first_responded_at) == ("open", None)  # type: ignore[attr-defined]
    assert "cancelled by staff: wrong person" in not_delivered(db, s.complaint)[0]

    # Answered by phone first (the clock stopped then); a reply approved later that never goes out
    # does not undo that answer.
    phoned = complain(db, s.settings, source_id="ph-1", email="ann@example.com")
    with db.transaction() as session:
        row = session.get(Complaint, phoned)
        assert row is not None
        mark_responded(session, complaint=row, at=NOW - timedelta(minutes=30), by_user_id=s.rosa)
    written = approve(db, s, draft(db, s, phoned).id)
    with db.transaction() as session:
        cancel_queued(session, message_id=written.message_id or 0, reason="said it all on the phone")
    answered = load(db, Complaint, phoned)
    assert (answered.status, answered.first_responded_at) == ("responded", NOW - timedelta(minutes=30))  # type: ignore[attr-defined]
    assert load(db, ComplaintReply, written.id).status == "undelivered"  # type: ignore[attr-defined]
    [line] = not_delivered(db, phoned)
    assert "said it all on the phone" in line and "clock" not in line


def test_a_reply_whose_delivery_is_unknown_keeps_the_clock_stopped(db: Database) -> None:
    """Handed to the mail server, then the connection broke: it probably arrived. Sending again could
    deliver it twice, so the answer stands; the log says to check."""
    s = shop(db)
    reply = approve(db, s, draft(db, s).id)
    with db.transaction() as session:
        [(message_id, attempt)] = claim(session, worker="w", channels=["email"], now=NOW, limit=5)
        [item] = load_claimed(
            session, [(message_id, attempt)], secret_key=SECRET, default_zone="UTC", now=NOW
        )
        status = finish_unsent(
            session, claimed=item, worker="w", outcome="unknown", reason="connection lost after DATA", now=NOW
        )
    assert status == "failed"
    complaint = load(db, Complaint, s.complaint)
    assert (complaint.status, complaint.first_responded_at) == ("responded", NOW)  # type: ignore[attr-defined]
    assert load(db, ComplaintReply, reply.id).status == "queued"  # type: ignore[attr-defined]
    with db.reading() as session:
        [line] = session.scalars(
            select(ComplaintLog.detail).where(ComplaintLog.action == "reply delivery unknown")
        ).all()
    assert "connection lost" in line


def test_a_complaint_by_sms_is_answered_by_sms(db: Database, sms: SmsProvider) -> None:
    s = shop(db, sms_url=sms.url)
    cy = person(db, "Cy Young", "cy@example.com", phone="+447700900123")
    complaint = complain(db, s.settings, source_id="sms-1", person_id=cy, channel="sms", body=WORDS)
    reply = approve(db, s, draft(db, s, complaint).id)
    assert reply.channel == "sms" and len(reply.body) <= 320 and reply.subject == ""
    run_worker(db, s.settings, NOW + timedelta(minutes=1))
    [sent] = sms.delivered.values()
    assert sent["to"] == "+447700900123" and "cracked lid" in sent["body"]


def test_satisfaction_follow_up_is_its_own_message_and_its_link_answers_the_question(
    db: Database, smtp: SmtpSink
) -> None:
    s = shop(db, smtp.url)
    first = approve(db, s, draft(db, s).id)
    run_worker(db, s.settings, NOW + timedelta(minutes=1))
    assert len(smtp.received) == 1  # the first response
    # Resolved now (by the real clock): the public page below reads the link with the real clock too.
    resolved_at = datetime.now(UTC).replace(microsecond=0)
    with db.transaction() as session:
        resolve(
            session,
            complaint_id=s.complaint,
            resolution="Sent a new lid",
            by_user_id=s.rosa,
            now=resolved_at,
            settings=s.settings,
        )
        complaint = session.get(Complaint, s.complaint)
        assert complaint is not None
        again = replies.queue_satisfaction(session, complaint=complaint, settings=s.settings, now=resolved_at)
        again_id = again.id if again is not None else None
    [question] = follow_ups(db)  # one per complaint, however often it is asked for
    assert again_id == question.id != first.message_id
    assert question.not_before == resolved_at + timedelta(days=2) == question.next_attempt_at
    assert question.subject == QUESTION and question.body.count("?") == 1
    assert "Thank you for" not in question.body and "cracked lid" not in question.body

    run_worker(db, s.settings, resolved_at + timedelta(hours=1))  # not yet: before not_before
    assert len(smtp.received) == 1
    run_worker(db, s.settings, resolved_at + timedelta(days=2, minutes=1))
    assert len(smtp.received) == 2 and smtp.received[1].message["Subject"] == QUESTION  # no consent needed

    link = re.search(r"https://thanks\.teapot\.test(/my/complaint/\S+)", question.body)
    assert link is not None
    client = TestClient(create_app(s.settings, db), base_url=BASE_URL)
    page = client.get(link.group(1))
    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
    assert [b for b in ("Yes", "Partly", "No") if f">{b}</button>" in page.text] == ["Yes", "Partly", "No"]
    assert load(db, Complaint, s.complaint).satisfaction is None  # type: ignore[attr-defined]  # opening records nothing
    answered = client.post(link.group(1), data={"answer": "partly"})
    assert answered.status_code == 200 and "Partly" in answered.text
    assert load(db, Complaint, s.complaint).satisfaction == "partly"  # type: ignore[attr-defined]
    assert client.post(link.group(1), data={"answer": "maybe"}).status_code == 422
    client.post(link.group(1), data={"answer": "yes"})
    assert load(db, Complaint, s.complaint).satisfaction == "yes"  # type: ignore[attr-defined]  # replaced within 30 days
    token = link.group(1).rsplit("/", 1)[1]
    with db.transaction() as session:
        late = replies.record_satisfaction(
            session, secret_key=SECRET, token=token, answer="no", now=resolved_at + timedelta(days=31)
        )
    assert late.too_late and late.answer == "yes"
    assert client.get(link.group(1)[:-3] + "xyz").status_code == 404
    with db.transaction() as session:
        answered_twice = replies.record_satisfaction(
            session, secret_key=SECRET, token=token, answer="yes", now=resolved_at + timedelta(days=3)
        )
    assert not answered_twice.changed
    expired = replies.satisfaction_token(secret_key=SECRET, complaint_id=s.complaint, expires_at=resolved_at)
    assert client.get(f"/my/complaint/{expired}").status_code == 410
    assert client.post(f"/my/complaint/{expired}", data={"answer": "no"}).status_code == 410
    loyalty = customer_token(
        secret_key=SECRET, person_id=s.complaint, expires_at=resolved_at + timedelta(days=9)
    )
    assert client.get(f"/my/complaint/{loyalty}").status_code == 404  # another page's link never answers here
    with db.transaction() as session:
        erase_person(
            session, person_ref=s.ann, secret_key=SECRET, erased_by="test", reason="asked to be forgotten"
        )
    gone = client.get(link.group(1))
    assert gone.status_code == 404 and "not working" in gone.text  # erased since it was sent


def test_no_follow_up_without_email_or_when_switched_off_and_none_sent_after_consent_was_withdrawn(
    db: Database, smtp: SmtpSink
) -> None:
    s = shop(db, smtp.url)
    phone_only = person(db, "Di Phone", phone="+447700900999")
    by_phone = complain(db, s.settings, source_id="p-1", person_id=phone_only, channel="sms")
    off = make_settings(db, smtp.url, satisfaction_follow_up=False)
    switched_off = complain(db, off, source_id="off-1", email="eve@example.com")
    with db.transaction() as session:
        resolve(
            session,
            complaint_id=by_phone,
            resolution="Refunded",
            by_user_id=s.rosa,
            now=NOW,
            settings=s.settings,
        )
        resolve(
            session, complaint_id=switched_off, resolution="Fixed", by_user_id=None, now=NOW, settings=off
        )
        complaint = session.get(Complaint, switched_off)
        assert complaint is not None
        assert replies.queue_satisfaction(session, complaint=complaint, settings=off, now=NOW) is None
        resolve(
            session,
            complaint_id=s.complaint,
            resolution="New lid",
            by_user_id=s.rosa,
            now=NOW,
            settings=s.settings,
        )
        record_consent(session, person_id=s.ann, channel="email", granted=False, source="test", at=NOW)
    [question] = follow_ups(db)  # Ann's only: Di has no email, and the follow-up was off for Eve
    assert question.person_id == s.ann
    run_worker(db, s.settings, NOW + timedelta(days=2, minutes=1))
    assert smtp.received == []
    stopped = load(db, Message, question.id)
    assert stopped.status == "cancelled" and "withdrawn" in stopped.last_error  # type: ignore[attr-defined]


# --- the reply page ---------------------------------------------------------------------------------


def staff_client(db: Database, s: Shop, email: str) -> TestClient:
    client = TestClient(create_app(s.settings, db), base_url=BASE_URL)
    assert login(client, email).status_code == 303
    return client


def test_reply_page_drafts_checks_saves_and_approves(db: Database) -> None:
    s = shop(db)
    rosa = staff_client(db, s, "rosa@teapot.test")
    url = f"/complaints/{s.complaint}/reply"
    first = rosa.get(url)  # opening the page changes nothing: no draft until asked for one
    assert first.status_code == 200 and 'name="body"' not in first.text
    assert ">Write the first response</button>" in first.text
    with db.reading() as session:
        assert session.scalars(select(ComplaintReply)).all() == []
    token = form_token(first.text)
    assert rosa.post(url, data={"action": "draft"}, follow_redirects=False).status_code == 403  # no CSRF
    for _ in range(2):  # a double click makes one draft
        made = rosa.post(url, data={"csrf_token": token, "action": "draft"}, follow_redirects=False)
        assert made.status_code == 303 and made.headers["location"] == f"{url}?done=drafted"
    with db.reading() as session:
        assert len(session.scalars(select(ComplaintReply)).all()) == 1
    page = rosa.get(made.headers["location"])
    assert page.status_code == 200
    assert (
        'name="body"' in page.text and "Sincerity check" in page.text and "Approve &amp; queue" in page.text
    )
    # The page drafts with today's date: the promised day is the due day, or the next working day after today.
    assert re.search(r"by (?:Monday|Tuesday|Wednesday|Thursday|Friday) \d+ [A-Z][a-z]+", page.text)
    assert "reads as sincere" in page.text
    body = re.search(r'<textarea id="reply-body"[^>]*>(.*?)</textarea>', page.text, re.DOTALL)
    assert body is not None
    text = body.group(1).replace("&#39;", "'").replace("&amp;", "&")

    saved = rosa.post(
        url,
        data={"csrf_token": token, "action": "save", "body": text + PITCH, "subject": "Re: Cracked lid"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = rosa.get(saved.headers["location"])
    assert "needs changes before it can go" in shown.text and "sales pitch" in shown.text

    refused = rosa.post(
        url, data={"csrf_token": token, "action": "approve", "body": text + PITCH}, follow_redirects=False
    )
    assert refused.status_code == 422
    assert "problems to fix before it can be approved" in refused.text and "SORRY15" in refused.text
    live = rosa.post(f"{url}/check", data={"body": text}, headers={"X-CSRF-Token": token})
    assert live.status_code == 200 and "reads as sincere" in live.text

    approved = rosa.post(
        url,
        data={"csrf_token": token, "action": "approve", "body": text, "subject": "Re: Cracked lid"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    done = rosa.get(approved.headers["location"])
    assert "queued" in done.text.lower() and 'name="body"' not in done.text
    assert load(db, Complaint, s.complaint).status == "responded"  # type: ignore[attr-defined]
    with db.reading() as session:
        [message] = session.scalars(select(Message)).all()
        assert message.purpose == "complaint_reply" and "SORRY15" not in message.body


def test_reply_page_is_a_404_for_staff_who_may_not_see_the_complaint_and_needs_csrf(db: Database) -> None:
    s = shop(db)
    sam = staff_client(db, s, "sam@teapot.test")
    url = f"/complaints/{s.complaint}/reply"
    assert sam.get(url).status_code == 404
    token = form_token(sam.get("/people").text)
    assert sam.post(url, data={"csrf_token": token, "action": "discard"}).status_code == 404
    assert sam.post(f"{url}/check", data={"body": "x"}, headers={"X-CSRF-Token": token}).status_code == 404
    rosa = staff_client(db, s, "rosa@teapot.test")
    assert rosa.get(url).status_code == 200
    draft(db, s)
    assert (
        rosa.post(url, data={"action": "discard"}, follow_redirects=False).status_code == 403
    )  # no CSRF token
    with db.reading() as session:
        assert session.scalars(select(ComplaintReply.status)).all() == ["draft"]
    anonymous = TestClient(create_app(s.settings, db), base_url=BASE_URL)
    assert anonymous.get(url, follow_redirects=False).status_code in (303, 401)
    token = form_token(rosa.get(url).text)
    for huge in (str(2**63), str(2**64 + 1)):  # past a BIGINT: not found, never a server error
        odd = f"/complaints/{huge}/reply"
        assert rosa.get(odd).status_code == 404
        assert rosa.post(odd, data={"csrf_token": token, "action": "draft"}).status_code == 404
        assert (
            rosa.post(f"{odd}/check", data={"body": "x"}, headers={"X-CSRF-Token": token}).status_code == 404
        )


def test_discarded_draft_is_not_redrafted_by_opening_the_page(db: Database) -> None:
    s = shop(db)
    rosa = staff_client(db, s, "rosa@teapot.test")
    url = f"/complaints/{s.complaint}/reply"
    token = form_token(rosa.get(url).text)
    for action in ("draft", "discard"):
        sent = rosa.post(url, data={"csrf_token": token, "action": action}, follow_redirects=False)
        assert sent.status_code == 303
    page = rosa.get(url)
    assert "1 draft discarded" in page.text and "Write a new draft" in page.text
    assert (
        rosa.post(url, data={"csrf_token": token, "action": "draft"}, follow_redirects=False).status_code
        == 303
    )
    with db.reading() as session:
        assert sorted(session.scalars(select(ComplaintReply.status)).all()) == ["discarded", "draft"]
    person_row = load(db, Person, s.ann)
    assert person_row.email == "ann@example.com"  # type: ignore[attr-defined]


def test_nul_characters_posted_to_the_reply_and_satisfaction_pages_are_taken_out(db: Database) -> None:
    """PostgreSQL refuses NUL in text: a pasted one must not turn a save into a server error."""
    s = shop(db)
    reply = draft(db, s)
    rosa = staff_client(db, s, "rosa@teapot.test")
    url = f"/complaints/{s.complaint}/reply"
    token = form_token(rosa.get(url).text)
    nul_body = reply.body.replace("Thank you", "Thank\x00 you", 1)
    saved = rosa.post(
        url,
        data={"csrf_token": token, "action": "save", "body": nul_body, "subject": "Re: Cracked\x00 lid"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    stored = load(db, ComplaintReply, reply.id)
    assert "\x00" not in stored.body + stored.subject and stored.subject == "Re: Cracked lid"  # type: ignore[attr-defined]
    live = rosa.post(f"{url}/check", data={"body": nul_body}, headers={"X-CSRF-Token": token})
    assert live.status_code == 200
    approved = rosa.post(
        url,
        data={"csrf_token": token, "action": "approve", "body": nul_body, "subject": "Re:\x00 Cracked lid"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    with db.reading() as session:
        [message] = session.scalars(select(Message)).all()
        assert "\x00" not in message.body + message.subject and "Thank you" in message.body

    public = TestClient(create_app(s.settings, db), base_url=BASE_URL)
    token = replies.satisfaction_token(
        secret_key=SECRET, complaint_id=s.complaint, expires_at=datetime.now(UTC) + timedelta(days=9)
    )
    answered = public.post(f"/my/complaint/{token}", data={"answer": "partly\x00"})
    assert answered.status_code == 200
    assert load(db, Complaint, s.complaint).satisfaction == "partly"  # type: ignore[attr-defined]
    assert public.get(f"/my/complaint/{token}%00").status_code == 404
    assert public.post(f"/my/complaint/{token}%00", data={"answer": "no"}).status_code == 404


def test_a_stop_or_an_unsubscribe_that_cancels_a_queued_reply_reopens_the_clock(db: Database) -> None:
    """cancel_pending (unsubscribe, STOP, erasure) stops the reply, and says so on the complaint."""
    from goodwill.outbox.stop import cancel_pending

    s = shop(db)
    reply = approve(db, s, draft(db, s).id)
    assert load(db, Complaint, s.complaint).status == "responded"  # type: ignore[attr-defined]
    with db.transaction() as session:
        person_id = load(db, Complaint, s.complaint).person_id  # type: ignore[attr-defined]
        assert cancel_pending(session, person_ids=[person_id], reason="unsubscribed", channel="email") == 1
    complaint = load(db, Complaint, s.complaint)
    assert (complaint.status, complaint.first_responded_at) == ("open", None)  # type: ignore[attr-defined]
    assert load(db, ComplaintReply, reply.id).status == "undelivered"  # type: ignore[attr-defined]
    assert "unsubscribed" in not_delivered(db, s.complaint)[0]
