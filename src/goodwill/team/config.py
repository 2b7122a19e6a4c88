"""``[team]`` in goodwill.toml: kudos allowances and the manager's weekly digest."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Points each person may give away in kudos per calendar month (like peer-recognition tools);
    # 0: kudos carry no points at all, only the thanks.
    monthly_allowance: int = Field(default=0, ge=0, le=100_000)
    # Off by default: thanks are not a contest. On, the thanks wall also shows counts per person.
    show_ranking: bool = False
    # The digest names people who have not been thanked in this many days.
    thanked_lately_days: int = Field(default=30, ge=1, le=365)
    # Also email each manager their weekly digest through the outbox (`goodwill team digest --send`).
    digest_email: bool = False
