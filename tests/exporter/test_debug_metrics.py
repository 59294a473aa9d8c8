"""What the debugging console adds to the exporter's metrics: runs by result with ``degraded``, HTTP timing
phases, and certificate expiry, on ``/metrics`` (scheduled runs) and on ``/probe`` (blackbox_exporter's names).

The recording rules are read from the registry; the end-to-end cases run the exporter against a real local
HTTPS server with a certificate made by the test."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from exporter.metrics import WorkflowMetrics, probe_exposition, probe_registry
from exporter.service import Exporter
from synthetic.config import parse_config
from synthetic.result import PHASES, RESULTS, AssertionResult, RunResult, ServerTiming, StepResult
from tests.exporter.conftest import RunningExporter
from tests.harness import require_binary
from tests.steps.timed import Certificate, TimedServer, certificate, not_after, server_context

CONFIG = {
    "targets": {"shop": {"base_url": "http://127.0.0.1:9"}, "other": {"base_url": "http://127.0.0.1:9"}},
    "workflows": {
        name: {"targets": ["shop", "other"], "steps": [{"name": "get", "http": {"path": "/"}}]}
        for name in ("login", "checkout")
    },
}


def _metrics(config: dict[str, object] = CONFIG) -> WorkflowMetrics:
    parsed = parse_config(yaml.safe_dump(config), "test.yml")
    metrics = WorkflowMetrics(CollectorRegistry())
    metrics.configure(parsed, [(w.name, t) for w in parsed.workflows.values() for t in w.targets])
    return metrics


def _run(
    workflow: str = "login",
    target: str = "shop",
    result: str = "success",
    phases: dict[str, float] | None = None,
    cert: float | None = None,
) -> RunResult:
    step = StepResult("get", "http", duration=0.5, phases=phases or {}, tls_cert_expires_at=cert)
    if result == "degraded":
        step.degraded = True
        step.assertions.append(AssertionResult("max_duration", False, "took 500 ms, budget 0 ms", severity="warning"))
    elif result == "failure":
        step.status, step.reason = "failed", "http_status"
    return RunResult(workflow, target, f"id-{workflow}-{target}", 1000.0, 0.5, [step])


@pytest.mark.parametrize(
    ("result", "last_success", "failure_info"),
    [("success", 1, ("", "")), ("degraded", 1, ("", "")), ("failure", 0, ("get", "http_status"))],
)
def test_a_run_counts_under_its_result(result: str, last_success: int, failure_info: tuple[str, str]) -> None:
    metrics = _metrics()
    sample = metrics.registry.get_sample_value
    pair = {"workflow": "login", "target": "shop"}
    for each in RESULTS:  # every result exists from the start, so increase() sees the first one
        assert sample("workflow_runs_total", {**pair, "result": each}) == 0
    metrics.record(_run(result=result))
    counts = {each: sample("workflow_runs_total", {**pair, "result": each}) for each in RESULTS}
    assert counts == {each: 1 if each == result else 0 for each in RESULTS}
    assert sample("workflow_last_run_success", pair) == last_success
    step, reason = failure_info
    assert sample("workflow_last_run_failure_info", {**pair, "step": step, "reason": reason}) == (1 if step else 0)


def test_phases_are_a_summary_per_step_and_phase() -> None:
    metrics = _metrics()
    sample = metrics.registry.get_sample_value
    phases = {"resolve": 0.001, "connect": 0.002, "tls": 0.01, "processing": 0.3, "transfer": 0.05}
    metrics.record(_run(phases=phases))
    metrics.record(_run(phases={**phases, "processing": 0.1}))
    metrics.record(_run())  # a step without phases (an sql step, say) adds nothing
    labels = {"workflow": "login", "target": "shop", "step": "get"}
    for phase in PHASES:
        assert sample("workflow_step_phase_duration_seconds_count", {**labels, "phase": phase}) == 2
    assert sample("workflow_step_phase_duration_seconds_sum", {**labels, "phase": "processing"}) == pytest.approx(0.4)
    quantiles = [s for f in metrics.registry.collect() for s in f.samples if s.labels.get("quantile")]
    assert not quantiles, "a summary without quantiles: _sum and _count only"


def test_cert_expiry_is_the_earliest_of_each_workflows_last_run_and_follows_the_config() -> None:
    metrics = _metrics()
    sample = metrics.registry.get_sample_value

    def expiry(target: str = "shop") -> float | None:
        return sample("workflow_ssl_earliest_cert_expiry_timestamp_seconds", {"target": target})

    assert expiry() is None  # no run has seen TLS yet: no honest value
    metrics.record(_run("login", cert=2_000_000_000.0))
    metrics.record(_run("checkout", cert=1_900_000_000.0))
    assert expiry() == 1_900_000_000.0 and expiry("other") is None
    metrics.record(_run("checkout", cert=2_100_000_000.0))  # renewed: checkout's last run shows the new one
    assert expiry() == 2_000_000_000.0
    metrics.record(_run("login", result="failure"))  # a run that saw no certificate changes nothing
    assert expiry() == 2_000_000_000.0

    # login leaves the config: only checkout's last run counts; then the target goes: so does its series.
    without_login = {**CONFIG, "workflows": {"checkout": CONFIG["workflows"]["checkout"]}}  # type: ignore[index]
    parsed = parse_config(yaml.safe_dump(without_login), "test.yml")
    metrics.configure(parsed, [("checkout", "shop"), ("checkout", "other")])
    assert expiry() == 2_100_000_000.0
    metrics.configure(parsed, [("checkout", "other")])  # a shard that no longer runs checkout on shop
    assert expiry() is None
    metrics.record(_run("checkout", cert=1.0))  # in flight during the reload: does not come back
    assert expiry() is None


def test_probe_registry_has_blackbox_names_and_per_step_phases() -> None:
    run = _run(result="degraded", phases=dict.fromkeys(PHASES, 0.1), cert=2_000_000_000.0)
    second = StepResult("post", "http", duration=0.3, phases={**dict.fromkeys(PHASES, 0.0), "processing": 0.3},
                        tls_cert_expires_at=1_950_000_000.0)  # fmt: skip
    run.steps.append(second)
    run.steps.append(StepResult("row", "sql", duration=0.01))
    registry = probe_registry(run, 10.0)
    sample = registry.get_sample_value
    assert sample("probe_success") == 1 and sample("probe_workflow_degraded") == 1
    for phase in PHASES:  # summed over the run's http steps, as blackbox_exporter sums over redirects
        expected = 0.4 if phase == "processing" else 0.1
        assert sample("probe_http_duration_seconds", {"phase": phase}) == pytest.approx(expected)
        assert sample("probe_workflow_step_phase_duration_seconds", {"step": "get", "phase": phase}) == 0.1
    assert sample("probe_workflow_step_phase_duration_seconds", {"step": "row", "phase": "connect"}) is None
    assert sample("probe_ssl_earliest_cert_expiry") == 1_950_000_000.0
    promtool = require_binary("promtool")
    checked = subprocess.run([promtool, "check", "metrics"], input=generate_latest(registry), capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_probe_registry_without_http_or_tls_leaves_them_out() -> None:
    registry = probe_registry(RunResult("w", "t", "id", 1000.0, 0.1, [StepResult("row", "sql", duration=0.1)]), 5)
    names = {family.name for family in registry.collect()}
    assert not names & {"probe_http_duration_seconds", "probe_ssl_earliest_cert_expiry"}
    assert registry.get_sample_value("probe_workflow_degraded") == 0


# --- end to end: the exporter against a real HTTPS server ---------------------------------------------------


@dataclass
class Served:
    exporter: Exporter
    registry: CollectorRegistry
    cert: Certificate
    url: str


@pytest.fixture
def https_exporter(tmp_path: Path, serve_exporter: Callable[..., RunningExporter]) -> Iterator[Served]:
    cert = certificate(tmp_path, "shop", days=10)
    server = TimedServer(server_context(cert)).start()
    try:
        config = f"""
targets:
  local:
    base_url: {server.url}
    tls: {{ca_file: {cert.cert}}}
workflows:
  journey:
    targets: [local]
    interval: 1m
    timeout: 5s
    steps:
      - name: slow
        http: {{path: "/timed?head=0.2&bytes=3&every=0.05"}}
        expect: {{status: 200, max_duration: 100ms}}
      - name: again
        http: {{path: "/timed?bytes=1"}}
"""
        running = serve_exporter(config)
        yield Served(running.exporter, running.registry, cert, running.url)
    finally:
        server.stop()


def _value(text: str, name: str) -> float:
    (value,) = re.findall(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(value)


def test_probe_of_an_https_journey(https_exporter: Served) -> None:
    response = requests.get(
        f"{https_exporter.url}/probe", params={"target": "local", "workflow": "journey"}, timeout=20
    )
    body = response.text
    assert _value(body, "probe_success") == 1, body
    assert _value(body, "probe_workflow_degraded") == 1  # "slow" took 0.2 s and more, its budget is 100 ms
    assert _value(body, "probe_ssl_earliest_cert_expiry") == not_after(https_exporter.cert)
    assert _value(body, 'probe_http_duration_seconds{phase="tls"}') > 0
    assert _value(body, 'probe_workflow_step_phase_duration_seconds{phase="processing",step="slow"}') >= 0.2
    # The kept-alive connection of the second step: no new connection, no handshake.
    assert _value(body, 'probe_workflow_step_phase_duration_seconds{phase="tls",step="again"}') == 0
    step_phases = sum(
        _value(body, f'probe_workflow_step_phase_duration_seconds{{phase="{phase}",step="slow"}}') for phase in PHASES
    )
    assert abs(step_phases - _value(body, 'probe_workflow_step_duration_seconds{step="slow"}')) <= 0.05


def test_scheduled_https_journey_on_metrics(https_exporter: Served) -> None:
    exporter = https_exporter.exporter
    workflow = exporter.config.workflows["journey"]
    run = exporter.run_scheduled(workflow, exporter.config.targets["local"])
    assert run.result == "degraded", [(s.name, s.status, s.reason, s.message) for s in run.steps]
    exposition = requests.get(f"{https_exporter.url}/metrics", timeout=10).text
    pair = 'target="local",workflow="journey"'
    assert _value(exposition, f'workflow_runs_total{{result="degraded",{pair}}}') == 1
    assert _value(exposition, f'workflow_runs_total{{result="success",{pair}}}') == 0
    assert _value(exposition, f"workflow_last_run_success{{{pair}}}") == 1
    assert _value(exposition, 'workflow_ssl_earliest_cert_expiry_timestamp_seconds{target="local"}') == not_after(
        https_exporter.cert
    )
    for phase in PHASES:
        labels = f'phase="{phase}",step="slow",{pair}'
        assert _value(exposition, f"workflow_step_phase_duration_seconds_count{{{labels}}}") == 1


def _probe_runs() -> list[tuple[str, RunResult]]:
    """Runs covering every family and every way a value is written."""
    full = _run(result="degraded", phases=dict.fromkeys(PHASES, 0.1), cert=2_000_000_000.0)
    full.steps.append(StepResult("post", "http", duration=0.3, phases={**dict.fromkeys(PHASES, 0.0), "processing": 0.3},
                                 tls_cert_expires_at=1_950_000_000.0))  # fmt: skip
    full.steps.append(StepResult("row", "sql", duration=0.01))
    failed = _run(result="failure")
    failed.steps.append(StepResult("later", "http", status="skipped", reason="skipped"))
    hostile = RunResult("w", "t", "id", 1000.0, 12345678.9, [
        StepResult('we"ird\\name\nx', "http", duration=1e-7, http_status=503),
        StepResult("ünïcode ✓", "sql", duration=float("inf")),
        StepResult("nan", "sql", duration=float("nan")),
    ])  # fmt: skip
    hostile.steps[0].server = ServerTiming(app_seconds=0.25, db_seconds=1e-9)
    hostile.steps[1].server = ServerTiming(app_seconds=2e6)
    return [
        ("every family", full),
        ("failed with a skipped step", failed),
        ("no http, no tls", RunResult("w", "t", "id", 1000.0, 0.1, [StepResult("row", "sql", duration=0.1)])),
        ("no steps", RunResult("w", "t", "id", 1000.0, 0.0, [])),
        ("escapes and number formats", hostile),
    ]


@pytest.mark.parametrize(("case", "timeout"), [(case, t) for case, _ in _probe_runs() for t in (10.0, 0.5, 1e6)])
def test_probe_exposition_is_prometheus_clients_bytes(case: str, timeout: float) -> None:
    """/probe writes its text directly; it must be byte for byte what prometheus_client encodes for the same
    samples (probe_registry), whatever the run holds."""
    run = dict(_probe_runs())[case]
    assert probe_exposition(run, timeout) == generate_latest(probe_registry(run, timeout)).decode()
