"""``/report`` on the exporter: the config's report: section, the cache, the formats; the section's problems."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from exporter.report.page import cache_for
from exporter.sections import SECTIONS
from synthetic.config import ConfigError, load_config
from tests.exporter.conftest import RunningExporter, serve_exporter, simple_config
from tests.harness.prometheus import Prometheus

from .series import Scenario

__all__ = ["serve_exporter"]


def test_report_page_is_cached_and_served_in_every_format(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]], serve_exporter: Callable[..., RunningExporter]
) -> None:
    prometheus, _ = report_prometheus
    config = simple_config("http://127.0.0.1:9") + f"report:\n  prometheus: {prometheus.url}\n  since: 1h\n"
    running = serve_exporter(config)
    page = requests.get(f"{running.url}/report", timeout=120)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.text.count('src="data:image/png;base64,') >= 5
    assert "queries per request at p95" in page.text  # the last scenario ("full") fills most of the last hour
    body = requests.get(f"{running.url}/report?format=json", timeout=60).json()
    assert {f["rule"] for f in body["findings"]} >= {"n_plus_one", "slow_statement", "route_errors"}
    assert "no read-only DSN configured" in " ".join(
        next(s for s in body["sections"] if s["key"] == "database")["notes"]
    )
    assert requests.get(f"{running.url}/report?format=markdown", timeout=60).text.startswith("# Debugging report")
    assert cache_for(running.exporter).builds == 1
    assert requests.get(f"{running.url}/report?format=pdf", timeout=10).status_code == 400


def test_report_page_without_section(serve_exporter: Callable[..., RunningExporter]) -> None:
    running = serve_exporter(simple_config("http://127.0.0.1:9"))
    answer = requests.get(f"{running.url}/report", timeout=10)
    assert answer.status_code == 404 and "report: section" in answer.text


@pytest.mark.parametrize("section,problem", [
    ("report: []", "expected a mapping"),
    ("report: {since: 1h}", "report.prometheus: expected Prometheus' http(s) URL"),
    ("report: {prometheus: 'ftp://x'}", "report.prometheus: expected Prometheus' http(s) URL"),
    ("report: {prometheus: 'http://p:9090', refresh: 10s}", "report.refresh: at least 60s"),
    ("report: {prometheus: 'http://p:9090', compare: 1d}", "report.compare: expected previous or 7d"),
    ("report: {prometheus: 'http://p:9090', colour: red}", "colour"),
    ("report: {prometheus: 'http://p:9090', mysql: {dsn: 'sqlite:///x.db'}}", "must start with mysql://"),
    ("report: {prometheus: 'http://p:9090', mysql: {}}", "report.mysql: dsn or dsn_file is required"),
])  # fmt: skip
def test_report_section_problems(tmp_path: Path, section: str, problem: str) -> None:
    path = tmp_path / "workflows.yml"
    path.write_text(simple_config("http://127.0.0.1:9") + section + "\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path, sections=SECTIONS)
    assert any(problem in str(p) for p in raised.value.problems), raised.value.problems


def test_report_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "workflows.yml"
    text = (
        "report:\n  prometheus: http://p:9090\n  since: 7d\n  compare: 7d\n  refresh: 2m\n"
        "  mysql: {dsn: 'mysql://ro:secret@127.0.0.1:3306/shop'}\n"
    )
    path.write_text(simple_config("http://127.0.0.1:9") + text)
    section = load_config(path, sections=SECTIONS).sections["report"]
    assert (section.prometheus, section.since, section.compare, section.refresh) == ("http://p:9090", 604800, "7d", 120)
    assert "secret" not in repr(section)
    assert json.dumps(section.mysql).count("secret") == 1
