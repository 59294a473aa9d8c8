"""The example Alertmanager config: valid, routes by severity, inhibits sensibly, and delivers a shipped
alert that a real Prometheus fired to a webhook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import REPO_ROOT
from tests.harness import (
    ManagedProcess,
    WebhookReceiver,
    free_port,
    require_binary,
    start_alertmanager,
    start_prometheus,
)
from tests.harness.http_target import Target

CONFIG = REPO_ROOT / "alertmanager" / "alertmanager.yml"


def test_amtool_accepts_the_config() -> None:
    amtool = require_binary("amtool")
    result = subprocess.run([amtool, "check-config", str(CONFIG)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=JourneyErrorBudgetBurn", "workflow=checkout"], "pager"),
        (["severity=critical", "alertname=JourneyMySQLDown"], "pager"),
        (["severity=warning", "alertname=JourneyWorkflowFailing", "workflow=checkout"], "tickets"),
        (["severity=warning", "alertname=JourneyApiLatencyHigh", "route=api/products/"], "tickets"),
        (["severity=info", "alertname=JourneyAnything"], "null"),
        (["alertname=SomethingWithoutSeverity"], "null"),
    ],
)
def test_routing_table(labels: list[str], receiver: str) -> None:
    amtool = require_binary("amtool")
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={receiver}", *labels],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_grouping_and_inhibition_rules() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["route"]["group_by"] == ["alertname", "workflow", "target", "route"]
    for rule in config["inhibit_rules"]:
        assert 'severity="critical"' in rule["source_matchers"] and 'severity="warning"' in rule["target_matchers"]
        # Every equal label must be required on both sides, or alerts lacking it would inhibit each other.
        for label in set(rule["equal"]) - {"job", "target"}:
            assert f'{label}=~".+"' in rule["source_matchers"] and f'{label}=~".+"' in rule["target_matchers"]


def _shipped_config_for_test(webhook_url: str, path: Path) -> Path:
    """The shipped config with its receivers pointed at the test's webhook and test-speed timings."""
    config = yaml.safe_load(CONFIG.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook_url}?receiver={receiver['name']}"
    config["route"].update(group_wait="0s", group_interval="1s")
    path.write_text(yaml.safe_dump(config))
    return path


def _shipped_rules_for_test(path: Path) -> Path:
    """The shipped workflow rules, with `for:` shortened so the test does not wait minutes."""
    rules = yaml.safe_load((REPO_ROOT / "rules" / "workflows.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "1s"
    path.write_text(yaml.safe_dump(rules))
    return path


def test_a_failing_journey_reaches_the_ticket_webhook(tmp_path: Path, target: Target) -> None:
    """The exporter runs a journey that fails; Prometheus fires JourneyWorkflowFailing from the shipped rules;
    the shipped Alertmanager config routes it (warning) to the tickets receiver."""
    config = tmp_path / "workflows.yml"
    config.write_text(
        f"""
targets:
  shop: {{base_url: "{target.url}"}}
workflows:
  checkout:
    targets: [shop]
    interval: 1s
    timeout: 1s
    steps:
      - {{name: pay, http: {{path: /fail}}, expect: {{status: 201}}}}
"""
    )
    port = free_port()
    exporter = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-m", "exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        tmp_path / "exporter.log",
    )
    webhook = WebhookReceiver.start()
    alertmanager = prometheus = None
    try:
        exporter.wait_ready(lambda: requests.get(f"http://127.0.0.1:{port}/-/healthy", timeout=1).ok)
        alertmanager = start_alertmanager(tmp_path / "am", config_path=_shipped_config_for_test(
            webhook.url, tmp_path / "alertmanager.yml"))  # fmt: skip
        prometheus = start_prometheus(
            tmp_path / "prom",
            [{"job_name": "workflow-exporter", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
            rule_files=[_shipped_rules_for_test(tmp_path / "workflows.rules.yml")],
            alertmanager_urls=[alertmanager.url],
        )
        payload = webhook.wait_for_alert("JourneyWorkflowFailing", timeout=60)
        assert payload["version"] == "4" and payload["status"] == "firing"
        assert payload["receiver"] == "tickets"
        alert = next(a for a in payload["alerts"] if a["labels"]["alertname"] == "JourneyWorkflowFailing")
        assert alert["labels"] | {"instance": "", "job": ""} == {
            "alertname": "JourneyWorkflowFailing", "severity": "warning", "workflow": "checkout", "target": "shop",
            "step": "pay", "reason": "http_status", "instance": "", "job": "",
        }  # fmt: skip
        assert alert["annotations"]["description"].startswith(
            "Workflow checkout on shop fails at step pay (reason: http_status)."
        )
        assert alert["annotations"]["runbook_url"].endswith("docs/runbooks/workflows.md#journeyworkflowfailing")
    finally:
        for component in (prometheus, alertmanager):
            if component is not None:
                component.stop()
        exporter.stop()
        webhook.stop()
