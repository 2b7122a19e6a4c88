"""What a newly stored event starts besides the bank and loyalty: a complaint to handle (or one
resolved elsewhere to close), kudos for praise.

Every intake path (the events API, the events importer, the complaint API and mailbox) calls
``after_new_events`` in the same transaction that stored the events, so a complaint event always has
its complaint and a praise event that names a member of staff always reaches them. Both steps are
idempotent (a complaint per event, kudos per event), so running them twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy.orm import Session

from goodwill.config import Settings


def after_new_events(
    session: Session,
    *,
    event_ids: Sequence[int],
    settings: Settings,
    kinds: Collection[str] | None = None,
) -> None:
    """Open complaints, close resolved ones and route praise for these new events.

    ``kinds``: the kinds among these events, when the caller knows them; a step with none of its
    kind to handle is then skipped, without a statement. Without it each step looks the events up.
    """
    if not event_ids:
        return
    # Imported here: both packages build on events, which must not import them at module load.
    from goodwill.complaints.history import close_for_events
    from goodwill.complaints.service import open_for_events
    from goodwill.team.kudos import route_praise

    if kinds is None or "complaint" in kinds:
        open_for_events(session, event_ids=event_ids, settings=settings)
    if kinds is None or "complaint_resolved" in kinds:
        close_for_events(session, event_ids=event_ids)
    if kinds is None or "praise" in kinds:
        route_praise(session, event_ids=event_ids, settings=settings)
