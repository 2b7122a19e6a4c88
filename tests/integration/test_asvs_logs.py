"""ASVS V7.1.1 / V7.1.2: no credentials, tokens or personal data in the logs.

A realistic day runs with every logger (the app's, Uvicorn's, httpx's, SQLAlchemy's, the root) turned up
to DEBUG and captured: a real Uvicorn server started with ``goodwill serve``'s own options, logins
right and wrong, API calls with a bearer token, a person with a distinctive name, email and phone,
customer links followed, the worker delivering by SMTP and SMS, and a CSV import. None of the secret
or personal values may appear in anything logged.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from delivery_servers import SmsProvider, SmtpSink
from test_outbox_worker import NOON, add_person, queue
from test_outbox_worker import make_settings as worker_settings
from test_web_client import add_user, form_token, make_settings, token_for
from typer.testing import CliRunner

from goodwill.cli import app as cli_app
from goodwill.db import Database
from goodwill.outbox.worker import Worker
from goodwill.people.unsubscribe import make_token
from goodwill.web.api import API_PREFIX
from goodwill.web.app import SERVER_OPTIONS, create_app
from goodwill.web.auth import SESSION_COOKIE

PASSWORD = "canary-pass-phrase-4417"
WRONG = "canary-wrong-guess-9932"
NAME = "Zebulon Quixotic-Canary"
EMAIL = "zebulon.canary@canary-mail.test"
PHONE = "+447700900417"
FAILED_LOGIN = "ghost.canary@canary-mail.test"
IMPORTED = ("Philippa Importcanary", "philippa.importcanary@canary-mail.test", "+447700900418")


# Loggers left out, and why: "mail.log" is aiosmtpd, the test's own receiving SMTP server (it logs
# what it receives, as the customer's mail server would); "sqlalchemy.engine" is SQLAlchemy's SQL echo,
# a developer switch that prints statements with their values and rows and that nothing in Goodwill
# turns on (``goodwill serve`` sets only Uvicorn's levels); create_engine(hide_parameters=True) would
# keep values out of it too (reported for goodwill.db).
NOT_THE_APP = ("mail.log", "sqlalchemy.engine")


class Capture(logging.Handler):
    """Every record, formatted with its message, arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(NOT_THE_APP):
            return
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[Capture]:
    """Everything at DEBUG: the root, and the loggers Uvicorn keeps from propagating."""
    handler = Capture()
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "goodwill", "httpx", "httpcore", "sqlalchemy"]
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name in ("", "uvicorn", "uvicorn.access"):
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in ("", "uvicorn", "uvicorn.access"):
            logging.getLogger(name).removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(db: Database, captured: Capture) -> Iterator[str]:
    """The app under a real Uvicorn on loopback, with the options ``goodwill serve`` uses."""
    app = create_app(make_settings(db), db)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **SERVER_OPTIONS)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    assert running.started
    # With ``goodwill serve``'s options the access log is off: Uvicorn logs a request only when its
    # access logger has a handler of its own.
    access = logging.getLogger("uvicorn.access")
    assert not access.hasHandlers() and access.propagate is False
    # Now turn everything up and listen, the access log included, as an operator debugging might:
    # the app redacts what the access log would say (tokens in paths, search queries).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger("uvicorn").addHandler(captured)
    logging.getLogger("uvicorn.access").addHandler(captured)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@contextmanager
def quiet_test_client() -> Iterator[None]:
    """The test's own HTTP client (httpx, like the app's SMS transport) logs the URLs it calls, links
    included: silenced while the test is the caller; the worker's httpx calls are still captured."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, saved, strict=True):
            logger.setLevel(level)


def login(client: httpx.Client, email: str, password: str) -> int:
    form = client.get("/login")
    data = {"email": email, "password": password, "csrf_token": form_token(form.text)}
    return client.post("/login", data=data).status_code


def web_day(db: Database, base: str) -> list[str]:
    """The HTTP part of the day; the secrets it handled, for the search."""
    add_user(db, "owner@shop.test", "admin", name="Olga Owner")
    with db.transaction() as s:
        from goodwill.team.service import set_password

        set_password(session=s, email="owner@shop.test", password=PASSWORD)
    bearer = token_for(db, add_user(db, "machine@shop.test", "admin"))
    token = bearer["Authorization"].split()[1]
    secrets = [PASSWORD, WRONG, token, FAILED_LOGIN]
    with quiet_test_client(), httpx.Client(base_url=base, follow_redirects=False) as client:
        assert login(client, FAILED_LOGIN, WRONG) == 401
        assert login(client, "owner@shop.test", WRONG) == 401
        assert login(client, "owner@shop.test", PASSWORD) == 303
        secrets.append(client.cookies[SESSION_COOKIE])
        person = {"name": NAME, "email": EMAIL, "phone": PHONE}
        made = client.post(f"{API_PREFIX}/people", json=person, headers=bearer)
        assert made.status_code == 201, made.text
        person_id = made.json()["id"]
        assert client.get(f"{API_PREFIX}/people", params={"q": EMAIL}, headers=bearer).status_code == 200
        assert client.get(f"/people/{person_id}").status_code == 200
        bad = client.post(f"{API_PREFIX}/people", json={"name": NAME, "email": "not-an-email " + EMAIL})
        assert bad.status_code == 403  # no CSRF token: refused, and the body must not be logged
        link = client.post(f"{API_PREFIX}/loyalty/accounts/{person_id}/link", headers=bearer)
        assert link.status_code in {200, 201}, link.text
        loyalty_path = "/" + link.json()["url"].split("/", 3)[3]
        secrets.append(loyalty_path.rsplit("/", 1)[1])
        assert client.get(loyalty_path).status_code == 200
        assert client.get(loyalty_path + "x").status_code == 404
        unsubscribe = make_token("test-secret", person_id=person_id, channel="email", message_id=1)
        secrets.append(unsubscribe)
        assert client.get(f"/unsubscribe/{unsubscribe}").status_code == 200
        assert client.post(f"/unsubscribe/{unsubscribe}").status_code in {200, 303}
        assert client.get(f"/unsubscribe/{unsubscribe[:-3]}").status_code in {400, 404}
        assert client.get(f"/my/complaint/{unsubscribe}").status_code in {400, 404}
    return secrets


def worker_day(db: Database, smtp: SmtpSink, sms: SmsProvider) -> None:
    person = add_person(db, NAME, email=EMAIL, phone=PHONE)
    for channel, purpose in (("email", "appreciation"), ("sms", "service")):
        queue(db, person, channel, body=f"Thank you, {NAME}.", purpose=purpose)
    settings = worker_settings(db, smtp, sms)
    report = Worker(database=db, settings=settings, name="log-check", clock=lambda: NOON).run(once=True)
    assert report.sent >= 1 and report.sent + report.retried == 2, report


def import_day(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    name, email, phone = IMPORTED
    path.write_text(f"name,email,phone\n{name},{email},{phone}\n,{email}x,not a phone\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli_app, ["import", "people", str(path)], env={"GOODWILL_DATABASE_URL": db.url}
    )
    assert result.exit_code == 0, result.output


def test_a_day_of_work_logs_no_secret_and_no_personal_data(
    db: Database, server: str, captured: Capture, tmp_path: Path
) -> None:
    secrets = web_day(db, server)
    with SmtpSink() as smtp, SmsProvider() as sms:
        worker_day(db, smtp, sms)
    import_day(db, tmp_path)
    logged = "\n".join(captured.lines)
    # The capture works: the access log, the worker's HTTP client and the app did log.
    assert any(line.startswith("uvicorn.access") and "/my/loyalty/[token]" in line for line in captured.lines)
    assert any(
        line.startswith("uvicorn.access") and "/api/v1/people?[query]" in line for line in captured.lines
    )
    assert any(line.startswith("httpx") for line in captured.lines)
    values = [*secrets, NAME, EMAIL, PHONE, PHONE[1:], *IMPORTED, "Quixotic", "zebulon.canary"]
    leaks = {value: line for value in values for line in captured.lines if value in line}
    assert not leaks, "\n".join(f"{value!r} in: {line[:300]}" for value, line in leaks.items())
    assert "canary" not in logged.lower()
