"""The report's sections against a real Prometheus holding hand-written series; missing sources, Prometheus
down, slow or timing out; the three formats; the command line and --fail-on."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.report import PrometheusClient, build_report, render
from tests.harness.processes import free_port
from tests.harness.prometheus import Prometheus

from .series import PERIOD, Scenario

SECTIONS = ["journeys", "steps", "api", "database", "checks", "suggestions"]


def test_full_report_names_every_finding_ranked(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]], client: PrometheusClient
) -> None:
    _, cases = report_prometheus
    report = build_report(client, since=PERIOD, until=cases["full"].end, slo_window=PERIOD)
    assert [s.key for s in report.sections] == SECTIONS
    assert {s.key: s.status for s in report.sections} == dict.fromkeys(SECTIONS, "ok")
    assert {f.rule for f in report.findings} == {
        "journey_regression",
        "step_over_budget",
        "slow_route",
        "route_errors",
        "n_plus_one",
        "slow_statement",
        "checks_failing",
    }
    severities = [f.severity for f in report.findings]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    assert severities[0] == "critical"
    journey = report.data.journeys[0]
    assert (journey.workflow, round(journey.success_ratio or 0, 3), journey.previous_success_ratio) == (
        "checkout",
        0.8,
        1.0,
    )
    step = report.data.steps[0]
    assert (
        step.step == "pay" and step.budget == 1.0 and step.db == pytest.approx(1.5) and step.app == pytest.approx(0.1)
    )
    route = report.data.routes[0]
    assert route.route == "api/products/" and route.error_ratio == pytest.approx(0.1) and route.repeated > 0
    assert {s.text.split("FROM ")[1].split()[0] for s in report.data.statements} == {"`shop_category`", "`shop_order`"}
    assert 10 < report.queries < 40


def test_empty_prometheus_says_each_missing_source_in_one_line(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]], client: PrometheusClient
) -> None:
    _, cases = report_prometheus
    report = build_report(client, since=PERIOD, until=cases["empty"].end, slo_window=PERIOD)
    messages = {s.key: (s.status, s.message) for s in report.sections if s.key != "suggestions"}
    assert messages == {
        "journeys": ("missing", "no workflow_runs_total in Prometheus for this period: is the exporter scraped?"),
        "steps": (
            "missing",
            "no workflow_step_duration_seconds in Prometheus for this period: is the exporter scraped?",
        ),
        "api": (
            "missing",
            "no django_request_duration_seconds in Prometheus for this period: is the Django app scraped?",
        ),
        "database": (
            "missing",
            "no mysqld_exporter in Prometheus (mysql_up is absent): statement digests are not shown",
        ),
        "checks": ("missing", "no contract checks or integrity checks in Prometheus"),
    }
    assert report.findings == []
    assert "no mysqld_exporter in Prometheus" in render(report, "markdown")


class _Slow(BaseHTTPRequestHandler):
    delay = 3.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_prometheus() -> Iterator[str]:
    """An HTTP server that answers every query after 3 s."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _down_url() -> str:
    port = free_port()
    with socket.socket() as probe:  # nothing listens there
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("case", ["down", "timeout"])
def test_prometheus_down_or_timing_out_gives_a_message_per_section(case: str, slow_prometheus: str) -> None:
    url = _down_url() if case == "down" else slow_prometheus
    report = build_report(PrometheusClient(url, timeout=0.5), since=3600)
    expected = "did not answer: timed out" if case == "timeout" else "did not answer"
    for section in report.sections[:-1]:
        assert section.status == "error", section
        assert section.message.startswith(f"Prometheus at {url} {expected}"), section.message
    assert report.findings == []


@pytest.mark.parametrize(
    "case,fail_on,code",
    [
        ("down", "never", 0),
        ("down", "critical", 1),
        ("full", "never", 0),
        ("full", "critical", 1),
        ("full", "info", 1),
        ("empty", "critical", 0),
        ("checks_failing:fires", "critical", 0),
        ("checks_failing:fires", "warning", 1),
    ],
)
def test_cli_exit_code_is_non_zero_only_with_fail_on(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    fail_on: str,
    code: int,
) -> None:
    prometheus, cases = report_prometheus
    url, until = (_down_url(), time.time()) if case == "down" else (prometheus.url, cases[case].end)
    out = tmp_path / "report.json"
    argv = [
        "report",
        "--prometheus",
        url,
        "--since",
        "1h",
        "--until",
        str(until),
        "--slo-window",
        "1h",
        "--output",
        str(out),
        "--fail-on",
        fail_on,
        "--query.timeout",
        "5s",
    ]
    assert main(argv) == code
    body = json.loads(out.read_text())
    assert [s["key"] for s in body["sections"]] == SECTIONS
    if case == "down":
        assert "did not answer" in capsys.readouterr().err


def test_formats(report_prometheus: tuple[Prometheus, dict[str, Scenario]], tmp_path: Path) -> None:
    prometheus, cases = report_prometheus
    until = str(cases["full"].end)
    common = ["report", "--prometheus", prometheus.url, "--since", "1h", "--until", until, "--slo-window", "1h"]
    assert main([*common, "--output", str(tmp_path / "week.md")]) == 0
    markdown = (tmp_path / "week.md").read_text()
    pngs = sorted(p.name for p in tmp_path.glob("week-*.png"))
    assert pngs == [
        "week-api_p95.png",
        "week-api_queries.png",
        "week-db_slowest.png",
        "week-journeys_p95.png",
        "week-journeys_success.png",
        "week-steps_split.png",
    ]
    for name in pngs:
        assert f"]({name})" in markdown
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "select_related('category')" in markdown and "## Suggestions" in markdown
    assert main([*common, "--output", str(tmp_path / "week.html")]) == 0
    html = (tmp_path / "week.html").read_text()
    assert html.count('src="data:image/png;base64,') == 6
    assert "select_related(&#39;category&#39;)" in html
    assert list(tmp_path.glob("week.html*")) == [tmp_path / "week.html"]


def test_cli_reads_failure_groups_from_the_run_store(
    report_prometheus: tuple[Prometheus, dict[str, Scenario]], tmp_path: Path
) -> None:
    from exporter.store import RunStore
    from tests.exporter.test_store import make_run

    prometheus, cases = report_prometheus
    end = cases["full"].end
    store = RunStore(tmp_path / "store")
    for index in range(3):
        store.add(make_run(f"run-{index:02d}-abcdefgh", started_at=end - 600 + index, failed="pay"))
    store.add(make_run("run-old-abcdefgh", started_at=end - 3 * PERIOD, failed="pay"))  # before the period
    store.add(make_run("run-ok-abcdefgh", started_at=end - 300))
    store.flush()
    store.close()
    out = tmp_path / "report.json"
    argv = ["report", "--prometheus", prometheus.url, "--since", "1h", "--until", str(end), "--slo-window", "1h",
            "--storage.path", str(tmp_path / "store"), "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    groups = json.loads(out.read_text())["data"]["failure_groups"]
    assert [(g["workflow"], g["step"], g["reason"], g["count"]) for g in groups] == [
        ("checkout", "pay", "http_status", 3)
    ]
    assert groups[0]["examples"] == ["run-02-abcdefgh", "run-01-abcdefgh", "run-00-abcdefgh"]
    assert "most failures at step pay" in json.dumps(json.loads(out.read_text())["findings"])
    assert main([*argv[:-4], "--storage.path", str(tmp_path / "nothing"), "--output", str(out)]) == 2
