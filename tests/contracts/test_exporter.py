"""Contract sweeps in the running exporter: scheduled on their interval, replacing their target's series with
every sweep, on demand from /probe?module=contract, on /contracts, and following reloads. The API is a real
HTTP server whose answers the test changes between sweeps."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from synthetic.contracts.sweep import SweepResult
from tests.exporter.conftest import RunningExporter, serve_exporter  # noqa: F401 - the fixture
from tests.harness import wait_until
from tests.harness.hostile_target import Conn, HostileTarget, Seen, serve_hostile

from .helpers import document, json_response

ITEM = {"type": "object", "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}  # fmt: skip
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance"]


@pytest.fixture
def api() -> Iterator[tuple[HostileTarget, dict[str, Any]]]:
    """GET /items/{id} and GET /other, documented at /doc; ``state`` changes what they answer."""
    state: dict[str, Any] = {"drift": False, "drop_other": False, "doc_status": 200}
    with serve_hostile() as server:

        def doc(conn: Conn, seen: Seen) -> None:
            paths = {"/items/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": True,
                                                             "schema": {"type": "integer"}}],
                                             **json_response(ITEM)}}}  # fmt: skip
            if not state["drop_other"]:
                paths["/other"] = {"get": json_response({"type": "object"})}
            conn.answer(state["doc_status"], json.dumps(document(paths)).encode(), {"Content-Type": "application/json"})

        def item(conn: Conn, seen: Seen) -> None:
            conn.json(200, {"id": "1" if state["drift"] else 1, "name": "tea"})

        server.route("/doc", doc)
        server.route("/items/1", item)
        server.route("/other", lambda conn, seen: conn.json(200, {}))
        yield server, state


def config_text(base_url: str, contracts: bool = True) -> str:
    section = (
        f"""
    contracts:
      openapi: /doc
      interval: 1s
      timeout: 1s
      checks: {json.dumps(CHECKS)}
      parameters: {{values: {{id: 1}}}}"""
        if contracts
        else ""
    )
    return f"""
targets:
  api:
    base_url: {base_url}{section}
workflows:
  idle:
    targets: [api]
    interval: 1h
    steps:
      - name: ok
        http: {{path: /ok}}
"""


def value(running: RunningExporter, operation: str, check: str) -> float | None:
    return running.registry.get_sample_value("workflow_contract_check_success",
                                             {"target": "api", "operation": operation, "check": check})  # fmt: skip


def series(running: RunningExporter) -> set[tuple[str, str]]:
    return {(s.labels["operation"], s.labels["check"]) for family in running.registry.collect()
            if family.name == "workflow_contract_check_success" for s in family.samples}  # fmt: skip


def next_sweep(running: RunningExporter, after: float) -> SweepResult:
    """The first sweep of ``api`` that started after ``after`` (unix time) and has ended."""

    def ended() -> SweepResult | None:
        sweep = running.exporter.contracts.results.get("api")
        return sweep if sweep is not None and sweep.started_at > after else None

    return wait_until(ended, 20, "a sweep to end")


def test_sweeps_on_schedule_replace_their_series(
    serve_exporter: Callable[..., RunningExporter],  # noqa: F811
    api: tuple[HostileTarget, dict[str, Any]],
) -> None:
    server, state = api
    running = serve_exporter(config_text(server.url), schedule=True)
    next_sweep(running, 0)
    assert series(running) == {(op, check) for op in ("GET /items/{id}", "GET /other") for check in CHECKS}
    labels = {"target": "api"}
    assert running.registry.get_sample_value("workflow_contract_sweep_success", labels) == 1
    assert running.registry.get_sample_value("workflow_contract_sweep_interval_seconds", labels) == 1
    assert running.registry.get_sample_value("workflow_contract_checks", {**labels, "result": "passed"}) == 8
    assert running.registry.get_sample_value("workflow_contract_sweep_requests", labels) == 2

    # The body drifts from its schema: the next sweep turns exactly that series to 0, with its example on the page.
    state["drift"] = True
    next_sweep(running, time.time())
    assert value(running, "GET /items/{id}", "response_schema_conformance") == 0
    assert value(running, "GET /items/{id}", "status_code_conformance") == 1
    page = requests.get(f"{running.url}/contracts/api", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "GET /items/{id}" in page.text and "id: &#39;1&#39; is not of type &#39;integer&#39;" in page.text
    assert f"GET {server.url}/items/1" in page.text  # the example's request line
    overview = requests.get(f"{running.url}/contracts", timeout=10).text
    assert 'href="/contracts/api"' in overview and "response_schema_conformance" in overview

    # An operation leaves the document: its series go; the drift is mended: back to 1.
    state["drift"], state["drop_other"] = False, True
    next_sweep(running, time.time())
    assert value(running, "GET /items/{id}", "response_schema_conformance") == 1
    assert series(running) == {("GET /items/{id}", check) for check in CHECKS}

    # The document cannot be fetched: the sweep says so; the last verdicts stand (no false "all clear").
    state["doc_status"] = 500
    assert next_sweep(running, time.time()).error is not None
    assert running.registry.get_sample_value("workflow_contract_sweep_success", labels) == 0
    assert value(running, "GET /items/{id}", "response_schema_conformance") == 1
    assert "it answered 500" in requests.get(f"{running.url}/contracts/api", timeout=10).text

    # Contracts leave the config: every series of them goes.
    running.config_path.write_text(config_text(server.url, contracts=False))
    assert running.exporter.reload().ok
    assert series(running) == set()
    for name in ("workflow_contract_sweep_success", "workflow_contract_last_sweep_timestamp_seconds",
                 "workflow_contract_sweep_interval_seconds"):  # fmt: skip
        assert running.registry.get_sample_value(name, labels) is None, name
    assert requests.get(f"{running.url}/contracts/api", timeout=10).status_code == 404


def test_probe_module_contract_sweeps_on_demand(
    serve_exporter: Callable[..., RunningExporter],  # noqa: F811
    api: tuple[HostileTarget, dict[str, Any]],
) -> None:
    server, state = api
    running = serve_exporter(config_text(server.url))  # not scheduled: only the probe sweeps
    state["drift"] = True
    answer = requests.get(f"{running.url}/probe", params={"target": "api", "module": "contract"}, timeout=30,
                          headers={"X-Prometheus-Scrape-Timeout-Seconds": "10"})  # fmt: skip
    assert answer.status_code == 200
    lines = answer.text.splitlines()
    assert "probe_success 0.0" in lines
    assert "probe_timeout_seconds 1.0" in lines  # the contracts' own timeout is the smaller
    assert "probe_contract_requests 2.0" in lines
    assert 'probe_contract_check_success{check="response_schema_conformance",operation="GET /items/{id}"} 0.0' in lines
    assert 'probe_contract_check_success{check="not_a_server_error",operation="GET /other"} 1.0' in lines
    # recorded like a scheduled sweep
    assert value(running, "GET /items/{id}", "response_schema_conformance") == 0
    debug = requests.get(f"{running.url}/probe", params={"target": "api", "module": "contract", "debug": "true"},
                         timeout=30).text  # fmt: skip
    assert debug.startswith("contract sweep of api: FAILED") and "Metrics that would have been returned:" in debug
    bad = requests.get(f"{running.url}/probe", params={"target": "nope", "module": "contract"}, timeout=10)
    assert bad.status_code == 400 and "targets with contracts: api" in bad.text


def test_a_failing_check_shows_before_the_sweep_ends(
    serve_exporter: Callable[..., RunningExporter],  # noqa: F811
) -> None:
    """Verdicts are recorded operation by operation: a drift on the first operation is 0 while the sweep still
    waits for the second one's answer."""
    answer_now = threading.Event()
    with serve_hostile() as server:
        paths = {"/a": {"get": json_response(ITEM)}, "/b": {"get": json_response(ITEM)}}
        server.route("/doc", lambda conn, seen: conn.json(200, document(paths)))
        server.route("/a", lambda conn, seen: conn.json(200, {"id": "drifted", "name": "tea"}))

        def slow(conn: Conn, seen: Seen) -> None:
            answer_now.wait(20)
            conn.json(200, {"id": 2, "name": "tea"})

        server.route("/b", slow)
        running = serve_exporter(config_text(server.url).replace("timeout: 1s", "timeout: 30s")
                                 .replace("interval: 1s", "interval: 1m"))  # fmt: skip
        sweeping = threading.Thread(target=running.exporter.contracts.sweep, args=("api",))
        sweeping.start()
        try:
            wait_until(lambda: value(running, "GET /a", "response_schema_conformance") == 0, 20, "the first verdict")
            assert sweeping.is_alive() and value(running, "GET /b", "response_schema_conformance") is None
        finally:
            answer_now.set()
            sweeping.join(30)
    assert value(running, "GET /b", "response_schema_conformance") == 1


def test_retention_removes_old_sweeps_from_the_pages_and_the_api(
    serve_exporter: Callable[..., RunningExporter],  # noqa: F811
    api: tuple[HostileTarget, dict[str, Any]],
    tmp_path: Path,
) -> None:
    """Sweeps live in the run store under its retention: older than --storage.retention.time they go, pages and
    API say so, and the target's newest sweep stays whatever its age (its page is what /contracts shows)."""
    server, state = api
    running = serve_exporter(config_text(server.url), storage_path=tmp_path / "data", retention_time=3600.0)
    state["drift"] = True
    old = running.exporter.contracts.sweep("api")
    state["drift"] = False
    new = running.exporter.contracts.sweep("api")
    assert old is not None and new is not None and not old.success and new.success
    store = running.exporter.store
    old_page = f"{running.url}/contracts/api/sweeps/{old.correlation_id}"
    assert "id: &#39;1&#39; is not of type &#39;integer&#39;" in requests.get(old_page, timeout=10).text
    store.clock = lambda: time.time() + 7200  # two hours on: both are older than the retention
    assert store.apply_retention()
    missing = requests.get(old_page, timeout=10)
    assert missing.status_code == 404 and "retention may have deleted it" in missing.text
    gone = requests.get(f"{running.url}/api/v1/sweeps/{old.correlation_id}", timeout=10)
    assert gone.status_code == 404 and gone.json()["errorType"] == "not_found"
    listed = requests.get(f"{running.url}/api/v1/sweeps", params={"target": "api"}, timeout=10).json()["data"]
    assert [s["id"] for s in listed["sweeps"]] == [new.correlation_id] and listed["next_cursor"] is None
    assert requests.get(f"{running.url}/contracts/api/sweeps/{new.correlation_id}", timeout=10).status_code == 200


def test_a_targets_page_lists_its_newest_sweeps_and_points_to_the_older_ones(
    serve_exporter: Callable[..., RunningExporter],  # noqa: F811
    api: tuple[HostileTarget, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, _ = api
    monkeypatch.setattr("exporter.contracts.PAGE_SWEEPS", 2)
    running = serve_exporter(config_text(server.url))  # --storage.path="": the store in memory holds them too
    ids = [sweep.correlation_id for sweep in (running.exporter.contracts.sweep("api") for _ in range(3)) if sweep]
    page = requests.get(f"{running.url}/contracts/api", timeout=10).text
    assert [i for i in ids if f'href="/contracts/api/sweeps/{i}"' in page] == ids[1:], "the newest two"
    older = page.split('id="older" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert older.startswith("/api/v1/sweeps?target=api&cursor=")
    rest = requests.get(f"{running.url}{older}", timeout=10).json()["data"]
    assert [s["id"] for s in rest["sweeps"]] == [ids[0]] and rest["next_cursor"] is None
