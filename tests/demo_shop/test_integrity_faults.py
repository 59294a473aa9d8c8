"""The database faults of the demo shop on SQLite and MariaDB, served by gunicorn with the integrity refresher on
(every second): a healthy shop reports nothing; each fault is reported by its own check with the app, model or
relation named, on /metrics and by ``integrity_check --fail-on warning`` (exit 1); each recovers when switched off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import requests

from demo_shop.faults import FAULTS
from tests.conftest import database_url
from tests.harness import ShopServer, start_shop, wait_until


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    backend: str = request.param
    workdir = tmp_path_factory.mktemp(f"integrity-shop-{backend}")
    server = start_shop(workdir, database_url(request, backend, workdir), {"INTEGRITY_REFRESH_SECONDS": "1"})
    server.env["BACKEND"] = backend
    yield server
    server.stop()


def metrics(shop: ShopServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for line in requests.get(f"{shop.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(("django_integrity_", "django_db_connection")) and "{" in line:
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit("} ", 1)
            pairs = frozenset(tuple(pair.split("=", 1)) for pair in labels.split('",') if pair)
            found[(name, frozenset((k, v.strip('"')) for k, v in pairs))] = float(value)
    return found


def gauge(shop: ShopServer, name: str, **labels: str) -> float | None:
    for (family, found), value in metrics(shop).items():
        if family == name and set(labels.items()) <= found:
            return value
    return None


def runs(shop: ShopServer) -> dict[str, float]:
    """When each check last ran, from /metrics."""
    return {
        dict(labels)["check"]: value
        for (name, labels), value in metrics(shop).items()
        if name == "django_integrity_check_last_run_timestamp_seconds"
    }


def after_next_runs(shop: ShopServer) -> None:
    """Wait until every check has run again after now (the refresher runs every second)."""
    before = runs(shop)
    wait_until(lambda: len(runs(shop)) == 4 and all(runs(shop)[c] > before.get(c, 0) for c in runs(shop)), 30,
               "every check ran again")  # fmt: skip


def integrity_check(shop: ShopServer, **env: str) -> tuple[int, list[dict[str, object]]]:
    """``python -m demo_shop integrity_check --fail-on warning --format json``: exit code and findings."""
    result = subprocess.run(
        [sys.executable, "-m", "demo_shop", "integrity_check", "--fail-on", "warning", "--format", "json"],
        env={**os.environ, **shop.env, **env}, cwd=shop.workdir, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(result.stdout)
    return result.returncode, [f for r in report["results"] for f in r["findings"]]


def switch(shop: ShopServer, name: str, on: bool) -> None:
    response = requests.put(f"{shop.url}/_demo/faults", json={name: on}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()[name] is on


@dataclass
class Fault:
    gauge: tuple[str, dict[str, str], float]
    finding: tuple[str, str, dict[str, str]]
    command_env: dict[str, str] = field(default_factory=dict)


ORDER_ITEM_PRODUCT = {"app_label": "shop", "model": "OrderItem", "relation": "product", "target": "shop.Product"}
DATABASE_FAULTS = {
    "unapplied_migration": Fault(
        ("django_integrity_unapplied_migrations", {"alias": "default", "app_label": "fault_migrations"}, 1),
        ("migrations", "unapplied_migration", {"app_label": "fault_migrations", "migration": "0001_release_marker"}),
    ),
    "schema_drift_db": Fault(
        ("django_integrity_schema_drift", {"alias": "default", "app_label": "shop", "model": "Product"}, 1),
        ("schema", "max_length_mismatch", {"app_label": "shop", "model": "Product", "column": "name"}),
    ),
    "fk_orphan": Fault(
        ("django_integrity_orphaned_rows", {"alias": "default", **ORDER_ITEM_PRODUCT}, 3),
        ("foreign_keys", "orphaned_rows", ORDER_ITEM_PRODUCT),
    ),
}  # fmt: skip


def test_every_fault_is_listed_off(shop: ShopServer) -> None:
    assert requests.get(f"{shop.url}/_demo/faults", timeout=10).json() == dict.fromkeys(FAULTS, False)


def test_a_healthy_shop_reports_nothing(shop: ShopServer) -> None:
    after_next_runs(shop)
    found = metrics(shop)
    findings = {labels: value for (name, labels), value in found.items() if name == "django_integrity_findings"}
    assert len(findings) == 12 and set(findings.values()) == {0.0}  # 4 checks x 3 levels
    successes = [value for (name, _), value in found.items() if name == "django_integrity_check_success"]
    assert successes == [1.0] * 4
    for family in ("unapplied_migrations", "schema_drift", "orphaned_rows", "missing_migrations"):
        values = [value for (name, _), value in found.items() if name == f"django_integrity_{family}"]
        assert values and set(values) == {0.0}, family
    assert integrity_check(shop) == (0, [])


@pytest.mark.parametrize("name", list(DATABASE_FAULTS))
def test_a_database_fault_is_reported_by_its_check_and_recovers(shop: ShopServer, name: str) -> None:
    fault = DATABASE_FAULTS[name]
    family, labels, value = fault.gauge
    switch(shop, name, True)
    try:
        wait_until(lambda: gauge(shop, family, **labels) == value, 30, f"{family} {labels} = {value}")
        check, kind, finding_labels = fault.finding
        code, findings = integrity_check(shop)
        assert code == 1
        assert [(f["check"], f["kind"], f["labels"]) for f in findings] == [(check, kind, finding_labels)]
        assert requests.get(f"{shop.url}/api/products/", timeout=10).status_code == 200  # the shop still serves
    finally:
        switch(shop, name, False)
    wait_until(lambda: gauge(shop, family, **labels) == 0, 30, f"{family} {labels} back to 0")
    assert integrity_check(shop) == (0, [])


def test_a_change_the_database_cannot_take_changes_nothing_and_harms_no_request(shop: ShopServer) -> None:
    """On SQLite, rebuilding shop_product checks every foreign key and fk_orphan's rows fail it: the whole PUT is
    refused up front (409, nothing switched), and every thread of the shop goes on answering. MariaDB takes it."""
    sqlite = shop.env["BACKEND"] == "sqlite"
    switch(shop, "fk_orphan", True)
    try:
        answer = requests.put(f"{shop.url}/_demo/faults", json={"schema_drift_db": True, "unapplied_migration": True},
                              timeout=30)  # fmt: skip
        state = requests.get(f"{shop.url}/_demo/faults", timeout=10).json()
        if sqlite:
            assert answer.status_code == 409 and "switch fk_orphan off first" in answer.json()["detail"]
            assert (state["schema_drift_db"], state["unapplied_migration"], state["fk_orphan"]) == (False, False, True)
        else:
            assert answer.status_code == 200 and state["schema_drift_db"] and state["unapplied_migration"]
        with ThreadPoolExecutor(8) as pool:  # more requests than the shop has threads, so each thread serves some
            statuses = Counter(pool.map(lambda _: requests.get(f"{shop.url}/api/products/", timeout=10).status_code,
                                        range(64)))  # fmt: skip
        assert statuses == {200: 64}
        both = requests.put(f"{shop.url}/_demo/faults", json={"fk_orphan": False, "schema_drift_db": True}, timeout=30)
        assert both.status_code == 200 and both.json()["schema_drift_db"] and not both.json()["fk_orphan"]
    finally:
        requests.put(f"{shop.url}/_demo/faults", timeout=30,
                     json={"fk_orphan": False, "schema_drift_db": False, "unapplied_migration": False})  # fmt: skip


def test_refused_connections_are_counted_and_reported(shop: ShopServer) -> None:
    refused = {"alias": "default", "error_class": "refused"}
    before = gauge(shop, "django_db_connection_errors_total", **refused) or 0
    switch(shop, "db_connection_errors", True)
    try:
        statuses = [requests.get(f"{shop.url}/api/products/3/", timeout=10).status_code for _ in range(20)]
        assert set(statuses) == {200, 500}, statuses  # intermittent: every second new connection is refused
        assert (gauge(shop, "django_db_connection_errors_total", **refused) or 0) - before >= statuses.count(500)
        wait_until(lambda: gauge(shop, "django_integrity_findings", check="connections", level="warning"), 30,
                   "the connections check reporting the errors")  # fmt: skip
        # Another process gets this fault from DEMO_FAULTS: it lives in the shop's process.
        code, findings = integrity_check(shop, DEMO_FAULTS="db_connection_errors")
        assert code == 1
        assert [(f["check"], f["kind"], f["level"], f["labels"]) for f in findings] == [
            ("connections", "connect_failed", "warning", {"error_class": "refused"})
        ]
    finally:
        switch(shop, "db_connection_errors", False)
    counted = gauge(shop, "django_db_connection_errors_total", **refused)
    assert [requests.get(f"{shop.url}/api/products/3/", timeout=10).status_code for _ in range(10)] == [200] * 10
    assert gauge(shop, "django_db_connection_errors_total", **refused) == counted
    after_next_runs(shop)
    time.sleep(1.5)  # one more run: the errors counted before this one have been reported
    after_next_runs(shop)
    assert gauge(shop, "django_integrity_findings", check="connections", level="warning") == 0
    assert integrity_check(shop) == (0, [])


def manage(shop: ShopServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo_shop", *args], env={**os.environ, **shop.env, **env}, cwd=shop.workdir,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_database_faults_switch_from_a_shell_too(shop: ShopServer) -> None:
    on = manage(shop, "demo_fault", "fk_orphan", "on")
    assert on.returncode == 0 and on.stdout.strip() == "fk_orphan: on", on.stderr
    assert requests.get(f"{shop.url}/_demo/faults", timeout=10).json()["fk_orphan"] is True  # the shop sees it
    assert manage(shop, "demo_fault", "fk_orphan", "off").stdout.strip() == "fk_orphan: off"
    assert requests.get(f"{shop.url}/_demo/faults", timeout=10).json()["fk_orphan"] is False


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["demo_fault", "slow_products", "on"], {},
         "slow_products lives in the shop's process: switch it with PUT /_demo/faults"),
        (["check"], {"DEMO_FAULTS": "fk_orphan"},
         "DEMO_FAULTS cannot switch fk_orphan: they live in the database; switch them at run time"),
        (["demo_fault", "fk_orphan", "on"], {"DEMO_FAULTS_ENABLED": "0"}, "faults are disabled"),
    ],
)  # fmt: skip
def test_what_cannot_be_switched_that_way_says_how(shop: ShopServer, args: list[str], env: dict[str, str],
                                                   message: str) -> None:  # fmt: skip
    result = manage(shop, *args, **env)
    assert result.returncode != 0 and message in result.stderr, result.stderr
