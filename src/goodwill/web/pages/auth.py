"""Logging in and out of the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from goodwill.team.service import authenticate
from goodwill.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Principal,
    end_session,
    forget_login_failures,
    login_retry_after,
    principal_for_session,
    record_login_failure,
    start_session,
)
from goodwill.web.deps import STAFF, AppSettings, DbSession, require_role
from goodwill.web.security import cookie_secure, new_token, same_secret, signed
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)
signed_in = require_role("log out", *STAFF)
LOGIN_FORM_SECONDS = 2 * 3600


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/people"


def login_page(
    request: Request,
    *,
    error: str | None = None,
    email: str = "",
    next_url: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The form, with a double-submit CSRF token: a cookie, and its HMAC in a hidden field."""
    settings = request.app.state.settings
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    context = {
        "error": error,
        "email": email,
        "next": next_url,
        "login_csrf": signed(request.app.state.secret_key, cookie),
        "retry_after": (headers or {}).get("Retry-After"),
    }
    response = render(request, "login.html", context, status_code=status_code, headers=headers)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        cookie,
        max_age=LOGIN_FORM_SECONDS,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings, request),
    )
    return response


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/people", status_code=303)


@router.get("/login")
def show_login(request: Request, session: DbSession, next: str = "") -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token and principal_for_session(session, token) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(request, next_url=next)


@router.post("/login")
def do_login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    email = email.strip()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not same_secret(csrf_token, signed(request.app.state.secret_key, cookie)):
        message = "The login form had expired. Please try again."
        return login_page(request, error=message, email=email, next_url=next, status_code=403)
    ip = request.client.host if request.client else "unknown"
    wait = login_retry_after(session, ip=ip, email=email, limit=settings.web.login_attempts_per_15_min)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        message = (
            "Too many unsuccessful attempts. To keep accounts safe, please wait "
            f"about {minutes} minute{'s' if minutes != 1 else ''} before trying again."
        )
        return login_page(
            request,
            error=message,
            email=email,
            next_url=next,
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    user = authenticate(session=session, email=email, password=password) if email and password else None
    if user is None:
        record_login_failure(session, ip=ip, email=email)
        message = "That email and password do not match an active account."
        return login_page(request, error=message, email=email, next_url=next, status_code=401)
    forget_login_failures(session, email=email)
    token = start_session(
        session,
        user_id=user.id,
        hours=settings.web.session_hours,
        replacing=request.cookies.get(SESSION_COOKIE),
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.web.session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings, request),
    )
    response.delete_cookie(
        LOGIN_CSRF_COOKIE,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(settings, request),
    )
    return response


@router.post("/logout")
def do_logout(
    request: Request, session: DbSession, settings: AppSettings, _: Annotated[Principal, Depends(signed_in)]
) -> Response:
    end_session(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_secure(settings, request)
    )
    return response
