"""``/api/v1/users``: staff accounts (admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from goodwill.team.model import User
from goodwill.team.service import PasswordRejected, UserExists, create_user, list_users
from goodwill.web.api.schemas import UserIn, field_error
from goodwill.web.deps import DbSession, UserManager
from goodwill.web.idempotency import Idempotent

router = APIRouter(prefix="/users", tags=["users"])


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "created_at": user.created_at.isoformat(),
    }


@router.get("")
def all_users(session: DbSession, _: UserManager) -> list[dict[str, Any]]:
    return [user_dict(u) for u in list_users(session=session)]


@router.post("", status_code=201)
def add_user(body: UserIn, session: DbSession, _: UserManager, idem: Idempotent) -> Response:
    try:
        user = create_user(
            session=session, email=body.email, role=body.role.value, password=body.password, name=body.name
        )
    except PasswordRejected as exc:
        field_error("password", str(exc))
    except UserExists as exc:
        # The request is well formed; it clashes with an account that exists: a conflict, not a typo.
        raise HTTPException(409, str(exc)) from exc
    return idem.respond(201, user_dict(user))
