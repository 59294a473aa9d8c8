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
    wait_until,
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
        # A page silences tickets, or a cause's ticket the symptom's ticket of the same route; nothing silences a page.
        assert 'severity="warning"' in rule["target_matchers"]
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


# (source alert's labels, target alert's labels, whether the shipped inhibition rules silence the target)
_PAGE = {"severity": "critical", "alertname": "JourneyErrorBudgetBurn", "workflow": "checkout", "target": "shop"}
_SLOW = {"severity": "warning", "alertname": "JourneySlowQueries", "job": "shop", "route": "api/products/"}
_LATENCY = {"severity": "warning", "alertname": "JourneyApiLatencyHigh", "job": "shop", "route": "api/products/"}
INHIBITIONS = [
    # a journey's page silences its tickets, not another journey's
    (_PAGE, _PAGE | {"severity": "warning", "alertname": "JourneyWorkflowFailing", "step": "pay"}, True),
    (_PAGE, _PAGE | {"severity": "warning", "alertname": "JourneyWorkflowFailing", "workflow": "cart"}, False),
    # a route's page silences the route's tickets
    (
        {"severity": "critical", "alertname": "JourneyApiErrorRatioHigh", "job": "shop", "route": "api/checkout/"},
        {"severity": "warning", "alertname": "JourneyApiErrorClassSpike", "job": "shop", "route": "api/checkout/"},
        True,
    ),
    # a security page on a route (an open write) silences none of the route's other tickets
    (
        {
            "severity": "critical",
            "alertname": "JourneyApiWriteWithoutAuthentication",
            "category": "security",
            "job": "shop",
            "route": "api/products/",
            "method": "POST",
        },
        _SLOW,
        False,
    ),
    # the slow-statement ticket (the cause) silences the latency ticket of the same route (the symptom)...
    (_SLOW, _LATENCY, True),
    (_SLOW, _LATENCY | {"route": "api/orders/"}, False),
    (_SLOW, _LATENCY | {"job": "other-shop"}, False),
    # ...never the other way round
    (_LATENCY, _SLOW, False),
    # a ticket never silences a page; alerts without the labels silence nothing
    (_SLOW, _LATENCY | {"severity": "critical"}, False),
    ({"severity": "critical", "alertname": "JourneyMySQLDown"}, {"severity": "warning", "alertname": "X"}, False),
]


def _apart(labels: dict[str, str], row: int) -> dict[str, str]:
    return {k: f"{v}-{row}" if k in ("job", "target") else v for k, v in labels.items()} | {"row": str(row)}


def test_the_shipped_inhibitions_on_a_real_alertmanager(tmp_path: Path) -> None:
    """Every row's source and target alert go to an Alertmanager running the shipped config; Alertmanager's own
    verdict (``status.inhibitedBy`` of /api/v2/alerts) must be the row's, once the expected inhibitions show."""
    alertmanager = start_alertmanager(tmp_path / "am", config_path=CONFIG)
    try:
        targets = []
        for index, (source, target, _) in enumerate(INHIBITIONS):
            # Each row's alerts apart from the others': its own job and target (the labels inhibitions compare).
            alerts = [{"labels": _apart(source, index)}, {"labels": _apart(target, index) | {"instance": "target"}}]
            requests.post(f"{alertmanager.url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()
            targets.append(alerts[1]["labels"])

        def verdicts() -> list[bool | None]:
            found = {a["labels"]["row"]: a for a in requests.get(f"{alertmanager.url}/api/v2/alerts", timeout=5).json()
                     if a["labels"].get("instance") == "target"}  # fmt: skip
            return [bool(found[str(i)]["status"]["inhibitedBy"]) if str(i) in found else None
                    for i in range(len(INHIBITIONS))]  # fmt: skip

        expected = [inhibited for _, _, inhibited in INHIBITIONS]
        wait_until(
            lambda: (
                all(v is not None for v in verdicts())
                and all(got for got, want in zip(verdicts(), expected, strict=True) if want)
            ),
            15,
            "the expected inhibitions",
        )
        assert verdicts() == expected
    finally:
        alertmanager.stop()
