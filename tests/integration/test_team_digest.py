"""The manager's weekly digest on both backends: who did the difficult work and was not thanked lately.

The business is in New York, so its week (Monday 00:00 to Sunday 24:00 local) starts and ends five
hours after the UTC one: the boundary cases below fall on opposite sides in the two reckonings.
Ann resolves 3 complaints in SLA in the week and was never thanked; Bo resolves 4 (one escalated,
one for a customer whose relationship was healthy) and got kudos yesterday; Cy (another team)
resolves one late and was last thanked weeks ago.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from delivery_servers import SmtpSink
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import BASE_URL, add_user, login
from typer.testing import CliRunner

from goodwill.complaints.model import Complaint
from goodwill.complaints.service import NewComplaint, open_complaint, resolve
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.events.service import NewEvent, record_event
from goodwill.notes.model import Note, NoteStatus
from goodwill.outbox.model import Message
from goodwill.outbox.rules import STAFF
from goodwill.outbox.worker import Worker
from goodwill.people.service import PersonRecord, create_person
from goodwill.team.digest import (
    Digest,
    DigestRefused,
    MemberWork,
    WeekNotOver,
    iso_week_key,
    last_complete_week,
    queue_digest_emails,
    today_in,
    week_bounds,
    weekly_digest,
)
from goodwill.team.digest_cli import app as digest_cli
from goodwill.team.kudos import give_kudos
from goodwill.team.model import StaffNotice
from goodwill.team.teams import add_member, create_team
from goodwill.web.app import create_app

NY = "America/New_York"
WEEK = date(2026, 11, 22)  # a Sunday: the week is Mon 16 - Sun 22 November, New York time
SECRET = "digest-test-secret"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


NOW = utc(23, 14)  # Monday morning in New York, when the digest goes out


def make_settings(db: Database, smtp_url: str = "") -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key=SECRET,
        business={"name": "Teapot & Co", "timezone": NY},
        # The follow-up question is another engineer's feature and irrelevant to the digest.
        complaints={"satisfaction_follow_up": False},
        team={"thanked_lately_days": 30},
        delivery={"public_url": "https://goodwill.teapot.test"},
        smtp_url=smtp_url,
    )


@dataclass
class Shop:
    settings: Settings
    admin: int
    max: int
    ann: int
    bo: int
    cy: int
    mo: int
    em: int


def complaint(
    db: Database,
    settings: Settings,
    key: str,
    *,
    received: datetime,
    resolved: datetime,
    by: int,
    person_id: int | None = None,
    escalated: bool = False,
) -> int:
    """A complaint from a new prospect (or ``person_id``), resolved by ``by`` at ``resolved``."""
    with db.transaction() as s:
        new = NewComplaint(
            body=f"Complaint {key}: the lid does not fit",
            source="api",
            source_id=key,
            received_at=received,
            email=None if person_id else f"{key}@customer.test",
            name=f"Customer {key}",
            person_id=person_id,
            assignee_id=by,
        )
        row, _ = open_complaint(s, new=new, settings=settings)
        if escalated:
            row.escalated_at = received + timedelta(hours=1)
        resolve(
            s,
            complaint_id=row.id,
            resolution="Sent a new lid",
            by_user_id=by,
            now=resolved,
            settings=settings,
        )
        return row.id


def seed(db: Database) -> Shop:
    settings = make_settings(db)
    admin = add_user(db, "ada@shop.test", "admin", name="Ada Admin")
    max_ = add_user(db, "max@shop.test", "manager", name="Max Stone")
    ann = add_user(db, "ann@shop.test", "agent", name="Ann Lee")
    bo = add_user(db, "bo@shop.test", "agent", name="Bo Diaz")
    cy = add_user(db, "cy@shop.test", "agent", name="Cy Moss")
    mo = add_user(db, "mo@shop.test", "manager", name="Mo Night")
    em = add_user(db, "em@shop.test", "manager", name="Em Empty")
    with db.transaction() as s:
        day = create_team(s, name="Day shift", manager_id=max_)
        night = create_team(s, name="Night shift", manager_id=mo)
        create_team(s, name="New shop", manager_id=em)  # nobody in it yet
        for user, team in ((ann, day), (bo, day), (cy, night)):
            add_member(s, team_id=team.id, user_id=user)
        # A loyal customer: two referrals, so one complaint leaves the relationship healthy.
        loyal, _ = create_person(s, PersonRecord(name="Loyal Lou", email="lou@customer.test"), source="test")
        for n in (1, 2):
            record_event(
                s,
                NewEvent(
                    person_id=loyal.id, kind="referral", occurred_at=utc(1, 12), source="t", source_id=f"r{n}"
                ),
            )
        loyal_id = loyal.id
        # Ann also approved a thank-you note on Wednesday.
        s.add(
            Note(person_id=loyal_id, moment="loyal", channel="email", body="Thank you, Lou.", template="t",
                 status=NoteStatus.approved, score=90, ok=True, decided_by_id=ann, decided_at=utc(18, 15))
        )  # fmt: skip
    # Tuesday 09:00 New York, resolved the same afternoon: within the 24 business-hour SLA.
    for n in range(3):
        complaint(db, settings, f"ann-{n}", received=utc(17, 14), resolved=utc(17, 18 + n), by=ann)
        complaint(db, settings, f"bo-{n}", received=utc(17, 14), resolved=utc(17, 18 + n), by=bo,
                  escalated=n == 0, person_id=loyal_id if n == 1 else None)  # fmt: skip
    # Sunday 15 Nov 23:30 in New York (16 Nov in UTC): the week before, for Ann.
    complaint(db, settings, "ann-early", received=utc(13, 15), resolved=utc(16, 4, 30), by=ann)
    # Sunday 22 Nov 22:00 in New York (23 Nov in UTC): still this week, for Bo.
    complaint(db, settings, "bo-late", received=utc(20, 15), resolved=utc(23, 3), by=bo)
    # Cy answers on Friday a complaint that was due on Thursday: resolved, but not within the SLA.
    complaint(db, settings, "cy-0", received=utc(16, 14), resolved=utc(20, 15), by=cy)
    with db.transaction() as s:
        give_kudos(s, from_user_id=max_, to_user_id=bo, reason="Calm with the lid saga", settings=settings,
                   now=utc(21, 15))  # fmt: skip
        give_kudos(s, from_user_id=mo, to_user_id=cy, reason="Covered the Sunday shift", settings=settings,
                   now=utc(10, 15) - timedelta(days=30))  # fmt: skip
    return Shop(settings, admin, max_, ann, bo, cy, mo, em)


def digest_for(db: Database, shop: Shop, viewer: int, role: str, week: date = WEEK) -> Digest:
    with db.reading() as s:
        return weekly_digest(s, viewer_id=viewer, viewer_role=role, week_ending=week, settings=shop.settings)


def by_id(digest: Digest) -> dict[int, MemberWork]:
    return {m.user_id: m for m in digest.members}


def test_the_unthanked_hard_worker_comes_first_and_is_flagged(db: Database) -> None:
    shop = seed(db)
    digest = digest_for(db, shop, shop.max, "manager")
    assert [m.user_id for m in digest.members] == [shop.ann, shop.bo]  # only Max's team, not Max
    ann, bo = digest.members
    assert (ann.complaints_resolved, ann.resolved_in_sla, ann.recoveries, ann.escalations) == (3, 3, 3, 0)
    assert ann.notes_approved == 1 and ann.score == 3 * 3 + 3 + 3 * 2 + 1
    assert ann.not_thanked_lately and ann.last_thanked_on is None and ann.worth_thanking
    assert ann.reasons[0] == "resolved 3 complaints (3 within the SLA)"
    # Bo did more (one escalated; Lou's relationship stayed healthy, so no recovery there) but was
    # thanked on Saturday: below Ann, not flagged.
    assert (bo.complaints_resolved, bo.resolved_in_sla, bo.recoveries, bo.escalations) == (4, 4, 3, 1)
    assert bo.score == 4 * 3 + 4 + 3 * 2 + 1 > ann.score
    assert not bo.not_thanked_lately and bo.kudos_recent == 1 and bo.last_thanked_on == date(2026, 11, 21)
    assert digest.worth_thanking == [ann] and digest.the_rest == [bo]
    assert (digest.week_start, digest.scope) == (date(2026, 11, 16), "team")
    plain = json.loads(json.dumps(digest.as_dict()))
    assert (
        plain["members"][0]["worth_thanking"] is True
        and plain["members"][1]["last_thanked_on"] == "2026-11-21"
    )


def test_admins_see_all_staff_and_agents_are_refused(db: Database) -> None:
    shop = seed(db)
    digest = digest_for(db, shop, shop.admin, "admin")
    members = by_id(digest)
    assert set(members) == {shop.max, shop.ann, shop.bo, shop.cy, shop.mo, shop.em}
    cy = members[shop.cy]
    assert (cy.complaints_resolved, cy.resolved_in_sla, cy.score) == (1, 0, 3 + 2)  # late, but a recovery
    assert cy.not_thanked_lately and cy.last_thanked_on == date(2026, 10, 11)
    assert [m.user_id for m in digest.worth_thanking] == [shop.ann, shop.cy]
    assert digest.members[-1].user_id == shop.bo and digest.scope == "all"
    with pytest.raises(DigestRefused, match="managers and admins"):
        digest_for(db, shop, shop.ann, "agent")


def test_weeks_follow_the_business_time_zone(db: Database) -> None:
    shop = seed(db)
    start, end = week_bounds(WEEK, shop.settings.business.tz)
    assert (start, end) == (utc(16, 5), utc(23, 5))  # midnight in New York is 05:00 UTC in November
    week_before = by_id(digest_for(db, shop, shop.max, "manager", WEEK - timedelta(days=7)))
    assert week_before[shop.ann].complaints_resolved == 1  # 16 Nov 04:30 UTC is still 15 Nov there
    assert week_before[shop.bo].complaints_resolved == 0
    # Bo was thanked on 21 Nov: looking back from the 15th, he had not been (and is now worth nothing).
    assert week_before[shop.bo].last_thanked_on is None and week_before[shop.bo].not_thanked_lately


# ---- the page ---------------------------------------------------------------------------------


def browser(db: Database, shop: Shop, email: str) -> TestClient:
    client = TestClient(create_app(shop.settings, db), base_url=BASE_URL)
    assert login(client, email).status_code == 303
    return client


def test_the_page_shows_cards_for_people_worth_thanking_and_the_rest_in_a_table(db: Database) -> None:
    shop = seed(db)
    page = browser(db, shop, "max@shop.test").get("/team/digest", params={"week": "2026-11-22"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "People worth thanking this week" in html and "16 November to 22 November 2026" in html
    card = html.split(f'id="worth-{shop.ann}"')[1].split("</article>")[0]
    assert "Ann Lee" in card and "Resolved 3 complaints (3 within the SLA)" in card
    assert f'href="/team?to={shop.ann}"' in card and "Not thanked yet" in card
    assert f'id="rest-{shop.bo}"' in html and f'id="worth-{shop.bo}"' not in html
    assert "Cy Moss" not in html and "style=" not in html and "<script>" not in html
    assert 'href="/team/digest?week=2026-11-15"' in html

    admin = browser(db, shop, "ada@shop.test").get("/team/digest?week=2026-11-22")
    assert admin.status_code == 200 and f'id="worth-{shop.cy}"' in admin.text
    assert "Everyone this week" in admin.text

    agent = browser(db, shop, "ann@shop.test").get("/team/digest?week=2026-11-22")
    assert agent.status_code == 403 and "read the team digest" in agent.text
    bad = browser(db, shop, "max@shop.test").get("/team/digest?week=22/11/2026")
    assert bad.status_code == 422 and "use YYYY-MM-DD" in bad.text
    for edge in ("0001-01-01", "0001-01-06", "9999-12-31", "9999-12-25"):  # a week past the calendar's ends
        beyond = browser(db, shop, "max@shop.test").get(f"/team/digest?week={edge}")
        assert beyond.status_code == 422 and "week" in beyond.text, edge
    anonymous = TestClient(create_app(shop.settings, db), base_url=BASE_URL)
    assert anonymous.get("/team/digest", follow_redirects=False).status_code == 303


# ---- the email --------------------------------------------------------------------------------


def staff_messages(db: Database) -> list[Message]:
    with db.reading() as s:
        found = list(s.scalars(select(Message).where(Message.purpose == STAFF).order_by(Message.id)))
        s.expunge_all()
        return found


def test_one_email_per_manager_per_week_and_none_for_an_empty_team(db: Database) -> None:
    shop = seed(db)
    with db.transaction() as s:
        assert queue_digest_emails(s, settings=shop.settings, now=NOW, week_ending=WEEK) == 2
    with db.transaction() as s:
        assert queue_digest_emails(s, settings=shop.settings, now=NOW, week_ending=WEEK) == 0
        # The same ISO week, another day: still the one email.
        assert queue_digest_emails(s, settings=shop.settings, now=NOW, week_ending=WEEK - timedelta(1)) == 0
    sent = staff_messages(db)
    assert [(m.address, m.person_id, m.channel, m.subject) for m in sent] == [
        ("max@shop.test", None, "email", "Your team this week"),
        ("mo@shop.test", None, "email", "Your team this week"),
    ]
    body = sent[0].body
    assert "- Ann Lee: resolved 3 complaints (3 within the SLA)" in body and "never thanked" in body
    assert "Bo Diaz" in body.split("Also busy")[1]  # thanked lately: listed, not asked for
    assert "https://goodwill.teapot.test/team/digest?week=2026-11-22" in body
    assert "Customer" not in body and "lid" not in body  # no customer and no complaint is quoted
    with db.reading() as s:
        told = s.scalars(select(StaffNotice).where(StaffNotice.kind == "digest")).all()
        assert {(n.user_id, n.key) for n in told} == {
            (shop.max, "digest:2026-W47"),
            (shop.mo, "digest:2026-W47"),
        }
    with db.transaction() as s:  # the next week is a new email
        later = NOW + timedelta(7)
        assert queue_digest_emails(s, settings=shop.settings, now=later, week_ending=WEEK + timedelta(7)) == 2


def test_the_email_covers_the_last_complete_week_by_default(db: Database) -> None:
    """Sent on Monday morning, the digest is for Monday to Sunday just ended, not the 7 days up to today;
    running it again that day or the next queues nothing."""
    shop = seed(db)
    with db.transaction() as s:  # Sunday 22 Nov 23:00 in New York: that week is not over yet
        assert queue_digest_emails(s, settings=shop.settings, now=utc(23, 4)) == 2
        assert set(s.scalars(select(StaffNotice.key).where(StaffNotice.kind == "digest"))) == {
            "digest:2026-W46"
        }
    with db.transaction() as s:
        for now in (NOW, NOW + timedelta(hours=8), NOW + timedelta(days=1)):  # Monday, again, Tuesday
            assert queue_digest_emails(s, settings=shop.settings, now=now) == (2 if now == NOW else 0)
    week47 = [m for m in staff_messages(db) if "week=2026-11-22" in m.body]
    assert len(week47) == 2
    # Bo's complaint resolved late on Sunday (Monday in UTC) is in; Monday's are not.
    assert "- Ann Lee: resolved 3 complaints" in week47[0].body and "Bo Diaz: resolved 4" in week47[0].body
    with db.transaction() as s:  # a day in the week asks for that week
        assert queue_digest_emails(s, settings=shop.settings, now=NOW, week_ending=date(2026, 11, 18)) == 0
        with pytest.raises(WeekNotOver, match="2026-11-29"):
            queue_digest_emails(s, settings=shop.settings, now=NOW, week_ending=date(2026, 11, 23))


def test_the_last_complete_week_is_monday_to_the_sunday_before_today() -> None:
    tz = ZoneInfo(NY)
    assert last_complete_week(utc(23, 14), tz) == date(2026, 11, 22)  # Monday
    assert last_complete_week(utc(23, 4), tz) == date(2026, 11, 15)  # still Sunday 22nd in New York
    assert last_complete_week(utc(29, 12), tz) == date(2026, 11, 22)  # Sunday 29th: not over
    assert iso_week_key(date(2026, 11, 22)) == "digest:2026-W47"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def test_the_worker_delivers_the_digest_to_the_manager(db: Database, smtp: SmtpSink) -> None:
    shop = seed(db)
    settings = make_settings(db, smtp.url)
    with db.transaction() as s:
        queue_digest_emails(s, settings=settings, now=NOW, week_ending=WEEK, manager_ids=[shop.max])
    report = Worker(database=db, settings=settings, name="digest-test", clock=lambda: NOW).run(once=True)
    assert report.sent == 1, report
    [received] = smtp.received
    email = received.message
    assert received.recipients == ["max@shop.test"] and email["Subject"] == "Your team this week"
    assert email["List-Unsubscribe"] is None
    text = email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Ann Lee" in text and "unsubscribe" not in text.lower() and "To stop these emails" not in text
    [message] = staff_messages(db)
    assert message.status == "sent" and message.person_id is None


# ---- the command ------------------------------------------------------------------------------


def invoke(db: Database, *args: str) -> tuple[int, str]:
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_SECRET_KEY": SECRET, "GOODWILL_BUSINESS__TIMEZONE": NY}
    result = CliRunner().invoke(digest_cli, ["digest", *args], env=env)
    return result.exit_code, result.output


def test_cli_prints_the_digest_and_sends_it_once(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    shop = seed(db)
    code, out = invoke(db, "--manager", "max@shop.test", "--week", "2026-11-22", "--json")
    assert code == 0, out
    [digest] = json.loads(out)
    assert digest["manager"] == "max@shop.test"
    assert [m["user_id"] for m in digest["members"]] == [shop.ann, shop.bo]
    code, out = invoke(db, "--week", "2026-11-22")
    assert code == 0 and "Ann Lee" in out and "Cy Moss" in out and "Em Empty" not in out
    code, out = invoke(db, "--week", "2026-11-22", "--send")
    assert code == 1 and "digest_email" in out  # off by default: nothing is queued
    monkeypatch.setenv("GOODWILL_TEAM__DIGEST_EMAIL", "true")
    code, out = invoke(db, "--week", "2026-11-22", "--send")
    assert code == 0 and "Queued 2" in out, out
    code, out = invoke(db, "--week", "2026-11-22", "--send")
    assert code == 0 and "Queued 0" in out
    code, out = invoke(db, "--week", "2026-11-17", "--send")  # a Tuesday: the same ISO week
    assert code == 0 and "Queued 0" in out
    this_week = today_in(ZoneInfo(NY), datetime.now(UTC)).isoformat()
    code, out = invoke(db, "--week", this_week, "--send")
    assert code == 1 and "not over" in out, out
    code, out = invoke(db, "--manager", "ann@shop.test")
    assert code == 1 and "managers and admins" in out
    code, out = invoke(db, "--week", "Sunday")
    assert code == 1 and "--week" in out
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 9
