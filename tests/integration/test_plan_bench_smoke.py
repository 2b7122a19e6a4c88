"""The planner benchmark still runs end to end: tiny data, SQLite, no timing asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "plan_bench.py"


@pytest.mark.slow
def test_plan_bench_runs_on_tiny_data(tmp_path: Path) -> None:
    command = [sys.executable, str(BENCH), "--people", "2000", "--repeat", "1", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^ratio make_plan / floor: \d+(\.\d+)?x", done.stdout, re.MULTILINE), done.stdout
    # The generated shop gives the planner work of every kind it gathers.
    gathered = re.search(r"ids gathered ([\d,]+) \(recent ([\d,]+), milestones ([\d,]+)", done.stdout)
    assert gathered is not None, done.stdout
    assert all(int(n.replace(",", "")) > 0 for n in gathered.groups())
    planned = re.search(r"candidates ([\d,]+), items ([\d,]+)", done.stdout)
    assert planned is not None and int(planned.group(2).replace(",", "")) > 0, done.stdout
    # The SQLite file is cached for the next run, keyed by size and seed.
    assert list(tmp_path.glob("plan-2000-*.db"))
