"""The loyalty web layer on both backends: the JSON API, the staff pages, the person panel and the
customer's signed page, with roles, idempotency and refusals in plain words.

The shop is seeded through the real services: Zoë holds 600 spendable points (100 of them expiring
in 20 days), 200 pending for 5 more days, and the catalogue has a posted gift (500, stock 3), free
shipping (100) and a tea tasting (900).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_web_client import add_user, form_token, login, make_client, make_settings, token_for

from goodwill.db import Database, utcnow
from goodwill.loyalty import awards, ledger, members
from goodwill.loyalty.links import customer_token
from goodwill.loyalty.model import (
    EntryKind,
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyRuleOverride,
    Redemption,
    Reward,
)
from goodwill.loyalty.rewards import RewardInput, create_reward
from goodwill.people.privacy import erase_person
from goodwill.people.service import PersonRecord, create_person
from goodwill.web.api import API_PREFIX
from goodwill.web.deps import role_table

L = f"{API_PREFIX}/loyalty"
SECRET = "test-secret"  # make_settings' secret key


@dataclass
class Shop:
    zoe: int
    hiro: int
    gift: int
    shipping: int
    tasting: int
    admin: dict[str, str]
    manager: dict[str, str]
    agent: dict[str, str]


def seed(db: Database) -> Shop:
    now = utcnow()
    users = {
        role: add_user(db, f"{role}@shop.test", role, name=role.title())
        for role in ("admin", "manager", "agent")
    }
    with db.transaction() as s:
        zoe, _ = create_person(
            s,
            PersonRecord(
                name="Zoë Lefèvre",
                email="zoe@lefevre.test",
                kind="customer",
                address_line1="12 rue des Lilas",
                city="Lyon",
                postal_code="69001",
                country="France",
            ),
            source="test",
        )
        hiro, _ = create_person(
            s, PersonRecord(name="Ōta Hiroshi", email="hiro@ota.test", kind="customer"), source="test"
        )
        for key, points, earned, available, expires in [
            ("a", 100, now - timedelta(days=300), now - timedelta(days=286), now + timedelta(days=20)),
            ("b", 500, now - timedelta(days=40), now - timedelta(days=26), now + timedelta(days=300)),
            ("c", 200, now - timedelta(days=9), now + timedelta(days=5), now + timedelta(days=350)),
        ]:
            ledger.add_lot(
                s,
                person_id=zoe.id,
                kind=EntryKind.earn,
                points=points,
                key=f"earn:test:{key}",
                at=earned,
                available_at=available,
                expires_at=expires,
                rule="purchase",
            )
        ledger.add_lot(
            s,
            person_id=hiro.id,
            kind=EntryKind.earn,
            points=1000,
            key="earn:test:hiro",
            at=now - timedelta(days=30),
            available_at=now - timedelta(days=16),
            expires_at=None,
        )
        gift = create_reward(
            s, data=RewardInput(name="Lemon tart tin", kind="physical_gift", cost_points=500, stock=3)
        )
        shipping = create_reward(
            s, data=RewardInput(name="Free shipping", kind="free_shipping", cost_points=100)
        )
        tasting = create_reward(s, data=RewardInput(name="Tea tasting", kind="experience", cost_points=900))
        ids = (zoe.id, hiro.id, gift.id, shipping.id, tasting.id)
    return Shop(*ids, *(token_for(db, users[role]) for role in ("admin", "manager", "agent")))


def erase(db: Database, person_id: int) -> None:
    with db.transaction() as s:
        erase_person(
            s, person_ref=person_id, secret_key=SECRET, erased_by="test", reason="asked to be forgotten"
        )


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def count(db: Database, model: type) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def available(db: Database, person_id: int) -> int:
    with db.reading() as s:
        return ledger.summary(s, person_id=person_id, now=utcnow()).available


ADDRESS = {
    "name": "Zoë Lefèvre",
    "line1": "12 rue des Lilas",
    "city": "Lyon",
    "postal_code": "69001",
    "country": "France",
}


# -- API ----------------------------------------------------------------------------------------------


def test_account_shows_available_pending_expiring_and_tier(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    answer = client.get(f"{L}/accounts/{shop.zoe}", headers=shop.agent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["available"], body["pending"], body["balance"], body["issued"]) == (600, 200, 800, 800)
    assert [e["points"] for e in body["expiring"]] == [100]
    assert [p["points"] for p in body["pending_lots"]] == [200]
    assert body["progress"]["tier"] and "to_next" in body["progress"]
    assert client.get(f"{L}/accounts/999999", headers=shop.agent).status_code == 404
    assert client.get(f"{L}/accounts/{shop.zoe}").status_code == 401


def test_entries_page_newest_first(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    first = client.get(f"{L}/accounts/{shop.zoe}/entries", params={"limit": 2}, headers=shop.agent).json()
    assert [e["key"] for e in first["items"]] == ["earn:test:c", "earn:test:b"]
    rest = client.get(
        f"{L}/accounts/{shop.zoe}/entries",
        params={"limit": 2, "before_id": first["next_before_id"]},
        headers=shop.agent,
    ).json()
    assert [e["key"] for e in rest["items"]] == ["earn:test:a"] and rest["next_before_id"] is None


def test_redeeming_needs_an_idempotency_key(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    answer = client.post(
        f"{L}/redemptions", json={"person_id": shop.zoe, "reward_id": shop.shipping}, headers=shop.agent
    )
    assert answer.status_code == 428 and "Idempotency-Key" in answer.json()["detail"]
    assert count(db, Redemption) == 0 and available(db, shop.zoe) == 600


def test_redeeming_once_replays_and_refuses_a_reused_key(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    body = {"person_id": shop.zoe, "reward_id": shop.gift, "ship_to": ADDRESS}
    first = client.post(f"{L}/redemptions", json=body, headers=shop.agent | key("order-1"))
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["status"] == "pending" and made["points"] == 500 and made["ship_to"]["city"] == "Lyon"
    assert made["request_key"] == "order-1"
    again = client.post(f"{L}/redemptions", json=body, headers=shop.agent | key("order-1"))
    assert (
        again.status_code == 201 and again.json() == made and again.headers["idempotent-replayed"] == "true"
    )
    other = client.post(
        f"{L}/redemptions", json=body | {"reward_id": shop.shipping}, headers=shop.agent | key("order-1")
    )
    assert other.status_code == 409 and "different request" in other.json()["detail"]
    assert count(db, Redemption) == 1 and available(db, shop.zoe) == 100
    with db.reading() as s:
        assert s.get(Reward, shop.gift).stock == 2  # type: ignore[union-attr]
    # Another staff member with the same key for the same person finds the same redemption.
    same = client.post(f"{L}/redemptions", json=body, headers=shop.manager | key("order-1"))
    assert same.status_code == 200 and same.json()["id"] == made["id"]
    clash = client.post(
        f"{L}/redemptions", json=body | {"reward_id": shop.shipping}, headers=shop.admin | key("order-1")
    )
    assert clash.status_code == 409 and clash.json()["code"] == "key_reused"


@pytest.mark.parametrize(
    ("reward", "ship_to", "code", "words"),
    [
        ("tasting", None, "not_enough_points", "(200 of them still pending); this reward needs 900."),
        ("gift", None, "address_needed", "delivery address"),
        ("missing", None, "unknown_reward", "no reward"),
    ],
    ids=["short", "no-address", "unknown"],
)
def test_refusals_are_422_in_plain_words_and_write_nothing(
    db: Database, reward: str, ship_to: dict[str, str] | None, code: str, words: str
) -> None:
    shop, client = seed(db), make_client(db)
    reward_id = getattr(shop, reward, 987654)
    body = {"person_id": shop.zoe, "reward_id": reward_id, "ship_to": ship_to}
    answer = client.post(f"{L}/redemptions", json=body, headers=shop.agent | key(f"refused-{reward}"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code and words in answer.json()["detail"]
    assert count(db, Redemption) == 0 and available(db, shop.zoe) == 600
    # Nothing was stored for the key either: once the reason is gone, the same key works.
    if code == "address_needed":
        fixed = client.post(
            f"{L}/redemptions", json=body | {"ship_to": ADDRESS}, headers=shop.agent | key("refused-gift")
        )
        assert fixed.status_code == 201


def test_points_still_pending_are_explained(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    reward = {"name": "Dinner for two", "kind": "experience", "cost_points": 700}
    made = client.post(f"{L}/rewards", json=reward, headers=shop.manager).json()
    answer = client.post(
        f"{L}/redemptions",
        json={"person_id": shop.zoe, "reward_id": made["id"]},
        headers=shop.agent | key("p"),
    )
    assert answer.status_code == 422 and answer.json()["code"] == "points_pending"
    assert "200 are still pending until" in answer.json()["detail"]


def test_fulfilment_flow_and_refund_through_the_api(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    made = client.post(
        f"{L}/redemptions",
        json={"person_id": shop.zoe, "reward_id": shop.gift, "ship_to": ADDRESS},
        headers=shop.agent | key("gift"),
    ).json()
    rid = made["id"]
    assert (
        client.post(
            f"{L}/redemptions/{rid}/status", json={"status": "to_fulfil"}, headers=shop.agent
        ).status_code
        == 403
    )
    skip = client.post(f"{L}/redemptions/{rid}/status", json={"status": "delivered"}, headers=shop.manager)
    assert skip.status_code == 422 and skip.json()["code"] == "bad_transition" and skip.json()["detail"]
    for status, tracking in [("to_fulfil", None), ("shipped", "LP123456789FR")]:
        moved = client.post(
            f"{L}/redemptions/{rid}/status",
            json={"status": status, "tracking": tracking},
            headers=shop.manager,
        )
        assert moved.status_code == 200 and moved.json()["status"] == status
    assert moved.json()["tracking"] == "LP123456789FR"
    queue = client.get(f"{L}/redemptions", params={"status": ["shipped"]}, headers=shop.manager).json()
    assert [r["id"] for r in queue["items"]] == [rid] and queue["items"][0]["ship_to"]["city"] == "Lyon"
    assert (
        client.get(f"{L}/redemptions", params={"status": "pending"}, headers=shop.manager).json()["items"]
        == []
    )
    # The list carries shipping addresses: like the Fulfilment page, it is not for agents.
    assert client.get(f"{L}/redemptions", headers=shop.agent).status_code == 403
    assert (
        client.post(f"{L}/redemptions/{rid}/refund", json={"reason": "lost"}, headers=shop.agent).status_code
        == 403
    )
    back = client.post(
        f"{L}/redemptions/{rid}/refund", json={"reason": "lost in the post"}, headers=shop.admin
    )
    assert back.status_code == 200 and back.json()["status"] == "refunded"
    assert available(db, shop.zoe) == 600
    with db.reading() as s:
        assert s.get(Reward, shop.gift).stock == 3  # type: ignore[union-attr]
    missing = client.post(f"{L}/redemptions/999999/status", json={"status": "shipped"}, headers=shop.manager)
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_redemption"


def test_adjustments_replay_and_refuse_overdrafts(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    body = {"person_id": shop.hiro, "points": 50, "reason": "sorry for the late parcel"}
    assert client.post(f"{L}/adjustments", json=body, headers=shop.agent | key("adj")).status_code == 403
    first = client.post(f"{L}/adjustments", json=body, headers=shop.manager | key("adj"))
    assert (
        first.status_code == 201 and first.json()["points"] == 50 and first.json()["note"] == body["reason"]
    )
    again = client.post(f"{L}/adjustments", json=body, headers=shop.manager | key("adj"))
    assert again.json() == first.json() and available(db, shop.hiro) == 1050
    short = client.post(f"{L}/adjustments", json=body | {"points": -5000}, headers=shop.manager)
    assert short.status_code == 422 and short.json()["code"] == "not_enough_points"
    assert "1050" in short.json()["detail"]
    zero = client.post(f"{L}/adjustments", json=body | {"points": 0}, headers=shop.manager)
    assert zero.status_code == 422 and zero.json()["detail"][0]["loc"] == ["body", "points"]
    assert available(db, shop.hiro) == 1050


def test_rewards_catalogue_api(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    new = {"name": "Donation to the food bank", "kind": "donation", "cost_points": 250}
    assert client.post(f"{L}/rewards", json=new, headers=shop.agent).status_code == 403
    made = client.post(f"{L}/rewards", json=new, headers=shop.manager)
    assert made.status_code == 201 and made.json()["kind"] == "donation" and made.json()["stock"] is None
    rid = made.json()["id"]
    changed = client.put(
        f"{L}/rewards/{rid}", json=new | {"cost_points": 300, "active": False}, headers=shop.manager
    )
    assert (
        changed.status_code == 200
        and changed.json()["cost_points"] == 300
        and changed.json()["active"] is False
    )
    everything = client.get(f"{L}/rewards", headers=shop.agent).json()["items"]
    now_available = client.get(f"{L}/rewards", params={"available": True}, headers=shop.agent).json()["items"]
    assert rid in {r["id"] for r in everything} and rid not in {r["id"] for r in now_available}
    assert [r["cost_points"] for r in now_available] == [100, 500, 900]
    bad = client.post(f"{L}/rewards", json=new | {"kind": "yacht"}, headers=shop.manager)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "kind"]
    window = new | {
        "available_from": "2025-06-01T00:00:00+00:00",
        "available_until": "2025-05-01T00:00:00+00:00",
    }
    backwards = client.post(f"{L}/rewards", json=window, headers=shop.manager)
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == [
        "body",
        "available_until",
    ]
    assert client.put(f"{L}/rewards/999999", json=new, headers=shop.manager).status_code == 404


def test_rules_api_is_read_by_all_and_edited_by_admins(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    rules = client.get(f"{L}/rules", headers=shop.agent).json()["items"]
    review = next(r for r in rules if r["name"] == "review")
    assert review["points"] == 50 and review["edited"] is False
    change = review | {"points": 80}
    change.pop("edited")
    assert client.put(f"{L}/rules/review", json=change, headers=shop.manager).status_code == 403
    saved = client.put(f"{L}/rules/review", json=change, headers=shop.admin)
    assert saved.status_code == 200 and saved.json()["points"] == 80 and saved.json()["edited"] is True
    listed = {r["name"]: r for r in client.get(f"{L}/rules", headers=shop.agent).json()["items"]}
    assert listed["review"]["points"] == 80 and listed["review"]["edited"] is True
    assert count(db, LoyaltyRuleOverride) == 1
    bad = client.put(f"{L}/rules/review", json=change | {"points_per_unit": 3}, headers=shop.admin)
    assert bad.status_code == 422 and bad.json()["detail"]
    other = client.put(f"{L}/rules/review", json=change | {"name": "purchase"}, headers=shop.admin)
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["body", "name"]


def test_staff_make_a_link_that_opens_the_customer_page(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    made = client.post(f"{L}/accounts/{shop.zoe}/link", headers=shop.agent)
    assert made.status_code == 201
    url = made.json()["url"]
    assert url.startswith("http://127.0.0.1:8000/my/loyalty/")
    page = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200 and "Hello Zoë" in page.text


def test_an_erased_person_gets_no_link_no_redemption_and_no_birthday(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    erase(db, shop.zoe)
    link = client.post(f"{L}/accounts/{shop.zoe}/link", headers=shop.agent)
    assert link.status_code == 422 and link.json()["code"] == "person_erased"
    assert "erased" in link.json()["detail"]
    body = {"person_id": shop.zoe, "reward_id": shop.shipping}
    redeemed = client.post(f"{L}/redemptions", json=body, headers=shop.agent | key("after-erasure"))
    assert redeemed.status_code == 422 and redeemed.json()["code"] == "person_erased"
    assert count(db, Redemption) == 0 and available(db, shop.zoe) == 600  # the numbers are kept
    birthday = client.put(
        f"{L}/accounts/{shop.zoe}/birthday", json={"month": 5, "day": 1}, headers=shop.agent
    )
    assert birthday.status_code == 422 and birthday.json()["code"] == "person_erased"
    with db.reading() as s:
        account = s.get(LoyaltyAccount, shop.zoe)
        assert account is not None and account.birthday_month is None
        # What the person panel offers staff: no link for her, a working one for anyone else.
        assert members.staff_link(s, settings=make_settings(db), person_id=shop.zoe, now=utcnow()) is None
        other = members.staff_link(s, settings=make_settings(db), person_id=shop.hiro, now=utcnow())
        assert other is not None and "/my/loyalty/" in other.url
    assert client.post(f"{L}/accounts/{shop.hiro}/link", headers=shop.agent).status_code == 201


JSON_TYPE = {"content-type": "application/json"}


def birthday_in(db: Database, person_id: int) -> tuple[int | None, int | None] | None:
    with db.reading() as s:
        account = s.get(LoyaltyAccount, person_id)
        return None if account is None else (account.birthday_month, account.birthday_day)


def test_staff_set_and_clear_a_birthday_through_the_api(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    with db.transaction() as s:
        newcomer, _ = create_person(s, PersonRecord(name="Lea", email="lea@test.test"), source="test")
    path = f"{L}/accounts/{newcomer.id}/birthday"
    assert client.put(path, json={"month": 2, "day": 29}).status_code == 401
    saved = client.put(path, json={"month": 2, "day": 29}, headers=shop.agent)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"person_id": newcomer.id, "birthday": {"month": 2, "day": 29}}
    assert birthday_in(db, newcomer.id) == (2, 29)  # her account was made for it: she is a member now
    again = client.put(path, json={"month": 2, "day": 29}, headers=shop.agent)
    assert again.status_code == 200 and birthday_in(db, newcomer.id) == (2, 29)
    for wrong, field in [({"month": 4, "day": 31}, "day"), ({"month": 13, "day": 1}, "month")]:
        bad = client.put(path, json=wrong, headers=shop.agent)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", field], bad.text
    assert "April has no day 31" in client.put(path, json={"month": 4, "day": 31}, headers=shop.agent).text
    assert client.put(path, json={"month": 2}, headers=shop.agent).status_code == 422
    assert birthday_in(db, newcomer.id) == (2, 29)
    cleared = client.put(path, content="null", headers=shop.agent | JSON_TYPE)
    assert cleared.status_code == 200 and cleared.json()["birthday"] is None
    assert birthday_in(db, newcomer.id) == (None, None)
    assert (
        client.put(
            f"{L}/accounts/999999/birthday", content="null", headers=shop.agent | JSON_TYPE
        ).status_code
        == 404
    )
    # Clearing for someone without an account makes no account.
    assert (
        client.put(
            f"{L}/accounts/{shop.zoe}/birthday", content="null", headers=shop.agent | JSON_TYPE
        ).status_code
        == 200
    )
    with db.transaction() as s:
        other, _ = create_person(s, PersonRecord(name="Max", email="max@test.test"), source="test")
    assert (
        client.put(
            f"{L}/accounts/{other.id}/birthday", content="null", headers=shop.agent | JSON_TYPE
        ).status_code
        == 200
    )
    assert birthday_in(db, other.id) is None


def test_every_loyalty_route_declares_its_roles(db: Database) -> None:
    table = role_table(make_client(db).app)
    everyone, managers, admins = (
        frozenset({"admin", "manager", "agent"}),
        frozenset({"admin", "manager"}),
        frozenset({"admin"}),
    )
    expected = {
        ("GET", f"{L}/accounts/{{person_id}}"): everyone,
        ("GET", f"{L}/accounts/{{person_id}}/entries"): everyone,
        ("POST", f"{L}/accounts/{{person_id}}/link"): everyone,
        ("POST", f"{L}/redemptions"): everyone,
        ("PUT", f"{L}/accounts/{{person_id}}/birthday"): everyone,
        ("GET", f"{L}/redemptions"): managers,
        ("POST", f"{L}/redemptions/{{redemption_id}}/status"): managers,
        ("POST", f"{L}/redemptions/{{redemption_id}}/refund"): managers,
        ("POST", f"{L}/adjustments"): managers,
        ("GET", f"{L}/rewards"): everyone,
        ("POST", f"{L}/rewards"): managers,
        ("PUT", f"{L}/rewards/{{reward_id}}"): managers,
        ("GET", f"{L}/rules"): everyone,
        ("PUT", f"{L}/rules/{{name}}"): admins,
        ("GET", "/loyalty"): everyone,
        ("GET", "/loyalty/rewards"): everyone,
        ("POST", "/loyalty/rewards"): managers,
        ("POST", "/loyalty/rewards/{reward_id}"): managers,
        ("GET", "/loyalty/rules"): everyone,
        ("POST", "/loyalty/rules/{name}"): admins,
        ("GET", "/loyalty/fulfilment"): managers,
        ("POST", "/loyalty/fulfilment/{redemption_id}/status"): managers,
        ("POST", "/loyalty/fulfilment/{redemption_id}/refund"): managers,
        ("POST", "/people/{person_id}/loyalty/adjust"): managers,
        ("GET", "/my/loyalty/{token}"): None,
        ("POST", "/my/loyalty/{token}/redeem"): None,
        ("POST", "/my/loyalty/{token}/birthday"): None,
    }
    found = {route: table[route] for route in expected}
    assert found == expected
    assert {path for (_, path) in table if "loyalty" in path} == {path for (_, path) in expected}


# -- staff pages --------------------------------------------------------------------------------------


def browser_as(db: Database, role: str) -> TestClient:
    client = make_client(db)
    assert login(client, f"{role}@shop.test").status_code == 303
    return client


def test_overview_counts_members_points_and_the_queue(db: Database) -> None:
    shop = seed(db)
    manager = make_client(db)
    manager.post(
        f"{L}/redemptions",
        json={"person_id": shop.zoe, "reward_id": shop.gift, "ship_to": ADDRESS},
        headers=shop.manager | key("q1"),
    )
    page = browser_as(db, "agent").get("/loyalty")
    assert page.status_code == 200
    assert re.search(r'id="members">2<', page.text) and re.search(r'id="outstanding">1,300<', page.text)
    assert re.search(r'id="pending">200<', page.text)
    assert re.search(r'id="queue">\s*1\s*<', page.text)  # agents see the count, not the link
    assert re.search(r'id="month-redeemed">500<', page.text)
    assert (
        "<svg" in page.text
        and "Members per tier" in page.text
        and "<script" not in page.text.split("</head>")[1]
    )
    assert 'href="/loyalty" aria-current="page"' in page.text


def test_rewards_page_forms_for_managers_only(db: Database) -> None:
    shop = seed(db)
    agent_page = browser_as(db, "agent").get("/loyalty/rewards")
    assert (
        agent_page.status_code == 200
        and "Lemon tart tin" in agent_page.text
        and "Add a reward" not in agent_page.text
    )
    manager = browser_as(db, "manager")
    page = manager.get("/loyalty/rewards")
    csrf = form_token(page.text)
    assert "Add a reward" in page.text
    form = {
        "csrf_token": csrf,
        "name": "Candle",
        "kind": "physical_gift",
        "cost_points": "1,200",
        "stock": "10",
        "available_from": "2025-12-01T09:00",
        "active": "on",
    }
    added = manager.post("/loyalty/rewards", data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"].startswith("/loyalty/rewards?saved=")
    with db.reading() as s:
        candle = s.scalars(select(Reward).where(Reward.name == "Candle")).one()
        assert candle.cost_points == 1200 and candle.stock == 10 and candle.active
        assert (
            candle.available_from is not None
            and candle.available_from.isoformat() == "2025-12-01T09:00:00+00:00"
        )
    bad = manager.post("/loyalty/rewards", data=form | {"cost_points": "lots"})
    assert bad.status_code == 422 and "must be a whole number" in bad.text and 'value="Candle"' in bad.text
    edit = manager.post(
        f"/loyalty/rewards/{shop.shipping}",
        data=form
        | {"name": "Free delivery", "kind": "free_shipping", "cost_points": "150", "stock": "", "active": ""},
        follow_redirects=False,
    )
    assert edit.status_code == 303
    with db.reading() as s:
        shipping = s.get(Reward, shop.shipping)
        assert shipping is not None and (shipping.name, shipping.cost_points, shipping.active) == (
            "Free delivery",
            150,
            False,
        )
    agent = browser_as(db, "agent")
    refused = agent.post(
        "/loyalty/rewards", data=form | {"csrf_token": form_token(agent.get("/loyalty/rewards").text)}
    )
    assert refused.status_code == 403


def test_rules_page_admins_edit_others_read(db: Database) -> None:
    seed(db)
    manager = browser_as(db, "manager")
    page = manager.get("/loyalty/rules")
    assert page.status_code == 200 and "Thanks for your review" in page.text and "Save rule" not in page.text
    assert "only admins can edit" in page.text
    data = {
        "csrf_token": form_token(page.text),
        "trigger": "review",
        "label": "Thank you for reviewing",
        "points": "75",
        "cap_per_month": "150",
        "tiers": ["Silver", "Gold"],
        "enabled": "on",
    }
    assert manager.post("/loyalty/rules/review", data=data).status_code == 403
    admin = browser_as(db, "admin")
    page = admin.get("/loyalty/rules")
    assert "Save rule" in page.text
    data["csrf_token"] = form_token(page.text)
    saved = admin.post("/loyalty/rules/review", data=data, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    shown = admin.get(saved.headers["location"])
    assert "Thank you for reviewing" in shown.text and "edited" in shown.text and "Silver, Gold" in shown.text
    bad = admin.post("/loyalty/rules/review", data=data | {"points": "-3"})
    assert bad.status_code == 422 and "was not saved" in bad.text
    with db.reading() as s:
        stored = s.get(LoyaltyRuleOverride, "review")
        assert (
            stored is not None
            and stored.definition["points"] == 75
            and stored.definition["tier_multiplier"] is False
        )


def test_fulfilment_page_shows_the_address_and_moves_redemptions(db: Database) -> None:
    shop = seed(db)
    api = make_client(db)
    made = api.post(
        f"{L}/redemptions",
        json={"person_id": shop.zoe, "reward_id": shop.gift, "ship_to": ADDRESS},
        headers=shop.agent | key("f1"),
    ).json()
    assert browser_as(db, "agent").get("/loyalty/fulfilment").status_code == 403
    manager = browser_as(db, "manager")
    page = manager.get("/loyalty/fulfilment")
    assert page.status_code == 200 and "12 rue des Lilas" in page.text and "Lemon tart tin" in page.text
    assert 'id="status-pending"' in page.text and "Approve" in page.text
    csrf = form_token(page.text)
    rid = made["id"]
    moved = manager.post(
        f"/loyalty/fulfilment/{rid}/status",
        data={"csrf_token": csrf, "to_status": "to_fulfil"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert "approved, ready to fulfil" in manager.get(moved.headers["location"]).text
    wrong = manager.post(
        f"/loyalty/fulfilment/{rid}/status", data={"csrf_token": csrf, "to_status": "delivered"}
    )
    assert wrong.status_code == 422 and f"Redemption #{rid}:" in wrong.text
    shipped = manager.post(
        f"/loyalty/fulfilment/{rid}/status",
        data={"csrf_token": csrf, "to_status": "shipped", "tracking": "LP99"},
    )
    assert shipped.status_code == 200 and "marked shipped" in shipped.text and "LP99" in shipped.text
    refunded = manager.post(
        f"/loyalty/fulfilment/{rid}/refund", data={"csrf_token": csrf, "reason": "never arrived"}
    )
    assert refunded.status_code == 200 and "refunded, points given back" in refunded.text
    assert available(db, shop.zoe) == 600
    no_csrf = manager.post(f"/loyalty/fulfilment/{rid}/refund", data={"reason": "x"})
    assert no_csrf.status_code == 403


def test_person_page_has_the_loyalty_panel_and_adjustments(db: Database) -> None:
    shop = seed(db)
    body = {"person_id": shop.zoe, "reward_id": shop.shipping}
    made = (
        make_client(db)
        .post(f"{L}/redemptions", json=body, headers=shop.agent | {"Idempotency-Key": "panel"})
        .json()
    )
    agent_page = browser_as(db, "agent").get(f"/people/{shop.zoe}")
    assert agent_page.status_code == 200 and 'id="loyalty-available">500<' in agent_page.text
    # The latest redemptions and ledger entries, newest first.
    assert f"#{made['id']} Free shipping · 100 points · " in agent_page.text
    assert '<td class="num">-100</td>' in agent_page.text and '<td class="num">+500</td>' in agent_page.text
    assert "/my/loyalty/" in agent_page.text and "Adjust points" not in agent_page.text
    manager = browser_as(db, "manager")
    page = manager.get(f"/people/{shop.zoe}")
    assert "Adjust points" in page.text
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce
    data = {
        "csrf_token": form_token(page.text),
        "nonce": nonce.group(1),
        "points": "25",
        "reason": "birthday cake mix-up",
    }
    for _ in range(2):  # a double submit writes once
        answer = manager.post(f"/people/{shop.zoe}/loyalty/adjust", data=data, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/people/{shop.zoe}#loyalty"
    assert available(db, shop.zoe) == 525
    shown = manager.get(f"/people/{shop.zoe}")
    assert "birthday cake mix-up" in shown.text
    short = manager.post(
        f"/people/{shop.zoe}/loyalty/adjust", data=data | {"nonce": "n" * 30, "points": "-5000"}
    )
    assert short.status_code == 422 and "725 points that can be taken off" in short.text
    with db.reading() as s:
        adjusted = s.scalars(select(LoyaltyEntry).where(LoyaltyEntry.kind == "adjust")).all()
        assert [(e.points, e.created_by_id is not None) for e in adjusted] == [(25, True)]


# -- the customer's page ------------------------------------------------------------------------------


def customer_path(person_id: int, days: int = 30) -> str:
    token = customer_token(secret_key=SECRET, person_id=person_id, expires_at=utcnow() + timedelta(days=days))
    return f"/my/loyalty/{token}"


def nonce_for(html: str, reward_id: int) -> str:
    form = html.split(f'id="reward-{reward_id}"', 1)[1]
    found = re.search(r'name="nonce" value="([^"]+)"', form)
    assert found, f"no redeem form for reward {reward_id}"
    return found.group(1)


def test_customer_page_shows_points_tier_and_rewards(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    page = client.get(customer_path(shop.zoe))
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Hello Zoë" in text and 'id="available">600<' in text
    assert "200 from" in text  # pending, with its date
    assert "100 points expire on" in text
    assert "Your tier: Member" in text and "You have earned <strong>Silver</strong>" in text
    assert 'id="reward-' + str(shop.gift) + '"' in text and 'id="reward-' + str(shop.shipping) + '"' in text
    assert "Almost there" in text and "Tea tasting" in text and "300 more points" in text
    # A forwarded link must not say where she lives: the delivery form starts with name and country only.
    gift_form = text.split(f'id="reward-{shop.gift}"', 1)[1].split("</form>", 1)[0]
    assert 'value="Zoë Lefèvre"' in gift_form and 'value="France"' in gift_form
    assert "12 rue des Lilas" not in text and "69001" not in text and "Lyon" not in text
    assert 'name="line1" value=""' in gift_form and 'name="postal_code" value=""' in gift_form
    assert "csrf_token" not in text and "Log out" not in text  # nothing of the staff app
    assert nonce_for(text, shop.gift) != nonce_for(text, shop.shipping)
    assert len(nonce_for(text, shop.gift)) >= 32
    # Once the tiers are refreshed: Silver, and what Gold still needs (800 of 1,500 earned in the window).
    with db.transaction() as s:
        awards.refresh_tiers(s, now=utcnow(), settings=make_settings(db), person_ids=[shop.zoe])
    later = client.get(customer_path(shop.zoe)).text
    assert "Your tier: Silver" in later and "700 more points" in later and "<strong>Gold</strong>" in later


def test_customer_redeems_in_one_click_and_a_double_click_spends_once(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    path = customer_path(shop.zoe)
    nonce = nonce_for(client.get(path).text, shop.gift)
    form = {"reward_id": str(shop.gift), "nonce": nonce} | ADDRESS | {"line1": "3 place Bellecour"}
    first = client.post(f"{path}/redeem", data=form, follow_redirects=False)
    second = client.post(f"{path}/redeem", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert first.headers["referrer-policy"] == "no-referrer"
    done = client.get(first.headers["location"])
    assert "Thank you!" in done.text and "Lemon tart tin" in done.text
    # Anyone with the link could open this thank-you page: it confirms the post, not the street.
    assert "the address you gave us" in done.text and "3 place Bellecour" not in done.text
    assert 'id="available">100<' in done.text and "Your rewards" in done.text
    with db.reading() as s:
        [made] = s.scalars(select(Redemption)).all()
        assert (
            made.person_id == shop.zoe
            and made.request_key == f"page:{nonce}"
            and made.history[0]["by"] == "customer"
        )
        assert made.ship_to is not None and made.ship_to["line1"] == "3 place Bellecour"
    # The same nonce for another reward is refused in plain words.
    reused = client.post(f"{path}/redeem", data=form | {"reward_id": str(shop.shipping)})
    assert reused.status_code == 422 and "already used" in reused.text
    assert count(db, Redemption) == 1


def test_customer_refusals_are_shown_in_plain_words(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    path = customer_path(shop.zoe)
    page = client.get(path).text
    short = client.post(f"{path}/redeem", data={"reward_id": str(shop.tasting), "nonce": "x" * 32})
    assert short.status_code == 422 and "(200 of them still pending); this reward needs 900." in short.text
    no_address = client.post(
        f"{path}/redeem", data={"reward_id": str(shop.gift), "nonce": nonce_for(page, shop.gift)}
    )
    assert no_address.status_code == 422 and "delivery address" in no_address.text
    junk = client.post(f"{path}/redeem", data={"reward_id": str(shop.shipping), "nonce": "short"})
    assert junk.status_code == 422 and "out of date" in junk.text
    assert count(db, Redemption) == 0 and available(db, shop.zoe) == 600


def test_a_token_redeems_only_for_its_own_person(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    path = customer_path(shop.zoe)
    nonce = nonce_for(client.get(path).text, shop.shipping)
    # A person_id smuggled into the form changes nothing: the person comes from the token.
    answer = client.post(
        f"{path}/redeem",
        data={"reward_id": str(shop.shipping), "nonce": nonce, "person_id": str(shop.hiro)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert available(db, shop.zoe) == 500 and available(db, shop.hiro) == 1000
    rid = int(answer.headers["location"].rsplit("=", 1)[1])
    # Hiroshi's page does not show Zoë's redemption, even when its number is in the address.
    hiro_page = client.get(f"{customer_path(shop.hiro)}?redeemed={rid}")
    assert (
        hiro_page.status_code == 200 and "Thank you!" not in hiro_page.text and "Hello Ōta" in hiro_page.text
    )


@pytest.mark.parametrize("problem", ["expired", "tampered", "another-key", "erased"])
def test_broken_customer_links_ask_for_a_new_one(db: Database, problem: str) -> None:
    shop, client = seed(db), make_client(db)
    if problem == "expired":
        path, status, words = customer_path(shop.zoe, days=-1), 410, "This link has expired"
    elif problem == "tampered":
        payload, signature = customer_path(shop.zoe).rsplit("/", 1)[1].split(".")
        path, status, words = f"/my/loyalty/{payload}.{signature[::-1]}", 404, "This link is not working"
    elif problem == "another-key":
        token = customer_token(
            secret_key="other", person_id=shop.zoe, expires_at=utcnow() + timedelta(days=1)
        )
        path, status, words = f"/my/loyalty/{token}", 404, "This link is not working"
    else:  # a link made before the person was erased: their tombstone row is still there
        path, status, words = customer_path(shop.zoe), 404, "This link is not working"
        erase(db, shop.zoe)
    page = client.get(path)
    assert (
        page.status_code == status and words in page.text and "Ask" in page.text and "new link" in page.text
    )
    assert page.headers["referrer-policy"] == "no-referrer" and "Hello" not in page.text
    posted = client.post(f"{path}/redeem", data={"reward_id": str(shop.shipping), "nonce": "y" * 32})
    assert posted.status_code == status and count(db, Redemption) == 0 and available(db, shop.zoe) == 600
    told = client.post(f"{path}/birthday", data={"month": "2", "day": "29"})
    assert told.status_code == status and count(db, Redemption) == 0
    with db.reading() as s:
        account = s.get(LoyaltyAccount, shop.zoe)
        assert account is not None and account.birthday_month is None


def test_someone_without_points_sees_an_empty_but_friendly_page(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    with db.transaction() as s:
        newcomer, _ = create_person(
            s, PersonRecord(name="Amélie Poulain", email="amelie@test.test"), source="test"
        )
    account = client.get(f"{L}/accounts/{newcomer.id}", headers=shop.agent).json()
    assert (account["member"], account["available"], account["pending"], account["expiring"]) == (
        False,
        0,
        0,
        [],
    )
    page = client.get(customer_path(newcomer.id))
    assert page.status_code == 200 and "Hello Amélie" in page.text and 'id="available">0<' in page.text
    assert "Nothing yet, but you are getting close" in page.text and "redeem-form" not in page.text
    assert "Free shipping" in page.text  # the nearest rewards, as something to look forward to


def test_customer_tells_us_their_birthday_and_it_earns_the_bonus(db: Database) -> None:
    shop, client = seed(db), make_client(db)
    path = customer_path(shop.hiro)
    page = client.get(path).text
    assert "Tell us your birthday (month and day) and we'll send you a little something" in page
    assert f'action="{path}/birthday"' in page and "Forget my birthday" not in page
    for form, words in [
        ({"month": "2", "day": "30"}, "February has no day 30"),
        ({"month": "13", "day": "1"}, "Month 13 is not a month"),
        ({"month": "", "day": "4"}, "Please choose the month and the day."),
    ]:
        refused = client.post(f"{path}/birthday", data=form)
        assert refused.status_code == 422 and words in refused.text, refused.text
        assert refused.headers["referrer-policy"] == "no-referrer"
    assert birthday_in(db, shop.hiro) == (None, None)
    told = client.post(f"{path}/birthday", data={"month": "2", "day": "29"}, follow_redirects=False)
    assert told.status_code == 303 and told.headers["location"] == f"{path}?birthday=saved#birthday"
    assert birthday_in(db, shop.hiro) == (2, 29)
    thanked = client.get(told.headers["location"]).text
    assert "We will remember your birthday" in thanked and "We know your birthday" in thanked
    assert "29 February" not in thanked  # a forwarded link does not tell it either
    # In a year without 29 February, the bonus comes on the 28th.
    with db.transaction() as s:
        report = awards.award_dates(s, day=date(2027, 2, 28), settings=make_settings(db))
    assert report.earned_entries == 1
    with db.reading() as s:
        keys = s.scalars(select(LoyaltyEntry.key).where(LoyaltyEntry.person_id == shop.hiro)).all()
    assert f"earn:birthday:{shop.hiro}:2027" in keys
    forgot = client.post(f"{path}/birthday", data={"forget": "yes"}, follow_redirects=False)
    assert forgot.status_code == 303 and birthday_in(db, shop.hiro) == (None, None)
    assert "we no longer keep your birthday" in client.get(forgot.headers["location"]).text
