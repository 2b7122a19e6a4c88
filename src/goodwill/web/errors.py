"""How failures look: JSON with a message under /api, a friendly page everywhere else."""

from __future__ import annotations

import logging
import traceback
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from goodwill.people.service import PersonNotFound
from goodwill.web.deps import Forbidden, NotAuthenticated, all_routes
from goodwill.web.idempotency import IdempotencyConflict, IdempotencyKeyInvalid, IdempotentReplay
from goodwill.web.security import CUSTOMER_LINK_PREFIXES, SECURITY_HEADERS
from goodwill.web.templating import render

log = logging.getLogger("goodwill.web")

TITLES = {
    400: "That request did not make sense",
    401: "Please log in",
    403: "That is not open to you",
    404: "We could not find that",
    405: "That is not something this page does",
    409: "That clashes with an earlier request",
    422: "Some of that was not quite right",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    title = TITLES.get(status, "Something went wrong")
    context = {"status": status, "title": title, "message": message}
    return render(request, "error.html", context, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only where and why: echoing the input back could repeat a password or personal data.
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


async def on_not_authenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAuthenticated)
    if wants_json(request):
        return JSONResponse(
            {"detail": f"authentication required: {exc.reason}"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?next={quote(target, safe='')}" if target not in {"/", "/people"} else "/login"
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


async def on_forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return error_response(request, 403, exc.reason)


async def on_person_not_found(request: Request, exc: Exception) -> Response:
    return error_response(request, 404, str(exc))


def allowed_methods(request: Request) -> str:
    """Every method some route answers at this path. Starlette's own 405 names only the first route that
    matched the path, so a path served by two routes (GET and POST /people) would claim to allow one."""
    methods: set[str] = set()
    for path, route_methods, _ in all_routes(request.app):
        if path and route_methods and compile_path(path)[0].match(request.url.path):
            methods.update(route_methods)
    return ", ".join(sorted(methods))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        exc.headers = {**(exc.headers or {}), "Allow": allowed_methods(request)}
    if wants_json(request) and isinstance(exc.detail, dict):
        # Structured details (e.g. a note's sincerity problems) go to API clients as they are.
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=dict(exc.headers or {})
        )
    message = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "error")
    if exc.status_code == 404 and message == "Not Found":
        message = f"there is nothing at {request.url.path}"
    return error_response(request, exc.status_code, message, headers=dict(exc.headers or {}))


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    if wants_json(request):
        return JSONResponse({"detail": details}, status_code=422)
    lines = "; ".join(f"{'.'.join(str(p) for p in d['loc'][1:])}: {d['msg']}" for d in details)
    return error_response(request, 422, lines)


async def on_idempotency_conflict(request: Request, exc: Exception) -> Response:
    return error_response(request, 409, str(exc))


async def on_idempotency_key_invalid(request: Request, exc: Exception) -> Response:
    return error_response(request, 400, str(exc))


async def on_replay(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    return exc.response()


def route_template(request: Request) -> str:
    """The matched route's template (``/my/loyalty/{token}``), never the path itself: paths carry
    customer-link tokens and ids that must not reach a log."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else "(no route)"


async def on_unstorable_value(request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (an id past 64 bits, a NUL character in text): the caller's
    input, refused as such rather than as our failure. Routes should bound their inputs; this is the
    net under them."""
    log.warning(
        "refused a value the database cannot store (%s) on %s %s",
        type(exc).__name__,
        request.method,
        route_template(request),
    )
    return error_response(
        request, 422, "a value is out of range or contains characters that cannot be stored"
    )


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # The exception's message can quote SQL parameters (personal data): log its type and where, not its text.
    where = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, route_template(request), where)
    response = error_response(request, 500, "the error has been logged; please try again in a moment")
    # This answer is built outside the middleware stack, so it needs the headers added here.
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if request.url.path.startswith(CUSTOMER_LINK_PREFIXES):
        response.headers["referrer-policy"] = "no-referrer"
    response.headers["cache-control"] = "no-store"
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotAuthenticated, on_not_authenticated)
    app.add_exception_handler(Forbidden, on_forbidden)
    app.add_exception_handler(PersonNotFound, on_person_not_found)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(IdempotencyConflict, on_idempotency_conflict)
    app.add_exception_handler(IdempotencyKeyInvalid, on_idempotency_key_invalid)
    app.add_exception_handler(IdempotentReplay, on_replay)
    app.add_exception_handler(OverflowError, on_unstorable_value)
    app.add_exception_handler(DataError, on_unstorable_value)
    app.add_exception_handler(Exception, on_unexpected)
