"""Per-request cost of the Django integration, next to bare Django + DRF and the hand-glued peer.

Run from the repository root::

    .venv/bin/python benchmarks/django_overhead.py

The driver starts one fresh Python process per configuration and round (Django settings can be configured
only once per process), alternating the configurations so that a noisy machine hurts them all alike, and
prints a Markdown table of microseconds per request. Each child configures Django with
``settings.configure()``, creates an in-memory SQLite table, checks that its configuration really does what
it claims (headers, one log line, SQL comment), warms up, then calls Django's WSGI handler directly with a
prepared environ, no server and no sockets, for four DRF views: ``/nodb/`` (``{"ok": true}``), ``/db/``
(one ``SELECT ... WHERE id = %s``), ``/db10/`` and ``/db100/`` (that statement 10 and 100 times, for ids 1..n:
the shape of an N+1, which ours detects and reports with a warning line per request). The ``sqlcost`` child
times the SQL execute wrapper alone.

The ratio the goal is about is "our overhead / the peer's overhead" (overhead = µs per request above bare, in
the same run), printed per view beside the goal (≤ 0.5x).

Configurations:

- ``bare``: Django + DRF, ``CommonMiddleware`` only, Django's default logging (no log line per request).
- ``peer``: django-prometheus (Before first, After last) + ``django_guid.middleware.guid_middleware``, its
  ``CorrelationId`` filter on a python-json-logger handler, all at their defaults. At INFO the one line per
  request is django-guid's own "Header `Correlation-ID` was not found ... Generated new GUID".
- ``peer-full``: ``peer`` plus what a project glues by hand to get what ours gives: one JSON access-log line
  per request (``django_overhead_urls.access_log_middleware``; django-guid's INFO line is silenced so it stays
  one line) and django-prometheus' SQLite backend (query counts and durations).
- ``ours``: ``django_integration`` in INSTALLED_APPS, ``RequestMonitoringMiddleware`` first,
  ``LOGGING = logging_config()`` (its handler's stream replaced by ``os.devnull``), SQL wrapper, Server-Timing.
- ``--ablation`` adds ``ours-nolog`` (request logger disabled), ``ours-notiming`` (``SERVER_TIMING`` off) and
  ``ours-nocomment`` (``SQL_COMMENTS`` off) to show what each feature costs.

All log handlers write to ``os.devnull``: formatting is paid, terminal I/O is not. Times are the CPU time of the
thread serving the requests (``time.thread_time_ns``), not wall time: on a shared machine a process waiting for a
core is not charged for the wait (caches shared with the neighbours still make every figure noisier).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import logging
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

MAIN_CONFIGS = ["bare", "peer", "peer-full", "ours"]
ABLATION_CONFIGS = ["ours-nolog", "ours-notiming", "ours-nocomment"]
DESCRIPTIONS = {
    "bare": "Django + DRF",
    "peer": "django-prometheus + django-guid",
    "peer-full": "django-prometheus (+ DB backend) + django-guid + JSON access log",
    "ours": "django_integration (full)",
    "ours-nolog": "ours, request log line off",
    "ours-notiming": "ours, Server-Timing off",
    "ours-nocomment": "ours, SQL comments off",
}
VIEWS = {"nodb": "/nodb/", "db": "/db/", "db10": "/db10/", "db100": "/db100/"}
VIEW_LABELS = {"nodb": "no-DB", "db": "1 query", "db10": "10 queries", "db100": "100 queries"}
VIEW_QUERIES = {"nodb": 0, "db": 1, "db10": 10, "db100": 100}
GOAL = 0.5  # our overhead / the peer's, at most
ITEM_SQL = "SELECT name FROM bench_item WHERE id = %s"

# The null sink every JSON handler writes to (a real file object, so write/flush are real calls).
NULL_SINK = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process


# --------------------------------------------------------------------------------------------- settings


def _base_settings() -> dict[str, Any]:
    return {
        "DEBUG": False,
        "SECRET_KEY": "benchmark-only-not-secret",
        "ALLOWED_HOSTS": ["*"],
        "ROOT_URLCONF": "django_overhead_urls",
        "USE_TZ": True,
        "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
        "MIDDLEWARE": ["django.middleware.common.CommonMiddleware"],
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        },
    }


def _peer_logging() -> dict[str, Any]:
    """The usual hand-written LOGGING for django-guid: python-json-logger + its CorrelationId filter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation_id": {"()": "django_guid.log_filters.CorrelationId"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s %(correlation_id)s",
                "timestamp": True,
            }
        },
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "stream": NULL_SINK,
                "formatter": "json",
                "filters": ["correlation_id"],
            }
        },
        "root": {"handlers": ["json"], "level": "INFO"},
        "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
    }


def _our_logging() -> dict[str, Any]:
    from django_integration.log import logging_config

    config = logging_config()  # the shipped default: JSON lines to stdout ...
    config["handlers"]["json"]["stream"] = NULL_SINK  # ... with stdout replaced by the null sink
    return config


def settings_for(name: str) -> dict[str, Any]:
    s = _base_settings()
    if name in ("peer", "peer-full"):
        s["INSTALLED_APPS"] += ["django_prometheus", "django_guid"]
        inner = ["django_guid.middleware.guid_middleware"]
        if name == "peer-full":
            inner.append("django_overhead_urls.access_log_middleware")
            s["DATABASES"]["default"]["ENGINE"] = "django_prometheus.db.backends.sqlite3"
        s["MIDDLEWARE"] = [
            "django_prometheus.middleware.PrometheusBeforeMiddleware",
            *inner,
            *s["MIDDLEWARE"],
            "django_prometheus.middleware.PrometheusAfterMiddleware",
        ]
        s["LOGGING"] = _peer_logging()
        if name == "peer-full":
            # One line per request, like ours: the access log, not django-guid's "Generated new GUID" INFO line.
            s["LOGGING"]["loggers"]["django_guid"] = {"level": "WARNING"}
    elif name.startswith("ours") or name == "sqlcost":
        s["INSTALLED_APPS"].append("django_integration")
        s["MIDDLEWARE"] = ["django_integration.middleware.RequestMonitoringMiddleware", *s["MIDDLEWARE"]]
        s["LOGGING"] = _our_logging()
        s["WORKFLOW_EXPORTER"] = {
            "SERVER_TIMING": name != "ours-notiming",
            "SQL_COMMENTS": name != "ours-nocomment",
        }
        if name == "sqlcost":
            # A second alias on django-prometheus' backend, as a reference for the per-query cost.
            s["INSTALLED_APPS"].append("django_prometheus")
            s["DATABASES"]["prom"] = {"ENGINE": "django_prometheus.db.backends.sqlite3", "NAME": ":memory:"}
    elif name != "bare":
        raise SystemExit(f"unknown configuration {name!r}")
    return s


# ------------------------------------------------------------------------------------------------ child


def _setup(name: str) -> None:
    from django.conf import settings

    settings.configure(**settings_for(name))
    import django

    django.setup()
    from django.core.checks import ERROR, run_checks

    problems = [m for m in run_checks() if m.level >= ERROR]
    if problems:
        raise SystemExit(f"{name}: system check errors: {problems}")
    if name == "ours-nolog":
        logging.getLogger("django_integration.request").disabled = True

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        cursor.executemany(
            "INSERT INTO bench_item (id, name) VALUES (%s, %s)", [(i, f"widget {i}") for i in range(1, 101)]
        )


def _environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "bench",
        "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    return _write


def _write(data: bytes) -> None:
    pass


def _call(handler: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """One request, keeping status, headers and body (for the checks, not for timing)."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
        seen["status"], seen["headers"] = status, dict(headers)
        return _write

    response = handler(dict(environ), start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()
    return seen["status"], seen["headers"], body


def _json_handler() -> logging.StreamHandler[Any] | None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is NULL_SINK:
            return handler
    return None


def _verify(name: str, handler: Any) -> dict[str, Any]:
    """Prove the configuration does what the table says it does; return what one request logs."""
    from django.db import connection

    log_handler = _json_handler()
    connection.ensure_connection()
    raw = connection.connection
    lines_per_view: dict[str, list[dict[str, Any]]] = {}
    for view, path in VIEWS.items():
        captured = io.StringIO()
        if log_handler is not None:
            log_handler.setStream(captured)
        sent_sql: list[str] = []
        raw.set_trace_callback(sent_sql.append)
        try:
            status, headers, body = _call(handler, _environ(path))
        finally:
            raw.set_trace_callback(None)
            if log_handler is not None:
                log_handler.setStream(NULL_SINK)
        if not status.startswith("200") or json.loads(body).get("ok") is not True:
            raise SystemExit(f"{name}: {view} answered {status} {body!r}")
        item_sql = [sql for sql in sent_sql if "bench_item" in sql]
        if len(item_sql) != VIEW_QUERIES[view]:
            raise SystemExit(f"{name}: expected {VIEW_QUERIES[view]} statements on {path}, saw {sent_sql}")
        lines_per_view[view] = [json.loads(line) for line in captured.getvalue().splitlines()]
        _verify_view(name, view, headers, item_sql, lines_per_view[view])
        if view == "db":
            _verify_db(name, headers, item_sql, lines_per_view[view])
    return {
        "log_lines_per_request": {view: len(lines) for view, lines in lines_per_view.items()},
    }


def _verify_view(
    name: str, view: str, headers: dict[str, str], item_sql: list[str], lines: list[dict[str, Any]]
) -> None:
    """Every view: the correlation ID, the request line with the query count, N+1 lines where due."""
    queries = VIEW_QUERIES[view]
    if name.startswith("ours"):
        request_id = headers.get("X-Request-ID")
        if not request_id:
            raise SystemExit(f"{name}: no X-Request-ID header on {view}")
        if any(sql.startswith("/*request_id=") != (name != "ours-nocomment") for sql in item_sql):
            raise SystemExit(f"{name}: SQL sent on {view} was {item_sql}")
        if name != "ours-nolog":
            request_lines = [line for line in lines if line.get("logger") == "django_integration.request"]
            if len(request_lines) != 1 or request_lines[0].get("correlation_id") != request_id:
                raise SystemExit(f"{name}: expected one request log line on {view}, got {lines}")
            if request_lines[0].get("db_queries") != queries:
                raise SystemExit(f"{name}: the log line on {view} does not count the queries: {request_lines}")
            n_plus_one = [line for line in lines if line.get("logger") == "django_integration.db"]
            if len(n_plus_one) != (1 if queries >= 5 else 0) or len(lines) != 1 + len(n_plus_one):
                raise SystemExit(f"{name}: unexpected lines on {view}: {lines}")
            if n_plus_one and n_plus_one[0].get("count") != queries:
                raise SystemExit(f"{name}: the N+1 line on {view} says {n_plus_one[0]}")
    elif name.startswith("peer"):
        guid = headers.get("Correlation-ID")
        if not guid:
            raise SystemExit(f"{name}: no Correlation-ID header on {view}")
        expected_logger = "bench.access" if name == "peer-full" else "django_guid"
        if len(lines) != 1 or lines[0].get("name") != expected_logger:
            raise SystemExit(f"{name}: expected one {expected_logger} line on {view}, got {lines}")
        if name == "peer-full" and lines[0].get("correlation_id") != guid:
            raise SystemExit(f"{name}: the access-log line lacks the correlation ID: {lines[0]}")
    elif lines:
        raise SystemExit(f"{name}: expected no log line, got {lines}")


def _verify_db(name: str, db_headers: dict[str, str], item_sql: list[str], lines: list[dict[str, Any]]) -> None:
    """The one-query view: Server-Timing counts the query, the comment is in front of the statement."""
    if name.startswith("ours"):
        if ("Server-Timing" in db_headers) != (name != "ours-notiming"):
            raise SystemExit(f"{name}: Server-Timing header is {db_headers.get('Server-Timing')!r}")
        if name != "ours-notiming" and 'desc="1 query"' not in db_headers["Server-Timing"]:
            raise SystemExit(f"{name}: Server-Timing does not count the query: {db_headers['Server-Timing']}")
        if name != "ours-nolog":
            request_line = lines[0]
            if request_line.get("route") != "db/" or request_line.get("db_queries") != 1:
                raise SystemExit(f"{name}: the /db/ line is {request_line}")


def _run_requests(handler: Any, environ: dict[str, Any], n: int) -> float:
    """CPU microseconds per request over ``n`` requests through the WSGI handler."""
    copy = environ.copy
    start_response = _start_response
    gc.collect()
    started = time.thread_time_ns()
    for _ in range(n):
        response = handler(copy(), start_response)
        for _chunk in response:
            pass
        response.close()
    return (time.thread_time_ns() - started) / n / 1000


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("Django", "djangorestframework", "django-prometheus", "django-guid", "python-json-logger"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "-"
    return out


def _requests_for(view: str, requests: int) -> int:
    """Fewer requests for the views with many statements, so each measurement takes about as long."""
    return max(100, int(requests / (1 + VIEW_QUERIES[view] / 20)))


def child_requests(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    info = _verify(args.config, handler)
    environs = {view: _environ(path) for view, path in VIEWS.items()}
    for environ in environs.values():
        _run_requests(handler, environ, args.warmup)  # also fills SQLite's and our caches
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        _run_requests(handler, environs[args.profile], _requests_for(args.profile, args.requests))
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.profile_top)
        stats.sort_stats("cumulative").print_stats(args.profile_top)
        print(out.getvalue(), file=sys.stderr)
    timings: dict[str, list[float]] = {view: [] for view in VIEWS}
    for round_no in range(args.inner):
        order = list(VIEWS) if round_no % 2 == 0 else list(reversed(VIEWS))
        for view in order:
            timings[view].append(_run_requests(handler, environs[view], _requests_for(view, args.requests)))
    return {"config": args.config, **timings, **info, "versions": _versions()}


def _time_queries(cursor: Any, sql: str, params: Any, n: int) -> float:
    execute = cursor.execute
    gc.collect()
    started = time.thread_time_ns()
    for _ in range(n):
        execute(sql, params)
    return (time.thread_time_ns() - started) / n / 1000


def child_sqlcost(args: argparse.Namespace) -> dict[str, Any]:
    """µs per ``cursor.execute`` with our wrapper doing its full work, vs the same cursor without it."""
    from django.db import connections

    from django_integration import correlation
    from django_integration.correlation import RequestState
    from django_integration.db import QueryRecorder

    default, prom = connections["default"], connections["prom"]
    prom.ensure_connection()
    recorders = {}
    for conn in (default, prom):
        found = [w for w in conn.execute_wrappers if isinstance(w, QueryRecorder)]
        if len(found) != 1:
            raise SystemExit(f"sqlcost: expected our wrapper on {conn.alias}, found {conn.execute_wrappers}")
        recorders[conn.alias] = found[0]
    prom.execute_wrappers.remove(recorders["prom"])  # the reference alias: django-prometheus alone

    statements = {"SELECT 1": ("SELECT 1", None), "SELECT … WHERE id = %s": (ITEM_SQL, [1])}
    cursors = {"default": default.cursor(), "prom": prom.cursor()}
    prom.cursor().execute("CREATE TABLE bench_item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    state = RequestState(correlation_id=correlation.new_id(), method="GET", route="db/")
    recorder = recorders["default"]

    def variant(label: str, sql: str, params: Any) -> float:
        if label == "django-prometheus backend":
            return _time_queries(cursors["prom"], sql, params, args.queries)
        wrapped = label != "no wrapper"
        if wrapped and recorder not in default.execute_wrappers:
            default.execute_wrappers.append(recorder)
        if not wrapped and recorder in default.execute_wrappers:
            default.execute_wrappers.remove(recorder)
        token = correlation.bind(state) if label != "wrapper, no request bound" else None
        try:
            return _time_queries(cursors["default"], sql, params, args.queries)
        finally:
            if token is not None:
                correlation.unbind(token)

    labels = ["no wrapper", "our wrapper", "wrapper, no request bound", "django-prometheus backend"]
    results: dict[str, dict[str, list[float]]] = {stmt: {label: [] for label in labels} for stmt in statements}
    for sql, params in statements.values():
        for label in labels:
            variant(label, sql, params)  # warm-up
    for round_no in range(args.inner):
        for stmt, (sql, params) in statements.items():
            order = labels if round_no % 2 == 0 else list(reversed(labels))
            for label in order:
                results[stmt][label].append(variant(label, sql, params))
    if state.db_queries == 0 or not state.statements:
        raise SystemExit("sqlcost: the wrapper did not account for the queries")
    return {"config": "sqlcost", "sql": results, "versions": _versions()}


def child_main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(HERE))
    _setup(args.config)
    result = child_sqlcost(args) if args.config == "sqlcost" else child_requests(args)
    print(json.dumps(result))


# ----------------------------------------------------------------------------------------------- driver


def _spawn(config: str, args: argparse.Namespace, extra: Iterable[str] = ()) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--config",
        config,
        "--requests",
        str(args.requests),
        "--queries",
        str(args.queries),
        "--inner",
        str(args.inner),
        "--warmup",
        str(args.warmup),
        *extra,
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"child {config} failed with exit code {done.returncode}")
    if done.stderr.strip():
        sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _machine(versions: dict[str, str]) -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    libs = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "python")
    return f"{os.cpu_count()} CPUs ({cpu or platform.machine()}), Python {versions['python']}, {libs}"


def driver(args: argparse.Namespace) -> None:
    configs = list(args.configs or MAIN_CONFIGS) + (ABLATION_CONFIGS if args.ablation else [])
    if "bare" not in configs:
        configs.insert(0, "bare")
    if args.profile:
        config = args.profile_config
        print(f"cProfile of {config}, view {args.profile}, {args.requests} requests (stderr of the child):")
        _spawn(config, args, ["--profile", args.profile, "--profile-top", str(args.profile_top)])
        return

    samples: dict[str, dict[str, list[float]]] = {c: {v: [] for v in VIEWS} for c in configs}
    info: dict[str, dict[str, Any]] = {}
    sql_runs: list[dict[str, Any]] = []
    started = time.monotonic()
    for round_no in range(args.rounds):
        shift = round_no % len(configs)
        order = configs[shift:] + configs[:shift]
        for config in order:
            result = _spawn(config, args)
            info[config] = result
            for view in VIEWS:
                samples[config][view].extend(result[view])
        if not args.no_sql:
            sql_runs.append(_spawn("sqlcost", args))
        print(f"round {round_no + 1}/{args.rounds} done ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    versions = info[configs[0]]["versions"]
    print(f"\nMachine: {_machine(versions)}")
    print(
        f"{args.rounds} rounds x {args.inner} measurements x "
        + ", ".join(f"{_requests_for(v, args.requests)} ({VIEW_LABELS[v]})" for v in VIEWS)
        + " requests per view and configuration; "
        "each configuration in its own process, configurations alternated. Best = fastest measurement, "
        "median = median of all measurements.\n"
    )
    best = {c: {v: min(samples[c][v]) for v in VIEWS} for c in configs}
    median = {c: {v: statistics.median(samples[c][v]) for v in VIEWS} for c in configs}
    added = {c: {v: best[c][v] - best["bare"][v] for v in VIEWS} for c in configs}
    print("µs per request, best (median):\n")
    print("| configuration | " + " | ".join(VIEW_LABELS[v] for v in VIEWS) + " | log lines per request |")
    print("|---|" + "--:|" * len(VIEWS) + "--:|")
    for c in configs:
        cells = " | ".join(f"{_fmt(best[c][v])} ({_fmt(median[c][v])})" for v in VIEWS)
        lines = " / ".join(str(info[c]["log_lines_per_request"][v]) for v in VIEWS)
        print(f"| {c}: {DESCRIPTIONS[c]} | {cells} | {lines} |")
    print("\nOverhead: µs per request above bare in the same run (best minus bare's best), and x bare:\n")
    print("| configuration | " + " | ".join(VIEW_LABELS[v] for v in VIEWS) + " | per extra statement (10 → 100) |")
    print("|---|" + "--:|" * (len(VIEWS) + 1))
    for c in configs:
        if c == "bare":
            continue
        cells = " | ".join(f"+{_fmt(added[c][v])} ({best[c][v] / best['bare'][v]:.2f}x)" for v in VIEWS)
        slope = (added[c]["db100"] - added[c]["db10"]) / 90
        print(f"| {c} | {cells} | {slope:+.2f} |")
    if "ours" in configs and ("peer" in configs or "peer-full" in configs):
        print(f"\nOur overhead / the peer's overhead (goal: ≤ {GOAL}x):\n")
        print("| peer | " + " | ".join(VIEW_LABELS[v] for v in VIEWS) + " |")
        print("|---|" + ":-:|" * len(VIEWS))
        for peer in ("peer", "peer-full"):
            if peer not in configs:
                continue
            cells = []
            for v in VIEWS:
                ours, theirs = added["ours"][v], added[peer][v]
                if theirs <= 0:
                    cells.append(f"{_fmt(ours)} vs {_fmt(theirs)} µs (n/a)")
                    continue
                ratio = ours / theirs
                verdict = "met" if ratio <= GOAL else "not met"
                cells.append(f"{_fmt(ours)} vs {_fmt(theirs)} µs: **{ratio:.2f}x** {verdict}")
            print(f"| {peer} | " + " | ".join(cells) + " |")

    if sql_runs:
        print("\nSQL execute wrapper, µs per cursor.execute() (best of all measurements):\n")
        statements = list(sql_runs[0]["sql"])
        labels = list(sql_runs[0]["sql"][statements[0]])
        print("| statement | " + " | ".join(labels) + " | wrapper cost |")
        print("|---|" + "--:|" * (len(labels) + 1))
        for stmt in statements:
            values = {lab: min(v for run in sql_runs for v in run["sql"][stmt][lab]) for lab in labels}
            cost = values["our wrapper"] - values["no wrapper"]
            cells = " | ".join(_fmt(values[lab]) for lab in labels)
            print(f"| `{stmt}` | {cells} | +{cost:.1f} |")
    print(f"\nTotal time: {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="(child) run one configuration and print JSON")
    parser.add_argument("--configs", nargs="+", choices=MAIN_CONFIGS + ABLATION_CONFIGS, help="(driver) subset")
    parser.add_argument("--ablation", action="store_true", help="also run ours with one feature off at a time")
    parser.add_argument("--rounds", type=int, default=5, help="processes per configuration, alternated")
    parser.add_argument("--inner", type=int, default=3, help="measurements per view in each process")
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument("--queries", type=int, default=20000, help="statements per SQL-wrapper measurement")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests per view")
    parser.add_argument("--no-sql", action="store_true", help="skip the SQL wrapper measurement")
    parser.add_argument("--profile", choices=list(VIEWS), help="cProfile one view instead of the table")
    parser.add_argument("--profile-config", default="ours", choices=MAIN_CONFIGS + ABLATION_CONFIGS)
    parser.add_argument("--profile-top", type=int, default=30)
    args = parser.parse_args()
    if args.config:
        child_main(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
