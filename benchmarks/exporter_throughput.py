"""Throughput, CPU, scrape time and memory of the workflow exporter, next to blackbox_exporter.

Run from the repository root::

    .venv/bin/python benchmarks/exporter_throughput.py

Everything it needs it starts itself on 127.0.0.1 (free ports, a temp dir) and stops at the end; it prints
Markdown tables. Four measurements (``--only`` picks some):

1. ``probe``: a one-step ``http`` workflow through our ``/probe`` next to blackbox_exporter's ``http`` prober
   (``/probe?module=http_2xx&target=...``) against the same tiny target (a threaded Python HTTP server in its
   own process). Both exporters run as real processes (``python -m exporter`` and
   ``prometheus-blackbox-exporter``); a client in this process sends a fixed number of probes from a few
   threads (one ``requests.Session`` each), the exporters alternated over rounds. Reported: probes/s, client
   latency, and CPU seconds per probe of each process, read from ``/proc/<pid>/stat`` (utime + stime).
   ``ours, 4 pairs`` gives each client thread its own workflow: ``Exporter.probe`` serialises concurrent
   probes of one (workflow, target) pair (its ``min_interval`` lock), so that row shows the pair lock's effect.
   Two reference rows send the same load to each server's ``/-/healthy``: the cost of serving a request alone;
   a third sends it to waitress alone (``waitress.serve``, as many threads as the exporter's pool) answering a
   constant ``Healthy`` from a three-line WSGI app: the floor of the server itself, without the exporter.
   Our exporter logs as it does by default (one JSON line per run, to a file in the temp dir).
2. ``checkout``: the demo shop's ``checkout`` workflow (7 steps, one of them ``sql``) run back to back with
   ``synthetic.runner.run_workflow`` in 1, 2 and 4 threads against the demo shop (gunicorn, SQLite, started
   with ``tests.harness.start_shop``); each thread has its own shop user, and all share one
   ``OpenAPIDocuments`` as the exporter's runs do. The shop shares the machine's cores with the runner.
3. ``scrape``: ``/metrics`` scrape CPU at 100, 1000 and 10 000 (workflow, target) pairs x 10 steps
   (``--scrape-pairs``), each in fresh child processes: an in-process ``Exporter`` (scheduler not started) fed
   synthetic ``RunResult`` objects through ``WorkflowMetrics.record()``, then the OpenMetrics and text
   encodings, gzip and scrapes over HTTP through the exporter's server, timed in a steady state (half the pairs
   finish a run before each scrape). Each size is measured twice in the same run: ours (the cached exposition,
   exporter/exposition.py) and a bare prometheus_client registry holding the same samples (the same
   ``WorkflowMetrics`` built from prometheus_client's own classes, its encoders, its ``make_wsgi_app``); the
   sha256 of both expositions shows they are the same bytes. Printed with the ratio to the 0.3 s goal.
4. ``memory``: an in-process ``Exporter`` with one one-step workflow against the tiny target, in fresh child
   processes: RSS (``VmRSS``) after 1000 and after 10 000 ``run_scheduled()`` calls; a second child repeats
   it under ``tracemalloc`` for the traced Python heap.

``--profile`` instead prints a cProfile of our ``/probe`` path (the WSGI app called in-process, the target a
real server process), top functions by own and by cumulative time.

blackbox_exporter is the Debian package ``prometheus-blackbox-exporter``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

BLACKBOX = "prometheus-blackbox-exporter"
BLACKBOX_INSTALL = (
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-blackbox-exporter"
)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PARTS = ["probe", "checkout", "scrape", "memory"]
TARGET_BODY = b'{"ok": true}'


# ---------------------------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode} before it answered {url}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not answer {url} within {timeout:.0f} s")
        time.sleep(0.05)


def start_process(args: list[str], log: Path, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def proc_cpu(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants (gunicorn's master and worker)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            total += proc_cpu(current)
        todo.extend(parents.get(current, []))
    return total


def self_cpu() -> float:
    times = os.times()
    return times.user + times.system


def vm_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def blackbox_path() -> str | None:
    return shutil.which(BLACKBOX) or shutil.which(BLACKBOX, path="/usr/bin:/usr/sbin:/bin:/sbin")


def blackbox_version(path: str) -> str:
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if first else "unknown"


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="exporter-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------------------- the target


def serve_target(port: int) -> None:
    """The tiny target: any GET answers 200 with a 12-byte JSON body (HTTP/1.1, Content-Length)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(TARGET_BODY)))
            self.end_headers()
            self.wfile.write(TARGET_BODY)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    server.serve_forever()


def start_target(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = start_process(
        [sys.executable, str(Path(__file__).resolve()), "--serve-target", str(port)], tmp / "target.log"
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/ok", process, "the target server")
    return process, url


# ------------------------------------------------------------------------------------------ 1. probe


def ours_config(target_url: str, workflows: list[str]) -> str:
    lines = ["targets:", "  local:", f"    base_url: {target_url}", "workflows:"]
    for name in workflows:
        lines += [
            f"  {name}:",
            "    targets: [local]",
            "    interval: 1h",  # the scheduler runs each pair once shortly after start, then not again
            "    timeout: 5s",
            "    steps:",
            "      - name: get",
            "        http: {path: /ok}",
            "        expect: {status: 200}",
        ]
    return "\n".join(lines) + "\n"


BLACKBOX_CONFIG = """modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
"""


# waitress alone answering a constant, with the exporter's default worker pool: the floor of the server itself.
BARE_WAITRESS = """
import sys, waitress
from exporter.server import threads_for
from exporter.app import DEFAULT_PROBE_MAX_CONCURRENCY

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "7")])
    return [b"Healthy"]

waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=threads_for(DEFAULT_PROBE_MAX_CONCURRENCY),
               _quiet=True)
"""


def drive(urls: list[str], total: int) -> dict[str, Any]:
    """``total`` probes spread over one thread per URL; latencies, errors and wall time."""
    import requests

    per_thread = total // len(urls)
    expected = b"probe_success 1" if "/probe?" in urls[0] else b"Healthy"
    latencies: list[list[float]] = [[] for _ in urls]
    errors = [0 for _ in urls]
    start = threading.Barrier(len(urls) + 1)

    def worker(index: int, url: str) -> None:
        session = requests.Session()
        own = latencies[index]
        start.wait()
        for _ in range(per_thread):
            began = time.perf_counter()
            try:
                response = session.get(url, timeout=10)
                ok = response.status_code == 200 and expected in response.content
            except requests.RequestException:
                ok = False
            own.append(time.perf_counter() - began)
            if not ok:
                errors[index] += 1
        session.close()

    threads = [threading.Thread(target=worker, args=(i, url), daemon=True) for i, url in enumerate(urls)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {"wall": wall, "latencies": [x for part in latencies for x in part], "errors": sum(errors)}


def part_probe(args: argparse.Namespace, tmp: Path, blackbox: str) -> None:
    target, target_url = start_target(tmp)
    processes = [target]
    try:
        pair_names = [f"http-{i}" for i in range(args.concurrency)]
        config = tmp / "ours.yml"
        config.write_text(ours_config(target_url, ["http", *pair_names]))
        ours_port, bb_port = free_port(), free_port()
        ours = start_process(
            [
                sys.executable,
                "-m",
                "exporter",
                "--config.file",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{ours_port}",
            ],
            tmp / "ours.log",
            cwd=REPO,
        )
        processes.append(ours)
        bb_config = tmp / "blackbox.yml"
        bb_config.write_text(BLACKBOX_CONFIG)
        bb = start_process(
            [blackbox, "--config.file", str(bb_config), "--web.listen-address", f"127.0.0.1:{bb_port}"],
            tmp / "blackbox.log",
        )
        processes.append(bb)
        bare_port = free_port()
        bare = start_process([sys.executable, "-c", BARE_WAITRESS, str(bare_port)], tmp / "waitress.log", cwd=REPO)
        processes.append(bare)
        bare_url = f"http://127.0.0.1:{bare_port}"
        ours_url, bb_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{bb_port}"
        wait_http(f"{ours_url}/-/ready", ours, "our exporter")
        wait_http(f"{bb_url}/-/healthy", bb, "blackbox_exporter")
        wait_http(f"{bare_url}/-/healthy", bare, "waitress alone")
        configs: dict[str, tuple[subprocess.Popen[bytes], list[str]]] = {
            "ours": (ours, [f"{ours_url}/probe?target=local&workflow=http"] * args.concurrency),
            f"ours, {args.concurrency} pairs": (
                ours,
                [f"{ours_url}/probe?target=local&workflow={name}" for name in pair_names],
            ),
            "blackbox_exporter": (bb, [f"{bb_url}/probe?module=http_2xx&target={target_url}/ok"] * args.concurrency),
            # references: what answering one HTTP request costs each server, without a probe
            "ours, `/-/healthy` only": (ours, [f"{ours_url}/-/healthy"] * args.concurrency),
            "blackbox_exporter, `/-/healthy` only": (bb, [f"{bb_url}/-/healthy"] * args.concurrency),
            "waitress alone, a constant answer": (bare, [f"{bare_url}/-/healthy"] * args.concurrency),
        }
        time.sleep(2.5)  # let the scheduler's one start-up run of each pair pass
        for name, (_process, urls) in configs.items():  # warm-up, and proof each answers (probe_success 1)
            warm = drive(urls, args.warmup)
            if warm["errors"]:
                log_name = next((f"{k}.log" for k in ("blackbox", "waitress") if name.startswith(k)), "ours.log")
                log = (tmp / log_name).read_text()[-2000:]
                raise SystemExit(f"{name}: {warm['errors']} of {args.warmup} warm-up probes failed\n{log}")

        totals = {
            name: {"wall": 0.0, "cpu": 0.0, "target": 0.0, "client": 0.0, "lat": [], "err": 0, "rates": []}
            for name in configs
        }
        per_round = args.probes // args.rounds
        names = list(configs)
        for round_no in range(args.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                process, urls = configs[name]
                before = (proc_cpu(process.pid), proc_cpu(target.pid), self_cpu())
                result = drive(urls, per_round)
                after = (proc_cpu(process.pid), proc_cpu(target.pid), self_cpu())
                t = totals[name]
                t["wall"] += result["wall"]
                t["cpu"] += after[0] - before[0]
                t["target"] += after[1] - before[1]
                t["client"] += after[2] - before[2]
                t["lat"] += result["latencies"]
                t["err"] += result["errors"]
                t["rates"].append(len(result["latencies"]) / result["wall"])
            print(f"probe: round {round_no + 1}/{args.rounds} done", file=sys.stderr)

        print("\n### 1. `/probe`: one-step `http` workflow vs blackbox_exporter `http_2xx`\n")
        print(
            f"{args.rounds} rounds x {per_round} probes per configuration, alternated; {args.concurrency} client "
            "threads (one `requests.Session` each) in the driver process; the target is a threaded Python "
            "HTTP server in its own process answering 12 bytes of JSON. CPU from `/proc/<pid>/stat`. The two "
            "`/-/healthy` rows are the same load on each server's health endpoint: the cost of serving a request, "
            'no probe; "waitress alone" is that load on waitress serving a constant from a three-line WSGI app.\n'
        )
        print(
            "| exporter | requests | failed | requests/s (rounds min-max) | latency ms mean / p50 / p99 "
            "| exporter CPU ms/request | target CPU ms/request | client CPU ms/request |"
        )
        print("|---|--:|--:|--:|--:|--:|--:|--:|")
        summary = {}
        for name, t in totals.items():
            n = len(t["lat"])
            rate = n / t["wall"]
            cpu_ms = t["cpu"] / n * 1000
            summary[name] = (rate, cpu_ms)
            lat = [x * 1000 for x in t["lat"]]
            print(
                f"| {name} | {n} | {t['err']} | {rate:.0f} ({min(t['rates']):.0f}-{max(t['rates']):.0f}) "
                f"| {statistics.mean(lat):.2f} / {percentile(lat, 0.5):.2f} / {percentile(lat, 0.99):.2f} "
                f"| {cpu_ms:.3f} | {t['target'] / n * 1000:.3f} | {t['client'] / n * 1000:.3f} |"
            )
        bb_rate, bb_cpu = summary["blackbox_exporter"]
        print()
        for name in names[:2]:
            rate, cpu_ms = summary[name]
            ratio = cpu_ms / bb_cpu
            print(
                f"- {name} / blackbox_exporter: probes/s {rate / bb_rate:.2f}x, "
                f"exporter CPU per probe **{ratio:.1f}x** (goal: ≤ {GOAL_PROBE_CPU}x, {met(ratio, GOAL_PROBE_CPU)})"
            )
        ours_serve, bb_serve = summary[names[3]][1], summary[names[4]][1]
        floor = ours_serve / max(bb_serve, 1e-9)
        print(
            f"- `/-/healthy` floor, exporter CPU per request: ours {ours_serve:.3f} ms, blackbox_exporter "
            f"{bb_serve:.3f} ms, **{floor:.1f}x** (goal: ≤ {GOAL_HEALTHY_CPU}x, {met(floor, GOAL_HEALTHY_CPU)})"
        )
        bare_serve = summary[names[5]][1]
        print(
            f"- waitress alone answering a constant: {bare_serve:.3f} ms, {bare_serve / max(bb_serve, 1e-9):.1f}x "
            f"blackbox_exporter's `/-/healthy`; the exporter's own part of its `/-/healthy` "
            f"{ours_serve - bare_serve:.3f} ms"
        )
        print(
            f"- CPU per probe minus CPU per `/-/healthy` request (the probe work alone): ours "
            f"{summary['ours'][1] - ours_serve:.3f} ms, blackbox_exporter {bb_cpu - bb_serve:.3f} ms "
            f"({(summary['ours'][1] - ours_serve) / max(bb_cpu - bb_serve, 1e-9):.1f}x)"
        )
    finally:
        for process in reversed(processes):
            stop_process(process)


# --------------------------------------------------------------------------------------- 2. checkout


def part_checkout(args: argparse.Namespace, tmp: Path) -> None:
    import dataclasses

    from synthetic.config import load_config
    from synthetic.openapi import OpenAPIDocuments
    from synthetic.runner import run_workflow
    from tests.harness import start_shop

    threads_wanted = sorted(set(args.threads))
    shop_dir = tmp / "shop"
    started = time.monotonic()
    shop = start_shop(shop_dir, f"sqlite:///{shop_dir / 'shop.sqlite3'}")
    try:
        users = [(f"bench{i}", f"bench-password-{i}") for i in range(max(threads_wanted))]
        for username, password in users:
            shop.add_user(username, password)
        print(f"checkout: shop up with {len(users)} users in {time.monotonic() - started:.0f} s", file=sys.stderr)
        os.environ["SHOP_URL"] = shop.url
        os.environ["SHOP_DATABASE_URL"] = shop.env["DATABASE_URL"]
        os.environ["DEMO_PROBE_PASSWORD"] = shop.env["DEMO_PROBE_PASSWORD"]
        config = load_config(REPO / "synthetic" / "workflows" / "demo_shop.yml")
        workflow = config.workflows["checkout"]
        base = config.targets["demo-shop"]
        # Each thread's user under every credential name the target has (checkout logs in as its own user).
        targets = [
            dataclasses.replace(base, credentials={name: {"username": u, "password": p} for name in base.credentials})
            for u, p in users
        ]
        openapi = OpenAPIDocuments()
        for target in targets:  # warm-up; fetches the OpenAPI document once; proves the journey passes
            run = run_workflow(workflow, target, openapi=openapi)
            if not run.success:
                failed = run.failed_step
                raise SystemExit(f"checkout fails on the fresh shop: {failed and (failed.name, failed.message)}")

        rounds = []
        for n in threads_wanted:
            rounds.append(checkout_round(n, args.checkout_seconds, workflow, targets, openapi, shop.process.pid))
            print(f"checkout: {n} thread(s) done", file=sys.stderr)
    finally:
        shop.stop()

    print("\n### 2. Sustained `checkout` runs (7 steps: 6 `http` + 1 `sql`) against the demo shop\n")
    print(
        f"`run_workflow` back to back in N threads for {args.checkout_seconds:.0f} s each, one shop user per "
        f"thread, one shared `OpenAPIDocuments`; the demo shop (gunicorn, 1 worker x 8 threads, SQLite) runs on "
        f"the same {os.cpu_count()} cores as the runner. Runner CPU is this process; shop CPU is gunicorn's "
        "master + worker; cores used = CPU seconds per wall second.\n"
    )
    print(
        "| threads | runs | failed | runs/s | mean run ms | p50 / p95 run ms | runner CPU ms/run "
        "| shop CPU ms/run | cores used (runner + shop) |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for result in rounds:
        print(result["row"])
    for n, result in zip(threads_wanted, rounds, strict=True):
        if result["reasons"]:
            listed = ", ".join(f"{reason} x{count}" for reason, count in result["reasons"].most_common())
            print(f"\nFailed runs with {n} thread(s), by failed step and reason: {listed}.")
    print(
        f"\nMean step duration with {threads_wanted[0]} thread(s) (client-side, and the shop's app time from "
        "Server-Timing):\n"
    )
    print("| step | ms | server app ms |")
    print("|---|--:|--:|")
    for name, values in rounds[0]["steps"].items():
        app = [a * 1000 for _, a in values if a is not None]
        app_ms = f"{statistics.mean(app):.1f}" if app else "-"
        print(f"| {name} | {statistics.mean(d for d, _ in values):.1f} | {app_ms} |")
    iterations, ms = pbkdf2_ms()
    print(
        f"\nFor scale: one PBKDF2-SHA256 hash at Django's default {iterations} iterations (what each `jwt-login` "
        f"makes the shop compute) takes {ms:.0f} ms in this process."
    )


def checkout_round(
    n: int, seconds: float, workflow: Any, targets: list[Any], openapi: Any, shop_pid: int
) -> dict[str, Any]:
    """``run_workflow`` back to back in ``n`` threads for ``seconds``: a Markdown row, failures, step times."""
    from synthetic.runner import run_workflow

    runs_of: list[list[Any]] = [[] for _ in range(n)]
    barrier = threading.Barrier(n + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        own, target = runs_of[index], targets[index]
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            own.append(run_workflow(workflow, target, openapi=openapi))

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for thread in workers:
        thread.start()
    gc.collect()
    before = (tree_cpu(shop_pid), self_cpu())
    began = time.monotonic()
    stop_at[0] = began + seconds
    barrier.wait()
    for thread in workers:
        thread.join()
    wall = time.monotonic() - began
    after = (tree_cpu(shop_pid), self_cpu())
    runs = [run for part in runs_of for run in part]
    durations = [run.duration * 1000 for run in runs]
    failed = [run for run in runs if not run.success]
    reasons = Counter(
        f"{run.failed_step.name}: {run.failed_step.reason} ({run.failed_step.message[:60]})"
        for run in failed
        if run.failed_step
    )
    shop_cpu, runner_cpu = after[0] - before[0], after[1] - before[1]
    steps: dict[str, list[tuple[float, float | None]]] = {}
    for run in runs:
        for step in run.steps:
            if step.status != "skipped":
                steps.setdefault(step.name, []).append((step.duration * 1000, step.server.app_seconds))
    row = (
        f"| {n} | {len(runs)} | {len(failed)} | {len(runs) / wall:.1f} | {statistics.mean(durations):.1f} "
        f"| {percentile(durations, 0.5):.1f} / {percentile(durations, 0.95):.1f} "
        f"| {runner_cpu / len(runs) * 1000:.1f} | {shop_cpu / len(runs) * 1000:.1f} "
        f"| {runner_cpu / wall:.2f} + {shop_cpu / wall:.2f} |"
    )
    return {"row": row, "reasons": reasons, "steps": steps}


def pbkdf2_ms() -> tuple[int, float]:
    """Django's default password hash (what each jwt-login costs the shop), timed once in this process."""
    import hashlib

    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    iterations = PBKDF2PasswordHasher.iterations
    began = time.perf_counter()
    hashlib.pbkdf2_hmac("sha256", b"bench-password", b"saltsaltsaltsalt", iterations)
    return iterations, (time.perf_counter() - began) * 1000


# ----------------------------------------------------------------------------------------- 3. scrape

GOAL_PROBE_CPU = 1.5  # exporter CPU per one-step probe / blackbox_exporter's, same run (#17)
GOAL_HEALTHY_CPU = 2.0  # exporter CPU per /-/healthy request / blackbox_exporter's, same run (#17)


def met(ratio: float, goal: float) -> str:
    """``"met"`` when ``ratio`` (ours / the peer's, or ours / a goal) is at most ``goal``, else ``"not met"``."""
    return "met" if ratio <= goal else "not met"


GOAL_SCRAPE_CPU = 0.3  # seconds of exporter CPU per /metrics scrape at 1000 pairs x 10 steps, gzip included (#17)
FROZEN_TIME = 1_764_000_000.0  # time.time() while the state is built: both variants hold the same bytes
# What Prometheus 2.42 sends (scrape.go's acceptHeader); it also sends Accept-Encoding: gzip.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
SCRAPE_CLIENT = """
import sys, urllib.request
url, count, accept = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for _ in range(count):
    request = urllib.request.Request(url, headers={"Accept": accept, "Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 200 and response.headers["Content-Encoding"] == "gzip"
        response.read()
"""


def scrape_config(workflows: int, steps: int, targets: int) -> str:
    lines = ["targets:"]
    for t in range(targets):
        lines += [f"  t{t:02d}:", f"    base_url: http://127.0.0.1:9/t{t:02d}"]
    lines.append("workflows:")
    target_list = ", ".join(f"t{t:02d}" for t in range(targets))
    for w in range(workflows):
        lines += [f"  w{w:04d}:", f"    targets: [{target_list}]", "    interval: 1m", "    steps:"]
        for s in range(steps):
            lines += [
                f"      - name: step-{s}",
                f"        http: {{path: /s{s}}}",
                "        expect: {status: 200, max_duration: 1s}",
            ]
    return "\n".join(lines) + "\n"


def synthetic_runs(workflow: Any, target: str, run_no: int) -> Any:
    """A finished run of every step (http: server timing, five HTTP phases), the same for the same arguments;
    run 0 of each pair fails at one step (the rest skipped)."""
    import random

    from synthetic.result import PHASES, RunResult, ServerTiming, StepResult

    rng = random.Random(f"{workflow.name}/{target}/{run_no}")
    run = RunResult(workflow=workflow.name, target=target, correlation_id=f"{rng.getrandbits(128):032x}",
                    started_at=FROZEN_TIME + run_no)  # fmt: skip
    fail_at = rng.randrange(len(workflow.steps)) if run_no == 0 else None  # one failed run per pair
    for index, step in enumerate(workflow.steps):
        result = StepResult(step.name, "http", duration=rng.uniform(0.002, 0.4), http_status=200, budget=1.0)
        result.server = ServerTiming(
            app_seconds=rng.uniform(0.001, 0.2), db_seconds=rng.uniform(0.0005, 0.05), queries=rng.randrange(1, 12)
        )
        result.phases = {phase: rng.uniform(0.0, 0.01) for phase in PHASES}
        if fail_at is not None and index > fail_at:
            result.status, result.reason, result.phases = "skipped", "skipped", {}
        elif index == fail_at:
            result.status, result.reason, result.http_status = "failed", "http_status", 500
        run.steps.append(result)
        run.duration += result.duration
    return run


def _cpu_of(call: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds of this process (every thread, ``time.process_time()``) while ``call`` runs, and its result."""
    gc.collect()
    before = time.process_time()
    result = call()
    return time.process_time() - before, result


def child_scrape(args: argparse.Namespace) -> dict[str, Any]:
    """One registry state of ``--pairs`` pairs x 10 steps (``--variant`` ours: the exporter as it is; bare: the
    same WorkflowMetrics built from prometheus_client's own classes and served by its ``make_wsgi_app``),
    scraped in-process and over HTTP. Time is frozen while the state is built, so both variants hold the same
    bytes (their sha256 is returned)."""
    import gzip
    import hashlib
    import random

    from prometheus_client import (
        CollectorRegistry,
        disable_created_metrics,
        generate_latest,
        make_wsgi_app,
    )
    from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

    import exporter.metrics as exporter_metrics
    from exporter import exposition
    from exporter.server import HTTPServer, ServerSettings
    from exporter.service import Exporter

    disable_created_metrics()  # as the exporter's service does (exporter/cli.py)
    ours = args.variant == "ours"
    steps, targets = args.scrape_steps, args.scrape_targets
    rss_start = vm_rss_mib()
    reference = contextlib.ExitStack()  # held until this function returns
    if not ours:  # the same families, as prometheus_client's own classes
        reference.enter_context(exporter_metrics.prometheus_client_families())
    clock = time.time
    time.time = lambda: FROZEN_TIME  # exemplar timestamps, the configured-at timestamps
    with tempfile.TemporaryDirectory(prefix="exporter-bench-scrape-") as tmp:
        path = Path(tmp) / "big.yml"
        path.write_text(scrape_config(args.pairs // targets, steps, targets))
        config_dir = str(Path(tmp).absolute()).encode()  # in workflow_exporter_config_info: left out of the hash
        began = time.perf_counter()
        registry = CollectorRegistry()
        exporter = Exporter(path, registry)
        load_s = time.perf_counter() - began

    def digest(exposition_bytes: bytes) -> str:
        return hashlib.sha256(exposition_bytes.replace(config_dir, b"<config dir>")).hexdigest()

    pairs = exporter.owned_pairs(exporter.config)
    record = exporter.metrics.record
    runs = [synthetic_runs(workflow, target.name, r) for r in range(2) for workflow, target in pairs]
    for run in runs:
        record(run)
    rounds = args.scrape_reps if args.pairs <= 1000 else 1  # 10 000 pairs: minutes per round, once is enough
    halves = [random.Random(n).sample(pairs, len(pairs) // 2) for n in range(rounds)]
    feeds = [
        [synthetic_runs(workflow, target.name, 2 + n) for workflow, target in half] for n, half in enumerate(halves)
    ]
    del runs
    gc.collect()
    gc.freeze()  # the state's millions of objects out of the collector's sight: _cpu_of's collections stay short
    rss_series = vm_rss_mib()

    gzipped: Callable[[], bytes] | None  # a whole scrape with gzip, as the app answers Prometheus
    if ours:
        encoders: dict[str, Callable[[], bytes]] = {
            "OpenMetrics": lambda: exposition.generate(registry, exposition.OPENMETRICS),
            "text": lambda: exposition.generate(registry, exposition.TEXT),
        }
        # ISA-L's gzip level 1 (zlib's without isal), fed family by family: the body is never joined
        gzipped = lambda: exposition.compress(exposition.generate_chunks(registry, exposition.OPENMETRICS))  # noqa: E731
        app = exposition.make_metrics_app(registry)
    else:
        encoders = {"OpenMetrics": lambda: generate_openmetrics(registry), "text": lambda: generate_latest(registry)}
        gzipped = None  # make_wsgi_app: the encoding above, then gzip level 9 of it (timed apart, added)
        app = make_wsgi_app(registry)
    timed_rounds = rounds if ours or args.pairs < 1000 else 1  # a bare scrape of 1000 pairs takes ~10 s
    result: dict[str, Any] = {"pairs": len(pairs), "load_s": load_s, "rss_start": rss_start,
                              "rss_series": rss_series, "rounds": rounds,
                              "isal": exposition._isal_zlib is not None}  # fmt: skip
    if ours:
        result["first_s"] = _cpu_of(encoders["OpenMetrics"])[0]  # every series rendered once (zero counters...)
    # Steady state, as at a 15 s scrape interval over pairs run every 30 s: before each scrape, half the pairs
    # finish a run (their series' lines are rendered as record() counts them: the cost is the runs', shown apart).
    om_s: list[float] = []
    gzip_s: list[float] = []
    record_s = 0.0
    body = compressed = b""
    for n, feed in enumerate(feeds):
        record_s += _cpu_of(partial(list, map(record, feed)))[0]
        if n >= rounds - timed_rounds:
            seconds, body = _cpu_of(encoders["OpenMetrics"])
            om_s.append(seconds)
            if gzipped is not None:
                seconds, compressed = _cpu_of(gzipped)
            else:
                gzip_seconds, compressed = _cpu_of(partial(gzip.compress, body))
                seconds += gzip_seconds
            gzip_s.append(seconds)
    lines = body.decode().splitlines()
    result["openmetrics"] = {
        "cpu": om_s, "gzip": gzip_s, "bytes": len(body), "gzip_bytes": len(compressed),
        "sha256": digest(body),
        "samples": sum(1 for line in lines if line and not line.startswith("#")),
        "exemplars": sum(1 for line in lines if " # {" in line),
    }  # fmt: skip
    result["record_us"] = record_s / sum(len(feed) for feed in feeds) * 1e6
    families: dict[str, int] = {}
    for line in lines:
        if line.startswith("# TYPE "):
            family = line.split()[2]
            families[family] = 0
        elif line and not line.startswith("#"):
            families[family] += 1
    result["families"] = list(families.items())
    del lines
    if args.pairs <= 1000:
        text_s = [_cpu_of(encoders["text"]) for _ in range(rounds if ours else 1)]
        result["text"] = {"cpu": [seconds for seconds, _ in text_s], "bytes": len(text_s[-1][1]),
                          "sha256": digest(text_s[-1][1])}  # fmt: skip
        del text_s
    body = compressed = b""
    time.time = clock  # frozen until here: the runs fed above carry the same exemplar timestamps in both variants
    gc.collect()
    if ours or args.pairs <= 1000:  # over HTTP, as Prometheus scrapes: the exporter's server, gzip (bare: ~10 s)
        server = HTTPServer(app, "127.0.0.1:0", ServerSettings(), registry)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        count = rounds if ours else 1
        client = [sys.executable, "-c", SCRAPE_CLIENT, f"{server.url}/metrics", str(count), PROMETHEUS_ACCEPT]
        seconds, _ = _cpu_of(lambda: subprocess.run(client, check=True, timeout=3600))
        result["http_s"] = seconds / count
        server.stop()
        thread.join(10)
    result["rss_end"] = vm_rss_mib()
    return result


def part_scrape(args: argparse.Namespace) -> None:
    rows: list[tuple[str, dict[str, Any]]] = []
    for pairs in args.scrape_pairs:
        for variant in ("ours", "bare"):
            began = time.monotonic()
            extra = ["--child", "scrape", "--variant", variant, "--pairs", str(pairs), "--scrape-steps",
                     str(args.scrape_steps), "--scrape-targets", str(args.scrape_targets), "--scrape-reps",
                     str(args.scrape_reps)]  # fmt: skip
            rows.append((variant, spawn_child(extra)))
            print(f"scrape: {pairs} pairs, {variant}: {time.monotonic() - began:.0f} s", file=sys.stderr)
    s = args.scrape_steps
    gzip_name = "ISA-L (isal)" if rows and rows[0][1].get("isal") else "zlib (isal is not installed)"
    print(f"\n### 3. `/metrics` scrape CPU at {', '.join(map(str, args.scrape_pairs))} pairs x {s} steps\n")
    print(
        "Each row a fresh child process: an `Exporter` (scheduler not started) on a fresh `CollectorRegistry`, "
        f"{args.scrape_targets} targets, workflows of {s} `http` steps with `max_duration`, then 2 synthetic runs "
        "per pair through `WorkflowMetrics.record()` (server timing and the five HTTP phases on every step; one "
        "run per pair fails at one step). **ours** is the exporter as it is (the workflow families' lines cached "
        f"by `exporter/exposition.py`, gzip level 1 of {gzip_name}); **bare** is the same `WorkflowMetrics` "
        "built from prometheus_client's own `Counter`/`Gauge`/`Histogram`/`Summary`, encoded by its "
        "`generate_latest` encoders and served by its `make_wsgi_app` (gzip level 9). Time is frozen while the "
        "state is built, so both hold the same samples: *same bytes* compares the sha256 of their OpenMetrics "
        f"(and text) exposition. Steady state: before each of {args.scrape_reps} scrapes (one at 10 000 pairs) "
        "half the pairs finish a run (as at a 15 s scrape interval over 30 s run intervals); their lines are "
        "rendered by `record()`, whose CPU per run is shown apart. CPU is the child's `time.process_time()` "
        "(every thread); **HTTP** is the exporter process's CPU per scrape through the exporter's own waitress "
        "server, the client (another process) sending Prometheus' `Accept` header and `Accept-Encoding: gzip`. "
        "A bare scrape takes ~10 s at 1000 pairs and ~2 minutes at 10 000, so it is timed once there; at 10 000 "
        "the text encodings and the bare scrape over HTTP are left out.\n"
    )
    print(
        "| pairs | registry | samples | exemplars | OpenMetrics scrape CPU s, no gzip (best / median) | "
        "**with gzip** (best / median) | over HTTP, gzip | text, no gzip (best) | MiB / gzip MiB | "
        "`record()` µs per 10-step run | same bytes | with gzip / the 0.3 s goal |"
    )
    print("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|")
    by_pairs: dict[int, dict[str, dict[str, Any]]] = {}
    for variant, r in rows:
        by_pairs.setdefault(r["pairs"], {})[variant] = r
    for pairs, variants in by_pairs.items():
        for variant in ("ours", "bare"):
            r = variants[variant]
            om, text = r["openmetrics"], r.get("text")
            total = min(om["gzip"])
            same = "-"
            if variant == "bare":
                same = "yes" if om["sha256"] == variants["ours"]["openmetrics"]["sha256"] else "**no**"
                if text:
                    same += " / yes" if text["sha256"] == variants["ours"]["text"]["sha256"] else " / **no**"
            cells = [
                str(pairs), variant, str(om["samples"]), str(om["exemplars"]),
                f"{min(om['cpu']):.3f} / {statistics.median(om['cpu']):.3f}",
                f"**{total:.3f}** / {statistics.median(om['gzip']):.3f}",
                f"{r['http_s']:.3f}" if "http_s" in r else "-",
                f"{min(text['cpu']):.3f}" if text else "-",
                f"{om['bytes'] / 2**20:.1f} / {om['gzip_bytes'] / 2**20:.2f}", f"{r['record_us']:.0f}", same,
                f"{total / GOAL_SCRAPE_CPU:.2f}x",
            ]  # fmt: skip
            print("| " + " | ".join(cells) + " |")
    print()
    for pairs, variants in by_pairs.items():
        ours, bare = variants["ours"], variants["bare"]
        ours_total, bare_total = min(ours["openmetrics"]["gzip"]), min(bare["openmetrics"]["gzip"])
        ours_plain, bare_plain = min(ours["openmetrics"]["cpu"]), min(bare["openmetrics"]["cpu"])
        print(
            f"- {pairs} pairs: scrape CPU with gzip ours / bare prometheus_client **{ours_total / bare_total:.3f}x** "
            f"({ours_total:.3f} s vs {bare_total:.2f} s; without gzip {ours_plain / bare_plain:.3f}x, "
            f"{ours_plain:.3f} s vs {bare_plain:.2f} s); ours with gzip / the {GOAL_SCRAPE_CPU} s goal "
            f"**{ours_total / GOAL_SCRAPE_CPU:.2f}x**; the first scrape after start (every series rendered once) "
            f"{ours['first_s']:.2f} s; rendering in `record()`: {ours['record_us'] - bare['record_us']:+.0f} µs "
            f"per run; RSS {ours['rss_series']:.0f} / {ours['rss_end']:.0f} MiB (built / after the scrapes) vs "
            f"bare {bare['rss_series']:.0f} / {bare['rss_end']:.0f} MiB"
        )
    middle = by_pairs.get(1000, {}).get("ours")
    if middle and "families" in middle:
        total = sum(count for _, count in middle["families"])
        print("\nSamples per family at 1000 pairs (OpenMetrics, ours):\n")
        print("| family | samples | share |")
        print("|---|--:|--:|")
        for name, count in sorted(middle["families"], key=lambda item: -item[1]):
            if count >= total / 100:
                print(f"| `{name}` | {count} | {count / total * 100:.0f} % |")
        rest = sum(count for _, count in middle["families"] if count < total / 100)
        print(f"| (the other families) | {rest} | {rest / total * 100:.1f} % |")


# ----------------------------------------------------------------------------------------- 4. memory


def child_memory(args: argparse.Namespace) -> dict[str, Any]:
    import tracemalloc

    from prometheus_client import CollectorRegistry

    from exporter.service import Exporter

    if args.tracemalloc:
        tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="exporter-bench-memory-") as tmp:
        path = Path(tmp) / "one.yml"
        path.write_text(ours_config(args.target_url, ["http"]))
        exporter = Exporter(path, CollectorRegistry())
    workflow = exporter.config.workflows["http"]
    target = exporter.config.targets["local"]

    def measure(done: int, seconds: float) -> dict[str, Any]:
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] / 2**20 if args.tracemalloc else None
        return {
            "runs": done,
            "rss": vm_rss_mib(),
            "traced": traced,
            "seconds": seconds,
            "history": len(exporter.history),
        }

    points = [measure(0, 0.0)]
    done, failed, elapsed = 0, 0, 0.0
    for goal in args.memory_runs:
        began = time.perf_counter()
        while done < goal:
            if not exporter.run_scheduled(workflow, target).success:
                failed += 1
            done += 1
        elapsed += time.perf_counter() - began
        points.append(measure(done, elapsed))
    return {"points": points, "failed": failed}


def part_memory(args: argparse.Namespace, tmp: Path) -> None:
    target, target_url = start_target(tmp)
    try:
        runs = [str(n) for n in args.memory_runs]
        plain = spawn_child(["--child", "memory", "--target-url", target_url, "--memory-runs", *runs])
        traced = spawn_child(["--child", "memory", "--target-url", target_url, "--memory-runs", *runs, "--tracemalloc"])
    finally:
        stop_process(target)
    print("\n### 4. Memory of an in-process `Exporter`, one one-step workflow, `run_scheduled()` back to back\n")
    print(
        "Fresh child processes; `gc.collect()` before each reading. RSS is `VmRSS` of the child without "
        "tracemalloc; traced is `tracemalloc`'s current size in a second child (started before the `Exporter` "
        "was built, after imports), whose RSS includes tracemalloc's own overhead. History limit 200 "
        "(the default).\n"
    )
    print("| runs | RSS MiB | traced MiB | RSS MiB (tracemalloc child) | runs in history | ms/run (no tracemalloc) |")
    print("|--:|--:|--:|--:|--:|--:|")
    for p, q in zip(plain["points"], traced["points"], strict=True):
        per_run = f"{p['seconds'] / p['runs'] * 1000:.2f}" if p["runs"] else "-"
        print(f"| {p['runs']} | {p['rss']:.1f} | {q['traced']:.2f} | {q['rss']:.1f} | {p['history']} | {per_run} |")
    first, last = plain["points"][1], plain["points"][-1]
    t_first, t_last = traced["points"][1], traced["points"][-1]
    print(
        f"\nGrowth from {first['runs']} to {last['runs']} runs: RSS {last['rss'] - first['rss']:+.2f} MiB, "
        f"traced {t_last['traced'] - t_first['traced']:+.2f} MiB; failed runs: "
        f"{plain['failed']} / {traced['failed']}."
    )


# ---------------------------------------------------------------------------------------- profile


def run_profile(args: argparse.Namespace, tmp: Path) -> None:
    """cProfile of our /probe path: the WSGI app in-process, a real target server process."""
    from prometheus_client import CollectorRegistry

    from exporter.app import ExporterApp
    from exporter.service import Exporter

    target, target_url = start_target(tmp)
    try:
        config = tmp / "profile.yml"
        config.write_text(ours_config(target_url, ["http"]))
        registry = CollectorRegistry()
        app = ExporterApp(Exporter(config, registry), registry)
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/probe",
            "QUERY_STRING": "target=local&workflow=http",
            "SERVER_NAME": "bench",
            "SERVER_PORT": "80",
            "wsgi.input": io.BytesIO(b""),
        }

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            if not status.startswith("200"):
                raise SystemExit(f"/probe answered {status}")

        def loop(n: int) -> float:
            began = time.perf_counter()
            for _ in range(n):
                body = b"".join(app(dict(environ), start_response))
            if b"probe_success 1" not in body:
                raise SystemExit(f"/probe failed:\n{body.decode()}")
            return (time.perf_counter() - began) / n * 1e6

        loop(200)
        plain_us = min(loop(args.profile) for _ in range(3))
        profiler = cProfile.Profile()
        profiler.enable()
        loop(args.profile)
        profiler.disable()
        print(
            f"In-process /probe (WSGI app called directly, target in its own process): {plain_us:.0f} µs per probe "
            f"without the profiler (best of 3 x {args.profile}). cProfile (wall clock; `recv_into` is waiting on "
            f"the target) of {args.profile} probes:\n"
        )
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.profile_top)
        stats.sort_stats("cumulative").print_stats(args.profile_top)
        print(out.getvalue())
    finally:
        stop_process(target)


# ----------------------------------------------------------------------------------------------- driver


def spawn_child(extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"child {' '.join(extra)} failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these measurements")
    parser.add_argument("--probes", type=int, default=2000, help="probes per exporter configuration")
    parser.add_argument("--rounds", type=int, default=4, help="rounds the probes are split into, exporters alternated")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads sending probes")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up probes per configuration")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4], help="checkout runner threads")
    parser.add_argument("--checkout-seconds", type=float, default=20.0, help="seconds per checkout thread count")
    parser.add_argument(
        "--scrape-pairs",
        type=int,
        nargs="+",
        default=[100, 1000, 10000],
        metavar="PAIRS",
        help="(workflow, target) pairs of the scrape measurement, each in fresh processes",
    )
    parser.add_argument("--scrape-steps", type=int, default=10, help="steps per workflow of the scrape measurement")
    parser.add_argument("--scrape-targets", type=int, default=10, help="targets of the scrape measurement")
    parser.add_argument("--scrape-reps", type=int, default=3, help="scrapes timed per registry (steady state)")
    parser.add_argument("--memory-runs", type=int, nargs="+", default=[1000, 10000], help="run counts to measure at")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile N in-process /probe calls instead")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs of the processes)")
    parser.add_argument("--serve-target", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["scrape", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=["ours", "bare"], default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--target-url", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve_target is not None:
        serve_target(args.serve_target)
        return
    if args.child:
        result = child_scrape(args) if args.child == "scrape" else child_memory(args)
        print(json.dumps(result))
        return

    parts = args.only or PARTS
    blackbox = blackbox_path()
    if "probe" in parts and blackbox is None:
        raise SystemExit(
            f"{BLACKBOX} is not installed; the comparison needs it. Install it (as root) with:\n\n"
            f"    {BLACKBOX_INSTALL}\n\nor run the other measurements with --only checkout scrape memory."
        )
    with workdir(args.keep) as tmp:
        if args.profile:
            run_profile(args, tmp)
            return
        started = time.monotonic()
        print("## Exporter throughput\n")
        print(
            f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), load average before the run "
            f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}, Python {platform.python_version()}"
            + (f", {blackbox_version(blackbox)}" if blackbox else "")
        )
        if "probe" in parts:
            assert blackbox is not None
            part_probe(args, tmp, blackbox)
        if "checkout" in parts:
            part_checkout(args, tmp)
        if "scrape" in parts:
            part_scrape(args)
        if "memory" in parts:
            part_memory(args, tmp)
        print(f"\nTotal time: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
