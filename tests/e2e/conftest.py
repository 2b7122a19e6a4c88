"""A real Uvicorn server on 127.0.0.1 over a seeded SQLite database, and Debian's Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from shop import seed

from goodwill.config import load_settings
from goodwill.db import Database
from goodwill.web.app import create_app

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Starts servers on demand (``live_server(login_attempts_per_15_min=2)``); stops them afterwards."""
    servers: list[tuple[uvicorn.Server, threading.Thread, Database]] = []

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
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, db), host="127.0.0.1", port=port, log_level="warning", access_log=False
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(200):  # bounded wait for the socket to listen
            if server.started:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the test server did not start within 10 seconds")
        servers.append((server, thread, db))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread, db in servers:
        server.should_exit = True
        thread.join(timeout=10)
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
