"""The ``frontend:`` section: read strictly with the rest of the config, mapped in the exporter on start and on
every reload, exported as ``frontend_map_*`` gauges; a failed refresh keeps the last map and says so."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter.sections import SECTIONS
from exporter.service import Exporter
from synthetic.config import ConfigError, load_config

from .conftest import DEMO_OPENAPI, STOREFRONT

WORKFLOWS = """\
targets:
  shop: {base_url: "http://127.0.0.1:9"}
workflows:
  ping:
    targets: [shop]
    interval: 1h
    steps:
      - {name: ping, http: {method: GET, path: /}}
"""


def config_file(tmp_path: Path, frontend: str | None) -> Path:
    path = tmp_path / "workflows.yml"
    path.write_text(WORKFLOWS + (f"frontend:\n{frontend}" if frontend else ""))
    return path


def section(source: Path = STOREFRONT, openapi: Path = DEMO_OPENAPI) -> str:
    return f"  source: {source}\n  openapi: {openapi}\n  refresh: 1h\n"


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_the_map_becomes_metrics_and_follows_reloads(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    path = config_file(tmp_path, section())
    exporter = Exporter(path, registry)
    try:
        config = exporter.frontend.config
        assert config is not None and config.source == str(STOREFRONT)
        assert sample(registry, "frontend_map_calls", status="matched") is None  # nothing before the first map
        assert exporter.frontend.refresh(config) is not None
        assert {status: sample(registry, "frontend_map_calls", status=status)
                for status in ("matched", "unmatched", "method", "unresolved")} == {
            "matched": 16, "unmatched": 1, "method": 1, "unresolved": 1}  # fmt: skip
        assert sample(registry, "frontend_map_route_unmatched_calls", route="/orders/[id]") == 1
        assert sample(registry, "frontend_map_route_unmatched_calls", route="/cart") == 0
        assert sample(registry, "frontend_map_unused_operations", source=str(STOREFRONT)) == 4
        assert sample(registry, "frontend_map_last_refresh_success", source=str(STOREFRONT)) == 1

        # the backend's document goes missing: the last map stays, the success gauge says it is not current
        broken = tmp_path / "gone.json"
        shutil.copy(DEMO_OPENAPI, broken)
        path.write_text(WORKFLOWS + "frontend:\n" + section(openapi=broken))
        assert exporter.reload().ok
        broken.unlink()
        assert exporter.frontend.refresh(exporter.frontend.config) is None  # type: ignore[arg-type]
        assert sample(registry, "frontend_map_last_refresh_success", source=str(STOREFRONT)) == 0
        assert sample(registry, "frontend_map_calls", status="unmatched") == 1

        # the section removed: every frontend series goes
        path.write_text(WORKFLOWS)
        assert exporter.reload().ok
        assert exporter.frontend.config is None
        for name, labels in (("frontend_map_calls", {"status": "matched"}),
                             ("frontend_map_route_unmatched_calls", {"route": "/orders/[id]"}),
                             ("frontend_map_last_refresh_success", {"source": str(STOREFRONT)})):  # fmt: skip
            assert registry.get_sample_value(name, labels) is None
    finally:
        exporter.stop()


def test_the_thread_maps_on_start(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    exporter = Exporter(config_file(tmp_path, section()), registry)
    exporter.frontend.start()
    try:
        deadline = time.monotonic() + 30
        while sample(registry, "frontend_map_last_refresh_success", source=str(STOREFRONT)) != 1:
            assert time.monotonic() < deadline, "no map within 30 s"
            time.sleep(0.05)
        assert sample(registry, "frontend_map_calls", status="method") == 1
    finally:
        exporter.stop()


@pytest.mark.parametrize(
    ("frontend", "problem"),
    [
        ("  openapi: x.json\n", "frontend.source: source is required: a folder"),
        ("  source: nowhere\n  openapi: {openapi}\n", "frontend.source: {tmp}/nowhere is not a folder"),
        ("  source: {source}\n", "frontend.openapi: openapi is required: an http(s) URL or a file"),
        ("  source: {source}\n  openapi: missing.json\n", "frontend.openapi: {tmp}/missing.json is not a file"),
        ("  source: {source}\n  openapi: {openapi}\n  refresh: soon\n", "frontend.refresh: refresh:"),
        ("  source: {source}\n  openapi: {openapi}\n  timeout: 0s\n", "frontend.timeout: timeout:"),
        (
            "  source: {source}\n  openapi: {openapi}\n  sources: x\n",
            "unknown field 'sources' (did you mean 'source'?)",
        ),
        ("  source: {source}\n  openapi: {openapi}\n  env: [x]\n", "frontend.env: expected a mapping"),
        (
            "  source: {source}\n  openapi: {openapi}\n  backend_origins: [api.example]\n",
            "frontend.backend_origins: expected a list of http(s) origins",
        ),
        (
            "  source: {source}\n  openapi: ${{env:NO_SUCH_VARIABLE_FOR_FMAP}}\n",
            "environment variable NO_SUCH_VARIABLE_FOR_FMAP is not set",
        ),
        ("  [not, a, mapping]\n", "frontend: expected a mapping with source and openapi"),
    ],
)
def test_section_problems_are_config_problems(tmp_path: Path, frontend: str, problem: str) -> None:
    text = frontend.format(source=STOREFRONT, openapi=DEMO_OPENAPI)
    path = config_file(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, sections=SECTIONS)
    expected = problem.format(tmp=tmp_path)
    assert any(expected in found for found in error.value.problems), error.value.problems


def test_a_valid_section_passes_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from exporter.cli import main

    path = config_file(tmp_path, section())
    assert main(["--config.file", str(path), "--config.check"]) == 0, capsys.readouterr().err
