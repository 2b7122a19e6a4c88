"""Consent found in import files, applied in bulk under one cautious rule.

An import may record consent where none is on record, and may withdraw consent that is in
force, but it never turns consent back on after a recorded withdrawal: an old export replayed
months later must not undo someone's "stop writing to me". Re-granting is a deliberate act
done by hand (``record_consent``). Only changes are written, so re-running a file adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from goodwill.db import matching, utcnow
from goodwill.people.model import ConsentChange


def current_states(session: Session, person_ids: list[int]) -> dict[tuple[int, str], bool]:
    """The consent in force per (person, channel), for the given people."""
    state: dict[tuple[int, str], bool] = {}
    for among in matching(session, ConsentChange.person_id, person_ids):
        rows = session.execute(
            select(ConsentChange.person_id, ConsentChange.channel, ConsentChange.granted)
            .where(among)
            .order_by(ConsentChange.at, ConsentChange.id)
        )
        for person_id, channel, granted in rows:
            state[(person_id, channel)] = bool(granted)
    return state


def apply_imported_consent(session: Session, wishes: Mapping[int, Mapping[str, bool]], *, source: str) -> int:
    """Write the consent changes the rule allows; returns how many were written."""
    if not wishes:
        return 0
    state = current_states(session, sorted(wishes))
    now = utcnow()
    rows = []
    for person_id, channels in wishes.items():
        for channel, granted in channels.items():
            current = state.get((person_id, channel))
            if current is None or (current and not granted):
                rows.append(
                    {
                        "person_id": person_id,
                        "channel": channel,
                        "granted": granted,
                        "source": source,
                        "at": now,
                    }
                )
    if rows:
        session.execute(ConsentChange.__table__.insert(), rows)  # type: ignore[attr-defined]
    return len(rows)
