"""The background refresher: one leader among the processes sharing a state directory, runs on its interval,
shares its results through a file, sets the gauges from results and survives whatever a run does."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from django_integration.integrity import FAILED, OK, CheckResult, Finding, Options, Sample
from django_integration.integrity._metrics import IntegrityMetrics
from django_integration.integrity._refresher import Refresher
from tests.django_integration.conftest import sample
from tests.django_integration.integrity.conftest import Database

OPTIONS = Options(checks=["schema"], aliases=["default"])


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeRun:
    """Stands in for run_checks: returns the results it is given, counts its calls."""

    def __init__(self, *results: CheckResult) -> None:
        self.results = list(results)
        self.calls = 0

    def __call__(self, options: Options, state: dict[str, Any]) -> list[CheckResult]:
        self.calls += 1
        return self.results


def drift(value: float, status: str = OK, model: str = "Product") -> CheckResult:
    findings = [Finding("schema", "type_mismatch", "error", "...", {"model": model})] if value else []
    samples = (
        []
        if status == FAILED
        else [Sample("django_integrity_schema_drift", {"app_label": "shop", "model": model}, value)]
    )
    return CheckResult("schema", "default", status, findings, samples, started_at=999_990.0, duration_seconds=0.5,
                       error="OperationalError: gone" if status == FAILED else None)  # fmt: skip


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def refresher(
    state_dir: Path, run: FakeRun, clock: Clock, interval: float = 60.0
) -> tuple[Refresher, CollectorRegistry]:
    registry = CollectorRegistry()
    return Refresher(OPTIONS, interval, state_dir, IntegrityMetrics(registry), run=run, clock=clock), registry


def test_one_leader_runs_the_others_read_its_results(tmp_path: Path) -> None:
    clock = Clock()
    runs = [FakeRun(drift(2)) for _ in range(3)]
    workers = [refresher(tmp_path, run, clock) for run in runs]
    for worker, _ in workers:
        worker.tick()
    assert [worker.leader for worker, _ in workers] == [True, False, False]
    assert [run.calls for run in runs] == [1, 0, 0]
    for _, registry in workers:  # whichever process answers the scrape reports the same
        assert value(registry, "django_integrity_schema_drift", alias="default", app_label="shop", model="Product") == 2
        assert value(registry, "django_integrity_check_success", check="schema", alias="default") == 1
        assert value(registry, "django_integrity_findings", check="schema", alias="default", level="error") == 1
        assert value(registry, "django_integrity_refresh_interval_seconds") == 60

    clock.now += 30  # not due yet: nobody runs
    for worker, _ in workers:
        worker.tick()
    assert [run.calls for run in runs] == [1, 0, 0]
    clock.now += 31
    for worker, _ in workers:
        worker.tick()
    assert [run.calls for run in runs] == [2, 0, 0]


def test_a_new_leader_takes_over_on_the_groups_schedule(tmp_path: Path) -> None:
    clock = Clock()
    first, second = FakeRun(drift(0)), FakeRun(drift(0))
    leader, _ = refresher(tmp_path, first, clock)
    follower, _ = refresher(tmp_path, second, clock)
    leader.tick()
    follower.tick()
    leader.release()  # the leading worker died: the kernel drops its lock
    clock.now += 10
    follower.tick()
    assert follower.leader and second.calls == 0, "the group ran 10 s ago: the new leader waits for the interval"
    clock.now += 60
    follower.tick()
    assert second.calls == 1


def test_a_failed_run_keeps_what_was_measured_and_says_it_failed(tmp_path: Path) -> None:
    clock = Clock()
    run = FakeRun(drift(3))
    worker, registry = refresher(tmp_path, run, clock)
    worker.tick()
    run.results = [drift(0, status=FAILED)]
    clock.now += 61
    worker.tick()
    assert value(registry, "django_integrity_check_success", check="schema", alias="default") == 0
    assert value(registry, "django_integrity_schema_drift", alias="default", app_label="shop", model="Product") == 3
    complete = value(
        registry, "django_integrity_check_last_complete_timestamp_seconds", check="schema", alias="default"
    )
    last_run = value(registry, "django_integrity_check_last_run_timestamp_seconds", check="schema", alias="default")
    assert complete == 999_990.5 and last_run == 999_990.5  # the fake results keep their own start time


def test_what_a_check_stops_reporting_goes_to_zero(tmp_path: Path) -> None:
    clock = Clock()
    run = FakeRun(drift(1, model="Product"))
    worker, registry = refresher(tmp_path, run, clock)
    worker.tick()
    run.results = [drift(0, model="Category")]
    clock.now += 61
    worker.tick()
    assert value(registry, "django_integrity_schema_drift", alias="default", app_label="shop", model="Product") == 0
    assert value(registry, "django_integrity_schema_drift", alias="default", app_label="shop", model="Category") == 0


def test_the_refresher_survives_a_run_that_raises(tmp_path: Path) -> None:
    calls = []

    def broken(options: Options, state: dict[str, Any]) -> list[CheckResult]:
        calls.append(1)
        raise RuntimeError("a bug in a check runner")

    before = sample("django_integration_internal_errors_total", component="integrity")
    worker = Refresher(OPTIONS, 0.05, tmp_path, IntegrityMetrics(CollectorRegistry()), run=broken).start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(calls) >= 3, "the thread stopped after the first failure"
        assert worker._thread is not None and worker._thread.is_alive()
    finally:
        worker.stop()
    assert sample("django_integration_internal_errors_total", component="integrity") >= before + 3


def test_real_checks_feed_the_gauges(database: Database, tmp_path: Path) -> None:
    registry = CollectorRegistry()
    options = Options(checks=["migrations", "schema", "foreign_keys", "connections"], aliases=[database.alias])
    worker = Refresher(options, 600, tmp_path, IntegrityMetrics(registry))
    done = threading.Event()

    def run_in_thread() -> None:  # as in the serving process: a thread with its own connections
        worker.tick()
        done.set()

    threading.Thread(target=run_in_thread).start()
    assert done.wait(120)
    alias = database.alias
    for check in ("migrations", "schema", "foreign_keys", "connections"):
        assert value(registry, "django_integrity_check_success", check=check, alias=alias) == 1, check
        for level in ("error", "warning", "info"):
            assert value(registry, "django_integrity_findings", check=check, alias=alias, level=level) == 0
    assert value(registry, "django_integrity_unapplied_migrations", alias=alias, app_label="shop") == 0
    assert value(registry, "django_integrity_missing_migrations", app_label="shop", model="OrderItem") == 0
    assert value(registry, "django_integrity_schema_drift", alias=alias, app_label="shop", model="OrderItem") == 0
    relation = {"app_label": "shop", "model": "OrderItem", "relation": "product", "target": "shop.Product"}
    assert value(registry, "django_integrity_orphaned_rows", alias=alias, **relation) == 0
    assert (value(registry, "django_integrity_connect_seconds", alias=alias) or 0) > 0
    assert (tmp_path / "integrity-results.json").exists() and (tmp_path / "integrity.lock").exists()
