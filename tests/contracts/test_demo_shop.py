"""The shipped contract sweep (synthetic/workflows/demo_shop.yml) against the real demo shop under gunicorn, on
SQLite and MariaDB: no false alarm when healthy and nothing written; each fault the journeys miss fails exactly
its check on exactly its operations, and the next sweep after it is switched off passes."""

from __future__ import annotations

import pytest

from synthetic.config import Config
from synthetic.contracts.config import CHECK_NAMES
from synthetic.contracts.negative import NegativeData
from synthetic.contracts.sweep import SweepResult, run_sweep
from tests.harness import ShopServer

from .conftest import prepare_probe_user, snapshot


def sweep(config: Config, negative: NegativeData) -> SweepResult:
    return run_sweep(config.targets["demo-shop"], config.workflows, negative=negative)


def failed(result: SweepResult) -> set[tuple[str, str]]:
    return {(r.operation, r.check) for r in result.results if r.status in ("failed", "error")}


def test_a_healthy_shop_passes_every_check_and_keeps_its_data(
    demo_config: Config, healthy: ShopServer, negative: NegativeData
) -> None:
    prepare_probe_user(healthy)
    before = snapshot(healthy)
    result = sweep(demo_config, negative)
    after = snapshot(healthy)
    assert result.error is None and result.notes == []
    assert failed(result) == set(), [(r.operation, r.check, r.message) for r in result.failures]
    assert result.success
    # No false alarm because nothing ran: every check kind judged operations, and the ones the faults need.
    passed = {(r.operation, r.check) for r in result.results if r.status == "passed"}
    assert {check for _, check in passed} == set(CHECK_NAMES)
    assert {("GET /api/products/{id}/", "response_schema_conformance"), ("POST /api/products/", "ignored_auth"),
            ("POST /api/products/", "invalid_payload_rejected"), ("POST /api/cart/items/", "ignored_auth"),
            ("GET /api/products/", "cors_preflight")} <= passed  # fmt: skip
    assert result.operations == 17 and 0 < result.requests <= result.budget
    # Created, changed and deleted nothing: every table's row count, and every row of the shop's own tables.
    assert after == before


@pytest.mark.parametrize(
    ("fault", "check", "operations", "message"),
    [
        ("schema_drift", "response_schema_conformance", {"GET /api/products/{id}/"},
         "the 200 body does not match its schema: price: 4.99 is not of type 'string'"),
        ("open_write", "ignored_auth", {"POST /api/products/"},
         "answered 400 without credentials; it validated the body instead of refusing the caller"),
        ("cors_wildcard", "cors_preflight", None,  # every operation: the fault answers every /api/ origin
         "is answered with any origin allowed (Access-Control-Allow-Origin *) together with credentials"),
    ],
)  # fmt: skip
def test_each_fault_fails_its_check_and_recovers(
    demo_config: Config,
    healthy: ShopServer,
    negative: NegativeData,
    fault: str,
    check: str,
    operations: set[str] | None,
    message: str,
) -> None:
    prepare_probe_user(healthy)
    before = snapshot(healthy)
    healthy.set_faults(**{fault: True})
    result = sweep(demo_config, negative)
    expected = operations or {r.operation for r in result.results if r.check == check}
    assert len(expected) == (len(operations) if operations else 17)
    assert failed(result) == {(operation, check) for operation in expected}
    assert result.error is None and not result.success
    for verdict in result.failures:
        assert message in verdict.message
        assert verdict.example is not None and verdict.example.status is not None
        assert verdict.example.correlation_id and verdict.example.curl.startswith("curl ")
        assert "Bearer" not in verdict.example.curl or "[REDACTED]" in verdict.example.curl
    if fault == "schema_drift":
        example = result.failures[0].example
        assert example is not None and example.schema_error == "price: 4.99 is not of type 'string'"
    # Even with the fault on, the sweep wrote nothing: no product was created through the open write.
    assert snapshot(healthy) == before
    healthy.set_faults(**{fault: False})
    recovered = sweep(demo_config, negative)
    assert recovered.success, [(r.operation, r.check, r.message) for r in recovered.failures]


def test_a_setup_workflow_is_judged_on_its_status_only(
    demo_config: Config, healthy: ShopServer, negative: NegativeData
) -> None:
    """n_plus_one fails product-fetch's query budget on the step that extracts product_id: the journey fails,
    the sweep still gets its value and checks everything (nothing about the contract changed)."""
    healthy.set_faults(n_plus_one=True)
    result = sweep(demo_config, negative)
    assert result.error is None and result.notes == []
    assert result.success, [(r.operation, r.check, r.message) for r in result.failures]
