"""The exporter's metric families: ``workflow_*`` for scheduled runs, ``probe_*`` per /probe, and its own.

Labels come from the config (workflow, target, step names) and closed sets (result, reason, component);
the correlation ID of each run travels as an OpenMetrics exemplar.
"""

from __future__ import annotations

import contextlib
import platform
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from synthetic.config import Config
from synthetic.result import PHASES, REASONS, RESULTS, RunResult

from . import __version__
from .exposition import CachedCounter, CachedGauge, CachedHistogram, CachedSummary, FixedCollector, escape_label_value

EXEMPLAR_LABEL = "correlation_id"
RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Coarser: two series per step (app, db) make this the largest family at scale; it locates time, not SLOs.
SERVER_BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5)
# The labels that name something in the config: a series carrying one lives only as long as what it names.
SCOPED_LABELS = ("workflow", "target", "step")
# Skipped steps are not failures and are never counted; only a workflow's first step fails with circuit_open.
COUNTED_REASONS = tuple(reason for reason in REASONS if reason != "skipped")


def exemplar(run: RunResult) -> dict[str, str]:
    return {EXEMPLAR_LABEL: run.correlation_id[: 128 - len(EXEMPLAR_LABEL)]}


@dataclass(frozen=True)
class Scope:
    """What the running config lets a ``workflow``/``target``/``step`` label name.

    ``allowed`` maps the scoped label names a series carries (in ``SCOPED_LABELS`` order, empty values left
    out) to the value tuples they may have. Pair- and step-level series belong to the pairs this replica
    owns; a series labelled by target alone (the circuit breakers) to every configured target, since
    ``/probe`` may run any of them; one labelled by workflow alone to the workflows of the owned pairs.
    """

    allowed: Mapping[tuple[str, ...], frozenset[tuple[str, ...]]]

    @classmethod
    def of(cls, config: Config, pairs: list[tuple[str, str]]) -> Scope:
        steps = [(w, t, step.name) for w, t in pairs for step in config.workflows[w].steps]
        allowed: dict[tuple[str, ...], frozenset[tuple[str, ...]]] = {}
        for names in _subsets(SCOPED_LABELS):
            source = steps if "step" in names else pairs
            indexes = [SCOPED_LABELS.index(name) for name in names]
            allowed[names] = frozenset(tuple(item[i] for i in indexes) for item in source)
        allowed[("target",)] = frozenset((name,) for name in config.targets)
        return cls(allowed)

    def allows(self, labels: Mapping[str, str]) -> bool:
        """True when every scoped label of the series names something in this scope."""
        names = tuple(name for name in SCOPED_LABELS if labels.get(name))
        return not names or tuple(labels[name] for name in names) in self.allowed[names]

    @classmethod
    def empty(cls) -> Scope:
        return cls({names: frozenset() for names in _subsets(SCOPED_LABELS)})

    def has_pair(self, workflow: str, target: str) -> bool:
        return (workflow, target) in self.allowed[("workflow", "target")]

    def has_step(self, workflow: str, target: str, step: str) -> bool:
        return (workflow, target, step) in self.allowed[SCOPED_LABELS]


@contextlib.contextmanager
def prometheus_client_families() -> Iterator[None]:
    """While the block runs, :class:`WorkflowMetrics` (and an ``Exporter`` built in it) holds its families in
    prometheus_client's own ``Counter``, ``Gauge``, ``Histogram`` and ``Summary`` instead of the cached classes of
    :mod:`exporter.exposition`: the reference their output is held equal to (tests/exporter/test_exposition.py)
    and measured against (benchmarks/exporter_throughput.py). Not thread-safe: it swaps this module's names."""
    from prometheus_client import Histogram, Summary

    names = {"CachedCounter": Counter, "CachedGauge": Gauge, "CachedHistogram": Histogram, "CachedSummary": Summary}
    module = globals()
    saved = {name: module[name] for name in names}
    module.update(names)
    try:
        yield
    finally:
        module.update(saved)


def _subsets(names: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Every non-empty subset of ``names``, each in the order of ``names``."""
    for mask in range(1, 2 ** len(names)):
        yield tuple(name for index, name in enumerate(names) if mask >> index & 1)


class WorkflowMetrics:
    """Cumulative results of scheduled runs, plus the exporter's self-metrics, on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        pair = ["workflow", "target"]
        self.runs = CachedCounter("workflow_runs", "Completed workflow runs by result (success, degraded: a step "
                                  "over a budget, max_duration or an expect.server limit; failure).", [*pair, "result"],
                                  registry=registry)  # fmt: skip
        self.run_duration = CachedHistogram("workflow_run_duration_seconds", "Duration of whole workflow runs.", pair,
                                            buckets=RUN_BUCKETS, registry=registry)  # fmt: skip
        self.step_duration = CachedHistogram("workflow_step_duration_seconds", "Duration of each step that ran.",
                                             [*pair, "step"], buckets=STEP_BUCKETS, registry=registry)  # fmt: skip
        self.step_failures = CachedCounter("workflow_step_failures", "Failed steps by the closed set of reasons.",
                                           [*pair, "step", "reason"], registry=registry)  # fmt: skip
        self.step_server_duration = CachedHistogram(
            "workflow_step_server_duration_seconds",
            "Server-side time of each step from its Server-Timing header, by component (app, db).",
            [*pair, "step", "component"],
            buckets=SERVER_BUCKETS,
            registry=registry,
        )
        self.step_server_queries = CachedGauge("workflow_step_server_queries",
                                               "Database queries the server reported for the step in the last run.",
                                               [*pair, "step"], registry=registry)  # fmt: skip
        # HTTP timing phases (synthetic.transport.Timings): _sum and _count only, 10 series per http step.
        self.step_phase_duration = CachedSummary("workflow_step_phase_duration_seconds",
                                                 "Time of each http step in each HTTP phase (resolve, connect, tls, "
                                                 "processing, transfer), summed over its redirect hops.",
                                                 [*pair, "step", "phase"], registry=registry)  # fmt: skip
        # The earliest certificate expiry the TLS connections of each target's last runs showed.
        self.ssl_earliest_cert_expiry = CachedGauge("workflow_ssl_earliest_cert_expiry_timestamp_seconds",
                                                    "Unix time the earliest-expiring certificate the target presented "
                                                    "(leaf or chain) expires, over the last run of each of its "
                                                    "workflows.", ["target"], registry=registry)  # fmt: skip
        self.step_budget = CachedGauge("workflow_step_latency_budget_seconds",
                                       "The step's max_duration from the config: the budget its duration is judged by.",
                                       [*pair, "step"], registry=registry)  # fmt: skip
        self.last_success = CachedGauge("workflow_last_run_success", "1 if the last run succeeded (degraded included: "
                                        "no step failed), else 0.", pair, registry=registry)  # fmt: skip
        self.last_timestamp = CachedGauge("workflow_last_run_timestamp_seconds",
                                          "Unix time the last run finished (before the first: when the pair was "
                                          "configured).", pair, registry=registry)  # fmt: skip
        self.last_failure = CachedGauge("workflow_last_run_failure_info",
                                        "1 with the first failed step of the last run and its reason; 0, without them, "
                                        "while the last run passed or none ran yet.",
                                        [*pair, "step", "reason"], registry=registry)  # fmt: skip
        self.run_interval = CachedGauge("workflow_run_interval_seconds",
                                        "The workflow's interval from the config: how often each of its pairs runs.",
                                        ["workflow"], registry=registry)  # fmt: skip
        self.circuit_open = CachedGauge("workflow_circuit_breaker_open",
                                        "1 while the target's circuit breaker is open and runs are skipped.",
                                        ["target"], registry=registry)  # fmt: skip
        self.sql_probe_user_excess = CachedGauge("workflow_sql_probe_user_excess_privileges",
                                                 "1 if the database user of the target's sql steps holds more than "
                                                 "read privileges (read at its first connection), else 0.",
                                                 ["target"], registry=registry)  # fmt: skip
        # Contract sweeps (exporter/contracts.py sets them): a sweep replaces its target's series.
        self.contract_check_success = CachedGauge("workflow_contract_check_success",
                                                  "1 if the check passed on the operation (METHOD /path/{template}) in "
                                                  "the last sweep that judged it, 0 if it failed.",
                                                  ["target", "operation", "check"], registry=registry)  # fmt: skip
        self.contract_sweep_success = CachedGauge("workflow_contract_sweep_success",
                                                  "1 if the last contract sweep could check the target (document read, "
                                                  "setup workflows passed, every request answered), else 0.",
                                                  ["target"], registry=registry)  # fmt: skip
        self.contract_sweep_duration = CachedGauge("workflow_contract_sweep_duration_seconds",
                                                   "How long the last contract sweep took.", ["target"],
                                                   registry=registry)  # fmt: skip
        self.contract_sweep_requests = CachedGauge("workflow_contract_sweep_requests",
                                                   "Requests the checks of the last contract sweep sent.", ["target"],
                                                   registry=registry)  # fmt: skip
        self.contract_checks = CachedGauge("workflow_contract_checks",
                                           "Checks of the last contract sweep that could check, by result (passed, "
                                           "failed, error, skipped).", ["target", "result"],
                                           registry=registry)  # fmt: skip
        self.contract_last_sweep = CachedGauge("workflow_contract_last_sweep_timestamp_seconds",
                                               "Unix time the last contract sweep that could check finished "
                                               "(before the first: when the contracts were configured).", ["target"],
                                               registry=registry)  # fmt: skip
        self.contract_sweep_interval = CachedGauge("workflow_contract_sweep_interval_seconds",
                                                   "The contracts' interval from the config: how often the target is "
                                                   "swept.", ["target"], registry=registry)  # fmt: skip
        # The frontend map (exporter/frontend_map/service.py sets them while the config has a frontend: section).
        self.frontend_calls = Gauge("frontend_map_calls",
                                    "API calls of the Next.js app's routes in the last frontend map, by status "
                                    "(matched, unmatched, method, unresolved).", ["status"],
                                    registry=registry)  # fmt: skip
        self.frontend_route_unmatched = Gauge("frontend_map_route_unmatched_calls",
                                              "Calls of the route (a Next.js route template) with no backend "
                                              "operation in the last frontend map.", ["route"],
                                              registry=registry)  # fmt: skip
        self.frontend_unused = Gauge("frontend_map_unused_operations",
                                     "Backend operations no route of the frontend uses, in the last map.",
                                     ["source"], registry=registry)  # fmt: skip
        self.frontend_last_success = Gauge("frontend_map_last_refresh_success",
                                           "1 if the last frontend map was made (source walked, OpenAPI document "
                                           "read), else 0.", ["source"], registry=registry)  # fmt: skip
        self.frontend_last_timestamp = Gauge("frontend_map_last_refresh_timestamp_seconds",
                                             "Unix time the last frontend map was made.", ["source"],
                                             registry=registry)  # fmt: skip
        self.reload_success = Gauge("workflow_exporter_config_last_reload_successful",
                                    "1 if the last config (re)load succeeded.", registry=registry)  # fmt: skip
        self.reload_timestamp = Gauge("workflow_exporter_config_last_reload_success_timestamp_seconds",
                                      "Unix time of the last successful config load.", registry=registry)  # fmt: skip
        self.build_info = Gauge("workflow_exporter_build_info", "Always 1; the version in labels.",
                                ["version", "pythonversion"], registry=registry)  # fmt: skip
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.config_info = Gauge("workflow_exporter_config_info",
                                 "Always 1; the absolute path of the config file in `file`, for the commands "
                                 "alerts print.", ["file"], registry=registry)  # fmt: skip
        self.skipped = CachedCounter("workflow_exporter_skipped_runs",
                                     "Scheduled runs not started: the previous one still running (overlap).",
                                     ["workflow", "target", "reason"], registry=registry)  # fmt: skip
        self.in_progress = Gauge("workflow_exporter_runs_in_progress", "Runs executing now.", registry=registry)
        self.probe_requests = Counter("workflow_exporter_probe_requests",
                                      "/probe requests by outcome (ran, cached, bad_request, refused).",
                                      ["outcome"], registry=registry)  # fmt: skip
        # The run store (exporter/store.py): it degrades to memory instead of failing the service.
        self.store_degraded = Gauge("workflow_exporter_store_degraded",
                                    "1 while runs are kept in memory only because the disk store failed (full, "
                                    "locked, read-only, I/O error); 0 otherwise.", registry=registry)  # fmt: skip
        self.store_write_errors = Counter("workflow_exporter_store_write_errors",
                                          "Run store writes that failed, by reason (full, locked, readonly, io, "
                                          "queue_full, other).", ["reason"], registry=registry)  # fmt: skip
        self.store_deleted_runs = Counter("workflow_exporter_store_deleted_runs",
                                          "Runs the store deleted, by reason: age and size (retention on disk), "
                                          "count (the in-memory bounds).", ["reason"], registry=registry)  # fmt: skip
        self.store_runs = Gauge("workflow_exporter_store_runs", "Runs held in the run store.", registry=registry)
        self.store_size = Gauge("workflow_exporter_store_size_bytes",
                                "Bytes the run store uses: the database's pages on disk, the runs' weight in "
                                "memory.", registry=registry)  # fmt: skip
        self._lock = threading.Lock()
        self._scope = Scope.empty()
        self._failure_labels: dict[tuple[str, str], tuple[str, str]] = {}
        self._cert_expiry: dict[tuple[str, str], float] = {}  # (workflow, target) -> earliest notAfter seen last

    def families(self) -> list[MetricWrapperBase]:
        """Every metric family held here: one added later is pruned on reload without further code."""
        return [value for value in vars(self).values() if isinstance(value, MetricWrapperBase)]

    def configure(self, config: Config, pairs: list[tuple[str, str]]) -> None:
        """Make the series match the config, on start and on every reload.

        Every family drops every series whose workflow, target or step is gone or no longer owned by this
        replica (and a step's budget when its max_duration is). Every series an alert reads exists from the
        start: counters at zero (so the first failure is an increase), the failure info at 0, the last-run
        timestamp at the time the pair was configured (so a pair that never finishes a run turns stale).
        """
        scope = Scope.of(config, pairs)
        now = time.time()
        with self._lock:
            self._scope = scope
            for metric in self.families():
                _prune(metric, scope)
            stamped = set(_children(self.last_timestamp)[1])
            failing = {(w, t): (step, reason) for w, t, step, reason in _children(self.last_failure)[1]}
            self._failure_labels = failing
            for workflow_name, target_name in pairs:
                pair = (workflow_name, target_name)
                workflow = config.workflows[workflow_name]
                for result in RESULTS:
                    self.runs.labels(*pair, result)
                self.run_duration.labels(*pair)
                self.skipped.labels(*pair, "overlap")
                if pair not in stamped:
                    self.last_timestamp.labels(*pair).set(now)
                if pair not in failing:
                    self.last_failure.labels(*pair, "", "").set(0)
                    failing[pair] = ("", "")
                self.run_interval.labels(workflow_name).set(workflow.interval)
                for index, step in enumerate(workflow.steps):
                    self.step_duration.labels(*pair, step.name)
                    for reason in COUNTED_REASONS:
                        if reason != "circuit_open" or index == 0:
                            self.step_failures.labels(*pair, step.name, reason)
                    if step.max_duration is not None:
                        self.step_budget.labels(*pair, step.name).set(step.max_duration)
                    else:
                        _remove(self.step_budget, *pair, step.name)
            for target in config.targets:
                self.circuit_open.labels(target)
            for gone in [key for key in self._cert_expiry if not scope.has_pair(*key)]:
                del self._cert_expiry[gone]
                self._set_cert_expiry(gone[1])
            config_file = str(Path(config.path).absolute())
            self.config_info.labels(config_file).set(1)
            for (file,) in _children(self.config_info)[1]:
                if file != config_file:
                    _remove(self.config_info, file)

    def record(self, run: RunResult) -> None:
        """Count a finished scheduled run; one whose pair or step left the config while it ran is not."""
        ids = exemplar(run)
        pair = (run.workflow, run.target)
        with self._lock:
            if not self._scope.has_pair(*pair):
                return
            self.runs.labels(*pair, run.result).inc(exemplar=ids)
            self.run_duration.labels(*pair).observe(run.duration, exemplar=ids)
            self.last_success.labels(*pair).set(1 if run.success else 0)
            self.last_timestamp.labels(*pair).set(run.started_at + run.duration)
            failed = run.failed_step
            in_scope = failed is not None and self._scope.has_step(*pair, failed.name)
            self._set_failure(pair, (failed.name, failed.reason or "internal") if failed and in_scope else ("", ""))
            for step in run.steps:
                if step.status == "skipped" or not self._scope.has_step(*pair, step.name):
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
                for phase, seconds in step.phases.items():
                    self.step_phase_duration.labels(*pair, step.name, phase).observe(seconds)
            expiries = [step.tls_cert_expires_at for step in run.steps if step.tls_cert_expires_at is not None]
            if expiries:
                self._cert_expiry[pair] = min(expiries)
                self._set_cert_expiry(run.target)

    def _set_cert_expiry(self, target: str) -> None:
        """The target's gauge: the earliest expiry over its workflows' last runs; gone when none saw TLS."""
        known = [expiry for (_, name), expiry in self._cert_expiry.items() if name == target]
        if known:
            self.ssl_earliest_cert_expiry.labels(target).set(min(known))
        else:
            _remove(self.ssl_earliest_cert_expiry, target)

    def set_circuit_open(self, target: str, is_open: bool) -> None:
        """The state of a target's circuit breaker, unless the target left the config meanwhile."""
        with self._lock:
            if self._scope.allows({"target": target}):
                self.circuit_open.labels(target).set(1 if is_open else 0)

    def set_sql_probe_user_excess(self, target: str, excess: bool) -> None:
        """Whether the target's sql-step database user can do more than read, unless the target left the config."""
        with self._lock:
            if self._scope.allows({"target": target}):
                self.sql_probe_user_excess.labels(target).set(1 if excess else 0)

    def count_skipped(self, workflow: str, target: str, reason: str) -> None:
        """A scheduled run not started (``overlap``), unless its pair left the config meanwhile."""
        with self._lock:
            if self._scope.has_pair(workflow, target):
                self.skipped.labels(workflow, target, reason).inc()

    def _set_failure(self, pair: tuple[str, str], labels: tuple[str, str]) -> None:
        """Move the pair's one failure-info series to ``labels``: the new one is set before the old goes."""
        old = self._failure_labels.get(pair)
        self.last_failure.labels(*pair, *labels).set(1 if labels[0] else 0)
        if old is not None and old != labels:
            _remove(self.last_failure, *pair, *old)
        self._failure_labels[pair] = labels


def _children(metric: MetricWrapperBase) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """A family's label names and the label values of each of its series.

    prometheus_client has no public listing of a family's children; this is the one place that reads it.
    """
    names = tuple(metric._labelnames)
    if not names:
        return names, []
    with metric._lock:
        return names, [tuple(values) for values in metric._metrics]


def _prune(metric: MetricWrapperBase, scope: Scope) -> None:
    """Drop every series of ``metric`` whose workflow, target or step label names something out of scope."""
    names, children = _children(metric)
    scoped = tuple(name for name in SCOPED_LABELS if name in names)
    if not scoped:
        return
    positions = [names.index(name) for name in scoped]
    allowed = scope.allowed[scoped]
    for values in children:
        key = tuple(values[i] for i in positions)
        if key in allowed:
            continue
        if all(key) or not scope.allows(dict(zip(names, values, strict=True))):  # empty values: labels unset
            _remove(metric, *values)


def _remove(metric: MetricWrapperBase, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


# The ``probe_*`` families of /probe, in the order they are served: name, help, label names. blackbox_exporter's
# names where it has one (probe_success, probe_duration_seconds, probe_http_*, probe_ssl_earliest_cert_expiry).
PROBE_FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("probe_success", "1 if no step of the workflow failed (a degraded run passed).", ()),
    ("probe_workflow_degraded",
     "1 if the run passed with a step over a budget (max_duration or an expect.server limit).", ()),
    ("probe_duration_seconds", "How long the workflow run took.", ()),
    ("probe_timeout_seconds", "The deadline the run had.", ()),
    ("probe_workflow_cached", "1 if this result was served from the min_interval cache.", ()),
    ("probe_workflow_step_success", "1 if the step passed, 0 if it failed or was skipped.", ("step",)),
    ("probe_workflow_step_duration_seconds", "Duration of the step.", ("step",)),
    ("probe_workflow_step_status_code", "HTTP status the step got.", ("step",)),
    ("probe_workflow_step_server_duration_seconds", "Server-Timing of the step by component.",
     ("step", "component")),
    ("probe_failure_info", "1 for the step that failed, with the reason (closed set).", ("step", "reason")),
    ("probe_workflow_step_phase_duration_seconds",
     "Time of the http step in each HTTP phase, summed over its redirect hops.", ("step", "phase")),
    ("probe_http_duration_seconds",
     "Time of the run's http steps in each HTTP phase, summed over their steps and redirect hops.", ("phase",)),
    ("probe_ssl_earliest_cert_expiry", "Unix time the earliest-expiring certificate the run's TLS connections "
     "presented expires (leaf or chain).", ()),
    ("probe_http_status_code", "HTTP status of the last HTTP step.", ()),
)  # fmt: skip
# Families left out of a run that has nothing for them (blackbox_exporter leaves them out too).
_PROBE_OPTIONAL = frozenset({"probe_http_duration_seconds", "probe_ssl_earliest_cert_expiry", "probe_http_status_code"})
# Each family's HELP and TYPE lines, as prometheus_client's text format writes them.
_PROBE_HEADERS = {
    name: generate_latest(FixedCollector([Metric(name, documentation, "gauge")])).decode()
    for name, documentation, _ in PROBE_FAMILIES
}


def probe_samples(run: RunResult, timeout: float) -> dict[str, list[tuple[tuple[str, ...], float]]]:
    """The ``probe_*`` samples of one run: family name -> [(label values in the family's label order, value)],
    every family of ``PROBE_FAMILIES`` but the optional ones a run without HTTP phases, TLS or an HTTP status
    leaves out. Durations in seconds, times in unix seconds."""
    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {
        "probe_success": [((), 1.0 if run.success else 0.0)],
        "probe_workflow_degraded": [((), 1.0 if run.degraded else 0.0)],
        "probe_duration_seconds": [((), float(run.duration))],
        "probe_timeout_seconds": [((), float(timeout))],
        "probe_workflow_cached": [((), 1.0 if run.cached else 0.0)],
    }
    success: list[tuple[tuple[str, ...], float]] = []
    duration: list[tuple[tuple[str, ...], float]] = []
    status: list[tuple[tuple[str, ...], float]] = []
    server: list[tuple[tuple[str, ...], float]] = []
    failure: list[tuple[tuple[str, ...], float]] = []
    phases: list[tuple[tuple[str, ...], float]] = []
    phase_totals = dict.fromkeys(PHASES, 0.0)
    timed = False
    last_status = None
    for step in run.steps:
        name = step.name
        success.append(((name,), 1.0 if step.ok else 0.0))
        if step.status != "skipped":
            duration.append(((name,), float(step.duration)))
        if step.http_status is not None:
            status.append(((name,), float(step.http_status)))
            last_status = step.http_status
        if step.server.app_seconds is not None:
            server.append(((name, "app"), float(step.server.app_seconds)))
        if step.server.db_seconds is not None:
            server.append(((name, "db"), float(step.server.db_seconds)))
        if step.status == "failed" and step.reason in REASONS:
            failure.append(((name, step.reason), 1.0))
        for phase, seconds in step.phases.items():
            phases.append(((name, phase), float(seconds)))
            phase_totals[phase] = phase_totals.get(phase, 0.0) + seconds
            timed = True
    samples["probe_workflow_step_success"] = success  # step names are unique in a workflow (config check)
    samples["probe_workflow_step_duration_seconds"] = duration
    samples["probe_workflow_step_status_code"] = status
    samples["probe_workflow_step_server_duration_seconds"] = server
    samples["probe_failure_info"] = failure
    samples["probe_workflow_step_phase_duration_seconds"] = phases
    if timed:  # blackbox_exporter's family, over every http step of the run
        samples["probe_http_duration_seconds"] = [((phase,), float(seconds)) for phase, seconds in phase_totals.items()]
    expiries = [step.tls_cert_expires_at for step in run.steps if step.tls_cert_expires_at is not None]
    if expiries:
        samples["probe_ssl_earliest_cert_expiry"] = [((), float(min(expiries)))]
    if last_status is not None:
        samples["probe_http_status_code"] = [((), float(last_status))]
    return samples


def probe_exposition(run: RunResult, timeout: float) -> str:
    """/probe's answer for one run: the ``probe_*`` families in the Prometheus text format 0.0.4, the bytes
    prometheus_client's ``generate_latest`` writes for ``probe_registry(run, timeout)`` (a test holds them equal),
    written directly: a fresh registry of gauges per probe cost a tenth of a one-step probe's CPU."""
    samples = probe_samples(run, timeout)
    parts: list[str] = []
    for name, _, labelnames in PROBE_FAMILIES:
        family = samples.get(name)
        if family is None:
            if name in _PROBE_OPTIONAL:
                continue
            family = []
        parts.append(_PROBE_HEADERS[name])
        order = sorted(range(len(labelnames)), key=labelnames.__getitem__)
        for values, value in family:
            if values:
                labels = ",".join(f'{labelnames[i]}="{escape_label_value(values[i])}"' for i in order)
                parts.append(f"{name}{{{labels}}} {floatToGoString(value)}\n")
            else:
                parts.append(f"{name} {floatToGoString(value)}\n")
    return "".join(parts)


def probe_registry(run: RunResult, timeout: float) -> CollectorRegistry:
    """A registry holding the ``probe_*`` series of one run (blackbox_exporter's contract, per step too): what
    ``probe_exposition`` writes, for readers that want samples (``get_sample_value``)."""
    samples = probe_samples(run, timeout)
    metrics = []
    for name, documentation, labelnames in PROBE_FAMILIES:
        if name not in samples and name in _PROBE_OPTIONAL:
            continue
        metric = Metric(name, documentation, "gauge")
        for values, value in samples.get(name, []):
            metric.add_sample(name, dict(zip(labelnames, values, strict=True)), value)
        metrics.append(metric)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(FixedCollector(metrics))
    return registry
