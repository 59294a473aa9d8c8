"""Contract sweeps in the exporter: scheduled per target, on demand from ``/probe``, on the ``/contracts`` page
and from the ``contract`` command.

``ContractSweeps`` runs one sweep per target with a ``contracts:`` section on the section's ``interval`` (with
jitter, the first soon after start), in its own small thread pool: a sweep is bounded by its own ``timeout``, a
target whose sweep is still running is not swept again, and one hung target holds one thread only. Each sweep
replaces its target's series (each operation's verdicts as soon as they are judged, what the sweep did not
judge when it ends):

* ``workflow_contract_check_success{target, operation, check}``: 1 passed, 0 failed, for every check the sweep
  could judge; a check that errored (no answer) keeps its last value, one skipped or gone loses its series;
* ``workflow_contract_sweep_success{target}``: 1 when the sweep could check (document read, setup passed,
  every request answered), else 0;
* ``workflow_contract_sweep_duration_seconds``, ``workflow_contract_sweep_requests``,
  ``workflow_contract_checks{target, result}`` (counts by passed, failed, error, skipped);
* ``workflow_contract_last_sweep_timestamp_seconds{target}``: when the last sweep that could check finished
  (before the first: when the contracts were configured), against ``workflow_contract_sweep_interval_seconds``.

A sweep that cannot check at all (the document cannot be fetched, a setup workflow fails) leaves the check
series as they were and sets ``sweep_success`` to 0.

Every sweep, with an example per failure, goes to the run store (``RunStore.add_sweep``: on disk under
``--storage.path``, bounded by its retention); the latest of each target is also kept in memory
(``ContractResults``) for ``/contracts``. At start (and when a target gains a ``contracts:`` section) the latest
stored sweep of each target is restored into ``ContractResults``, so the pages show it after a restart; the
metrics are not restored: a target's series come back with its first sweep (docs/api.md says why).
``/contracts/<target>`` lists the target's stored sweeps and ``/contracts/<target>/sweeps/<id>`` shows one,
every failure with its example, at an address that stays valid.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from wsgiref.types import WSGIEnvironment

from jinja2 import Environment, PackageLoader, select_autoescape
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from synthetic.config import Config, ConfigError, load_config
from synthetic.contracts.formats import FORMATS, render_text
from synthetic.contracts.negative import NegativeData
from synthetic.contracts.sweep import STATUSES, CheckResult, SweepResult, failing, run_sweep
from synthetic.model import Target, Workflow

from .sections import SECTIONS
from .store import SweepFilter

if TYPE_CHECKING:
    from .metrics import WorkflowMetrics
    from .store import RunStore

logger = logging.getLogger("exporter.contracts")

__all__ = ["ContractResults", "ContractSweeps", "add_parser", "contract_page", "contract_probe", "run_command"]

# The shard key of a target's sweep (--shard): sweeps spread over replicas like workflow x target pairs.
SHARD_KEY = "contracts"
DEFAULT_MAX_CONCURRENT_SWEEPS = 2
FIRST_SWEEP_WITHIN = 5.0
JITTER = 0.1
Response = tuple[str, list[tuple[str, str]], bytes]


class ContractResults:
    """The latest sweep of each target (thread-safe); a target's entry goes when its contracts do. A sweep
    ``restore``d from the store (made before this process started) is marked so until the next one lands."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, SweepResult] = {}
        self._restored: set[str] = set()

    def put(self, sweep: SweepResult) -> None:
        with self._lock:
            self._latest[sweep.target] = sweep
            self._restored.discard(sweep.target)

    def restore(self, sweep: SweepResult) -> None:
        """Keep a stored sweep as the target's latest, unless a sweep of this process is there already."""
        with self._lock:
            if sweep.target not in self._latest:
                self._latest[sweep.target] = sweep
                self._restored.add(sweep.target)

    def restored(self, target: str) -> bool:
        """True while the target's latest sweep is one restored from the store."""
        with self._lock:
            return target in self._restored

    def get(self, target: str) -> SweepResult | None:
        with self._lock:
            return self._latest.get(target)

    def all(self) -> dict[str, SweepResult]:
        with self._lock:
            return dict(self._latest)

    def keep(self, targets: Iterable[str]) -> None:
        keep = set(targets)
        with self._lock:
            for name in [n for n in self._latest if n not in keep]:
                del self._latest[name]
            self._restored &= keep


class ContractSweeps:
    """Sweeps of every target with contracts, on their intervals, recorded in ``metrics``, ``results`` and the
    run ``store`` (when given).

    ``owns(target)`` says whether this replica sweeps the target on schedule (``--shard``); an on-demand sweep
    (``sweep``) runs on any configured target.
    """

    def __init__(
        self,
        metrics: WorkflowMetrics,
        store: RunStore | None = None,
        owns: Callable[[str], bool] = lambda target: True,
        max_concurrency: int = DEFAULT_MAX_CONCURRENT_SWEEPS,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        first_sweep_within: float = FIRST_SWEEP_WITHIN,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.results = ContractResults()
        self.negative = NegativeData()
        self._owns = owns
        self._clock = clock
        self._rng = rng or random.Random()
        self._first_within = first_sweep_within
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="contract-sweep")
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="contract-scheduler", daemon=True)
        self._targets: dict[str, Target] = {}
        self._workflows: Mapping[str, Workflow] = {}
        self._due: dict[str, float] = {}
        self._running: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._series: dict[str, set[tuple[str, str]]] = {}  # target -> (operation, check) series set

    # --- configuration ------------------------------------------------------------------------------------

    def configure(self, config: Config) -> None:
        """Follow the config (start and reload): sweep the targets with contracts that this replica owns; drop
        the series and results of targets that lost theirs; the interval and the first timestamp of new ones."""
        swept = {name: t for name, t in config.targets.items() if t.contracts is not None}
        now = time.time()
        with self._wake:
            self._workflows = config.workflows
            for name in list(self._series):
                if name not in swept:
                    self._drop_series(name)
            for name, target in swept.items():
                assert target.contracts is not None
                self.metrics.contract_sweep_interval.labels(name).set(target.contracts.interval)
                if name not in self._targets and name not in self._series:
                    self.metrics.contract_last_sweep.labels(name).set(now)
                    self.metrics.contract_sweep_success.labels(name)
                    for status in STATUSES:  # what the dashboard sums exists before the first sweep ends
                        self.metrics.contract_checks.labels(name, status)
                self._series.setdefault(name, set())
            for metric in (self.metrics.contract_sweep_interval, self.metrics.contract_last_sweep,
                           self.metrics.contract_sweep_success, self.metrics.contract_sweep_duration,
                           self.metrics.contract_sweep_requests):  # fmt: skip
                for name in _targets_of(metric):
                    if name not in swept:
                        _remove(metric, name)
            scheduled = {n: t for n, t in swept.items() if self._owns(n)}
            for name, target in scheduled.items():
                if name not in self._due:
                    assert target.contracts is not None
                    spread = min(target.contracts.interval, self._first_within)
                    self._due[name] = self._clock() + self._rng.uniform(0, spread)
            self._due = {n: due for n, due in self._due.items() if n in scheduled}
            self._targets = dict(swept)
            self._wake.notify_all()
        self.results.keep(swept)
        self._restore([name for name in swept if self.results.get(name) is None])

    def _restore(self, targets: list[str]) -> None:
        """The latest stored sweep of each of ``targets`` into ``results`` (not into the metrics)."""
        if self.store is None or not targets:
            return
        try:
            latest = self.store.latest_sweeps(targets)
        except Exception:  # an unreadable store costs the pages their history, never the start
            logger.exception("could not read the last contract sweeps from the run store")
            return
        for stored in latest.values():
            self.results.restore(stored.sweep)

    def _drop_series(self, target: str) -> None:
        for operation, check in self._series.pop(target, set()):
            _remove(self.metrics.contract_check_success, target, operation, check)
        for status in STATUSES:
            _remove(self.metrics.contract_checks, target, status)

    # --- running ------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                now = self._clock()
                for name, due in list(self._due.items()):
                    if due > now:
                        continue
                    target = self._targets[name]
                    assert target.contracts is not None
                    interval = target.contracts.interval
                    self._due[name] = max(due + interval + self._rng.uniform(-JITTER, JITTER) * interval, now)
                    if name in self._running:
                        logger.warning("skipped a contract sweep of %s: the previous one is still going", name)
                        continue
                    self._running.add(name)
                    self._executor.submit(self._scheduled, name)
                upcoming = min(self._due.values(), default=now + 1.0)
                self._wake.wait(timeout=max(0.01, min(upcoming - self._clock(), 1.0)))

    def _scheduled(self, name: str) -> None:
        try:
            self.sweep(name, source="scheduled")
        except Exception:
            logger.exception("contract sweep of %s crashed", name)
        finally:
            with self._wake:
                self._running.discard(name)

    def sweep(self, name: str, timeout: float | None = None, source: str = "scheduled") -> SweepResult | None:
        """Sweep ``name`` now and record it as from ``source`` (``exporter.store.SWEEP_SOURCES``); None when it
        has no contracts. Sweeps of one target never overlap: a call while one is going waits for it (at most
        ``timeout``) and returns its result."""
        with self._wake:
            target = self._targets.get(name)
            workflows = self._workflows
            lock = self._locks.setdefault(name, threading.Lock())
        if target is None or target.contracts is None:
            return None
        if not lock.acquire(blocking=False):
            if lock.acquire(timeout=timeout if timeout is not None else target.contracts.timeout):
                lock.release()
            # the sweep that just ended; one restored from the store is no answer to this call
            return None if self.results.restored(name) else self.results.get(name)
        try:
            result = run_sweep(target, workflows, timeout=timeout, negative=self.negative,
                               on_operation=lambda verdicts: self._record_verdicts(name, verdicts))  # fmt: skip
            self.record(result, source)
            return result
        finally:
            lock.release()

    def _record_verdicts(self, name: str, verdicts: Sequence[CheckResult]) -> None:
        """One operation's verdicts as they come: a failing check shows before the sweep ends (``record``
        then drops what the sweep did not judge)."""
        with self._wake:
            if name not in self._targets:
                return
            series = self._series.setdefault(name, set())
            for result in verdicts:
                if result.status in ("passed", "failed"):
                    self.metrics.contract_check_success.labels(name, result.operation, result.check).set(
                        1 if result.status == "passed" else 0
                    )
                    series.add((result.operation, result.check))

    def record(self, sweep: SweepResult, source: str = "scheduled") -> None:
        """Replace the target's series with this sweep's verdicts (see the module docstring); keep the sweep as
        the target's latest and in the store."""
        name = sweep.target
        with self._wake:
            if name not in self._targets:
                return  # its contracts left the config while it ran
            metrics = self.metrics
            metrics.contract_sweep_success.labels(name).set(1 if sweep.error is None and not sweep.count("error")
                                                            else 0)  # fmt: skip
            metrics.contract_sweep_duration.labels(name).set(sweep.duration)
            metrics.contract_sweep_requests.labels(name).set(sweep.requests)
            if sweep.error is None:
                old = self._series.get(name, set())
                new: set[tuple[str, str]] = set()
                for result in sweep.results:
                    key = (result.operation, result.check)
                    if result.status in ("passed", "failed"):
                        metrics.contract_check_success.labels(name, *key).set(1 if result.status == "passed" else 0)
                        new.add(key)
                    elif result.status == "error" and key in old:
                        new.add(key)  # no answer this time: the last verdict stands
                for key in old - new:
                    _remove(metrics.contract_check_success, name, *key)
                self._series[name] = new
                for status in STATUSES:
                    metrics.contract_checks.labels(name, status).set(sweep.count(status))
                metrics.contract_last_sweep.labels(name).set(sweep.started_at + sweep.duration)
        self.results.put(sweep)
        if self.store is not None:
            self.store.add_sweep(sweep, source)


def _targets_of(metric: Gauge) -> list[str]:
    """The ``target`` label values of a family labelled by target only."""
    return [sample.labels["target"] for family in metric.collect() for sample in family.samples]


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)


# --- /probe?target=T&module=contract ----------------------------------------------------------------------------


def contract_probe(
    sweeps: ContractSweeps,
    config: Config,
    environ: WSGIEnvironment,
    timeout_offset: float,
    acquire: Callable[[], bool],
    release: Callable[[], None],
) -> Response:
    """An on-demand sweep for Prometheus: ``probe_success`` (every check passed), ``probe_duration_seconds``,
    ``probe_timeout_seconds``, ``probe_contract_requests`` and ``probe_contract_check_success{operation, check}``.
    The sweep is bounded by the scrape timeout (minus ``timeout_offset``) and its own timeout; it is recorded
    like a scheduled one. ``&debug=true`` answers the table first."""
    params = parse_qs(environ.get("QUERY_STRING", ""))
    name = (params.get("target") or [""])[0]
    target = config.targets.get(name)
    if target is None or target.contracts is None:
        with_contracts = sorted(n for n, t in config.targets.items() if t.contracts is not None)
        return _text("400 Bad Request", f"unknown target {name[:100]!r} or no contracts section; targets with "
                     f"contracts: {', '.join(with_contracts) or 'none'}\n")  # fmt: skip
    if not acquire():
        return _text("503 Service Unavailable", "too many probes in flight; raise --probe.max-concurrency or lower "
                     "the scrape rate\n")  # fmt: skip
    try:
        timeout = target.contracts.timeout
        header = environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS")
        if header:
            with contextlib.suppress(ValueError):
                timeout = min(timeout, max(float(header) - timeout_offset, 0.1))
        sweep = sweeps.sweep(name, timeout=timeout, source="probe")
    finally:
        release()
    if sweep is None:
        return _text("503 Service Unavailable", f"target {name!r} is not swept by this exporter (reloading?)\n")
    exposition = generate_latest(probe_registry(sweep, timeout)).decode()
    if (params.get("debug") or [""])[0] == "true":
        return _text("200 OK", f"{render_text(sweep)}\nMetrics that would have been returned:\n{exposition}")
    return _text("200 OK", exposition, "text/plain; version=0.0.4; charset=utf-8")


def probe_registry(sweep: SweepResult, timeout: float) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    Gauge("probe_success", "1 if the sweep could check the target and every check passed.",
          registry=registry).set(1 if sweep.success else 0)  # fmt: skip
    Gauge("probe_duration_seconds", "How long the sweep took.", registry=registry).set(sweep.duration)
    Gauge("probe_timeout_seconds", "The deadline the sweep had.", registry=registry).set(timeout)
    Gauge("probe_contract_requests", "Requests the sweep sent.", registry=registry).set(sweep.requests)
    checks = Gauge("probe_contract_check_success", "1 if the check passed on the operation, 0 if it failed.",
                   ["operation", "check"], registry=registry)  # fmt: skip
    for result in sweep.results:
        if result.status in ("passed", "failed"):
            checks.labels(result.operation, result.check).set(1 if result.status == "passed" else 0)
    return registry


def _text(status: str, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return status, [("Content-Type", content_type)], body.encode()


# --- /contracts, /contracts/<target>, /contracts/<target>/sweeps/<id> ----------------------------------------------

_env = Environment(loader=PackageLoader("exporter", "templates"), autoescape=select_autoescape(default=True))
_env.filters["when"] = lambda ts: "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
_env.filters["seconds"] = lambda s: f"{s:.1f} s"
PAGE_SWEEPS = 50  # a target's newest sweeps on its page; the API lists the older ones


def _html(status: str, page: str) -> Response:
    return status, [("Content-Type", "text/html; charset=utf-8")], page.encode()


def _shown(name: str, sweep: SweepResult | None, interval: float | None) -> dict[str, Any]:
    """What the template shows of a target's sweep."""
    return {
        "name": name,
        "interval": interval,
        "sweep": sweep,
        "counts": {s: sweep.count(s) for s in STATUSES} if sweep else {},
        "failing": failing(sweep.results) if sweep else [],
        "others": sorted((r for r in sweep.results if r.status in ("passed", "skipped")),
                         key=lambda r: (r.status, r.operation, r.check)) if sweep else [],
    }  # fmt: skip


def contract_page(sweeps: ContractSweeps, config: Config, path: str) -> Response:
    """``/contracts`` (every target: its last sweep and what failed), ``/contracts/<target>`` (every check of
    the last sweep, failures first with their example, and the target's newest ``PAGE_SWEEPS`` stored sweeps)
    or ``/contracts/<target>/sweeps/<id>`` (one stored sweep, whether its target is configured or not)."""
    parts = [part[:200] for part in path.removeprefix("/contracts").split("/") if part]
    with_contracts = {n: t for n, t in config.targets.items() if t.contracts is not None}
    template = _env.get_template("contracts.html")
    store = sweeps.store

    def refused(status: str, title: str, why: str) -> Response:
        return _html(status, template.render(missing=title, why=why, targets=[], detail=None))

    if len(parts) == 3 and parts[1] == "sweeps":
        stored = store.get_sweep(parts[2]) if store is not None else None
        if stored is None or stored.summary.target != parts[0]:
            return refused("404 Not Found", "No such sweep", f"The run store holds no contract sweep {parts[2]!r} of "
                           f"target {parts[0]!r} (retention may have deleted it).")  # fmt: skip
        contracts = config.targets[parts[0]].contracts if parts[0] in with_contracts else None
        shown = _shown(parts[0], stored.sweep, contracts.interval if contracts is not None else None)
        return _html("200 OK", template.render(stored=stored, targets=[shown], detail=True, store=store))
    if len(parts) > 1 or (parts and parts[0] not in with_contracts):
        asked = "/".join(parts)
        return refused("404 Not Found", f"No contracts for {asked}",
                       f"No configured target named {asked!r} has a contracts: section.")  # fmt: skip
    name = parts[0] if parts else None
    latest = sweeps.results.all()
    targets = []
    for target_name in [name] if name else sorted(with_contracts):
        contracts = with_contracts[target_name].contracts
        assert contracts is not None
        shown = _shown(target_name, latest.get(target_name), contracts.interval)
        shown["restored"] = sweeps.results.restored(target_name)
        targets.append(shown)
    if name and store is not None:
        history, cursor = store.sweeps(SweepFilter(target=name), PAGE_SWEEPS)
        targets[0].update(history=history, next_cursor=cursor)
    return _html("200 OK", template.render(targets=targets, detail=bool(name), store=store))


# --- workflow-exporter contract --------------------------------------------------------------------------------


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """The ``contract`` subcommand on the CLI's subparsers."""
    command = commands.add_parser(
        "contract",
        help="run one contract sweep of a target and print a table (exit 0 when every check passed, 1 when one "
        "failed or the sweep could not run, 2 on bad usage)",
        description="Run one contract sweep of a target's OpenAPI document (the target's contracts: section) and "
        "print every failed check with an example, then the passed ones. Exit 0 when every check passed, 1 when a "
        "check failed or errored or the sweep could not run (for CI pipelines), 2 on bad usage.",
        formatter_class=formatter,
    )
    command.add_argument("--config.file", dest="config_file", default=argparse.SUPPRESS,
                         help="workflow config (YAML); default workflows.yml")  # fmt: skip
    command.add_argument("--target", help="the target to sweep; needed when several have contracts")
    command.add_argument("--timeout", type=_positive_seconds, metavar="DURATION",
                         help="bound the whole sweep (30s, 2m); default the contracts' own timeout")  # fmt: skip
    command.add_argument("--format", choices=sorted(FORMATS), default="text",
                         help="text: a table; json: every check with its example; junit: JUnit XML for CI")  # fmt: skip
    command.add_argument("--output", metavar="FILE", default="-", help="write there instead of stdout ('-')")
    command.add_argument("--verbose", "-v", action="store_true", help="list skipped checks too, with why")


def _positive_seconds(text: str) -> float:
    from synthetic.durations import parse_duration_flag

    try:
        return parse_duration_flag(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_command(args: argparse.Namespace) -> int:
    """``workflow-exporter contract``: 0 every check passed, 1 a failure (or no sweep), 2 bad usage."""
    path = getattr(args, "config_file", "workflows.yml")
    try:
        config = load_config(path, sections=SECTIONS)
    except ConfigError as error:
        print(f"{path}: invalid, {len(error.problems)} problem(s):", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    with_contracts = sorted(n for n, t in config.targets.items() if t.contracts is not None)
    name = args.target or (with_contracts[0] if len(with_contracts) == 1 else None)
    if name not in with_contracts:
        shown = ", ".join(with_contracts) or "none (add a contracts: section to a target)"
        print(f"--target must name a target with contracts: {shown}", file=sys.stderr)
        return 2
    sweep = run_sweep(config.targets[name], config.workflows, timeout=args.timeout)
    text = render_text(sweep, verbose=args.verbose) if args.format == "text" else FORMATS[args.format](sweep)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"--output {args.output}: {error.strerror or error}", file=sys.stderr)
            return 2
        if args.format != "text":  # the file is for the machine; a person still sees the table
            sys.stdout.write(render_text(sweep, verbose=args.verbose))
    return 0 if sweep.success else 1
