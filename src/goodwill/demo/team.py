"""The demo's team: the shop floor with its manager, a few thanks between colleagues, and themes.

Complaints and customer praise arrive with the imported events (they open complaints and route
kudos on their own); this adds what only staff do. Idempotent: a second run adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from goodwill.complaints.model import Complaint, ComplaintTheme
from goodwill.complaints.themes_service import run_themes
from goodwill.config import Settings
from goodwill.db import Database
from goodwill.demo import catalogue as cat
from goodwill.team.kudos import give_kudos
from goodwill.team.model import Kudos, KudosFrom, Team, User
from goodwill.team.teams import add_member, create_team

TEAM = "Shop floor"
# (from, to, reason, days ago): thanks for the kind of work customers never see.
THANKS = [
    ("ines.moreau@example.com", "maya.chen@example.com",
     "You stayed on the phone until the chipped-teapot customer was laughing again. That is the job.", 9),
    ("tom.okafor@example.com", "maya.chen@example.com",
     "Thanks for covering my Saturday so I could be at my sister's wedding.", 5),
    (cat.OWNER_EMAIL, "tom.okafor@example.com",
     "The new packing for the glass teapots: not one broken since. Thank you for caring about it.", 3),
]  # fmt: skip


def load_team(*, db: Database, settings: Settings, now: datetime) -> int:
    """The team and the colleagues' thanks; then the complaint themes. Returns the kudos added."""
    with db.transaction() as s:
        users = {u.email: u.id for u in s.scalars(select(User))}
        if s.scalar(select(Team.id).where(Team.name == TEAM)) is None:
            team = create_team(s, name=TEAM, manager_id=users["ines.moreau@example.com"])
            for email, _, role in cat.STAFF:
                if role == "agent":
                    add_member(s, team_id=team.id, user_id=users[email])
        given = 0
        colleagues = s.scalar(
            select(func.count()).select_from(Kudos).where(Kudos.from_kind != KudosFrom.customer.value)
        )
        if not colleagues:
            for giver, receiver, reason, days in THANKS:
                give_kudos(
                    s,
                    from_user_id=users[giver],
                    to_user_id=users[receiver],
                    reason=reason,
                    settings=settings,
                    now=now - timedelta(days=days),
                )
                given += 1
    with db.transaction() as s:
        has_themes = s.scalar(select(func.count()).select_from(ComplaintTheme))
        if not has_themes and s.scalar(select(func.count()).select_from(Complaint)):
            run_themes(s, settings=settings, now=now)
    return given
