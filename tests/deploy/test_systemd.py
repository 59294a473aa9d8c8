"""deploy/systemd/: the unit passes `systemd-analyze verify` (no warning either), and the flags file's ARGS,
split as systemd splits ``$ARGS``, start the real exporter, which reloads on the unit's ExecReload signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from exporter.cli import _parser
from tests.harness.processes import ManagedProcess, free_port, require_binary, wait_until

SYSTEMD = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
UNIT = SYSTEMD / "workflow-exporter.service"
DEFAULTS = SYSTEMD / "workflow-exporter.default"
EXECUTABLE = Path(sys.executable).with_name("workflow-exporter")

CONFIG = """\
targets:
  shop: {base_url: "http://127.0.0.1:9"}
workflows:
  home:
    targets: [shop]
    interval: 1h
    steps:
      - {name: home, http: {path: /}}
"""


def unit_values(key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(f"{key}=")]


def default_args() -> list[str]:
    """ARGS of the flags file, read by /bin/sh (as Debian's exporters' files are also sourced) and split on
    whitespace, as systemd splits an unquoted ``$ARGS`` in ExecStart."""
    script = f'set -a; . "{DEFAULTS}"; printf "%s" "$ARGS"'
    value = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True, timeout=10).stdout
    return value.split()


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    (ExecStart,) = unit_values("ExecStart")
    assert ExecStart.startswith("/opt/workflow-exporter/bin/workflow-exporter $ARGS")
    unit = tmp_path / "workflow-exporter.service"
    unit.write_text(
        UNIT.read_text()
        .replace("/opt/workflow-exporter/bin/workflow-exporter", str(EXECUTABLE))
        .replace("EnvironmentFile=/etc/default/workflow-exporter", f"EnvironmentFile={DEFAULTS}")
    )
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), result.stderr


def test_verify_reports_a_misspelt_key(tmp_path: Path) -> None:
    analyze = require_binary("systemd-analyze")
    unit = tmp_path / "workflow-exporter.service"
    unit.write_text(UNIT.read_text().replace("ProtectHome=", "ProtectHomes=").replace(
        "/opt/workflow-exporter/bin/workflow-exporter", str(EXECUTABLE)))  # fmt: skip
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "ProtectHomes" in result.stderr


def test_default_args_are_flags_of_the_exporter() -> None:
    args = _parser().parse_args(default_args())
    assert args.command is None  # the service, not a subcommand
    # The run store lives in the unit's StateDirectory, and the listen address is loopback unless changed.
    assert Path(args.storage_path) == Path("/var/lib") / unit_values("StateDirectory")[0]
    assert args.listen.startswith("127.0.0.1:")
    assert not args.enable_replay


def test_the_unit_runs_the_exporter_and_reloads_it(tmp_path: Path) -> None:
    if not EXECUTABLE.exists():
        pytest.fail(f"{EXECUTABLE} missing: pip install -e '.[dev]'")
    config = tmp_path / "workflows.yml"
    config.write_text(CONFIG)
    port = free_port()
    replaced = {
        "--config.file": str(config),
        "--web.listen-address": f"127.0.0.1:{port}",
        "--storage.path": str(tmp_path / "state"),
    }
    args = [
        f"{flag}={replaced[flag]}" if flag in replaced else arg
        for arg in default_args()
        for flag in [arg.split("=", 1)[0]]
    ]
    assert sum(a.split("=", 1)[0] in replaced for a in args) == len(replaced)
    base = f"http://127.0.0.1:{port}"
    process = ManagedProcess("workflow-exporter", [str(EXECUTABLE), *args], tmp_path / "exporter.log",
                             env={"PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        process.wait_ready(lambda: _ok(f"{base}/-/ready"))
        assert "workflow_" in urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        config.write_text(CONFIG.replace("home:", "front-page:", 1))
        os.kill(process.pid, signal.SIGHUP)  # ExecReload=/bin/kill -HUP $MAINPID
        wait_until(lambda: 'workflow="front-page"' in _text(f"{base}/metrics"), 20, "config reloaded on SIGHUP")
        assert (tmp_path / "state").is_dir(), "the run store is created under --storage.path"
    finally:
        process.stop()
    assert process.popen.returncode == 0, process.log_tail()


def _text(url: str) -> str:
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return ""


def _ok(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False
