"""The exporter's series follow its config: created at zero from the start, gone with what they name.

Every family with a ``workflow``, ``target`` or ``step`` label drops the series of whatever a reload removes
(or a new shard no longer owns), runs still in flight during the reload cannot bring them back, and every
series an alert reads exists before the first run. All read from the registry.
"""

from __future__ import annotations

import copy
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from exporter.metrics import COUNTED_REASONS, SCOPED_LABELS, WorkflowMetrics
from exporter.service import Exporter
from exporter.sharding import Shard
from synthetic.result import PHASES, REASONS, RESULTS, RunResult, ServerTiming, StepResult
from tests.harness import require_binary

Labels = dict[str, str]
# (family, sample name, sorted labels) -> value
Series = dict[tuple[str, str, tuple[tuple[str, str], ...]], float]
# (family, labels) -> True when the series names something the reload removed.
Gone = Callable[[str, Labels], bool]
Edit = Callable[[dict[str, Any]], None]

BASE: dict[str, Any] = {
    "targets": {
        "a": {"base_url": "http://127.0.0.1:9"},
        "b": {"base_url": "http://127.0.0.1:9"},
    },
    "workflows": {
        "shop": {
            "targets": ["a", "b"],
            "interval": "30s",
            "steps": [
                {"name": "login", "http": {"path": "/login"}, "expect": {"status": 200, "max_duration": "500ms"}},
                {"name": "cart", "http": {"path": "/cart"}, "expect": {"status": 200, "max_duration": "1s"}},
                {"name": "pay", "http": {"path": "/pay"}},
            ],
        },
        "browse": {
            "targets": ["a", "b"],
            "interval": "15m",
            "timeout": "10s",
            "steps": [
                {"name": "list", "http": {"path": "/products"}, "expect": {"max_duration": "250ms"}},
                {"name": "detail", "http": {"path": "/products/1"}},
            ],
        },
    },
}
PAIRS = [(w, t) for w, spec in BASE["workflows"].items() for t in spec["targets"]]


def _steps(workflow: str) -> list[str]:
    return [step["name"] for step in BASE["workflows"][workflow]["steps"]]


def _series(registry: CollectorRegistry) -> Series:
    """Every sample on the registry, with its family."""
    return {
        (family.name, sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect() for sample in family.samples
    }  # fmt: skip


def _scoped(series: Series) -> Series:
    """The samples that name a workflow, target or step."""
    return {key: value for key, value in series.items() if {name for name, _ in key[2]} & set(SCOPED_LABELS)}


def _gone(series: Series, gone: Gone) -> list[tuple[str, Labels]]:
    return [(family, dict(labels)) for family, _, labels in series if gone(family, dict(labels))]


def _start(tmp_path: Path, config: dict[str, Any]) -> tuple[Exporter, CollectorRegistry, Path]:
    path = tmp_path / "workflows.yml"
    path.write_text(yaml.safe_dump(config))
    registry = CollectorRegistry()
    return Exporter(path, registry), registry, path


def _run(workflow: str, target: str, steps: list[str], failed: str | None, reason: str = "http_status") -> RunResult:
    """A finished run with server timing, HTTP phases and a certificate expiry on every step that ran; ``failed``
    fails and the rest are skipped."""
    run = RunResult(workflow=workflow, target=target, correlation_id=f"id-{workflow}-{target}", started_at=1000.0,
                    duration=0.3)  # fmt: skip
    after_failure = False
    for name in steps:
        if after_failure:
            run.steps.append(StepResult(name, "http", status="skipped", reason="skipped"))
            continue
        step = StepResult(name, "http", duration=0.1, server=ServerTiming(app_seconds=0.02, db_seconds=0.01, queries=3),
                          phases=dict.fromkeys(PHASES, 0.02), tls_cert_expires_at=2_000_000_000.0)  # fmt: skip
        if name == failed:
            step.status, step.reason, after_failure = "failed", reason, True
        run.steps.append(step)
    return run


def _feed(metrics: WorkflowMetrics, pairs: list[tuple[str, str]]) -> None:
    """Give every family series for ``pairs``: a failed, a passing and a failed run, a skip, open breakers."""
    for workflow, target in pairs:
        steps = _steps(workflow)
        metrics.record(_run(workflow, target, steps, failed=steps[-1]))
        metrics.record(_run(workflow, target, steps, failed=None))
        metrics.record(_run(workflow, target, steps, failed=steps[1]))
        metrics.count_skipped(workflow, target, "overlap")
        metrics.set_circuit_open(target, True)


def _without_workflow(config: dict[str, Any]) -> None:
    del config["workflows"]["browse"]


def _without_target(config: dict[str, Any]) -> None:
    del config["targets"]["b"]
    for workflow in config["workflows"].values():
        workflow["targets"].remove("b")


def _target_dropped_from_workflow(config: dict[str, Any]) -> None:
    config["workflows"]["shop"]["targets"] = ["a"]


def _step_renamed(config: dict[str, Any]) -> None:
    config["workflows"]["shop"]["steps"][1]["name"] = "basket"


def _step_removed(config: dict[str, Any]) -> None:
    del config["workflows"]["shop"]["steps"][2]


def _budget_removed(config: dict[str, Any]) -> None:
    del config["workflows"]["shop"]["steps"][0]["expect"]["max_duration"]


def _unchanged(config: dict[str, Any]) -> None:
    pass


def _names(labels: Labels, **wanted: str) -> bool:
    return all(labels.get(name) == value for name, value in wanted.items())


NEW_SHARD = Shard(0, 2)
NOT_OWNED = {pair for pair in PAIRS if not NEW_SHARD.owns(*pair)}
OWNED_WORKFLOWS = {workflow for workflow, target in PAIRS if NEW_SHARD.owns(workflow, target)}


def _not_owned(family: str, labels: Labels) -> bool:
    """A pair the new shard does not own, or a workflow none of whose pairs it owns; a certificate expiry
    (by target alone, from scheduled runs) of a target none of whose pairs it owns."""
    if (labels.get("workflow"), labels.get("target")) in NOT_OWNED:
        return True
    if family == "workflow_ssl_earliest_cert_expiry_timestamp_seconds":
        return all(
            (workflow, labels["target"]) in NOT_OWNED for workflow, target in PAIRS if target == labels["target"]
        )
    return "workflow" in labels and "target" not in labels and labels["workflow"] not in OWNED_WORKFLOWS


RELOADS: list[tuple[str, Edit, Shard, Gone]] = [
    ("workflow removed", _without_workflow, Shard(), lambda family, labels: _names(labels, workflow="browse")),
    ("target removed", _without_target, Shard(), lambda family, labels: _names(labels, target="b")),
    ("target dropped from a workflow's targets", _target_dropped_from_workflow, Shard(),
     lambda family, labels: _names(labels, workflow="shop", target="b")),
    ("step renamed", _step_renamed, Shard(), lambda family, labels: _names(labels, workflow="shop", step="cart")),
    ("step removed", _step_removed, Shard(), lambda family, labels: _names(labels, workflow="shop", step="pay")),
    ("budget removed", _budget_removed, Shard(),
     lambda family, labels: family == "workflow_step_latency_budget_seconds"
     and _names(labels, workflow="shop", step="login")),
    ("shard change: pairs no longer owned", _unchanged, NEW_SHARD, _not_owned),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "shard", "gone"), [row[1:] for row in RELOADS], ids=[row[0] for row in RELOADS])
def test_a_reload_drops_every_series_of_what_it_removes(tmp_path: Path, edit: Edit, shard: Shard, gone: Gone) -> None:
    exporter, registry, path = _start(tmp_path, BASE)
    _feed(exporter.metrics, PAIRS)
    before = _series(registry)
    assert _gone(before, gone), "the row removes nothing that had series"
    kept = {key: value for key, value in _scoped(before).items() if not gone(key[0], dict(key[2]))}
    assert kept, "the row keeps nothing to compare"

    config = copy.deepcopy(BASE)
    edit(config)
    path.write_text(yaml.safe_dump(config))
    exporter.shard = shard
    exporter.reload()
    assert registry.get_sample_value("workflow_exporter_config_last_reload_successful") == 1

    after = _series(registry)
    assert not _gone(after, gone), f"series outlived the config: {_gone(after, gone)[:5]}"
    changed = {key: (value, after.get(key)) for key, value in kept.items() if after.get(key) != value}
    assert not changed, f"series of what stays lost their values: {changed}"

    # Runs in flight during the reload finish now: they must not bring anything back.
    _feed(exporter.metrics, PAIRS)
    late = _series(registry)
    assert not _gone(late, gone), f"a run in flight during the reload brought series back: {_gone(late, gone)[:5]}"


def test_every_series_an_alert_reads_exists_from_the_start(tmp_path: Path) -> None:
    _, registry, path = _start(tmp_path, BASE)
    sample = registry.get_sample_value
    for workflow, target in PAIRS:
        pair = {"workflow": workflow, "target": target}
        for result in RESULTS:
            assert sample("workflow_runs_total", {**pair, "result": result}) == 0
        assert sample("workflow_exporter_skipped_runs_total", {**pair, "reason": "overlap"}) == 0
        assert sample("workflow_last_run_failure_info", {**pair, "step": "", "reason": ""}) == 0
        configured_at = sample("workflow_last_run_timestamp_seconds", pair)
        assert configured_at is not None and abs(configured_at - time.time()) < 60
        for index, step in enumerate(_steps(workflow)):
            assert sample("workflow_step_duration_seconds_count", {**pair, "step": step}) == 0
            for reason in REASONS:
                value = sample("workflow_step_failures_total", {**pair, "step": step, "reason": reason})
                # Skipped steps are not failures; only the first step fails with circuit_open.
                expected = None if reason == "skipped" or (reason == "circuit_open" and index) else 0
                assert value == expected, (workflow, target, step, reason)
    assert sample("workflow_run_interval_seconds", {"workflow": "browse"}) == 900
    assert sample("workflow_circuit_breaker_open", {"target": "b"}) == 0
    assert sample("workflow_exporter_config_info", {"file": str(path.absolute())}) == 1
    per_family = Counter(family for family, name, _ in _series(registry) if not name.endswith("_created"))
    step_count = sum(len(_steps(workflow)) for workflow, _ in PAIRS)
    assert per_family["workflow_step_failures"] == step_count * (len(COUNTED_REASONS) - 1) + len(PAIRS)
    assert per_family["workflow_last_run_failure_info"] == len(PAIRS)
    assert per_family["workflow_exporter_config_info"] == 1


def test_the_failure_info_names_the_last_runs_failed_step_in_one_series_per_pair(tmp_path: Path) -> None:
    exporter, registry, _ = _start(tmp_path, BASE)
    pair = {"workflow": "shop", "target": "a"}

    def info() -> dict[tuple[str, str], float]:
        return {
            (dict(labels)["step"], dict(labels)["reason"]): value
            for (family, _, labels), value in _series(registry).items()
            if family == "workflow_last_run_failure_info" and _names(dict(labels), **pair)
        }

    assert info() == {("", ""): 0}
    for failed, reason, expected in [
        ("cart", "timeout", {("cart", "timeout"): 1}),
        ("cart", "timeout", {("cart", "timeout"): 1}),
        ("login", "connect", {("login", "connect"): 1}),
        (None, "", {("", ""): 0}),
        ("pay", "schema", {("pay", "schema"): 1}),
    ]:
        exporter.metrics.record(_run("shop", "a", _steps("shop"), failed=failed, reason=reason))
        assert info() == expected
        assert registry.get_sample_value("workflow_last_run_success", pair) == (0 if failed else 1)


def test_every_family_with_a_scoped_label_is_pruned_by_the_metrics_object(tmp_path: Path) -> None:
    """A family on the registry but outside WorkflowMetrics would escape the prune on reload."""
    exporter, registry, _ = _start(tmp_path, BASE)
    _feed(exporter.metrics, PAIRS)
    scoped = {family for family, _, _ in _scoped(_series(registry))}
    held = {described.name for metric in exporter.metrics.families() for described in metric.describe()}
    assert scoped and scoped <= held, scoped - held


def test_a_metrics_object_records_nothing_outside_its_config() -> None:
    metrics = WorkflowMetrics(CollectorRegistry())
    _feed(metrics, PAIRS)
    assert not _scoped(_series(metrics.registry))


def test_the_exposition_passes_promtool_check_metrics(tmp_path: Path) -> None:
    exporter, registry, _ = _start(tmp_path, BASE)
    _feed(exporter.metrics, PAIRS)
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "metrics"], input=generate_latest(registry), capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr
