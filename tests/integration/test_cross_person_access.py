"""Cross-person access is refused: a member of staff reaching a complaint outside what they may see,
and a customer's link used for, or altered to name, someone else.

Complaints are the one place where an agent's view is narrowed (``goodwill.complaints.visibility``):
agents see their own, those escalated to them and the unassigned queue; managers also their teams';
admins all. A complaint one may not see is "not found" (404) for reading and for every action, the
answer is the same as for an id that does not exist, and nothing about it changes.

Customer links (``/my/loyalty``, ``/my/complaint``, ``/unsubscribe``) are signed tokens naming one
person (or complaint). Changing the id in a token, pairing one person's payload with another's
signature, or using a token of one kind as another gives the same broken-link page, which names no
one, and changes nothing for either person.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import BASE_URL, PASSWORD, login, session_csrf

from goodwill.complaints.model import Complaint
from goodwill.complaints.reply_service import satisfaction_token
from goodwill.complaints.service import NewComplaint, open_complaint
from goodwill.complaints.visibility import HIDDEN_TEXT, hide_streak_details
from goodwill.config import load_settings
from goodwill.db import Database, utcnow
from goodwill.loyalty import ledger, members
from goodwill.loyalty.links import customer_token
from goodwill.loyalty.model import EntryKind, Redemption
from goodwill.loyalty.redemption import redeem
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.service import PersonRecord, create_person, current_consent, record_consent
from goodwill.people.unsubscribe import make_token
from goodwill.team.service import create_api_token, create_user
from goodwill.team.teams import add_member, create_team
from goodwill.web.api import API_PREFIX
from goodwill.web.app import create_app

SECRET = "test-secret"
AT = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)

# --- complaints outside one's queue -------------------------------------------------------------------


@dataclass
class Floor:
    ids: dict[str, int]  # users and complaints by name
    bearers: dict[str, dict[str, str]]  # by role
    browsers: dict[str, TestClient]  # logged in, CSRF header set, by role


def floor(db: Database) -> Floor:
    """Ada (admin); Max manages the day team (Ann); Bo is on the night team. One complaint in the
    shared queue, one each assigned to Ann and to Bo."""
    settings = load_settings(database_url=db.url, secret_key=SECRET)
    people = (("ada", "admin"), ("max", "manager"), ("ann", "agent"), ("bo", "agent"))
    with db.transaction() as s:
        ids = {
            name: create_user(session=s, email=f"{name}@shop.test", role=role, password=PASSWORD).id
            for name, role in people
        }
        day = create_team(s, name="Day", manager_id=ids["max"])
        night = create_team(s, name="Night")
        add_member(s, team_id=day.id, user_id=ids["ann"])
        add_member(s, team_id=night.id, user_id=ids["bo"])
        for name, assignee in (("shared", None), ("ann_c", ids["ann"]), ("bo_c", ids["bo"])):
            new = NewComplaint(
                body=f"The {name} teapot dripped", source="api", source_id=name, received_at=AT,
                email=f"{name}@customer.test", assignee_id=assignee,
            )  # fmt: skip
            ids[name] = open_complaint(s, new=new, settings=settings)[0].id
        roles = {"admin": "ada", "manager": "max", "agent": "ann"}
        bearers = {
            role: {"Authorization": f"Bearer {create_api_token(session=s, user_id=ids[n], name='t')}"}
            for role, n in roles.items()
        }
    app = create_app(settings, db)
    browsers = {}
    for role, name in roles.items():
        client = TestClient(app, base_url=BASE_URL)
        assert login(client, f"{name}@shop.test").status_code == 303
        client.headers["X-CSRF-Token"] = session_csrf(client)
        browsers[role] = client
    return Floor(ids, bearers, browsers)


def state(db: Database, complaint_id: int) -> tuple[object, ...]:
    with db.reading() as s:
        c = s.get(Complaint, complaint_id)
        assert c is not None
        return (c.status, c.priority, c.assignee_id, c.resolution, c.resolved_at)


def without_id(text: str, number: int) -> str:
    """The text with the number replaced where it stands alone (not inside the icon's SVG path)."""
    return re.sub(rf"(?<![\w.-]){number}(?![\w.])", "N", text)


def acts(shop: Floor, role: str, cid: int) -> dict[str, httpx.Response]:
    """Every read and action on one complaint, through the API (bearer) and the pages (session)."""
    api, page, me = shop.bearers[role], shop.browsers[role], shop.ids["ann"]
    anonymous = shop.browsers[role]  # the bearer header wins over the cookie
    base = f"{API_PREFIX}/complaints/{cid}"
    return {
        "api read": anonymous.get(base, headers=api),
        "api assign": anonymous.post(f"{base}/assign", json={"assignee_id": me}, headers=api),
        "api priority": anonymous.post(f"{base}/priority", json={"priority": "urgent"}, headers=api),
        "api resolve": anonymous.post(f"{base}/resolve", json={"resolution": "Refunded"}, headers=api),
        "page read": page.get(f"/complaints/{cid}"),
        "page assign": page.post(f"/complaints/{cid}/assign", data={"assignee_id": str(me)}),
        "page priority": page.post(f"/complaints/{cid}/priority", data={"priority": "urgent"}),
        "page resolve": page.post(f"/complaints/{cid}/resolve", data={"resolution": "Refunded"}),
        "reply page": page.get(f"/complaints/{cid}/reply"),
        "reply save": page.post(f"/complaints/{cid}/reply", data={"action": "draft", "body": "Sorry"}),
        "reply check": page.post(f"/complaints/{cid}/reply/check", data={"body": "Sorry"}),
    }


def test_a_complaint_outside_ones_view_is_not_found_for_every_read_and_action(db: Database) -> None:
    shop = floor(db)
    # Bo's complaint: another agent's for Ann, outside Max's team for Max.
    for viewer, complaint in (("agent", "bo_c"), ("manager", "bo_c")):
        cid = shop.ids[complaint]
        before = state(db, cid)
        answers = acts(shop, viewer, cid)
        assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404), viewer
        assert state(db, cid) == before  # nothing changed
        # The very same answer as for a complaint that does not exist: its existence is not revealed.
        missing = acts(shop, viewer, 999_999)
        for name, response in answers.items():
            assert without_id(response.text, cid) == without_id(missing[name].text, 999_999), (viewer, name)
        assert "teapot" not in "".join(r.text for r in answers.values())
        listed = shop.browsers[viewer].get(f"{API_PREFIX}/complaints", headers=shop.bearers[viewer])
        assert cid not in [item["id"] for item in listed.json()["items"]]
        assert f"/complaints/{cid}" not in shop.browsers[viewer].get("/complaints").text


def test_a_complaint_within_ones_view_can_be_read_and_acted_on(db: Database) -> None:
    shop = floor(db)
    cases = (
        ("agent", "ann_c"),  # their own
        ("agent", "shared"),  # the queue to pick from (Ann takes it: assign)
        ("manager", "ann_c"),  # their team's
        ("manager", "shared"),  # now Ann's, so their team's too
        ("admin", "bo_c"),  # admins see all
    )
    for viewer, complaint in cases:
        cid = shop.ids[complaint]
        answers = acts(shop, viewer, cid)
        for name, response in answers.items():  # a 422 (nothing to change, say) is fine; not these
            assert response.status_code not in (401, 403, 404), (viewer, complaint, name, response.text)
            assert response.status_code < 500, (viewer, complaint, name)
        assert answers["api read"].status_code == answers["page read"].status_code == 200
        listed = shop.browsers[viewer].get(f"{API_PREFIX}/complaints", headers=shop.bearers[viewer])
        assert cid in [item["id"] for item in listed.json()["items"]]
        assert state(db, cid)[1] == "urgent"


def test_the_text_of_a_complaint_outside_ones_view_is_not_on_the_persons_timeline(db: Database) -> None:
    """The complaint's own words are also its person's 'complaint' event, which every member of
    staff reads on the person's timeline and bank statement: there they are hidden from anyone who
    may not see the complaint, while the event itself (it moved the bank) stays."""
    shop = floor(db)
    with db.reading() as s:
        person_id = s.scalar(select(Complaint.person_id).where(Complaint.id == shop.ids["bo_c"]))
    agent = shop.browsers["agent"]
    events = agent.get(f"{API_PREFIX}/people/{person_id}/events", headers=shop.bearers["agent"])
    assert events.status_code == 200
    assert "bo_c teapot" not in events.text
    assert HIDDEN_TEXT in [item["text"] for item in events.json()["items"] if item["kind"] == "complaint"]
    page = agent.get(f"/people/{person_id}")
    assert page.status_code == 200
    assert "bo_c teapot" not in page.text
    assert "complaint outside your view" in page.text
    fragment = agent.get(f"/people/{person_id}/timeline")
    assert fragment.status_code == 200 and "bo_c teapot" not in fragment.text
    statement = agent.get(f"{API_PREFIX}/bank/people/{person_id}/statement", headers=shop.bearers["agent"])
    assert statement.status_code == 200 and "bo_c teapot" not in statement.text
    # The admin, who sees every complaint, reads its words everywhere.
    admin_events = shop.browsers["admin"].get(
        f"{API_PREFIX}/people/{person_id}/events", headers=shop.bearers["admin"]
    )
    assert "bo_c teapot" in admin_events.text
    assert "bo_c teapot" in shop.browsers["admin"].get(f"/people/{person_id}").text


def test_the_at_risk_streaks_hide_the_words_of_complaints_outside_ones_view(db: Database) -> None:
    shop = floor(db)
    with db.reading() as s:
        rows = s.execute(select(Complaint.id, Complaint.event_id).where(Complaint.id.in_(
            [shop.ids["bo_c"], shop.ids["ann_c"]]))).all()  # fmt: skip
    event_of = dict(rows)

    def items() -> list[dict[str, Any]]:
        streak = [
            {"event_id": event_of[shop.ids[name]], "kind": "complaint", "detail": f"The {name} teapot"}
            for name in ("bo_c", "ann_c")
        ] + [{"event_id": None, "kind": "late_delivery", "detail": "Late"}]
        return [{"streak": streak}]

    for user, role, hidden in (
        ("ann", "agent", ["bo_c"]),
        ("ada", "admin", []),
        ("max", "manager", ["bo_c"]),
    ):
        found = items()
        with db.reading() as s:
            hide_streak_details(s, user_id=shop.ids[user], role=role, items=found)
        details = [entry["detail"] for entry in found[0]["streak"]]
        assert details[2] == "Late"
        for name, detail in zip(("bo_c", "ann_c"), details[:2], strict=True):
            assert (detail == HIDDEN_TEXT) == (name in hidden), (user, name, detail)


# --- customer links ----------------------------------------------------------------------------------


@dataclass
class Two:
    client: TestClient
    zoe: int
    hiro: int
    reward: int
    hiro_redemption: int
    zoe_complaint: int
    hiro_complaint: int

    def loyalty(self, person_id: int, *, days: int = 7) -> str:
        expires = utcnow() + timedelta(days=days)
        return customer_token(secret_key=SECRET, person_id=person_id, expires_at=expires)

    def question(self, complaint_id: int) -> str:
        expires = utcnow() + timedelta(days=7)
        return satisfaction_token(secret_key=SECRET, complaint_id=complaint_id, expires_at=expires)


def two_customers(db: Database) -> Two:
    settings = load_settings(database_url=db.url, secret_key=SECRET)
    now = utcnow()
    with db.transaction() as s:
        zoe, _ = create_person(s, PersonRecord(name="Zoe Lemaire", email="zoe@customer.test"), source="t")
        hiro, _ = create_person(s, PersonRecord(name="Hiro Tanaka", email="hiro@customer.test"), source="t")
        for person, points in ((zoe, 300), (hiro, 4321)):
            ledger.add_lot(
                s, person_id=person.id, kind=EntryKind.earn, points=points, key=f"earn:{person.id}",
                at=now - timedelta(days=30), available_at=now - timedelta(days=16), expires_at=None,
            )  # fmt: skip
            record_consent(s, person_id=person.id, channel="email", granted=True, source="test")
        reward = create_reward(
            s, data=RewardInput(name="Lemon tart tin", kind="free_shipping", cost_points=1000)
        )
        hiro_redemption = redeem(
            s, person_id=hiro.id, reward_id=reward.id, request_key="hiro", ship_to=None, now=now, by="test",
            settings=settings,
        ).redemption.id  # fmt: skip
        complaints = {}
        for person in (zoe, hiro):
            new = NewComplaint(body="The lid was cracked", source="api", source_id=f"c{person.id}",
                               received_at=AT, person_id=person.id)  # fmt: skip
            complaints[person.id] = open_complaint(s, new=new, settings=settings)[0].id
        ids = (zoe.id, hiro.id, reward.id, hiro_redemption, complaints[zoe.id], complaints[hiro.id])
    client = TestClient(create_app(settings, db), base_url=BASE_URL)
    return Two(client, *ids)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_id(token: str, new_id: int) -> str:
    """The token with the id at the start of its payload changed, its signature kept."""
    payload, signature = token.split(".")
    changed = re.sub(r"^\d+", str(new_id), _unb64(payload).decode())
    return f"{_b64(changed.encode())}.{signature}"


def spliced(payload_of: str, signature_of: str) -> str:
    """One token's payload with another's signature."""
    return f"{payload_of.split('.')[0]}.{signature_of.split('.')[1]}"


def points(db: Database, person_id: int) -> int:
    with db.reading() as s:
        return ledger.summary(s, person_id=person_id, now=utcnow()).available


def redemptions(db: Database) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(Redemption)) or 0


def reveals_nothing(response: httpx.Response) -> None:
    for secret in ("Hiro", "Tanaka", "hiro@", "4,321", "4321", "Zoe", "Lemaire"):
        assert secret not in response.text, secret


def test_a_loyalty_link_shows_its_own_person_only(db: Database) -> None:
    two = two_customers(db)
    page = two.client.get(f"/my/loyalty/{two.loyalty(two.zoe)}")
    assert page.status_code == 200
    assert "Zoe" in page.text and "Hiro" not in page.text and "4,321" not in page.text
    # Hiro's redemption number in Zoe's page's query says nothing about it.
    other = two.client.get(f"/my/loyalty/{two.loyalty(two.zoe)}?redeemed={two.hiro_redemption}")
    assert other.status_code == 200 and "is yours for" not in other.text


def test_a_loyalty_link_changed_to_name_someone_else_is_refused(db: Database) -> None:
    two = two_customers(db)
    zoe, hiro = two.loyalty(two.zoe), two.loyalty(two.hiro)
    forged = {"id changed": with_id(zoe, two.hiro), "signature swapped": spliced(hiro, zoe)}
    assert two.client.get(f"/my/loyalty/{forged['id changed']}").status_code == 404  # the helper works:
    assert with_id(zoe, two.zoe) == zoe  # the same id gives back the very token
    before = (points(db, two.hiro), redemptions(db))
    for how, token in forged.items():
        shown = two.client.get(f"/my/loyalty/{token}")
        assert shown.status_code == 404, how
        reveals_nothing(shown)
        spent = two.client.post(
            f"/my/loyalty/{token}/redeem", data={"reward_id": str(two.reward), "nonce": "n" * 30}
        )
        assert spent.status_code == 404, how
        reveals_nothing(spent)
        birthday = two.client.post(f"/my/loyalty/{token}/birthday", data={"month": "5", "day": "4"})
        assert birthday.status_code == 404, how
    assert (points(db, two.hiro), redemptions(db)) == before
    with db.reading() as s:
        assert members.birthday_of(s, person_id=two.hiro) is None
    # An expired link of the right person says so, and no more.
    expired = two.client.get(f"/my/loyalty/{two.loyalty(two.hiro, days=-1)}")
    assert expired.status_code == 410
    reveals_nothing(expired)


def test_links_of_one_kind_do_not_pass_as_another(db: Database) -> None:
    """The complaint link's payload is a complaint id: under the loyalty key it would name a person."""
    two = two_customers(db)
    question_as_loyalty = two.client.get(f"/my/loyalty/{two.question(two.hiro)}")  # id == Hiro's person id
    assert question_as_loyalty.status_code == 404
    reveals_nothing(question_as_loyalty)
    loyalty_as_question = two.client.post(
        f"/my/complaint/{two.loyalty(two.hiro_complaint)}", data={"answer": "no"}
    )
    assert loyalty_as_question.status_code == 404
    unsubscribe_as_loyalty = make_token(SECRET, person_id=two.hiro, channel="email", message_id=1)
    assert two.client.get(f"/my/loyalty/{unsubscribe_as_loyalty}").status_code == 404
    assert two.client.post(f"/unsubscribe/{two.loyalty(two.hiro)}").status_code == 400
    with db.reading() as s:
        assert s.get(Complaint, two.hiro_complaint).satisfaction is None  # type: ignore[union-attr]
        assert current_consent(s, two.hiro)["email"]["granted"] is True


def test_a_satisfaction_link_answers_for_its_own_complaint_only(db: Database) -> None:
    two = two_customers(db)
    zoe, hiro = two.question(two.zoe_complaint), two.question(two.hiro_complaint)
    for token in (with_id(zoe, two.hiro_complaint), spliced(hiro, zoe)):
        assert two.client.get(f"/my/complaint/{token}").status_code == 404
        answered = two.client.post(f"/my/complaint/{token}", data={"answer": "no"})
        assert answered.status_code == 404
        reveals_nothing(answered)
    assert two.client.post(f"/my/complaint/{zoe}", data={"answer": "yes"}).status_code == 200
    with db.reading() as s:
        assert s.get(Complaint, two.hiro_complaint).satisfaction is None  # type: ignore[union-attr]
        assert s.get(Complaint, two.zoe_complaint).satisfaction == "yes"  # type: ignore[union-attr]


def test_an_unsubscribe_link_changed_to_name_someone_else_is_refused(db: Database) -> None:
    two = two_customers(db)
    zoe = make_token(SECRET, person_id=two.zoe, channel="email", message_id=1)
    hiro = make_token(SECRET, person_id=two.hiro, channel="email", message_id=2)
    for token in (with_id(zoe, two.hiro), spliced(hiro, zoe)):
        for method in ("GET", "POST"):
            answer = two.client.request(method, f"/unsubscribe/{token}")
            assert answer.status_code == 400
            reveals_nothing(answer)
        one_click = two.client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 400
    with db.reading() as s:
        assert current_consent(s, two.hiro)["email"]["granted"] is True
    # Zoe's own link unsubscribes Zoe, and only her.
    assert two.client.post(f"/unsubscribe/{zoe}").status_code == 200
    with db.reading() as s:
        assert current_consent(s, two.zoe)["email"]["granted"] is False
        assert current_consent(s, two.hiro)["email"]["granted"] is True
