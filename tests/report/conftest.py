"""One real Prometheus serving every scenario of the report's tests, backfilled from hand-written series."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.report import PrometheusClient
from tests.harness.prometheus import Prometheus, start_prometheus

from .cases import CATEGORY_LOOKUP, RULE_CASES, SCAN, digest, route, runs, step
from .series import Counter, Gauge, Histogram, Scenario, backfill, openmetrics


def scenarios() -> dict[str, Scenario]:
    """Every scenario by name: each rule's ``<rule>:fires`` and ``<rule>:quiet``, ``empty``, ``full``."""
    found: dict[str, Scenario] = {}
    for rule, firing, quiet, _ in RULE_CASES:
        found[f"{rule}:fires"] = Scenario(f"{rule}:fires", firing)
        found[f"{rule}:quiet"] = Scenario(f"{rule}:quiet", quiet)
    found["empty"] = Scenario("empty", [])
    found["full"] = Scenario(
        "full",
        [
            *runs(0.0, 0.2),
            *step(1.8, 0.1, 1.5),
            *route(seconds=2.0, error_share=0.1, queries=33, repeated=1.0),
            *digest(CATEGORY_LOOKUP, 30, 0.0005, 1, 1, 0, before=0),
            *digest(SCAN, 2, 0.3, 20000, 1, 1),
            Gauge(
                "workflow_contract_check_success",
                {"target": "shop", "operation": "GET /api/cart/", "check": "not_a_server_error"},
                0,
            ),
        ],
    )
    return found


@pytest.fixture(scope="session")
def report_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, dict[str, Scenario]]]:
    """The Prometheus and the scenarios it holds (each with its ``end``)."""
    workdir: Path = tmp_path_factory.mktemp("report-prometheus")
    cases = scenarios()
    backfill(openmetrics(list(cases.values()), time.time()), workdir)
    prometheus = start_prometheus(workdir)
    try:
        yield prometheus, cases
    finally:
        prometheus.stop()


@pytest.fixture
def client(report_prometheus: tuple[Prometheus, dict[str, Scenario]]) -> PrometheusClient:
    """A fresh client (its query count starts at zero)."""
    return PrometheusClient(report_prometheus[0].url, timeout=20)


__all__ = ["Counter", "Histogram"]
