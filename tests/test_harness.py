"""The harness itself: each real component starts, does its job, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from tests.harness import (
    MariaDB,
    WebhookReceiver,
    start_alertmanager,
    start_mysqld_exporter,
    start_prometheus,
    wait_until,
)
from tests.harness.alertmanager import webhook_config

REPO_ROOT = Path(__file__).resolve().parent.parent


def port_is_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) != 0


def pid_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_prometheus_scrapes_a_target_started_by_the_test(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Gauge("harness_answer", "A value for Prometheus to scrape.", registry=registry).set(42)
    server, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    target = f"127.0.0.1:{server.server_port}"
    prometheus = start_prometheus(tmp_path, [{"job_name": "harness", "static_configs": [{"targets": [target]}]}])
    try:
        prometheus.wait_for_target_up("harness")
        (sample,) = prometheus.wait_for_series('harness_answer{job="harness"}')
        assert sample["value"][1] == "42"
    finally:
        prometheus.stop()
        server.shutdown()
        server.server_close()
    assert pid_is_gone(prometheus.process.pid)
    assert port_is_closed(prometheus.url)


def test_alertmanager_delivers_a_firing_alert_to_a_webhook(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n"
        "- name: harness\n"
        "  rules:\n"
        "  - alert: HarnessAlwaysFiring\n"
        "    expr: vector(1)\n"
        "    labels: {severity: warning}\n"
        "    annotations: {summary: The harness alert fires.}\n"
    )
    webhook = WebhookReceiver.start()
    alertmanager = start_alertmanager(tmp_path / "am", webhook_config(webhook.url))
    prometheus = start_prometheus(tmp_path / "prom", rule_files=[rules], alertmanager_urls=[alertmanager.url])
    try:
        payload = webhook.wait_for_alert("HarnessAlwaysFiring")
        assert payload["version"] == "4"
        assert payload["status"] == "firing"
        (alert,) = payload["alerts"]
        assert alert["labels"]["severity"] == "warning"
        assert alert["annotations"]["summary"] == "The harness alert fires."
    finally:
        prometheus.stop()
        alertmanager.stop()
        webhook.stop()
    assert pid_is_gone(alertmanager.process.pid)
    assert port_is_closed(alertmanager.url)


def test_mariadb_runs_with_performance_schema(mariadb: MariaDB) -> None:
    assert mariadb.query("SHOW GLOBAL VARIABLES LIKE 'performance_schema'") == [("performance_schema", "ON")]
    assert mariadb.query("SELECT @@bind_address") == [("127.0.0.1",)]


def test_mysqld_exporter_reports_the_harness_mariadb(tmp_path: Path, mariadb: MariaDB) -> None:
    exporter = start_mysqld_exporter(tmp_path, mariadb)
    try:
        metrics = exporter.metrics()
        assert "mysql_up 1" in metrics
        assert "mysql_global_status_threads_connected" in metrics
        assert "mysql_version_info{innodb_version=" in metrics
    finally:
        exporter.stop()
    assert port_is_closed(exporter.url)


STOPPED_RUN = """
import os, time
from pathlib import Path

import pytest

from tests.harness import ManagedProcess


@pytest.fixture(scope="session")
def in_fixture(tmp_path_factory):
    process = ManagedProcess("in-fixture", ["sleep", "600"], tmp_path_factory.mktemp("f") / "log")
    yield process
    process.stop()


def test_runs_until_stopped(in_fixture, tmp_path):
    loose = ManagedProcess("in-test-body", ["sleep", "600"], tmp_path / "log")  # no fixture stops this one
    Path(os.environ["PIDS_FILE"]).write_text(f"{in_fixture.pid} {loose.pid}")
    time.sleep(600)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_run_stopped_by_a_signal_stops_what_it_started(tmp_path: Path, signum: signal.Signals) -> None:
    """``timeout``, a CI runner or a closed terminal stopping pytest (SIGTERM, SIGHUP; Ctrl-C is SIGINT) leaves no
    component running: the one a fixture started is stopped by its teardown, the one a test started on its own at
    interpreter exit; pytest exits with 128 + the signal's number (2 for Ctrl-C, pytest's "interrupted")."""
    (tmp_path / "test_stopped.py").write_text(STOPPED_RUN)
    pids_file = tmp_path / "pids"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.harness.interrupt"]
    # As from a terminal: a shell that starts a job in the background (CI runners do) leaves SIGINT ignored, and an
    # ignored signal is inherited, so Ctrl-C's default action is given back to the child.
    with subprocess.Popen(
        [*command, str(tmp_path / "test_stopped.py")],
        cwd=REPO_ROOT,
        env={**os.environ, "PIDS_FILE": str(pids_file), "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=partial(signal.signal, signal.SIGINT, signal.SIG_DFL),
    ) as run:
        try:
            wait_until(lambda: pids_file.exists() and len(pids_file.read_text().split()) == 2, 60, "the processes")
            pids = [int(pid) for pid in pids_file.read_text().split()]
            assert not any(pid_is_gone(pid) for pid in pids)
            run.send_signal(signum)
            output, _ = run.communicate(timeout=60)
        finally:
            run.kill()
    assert run.returncode == (2 if signum == signal.SIGINT else 128 + signum), output.decode()
    for pid in pids:
        wait_until(partial(pid_is_gone, pid), 15, f"process {pid} stopped")
