"""The whole loop on real components, at a given timescale: what the fault matrix runs against.

The demo shop on MariaDB (integrity refresher on, faults switchable), the Next.js storefront in front of it (its
faults switchable; Node.js 20.9+), the exporter running the shipped journeys and contract sweeps
(synthetic/workflows/demo_shop.yml) and the storefront's browser journey (synthetic/workflows/storefront.yml, in
Chromium), mysqld_exporter with docker-compose.yml's flags,
Prometheus with the shipped rules and scrape/evaluation intervals (deploy/prometheus/prometheus.yml) under the
job names the rules select on, and Alertmanager with the shipped routing, each receiver pointed at one webhook
receiver (``?receiver=<name>`` tells them apart). At ``timescale.SHIPPED`` every file is used as shipped; at
``timescale.COMPRESSED`` each is the generated compressed copy.
"""

from __future__ import annotations

import sys
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.bundle.conftest import compose_mysqld_exporter_flags
from tests.conftest import REPO_ROOT
from tests.frontend.conftest import BROWSER_USER, chromium
from tests.harness import (
    Alertmanager,
    ManagedProcess,
    MariaDB,
    Prometheus,
    ShopServer,
    WebhookReceiver,
    free_port,
    start_alertmanager,
    start_mysqld_exporter,
    start_prometheus,
    start_shop,
)
from tests.harness.shop import PROBE_PASSWORD
from tests.harness.storefront import StorefrontServer, start_storefront

from .timescale import Timescale

RULES = sorted((REPO_ROOT / "rules").glob("*.rules.yml"))
ALERTMANAGER = REPO_ROOT / "alertmanager" / "alertmanager.yml"
PROMETHEUS = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
WORKFLOWS = REPO_ROOT / "synthetic" / "workflows" / "demo_shop.yml"
BROWSER_JOURNEY = REPO_ROOT / "synthetic" / "workflows" / "storefront.yml"
STOREFRONT_SOURCE = REPO_ROOT / "demo_shop" / "storefront" / "lib" / "server.ts"  # its FAULTS
# The shop's own defaults (demo_shop/settings.py) for what the timescale divides.
INTEGRITY_REFRESH_SECONDS = 30.0
LOGIN_RATE = "60/min"
SLOW_SECONDS = "1.2"  # DEMO_SLOW_SECONDS as the shop ships it (the harness' default is 1.1)


@dataclass
class LoopStack:
    """The running stack; ``webhook`` records every notification the shipped routing sends."""

    shop: ShopServer
    storefront: StorefrontServer
    exporter_url: str
    prometheus: Prometheus
    alertmanager: Alertmanager
    webhook: WebhookReceiver
    timescale: Timescale


def write_rules(timescale: Timescale, directory: Path) -> list[Path]:
    """The shipped rules files, at ``timescale``, written to ``directory``; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for shipped in RULES:
        path = directory / shipped.name
        path.write_text(yaml.safe_dump(timescale.rules(yaml.safe_load(shipped.read_text())), sort_keys=False))
        paths.append(path)
    return paths


def alertmanager_config(timescale: Timescale, webhook_url: str) -> dict[str, Any]:
    """The shipped routing at ``timescale``, every receiver's webhooks pointed at ``webhook_url?receiver=NAME``."""
    config = timescale.alertmanager(yaml.safe_load(ALERTMANAGER.read_text()))
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook_url}?receiver={receiver['name']}"
    return config


def exporter_config(timescale: Timescale) -> dict[str, Any]:
    """synthetic/workflows/demo_shop.yml with the storefront's browser journey (as make demo runs them), at
    ``timescale``."""
    config = yaml.safe_load(WORKFLOWS.read_text())
    journey = yaml.safe_load(BROWSER_JOURNEY.read_text())
    config["targets"].update(journey["targets"])
    config["workflows"].update(journey["workflows"])
    return timescale.workflows(config)


def prometheus_intervals(timescale: Timescale) -> dict[str, str]:
    """The scrape and evaluation interval of deploy/prometheus/prometheus.yml, at ``timescale``."""
    shipped = yaml.safe_load(PROMETHEUS.read_text())["global"]
    return {key: timescale.duration(shipped[key]) for key in ("scrape_interval", "evaluation_interval")}


def shop_environment(timescale: Timescale) -> dict[str, str]:
    """The demo shop's settings the timescale divides, and its fault latency as shipped. Compressed, the shop hashes
    passwords with Django's fast hasher: five journeys and a sweep log in within the same seconds every 15 s, and
    a compressed 10-minute p95 holds one or two runs, so one login that waited behind the others' PBKDF2 (some
    0.25 s of CPU each) would fire a budget alert on its own; with the shipped timings the shop hashes as shipped."""
    env = {
        "INTEGRITY_REFRESH_SECONDS": f"{timescale.work_interval(INTEGRITY_REFRESH_SECONDS):g}",
        "DEMO_LOGIN_RATE": timescale.rate(LOGIN_RATE),
        "DEMO_SLOW_SECONDS": SLOW_SECONDS,
    }
    if timescale.factor != 1:
        env["DEMO_PASSWORD_HASHER"] = "md5"
    return env


def start_loop_stack(workdir: Path, mariadb: MariaDB, timescale: Timescale, cleanup: ExitStack) -> LoopStack:
    """Start every component at ``timescale``; ``cleanup`` stops them. Returns once Prometheus scrapes all three
    jobs and the first integrity checks and contract sweep have reported."""
    name = f"loop_{uuid.uuid4().hex[:8]}"
    chromium()  # the browser journey's; missing, the stack fails here rather than every run
    storefront_port = free_port()
    shop_env = {**shop_environment(timescale), "CORS_ALLOWED_ORIGINS": f"http://127.0.0.1:{storefront_port}"}
    shop = start_shop(workdir / "shop", mariadb.create_database(name, name, f"pw-{name}"), shop_env)
    cleanup.callback(shop.stop)
    shop.add_user(BROWSER_USER, PROBE_PASSWORD)  # the browser journey buys as its own user
    storefront = start_storefront(workdir / "storefront", shop.url, port=storefront_port)
    cleanup.callback(storefront.stop)
    webhook = WebhookReceiver.start()
    cleanup.callback(webhook.stop)

    config_path = workdir / "workflows.yml"
    config_path.write_text(yaml.safe_dump(exporter_config(timescale), sort_keys=False))
    port = free_port()
    exporter = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-m", "exporter", f"--config.file={config_path}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.path={workdir / 'runs'}"],
        workdir / "exporter.log",
        env={"SHOP_URL": shop.url, "SHOP_DATABASE_URL": shop.env["DATABASE_URL"],
             "DEMO_PROBE_PASSWORD": shop.env["DEMO_PROBE_PASSWORD"], "STOREFRONT_URL": storefront.url,
             "DEMO_BROWSER_USER": BROWSER_USER},
    )  # fmt: skip
    cleanup.callback(exporter.stop)
    exporter_url = f"http://127.0.0.1:{port}"
    exporter.wait_ready(lambda: requests.get(f"{exporter_url}/-/healthy", timeout=1).ok)

    mysqld = start_mysqld_exporter(workdir / "mysqld-exporter", mariadb, compose_mysqld_exporter_flags())
    cleanup.callback(mysqld.stop)
    am_config = workdir / "alertmanager.yml"
    am_config.write_text(yaml.safe_dump(alertmanager_config(timescale, webhook.url), sort_keys=False))
    alertmanager = start_alertmanager(workdir / "alertmanager", config_path=am_config)
    cleanup.callback(alertmanager.stop)
    targets = {"demo-shop": shop.url, "workflow-exporter": exporter_url, "mysql": mysqld.url}
    prometheus = start_prometheus(
        workdir / "prometheus",
        [{"job_name": job, "static_configs": [{"targets": [url.removeprefix("http://")]}]}
         for job, url in targets.items()],
        rule_files=write_rules(timescale, workdir / "rules"),
        alertmanager_urls=[alertmanager.url],
        **prometheus_intervals(timescale),
    )  # fmt: skip
    cleanup.callback(prometheus.stop)
    for job in targets:
        prometheus.wait_for_target_up(job, timeout=120)
    requests.get(f"{shop.url}/api/products/", timeout=10)  # the first request starts the integrity refresher
    first = 3 * max(timescale.work_interval(60), timescale.work_interval(INTEGRITY_REFRESH_SECONDS)) + 60
    prometheus.wait_for_series("django_integrity_check_last_complete_timestamp_seconds", timeout=first)
    prometheus.wait_for_series('workflow_contract_sweep_success{target="demo-shop"} == 1', timeout=first)
    return LoopStack(shop, storefront, exporter_url, prometheus, alertmanager, webhook, timescale)
