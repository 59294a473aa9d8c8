"""The exporter's state: the config, and running workflows with circuit breakers, history and metrics.

Everything the HTTP app and the scheduler need goes through one ``Exporter`` object, built with its
dependencies (registry, clock) passed in, so tests build fresh ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from synthetic.config import Config, ConfigError, Target, Workflow, load_config
from synthetic.ids import new_id
from synthetic.openapi import OpenAPIDocuments
from synthetic.result import RunResult, StepResult
from synthetic.runner import run_workflow
from synthetic.steps import browser as browser_steps
from synthetic.steps.sql import probe_user_grants

from .circuit import CircuitBreaker
from .contracts import SHARD_KEY as CONTRACTS_SHARD_KEY
from .contracts import ContractSweeps
from .frontend_map.service import FrontendMapper
from .history import DEFAULT_LIMIT, DEFAULT_MAX_BYTES
from .metrics import WorkflowMetrics
from .scheduler import Scheduler
from .sections import SECTIONS
from .sharding import Shard
from .store import DEFAULT_RETENTION_TIME, RunStore

logger = logging.getLogger("exporter")


@dataclass(frozen=True)
class ReloadResult:
    """A reload's outcome: ``problems`` lists what is wrong with the file; ``internal`` marks a bug of ours."""

    ok: bool
    problems: list[str]
    internal: bool = False

    @property
    def message(self) -> str:
        if self.ok:
            return "config reloaded"
        return "config not reloaded; keeping the previous one:\n" + "\n".join(f"  {p}" for p in self.problems)


@dataclass
class CachedProbe:
    run: RunResult
    finished: float  # monotonic


class Exporter:
    def __init__(
        self,
        config_path: str | Path,
        registry: CollectorRegistry,
        shard: Shard | None = None,
        max_concurrency: int = 8,
        history_limit: int = DEFAULT_LIMIT,
        history_max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
        storage_path: str | Path | None = None,
        retention_time: float = DEFAULT_RETENTION_TIME,
        retention_size: int | None = None,
    ) -> None:
        self.config_path = Path(config_path)
        self.shard = shard or Shard()
        self.metrics = WorkflowMetrics(registry)
        # Every run, on disk under storage_path (None or "": in memory, bounded like the history was); the
        # history's get/recent/add are the store's. StoreError (a newer store) is fatal, like an invalid config.
        self.store = RunStore(storage_path, retention_time=retention_time, retention_size=retention_size,
                              limit=history_limit, max_bytes=history_max_bytes, metrics=self.metrics)  # fmt: skip
        self.history = self.store
        if self.store.directory is not None:  # browser steps' failure screenshots, beside the runs they belong to
            browser_steps.configure(screenshot_dir=self.store.directory / "screenshots")
        self.metrics.store_runs.set_function(lambda: float(len(self.store)))
        self.metrics.store_size.set_function(lambda: float(self.store.size_bytes))
        self.reload_hooks: list[Callable[[], None]] = []  # called after each successful reload (closes streams)
        self.openapi = OpenAPIDocuments()
        self._clock = clock
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._probe_cache: dict[tuple[str, str], CachedProbe] = {}
        self._probe_locks: dict[tuple[str, str], threading.Lock] = {}
        self.scheduler = Scheduler(self.run_scheduled, self._skipped, max_concurrency=max_concurrency, clock=clock)
        self.frontend = FrontendMapper(self.metrics)  # the frontend: section's map, in a thread of its own
        self.contracts = ContractSweeps(self.metrics, store=self.store,
                                        owns=lambda target: self.shard.owns(CONTRACTS_SHARD_KEY, target))  # fmt: skip
        try:
            # an invalid file at start is fatal (ConfigError)
            self.config: Config = load_config(self.config_path, sections=SECTIONS)
        except BaseException:
            self.store.close()
            raise
        self._apply(self.config)
        self.metrics.reload_success.set(1)
        self.metrics.reload_timestamp.set(time.time())

    # --- configuration ----------------------------------------------------------------------------------------

    def owned_pairs(self, config: Config) -> list[tuple[Workflow, Target]]:
        return [(w, t) for w, t in config.pairs() if self.shard.owns(w.name, t.name)]

    def _apply(self, config: Config) -> None:
        with self._lock:
            self.config = config
            self._breakers = {
                name: self._breakers.get(name)
                or CircuitBreaker(target.circuit_breaker.failures, target.circuit_breaker.cooldown, self._clock)
                for name, target in config.targets.items()
            }
            self._probe_cache.clear()
        self.openapi = OpenAPIDocuments()
        pairs = self.owned_pairs(config)
        self.metrics.configure(config, [(w.name, t.name) for w, t in pairs])
        self.scheduler.set_pairs(pairs)
        self.frontend.configure(config)
        self.contracts.configure(config)

    def reload(self) -> ReloadResult:
        """Load the config file again; keep the running config if the new one is invalid. Never raises.

        The outcome reaches ``workflow_exporter_config_last_reload_successful`` (0 on any failure), the JSON
        log (``problems``: the list) and the caller (``POST /-/reload`` answers 400 with the problems).
        """
        with self._reload_lock:  # a SIGHUP storm reloads one at a time
            try:
                config = load_config(self.config_path, sections=SECTIONS)
            except ConfigError as error:
                self.metrics.reload_success.set(0)
                logger.error(
                    "config reload failed; keeping the previous config: %d problem(s)",
                    len(error.problems),
                    extra={"problems": error.problems, "config_file": str(self.config_path)},
                )
                return ReloadResult(False, error.problems)
            except Exception as error:  # a bug of ours; the service keeps its config and says so
                self.metrics.reload_success.set(0)
                logger.exception("config reload crashed; keeping the previous config")
                return ReloadResult(False, [f"internal error: {type(error).__name__}"], internal=True)
            self._apply(config)
            self.metrics.reload_success.set(1)
            self.metrics.reload_timestamp.set(time.time())
        for hook in self.reload_hooks:
            hook()
        logger.info("config reloaded: %d workflows, %d targets", len(config.workflows), len(config.targets))
        return ReloadResult(True, [])

    def start(self) -> None:
        self.scheduler.start()
        self.frontend.start()
        self.contracts.start()

    def stop(self) -> None:
        self.scheduler.stop(wait=False)
        self.frontend.stop()
        self.contracts.stop()
        for hook in self.reload_hooks:
            hook()
        self.store.close()

    # --- running ----------------------------------------------------------------------------------------------

    def breaker(self, target: str) -> CircuitBreaker:
        with self._lock:
            return self._breakers[target]

    def run(self, workflow: Workflow, target: Target, timeout: float | None = None, source: str = "scheduled",
            replay_of: str | None = None) -> RunResult:  # fmt: skip
        """One run through the target's circuit breaker; the result goes to the store as from ``source``
        (``exporter.store.SOURCES``), linked to the run it replays (``replay_of``)."""
        breaker = self.breaker(target.name)
        if not breaker.allow():
            run = _circuit_open_run(workflow, target)
        else:
            self.metrics.in_progress.inc()
            try:
                run = run_workflow(workflow, target, timeout=timeout, openapi=self.openapi)
            finally:
                self.metrics.in_progress.dec()
            breaker.record(run.reason if not run.success else None)
        self.metrics.set_circuit_open(target.name, breaker.is_open)
        if target.database and (grants := probe_user_grants(target.database)) and grants.error is None:
            self.metrics.set_sql_probe_user_excess(target.name, bool(grants.excess))
        self.store.add(run, source=source, replay_of=replay_of)
        return run

    def run_scheduled(self, workflow: Workflow, target: Target) -> RunResult:
        run = self.run(workflow, target)
        self.metrics.record(run)
        return run

    def _skipped(self, workflow: Workflow, target: Target) -> None:
        self.metrics.count_skipped(workflow.name, target.name, "overlap")
        logger.warning("skipped a run of %s on %s: the previous run is still going", workflow.name, target.name)

    def probe(self, workflow: Workflow, target: Target, timeout: float) -> RunResult:
        """A /probe run, or the cached result when one younger than the workflow's min_interval exists."""
        key = (workflow.name, target.name)
        if not workflow.min_interval:  # no cache asked for: probes of one pair may run side by side
            run = self.run(workflow, target, timeout=timeout, source="probe")
            self.metrics.probe_requests.labels("ran").inc()
            return run
        with self._lock:
            lock = self._probe_locks.setdefault(key, threading.Lock())
        with lock:  # two concurrent scrapes of a write workflow must not both run it
            cached = self._probe_cache.get(key)
            if cached and self._clock() - cached.finished < workflow.min_interval:
                self.metrics.probe_requests.labels("cached").inc()
                return RunResult(**{**cached.run.__dict__, "cached": True})
            run = self.run(workflow, target, timeout=timeout, source="probe")
            self._probe_cache[key] = CachedProbe(run, self._clock())
            self.metrics.probe_requests.labels("ran").inc()
            return run


def _circuit_open_run(workflow: Workflow, target: Target) -> RunResult:
    run = RunResult(workflow=workflow.name, target=target.name, correlation_id=new_id(), started_at=time.time())
    for index, step in enumerate(workflow.steps):
        if index == 0:
            run.steps.append(StepResult(step.name, step.kind, status="failed", reason="circuit_open",
                                        message=f"circuit breaker of target {target.name!r} is open"))  # fmt: skip
        else:
            run.steps.append(StepResult(step.name, step.kind, status="skipped", reason="skipped",
                                        message="an earlier step failed"))  # fmt: skip
    return run
