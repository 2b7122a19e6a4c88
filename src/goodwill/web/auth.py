"""Who is calling: browser sessions, API tokens, and the brake on password guessing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from goodwill.db import hold_transaction_lock, utcnow
from goodwill.people.model import normalise_email
from goodwill.team.model import User
from goodwill.team.service import TOKEN_USE_RESOLUTION, token_hash
from goodwill.web.model import ApiToken, LoginFailure, WebSession
from goodwill.web.security import new_token, sha256_hex

SESSION_COOKIE = "goodwill_session"
LOGIN_CSRF_COOKIE = "goodwill_login_csrf"
RATE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Principal:
    """The staff member behind a request and how they proved it."""

    user_id: int
    email: str
    name: str
    role: str
    via: Literal["session", "token"]
    csrf_token: str | None = None  # only for browser sessions

    @property
    def display_name(self) -> str:
        return self.name or self.email


def start_session(session: Session, *, user_id: int, hours: int, replacing: str | None = None) -> str:
    """A fresh session for a login; the one it replaces (and any expired ones) are deleted."""
    now = utcnow()
    doomed = [WebSession.expires_at < now]
    if replacing:
        doomed.append(WebSession.token_hash == sha256_hex(replacing))
    for condition in doomed:
        session.execute(delete(WebSession).where(condition))
    token = new_token()
    session.add(
        WebSession(
            token_hash=sha256_hex(token),
            user_id=user_id,
            csrf_token=new_token(),
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == sha256_hex(token)))


# Every request reads its caller: both statements are built once, with bound values, so SQLAlchemy
# finds them compiled instead of building and keying them again per request; and they read plain
# columns on the session's connection, since building ORM objects for the user (and the token) was
# most of the cost of authenticating a request.
_USERS = cast(Table, User.__table__)
_SESSIONS = cast(Table, WebSession.__table__)
_TOKENS = cast(Table, ApiToken.__table__)
_PRINCIPAL_COLUMNS = (_USERS.c.id, _USERS.c.email, _USERS.c.name, _USERS.c.role, _USERS.c.active)
SESSION_USER = (
    select(*_PRINCIPAL_COLUMNS, _SESSIONS.c.csrf_token)
    .join(_SESSIONS, _SESSIONS.c.user_id == _USERS.c.id)
    .where(_SESSIONS.c.token_hash == bindparam("token_hash"), _SESSIONS.c.expires_at > bindparam("now"))
)
TOKEN_USER = (
    select(*_PRINCIPAL_COLUMNS, _TOKENS.c.id.label("token_id"), _TOKENS.c.last_used_at)
    .join(_TOKENS, _TOKENS.c.user_id == _USERS.c.id)
    .where(_TOKENS.c.token_hash == bindparam("token_hash"))
)
TOKEN_USED = (
    update(_TOKENS).where(_TOKENS.c.id == bindparam("token_id")).values(last_used_at=bindparam("now"))
)


def principal_for_session(session: Session, token: str) -> Principal | None:
    found = session.connection().execute(SESSION_USER, {"token_hash": sha256_hex(token), "now": utcnow()})
    row = found.first()
    if row is None or not row.active:
        return None
    return Principal(row.id, row.email, row.name, row.role, "session", row.csrf_token)


def principal_for_bearer(session: Session, token: str) -> Principal | None:
    """``team.service.user_for_api_token`` (the active owner, noting when the token was last used),
    reading the token and its owner in one statement."""
    conn = session.connection()
    row = conn.execute(TOKEN_USER, {"token_hash": token_hash(token)}).first()
    if row is None or not row.active:
        return None
    now = utcnow()
    last_used = row.last_used_at
    if last_used is None or now - last_used > TOKEN_USE_RESOLUTION:
        conn.execute(TOKEN_USED, {"token_id": row.token_id, "now": now})
    return Principal(row.id, row.email, row.name, row.role, "token")


def _failure_keys(ip: str, email: str) -> list[str]:
    # The email is kept only as a hash: the table needs to recognise it, not to read it.
    return [f"ip:{ip}", f"email:{sha256_hex(normalise_email(email))}"]


def login_retry_after(session: Session, *, ip: str, email: str, limit: int) -> int | None:
    """Seconds until another attempt is allowed, or None when this one may go ahead.

    Counting and then recording a failure is a check-then-act: simultaneous guesses would all count
    "under the limit" and all be tried. So this takes a transaction lock per key (the address and the
    account, always in the same order, so two logins never wait on each other crosswise), held until
    the caller's transaction ends, after ``record_login_failure``: guesses at one account or from one
    address are weighed one at a time.
    """
    keys = sorted(_failure_keys(ip, email))
    for key in keys:
        hold_transaction_lock(session, f"login:{key}")
    now = utcnow()
    wait = 0.0
    for key in keys:
        times: list[datetime] = list(
            session.scalars(
                select(LoginFailure.at)
                .where(LoginFailure.key == key, LoginFailure.at > now - RATE_WINDOW)
                .order_by(LoginFailure.at)
            ).all()
        )
        if len(times) >= limit:
            # Allowed again once enough of the window's failures have aged out to go below the limit.
            freed_at = times[len(times) - limit] + RATE_WINDOW
            wait = max(wait, (freed_at - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


def record_login_failure(session: Session, *, ip: str, email: str) -> None:
    now = utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - RATE_WINDOW))
    session.add_all(LoginFailure(key=key, at=now) for key in _failure_keys(ip, email))


def forget_login_failures(session: Session, *, email: str) -> None:
    """A successful login clears the account's count (not the address's: that protects other accounts)."""
    email_key = _failure_keys("", email)[1]
    session.execute(delete(LoginFailure).where(LoginFailure.key == email_key))
