"""The run store: every run the exporter makes, kept in SQLite on disk (or in memory), for the pages, the JSON
API, the live stream and replays.

Layout. ``--storage.path`` is a directory (default ``data/``, as Prometheus' ``--storage.tsdb.path``) holding
one SQLite database, ``runs.db``. Each run is one row of ``runs``, with the columns lists and filters need
(``id`` = the correlation ID, ``workflow``, ``target``, ``result``, ``reason``, ``step``: the failed step,
``message`` and its normalised ``message_key``, ``source``, ``started_at`` in unix seconds, ``duration`` in
seconds, ``replay_of``), and one row of ``documents``: the run's JSON document
(``synthetic.run_formats.run_document``) without the request/response exchanges, zlib-compressed, apart so
that lists and filters read small rows. Every field a step's document has is kept, so what a later version
adds to it (timing phases, certificate details) is stored without a schema change. The exchanges (heads and
bodies, already redacted by the runner) are a row of ``bodies``; they are kept for runs
that did not succeed and for the latest successful run of each workflow x target pair. When a pair's next
successful run lands, the previous one's bodies go, so a year of a 1000-pair config holds 1000 sets of
successful bodies, not millions.

Contract sweeps (``exporter/contracts.py``) are kept beside the runs: one row of ``sweeps`` per sweep, with the
columns the lists need (``id`` = the sweep's correlation ID, ``target``, ``source``, ``started_at``, ``duration``,
``success``, ``error``, ``requests``, ``budget``, ``operations`` and the checks counted by result) and the whole
sweep (``synthetic.contracts.formats.sweep_document``: every verdict, each failure's example), redacted by the
sweep and zlib-compressed. They are written by the same writer thread and bounded by the same retention as the
runs, except that the newest sweep of each target always stays (the ``/contracts`` pages show it after a
restart); in memory, the newest ``MEMORY_SWEEPS`` of each target are kept.

Schema. ``PRAGMA user_version`` holds the schema version; ``MIGRATIONS`` upgrade an older store in place when
it is opened. A store written by a newer version is refused (``StoreError``), as is a file that is not a
workflow-exporter store.

Writes never block a run: ``add`` hands the run to a writer thread, which inserts in batches; until then the
run is "pending" and ``get`` and the lists see it anyway. Retention (by age and by size) runs in the same
thread every ``RETENTION_INTERVAL`` seconds. When the disk store fails (full, locked past ``busy_timeout``,
read-only, I/O error), the store logs an error, sets ``workflow_exporter_store_degraded`` to 1, counts the
error, and goes on in memory (holding the newest runs and sweeps it can still read from the disk), until the
exporter restarts. The service is never stopped by its store.

In memory (``--storage.path=""``, or degraded) the store holds at most ``limit`` runs and about
``max_bytes`` of them (weighed by ``exporter.history.run_size``), the newest always, as the history before
the store did.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from synthetic.contracts.formats import sweep_document, sweep_from_document
from synthetic.contracts.sweep import SweepResult
from synthetic.result import AssertionResult, Exchange, RunResult, ServerTiming, StepResult
from synthetic.run_formats import run_document

from .history import DEFAULT_LIMIT, DEFAULT_MAX_BYTES, run_size

logger = logging.getLogger("exporter.store")

__all__ = [
    "DEFAULT_RETENTION_TIME",
    "DEFAULT_STORAGE_PATH",
    "RESULTS",
    "SCHEMA_VERSION",
    "SOURCES",
    "SWEEP_SOURCES",
    "FailureGroup",
    "PairStats",
    "RunFilter",
    "RunStore",
    "RunSummary",
    "StoreError",
    "StoredRun",
    "StoredSweep",
    "SweepFilter",
    "SweepSummary",
    "normalise_message",
    "run_from_document",
]

DEFAULT_STORAGE_PATH = "data/"
DATABASE_FILE = "runs.db"
DEFAULT_RETENTION_TIME = 7 * 86400.0  # seconds, as Prometheus' --storage.tsdb.retention.time default 15d is to it
RETENTION_INTERVAL = 60.0  # seconds between retention passes in the writer thread
DEFAULT_BUSY_TIMEOUT = 5.0  # seconds a write waits for another process' lock before the store degrades
WRITE_QUEUE = 2000  # runs waiting for the writer (bounds its memory); beyond it a run is not stored (counted)
BATCH = 500  # runs per write transaction at most
MESSAGE_CHARS = 500  # the failed step's message as the runs table keeps it
SOURCES = ("scheduled", "probe", "cli", "replay")
RESULTS = ("success", "degraded", "failure")
APPLICATION_ID = 0x57465845  # "WFXE": marks a SQLite file as a workflow-exporter store
STATS_SOURCES = ("scheduled", "probe")  # runs that count in a pair's success ratio and percentiles
STATS_TTL = 10.0  # seconds the pairs' 1h/24h windows are reused for (the pages and /api/v1/workflows)
SWEEP_SOURCES = ("scheduled", "probe")  # a contract sweep on the schedule, or /probe?module=contract
MEMORY_SWEEPS = 20  # sweeps of each target an in-memory (or degraded) store keeps, the newest


class StoreError(Exception):
    """The store cannot be used and must not be degraded around: a newer schema, or not our file."""


class StoreMetrics(Protocol):
    """The self-metrics the store feeds (``exporter.metrics.WorkflowMetrics`` has them)."""

    @property
    def store_degraded(self) -> Any: ...  # Gauge: 1 while runs are kept in memory only

    @property
    def store_write_errors(self) -> Any: ...  # Counter, label reason

    @property
    def store_deleted_runs(self) -> Any: ...  # Counter, label reason (age, size, count)


# --- the schema ------------------------------------------------------------------------------------------------

_V1 = """
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY,               -- insertion order: the list order and the cursor
    id TEXT NOT NULL UNIQUE,               -- the run's correlation ID
    workflow TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,                  -- success, degraded, failure
    reason TEXT,                           -- the failed step's reason (closed set)
    step TEXT,                             -- the failed (or degraded) step
    source TEXT NOT NULL,                  -- scheduled, probe, cli, replay
    started_at REAL NOT NULL,              -- unix seconds
    duration REAL NOT NULL,                -- seconds
    replay_of TEXT,                        -- the run this one replays
    has_bodies INTEGER NOT NULL DEFAULT 0, -- 1 while bodies holds its exchanges
    weight INTEGER NOT NULL DEFAULT 0,     -- bytes it holds in memory (run_size); used by the in-memory store
    summary BLOB NOT NULL                  -- zlib(JSON): the run document without exchanges
);
CREATE TABLE bodies (
    seq INTEGER PRIMARY KEY,               -- runs.seq
    data BLOB NOT NULL                     -- zlib(JSON): one exchange (or null) per step
);
CREATE INDEX runs_pair ON runs (workflow, target);
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_result ON runs (result);
CREATE INDEX runs_replay_of ON runs (replay_of) WHERE replay_of IS NOT NULL;
CREATE INDEX runs_success_bodies ON runs (workflow, target) WHERE has_bodies = 1 AND result = 'success';
CREATE TRIGGER runs_delete AFTER DELETE ON runs BEGIN DELETE FROM bodies WHERE seq = old.seq; END;
"""

_V2 = """
ALTER TABLE runs ADD COLUMN message TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN message_key TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_problems ON runs (started_at) WHERE result != 'success';
"""


def _backfill_messages(connection: sqlite3.Connection) -> None:
    """Version 2 groups failures by a normalised message: compute it for the runs an older version stored."""
    rows = connection.execute("SELECT seq, summary FROM runs WHERE result != 'success'").fetchall()
    for seq, blob in rows:
        message = _problem_message(_decode(blob))
        connection.execute("UPDATE runs SET message = ?, message_key = ? WHERE seq = ?",
                           (message, normalise_message(message), seq))  # fmt: skip


# Version 3: the documents move out of the rows that lists and filters scan (a million runs read in a tenth),
# and an index covers what the workflows' windows read.
_V3 = """
CREATE TABLE documents (
    seq INTEGER PRIMARY KEY,               -- runs.seq
    summary BLOB NOT NULL                  -- zlib(JSON): the run document without exchanges
);
INSERT INTO documents (seq, summary) SELECT seq, summary FROM runs;
ALTER TABLE runs DROP COLUMN summary;
DROP TRIGGER runs_delete;
CREATE TRIGGER runs_delete AFTER DELETE ON runs BEGIN
    DELETE FROM bodies WHERE seq = old.seq;
    DELETE FROM documents WHERE seq = old.seq;
END;
CREATE INDEX runs_pair_time ON runs (workflow, target, started_at, source, result, duration);
"""

# Version 4: contract sweeps, one row each (the lists' columns, then the whole sweep, compressed, last).
_V4 = """
CREATE TABLE sweeps (
    seq INTEGER PRIMARY KEY,               -- insertion order: the list order and the cursor
    id TEXT NOT NULL UNIQUE,               -- the sweep's correlation ID
    target TEXT NOT NULL,
    source TEXT NOT NULL,                  -- scheduled, probe
    started_at REAL NOT NULL,              -- unix seconds
    duration REAL NOT NULL,                -- seconds
    success INTEGER NOT NULL,              -- 1: it could check, and every check passed
    error TEXT,                            -- why it could not check at all (then it has no verdicts)
    requests INTEGER NOT NULL,             -- the checks' requests
    budget INTEGER NOT NULL,               -- max_requests
    operations INTEGER NOT NULL,
    passed INTEGER NOT NULL,               -- checks by result
    failed INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    document BLOB NOT NULL                 -- zlib(JSON): sweep_document, every verdict and each failure's example
);
CREATE INDEX sweeps_target ON sweeps (target, seq);
CREATE INDEX sweeps_started ON sweeps (started_at);
"""

# Each entry upgrades the store from the version before it: SQL, then an optional Python step.
MIGRATIONS: tuple[tuple[str, Callable[[sqlite3.Connection], None] | None], ...] = (
    (_V1, None),
    (_V2, _backfill_messages),
    (_V3, None),
    (_V4, None),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _migrate(connection: sqlite3.Connection, where: str, upto: int = SCHEMA_VERSION) -> None:
    """Bring the database to schema ``upto``; StoreError for a newer schema or a file that is not ours."""
    version = connection.execute("PRAGMA user_version").fetchall()[0][0]
    application = connection.execute("PRAGMA application_id").fetchall()[0][0]
    tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchall()[0][0]
    if tables and application != APPLICATION_ID:
        raise StoreError(f"{where} is not a workflow-exporter run store (an SQLite database of something else); "
                         "point --storage.path at an empty or own directory")  # fmt: skip
    if version > upto:
        raise StoreError(
            f"{where} was written by a newer workflow-exporter (store schema version {version}; this version "
            f"reads up to {upto}). Upgrade workflow-exporter, or start it with another --storage.path."
        )
    if version == upto:
        return
    if version == 0:
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table: lets retention shrink it
    for number in range(version + 1, upto + 1):
        script, step = MIGRATIONS[number - 1]
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                connection.execute(statement)
            if step is not None:
                step(connection)
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        if version:
            logger.info("run store %s upgraded to schema version %d", where, number)


def _statements(script: str) -> list[str]:
    """The statements of a migration script (a trigger's body keeps its inner semicolons)."""
    statements, current = [], ""
    for line in script.splitlines():
        line = line.split("--", 1)[0].rstrip()
        if not line:
            continue
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


# --- records ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """One run as lists show it (no steps). Times in unix seconds, durations in seconds."""

    id: str
    workflow: str
    target: str
    result: str  # RESULTS
    reason: str | None
    step: str | None  # the failed (or degraded) step
    message: str  # that step's message, at most MESSAGE_CHARS
    source: str  # SOURCES
    started_at: float
    duration: float
    replay_of: str | None = None
    has_bodies: bool = False
    seq: int | None = None  # position in the store; None while the writer has not inserted it yet

    def document(self) -> dict[str, Any]:
        """The JSON shape of the API's run lists and of the stream's events (docs/api.md)."""
        return {
            "id": self.id,
            "workflow": self.workflow,
            "target": self.target,
            "result": self.result,
            "reason": self.reason,
            "step": self.step,
            "message": self.message,
            "source": self.source,
            "started_at": self.started_at,
            "duration_seconds": self.duration,
            "replay_of": self.replay_of,
            "has_bodies": self.has_bodies,
            "url": f"/runs/{self.id}",
        }


@dataclass
class StoredRun:
    """A run read back from the store: the run itself (its steps' exchanges only when ``has_bodies``) and its
    summary."""

    run: RunResult
    summary: RunSummary


@dataclass(frozen=True)
class SweepSummary:
    """One contract sweep as lists show it (no verdicts). Times in unix seconds, durations in seconds."""

    id: str  # the sweep's correlation ID
    target: str
    source: str  # SWEEP_SOURCES
    started_at: float
    duration: float
    success: bool
    error: str | None
    requests: int
    budget: int
    operations: int
    passed: int
    failed: int
    errors: int
    skipped: int
    seq: int | None = None  # position in the store; None while the writer has not inserted it yet

    @property
    def result(self) -> str:
        return "success" if self.success else "failure"

    @property
    def url(self) -> str:
        return f"/contracts/{self.target}/sweeps/{self.id}"

    def document(self) -> dict[str, Any]:
        """The JSON shape of the API's sweep lists (docs/api.md)."""
        return {
            "id": self.id,
            "target": self.target,
            "source": self.source,
            "result": self.result,
            "error": self.error,
            "started_at": self.started_at,
            "duration_seconds": self.duration,
            "requests": self.requests,
            "budget": self.budget,
            "operations": self.operations,
            "counts": {"passed": self.passed, "failed": self.failed, "error": self.errors, "skipped": self.skipped},
            "url": self.url,
        }


@dataclass
class StoredSweep:
    """A sweep read back from the store (every verdict, each failure's example) and its summary."""

    sweep: SweepResult
    summary: SweepSummary


@dataclass
class _SweepRecord:
    """A sweep on its way to the database; the writer encodes it."""

    summary: SweepSummary
    sweep: SweepResult
    _blob: bytes | None = None

    def encode(self) -> bytes:
        if self._blob is None:
            self._blob = _encode(sweep_document(self.sweep))
        return self._blob


def _sweep_record(sweep: SweepResult, source: str) -> _SweepRecord:
    summary = SweepSummary(
        id=sweep.correlation_id,
        target=sweep.target,
        source=source,
        started_at=sweep.started_at,
        duration=sweep.duration,
        success=sweep.success,
        error=sweep.error,
        requests=sweep.requests,
        budget=sweep.budget,
        operations=sweep.operations,
        passed=sweep.count("passed"),
        failed=sweep.count("failed"),
        errors=sweep.count("error"),
        skipped=sweep.count("skipped"),
    )
    return _SweepRecord(summary, sweep)


@dataclass
class _Record:
    """A run on its way to the database. Its summary is made in the thread that ran it (a few microseconds);
    the document is encoded and compressed (``encode``) by the writer, so a run pays nothing more."""

    summary: RunSummary
    run: RunResult
    weight: int = 0
    _blobs: tuple[bytes, bytes | None] | None = None

    def encode(self) -> tuple[bytes, bytes | None]:
        """The compressed document without exchanges, and the exchanges (None when the run kept none)."""
        if self._blobs is None:
            document = run_document(self.run)
            exchanges = [step.pop("exchange", None) for step in document["steps"]]
            bodies = _encode(exchanges) if any(e is not None for e in exchanges) else None
            self._blobs = (_encode(document), bodies)
        return self._blobs


_STEP_RENAMES = {"offset_seconds": "offset", "duration_seconds": "duration", "budget_seconds": "budget"}
_RUN_RENAMES = {"duration_seconds": "duration"}
_NESTED: dict[str, Callable[[Any], Any]] = {
    "server": lambda value: ServerTiming(**_known(ServerTiming, value)) if value is not None else ServerTiming(),
    "assertions": lambda value: [AssertionResult(**_known(AssertionResult, item)) for item in value or ()],
    "exchange": lambda value: Exchange(**_known(Exchange, value)) if value is not None else None,
}


def _known(cls: type, values: Mapping[str, Any], renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``values`` renamed to ``cls``' field names, without keys ``cls`` does not have (newer or derived ones)."""
    names = {f.name for f in fields(cls)}
    out = {}
    for key, value in values.items():
        name = (renames or {}).get(key, key)
        if name in names:
            out[name] = value
    return out


def run_from_document(document: Mapping[str, Any]) -> RunResult:
    """The ``RunResult`` a ``run_document`` was made from (derived keys such as ``result`` are recomputed)."""
    steps = []
    for raw in document.get("steps", ()):
        values = _known(StepResult, raw, _STEP_RENAMES)
        for name, build in _NESTED.items():
            if name in values:
                values[name] = build(values[name])
        steps.append(StepResult(**values))
    values = _known(RunResult, document, _RUN_RENAMES)
    values["steps"] = steps
    return RunResult(**values)


def _encode(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False).encode(), 6)


def _decode(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


def _problem_step(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The step a run broke at: the first that failed, else the first over its budget (``degraded``)."""
    steps = document.get("steps", ())
    failed = next((s for s in steps if s.get("status") == "failed"), None)
    return failed or next((s for s in steps if s.get("degraded")), None)


def _problem_message(document: Mapping[str, Any]) -> str:
    """The problem step's message, else its first failed check (a degraded step has no message of its own)."""
    step = _problem_step(document)
    if step is None:
        return ""
    message = step.get("message") or next((f"{a.get('name')}: {a.get('message')}" for a in step.get("assertions", ())
                                           if not a.get("ok")), "")  # fmt: skip
    return str(message)[:MESSAGE_CHARS]


_NORMALISERS = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<id>"),
    (re.compile(r"\b(?:0x)?(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}\b"), "<id>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def normalise_message(message: str) -> str:
    """A failure message with what differs between occurrences stripped: UUIDs and long IDs (``<id>``), hex
    strings (``<hex>``) and numbers (``<n>``); at most 200 characters. Failures group by it."""
    text = message[:MESSAGE_CHARS]
    for pattern, replacement in _NORMALISERS:
        text = pattern.sub(replacement, text)
    return text.strip()[:200]


def _step_problem(run: RunResult) -> StepResult | None:
    """``_problem_step`` on a run: the first failed step, else the first over its budget."""
    failed = next((step for step in run.steps if step.status == "failed"), None)
    return failed or next((step for step in run.steps if getattr(step, "degraded", False)), None)


def _record(run: RunResult, source: str, replay_of: str | None, weigh: bool) -> _Record:
    problem = _step_problem(run)
    message = ""
    if problem is not None:
        message = problem.message or next((f"{a.name}: {a.message}" for a in problem.assertions if not a.ok), "")
    result = getattr(run, "result", None) or ("success" if run.success else "failure")
    summary = RunSummary(
        id=run.correlation_id,
        workflow=run.workflow,
        target=run.target,
        result=str(result),
        reason=problem.reason if problem else None,
        step=problem.name if problem else None,
        message=message[:MESSAGE_CHARS],
        source=source,
        started_at=run.started_at,
        duration=run.duration,
        replay_of=replay_of,
        has_bodies=any(step.exchange is not None for step in run.steps),
    )
    return _Record(summary, run, run_size(run) if weigh else 0)


# --- queries ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFilter:
    """What the run lists filter by; ``None`` leaves a field out. ``step`` is the failed (or degraded) step;
    ``since`` and ``until`` bound ``started_at`` (unix seconds, both inclusive)."""

    workflow: str | None = None
    target: str | None = None
    result: str | None = None
    reason: str | None = None
    step: str | None = None
    source: str | None = None
    since: float | None = None
    until: float | None = None

    _COLUMNS = ("workflow", "target", "result", "reason", "step", "source")

    def where(self) -> tuple[str, list[Any]]:
        """A SQL condition on ``runs`` and its parameters (``1`` when nothing is filtered)."""
        return _condition([(name, getattr(self, name)) for name in self._COLUMNS], self.since, self.until)

    def matches(self, summary: RunSummary) -> bool:
        """The same condition in Python: for runs the writer has not inserted yet, and for the stream."""
        if any(getattr(self, n) is not None and getattr(self, n) != getattr(summary, n) for n in self._COLUMNS):
            return False
        if self.since is not None and summary.started_at < self.since:
            return False
        return self.until is None or summary.started_at <= self.until


def _condition(equals: Sequence[tuple[str, Any]], since: float | None, until: float | None) -> tuple[str, list[Any]]:
    """``column = ?`` for each pair whose value is not None, ``started_at`` within [since, until]; joined by AND
    (``1`` when nothing is left), with the parameters in order."""
    terms = [f"{column} = ?" for column, value in equals if value is not None]
    params: list[Any] = [value for _, value in equals if value is not None]
    for term, bound in (("started_at >= ?", since), ("started_at <= ?", until)):
        if bound is not None:
            terms.append(term)
            params.append(bound)
    return " AND ".join(terms) or "1", params


@dataclass(frozen=True)
class SweepFilter:
    """What the sweep lists filter by; ``None`` leaves a field out. ``result`` is ``success`` or ``failure``;
    ``since`` and ``until`` bound ``started_at`` (unix seconds, both inclusive)."""

    target: str | None = None
    result: str | None = None
    source: str | None = None
    since: float | None = None
    until: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        """A SQL condition on ``sweeps`` and its parameters (``1`` when nothing is filtered)."""
        success = None if self.result is None else int(self.result == "success")
        return _condition([("target", self.target), ("source", self.source), ("success", success)], self.since,
                          self.until)  # fmt: skip

    def matches(self, summary: SweepSummary) -> bool:
        """The same condition in Python, for sweeps the writer has not inserted yet."""
        return (
            (self.target is None or summary.target == self.target)
            and (self.source is None or summary.source == self.source)
            and (self.result is None or summary.result == self.result)
            and (self.since is None or summary.started_at >= self.since)
            and (self.until is None or summary.started_at <= self.until)
        )


@dataclass(frozen=True)
class Window:
    """One pair's runs over a time window: count, success ratio (0..1, None without runs; a degraded run
    completed its journey and counts as a success) and nearest-rank percentiles of the run duration in
    seconds."""

    runs: int = 0
    successes: int = 0
    p50: float | None = None
    p95: float | None = None

    @property
    def success_ratio(self) -> float | None:
        return self.successes / self.runs if self.runs else None


@dataclass(frozen=True)
class PairStats:
    """A workflow x target pair from the store: its last run, ``windows`` by name (``1h``, ``24h``) and the
    last runs as ``trend`` (oldest first: (started_at, duration seconds, result))."""

    workflow: str
    target: str
    last: RunSummary | None
    windows: Mapping[str, Window]
    trend: list[tuple[float, float, str]]


@dataclass(frozen=True)
class FailureGroup:
    """Runs that broke the same way: same workflow, target, step, reason and normalised message. Times in
    unix seconds; ``hourly`` maps the start of each hour (unix seconds) to its count; ``examples`` are the
    newest runs of the group."""

    workflow: str
    target: str
    step: str | None
    reason: str | None
    result: str
    message: str  # normalised
    count: int
    first_seen: float
    last_seen: float
    hourly: dict[int, int]
    examples: list[RunSummary]


WINDOWS = {"1h": 3600.0, "24h": 86400.0}


def _window(runs: list[tuple[float, str]]) -> Window:
    """A ``Window`` of (duration, result) pairs: nearest-rank p50 and p95 (the value at rank ceil(p*n))."""
    if not runs:
        return Window()
    durations = sorted(duration for duration, _ in runs)
    n = len(durations)
    successes = sum(1 for _, result in runs if result != "failure")
    return Window(n, successes, durations[(n * 50 + 99) // 100 - 1], durations[(n * 95 + 99) // 100 - 1])


TREND_RUNS = 40
_SUMMARY_COLUMNS = (
    "id, workflow, target, result, reason, step, message, source, started_at, duration, replay_of, has_bodies, seq"
)


def _summary(row: Sequence[Any]) -> RunSummary:
    return RunSummary(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10],
                      bool(row[11]), row[12])  # fmt: skip


# The newest sweep of each target: retention never deletes it.
_NEWEST_SWEEPS = "SELECT max(seq) FROM sweeps GROUP BY target"
_SWEEP_COLUMNS = ("id, target, source, started_at, duration, success, error, requests, budget, operations, passed, "
                  "failed, errors, skipped")  # fmt: skip


def _sweep_summary(row: Sequence[Any]) -> SweepSummary:
    """A row of ``_SWEEP_COLUMNS, seq``."""
    return SweepSummary(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7], row[8], row[9],
                        row[10], row[11], row[12], row[13], row[14])  # fmt: skip


def _stored_sweep(row: Sequence[Any]) -> StoredSweep:
    """A row of ``_SWEEP_COLUMNS, seq, document``."""
    return StoredSweep(sweep_from_document(_decode(row[15])), _sweep_summary(row))


def _page(found: list[Any], pending: list[Any], limit: int) -> tuple[list[Any], int | None]:
    """One page of a list, newest first: the ``pending`` summaries the writer has not inserted yet, then ``found``
    (at most ``limit`` + 1 read from the database); and the cursor of the next page (None on the last)."""
    known = {s.id for s in found}
    found = [s for s in pending if s.id not in known] + found
    more = len(found) > limit
    found = found[:limit]
    return found, next((s.seq for s in reversed(found) if s.seq is not None), None) if more else None


# --- the databases ---------------------------------------------------------------------------------------------


class _Database:
    """One SQLite database: a file (a writer connection plus one reader connection per thread, WAL) or memory
    (one connection behind a lock)."""

    def __init__(self, path: Path | None, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, readonly: bool = False) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.readonly = readonly
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self.where = str(path) if path else "memory"
        self.writer = self._connect()
        if readonly:
            return
        try:
            _migrate(self.writer, self.where)
            if path is not None:
                self.writer.execute("PRAGMA journal_mode = WAL")
                self.writer.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:  # a store on a read-only disk: read it as it is, without a WAL index
            target, uri = f"file:{self.path}?mode=ro&immutable=1", True
        else:
            target, uri = str(self.path) if self.path else ":memory:", False
        connection = sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None,
                                     check_same_thread=False, uri=uri)  # fmt: skip
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return connection

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        if self.path is None:
            with self._lock:
                yield self.writer
            return
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
            with self._lock:
                self._readers.append(connection)
        yield connection

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction on the writer connection (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        with self._lock:
            self.writer.execute("BEGIN IMMEDIATE")
            try:
                yield self.writer
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.writer.execute("ROLLBACK")
                raise
            self.writer.execute("COMMIT")

    def size_bytes(self) -> int:
        """Bytes the database uses: its pages minus the free ones (the WAL file not counted)."""
        with self._lock:
            pages, free, size = (self.writer.execute(f"PRAGMA {name}").fetchall()[0][0]
                                 for name in ("page_count", "freelist_count", "page_size"))  # fmt: skip
        return int((pages - free) * size)

    def close(self) -> None:
        with self._lock:
            for connection in [*self._readers, self.writer]:
                with contextlib.suppress(sqlite3.Error):
                    connection.close()
            self._readers.clear()


def _readable(file: Path) -> _Database | None:
    """The store at ``file`` opened read-only (a read-only disk), to carry its newest runs into memory."""
    if not file.is_file():
        return None
    with contextlib.suppress(sqlite3.Error, OSError):
        return _Database(file, readonly=True)
    return None


def _error_reason(error: BaseException) -> str:
    """A write error's kind, for the metric and the log: full, locked, readonly, io or other."""
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error).lower()
    if name.startswith("SQLITE_FULL") or "full" in text:
        return "full"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return "locked"
    if name.startswith("SQLITE_READONLY") or "readonly" in text or "read-only" in text:
        return "readonly"
    if name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) or "i/o" in text or "unable to open" in text:
        return "io"
    return "other"


# --- the store -------------------------------------------------------------------------------------------------

_STOP = object()


@dataclass
class _Command:
    """Work for the writer thread besides inserting: ``retention`` or ``flush``; ``done`` is set after it."""

    kind: str
    done: threading.Event = field(default_factory=threading.Event)


class RunStore:
    """Every run, persistent (``path``: a directory) or in memory (``path`` None); see the module docstring.

    ``retention_time`` (seconds) and ``retention_size`` (bytes, None: unbounded) bound the disk store;
    ``limit`` (runs) and ``max_bytes`` bound the in-memory one and the length of ``recent()``. ``metrics``
    receives the self-metrics, ``clock`` gives unix time (retention and the windows of ``pair_stats``).
    Raises ``StoreError`` when the directory holds a store of a newer version or not a store at all; any other
    problem with the disk degrades to memory.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        retention_time: float = DEFAULT_RETENTION_TIME,
        retention_size: int | None = None,
        limit: int = DEFAULT_LIMIT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        metrics: StoreMetrics | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        retention_interval: float = RETENTION_INTERVAL,
        stats_ttl: float = STATS_TTL,
        degrade: bool = True,
    ) -> None:
        self.degrade = degrade  # False: a disk that fails at open raises StoreError instead of going to memory
        self.retention_time = retention_time
        self.retention_size = retention_size
        self.limit = limit
        self.max_bytes = max_bytes
        self.metrics = metrics
        self.clock = clock
        self.retention_interval = retention_interval
        self.stats_ttl = stats_ttl
        self._windows_cache: dict[
            tuple[tuple[str, str], ...], tuple[float, dict[str, dict[tuple[str, str], Window]]]
        ] = {}
        self.degraded = False
        self.directory = Path(path) if path not in (None, "") else None
        self._pending: dict[str, _Record] = {}
        self._pending_sweeps: dict[str, _SweepRecord] = {}
        self._pending_lock = threading.Lock()
        self._listeners: list[Callable[[RunSummary], None]] = []
        self._queue: queue.Queue[Any] = queue.Queue(WRITE_QUEUE)
        self._memory_bytes = 0
        self._count = 0
        self._closed = False
        if metrics is not None:
            metrics.store_degraded.set(0)
            for reason in ("full", "locked", "readonly", "io", "queue_full", "other"):
                metrics.store_write_errors.labels(reason)
            for reason in ("age", "size", "count"):
                metrics.store_deleted_runs.labels(reason)
        self._db = self._open(busy_timeout)
        with self._db.read() as connection:  # (an in-memory store starts empty: its weight is 0)
            self._count = connection.execute("SELECT count(*) FROM runs").fetchall()[0][0]
        # A disk store writes in a thread of its own; an in-memory one (nothing to wait for) as runs are added.
        self._thread: threading.Thread | None = None
        self._memory_lock = threading.Lock()
        if self._db.path is not None:
            self._thread = threading.Thread(target=self._write_loop, name="run-store-writer", daemon=True)
            self._thread.start()

    @classmethod
    def open_existing(cls, path: str) -> RunStore:
        """The run store already at ``path`` (the exporter's ``--storage.path``), for a command that only reads it
        (``trace``, ``report``, ``replay``): never creates one, never degrades to an empty memory store, which would
        make a reader report "nothing found" for a store it could not open. ``StoreError`` naming the path when
        there is no store there, it is not a run store (or a newer one), or it cannot be opened."""
        file = Path(path) / DATABASE_FILE
        if not file.is_file():
            raise StoreError(f"no run store at {path!r}: no {DATABASE_FILE} there (the exporter's --storage.path)")
        return cls(path, degrade=False)

    def _open(self, busy_timeout: float) -> _Database:
        if self.directory is None:
            return _Database(None)
        file = self.directory / DATABASE_FILE
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            return _Database(file, busy_timeout)
        except StoreError:
            raise
        except (sqlite3.DatabaseError, OSError) as error:
            if getattr(error, "sqlite_errorname", "") == "SQLITE_NOTADB":
                raise StoreError(f"{file} is not a workflow-exporter run store (not an SQLite database); point "
                                 "--storage.path at an empty or own directory") from None  # fmt: skip
            if not self.degrade:
                raise StoreError(f"cannot open the run store {file} ({_error_reason(error)}: {error})") from None
            return self._degrade(error, _readable(file), f"cannot open the run store {file}")

    @property
    def persistent(self) -> bool:
        """True while runs go to disk (a path was given and the store has not degraded)."""
        return self._db.path is not None

    @property
    def where(self) -> str:
        return self._db.where

    # --- writing ---------------------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[RunSummary], None]) -> None:
        """Call ``listener`` with the summary of every run added from now on (in the adding thread, at once)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[RunSummary], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def add(self, run: RunResult, source: str = "scheduled", replay_of: str | None = None) -> RunSummary:
        """Keep ``run`` (already redacted); returns at once: the writer thread stores it (in memory, it is stored
        here). ``source`` is one of ``SOURCES``; ``replay_of`` the ID of the run this one replays."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        record = _record(
            run, source, replay_of, weigh=self._db.path is None
        )  # the weight bounds the in-memory store only
        if self._closed:  # a run that ends after the exporter stopped
            return record.summary
        self._enqueue(record, self._pending, f"run {run.correlation_id}")
        for listener in list(self._listeners):
            try:
                listener(record.summary)
            except Exception:  # a listener's bug must not fail the run
                logger.exception("run store listener failed")
        return record.summary

    def add_sweep(self, sweep: SweepResult, source: str = "scheduled") -> SweepSummary:
        """Keep a contract sweep (already redacted), like ``add`` a run: at once, written by the writer thread.
        ``source`` is one of ``SWEEP_SOURCES``."""
        if source not in SWEEP_SOURCES:
            raise ValueError(f"source must be one of {', '.join(SWEEP_SOURCES)}, not {source!r}")
        record = _sweep_record(sweep, source)
        if not self._closed:
            self._enqueue(record, self._pending_sweeps, f"contract sweep {sweep.correlation_id} of {sweep.target}")
        return record.summary

    def _enqueue(self, record: _Record | _SweepRecord, pending: dict[str, Any], what: str) -> None:
        """Hand ``record`` to the writer (in memory: write it now); it is ``pending`` until written."""
        with self._pending_lock:
            pending[record.summary.id] = record
        try:
            if self._thread is None:
                with self._memory_lock:
                    self._insert([record])
            else:
                self._queue.put_nowait(record)
        except queue.Full:
            with self._pending_lock:
                pending.pop(record.summary.id, None)
            self._count_error("queue_full")
            logger.error("run store: %d runs wait for the writer; %s is not kept", WRITE_QUEUE, what)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every run and sweep added before is in the database; False after ``timeout`` seconds."""
        return self._command("flush", timeout)

    def apply_retention(self, timeout: float = 60.0) -> bool:
        """Run a retention pass now (in the writer thread) and wait for it."""
        return self._command("retention", timeout)

    def _command(self, kind: str, timeout: float) -> bool:
        if self._closed or self._thread is None:  # in memory: written already, bounded as runs are added
            return True
        command = _Command(kind)
        self._queue.put(command)
        return command.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is pending, stop the writer, close the database. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self._db.close()

    def _write_loop(self) -> None:
        next_retention = time.monotonic()
        while True:
            timeout = max(0.0, next_retention - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = _Command("retention")
            batch: list[Any] = [item]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [entry for entry in batch if isinstance(entry, _Record | _SweepRecord)]
            if records:
                self._insert(records)
            for entry in batch:
                if isinstance(entry, _Command):
                    if entry.kind == "retention":
                        self._retention()
                        next_retention = time.monotonic() + self.retention_interval
                    entry.done.set()
            if any(entry is _STOP for entry in batch):
                return

    def _insert(self, records: Sequence[_Record | _SweepRecord]) -> None:
        try:
            self._write(self._db, records)
        except Exception as error:  # the disk store failed: keep going in memory
            if self._db.path is None:
                logger.exception("in-memory run store failed; %d runs not kept", len(records))
                self._count_error(_error_reason(error))
                self._unpend(records)
                return
            self._db = self._degrade(error, self._db, "cannot write to the run store")
            try:
                self._write(self._db, records)
            except Exception:
                logger.exception("in-memory run store failed; %d runs not kept", len(records))
        self._unpend(records)

    def _unpend(self, records: Iterable[_Record | _SweepRecord]) -> None:
        with self._pending_lock:
            for record in records:
                pending: dict[str, Any] = self._pending if isinstance(record, _Record) else self._pending_sweeps
                if pending.get(record.summary.id) is record:
                    del pending[record.summary.id]

    def _write(self, db: _Database, records: Sequence[_Record | _SweepRecord]) -> None:
        with db.write() as connection:
            for record in records:
                if isinstance(record, _SweepRecord):
                    self._write_sweep(connection, record, db.path is None)
                    continue
                s = record.summary
                for (weight,) in connection.execute(
                    "DELETE FROM runs WHERE id = ? RETURNING weight", (s.id,)
                ).fetchall():
                    self._count -= 1
                    self._memory_bytes -= weight
                cursor = connection.execute(
                    "INSERT INTO runs (id, workflow, target, result, reason, step, message, message_key, source, "
                    "started_at, duration, replay_of, has_bodies, weight) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (s.id, s.workflow, s.target, s.result, s.reason, s.step, s.message, normalise_message(s.message),
                     s.source, s.started_at, s.duration, s.replay_of, int(s.has_bodies),
                     record.weight if db.path is None else 0),
                )  # fmt: skip
                seq = cursor.lastrowid
                document, bodies = record.encode()
                connection.execute("INSERT INTO documents (seq, summary) VALUES (?, ?)", (seq, document))
                if bodies is not None:
                    connection.execute("INSERT INTO bodies (seq, data) VALUES (?, ?)", (seq, bodies))
                if s.result == "success" and s.has_bodies:
                    # Only the latest successful run of a pair keeps its bodies.
                    older = connection.execute(
                        "UPDATE runs SET has_bodies = 0 WHERE workflow = ? AND target = ? AND result = 'success' "
                        "AND has_bodies = 1 AND seq < ? RETURNING seq",
                        (s.workflow, s.target, seq),
                    ).fetchall()  # fmt: skip
                    connection.executemany("DELETE FROM bodies WHERE seq = ?", older)
                self._count += 1
                self._memory_bytes += record.weight if db.path is None else 0
            if db.path is None:
                self._bound_memory(connection)

    @staticmethod
    def _write_sweep(connection: sqlite3.Connection, record: _SweepRecord, in_memory: bool) -> None:
        s = record.summary
        connection.execute("DELETE FROM sweeps WHERE id = ?", (s.id,))
        connection.execute(
            f"INSERT INTO sweeps ({_SWEEP_COLUMNS}, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.id, s.target, s.source, s.started_at, s.duration, int(s.success), s.error, s.requests, s.budget,
             s.operations, s.passed, s.failed, s.errors, s.skipped, record.encode()),
        )  # fmt: skip
        if in_memory:  # the newest MEMORY_SWEEPS of the target stay
            connection.execute(
                "DELETE FROM sweeps WHERE target = ? AND seq NOT IN (SELECT seq FROM sweeps WHERE target = ? "
                "ORDER BY seq DESC LIMIT ?)", (s.target, s.target, MEMORY_SWEEPS)
            )  # fmt: skip

    def _bound_memory(self, connection: sqlite3.Connection) -> None:
        """The in-memory store's bounds: at most ``limit`` runs and about ``max_bytes``; the newest stays."""
        while self._count > 1 and (self._count > self.limit or self._memory_bytes > self.max_bytes):
            over_count = self._count - self.limit
            oldest = connection.execute(
                "DELETE FROM runs WHERE seq IN (SELECT seq FROM runs ORDER BY seq LIMIT ?) RETURNING weight",
                (max(1, min(over_count, self._count - 1)),),
            ).fetchall()  # fmt: skip
            self._count -= len(oldest)
            self._memory_bytes -= sum(row[0] for row in oldest)
            self._count_deleted("count", len(oldest))

    def _retention(self) -> None:
        """Delete runs and sweeps older than ``retention_time``, then the oldest of both until the file is under
        ``retention_size``; the newest run and the newest sweep of each target always stay. Errors degrade the
        store like failed writes."""
        db = self._db
        if db.path is None:
            return
        try:
            cutoff = self.clock() - self.retention_time
            while True:
                with db.write() as connection:
                    deleted = connection.execute(
                        "DELETE FROM runs WHERE seq IN (SELECT seq FROM runs WHERE started_at < ? "
                        "AND seq != (SELECT max(seq) FROM runs) ORDER BY started_at LIMIT 5000)", (cutoff,)
                    ).rowcount  # fmt: skip
                    deleted_sweeps = connection.execute(
                        f"DELETE FROM sweeps WHERE seq IN (SELECT seq FROM sweeps WHERE started_at < ? "
                        f"AND seq NOT IN ({_NEWEST_SWEEPS}) ORDER BY started_at LIMIT 5000)", (cutoff,)
                    ).rowcount  # fmt: skip
                self._count -= deleted
                self._count_deleted("age", deleted)
                if deleted < 5000 and deleted_sweeps < 5000:
                    break
            self._vacuum(db)
            if self.retention_size is None:
                return
            while (used := db.size_bytes()) > self.retention_size:
                with db.write() as connection:
                    items = self._count + connection.execute("SELECT count(*) FROM sweeps").fetchall()[0][0]
                    excess = math.ceil((used - self.retention_size) / (used / max(items, 1)) * 1.1) + 1
                    # The oldest runs and sweeps together, by when they started.
                    oldest = connection.execute(
                        "SELECT started_at, 0, seq FROM runs WHERE seq != (SELECT max(seq) FROM runs) UNION ALL "
                        f"SELECT started_at, 1, seq FROM sweeps WHERE seq NOT IN ({_NEWEST_SWEEPS}) "
                        "ORDER BY 1, 2, 3 LIMIT ?", (excess,)
                    ).fetchall()  # fmt: skip
                    runs = [(seq,) for _, kind, seq in oldest if kind == 0]
                    connection.executemany("DELETE FROM runs WHERE seq = ?", runs)
                    connection.executemany("DELETE FROM sweeps WHERE seq = ?", [(s,) for _, k, s in oldest if k == 1])
                self._count -= len(runs)
                self._count_deleted("size", len(runs))
                self._vacuum(db)
                if not oldest:
                    break
        except Exception as error:
            self._db = self._degrade(error, db, "run store retention failed")

    @staticmethod
    def _vacuum(db: _Database) -> None:
        with db._lock:
            db.writer.executescript("PRAGMA incremental_vacuum;")  # executescript steps it to the end
            db.writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _degrade(self, error: BaseException, failed: _Database | None, what: str) -> _Database:
        """Go on in memory: log, count, set the gauge; copy the newest runs the disk still gives."""
        reason = _error_reason(error)
        if (
            reason in ("io", "other")
            and self.directory is not None
            and self.directory.is_dir()
            and not os.access(self.directory, os.W_OK)
        ):  # EROFS says so even to root
            reason = "readonly"
        self._count_error(reason)
        self.degraded = True
        if self.metrics is not None:
            self.metrics.store_degraded.set(1)
        where = failed.where if failed else str((self.directory or Path()) / DATABASE_FILE)
        logger.error("%s (%s: %s); keeping runs in memory only until the exporter restarts", what, reason, error,
                     extra={"store": where, "reason": reason})  # fmt: skip
        memory = _Database(None)
        copied = 0
        if failed is not None:
            with contextlib.suppress(Exception):
                rows = failed.writer.execute(
                    "SELECT runs.id, workflow, target, result, reason, step, message, message_key, source, "
                    "started_at, duration, replay_of, has_bodies, documents.summary, bodies.data FROM runs "
                    "JOIN documents USING (seq) LEFT JOIN bodies USING (seq) ORDER BY seq DESC LIMIT ?", (self.limit,)
                ).fetchall()  # fmt: skip
                with memory.write() as connection:
                    for row in reversed(rows):
                        cursor = connection.execute(
                            "INSERT INTO runs (id, workflow, target, result, reason, step, message, message_key, "
                            "source, started_at, duration, replay_of, has_bodies) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row[:13]
                        )  # fmt: skip
                        connection.execute("INSERT INTO documents VALUES (?, ?)", (cursor.lastrowid, row[13]))
                        if row[14] is not None:
                            connection.execute("INSERT INTO bodies VALUES (?, ?)", (cursor.lastrowid, row[14]))
                copied = len(rows)
            with contextlib.suppress(Exception):  # a store of an older schema has no sweeps
                sweeps = failed.writer.execute(
                    f"SELECT {_SWEEP_COLUMNS}, document FROM (SELECT *, row_number() OVER (PARTITION BY target "
                    "ORDER BY seq DESC) AS position FROM sweeps) WHERE position <= ? ORDER BY seq", (MEMORY_SWEEPS,)
                ).fetchall()  # fmt: skip
                with memory.write() as connection:
                    connection.executemany(f"INSERT INTO sweeps ({_SWEEP_COLUMNS}, document) "
                                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sweeps)  # fmt: skip
            failed.close()
        self._count = copied
        self._memory_bytes = 0
        return memory

    def _count_error(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.store_write_errors.labels(reason).inc()

    def _count_deleted(self, reason: str, count: int) -> None:
        if self.metrics is not None and count:
            self.metrics.store_deleted_runs.labels(reason).inc(count)

    # --- reading ---------------------------------------------------------------------------------------------

    def _pending_records(self) -> list[_Record]:
        with self._pending_lock:
            return list(self._pending.values())

    def get_stored(self, run_id: str) -> StoredRun | None:
        """The run with this ID (its correlation ID), with its summary; None when the store does not hold it."""
        with self._pending_lock:
            record = self._pending.get(run_id)
        if record is not None:
            return StoredRun(record.run, record.summary)
        with self._db.read() as connection:
            rows = connection.execute(
                f"SELECT {_SUMMARY_COLUMNS}, documents.summary, bodies.data FROM runs JOIN documents USING (seq) "
                "LEFT JOIN bodies USING (seq) WHERE id = ?",
                (run_id,),
            ).fetchall()
        if not rows:
            return None
        row = rows[0]
        summary = _summary(row)
        document = _decode(row[13])
        if row[14] is not None:
            for step, exchange in zip(document["steps"], _decode(row[14]), strict=False):
                step["exchange"] = exchange
        return StoredRun(run_from_document(document), replace(summary, has_bodies=row[14] is not None))

    def get(self, run_id: str) -> RunResult | None:
        """The run with this ID, as ``RunHistory.get`` gave it."""
        stored = self.get_stored(run_id)
        return stored.run if stored else None

    def recent(self) -> list[RunResult]:
        """The newest ``limit`` runs, newest first, whole (as ``RunHistory.recent`` gave them)."""
        summaries, _ = self.runs(RunFilter(), self.limit)
        return [stored.run for s in summaries if (stored := self.get_stored(s.id)) is not None]

    def __len__(self) -> int:
        """Runs held (the writer's count; pending runs not included)."""
        return self._count

    @property
    def size_bytes(self) -> int:
        """Bytes the store uses: the database's used pages on disk, the runs' weight in memory."""
        if self._db.path is None:
            return self._memory_bytes
        with contextlib.suppress(sqlite3.Error):
            return self._db.size_bytes()
        return 0

    def runs(self, where: RunFilter, limit: int = 50, before: int | None = None) -> tuple[list[RunSummary], int | None]:
        """The newest runs matching ``where``, newest first, at most ``limit``; ``before`` (a cursor: a ``seq``)
        continues a list. Returns the runs and the cursor of the next page (None on the last)."""
        condition, params = where.where()
        if before is not None:
            condition += " AND seq < ?"
            params.append(before)
        with self._db.read() as connection:
            rows = connection.execute(f"SELECT {_SUMMARY_COLUMNS} FROM runs WHERE {condition} ORDER BY seq DESC "
                                      "LIMIT ?", (*params, limit + 1)).fetchall()  # fmt: skip
        pending = []
        if before is None:  # the first page also shows what the writer has not inserted yet
            pending = [r.summary for r in reversed(self._pending_records()) if where.matches(r.summary)]
        return _page([_summary(row) for row in rows], pending, limit)

    def replays_of(self, run_id: str, limit: int = 20) -> list[RunSummary]:
        """Runs that replay ``run_id``, newest first."""
        with self._db.read() as connection:
            rows = connection.execute(f"SELECT {_SUMMARY_COLUMNS} FROM runs WHERE replay_of = ? ORDER BY seq DESC "
                                      "LIMIT ?", (run_id, limit)).fetchall()  # fmt: skip
        found = [_summary(row) for row in rows]
        known = {s.id for s in found}
        pending = [r.summary for r in self._pending_records() if r.summary.replay_of == run_id]
        return [s for s in pending if s.id not in known] + found

    def pair_stats(
        self, pairs: Iterable[tuple[str, str]], now: float | None = None
    ) -> dict[tuple[str, str], PairStats]:
        """For each (workflow, target): its last run, each of ``WINDOWS`` and the trend of its last
        ``TREND_RUNS`` runs. Only scheduled and probe runs count (a replay or a command-line run is a person's).
        The windows are computed at most every ``stats_ttl`` seconds for the same pairs (a day of a hundred pairs
        at one run a minute is 144 000 runs to read); the last run and the trend are always current."""
        asked = now
        now = self.clock() if now is None else now
        pairs = list(dict.fromkeys(pairs))
        sources = ", ".join(f"'{s}'" for s in STATS_SOURCES)
        longest = max(WINDOWS.values())
        cached = self._windows_cache.get(tuple(pairs)) if asked is None else None
        reuse = cached is not None and 0 <= time.monotonic() - cached[0] < self.stats_ttl
        windows: dict[str, dict[tuple[str, str], Window]] = cached[1] if cached and reuse else {n: {} for n in WINDOWS}
        trends: dict[tuple[str, str], list[tuple[float, float, str, RunSummary]]] = {}
        with self._db.read() as connection:
            for pair in pairs:
                if not reuse:
                    # One range of the covering index runs_pair_time per pair, sorted here (a window function
                    # over every pair's day of runs took twenty times as long).
                    rows = connection.execute(
                        f"SELECT started_at, duration, result FROM runs WHERE workflow = ? AND target = ? "
                        f"AND started_at >= ? AND started_at <= ? AND source IN ({sources})",
                        (*pair, now - longest, now),
                    ).fetchall()  # fmt: skip
                    for name, seconds in WINDOWS.items():
                        windows[name][pair] = _window([(d, r) for t, d, r in rows if t >= now - seconds])
                rows = connection.execute(f"SELECT {_SUMMARY_COLUMNS} FROM runs WHERE workflow = ? AND target = ? "
                                          f"AND source IN ({sources}) ORDER BY seq DESC LIMIT ?",
                                          (*pair, TREND_RUNS)).fetchall()  # fmt: skip
                trends[pair] = [(s.started_at, s.duration, s.result, s) for s in map(_summary, rows)]
        if asked is None and not reuse:
            self._windows_cache = {tuple(pairs): (time.monotonic(), windows)}
        pending = [r.summary for r in self._pending_records() if r.summary.source in STATS_SOURCES]
        stats = {}
        for pair in pairs:
            trend = trends[pair]
            fresh = [s for s in pending if (s.workflow, s.target) == pair and s.id not in {t[3].id for t in trend}]
            rows = [(s.started_at, s.duration, s.result, s) for s in fresh] + trend
            stats[pair] = PairStats(
                workflow=pair[0],
                target=pair[1],
                last=rows[0][3] if rows else None,
                windows={name: windows[name].get(pair, Window()) for name in WINDOWS},
                trend=[(t[0], t[1], t[2]) for t in reversed(rows[:TREND_RUNS])],
            )
        return stats

    # --- contract sweeps ------------------------------------------------------------------------------------------

    def _pending_sweep_records(self) -> list[_SweepRecord]:
        with self._pending_lock:
            return list(self._pending_sweeps.values())

    def sweeps(
        self, where: SweepFilter, limit: int = 50, before: int | None = None
    ) -> tuple[list[SweepSummary], int | None]:
        """The newest sweeps matching ``where``, newest first, at most ``limit``; ``before`` (a cursor: a ``seq``)
        continues a list. Returns the sweeps and the cursor of the next page (None on the last)."""
        condition, params = where.where()
        if before is not None:
            condition += " AND seq < ?"
            params.append(before)
        with self._db.read() as connection:
            rows = connection.execute(f"SELECT {_SWEEP_COLUMNS}, seq FROM sweeps WHERE {condition} ORDER BY seq DESC "
                                      "LIMIT ?", (*params, limit + 1)).fetchall()  # fmt: skip
        pending = []
        if before is None:  # the first page also shows what the writer has not inserted yet
            pending = [r.summary for r in reversed(self._pending_sweep_records()) if where.matches(r.summary)]
        return _page([_sweep_summary(row) for row in rows], pending, limit)

    def get_sweep(self, sweep_id: str) -> StoredSweep | None:
        """The sweep with this ID (its correlation ID), whole; None when the store does not hold it."""
        with self._pending_lock:
            record = self._pending_sweeps.get(sweep_id)
        if record is not None:
            return StoredSweep(record.sweep, record.summary)
        with self._db.read() as connection:
            rows = connection.execute(f"SELECT {_SWEEP_COLUMNS}, seq, document FROM sweeps WHERE id = ?",
                                      (sweep_id,)).fetchall()  # fmt: skip
        if not rows:
            return None
        return _stored_sweep(rows[0])

    def latest_sweeps(self, targets: Iterable[str]) -> dict[str, StoredSweep]:
        """The newest sweep of each of ``targets`` that has one."""
        names = list(dict.fromkeys(targets))
        latest: dict[str, StoredSweep] = {}
        for record in self._pending_sweep_records():  # in the order they were added: the newest wins
            if record.summary.target in names:
                latest[record.summary.target] = StoredSweep(record.sweep, record.summary)
        with self._db.read() as connection:
            for target in names:
                if target in latest:
                    continue
                rows = connection.execute(f"SELECT {_SWEEP_COLUMNS}, seq, document FROM sweeps WHERE target = ? "
                                          "ORDER BY seq DESC LIMIT 1", (target,)).fetchall()  # fmt: skip
                if rows:
                    latest[target] = _stored_sweep(rows[0])
        return latest

    def failure_groups(self, where: RunFilter, limit: int = 50, examples: int = 3) -> list[FailureGroup]:
        """Runs that did not succeed, grouped (see ``FailureGroup``), the most frequent first, at most ``limit``
        groups. ``where.result`` may narrow to ``failure`` or ``degraded``; ``success`` finds nothing."""
        condition, params = where.where()
        group = "workflow, target, step, reason, result, message_key"
        with self._db.read() as connection:
            heads = connection.execute(
                f"SELECT {group}, count(*), min(started_at), max(started_at) FROM runs "
                f"WHERE result != 'success' AND {condition} GROUP BY {group} ORDER BY count(*) DESC, max(seq) DESC "
                "LIMIT ?", (*params, limit)
            ).fetchall()  # fmt: skip
            hourly: dict[tuple[Any, ...], dict[int, int]] = {}
            for row in connection.execute(
                f"SELECT {group}, CAST(started_at / 3600 AS INTEGER) * 3600 AS hour, count(*) FROM runs "
                f"WHERE result != 'success' AND {condition} GROUP BY {group}, hour", params
            ):  # fmt: skip
                hourly.setdefault(tuple(row[:6]), {})[row[6]] = row[7]
            latest: dict[tuple[Any, ...], list[RunSummary]] = {}
            for row in connection.execute(
                f"""SELECT {_SUMMARY_COLUMNS}, message_key FROM (
                        SELECT *, row_number() OVER (PARTITION BY {group} ORDER BY seq DESC) AS position
                        FROM runs WHERE result != 'success' AND {condition})
                    WHERE position <= ? ORDER BY seq DESC""", (*params, examples)
            ):  # fmt: skip
                summary = _summary(row)
                key = (summary.workflow, summary.target, summary.step, summary.reason, summary.result, row[13])
                latest.setdefault(key, []).append(summary)
        return [
            FailureGroup(
                workflow=h[0],
                target=h[1],
                step=h[2],
                reason=h[3],
                result=h[4],
                message=h[5],
                count=h[6],
                first_seen=h[7],
                last_seen=h[8],
                hourly=hourly.get(tuple(h[:6]), {}),
                examples=latest.get(tuple(h[:6]), []),
            )
            for h in heads
        ]
