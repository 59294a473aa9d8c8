"""The HTML report in a real browser (Debian's Chromium driven by Playwright for Python): every plot decodes
and renders, every section is there, the suggestions list is ordered. Screenshots go to the test's temp dir;
``UPDATE_DOCS_IMAGES=1`` also copies them to docs/images/report*.png."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.report import PrometheusClient, build_report, render
from synthetic.steps.browser import CHROMIUM_ARGS
from tests.conftest import REPO_ROOT
from tests.harness import require_binary
from tests.harness.processes import in_ci
from tests.harness.prometheus import Prometheus

from .series import PERIOD, Scenario

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    if in_ci():
        raise
    pytest.skip("playwright is not installed: pip install -e '.[test]'", allow_module_level=True)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    """A tab of a headless Chromium with a fresh user-data dir."""
    chromium = require_binary("chromium")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, headless=True, args=list(CHROMIUM_ARGS),
            viewport={"width": 1200, "height": 900},
        )  # fmt: skip
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        yield tab
        context.close()


@pytest.mark.parametrize("case", ["full", "empty"])
def test_html_report_renders_every_plot_in_chromium(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]], page: Page, tmp_path: Path, case: str
) -> None:
    prometheus, cases = report_prometheus
    report = build_report(PrometheusClient(prometheus.url), since=PERIOD, until=cases[case].end, slo_window=PERIOD)
    html = tmp_path / "report.html"
    html.write_text(render(report, "html"))
    page.goto(html.as_uri())
    sections = page.eval_on_selector_all("section", "nodes => nodes.map(n => n.id)")
    assert sections == ["journeys", "steps", "api", "database", "checks", "suggestions"]
    images = page.eval_on_selector_all(
        "img.plot", "nodes => nodes.map(n => [n.dataset.plot, n.complete, n.naturalWidth, n.naturalHeight])"
    )
    expected = 6 if case == "full" else 0
    assert len(images) == expected, images
    for name, complete, width, height in images:
        assert complete and width > 300 and height > 80, (name, width, height)
    findings = page.eval_on_selector_all("#suggestions li", "nodes => nodes.map(n => n.className)")
    assert len(findings) == len(report.findings)
    shot = tmp_path / f"report-{case}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if case == "full":
        top = tmp_path / "report-top.png"
        page.screenshot(path=str(top))
        if os.environ.get("UPDATE_DOCS_IMAGES"):
            (REPO_ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, REPO_ROOT / "docs" / "images" / "report.png")
            shutil.copy(top, REPO_ROOT / "docs" / "images" / "report-top.png")
    else:
        assert "no workflow_runs_total in Prometheus" in page.inner_text("#journeys")
