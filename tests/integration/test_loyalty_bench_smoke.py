"""The loyalty benchmark still runs end to end on tiny data, and its figures agree with each other.

No timing is asserted: only that every part ran, checked what it claims to check, and reported
numbers that are consistent (counts match, ratios are the quotients of the times they divide).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from goodwill.config import test_postgres_url as postgres_admin_url

BENCH = Path(__file__).resolve().parents[2] / "bench" / "loyalty_bench.py"
EVENTS = 3000


def run_bench(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(BENCH), "--pg-admin", postgres_admin_url(), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def check_award(award: dict[str, Any]) -> None:
    assert award["events"] == award["purchases"] == EVENTS
    assert award["people"] == EVENTS // 10
    verified, floor = award["verified"], award["floor"]
    # Exactly one earn per purchase, every balance equal to its entries, ledger.check clean.
    assert award["consistent"] is True
    assert verified["earned_entries"] == verified["distinct_events"] == EVENTS
    assert verified["purchases_without_earn"] == 0
    assert verified["accounts"] == award["buyers"] > 0
    assert verified["balance_total"] == verified["issued_total"] == verified["points"]
    assert verified["check"] is not None and verified["check"]["problems"] == 0
    # Tier multipliers only ever add points to the plain 1 point a whole currency unit.
    assert verified["points"] >= award["unit_points"] > 0
    # The floor wrote the same rows.
    assert floor["entries_rows"] == EVENTS
    assert floor["accounts_rows"] == award["buyers"]
    assert floor["points"] == award["unit_points"]
    assert math.isclose(award["floor_seconds"], floor["entries_seconds"] + floor["accounts_seconds"])
    assert math.isclose(award["ratio"], award["seconds"] / award["floor_seconds"])
    assert math.isclose(award["ratio_entries"], award["seconds"] / floor["entries_seconds"])
    assert math.isclose(award["purchases_per_second"], EVENTS / award["seconds"])
    assert award["peak_bytes"] > 0


def check_clients(run: dict[str, Any]) -> None:
    assert run["errors"] == {}, run["error_samples"]
    assert run["ok"] > 0
    assert math.isclose(run["per_second"], run["ok"] / run["elapsed"])
    assert 0 < run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"] <= run["max_ms"]
    assert run["statements_per_op"] >= 2  # at least the statement and the commit


def check_redeem(redeem: dict[str, Any]) -> None:
    for variant in ("uniform", "hot"):
        figures = redeem[variant]
        check_clients(figures["reference"])
        check_clients(figures["redeem"])
        assert math.isclose(
            figures["ratio"], figures["reference"]["per_second"] / figures["redeem"]["per_second"]
        )
        verified = figures["verified"]
        # Every success was stored once, stock and points moved together, the ledger adds up.
        assert verified["stored"] == figures["redeem"]["ok"] + figures["redeem"]["warm_ok"]
        assert verified["stored_matches"] is True
        assert verified["stock_consistent"] is True
        assert verified["points_consistent"] is True
        assert verified["check_problems"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_loyalty_bench_runs_on_tiny_data(backend: str, tmp_path: Path) -> None:
    arguments = ["--backend", backend, "--events", str(EVENTS), "--json", "--workdir", str(tmp_path)]
    if backend == "postgresql":
        arguments += ["--seconds", "1", "--clients", "4", "--processes", "2", "--accounts", "200"]
    done = run_bench(*arguments)

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["backend"] == backend
    check_award(result["award"])
    if backend == "postgresql":
        check_redeem(result["redeem"])
    else:
        assert "redeem" not in result
        assert "runs on PostgreSQL only; skipped" in done.stderr
    assert "ratio award / floor:" in done.stderr
    # The scratch SQLite file is removed (PostgreSQL's scratch database is dropped the same way).
    assert list(tmp_path.iterdir()) == []


def test_redemptions_are_refused_on_sqlite() -> None:
    done = run_bench("--backend", "sqlite", "--part", "redeem")

    assert done.returncode == 2
    assert "runs on PostgreSQL only" in done.stderr
