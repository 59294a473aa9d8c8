"""The report over a backfilled day of the demo stack with its faults switched on and off (tests/report/day.py):
each fault's window names its offender (the statement, the route, the step, the journey) with its suggestion
and compares it with the healthy hours before; the healthy hours say nothing; the whole day gives every
offender on one page, the worst first. The same proof as test_demo_stack.py (e2e, minutes), in seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.report import PrometheusClient, Report, build_report, render
from exporter.report.cli import failure_source
from exporter.store import RunStore
from synthetic.result import AssertionResult, RunResult, ServerTiming, StepResult
from tests.harness.prometheus import start_prometheus

from .cases import CATEGORY_LOOKUP
from .day import DAY, HOUR, RUN_RATE, SLEEP, STEP, TARGET, WINDOWS, faults, healthy
from .series import backfill, timeline


@dataclass
class Day:
    url: str
    start: int  # unix seconds at 00:00 of the day
    store: Path


def _run(run_id: str, started_at: float, failed: bool) -> RunResult:
    """A checkout run: jwt-login, add-item, checkout (answering 500 when ``failed``), order-row."""
    run = RunResult(workflow="checkout", target=TARGET, correlation_id=run_id, started_at=started_at, duration=0.2)
    for index, name in enumerate(("jwt-login", "add-item", "checkout", "order-row")):
        step = StepResult(name=name, kind="sql" if name == "order-row" else "http", offset=index * 0.05,
                          duration=0.05, budget=2.0 if name == "checkout" else 1.0)  # fmt: skip
        if failed and name == "order-row":
            step.status, step.reason, step.message = "skipped", "skipped", "an earlier step failed"
        elif failed and name == "checkout":
            step.http_status, step.server = 500, ServerTiming(app_seconds=0.02, db_seconds=0.003, queries=2)
            step.assertions = [AssertionResult("status", False, "expected status 201, got 500")]
            step.status, step.reason, step.message = "failed", "http_status", "expected status 201, got 500"
        else:
            step.http_status = 201 if name == "checkout" else 200
            step.assertions = [AssertionResult("status", True, str(step.http_status))]
        run.steps.append(step)
    return run


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    workdir = tmp_path_factory.mktemp("report-day")
    start = int(time.time()) // STEP * STEP - DAY - 600
    backfill(timeline(healthy(), faults(), start, DAY, STEP), workdir)
    store = RunStore(workdir / "store")
    began, ended = WINDOWS["checkout_errors"]
    for index in range(0, DAY, 30):  # the run store holds the checkout runs of the day: those of the fault fail
        failed = began <= index < ended
        if failed or index % 600 == 0:
            store.add(_run(f"checkout-{index:05d}", start + index + 1, failed))
    store.flush()
    store.close()
    prometheus = start_prometheus(workdir)
    try:
        yield Day(prometheus.url, start, workdir / "store")
    finally:
        prometheus.stop()


def _report(day: Day, until_hour: float, hours: float) -> Report:
    store = RunStore(day.store)
    try:
        client = PrometheusClient(day.url, timeout=20)
        return build_report(client, since=hours * HOUR, until=day.start + until_hour * HOUR, slo_window=hours * HOUR,
                            failure_source=failure_source(store))  # fmt: skip
    finally:
        store.close()


def _found(report: Report) -> dict[str, list[str]]:
    """Each rule's findings as "title | action"."""
    found: dict[str, list[str]] = {}
    for f in report.findings:
        found.setdefault(f.rule, []).append(f"{f.title} | {f.action}")
    return found


def _cell(report: Report, section: str, table: int, first: str, column: str) -> str:
    """The cell of ``column`` in the row of a section's table whose first cell is ``first``."""
    t = next(s for s in report.sections if s.key == section).tables[table]
    return next(row for row in t.rows if row[0] == first)[t.columns.index(column)]


def test_slow_products_names_the_statement_the_route_and_the_step(day: Day) -> None:
    report = _report(day, until_hour=8, hours=2)  # 06:00-08:00 against 04:00-06:00
    found = _found(report)
    assert sorted(found) == ["slow_route", "slow_statement", "step_over_budget"], found
    [statement] = found["slow_statement"]
    assert statement.startswith(f"Statement `{SLEEP}` (shop) ran 360 times, 1.20 s each, 7.2 min in all"), statement
    assert "run EXPLAIN on an example of this statement" in statement
    [route] = found["slow_route"]
    assert route.startswith("GET api/products/ answered in 2.42 s at p95 (previous period 96 ms) over 360 requests")
    assert "find the route's slowest statement in the Database section" in route
    [step] = found["step_over_budget"]
    assert step.startswith("Step list-products of product-fetch on demo-shop: p95 2.42 s over its max_duration "
                           "1.00 s; of its mean 1.30 s, 1.20 s is the database"), step  # fmt: skip
    assert "fix the slowest (index, fewer queries)" in step
    # Against the healthy hours before: the route and the journey got slower; product-fetch only degraded.
    assert _cell(report, "api", 0, "api/products/", "change") == "▲ +2419 %"
    products = next(j for j in report.data.journeys if j.workflow == "product-fetch")
    assert (products.success_ratio, products.previous_success_ratio) == (1.0, 1.0)
    assert products.p95 == pytest.approx(2.425) and products.previous_p95 == pytest.approx(0.4875)
    assert report.data.failure_groups == []


def test_n_plus_one_names_the_route_the_repeated_table_and_select_related(day: Day) -> None:
    report = _report(day, until_hour=12, hours=2)  # 10:00-12:00 against 08:00-10:00
    found = _found(report)
    assert sorted(found) == ["n_plus_one"], found
    [finding] = found["n_plus_one"]
    assert finding == (
        "GET api/products/ ran 48 queries per request at p95 (360 N+1 detections); the repeated statement loads "
        "`shop_category` per row | use select_related('category') (a foreign key) or prefetch_related('category') "
        "on the view's queryset"
    )
    lookup = next(s for s in report.data.statements if s.text == CATEGORY_LOOKUP)
    assert (lookup.calls, lookup.previous_calls) == (pytest.approx(7200), 0.0)
    route = next(r for r in report.data.routes if r.route == "api/products/")
    assert route.p95 == pytest.approx(0.09625) and route.previous_p95 == pytest.approx(0.09625)
    assert _cell(report, "api", 0, "api/products/", "change") == "="


def test_checkout_errors_names_the_journey_its_step_and_the_route(day: Day) -> None:
    report = _report(day, until_hour=16, hours=2)  # 14:00-16:00 against 12:00-14:00
    found = _found(report)
    assert sorted(found) == ["journey_regression", "route_errors"], found
    [journey] = found["journey_regression"]
    assert journey.startswith(
        "Journey checkout on demo-shop succeeded in 0.0% of 240 runs (previous period 100.0%), burning its error "
        "budget at 100.0x; most failures at step checkout (http_status, 240 runs: expected status <n>, got <n>)"
    ), journey
    [route] = found["route_errors"]
    assert route.startswith("POST api/checkout/ answered 5xx to 100.0% of 240 requests; mostly InjectedFault (240)")
    assert "search the Django log for error_class=InjectedFault" in route
    assert [f.severity for f in report.findings] == ["critical", "critical"]
    assert _cell(report, "journeys", 0, "checkout", "change") == "▲ -100.0 pt"
    assert _cell(report, "journeys", 0, "login", "change") == "="
    [group] = report.data.failure_groups
    assert (group.workflow, group.step, group.reason, group.count) == ("checkout", "checkout", "http_status", 240)
    assert len(group.examples) == 3


@pytest.mark.parametrize(
    "until_hour,hours",
    [(4, 2), (18, 2), (24, 6)],
    ids=["before-the-faults", "after-checkout-errors", "evening-against-the-faulty-afternoon"],
)
def test_healthy_hours_say_nothing(day: Day, until_hour: int, hours: int) -> None:
    report = _report(day, until_hour, hours)
    assert report.findings == [], _found(report)
    assert report.data.failure_groups == []
    assert {s.key: s.status for s in report.sections} == {"journeys": "ok", "steps": "ok", "api": "ok",
        "database": "ok", "checks": "missing", "suggestions": "ok"}  # fmt: skip
    assert {j.workflow: j.success_ratio for j in report.data.journeys} == dict.fromkeys(
        ["cart", "checkout", "login", "product-fetch"], 1.0
    )
    if until_hour == 18:  # the recovery, compared with the faulty hours before it
        assert _cell(report, "journeys", 0, "checkout", "change") == "▼ +100.0 pt"
        assert next(r for r in report.data.routes if r.route == "api/checkout/").error_ratio == 0.0


def test_the_whole_day_names_every_offender_worst_first(day: Day) -> None:
    report = _report(day, until_hour=24, hours=24)
    found = _found(report)
    offenders = {rule: [t.split(" | ")[0] for t in texts] for rule, texts in found.items()}
    assert sorted(offenders) == [
        "journey_regression", "n_plus_one", "route_errors", "slow_route", "slow_statement", "step_over_budget"
    ], found  # fmt: skip
    assert [t.split(" succeeded")[0] for t in offenders["journey_regression"]] == ["Journey checkout on demo-shop"]
    assert "most failures at step checkout" in offenders["journey_regression"][0]
    assert [t.split(" answered")[0] for t in offenders["route_errors"]] == ["POST api/checkout/"]
    assert [t.split(" answered")[0] for t in offenders["slow_route"]] == ["GET api/products/"]
    assert [t.split(" ran")[0] for t in offenders["n_plus_one"]] == ["GET api/products/"]
    assert "select_related('category')" in found["n_plus_one"][0]
    assert [t.split(" (shop)")[0] for t in offenders["slow_statement"]] == [f"Statement `{SLEEP}`"]
    assert [t.split(" of ")[0] for t in offenders["step_over_budget"]] == ["Step list-products"]
    # What to change first: the 5xx (critical), then by what fixing it removes.
    assert report.findings[0].rule == "route_errors" and report.findings[0].severity == "critical"
    checkout = next(j for j in report.data.journeys if j.workflow == "checkout")
    assert checkout.runs == pytest.approx(DAY * RUN_RATE, rel=0.01) and checkout.failures == pytest.approx(
        240, rel=0.01
    )
    assert checkout.previous_success_ratio is None  # nothing the day before: "new", not a drop
    html = render(report, "html")
    assert html.count('src="data:image/png;base64,') == 6
    assert "select_related(&#39;category&#39;)" in html and "SLEEP" in html
