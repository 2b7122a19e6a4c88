"""The receiving side of the fault benchmark: the SMTP server and the SMS provider, with times.

They are tests/integration/delivery_servers.py's real loopback servers (aiosmtpd; an HTTP provider
that honours ``Idempotency-Key``), recording when each email and each first SMS delivery arrived so
the benchmark can tell a delivery after an opt-out from one before it.
"""

from __future__ import annotations

import sys
import threading
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))

from delivery_servers import SmsProvider, SmtpSink, _SmtpHandler


class _TimedSmtpHandler(_SmtpHandler):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        before = len(self.received)
        answer = await super().handle_DATA(server, session, envelope)
        with self.lock:
            for got in self.received[before:]:
                self.arrivals[got.message_id].append(datetime.now(UTC))
        return answer

    def __post_init__(self) -> None:
        super().__post_init__()
        self.arrivals: dict[str, list[datetime]] = defaultdict(list)


class TimedSmtpSink(SmtpSink):
    """An aiosmtpd server on loopback; ``arrivals()``: Message-ID -> each time it was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.handler = _TimedSmtpHandler()
        self.controller.handler = self.handler

    def arrivals(self) -> dict[str, list[datetime]]:
        with self.handler.lock:
            return {k: list(v) for k, v in self.handler.arrivals.items()}


class TimedSmsProvider(SmsProvider):
    """The SMS provider on loopback; ``first_deliveries()``: key -> when it was first delivered."""

    def __init__(self, *, token: str) -> None:
        super().__init__(token=token)
        self.first: dict[str, datetime] = {}
        self.first_lock = threading.Lock()

    def handle(self, authorization: str, key: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        known = key in self.delivered
        answer = super().handle(authorization, key, raw)
        if not known and key in self.delivered:
            with self.first_lock:
                self.first.setdefault(key, datetime.now(UTC))
        return answer

    def first_deliveries(self) -> dict[str, datetime]:
        with self.first_lock:
            return dict(self.first)
