"""``workflow-exporter contract``: one sweep as a table, JSON or JUnit XML; exit 0 when every check passed, 1
when one failed or the sweep could not run (what CI pipelines read), 2 on bad usage."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main
from tests.harness.hostile_target import Conn, HostileTarget, Seen, serve_hostile

from .helpers import document, json_response

ITEM = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}


@pytest.fixture
def api() -> Iterator[tuple[HostileTarget, dict[str, Any]]]:
    state = {"drift": False}
    with serve_hostile() as server:
        server.route("/doc", lambda conn, seen: conn.json(200, document({"/item": {"get": json_response(ITEM)}})))

        def item(conn: Conn, seen: Seen) -> None:
            conn.json(200, {"id": "x" if state["drift"] else 1})

        server.route("/item", item)
        yield server, state


@pytest.fixture
def config_file(api: tuple[HostileTarget, dict[str, Any]], tmp_path: Path) -> Path:
    server, _ = api
    path = tmp_path / "c.yml"
    path.write_text(f"""
targets:
  api:
    base_url: {server.url}
    headers: {{X-Api-Key: key-that-must-not-show-1234}}
    contracts:
      openapi: /doc
      checks: [not_a_server_error, response_schema_conformance, cors_preflight]
  plain:
    base_url: {server.url}
workflows:
  idle:
    targets: [api]
    steps:
      - name: ok
        http: {{path: /ok}}
""")
    return path


def test_all_passed_is_exit_0(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", f"--config.file={config_file}"]) == 0  # the one target with contracts
    out = capsys.readouterr().out
    assert out.startswith("contract sweep of api: PASSED; 1 operations, 2 of 500 requests")
    assert "GET /item  response_schema_conformance  PASSED   the 200 body matches its schema" in out


def test_a_failed_check_is_exit_1_with_its_example(
    config_file: Path, api: tuple[HostileTarget, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    api[1]["drift"] = True
    assert main(["contract", f"--config.file={config_file}", "--target", "api", "-v"]) == 1
    out = capsys.readouterr().out
    assert "FAILED   the 200 body does not match its schema: id: 'x' is not of type 'integer'" in out
    assert "first schema error: id: 'x' is not of type 'integer'" in out
    assert "curl -sS -X GET" in out and "key-that-must-not-show-1234" not in out


@pytest.mark.parametrize("output_format", ["json", "junit"])
def test_json_and_junit_to_a_file(
    config_file: Path,
    api: tuple[HostileTarget, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    output_format: str,
) -> None:
    api[1]["drift"] = True
    output = tmp_path / f"out.{output_format}"
    assert main(["contract", f"--config.file={config_file}", "--format", output_format, "--output", str(output)]) == 1
    assert capsys.readouterr().out.startswith("contract sweep of api: FAILED")  # a person still sees the table
    text = output.read_text()
    assert "key-that-must-not-show-1234" not in text
    if output_format == "json":
        sweep = json.loads(text)
        assert sweep["result"] == "failure" and sweep["counts"] == {"passed": 2, "failed": 1, "error": 0,
                                                                    "skipped": 0}  # fmt: skip
        failed = [r for r in sweep["results"] if r["status"] == "failed"]
        assert [(r["operation"], r["check"]) for r in failed] == [("GET /item", "response_schema_conformance")]
        assert failed[0]["example"]["schema_error"] == "id: 'x' is not of type 'integer'"
        assert failed[0]["example"]["request_headers"]["X-Api-Key"] == "[REDACTED]"
    else:
        suite = ElementTree.fromstring(text)
        assert (suite.tag, suite.get("name"), suite.get("tests"), suite.get("failures")) == (
            "testsuite", "contracts on api", "3", "1")  # fmt: skip
        failure = suite.find("testcase[@name='response_schema_conformance']/failure")
        assert failure is not None and failure.get("type") == "response_schema_conformance"


def test_a_sweep_that_cannot_run_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yml"
    path.write_text("""
targets:
  api:
    base_url: http://127.0.0.1:9
    contracts: {openapi: /doc, timeout: 2s, request_timeout: 1s}
workflows:
  idle:
    targets: [api]
    steps:
      - name: ok
        http: {path: /ok}
""")
    assert main(["contract", f"--config.file={path}", "--format", "junit"]) == 1
    suite = ElementTree.fromstring(capsys.readouterr().out)
    error = suite.find("testcase[@name='sweep']/error")
    assert error is not None and "cannot fetch the OpenAPI document '/doc': connect" in (error.get("message") or "")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--target", "plain"], "--target must name a target with contracts: api"),
        (["--target", "nope"], "--target must name a target with contracts: api"),
    ],
)
def test_bad_usage_is_exit_2(
    config_file: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    assert main(["contract", f"--config.file={config_file}", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_an_invalid_config_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yml"
    path.write_text("targets: {api: {base_url: 'http://x', contracts: {interval: soon}}}\nworkflows: {}\n")
    assert main(["contract", f"--config.file={path}"]) == 2
    assert "contracts: interval: 'soon' is not a duration" in capsys.readouterr().err
