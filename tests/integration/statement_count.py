"""Counting the SQL statements a piece of work sends: the cost tests pin these counts (deterministic,
unlike time) with upper bounds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from goodwill.db import Database


@contextmanager
def counting(db: Database) -> Iterator[list[str]]:
    """Every statement sent through ``db``'s engine inside the block, in order."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
