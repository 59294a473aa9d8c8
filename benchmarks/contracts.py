"""One contract sweep of the demo shop next to ``schemathesis run`` on the same document and server.

Run from the repository root::

    .venv/bin/python benchmarks/contracts.py [--rounds 3]

It starts the demo shop (gunicorn, SQLite, ``tests.harness.start_shop``) and, alternating over rounds, runs:

* ``ours, cold``: ``python -m exporter contract`` in a fresh process with the shop's shipped ``contracts:``
  section (synthetic/workflows/demo_shop.yml): the document fetch, the setup workflows (``login``,
  ``product-fetch``), the generation of invalid requests and the sweep;
* ``ours, warm``: a second ``run_sweep`` in one process, as the exporter's later scheduled sweeps are (the
  invalid requests generated once per document version are kept);
* ``schemathesis``: ``st run`` on the same document URL and server with the comparable checks
  (``not_a_server_error``, ``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``, ``ignored_auth``, ``negative_data_rejection``), the probe user's JWT as
  ``Authorization``, one worker, ``--max-examples 3`` (our ``negative_examples``), and once with its defaults.

Reported per configuration: requests the shop received (its own request log lines, so every request counts:
document, logins, checks), wall time, CPU seconds of the tool's process (``getrusage`` of the child, or
``process_time`` in process), and what it reported as failing on the healthy shop. schemathesis writes (it sends
valid bodies to POST /api/cart/items/ and /api/checkout/); ours never does, so the shop it measures drifts only
under schemathesis. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "ignored_auth,negative_data_rejection")  # fmt: skip


def request_lines(log: Path) -> int:
    """The shop's request log lines so far (one per request it served)."""
    return log.read_text(errors="replace").count('"logger": "django_integration.request"')


def child(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``command`` in ``cwd`` (schemathesis and Hypothesis write their caches there: the benchmark's temp dir,
    never the repository); wall seconds, CPU seconds of the child (user + system), the finished process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import requests

    from synthetic.config import load_config
    from synthetic.contracts.negative import NegativeData
    from synthetic.contracts.sweep import run_sweep
    from tests.harness import start_shop

    work = Path(tempfile.mkdtemp(prefix="contracts-bench-"))
    # Every sweep and schemathesis run logs in (a setup workflow, a token): the shop's login throttle (60/min)
    # would refuse the later rounds' setup, and a sweep whose setup failed sends almost nothing.
    shop = start_shop(work / "shop", f"sqlite:///{work / 'shop' / 'shop.sqlite3'}", {"DEMO_LOGIN_RATE": "100000/min"})
    log = shop.process.log_path
    env = {"SHOP_URL": shop.url, "DEMO_PROBE_PASSWORD": shop.env["DEMO_PROBE_PASSWORD"],
           "SHOP_DATABASE_URL": shop.env["DATABASE_URL"]}  # fmt: skip
    config_file = REPO / "synthetic" / "workflows" / "demo_shop.yml"
    document = f"{shop.url}/api/schema/?format=json"
    results: dict[str, list[dict[str, Any]]] = {}

    def record(name: str, wall: float, cpu: float, sent: int, failing: list[str]) -> None:
        results.setdefault(name, []).append({"wall": wall, "cpu": cpu, "requests": sent, "failing": failing})

    try:
        os.environ.update(env)
        config = load_config(config_file)
        target = config.targets["demo-shop"]
        for _ in range(args.rounds):
            # ours, cold: a fresh process, as `workflow-exporter contract` in CI
            out = work / "ours.json"
            before = request_lines(log)
            wall, cpu, done = child([sys.executable, "-m", "exporter", "contract", f"--config.file={config_file}",
                                     "--format", "json", "--output", str(out)], env, work)  # fmt: skip
            sweep = json.loads(out.read_text())
            assert done.returncode in (0, 1), done.stderr
            if sweep.get("error"):
                raise SystemExit(f"the sweep could not run, so it measures nothing: {sweep['error']}")
            failing = sorted(f"{r['check']} {r['operation']}" for r in sweep["results"] if r["status"] == "failed")
            record("ours, cold (`workflow-exporter contract`)", wall, cpu, request_lines(log) - before, failing)

            # ours, warm: the exporter's later sweeps (invalid requests kept per document)
            negative = NegativeData()
            run_sweep(target, config.workflows, negative=negative)
            before, cpu0, started = request_lines(log), time.process_time(), time.perf_counter()
            result = run_sweep(target, config.workflows, negative=negative)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
            if result.error:
                raise SystemExit(f"the sweep could not run, so it measures nothing: {result.error}")
            record("ours, warm (a scheduled sweep)", wall, cpu, request_lines(log) - before,
                   sorted(f"{r.check} {r.operation}" for r in result.failures))  # fmt: skip

            token = requests.post(
                f"{shop.url}/api/auth/token/",
                timeout=10,
                json={"username": "probe", "password": env["DEMO_PROBE_PASSWORD"]},
            ).json()["access"]
            for name, extra in (("schemathesis, `--max-examples 3`", ["--max-examples", "3"]),
                                ("schemathesis, its defaults", [])):  # fmt: skip
                report = work / "st.json"
                before = request_lines(log)
                wall, cpu, done = child([str(Path(sys.executable).parent / "st"), "run", document, "--url", shop.url,
                                         "-c", CHECKS, "--workers", "1", "--seed", "1", "--generation-database",
                                         "none", "-H", f"Authorization: Bearer {token}", "--no-color", "--report",
                                         "json", "--report-json-path", str(report), *extra], env, work)  # fmt: skip
                st = json.loads(report.read_text())
                failing = sorted(f"{f['code']} {op if isinstance(op, str) else op.get('label', op)}"
                                 for f in st["failures"] for op in f["operations"])  # fmt: skip
                record(name, wall, cpu, request_lines(log) - before, failing)
    finally:
        shop.stop()

    print(f"Demo shop ({shop.url.rsplit(':', 1)[0]}, gunicorn 1 worker x 8 threads, SQLite), {args.rounds} rounds, "
          "median per sweep:\n")  # fmt: skip
    print("| tool | requests | wall | CPU of the tool | failing on the healthy shop |")
    print("|---|---:|---:|---:|---|")
    for name, rows in results.items():
        failing = rows[-1]["failing"]
        shown = f"{len(failing)}: " + ", ".join(failing) if failing else "0"
        print(f"| {name} | {statistics.median(r['requests'] for r in rows):.0f} | "
              f"{statistics.median(r['wall'] for r in rows):.2f} s | {statistics.median(r['cpu'] for r in rows):.2f} s "
              f"| {shown} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
