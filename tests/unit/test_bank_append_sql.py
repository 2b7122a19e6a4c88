"""``bank.service.APPEND_CTES`` names the bank's columns by hand (it is SQL text that a redemption's
write statement takes in): a column added to the tables must be added there too, or an append would
leave it at its default while a full refresh sets it."""

from __future__ import annotations

import re

import goodwill.models  # noqa: F401 - every table
from goodwill.bank.model import BankEntry, BankStanding
from goodwill.bank.service import APPEND_CTES


def _inserted(table: str) -> set[str]:
    found = re.search(rf"INSERT INTO {table} \(([^)]*)\)", APPEND_CTES)
    assert found, f"no INSERT INTO {table} in APPEND_CTES"
    return {name.strip() for name in found.group(1).split(",")}


def test_the_appended_entry_sets_every_column_but_its_id() -> None:
    assert _inserted("bank_entries") == {c.name for c in BankEntry.__table__.columns} - {"id"}


def test_the_appended_standing_sets_and_updates_every_column() -> None:
    columns = {c.name for c in BankStanding.__table__.columns}
    assert _inserted("bank_standings") == columns
    update = APPEND_CTES.split("DO UPDATE SET", 1)[1].split("RETURNING", 1)[0]
    assert set(re.findall(r"(\w+) = ", update)) == columns - {"person_id"}
