"""How fast is ``goodwill import orders`` next to the fastest way to load the same file?

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--backend sqlite|postgresql|both]

1. Generates a realistic Shopify orders export with N line-item rows (all 79 columns, 1-6 items
   per order, repeat customers, ~3% cancelled and ~6% partly refunded orders, a few typos).
2. For each backend, times (a) the floor: the raw bulk load of that file into a staging table
   with one text column per CSV column (SQLite: csv.reader + executemany; PostgreSQL: COPY), and
   (b) the real import (``import_orders`` in a transaction) into a freshly migrated database.
   Each step runs in its own child process so its peak memory (``ru_maxrss``) is its own.
3. Prints seconds, rows/s, the ratio (b)/(a) and the peak memory. Goal: ratio <= 3, memory < 1 GiB.
   (b) ends with the relationship bank's refresh of everyone imported; its share is printed too.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import random
import resource
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HEADER_LINE = (  # exactly as Shopify writes it
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,"
    "Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,"
    "Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,"
    "Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,"
    "Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,"
    "Cancelled at,"
    "Payment Method,Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,"
    "Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,"
    "Tax 3 Value,Tax 4 Name,Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,"
    "Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,"
    "Payment References"
)
HEADER = HEADER_LINE.split(",")
COL = {name: i for i, name in enumerate(HEADER)}
FIRST = ["Zoë", "José", "Ana", "Pierre", "Wang", "Lena", "Sam", "Aiko", "Ngozi", "Oskar", "Maëlle", "Tomás"]
LAST = ["Martin", "Álvarez", "O'Neil", "Dupont", "Fang", "Berg", "Lee", "Sato", "Okafor", "Nyström", "Brandt"]
PRODUCTS = [
    ("Blue teapot", "TEA-BLUE", 2990), ("Green cup", "CUP-GREEN", 800), ("Honey jar", "HONEY-250", 1250),
    ("Sencha 100g", "SEN-100", 1490), ("Earl Grey 250g", "EG-250", 1890), ("Tea towel", "TOWEL", 1200),
    ("Bamboo whisk", "WHISK", 2400), ("Gift card", "GIFT", 2500), ("Porcelain set, 6 cups", "PORC-6", 8900),
]  # fmt: skip


def generate(path: Path, rows: int, seed: int = 7) -> int:
    """Write a Shopify-style export with exactly ``rows`` line-item rows; returns the order count."""
    rng = random.Random(seed)
    customers = max(rows // 8, 10)  # ~3 orders per customer: plenty of repeat buyers
    start = datetime(2023, 1, 1, tzinfo=UTC)
    written = orders = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        while written < rows:
            orders += 1
            items = min(rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6)), rows - written)
            customer = int(rng.paretovariate(1.2) * 7919) % customers
            first, last = FIRST[customer % len(FIRST)], LAST[customer // len(FIRST) % len(LAST)]
            email = (
                f"{first.lower()}.{customer}@example.com"
                if customer % 97
                else f"{first}.{customer}@Example.COM"
            )
            placed = start + timedelta(seconds=rng.randrange(0, 2 * 365 * 86400))
            offset = "+0200" if 3 < placed.month < 11 else "+0100"
            local = (placed + timedelta(hours=2 if offset == "+0200" else 1)).strftime("%Y-%m-%d %H:%M:%S")
            chosen = [PRODUCTS[rng.randrange(len(PRODUCTS))] for _ in range(items)]
            quantities = [rng.choice((1, 1, 1, 2, 3)) for _ in chosen]
            total = sum(p[2] * q for p, q in zip(chosen, quantities, strict=True)) + 490
            cancelled = rng.random() < 0.03
            refunded = 0 if cancelled or rng.random() >= 0.06 else chosen[0][2]
            for index, ((name, sku, price), quantity) in enumerate(zip(chosen, quantities, strict=True)):
                row = [""] * len(HEADER)
                row[COL["Name"]] = f"#{1000 + orders}"
                row[COL["Lineitem quantity"]] = str(quantity)
                row[COL["Lineitem name"]] = name
                row[COL["Lineitem price"]] = f"{price / 100:.2f}"
                row[COL["Lineitem sku"]] = sku
                row[COL["Lineitem requires shipping"]] = row[COL["Lineitem taxable"]] = "true"
                row[COL["Lineitem fulfillment status"]] = "fulfilled"
                row[COL["Vendor"]] = "Goodwill Tea Co"
                row[COL["Lineitem discount"]] = "0.00"
                if index == 0:
                    _order_fields(
                        row,
                        rng,
                        customer,
                        f"{first} {last}",
                        email,
                        local,
                        offset,
                        total,
                        cancelled,
                        refunded,
                    )
                writer.writerow(row)
                written += 1
    return orders


def _order_fields(row: list[str], rng: random.Random, customer: int, name: str, email: str, local: str,
                  offset: str, total: int, cancelled: bool, refunded: int) -> None:  # fmt: skip
    created = f"{local} {offset}"
    values = {
        "Email": email,
        "Financial Status": "voided" if cancelled else ("partially_refunded" if refunded else "paid"),
        "Paid at": created, "Fulfillment Status": "fulfilled", "Fulfilled at": created,
        "Accepts Marketing": "yes" if customer % 3 else "no", "Currency": "EUR",
        "Subtotal": f"{(total - 490) / 100:.2f}", "Shipping": "4.90", "Taxes": f"{total * 0.2 / 120:.2f}",
        "Total": f"{total / 100:.2f}", "Discount Amount": "0.00", "Shipping Method": "Colissimo",
        "Created at": created, "Billing Name": name, "Billing Street": f"{customer % 200} rue de la Paix",
        "Billing Address1": f"{customer % 200} rue de la Paix", "Billing City": "Paris",
        "Billing Zip": f"'{75000 + customer % 20:05d}", "Billing Province": "", "Billing Country": "FR",
        "Billing Phone": f"+33 6 {customer % 100:02d} {customer % 89:02d} 00 00", "Shipping Name": name,
        "Shipping Address1": f"{customer % 200} rue de la Paix", "Shipping City": "Paris",
        "Shipping Zip": f"'{75000 + customer % 20:05d}", "Shipping Country": "FR",
        "Notes": "Gift wrap, please" if rng.random() < 0.05 else "",
        "Cancelled at": created if cancelled else "", "Payment Method": "Shopify Payments",
        "Refunded Amount": f"{refunded / 100:.2f}", "Outstanding Balance": "0.00",
        "Id": str(5_000_000_000 + rng.randrange(10**9)), "Risk Level": "Low", "Source": "web",
        "Tax 1 Name": "FR TVA 20%", "Tax 1 Value": f"{total * 0.2 / 120:.2f}",
        "Payment ID": uuid.UUID(int=rng.getrandbits(128)).hex[:20],
    }  # fmt: skip
    for key, value in values.items():
        row[COL[key]] = value


# --- the floor: raw bulk loads -------------------------------------------------------------------


def floor_sqlite(path: Path, work: Path) -> None:
    conn = sqlite3.connect(work / "floor.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    columns = ", ".join(f"c{i} TEXT" for i in range(len(HEADER)))
    conn.execute(f"CREATE TABLE staging ({columns})")
    marks = ", ".join("?" for _ in HEADER)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        conn.executemany(f"INSERT INTO staging VALUES ({marks})", reader)
    conn.commit()
    conn.close()


def floor_postgresql(path: Path, url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
        conn.execute(f"CREATE TABLE staging ({columns})")
        copy_sql = "COPY staging FROM STDIN (FORMAT csv, HEADER true)"
        with conn.cursor() as cur, cur.copy(copy_sql) as copy, path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        conn.commit()


# --- the real import -----------------------------------------------------------------------------


def goodwill_import(path: Path, url: str) -> dict[str, Any]:
    from goodwill.config import Business
    from goodwill.db import Database
    from goodwill.events.importers import service

    # The import ends by refreshing the relationship bank for everyone it touched; time that
    # part on its own too, so the two costs can be told apart.
    bank = {"seconds": 0.0}
    refresh_people = vars(service)["refresh_people"]

    def timed_refresh(**kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return refresh_people(**kwargs)
        finally:
            bank["seconds"] += time.perf_counter() - began

    vars(service)["refresh_people"] = timed_refresh
    db = Database(url)
    db.migrate()
    began = time.perf_counter()
    with db.transaction() as session:
        report = service.import_orders(
            session=session, path=path, business=Business(timezone="Europe/Paris", currency="EUR")
        )
    return {
        "seconds": time.perf_counter() - began,
        "bank_seconds": bank["seconds"],
        "report": report.to_json() | {"rejected": len(report.rejected)},
    }


def _child(task: str, path: str, target: str, queue: Any) -> None:
    began = time.perf_counter()
    extra: dict[str, Any] = {}
    if task == "floor_sqlite":
        floor_sqlite(Path(path), Path(target))
    elif task == "floor_postgresql":
        floor_postgresql(Path(path), target)
    else:
        extra = goodwill_import(Path(path), target)
    seconds = extra.pop("seconds", time.perf_counter() - began)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"seconds": seconds, "peak_mib": peak_kib / 1024, **extra})


def run_in_child(task: str, path: Path, target: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(task, str(path), target, queue))
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    return result


def _fresh_postgres(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"goodwill_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def _drop_postgres(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_backend(backend: str, path: Path, work: Path, rows: int) -> dict[str, Any]:
    if backend == "sqlite":
        floor = run_in_child("floor_sqlite", path, str(work))
        real = run_in_child("import", path, f"sqlite:///{work / 'goodwill.db'}")
        return {"backend": backend, "floor": floor, "import": real}
    from goodwill.config import test_postgres_url

    admin = test_postgres_url()
    names = []
    try:
        name, url = _fresh_postgres(admin)
        names.append(name)
        floor = run_in_child("floor_postgresql", path, url)
        name, url = _fresh_postgres(admin)
        names.append(name)
        real = run_in_child("import", path, "postgresql+psycopg://" + url.split("://", 1)[1])
    finally:
        for name in names:
            _drop_postgres(admin, name)
    return {"backend": backend, "floor": floor, "import": real}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    with tempfile.TemporaryDirectory(prefix="goodwill-bench-") as tmp:
        work = Path(tmp)
        path = work / "orders_export.csv"
        began = time.perf_counter()
        orders = generate(path, args.rows, args.seed)
        size = path.stat().st_size / 2**20
        took = time.perf_counter() - began
        print(f"generated {args.rows:,} rows ({orders:,} orders, {size:,.0f} MiB) in {took:.1f} s")
        results = [bench_backend(b, path, work, args.rows) for b in backends]

    print()
    print(f"{'backend':<11}{'step':<22}{'seconds':>9}{'rows/s':>11}{'ratio':>8}{'peak MiB':>10}")
    for result in results:
        floor, real = result["floor"], result["import"]
        for label, step in (("floor (raw load)", floor), ("goodwill import", real)):
            ratio = step["seconds"] / floor["seconds"]
            speed = args.rows / step["seconds"]
            print(
                f"{result['backend']:<11}{label:<22}{step['seconds']:>9.1f}{speed:>11,.0f}"
                f"{ratio:>7.2f}x{step['peak_mib']:>10.0f}"
            )
        bank = real["bank_seconds"]
        alone = real["seconds"] - bank
        print(
            f"{'':<11}{'  of which bank':<22}{bank:>9.1f}{'':>11}{bank / floor['seconds']:>7.2f}x\n"
            f"{'':<11}{'  import w/o bank':<22}{alone:>9.1f}{args.rows / alone:>11,.0f}"
            f"{alone / floor['seconds']:>7.2f}x"
        )
        print(f"{'':<11}report: {real['report']}")


if __name__ == "__main__":
    main()
