"""The shipped browser journey (synthetic/workflows/storefront.yml) on the demo storefront: it passes on the
healthy demo, fails at the right step with the right reason for each fault (the shop's and the storefront's own),
keeps its screenshot, and its API calls are the shop's log lines and, in the run's trace, requests nested under the
step that made them; the exporter runs it on its schedule. An origin the shop does not trust gets nothing through."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from exporter.trace import TraceConfig, TraceEvent, TraceSources, collect
from synthetic.config import Config, load_config
from synthetic.result import RunResult
from synthetic.runner import run_workflow
from synthetic.steps import browser as browser_steps
from tests.conftest import REPO_ROOT
from tests.frontend.conftest import BROWSER_USER, SLOW_SECONDS, Stack, start_stack
from tests.harness import ManagedProcess, free_port, wait_until
from tests.harness.shop import PROBE_PASSWORD
from tests.harness.storefront import start_storefront

pytestmark = pytest.mark.e2e  # minutes long: `make e2e` (Makefile), not `make test`

JOURNEY = REPO_ROOT / "synthetic" / "workflows" / "storefront.yml"


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(request, "sqlite", tmp_path_factory.mktemp("journey"))


@pytest.fixture
def journey(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("STOREFRONT_URL", stack.storefront.url)
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", PROBE_PASSWORD)
    monkeypatch.setenv("DEMO_BROWSER_USER", BROWSER_USER)
    return load_config(str(JOURNEY))


@pytest.fixture(autouse=True)
def screenshots(tmp_path: Path) -> Path:
    browser_steps.configure(screenshot_dir=tmp_path / "screenshots")
    return tmp_path / "screenshots"


def run(config: Config) -> RunResult:
    ((workflow, target),) = config.pairs()
    return run_workflow(workflow, target)


def describe(run: RunResult) -> str:
    return "\n".join(f"{s.name}: {s.status} {s.reason or ''} {s.duration:.2f}s {s.message}" for s in run.steps)


def shop_state(stack: Stack) -> tuple[list[Any], list[Any]]:
    """The browser user's cart items and orders, as the shop has them."""
    token = requests.post(f"{stack.shop.url}/api/auth/token/", json={"username": BROWSER_USER,
                          "password": PROBE_PASSWORD}, timeout=10).json()["access"]  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    cart = requests.get(f"{stack.shop.url}/api/cart/", headers=auth, timeout=10).json()["items"]
    orders = requests.get(f"{stack.shop.url}/api/orders/", headers=auth, timeout=10).json()
    return cart, orders if isinstance(orders, list) else orders["results"]


def answered(request: TraceEvent, call: dict[str, Any]) -> bool:
    """Whether the trace's request line is the one the shop wrote for this call of the page (method, status, and
    the Django route the call's path resolves to: ``api/cart/items/<int:item_id>/`` for ``/api/cart/items/7/``)."""
    path = urlsplit(call["url"]).path.lstrip("/")
    route = re.sub(r"<[^>]+>", "[^/]+", re.escape(str(request.fields.get("route"))))
    return (request.fields.get("method"), request.fields.get("status")) == (call["method"], call["status"]) and bool(
        re.fullmatch(route, path)
    )


def test_the_journey_loads_as_shipped(journey: Config) -> None:
    steps = journey.workflows["storefront-buy"].steps
    assert [s.name for s in steps] == ["sign-in", "products", "product", "cart", "checkout", "orders",
                                       "cancel-order", "empty-cart"]  # fmt: skip
    assert {s.kind for s in steps} == {"browser"}
    assert [s.name for s in steps if s.always_run] == ["cancel-order", "empty-cart"]


def test_the_journey_passes_on_the_healthy_demo_and_cleans_up(stack: Stack, journey: Config) -> None:
    result = run(journey)
    # Passed: every step ok (a step over its budget on a busy machine would make it degraded, still a pass).
    assert result.success and all(step.status == "ok" for step in result.steps), describe(result)
    checkout = next(s for s in result.steps if s.name == "checkout")
    order_id = checkout.extracted["order_id"]
    assert re.fullmatch(r"\d+", order_id)
    # Its API calls, each with its own ID, are the shop's log lines: the run's trace reaches the SQL.
    assert checkout.browser is not None
    (placed,) = [c for c in checkout.browser["calls"] if c["url"].endswith("/api/checkout/")]
    assert (placed["method"], placed["status"]) == ("POST", 201)
    assert placed["request_id"] == placed["sent_request_id"]
    (line,) = stack.log_lines(placed["request_id"], logger="django_integration.request")
    assert (line["route"], line["status"]) == ("api/checkout/", 201)
    calls = [c for s in result.steps for c in (s.browser or {}).get("calls", []) if c["url"].startswith(stack.shop.url)]
    assert len(calls) >= 8
    logged = {line.get("correlation_id") for line in stack.shop.log_lines()}
    missing = [c for c in calls if c["request_id"] not in logged]
    assert not missing, missing
    # The server-rendered product list was asked with the run's ID.
    assert stack.log_lines(result.correlation_id, route="api/products/")
    # The run's trace (what /trace/<id> shows): the steps in order, the shop's request line of every API call the
    # pages made (found by the call's own ID; the server-rendered pages' calls carry the run's ID), each nested under
    # the step that made it.
    sources = TraceSources(runs={result.correlation_id: result}.get,
                           config=TraceConfig(logs=(str(stack.shop.process.log_path),)))  # fmt: skip
    trace = collect(result.correlation_id, sources)
    assert not [problem for report in trace.reports for problem in report.problems], trace.reports
    steps = {event.fields["step"]: event for event in trace.events if event.kind == "step"}
    assert list(steps) == [s.name for s in result.steps]
    in_trace = [event for _, event in trace.walk() if event.kind == "request"]
    for step in result.steps:
        nested = [child for child in steps[step.name].children if child.kind == "request"]
        for call in [c for c in (step.browser or {}).get("calls", []) if c["url"].startswith(stack.shop.url)]:
            assert any(answered(request, call) for request in in_trace), (step.name, call)
            assert any(answered(request, call) for request in nested), (step.name, call, [r.title for r in nested])
    (order,) = [child for child in steps["checkout"].children if child.fields.get("route") == "api/checkout/"]
    assert order.title == "POST api/checkout/ 201" and order.fields["db_queries"] >= 1
    assert any(child.fields.get("route") == "api/products/" for child in steps["products"].children)  # server render
    # Vitals per step; no screenshot on success; teardown left nothing behind.
    products = next(s for s in result.steps if s.name == "products")
    assert products.browser is not None and products.browser["vitals"]["fcp"] > 0
    assert all("screenshot" not in (s.browser or {}) for s in result.steps)
    assert shop_state(stack) == ([], [])


# (whose fault, fault, the step, run result, reason, in the message)
FAULTS = [
    ("shop", "checkout_errors", "checkout", "failure", "http_status", "/api/checkout/ answered 500 (X-Request-ID "),
    ("shop", "slow_products", "products", "degraded", None, "max_duration"),
    ("storefront", "render_error", "product", "failure", "page_error", "storefront fault render_error"),
    ("storefront", "slow_bundle", "products", "degraded", None, "max_duration"),
]


@pytest.mark.parametrize(("owner", "fault", "step", "outcome", "reason", "says"), FAULTS, ids=[f[1] for f in FAULTS])
def test_each_fault_fails_the_right_step_with_the_right_reason(
    stack: Stack, journey: Config, screenshots: Path, owner: str, fault: str, step: str, outcome: str,
    reason: str | None, says: str,
) -> None:  # fmt: skip
    switch = stack.shop.set_faults if owner == "shop" else stack.storefront.set_faults
    switch(**{fault: True})
    try:
        result = run(journey)
    finally:
        switch(**{fault: False})
    assert result.success is (outcome == "degraded"), describe(result)
    if outcome == "failure":
        failed = result.failed_step
        assert failed is not None and (failed.name, failed.reason) == (step, reason), describe(result)
        assert says in failed.message
        assert failed.browser is not None
        shot = failed.browser["screenshot"]
        assert shot["kept"] and Path(shot["path"]).parent == screenshots and Path(shot["path"]).stat().st_size > 1000
        later = [
            s.status
            for s in result.steps[result.steps.index(failed) + 1 :]
            if not s.name.startswith(("cancel", "empty"))
        ]
        assert set(later) <= {"skipped"}
    else:
        assert result.result == "degraded", describe(result)
        (degraded,) = [s for s in result.steps if s.name == step]
        assert degraded.status == "ok" and degraded.degraded, describe(result)
        (budget,) = [c for c in degraded.assertions if c.name == says]
        assert not budget.ok
        assert degraded.duration >= SLOW_SECONDS  # the fault's delay is in this step, not elsewhere
    if fault == "checkout_errors":
        failed = result.failed_step
        assert failed is not None and failed.browser is not None
        (call,) = [c for c in failed.browser["calls"] if c["url"].endswith("/api/checkout/")]
        assert call["request_id"] in failed.message
        assert stack.log_lines(call["request_id"], logger="django_integration.request")[0]["status"] == 500
    if fault == "render_error":
        failed = result.failed_step
        assert failed is not None and failed.browser is not None and failed.browser["page_errors"]
    assert shop_state(stack) == ([], []), "the teardown left an order or a cart item behind"


def test_an_untrusted_origin_gets_nothing_through(stack: Stack, tmp_path: Path, page: Any) -> None:
    refused = stack.metric("django_frontend_beacons_refused_total", reason="origin")
    frontend_lines = len([line for line in stack.shop.log_lines() if line.get("layer") == "frontend"])
    other = start_storefront(tmp_path / "untrusted", stack.shop.url)  # an origin the shop's CORS does not list
    try:
        page.goto(f"{other.url}/login")
        page.fill("#username", BROWSER_USER)
        page.fill("#password", PROBE_PASSWORD)
        with page.expect_event("requestfailed", predicate=lambda r: r.url.endswith("/api/auth/token/")):
            page.click("[data-testid=sign-in]")
        page.wait_for_selector("[data-testid=login-error]")
        page.goto("about:blank")  # the beacon goes, and is refused
        wait_until(lambda: stack.metric("django_frontend_beacons_refused_total", reason="origin") > refused, 15,
                   "the untrusted beacon refused")  # fmt: skip
    finally:
        other.stop()
    assert len([line for line in stack.shop.log_lines() if line.get("layer") == "frontend"]) == frontend_lines


def test_the_exporter_runs_the_journey_on_its_schedule(stack: Stack, tmp_path: Path) -> None:
    config = tmp_path / "storefront.yml"
    config.write_text(
        JOURNEY.read_text().replace("interval: 60s", "interval: 15s").replace("timeout: 40s", "timeout: 15s")
    )
    port = free_port()
    exporter = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-m", "exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.path={tmp_path / 'store'}"],
        tmp_path / "exporter.log",
        env={"STOREFRONT_URL": stack.storefront.url, "DEMO_PROBE_PASSWORD": PROBE_PASSWORD,
             "DEMO_BROWSER_USER": BROWSER_USER},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        exporter.wait_ready(lambda: requests.get(f"{url}/-/healthy", timeout=1).ok)

        def sample(pattern: str) -> float:
            text = requests.get(f"{url}/metrics", timeout=5).text
            return sum(float(match.group(1)) for match in re.finditer(pattern + r" (\S+)", text, re.M))

        # A pass: success, or degraded when a step went over its budget on a busy machine.
        success = r'^workflow_runs_total\{result="(?:success|degraded)",target="storefront",workflow="storefront-buy"\}'
        wait_until(lambda: sample(success) >= 1, 90, "a scheduled successful run")
        failures = (r'^workflow_step_failures_total\{reason="http_status",step="checkout",target="storefront",'
                    r'workflow="storefront-buy"\}')  # fmt: skip
        stack.shop.set_faults(checkout_errors=True)
        try:
            wait_until(lambda: sample(failures) >= 1, 90, "a scheduled run failing at checkout")
        finally:
            stack.shop.set_faults(checkout_errors=False)
        assert sample(r'^workflow_last_run_success\{target="storefront",workflow="storefront-buy"\}') in (0.0, 1.0)
        # The failed run's screenshot is kept beside the run store.
        shots = wait_until(lambda: list((tmp_path / "store" / "screenshots").glob("*checkout*.jpg")), 10, "screenshot")
        assert shots[0].stat().st_size > 1000
    finally:
        exporter.stop()
