"""Webhooks from providers: ``POST /hooks/sms/inbound``, the text messages people send back.

Not under ``/api/v1`` and not behind a login: the provider proves itself by signing the time and the
raw body, ``X-Goodwill-Timestamp: <unix seconds>`` and
``X-Goodwill-Signature: hex(HMAC-SHA256(sms_webhook_token, f"{timestamp}.".encode() + body))``; a
request signed more than five minutes from now is refused (403), so a recorded one cannot be
replayed later. With no ``sms_webhook_token`` set every request is refused (503), so an
unconfigured install cannot be told someone said START. The body is Twilio-shaped, form-encoded or
JSON: ``From``, ``To``, ``Body``, ``MessageSid`` (required).
The answer is an empty TwiML document (form requests) or ``{"received": true}`` (JSON): nothing
is texted back, the provider confirms opt-outs itself.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from goodwill.people.sms_inbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookRefused, verify_webhook
from goodwill.people.sms_replies import InboundSms, handle_reply
from goodwill.web.deps import AppSettings, DbSession

router = APIRouter(include_in_schema=False)
log = logging.getLogger("goodwill.hooks")

MAX_BODY_BYTES = 16 * 1024  # a text message and its envelope are a few hundred bytes
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


async def raw_body(request: Request) -> bytes | None:
    """The body as sent (the signature covers these bytes), or None past ``MAX_BODY_BYTES``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def parse_fields(body: bytes, content_type: str) -> dict[str, str]:
    """The message's fields from a form-encoded or JSON body; ValueError if it is neither."""
    text = body.decode("utf-8")
    if content_type.startswith("application/json"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the JSON body must be an object")
        return {k: v for k, v in data.items() if isinstance(v, str)}
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    raise ValueError("send application/x-www-form-urlencoded or application/json")


def refused(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/hooks/sms/inbound")
def sms_inbound(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    body: Annotated[bytes | None, Depends(raw_body)],
) -> Response:
    token = settings.sms_webhook_token
    if not token:
        return refused(503, "the inbound SMS webhook is off: set sms_webhook_token to turn it on")
    if body is None:
        return refused(413, f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        signed_at = verify_webhook(
            token,
            body,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            now=time.time(),
        )
    except WebhookRefused as exc:
        return refused(403, str(exc))
    content_type = request.headers.get("content-type", "")
    try:
        fields = parse_fields(body, content_type)
    except ValueError as exc:  # includes bad JSON and bad UTF-8
        return refused(400, str(exc))
    if not fields.get("From", "").strip():
        return refused(400, "the message has no From number")
    message_sid = fields.get("MessageSid", "").strip()[:100]
    if not message_sid:  # every provider sends one; it is what makes a retry harmless
        return refused(400, "the message has no MessageSid")
    message = InboundSms(
        fields["From"], fields.get("Body", ""), message_sid, sent_at=datetime.fromtimestamp(signed_at, UTC)
    )
    outcome = handle_reply(session, secret_key=request.app.state.secret_key, message=message)
    # The message id only: numbers and text are personal data and stay out of the log.
    log.info("inbound SMS %s: %s", message.message_sid, outcome)
    if content_type.startswith("application/json"):
        return JSONResponse({"received": True, "keyword": outcome.keyword})
    return Response(EMPTY_TWIML, media_type="application/xml")
