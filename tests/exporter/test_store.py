"""The run store (exporter/store.py) on a real SQLite file: what a run keeps and reads back, restarts, bodies
kept only where they help, retention by age and by size (oldest first, the newest always stays), schema
upgrades in place, a newer or foreign store refused, and a locked, full or read-only disk degrading to memory
without losing the service. Contract sweeps the same: read back whole after a restart, listed and filtered,
bounded by the same retention (the newest of each target stays), carried into memory when the disk fails.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from exporter.metrics import WorkflowMetrics
from exporter.store import (
    DATABASE_FILE,
    MEMORY_SWEEPS,
    MIGRATIONS,
    SCHEMA_VERSION,
    RunFilter,
    RunStore,
    StoreError,
    SweepFilter,
    _migrate,
    normalise_message,
)
from synthetic.contracts.formats import sweep_document
from synthetic.contracts.sweep import CheckResult, Example, SweepResult
from synthetic.result import AssertionResult, Exchange, RunResult, ServerTiming, StepResult
from synthetic.run_formats import run_document
from tests.conftest import REPO_ROOT
from tests.exporter.conftest import simple_config
from tests.harness import ManagedProcess, free_port, require_binary, wait_until

NOW = 1_750_000_000.0
TESTDATA = Path(__file__).parent / "testdata"


def make_run(
    run_id: str,
    *,
    workflow: str = "checkout",
    target: str = "shop",
    started_at: float = NOW,
    duration: float = 0.5,
    failed: str | None = None,
    reason: str = "http_status",
    message: str = "expected status 201, got 500",
    body: str = '{"ok": true}',
) -> RunResult:
    """Three http steps (login, pay, logout); ``failed`` names the step that fails (the later one is skipped)."""
    run = RunResult(workflow=workflow, target=target, correlation_id=run_id, started_at=started_at, duration=duration)
    state = "ok"
    for index, name in enumerate(("login", "pay", "logout")):
        step = StepResult(name=name, kind="http", offset=index * 0.1, duration=0.1, budget=1.0)
        if state == "failed":
            step.status, step.reason, step.message = "skipped", "skipped", "an earlier step failed"
        else:
            step.http_status = 500 if name == failed else 200
            step.server = ServerTiming(app_seconds=0.04, db_seconds=0.01, queries=3)
            step.assertions = [AssertionResult("status", name != failed, message if name == failed else "200")]
            step.extracted = {"order_id": 42} if name == "pay" else {}
            step.exchange = Exchange(method="POST", url=f"http://shop/{name}", request_headers={"X-Request-ID": run_id},
                                     request_body='{"q": 1}', status=step.http_status,
                                     response_headers={"Content-Type": "application/json"}, response_body=body,
                                     curl=f"curl -X POST http://shop/{name}")  # fmt: skip
            if name == failed:
                step.status, step.reason, step.message = "failed", reason, message
                state = "failed"
        run.steps.append(step)
    return run


def make_sweep(
    sweep_id: str, *, target: str = "shop", started_at: float = NOW, failed: bool = True, body: str = '{"id": "1"}'
) -> SweepResult:
    """A sweep of two operations: ``response_schema_conformance`` on ``GET /items/{id}`` fails (with its example)
    when ``failed``; a passed and a skipped check beside it."""
    example = Example(note="a valid request as the auth profile", method="GET", url="http://shop/items/1",
                      request_headers={"Authorization": "[REDACTED]", "X-Request-ID": f"{sweep_id}-1"},
                      request_body="", status=200, response_headers={"Content-Type": "application/json"},
                      response_body=body, schema_error="id: '1' is not of type 'integer'",
                      curl="curl -H 'Authorization: [REDACTED]' http://shop/items/1",
                      correlation_id=f"{sweep_id}-1")  # fmt: skip
    check = "response_schema_conformance"
    schema = (CheckResult("GET /items/{id}", check, "failed",
                          "the 200 body does not match its schema: id: '1' is not of type 'integer'", example)
              if failed else CheckResult("GET /items/{id}", check, "passed", "200"))  # fmt: skip
    return SweepResult(
        target=target, correlation_id=sweep_id, started_at=started_at, document="/doc", budget=100, duration=1.5,
        requests=7, operations=2, notes=["login took 3 s"],
        results=[CheckResult("GET /items/{id}", "status_code_conformance", "passed", "200"), schema,
                 CheckResult("POST /items", "ignored_auth", "skipped", "the document does not secure it")],
    )  # fmt: skip


@pytest.fixture
def metrics() -> WorkflowMetrics:
    return WorkflowMetrics(CollectorRegistry())


@pytest.fixture
def open_store(tmp_path: Path, metrics: WorkflowMetrics) -> Iterator:
    stores: list[RunStore] = []

    def open_(path: Path | None = tmp_path / "data", **kwargs) -> RunStore:
        kwargs.setdefault("clock", lambda: NOW)
        store = RunStore(path, metrics=metrics, **kwargs)
        stores.append(store)
        return store

    yield open_
    for store in stores:
        store.close()


def sample(metrics: WorkflowMetrics, name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


# --- what a run keeps ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("failed", [None, "login", "pay", "logout"], ids=lambda f: f"failed={f}")
def test_a_run_reads_back_as_it_was_added_after_a_restart(open_store, tmp_path: Path, failed: str | None) -> None:
    run = make_run("run-1", failed=failed)
    store = open_store()
    store.add(run, source="probe")
    assert store.get("run-1") is not None, "a pending run is visible at once"
    store.close()
    reopened = open_store()
    stored = reopened.get_stored("run-1")
    assert stored is not None
    assert run_document(stored.run) == run_document(run)
    summary = stored.summary
    assert (summary.source, summary.result, summary.step) == ("probe", "failure" if failed else "success", failed)
    assert summary.reason == ("http_status" if failed else None)
    assert summary.message == ("expected status 201, got 500" if failed else "")
    assert summary.has_bodies and summary.seq == 1


def test_bodies_stay_for_failures_and_the_latest_success_of_each_pair(open_store) -> None:
    store = open_store()
    order = [("s1", None, "checkout"), ("f1", "pay", "checkout"), ("o1", None, "login"), ("s2", None, "checkout"),
             ("f2", "login", "checkout"), ("s3", None, "checkout")]  # fmt: skip
    for run_id, failed, workflow in order:
        store.add(make_run(run_id, failed=failed, workflow=workflow))
    store.flush()
    kept = {run_id: store.get_stored(run_id).summary.has_bodies for run_id, _, _ in order}
    assert kept == {"s1": False, "f1": True, "o1": True, "s2": False, "f2": True, "s3": True}
    summary_only = store.get("s1")
    assert summary_only is not None and all(step.exchange is None for step in summary_only.steps)
    assert [step.duration for step in summary_only.steps] == [0.1, 0.1, 0.1], "timings stay"
    assert summary_only.steps[1].assertions and summary_only.steps[1].server.queries == 3
    assert store.get("s3").steps[1].exchange.response_body == '{"ok": true}'


def test_the_store_file_holds_no_secret(serve_exporter, target, tmp_path: Path) -> None:
    """The store keeps the run as the runner redacted it: heads, bodies, curl lines, messages."""
    secret = "hunter2-store-secret"
    config = (
        simple_config(target.url, path="/fail")
        .replace("circuit_breaker:", f"credentials: {{api: {{username: u, password: {secret}}}}}\n    circuit_breaker:")
        .replace('http: {path: "/fail"}', 'http: {path: "/fail", headers: {X-Key: "${credentials.api.password}"}, '
                 'json: {password: "${credentials.api.password}"}}')
    )  # fmt: skip
    running = serve_exporter(config, storage_path=tmp_path / "data")
    workflow, local = running.exporter.config.pairs()[0]
    run = running.exporter.run(workflow, local)
    assert not run.success
    running.exporter.store.flush()
    with sqlite3.connect(tmp_path / "data" / DATABASE_FILE) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [row for table in tables for row in connection.execute(f"SELECT * FROM {table}").fetchall()]
    assert {"runs", "documents", "bodies"} <= set(tables)
    text = "".join(zlib.decompress(v).decode() if isinstance(v, bytes) else str(v) for row in rows for v in row)
    assert run.correlation_id in text and "[REDACTED]" in text
    assert secret not in text
    assert secret.encode() not in (tmp_path / "data" / DATABASE_FILE).read_bytes()


# --- filters: the SQL and the Python condition agree --------------------------------------------------------

FILTERS = [
    RunFilter(),
    RunFilter(workflow="checkout"),
    RunFilter(target="other"),
    RunFilter(result="failure"),
    RunFilter(result="success", source="probe"),
    RunFilter(reason="timeout"),
    RunFilter(step="pay"),
    RunFilter(source="replay"),
    RunFilter(since=NOW - 150),
    RunFilter(until=NOW - 150),
    RunFilter(since=NOW - 300, until=NOW - 100, workflow="checkout"),
    RunFilter(workflow="nope"),
]


@pytest.mark.parametrize("where", FILTERS, ids=repr)
def test_filters_find_the_same_runs_pending_and_stored(open_store, where: RunFilter) -> None:
    runs = []
    for index in range(12):
        failed = (None, "pay", "login")[index % 3]
        workflow, target = ("checkout", "login")[index % 2], ("shop", "other")[index % 4 // 2]
        run = make_run(f"r{index:02}", workflow=workflow, target=target, started_at=NOW - index * 30, failed=failed,
                       reason=("timeout", "http_status")[index % 2])  # fmt: skip
        runs.append((run, ("scheduled", "probe", "replay")[index % 3]))
    store = open_store()
    expected = [run.correlation_id for run, source in runs if where.matches(store.add(run, source=source))]
    pending, _ = store.runs(where, limit=100)
    store.flush()
    stored, cursor = store.runs(where, limit=100)
    assert [s.id for s in stored] == list(reversed(expected)) == [s.id for s in pending]
    assert cursor is None and all(s.seq is not None for s in stored)


def test_cursor_pages_through_every_run_once(open_store) -> None:
    store = open_store()
    for index in range(23):
        store.add(make_run(f"r{index:02}"))
    store.flush()
    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = store.runs(RunFilter(), limit=5, before=cursor)
        seen += [s.id for s in page]
        pages += 1
        if cursor is None:
            break
    assert seen == [f"r{index:02}" for index in reversed(range(23))] and pages == 5


# --- statistics and failure groups ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "p50", "p95"),
    [
        ([1.0], 1.0, 1.0),
        ([2.0, 1.0], 1.0, 2.0),
        ([float(n) for n in range(1, 21)], 10.0, 19.0),
        ([float(n) for n in range(100, 0, -1)], 50.0, 95.0),
    ],
    ids=["one", "two", "twenty", "hundred"],
)
def test_pair_windows_have_nearest_rank_percentiles(open_store, durations: list[float], p50: float, p95: float) -> None:
    store = open_store()
    for index, duration in enumerate(durations):
        store.add(make_run(f"r{index}", started_at=NOW - 60, duration=duration, failed="pay" if index % 2 else None))
    store.add(make_run("old", started_at=NOW - 7200, duration=99.0))  # in 24h, not in 1h
    store.add(make_run("replay", started_at=NOW - 60, duration=99.0), source="replay")  # never counted
    store.flush()
    stats = store.pair_stats([("checkout", "shop"), ("login", "shop")])
    hour = stats[("checkout", "shop")].windows["1h"]
    assert (hour.runs, hour.p50, hour.p95) == (len(durations), p50, p95)
    assert hour.successes == (len(durations) + 1) // 2
    assert stats[("checkout", "shop")].windows["24h"].runs == len(durations) + 1
    assert stats[("checkout", "shop")].last.id == "old"
    assert len(stats[("checkout", "shop")].trend) == min(len(durations) + 1, 40)
    empty = stats[("login", "shop")]
    assert empty.last is None and empty.windows["1h"].runs == 0 and empty.windows["1h"].success_ratio is None


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        ("took 1234 ms, budget 1000 ms", "took <n> ms, budget <n> ms"),
        ("expected status 201, got 500", "expected status <n>, got <n>"),
        ("order 5f0c2d9e-1b7a-4c1e-9a51-3f2b1c0d9e8f not found", "order <id> not found"),
        ("etag 9f86d081884c7d65 changed", "etag <hex> changed"),
        ("token eyJhbGciOiJIUzI1NiIsInR5cCI6 rejected", "token <id> rejected"),
        ("json: items[0].quantity is 3.5,\n expected 1", "json: items[<n>].quantity is <n>, expected <n>"),
        ("connection refused", "connection refused"),
    ],
)
def test_messages_are_normalised_for_grouping(message: str, normalised: str) -> None:
    assert normalise_message(message) == normalised


def test_failures_group_by_pair_step_reason_and_normalised_message(open_store) -> None:
    store = open_store()
    for index in range(5):  # one group: the numbers differ
        store.add(make_run(f"a{index}", started_at=NOW - index * 1800, failed="pay",
                           message=f"expected status 201, got {500 + index}"))  # fmt: skip
    store.add(make_run("b0", started_at=NOW - 10, failed="pay", reason="timeout", message="took 10 s"))
    store.add(make_run("c0", started_at=NOW - 10, failed="login", reason="timeout", message="took 10 s"))
    store.add(make_run("ok", started_at=NOW - 5))
    store.add(make_run("old", started_at=NOW - 90000, failed="pay"))
    store.flush()
    groups = store.failure_groups(RunFilter(since=NOW - 86400))
    assert [(g.step, g.reason, g.count) for g in groups] == [("pay", "http_status", 5), ("login", "timeout", 1),
                                                              ("pay", "timeout", 1)]  # fmt: skip
    first = groups[0]
    assert first.message == "expected status <n>, got <n>"
    assert (first.first_seen, first.last_seen) == (NOW - 4 * 1800, NOW)
    assert sum(first.hourly.values()) == 5 and all(hour % 3600 == 0 for hour in first.hourly)
    assert [s.id for s in first.examples] == ["a4", "a3", "a2"]  # the newest stored first
    assert store.failure_groups(RunFilter(reason="timeout", step="login"))[0].examples[0].id == "c0"


# --- retention --------------------------------------------------------------------------------------------------


def test_retention_by_age_deletes_the_oldest_and_keeps_the_newest(open_store, metrics) -> None:
    store = open_store(retention_time=3600.0)
    for index in range(10):  # r0 is the oldest: ten hours ago
        store.add(make_run(f"r{index}", started_at=NOW - (10 - index) * 1800))
    store.apply_retention()
    assert [s.id for s in store.runs(RunFilter())[0]] == ["r9", "r8"]
    assert sample(metrics, "workflow_exporter_store_deleted_runs_total", {"reason": "age"}) == 8
    lonely = open_store(tmp_path_or_none(store) / "second", retention_time=60.0)
    lonely.add(make_run("ancient", started_at=NOW - 10 * 86400))
    lonely.apply_retention()
    assert lonely.get("ancient") is not None, "the newest run always stays"


def tmp_path_or_none(store: RunStore) -> Path:
    assert store.directory is not None
    return store.directory


def test_retention_by_size_deletes_the_oldest_until_the_store_fits(open_store, metrics) -> None:
    store = open_store()
    noise = os.urandom(3000).hex()  # incompressible bodies: each run weighs some 8 KiB
    for index in range(300):
        store.add(make_run(f"r{index:03}", started_at=NOW - 300 + index, failed="pay", body=noise))
    store.flush()
    full = store.size_bytes
    store.retention_size = full // 3
    store.apply_retention()
    kept = [s.id for s in store.runs(RunFilter(), limit=300)[0]]
    assert store.size_bytes <= full // 3
    assert 50 < len(kept) < 120
    assert kept == [f"r{index:03}" for index in reversed(range(300 - len(kept), 300))], "the oldest go first"
    assert sample(metrics, "workflow_exporter_store_deleted_runs_total", {"reason": "size"}) == 300 - len(kept)
    assert (Path(store.where).stat().st_size) <= full // 3 + 64 * 1024, "the file shrinks too"


def test_in_memory_store_is_bounded_like_the_history(open_store) -> None:
    store = open_store(None, limit=3)
    for index in range(5):
        store.add(make_run(f"r{index}"))
    store.flush()
    assert [run.correlation_id for run in store.recent()] == ["r4", "r3", "r2"]
    assert len(store) == 3 and not store.persistent
    heavy = open_store(None, limit=100, max_bytes=200_000)
    for index in range(10):
        heavy.add(make_run(f"h{index}", body="x" * 50_000))
    heavy.flush()
    assert heavy.size_bytes <= 200_000 and heavy.get("h9") is not None and heavy.get("h0") is None


# --- schema versions -------------------------------------------------------------------------------------------


# What each older schema version wrote for one failed run (the columns it had, the document inside the row).
OLD_ROWS = {
    1: "INSERT INTO runs (id, workflow, target, result, reason, step, source, started_at, duration, summary) "
    "VALUES ('old-run', 'checkout', 'shop', 'failure', 'http_status', 'pay', 'scheduled', ?, 0.5, ?)",
    2: "INSERT INTO runs (id, workflow, target, result, reason, step, source, started_at, duration, summary, message, "
    "message_key) VALUES ('old-run', 'checkout', 'shop', 'failure', 'http_status', 'pay', 'scheduled', ?, 0.5, ?, "
    "'expected status 201, got 503', 'expected status <n>, got <n>')",
}


@pytest.mark.parametrize("version", sorted(OLD_ROWS))
def test_a_store_of_an_older_schema_is_upgraded_in_place(tmp_path: Path, open_store, version: int) -> None:
    """Version 1 (before failures were grouped by message) and 2 (documents inside the rows) are brought to the
    current schema: new columns filled from the runs, documents moved; the runs read back as they were."""
    assert version < SCHEMA_VERSION
    (tmp_path / "data").mkdir()
    old = sqlite3.connect(tmp_path / "data" / DATABASE_FILE, isolation_level=None)
    _migrate(old, "old store", upto=version)
    document = run_document(make_run("old-run", failed="pay", message="expected status 201, got 503"))
    for step in document["steps"]:
        step.pop("exchange")
    old.execute(OLD_ROWS[version], (NOW, zlib.compress(json.dumps(document).encode())))
    old.close()
    store = open_store()
    with sqlite3.connect(tmp_path / "data" / DATABASE_FILE) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
        columns = {row[1] for row in check.execute("PRAGMA table_info(runs)")}
    assert "summary" not in columns and {"message", "message_key"} <= columns
    (group,) = store.failure_groups(RunFilter())
    assert (group.message, group.count, group.examples[0].message) == (
        "expected status <n>, got <n>", 1, "expected status 201, got 503")  # fmt: skip
    stored = store.get("old-run")
    assert stored is not None and stored.steps[1].message == "expected status 201, got 503"
    store.add(make_run("new-run"))
    store.flush()
    assert [s.id for s in store.runs(RunFilter())[0]] == ["new-run", "old-run"]


@pytest.mark.parametrize(
    ("prepare", "says"),
    [
        (
            lambda c: c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}"),
            "was written by a newer workflow-exporter",
        ),
        (lambda c: c.execute("CREATE TABLE accounts (id INTEGER)"), "is not a workflow-exporter run store"),
        (None, "is not a workflow-exporter run store"),
    ],
    ids=["newer-schema", "another-database", "not-sqlite"],
)
def test_a_store_it_cannot_read_is_refused_with_a_clear_message(tmp_path: Path, prepare, says: str) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    file = directory / DATABASE_FILE
    if prepare is None:
        file.write_bytes(b"this is a text file, not a database\n" * 100)
    else:
        connection = sqlite3.connect(file, isolation_level=None)
        if "newer" in str(says):
            _migrate(connection, "store")
        prepare(connection)
        connection.close()
    before = file.read_bytes()
    with pytest.raises(StoreError, match=says) as refused:
        RunStore(directory)
    assert str(file) in str(refused.value)
    assert file.read_bytes() == before, "a refused store is left as it was"


def _unreadable_store(directory: Path, kind: str) -> None:
    directory.mkdir()
    if kind == "not-sqlite":
        (directory / DATABASE_FILE).write_bytes(b"this is a text file, not a database\n" * 100)
    elif kind == "newer-schema":
        connection = sqlite3.connect(directory / DATABASE_FILE, isolation_level=None)
        _migrate(connection, "store")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        connection.close()
    elif kind == "cannot-open":  # a store whose write-ahead log cannot be opened: the service would degrade
        RunStore(directory).close()
        for leftover in directory.glob(f"{DATABASE_FILE}-*"):
            leftover.unlink()
        (directory / f"{DATABASE_FILE}-wal").mkdir()


READERS = {
    "trace": ["trace", "run-0001"],
    "report": ["report", "--prometheus", "http://127.0.0.1:9"],
    "replay": ["replay", "run-0001"],
}
STORE_KINDS = {
    "empty": "no run store at",
    "not-sqlite": "is not a workflow-exporter run store",
    "newer-schema": "was written by a newer workflow-exporter",
    "cannot-open": "cannot open the run store",
}


@pytest.mark.parametrize("kind", list(STORE_KINDS))
@pytest.mark.parametrize("command", list(READERS))
def test_the_commands_that_read_the_store_refuse_one_they_cannot_read(tmp_path: Path, command: str, kind: str) -> None:
    """trace, report and replay given a --storage.path they cannot read exit 2 naming it and why, without a
    traceback, without creating or changing anything there, and without answering from an empty store instead
    (the service degrades to memory when its disk fails; a reader must say it cannot read)."""
    directory = tmp_path / "data"
    _unreadable_store(directory, kind)
    before = sorted(p.name for p in directory.iterdir())
    result = subprocess.run([sys.executable, "-m", "exporter", *READERS[command], f"--storage.path={directory}"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--storage.path" in result.stderr and STORE_KINDS[kind] in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in directory.iterdir()) == before


def test_the_service_refuses_a_newer_store_at_start(tmp_path: Path, target) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    connection = sqlite3.connect(directory / DATABASE_FILE, isolation_level=None)
    _migrate(connection, "store")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    connection.close()
    config = tmp_path / "workflows.yml"
    config.write_text(simple_config(target.url))
    result = subprocess.run(
        [sys.executable, "-m", "exporter", f"--config.file={config}", f"--storage.path={directory}",
         f"--web.listen-address=127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"store schema version {SCHEMA_VERSION + 5}; this version reads up to {SCHEMA_VERSION}" in result.stderr
    assert "Traceback" not in result.stderr


# --- a disk that fails: locked, full, read-only ---------------------------------------------------------------


def test_a_locked_store_degrades_to_memory_and_writes_never_wait(open_store, tmp_path: Path, metrics) -> None:
    store = open_store(busy_timeout=0.5)
    store.add(make_run("before"))
    store.flush()
    holder = sqlite3.connect(tmp_path / "data" / DATABASE_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        summary = store.add(make_run("during", failed="pay"))  # returns while the writer waits for the lock
        assert summary.id == "during" and store.get("during") is not None
        assert store.flush(timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.degraded and not store.persistent
    assert sample(metrics, "workflow_exporter_store_degraded") == 1
    assert sample(metrics, "workflow_exporter_store_write_errors_total", {"reason": "locked"}) == 1
    assert store.runs(RunFilter())[0][0].id == "during"
    store.add(make_run("after"))
    store.flush()
    assert store.get("after") is not None and store.get("during").steps[1].status == "failed"


DISK_CONFIG = """
targets:
  local: {{base_url: "{url}"}}
workflows:
  busy:
    targets: [local]
    interval: 100ms
    timeout: 100ms
    steps:
      - {{name: get, http: {{path: /ok}}}}
      - {{name: fail, http: {{path: /fail}}}}
"""


def _metric(url: str, name: str) -> float:
    for line in requests.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _serve(tmp_path: Path, config: Path, storage: Path, prefix: list[str] | None = None, **popen) -> tuple:
    port = free_port()
    process = ManagedProcess(
        "workflow-exporter",
        [*(prefix or []), sys.executable, "-m", "exporter", f"--config.file={config}", f"--storage.path={storage}",
         f"--web.listen-address=127.0.0.1:{port}"],
        tmp_path / f"exporter-{port}.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    process.wait_ready(lambda: requests.get(f"{url}/-/healthy", timeout=1).ok)
    return process, url


def test_a_full_disk_degrades_to_memory_without_losing_the_service(tmp_path: Path, target) -> None:
    """The exporter may write files of at most 256 KiB (RLIMIT_FSIZE, as a full disk): the store's write-ahead
    log outgrows that within a few runs."""
    config = tmp_path / "workflows.yml"
    config.write_text(DISK_CONFIG.format(url=target.url))
    port = free_port()
    limit = 256 * 1024
    process = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-c", f"import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, "
         f"{limit})); sys.argv = ['exporter', '--config.file={config}', '--storage.path={tmp_path / 'data'}', "
         f"'--web.listen-address=127.0.0.1:{port}']; runpy.run_module('exporter', run_name='__main__')"],
        tmp_path / "exporter.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_ready(lambda: requests.get(f"{url}/-/healthy", timeout=1).ok)
        wait_until(lambda: _metric(url, "workflow_exporter_store_degraded") == 1, 60, "the store degraded")
        assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] != limit, "the limit is the child's alone"
        errors = sum(
            _metric(url, f'workflow_exporter_store_write_errors_total{{reason="{r}"}}') for r in ("full", "io")
        )
        assert errors >= 1
        runs_before = _metric(url, 'workflow_runs_total{result="failure",target="local",workflow="busy"}')
        wait_until(lambda: _metric(url, 'workflow_runs_total{result="failure",target="local",workflow="busy"}')
                   > runs_before + 2, 30, "runs go on")  # fmt: skip
        latest = requests.get(f"{url}/api/v1/runs", params={"limit": 1}, timeout=5).json()["data"]["runs"][0]
        assert requests.get(f"{url}{latest['url']}", timeout=5).status_code == 200
        assert process.running()
        assert "keeping runs in memory only" in process.log_path.read_text()
    finally:
        process.stop()


def test_a_read_only_disk_degrades_to_memory_and_keeps_showing_the_runs_it_holds(tmp_path: Path, target) -> None:
    """The store of an earlier start is mounted read-only (a bind mount in a private mount namespace)."""
    unshare = require_binary("unshare")
    config = tmp_path / "workflows.yml"
    config.write_text(DISK_CONFIG.format(url=target.url).replace("100ms", "1h"))
    storage = tmp_path / "data"
    process, url = _serve(tmp_path, config, storage)
    try:
        first = wait_until(lambda: requests.get(f"{url}/api/v1/runs", timeout=5).json()["data"]["runs"], 30,
                           "the first run")  # fmt: skip
    finally:
        process.stop()
    old_id = first[0]["id"]
    remount = f'mount --bind -o ro "{storage}" "{storage}" && exec "$@"'
    mount = [unshare, "--mount", "--map-root-user", "sh", "-c", remount, "sh"]
    process, url = _serve(tmp_path, config, storage, prefix=mount)
    try:
        assert _metric(url, "workflow_exporter_store_degraded") == 1
        assert _metric(url, 'workflow_exporter_store_write_errors_total{reason="readonly"}') == 1
        assert requests.get(f"{url}/runs/{old_id}", timeout=5).status_code == 200, "the runs on disk still open"
        assert requests.get(f"{url}/probe", params={"target": "local", "workflow": "busy"}, timeout=10).ok
        runs = requests.get(f"{url}/api/v1/runs", timeout=5).json()["data"]["runs"]
        assert runs[0]["source"] == "probe" and runs[0]["id"] != old_id, "new runs are kept, in memory"
        assert old_id in [run["id"] for run in runs]
        assert "read-only" in process.log_path.read_text() or "readonly" in process.log_path.read_text()
    finally:
        process.stop()


# --- contract sweeps ---------------------------------------------------------------------------------------------


def test_a_sweep_reads_back_whole_after_a_restart(open_store) -> None:
    sweep = make_sweep("sweep-1")
    store = open_store()
    summary = store.add_sweep(sweep, source="probe")
    assert store.get_sweep("sweep-1") is not None, "a pending sweep is visible at once"
    assert (summary.result, summary.failed, summary.passed, summary.skipped, summary.seq) == ("failure", 1, 1, 1, None)
    store.close()
    reopened = open_store()
    stored = reopened.get_sweep("sweep-1")
    assert stored is not None and reopened.get_sweep("sweep-2") is None
    assert sweep_document(stored.sweep) == sweep_document(sweep), "every verdict and the example, as they were"
    example = stored.sweep.failures[0].example
    assert example is not None and (example.status, example.schema_error) == (200, "id: '1' is not of type 'integer'")
    summary = stored.summary
    assert (summary.target, summary.source, summary.success, summary.requests, summary.duration) == (
        "shop", "probe", False, 7, 1.5)  # fmt: skip
    assert summary.seq == 1 and summary.url == "/contracts/shop/sweeps/sweep-1"
    assert set(reopened.latest_sweeps(["shop", "other"])) == {"shop"}
    assert len(reopened) == 0, "sweeps are not runs"
    with pytest.raises(ValueError, match="source must be one of scheduled, probe"):
        reopened.add_sweep(sweep, source="cli")


def test_sweeps_are_listed_newest_first_filtered_and_paged(open_store) -> None:
    store = open_store()
    added = []
    for index in range(7):
        target = ("shop", "other")[index % 2]
        sweep = make_sweep(f"s{index}", target=target, started_at=NOW - 100 + index, failed=index % 3 == 0)
        added.append(store.add_sweep(sweep, source=("scheduled", "probe")[index == 6]))
    filters = [SweepFilter(), SweepFilter(target="shop"), SweepFilter(result="failure"),
               SweepFilter(target="other", result="success"), SweepFilter(source="probe"),
               SweepFilter(since=NOW - 97, until=NOW - 95)]  # fmt: skip
    pending = [[s.id for s in store.sweeps(where, 100)[0]] for where in filters]
    store.flush()
    stored = [[s.id for s in store.sweeps(where, 100)[0]] for where in filters]
    expected = [[s.id for s in reversed(added) if where.matches(s)] for where in filters]
    assert stored == pending == expected
    assert expected[1:5] == [["s6", "s4", "s2", "s0"], ["s6", "s3", "s0"], ["s5", "s1"], ["s6"]]
    seen, cursor = [], None
    while True:
        page, cursor = store.sweeps(SweepFilter(), 3, cursor)
        seen += [s.id for s in page]
        if cursor is None:
            break
    assert seen == [f"s{index}" for index in reversed(range(7))]
    latest = store.latest_sweeps(iter(["shop", "other", "gone"]))
    assert {name: stored.summary.id for name, stored in latest.items()} == {"shop": "s6", "other": "s5"}


def test_retention_by_age_deletes_old_sweeps_and_keeps_the_newest_of_each_target(open_store) -> None:
    store = open_store(retention_time=3600.0)
    for index in range(6):  # s0 is five hours old, s5 new; s0-s2 sweep "other", s3-s5 "shop"
        sweep = make_sweep(f"s{index}", target=("shop", "other")[index < 3], started_at=NOW - (5 - index) * 3600)
        store.add_sweep(sweep)
    store.add_sweep(make_sweep("ancient", target="forgotten", started_at=NOW - 30 * 86400))
    store.add(make_run("run", started_at=NOW - 10))
    store.apply_retention()
    kept = [s.id for s in store.sweeps(SweepFilter(), 100)[0]]
    assert kept == ["ancient", "s5", "s4", "s2"], "the last hour, and the newest sweep of every target"
    assert store.get_sweep("s0") is None and store.get("run") is not None


def test_retention_by_size_deletes_the_oldest_sweeps_and_runs_together(open_store) -> None:
    store = open_store()
    noise = os.urandom(3000).hex()  # incompressible examples: each sweep weighs some 6 KiB
    for index in range(200):
        store.add_sweep(make_sweep(f"s{index:03}", target=("shop", "other")[index % 2], started_at=NOW - 400 + index,
                                   body=noise))  # fmt: skip
        store.add(make_run(f"r{index:03}", started_at=NOW - 400 + index + 0.5, failed="pay", body=noise))
    store.flush()
    full = store.size_bytes
    store.retention_size = full // 4
    store.apply_retention()
    assert store.size_bytes <= full // 4
    sweeps = [s.id for s in store.sweeps(SweepFilter(), 200)[0]]
    runs = [s.id for s in store.runs(RunFilter(), 200)[0]]
    assert 10 < len(sweeps) < 100 and 10 < len(runs) < 100
    assert sweeps == [f"s{index:03}" for index in reversed(range(200 - len(sweeps), 200))], "the oldest go first"
    assert abs(len(sweeps) - len(runs)) <= 1, "runs and sweeps go by when they started, together"


def test_an_in_memory_store_keeps_the_newest_sweeps_of_each_target(open_store) -> None:
    store = open_store(None)
    for index in range(MEMORY_SWEEPS + 5):
        store.add_sweep(make_sweep(f"s{index:02}", started_at=NOW + index))
    store.add_sweep(make_sweep("other", target="other"))
    kept = [s.id for s in store.sweeps(SweepFilter(target="shop"), 100)[0]]
    assert kept == [f"s{index:02}" for index in reversed(range(5, MEMORY_SWEEPS + 5))]
    assert store.latest_sweeps(["other"])["other"].summary.id == "other"


def test_a_store_written_before_sweeps_is_upgraded_and_keeps_its_runs(tmp_path: Path, open_store) -> None:
    """testdata/runs-v3.db was written by the release before sweeps (schema 3, commit 4cf364f) with make_run:
    five runs, one of them a replay, four with bodies. Upgraded in place, every run reads back as it was."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / DATABASE_FILE).write_bytes((TESTDATA / "runs-v3.db").read_bytes())
    with sqlite3.connect(tmp_path / "data" / DATABASE_FILE) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 3
    store = open_store()
    with sqlite3.connect(tmp_path / "data" / DATABASE_FILE) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert check.execute("SELECT count(*) FROM sweeps").fetchone()[0] == 0
    expected = {
        "v3-ok-old": make_run("v3-ok-old", started_at=NOW - 600),
        "v3-failed": make_run("v3-failed", started_at=NOW - 300, failed="pay", message="expected status 201, got 503"),
        "v3-probe": make_run("v3-probe", workflow="login", started_at=NOW - 200),
        "v3-ok": make_run("v3-ok", started_at=NOW - 100),
        "v3-replay": make_run("v3-replay", started_at=NOW - 50, failed="login", reason="timeout", message="took 10 s"),
    }
    assert [s.id for s in store.runs(RunFilter())[0]] == list(reversed(expected)) and len(store) == 5
    for run_id, run in expected.items():
        stored = store.get_stored(run_id)
        assert stored is not None
        if run_id == "v3-ok-old":  # a successful run older than its pair's latest keeps no bodies
            assert not stored.summary.has_bodies
            for step in run.steps:
                step.exchange = None
        assert run_document(stored.run) == run_document(run), run_id
    assert [s.id for s in store.replays_of("v3-failed")] == ["v3-replay"]
    assert store.failure_groups(RunFilter())[0].message == "took <n> s"
    store.add_sweep(make_sweep("first-sweep"))
    store.add(make_run("new-run"))
    store.close()
    reopened = open_store()
    assert reopened.get_sweep("first-sweep") is not None and reopened.get("v3-failed") is not None
    assert len(reopened) == 6


def test_a_locked_store_carries_its_sweeps_into_memory(open_store, tmp_path: Path, metrics) -> None:
    store = open_store(busy_timeout=0.5)
    for index in range(MEMORY_SWEEPS + 3):
        store.add_sweep(make_sweep(f"s{index:02}", started_at=NOW + index, failed=False))
    store.add_sweep(make_sweep("other", target="other", failed=False))
    store.flush()
    holder = sqlite3.connect(tmp_path / "data" / DATABASE_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        store.add_sweep(make_sweep("during", started_at=NOW + 100))
        assert store.get_sweep("during") is not None, "visible while the writer waits"
        assert store.flush(timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.degraded and sample(metrics, "workflow_exporter_store_degraded") == 1
    during = store.get_sweep("during")
    assert during is not None and during.sweep.failures[0].example is not None
    assert store.latest_sweeps(["shop", "other"])["shop"].summary.id == "during"
    kept = [s.id for s in store.sweeps(SweepFilter(target="shop"), 100)[0]]
    assert kept[0] == "during" and len(kept) == MEMORY_SWEEPS, "the newest of each target came along"
    assert store.get_sweep("other") is not None
