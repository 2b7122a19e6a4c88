"""Each member of staff's notices page: only their own, newest first, unread ones highlighted, marked read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from test_web_client import add_user, form_token, login, make_client

from goodwill.db import Database
from goodwill.team.model import StaffNotice
from goodwill.team.notices import notify

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def seed(db: Database) -> tuple[int, int, dict[str, int]]:
    max_ = add_user(db, "max@shop.test", "manager", name="Max Stone")
    ann = add_user(db, "ann@shop.test", "agent", name="Ann Lee")
    ids = {}
    with db.transaction() as s:
        for n, (user, key, text, link) in enumerate(
            [
                (max_, "praise:1", "A customer praised Ann Lee: quick and kind", "/team#kudos-1"),
                (max_, "escalation:7:resolution", "Complaint #7 is overdue and now yours", "/complaints/7"),
                (ann, "kudos:2", "Max Stone thanked you: the lid saga", ""),
                (max_, "digest:2026-W47", "Your team this week: 1 person worth thanking.", ""),
            ]
        ):
            notice = notify(s, user_id=user, kind=key.split(":")[0], key=key, text=text, link=link)
            assert notice is not None
            notice.created_at = T0 + timedelta(hours=n)
            ids[key] = notice.id
        # Told twice, kept once.
        assert notify(s, user_id=ann, kind="kudos", key="kudos:2", text="again") is None
    return max_, ann, ids


def read_state(db: Database) -> dict[str, bool]:
    with db.reading() as s:
        return {n.key: n.read_at is not None for n in s.scalars(select(StaffNotice))}


def test_the_page_shows_only_my_notices_newest_first_with_unread_highlighted(db: Database) -> None:
    _, _, ids = seed(db)
    client = make_client(db)
    assert login(client, "max@shop.test").status_code == 303
    page = client.get("/team/notices")
    assert page.status_code == 200
    html = page.text
    order = [
        html.index(f'id="notice-{ids[k]}"')
        for k in ("digest:2026-W47", "escalation:7:resolution", "praise:1")
    ]
    assert order == sorted(order)
    assert "lid saga" not in html and f'id="notice-{ids["kudos:2"]}"' not in html  # Ann's, not Max's
    assert html.count("notice-unread") == 3 and 'id="unread">3 unread' in html
    assert 'href="/complaints/7"' in html

    ann = make_client(db)
    assert login(ann, "ann@shop.test").status_code == 303
    mine = ann.get("/team/notices").text
    assert "lid saga" in mine and "Complaint #7" not in mine


def test_marking_read_one_or_all_only_ever_touches_my_own(db: Database) -> None:
    _, _, ids = seed(db)
    client = make_client(db)
    assert login(client, "max@shop.test").status_code == 303
    token = form_token(client.get("/team/notices").text)

    refused = client.post("/team/notices/read", data={"notice_id": str(ids["praise:1"])})
    assert refused.status_code == 403  # no CSRF token
    done = client.post(
        "/team/notices/read",
        data={"csrf_token": token, "notice_id": str(ids["praise:1"])},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/team/notices"
    assert read_state(db) == {
        "praise:1": True, "escalation:7:resolution": False, "kudos:2": False, "digest:2026-W47": False
    }  # fmt: skip
    # Someone else's notice id changes nothing.
    client.post("/team/notices/read", data={"csrf_token": token, "notice_id": str(ids["kudos:2"])})
    assert read_state(db)["kudos:2"] is False
    page = client.get("/team/notices").text
    assert page.count("notice-unread") == 2 and page.count("notice-read") == 1

    client.post("/team/notices/read", data={"csrf_token": token})
    assert read_state(db) == {
        "praise:1": True, "escalation:7:resolution": True, "kudos:2": False, "digest:2026-W47": True
    }  # fmt: skip
    assert "All read." in client.get("/team/notices").text


def test_anyone_on_the_staff_has_a_notices_page_and_strangers_are_sent_to_log_in(db: Database) -> None:
    add_user(db, "ada@shop.test", "admin")
    client = make_client(db)
    assert client.get("/team/notices", follow_redirects=False).status_code == 303
    assert client.post("/team/notices/read", follow_redirects=False).status_code == 303
    assert login(client, "ada@shop.test").status_code == 303
    assert "No notices yet" in client.get("/team/notices").text


def test_an_out_of_range_notice_id_is_refused_not_a_server_error(db: Database) -> None:
    seed(db)
    client = make_client(db)
    assert login(client, "max@shop.test").status_code == 303
    token = form_token(client.get("/team/notices").text)
    for notice_id in (str(2**63), "\u00b2", "-1"):
        refused = client.post("/team/notices/read", data={"csrf_token": token, "notice_id": notice_id})
        assert refused.status_code == 422, notice_id
    assert not any(read_state(db).values())
