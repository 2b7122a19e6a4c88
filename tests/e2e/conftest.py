"""A real Uvicorn server on 127.0.0.1 over a seeded SQLite database, and Debian's Chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serving import RunningServer
from shop import seed

from goodwill.config import load_settings
from goodwill.db import Database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts servers on demand (``live_server(login_attempts_per_15_min=2)``); stops them afterwards."""
    servers: list[tuple[RunningServer, Database]] = []

    def start(**web: Any) -> str:
        db = Database(f"sqlite:///{tmp_path / f'goodwill-{len(servers)}.db'}")
        db.migrate()
        seed(db)
        settings = load_settings(
            database_url=db.url,
            secret_key="e2e-secret",
            web=web,
            business={"name": "Maison Lumière", "timezone": "Europe/Paris", "currency": "EUR"},
        )
        running = RunningServer(settings, db)
        servers.append((running, db))
        return running.url

    yield start
    for running, db in servers:
        running.stop()
        db.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium)", pytrace=False
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
