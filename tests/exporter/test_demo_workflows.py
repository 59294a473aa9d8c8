"""The shipped workflows against the real demo shop (SQLite and MariaDB): green when healthy, and each fault
fails or degrades them at the right step, with the right reason and run result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from synthetic.config import Config, load_config
from synthetic.runner import run_workflow
from tests.harness import ShopServer

WORKFLOWS = Path(__file__).resolve().parents[2] / "synthetic" / "workflows" / "demo_shop.yml"


@pytest.fixture
def config(shop: ShopServer, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("SHOP_URL", shop.url)
    monkeypatch.setenv("SHOP_DATABASE_URL", shop.env["DATABASE_URL"])
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", shop.env["DEMO_PROBE_PASSWORD"])
    return load_config(WORKFLOWS)


@pytest.fixture
def faults(shop: ShopServer) -> Iterator[ShopServer]:
    yield shop
    shop.set_faults(slow_products=False, checkout_errors=False, n_plus_one=False, schema_drift=False)


@pytest.mark.parametrize("workflow", ["login", "product-fetch", "cart", "checkout"])
def test_every_journey_passes_on_a_healthy_shop(config: Config, workflow: str) -> None:
    run = run_workflow(config.workflows[workflow], config.targets["demo-shop"])
    assert run.success, [(s.name, s.reason, s.message) for s in run.steps if not s.ok]
    assert run.result == "success", [(s.name, s.assertions) for s in run.steps if s.degraded]
    assert all(step.ok for step in run.steps if step.name != "clear-cart")
    http_steps = [step for step in run.steps if step.kind == "http"]
    assert all(step.server.app_seconds is not None and step.server.queries is not None for step in http_steps)


def test_checkout_proves_the_order_row_and_cleans_up(config: Config, shop: ShopServer) -> None:
    run = run_workflow(config.workflows["checkout"], config.targets["demo-shop"])
    steps = {step.name: step for step in run.steps}
    assert steps["order-row"].ok and steps["order-row"].kind == "sql"
    assert steps["cancel-order"].http_status == 204
    order_id = steps["checkout"].extracted["order_id"]
    assert order_id and steps["order-detail"].http_status == 200


@pytest.mark.parametrize(
    ("fault", "workflow", "step", "result", "reason", "message"),
    [
        # The shop sleeps 1.2 s (DEMO_SLOW_SECONDS) against the step's 1 s max_duration, well within the run's
        # 10 s timeout: over the budget, the journey goes on.
        ("slow_products", "product-fetch", "list-products", "degraded", None, "budget 1000 ms"),
        # Repeated queries break the step's server limit while the answer is right and in time: degraded too
        # (synthetic.steps._base), so the journey's SLO never pages for a cause.
        ("n_plus_one", "product-fetch", "list-products", "degraded", None, "server ran 12 queries"),
        ("schema_drift", "product-fetch", "product-detail", "failure", "schema", "price: 4.99 is not of type 'string'"),
        ("checkout_errors", "checkout", "checkout", "failure", "http_status", "status 500, expected 201"),
    ],
)
def test_each_fault_fails_or_degrades_the_right_step(
    config: Config,
    faults: ShopServer,
    fault: str,
    workflow: str,
    step: str,
    result: str,
    reason: str | None,
    message: str,
) -> None:
    faults.set_faults(**{fault: True})
    run = run_workflow(config.workflows[workflow], config.targets["demo-shop"])
    assert run.result == result, [(s.name, s.status, s.reason, s.message) for s in run.steps]
    teardown = ("cancel-order", "clear-cart")
    if result == "degraded":
        degraded = run.degraded_step
        assert degraded is not None and degraded.name == step and degraded.ok
        (budget,) = [check for check in degraded.assertions if not check.ok]
        assert budget.name == {"slow_products": "max_duration", "n_plus_one": "max_queries"}[fault]
        assert budget.severity == "warning" and message in budget.message
        later = run.steps[run.steps.index(degraded) + 1 :]
        assert later and all(s.ok and not s.degraded for s in later)  # the journey went on, within budget
        return
    failed = run.failed_step
    assert failed is not None and (failed.name, failed.reason) == (step, reason)
    assert message in failed.message
    later = run.steps[run.steps.index(failed) + 1 :]
    assert all(s.status == "skipped" or s.name in teardown for s in later)


def test_checkout_teardown_still_runs_after_the_failure(config: Config, faults: ShopServer) -> None:
    faults.set_faults(checkout_errors=True)
    run = run_workflow(config.workflows["checkout"], config.targets["demo-shop"])
    steps = {step.name: step for step in run.steps}
    assert steps["checkout"].reason == "http_status"
    assert steps["order-row"].status == "skipped"
    assert steps["cancel-order"].status == "skipped" and "order_id" in steps["cancel-order"].message
    assert steps["clear-cart"].ok and steps["clear-cart"].http_status == 200  # the item the failed run added
    faults.set_faults(checkout_errors=False)
    assert run_workflow(config.workflows["checkout"], config.targets["demo-shop"]).success


def test_a_stopped_shop_is_a_connect_failure(config: Config, tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.harness import free_port

    down = replace(config.targets["demo-shop"], base_url=f"http://127.0.0.1:{free_port()}")
    run = run_workflow(config.workflows["login"], down)
    assert (run.failed_step.name, run.reason) == ("csrf", "connect")  # type: ignore[union-attr]
    assert [s.status for s in run.steps[1:]] == ["skipped"] * (len(run.steps) - 1)
