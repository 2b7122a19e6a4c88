"""CPU and SQL statements per request of each load-bench kind, in one process, no network.

    .venv/bin/python bench/request_cost.py goodwill_load_1a2b3c4d               # 300 of each kind
    .venv/bin/python bench/request_cost.py goodwill_load_1a2b3c4d --kinds person,today -n 1000

On a database kept by ``bench/load_bench.py`` (``--keep``, ``--build-only``), with the same
credentials, rewards and id files as its runs (``load_bench.prepare``): the app is built in this
process and driven through Starlette's TestClient, 10 unmeasured requests then ``-n`` measured
ones per kind (person page, Today page, event ingestion, redemption, as in the load bench). Prints,
per kind, the process's CPU per request (the app and the test client together: the client and its
thread hand-offs cost about 4.5 ms a request, what a 404 costs through it), the wall time and the
statements per request. No concurrency and no server: it shows what one request costs, to compare
before and after a change, back to back on the same machine.
Under py-spy (``py-spy record -- .venv/bin/python bench/request_cost.py ...``) it gives a profile
of the requests alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event
from starlette.testclient import TestClient

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("load_bench", HERE / "load_bench.py")
assert spec is not None and spec.loader is not None
load_bench = importlib.util.module_from_spec(spec)
sys.modules["load_bench"] = load_bench
spec.loader.exec_module(load_bench)

KINDS = ("person", "today", "ingest", "redeem")
EVENT_KINDS = ("purchase", "purchase", "purchase", "visit", "visit", "question", "praise", "review")


def main() -> None:
    from goodwill.web.app import create_app

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("database", help="a database kept by bench/load_bench.py (goodwill_load_*)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, of " + ", ".join(KINDS))
    parser.add_argument("-n", type=int, default=300, help="measured requests per kind")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    kinds = [kind for kind in args.kinds.split(",") if kind]
    if unknown := set(kinds) - set(KINDS):
        raise SystemExit(f"unknown kinds: {', '.join(sorted(unknown))}")
    url = load_bench.sqlalchemy_url(args.pg_admin, args.database)
    work = Path(tempfile.mkdtemp(prefix="goodwill-cost-"))
    creds = load_bench.prepare(url, work, samples=2000)
    people = [int(x) for x in (work / "people.txt").read_text().split()]
    members = [int(x) for x in (work / "members.txt").read_text().split()]
    app = create_app(load_bench.bench_settings(url))
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(app.state.database.engine, "before_cursor_execute", count)
    client = TestClient(app, base_url="https://testserver")
    client.cookies.set("goodwill_session", creds["cookie"])
    bearer = {"Authorization": "Bearer " + creds["token"]}
    run = uuid.uuid4().hex[:8]

    def request(kind: str, n: int) -> Any:
        if kind == "person":
            return client.get(f"/people/{random.choice(people)}")
        if kind == "today":
            return client.get("/today")
        if kind == "ingest":
            chosen = random.choice(EVENT_KINDS)
            body: dict[str, Any] = {
                "person_id": random.choice(people),
                "kind": chosen,
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                "source_id": f"cost-{run}-{n}",
            }
            if chosen == "purchase":
                body["amount"] = "12.50"
            if chosen == "review":
                body["text"] = "5/5 lovely tea"
            return client.post("/api/v1/events", json=body, headers=bearer)
        return client.post(
            "/api/v1/loyalty/redemptions",
            json={"person_id": random.choice(members), "reward_id": random.choice(creds["rewards"])},
            headers=bearer | {"Idempotency-Key": f"cost-{run}-{n}"},
        )

    print(f"{args.database}: {args.n} requests of each kind, one process, no network", flush=True)
    for kind in kinds:
        for n in range(10):  # warm: compiled statements, templates, the pool
            answer = request(kind, -1 - n)
            assert answer.status_code < 300, (kind, answer.status_code, answer.text[:300])
        statements[0] = 0
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(args.n):
            answer = request(kind, n)
            assert answer.status_code < 300, (kind, answer.status_code, answer.text[:300])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"{kind:7} CPU {1000 * cpu / args.n:6.2f} ms  wall {1000 * wall / args.n:6.2f} ms  "
            f"statements {statements[0] / args.n:5.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
