"""``goodwill complaints fetch`` on both backends: a Maildir written here, and a real IMAP server on loopback.

Good mail opens complaints linked to people (an unknown sender becomes a prospect) and is marked
read only after the commit; bad mail is left unread with its reason; fetching again opens nothing new.
The SLA clocks start when the mail reached us, whatever its Date: header says; one message the
database refuses is rejected alone and does not hold back the rest of its batch.
"""

from __future__ import annotations

import json
import mailbox
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
import typer
from imap_server import ImapServer
from sqlalchemy import select, text
from typer.testing import CliRunner

from goodwill.complaints.mailbox import FetchReport, MailboxError, fetch_mail
from goodwill.complaints.mailbox_cli import app as mailbox_app
from goodwill.complaints.model import Complaint, ComplaintLog
from goodwill.complaints.service import sweep_sla
from goodwill.config import Settings, load_settings
from goodwill.db import Database, utcnow
from goodwill.events.model import Event
from goodwill.people.model import Person
from goodwill.people.service import PersonRecord, create_person


def mail(
    sender: str | None, body: str, *, message_id: str | None, subject: str = "A problem", **headers: str
) -> bytes:
    message = EmailMessage()
    if sender is not None:
        message["From"] = sender
    message["To"] = "complaints@teapot.test"
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Nov 2026 09:15:00 +0000"
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes(policy=SMTP)


ANN = mail(
    "Ann Lee <ann@example.com>", "The teapot arrived with a cracked lid.", message_id="<ann-1@example.com>"
)
BO = mail(
    "Bo Quinn <bo@example.net>", "Nobody answered the phone on Monday.", message_id="<bo-1@example.net>"
)
AUTO = mail(
    "ann@example.com",
    "I am away until Monday.",
    message_id="<auto-1@example.com>",
    Auto_Submitted="auto-replied",
)
BOUNCE = mail("MAILER-DAEMON@mx.example.com", "Delivery failed.", message_id="<dsn-1@mx.example.com>")
NO_FROM = mail(None, "Who sent this?", message_id="<nofrom-1@example.com>")
EMPTY = mail("cy@example.com", "> only a quote\n-- \nCy", message_id="<empty-1@example.com>")
REASONS = {
    "<auto-1@example.com>": "automatic message",
    "<dsn-1@mx.example.com>": "bounce",
    "<nofrom-1@example.com>": "no sender address",
    "<empty-1@example.com>": "no text",
}


def settings_for(db: Database, url: str = "") -> Settings:
    return load_settings(database_url=db.url, secret_key="mailbox-secret", complaints={"mailbox_url": url})


def add_ann(db: Database) -> int:
    with db.transaction() as s:
        person, _ = create_person(
            s, PersonRecord(name="Ann Lee", email="ann@example.com", kind="customer"), source="test"
        )
        return person.id


@pytest.fixture
def maildir(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A Maildir with the six messages in new/ (keyed by Message-ID), one already read and one in cur/."""
    path = tmp_path / "complaints"
    box = mailbox.Maildir(str(path), create=True)
    keys = {}
    for raw in (ANN, BO, AUTO, BOUNCE, NO_FROM, EMPTY):
        keys[raw.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()] = box.add(raw)
    read_before = mailbox.MaildirMessage(
        mail("dee@example.com", "Old news.", message_id="<old-1@example.com>")
    )
    read_before.set_subdir("cur")
    read_before.add_flag("S")
    keys["<old-1@example.com>"] = box.add(read_before)
    unread_in_cur = mailbox.MaildirMessage(ANN.replace(b"<ann-1@example.com>", b"<ann-2@example.com>"))
    unread_in_cur.set_subdir("cur")
    keys["<ann-2@example.com>"] = box.add(unread_in_cur)
    box.close()
    yield path, keys


def where(path: Path, key: str) -> tuple[str, str]:
    """(folder, flags) of a message file in the Maildir."""
    for sub in ("new", "cur"):
        for name in os.listdir(path / sub):
            if name.split(":")[0] == key:
                return sub, name.partition(":2,")[2]
    raise AssertionError(f"{key} is gone from the Maildir")


def complaints(db: Database) -> list[tuple[Complaint, Person]]:
    with db.reading() as s:
        rows = s.execute(
            select(Complaint, Person).join(Person, Person.id == Complaint.person_id).order_by(Complaint.id)
        )
        found = [(c, p) for c, p in rows]
        s.expunge_all()
        return found


def test_maildir_fetch_opens_links_rejects_and_marks_read(
    db: Database, maildir: tuple[Path, dict[str, str]]
) -> None:
    path, keys = maildir
    ann = add_ann(db)
    settings = settings_for(db, f"maildir://{path}")
    report = fetch_mail(database=db, settings=settings, url=settings.complaints.mailbox_url, batch_size=3)
    assert (report.read, report.opened, report.duplicates) == (7, 3, 0)
    assert {r.key: r.reason for r in report.rejected}.keys() == {keys[m] for m in REASONS}
    for message_id, words in REASONS.items():
        [rejected] = [r for r in report.rejected if r.key == keys[message_id]]
        assert words in rejected.reason
    opened = complaints(db)
    by_id = {c.source_id: (c, p) for c, p in opened}
    assert set(by_id) == {"<ann-1@example.com>", "<ann-2@example.com>", "<bo-1@example.net>"}
    assert by_id["<ann-1@example.com>"][1].id == ann and by_id["<ann-2@example.com>"][1].id == ann
    bo_complaint, bo = by_id["<bo-1@example.net>"]
    assert (bo.kind, bo.email, bo.name) == ("prospect", "bo@example.net", "Bo Quinn")
    assert bo_complaint.body == "Nobody answered the phone on Monday." and bo_complaint.channel == "email"
    with db.reading() as s:
        kinds = s.scalars(select(Event.kind).where(Event.id.in_([c.event_id for c, _ in opened]))).all()
    assert sorted(kinds) == ["complaint"] * 3
    # Good mail is read (cur/, S), rejected mail is left exactly as it was (new/, no flags).
    for message_id in (
        "<ann-1@example.com>",
        "<ann-2@example.com>",
        "<bo-1@example.net>",
        "<old-1@example.com>",
    ):
        assert where(path, keys[message_id]) == ("cur", "S"), message_id
    for message_id in REASONS:
        assert where(path, keys[message_id]) == ("new", ""), message_id
    # The file is moved, not rewritten.
    sub, flags = where(path, keys["<ann-1@example.com>"])
    assert (path / sub / f"{keys['<ann-1@example.com>']}:2,{flags}").read_bytes() == ANN

    again = fetch_mail(database=db, settings=settings, url=settings.complaints.mailbox_url)
    assert (again.read, again.opened, again.duplicates, len(again.rejected)) == (4, 0, 0, 4)
    assert len(complaints(db)) == 3


def test_a_crash_between_commit_and_flag_finds_duplicates_next_time(
    db: Database, maildir: tuple[Path, dict[str, str]]
) -> None:
    path, keys = maildir
    settings = settings_for(db)
    fetch_mail(database=db, settings=settings, url=f"maildir://{path}")
    # The state a crash after the commit leaves behind: complaints stored, messages still unread.
    for message_id in ("<ann-1@example.com>", "<bo-1@example.net>"):
        sub, _ = where(path, keys[message_id])
        os.replace(path / sub / f"{keys[message_id]}:2,S", path / "new" / keys[message_id])
    report = fetch_mail(database=db, settings=settings, url=f"maildir://{path}")
    assert (report.opened, report.duplicates) == (0, 2)
    assert len(complaints(db)) == 3
    assert where(path, keys["<ann-1@example.com>"]) == ("cur", "S")


def test_the_same_message_twice_in_one_fetch_opens_one_complaint(db: Database, tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "twice"), create=True)
    first, second = box.add(ANN), box.add(ANN)
    report = fetch_mail(database=db, settings=settings_for(db), url=f"maildir://{tmp_path / 'twice'}")
    assert (report.opened, report.duplicates) == (1, 1)
    assert where(tmp_path / "twice", first) == where(tmp_path / "twice", second) == ("cur", "S")


def test_not_a_maildir_is_a_clear_error(db: Database, tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match="not a Maildir"):
        fetch_mail(database=db, settings=settings_for(db), url=f"maildir://{tmp_path}")


def test_cli_fetch_reports_as_json_and_as_text(
    db: Database, maildir: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path, _ = maildir
    monkeypatch.chdir(tmp_path)  # no goodwill.toml from the checkout
    root = typer.Typer()
    root.add_typer(mailbox_app, name="complaints")  # as the lead wires it under `goodwill complaints`
    env = {"GOODWILL_DATABASE_URL": db.url, "GOODWILL_SECRET_KEY": "cli-secret"}
    result = CliRunner().invoke(
        root, ["complaints", "fetch", "--mailbox", f"maildir://{path}", "--json"], env=env
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["read"], data["opened"], data["duplicates"], len(data["rejected"])) == (7, 3, 0, 4)
    assert {"key", "sender", "subject", "reason"} <= set(data["rejected"][0])
    env["GOODWILL_COMPLAINTS__MAILBOX_URL"] = f"maildir://{path}"
    text = CliRunner().invoke(root, ["complaints", "fetch"], env=env)
    assert text.exit_code == 0, text.stderr
    assert "read 4, opened 0, duplicates 0, rejected 4" in text.stdout
    assert "left unread" in text.stdout and "bounce" in text.stdout
    missing = CliRunner().invoke(
        root, ["complaints", "fetch"], env={**env, "GOODWILL_COMPLAINTS__MAILBOX_URL": ""}
    )
    assert missing.exit_code == 2 and "no mailbox" in missing.stderr


def dated_2024(raw: bytes) -> bytes:
    """The same email, its Date: header written by a mail program whose clock says 2024."""
    return raw.replace(b"Mon, 23 Nov 2026 09:15:00 +0000", b"Mon, 25 Nov 2024 09:15:00 +0000")


def deliver(path: Path, name: str, raw: bytes) -> None:
    """A message file in new/ under exactly this name, as a delivery agent writes it."""
    (path / "new" / name).write_bytes(raw)


def received_times(db: Database) -> dict[str, datetime]:
    return {c.source_id: c.received_at for c, _ in complaints(db)}


def no_breaches_now(db: Database, settings: Settings) -> None:
    with db.transaction() as s:
        report = sweep_sla(s, now=utcnow(), settings=settings)
    assert report.breaches == [], report.breaches
    with db.reading() as s:
        breached = s.scalars(select(Event.id).where(Event.kind == "complaint_sla_breached")).all()
    assert breached == []


def test_the_sla_clock_starts_when_the_mail_reached_the_maildir_not_at_its_date_header(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "dated"
    mailbox.Maildir(str(path), create=True).close()
    delivered = int(time.time()) - 3600  # an hour ago: no clock can have run out yet
    deliver(path, f"{delivered}.M5000P77Q1.mx1", dated_2024(ANN))  # 5 ms past the second
    deliver(path, "17323533001234.copied-by-hand", dated_2024(BO))  # no time in the name: the file's mtime
    os.utime(path / "new" / "17323533001234.copied-by-hand", (delivered - 60, delivered - 60))
    ahead = dated_2024(mail("cy@example.com", "The tin was dented.", message_id="<cy-1@example.com>"))
    deliver(path, f"{int(time.time()) + 86_400}.M1P1Q1.mx1", ahead)  # the delivering clock ran ahead
    settings = settings_for(db)
    before = utcnow()
    report = fetch_mail(database=db, settings=settings, url=f"maildir://{path}")
    after = utcnow()
    assert report.opened == 3, report.rejected
    received = received_times(db)
    assert received["<ann-1@example.com>"] == datetime.fromtimestamp(delivered, UTC).replace(
        microsecond=5_000
    )
    assert received["<bo-1@example.net>"] == datetime.fromtimestamp(delivered - 60, UTC)
    assert before <= received["<cy-1@example.com>"] <= after  # never in the future: when we read it
    no_breaches_now(db, settings)  # a 2024 Date: header would have breached both clocks at once
    with db.reading() as s:
        notes = s.scalars(select(ComplaintLog.detail).where(ComplaintLog.action == "email dated")).all()
    assert len(notes) == 3 and all("2024" in note and "their mail program" in note for note in notes)


def test_nul_bytes_do_not_block_the_mailbox(db: Database, tmp_path: Path) -> None:
    """PostgreSQL refuses NUL in text: taken out of every field, the message opens like any other."""
    box = mailbox.Maildir(str(tmp_path / "nul"), create=True)
    nul = mail("Di\x00 Fox <di@example.com>", "The lid\x00 is cracked.", message_id="<nul-1@example.com>")
    nul = nul.replace(b"Subject: A problem", b"Subject: A\x00 problem")
    keys = [box.add(raw) for raw in (ANN, nul, BO)]
    box.close()
    report = fetch_mail(database=db, settings=settings_for(db), url=f"maildir://{tmp_path / 'nul'}")
    assert (report.opened, report.rejected) == (3, [])
    [(complaint, di)] = [(c, p) for c, p in complaints(db) if c.source_id == "<nul-1@example.com>"]
    assert (complaint.body, complaint.subject, di.name) == ("The lid is cracked.", "A problem", "Di Fox")
    assert all(where(tmp_path / "nul", key) == ("cur", "S") for key in keys)


@pytest.fixture
def poisoned_subject(db: Database) -> Iterator[str]:
    """A trigger that makes the database refuse any complaint with this subject (dropped afterwards:
    the PostgreSQL test database is shared by the whole run)."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.subject = 'poison' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON complaints "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON complaints WHEN NEW.subject = 'poison' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
                )
            )
    try:
        yield "poison"
    finally:
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "DROP TRIGGER IF EXISTS refuse_poison"
                    + (" ON complaints" if db.dialect == "postgresql" else "")
                )
            )
            if db.dialect == "postgresql":
                conn.execute(text("DROP FUNCTION IF EXISTS refuse_poison()"))


def test_a_message_the_database_refuses_is_rejected_alone_and_the_batch_is_kept(
    db: Database, tmp_path: Path, poisoned_subject: str
) -> None:
    box = mailbox.Maildir(str(tmp_path / "poison"), create=True)
    bad = mail(
        "eve@example.com", "Something odd.", message_id="<eve-1@example.com>", subject=poisoned_subject
    )
    ann, refused, bo = box.add(ANN), box.add(bad), box.add(BO)
    box.close()
    url = f"maildir://{tmp_path / 'poison'}"
    report = fetch_mail(database=db, settings=settings_for(db), url=url, batch_size=50)
    assert (report.read, report.opened) == (3, 2)
    [rejected] = report.rejected
    assert rejected.key == refused and rejected.sender == "eve@example.com"
    assert "could not store it" in rejected.reason and "refused by a trigger" in rejected.reason
    assert {c.source_id for c, _ in complaints(db)} == {"<ann-1@example.com>", "<bo-1@example.net>"}
    with db.reading() as s:  # nothing of the refused one is left behind: no person, no event
        assert s.scalars(select(Person.id).where(Person.email == "eve@example.com")).all() == []
        assert len(s.scalars(select(Event.id).where(Event.kind == "complaint")).all()) == 2
    assert where(tmp_path / "poison", ann) == where(tmp_path / "poison", bo) == ("cur", "S")
    assert where(tmp_path / "poison", refused) == ("new", "")  # left unread for a person to look at
    again = fetch_mail(database=db, settings=settings_for(db), url=url)
    assert (again.read, again.opened, len(again.rejected)) == (1, 0, 1)


# --- IMAP ---------------------------------------------------------------------------------------------


def load_imap(imap: ImapServer) -> dict[str, int]:
    uids = {}
    for raw in (ANN, BO, AUTO, BOUNCE, NO_FROM, EMPTY):
        uids[raw.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()] = imap.add(raw)
    uids["<old-1@example.com>"] = imap.add(
        mail("dee@example.com", "Old.", message_id="<old-1@example.com>"), seen=True
    )
    return uids


def check_imap_run(db: Database, imap: ImapServer, uids: dict[str, int], report: FetchReport) -> None:
    assert (report.read, report.opened, report.duplicates, len(report.rejected)) == (6, 2, 0, 4)
    assert {r.key for r in report.rejected} == {str(uids[m]) for m in REASONS}
    assert imap.seen(uids["<ann-1@example.com>"]) and imap.seen(uids["<bo-1@example.net>"])
    assert not any(imap.seen(uids[m]) for m in REASONS)  # rejected mail stays unread
    assert {c.source_id for c, _ in complaints(db)} == {"<ann-1@example.com>", "<bo-1@example.net>"}
    fetches = [c for c in imap.commands if " FETCH " in c.upper()]
    assert fetches and all("BODY.PEEK[]" in c for c in fetches)  # reading never marks read by itself
    assert "***" in report.mailbox and imap.password not in report.mailbox


def test_imap_fetch_against_a_real_server(db: Database) -> None:
    ann = add_ann(db)
    with ImapServer() as imap:
        uids = load_imap(imap)
        settings = settings_for(db, imap.url())
        report = fetch_mail(database=db, settings=settings, url=settings.complaints.mailbox_url, batch_size=4)
        check_imap_run(db, imap, uids, report)
        assert [p.id for c, p in complaints(db) if c.source_id == "<ann-1@example.com>"] == [ann]
        again = fetch_mail(database=db, settings=settings, url=imap.url())
        assert (again.read, again.opened, again.duplicates) == (4, 0, 0)
        imap.add(ANN)  # the same email delivered twice
        assert fetch_mail(database=db, settings=settings, url=imap.url()).duplicates == 1
        assert len(complaints(db)) == 2
        assert len([c for c in imap.commands if c.upper().endswith(" LOGOUT")]) == 3  # every run logs out


def test_imap_refusals_are_clear(db: Database) -> None:
    settings = settings_for(db)
    with ImapServer() as imap:
        with pytest.raises(MailboxError, match="AUTHENTICATIONFAILED"):
            fetch_mail(database=db, settings=settings, url=imap.url(password="wrong"))
        with pytest.raises(MailboxError, match="does not offer STARTTLS"):
            fetch_mail(database=db, settings=settings, url=imap.url(query=""))
        with pytest.raises(MailboxError, match="no such folder"):
            fetch_mail(database=db, settings=settings, url=imap.url().replace("/INBOX", "/Archive"))


def test_imap_clock_starts_at_the_internaldate_not_at_the_date_header(db: Database) -> None:
    arrived = utcnow().replace(microsecond=0) - timedelta(hours=2)
    with ImapServer() as imap:
        imap.add(dated_2024(ANN), arrived=arrived)
        imap.add(dated_2024(BO), arrived=utcnow() + timedelta(days=1))  # the server's clock ran ahead
        settings = settings_for(db)
        report = fetch_mail(database=db, settings=settings, url=imap.url())
        after = utcnow()
        assert report.opened == 2
        assert any("INTERNALDATE" in c.upper() for c in imap.commands)
    received = received_times(db)
    assert received["<ann-1@example.com>"] == arrived
    assert arrived < received["<bo-1@example.net>"] <= after
    no_breaches_now(db, settings)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command line."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


def contexts(tls_files: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key, cert = tls_files
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


@pytest.mark.parametrize("mode", ["starttls", "imaps"])
def test_imap_over_tls(db: Database, tls_files: tuple[Path, Path], mode: str) -> None:
    server_context, client_context = contexts(tls_files)
    options = {"starttls": server_context} if mode == "starttls" else {"implicit_tls": server_context}
    with ImapServer(**options) as imap:  # type: ignore[arg-type]
        uids = load_imap(imap)
        url = imap.url(query="")
        with pytest.raises(MailboxError):  # our certificate is not one the system trusts
            fetch_mail(database=db, settings=settings_for(db), url=url)
        report = fetch_mail(database=db, settings=settings_for(db), url=url, ssl_context=client_context)
        check_imap_run(db, imap, uids, report)
        if mode == "starttls":
            assert any(c.upper().endswith(" STARTTLS") for c in imap.commands)
