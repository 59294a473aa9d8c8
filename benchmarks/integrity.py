"""What ``manage.py integrity_check`` costs on a large demo schema: wall time and the database's own load.

Run from the repository root::

    .venv/bin/python benchmarks/integrity.py                 # 1 000 000 order items on MariaDB
    .venv/bin/python benchmarks/integrity.py --rows 200000   # smaller, quicker

It starts a MariaDB of its own (``tests.harness``: a temp datadir, performance_schema on, a free port; stopped at
the end), migrates and seeds the demo shop there, and lets the server generate ``--rows`` order items (MariaDB's
``seq_1_to_N`` table) in one order. Then, for each configuration, it empties
``performance_schema.events_statements_summary_by_digest``, runs ``python -m demo_shop integrity_check --format
json`` as a deploy pipeline would (a fresh process each time, ``--rounds`` times) and reads back what the server
did for the shop's schema: statements, rows examined, rows sent and server time, per check from the statements'
digests. It prints Markdown tables:

- every check with the default settings (foreign-key ranges of 100 000 rows, a 30 s budget);
- the foreign_keys check alone with ranges of 10 000, 100 000 and 1 000 000 rows;
- the foreign_keys check with a budget of 0.5 s: how many runs (``--state-file``) a full cycle takes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tests.harness.mariadb import MariaDB, start_mariadb  # noqa: E402

PASSWORD = "benchmark-probe-password"


def manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo_shop", *args],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url, "DEMO_PROBE_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=3600,
    )


def prepare(server: MariaDB, rows: int) -> tuple[str, str]:
    url = server.create_database("bench_shop", "bench_shop", "bench-password")
    for args in (("migrate", "--no-input", "-v0"), ("seed_shop",)):
        result = manage(url, *args)
        if result.returncode:
            raise SystemExit(f"demo_shop {' '.join(args)} failed:\n{result.stderr}")
    connection = server.connect(database="bench_shop")
    cursor = connection.cursor()
    cursor.execute("SELECT id FROM auth_user WHERE username = 'probe'")
    (user,) = cursor.fetchone()
    cursor.execute("INSERT INTO shop_order (user_id, total, created_at) VALUES (%s, 0, NOW())", (user,))
    order = cursor.lastrowid
    cursor.execute("SELECT MIN(id) FROM shop_product")
    (first,) = cursor.fetchone()
    started = time.perf_counter()
    done = 0
    while done < rows:  # in chunks, so the undo log stays small
        chunk = min(200_000, rows - done)
        cursor.execute(
            "INSERT INTO shop_orderitem (order_id, product_id, product_name, quantity, unit_price) "
            f"SELECT %s, {first} + MOD(seq, 32), 'generated', 1, 1.00 FROM seq_1_to_{chunk}",
            (order,),
        )
        done += chunk
    cursor.execute("ANALYZE TABLE shop_orderitem")
    cursor.fetchall()
    connection.close()
    print(f"generated {rows} order items in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return url, "bench_shop"


def server_load(server: MariaDB, schema: str) -> dict[str, dict[str, float]]:
    """Per check (from the statements' digests): statements, rows examined and sent, server seconds."""
    rows = server.query(
        "SELECT DIGEST_TEXT, COUNT_STAR, SUM_ROWS_EXAMINED, SUM_ROWS_SENT, SUM_TIMER_WAIT "
        "FROM performance_schema.events_statements_summary_by_digest WHERE SCHEMA_NAME = %s",
        (schema,),
    )
    load: dict[str, dict[str, float]] = {}
    for digest, count, examined, sent, timer in rows:
        kind = classify(str(digest or ""))
        entry = load.setdefault(kind, {"statements": 0, "rows_examined": 0, "rows_sent": 0, "seconds": 0.0})
        entry["statements"] += int(count)
        entry["rows_examined"] += int(examined)
        entry["rows_sent"] += int(sent)
        entry["seconds"] += int(timer) / 1e12  # picoseconds
    return load


def classify(digest: str) -> str:
    text = digest.upper()
    if "LEFT JOIN" in text and "IS NULL" in text:
        return "foreign_keys: anti-joins"
    if "ORDER BY" in text and "OFFSET" in text:
        return "foreign_keys: range bounds"
    if "DJANGO_MIGRATIONS" in text:
        return "migrations"
    if "INFORMATION_SCHEMA" in text or "SHOW " in text or "LIMIT ?" in text:
        return "schema: introspection"
    if "@@" in text:
        return "connections"
    return "other"


def reset(server: MariaDB) -> None:
    server.query("TRUNCATE TABLE performance_schema.events_statements_summary_by_digest")


def run(url: str, *args: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = manage(url, "integrity_check", "--format", "json", *args)
    wall = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"integrity_check failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return wall, json.loads(result.stdout)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def part_all_checks(server: MariaDB, url: str, schema: str, rounds: int) -> None:
    walls, per_check, loads = [], {}, []
    for _ in range(rounds):
        reset(server)
        wall, report = run(url)
        walls.append(wall)
        for result in report["results"]:
            per_check.setdefault(result["check"], []).append(result["duration_seconds"])
        loads.append(server_load(server, schema))
    print(f"\nAll four checks, default settings: wall time of the command {statistics.median(walls):.2f} s median of "
          f"{rounds} (min {min(walls):.2f} s, process start and Django setup included)\n")  # fmt: skip
    print(table(["check", "median s", "min s"],
                [[name, f"{statistics.median(v):.3f}", f"{min(v):.3f}"] for name, v in per_check.items()]))  # fmt: skip
    load = loads[-1]
    print("\nDatabase load of one run (performance_schema, the shop's schema):\n")
    print(table(["statements of", "statements", "rows examined", "rows sent", "server s"],
                [[kind, str(int(v["statements"])), str(int(v["rows_examined"])), str(int(v["rows_sent"])),
                  f"{v['seconds']:.3f}"] for kind, v in sorted(load.items())]))  # fmt: skip


def part_batches(server: MariaDB, url: str, schema: str, rounds: int, sizes: list[int]) -> None:
    rows = []
    for size in sizes:
        durations, statements, examined = [], 0, 0
        for _ in range(rounds):
            reset(server)
            _, report = run(url, "--check", "foreign_keys", "--batch-rows", str(size), "--budget", "600")
            durations.append(report["results"][0]["duration_seconds"])
            load = server_load(server, schema)
            statements = int(sum(v["statements"] for k, v in load.items() if k.startswith("foreign_keys")))
            examined = int(sum(v["rows_examined"] for k, v in load.items() if k.startswith("foreign_keys")))
        rows.append([f"{size:,}", f"{statistics.median(durations):.3f}", f"{min(durations):.3f}", str(statements),
                     f"{examined:,}"])  # fmt: skip
    print("\nforeign_keys alone, by range size (one run covers every relation):\n")
    print(table(["rows per anti-join", "median s", "min s", "statements", "rows examined"], rows))


def part_budget(url: str, budget: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.json"
        durations: list[float] = []
        while len(durations) < 500:
            _, report = run(url, "--check", "foreign_keys", "--budget", str(budget), "--state-file", str(state))
            result = report["results"][0]
            durations.append(result["duration_seconds"])
            if result["status"] == "ok":
                break
        runs = len(durations)
    print(f"\nforeign_keys with a {budget:g} s budget: a full cycle took {runs} runs; each run "
          f"{statistics.median(durations):.3f} s median, {max(durations):.3f} s at most\n")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="order items to generate (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per configuration (default: %(default)s)")
    parser.add_argument("--batches", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--budget", type=float, default=0.5, help="budget of the across-runs measurement")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (MariaDB's datadir and log)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    workdir = Path(tempfile.mkdtemp(prefix="integrity-bench-"))
    server = start_mariadb(workdir / "mariadb")
    try:
        (version,) = server.query("SELECT VERSION()")[0]
        print(f"MariaDB {version}, {args.rows:,} order items")
        url, schema = prepare(server, args.rows)
        part_all_checks(server, url, schema, args.rounds)
        part_batches(server, url, schema, args.rounds, args.batches)
        part_budget(url, args.budget)
    finally:
        server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
