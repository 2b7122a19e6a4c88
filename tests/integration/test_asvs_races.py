"""ASVS V11.1.6 (level 2): no check-then-act races in sensitive operations, with real threads on
PostgreSQL (each with its own connection and transaction, released together by a barrier).

Redemptions (the same reward or points spent at once, the same request twice) are covered in
``test_loyalty_concurrency.py``; here: the login brake under simultaneous guesses, and the same note
approved (or approved and skipped) by several reviewers at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from test_appreciation_flow import DAY, _load, _settings
from test_web_client import BASE_URL, PASSWORD, add_user, form_token, make_settings, token_for

from goodwill.db import Database
from goodwill.notes.model import Note
from goodwill.notes.service import NoteError, approve, skip
from goodwill.outbox.model import Message
from goodwill.web.app import create_app
from goodwill.web.model import LoginFailure

THREADS = 12


@pytest.fixture
def pool(pg_db: Database) -> Iterator[Database]:
    """The test database with a connection for every thread, so the threads really overlap."""
    database = Database(pg_db.url, pool_size=THREADS + 2, max_overflow=0, pool_timeout=120)
    try:
        yield database
    finally:
        database.dispose()


def all_at_once(work: Callable[[int], str], threads: int = THREADS) -> list[str]:
    barrier = threading.Barrier(threads, timeout=120)

    def run(number: int) -> str:
        barrier.wait()
        return work(number)

    with ThreadPoolExecutor(max_workers=threads) as executor:
        return list(executor.map(run, range(threads)))


def test_simultaneous_wrong_passwords_get_no_more_guesses_than_the_limit(
    pg_db: Database, pool: Database
) -> None:
    """Every guess checks the count and then records a failure: without a lock around the two, twelve
    guesses at once would all see "under the limit" and all be tried."""
    limit = 3
    add_user(pg_db, "ana@shop.test")
    app = create_app(make_settings(pool, login_attempts_per_15_min=limit), pool)
    clients = [TestClient(app, base_url=BASE_URL, client=(f"198.51.100.{n}", 5000)) for n in range(THREADS)]
    forms = [form_token(client.get("/login").text) for client in clients]

    def guess(number: int) -> str:
        data = {"email": "ana@shop.test", "password": f"wrong guess {number}", "csrf_token": forms[number]}
        return str(clients[number].post("/login", data=data, follow_redirects=False).status_code)

    outcomes = all_at_once(guess)
    assert sorted(set(outcomes)) == ["401", "429"]
    assert outcomes.count("401") == limit  # exactly `limit` passwords were tried, the rest held back
    with pg_db.reading() as s:
        account_failures = s.scalar(
            select(func.count()).select_from(LoginFailure).where(LoginFailure.key.like("email:%"))
        )
    assert account_failures == limit
    # And the account is held for the right password too, from yet another address.
    late = TestClient(app, base_url=BASE_URL, client=("203.0.113.1", 5000))
    data = {"email": "ana@shop.test", "password": PASSWORD, "csrf_token": form_token(late.get("/login").text)}
    assert late.post("/login", data=data, follow_redirects=False).status_code == 429


@pytest.fixture
def one_note(pg_db: Database, tmp_path: Path) -> tuple[int, int]:
    """A drafted thank-you note (from the appreciation flow's sample data) and a reviewer's id."""
    settings = _settings(pg_db)
    _load(pg_db, tmp_path, settings)
    manager_id = add_user(pg_db, "boss@shop.test", "manager", name="Kim Vale")
    client = TestClient(create_app(settings, pg_db), base_url=BASE_URL)
    made = client.post("/api/v1/plan", json={"date": DAY.isoformat()}, headers=token_for(pg_db, manager_id))
    assert made.status_code == 201, made.text
    with pg_db.reading() as s:
        note_id = s.scalars(select(Note.id).where(Note.status == "draft").order_by(Note.id)).first()
    assert note_id is not None
    return note_id, manager_id


def messages_for(db: Database, note_id: int) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(Message).where(Message.note_id == note_id)) or 0


def test_a_note_approved_by_many_reviewers_at_once_is_queued_once(
    pg_db: Database, pool: Database, one_note: tuple[int, int]
) -> None:
    note_id, user_id = one_note

    def approve_it(_: int) -> str:
        try:
            with pool.transaction() as s:
                return f"approved:{approve(s, note_id=note_id, user_id=user_id).id}"
        except NoteError:
            return "refused"

    outcomes = all_at_once(approve_it)
    assert sum(o.startswith("approved:") for o in outcomes) == 1
    assert outcomes.count("refused") == THREADS - 1
    assert messages_for(pg_db, note_id) == 1


def test_a_note_approved_and_skipped_at_once_ends_one_way_only(
    pg_db: Database, pool: Database, one_note: tuple[int, int]
) -> None:
    note_id, user_id = one_note

    def decide(number: int) -> str:
        try:
            with pool.transaction() as s:
                if number % 2:
                    skip(s, note_id=note_id, user_id=user_id, reason="not now")
                    return "skipped"
                approve(s, note_id=note_id, user_id=user_id)
                return "approved"
        except NoteError:
            return "refused"

    outcomes = all_at_once(decide)
    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1
    with pg_db.reading() as s:
        status = s.scalars(select(Note.status).where(Note.id == note_id)).one()
    assert status == winners[0]
    assert messages_for(pg_db, note_id) == (1 if winners[0] == "approved" else 0)
