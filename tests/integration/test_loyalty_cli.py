"""``goodwill loyalty ...`` through the real ``goodwill`` app, against real databases (both backends)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from typer.testing import CliRunner

from goodwill.cli import app
from goodwill.config import load_settings
from goodwill.db import Database, utcnow
from goodwill.events.service import NewEvent, record_event
from goodwill.loyalty import ledger
from goodwill.loyalty.links import read_customer_token
from goodwill.loyalty.model import EntryKind, LoyaltyAccount
from goodwill.loyalty.redemption import ShipTo, redeem
from goodwill.people.privacy import erase_person
from goodwill.people.service import PersonRecord, resolve_people

runner = CliRunner()
SECRET = "loyalty-cli-test-secret"
TOML = f'secret_key = "{SECRET}"\n[business]\ntimezone = "Europe/Paris"\ncurrency = "EUR"\n'
TOML += '[delivery]\npublic_url = "https://shop.example"\n'


def run(db: Database, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of ``goodwill loyalty ARGS``."""
    config = tmp_path / "goodwill.toml"
    config.write_text(TOML)
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_CONFIG": str(config)}
    result = runner.invoke(app, ["loyalty", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def data(db: Database, tmp_path: Path, *args: str) -> Any:
    code, out, err = run(db, tmp_path, *args, "--json")
    assert code == 0, out + err
    return json.loads(out)


def person(db: Database, name: str) -> int:
    with db.transaction() as s:
        [pid], _ = resolve_people(s, [PersonRecord(name=name, email=f"{name.lower()}@example.com")])
    return pid


def test_adjust_show_and_refusals(db: Database, tmp_path: Path) -> None:
    pid = person(db, "Ann")
    added = data(db, tmp_path, "adjust", "ann@example.com", "120", "--reason", "welcome gift")
    assert added["person_id"] == pid
    assert (added["entry"]["kind"], added["entry"]["points"], added["entry"]["note"]) == (
        "adjust",
        120,
        "welcome gift",
    )
    # A negative number is POINTS, not an option.
    taken = data(db, tmp_path, "adjust", str(pid), "-20", "--reason", "typo in the first one")
    assert taken["entry"]["points"] == -20

    code, out, err = run(db, tmp_path, "adjust", str(pid), "-500", "--reason", "too much")
    assert code == 1 and "100 points that can be taken off" in err and "500" in err
    code, _, err = run(db, tmp_path, "adjust", str(pid), "0", "--reason", "nothing")
    assert code == 1 and "other than 0" in err
    code, _, err = run(db, tmp_path, "adjust", "nobody@example.com", "5", "--reason", "x")
    assert code == 1 and "no person" in err

    shown = data(db, tmp_path, "show", "ann@example.com")
    assert shown["person"] == {"id": pid, "name": "Ann", "email": "ann@example.com"}
    account = shown["account"]
    assert (account["member"], account["balance"], account["available"], account["pending"]) == (
        True,
        100,
        100,
        0,
    )
    assert [(e["kind"], e["points"]) for e in shown["entries"]] == [("adjust", -20), ("adjust", 120)]
    # The added points expire like earned ones (12 months by default), and show as such.
    expires = datetime.fromisoformat(shown["entries"][1]["expires_at"])
    assert timedelta(days=360) < expires - utcnow() < timedelta(days=370)
    assert shown["tier"]["basis"] == "points"

    code, out, _ = run(db, tmp_path, "show", "ann@example.com")
    assert code == 0 and "100 points: 100 spendable, 0 pending" in out and "welcome gift" in out


def test_check_passes_then_names_a_tampered_balance(db: Database, tmp_path: Path) -> None:
    pid = person(db, "Bea")
    data(db, tmp_path, "adjust", str(pid), "75", "--reason", "goodwill gesture")
    report = data(db, tmp_path, "check")
    assert report["ok"] is True and report["mismatches"] == []
    assert (report["totals"]["members"], report["totals"]["issued"], report["totals"]["outstanding"]) == (
        1,
        75,
        75,
    )
    code, out, _ = run(db, tmp_path, "check")
    assert code == 0 and "Every balance agrees with the ledger." in out

    with db.transaction() as s:
        s.execute(update(LoyaltyAccount).where(LoyaltyAccount.person_id == pid).values(balance=999))
    code, out, err = run(db, tmp_path, "check")
    assert code == 1
    assert f"person #{pid}: stored balance is 999 but the entries add up to 75" in err
    code, out, _ = run(db, tmp_path, "check", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert {"person_id": pid, "problem": "stored balance is 999 but the entries add up to 75"} in report[
        "mismatches"
    ]


def test_expire_takes_what_is_due_once(db: Database, tmp_path: Path) -> None:
    pid = person(db, "Cy")
    now = utcnow()
    with db.transaction() as s:
        for key, days_left in (("earn:old", -3), ("earn:new", 30)):
            ledger.add_lot(
                s,
                person_id=pid,
                kind=EntryKind.earn,
                points=40 if days_left < 0 else 60,
                key=key,
                at=now - timedelta(days=400),
                available_at=now - timedelta(days=386),
                expires_at=now + timedelta(days=days_left),
                rule="test",
            )
    assert data(db, tmp_path, "expire")["expired_points"] == 40
    assert data(db, tmp_path, "expire")["expired_points"] == 0
    code, out, _ = run(db, tmp_path, "expire")
    assert code == 0 and "No points were due to expire." in out
    account = data(db, tmp_path, "show", str(pid))["account"]
    assert (account["balance"], account["expired"]) == (60, 40)
    assert [item["points"] for item in account["expiring"]] == [60]


def test_link_is_signed_for_the_person(db: Database, tmp_path: Path) -> None:
    pid = person(db, "Dee")
    found = data(db, tmp_path, "link", "dee@example.com")
    prefix = "https://shop.example/my/loyalty/"
    assert found["person_id"] == pid and found["url"].startswith(prefix)
    token = found["url"].removeprefix(prefix)
    assert read_customer_token(secret_key=SECRET, token=token, now=utcnow()) == pid
    expires = datetime.fromisoformat(found["expires_at"])
    assert timedelta(days=89) < expires - utcnow() <= timedelta(days=90)
    code, out, _ = run(db, tmp_path, "link", str(pid))
    assert code == 0 and prefix in out.replace("\n", "")
    # A link can be made before the first point; the account shows as not a member yet.
    code, out, _ = run(db, tmp_path, "show", str(pid))
    assert code == 0 and "Not a member yet" in out


def birthday_of(db: Database, pid: int) -> tuple[int | None, int | None] | None:
    with db.reading() as s:
        account = s.get(LoyaltyAccount, pid)
        return None if account is None else (account.birthday_month, account.birthday_day)


def test_birthday_is_set_and_cleared(db: Database, tmp_path: Path) -> None:
    pid = person(db, "Bea")
    saved = data(db, tmp_path, "birthday", "bea@example.com", "02-29")
    assert saved == {"person_id": pid, "birthday": {"month": 2, "day": 29}}
    assert birthday_of(db, pid) == (2, 29)
    code, out, _ = run(db, tmp_path, "birthday", str(pid), "12-05")
    assert code == 0 and "birthday 5 December" in out and birthday_of(db, pid) == (12, 5)
    for args, words in [
        (("02-30",), "February has no day 30"),
        (("13-01",), "month 13 is not a month"),
        (("2/29",), "give month and day as MM-DD"),
        ((), "give a birthday as MM-DD, or --clear"),
        (("03-01", "--clear"), "not both"),
    ]:
        code, out, err = run(db, tmp_path, "birthday", str(pid), *args)
        assert code != 0 and words in out + err, (args, out, err)
    assert birthday_of(db, pid) == (12, 5)
    assert data(db, tmp_path, "birthday", str(pid), "--clear") == {"person_id": pid, "birthday": None}
    assert birthday_of(db, pid) == (None, None)


def test_an_erased_person_gets_no_link_and_no_birthday(db: Database, tmp_path: Path) -> None:
    pid = person(db, "Eve")
    with db.transaction() as s:
        erase_person(s, person_ref=pid, secret_key=SECRET, erased_by="test", reason="asked to be forgotten")
    code, out, err = run(db, tmp_path, "link", str(pid))
    assert code == 1 and "erased" in err and "/my/loyalty/" not in out
    code, _, err = run(db, tmp_path, "birthday", str(pid), "04-01")
    assert code == 1 and "erased" in err and birthday_of(db, pid) is None


def test_rewards_add_list_and_redemptions(db: Database, tmp_path: Path) -> None:
    gift = data(
        db, tmp_path, "rewards", "add", "Bamboo matcha whisk set", "--kind", "physical_gift", "--cost", "450",
        "--stock", "5", "--limit", "1", "--description", "Hand-made in Nara.", "--from", "2026-01-01",
        "--until", "2099-12-31",
    )  # fmt: skip
    assert (gift["kind"], gift["cost_points"], gift["stock"], gift["per_person_limit"]) == (
        "physical_gift",
        450,
        5,
        1,
    )
    # Dates are days in the business's time zone; --until includes its whole day.
    assert gift["available_from"] == "2025-12-31T23:00:00+00:00"
    assert gift["available_until"] == "2099-12-31T23:00:00+00:00"
    data(db, tmp_path, "rewards", "add", "Free shipping", "--kind", "free_shipping", "--cost", "100")
    mug = ("Old mug [seconds]", "--kind", "physical_gift", "--cost", "50", "--inactive")
    data(db, tmp_path, "rewards", "add", *mug)
    code, _, err = run(db, tmp_path, "rewards", "add", "Yacht", "--kind", "boat", "--cost", "9")
    assert code == 1 and "kind: unknown kind 'boat'" in err
    code, _, err = run(db, tmp_path, "rewards", "add", "Nothing", "--kind", "discount", "--cost", "0")
    assert code == 1 and "cost_points" in err

    assert [r["name"] for r in data(db, tmp_path, "rewards", "list")] == [
        "Old mug [seconds]",
        "Free shipping",
        "Bamboo matcha whisk set",
    ]
    available = data(db, tmp_path, "rewards", "list", "--available")
    assert [r["name"] for r in available] == ["Free shipping", "Bamboo matcha whisk set"]
    code, out, _ = run(db, tmp_path, "rewards", "list")
    # Names are shown as written: [brackets] are not taken for markup.
    assert code == 0 and "Bamboo" in out and "always" in out and "[seconds]" in out, out

    pid = person(db, "Eve")
    settings = load_settings(business={"timezone": "Europe/Paris", "currency": "EUR"})
    now = utcnow()
    with db.transaction() as s:
        ledger.adjust(
            s, person_id=pid, points=600, reason="seed", key="seed", by_user_id=None, now=now,
            config=settings.loyalty,
        )  # fmt: skip
        address = ShipTo(
            name="Eve Park", line1="3 Rue Oberkampf", city="Paris", postal_code="75011", country="FR"
        )
        for key, reward_id, ship_to in (("r1", gift["id"], address), ("r2", available[0]["id"], None)):
            redeem(
                s, person_id=pid, reward_id=reward_id, request_key=key, ship_to=ship_to, now=now,
                by="customer", settings=settings,
            )  # fmt: skip

    everything = data(db, tmp_path, "redemptions")
    assert [(r["reward"], r["status"], r["points"]) for r in everything] == [
        ("Free shipping", "delivered", 100),
        ("Bamboo matcha whisk set", "pending", 450),
    ]
    waiting = data(db, tmp_path, "redemptions", "--status", "pending", "--status", "to_fulfil")
    assert len(waiting) == 1 and waiting[0]["ship_to"]["city"] == "Paris" and waiting[0]["person"] == "Eve"
    assert len(data(db, tmp_path, "redemptions", "--person", "eve@example.com", "--limit", "1")) == 1
    code, _, err = run(db, tmp_path, "redemptions", "--status", "lost")
    assert code == 2 and "unknown lost" in err
    code, out, _ = run(db, tmp_path, "redemptions", "--status", "pending")
    assert code == 0 and "Paris" in out and "pending" in out, out


def test_award_gives_points_once_and_tiers_follow(db: Database, tmp_path: Path) -> None:
    pid = person(db, "Fay")
    now = utcnow()
    with db.transaction() as s:
        for n, euros in enumerate((320, 260)):
            record_event(
                s,
                NewEvent(
                    person_id=pid,
                    kind="purchase",
                    occurred_at=now - timedelta(days=40 - n),
                    source="test",
                    source_id=f"order-{n}",
                    amount_minor=euros * 100,
                    currency="EUR",
                ),
            )
    # --since: only events from that day on (none yet); a bad day is refused.
    later = data(db, tmp_path, "award", "--since", (now + timedelta(days=2)).date().isoformat())
    assert (later["events"]["earned_entries"], later["events"]["points"]) == (0, 0)
    code, _, err = run(db, tmp_path, "award", "--since", "last tuesday")
    assert code == 1 and "--since: not a date" in err
    first = data(db, tmp_path, "award")
    assert (first["events"]["earned_entries"], first["events"]["points"]) == (2, 580)  # 1 point per euro
    again = data(db, tmp_path, "award")
    assert (again["events"]["earned_entries"], again["events"]["points"]) == (0, 0)
    assert again["day"] == now.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    code, out, _ = run(db, tmp_path, "award")
    assert code == 0 and "Events: 0 awards, 0 points" in out
    # Awarding brings tiers up to date: 580 points in the window is Silver.
    shown = data(db, tmp_path, "show", str(pid))
    assert (shown["account"]["tier"], shown["account"]["balance"]) == ("Silver", 580)
    assert (shown["tier"]["next_tier"], shown["tier"]["to_next"], shown["tier"]["to_keep"]) == (
        "Gold",
        920,
        0,
    )
    assert data(db, tmp_path, "tiers")["changes"] == []

    # Someone made Gold by hand no longer qualifies: the grace period keeps Gold for 90 days.
    with db.transaction() as s:
        s.execute(update(LoyaltyAccount).where(LoyaltyAccount.person_id == pid).values(tier="Gold"))
    changes = data(db, tmp_path, "tiers")
    assert changes["changed"] == 1 and len(changes["changes"]) == 1
    change = changes["changes"][0]
    assert (change["person_id"], change["from"], change["to"]) == (pid, "Gold", "Gold")
    kept = datetime.fromisoformat(change["kept_until"]) - utcnow()
    assert timedelta(days=89) < kept <= timedelta(days=90)
    code, out, _ = run(db, tmp_path, "show", str(pid))
    assert code == 0 and "kept under grace until" in out and "920 more to keep it" in out
