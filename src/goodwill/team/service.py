"""Staff accounts: creating them, checking passwords, and API tokens. Callers own the transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from goodwill.db import utcnow
from goodwill.people.model import normalise_email
from goodwill.team.model import Role, User
from goodwill.web.model import ApiToken, WebSession

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# Writing last_used_at on every call would turn each read into a write; a few minutes is precise enough.
TOKEN_USE_RESOLUTION = timedelta(minutes=5)

_hasher = PasswordHasher()


class PasswordRejected(ValueError):
    """A password that does not meet the policy; the message says why, without repeating it."""


class UserExists(ValueError):
    pass


class UserNotFound(LookupError):
    pass


@cache
def common_passwords() -> frozenset[str]:
    text = (resources.files("goodwill.team") / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )


def check_password(password: str, *, email: str) -> None:
    """Raise PasswordRejected unless the password is long, uncommon and not the email."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")
    folded = password.strip().casefold()
    address = normalise_email(email)
    if folded in {address, address.split("@")[0]}:
        raise PasswordRejected("the password must not be the email address")
    if folded in common_passwords():
        raise PasswordRejected("that password is on the list of commonly used passwords; choose another")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    # Verifying against this for unknown emails makes both paths cost one argon2 verification.
    return _hasher.hash(secrets.token_urlsafe(16))


def check_role(role: str) -> str:
    if role not in Role.__members__:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(Role.__members__)}")
    return role


def create_user(*, session: Session, email: str, role: str, password: str, name: str = "") -> User:
    address = normalise_email(email)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError(f"{email!r} is not an email address")
    check_role(role)
    check_password(password, email=address)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise UserExists(f"a user with email {address} already exists")
    user = User(email=address, name=name.strip(), role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def set_password(*, session: Session, email: str, password: str) -> User:
    """A new password (same policy); the user's browser sessions end, so an old cookie stops working."""
    user = get_user(session=session, email=email)
    check_password(password, email=user.email)
    user.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return user


def get_user(*, session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise UserNotFound(f"no user with email {normalise_email(email)}")
    return user


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)).all())


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None, in about the same time either way."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    stored = user.password_hash if user is not None and user.active else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(*, session: Session, user_id: int, name: str) -> str:
    """A new random token; only its SHA-256 is stored, so this is the one time it can be read."""
    clean = name.strip()
    if not clean:
        raise ValueError("an API token needs a name (what or who uses it)")
    if len(clean) > 100:
        raise ValueError("an API token name is at most 100 characters")
    token = "gw_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=token_hash(token), user_id=user_id, name=clean))
    session.flush()
    return token


def user_for_api_token(*, session: Session, token: str) -> User | None:
    """The active owner of a token, noting when it was last used."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_USE_RESOLUTION:
        row.last_used_at = now
    return user
