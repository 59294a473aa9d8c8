"""Report generation against a Prometheus holding 7 days of the demo stack's series (backfilled): the time of
``build_report`` (Prometheus' answers included) and of rendering each format, and the number of queries sent.

The series are the families the demo stack exports, at the demo's cardinality scaled up: ``--workflows``
workflows of 6 steps on one target, ``--routes`` Django routes, ``--digests`` statement digests, one sample
every ``--resolution`` seconds for 7 days, written as OpenMetrics and backfilled with ``promtool tsdb
create-blocks-from openmetrics``. The last day has the demo's faults on in the windows of tests/report/day.py
(``slow_products`` 06:00-08:00, ``n_plus_one`` 10:00-12:00, ``checkout_errors`` 14:00-16:00): the first route is
``GET api/products/``, the second ``POST api/checkout/``, the first workflow product-fetch (its first step
``list-products``), the second checkout, and two digests run only in their fault's window (``SELECT SLEEP (?)``
and the per-row category lookup). Reports: the last 24 h against the previous 24 h and against a week before,
and the whole last 7 days; the offenders each names are printed below the table.

    .venv/bin/python benchmarks/report.py [--workflows 5] [--routes 20] [--digests 50] [--resolution 300]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exporter.report import PrometheusClient, build_report, render  # noqa: E402
from tests.harness.prometheus import start_prometheus  # noqa: E402
from tests.report.cases import CATEGORY_LOOKUP  # noqa: E402
from tests.report.day import PAGE, SLEEP, SLEEP_SECONDS, WINDOWS  # noqa: E402

DAYS = 7
BUCKETS = (0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
QUERY_BUCKETS = (1, 3, 5, 10, 20, 50, 100)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


Override = dict[str, tuple[float, float]]  # fault -> (rate, value) while it is on


def write_series(path: Path, workflows: int, routes: int, digests: int, resolution: int, end: int) -> int:
    """The OpenMetrics file; returns the number of series."""
    rng = random.Random(7)
    start = end - DAYS * 86400
    times = range(start - start % resolution + resolution, end, resolution)
    families: list[tuple[str, str, list[tuple[str, float, float]]]] = []  # name, type, (labels, rate, value)
    faulty: dict[tuple[str, str], Override] = {}  # (family, labels) -> its rate and value in fault windows
    last_day = end - 86400

    def fault(t: int) -> str | None:
        """The fault on during the ``resolution`` seconds before ``t``."""
        middle = t - resolution / 2 - last_day
        return next((name for name, (a, b) in WINDOWS.items() if a <= middle < b), None)

    def hist(name: str, label_sets: list[tuple[str, float, float]], buckets: tuple[float, ...]) -> None:
        families.append((name, "histogram", [(lbl, rate, value) for lbl, rate, value in label_sets]))

    runs, durations, steps, server, budgets = [], [], [], [], []
    for w in range(workflows):
        wf = {0: "product-fetch", 1: "checkout"}.get(w, f"journey-{w}")
        for result, share in (("success", 0.99), ("failure", 0.005), ("degraded", 0.005)):
            labels = _labels(workflow=wf, target="demo-shop", result=result)
            runs.append((labels, share / 30, 0.0))
            if wf == "product-fetch":  # its list-products step over budget: degraded runs
                faulty[("workflow_runs", labels)] = dict.fromkeys(
                    ("slow_products", "n_plus_one"), (1 / 30 if result == "degraded" else 0.0, 0.0)
                )
            elif wf == "checkout":
                faulty[("workflow_runs", labels)] = {"checkout_errors": (1 / 30 if result == "failure" else 0.0, 0.0)}
        durations.append((_labels(workflow=wf, target="demo-shop"), 1 / 30, rng.uniform(0.3, 2.0)))
        for s in range(6):
            name = "list-products" if (wf, s) == ("product-fetch", 0) else f"step-{s}"
            step_labels = {"workflow": wf, "target": "demo-shop", "step": name}
            steps.append((_labels(**step_labels), 1 / 30, rng.uniform(0.02, 0.45)))
            budgets.append((_labels(**step_labels), 0.0, 1.0))
            for component in ("app", "db"):
                server.append((_labels(**step_labels, component=component), 1 / 30, rng.uniform(0.005, 0.3)))
            if name == "list-products":
                faulty[("workflow_step_duration_seconds", steps[-1][0])] = {
                    "slow_products": (1 / 30, SLEEP_SECONDS + 0.1)
                }
                faulty[("workflow_step_server_duration_seconds", server[-1][0])] = {
                    "slow_products": (1 / 30, SLEEP_SECONDS + 0.005)
                }
    families.append(("workflow_runs", "counter", runs))
    hist("workflow_run_duration_seconds", durations, BUCKETS)
    hist("workflow_step_duration_seconds", steps, BUCKETS)
    hist("workflow_step_server_duration_seconds", server, BUCKETS)
    families.append(("workflow_step_latency_budget_seconds", "gauge", budgets))
    requests, queries, errors, repeated = [], [], [], []
    for r in range(routes):
        route, method = {0: ("api/products/", "GET"), 1: ("api/checkout/", "POST")}.get(
            r, (f"api/resource-{r}/", "GET")
        )
        for status_class, share in (("2xx", 0.978), ("4xx", 0.02), ("5xx", 0.002)):
            labels = _labels(route=route, method=method, status_class=status_class)
            value = rng.uniform(0.01, 0.45)
            requests.append((labels, share * 2, value))
            if r == 0 and status_class == "2xx":
                faulty[("django_request_duration_seconds", labels)] = {
                    "slow_products": (share * 2, SLEEP_SECONDS + 0.05)
                }
            elif r == 1:
                faulty[("django_request_duration_seconds", labels)] = {
                    "checkout_errors": (2.0 if status_class == "5xx" else 0.0, value)
                }
        queries.append((_labels(route=route, method=method), 2.0, float(rng.choice((2, 4, 8)))))
        errors.append((_labels(route=route, error_class="ValidationError"), 0.02, 0.0))
        repeated.append((_labels(route=route, alias="default"), 0.0, 0.0))
        if r == 0:
            faulty[("django_request_db_queries", queries[-1][0])] = {"n_plus_one": (2.0, PAGE + 3.0)}
            faulty[("django_db_repeated_queries", repeated[-1][0])] = {"n_plus_one": (2.0, 0.0)}
        elif r == 1:
            errors.append((_labels(route=route, error_class="InjectedFault"), 0.0, 0.0))
            faulty[("django_request_errors", errors[-1][0])] = {"checkout_errors": (2.0 * 0.98, 0.0)}
    hist("django_request_duration_seconds", requests, BUCKETS)
    hist("django_request_db_queries", queries, QUERY_BUCKETS)
    families.append(("django_request_errors", "counter", errors))
    families.append(("django_db_repeated_queries", "counter", repeated))
    statement = "mysql_perf_schema_events_statements"
    calls = [rng.uniform(0.1, 5) for _ in range(digests)]
    # The faults' own digests, run only in their window: (digest, text, fault, calls, seconds, examined)
    extra = (("f" * 32, SLEEP, "slow_products", 2.0, SLEEP_SECONDS, 0.0),
             ("e" * 32, CATEGORY_LOOKUP, "n_plus_one", 2.0 * PAGE, 0.0005, 1.0))  # fmt: skip
    for suffix, factor in (("", 1.0), ("_seconds", 0.01), ("_rows_examined", 50.0), ("_rows_sent", 5.0),
                           ("_no_index_used", 0.1)):  # fmt: skip
        series = [
            (_labels(schema="shop", digest=f"{d:032x}",
                     digest_text=f"SELECT `t{d}` . `id` FROM `t{d}` WHERE `t{d}` . `c` = ?"),
             calls[d] * factor, 0.0) for d in range(digests)
        ]  # fmt: skip
        for digest, text, name, rate, seconds, examined in extra:
            labels = _labels(schema="shop", digest=digest, digest_text=text)
            series.append((labels, 0.0, 0.0))
            per_call = {"": 1.0, "_seconds": seconds, "_rows_examined": examined, "_rows_sent": 1.0}.get(suffix, 0.0)
            faulty[(f"{statement}{suffix}", labels)] = {name: (rate * per_call, 0.0)}
        families.append((f"{statement}{suffix}", "counter", series))
    families.append(("mysql_up", "gauge", [("", 0.0, 1.0)]))
    count = 0
    with path.open("w") as out:
        for name, kind, series in families:
            out.write(f"# TYPE {name} {kind}\n")
            buckets = QUERY_BUCKETS if name == "django_request_db_queries" else BUCKETS
            for labels, healthy_rate, healthy_value in series:
                count += 1
                inner = labels[1:-1]
                total = n = 0.0
                below = dict.fromkeys(buckets, 0.0)  # observations at or under each bound so far
                overrides = faulty.get((name, labels), {})
                for t in times:
                    rate, value = (healthy_rate, healthy_value)
                    if overrides and t > last_day:
                        rate, value = overrides.get(fault(t) or "", (healthy_rate, healthy_value))
                    step = rate * resolution
                    if kind == "counter":
                        total += step
                        out.write(f"{name}_total{labels} {total:.3f} {t}\n")
                    elif kind == "gauge":
                        out.write(f"{name}{labels} {value} {t}\n")
                    else:
                        n += step
                        total += step * value
                        sep = "," if inner else ""
                        for bound in buckets:
                            below[bound] += step if value <= bound else 0.0
                            out.write(f'{name}_bucket{{{inner}{sep}le="{bound}"}} {below[bound]:.3f} {t}\n')
                        sep = "," if inner else ""
                        out.write(f'{name}_bucket{{{inner}{sep}le="+Inf"}} {n:.3f} {t}\n')
                        out.write(f"{name}_sum{labels} {total:.3f} {t}\n{name}_count{labels} {n:.3f} {t}\n")
        out.write("# EOF\n")
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=5)
    parser.add_argument("--routes", type=int, default=20)
    parser.add_argument("--digests", type=int, default=50)
    parser.add_argument("--resolution", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        workdir = Path(tmp)
        now = int(time.time())
        began = time.perf_counter()
        series = write_series(workdir / "series.om", args.workflows, args.routes, args.digests, args.resolution, now)
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(workdir / "series.om"),
                        str(workdir / "data")], check=True, capture_output=True)  # fmt: skip
        (workdir / "series.om").unlink()
        print(f"{series} series, 7 days at {args.resolution}s, backfilled in {time.perf_counter() - began:.1f} s")
        prometheus = start_prometheus(workdir)
        try:
            print(f"| report | build (best of {args.repeat}) | queries | html | markdown | json | findings |")
            print("|---|---|---|---|---|---|---|")
            offenders: dict[str, list[str]] = {}
            for title, since, compare in (("24h vs previous 24h", 86400, "previous"), ("24h vs 7d before", 86400, "7d"),
                                          ("7d vs previous 7d", 7 * 86400, "previous")):  # fmt: skip
                best, report = float("inf"), None
                for _ in range(args.repeat):
                    client = PrometheusClient(prometheus.url, timeout=60)
                    t = time.perf_counter()
                    report = build_report(client, since=since, compare=compare, until=now - 60, slo_window=30 * 86400)
                    best = min(best, time.perf_counter() - t)
                assert report is not None
                timings = []
                for fmt in ("html", "markdown", "json"):
                    t = time.perf_counter()
                    render(report, fmt, images=workdir / "md" if fmt == "markdown" else None)
                    timings.append(f"{time.perf_counter() - t:.2f} s")
                print(f"| {title} | {best:.2f} s | {report.queries} | {' | '.join(timings)} | {len(report.findings)} |")
                offenders.setdefault(title, [f"{f.severity} {f.rule}: {f.title[:110]}" for f in report.findings])
            for title, lines in offenders.items():
                print(f"\n{title}:", *lines, sep="\n- ")
        finally:
            prometheus.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
