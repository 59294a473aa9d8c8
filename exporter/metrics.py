"""The exporter's metric families: ``workflow_*`` for scheduled runs, ``probe_*`` per /probe, and its own.

Labels come from the config (workflow, target, step names) and closed sets (result, reason, component);
the correlation ID of each run travels as an OpenMetrics exemplar.
"""

from __future__ import annotations

import contextlib
import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from synthetic.config import Config
from synthetic.result import REASONS, RunResult

from . import __version__

EXEMPLAR_LABEL = "correlation_id"
RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Coarser: two series per step (app, db) make this the largest family at scale; it locates time, not SLOs.
SERVER_BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5)


def exemplar(run: RunResult) -> dict[str, str]:
    return {EXEMPLAR_LABEL: run.correlation_id[: 128 - len(EXEMPLAR_LABEL)]}


class WorkflowMetrics:
    """Cumulative results of scheduled runs, plus the exporter's self-metrics, on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        pair = ["workflow", "target"]
        self.runs = Counter("workflow_runs", "Completed workflow runs by result (success, failure).",
                            [*pair, "result"], registry=registry)  # fmt: skip
        self.run_duration = Histogram("workflow_run_duration_seconds", "Duration of whole workflow runs.", pair,
                                      buckets=RUN_BUCKETS, registry=registry)  # fmt: skip
        self.step_duration = Histogram("workflow_step_duration_seconds", "Duration of each step that ran.",
                                       [*pair, "step"], buckets=STEP_BUCKETS, registry=registry)  # fmt: skip
        self.step_failures = Counter("workflow_step_failures", "Failed steps by the closed set of reasons.",
                                     [*pair, "step", "reason"], registry=registry)  # fmt: skip
        self.step_server_duration = Histogram(
            "workflow_step_server_duration_seconds",
            "Server-side time of each step from its Server-Timing header, by component (app, db).",
            [*pair, "step", "component"],
            buckets=SERVER_BUCKETS,
            registry=registry,
        )
        self.step_server_queries = Gauge("workflow_step_server_queries",
                                         "Database queries the server reported for the step in the last run.",
                                         [*pair, "step"], registry=registry)  # fmt: skip
        self.step_budget = Gauge("workflow_step_latency_budget_seconds",
                                 "The step's max_duration from the config: the budget its duration is judged by.",
                                 [*pair, "step"], registry=registry)  # fmt: skip
        self.last_success = Gauge("workflow_last_run_success", "1 if the last run succeeded, else 0.", pair,
                                  registry=registry)  # fmt: skip
        self.last_timestamp = Gauge("workflow_last_run_timestamp_seconds", "Unix time the last run finished.",
                                    pair, registry=registry)  # fmt: skip
        self.circuit_open = Gauge("workflow_circuit_breaker_open",
                                  "1 while the target's circuit breaker is open and runs are skipped.",
                                  ["target"], registry=registry)  # fmt: skip
        self.reload_success = Gauge("workflow_exporter_config_last_reload_successful",
                                    "1 if the last config (re)load succeeded.", registry=registry)  # fmt: skip
        self.reload_timestamp = Gauge("workflow_exporter_config_last_reload_success_timestamp_seconds",
                                      "Unix time of the last successful config load.", registry=registry)  # fmt: skip
        self.build_info = Gauge("workflow_exporter_build_info", "Always 1; the version in labels.",
                                ["version", "pythonversion"], registry=registry)  # fmt: skip
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.skipped = Counter("workflow_exporter_skipped_runs",
                               "Scheduled runs not started: the previous one still running (overlap).",
                               ["workflow", "target", "reason"], registry=registry)  # fmt: skip
        self.in_progress = Gauge("workflow_exporter_runs_in_progress", "Runs executing now.", registry=registry)
        self.probe_requests = Counter("workflow_exporter_probe_requests",
                                      "/probe requests by outcome (ran, cached, bad_request, refused).",
                                      ["outcome"], registry=registry)  # fmt: skip
        self._known: set[tuple[str, str]] = set()

    def configure(self, config: Config, pairs: list[tuple[str, str]]) -> None:
        """Create every series of the configured pairs up front (so absent() and rate() work from the start)
        and drop those of pairs no longer configured."""
        wanted = set(pairs)
        for workflow, target in self._known - wanted:
            for metric in (self.run_duration, self.last_success, self.last_timestamp):
                _remove(metric, workflow, target)
            for result in ("success", "failure"):
                _remove(self.runs, workflow, target, result)
        for workflow_name, target_name in wanted:
            for result in ("success", "failure"):
                self.runs.labels(workflow_name, target_name, result)
            self.run_duration.labels(workflow_name, target_name)
            for step in config.workflows[workflow_name].steps:
                if step.max_duration is not None:
                    self.step_budget.labels(workflow_name, target_name, step.name).set(step.max_duration)
        self._known = wanted
        for target in config.targets:
            self.circuit_open.labels(target)

    def record(self, run: RunResult) -> None:
        ids = exemplar(run)
        pair = (run.workflow, run.target)
        self.runs.labels(*pair, "success" if run.success else "failure").inc(exemplar=ids)
        self.run_duration.labels(*pair).observe(run.duration, exemplar=ids)
        self.last_success.labels(*pair).set(1 if run.success else 0)
        self.last_timestamp.labels(*pair).set(run.started_at + run.duration)
        for step in run.steps:
            if step.status == "skipped":
                continue
            if step.reason != "circuit_open":
                self.step_duration.labels(*pair, step.name).observe(step.duration, exemplar=ids)
            if step.status == "failed" and step.reason:
                self.step_failures.labels(*pair, step.name, step.reason).inc(exemplar=ids)
            if step.server.app_seconds is not None:
                self.step_server_duration.labels(*pair, step.name, "app").observe(step.server.app_seconds)
            if step.server.db_seconds is not None:
                self.step_server_duration.labels(*pair, step.name, "db").observe(step.server.db_seconds)
            if step.server.queries is not None:
                self.step_server_queries.labels(*pair, step.name).set(step.server.queries)


def _remove(metric: Counter | Gauge | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


def probe_registry(run: RunResult, timeout: float) -> CollectorRegistry:
    """A fresh registry with the ``probe_*`` series of one run (blackbox_exporter's contract, per step too)."""
    registry = CollectorRegistry(auto_describe=True)
    Gauge("probe_success", "1 if every step of the workflow passed.", registry=registry).set(1 if run.success else 0)
    Gauge("probe_duration_seconds", "How long the workflow run took.", registry=registry).set(run.duration)
    Gauge("probe_timeout_seconds", "The deadline the run had.", registry=registry).set(timeout)
    Gauge("probe_workflow_cached", "1 if this result was served from the min_interval cache.",
          registry=registry).set(1 if run.cached else 0)  # fmt: skip
    success = Gauge("probe_workflow_step_success", "1 if the step passed, 0 if it failed or was skipped.", ["step"],
                    registry=registry)  # fmt: skip
    duration = Gauge("probe_workflow_step_duration_seconds", "Duration of the step.", ["step"], registry=registry)
    status = Gauge("probe_workflow_step_status_code", "HTTP status the step got.", ["step"], registry=registry)
    server = Gauge("probe_workflow_step_server_duration_seconds", "Server-Timing of the step by component.",
                   ["step", "component"], registry=registry)  # fmt: skip
    failure = Gauge("probe_failure_info", "1 for the step that failed, with the reason (closed set).",
                    ["step", "reason"], registry=registry)  # fmt: skip
    last_status = None
    for step in run.steps:
        success.labels(step.name).set(1 if step.ok else 0)
        if step.status != "skipped":
            duration.labels(step.name).set(step.duration)
        if step.http_status is not None:
            status.labels(step.name).set(step.http_status)
            last_status = step.http_status
        if step.server.app_seconds is not None:
            server.labels(step.name, "app").set(step.server.app_seconds)
        if step.server.db_seconds is not None:
            server.labels(step.name, "db").set(step.server.db_seconds)
        if step.status == "failed" and step.reason in REASONS:
            failure.labels(step.name, step.reason).set(1)
    if last_status is not None:
        Gauge("probe_http_status_code", "HTTP status of the last HTTP step.", registry=registry).set(last_status)
    return registry
