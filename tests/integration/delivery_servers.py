"""Real servers on loopback for delivery tests and the outbox benchmark.

``SmtpSink``: an aiosmtpd SMTP server that keeps every accepted email, counted by Message-ID.
``SmsProvider``: an HTTP JSON server shaped like an SMS provider that honours ``Idempotency-Key``
(a repeated key gets the first answer back and is not delivered again) and checks the bearer token.
Both can fail a share of requests transiently (seeded), and refuse some addresses permanently.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import random
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    # aiosmtpd's Controller cannot take port 0 (MACHINE-NOTES): pick one first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    message_id: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed


@dataclass
class _SmtpHandler:
    transient_share: float = 0.0
    seed: int = 1
    received: list[Received] = field(default_factory=list)
    refused_transiently: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if "bounce" in address:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.transient_share and self.rng.random() < self.transient_share:
                self.refused_transiently += 1
                return "451 4.3.0 busy, try again later"
            raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            self.received.append(Received(str(parsed["Message-ID"]).strip(), list(envelope.rcpt_tos), raw))
            number = len(self.received)
        return f"250 OK queued as q{number}"


class SmtpSink:
    """``with SmtpSink() as smtp: ... smtp.url ... smtp.received``"""

    def __init__(self, *, transient_share: float = 0.0, seed: int = 1) -> None:
        self.handler = _SmtpHandler(transient_share=transient_share, seed=seed)
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def counts(self) -> Counter[str]:
        """How many times each Message-ID arrived (a value above 1 is a duplicate delivery)."""
        return Counter(r.message_id for r in self.received)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()


class SmsProvider:
    """``with SmsProvider(token="t") as sms: ... sms.url ... sms.delivered``"""

    def __init__(self, *, token: str = "test-token", transient_share: float = 0.0, seed: int = 2) -> None:
        self.token = token
        self.transient_share = transient_share
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.delivered: dict[str, dict[str, Any]] = {}  # idempotency key -> the request body
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.requests: Counter[str] = Counter()  # idempotency key -> requests received
        self.repeats = 0
        self.refused_transiently = 0
        self.unauthorised = 0
        self.extra_stats: Callable[[], dict[str, Any]] | None = None
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path != "/stats":
                    self._answer(404, {"message": "not here"})
                    return
                self._answer(200, provider.stats())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                status, body = provider.handle(
                    self.headers.get("Authorization", ""), self.headers.get("Idempotency-Key", ""), raw
                )
                self._answer(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/messages"

    def stats(self) -> dict[str, Any]:
        with self.lock:
            found: dict[str, Any] = {
                "sms_delivered": len(self.delivered),
                "sms_requests": sum(self.requests.values()),
                "sms_repeats": self.repeats,
            }
        if self.extra_stats is not None:
            found.update(self.extra_stats())
        return found

    def handle(self, authorization: str, key: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if authorization != f"Bearer {self.token}":
                self.unauthorised += 1
                return 401, {"message": "bad token"}
            if not key:
                return 400, {"message": "Idempotency-Key is required"}
            self.requests[key] += 1
            if key in self.answers:
                self.repeats += 1
                return self.answers[key]
            if self.transient_share and self.rng.random() < self.transient_share:
                self.refused_transiently += 1
                return 503, {"message": "temporarily unavailable"}
            try:
                body = json.loads(raw)
            except ValueError:
                return 400, {"message": "not JSON"}
            if not str(body.get("to", "")).startswith("+"):
                return 400, {"message": f"not a number in international format: {body.get('to')!r}"}
            self.delivered[key] = body
            answer = (201, {"sid": f"SM{len(self.delivered):08d}", "status": "queued"})
            self.answers[key] = answer
            return answer

    def __enter__(self) -> SmsProvider:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    """Serve both on loopback until stdin closes (for benchmarks: their own process, their own GIL)."""
    import sys

    with SmtpSink() as smtp, SmsProvider(token="bench-token") as sms:

        def email_stats() -> dict[str, Any]:
            counts = smtp.counts()
            return {"emails": sum(counts.values()), "distinct_emails": len(counts)}

        sms.extra_stats = email_stats
        print(
            json.dumps(
                {"smtp_url": smtp.url, "sms_url": sms.url, "stats_url": f"http://127.0.0.1:{sms.port}/stats"}
            )
        )
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    main()
