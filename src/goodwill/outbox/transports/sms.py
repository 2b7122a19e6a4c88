"""SMS through an HTTP JSON provider (shaped like Twilio's Messages resource).

``POST {GOODWILL_SMS_URL}`` with ``Authorization: Bearer {GOODWILL_SMS_TOKEN}``,
``Idempotency-Key: goodwill-message-<id>`` and the JSON body ``{"to", "from", "body", "reference"}``.
A 2xx answer carries the provider's id as ``sid`` or ``id``. 429, 5xx, timeouts and connection
errors are transient; any other 4xx is the provider rejecting this message, which is permanent.
401/403 mean our credentials are wrong, which is no fault of the message: transient, so the
messages wait (and back off) until the token is fixed. The provider keeps the idempotency key, so
sending again after a crash cannot deliver twice: the transport is ``idempotent``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from goodwill.outbox.transports.base import Envelope, PermanentError, TransientError

MAX_SMS_CHARS = 640  # four segments; notes for SMS are far shorter (notes.sincerity.CHANNEL_LIMITS)


class SmsTransport:
    channel = "sms"
    idempotent = True

    def __init__(self, url: str, token: str, sender: str, *, timeout: float = 15.0) -> None:
        self.url = url
        self.sender = sender
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def send(self, envelope: Envelope, *, handing_over: Callable[[], None]) -> str:
        if len(envelope.text) > MAX_SMS_CHARS:
            raise PermanentError(f"text is {len(envelope.text)} characters; SMS allows {MAX_SMS_CHARS}")
        handing_over()
        body = {
            "to": envelope.to,
            "from": self.sender,
            "body": envelope.text,
            "reference": envelope.idempotency_key,
        }
        try:
            response = self._client.post(
                self.url, json=body, headers={"Idempotency-Key": envelope.idempotency_key}
            )
        except httpx.TimeoutException as exc:
            raise TransientError(f"SMS provider timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"cannot reach the SMS provider: {exc}") from exc
        if response.is_success:
            return _provider_id(response) or envelope.idempotency_key
        detail = f"SMS provider answered {response.status_code}: {_error_text(response)}"
        if response.status_code in (401, 403, 408, 409, 425, 429) or response.status_code >= 500:
            raise TransientError(detail)
        raise PermanentError(detail)

    def close(self) -> None:
        self._client.close()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _provider_id(response: httpx.Response) -> str | None:
    data = _json(response)
    found = data.get("sid") or data.get("id")
    return str(found)[:200] if found else None


def _error_text(response: httpx.Response) -> str:
    data = _json(response)
    message = data.get("message") or data.get("error") or response.text
    return str(message).strip()[:300]
