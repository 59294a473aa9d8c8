"""The browser side's costs: the npm package's size and per-call overhead in Chromium, a browser journey's CPU and
memory per run next to an ``http`` journey of the same path, and how many browser runs per minute two cores
sustain.

Run from the repository root (Node.js 20.9+, Chromium and the browser extra; ``make bench`` runs it)::

    .venv/bin/python benchmarks/browser.py [--only size,overhead,journey,throughput] [--runs 5] [--seconds 60]

1. ``size``: each entry point and typical import of ``@workflow-exporter/browser`` bundled, minified and gzipped
   with what it pulls in (``js/scripts/size.mjs``: esbuild, web-vitals included, react and next left out).
2. ``overhead``: in Chromium (Playwright, the distribution's browser), on a page of a routed origin, N calls of a
   fetch stub that answers at once, plain and through ``correlatedFetch`` (ID, traceparent, headers, the call's
   record), and N ``LogClient.log`` calls (a beacon stub): microseconds per call, the median of five rounds.
3. ``journey``: the shipped ``storefront-buy`` journey (8 browser steps) run back to back with
   ``synthetic.runner.run_workflow`` against the demo shop (gunicorn, SQLite) and the storefront (``next start``),
   next to an ``http`` workflow making the same API calls (sign in, list, product, add, cart, checkout, orders,
   cancel). CPU seconds per run of this process and of its children (the Playwright driver and Chromium's
   processes), from ``/proc/<pid>/stat``; memory as the tree's PSS (``/proc/<pid>/smaps_rollup``), sampled.
   The shop and the storefront run in their own processes and are not counted (they are the target).
4. ``throughput``: the browser journey in 1 and 2 threads (the default pool of two browsers) for ``--seconds``:
   successful runs per minute, while the shop, the storefront and Chromium share the machine's cores.
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
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthetic.config import Config, load_config, parse_config  # noqa: E402
from synthetic.runner import run_workflow  # noqa: E402
from synthetic.steps import browser as browser_steps  # noqa: E402
from tests.harness import ShopServer, free_port, start_shop  # noqa: E402
from tests.harness.shop import PROBE_PASSWORD  # noqa: E402
from tests.harness.storefront import StorefrontServer, build_storefront, require_node, start_storefront  # noqa: E402

USER = "probe-browser"
TICKS = os.sysconf("SC_CLK_TCK")

HTTP_JOURNEY = """
targets:
  shop:
    base_url: {shop}
    credentials: {{browser: {{username: {user}, password: "{password}"}}}}
workflows:
  http-buy:
    targets: [shop]
    timeout: 30s
    steps:
      - name: sign-in
        http: {{method: POST, path: /api/auth/token/, json: {{username: "${{credentials.browser.username}}",
                                                              password: "${{credentials.browser.password}}"}}}}
        extract: {{access: {{json: access}}}}
      - name: products
        http: {{path: /api/products/}}
      - name: product
        http: {{path: /api/products/3/}}
      - name: add
        http: {{method: POST, path: /api/cart/items/, headers: {{Authorization: "Bearer ${{access}}"}},
               json: {{product_id: 3, quantity: 1}}}}
        expect: {{status: 201}}
      - name: cart
        http: {{path: /api/cart/, headers: {{Authorization: "Bearer ${{access}}"}}}}
      - name: checkout
        http: {{method: POST, path: /api/checkout/, headers: {{Authorization: "Bearer ${{access}}"}}}}
        expect: {{status: 201}}
        extract: {{order_id: {{json: id}}}}
      - name: orders
        http: {{path: /api/orders/, headers: {{Authorization: "Bearer ${{access}}"}}}}
      - name: cancel
        always_run: true
        http: {{method: DELETE, path: "/api/orders/${{order_id}}/", headers: {{Authorization: "Bearer ${{access}}"}}}}
        expect: {{status: 204}}
"""


EXCLUDED: set[int] = set()  # the target's processes (shop, storefront): children of this one, not counted


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants, alive now, without EXCLUDED and theirs."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        if current in EXCLUDED:
            continue
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int], with_reaped: bool = True) -> float:
    """utime + stime of the processes (and, with_reaped, of their children already waited for)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if with_reaped else 0)
    return total / TICKS


def pss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


@contextmanager
def peak_memory(pids: Callable[[], list[int]]) -> Iterator[dict[str, int]]:
    """The peak PSS of ``pids()`` while the block runs (sampled every 0.2 s)."""
    peak = {"pss": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["pss"] = max(peak["pss"], pss_bytes(pids()))
            done.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def build_package() -> None:
    """The npm package installed from its lockfile and built (``js/dist``), as ``make test``'s js-test does, so a
    fresh clone measures what it ships; ``npm ci`` only when the lockfile is newer than the installed tree."""
    require_node()
    js = ROOT / "js"
    installed = js / "node_modules" / ".package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < (js / "package-lock.json").stat().st_mtime:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=js, check=True, timeout=900)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=js, check=True, timeout=900)


def size() -> list[dict[str, Any]]:
    output = subprocess.run(["node", "scripts/size.mjs", "--json"], cwd=ROOT / "js", capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    rows: list[dict[str, Any]] = json.loads(output)
    print("\n### Package size (esbuild, minified; gzip -9)\n")
    print("| import | minified | gzipped |\n|---|---:|---:|")
    for row in rows:
        print(f"| {row['name']} | {row['minified'] / 1024:.1f} KiB | {row['gzipped'] / 1024:.1f} KiB |")
    return rows


OVERHEAD_SCRIPT = """
async ([n]) => {
  const headers = { "X-Request-ID": "x".repeat(32) };
  const stub = () => Promise.resolve(new Response(null, { status: 204, headers }));
  const wrapped = WFX.correlatedFetch({ fetch: stub });
  const log = new WFX.LogClient({ endpoint: "/client-logs", sendBeacon: () => true, maxQueue: 1e9,
    maxEventsPerMinute: 1e9, flushIntervalMs: 1e9 });
  const time = async (f) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await f();
    return (performance.now() - t0) * 1000 / n;
  };
  const rounds = { plain: [], correlated: [], log: [] };
  for (let r = 0; r < 5; r++) {
    rounds.plain.push(await time(() => stub("/api/products/")));
    rounds.correlated.push(await time(() => wrapped("/api/products/")));
    const event = { level: "error", message: "TypeError: x is undefined", route: "/checkout" };
    rounds.log.push(await time(() => log.log(event)));
  }
  const median = (a) => a.sort((x, y) => x - y)[2];
  return { plain: median(rounds.plain), correlated: median(rounds.correlated), log: median(rounds.log) };
}
"""


def overhead(calls: int = 20_000) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    bundle = subprocess.run(
        [str(ROOT / "js" / "node_modules" / ".bin" / "esbuild"), "--bundle", "--minify", "--format=iife",
         "--global-name=WFX", str(ROOT / "js" / "dist" / "index.js")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_steps.chromium_path(), args=list(browser_steps.CHROMIUM_ARGS)
        )
        page = browser.new_page()
        page.route("http://bench.local/**", lambda route: route.fulfill(body="<!doctype html><title>b</title>",
                                                                         content_type="text/html"))  # fmt: skip
        page.goto("http://bench.local/")
        page.add_script_tag(content=bundle)
        result: dict[str, float] = page.evaluate(OVERHEAD_SCRIPT, [calls])
        version = browser.version
        browser.close()
    print(f"\n### Per-call overhead in Chromium {version} ({calls} calls, median of 5 rounds)\n")
    print("| call | µs per call |\n|---|---:|")
    print(f"| fetch stub, plain | {result['plain']:.2f} |")
    print(f"| fetch stub through `correlatedFetch` | {result['correlated']:.2f} |")
    print(f"| overhead of `correlatedFetch` | {result['correlated'] - result['plain']:.2f} |")
    print(f"| `LogClient.log` (queue only; batches sent by a beacon stub) | {result['log']:.2f} |")
    return result


def journeys(shop: ShopServer, storefront: StorefrontServer) -> tuple[Config, Config]:
    os.environ.update({"STOREFRONT_URL": storefront.url, "DEMO_PROBE_PASSWORD": PROBE_PASSWORD,
                       "DEMO_BROWSER_USER": USER})  # fmt: skip
    browser_journey = load_config(str(ROOT / "synthetic" / "workflows" / "storefront.yml"))
    http_journey = parse_config(HTTP_JOURNEY.format(shop=shop.url, user=USER, password=PROBE_PASSWORD), "http.yml")
    return browser_journey, http_journey


def per_run(config: Config, runs: int) -> dict[str, float]:
    ((workflow, target),) = config.pairs()
    run_workflow(workflow, target)  # warm: the browser is started, the page's code cached
    me = os.getpid()
    cpu_self = cpu_seconds([me], with_reaped=False)
    cpu_tree = cpu_seconds(tree(me))
    durations, failures = [], 0
    with peak_memory(lambda: tree(me)) as peak:
        for _ in range(runs):
            started = time.perf_counter()
            result = run_workflow(workflow, target)
            durations.append(time.perf_counter() - started)
            failures += not result.success
    return {
        "cpu_self": (cpu_seconds([me], with_reaped=False) - cpu_self) / runs,
        "cpu_tree": (cpu_seconds(tree(me)) - cpu_tree) / runs,
        "duration": statistics.median(durations),
        "pss_tree": peak["pss"],
        "pss_self": pss_bytes([me]),
        "failures": failures,
    }


def journey(browser_journey: Config, http_journey: Config, runs: int) -> dict[str, Any]:
    rows = {"http": per_run(http_journey, runs), "browser": per_run(browser_journey, runs)}
    print(f"\n### A journey per run ({runs} runs each; this process, and with its children)\n")
    print("| journey | run time (median) | CPU s/run, exporter | CPU s/run, with Playwright + Chromium "
          "| peak PSS, with children | failed |\n|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for name, row in rows.items():
        print(f"| {name} (8 steps) | {row['duration']:.2f} s | {row['cpu_self']:.3f} | {row['cpu_tree']:.3f} "
              f"| {row['pss_tree'] / 2**20:.0f} MiB | {row['failures']} |")  # fmt: skip
    return rows


def _run_until(stop: float, user: str, counts: dict[str, int], lock: threading.Lock) -> None:
    """The browser journey as ``user``, back to back until ``stop``."""
    text = (ROOT / "synthetic" / "workflows" / "storefront.yml").read_text()
    own = parse_config(text.replace("${env:DEMO_BROWSER_USER:-probe-browser}", user), "storefront.yml")
    ((flow, target),) = own.pairs()
    while time.monotonic() < stop:
        ok = run_workflow(flow, target).success
        with lock:
            counts["ok" if ok else "failed"] += 1


def throughput(seconds: float, users: list[str]) -> dict[int, float]:
    found: dict[int, float] = {}
    for threads in (1, 2):
        counts = {"ok": 0, "failed": 0}
        lock = threading.Lock()
        stop = time.monotonic() + seconds
        workers = [threading.Thread(target=_run_until, args=(stop, users[i], counts, lock)) for i in range(threads)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        found[threads] = counts["ok"] * 60 / elapsed
        print(f"- {threads} thread(s): {counts['ok']} runs in {elapsed:.0f} s = {found[threads]:.1f} successful "
              f"runs/min ({counts['failed']} failed)")  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="size,overhead,journey,throughput")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    parts = set(args.only.split(","))
    print(f"## Browser ({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()})")
    if parts & {"size", "overhead"}:
        build_package()
    if "size" in parts:
        size()
    if "overhead" in parts:
        overhead()
    if parts & {"journey", "throughput"}:
        build_storefront()
        with tempfile.TemporaryDirectory() as temp:
            work = Path(temp)
            port = free_port()
            shop = start_shop(work / "shop", f"sqlite:///{work / 'shop.sqlite3'}",
                              {"CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}"})  # fmt: skip
            users = [USER, "probe-browser-2"]
            for user in users:
                shop.add_user(user, PROBE_PASSWORD)
            storefront = start_storefront(work / "storefront", shop.url, port=port)
            EXCLUDED.update({shop.process.pid, storefront.process.pid})
            browser_steps.configure(screenshot_dir=work / "screenshots")
            try:
                browser_journey, http_journey = journeys(shop, storefront)
                if "journey" in parts:
                    journey(browser_journey, http_journey, args.runs)
                if "throughput" in parts:
                    print(f"\n### Browser runs per minute ({args.seconds:.0f} s each; shop, storefront and Chromium "
                          "on the same cores)\n")  # fmt: skip
                    throughput(args.seconds, users)
            finally:
                storefront.stop()
                shop.stop()


if __name__ == "__main__":
    main()
