"""One transaction per request (``deps.db_session``): kept when the handler returns, gone when it raises.

The dependency opens its session on the event loop and ends it in one worker thread (a synchronous
generator dependency cost two thread hand-offs a request). These tests add routes that write a
person and then return, raise an HTTP error, raise anything else, or write something the database
refuses at commit, and check on both backends what was kept and that every connection went back
to the pool.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import event, func, select
from test_web_client import make_client

from goodwill.db import Database
from goodwill.people.model import Person
from goodwill.web.deps import DbSession


def _people(db: Database, name: str) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(Person).where(Person.name == name)) or 0


def _add_routes(app: FastAPI) -> None:
    def write(session: DbSession, name: str) -> None:
        session.add(Person(name=name))
        session.flush()

    @app.post("/test-uow/keep")
    def keep(session: DbSession) -> dict[str, str]:
        write(session, "kept")
        return {"ok": "yes"}

    @app.post("/test-uow/refuse")
    def refuse(session: DbSession) -> dict[str, str]:
        write(session, "refused")
        raise HTTPException(status_code=409, detail="refused after writing")

    @app.post("/test-uow/crash")
    def crash(session: DbSession) -> dict[str, str]:
        write(session, "crashed")
        raise RuntimeError("a bug after writing")

    @app.post("/test-uow/duplicate-at-commit")
    def duplicate(session: DbSession) -> dict[str, str]:
        # Two rows with the same primary key: pending until the commit, which the database refuses.
        session.add(Person(id=987_654, name="first"))
        session.flush()
        session.expunge_all()
        session.add(Person(id=987_654, name="second"))
        return {"ok": "yes"}


def test_a_request_keeps_its_writes_only_when_its_handler_returns(db: Database) -> None:
    client = make_client(db)
    _add_routes(client.app)  # type: ignore[arg-type]
    client = type(client)(client.app, base_url=str(client.base_url), raise_server_exceptions=False)

    assert client.post("/test-uow/keep").status_code == 200
    assert client.post("/test-uow/refuse").status_code == 409
    assert client.post("/test-uow/crash").status_code == 500
    assert client.post("/test-uow/duplicate-at-commit").status_code == 500

    assert _people(db, "kept") == 1
    assert _people(db, "refused") == 0
    assert _people(db, "crashed") == 0
    assert _people(db, "first") == 0 and _people(db, "second") == 0


@pytest.mark.parametrize("path", ["keep", "refuse", "crash", "duplicate-at-commit"])
def test_every_ending_returns_the_connection_to_the_pool(db: Database, path: str) -> None:
    # One connection, no overflow, a 1 s wait: a request that kept its connection would make the
    # next one fail; and each request checks its connection back in itself, not the collector later.
    small = Database(db.url, pool_size=1, max_overflow=0, pool_timeout=1)
    moves = {"checkout": 0, "checkin": 0}

    def count(name: str) -> Any:
        return lambda *_: moves.__setitem__(name, moves[name] + 1)

    event.listen(small.engine, "checkout", count("checkout"))
    event.listen(small.engine, "checkin", count("checkin"))
    client = make_client(small)
    _add_routes(client.app)  # type: ignore[arg-type]
    client = type(client)(client.app, base_url=str(client.base_url), raise_server_exceptions=False)
    expected = {"keep": 200, "refuse": 409, "crash": 500, "duplicate-at-commit": 500}[path]
    try:
        for _ in range(5):
            before = dict(moves)
            assert client.post(f"/test-uow/{path}").status_code == expected
            assert moves["checkout"] - before["checkout"] == moves["checkin"] - before["checkin"] == 1, moves
    finally:
        small.dispose()
