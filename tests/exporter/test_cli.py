"""The command line says what is true and needs only what it uses (issue: the command line misleads).

* ``run`` validates only the chosen workflow and what it uses: an unset ``${env:...}`` in a target's database
  or in a credential blocks only the workflows with sql steps or using that credential; problems of other
  workflows do not block it either;
* ``--help`` shows plain text (no reStructuredText markup) and every flag's default, for the service and ``run``;
* ``run --format json|junit [--output FILE]`` write what CI reads, exit 0/1 by the result and 2 on bad usage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CONFIG = """
targets:
  shop:
    base_url: {url}
    credentials:
      probe: {{username: probe, password: "${{env:WFX_CLI_PROBE_PASSWORD}}"}}
      admin: {{username: admin, password: "${{env:WFX_CLI_ADMIN_PASSWORD}}"}}
    database: {{dsn: "${{env:WFX_CLI_DATABASE_URL}}"}}
workflows:
  login:
    targets: [shop]
    steps:
      - {{name: home, http: {{path: /ok, query: {{user: "${{credentials.probe.username}}"}}}}}}
  admin:
    targets: [shop]
    steps:
      - {{name: home, http: {{path: /ok, headers: {{X-Pw: "${{credentials.admin.password}}"}}}}}}
  checkout:
    targets: [shop]
    steps:
      - {{name: home, http: {{path: /ok}}}}
      - {{name: row, sql: "SELECT 1"}}
  broken:
    targets: [shop]
    steps:
      - {{name: home, http: {{path: /ok}}, expect: {{status: "nope"}}}}
  failing:
    targets: [shop]
    steps:
      - {{name: home, http: {{path: /fail}}}}
      - {{name: after, http: {{path: /ok}}}}
"""

ENV_NAMES = ("WFX_CLI_PROBE_PASSWORD", "WFX_CLI_ADMIN_PASSWORD", "WFX_CLI_DATABASE_URL")


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args], cwd=cwd, env={**clean, **(env or {})},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def config_file(tmp_path: Path, target) -> Path:
    path = tmp_path / "workflows.yml"
    path.write_text(CONFIG.format(url=target.url))
    return path


@dataclass(frozen=True)
class RunCase:
    workflow: str
    env: tuple[tuple[str, str], ...]
    code: int
    says: str


RUN_CASES = [
    # needs nothing unset: the database and the admin credential are someone else's
    RunCase("login", (), 2, "WFX_CLI_PROBE_PASSWORD is not set"),
    RunCase("login", (("WFX_CLI_PROBE_PASSWORD", "pw-1"),), 0, "SUCCESS"),
    RunCase("admin", (("WFX_CLI_PROBE_PASSWORD", "pw-1"),), 2, "WFX_CLI_ADMIN_PASSWORD is not set"),
    RunCase("admin", (("WFX_CLI_ADMIN_PASSWORD", "pw-2"),), 0, "SUCCESS"),
    RunCase("checkout", (), 2, "WFX_CLI_DATABASE_URL is not set"),
    RunCase("failing", (), 1, "failed step home: http_status"),
    RunCase("broken", (), 2, "expect.status: 'nope' is not a status code"),
    RunCase("logn", (), 2, "unknown workflow 'logn' (did you mean 'login'?)"),
]


@pytest.mark.parametrize("case", RUN_CASES, ids=[f"{c.workflow}-{c.code}-{len(c.env)}" for c in RUN_CASES])
def test_run_needs_only_what_its_workflow_uses(case: RunCase, config_file: Path) -> None:
    result = _cli("run", f"--config.file={config_file}", "--workflow", case.workflow, env=dict(case.env))
    assert result.returncode == case.code, result.stdout + result.stderr
    assert case.says in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_the_service_still_needs_everything(config_file: Path) -> None:
    result = _cli(f"--config.file={config_file}", "--config.check")
    assert result.returncode == 1
    for name in ENV_NAMES:
        assert f"environment variable {name} is not set" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"]], ids=["service", "run"])
def test_help_is_plain_text_with_defaults(args: list[str]) -> None:
    result = _cli(*args)
    assert result.returncode == 0
    assert "``" not in result.stdout and ":func:" not in result.stdout
    if args == ["--help"]:
        for shown in ("(default: workflows.yml)", "(default: 127.0.0.1:9716)", "(default: 0/1)", "(default: 200)"):
            assert shown in result.stdout, shown
    else:
        assert "(default: text)" in result.stdout and "exit 0 on success, 1 on failure" in result.stdout


def test_run_writes_json_for_ci(config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    result = _cli("run", f"--config.file={config_file}", "--workflow", "failing", "--format", "json", f"--output={out}")
    assert result.returncode == 1, result.stderr
    assert "FAILURE" in result.stdout  # a person still sees the waterfall
    document = json.loads(out.read_text())
    assert document["result"] == "failure" and document["reason"] == "http_status"
    assert [(s["name"], s["status"], s["reason"]) for s in document["steps"]] == [
        ("home", "failed", "http_status"),
        ("after", "skipped", "skipped"),
    ]
    assert document["steps"][0]["http_status"] == 500 and document["steps"][0]["exchange"]["curl"].startswith("curl")


def test_run_writes_junit_for_ci(config_file: Path) -> None:
    result = _cli("run", f"--config.file={config_file}", "--workflow", "failing", "--format", "junit")
    assert result.returncode == 1, result.stderr
    suite = ElementTree.fromstring(result.stdout)
    assert suite.tag == "testsuite" and suite.get("name") == "failing on shop"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "1")
    home, after = suite.findall("testcase")
    failure = home.find("failure")
    assert failure is not None and failure.get("type") == "http_status"
    assert after.find("skipped") is not None
    system_out = home.find("system-out")
    assert system_out is not None and "reproduce: curl" in (system_out.text or "")


def test_run_output_to_an_unwritable_place_is_bad_usage(config_file: Path, tmp_path: Path) -> None:
    result = _cli("run", f"--config.file={config_file}", "--workflow", "failing", f"--output={tmp_path}/no/such/x")
    assert result.returncode == 2 and "--output" in result.stderr


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("no/such/dir/exporter.log", "No such file or directory"),
        (".", "Is a directory"),
    ],
    ids=["in a missing directory", "a directory"],
)
def test_a_log_file_that_cannot_be_opened_is_bad_usage(config_file: Path, tmp_path: Path, where: str,
                                                       says: str) -> None:  # fmt: skip
    result = _cli(f"--log.file={tmp_path / where}", "--config.check", f"--config.file={config_file}")
    assert result.returncode == 2 and f"--log.file={tmp_path / where}" in result.stderr and says in result.stderr


def test_the_log_file_gets_the_json_lines(config_file: Path, tmp_path: Path) -> None:
    log = tmp_path / "exporter.log"
    result = _cli(f"--log.file={log}", "--log.level=info", "run", f"--config.file={config_file}", "--workflow",
                  "failing")  # fmt: skip
    assert result.returncode == 1 and "failed step home" in result.stdout
    (line,) = [json.loads(text) for text in log.read_text().splitlines()]
    assert line["workflow"] == "failing" and line["result"] == "failure" and line["correlation_id"]
    assert "failing on shop" not in result.stderr  # the line went to the file only
