"""The fault matrix on a time-compressed copy of the shipped bundle (tests/loop/timescale.py): the database
faults (issue 12), the contract faults (issue 11) and the journey faults each raise their own alert, which reaches
the receiver its severity routes to once, names what broke, links to its runbook heading and resolves after the
fault; with no fault on, nothing fires. Every row runs with the shipped timings in `make loop` (test_loop.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import yaml

from demo_shop.faults import FAULTS
from tests.conftest import REPO_ROOT
from tests.harness import MariaDB, require_binary
from tests.loop import report
from tests.loop.matrix import (
    CONTRACT_FAULTS,
    DATABASE_FAULTS,
    EVERYTHING,
    HEALTHY,
    JOURNEY_FAULTS,
    MATRIX,
    STOREFRONT_FAULTS,
    Row,
    batches,
    interfere,
    notification_group,
    rows,
    selected,
    shipped_labels,
    storefront_faults,
)
from tests.loop.run import Result, Watch, healthy_window, run_batch, runbook_problem, wait_quiet, watching
from tests.loop.stack import ALERTMANAGER, RULES, start_loop_stack
from tests.loop.timescale import COMPRESSED

pytestmark = pytest.mark.mariadb

# Every row of the matrix, batched so that faults that do not interfere run side by side.
BATCHES = batches(rows(*DATABASE_FAULTS, *CONTRACT_FAULTS, *JOURNEY_FAULTS, *STOREFRONT_FAULTS))
# Seconds of compressed time: an alert waits at most a shipped `for: 15m` plus three journey and sweep
# intervals, and its resolution the longest window it reads (10m) plus a group_interval (5m).
FIRE_TIMEOUT = COMPRESSED.seconds(15 * 60) + 3 * COMPRESSED.work_interval(60) + 60
RESOLVE_TIMEOUT = COMPRESSED.seconds(15 * 60) + 3 * COMPRESSED.work_interval(60) + 60
HEALTHY_SECONDS = COMPRESSED.seconds(60 * 60)  # a shipped hour: longer than every `for:` of the shipped rules


def test_every_fault_of_the_demo_shop_and_its_storefront_has_a_row() -> None:
    assert sorted(storefront_faults()) == sorted(STOREFRONT_FAULTS) == ["render_error", "slow_bundle"]
    assert sorted(row.fault for row in MATRIX) == sorted([*FAULTS, *STOREFRONT_FAULTS])
    assert sorted((*DATABASE_FAULTS, *CONTRACT_FAULTS, *JOURNEY_FAULTS)) == sorted(FAULTS)
    assert {row.fault: row.owner for row in MATRIX} == {
        **dict.fromkeys(FAULTS, "shop"),
        **dict.fromkeys(STOREFRONT_FAULTS, "storefront"),
    }
    for row in MATRIX:
        assert row.receiver == {"critical": "pager", "warning": "tickets"}[row.severity], row.fault
        assert row.names and row.labels and row.why, row.fault


def test_every_expected_alert_exists_in_the_shipped_rules_with_its_runbook() -> None:
    shipped = {
        (rule["alert"], rule["labels"]["severity"]): rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    for row in MATRIX:
        rule = shipped[(row.alertname, row.severity)]
        assert runbook_problem(rule["annotations"]["runbook_url"]) is None, row.fault


def test_make_loop_runs_every_row_unless_told_otherwise() -> None:
    assert sorted(selected(None)) == sorted([*(row.fault for row in MATRIX), HEALTHY])
    assert selected("fk_orphan, healthy,") == ["fk_orphan", HEALTHY]


def test_faults_that_interfere_never_share_a_batch() -> None:
    every = batches(list(MATRIX))
    assert sorted(row.fault for batch in every for row in batch) == sorted([*FAULTS, *STOREFRONT_FAULTS])
    for batch in every:
        for i, row in enumerate(batch):
            assert not any(interfere(row, other) for other in batch[i + 1 :]), [r.fault for r in batch]
    # db_connection_errors breaks everything: it runs alone. open_write and cors_wildcard would share one
    # notification group (the security findings' incident): apart.
    alone = next(batch for batch in every if any(EVERYTHING in row.breaks for row in batch))
    assert [row.fault for row in alone] == ["db_connection_errors"]
    assert not any({"open_write", "cors_wildcard"} <= {row.fault for row in batch} for batch in every)


def test_the_routing_walk_sends_each_row_where_amtool_does() -> None:
    """notification_group (which batches the rows) reads the shipped routing as Alertmanager does: each row's
    alert ends at the receiver its severity routes to, which amtool confirms on the same labels."""
    amtool = require_binary("amtool")
    for row in MATRIX:
        labels = shipped_labels(row)
        receiver, _ = notification_group(labels)
        assert receiver == row.receiver, row.fault
        result = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", f"--verify.receivers={receiver}",
             *(f"{name}={value}" for name, value in labels.items())],
            capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, (row.fault, result.stdout + result.stderr)


def test_both_detectors_of_an_open_write_page_as_one_incident() -> None:
    """The contract sweep's ignored_auth and the Django API inventory see the open_write hole under different
    labels; the shipped routing puts both in one pager group, so the pager gets one incident, not two."""
    open_write = next(row for row in MATRIX if row.fault == "open_write")
    contract = notification_group(shipped_labels(open_write))
    inventory = Row("open_write", "JourneyApiWriteWithoutAuthentication", "critical", "pager",
                    {"job": "demo-shop", "route": "api/products/", "method": "POST"}, ())  # fmt: skip
    assert notification_group(shipped_labels(inventory)) == contract
    assert contract[0] == "pager"
    # ...while a page of another kind stays an incident of its own.
    checkout = next(row for row in MATRIX if row.fault == "checkout_errors")
    assert notification_group(shipped_labels(checkout)) != contract


_BURN = {"alertname": "JourneyErrorBudgetBurn", "severity": "critical", "short": "5m"}


@pytest.mark.parametrize(
    ("labels", "joins"),
    [
        ({**_BURN, "workflow": "storefront-buy", "target": "storefront", "long": "5m"}, True),
        ({**_BURN, "workflow": "product-fetch", "target": "demo-shop", "long": "6h"}, True),
        ({"alertname": "JourneyApiErrorRatioHigh", "severity": "critical", "job": "demo-shop",
          "route": "api/checkout/"}, True),
        ({"alertname": "JourneyMigrationUnapplied", "severity": "critical", "app_label": "shop",
          "alias": "default"}, False),
        ({"alertname": "JourneyContractSecurityCheckFailing", "severity": "critical", "category": "security",
          "check": "ignored_auth", "operation": "POST /api/products/"}, False),
        ({**_BURN, "severity": "warning", "workflow": "storefront-buy", "target": "storefront", "long": "3d"}, False),
    ],
)  # fmt: skip
def test_the_users_symptoms_page_as_one_incident(labels: dict[str, str], joins: bool) -> None:
    """A broken route fails every journey through it (checkout_errors: checkout and the storefront's buy): the
    journeys' burn-rate pages and the route's error-ratio page share checkout's pager group, so the pager gets one
    incident that each alert joins; other pages, and the 3d tier's ticket, stay groups of their own."""
    checkout = notification_group(shipped_labels(next(row for row in MATRIX if row.fault == "checkout_errors")))
    assert checkout[0] == "pager"
    assert (notification_group(labels) == checkout) is joins


def test_the_documented_expectations_are_the_matrix() -> None:
    doc = REPO_ROOT / "docs" / "loop.md"
    assert report.with_expectations(doc.read_text()) == doc.read_text(), (
        "docs/loop.md's expectations table drifted from tests/loop/matrix.py: regenerate it with "
        "tests.loop.report.with_expectations"
    )


@pytest.fixture(scope="module")
def watch(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watch]:
    """The compressed stack, watched from its start; the first test waits for it to go quiet."""
    with ExitStack() as cleanup:
        stack = start_loop_stack(tmp_path_factory.mktemp("loop"), mariadb, COMPRESSED, cleanup)
        with watching(stack) as watch:
            yield watch


def assert_row(result: Result) -> None:
    assert result.passed, f"{result.fault}: " + "; ".join(result.problems)


def test_healthy_nothing_fires(watch: Watch) -> None:
    still = wait_quiet(watch, FIRE_TIMEOUT)
    assert not still, f"alerts still active after the stack started: {still}"
    result = healthy_window(watch, HEALTHY_SECONDS)
    print(report.line(result, "compressed"))
    assert_row(result)


def test_the_journeys_traffic_is_all_synthetic(watch: Watch) -> None:
    """The stack has no users: every request the shop counted on the routes only the journeys call was marked
    synthetic, so the users' error ratio (JourneyApiErrorRatioHigh) never judges a probe. Every channel: the http
    journeys' requests, the storefront's pages rendered for the browser journey (the product list's server-side
    call forwards the document's marker with its ID) and the API calls its pages make from the browser (marked by
    the browser step for each call's own ID, through CORS)."""

    def counted(metric: str) -> dict[str, float]:
        samples = watch.stack.prometheus.query(f'sum by (route) ({metric}{{job="demo-shop"}})')
        return {sample["metric"]["route"]: float(sample["value"][1]) for sample in samples}

    # Both from the one scrape: Prometheus evaluates the two queries against the same latest samples.
    every, synthetic = counted("django_request_duration_seconds_count"), counted("django_synthetic_requests_total")
    for route in ("api/checkout/", "api/cart/items/", "api/cart/", "api/orders/", "api/auth/token/", "api/products/"):
        assert every.get(route, 0) > 0, f"no request to {route}: {sorted(every)}"
    users = {route: every[route] - synthetic.get(route, 0.0) for route in every}
    # The stack's own: the harness' readiness check of the shop and the first request that starts its refresher.
    own = {"api/auth/csrf/": 1.0, "api/products/": 1.0}
    # The pages' log beacons to client-logs go by navigator.sendBeacon, which carries no header (the Beacon API);
    # what they report feeds the frontend's own metrics and alerts, never the API's users' error ratio.
    unmarked = {route: n for route, n in users.items() if n > own.get(route, 0.0) and route != "client-logs"}
    assert not unmarked, f"requests not marked synthetic, by route: {unmarked}"


@pytest.mark.parametrize("batch", BATCHES, ids=["+".join(row.fault for row in batch) for batch in BATCHES])
def test_fault_raises_its_alert_once_and_resolves(watch: Watch, batch: list[Row]) -> None:
    results = run_batch(watch, batch, FIRE_TIMEOUT, RESOLVE_TIMEOUT)
    for result in results:
        print(report.line(result, "compressed"))  # seconds for the record (pytest -s), never asserted
    problems = [f"{r.fault}: {'; '.join(r.problems)}" for r in results if not r.passed]
    assert not problems, "\n".join(problems)
