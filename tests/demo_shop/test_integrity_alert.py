"""End to end: the demo shop's fk_orphan fault, found by the integrity refresher, fires the shipped
JourneyOrphanedRows in a real Prometheus, and the shipped Alertmanager config delivers it, relation named, to the
tickets webhook."""

from __future__ import annotations

from pathlib import Path

import requests
import yaml

from tests.conftest import REPO_ROOT
from tests.harness import WebhookReceiver, start_alertmanager, start_prometheus, start_shop


def shipped_alertmanager_config(webhook_url: str, path: Path) -> Path:
    """The shipped routing with every receiver pointed at the test's webhook, and test-speed grouping."""
    config = yaml.safe_load((REPO_ROOT / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook_url}?receiver={receiver['name']}"
    config["route"].update(group_wait="0s", group_interval="1s")
    path.write_text(yaml.safe_dump(config))
    return path


def shipped_database_rules(path: Path) -> Path:
    """rules/database.rules.yml with `for:` shortened, so the test waits seconds, not minutes."""
    rules = yaml.safe_load((REPO_ROOT / "rules" / "database.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "1s"
    path.write_text(yaml.safe_dump(rules))
    return path


def test_orphaned_rows_reach_the_ticket_webhook(tmp_path: Path) -> None:
    shop = start_shop(tmp_path / "shop", f"sqlite:///{tmp_path / 'shop.sqlite3'}", {"INTEGRITY_REFRESH_SECONDS": "1"})
    webhook = WebhookReceiver.start()
    alertmanager = prometheus = None
    try:
        alertmanager = start_alertmanager(
            tmp_path / "am", config_path=shipped_alertmanager_config(webhook.url, tmp_path / "alertmanager.yml")
        )
        prometheus = start_prometheus(
            tmp_path / "prom",
            [{"job_name": "demo-shop", "static_configs": [{"targets": [shop.url.removeprefix("http://")]}]}],
            rule_files=[shipped_database_rules(tmp_path / "database.rules.yml")],
            alertmanager_urls=[alertmanager.url],
        )
        requests.get(f"{shop.url}/api/products/", timeout=10)  # the first request starts the refresher
        prometheus.wait_for_series('django_integrity_orphaned_rows{relation="product"} == 0', timeout=60)
        shop.set_faults(fk_orphan=True)

        payload = webhook.wait_for_alert("JourneyOrphanedRows", timeout=90)
        assert payload["version"] == "4" and payload["status"] == "firing" and payload["receiver"] == "tickets"
        (alert,) = [a for a in payload["alerts"] if a["labels"]["alertname"] == "JourneyOrphanedRows"]
        assert alert["labels"] == {
            "alertname": "JourneyOrphanedRows", "severity": "warning", "job": "demo-shop", "alias": "default",
            "app_label": "shop", "model": "OrderItem", "relation": "product", "target": "shop.Product",
        }  # fmt: skip
        assert alert["annotations"]["description"].startswith(
            "3 rows of shop.OrderItem in database default of demo-shop point through product at a missing "
            "shop.Product row."
        )
        assert alert["annotations"]["runbook_url"].endswith("docs/runbooks/database.md#journeyorphanedrows")
        # No other integrity alert fired for this fault.
        fired = {a["labels"]["alertname"] for p in webhook.payloads for a in p["alerts"]}
        assert fired == {"JourneyOrphanedRows"}, fired
    finally:
        shop.set_faults(fk_orphan=False)
        for component in (prometheus, alertmanager):
            if component is not None:
                component.stop()
        webhook.stop()
        shop.stop()
