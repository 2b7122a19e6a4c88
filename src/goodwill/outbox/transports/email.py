"""Email over SMTP: multipart text + HTML, the business's postal address, one-click unsubscribe.

``GOODWILL_SMTP_URL`` is ``smtp://[user:password@]host[:port][?starttls=true]`` (port 25 by default,
587 is usual with STARTTLS) or ``smtps://…`` (TLS from the start, port 465). One connection is
kept open per worker thread and reopened when the server drops it.

Idempotency: the message id is in the ``Message-ID`` header (``<goodwill-message-<id>@domain>``),
which receiving systems use to recognise a repeat. SMTP itself has no way to ask a server whether it
already accepted a message, so the transport is not ``idempotent``: the worker records the hand-over
just before the final step of the SMTP transaction (the DATA command), and an email whose worker
died after that point is never sent again automatically (docs/delivery.md).
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from goodwill.outbox.transports.base import Envelope, PermanentError, TransientError, UnknownOutcome

TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    use_tls: bool  # smtps: TLS from the first byte
    starttls: bool
    username: str | None
    password: str | None
    timeout: float = 30.0


def parse_smtp_url(url: str) -> SmtpSettings:
    """The parts of ``smtp_url``, which the settings have already checked (goodwill.config)."""
    parts = urlsplit(url)
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    use_tls = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname or "",
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        starttls=query.get("starttls", "false") in TRUE,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout=float(query.get("timeout", "30")),
    )


@dataclass(frozen=True)
class Sender:
    from_email: str
    from_name: str
    business_name: str
    postal_address: str


def build_email(envelope: Envelope, sender: Sender) -> EmailMessage:
    """The email for a note: plain text first, the same words as HTML, and the footer on both."""
    domain = sender.from_email.rpartition("@")[2] or "goodwill.local"
    message = EmailMessage()
    message["From"] = formataddr((sender.from_name or sender.business_name, sender.from_email))
    message["To"] = formataddr((envelope.to_name, envelope.to)) if envelope.to_name else envelope.to
    message["Subject"] = envelope.subject or f"Thank you from {sender.business_name}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{envelope.idempotency_key}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies back to us
    if envelope.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    footer = [sender.business_name]
    if sender.postal_address:
        footer.append(sender.postal_address)
    text_footer = "\n".join(footer)
    if envelope.unsubscribe_url:
        text_footer += f"\nTo stop these emails: {envelope.unsubscribe_url}"
    message.set_content(f"{envelope.text.rstrip()}\n\n-- \n{text_footer}\n")
    paragraphs = "".join(
        "<p>" + html.escape(block).replace("\n", "<br>") + "</p>"
        for block in envelope.text.strip().split("\n\n")
        if block.strip()
    )
    html_footer = "<br>".join(html.escape(line) for line in footer)
    if envelope.unsubscribe_url:
        link = html.escape(envelope.unsubscribe_url, quote=True)
        html_footer += f'<br><a href="{link}">Stop these emails</a>'
    message.add_alternative(
        '<!doctype html><html><body style="font-family: Georgia, serif; line-height: 1.5">'
        f'{paragraphs}<hr><p style="color: #666; font-size: 0.85em">{html_footer}</p></body></html>',
        subtype="html",
    )
    return message


def _raise_for(code: int, reply: bytes | str, stage: str) -> None:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    detail = f"SMTP {stage} refused: {code} {text}".strip()
    if 400 <= code < 500:
        raise TransientError(detail)
    raise PermanentError(detail)


class EmailTransport:
    channel = "email"
    idempotent = False

    def __init__(self, smtp: SmtpSettings, sender: Sender) -> None:
        self.smtp = smtp
        self.sender = sender
        self._connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        context = ssl.create_default_context()
        try:
            connection: smtplib.SMTP
            if self.smtp.use_tls:
                connection = smtplib.SMTP_SSL(
                    self.smtp.host, self.smtp.port, timeout=self.smtp.timeout, context=context
                )
            else:
                connection = smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=self.smtp.timeout)
            # Without this, Nagle's algorithm holds the tail of each message until the server's
            # delayed ACK (up to 40 ms a message on Linux).
            if connection.sock is not None:
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.ehlo()
            if self.smtp.starttls:
                connection.starttls(context=context)
                connection.ehlo()
            if self.smtp.username:
                connection.login(self.smtp.username, self.smtp.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientError(f"SMTP login refused ({exc.smtp_code}); check smtp_url") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"cannot reach the SMTP server: {exc}") from exc
        self._connection = connection
        return connection

    def send(self, envelope: Envelope, *, handing_over: Callable[[], None]) -> str:
        try:
            email = build_email(envelope, self.sender)
        except ValueError as exc:  # e.g. a line break in the subject or the name: never sendable
            raise PermanentError(f"cannot build this email: {exc}") from exc
        payload = email.as_bytes(policy=SMTP_POLICY)  # CRLF line ends, as SMTP requires
        connection = self._connect()
        try:
            code, reply = connection.mail(self.sender.from_email)
            if code != 250:
                connection.rset()
                _raise_for(code, reply, "sender")
            code, reply = connection.rcpt(envelope.to)
            if code not in (250, 251):
                connection.rset()
                _raise_for(code, reply, "recipient")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise TransientError(f"SMTP connection lost before delivery: {exc}") from exc
        try:
            handing_over()
        except BaseException:
            self._reset()
            raise
        try:
            code, reply = connection.data(payload)
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise UnknownOutcome(
                f"SMTP connection lost while the server was taking the message: {exc}"
            ) from exc
        except smtplib.SMTPDataError as exc:
            _raise_for(exc.smtp_code, exc.smtp_error, "message")
        if code != 250:
            _raise_for(code, reply, "message")
        answer = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"{email['Message-ID']} {answer}".strip()[:200]

    def _reset(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
