"""``/probe``: blackbox_exporter's contract for one workflow run, the scrape timeout, the result cache."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import requests

from exporter.app import probe_timeout
from tests.exporter.conftest import simple_config
from tests.harness import require_binary


def metric(text: str, name: str) -> float:
    (value,) = re.findall(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(value)


def test_a_successful_probe(serve_exporter, target) -> None:
    running = serve_exporter(simple_config(target.url))
    response = requests.get(f"{running.url}/probe", params={"target": "local", "workflow": "probe-ok"}, timeout=10)
    assert response.status_code == 200
    body = response.text
    assert metric(body, "probe_success") == 1
    assert metric(body, 'probe_workflow_step_success{step="get"}') == 1
    assert metric(body, 'probe_workflow_step_status_code{step="get"}') == 200
    assert metric(body, "probe_http_status_code") == 200
    assert metric(body, "probe_timeout_seconds") == 1.0  # the workflow's timeout: no scrape header
    assert "probe_failure_info{" not in body.split("# TYPE probe_failure_info gauge")[1].split("# HELP")[0]
    assert "workflow_runs_total" not in body  # /probe returns only its own fresh registry


def test_probe_honours_the_scrape_timeout_header(serve_exporter, target) -> None:
    running = serve_exporter(simple_config(target.url, path="/hang", interval="1m", timeout="30s"))
    started = time.monotonic()
    response = requests.get(
        f"{running.url}/probe",
        params={"target": "local", "workflow": "probe-ok"},
        headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"},
        timeout=20,
    )
    elapsed = time.monotonic() - started
    body = response.text
    assert metric(body, "probe_timeout_seconds") == 1.5  # 2 s minus the 0.5 s offset
    assert metric(body, "probe_success") == 0
    assert metric(body, 'probe_failure_info{reason="timeout",step="get"}') == 1
    assert elapsed < 10, "the probe did not stop at its deadline"


@pytest.mark.parametrize(
    ("header", "offset", "workflow_timeout", "expected"),
    [(None, 0.5, 10.0, 10.0), ("5", 0.5, 10.0, 4.5), ("30", 0.5, 10.0, 10.0), ("junk", 0.5, 3.0, 3.0),
     ("0.2", 0.5, 10.0, 0.1)],
)  # fmt: skip
def test_probe_timeout_rules(header: str | None, offset: float, workflow_timeout: float, expected: float) -> None:
    assert probe_timeout(header, offset, workflow_timeout) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"target": "nope", "workflow": "probe-ok"}, "unknown target 'nope'; configured: local"),
        ({"target": "local", "workflow": "nope"}, "unknown workflow 'nope'; configured: probe-ok"),
        ({}, "unknown target ''; configured: local"),
        ({"target": "http://evil.example/", "workflow": "probe-ok"}, "unknown target 'http://evil.example/'"),
    ],
)
def test_only_configured_names_are_probed(serve_exporter, target, params, message) -> None:
    running = serve_exporter(simple_config(target.url))
    response = requests.get(f"{running.url}/probe", params=params, timeout=10)
    assert response.status_code == 400
    assert message in response.text
    assert target.hits == {}


def test_min_interval_serves_the_cached_result(serve_exporter, target) -> None:
    running = serve_exporter(simple_config(target.url, min_interval="1m"))
    params = {"target": "local", "workflow": "probe-ok"}
    first = requests.get(f"{running.url}/probe", params=params, timeout=10).text
    second = requests.get(f"{running.url}/probe", params=params, timeout=10).text
    assert metric(first, "probe_workflow_cached") == 0
    assert metric(second, "probe_workflow_cached") == 1
    assert metric(second, "probe_success") == 1
    assert target.hits == {"/ok": 1}


def test_debug_shows_the_waterfall_and_the_metrics(serve_exporter, target) -> None:
    running = serve_exporter(simple_config(target.url, path="/fail"))
    body = requests.get(
        f"{running.url}/probe", params={"target": "local", "workflow": "probe-ok", "debug": "true"}, timeout=10
    ).text
    assert "workflow probe-ok on local: FAILURE" in body
    assert "failed step get: http_status: status: status 500, expected 200" in body
    assert "reproduce: curl -sS -X GET" in body
    assert "Metrics that would have been returned:" in body and "probe_success 0.0" in body


def test_promtool_accepts_probe_and_metrics_output(serve_exporter, target) -> None:
    promtool = require_binary("promtool")
    running = serve_exporter(simple_config(target.url, path="/fail"))
    workflow, local = running.exporter.config.pairs()[0]
    running.exporter.run_scheduled(workflow, local)  # fill the workflow_* families
    outputs = [
        requests.get(f"{running.url}/probe", params={"target": "local", "workflow": "probe-ok"}, timeout=10).text,
        requests.get(f"{running.url}/metrics", timeout=10).text,
    ]
    assert "workflow_step_failures_total{" in outputs[1]
    for text in outputs:
        result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_probes_of_one_pair_overlap_only_without_min_interval(serve_exporter, target) -> None:
    """Without min_interval two scrapes of one pair run side by side; with it, the second waits for the first
    and gets its result (two Prometheus replicas must not run a write workflow twice)."""
    import threading

    from tests.harness import wait_until

    params = {"target": "local", "workflow": "probe-ok"}
    for min_interval, in_flight in (("0s", 2), ("1m", 1)):
        target.hits.clear()
        target.release.clear()
        running = serve_exporter(simple_config(target.url, path="/hang", interval="1m", timeout="20s",
                                               min_interval=min_interval))  # fmt: skip
        bodies: list[str] = []

        def scrape(url: str = running.url, into: list[str] = bodies) -> None:
            into.append(requests.get(f"{url}/probe", params=params, timeout=30).text)

        callers = [threading.Thread(target=scrape) for _ in range(2)]
        for caller in callers:
            caller.start()
        wait_until(lambda: target.hits.get("/hang", 0) >= 1, 10, "the first probe at the target")
        if in_flight == 2:
            wait_until(lambda: target.hits.get("/hang", 0) == 2, 10, "both probes at the target at once")
        else:
            time.sleep(0.5)  # give a wrongly unserialised second probe the time to arrive
            assert target.hits.get("/hang", 0) == 1
        target.release.set()
        for caller in callers:
            caller.join(30)
        assert len(bodies) == 2
        if in_flight == 1:
            assert sorted(metric(body, "probe_workflow_cached") for body in bodies) == [0.0, 1.0]
