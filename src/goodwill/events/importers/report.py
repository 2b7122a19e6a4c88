"""What an import did: counts of newly stored things, duplicates, and every rejected row with why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_REASON = 500  # a reason quotes the bad cell: a megabyte cell must not make a megabyte report


@dataclass
class Rejection:
    line: int  # physical line in the file; the header is line 1
    reason: str


@dataclass
class ImportReport:
    """Counts of what was NEWLY stored; ``to_json`` is the ``--json`` output of ``goodwill import``.

    Accounting: every data row (blank lines are not rows) ends up exactly once as kept, duplicate
    or rejected, so ``rows == kept_rows + duplicate_rows + len(rejected)``. For the generic orders,
    events and people files one row is one order, event or person, so there
    ``kept_rows == orders`` (or ``events`` / ``people``) and ``duplicate_rows == duplicates``.
    A Shopify order spans several rows: ``orders`` and ``duplicates`` count orders, while
    ``kept_rows`` and ``duplicate_rows`` count the line-item rows behind them.
    """

    rows: int = 0
    orders: int = 0
    events: int = 0
    people: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # People touched by newly stored events: the relationship bank refreshes these.
    person_ids: set[int] = field(default_factory=set)
    kept_rows: int = 0
    duplicate_rows: int = 0
    updated_people: int = 0  # existing people whose details a people file changed

    def reject(self, line: int, reason: str) -> None:
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 1] + "…"
        self.rejected.append(Rejection(line, reason))

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "orders": self.orders,
            "events": self.events,
            "people": self.people,
            "duplicates": self.duplicates,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }
