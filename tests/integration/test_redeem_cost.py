"""One redemption through ``POST /api/v1/loyalty/redemptions``: its cost in SQL statements.

Pinned with an upper bound (statement counts are deterministic, unlike time): the token check,
the Idempotency-Key lookup, the person (and whether they were erased) in one read, the account
lock with the bank's hold, the reward with all the checks need and the bank standing, the writes
(on PostgreSQL with the bank's append; on SQLite one by one, then the append), the stored answer.
The load bench (bench/load_bench.py) measures the CPU; a replay must cost less and write nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select
from statement_count import counting
from test_web_client import add_user, make_client, token_for

from goodwill.config import load_settings
from goodwill.db import Database, utcnow
from goodwill.loyalty.ledger import adjust
from goodwill.loyalty.model import Redemption
from goodwill.loyalty.rewards import RewardInput, create_reward

# Measured with the token check, for a person with a bank standing. PostgreSQL: 15 before the bank's
# append, the token and its user in one join, the one-read person check and the plain insert of the
# stored answer; 10 after; 8 since the bank is held with the account and its standing read with the
# reward; 7 since the bank's append is written with the redemption (bank.service.plan_append).
# SQLite (its writes one by one, see redemption._write_in_steps): 18, then 16. One above each.
BOUND = {"sqlite": 17, "postgresql": 8}


def test_one_redemption_costs_a_fixed_small_number_of_statements(db: Database) -> None:
    user = add_user(db, "manager@shop.test", "manager", name="Mia Manager")
    client = make_client(db)
    auth = token_for(db, user)
    answer = client.post("/api/v1/people", json={"name": "Ada", "email": "ada@example.com"}, headers=auth)
    assert answer.status_code == 201, answer.text
    person_id = answer.json()["id"]
    config = load_settings(database_url=db.url).loyalty
    with db.transaction() as s:
        adjust(
            s, person_id=person_id, points=500, reason="welcome", key="welcome", by_user_id=None,
            now=utcnow(), config=config,
        )  # fmt: skip
        reward_id = create_reward(s, data=RewardInput(name="Tea tasting", kind="discount", cost_points=10)).id
    counts = []
    for n in range(3):  # the first one gives the person a bank standing; the later ones append
        headers = auth | {"Idempotency-Key": f"redeem-{n}"}
        with counting(db) as seen:
            answer = client.post(
                "/api/v1/loyalty/redemptions",
                json={"person_id": person_id, "reward_id": reward_id},
                headers=headers,
            )
        assert answer.status_code == 201, answer.text
        counts.append(len(seen))
    assert counts[-1] <= BOUND[db.dialect], f"statements per redemption {counts}, above {BOUND[db.dialect]}"
    with counting(db) as seen:
        again = client.post(
            "/api/v1/loyalty/redemptions",
            json={"person_id": person_id, "reward_id": reward_id},
            headers=auth | {"Idempotency-Key": "redeem-2"},
        )
    assert again.status_code == 201 and again.json() == answer.json()
    assert len(seen) < counts[-1]
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Redemption)) == 3


def test_an_unknown_person_is_refused_as_before(db: Database) -> None:
    user = add_user(db, "manager@shop.test", "manager")
    client = make_client(db)
    auth = token_for(db, user)
    for person_id in (999_999, -1, 2**63):
        answer = client.post(
            "/api/v1/loyalty/redemptions",
            json={"person_id": person_id, "reward_id": 1},
            headers=auth | {"Idempotency-Key": f"nobody-{person_id}"},
        )
        assert answer.status_code == 404, answer.text
