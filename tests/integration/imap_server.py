"""A small, real IMAP4rev1 server on loopback for the complaints mailbox tests (asyncio, one thread).

It speaks just what ``goodwill complaints fetch`` needs, over a real socket and imaplib on the
other end: CAPABILITY, NOOP, STARTTLS (when given a TLS context), LOGIN, SELECT, SEARCH UNSEEN,
FETCH BODY.PEEK[] (and BODY[], which sets \\Seen as RFC 3501 says) with INTERNALDATE (when the
server received the message: ``add(raw, arrived=...)``, now by default), STORE +FLAGS[.SILENT], each of
the last three also as UID commands, and LOGOUT. One folder, INBOX. Every command line received is
kept in ``commands`` so a test can check what the client asked for.

``with ImapServer(user="u", password="p") as imap: imap.add(raw) ... imap.url ... imap.seen(uid)``
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any


@dataclass
class Stored:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)
    arrived: datetime = field(default_factory=lambda: datetime.now(UTC))


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SERVER_ZONE = timezone(-timedelta(hours=5))  # INTERNALDATE in the server's zone, not UTC, as many do


def internal_date(when: datetime) -> str:
    """RFC 3501 date-time: a space-padded day, the month's name, the zone as +hhmm."""
    local = when.astimezone(_SERVER_ZONE)
    return f'"{local.day:2d}-{_MONTHS[local.month - 1]}-{local:%Y %H:%M:%S %z}"'


_LOGIN = re.compile(r'^(?:"((?:[^"\\]|\\.)*)"|(\S+)) (?:"((?:[^"\\]|\\.)*)"|(\S+))$')


def _unquote(quoted: str | None, atom: str | None) -> str:
    return re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else atom or ""


class ImapServer:
    def __init__(
        self,
        *,
        user: str = "complaints",
        password: str = "imap-pass",
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.user, self.password = user, password
        self.starttls_context = starttls
        self.implicit_tls = implicit_tls
        self.messages: list[Stored] = []
        self.commands: list[str] = []
        self.lock = threading.Lock()
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    # --- for tests ---
    def add(self, raw: bytes, *, seen: bool = False, arrived: datetime | None = None) -> int:
        with self.lock:
            uid = (self.messages[-1].uid if self.messages else 100) + 1  # UIDs need not start at 1
            stored = Stored(uid, raw, {"\\Seen"} if seen else set())
            if arrived is not None:
                stored.arrived = arrived
            self.messages.append(stored)
            return uid

    def seen(self, uid: int) -> bool:
        with self.lock:
            return any(m.uid == uid and "\\Seen" in m.flags for m in self.messages)

    def url(self, *, password: str | None = None, query: str = "starttls=false") -> str:
        scheme = "imaps" if self.implicit_tls else "imap"
        secret = self.password if password is None else password
        return f"{scheme}://{self.user}:{secret}@127.0.0.1:{self.port}/INBOX" + (f"?{query}" if query else "")

    def __enter__(self) -> ImapServer:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self.loop)
        future.result(timeout=10)
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0, ssl=self.implicit_tls)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    # --- the protocol ---
    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state: dict[str, Any] = {"user": None, "selected": False, "tls": self.implicit_tls is not None}
        writer.write(b"* OK goodwill test IMAP server ready\r\n")  # capabilities: asked for
        try:
            while line := await reader.readline():
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                with self.lock:
                    self.commands.append(text)
                tag, _, rest = text.partition(" ")
                command, _, args = rest.partition(" ")
                if await self._answer(tag, command.upper(), args, state, writer):
                    break
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass  # the client went away
        finally:
            writer.close()

    async def _answer(
        self, tag: str, command: str, args: str, state: dict[str, Any], writer: asyncio.StreamWriter
    ) -> bool:
        """Write the answer to one command; True when the connection ends."""

        def say(*lines: str | bytes) -> None:
            for item in lines:
                writer.write(item if isinstance(item, bytes) else item.encode() + b"\r\n")

        if command == "CAPABILITY":
            offers_tls = self.starttls_context is not None and not state["tls"]
            say("* CAPABILITY IMAP4rev1" + (" STARTTLS" if offers_tls else ""), f"{tag} OK CAPABILITY done")
        elif command == "NOOP":
            say(f"{tag} OK NOOP done")
        elif command == "LOGOUT":
            say("* BYE see you", f"{tag} OK LOGOUT done")
            await writer.drain()
            return True
        elif command == "STARTTLS" and self.starttls_context is not None and not state["tls"]:
            say(f"{tag} OK begin TLS now")
            await writer.drain()
            await writer.start_tls(self.starttls_context)
            state["tls"] = True
        elif command == "LOGIN":
            found = _LOGIN.match(args)
            user = _unquote(found.group(1), found.group(2)) if found else ""
            password = _unquote(found.group(3), found.group(4)) if found else ""
            if (user, password) == (self.user, self.password):
                state["user"] = user
                say(f"{tag} OK LOGIN done")
            else:
                say(f"{tag} NO [AUTHENTICATIONFAILED] wrong user or password")
        elif state["user"] is None:
            say(f"{tag} BAD log in first")
        elif command == "SELECT":
            if args.strip('"').upper() != "INBOX":
                say(f"{tag} NO [NONEXISTENT] no such folder")
            else:
                state["selected"] = True
                with self.lock:
                    count, next_uid = (
                        len(self.messages),
                        (self.messages[-1].uid + 1 if self.messages else 101),
                    )
                say(
                    f"* {count} EXISTS",
                    "* 0 RECENT",
                    "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)",
                    "* OK [UIDVALIDITY 7] UIDs valid",
                    f"* OK [UIDNEXT {next_uid}] predicted next UID",
                    f"{tag} OK [READ-WRITE] SELECT done",
                )
        elif not state["selected"]:
            say(f"{tag} BAD select a folder first")
        elif command == "UID":
            sub, _, rest = args.partition(" ")
            say(*self._mailbox_command(tag, sub.upper(), rest, by_uid=True))
        else:
            say(*self._mailbox_command(tag, command, args, by_uid=False))
        return False

    def _pick(self, numbers: str, *, by_uid: bool) -> list[tuple[int, Stored]]:
        """(sequence number, message) for a set such as "3", "3,5" or "2:4"."""
        with self.lock:
            indexed = list(enumerate(self.messages, start=1))
        wanted: set[int] = set()
        for piece in numbers.split(","):
            low, _, high = piece.partition(":")
            top = max((m.uid if by_uid else n for n, m in indexed), default=0)
            start = top if low == "*" else int(low)
            end = start if not high else (top if high == "*" else int(high))
            wanted.update(range(min(start, end), max(start, end) + 1))
        return [(n, m) for n, m in indexed if (m.uid if by_uid else n) in wanted]

    def _mailbox_command(self, tag: str, command: str, args: str, *, by_uid: bool) -> list[str | bytes]:
        name = f"UID {command}" if by_uid else command
        try:
            if command == "SEARCH" and args.strip().upper() == "UNSEEN":
                with self.lock:
                    hits = [
                        m.uid if by_uid else n
                        for n, m in enumerate(self.messages, 1)
                        if "\\Seen" not in m.flags
                    ]
                return [f"* SEARCH {' '.join(map(str, hits))}".rstrip(), f"{tag} OK {name} done"]
            if command == "FETCH":
                numbers, _, what = args.partition(" ")
                items = what.strip("()").upper().split()
                body_items = [i for i in items if i in ("BODY.PEEK[]", "BODY[]")]
                if len(body_items) != 1 or set(items) - {"BODY.PEEK[]", "BODY[]", "INTERNALDATE", "UID"}:
                    return [f"{tag} BAD only BODY.PEEK[] or BODY[], with INTERNALDATE and UID, here"]
                lines: list[str | bytes] = []
                for number, message in self._pick(numbers, by_uid=by_uid):
                    if body_items == ["BODY[]"]:
                        with self.lock:
                            message.flags.add("\\Seen")
                    parts = [f"UID {message.uid}"]  # a UID FETCH always answers with the UID
                    for item in items:  # in the order asked, as servers do; the literal is last here
                        if item == "INTERNALDATE":
                            parts.append(f"INTERNALDATE {internal_date(message.arrived)}")
                    head = f"* {number} FETCH ({' '.join(parts)} BODY[] {{{len(message.raw)}}}\r\n".encode()
                    lines.append(head + message.raw + b")\r\n")
                return [*lines, f"{tag} OK {name} done"]
            if command == "STORE":
                numbers, _, rest = args.partition(" ")
                action, _, flags = rest.partition(" ")
                if action.upper() not in ("+FLAGS", "+FLAGS.SILENT"):
                    return [f"{tag} BAD only +FLAGS here"]
                lines = []
                for number, message in self._pick(numbers, by_uid=by_uid):
                    with self.lock:
                        message.flags.update(flags.strip("()").split())
                        shown = " ".join(sorted(message.flags))
                    if action.upper() == "+FLAGS":
                        lines.append(f"* {number} FETCH (UID {message.uid} FLAGS ({shown}))")
                return [*lines, f"{tag} OK {name} done"]
        except ValueError:
            return [f"{tag} BAD cannot read {args!r}"]
        return [f"{tag} BAD {name} is not supported here"]
