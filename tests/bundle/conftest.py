"""The demo stack with real data, for proving every rule expression and dashboard query returns series.

MariaDB, the demo shop on it, the exporter running the shipped workflows (fast intervals), mysqld_exporter
with the flags of docker-compose.yml, and Prometheus with the shipped rules scraping all three under the
job names the rules and dashboards expect. Faults are switched on for a few seconds each, so the counters
that only exist after an event (N+1, slow queries, errors, step failures) have series too.
"""

from __future__ import annotations

import functools
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.harness import (
    ManagedProcess,
    MariaDB,
    MysqldExporter,
    Prometheus,
    ShopServer,
    free_port,
    start_mysqld_exporter,
    start_prometheus,
    start_shop,
    wait_until,
)
from tests.harness.scripts import load_script
from tests.steps.timed import TimedServer, certificate, server_context

JOBS = ("demo-shop", "workflow-exporter", "mysql")


def compose_mysqld_exporter_flags() -> list[str]:
    """The collector flags docker-compose.yml gives mysqld_exporter (connection flags stay ours), read as make demo
    reads them (scripts/demo_database.py)."""
    flags: list[str] = load_script("demo_database").mysqld_exporter_flags()
    return flags


@dataclass
class DemoStack:
    prometheus: Prometheus
    shop: ShopServer
    mysqld_exporter: MysqldExporter
    exporter_url: str


def _fast_workflows(path: Path, tls_url: str, ca_file: Path) -> Path:
    """The shipped workflows every 2 s, plus a one-step workflow on an HTTPS target (the demo shop serves plain
    HTTP), so the certificate expiry and its alert have real data."""
    text = (REPO_ROOT / "synthetic" / "workflows" / "demo_shop.yml").read_text()
    text = re.sub(r"interval: 30s", "interval: 2s", text)
    text = re.sub(r"timeout: 10s", "timeout: 2s", text)
    text = text.replace("\ntargets:\n", f"\ntargets:\n  tls-endpoint:\n    base_url: {tls_url}\n"
                        f"    tls: {{ca_file: '{ca_file}'}}\n", 1)  # fmt: skip
    text += ("\n  tls-check:\n    targets: [tls-endpoint]\n    interval: 2s\n    timeout: 2s\n    steps:\n"
             "      - name: home\n        http: {path: '/timed?bytes=1'}\n")  # fmt: skip
    # The frontend map's families (rules/frontend.rules.yml): the test storefront against the live shop's document.
    storefront = REPO_ROOT / "tests" / "frontend_map" / "fixtures" / "storefront"
    text += f"frontend:\n  source: '{storefront}'\n  openapi: ${{env:SHOP_URL}}/api/schema/?format=json\n"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def demo_stack(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    workdir = tmp_path_factory.mktemp("demo-stack")
    with ExitStack() as cleanup:
        name = f"shop_{uuid.uuid4().hex[:8]}"
        shop = start_shop(workdir / "shop", mariadb.create_database(name, name, f"pw-{name}"))
        cleanup.callback(shop.stop)
        cert = certificate(workdir, "tls-endpoint", days=90)
        tls_endpoint = TimedServer(server_context(cert)).start()
        cleanup.callback(tls_endpoint.stop)
        exporter_port = free_port()
        exporter = ManagedProcess(
            "workflow-exporter",
            [sys.executable, "-m", "exporter",
             f"--config.file={_fast_workflows(workdir / 'workflows.yml', tls_endpoint.url, cert.cert)}",
             f"--web.listen-address=127.0.0.1:{exporter_port}"],
            workdir / "exporter.log",
            env={"SHOP_URL": shop.url, "SHOP_DATABASE_URL": shop.env["DATABASE_URL"],
                 "DEMO_PROBE_PASSWORD": shop.env["DEMO_PROBE_PASSWORD"]},
        )  # fmt: skip
        cleanup.callback(exporter.stop)
        exporter_url = f"http://127.0.0.1:{exporter_port}"
        exporter.wait_ready(lambda: requests.get(f"{exporter_url}/-/healthy", timeout=1).ok)
        mysqld = start_mysqld_exporter(workdir / "mysqld-exporter", mariadb, compose_mysqld_exporter_flags())
        cleanup.callback(mysqld.stop)
        targets = {"demo-shop": shop.url, "workflow-exporter": exporter_url, "mysql": mysqld.url}
        prometheus = start_prometheus(
            workdir / "prometheus",
            [{"job_name": job, "static_configs": [{"targets": [url.removeprefix("http://")]}]}
             for job, url in targets.items()],
            rule_files=sorted((REPO_ROOT / "rules").glob("*.rules.yml")),
        )  # fmt: skip
        cleanup.callback(prometheus.stop)
        for job in JOBS:
            prometheus.wait_for_target_up(job)
        _make_events(shop, prometheus)
        # Let every rate() see a few samples after the events (the N+1 came first: its window spans them all).
        seen_n_plus_one = "sum(increase(django_db_repeated_queries_total[10m])) > 0"
        wait_until(lambda: prometheus.query(seen_n_plus_one), 60, "N+1 in Prometheus")
        time.sleep(5)
        yield DemoStack(prometheus=prometheus, shop=shop, mysqld_exporter=mysqld, exporter_url=exporter_url)


# What each fault leaves on the shop's /metrics once a journey (every 2 s) has met it: the fault stays on a few
# seconds and until that counter grew, however slow the machine. schema_drift changes only answers' shapes.
EVIDENCE = {
    "n_plus_one": re.compile(r"^django_db_repeated_queries_total\{[^}]*\} ([0-9.e+]+)$", re.M),
    "slow_products": re.compile(r"^django_db_slow_queries_total\{[^}]*\} ([0-9.e+]+)$", re.M),
    "checkout_errors": re.compile(r'^django_request_errors_total\{[^}]*error_class="server"[^}]*\} ([0-9.e+]+)$', re.M),
}


# The same counters as Prometheus selects them.
EVIDENCE_FAMILY = {
    "n_plus_one": "django_db_repeated_queries_total",
    "slow_products": "django_db_slow_queries_total",
    "checkout_errors": 'django_request_errors_total{error_class="server"}',
}


def _evidence(shop: ShopServer, fault: str) -> float:
    text = requests.get(f"{shop.url}/metrics", timeout=10).text
    return sum(float(value) for value in EVIDENCE[fault].findall(text))


def _make_events(shop: ShopServer, prometheus: Prometheus) -> None:
    """Each fault until a journey met it (its counter grew on the shop's /metrics) and Prometheus measured the rise
    (``increase()`` over its samples: a counter born during the fault whose increments all fell between two scrapes
    shows none), while the exporter's workflows run every 2 s; and the storefront's beacons (a page error, Web
    Vitals of two routes) posted to /client-logs as its pages post them."""
    for fault in ("n_plus_one", "slow_products", "checkout_errors", "schema_drift"):
        before = _evidence(shop, fault) if fault in EVIDENCE else 0.0
        shop.set_faults(**{fault: True})
        _post_beacons(shop)
        time.sleep(4)  # several scrapes see the counter rise, so increase() and rate() have something to measure
        if fault in EVIDENCE:
            wait_until(functools.partial(_grew, shop, fault, before), 90, f"{fault} counted")
            in_prometheus = f"sum(increase({EVIDENCE_FAMILY[fault]}[10m])) > 0"
            wait_until(functools.partial(prometheus.query, in_prometheus), 90, f"{fault} in Prometheus")
        shop.set_faults(**{fault: False})


def _grew(shop: ShopServer, fault: str, before: float) -> bool:
    return _evidence(shop, fault) > before


def _post_beacons(shop: ShopServer) -> None:
    def vital(name: str, value: float, route: str) -> dict[str, object]:
        return {"level": "info", "kind": "vital", "message": f"{name} {value}", "route": route,
                "vital": {"name": name, "value": value}}  # fmt: skip

    events = [vital(name, value, route) for route in ("/products", "/products/[id]")
              for name, value in (("LCP", 3100), ("INP", 260), ("FCP", 900), ("TTFB", 300), ("CLS", 0.12))]  # fmt: skip
    events.append({"level": "error", "kind": "error", "message": "TypeError: x is undefined", "route": "/checkout",
                   "correlation_id": uuid.uuid4().hex})  # fmt: skip
    events.append(vital("TTFB", 200, "/checkout"))
    requests.post(f"{shop.url}/client-logs", json={"events": events}, timeout=10).raise_for_status()
    requests.get(f"{shop.url}/no/such/page/", timeout=10)
