"""Scheduling and memory at scale: real exporter processes, a real Prometheus, a local target process.

Run from the repository root::

    .venv/bin/python benchmarks/scale.py                # the full run: 10 minutes per scheduling part
    .venv/bin/python benchmarks/scale.py --duration 60  # a smoke run

Everything it needs it starts itself on 127.0.0.1 (free ports, a temp dir) and stops at the end; it prints
Markdown tables. Three measurements (``--only`` picks some):

1. ``one``: one exporter (``python -m exporter``'s entry point, ``--storage.path`` on disk) with ``--pairs``
   (default 1000: 100 one-step ``http`` workflows x 10 targets, the config of
   ``exporter_throughput.scrape_config`` at ``interval: 30s``) against the tiny target server of
   ``exporter_throughput`` (its own process), scraped by Debian's ``prometheus`` every 15 s (timeout 10 s)
   for ``--duration`` seconds. Reported: each run's lateness against its schedule (the scheduler's DEBUG line
   ``lateness_seconds``: how long after its due time the run started in a worker; the exporter runs with the
   ``exporter.scheduler`` logger at DEBUG, everything else as by default), runs per pair per interval from the
   run store (``runs.db``: every scheduled run's ``started_at``), the exporter's CPU (cores used) and RSS over
   time from ``/proc``, and from Prometheus' HTTP API every ``scrape_duration_seconds`` and ``up`` sample of
   the exporter's job.
2. ``shards``: ``--shard-pairs`` (default 10 000: 1000 workflows x 10 targets) over ``--replicas`` exporters
   (``--shard=i/n``), each with its own store, all scraped by the same Prometheus; the same figures, summed
   over the replicas (every pair must run on exactly one replica, once per interval).
3. ``memory``: RSS (``VmRSS``) of an exporter process idle after start-up with 1, 1000 and 10 000 pairs
   configured (interval 1 h: each pair has run once, then nothing is due), and of an in-process ``Exporter``
   (the store on disk) after 1000, 10 000 and 100 000 ``run_scheduled()`` calls against the target.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (REPO, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import exporter_throughput as bench  # noqa: E402  (the helpers: target server, ports, processes, /proc)

PARTS = ["one", "shards", "memory"]
INTERVAL = 30.0
JITTER = 0.1  # the scheduler's default: each interval is drawn from interval x (1 +- 0.1)
SCRAPE_INTERVAL, SCRAPE_TIMEOUT = "15s", "10s"
# The exporter's own entry point, with each run's lateness logged (exporter.scheduler at DEBUG); the rest of the
# logging is the default (INFO, one JSON line per run).
EXPORTER = (
    "import logging, sys; logging.getLogger('exporter.scheduler').setLevel(logging.DEBUG); "
    "from exporter._entry import main; sys.exit(main())"
)


def pairs_config(pairs: int, target_url: str, interval: str = "30s") -> str:
    """``pairs`` one-step ``http`` pairs: pairs / 10 workflows x 10 targets, all on the local target server."""
    targets = min(10, pairs)
    text = bench.scrape_config(max(1, pairs // targets), 1, targets)
    return text.replace("http://127.0.0.1:9/", f"{target_url}/").replace("interval: 1m", f"interval: {interval}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    return bench.percentile(values, q) if values else float("nan")


def summary(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    if not values:
        return "-"
    return " / ".join(f"{pct(values, q) * scale:.{digits}f}" for q in (0.5, 0.99)) + (
        f" / {max(values) * scale:.{digits}f}"
    )


# ----------------------------------------------------------------------------------------------- replicas


@dataclass
class Replica:
    index: int
    process: subprocess.Popen[bytes]
    url: str
    store: Path
    log: Path
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (monotonic, cpu s, rss MiB)


def start_exporters(tmp: Path, config: Path, replicas: int, name: str) -> list[Replica]:
    started = []
    for i in range(replicas):
        port = bench.free_port()
        store, log = tmp / f"{name}-store-{i}", tmp / f"{name}-{i}.log"
        args = [sys.executable, "-c", EXPORTER, "--config.file", str(config),
                "--web.listen-address", f"127.0.0.1:{port}", "--storage.path", str(store), "--log.file", str(log),
                "--shard", f"{i}/{replicas}"]  # fmt: skip
        process = bench.start_process(args, tmp / f"{name}-{i}.out", cwd=REPO)
        started.append(Replica(i, process, f"http://127.0.0.1:{port}", store, log))
    for replica in started:
        bench.wait_http(f"{replica.url}/-/healthy", replica.process, f"exporter {replica.index}", timeout=300)
    return started


def sample(replicas: list[Replica]) -> None:
    now = time.monotonic()
    for replica in replicas:
        replica.samples.append((now, bench.proc_cpu(replica.process.pid), rss_mib(replica.process.pid)))


def lateness_of(log: Path) -> list[tuple[float, float]]:
    """(unix time, lateness seconds) of every run the scheduler started, from the exporter's JSON log."""
    found = []
    with log.open(encoding="utf-8") as lines:
        for line in lines:
            if "lateness_seconds" not in line:
                continue
            record = json.loads(line)
            when = datetime.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
            found.append((when, float(record["lateness_seconds"])))
    return found


def stored_runs(store: Path) -> list[tuple[str, str, float]]:
    connection = sqlite3.connect(f"file:{store / 'runs.db'}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT workflow, target, started_at FROM runs WHERE source = 'scheduled' ORDER BY started_at"
        ).fetchall()
    finally:
        connection.close()
    return [(str(w), str(t), float(s)) for w, t, s in rows]


def prometheus_samples(prometheus: Any, expr: str, seconds: float) -> list[float]:
    data = prometheus.api("query", query=f"{expr}[{int(seconds)}s]", time=f"{time.time():.3f}")
    return [float(value) for series in data["result"] for _, value in series["values"]]


def schedule_part(args: argparse.Namespace, tmp: Path, pairs: int, replicas: int, name: str) -> dict[str, Any]:
    from tests.harness import start_prometheus

    config = tmp / f"{name}.yml"
    config.write_text(pairs_config(pairs, args.target_url))
    began_wall = time.time()
    exporters = start_exporters(tmp, config, replicas, name)
    ready = time.time() - began_wall
    prometheus = None
    try:
        job = {"job_name": "exporter", "scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_TIMEOUT,
               "static_configs": [{"targets": [r.url.removeprefix("http://") for r in exporters]}]}  # fmt: skip
        prometheus = start_prometheus(tmp / f"{name}-prometheus", [job], scrape_interval=SCRAPE_INTERVAL,
                                      evaluation_interval=SCRAPE_INTERVAL)  # fmt: skip
        target_cpu0 = bench.proc_cpu(args.target_pid)
        window_from = time.time()
        stop_at = time.monotonic() + args.duration
        print(f"{name}: {pairs} pairs on {replicas} replica(s) up in {ready:.0f} s; measuring", file=sys.stderr)
        while True:
            sample(exporters)
            left = stop_at - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(args.sample_every, left))
        window_to = time.time()
        target_cpu = bench.proc_cpu(args.target_pid) - target_cpu0
        span = window_to - window_from
        scrape = prometheus_samples(prometheus, 'scrape_duration_seconds{job="exporter"}', span)
        up = prometheus_samples(prometheus, 'up{job="exporter"}', span)
        samples_scraped = prometheus_samples(prometheus, 'scrape_samples_scraped{job="exporter"}', span)
        skipped = prometheus.query('sum(workflow_exporter_skipped_runs_total{job="exporter"})')
    finally:
        if prometheus is not None:
            prometheus.stop()
        for replica in exporters:
            bench.stop_process(replica.process)

    runs = [run for replica in exporters for run in stored_runs(replica.store)]
    lateness = [item for replica in exporters for item in lateness_of(replica.log)]
    return {
        "pairs": pairs, "replicas": replicas, "ready": ready, "began": began_wall, "from": window_from,
        "to": window_to, "runs": runs, "lateness": lateness, "exporters": exporters, "scrape": scrape, "up": up,
        "samples_scraped": samples_scraped, "target_cpu": target_cpu,
        "skipped": float(skipped[0]["value"][1]) if skipped else 0.0,
    }  # fmt: skip


def report_schedule(result: dict[str, Any], title: str) -> None:
    pairs, replicas = result["pairs"], result["replicas"]
    exporters: list[Replica] = result["exporters"]
    # Counted from one interval after start-up (the first runs are spread over 2 s, the schedule then settles)
    # to the end; runs per pair per interval = runs in the window / pairs / (window / interval).
    start = max(result["from"], result["began"] + INTERVAL)
    end = result["to"]
    window = end - start
    per_pair: dict[tuple[str, str], list[float]] = defaultdict(list)
    for workflow, target, started in result["runs"]:
        per_pair[(workflow, target)].append(started)
    counted = {key: [t for t in times if start <= t < end] for key, times in per_pair.items()}
    counts = [len(times) for times in counted.values()] + [0] * (pairs - len(counted))
    gaps = [b - a for times in per_pair.values() for a, b in itertools.pairwise(times) if a >= start - INTERVAL]
    limit = INTERVAL * (1 + JITTER)
    late_gaps = sum(1 for gap in gaps if gap > limit + 1.0)
    expected = window / INTERVAL
    lateness = [late for when, late in result["lateness"] if start <= when < end]
    first = [late for when, late in result["lateness"] if when < result["began"] + INTERVAL]

    print(f"\n### {title}\n")
    print(
        f"{pairs} pairs (one-step `http` workflows x 10 targets, `interval: 30s`) on {replicas} exporter "
        f"process(es), the store on disk, against one local target process; Prometheus 2.42 scraping every "
        f"exporter every {SCRAPE_INTERVAL} (timeout {SCRAPE_TIMEOUT}). Measured for "
        f"{result['to'] - result['from']:.0f} s "
        f"after every exporter answered (start-up took {result['ready']:.1f} s); runs and lateness are counted "
        f"from one interval after start-up, over {window:.0f} s ({expected:.1f} intervals).\n"
    )
    print("| figure | value |")
    print("|---|--:|")
    print(f"| scheduled runs in the window | {sum(counts)} |")
    print(f"| runs per pair per interval (mean) | **{sum(counts) / pairs / expected:.3f}** |")
    print(f"| runs per pair in the window: min / median / max (expected {expected:.1f} +- 1) | "
          f"{min(counts)} / {statistics.median(counts):.0f} / {max(counts)} |")  # fmt: skip
    print(f"| pairs that never ran | {pairs - len(per_pair)} |")
    print(f"| gap between a pair's runs: p50 / p99 / max s (the jitter allows 27-33 s) | {summary(gaps, digits=2)} |")
    print(f"| gaps over {limit:.0f} s + 1 s | **{late_gaps}** of {len(gaps)} |")
    print(f"| runs skipped (the pair's previous run still going) | {result['skipped']:.0f} |")
    print(f"| lateness of each run, p50 / p99 / max ms ({len(lateness)} runs) | **{summary(lateness, 1000, 1)}** |")
    print(
        f"| lateness of the first runs (start-up, {len(first)} runs), p50 / p99 / max ms | {summary(first, 1000, 1)} |"
    )
    scrape, up = result["scrape"], result["up"]
    print(f"| `scrape_duration_seconds`, p50 / p99 / max s ({len(scrape)} scrapes) | **{summary(scrape)}** |")
    print(f"| scrapes over the {SCRAPE_TIMEOUT} timeout (`up == 0` samples) | **{sum(1 for v in up if v == 0)}** |")
    if result["samples_scraped"]:
        print(f"| samples per scrape (per replica, max) | {max(result['samples_scraped']):.0f} |")
    total_cpu = sum(r.samples[-1][1] - r.samples[0][1] for r in exporters)
    span = exporters[0].samples[-1][0] - exporters[0].samples[0][0]
    runs_all = sum(1 for _, _, t in result["runs"] if result["from"] <= t < result["to"])
    print(f"| exporter CPU, cores used (all replicas) | **{total_cpu / span:.3f}** |")
    if runs_all:
        print(f"| exporter CPU per run, scrapes included | {total_cpu / runs_all * 1000:.2f} ms |")
    print(f"| target server CPU, cores used | {result['target_cpu'] / span:.3f} |")
    print(f"| exporter RSS at the end, MiB (sum over replicas) | {sum(r.samples[-1][2] for r in exporters):.0f} |")

    print("\nOver time (each row: the minute before it; CPU summed over the replicas, RSS their sum):\n")
    print("| minute | exporter cores used | RSS MiB | runs started | lateness p50 / p99 / max ms |")
    print("|--:|--:|--:|--:|--:|")
    samples = list(zip(*(r.samples for r in exporters), strict=True))
    step = max(1, round(60 / max(1e-9, samples[1][0][0] - samples[0][0][0]))) if len(samples) > 1 else 1
    marks = list(range(0, len(samples), step))
    if marks[-1] != len(samples) - 1:
        marks.append(len(samples) - 1)
    wall0 = result["from"]
    for a, b in itertools.pairwise(marks):
        first_s, last_s = samples[a], samples[b]
        seconds = last_s[0][0] - first_s[0][0]
        cpu = sum(y[1] - x[1] for x, y in zip(first_s, last_s, strict=True))
        t0, t1 = wall0 + (first_s[0][0] - samples[0][0][0]), wall0 + (last_s[0][0] - samples[0][0][0])
        late = [v for when, v in result["lateness"] if t0 <= when < t1]
        print(f"| {(last_s[0][0] - samples[0][0][0]) / 60:.1f} | {cpu / seconds:.3f} | "
              f"{sum(x[2] for x in last_s):.0f} | {len(late)} | {summary(late, 1000, 1)} |")  # fmt: skip
    if replicas > 1:
        print("\nPer replica:\n")
        print("| replica | pairs run | cores used | RSS MiB at the end |")
        print("|--:|--:|--:|--:|")
        owned: dict[int, set[tuple[str, str]]] = {}
        for replica in exporters:
            owned[replica.index] = {(w, t) for w, t, _ in stored_runs(replica.store)}
            cpu = replica.samples[-1][1] - replica.samples[0][1]
            print(
                f"| {replica.index} | {len(owned[replica.index])} | {cpu / span:.3f} | {replica.samples[-1][2]:.0f} |"
            )
        overlap = sum(len(a & b) for i, a in owned.items() for j, b in owned.items() if i < j)
        print(
            f"\nPairs run by more than one replica: {overlap}; pairs run by none: "
            f"{pairs - len(set().union(*owned.values()))}."
        )


# -------------------------------------------------------------------------------------------------- memory


def idle_rss(tmp: Path, pairs: int, target_url: str) -> dict[str, float]:
    """An exporter with ``pairs`` configured at 1 h intervals: RSS once its first runs are done and it is idle."""
    config = tmp / f"memory-{pairs}.yml"
    config.write_text(pairs_config(pairs, target_url, interval="1h"))
    began = time.monotonic()
    [replica] = start_exporters(tmp, config, 1, f"memory-{pairs}")
    try:
        ready = time.monotonic() - began
        rss_ready = rss_mib(replica.process.pid)
        previous = bench.proc_cpu(replica.process.pid)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # idle: under 2 % of a core over 3 s (the first runs are done)
            time.sleep(3)
            cpu = bench.proc_cpu(replica.process.pid)
            if cpu - previous < 0.06:
                break
            previous = cpu
        settled = time.monotonic() - began
        gc_rss = rss_mib(replica.process.pid)
    finally:
        bench.stop_process(replica.process)
    runs = len(stored_runs(replica.store))
    return {"pairs": pairs, "ready": ready, "rss_ready": rss_ready, "rss": gc_rss, "settled": settled, "runs": runs}


def child_store_memory(args: argparse.Namespace) -> dict[str, Any]:
    """RSS of an in-process ``Exporter`` (store on disk) as stored runs grow: the first ``--real-runs`` through
    ``run_scheduled()`` against the target, the rest copies of those runs (a new ID and start time each) through
    the same ``store.add()`` + ``metrics.record()`` that ``run_scheduled()`` ends with: 100 000 real runs would
    take 20 minutes on a loaded 2-core machine, and the run's HTTP part keeps nothing."""
    import dataclasses

    from prometheus_client import CollectorRegistry

    from exporter.service import Exporter
    from synthetic.ids import new_id

    with tempfile.TemporaryDirectory(prefix="exporter-scale-store-") as tmp:
        config = Path(tmp) / "one.yml"
        config.write_text(bench.ours_config(args.target_url, ["http"]))
        store = Path(tmp) / "store"
        exporter = Exporter(config, CollectorRegistry(), storage_path=store)
        workflow, target = exporter.config.workflows["http"], exporter.config.targets["local"]
        points: list[dict[str, Any]] = []
        templates: list[Any] = []

        def measure(done: int, seconds: float) -> None:
            exporter.store.flush(timeout=600)
            gc.collect()
            points.append({"runs": done, "rss": bench.vm_rss_mib(), "seconds": seconds, "stored": len(exporter.store),
                           "disk": exporter.store.size_bytes / 2**20})  # fmt: skip

        measure(0, 0.0)
        done, failed, elapsed = 0, 0, 0.0
        for goal in args.store_runs:
            began = time.perf_counter()
            while done < goal:
                if done < args.real_runs:
                    run = exporter.run_scheduled(workflow, target)
                    templates.append(run)
                else:
                    template = templates[done % len(templates)]
                    run = dataclasses.replace(template, correlation_id=new_id(), started_at=time.time())
                    exporter.store.add(run, source="scheduled")
                    exporter.metrics.record(run)
                    if done % 1000 == 0:  # the writer's queue holds 2000 runs; a run beyond it is not stored
                        exporter.store.flush(timeout=600)
                failed += not run.success
                done += 1
            elapsed += time.perf_counter() - began
            measure(done, elapsed)
        exporter.stop()
    return {"points": points, "failed": failed}


def part_memory(args: argparse.Namespace, tmp: Path) -> None:
    idle = [idle_rss(tmp, pairs, args.target_url) for pairs in args.memory_pairs]
    print("memory: idle exporters measured; storing runs", file=sys.stderr)
    runs = [str(n) for n in args.store_runs]
    command = [sys.executable, str(Path(__file__).resolve()), "--child-store", "--target-url", args.target_url,
               "--store-runs", *runs, "--real-runs", str(args.real_runs)]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit("the store memory child failed")
    store = json.loads(done.stdout.strip().splitlines()[-1])

    print("\n### 3. Memory\n")
    print(
        "RSS per configured pair: an exporter process (the store on disk) with the pairs at `interval: 1h`, "
        "measured once each pair has run once and the process is idle (under 2 % of a core over 3 s). The "
        "smallest config holds 1 pair (a config needs one workflow).\n"
    )
    print(
        "| pairs configured | up in s | RSS MiB when up | idle after s | runs stored | **RSS MiB idle** "
        "| RSS per pair over 1 pair |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|")
    base = idle[0]
    for row in idle:
        per = (
            (row["rss"] - base["rss"]) / (row["pairs"] - base["pairs"]) * 1024 if row["pairs"] > base["pairs"] else None
        )
        print(f"| {row['pairs']} | {row['ready']:.1f} | {row['rss_ready']:.0f} | {row['settled']:.0f} | "
              f"{row['runs']} | **{row['rss']:.0f}** | {f'{per:.1f} KiB' if per is not None else '-'} |")  # fmt: skip
    print(
        "\nRSS per stored run: an in-process `Exporter` (a fresh child process, the run store on disk in a temp "
        "dir, default retention: every run kept on disk) with one one-step `http` workflow: the first "
        f"{args.real_runs} runs are `run_scheduled()` back to back against the target process, the rest copies of "
        "them (a new ID and start time each) through the same `store.add()` + `metrics.record()` that "
        "`run_scheduled()` ends with, the writer flushed every 1000 runs (its queue holds 2000). The writer is "
        "flushed and `gc.collect()` run before each reading; ms per run is the mean up to that row.\n"
    )
    print("| runs | **RSS MiB** | runs in the store | store on disk MiB | ms per run |")
    print("|--:|--:|--:|--:|--:|")
    for p in store["points"]:
        per_run = f"{p['seconds'] / p['runs'] * 1000:.2f}" if p["runs"] else "-"
        print(f"| {p['runs']} | **{p['rss']:.1f}** | {p['stored']} | {p['disk']:.1f} | {per_run} |")
    points = store["points"]
    if len(points) >= 3:
        print(
            f"\nRSS from {points[1]['runs']} to {points[-1]['runs']} stored runs: "
            f"{points[-1]['rss'] - points[1]['rss']:+.1f} MiB "
            f"({(points[-1]['rss'] - points[1]['rss']) * 2**20 / (points[-1]['runs'] - points[1]['runs']):.1f} bytes "
            f"per run); failed runs: {store['failed']}; runs not stored: {points[-1]['runs'] - points[-1]['stored']}."
        )


# ------------------------------------------------------------------------------------------------ profile


def run_profile(args: argparse.Namespace, tmp: Path) -> None:
    """cProfile of ``--profile`` scheduled runs in-process: an ``Exporter`` (store on disk) with ``--pairs`` pairs,
    ``run_scheduled()`` over them in turn against the target process, then one OpenMetrics ``/metrics`` render."""
    import cProfile
    import io
    import pstats

    from prometheus_client import CollectorRegistry

    from exporter.service import Exporter

    config = tmp / "profile.yml"
    config.write_text(pairs_config(args.pairs, args.target_url))
    registry = CollectorRegistry()
    exporter = Exporter(config, registry, storage_path=tmp / "profile-store")
    pairs = exporter.owned_pairs(exporter.config)
    try:
        for workflow, target in pairs[:200]:  # warm-up: sessions, first series
            exporter.run_scheduled(workflow, target)
        began_cpu, began = time.process_time(), time.perf_counter()
        for i in range(args.profile):
            exporter.run_scheduled(*pairs[i % len(pairs)])
        cpu_ms = (time.process_time() - began_cpu) / args.profile * 1000
        wall_ms = (time.perf_counter() - began) / args.profile * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(args.profile):
            exporter.run_scheduled(*pairs[i % len(pairs)])
        profiler.disable()
    finally:
        exporter.stop()
    print(
        f"\n### Where a scheduled run's CPU goes ({args.pairs} pairs configured, {args.profile} runs)\n\n"
        f"Without the profiler: {cpu_ms:.2f} ms CPU (every thread of this process, the store's writer included) "
        f"and {wall_ms:.2f} ms wall per `run_scheduled()`. cProfile (wall clock, this thread) of {args.profile} "
        "more runs, top functions by own time and by cumulative time:\n"
    )
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(args.profile_top)
    stats.sort_stats("cumulative").print_stats(args.profile_top)
    print("```\n" + out.getvalue().strip() + "\n```")


# ------------------------------------------------------------------------------------------------- driver


def prometheus_version() -> str:
    done = subprocess.run(["prometheus", "--version"], capture_output=True, text=True, check=False)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "prometheus (version unknown)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these measurements")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds each scheduling part is measured")
    parser.add_argument("--pairs", type=int, default=1000, help="pairs of the one-replica part")
    parser.add_argument("--shard-pairs", type=int, default=10000, help="pairs spread over the replicas")
    parser.add_argument("--replicas", type=int, default=4, help="exporter processes of the sharded part")
    parser.add_argument("--sample-every", type=float, default=15.0, help="seconds between CPU/RSS readings")
    parser.add_argument("--memory-pairs", type=int, nargs="+", default=[1, 1000, 10000])
    parser.add_argument("--store-runs", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--real-runs", type=int, default=1000, help="stored runs that are real runs; the rest copies")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile N in-process scheduled runs instead")
    parser.add_argument("--profile-top", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, stores)")
    parser.add_argument("--child-store", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_store:
        print(json.dumps(child_store_memory(args)))
        return
    parts = args.only or PARTS
    with bench.workdir(args.keep) as tmp:
        started = time.monotonic()
        target, args.target_url = bench.start_target(tmp)
        args.target_pid = target.pid
        try:
            if args.profile:
                run_profile(args, tmp)
                return
            print("## Scheduling and memory at scale\n")
            print(
                f"Machine: {os.cpu_count()} CPUs ({bench.cpu_model()}), load average before the run "
                f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}, Python {platform.python_version()}, "
                f"{prometheus_version()}"
            )
            if "one" in parts:
                result = schedule_part(args, tmp, args.pairs, 1, "one")
                report_schedule(result, f"1. Scheduling: {args.pairs} pairs on one exporter")
            if "shards" in parts:
                result = schedule_part(args, tmp, args.shard_pairs, args.replicas, "shards")
                report_schedule(
                    result,
                    f"2. Scheduling: {args.shard_pairs} pairs over {args.replicas} replicas "
                    f"(`--shard=i/{args.replicas}`)",
                )
            if "memory" in parts:
                part_memory(args, tmp)
            print(f"\nLoad average after the run: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"Total time: {time.monotonic() - started:.0f} s")
        finally:
            bench.stop_process(target)


if __name__ == "__main__":
    main()
