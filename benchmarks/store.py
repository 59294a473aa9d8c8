"""The run store (exporter/store.py): inserts, pages and API over a million runs, size per run, and live streams
next to Prometheus' scrapes.

Run from the repository root::

    .venv/bin/python benchmarks/store.py [--only inserts million size streams]

Everything runs on 127.0.0.1 in a temp dir and is stopped at the end; it prints Markdown tables. Four parts:

1. ``inserts``: 10-step runs (heads and bodies of about 600 bytes per step, 10 % failed, 100 pairs) added to a
   disk store from 4 threads, as the scheduler's threads do, as fast as the writer takes them (the adders wait
   while its queue is three quarters full): runs per second until the writer has them all in the database, the
   time ``add()`` takes in the adding thread (the run's own cost), and the CPU per run, of the adding threads
   and of the whole process (the writer encodes, compresses and inserts).
2. ``million``: a store of 1 000 000 runs of 100 pairs (10 workflows x 10 targets) over the last 7 days, 2 %
   failed, built with bulk inserts (the time it took is printed); then the exporter's real server on it
   (in-process ``Exporter``, ``ExporterApp``, ``HTTPServer``; the scheduler not started) and the response time
   of ``/``, ``/failures``, ``/api/v1/runs`` with and without filters, a deep cursor, ``/api/v1/workflows``,
   ``/api/v1/failures`` and a run's page, each requested ``--requests`` times one after the other (the first
   request of each computes the pairs' 1h/24h windows, which the store then reuses for ``STATS_TTL`` seconds).
3. ``size``: the database's size per 1000 runs that keep their heads and bodies (failed runs), and per 1000
   successful runs of one pair (all but the latest keep their summary only).
4. ``streams``: the exporter as a process (``python -m exporter --web.max-streams=50``) with four workflows
   every second against a tiny local target, scraped every second by a real Prometheus (``/metrics`` and
   ``/probe``); ``scrape_duration_seconds`` of both jobs over 30 s without event streams and over 30 s with 50
   open ones (clients in this process that read every event), plus the same requests timed from here, and the
   exporter's CPU in each phase.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import selectors
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (str(REPO), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import exporter_throughput as common  # noqa: E402  (free ports, processes, the tiny target)

PARTS = ["inserts", "million", "size", "streams"]
WORKFLOWS = [f"journey-{i}" for i in range(10)]
TARGETS = [f"shop-{i}" for i in range(10)]
BODY = json.dumps({"results": [{"id": i, "name": f"product {i}", "price": "12.50", "stock": 7} for i in range(8)]})


# ------------------------------------------------------------------------------------------------ runs


def ten_step_run(workflow: str, target: str, failed: bool, started_at: float, rng: random.Random) -> Any:
    """A realistic 10-step http run: heads, a ~600-byte JSON body, server timing, phases, two assertions."""
    from synthetic.result import AssertionResult, Exchange, RunResult, ServerTiming, StepResult

    cid = uuid.uuid4().hex
    run = RunResult(workflow=workflow, target=target, correlation_id=cid, started_at=started_at)
    offset = 0.0
    for index in range(10):
        duration = rng.uniform(0.02, 0.2)
        step = StepResult(name=f"step-{index}", kind="http", offset=offset, duration=duration, budget=1.0,
                          http_status=200, response_bytes=len(BODY), attempts=1)  # fmt: skip
        step.server = ServerTiming(app_seconds=duration * 0.5, db_seconds=duration * 0.2, queries=rng.randint(1, 9))
        took = f"took {duration * 1000:.0f} ms"
        step.assertions = [AssertionResult("status", True, "200"), AssertionResult("max_duration", True, took)]
        step.extracted = {"item_id": rng.randint(1, 999)}
        if hasattr(step, "phases"):
            step.phases = {"resolve": 0.001, "connect": 0.002, "processing": duration * 0.8, "transfer": 0.003}
        step.exchange = Exchange(
            method="GET", url=f"https://{target}.example/api/items/{index}/",
            request_headers={"User-Agent": "workflow-exporter", "X-Request-ID": cid, "Accept": "application/json",
                             "traceparent": f"00-{cid}-{uuid.uuid4().hex[:16]}-01", "X-Synthetic": "[REDACTED]"},
            status=200,
            response_headers={"Content-Type": "application/json", "Content-Length": str(len(BODY)),
                              "Server-Timing": 'app;dur=12.5, db;dur=3.5;desc="4 queries"', "Vary": "Accept",
                              "X-Request-ID": cid, "Date": "Mon, 30 Nov 2026 05:00:00 GMT"},
            response_body=BODY,
            curl=f"curl -sS -X GET 'https://{target}.example/api/items/{index}/'",
        )  # fmt: skip
        if failed and index == 6:
            step.status, step.reason, step.message = "failed", "http_status", "status 500, expected 200"
            step.http_status = step.exchange.status = 500
            step.assertions[0] = AssertionResult("status", False, "status 500, expected 200")
        elif failed and index > 6:
            step.status, step.reason, step.message = "skipped", "skipped", "an earlier step failed"
            step.exchange = None
        run.steps.append(step)
        offset += duration
    run.duration = offset
    return run


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="wfx-store-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"\n(kept {path})")
        else:
            import shutil

            shutil.rmtree(path, ignore_errors=True)


def cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


# ------------------------------------------------------------------------------------------ 1. inserts


def part_inserts(args: argparse.Namespace, tmp: Path) -> None:
    from exporter.store import WRITE_QUEUE, RunStore

    rng = random.Random(1)
    now = time.time()
    runs = [ten_step_run(WORKFLOWS[i % 10], TARGETS[i // 10 % 10], rng.random() < 0.1, now - i, rng)
            for i in range(args.inserts)]  # fmt: skip
    store = RunStore(tmp / "inserts")
    threads_cpu: list[float] = []
    add_seconds: list[float] = []
    lock = threading.Lock()

    def adder(part: list[Any]) -> None:
        started = time.thread_time()
        mine = []
        for run in part:
            while store._queue.qsize() > WRITE_QUEUE * 3 // 4:  # sustained: as fast as the writer takes them
                time.sleep(0.005)
            before = time.perf_counter()
            store.add(run)
            mine.append(time.perf_counter() - before)
        with lock:
            threads_cpu.append(time.thread_time() - started)
            add_seconds.extend(mine)

    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    workers = [threading.Thread(target=adder, args=(runs[i::4],)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    added = time.perf_counter() - wall_before
    store.flush(timeout=600)
    wall, cpu = time.perf_counter() - wall_before, cpu_seconds() - cpu_before
    size = store.size_bytes
    kept = len(store)
    store.close()
    count = len(runs)
    if kept != count:
        print(f"\n{count - kept} of {count} runs were not kept: the writer's queue ({WRITE_QUEUE}) was full")
    print(f"\n### Inserts: {count} runs of 10 steps (10 % failed, 100 pairs) from 4 threads\n")
    print("| runs/s into the database | add() in the run's thread, p50 / p99 | CPU ms per run: adding threads | "
          "CPU ms per run: whole process |")  # fmt: skip
    print("|---|---|---|---|")
    print(f"| {count / wall:.0f} | {percentile(add_seconds, 0.5) * 1e3:.2f} / {percentile(add_seconds, 0.99) * 1e3:.2f}"
          f" ms | {sum(threads_cpu) / count * 1e3:.2f} | {cpu / count * 1e3:.2f} |")  # fmt: skip
    print(f"\n({count} runs added in {added:.1f} s, all in the database after {wall:.1f} s; {size / 2**20:.1f} MiB.)")


# ------------------------------------------------------------------------------------------ 2. million


def build_million(directory: Path, total: int) -> float:
    """``total`` runs of 100 pairs over the last 7 days through bulk inserts; returns the seconds it took."""
    from exporter.store import RunStore, _encode, _record, normalise_message

    RunStore(directory).close()  # the schema, as the exporter makes it
    rng = random.Random(2)
    now = time.time()
    templates = []
    for index in range(40):
        run = ten_step_run(WORKFLOWS[index % 10], TARGETS[0], failed=index % 20 == 0, started_at=now, rng=rng)
        record = _record(run, "scheduled", None, weigh=False)
        templates.append((record.summary, *record.encode()))
    started = time.perf_counter()
    connection = sqlite3.connect(directory / "runs.db", isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    span = 7 * 86400
    batch, documents, bodies = [], [], []
    latest_success: dict[tuple[str, str], int] = {}
    for index in range(total):
        seq = index + 1
        workflow, target = WORKFLOWS[index % 10], TARGETS[index // 10 % 10]
        failed = rng.random() < 0.02
        template = templates[(index % 20) * 2 + (0 if failed else 1)]
        _, blob, body = template
        if failed and body is None:
            _, blob, body = templates[0]
        result = "failure" if failed else "success"
        started_at = now - span + span * index / total
        reason = ("http_status", "timeout", "connect", "assertion")[index % 4] if failed else None
        message = f"status {500 + index % 4}, expected 200" if failed else ""
        keep = failed
        if not failed:
            latest_success[(workflow, target)] = seq
        batch.append((seq, uuid.uuid4().hex, workflow, target, result, reason, "step-6" if failed else None, message,
                      normalise_message(message), "probe" if index % 5 == 0 else "scheduled", started_at,
                      rng.uniform(0.3, 1.5), None, int(keep), 0))  # fmt: skip
        documents.append((seq, blob))
        if keep:
            bodies.append((seq, body))
        if len(batch) >= 50_000 or index == total - 1:
            connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO runs (seq, id, workflow, target, result, reason, step, message, message_key, source, "
                "started_at, duration, replay_of, has_bodies, weight) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)  # fmt: skip
            connection.executemany("INSERT INTO documents (seq, summary) VALUES (?, ?)", documents)
            connection.executemany("INSERT INTO bodies (seq, data) VALUES (?, ?)", bodies)
            connection.execute("COMMIT")
            batch, documents, bodies = [], [], []
    success_body = templates[1][2] or _encode([])
    connection.execute("BEGIN")
    for seq_ in latest_success.values():
        connection.execute("UPDATE runs SET has_bodies = 1 WHERE seq = ?", (seq_,))
        connection.execute("INSERT INTO bodies (seq, data) VALUES (?, ?)", (seq_, success_body))
    connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return time.perf_counter() - started


def part_million(args: argparse.Namespace, tmp: Path) -> None:
    import requests
    from prometheus_client import CollectorRegistry

    from exporter.app import ExporterApp
    from exporter.server import HTTPServer
    from exporter.service import Exporter

    directory = tmp / "million"
    directory.mkdir()
    took = build_million(directory, args.million)
    size = (directory / "runs.db").stat().st_size
    config = tmp / "million.yml"
    lines = ["targets:"] + [f"  {t}: {{base_url: 'http://127.0.0.1:9'}}" for t in TARGETS] + ["workflows:"]
    for workflow in WORKFLOWS:
        lines += [f"  {workflow}:", f"    targets: [{', '.join(TARGETS)}]", "    interval: 1m", "    steps:"]
        lines += [f"      - {{name: step-{i}, http: {{path: /s{i}}}}}" for i in range(10)]
    config.write_text("\n".join(lines) + "\n")
    registry = CollectorRegistry()
    opened = time.perf_counter()
    exporter = Exporter(config, registry, storage_path=directory)
    opened = time.perf_counter() - opened
    server = HTTPServer(ExporterApp(exporter, registry), "127.0.0.1:0", registry=registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    session = requests.Session()
    sample = session.get(f"{server.url}/api/v1/runs", params={"limit": 500}, timeout=60).json()["data"]
    deep = sample["next_cursor"]
    for _ in range(200):  # a cursor far down the list
        deep = session.get(f"{server.url}/api/v1/runs", params={"limit": 500, "cursor": deep}, timeout=60).json()[
            "data"]["next_cursor"]  # fmt: skip
    failed_id = session.get(f"{server.url}/api/v1/runs", params={"result": "failure", "limit": 1},
                            timeout=60).json()["data"]["runs"][0]["id"]  # fmt: skip
    cases = [
        ("/ (100 pairs: status, 1h/24h ratios and p95, trends; 50 runs)", "/", {}),
        ("/failures (24 h)", "/failures", {}),
        ("/failures?window=7d", "/failures", {"window": "7d"}),
        ("/api/v1/runs", "/api/v1/runs", {}),
        ("/api/v1/runs?workflow=&target= (one pair)", "/api/v1/runs", {"workflow": "journey-3", "target": "shop-7"}),
        ("/api/v1/runs?result=failure", "/api/v1/runs", {"result": "failure"}),
        ("/api/v1/runs?reason=connect&source=probe", "/api/v1/runs", {"reason": "connect", "source": "probe"}),
        ("/api/v1/runs?source=replay (none: every row read)", "/api/v1/runs", {"source": "replay"}),
        ("/api/v1/runs?cursor= (100 000 runs down)", "/api/v1/runs", {"cursor": deep}),
        ("/api/v1/workflows", "/api/v1/workflows", {}),
        ("/api/v1/failures", "/api/v1/failures", {}),
        ("/runs/<id> (a failed run with its bodies)", f"/runs/{failed_id}", {}),
    ]
    print(f"\n### {args.million:,} stored runs (100 pairs, 7 days, 2 % failed)\n")
    print(f"Built with bulk inserts in {took:.0f} s; the database is {size / 2**30:.2f} GiB "
          f"({size / args.million:.0f} bytes per run); the exporter opened it in {opened:.2f} s.\n")  # fmt: skip
    print(f"| request | ms, first | ms, median of {args.requests} | ms, p95 | bytes |")
    print("|---|---|---|---|---|")
    for label, path, params in cases:
        exporter.store._windows_cache.clear()  # the first request of each row computes the pairs' windows
        times, length = [], 0
        for _ in range(args.requests):
            before = time.perf_counter()
            response = session.get(f"{server.url}{path}", params=params, timeout=120)
            times.append(time.perf_counter() - before)
            assert response.status_code == 200, (path, response.status_code, response.text[:200])
            length = len(response.content)
        print(f"| `{label}` | {times[0] * 1e3:.1f} | {statistics.median(times) * 1e3:.1f} | "
              f"{percentile(times, 0.95) * 1e3:.1f} | {length:,} |")  # fmt: skip
    server.stop()
    thread.join(10)
    exporter.stop()


# --------------------------------------------------------------------------------------------- 3. size


def part_size(args: argparse.Namespace, tmp: Path) -> None:
    from exporter.store import RunStore

    rng = random.Random(3)
    now = time.time()
    rows = []
    for label, failed in (("failed runs: heads and bodies kept", True), ("successful runs of one pair: summary "
                                                                          "only but the latest", False)):  # fmt: skip
        store = RunStore(tmp / f"size-{failed}")
        empty = store.size_bytes
        for index in range(1000):
            store.add(ten_step_run(WORKFLOWS[0], TARGETS[0], failed, now - index, rng))
        store.flush(timeout=300)
        rows.append((label, store.size_bytes - empty))
        store.close()
    print("\n### Store size per 1000 runs of 10 steps\n")
    print("| runs | database bytes per 1000 runs | per run |")
    print("|---|---|---|")
    for label, size in rows:
        print(f"| {label} | {size / 2**20:.2f} MiB | {size / 1000 / 1024:.1f} KiB |")


# ------------------------------------------------------------------------------------------ 4. streams


class StreamClients:
    """``count`` Server-Sent Event clients on plain sockets, all read by one selector thread."""

    def __init__(self, url: str, count: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sockets = []
        self.events = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(f"GET /api/v1/stream HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = sock.recv(4096)
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise SystemExit(f"a stream was refused: {head[:200]!r}")
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
            self.sockets.append(sock)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                with contextlib.suppress(BlockingIOError):
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    self.bytes += len(data)
                    self.events += data.count(b"event: run")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def stream_phase(prometheus: Any, exporter_url: str, pid: int, seconds: float) -> dict[str, float]:
    import requests

    cpu_before = common.proc_cpu(pid)
    time.sleep(seconds)
    cpu = common.proc_cpu(pid) - cpu_before
    window = f"{int(seconds)}s"
    figures: dict[str, float] = {"cpu": cpu / seconds}
    for job in ("exporter", "probe"):
        for q in (0.5, 0.95):
            found = prometheus.query(f'quantile_over_time({q}, scrape_duration_seconds{{job="{job}"}}[{window}])')
            figures[f"{job}-{q}"] = float(found[0]["value"][1]) if found else float("nan")
    session = requests.Session()
    for name, path in (("metrics", "/metrics"), ("probe", "/probe?target=local&workflow=w0")):
        times = []
        for _ in range(50):
            before = time.perf_counter()
            session.get(f"{exporter_url}{path}", timeout=30).raise_for_status()
            times.append(time.perf_counter() - before)
        figures[f"client-{name}-0.5"] = statistics.median(times)
        figures[f"client-{name}-0.95"] = percentile(times, 0.95)
    return figures


def part_streams(args: argparse.Namespace, tmp: Path) -> None:
    from tests.harness import start_prometheus

    target, target_url = common.start_target(tmp)
    port = common.free_port()
    config = tmp / "streams.yml"
    every_second = common.ours_config(target_url, ["w0", "w1", "w2", "w3"]).replace("interval: 1h", "interval: 1s")
    config.write_text(every_second.replace("timeout: 5s", "timeout: 1s"))
    exporter = common.start_process(
        [sys.executable, "-m", "exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.path={tmp / 'streams-data'}", f"--web.max-streams={args.streams}"], tmp / "exporter.log",
        cwd=REPO,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    prometheus = None
    clients = None
    try:
        common.wait_http(f"{url}/-/healthy", exporter, "the exporter")
        address = f"127.0.0.1:{port}"
        prometheus = start_prometheus(tmp / "prometheus", [
            {"job_name": "exporter", "static_configs": [{"targets": [address]}]},
            {"job_name": "probe", "metrics_path": "/probe", "params": {"target": ["local"], "workflow": ["w1"]},
             "static_configs": [{"targets": [address]}]},
        ])  # fmt: skip
        prometheus.wait_for_target_up("exporter")
        prometheus.wait_for_target_up("probe")
        quiet = stream_phase(prometheus, url, exporter.pid, args.phase)
        clients = StreamClients(url, args.streams)
        events_before = clients.events
        busy = stream_phase(prometheus, url, exporter.pid, args.phase)
        events = clients.events - events_before
    finally:
        if clients is not None:
            clients.close()
        if prometheus is not None:
            prometheus.stop()
        common.stop_process(exporter)
        common.stop_process(target)
    print(f"\n### {args.streams} open event streams while Prometheus scrapes every second ({args.phase:.0f} s each)\n")
    print(f"With the streams open, {events} run events reached the {args.streams} clients "
          f"({events / args.streams / args.phase:.1f} per client per second).\n")  # fmt: skip
    print("| | scrape /metrics p50 / p95 ms (Prometheus) | scrape /probe p50 / p95 ms (Prometheus) | "
          "/metrics p50 / p95 ms (client) | /probe p50 / p95 ms (client) | exporter CPU |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for label, f in (("no streams", quiet), (f"{args.streams} streams", busy)):
        cells = [f"{f[f'{name}-0.5'] * 1e3:.1f} / {f[f'{name}-0.95'] * 1e3:.1f}"
                 for name in ("exporter", "probe", "client-metrics", "client-probe")]  # fmt: skip
        print(f"| {label} | {' | '.join(cells)} | {f['cpu'] * 100:.0f} % |")


# ----------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--inserts", type=int, default=20_000, help="runs added in the inserts part")
    parser.add_argument("--million", type=int, default=1_000_000, help="runs in the big store")
    parser.add_argument("--requests", type=int, default=20, help="requests per page or endpoint")
    parser.add_argument("--streams", type=int, default=50, help="open event streams")
    parser.add_argument("--phase", type=float, default=30.0, help="seconds of each streams phase")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    print(f"CPU: {common.cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
          f"SQLite {sqlite3.sqlite_version}")  # fmt: skip
    with workdir(args.keep) as tmp:
        for part in PARTS:
            if part in args.only:
                globals()[f"part_{part}"](args, tmp)


if __name__ == "__main__":
    main()
