"""Degraded, not failed: a step over its ``max_duration`` budget marks the run ``degraded`` and the journey goes
on; a step's own ``timeout`` and the run's deadline still fail it. Against the real local stub server."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import pytest

from synthetic.config import ConfigError, parse_config
from synthetic.result import RESULTS, StepResult
from synthetic.run_formats import render_junit, run_document
from synthetic.waterfall import render_waterfall
from tests.steps.stub import StubServer, describe, run_steps


@pytest.fixture
def sqlite_dsn(tmp_path: Path) -> str:
    path = tmp_path / "budget.sqlite3"
    sqlite3.connect(path).close()
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class BudgetCase:
    id: str
    steps: str
    result: str  # the run's
    statuses: dict[str, str]  # step -> ok, degraded, failed:<reason>, skipped
    budget_failed: tuple[str, ...] = ()  # steps whose max_duration check failed (as a warning)


# max_duration 0s: every step is over it; 30s: none is.
BUDGET_CASES = [
    BudgetCase(
        "http-within-budget",
        "- name: a\n  http: {path: /ok}\n  expect: {max_duration: 30s}\n- name: b\n  http: {path: /ok}",
        "success",
        {"a": "ok", "b": "ok"},
    ),
    BudgetCase(
        "http-over-budget-journey-goes-on",
        "- name: a\n  http: {path: /ok}\n  expect: {max_duration: 0s}\n- name: b\n  http: {path: /ok}",
        "degraded",
        {"a": "degraded", "b": "ok"},
        ("a",),
    ),
    BudgetCase(
        "sql-over-budget",
        "- name: q\n  sql: 'SELECT 1 AS one'\n  expect: {rows: 1, max_duration: 0s}\n- name: b\n  http: {path: /ok}",
        "degraded",
        {"q": "degraded", "b": "ok"},
        ("q",),
    ),
    BudgetCase(
        "over-budget-and-a-failed-assertion-is-a-failure",
        "- name: a\n  http: {path: /ok}\n  expect: {status: 201, max_duration: 0s}\n- name: b\n  http: {path: /ok}",
        "failure",
        {"a": "failed:http_status", "b": "skipped"},
        ("a",),
    ),
    BudgetCase(
        "degraded-then-failed-is-a-failure",
        "- name: a\n  http: {path: /ok}\n  expect: {max_duration: 0s}\n- name: b\n  http: {path: /500}",
        "failure",
        {"a": "degraded", "b": "failed:http_status"},
        ("a",),
    ),
    BudgetCase(
        "degraded-teardown-after-a-failure",
        "- name: a\n  http: {path: /500}\n- name: b\n  http: {path: /ok}\n"
        "- name: c\n  always_run: true\n  http: {path: /ok}\n  expect: {max_duration: 0s}",
        "failure",
        {"a": "failed:http_status", "b": "skipped", "c": "degraded"},
        ("c",),
    ),
    BudgetCase(
        "over-budget-and-failed-extraction-is-a-failure",
        "- name: a\n  http: {path: /ok}\n  expect: {max_duration: 0s}\n  extract: {x: {header: X-Absent}}",
        "failure",
        {"a": "failed:extraction"},
        ("a",),
    ),
]


def _status(run_step: StepResult) -> str:
    if run_step.status == "failed":
        return f"failed:{run_step.reason}"
    return "degraded" if run_step.degraded else run_step.status


@pytest.mark.parametrize("case", BUDGET_CASES, ids=lambda case: case.id)
def test_a_budget_degrades_a_step_and_only_a_failure_fails_the_run(
    case: BudgetCase, stub: StubServer, sqlite_dsn: str
) -> None:
    run = run_steps(stub.url, case.steps, target=f"database: {{dsn: '{sqlite_dsn}'}}")
    assert run.result == case.result, describe(run)
    assert run.result in RESULTS
    assert {s.name: _status(s) for s in run.steps} == case.statuses, describe(run)
    assert run.success == (case.result != "failure")
    assert run.degraded == (case.result == "degraded")
    for run_step in run.steps:
        budget = [check for check in run_step.assertions if check.name == "max_duration"]
        assert all(check.severity == "warning" for check in budget)
        assert ([check.ok for check in budget] == [False]) == (run_step.name in case.budget_failed)
    if case.result == "degraded":
        assert run.degraded_step is not None and run.degraded_step.name == case.budget_failed[0]
        assert run.failed_step is None and run.reason is None


# --- fail or degrade, by what an assertion judged (synthetic.steps._base) -----------------------------------------


@dataclass(frozen=True)
class JudgedCase:
    id: str
    expect: str  # the first step's expect, on /server-timing (4 queries, db 3.5 ms, app 12.5 ms) unless path says
    result: str  # the run's
    status: str  # the first step's: ok, degraded, failed:<reason>
    broken: tuple[str, ...] = ()  # the first step's failed warning assertions (the budgets), by name
    path: str = "/server-timing"


# The rule: what the user gets (status, content, schema) fails the step; how it was made (latency budget, server
# limits) degrades it. Two different budgets never look alike: each names itself.
JUDGED_CASES = [
    JudgedCase("server-limits-within", "{server: {max_queries: 4, max_db_duration: 4ms}}", "success", "ok"),
    JudgedCase("max-queries-over-degrades", "{server: {max_queries: 3}}", "degraded", "degraded", ("max_queries",)),
    JudgedCase(
        "max-db-duration-over-degrades",
        "{server: {max_db_duration: 3ms}}",
        "degraded",
        "degraded",
        ("max_db_duration",),
    ),
    JudgedCase(
        "max-app-duration-over-degrades",
        "{server: {max_app_duration: 10ms}}",
        "degraded",
        "degraded",
        ("max_app_duration",),
    ),
    JudgedCase(
        "no-server-timing-degrades", "{server: {max_queries: 10}}", "degraded", "degraded", ("max_queries",), path="/ok"
    ),
    JudgedCase(
        "latency-and-queries-name-each-budget",
        "{max_duration: 0s, server: {max_queries: 3}}",
        "degraded",
        "degraded",
        ("max_duration", "max_queries"),
    ),
    JudgedCase("latency-budget-alone", "{max_duration: 0s}", "degraded", "degraded", ("max_duration",)),
    JudgedCase(
        "status-fails-over-a-server-limit",
        "{status: 201, server: {max_queries: 3}}",
        "failure",
        "failed:http_status",
        ("max_queries",),
    ),
    JudgedCase("body-fails", "{body_regex: absent-text, server: {max_queries: 4}}", "failure", "failed:assertion"),
    JudgedCase("json-fails", "{json: {timed: false}}", "failure", "failed:assertion"),
    JudgedCase(
        "schema-fails",
        "{json_schema: {type: array}, server: {max_queries: 3}}",
        "failure",
        "failed:schema",
        ("max_queries",),
    ),
]


@pytest.mark.parametrize("case", JUDGED_CASES, ids=lambda case: case.id)
def test_what_an_assertion_judged_decides_fail_or_degrade(case: JudgedCase, stub: StubServer) -> None:
    run = run_steps(stub.url, f"- name: a\n  http: {{path: {case.path}}}\n  expect: {case.expect}\n"
                              "- name: b\n  http: {path: /ok}")  # fmt: skip
    first = run.steps[0]
    assert (run.result, _status(first)) == (case.result, case.status), describe(run)
    broken = [check for check in first.assertions if not check.ok and check.severity == "warning"]
    assert tuple(check.name for check in broken) == case.broken
    assert _status(run.steps[1]) == ("skipped" if case.result == "failure" else "ok")
    if case.result == "degraded":
        assert run.degraded_step is first and run.reason is None
        # Every broken budget is named on the waterfall, in the words of its assertion.
        line = next(line for line in render_waterfall(run).splitlines() if line.startswith("degraded step a:"))
        assert all(check.message in line for check in broken), line
    if case.result == "failure":
        assert run.failed_step is first and not first.degraded


def test_a_server_limit_degraded_run_says_which_limit_in_every_format(stub: StubServer) -> None:
    run = run_steps(stub.url, "- name: list\n  http: {path: /server-timing}\n  expect: {server: {max_queries: 3}}")
    assert "degraded step list: over its budget: server ran 4 queries, at most 3 allowed" in render_waterfall(run)
    document = run_document(run)
    assert (document["result"], document["steps"][0]["degraded"]) == ("degraded", True)
    (case,) = [c for c in ElementTree.fromstring(render_junit(run)).iter("testcase") if c.get("name") == "list"]
    assert case.find("failure") is None
    assert "degraded: over its budget: server ran 4 queries, at most 3 allowed" in (case.findtext("system-out") or "")


def test_a_degraded_run_in_every_format(stub: StubServer) -> None:
    run = run_steps(
        stub.url, "- name: slow\n  http: {path: /ok}\n  expect: {max_duration: 0s}\n- name: b\n  http: {path: /ok}"
    )
    text = render_waterfall(run)
    assert text.startswith("workflow wf on stub: DEGRADED in ")
    assert any(line.startswith("slow") and " degraded " in line for line in text.splitlines())
    assert "degraded step slow: over its budget: took " in text
    document = run_document(run)
    assert (document["result"], document["reason"]) == ("degraded", None)
    slow = document["steps"][0]
    assert (slow["status"], slow["degraded"]) == ("ok", True)
    assert {"name": "max_duration", "ok": False, "reason": "assertion", "severity": "warning"}.items() <= {
        **next(c for c in slow["assertions"] if c["name"] == "max_duration")
    }.items()
    assert json.loads(json.dumps(document, default=str))["steps"][1]["degraded"] is False
    suite = ElementTree.fromstring(render_junit(run))
    assert suite.get("failures") == "0"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["result"] == "degraded"
    (case,) = [c for c in suite.iter("testcase") if c.get("name") == "slow"]
    assert case.find("failure") is None
    assert "degraded: over its budget: took " in (case.findtext("system-out") or "")


# --- a step's own timeout --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeoutCase:
    id: str
    steps: str
    run_timeout: str
    statuses: dict[str, str]
    message_names_step_timeout: bool = False


TIMEOUT_CASES = [
    TimeoutCase(
        "step-timeout-fails-the-step-and-the-run-goes-to-teardown",
        "- name: slow\n  timeout: 300ms\n  http: {path: /slow, query: {seconds: 3}}\n"
        "- name: later\n  http: {path: /ok}\n- name: teardown\n  always_run: true\n  http: {path: /ok}",
        "5s",
        {"slow": "failed:timeout", "later": "skipped", "teardown": "ok"},
        message_names_step_timeout=True,
    ),
    TimeoutCase(
        "a-fast-step-is-not-cut",
        "- name: fast\n  timeout: 2s\n  http: {path: /ok}\n- name: later\n  http: {path: /ok}",
        "5s",
        {"fast": "ok", "later": "ok"},
    ),
    TimeoutCase(
        "the-run-deadline-comes-first",
        # 0.6 s of the 1 s run is gone: the step's 1 s timeout would end later than the run, which ends it.
        "- name: first\n  http: {path: /slow, query: {seconds: 0.6}}\n"
        "- name: slow\n  timeout: 1s\n  http: {path: /slow, query: {seconds: 3}}",
        "1s",
        {"first": "ok", "slow": "failed:timeout"},
    ),
    TimeoutCase(
        "a-step-timeout-leaves-the-rest-of-the-run-its-deadline",
        "- name: slow\n  timeout: 300ms\n  always_run: true\n  http: {path: /slow, query: {seconds: 3}}\n"
        "- name: teardown\n  always_run: true\n  http: {path: /slow, query: {seconds: 0.5}}",
        "5s",
        {"slow": "failed:timeout", "teardown": "ok"},
        message_names_step_timeout=True,
    ),
]


@pytest.mark.parametrize("case", TIMEOUT_CASES, ids=lambda case: case.id)
def test_a_step_timeout_fails_the_step(case: TimeoutCase, stub: StubServer) -> None:
    run = run_steps(stub.url, case.steps, timeout=case.run_timeout)
    assert {s.name: _status(s) for s in run.steps} == case.statuses, describe(run)
    failed = run.failed_step
    if failed is not None:
        assert run.result == "failure"
        assert failed.message.endswith("(the step's timeout: 0.3s)") == case.message_names_step_timeout, failed.message
        if case.message_names_step_timeout:
            assert 0.29 <= failed.duration < 3, failed.duration  # the deadline is measured from just before the send


@pytest.mark.parametrize(
    ("step_fields", "problem"),
    [
        ("timeout: 2s", "timeout (2s) must not be longer than the workflow's timeout (1s)"),
        ("timeout: 0s", "timeout: must be longer than 0"),
        ("timeout: soon", "timeout: 'soon' is not a duration (use e.g. 500ms, 5s, 1m)"),
    ],
)
def test_step_timeout_problems(step_fields: str, problem: str) -> None:
    text = (
        "targets:\n  t: {base_url: 'http://127.0.0.1:9'}\n"
        "workflows:\n  wf:\n    targets: [t]\n    timeout: 1s\n    steps:\n"
        f"      - name: s\n        {step_fields}\n        http: {{path: /}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.yml")
    assert caught.value.problems == [f"test.yml: workflow 'wf', step 's': {problem}"]


def test_step_timeout_is_read() -> None:
    text = (
        "targets:\n  t: {base_url: 'http://127.0.0.1:9'}\n"
        "workflows:\n  wf:\n    targets: [t]\n    timeout: 3s\n    steps:\n"
        "      - {name: a, timeout: 500ms, http: {path: /}, expect: {max_duration: 200ms}}\n"
        "      - {name: b, http: {path: /}}\n"
    )
    steps = parse_config(text, "test.yml").workflows["wf"].steps
    assert [(s.timeout, s.max_duration) for s in steps] == [(0.5, 0.2), (None, None)]
