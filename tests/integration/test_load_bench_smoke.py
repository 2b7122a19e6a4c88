"""The load benchmark still runs end to end on tiny data and its report adds up (no timing asserted).

Needs PostgreSQL (the benchmark's database) and Debian's ``wrk`` (the load generator).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from goodwill.config import test_postgres_url as postgres_url

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load_bench.py"
KINDS = {"person", "today", "ingest", "redeem"}


def admin_url() -> str:
    return postgres_url().rsplit("/", 1)[0] + "/postgres"


def check_report(report: dict[str, Any], *, clients: int, workers: int) -> None:
    """Every figure the benchmark prints must agree with the others and with the database."""
    kinds = {r["kind"]: r for r in report["kinds"]}
    assert set(kinds) == KINDS
    assert sum(r["connections"] for r in kinds.values()) == clients
    for kind, r in kinds.items():
        assert r["requests"] > 0, kind
        # wrk's own count of responses equals what the script's response hook counted.
        assert r["ok"] + r["non2xx"] == r["requests"], kind
        assert r["non2xx"] == 0 and r["codes"] == [], (kind, r["codes"])
        assert r["socket_errors"] == 0 and r["timeouts"] == 0, kind
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"], kind
        assert r["per_second"] == pytest.approx(r["requests"] / r["seconds"])
    overall = report["overall"]
    assert overall["requests"] == sum(r["requests"] for r in kinds.values())
    assert overall["non2xx"] == 0
    # What the database holds from this run: every acknowledged write, plus at most one in flight
    # per connection when wrk stopped counting.
    ingest, redeem = kinds["ingest"], kinds["redeem"]
    assert ingest["ok"] <= report["stored"]["events"] <= ingest["ok"] + ingest["connections"]
    assert redeem["ok"] <= report["stored"]["redemptions"] <= redeem["ok"] + redeem["connections"]
    reference = report["reference"]["static"]
    assert reference["requests"] > 0 and reference["non2xx"] == 0
    assert report["reference"]["bare_select"]["p50_ms"] > 0
    memory = report["memory"]
    assert memory["workers"] == workers  # each uvicorn worker was sampled
    assert memory["processes"] > workers  # and their parent
    assert memory["samples"] >= 2
    assert memory["start_mib"] > 0 and memory["max_mib"] >= max(memory["start_mib"], memory["end_mib"])
    assert report["plan_items_today"] > 0  # the Today page shows a real plan
    assert report["server_alive"]
    assert set(report["goals"]) == KINDS
    assert isinstance(report["all_goals_met"], bool)


def test_check_report_catches_an_inconsistent_report() -> None:
    """The checks above can fail: a report whose counts disagree is refused."""
    good = {"kind": "person", "connections": 1, "requests": 10, "ok": 10, "non2xx": 0, "codes": []}
    bad = good | {"ok": 9}
    report: dict[str, Any] = {"kinds": [bad] + [good | {"kind": k} for k in ("today", "ingest", "redeem")]}
    with pytest.raises(AssertionError):
        check_report(report, clients=4, workers=1)


@pytest.mark.slow
def test_load_bench_runs_on_tiny_data() -> None:
    assert shutil.which("wrk"), "the load benchmark needs Debian's wrk (apt-get install wrk)"
    command = [sys.executable, str(BENCH), "--people", "500", "--events", "5000", "--duration", "3",
               "--warmup", "2", "--clients", "4", "--workers", "2", "--solo", "1", "--pg-admin", admin_url(),
               "--json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)

    assert report["people"] == 500 and report["events"] == 5000
    assert report["build_seconds"] > 0 and "bank rebuild" in report["build_phases"]
    check_report(report, clients=4, workers=2)
    assert [r["kind"] for r in report["alone"]] == ["person", "today", "ingest", "redeem"]
    for alone in report["alone"]:
        assert alone["requests"] > 0 and alone["non2xx"] == 0, alone
        assert alone["server_ms_per_request"] > 0, alone
    assert "each kind alone afterwards" in done.stderr
    assert "all goals met:" in done.stderr  # the human-readable report went to stderr
    with psycopg.connect(admin_url()) as conn:  # not kept: the scratch database was dropped
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (report["database"],)).fetchone()
    assert left is None


@pytest.mark.slow
def test_request_cost_measures_every_kind_on_a_kept_database() -> None:
    """bench/request_cost.py on a tiny database kept by the load bench: a line per kind, each with
    a positive CPU figure and the statements a request (no timing asserted)."""
    build = [sys.executable, str(BENCH), "--people", "300", "--events", "3000", "--build-only",
             "--pg-admin", admin_url(), "--json"]  # fmt: skip
    built = subprocess.run(build, capture_output=True, text=True, timeout=900, check=False)
    assert built.returncode == 0, built.stderr[-4000:]
    name = json.loads(built.stdout)["database"]
    try:
        cost = [
            sys.executable,
            str(BENCH.parent / "request_cost.py"),
            name,
            "-n",
            "3",
            "--pg-admin",
            admin_url(),
        ]
        done = subprocess.run(cost, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-4000:]
        lines = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
        assert sorted(lines) == ["ingest", "person", "redeem", "today"], done.stdout
        for kind, fields in lines.items():
            assert float(fields[2]) > 0 and float(fields[-1]) >= 1, (kind, fields)
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
