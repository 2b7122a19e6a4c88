"""The FastAPI application: JSON API under /api/v1, pages, static files, security around them all."""

from __future__ import annotations

import gc
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from goodwill import __version__
from goodwill.config import Settings, load_settings
from goodwill.db import Database
from goodwill.web.api import API_PREFIX
from goodwill.web.api.hooks import router as hooks_router
from goodwill.web.api.routes import api_router
from goodwill.web.errors import install_error_handlers
from goodwill.web.pages import pages_router
from goodwill.web.security import SecurityHeadersMiddleware, install_access_log_redaction
from goodwill.web.templating import make_templates

# How ``goodwill serve`` runs Uvicorn (besides host, port and workers). No access log: paths can hold a
# customer's signed link token (/my/loyalty/..., /unsubscribe/...), and a log is no place for those.
# uvloop and httptools (both dependencies) instead of asyncio's loop and the pure-Python h11 parser:
# a static file costs about a third of the CPU (bench/README.md, load).
SERVER_OPTIONS: dict[str, Any] = {
    "proxy_headers": True,
    "log_level": "info",
    "access_log": False,
    "loop": "uvloop",
    "http": "httptools",
}


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or load_settings()
    database = database or Database(settings.database_url)
    if database.current_revision() is None:
        raise RuntimeError("the database is not initialised yet: run `goodwill init` first")
    app = FastAPI(
        title="Goodwill API",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # The interactive docs load scripts from a CDN, which the CSP (rightly) forbids.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.secret_key = settings.resolved_secret_key()
    app.state.templates = make_templates(settings)
    app.add_middleware(SecurityHeadersMiddleware)
    install_access_log_redaction()
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(pages_router)
    app.include_router(hooks_router)
    app.mount(
        "/static", StaticFiles(directory=str(resources.files("goodwill.web") / "static")), name="static"
    )
    return app


def create_served_app() -> FastAPI:
    """``create_app`` for a ``goodwill serve`` worker process, whose heap it then freezes.

    Everything alive once the app is built (routes, mappers, compiled statements, templates, the
    imported libraries) lives as long as the process; ``gc.freeze`` takes it out of the collector's
    full passes, which otherwise walk all of it again while requests allocate rows by the hundred
    (bench/README.md, load). Tests build many apps in one process, so only the server does this.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
