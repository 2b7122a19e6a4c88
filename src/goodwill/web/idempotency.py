"""``Idempotency-Key`` for API writes: the first answer is stored and replayed for retries.

A handler takes ``idem: Idempotent`` and returns ``idem.respond(status, payload)``; the stored
answer is written in the same transaction as the work, so a retry sees both or neither.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from goodwill.db import utcnow
from goodwill.web.auth import Principal
from goodwill.web.deps import DbSession, current_principal
from goodwill.web.model import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
STORE = insert(cast(Table, IdempotencyRecord.__table__))


class IdempotencyConflict(Exception):
    """The key was used for a different request (or is being used right now): 409."""


class IdempotencyKeyInvalid(ValueError):
    pass


class IdempotentReplay(Exception):
    """Raised to answer a retry with the stored response; nothing runs and nothing is written."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body

    def response(self) -> Response:
        return Response(
            self.body,
            status_code=self.status_code,
            media_type="application/json",
            headers={REPLAY_HEADER: "true"},
        )


def json_response(status_code: int, payload: Any) -> Response:
    body = json.dumps(jsonable_encoder(payload), ensure_ascii=False)
    return Response(body, status_code=status_code, media_type="application/json")


@dataclass
class Idempotency:
    session: Session
    user_id: int
    key: str | None
    fingerprint: str

    def respond(self, status_code: int, payload: Any) -> Response:
        response = json_response(status_code, payload)
        if self.key is None:
            return response
        record = {
            "user_id": self.user_id,
            "key": self.key,
            "request_hash": self.fingerprint,
            "status_code": status_code,
            "response_body": bytes(response.body).decode(),
            "created_at": utcnow(),
        }
        try:
            self.session.flush()  # the work's pending objects first, as a flush of the record did
            # A plain insert: nothing reads the record back in this request, and the ORM's unit of
            # work cost more than the statement (a redemption's profile).
            self.session.connection().execute(STORE, record)
        except IntegrityError as exc:  # a concurrent request with the same key won the race
            raise IdempotencyConflict(
                f"another request with this {HEADER} is being processed; retry it to get the stored answer"
            ) from exc
        return response


async def request_fingerprint(request: Request) -> str:
    body = await request.body()
    head = f"{request.method}\n{request.url.path}?{request.url.query}\n".encode()
    return hashlib.sha256(head + body).hexdigest()


def idempotency(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(current_principal)],
    fingerprint: Annotated[str, Depends(request_fingerprint)],
) -> Idempotency:
    key = request.headers.get(HEADER)
    if key is None:
        return Idempotency(session, principal.user_id, None, fingerprint)
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters")
    stored = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == principal.user_id, IdempotencyRecord.key == key
        )
    )
    if stored is not None:
        if stored.request_hash != fingerprint:
            raise IdempotencyConflict(
                f"this {HEADER} was already used for a different request (method, path or body differ); "
                "use a new key for a new request"
            )
        raise IdempotentReplay(stored.status_code, stored.response_body)
    return Idempotency(session, principal.user_id, key, fingerprint)


Idempotent = Annotated[Idempotency, Depends(idempotency)]
