"""The report against a real Prometheus that scraped the demo stack (the shop on MariaDB, the exporter running
the shipped workflows, mysqld_exporter with docker-compose.yml's flags, the shipped rules): a healthy period,
then slow_products, n_plus_one and checkout_errors switched on, then off again. The faulty period's report
names the slow statement and the route, the N+1 route with its select_related suggestion, the checkout failure
group and the journeys' drop against the healthy period; the healthy period after it has none of those."""

from __future__ import annotations

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

from exporter.report import PrometheusClient, Report, build_report, render
from exporter.report.cli import failure_source
from exporter.store import RunStore
from tests.bundle.conftest import compose_mysqld_exporter_flags
from tests.conftest import REPO_ROOT
from tests.harness import (
    ManagedProcess,
    MariaDB,
    ShopServer,
    free_port,
    start_mysqld_exporter,
    start_prometheus,
    start_shop,
    wait_until,
)

pytestmark = pytest.mark.e2e  # minutes long: `make e2e` (Makefile), not `make test`

PERIOD = 60.0  # seconds of each phase: healthy, faults on, healthy again
FAULTS = ("slow_products", "n_plus_one", "checkout_errors")


@dataclass
class Phases:
    prometheus_url: str
    shop: ShopServer
    store: Path
    readonly_dsn: str
    faults_on: float
    faults_off: float
    end: float


def _workflows(path: Path) -> Path:
    """The shipped workflows every 8 s (their timeouts cut to fit); the contract sweep keeps its own interval."""
    text = (REPO_ROOT / "synthetic" / "workflows" / "demo_shop.yml").read_text()
    text = re.sub(r"interval: 30s", "interval: 8s", text)
    text = re.sub(r"timeout: 10s", "timeout: 8s", text)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def phases(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phases]:
    workdir = tmp_path_factory.mktemp("report-demo-stack")
    with ExitStack() as cleanup:
        name = f"shop_{uuid.uuid4().hex[:8]}"
        shop = start_shop(workdir / "shop", mariadb.create_database(name, name, f"pw-{name}"))
        cleanup.callback(shop.stop)
        # The report's read-only user: SELECT on the shop and performance_schema, nothing else.
        mariadb.query("CREATE USER IF NOT EXISTS 'report_ro'@'127.0.0.1' IDENTIFIED BY 'ro-pw'")
        mariadb.query(f"GRANT SELECT ON `{name}`.* TO 'report_ro'@'127.0.0.1'")
        mariadb.query("GRANT SELECT ON performance_schema.* TO 'report_ro'@'127.0.0.1'")
        store = workdir / "store"
        port = free_port()
        exporter = ManagedProcess(
            "workflow-exporter",
            [sys.executable, "-m", "exporter", f"--config.file={_workflows(workdir / 'workflows.yml')}",
             f"--web.listen-address=127.0.0.1:{port}", f"--storage.path={store}"],
            workdir / "exporter.log",
            env={"SHOP_URL": shop.url, "SHOP_DATABASE_URL": shop.env["DATABASE_URL"],
                 "DEMO_PROBE_PASSWORD": shop.env["DEMO_PROBE_PASSWORD"]},
        )  # fmt: skip
        cleanup.callback(exporter.stop)
        exporter_url = f"http://127.0.0.1:{port}"
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
        for job in targets:
            prometheus.wait_for_target_up(job)
        wait_until(lambda: prometheus.query('workflow_runs_total{workflow="checkout"}'), 60, "checkout runs")
        time.sleep(PERIOD)
        faults_on = time.time()
        shop.set_faults(**dict.fromkeys(FAULTS, True))
        time.sleep(PERIOD)
        shop.set_faults(**dict.fromkeys(FAULTS, False))
        faults_off = time.time()
        time.sleep(PERIOD + 8)  # the runs under way when the faults went off end within their 8 s timeout
        end = time.time()
        time.sleep(3)  # the last scrape of the period lands
        yield Phases(prometheus.url, shop, store, f"mysql://report_ro:ro-pw@{mariadb.host}:{mariadb.port}/{name}",
                     faults_on, faults_off, end)  # fmt: skip


def _report(phases: Phases, until: float, since: float, explain: bool = False) -> Report:
    store = RunStore(phases.store)
    try:
        return build_report(PrometheusClient(phases.prometheus_url, timeout=20), since=since, until=until,
                            slo_window=since, failure_source=failure_source(store),
                            explain_dsn=phases.readonly_dsn if explain else None,
                            logs=[str(phases.shop.process.log_path)])  # fmt: skip
    finally:
        store.close()


def _named(report: Report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in report.findings:
        found.setdefault(f.rule, []).append(f"{f.title} | {f.action}")
    return found


def test_faulty_period_names_what_broke_and_what_to_change(phases: Phases, tmp_path: Path) -> None:
    report = _report(phases, until=phases.faults_off, since=phases.faults_off - phases.faults_on, explain=True)
    named = _named(report)
    text = "\n".join(f"{k}: {v}" for k, v in named.items())
    text += "\nnotes: " + "; ".join(n for s in report.sections for n in s.notes)
    assert any("SLEEP" in t for t in named.get("slow_statement", [])), text
    assert any("api/products/" in t for t in named.get("slow_route", [])), text
    assert any("api/products/" in t and "select_related('category')" in t for t in named.get("n_plus_one", [])), text
    assert any("checkout" in t for t in named.get("journey_regression", [])), text
    checkout = [g for g in report.data.failure_groups if g.workflow == "checkout"]
    assert checkout and checkout[0].count >= 1 and checkout[0].examples, report.data.failure_groups
    journey = next(j for j in report.data.journeys if j.workflow == "checkout")
    # The drop against the healthy period (on a loaded machine a login there may time out now and then).
    assert journey.previous_success_ratio is not None and journey.success_ratio is not None, journey
    assert journey.previous_success_ratio - journey.success_ratio >= 0.5, journey
    database = next(s for s in report.sections if s.key == "database")
    explained = [s for s in report.data.statements if s.explain]
    assert explained and all(s.text.startswith("SELECT") for s in explained), database.notes
    html = render(report, "html")
    assert "select_related(&#39;category&#39;)" in html
    (tmp_path / "faulty.md").write_text(render(report, "markdown", images=tmp_path, image_prefix="faulty"))


def test_healthy_period_after_has_none_of_those_findings(phases: Phases) -> None:
    report = _report(phases, until=phases.end, since=phases.end - phases.faults_off - 8)
    named = _named(report)
    assert not any("SLEEP" in t for t in named.get("slow_statement", [])), named
    assert "n_plus_one" not in named, named
    # No journey drops for what the faults broke (a login timing out on a loaded machine is not the faults').
    faults = ("at step checkout (http_status", "max_queries", "list-products")
    assert not [t for t in named.get("journey_regression", []) if any(f in t for f in faults)], named
    assert not any("api/products/" in t for t in named.get("slow_route", [])), named
    groups = [g for g in report.data.failure_groups if (g.step, g.reason) in (("checkout", "http_status"),
              ("list-products", "assertion"))]  # fmt: skip
    assert groups == [], groups
    assert {s.key: s.status for s in report.sections}["database"] == "ok"
