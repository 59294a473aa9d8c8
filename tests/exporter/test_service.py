"""The exporter as a service: scheduled metrics with exemplars, reload, health, pages, the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.exporter.conftest import simple_config
from tests.harness import ManagedProcess, free_port, start_prometheus, wait_until

OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def test_scheduled_runs_feed_the_workflow_families(serve_exporter, target) -> None:
    # a 1 s timeout: a run that succeeds must not fail because a loaded machine paused a thread for 100 ms
    running = serve_exporter(simple_config(target.url, interval="1s", timeout="1s"), schedule=True)
    labels = {"workflow": "probe-ok", "target": "local"}
    sample = running.registry.get_sample_value
    wait_until(lambda: (sample("workflow_runs_total", {**labels, "result": "success"}) or 0) >= 3, 15, "3 runs")
    assert sample("workflow_runs_total", {**labels, "result": "failure"}) == 0
    assert sample("workflow_last_run_success", labels) == 1
    assert abs(sample("workflow_last_run_timestamp_seconds", labels) - time.time()) < 10
    assert sample("workflow_step_latency_budget_seconds", {**labels, "step": "get"}) == 0.8
    assert sample("workflow_step_duration_seconds_count", {**labels, "step": "get"}) >= 3
    metrics = requests.get(f"{running.url}/metrics", headers=OPENMETRICS, timeout=5).text
    exemplar_ids = {
        line.split('correlation_id="')[1].split('"')[0] for line in metrics.splitlines()
        if line.startswith("workflow_runs_total{") and "correlation_id" in line
    }  # fmt: skip
    assert exemplar_ids <= {run.correlation_id for run in running.exporter.history.recent()}
    assert exemplar_ids, "no exemplar on workflow_runs_total"


def test_health_and_pages_escape_everything(serve_exporter, target) -> None:
    config = (
        simple_config(target.url)
        .replace(
            "circuit_breaker:", "credentials: {api: {username: u, password: hunter2-secret}}\n    circuit_breaker:"
        )
        .replace('http: {path: "/ok"}', 'http: {path: "/ok", headers: {X-Key: "${credentials.api.password}"}}')
    )
    running = serve_exporter(config)
    assert requests.get(f"{running.url}/-/healthy", timeout=5).text == "Healthy\n"
    assert requests.get(f"{running.url}/-/ready", timeout=5).status_code == 200
    workflow, local = running.exporter.config.pairs()[0]
    run = running.exporter.run_scheduled(workflow, local)
    index = requests.get(f"{running.url}/", timeout=5).text
    assert f"/runs/{run.correlation_id}" in index and "probe-ok" in index
    page = requests.get(f"{running.url}/runs/{run.correlation_id}", timeout=5).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "hunter2-secret" not in page and "[REDACTED]" in page
    assert f"X-Request-ID: {run.correlation_id}" in page
    assert f"<td>{run.steps[0].response_bytes}</td>" in page and run.steps[0].response_bytes > 0
    assert f"request_id='{run.correlation_id}'" in page
    assert requests.get(f"{running.url}/runs/does-not-exist", timeout=5).status_code == 404


def test_reload_keeps_the_old_config_when_the_new_one_is_invalid(serve_exporter, target) -> None:
    running = serve_exporter(simple_config(target.url))
    sample = running.registry.get_sample_value
    assert sample("workflow_exporter_config_last_reload_successful") == 1
    running.config_path.write_text("workflows: [this is not valid")
    response = requests.post(f"{running.url}/-/reload", timeout=5)
    assert response.status_code == 400 and "invalid YAML" in response.text
    assert sample("workflow_exporter_config_last_reload_successful") == 0
    ok = requests.get(f"{running.url}/probe", params={"target": "local", "workflow": "probe-ok"}, timeout=10)
    assert "probe_success 1.0" in ok.text  # still the old config
    running.config_path.write_text(simple_config(target.url).replace("probe-ok", "renamed"))
    assert requests.post(f"{running.url}/-/reload", timeout=5).status_code == 200
    assert sample("workflow_exporter_config_last_reload_successful") == 1
    renamed = requests.get(f"{running.url}/probe", params={"target": "local", "workflow": "renamed"}, timeout=10)
    assert "probe_success 1.0" in renamed.text
    assert requests.get(f"{running.url}/-/reload", timeout=5).status_code == 405


def test_the_command_line_service_reloads_on_sighup(tmp_path: Path, target) -> None:
    config = tmp_path / "workflows.yml"
    config.write_text(simple_config(target.url, interval="1m"))
    port = free_port()
    process = ManagedProcess(
        "workflow-exporter",
        [sys.executable, "-m", "exporter", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        tmp_path / "exporter.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_ready(lambda: requests.get(f"{url}/-/healthy", timeout=1).status_code == 200)
        config.write_text(simple_config(target.url, interval="1m").replace("probe-ok", "after-sighup"))
        os.kill(process.pid, signal.SIGHUP)
        wait_until(
            lambda: requests.get(f"{url}/probe", params={"target": "local", "workflow": "after-sighup"},
                                 timeout=5).status_code == 200,
            10,
            "the reloaded workflow",
        )  # fmt: skip
        os.kill(process.pid, signal.SIGTERM)
        assert process.popen.wait(10) == 0
        assert "config reloaded" in process.log_path.read_text()
    finally:
        process.stop()


def test_invalid_config_at_start_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "bad.yml"
    config.write_text("targets: {}\nworkflows: {}\n")
    result = subprocess.run([sys.executable, "-m", "exporter", f"--config.file={config}"],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 1
    assert "targets: expected a mapping of target names to targets, with at least one" in result.stderr


def test_run_prints_the_waterfall_and_exits_by_result(tmp_path: Path, target) -> None:
    for path, code, word in (("/ok", 0, "SUCCESS"), ("/fail", 1, "FAILURE")):
        config = tmp_path / f"run{code}.yml"
        config.write_text(simple_config(target.url, path=path))
        result = subprocess.run(
            [sys.executable, "-m", "exporter", "run", f"--config.file={config}", "--workflow", "probe-ok"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == code, result.stderr
        assert f"workflow probe-ok on local: {word}" in result.stdout
        assert "step " in result.stdout and "timeline" in result.stdout
        assert not result.stdout.lstrip().startswith("{"), "log lines belong on stderr"


def test_prometheus_stores_the_exporters_exemplars(serve_exporter, target, tmp_path: Path) -> None:
    running = serve_exporter(simple_config(target.url, interval="500ms", timeout="500ms"), schedule=True)
    prometheus = start_prometheus(
        tmp_path / "prom",
        [{"job_name": "exporter", "static_configs": [{"targets": [running.url.removeprefix("http://")]}]}],
    )
    try:
        prometheus.wait_for_target_up("exporter")

        def exemplars() -> list[str]:
            now = time.time()
            data = prometheus.api("query_exemplars", query="workflow_run_duration_seconds_bucket",
                                  start=now - 300, end=now + 60)  # fmt: skip
            return [e["labels"]["correlation_id"] for series in data for e in series["exemplars"]]

        found = wait_until(exemplars, 30, "exemplars of the exporter in Prometheus", interval=0.5)
        assert set(found) & {run.correlation_id for run in running.exporter.history.recent()}
    finally:
        prometheus.stop()
