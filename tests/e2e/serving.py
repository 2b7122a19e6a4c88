"""A real Uvicorn server on a free loopback port, in a thread: shared by the browser tests' fixtures."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from goodwill.config import Settings
from goodwill.db import Database
from goodwill.web.app import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningServer:
    def __init__(self, settings: Settings, db: Database) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, db), host="127.0.0.1", port=port, log_level="warning", access_log=False
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):  # bounded wait for the socket to listen
            if self.server.started:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the test server did not start within 10 seconds")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
