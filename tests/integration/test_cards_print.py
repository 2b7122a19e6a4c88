"""``goodwill cards print``: approved card notes become a PDF checked with pypdf, then are marked sent.

Runs on SQLite and PostgreSQL. The PDF is read back as a printer would get it: page count and
sizes, the note and the address extractable from each page, Dancing Script embedded as TrueType.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from typer.testing import CliRunner

from goodwill.bank.model import BankEntry
from goodwill.cli import app
from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.events.model import Event
from goodwill.notes import service as notes
from goodwill.notes.model import Note
from goodwill.outbox.card_service import print_cards
from goodwill.outbox.model import Message, MessageAttempt
from goodwill.people.service import PersonRecord, record_consent, resolve_people
from goodwill.team.service import create_user

runner = CliRunner()
DAY = date(2026, 11, 20)
PT_PER_MM = 72 / 25.4

ZOE = (
    "Dear Zoë,\n\n12 orders since March 2024. We noticed, and we wanted to say thank you properly, "
    "on paper.\n\nMaya"
)
LUKASZ = (
    "Łukasz,\n\nYour 5th order, the Darjeeling and the blue teapot, is on our minds today.\n"
    "I haven't forgotten that you're training for the Kraków marathon.\n\nThe Teapot & Co team"
)
JOSE = "Dear José,\n\nYou wrote “Maya was so patient on the phone”. I passed it on to her.\n\nRosa"

PEOPLE: dict[str, dict[str, Any]] = {
    "zoe": {"name": "Zoë Martin", "address_line1": "1 rue de la Paix", "city": "Paris",
            "postal_code": "75002", "country": "France"},
    "lukasz": {"name": "Łukasz Nowak", "address_line1": "ul. Długa 5/3", "city": "Kraków",
               "postal_code": "31-147", "country": "PL"},
    "jose": {"name": "José Álvarez", "address_line1": "742 Evergreen Terrace", "address_line2": "Apt 2",
             "city": "Springfield", "region": "IL", "postal_code": "62704", "country": "USA"},
    "nadia": {"name": "Nadia Homeless"},  # no postal address
    "carl": {"name": "Carl Gone", "address_line1": "9 Quay St", "city": "Cork", "country": "Ireland"},
    "fay": {"name": "Fay Future", "address_line1": "3 Mill Lane", "city": "York", "postal_code": "YO1 7HH",
            "country": "UK"},
}  # fmt: skip


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def seed(db: Database) -> dict[str, int]:
    """People with card consent and their queued card messages; returns message ids by person key."""
    with db.transaction() as s:
        ids, _ = resolve_people(
            s,
            [
                PersonRecord(email=f"{key}@example.com", kind="customer", consent={"card": True}, **fields)
                for key, fields in PEOPLE.items()
            ],
        )
        person = dict(zip(PEOPLE, ids, strict=True))
        # Carl withdrew consent to cards after his note was approved.
        record_consent(s, person_id=person["carl"], channel="card", granted=False, source="phone call")
        thanks = "\n\nThank you.\n\nMaya"
        rows = {
            # Approved two days before: a skipped day must not lose it.
            "zoe": Message(person_id=person["zoe"], channel="card", body=ZOE,
                           created_at=at(DAY, 9) - timedelta(days=2)),
            # 23:30 UTC the day before is 00:30 on DAY in Paris: due.
            "lukasz": Message(person_id=person["lukasz"], channel="card", body=LUKASZ,
                              created_at=at(DAY - timedelta(days=1), 23, 30)),
            "jose": Message(person_id=person["jose"], channel="card", body=JOSE, created_at=at(DAY, 10)),
            "nadia": Message(person_id=person["nadia"], channel="card", body="Dear Nadia," + thanks,
                             created_at=at(DAY, 8)),
            "carl": Message(person_id=person["carl"], channel="card", body="Dear Carl," + thanks,
                            created_at=at(DAY, 8)),
            # 23:30 UTC on DAY is already the next day in Paris: not due yet.
            "fay": Message(person_id=person["fay"], channel="card", body="Dear Fay," + thanks,
                           created_at=at(DAY, 23, 30)),
            "zoe_email": Message(person_id=person["zoe"], channel="email", body="Hi Zoë",
                                 created_at=at(DAY, 8)),
        }  # fmt: skip
        s.add_all(rows.values())
        s.flush()
        return {key: m.id for key, m in rows.items()} | {f"person_{k}": v for k, v in person.items()}


def run(db: Database, tmp_path: Path, *args: str, address: str = "12 High Street, Bath BA1 1AA, UK") -> Any:
    config = tmp_path / "goodwill.toml"
    config.write_text(
        f'[business]\nname = "Teapot & Co"\ntimezone = "Europe/Paris"\ncurrency = "EUR"\n'
        f'postal_address = "{address}"\n'
    )
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_CONFIG": str(config)}
    return runner.invoke(app, ["cards", "print", *args], env=env)


def print_json(db: Database, tmp_path: Path, *args: str) -> dict[str, Any]:
    result = run(db, tmp_path, *args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def flat(text: str) -> str:
    return "".join(text.split())


def state(db: Database) -> dict[str, Any]:
    """Everything printing may change, to compare before and after."""
    with db.reading() as s:
        messages = [
            (m.id, m.status, m.provider_id, m.sent_at, m.attempts)
            for m in s.scalars(select(Message).order_by(Message.id))
        ]
        return {
            "messages": messages,
            "attempts": s.scalar(select(func.count()).select_from(MessageAttempt)),
            "events": s.scalar(select(func.count()).select_from(Event)),
            "bank": s.scalar(select(func.count()).select_from(BankEntry)),
        }


def test_cards_print_to_a_checked_pdf_and_are_marked_sent_once(db: Database, tmp_path: Path) -> None:
    ids = seed(db)
    out = tmp_path / "cards.pdf"
    data = print_json(db, tmp_path, "--date", DAY.isoformat(), "--out", str(out))

    # Printed in approval order; each card's envelope is three pages later.
    assert [(c["message_id"], c["card_page"], c["envelope_page"]) for c in data["printed"]] == [
        (ids["zoe"], 1, 4),
        (ids["lukasz"], 2, 5),
        (ids["jose"], 3, 6),
    ]
    held = {h["message_id"]: h for h in data["held"]}
    assert set(held) == {ids["nadia"], ids["carl"]}
    assert held[ids["nadia"]]["reason"] == "no_address"
    assert held[ids["nadia"]]["person_id"] == ids["person_nadia"]
    assert held[ids["nadia"]]["name"] == "Nadia Homeless"
    assert "address line 1" in held[ids["nadia"]]["detail"]
    assert held[ids["carl"]]["reason"] == "no_consent"
    assert data["pages"] == 6 and data["out"] == str(out)

    pdf = PdfReader(out)
    assert len(pdf.pages) == 6
    sizes = [
        (round(float(p.mediabox.width) / PT_PER_MM), round(float(p.mediabox.height) / PT_PER_MM))
        for p in pdf.pages
    ]
    assert sizes == [(148, 105)] * 3 + [(162, 114)] * 3  # A6 landscape cards, then C6 envelopes
    for page, body in zip(pdf.pages[:3], (ZOE, LUKASZ, JOSE), strict=True):
        assert flat(body) in flat(page.extract_text())
    envelopes = [page.extract_text() for page in pdf.pages[3:]]
    assert envelopes[0].splitlines()[:4] == ["Teapot & Co", "12 High Street", "Bath BA1 1AA", "UK"]
    for text, lines in zip(
        envelopes,
        (
            ["Zoë Martin", "1 rue de la Paix", "75002 Paris", "FRANCE"],
            ["Łukasz Nowak", "ul. Długa 5/3", "31-147 Kraków", "PL"],
            ["José Álvarez", "742 Evergreen Terrace", "Apt 2", "Springfield, IL 62704", "USA"],
        ),
        strict=True,
    ):
        assert [line for line in text.splitlines() if line in lines] == lines
    # The note is in Dancing Script, embedded whole-glyph as TrueType; Ł fell back to DejaVu Sans.
    fonts = {}
    for ref in pdf.pages[1]["/Resources"]["/Font"].values():
        font = ref.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        fonts[str(font["/BaseFont"]).split("+")[-1]] = descendant
    assert {"DancingScript", "DejaVuSansBook"} <= set(fonts)
    script = fonts["DancingScript"]
    assert script["/Subtype"] == "/CIDFontType2"
    assert "/FontFile2" in script["/FontDescriptor"].get_object()

    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert data["sha256"] == digest
    assert data["provider_id"] == f"cards:{DAY}:cards.pdf:{digest[:12]}"
    with db.reading() as s:
        by_id = {m.id: m for m in s.scalars(select(Message))}
        for key in ("zoe", "lukasz", "jose"):
            message = by_id[ids[key]]
            assert (message.status, message.provider_id, message.attempts) == ("sent", data["provider_id"], 1)
            event = s.scalars(select(Event).where(Event.source_id == f"message:{message.id}")).one()
            assert (event.kind, event.person_id, event.channel) == ("card_sent", message.person_id, "card")
            assert s.scalars(select(BankEntry).where(BankEntry.event_id == event.id)).one().amount > 0
            attempt = s.scalars(select(MessageAttempt).where(MessageAttempt.message_id == message.id)).one()
            assert attempt.outcome == "sent" and attempt.worker.startswith("goodwill cards print")
        for key in ("nadia", "carl", "fay", "zoe_email"):
            assert by_id[ids[key]].status == "queued", key
        assert s.scalar(select(func.count()).select_from(Event).where(Event.kind == "card_sent")) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    # Again for the same day: nothing new, the file is left alone, nothing changes.
    before, printed_bytes = state(db), out.read_bytes()
    again = print_json(db, tmp_path, "--date", DAY.isoformat(), "--out", str(out))
    assert (again["printed"], again["out"], again["already_printed"]) == ([], None, 3)
    assert {h["message_id"] for h in again["held"]} == {ids["nadia"], ids["carl"]}
    assert out.read_bytes() == printed_bytes and state(db) == before
    human = run(db, tmp_path, "--date", DAY.isoformat(), "--out", str(out))
    assert human.exit_code == 0, human.output
    said = " ".join(human.output.split())
    assert "No new cards to print for 2026-11-20 (3 already printed for that day" in said

    # A jammed printer: the same cards again, with nothing changed in the database.
    reprinted = tmp_path / "again.pdf"
    result = run(db, tmp_path, "--date", DAY.isoformat(), "--out", str(reprinted), "--reprint")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Reprinted 3 cards" in said and "Nothing was changed in the database" in said
    assert state(db) == before
    copy = PdfReader(reprinted)
    assert len(copy.pages) == 6
    assert [flat(p.extract_text()) for p in copy.pages] == [flat(p.extract_text()) for p in pdf.pages]

    # The next day, Fay's card is due; the others stay held until fixed.
    nxt = print_json(db, tmp_path, "--date", (DAY + timedelta(days=1)).isoformat(), "--out", str(out))
    assert [c["message_id"] for c in nxt["printed"]] == [ids["fay"]]
    assert len(PdfReader(out).pages) == 2


def test_the_human_summary_names_who_was_not_printed(db: Database, tmp_path: Path) -> None:
    ids = seed(db)
    result = run(db, tmp_path, "--date", DAY.isoformat(), "--out", str(tmp_path / "cards.pdf"))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # as read, whatever the terminal's width
    assert "Printed 3 cards for 2026-11-20" in said
    assert "Pages 1–3: card fronts" in said and "Pages 4–6: envelopes" in said
    assert "Marked sent: 3." in said
    assert f"Nadia Homeless #{ids['person_nadia']}, message {ids['nadia']}: no postal address" in said
    assert (
        f"Carl Gone #{ids['person_carl']}, message {ids['carl']}: Carl Gone withdrew consent to cards" in said
    )


def test_a_note_that_cannot_be_printed_is_held_and_the_rest_print(db: Database, tmp_path: Path) -> None:
    ids = seed(db)
    with db.transaction() as s:
        long_note, odd_note = s.get_one(Message, ids["zoe"]), s.get_one(Message, ids["jose"])
        long_note.body = "Dear Zoë, " + "thank you for every order over all these years. " * 60
        odd_note.body = "Dear José,\n\n茶 for you.\n\nRosa"
    data = print_json(db, tmp_path, "--date", DAY.isoformat(), "--out", str(tmp_path / "cards.pdf"))
    assert [c["message_id"] for c in data["printed"]] == [ids["lukasz"]]
    held = {h["message_id"]: h for h in data["held"]}
    assert held[ids["zoe"]]["reason"] == "too_long"
    assert f"card message {ids['zoe']}" not in held[ids["zoe"]]["detail"]  # the detail, not the whole error
    assert "does not fit on the card" in held[ids["zoe"]]["detail"]
    assert held[ids["jose"]]["reason"] == "unsupported_characters" and "U+8336" in held[ids["jose"]]["detail"]
    with db.reading() as s:
        statuses = {m.id: (m.status, m.claimed_by) for m in s.scalars(select(Message))}
    assert statuses[ids["zoe"]] == ("queued", None) and statuses[ids["jose"]] == ("queued", None)
    assert statuses[ids["lukasz"]][0] == "sent"
    assert len(PdfReader(tmp_path / "cards.pdf").pages) == 2


@pytest.mark.parametrize("failure", ["render", "write"])
def test_a_failure_while_rendering_or_writing_marks_nothing(
    db: Database, tmp_path: Path, failure: str
) -> None:
    seed(db)
    before = state(db)
    if failure == "render":
        # A return address the envelope font cannot draw stops the whole run before anything is written.
        out = tmp_path / "cards.pdf"
        result = run(db, tmp_path, "--date", DAY.isoformat(), "--out", str(out), address="東京都千代田区")
        assert "envelope font cannot draw" in result.output
    else:
        out = tmp_path / "no such folder" / "cards.pdf"
        result = run(db, tmp_path, "--date", DAY.isoformat(), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "nothing was printed or marked sent" in result.output
    assert not out.exists()
    assert state(db) == before
    with db.reading() as s:
        assert {m.status for m in s.scalars(select(Message))} == {"queued"}
        assert s.scalar(select(func.count()).select_from(Message).where(Message.claimed_by.is_not(None))) == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_note_approved_today_prints_by_default(db: Database, tmp_path: Path) -> None:
    """Through the real approval: the outbox row notes.approve writes is what gets printed."""
    with db.transaction() as s:
        maya = create_user(
            session=s,
            email="maya@shop.test",
            role="agent",
            password="plum-orchard-lantern-7",
            name="Maya Gold",
        ).id
        [pid], _ = resolve_people(
            s, [PersonRecord(email="zoe@example.com", consent={"card": True}, **PEOPLE["zoe"])]
        )
        note = Note(
            person_id=pid, moment="praise", channel="card", body="placeholder", template="test",
            score=100, ok=True, problems=[], writer_id=maya,
        )  # fmt: skip
        s.add(note)
        s.flush()
        body = (
            "Dear Zoë,\n\nYou wrote that the Assam arrived in time for your sister's visit. I'm glad.\n\nMaya"
        )
        message = notes.approve(s, note_id=note.id, user_id=maya, body=body)
        message_id = message.id
    paris = ZoneInfo("Europe/Paris")
    days = {datetime.now(paris).date().isoformat()}
    data = print_json(db, tmp_path, "--out", str(tmp_path / "today.pdf"))
    days.add(datetime.now(paris).date().isoformat())  # in case midnight passed meanwhile
    assert data["date"] in days
    assert [c["message_id"] for c in data["printed"]] == [message_id]
    assert flat(body) in flat(PdfReader(tmp_path / "today.pdf").pages[0].extract_text())
    with db.reading() as s:
        assert s.get_one(Message, message_id).status == "sent"
        assert s.get_one(Note, note.id).status == "approved"


def test_two_people_printing_at_once_do_not_print_the_same_card(db: Database, tmp_path: Path) -> None:
    """The second run waits for the first one's claim and then finds nothing left to print.

    Whichever way the two interleave, the cards are printed and marked once.
    """
    seed(db)
    cfg = load_settings(
        database_url=db.url,
        business={"name": "Teapot & Co", "timezone": "Europe/Paris", "postal_address": "1 Road"},
    )
    second: dict[str, Any] = {}

    def other_printer() -> None:
        with db.transaction() as s:
            second["report"] = print_cards(
                s, day=DAY, out_path=tmp_path / "b.pdf", settings=cfg, printed_by="B"
            )

    with db.transaction() as s:
        first = print_cards(s, day=DAY, out_path=tmp_path / "a.pdf", settings=cfg, printed_by="A")
        thread = threading.Thread(target=other_printer)
        thread.start()
        thread.join(timeout=1)  # give it time to reach our claim before we commit
    thread.join()
    assert len(first.printed) == 3
    assert second["report"].printed == [] and not (tmp_path / "b.pdf").exists()
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(MessageAttempt)) == 3
