"""Teams, kudos and praise routing on both backends, through the real services, the events API and the
events importer.

The shop: Maya manages the "Shop floor" team (Tom Baker and Zoë Martin); Ada is an admin outside any
team; Tom Jones is an agent in no team (so "Tom" alone is ambiguous where he matters).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from test_web_client import add_user, make_client, token_for
from typer.testing import CliRunner

from goodwill.config import Business, Settings, load_settings
from goodwill.db import Database, utcnow
from goodwill.events.importers.service import import_events
from goodwill.events.service import NewEvent, record_event
from goodwill.people.privacy import erase_person
from goodwill.people.service import PersonRecord, create_person
from goodwill.team import teams
from goodwill.team.cli import team_app
from goodwill.team.kudos import KudosError, allowance_left, give_kudos, route_praise, wall
from goodwill.team.model import Kudos, StaffNotice, User
from goodwill.team.teams import TeamError

PARIS = Business(timezone="Europe/Paris", currency="EUR")


@dataclass
class Shop:
    ada: int
    maya: int
    tom: int
    zoe: int
    team_id: int


def settings_for(db: Database, **team: Any) -> Settings:
    return load_settings(
        database_url=db.url,
        secret_key="test-secret",
        business={"name": "Maison", "timezone": "Europe/Paris", "currency": "EUR"},
        team=team,
    )


def seed(db: Database) -> Shop:
    ada = add_user(db, "ada@shop.test", "admin", name="Ada Lovelace")
    maya = add_user(db, "maya@shop.test", "manager", name="Maya Angelou")
    tom = add_user(db, "tom@shop.test", "agent", name="Tom Baker")
    zoe = add_user(db, "zoe@shop.test", "agent", name="Zoë Martin")
    with db.transaction() as s:
        team = teams.create_team(s, name="Shop floor", manager_id=maya)
        for member in (tom, zoe):
            teams.add_member(s, team_id=team.id, user_id=member)
        return Shop(ada, maya, tom, zoe, team.id)


def notices(db: Database, user_id: int) -> list[StaffNotice]:
    with db.transaction() as s:  # not reading(): its rollback would expire what it returns
        return list(
            s.scalars(select(StaffNotice).where(StaffNotice.user_id == user_id).order_by(StaffNotice.id))
        )


def kudos_rows(db: Database) -> list[Kudos]:
    with db.transaction() as s:
        return list(s.scalars(select(Kudos).order_by(Kudos.id)))


# ---- teams ---------------------------------------------------------------------------------------


def test_teams_crud_one_team_per_person_and_managers(db: Database) -> None:
    shop = seed(db)
    with db.transaction() as s:
        assert teams.manager_of(s, shop.tom).id == shop.maya  # type: ignore[union-attr]
        assert teams.managed_user_ids(s, shop.maya) == sorted([shop.tom, shop.zoe])
        assert teams.manager_of(s, shop.ada) is None  # in no team
        back = teams.create_team(s, name="  Back   office ", manager_id=shop.ada)
        assert back.name == "Back office"
        teams.add_member(s, team_id=back.id, user_id=shop.zoe)  # moves Zoë
        assert teams.team_of(s, shop.zoe).id == back.id  # type: ignore[union-attr]
        assert teams.manager_of(s, shop.zoe).id == shop.ada  # type: ignore[union-attr]
        assert teams.managed_user_ids(s, shop.maya) == [shop.tom]
        teams.rename_team(s, team_id=back.id, name="Back room")
        teams.set_manager(s, team_id=back.id, manager_id=None)
        assert teams.manager_of(s, shop.zoe) is None
        assert teams.remove_member(s, team_id=back.id, user_id=shop.zoe) is True
        assert teams.remove_member(s, team_id=back.id, user_id=shop.zoe) is False
        views = {t.name: t for t in teams.teams_with_members(s)}
        assert [u.id for u in views["Shop floor"].members] == [shop.tom]
        assert views["Shop floor"].manager.id == shop.maya  # type: ignore[union-attr]
        assert views["Back room"].members == [] and views["Back room"].manager is None
        # A manager in their own team is not their own manager.
        teams.add_member(s, team_id=shop.team_id, user_id=shop.maya)
        assert teams.manager_of(s, shop.maya) is None


@pytest.mark.parametrize(
    ("call", "field", "words"),
    [
        (lambda s, shop: teams.create_team(s, name="shop floor".title()), "name", "already a team"),
        (lambda s, shop: teams.create_team(s, name="   "), "name", "needs a name"),
        (lambda s, shop: teams.create_team(s, name="x" * 121), "name", "at most 120"),
        (
            lambda s, shop: teams.create_team(s, name="New", manager_id=shop.tom),
            "manager_id",
            "manager or admin",
        ),
        (lambda s, shop: teams.create_team(s, name="New", manager_id=9999), "manager_id", "no active member"),
        (
            lambda s, shop: teams.add_member(s, team_id=shop.team_id, user_id=9999),
            "user_id",
            "no active member",
        ),
        (lambda s, shop: teams.add_member(s, team_id=9999, user_id=shop.tom), "team_id", "no team"),
        (
            lambda s, shop: teams.set_manager(s, team_id=shop.team_id, manager_id=shop.zoe),
            "manager_id",
            "agent",
        ),
    ],
)
def test_team_errors_name_the_field(db: Database, call: Any, field: str, words: str) -> None:
    shop = seed(db)
    with db.transaction() as s, pytest.raises(TeamError) as refused:
        call(s, shop)
    assert refused.value.field == field and words in refused.value.message


def test_an_inactive_user_cannot_manage_or_join(db: Database) -> None:
    shop = seed(db)
    with db.transaction() as s:
        s.get(User, shop.ada).active = False  # type: ignore[union-attr]
    with db.transaction() as s, pytest.raises(TeamError, match="no active member"):
        teams.set_manager(s, team_id=shop.team_id, manager_id=shop.ada)


# ---- giving kudos --------------------------------------------------------------------------------


def test_kudos_from_a_colleague_and_from_the_manager_tell_the_recipient(db: Database) -> None:
    shop = seed(db)
    settings = settings_for(db)
    with db.transaction() as s:
        colleague = give_kudos(
            s, from_user_id=shop.zoe, to_user_id=shop.tom, reason="  Covered my Saturday shift  ",
            settings=settings, now=utcnow(),
        )  # fmt: skip
        manager = give_kudos(
            s, from_user_id=shop.maya, to_user_id=shop.tom, reason="Calm with a hard complaint",
            settings=settings, now=utcnow(),
        )  # fmt: skip
        outsider = give_kudos(
            s,
            from_user_id=shop.ada,
            to_user_id=shop.tom,
            reason="Tidy stockroom",
            settings=settings,
            now=utcnow(),
        )
        assert (colleague.from_kind, manager.from_kind, outsider.from_kind) == (
            "colleague",
            "manager",
            "colleague",
        )
        assert colleague.reason == "Covered my Saturday shift" and colleague.points == 0
    told = notices(db, shop.tom)
    assert [n.kind for n in told] == ["kudos"] * 3
    assert told[0].text == "Zoë Martin thanked you: Covered my Saturday shift"
    assert told[0].link == f"/team#kudos-{colleague.id}"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"to_user_id": "self"}, "to_user_id", "yourself"),
        ({"reason": " ok "}, "reason", "at least 3"),
        ({"reason": "y" * 1001}, "reason", "at most 1000"),
        ({"to_user_id": 9999}, "to_user_id", "no active member"),
        ({"points": 5}, "points", "no monthly allowance"),
        ({"person_id": 9999}, "person_id", "no customer"),
        ({"complaint_id": 9999}, "complaint_id", "no complaint"),
    ],
)
def test_refused_kudos_name_the_field_and_keep_nothing(
    db: Database, change: dict[str, Any], field: str, words: str
) -> None:
    shop = seed(db)
    args: dict[str, Any] = {"from_user_id": shop.zoe, "to_user_id": shop.tom, "reason": "Thanks for the help"}
    args |= change
    if args["to_user_id"] == "self":
        args["to_user_id"] = shop.zoe
    with db.transaction() as s, pytest.raises(KudosError) as refused:
        give_kudos(s, settings=settings_for(db), now=utcnow(), **args)
    assert refused.value.field == field and words in refused.value.message
    assert kudos_rows(db) == []


def test_a_deactivated_colleague_cannot_be_thanked(db: Database) -> None:
    shop = seed(db)
    with db.transaction() as s:
        s.get(User, shop.tom).active = False  # type: ignore[union-attr]
    with db.transaction() as s, pytest.raises(KudosError, match="no active member"):
        give_kudos(
            s,
            from_user_id=shop.zoe,
            to_user_id=shop.tom,
            reason="Thanks",
            settings=settings_for(db),
            now=utcnow(),
        )


def test_the_allowance_is_per_giver_per_calendar_month_in_the_business_zone(db: Database) -> None:
    shop = seed(db)
    settings = settings_for(db, monthly_allowance=50)
    end_of_march = datetime(2025, 3, 31, 21, 30, tzinfo=UTC)  # 23:30 in Paris: still March
    april = datetime(2025, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 April in Paris

    def give(points: int, now: datetime, giver: int = shop.zoe) -> Kudos:
        with db.transaction() as s:
            return give_kudos(
                s, from_user_id=giver, to_user_id=shop.tom, reason="Thanks for the help", settings=settings,
                now=now, points=points,
            )  # fmt: skip

    def left(now: datetime, user: int = shop.zoe) -> int | None:
        with db.reading() as s:
            return allowance_left(s, user_id=user, settings=settings, now=now)

    assert left(end_of_march) == 50
    give(30, end_of_march - timedelta(days=20))
    give(0, end_of_march)  # thanks without points are always fine
    assert left(end_of_march) == 20
    with pytest.raises(KudosError, match=r"^You have 20 of your 50 points left this month$"):
        give(21, end_of_march)
    give(20, end_of_march)
    assert left(end_of_march) == 0
    assert left(april) == 50  # a new month in Paris, though still March in UTC
    give(50, april)
    assert left(end_of_march, shop.maya) == 50  # each giver has their own
    assert [k.points for k in kudos_rows(db)] == [30, 0, 20, 50]
    with db.reading() as s:
        assert allowance_left(s, user_id=shop.zoe, settings=settings_for(db), now=april) is None


def _give_points(db: Database, shop: Shop, settings: Settings, points: int) -> str:
    try:
        with db.transaction() as s:
            give_kudos(
                s, from_user_id=shop.zoe, to_user_id=shop.tom, reason="Thanks for the help",
                settings=settings, now=utcnow(), points=points,
            )  # fmt: skip
        return "given"
    except KudosError:
        return "refused"


def _points_given(db: Database) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.coalesce(func.sum(Kudos.points), 0))) or 0)


def test_givers_at_the_same_moment_never_overspend_the_allowance(db: Database) -> None:
    """Four requests start together (a barrier), each giving all 10 points: exactly one gets through."""
    shop = seed(db)
    settings = settings_for(db, monthly_allowance=10)
    barrier = threading.Barrier(4, timeout=60)

    def attempt(_: int) -> str:
        barrier.wait()
        return _give_points(db, shop, settings, 10)

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["given", "refused", "refused", "refused"]
    assert _points_given(db) == 10


def test_a_second_giver_waits_for_the_first_and_sees_its_points(db: Database) -> None:
    """The first giver's transaction is still open when the second one starts: the second must wait
    for it (not read the spent points before it commits), then find nothing left."""
    shop = seed(db)
    settings = settings_for(db, monthly_allowance=10)
    second_started = threading.Event()

    def watch(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        # Set when the second giver takes its lock, or (without one) once it has read what was spent.
        locking = statement.startswith("UPDATE users") or "FOR UPDATE" in statement
        if threading.current_thread().name == "second" and (locking or "sum(kudos.points)" in statement):
            second_started.set()

    event.listen(db.engine, "before_cursor_execute", watch)
    outcome: list[str] = []
    second = threading.Thread(
        name="second", target=lambda: outcome.append(_give_points(db, shop, settings, 10))
    )
    try:
        with db.transaction() as s:
            give_kudos(
                s, from_user_id=shop.zoe, to_user_id=shop.tom, reason="First thanks", settings=settings,
                now=utcnow(), points=10,
            )  # fmt: skip
            second.start()
            assert second_started.wait(timeout=60), "the second giver never started"
        second.join(timeout=60)
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
    assert outcome == ["refused"] and _points_given(db) == 10


# ---- praise routing ------------------------------------------------------------------------------


def test_praise_through_the_events_api_becomes_kudos_and_the_manager_is_told(db: Database) -> None:
    shop = seed(db)
    client = make_client(db)
    headers = token_for(db, shop.ada)
    body = {
        "email": "amelie@montmartre.test",
        "name": "Amélie Poulain",
        "kind": "praise",
        "occurred_at": "2025-05-02T15:00:00+02:00",
        "text": "  Lovely help choosing a gift.  ",
        "staff_email": "zoe@shop.test",
        "source_id": "praise-1",
    }
    created = client.post("/api/v1/events", json=body, headers=headers)
    assert created.status_code == 201, created.text
    again = client.post("/api/v1/events", json=body, headers=headers)
    assert again.status_code == 200, again.text
    [kudos] = kudos_rows(db)
    assert (kudos.to_user_id, kudos.from_user_id, kudos.from_kind) == (shop.zoe, None, "customer")
    assert kudos.reason == "Lovely help choosing a gift." and kudos.event_id == created.json()["id"]
    assert kudos.person_id == created.json()["person_id"]
    [to_staff] = notices(db, shop.zoe)
    assert (to_staff.kind, to_staff.text) == ("praise", "A customer praised you")
    [to_manager] = notices(db, shop.maya)
    assert (to_manager.kind, to_manager.text) == ("praise", "Amélie praised Zoë Martin")
    with db.reading() as s:
        [card] = wall(s)
    assert card.from_customer and card.giver == "a customer" and card.customer_first_name == "Amélie"
    assert card.recipient == "Zoë Martin" and card.reason == "Lovely help choosing a gift."
    assert "amelie@" not in json.dumps(card.__dict__, default=str) and "Poulain" not in str(card)


def write_csv(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    lines = ["source_id,email,name,kind,occurred_at,text"]
    lines += [",".join(f'"{cell}"' for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_praise_from_the_importer_finds_the_named_staff_member_once(db: Database, tmp_path: Path) -> None:
    shop = seed(db)
    settings = settings_for(db)
    path = write_csv(
        tmp_path / "events.csv",
        [
            (
                "e-1",
                "bea@example.test",
                "Béatrice Dalle",
                "praise",
                "2025-06-03 10:00",
                "Tom was so helpful!",
            ),
            (
                "e-2",
                "carl@example.test",
                "Carl Orff",
                "praise",
                "2025-06-03 11:00",
                "tom and zoe were both great",
            ),
            ("e-3", "dan@example.test", "Dan Brown", "praise", "2025-06-03 12:00", "Tomorrow I'll be back"),
            ("e-4", "eve@example.test", "Eve Arden", "visit", "2025-06-03 13:00", "Tom showed me round"),
        ],
    )
    for _ in range(2):  # a re-import stores nothing new and routes nothing twice
        with db.transaction() as s:
            import_events(session=s, path=path, business=PARIS, settings=settings)
    [kudos] = kudos_rows(db)
    assert (kudos.to_user_id, kudos.from_kind, kudos.reason) == (shop.tom, "customer", "Tom was so helpful!")
    assert [n.text for n in notices(db, shop.maya)] == ["Béatrice praised Tom Baker"]
    assert [n.text for n in notices(db, shop.tom)] == ["A customer praised you"]
    with db.transaction() as s:  # routing the same events again by hand changes nothing either
        event_ids = list(s.scalars(select(Kudos.event_id)))
        assert route_praise(s, event_ids=[i for i in event_ids if i], settings=settings) == 0


def test_an_ambiguous_first_name_routes_nowhere_but_a_full_name_does(db: Database, tmp_path: Path) -> None:
    shop = seed(db)
    jones = add_user(db, "jones@shop.test", "agent", name="Tom Jones")
    settings = settings_for(db)
    path = write_csv(
        tmp_path / "events.csv",
        [
            ("t-1", "bea@example.test", "Béatrice", "praise", "2025-06-03 10:00", "Tom was so helpful!"),
            ("t-2", "carl@example.test", "Carl", "praise", "2025-06-03 11:00", "TOM JONES sang to me"),
        ],
    )
    with db.transaction() as s:
        import_events(session=s, path=path, business=PARIS, settings=settings)
    [kudos] = kudos_rows(db)
    assert kudos.to_user_id == jones and kudos.reason == "TOM JONES sang to me"
    assert notices(db, shop.tom) == [] and notices(db, shop.maya) == []  # Tom Jones is in no team
    assert [n.text for n in notices(db, jones)] == ["A customer praised you"]


def test_everyday_words_and_the_customers_own_name_are_not_praise_for_staff(
    db: Database, tmp_path: Path
) -> None:
    seed(db)
    add_user(db, "will@shop.test", "agent", name="Will Turner")
    anna = add_user(db, "anna@shop.test", "agent", name="Anna Berg")
    path = write_csv(
        tmp_path / "events.csv",
        [
            ("w-1", "gus@example.test", "Gus Grey", "praise", "2025-06-03 10:00",
             "Great shop, will definitely come back!"),
            ("w-2", "anna.smith@example.test", "Anna Smith", "praise", "2025-06-03 11:00",
             "Lovely service. Anna"),
            ("w-3", "hal@example.test", "Hal Finch", "praise", "2025-06-03 12:00",
             "Will definitely come back, thanks Anna!"),
        ],
    )  # fmt: skip
    with db.transaction() as s:
        import_events(session=s, path=path, business=PARIS, settings=settings_for(db))
    [kudos] = kudos_rows(db)  # only Hal's thanks names a member of staff
    assert (kudos.to_user_id, kudos.reason) == (anna, "Will definitely come back, thanks Anna!")


def _praise(db: Database, *, staff_id: int | None, text: str | None, source_id: str = "p-1") -> int:
    with db.transaction() as s:
        record = PersonRecord(name="Gus Grey", email=f"gus-{source_id}@example.test")
        person, _ = create_person(s, record, source="test")
        praise, _ = record_event(
            s,
            NewEvent(
                person_id=person.id, kind="praise", occurred_at=utcnow(), source="shop", source_id=source_id,
                staff_id=staff_id, text=text,
            ),
        )  # fmt: skip
        return praise.id


def test_praise_for_a_deactivated_member_of_staff_reaches_nobody_they_did_not_name(db: Database) -> None:
    shop = seed(db)
    settings = settings_for(db)
    first = _praise(db, staff_id=shop.tom, text="Such a helpful visit")
    second = _praise(db, staff_id=shop.tom, text="Zoë found the right size", source_id="p-2")
    with db.transaction() as s:
        s.get(User, shop.tom).active = False  # type: ignore[union-attr]
    with db.transaction() as s:
        assert route_praise(s, event_ids=[first, second], settings=settings) == 1
    # The one who served them has left: their thanks goes to the colleague the words name, if any.
    [kudos] = kudos_rows(db)
    assert (kudos.to_user_id, kudos.event_id) == (shop.zoe, second)
    assert notices(db, shop.tom) == [] and [n.text for n in notices(db, shop.zoe)] == [
        "A customer praised you"
    ]


def test_a_deactivated_namesake_makes_a_first_name_ambiguous(db: Database) -> None:
    shop = seed(db)
    jones = add_user(db, "jones@shop.test", "agent", name="Tom Jones")
    with db.transaction() as s:
        s.get(User, shop.tom).active = False  # type: ignore[union-attr]
    praise = _praise(db, staff_id=None, text="Tom was so patient")
    with db.transaction() as s:
        assert route_praise(s, event_ids=[praise], settings=settings_for(db)) == 0  # maybe Tom Baker
    again = _praise(db, staff_id=None, text="Tom Jones was so patient", source_id="p-2")
    with db.transaction() as s:
        assert route_praise(s, event_ids=[again], settings=settings_for(db)) == 1
    assert [k.to_user_id for k in kudos_rows(db)] == [jones]


def test_praise_without_words_is_not_shown_as_erased(db: Database) -> None:
    shop = seed(db)
    praise = _praise(db, staff_id=shop.zoe, text=None)
    with db.transaction() as s:
        assert route_praise(s, event_ids=[praise], settings=settings_for(db)) == 1
    with db.reading() as s:
        [card] = wall(s)
    assert card.reason == "" and card.from_customer and not card.words_erased
    assert card.customer_first_name == "Gus"
    with db.transaction() as s:
        erase_person(
            s, person_ref="gus-p-1@example.test", secret_key="test-secret", erased_by="t", reason="asked"
        )
    with db.reading() as s:
        [card] = wall(s)
    assert card.words_erased and card.customer_first_name == ""


def test_routing_ignores_other_kinds_and_no_ids(db: Database) -> None:
    seed(db)
    with db.transaction() as s:
        assert route_praise(s, event_ids=[], settings=settings_for(db)) == 0
        assert route_praise(s, event_ids=[1, 2, 3], settings=settings_for(db)) == 0


def test_an_erased_customers_praise_keeps_the_thanks_but_not_their_words(db: Database) -> None:
    shop = seed(db)
    client = make_client(db)
    body = {
        "email": "amelie@montmartre.test",
        "name": "Amélie Poulain",
        "kind": "praise",
        "occurred_at": "2025-05-02T15:00:00+02:00",
        "text": "Zoë remembered my daughter's name",
    }
    assert client.post("/api/v1/events", json=body, headers=token_for(db, shop.ada)).status_code == 201
    with db.transaction() as s:
        [kudos] = s.scalars(select(Kudos)).all()
        person_id = kudos.person_id
        give_kudos(
            s, from_user_id=shop.maya, to_user_id=shop.zoe, reason="Amélie left so happy",
            settings=settings_for(db), now=utcnow(), person_id=person_id,
        )  # fmt: skip
    with db.reading() as s:
        [colleague, customer] = wall(s)
        assert customer.reason and customer.person_id == person_id and colleague.person_id == person_id
    with db.transaction() as s:
        erase_person(s, person_ref=person_id, secret_key="test-secret", erased_by="test", reason="asked")
    with db.reading() as s:
        [colleague, customer] = wall(s)
    assert customer.from_customer and customer.recipient == "Zoë Martin" and customer.giver == "a customer"
    assert customer.reason == "" and customer.customer_first_name == "" and customer.person_id is None
    assert colleague.giver == "Maya Angelou" and colleague.person_id is None  # the thanks stays, not the link
    assert "Amélie" not in str(customer) + str(colleague) and "remembered" not in str(customer)


def test_a_colleagues_thanks_may_point_at_the_customer_moment(db: Database) -> None:
    shop = seed(db)
    with db.transaction() as s:
        person, _ = create_person(s, PersonRecord(name="Ōta Hiroshi", email="hiro@ota.test"), source="test")
        give_kudos(
            s, from_user_id=shop.tom, to_user_id=shop.zoe, reason="You found Hiroshi's lost parcel",
            settings=settings_for(db), now=utcnow(), person_id=person.id,
        )  # fmt: skip
    with db.reading() as s:
        [card] = wall(s)
        assert card.person_id == person.id and card.giver == "Tom Baker" and not card.from_customer
        assert card.customer_first_name == ""  # a colleague's card does not name the customer itself
        assert wall(s, to_user_id=shop.tom) == []
        assert s.scalar(select(func.count()).select_from(Kudos)) == 1


# ---- CLI -----------------------------------------------------------------------------------------


def test_cli_gives_kudos_lists_the_wall_and_arranges_teams(db: Database) -> None:
    seed(db)
    runner = CliRunner()
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_TEAM__MONTHLY_ALLOWANCE": "50"}

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(team_app, list(args), env=env)
        return result.exit_code, result.stdout, result.stderr

    code, out, err = run(
        "kudos",
        "give",
        "--from",
        "zoe@shop.test",
        "--to",
        "tom@shop.test",
        "Saved my Saturday",
        "--points",
        "20",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out) | {"id": 0} == {
        "id": 0,
        "from_kind": "colleague",
        "points": 20,
        "reason": "Saved my Saturday",
        "allowance_left": 30,
    }
    code, _, err = run(
        "kudos", "give", "--from", "zoe@shop.test", "--to", "tom@shop.test", "Again!", "--points", "31"
    )
    assert code == 1 and "You have 30 of your 50 points left this month" in err
    code, _, err = run("kudos", "give", "--from", "nobody@shop.test", "--to", "tom@shop.test", "Thanks")
    assert code == 1 and "--from" in err and "nobody@shop.test" in err
    code, out, _ = run("kudos", "list", "--json")
    assert code == 0 and [c["reason"] for c in json.loads(out)] == ["Saved my Saturday"]
    code, out, _ = run("kudos", "list")
    assert code == 0 and "Saved my Saturday" in out
    code, out, err = run("teams", "create", "Back office", "--manager", "ada@shop.test", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "Back office"
    code, _, err = run("teams", "create", "Back office")
    assert code == 1 and "already a team" in err
    code, out, err = run("teams", "add", "Back office", "zoe@shop.test", "--json")
    assert code == 0, err
    code, out, _ = run("teams", "list", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["Back office"] == {
        "id": rows["Back office"]["id"],
        "name": "Back office",
        "manager": "ada@shop.test",
        "members": ["zoe@shop.test"],
    }
    assert rows["Shop floor"]["members"] == ["tom@shop.test"]
    code, out, _ = run("teams", "list")
    assert code == 0 and "Back office" in out
