"""The complaints mailbox: read new mail (Maildir or IMAP), open a complaint for each, mark it read.

``parse_message`` turns one raw email into a ``NewComplaint`` or refuses it (``MailRejected``, with a
reason): no sender address, an auto-reply or a bounce, or nothing written once quoted replies and
the signature are trimmed. ``fetch_mail`` reads every unread message, opens complaints in batches
(one transaction per batch) and only after the batch is committed marks its messages read: a crash
in between reads them again next time, and ``open_complaint`` (idempotent by source and Message-ID)
finds them already open. Each message is opened inside its own savepoint, so one the database refuses
is rejected alone (with the reason) and the rest of its batch is still committed. Rejected messages
stay in the mailbox, unread, for a person to look at.

The SLA clocks start when the mail reached our mail server (IMAP ``INTERNALDATE``; in a Maildir the
delivery time at the start of the file name), never at the ``Date:`` header, which the sender's mail
program writes: a wrong clock, or a sender wanting the head of the queue, must not move them.

Mailbox URLs (``[complaints] mailbox_url`` or ``--mailbox``):
``maildir:///var/mail/complaints``; ``imaps://user:password@host[:993]/INBOX``;
``imap://user:password@host[:143]/INBOX`` (STARTTLS is required unless ``?starttls=false``, which
sends the password in the clear: for a server on the same machine only).
"""

from __future__ import annotations

import contextlib
import email
import email.parser
import email.policy
import hashlib
import imaplib
import mailbox as stdlib_mailbox
import os
import re
import ssl
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from goodwill.complaints.records import add_log
from goodwill.complaints.service import MAX_BODY, ComplaintError, NewComplaint
from goodwill.config import Settings
from goodwill.db import Database, utcnow

MAX_SOURCE_ID = 190  # complaints.service allows 194 for source "email"; longer Message-IDs are hashed
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
_NUL = "\x00"  # PostgreSQL refuses it in text, and no one writes it on purpose
_CUT_NOTE = "\n\n(The message was longer; the rest is in the complaints mailbox.)"


# What the standard library's header parser raises on headers broken in ways it did not foresee:
# ``From: =?utf-8?q?Zo=C3=AB?= e: text/html`` gives AttributeError ('Group' has no 'local_part').
_BROKEN_HEADER = (ValueError, IndexError, TypeError, AttributeError, LookupError, OverflowError)


class MailRejected(ValueError):
    """This message does not open a complaint; the reason says why, for the fetch report."""


# --- one message -------------------------------------------------------------------------------------


class _TextOfHtml(HTMLParser):
    """Text of an HTML body: block elements become line breaks; scripts, styles and quotes are dropped.

    It keeps the stack of open elements, as a browser would, so that a left-out element ends where
    the browser would end it: at its own end tag, or at the end tag of any element around it (an
    unclosed ``<p class="gmail_quote">`` inside a ``<div>`` ends with ``</div>``), or when a new
    paragraph or list item implicitly closes it. Void elements (``<br>``, ``<img>``) and self-closed
    ones have no content, so they never start a skip: the customer's words after them are kept.
    """

    _BLOCKS = frozenset(
        {"p", "div", "br", "hr", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
    )
    _SKIPPED = frozenset({"script", "style", "head", "title", "blockquote"})
    _QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix")  # a quoted earlier message: Gmail's, Thunderbird's
    _VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    )
    # A start tag of the key closes the open element of a value first (the HTML parsing rules, in short).
    _CLOSES: ClassVar[dict[str, tuple[str, ...]]] = {
        "p": ("p",), "div": ("p",), "ul": ("p",), "ol": ("p",), "table": ("p",), "blockquote": ("p",),
        "h1": ("p",), "h2": ("p",), "h3": ("p",), "h4": ("p",), "h5": ("p",), "h6": ("p",), "pre": ("p",),
        "li": ("li", "p"), "dt": ("dt", "dd", "p"), "dd": ("dt", "dd", "p"), "tr": ("tr", "td", "th"),
        "td": ("td", "th"), "th": ("td", "th"), "body": ("head",),
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []  # the open elements, outermost first
        self.open_count: dict[str, int] = {}  # how many of each are open: "is one open?" without a scan
        self.skip_from: int | None = None  # the stack index of the element being left out

    def _push(self, tag: str) -> None:
        self.stack.append(tag)
        self.open_count[tag] = self.open_count.get(tag, 0) + 1

    def _close(self, tag: str) -> None:
        """Close the innermost open ``tag`` and everything opened inside it; it may end the skip."""
        if not self.open_count.get(tag):
            if tag in self._BLOCKS and self.skip_from is None:
                self.parts.append("\n")  # a stray </p> still ends a line
            return
        while self.stack:
            popped = self.stack.pop()
            self.open_count[popped] -= 1
            if popped in self._BLOCKS and self.skip_from is None:
                self.parts.append("\n")
            if self.skip_from is not None and len(self.stack) <= self.skip_from:
                self.skip_from = None  # the left-out element (or one around it) is closed
            if popped == tag:
                return

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._VOID:
            self.handle_startendtag(tag, attrs)
            return
        for closed in self._CLOSES.get(tag, ()):
            self._close(closed)
        self._push(tag)
        if self.skip_from is not None:
            return
        classes = (dict(attrs).get("class") or "").split()
        if tag in self._SKIPPED or any(name in classes for name in self._QUOTE_CLASSES):
            self.skip_from = len(self.stack) - 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_from is None and tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._VOID:  # nothing to close; browsers read a stray </br> as <br>
            self.handle_startendtag(tag, [])
        else:
            self._close(tag)

    def handle_data(self, data: str) -> None:
        if self.skip_from is None:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup.replace(_NUL, ""))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_WROTE = re.compile(r"^\s*On\b.{0,200}\bwrote:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:original message|forwarded message)\s*-{2,}\s*$", re.IGNORECASE)


def trim_reply(text: str) -> str:
    """Their own words only: cut at "On ... wrote:", an "Original Message" line or the "-- " signature;
    lines quoted with ">" are dropped wherever they are."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for number, line in enumerate(lines):
        if line in ("-- ", "--") or _ORIGINAL.match(line) or _WROTE.match(line):
            break
        # Clients wrap a long "On Mon, 23 Nov 2026 at 10:00, Someone <a@b> wrote:" over two lines.
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if line.lstrip().startswith("On ") and _WROTE.match(f"{line} {following}"):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _content(part: Any) -> str:
    """A text part decoded with its charset; an unknown or wrong charset is read as Latin-1/UTF-8."""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        try:
            return bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(payload).decode("latin-1")


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return trim_reply(_content(part).replace(_NUL, ""))
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        return trim_reply(html_to_text(_content(part)))
    return ""


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except _BROKEN_HEADER:  # a header too broken to parse
        return ""
    return " ".join(str(value).replace(_NUL, "").split()) if value is not None else ""


def _sender(message: EmailMessage) -> tuple[str, str]:
    """(address, display name) from Reply-To when it has one, else From; ("", "") when neither does."""
    for name in ("Reply-To", "From"):
        try:
            header = message.get(name)
            addresses = getattr(header, "addresses", ()) if header is not None else ()
        except _BROKEN_HEADER:
            addresses = ()
        for address in addresses:
            addr = address.addr_spec.replace(_NUL, "").strip()
            if addr and "@" in addr:
                return addr, _clean_name(address.display_name.replace(_NUL, ""), addr)
    return "", ""


def _clean_name(name: str, addr: str) -> str:
    """ "SMITH, Jo" -> "Jo Smith"; an address used as the name is no name."""
    name = " ".join(name.replace('"', "").split())
    if not name or "@" in name or name.lower() == addr.lower():
        return ""
    if name.count(",") == 1:
        last, first = (piece.strip() for piece in name.split(","))
        name = f"{first} {last}".strip()
    if name.isupper():
        name = name.title()
    return name[:200]


def _date_header(message: EmailMessage) -> datetime | None:
    try:
        header = message.get("Date")
        when = getattr(header, "datetime", None) if header is not None else None
    except _BROKEN_HEADER:
        return None
    if not isinstance(when, datetime):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def sender_date(raw: bytes) -> datetime | None:
    """The ``Date:`` their mail program wrote (UTC), for the complaint's log only: it starts no clock."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(headers, EmailMessage)
    return _date_header(headers)


def _source_id(message: EmailMessage, raw: bytes) -> str:
    message_id = _header(message, "Message-ID")
    if not message_id:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    if len(message_id) > MAX_SOURCE_ID:
        return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return message_id


def rejection(message: EmailMessage, address: str) -> str | None:
    """Why this message is no complaint from a person, or None."""
    if not address:
        return "no sender address (From)"
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"an automatic message (Auto-Submitted: {auto})"
    if address.split("@")[0].lower() in BOUNCE_SENDERS:
        return f"a bounce or delivery report (from {address})"
    if message.get_content_type() == "multipart/report":
        return "a bounce or delivery report (multipart/report)"
    return None


def parse_message(raw: bytes, *, received_at: datetime) -> NewComplaint:
    """One raw email as a complaint to open; ``MailRejected`` (with the reason) when it is none.

    ``received_at`` is when it reached our mail server (see ``fetch_mail``); the sender's ``Date:``
    header is not used for it. NUL characters are taken out of every field. Mail too broken for the
    standard library's parser is rejected like any other, so it never stops the rest of the mailbox.
    """
    try:
        return _parse_message(raw, received_at=received_at)
    except MailRejected:
        raise
    except _BROKEN_HEADER as exc:  # a MIME structure or header the email package trips over
        raise MailRejected(f"the message cannot be read ({type(exc).__name__}: {str(exc)[:120]})") from exc


def _parse_message(raw: bytes, *, received_at: datetime) -> NewComplaint:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default builds
    address, name = _sender(message)
    reason = rejection(message, address)
    if reason is not None:
        raise MailRejected(reason)
    body = _body(message)
    if not body:
        raise MailRejected("no text of their own (empty, or only a quoted reply and a signature)")
    if len(body) > MAX_BODY:
        body = body[: MAX_BODY - len(_CUT_NOTE)].rstrip() + _CUT_NOTE
    return NewComplaint(
        body=body,
        source="email",
        source_id=_source_id(message, raw),
        received_at=received_at,
        email=address,
        name=name,
        subject=_header(message, "Subject")[:300],
        channel="email",
    )


# --- mailboxes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """One message as read from the mailbox, with when our mail server received it (None: unknown)."""

    raw: bytes
    arrived_at: datetime | None


class Mailbox(Protocol):
    """Where complaints arrive: list unread messages, read one, mark some read."""

    def unread(self) -> list[str]: ...
    def read(self, key: str) -> Delivered: ...
    def mark_read(self, keys: Sequence[str]) -> None: ...
    def close(self) -> None: ...


class MailboxError(Exception):
    """The mailbox cannot be opened or read (wrong URL, missing folder, login refused)."""


# "1732353300.M482301P4242Q7.mx1": the delivering program's clock when it wrote the file (seconds,
# then microseconds after "M"), as the Maildir convention asks and Dovecot, Postfix and Python do.
_MAILDIR_STAMP = re.compile(r"^(\d{9,10})\.(?:M(\d{1,6})P)?")


def maildir_delivered_at(path: Path) -> datetime | None:
    """When a Maildir file was delivered: the time its name starts with, else the file's mtime.

    The name first: it is written once, by our delivery agent, and survives what resets an mtime
    (copying the Maildir without -p, a restore from backup, a sync tool that sets it to the
    ``Date:`` header). The sender controls neither.
    """
    found = _MAILDIR_STAMP.match(path.name)
    if found is not None:
        micro = int(found.group(2) or 0)  # a count of microseconds, not zero-padded ("M5000" is 5 ms)
        return datetime.fromtimestamp(int(found.group(1)), UTC).replace(microsecond=micro)
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


class MaildirBox:
    """A Maildir on disk: unread is new/ and cur/ without the S flag; read moves it to cur/ with S."""

    def __init__(self, path: Path) -> None:
        if not all((path / sub).is_dir() for sub in ("new", "cur", "tmp")):
            raise MailboxError(f"{path} is not a Maildir (it needs new/, cur/ and tmp/ folders)")
        self.path = path
        self.box = stdlib_mailbox.Maildir(str(path), factory=None, create=False)
        self.listing: dict[str, tuple[str, str, set[str]]] = {}

    def _files(self) -> dict[str, tuple[str, str, set[str]]]:
        """key -> (folder, file name, flags), read from the file names: no message is opened."""
        found = {}
        for sub in ("new", "cur"):
            for name in os.listdir(self.path / sub):
                key, _, info = name.partition(self.box.colon)
                found[key] = (sub, name, set(info[2:]) if info.startswith("2,") else set())
        return found

    def unread(self) -> list[str]:
        self.listing = files = self._files()
        return sorted(key for key in self.box.iterkeys() if key in files and "S" not in files[key][2])

    def read(self, key: str) -> Delivered:
        raw = self.box.get_bytes(key)
        where = self.listing.get(key) or self._files().get(key)
        arrived = maildir_delivered_at(self.path / where[0] / where[1]) if where is not None else None
        return Delivered(raw, arrived)

    def mark_read(self, keys: Sequence[str]) -> None:
        # A rename, not a rewrite: the message file stays byte for byte what was received.
        files = self._files()
        for key in keys:
            sub, name, flags = files[key]
            target = f"{key}{self.box.colon}2,{''.join(sorted(flags | {'S'}))}"
            os.replace(self.path / sub / name, self.path / "cur" / target)

    def close(self) -> None:
        self.box.close()


class ImapBox:
    """An IMAP folder: unread is ``UID SEARCH UNSEEN``; reading peeks (``BODY.PEEK[]``, the message
    stays unread) and asks for ``INTERNALDATE`` (when the server received it); marking read is
    ``UID STORE +FLAGS (\\Seen)``. UIDs, not sequence numbers, so a message deleted by someone else
    meanwhile cannot shift which one is flagged."""

    def __init__(self, url: str, *, ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        host = parts.hostname or ""
        if not host or not parts.username:
            raise MailboxError("the mailbox URL needs a user and a host: imaps://user:password@host/INBOX")
        context = ssl_context or ssl.create_default_context()
        try:
            if parts.scheme == "imaps":
                self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    host, parts.port or 993, ssl_context=context, timeout=timeout
                )
            else:
                self.imap = imaplib.IMAP4(host, parts.port or 143, timeout=timeout)
                if query.get("starttls", "true") not in ("false", "0", "no", "off"):
                    if "STARTTLS" not in self.imap.capabilities:
                        self.imap.shutdown()
                        raise MailboxError(
                            f"{host} does not offer STARTTLS: use imaps://, or add ?starttls=false to send "
                            "the password unencrypted (only for a server on this machine)"
                        )
                    self.imap.starttls(ssl_context=context)
            self.imap.login(unquote(parts.username), unquote(parts.password or ""))
            folder = unquote(parts.path.strip("/")) or "INBOX"
            status, answer = self.imap.select(f'"{folder}"' if " " in folder else folder)
            if status != "OK":
                raise MailboxError(f"cannot open the folder {folder!r}: {_said(answer)}")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(f"IMAP {host}: {exc}") from exc

    def _uid(self, *args: str) -> list[Any]:
        try:
            status, answer = self.imap.uid(*args)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(f"IMAP UID {args[0]}: {exc}") from exc
        if status != "OK":
            raise MailboxError(f"IMAP UID {args[0]} failed: {_said(answer)}")
        return list(answer)

    def unread(self) -> list[str]:
        answer = self._uid("SEARCH", "UNSEEN")
        return [uid.decode() for uid in (answer[0] or b"").split()] if answer else []

    def read(self, key: str) -> Delivered:
        answer = self._uid("FETCH", key, "(INTERNALDATE BODY.PEEK[])")
        for item in answer:
            if isinstance(item, tuple) and len(item) == 2:
                return Delivered(bytes(item[1]), internal_date(answer))
        raise MailboxError(f"IMAP message {key} has gone (deleted by another client?)")

    def mark_read(self, keys: Sequence[str]) -> None:
        if keys:
            self._uid("STORE", ",".join(keys), "+FLAGS", "(\\Seen)")

    def close(self) -> None:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):  # already gone: nothing left to tidy
            self.imap.logout()


_INTERNALDATE = re.compile(
    rb'INTERNALDATE "\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"'
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def internal_date(answer: Sequence[Any]) -> datetime | None:
    """The ``INTERNALDATE "23-Nov-2026 09:15:00 +0100"`` of a FETCH answer, in UTC; None if absent."""
    for item in answer:
        head = item[0] if isinstance(item, tuple) else item
        found = _INTERNALDATE.search(head) if isinstance(head, bytes) else None
        if found is None or found.group(2).decode().lower() not in _MONTHS:
            continue
        day, month, year, hour, minute, second, sign, off_h, off_m = found.groups()
        offset = (int(off_h) * 60 + int(off_m)) * (-1 if sign == b"-" else 1)
        try:
            local = datetime(
                int(year), _MONTHS.index(month.decode().lower()) + 1, int(day),
                int(hour), int(minute), int(second), tzinfo=timezone(timedelta(minutes=offset)),
            )  # fmt: skip
        except ValueError:  # 31-Feb and the like: no date rather than a wrong one
            return None
        return local.astimezone(UTC)
    return None


def _said(answer: Any) -> str:
    return " ".join(a.decode(errors="replace") if isinstance(a, bytes) else str(a) for a in answer or ())


def open_mailbox(url: str, *, ssl_context: ssl.SSLContext | None = None) -> Mailbox:
    scheme = urlsplit(url).scheme
    if scheme == "maildir":
        parts = urlsplit(url)
        return MaildirBox(Path(unquote(parts.netloc + parts.path)))
    if scheme in ("imap", "imaps"):
        return ImapBox(url, ssl_context=ssl_context)
    raise MailboxError(f"unknown mailbox {scheme!r}: use maildir://, imap:// or imaps://")


def shown_url(url: str) -> str:
    """The URL without its password, for reports and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


# --- fetching ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    key: str  # the message's file name (Maildir) or UID (IMAP)
    sender: str
    subject: str
    reason: str


@dataclass
class FetchReport:
    mailbox: str
    read: int = 0
    opened: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    complaint_ids: list[int] = field(default_factory=list)  # opened this time

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "read": self.read,
            "opened": self.opened,
            "duplicates": self.duplicates,
            "rejected": [r.__dict__ for r in self.rejected],
            "complaint_ids": self.complaint_ids,
        }


def _who_and_what(raw: bytes) -> tuple[str, str]:
    headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(headers, EmailMessage)
    return _header(headers, "From")[:200], _header(headers, "Subject")[:200]


def _batches(keys: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


DATE_NOTE_AFTER = timedelta(minutes=15)  # the sender's Date: this far from arrival is noted in the log


def _open_one(
    session: Session, raw: bytes, *, received_at: datetime, settings: Settings
) -> tuple[int, bool] | str:
    """(complaint id, opened now) for one message, or why it was rejected.

    Inside a savepoint: whatever the database refuses (PostgreSQL's "invalid byte sequence", a value
    too long, a trigger) undoes this message only, and the rest of the batch is kept.
    """
    from goodwill.complaints.service import open_complaint  # the service imports the people and events

    try:
        with session.begin_nested():
            new = parse_message(raw, received_at=received_at)
            # Nothing is written before open_complaint has checked every field.
            complaint, created = open_complaint(session, new=new, settings=settings)
            if created:
                _note_sender_date(session, complaint.id, raw, received_at=received_at, settings=settings)
    except (MailRejected, ComplaintError) as exc:
        return str(exc)
    except SQLAlchemyError as exc:
        first_line = str(getattr(exc, "orig", None) or exc).strip().splitlines()[:1]
        return f"the database could not store it ({type(exc).__name__}: {''.join(first_line)[:200]})"
    return complaint.id, created


def _note_sender_date(
    session: Session, complaint_id: int, raw: bytes, *, received_at: datetime, settings: Settings
) -> None:
    """Their mail program's date goes in the log when it is far from when the mail arrived."""
    sent = sender_date(raw)
    if sent is None or abs(sent - received_at) <= DATE_NOTE_AFTER:
        return
    when = sent.astimezone(settings.business.tz).strftime("%a %d %b %Y %H:%M")
    add_log(
        session,
        complaint_id=complaint_id,
        action="email dated",
        detail=f"sent {when} by their mail program (its clock); the clocks run from when it reached us",
        at=received_at,
    )


def fetch_mail(
    *,
    database: Database,
    settings: Settings,
    url: str,
    batch_size: int = 50,
    on_message: Callable[[int], None] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchReport:
    """Open a complaint for every unread message; commit per batch, then mark the batch read.

    ``on_message(total)`` is called once per message read (for a progress bar).
    """
    report = FetchReport(mailbox=shown_url(url))
    box = open_mailbox(url, ssl_context=ssl_context)
    try:
        keys = box.unread()
        for batch in _batches(keys, max(1, batch_size)):
            done: list[str] = []
            with database.transaction() as session:
                for key in batch:
                    fetched_at = utcnow()
                    delivered = box.read(key)
                    report.read += 1
                    # When it reached us (never in the future, if the mail server's clock runs ahead).
                    received_at = min(delivered.arrived_at or fetched_at, fetched_at)
                    outcome = _open_one(session, delivered.raw, received_at=received_at, settings=settings)
                    if isinstance(outcome, str):
                        sender, subject = _who_and_what(delivered.raw)
                        report.rejected.append(Rejection(key, sender, subject, outcome))
                    else:
                        complaint_id, created = outcome
                        done.append(key)
                        if created:
                            report.opened += 1
                            report.complaint_ids.append(complaint_id)
                        else:
                            report.duplicates += 1
                    if on_message is not None:
                        on_message(len(keys))
            box.mark_read(done)  # after the commit: a crash before this re-reads them, as duplicates
    finally:
        box.close()
    return report
