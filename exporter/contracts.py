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
series as they were and sets ``sweep_success`` to 0. The latest sweep of each target, with an example per
failure, is kept in memory (``ContractResults``) for ``/contracts`` and ``/contracts/<target>``.
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

if TYPE_CHECKING:
    from .metrics import WorkflowMetrics

logger = logging.getLogger("exporter.contracts")

__all__ = ["ContractResults", "ContractSweeps", "add_parser", "contract_page", "contract_probe", "run_command"]

# The shard key of a target's sweep (--shard): sweeps spread over replicas like workflow x target pairs.
SHARD_KEY = "contracts"
DEFAULT_MAX_CONCURRENT_SWEEPS = 2
FIRST_SWEEP_WITHIN = 5.0
JITTER = 0.1
Response = tuple[str, list[tuple[str, str]], bytes]


class ContractResults:
    """The latest sweep of each target (thread-safe); a target's entry goes when its contracts do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, SweepResult] = {}

    def put(self, sweep: SweepResult) -> None:
        with self._lock:
            self._latest[sweep.target] = sweep

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


class ContractSweeps:
    """Sweeps of every target with contracts, on their intervals, recorded in ``metrics`` and ``results``.

    ``owns(target)`` says whether this replica sweeps the target on schedule (``--shard``); an on-demand sweep
    (``sweep``) runs on any configured target.
    """

    def __init__(
        self,
        metrics: WorkflowMetrics,
        owns: Callable[[str], bool] = lambda target: True,
        max_concurrency: int = DEFAULT_MAX_CONCURRENT_SWEEPS,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        first_sweep_within: float = FIRST_SWEEP_WITHIN,
    ) -> None:
        self.metrics = metrics
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
            self.sweep(name)
        except Exception:
            logger.exception("contract sweep of %s crashed", name)
        finally:
            with self._wake:
                self._running.discard(name)

    def sweep(self, name: str, timeout: float | None = None) -> SweepResult | None:
        """Sweep ``name`` now and record it; None when it has no contracts. Sweeps of one target never overlap:
        a call while one is going waits for it (at most ``timeout``) and returns its result."""
        with self._wake:
            target = self._targets.get(name)
            workflows = self._workflows
            lock = self._locks.setdefault(name, threading.Lock())
        if target is None or target.contracts is None:
            return None
        if not lock.acquire(blocking=False):
            if lock.acquire(timeout=timeout if timeout is not None else target.contracts.timeout):
                lock.release()
            return self.results.get(name)
        try:
            result = run_sweep(target, workflows, timeout=timeout, negative=self.negative,
                               on_operation=lambda verdicts: self._record_verdicts(name, verdicts))  # fmt: skip
            self.record(result)
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

    def record(self, sweep: SweepResult) -> None:
        """Replace the target's series with this sweep's verdicts (see the module docstring)."""
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
        sweep = sweeps.sweep(name, timeout=timeout)
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


# --- /contracts and /contracts/<target> ------------------------------------------------------------------------

_env = Environment(loader=PackageLoader("exporter", "templates"), autoescape=select_autoescape(default=True))
_env.filters["when"] = lambda ts: "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
_env.filters["seconds"] = lambda s: f"{s:.1f} s"


def contract_page(sweeps: ContractSweeps, config: Config, path: str) -> Response:
    """``/contracts`` (every target: its last sweep and what failed) or ``/contracts/<target>`` (every check
    of the last sweep, failures first with their example)."""
    name = path.removeprefix("/contracts").strip("/")
    with_contracts = {n: t for n, t in config.targets.items() if t.contracts is not None}
    if name and name not in with_contracts:
        page = _env.get_template("contracts.html").render(missing=name[:200], targets=[], detail=None)
        return "404 Not Found", [("Content-Type", "text/html; charset=utf-8")], page.encode()
    latest = sweeps.results.all()
    shown = [name] if name else sorted(with_contracts)
    targets = []
    for target_name in shown:
        sweep = latest.get(target_name)
        contracts = with_contracts[target_name].contracts
        assert contracts is not None
        targets.append({
            "name": target_name,
            "interval": contracts.interval,
            "sweep": sweep,
            "counts": {s: sweep.count(s) for s in STATUSES} if sweep else {},
            "failing": failing(sweep.results) if sweep else [],
            "others": sorted((r for r in sweep.results if r.status in ("passed", "skipped")),
                             key=lambda r: (r.status, r.operation, r.check)) if sweep else [],
        })  # fmt: skip
    page = _env.get_template("contracts.html").render(missing=None, targets=targets, detail=bool(name))
    return "200 OK", [("Content-Type", "text/html; charset=utf-8")], page.encode()


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
    from synthetic.durations import parse_duration

    try:
        value = float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 s, not {text}")
    return value


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
