"""The role matrix of ``docs/security.md``, read back from the app: every page and endpoint x role x method.

``role_matrix(app)`` is pure: it walks the app's routes (through included routers, plus the
OpenAPI document and the static files mount), finds the ``RoleRequirement`` each route declares
(``goodwill.web.deps.route_requirement``) and returns the Markdown tables, sorted, so the same app
always gives the same text. A route with no requirement is public; how it protects itself is
stated in ``PUBLIC_PROTECTION`` below, and a public route missing from it is printed as
``UNDOCUMENTED`` (the test ``tests/integration/test_role_matrix.py`` refuses that).

``replace_section(document, table)`` swaps the text between the markers in the document.
Regenerate the doc after changing a route::

    .venv/bin/python -m goodwill.web.role_doc docs/security.md   # rewrite the section in place
    .venv/bin/python -m goodwill.web.role_doc                    # print the tables
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from goodwill.team.model import Role
from goodwill.web.api import API_PREFIX
from goodwill.web.deps import all_routes, current_principal, route_requirement

START = "<!-- role-matrix:start -->"
END = "<!-- role-matrix:end -->"
ROLES = (Role.admin.value, Role.manager.value, Role.agent.value)
COLUMNS = (*ROLES, "anonymous")
UNDOCUMENTED = "UNDOCUMENTED"
METHOD_ORDER = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"))}

# How each public route (no login) is protected, by path prefix; the longest matching prefix wins.
PUBLIC_PROTECTION: dict[str, str] = {
    "/": "redirects to /people (which asks for a login); shows nothing itself",
    "/login": "login form: double-submit CSRF (cookie + HMAC field), rate limit per IP and per email",
    "/my/loyalty/": "signed link (HMAC-SHA256, own key) naming one person, expires after "
    "`[loyalty] link_days`; the person comes from the token only; no-referrer",
    "/my/complaint/": "signed link (HMAC-SHA256, own key) naming one complaint, expires; no-referrer",
    "/unsubscribe/": "signed link (HMAC-SHA256, own key) naming person, channel and message; "
    "never expires (an old email must still unsubscribe); GET only shows the button",
    "/hooks/sms/inbound": "provider signature: HMAC-SHA256 of timestamp and body with "
    "`sms_webhook_token`, 5-minute window; off (503) when no token is set",
    f"{API_PREFIX}/openapi.json": "the API's description, no data",
    "/static": "the stylesheets, scripts and icon shipped in the package, no data",
}


@dataclass(frozen=True)
class RouteRow:
    method: str
    path: str
    kind: str  # "page", "api" or "public"
    roles: frozenset[str] | None  # None: public (no login)
    rule: str  # the requirement's name, or how a public route is protected

    def sort_key(self) -> tuple[str, int, str]:
        return (self.path, METHOD_ORDER.get(self.method, len(METHOD_ORDER)), self.method)


def _calls(dependant: Any) -> Iterator[Any]:
    stack = [dependant]
    while stack:
        current = stack.pop()
        yield current.call
        stack.extend(current.dependencies)


def protection_of(path: str) -> str:
    matches = [prefix for prefix in PUBLIC_PROTECTION if path == prefix or path.startswith(prefix)]
    matches = [m for m in matches if m != "/" or path == "/"]
    if not matches:
        return f"{UNDOCUMENTED}: say how it is protected in goodwill.web.role_doc.PUBLIC_PROTECTION"
    return PUBLIC_PROTECTION[max(matches, key=len)]


def route_rows(app: FastAPI) -> list[RouteRow]:
    """One row per (method, path), sorted by path then method."""
    rows: dict[tuple[str, str], RouteRow] = {}
    for path, methods, route in all_routes(app):
        if isinstance(route, APIRoute):
            requirement = route_requirement(route.dependant)
            if requirement is not None:
                roles: frozenset[str] | None = frozenset(r.value for r in requirement.roles)
                rule = requirement.name
            elif current_principal in _calls(route.dependant):  # signed in, any role
                roles, rule = frozenset(ROLES), "be signed in"
            else:
                roles, rule = None, protection_of(path)
        elif isinstance(route, Mount):
            path, methods, roles, rule = (
                f"{route.path}/{{path}}",
                {"GET", "HEAD"},
                None,
                protection_of(route.path),
            )
        elif isinstance(route, Route):
            roles, rule = None, protection_of(path)
        else:  # a websocket or an unknown kind: listed so that it is noticed
            roles, rule = None, f"{UNDOCUMENTED}: {type(route).__name__}"
        kind = "public" if roles is None else "api" if path.startswith(f"{API_PREFIX}/") else "page"
        for method in methods:
            rows[(method, path)] = RouteRow(method, path, kind, roles, rule)
    return sorted(rows.values(), key=RouteRow.sort_key)


def _cell(row: RouteRow, role: str) -> str:
    if row.roles is None:
        return "public"
    return "yes" if role in row.roles else "no"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _table(rows: list[RouteRow], *, last: str) -> list[str]:
    lines = [
        f"| Method | Path | {' | '.join(COLUMNS)} | {last} |",
        f"|---|---|{'---|' * len(COLUMNS)}---|",
    ]
    for row in rows:
        cells = " | ".join(_cell(row, role) for role in ROLES)
        anonymous = "public" if row.roles is None else "no"
        lines.append(
            f"| {row.method} | `{_escape(row.path)}` | {cells} | {anonymous} | {_escape(row.rule)} |"
        )
    return lines


def role_matrix(app: FastAPI) -> str:
    """The Markdown tables (staff pages, JSON API, public routes), ending with a newline."""
    rows = route_rows(app)
    counts = {kind: sum(1 for r in rows if r.kind == kind) for kind in ("page", "api", "public")}
    out = [
        "Generated from the app by `python -m goodwill.web.role_doc docs/security.md`; "
        "`tests/integration/test_role_matrix.py` fails when it differs. "
        f"{len(rows)} routes: {counts['page']} staff pages, {counts['api']} API operations, "
        f'{counts["public"]} public. "no" for a signed-in role is a 403; for anonymous it is a '
        "redirect to `/login` (pages) or a 401 (API).",
        "",
        "### Staff pages",
        "",
        *_table([r for r in rows if r.kind == "page"], last="Rule (the role requirement)"),
        "",
        f"### JSON API (`{API_PREFIX}`, a bearer token or the session cookie with `X-CSRF-Token`)",
        "",
        *_table([r for r in rows if r.kind == "api"], last="Rule (the role requirement)"),
        "",
        "### Public routes (no login)",
        "",
        *_table([r for r in rows if r.kind == "public"], last="How it is protected"),
    ]
    return "\n".join(out) + "\n"


def section_of(document: str) -> str:
    """The text between the markers; ValueError when they are missing or out of order."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the document needs the markers {START} and {END}, in that order")
    return document[start + len(START) : end].strip("\n") + "\n"


def replace_section(document: str, table: str) -> str:
    """The document with the text between the markers replaced by ``table``."""
    section_of(document)  # checks the markers
    start, end = document.find(START), document.find(END)
    return f"{document[: start + len(START)]}\n{table.strip(chr(10))}\n{document[end:]}"


def matrix_of_a_fresh_app() -> str:
    """``role_matrix`` of the app over a throwaway SQLite database (the routes do not depend on data)."""
    import secrets
    import tempfile
    from pathlib import Path

    from goodwill.config import load_settings
    from goodwill.db import Database
    from goodwill.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="goodwill-role-doc-") as folder:
        database = Database(f"sqlite:///{Path(folder) / 'routes.db'}")
        try:
            database.migrate()
            settings = load_settings(database_url=database.url, secret_key=secrets.token_hex(16))
            return role_matrix(create_app(settings, database))
        finally:
            database.dispose()


def main(argv: list[str]) -> int:
    table = matrix_of_a_fresh_app()
    if not argv:
        sys.stdout.write(table)
        return 0
    from pathlib import Path

    target = Path(argv[0])
    target.write_text(replace_section(target.read_text(encoding="utf-8"), table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
