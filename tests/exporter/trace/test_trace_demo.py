"""The trace of one correlation ID on the real demo shop (SQLite and MariaDB): the probe's steps, the API's
request lines, Django's traceback, the slow and repeated statements, the browser's events and — on MariaDB —
the SQL statements from performance_schema, nested and in order."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
import requests

from exporter.trace import Trace, TraceConfig, TraceEvent, TraceSources, collect
from synthetic.config import Config, load_config
from synthetic.result import RunResult
from synthetic.runner import run_workflow
from tests.exporter.conftest import RunningExporter
from tests.harness import MariaDB, ShopServer

WORKFLOWS = Path(__file__).resolve().parents[3] / "synthetic" / "workflows" / "demo_shop.yml"


@pytest.fixture
def config(shop: ShopServer, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("SHOP_URL", shop.url)
    monkeypatch.setenv("SHOP_DATABASE_URL", shop.env["DATABASE_URL"])
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", shop.env["DEMO_PROBE_PASSWORD"])
    return load_config(WORKFLOWS)


@pytest.fixture
def sources(shop: ShopServer, request: pytest.FixtureRequest) -> TraceConfig:
    mysql: tuple[str, ...] = ()
    if shop.env["BACKEND"] == "mariadb":
        server: MariaDB = request.getfixturevalue("mariadb")
        server.create_monitoring_user("trace_reader", "trace-reader-pw")
        mysql = (f"mysql://trace_reader:trace-reader-pw@{server.host}:{server.port}/performance_schema",)
    return TraceConfig(logs=(str(shop.process.log_path),), mysql=mysql)


def _trace(run: RunResult, sources: TraceConfig) -> Trace:
    lookup = {run.correlation_id: run}.get
    # The request line is written when the response is sent; give the log a moment to reach the file.
    deadline = time.monotonic() + 10
    while True:
        trace = collect(run.correlation_id, TraceSources(runs=lookup, config=sources))
        if any(e.kind == "request" for _, e in trace.walk()) or time.monotonic() > deadline:
            return trace
        time.sleep(0.2)


def _step(trace: Trace, name: str) -> TraceEvent:
    return next(e for _, e in trace.walk() if e.kind == "step" and e.fields.get("step") == name)


def test_a_failed_checkout_shows_the_500_its_traceback_and_the_statements(
    config: Config, shop: ShopServer, sources: TraceConfig
) -> None:
    shop.set_faults(checkout_errors=True)
    try:
        run = run_workflow(config.workflows["checkout"], config.targets["demo-shop"])
    finally:
        shop.set_faults(checkout_errors=False)
    assert not run.success and run.failed_step is not None and run.failed_step.name == "checkout"
    trace = _trace(run, sources)
    assert not [p for r in trace.reports for p in r.problems], trace.reports
    steps = [e.fields["step"] for e in trace.events if e.kind == "step"]
    assert steps == [s.name for s in run.steps if s.status != "skipped"]  # in order, at the top
    checkout = _step(trace, "checkout")
    assert checkout.error
    (request,) = [c for c in checkout.children if c.kind == "request"]
    assert request.fields["status"] == 500 and request.fields["route"] == "api/checkout/"
    assert request.error
    tracebacks = [c for c in request.children if "InjectedFault" in str(c.fields.get("exc_info", ""))]
    assert tracebacks, [(c.kind, c.title) for c in request.children]
    requests_in_order = [c.fields["route"] for e in trace.events for c in e.children if c.kind == "request"]
    # login, add to cart, the failed checkout, then the teardown that empties the cart: each under its step
    assert requests_in_order == ["api/auth/token/", "api/cart/items/", "api/checkout/", "api/cart/items/<int:item_id>/"]
    if shop.env["BACKEND"] == "mariadb":
        # The failing request's own statements (performance_schema), under it: the token's user is read, then the
        # view raises before the cart is touched, so nothing is written; all of it before Django logs the traceback.
        statements = [c for c in request.children if c.kind == "statement"]
        texts = [s.fields["statement"] for s in statements]
        assert statements, [(c.kind, c.title) for c in request.children]
        assert all(f"request_id='{run.correlation_id}'" in text for text in texts), texts
        assert all("route='api%2Fcheckout%2F'" in text for text in texts), texts
        assert any("auth_user" in text for text in texts), texts
        assert not any(s.title.split()[0].upper() in ("INSERT", "UPDATE", "DELETE") for s in statements), texts
        assert [s.start for s in statements] == sorted(s.start for s in statements)
        # Two clocks: the log's timestamps are whole milliseconds (cut, not rounded), and performance_schema's timer
        # is mapped to the wall clock to half the quickest of three round trips (exporter.trace.mysql).
        assert max(s.start for s in statements) <= min(t.start for t in tracebacks) + 0.005


def test_slow_products_shows_the_slow_statement(config: Config, shop: ShopServer, sources: TraceConfig) -> None:
    shop.set_faults(slow_products=True)
    try:
        run = run_workflow(config.workflows["product-fetch"], config.targets["demo-shop"])
    finally:
        shop.set_faults(slow_products=False)
    trace = _trace(run, sources)
    slow = [e for _, e in trace.walk() if e.kind == "log" and e.title.startswith("slow query")]
    assert slow and slow[0].fields["duration_ms"] >= 1000, [(e.kind, e.title) for _, e in trace.walk()]
    parent = next(e for _, e in trace.walk() if slow[0] in e.children)
    assert parent.kind == "request" and parent.fields["route"] == "api/products/"
    if shop.env["BACKEND"] == "mariadb":
        statements = [e for _, e in trace.walk() if e.kind == "statement" and "SLEEP" in e.fields["statement"]]
        assert statements and statements[0].fields["duration_ms"] >= 1000


def test_n_plus_one_shows_the_repeated_statement_and_its_count(
    config: Config, shop: ShopServer, sources: TraceConfig
) -> None:
    shop.set_faults(n_plus_one=True)
    try:
        run = run_workflow(config.workflows["product-fetch"], config.targets["demo-shop"])
    finally:
        shop.set_faults(n_plus_one=False)
    trace = _trace(run, sources)
    repeated = [e for _, e in trace.walk() if e.kind == "log" and e.title.startswith("repeated query")]
    assert repeated and repeated[0].fields["count"] >= 5
    assert "shop_category" in repeated[0].fields["statement"]


def _exporter_reading(serve_exporter, shop: ShopServer, sources: TraceConfig, monkeypatch: pytest.MonkeyPatch,
                      extra_logs: tuple[str, ...] = ()) -> RunningExporter:  # fmt: skip
    """An exporter on the shipped journeys whose ``trace:`` section reads the shop's log (and performance_schema)."""
    monkeypatch.setenv("SHOP_URL", shop.url)
    monkeypatch.setenv("SHOP_DATABASE_URL", shop.env["DATABASE_URL"])
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", shop.env["DEMO_PROBE_PASSWORD"])
    trace_yaml = "trace:\n  logs: [" + ", ".join(json.dumps(p) for p in (*sources.logs, *extra_logs)) + "]\n"
    if sources.mysql:
        trace_yaml += f"  mysql: [{{dsn: {json.dumps(sources.mysql[0])}}}]\n"
    running: RunningExporter = serve_exporter(WORKFLOWS.read_text() + trace_yaml)
    return running


def _step_section(page: str, step: str) -> str:
    """The run page's section of one step: its summary line to the next step's."""
    return page.split(f'id="step-{step}"', 1)[1].split("<details", 1)[0]


@pytest.mark.parametrize(
    ("fault", "line", "statement"),
    [("slow_products", "slow query", "SLEEP"), ("n_plus_one", "repeated query (N+1)", "shop_category")],
)
def test_the_run_page_shows_the_statement_behind_an_over_budget_step_under_it(
    fault: str,
    line: str,
    statement: str,
    shop: ShopServer,
    sources: TraceConfig,
    serve_exporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = _exporter_reading(serve_exporter, shop, sources, monkeypatch)
    config = running.exporter.config
    shop.set_faults(**{fault: True})
    try:
        run = running.exporter.run_scheduled(config.workflows["product-fetch"], config.targets["demo-shop"])
    finally:
        shop.set_faults(**{fault: False})
    listing = run.steps[0]
    assert listing.name == "list-products"
    # Over its budget: slower than max_duration (slow_products) or more queries than max_queries (n_plus_one).
    assert listing.degraded or listing.status == "failed", (listing.status, listing.reason, listing.message)
    deadline = time.monotonic() + 10
    while True:  # the request's log lines are written when its response is sent
        page = requests.get(f"{running.url}/runs/{run.correlation_id}", timeout=30)
        if line in _step_section(page.text, "list-products") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert page.status_code == 200
    section = _step_section(page.text, "list-products")
    # Right under the step: the log line, the statement it names, and the way on to the whole trace.
    (shown,) = re.findall(r'<div class="server-side[^"]*">db: ' + re.escape(line) + r".*?</div>", section, re.S)
    assert statement in shown, shown
    if fault == "slow_products":
        took = re.search(r"slow query: (\d+) ms", shown)
        assert took and int(took.group(1)) >= 1000, shown
    else:
        count = re.search(r" · (\d+) times", shown)
        assert count and int(count.group(1)) >= 5, shown
    assert f'href="/trace/{run.correlation_id}"' in section
    # Not under the step that kept its budget.
    assert line not in _step_section(page.text, "product-detail")


def test_a_user_request_and_its_browser_event_share_one_trace(shop: ShopServer, sources: TraceConfig) -> None:
    cid = f"user-{uuid.uuid4().hex}"
    response = requests.get(f"{shop.url}/api/products/1/", headers={"X-Request-ID": cid}, timeout=10)
    assert response.headers["X-Request-ID"] == cid
    beacon = {"events": [{"level": "error", "message": "product page failed to render", "route": "/products/[id]",
                          "correlation_id": cid}]}  # fmt: skip
    assert requests.post(f"{shop.url}/client-logs", data=json.dumps(beacon), timeout=10).status_code < 300
    deadline = time.monotonic() + 10
    while True:
        trace = collect(cid, TraceSources(config=sources))
        kinds = {e.kind for _, e in trace.walk()}
        if {"request", "event"} <= kinds or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (event,) = [e for _, e in trace.walk() if e.kind == "event"]
    assert event.layer == "frontend" and event.title == "product page failed to render"
    (request,) = [
        e for _, e in trace.walk() if e.kind == "request" and e.fields.get("route") == "api/products/<int:pk>/"
    ]
    assert request.fields["status"] == 200
    if shop.env["BACKEND"] == "mariadb":
        assert any(c.kind == "statement" and "shop_product" in c.fields["statement"] for c in request.children)


def test_the_trace_page_shows_the_cause_inline_and_escapes_what_sources_wrote(
    shop: ShopServer, sources: TraceConfig, serve_exporter, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hostile = tmp_path / "other.log"
    running = _exporter_reading(serve_exporter, shop, sources, monkeypatch, extra_logs=(str(hostile),))
    workflow = running.exporter.config.workflows["checkout"]
    shop.set_faults(checkout_errors=True)
    try:
        run = running.exporter.run_scheduled(workflow, running.exporter.config.targets["demo-shop"])
    finally:
        shop.set_faults(checkout_errors=False)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(run.started_at + 0.001))
    hostile.write_text(json.dumps({"timestamp": stamp, "level": "ERROR", "logger": "x", "correlation_id":
                                   run.correlation_id, "message": "<script>alert(1)</script>"}) + "\n")  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        page = requests.get(f"{running.url}/trace/{run.correlation_id}", timeout=30)
        if "POST api/checkout/ 500" in page.text or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert page.status_code == 200
    assert "POST api/checkout/ 500" in page.text and f'href="/runs/{run.correlation_id}"' in page.text
    assert '<pre class="traceback">' in page.text and "InjectedFault: checkout_errors fault is on" in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    # The run page shows the server's side of the failed step right under it: Django's traceback.
    run_page = requests.get(f"{running.url}/runs/{run.correlation_id}", timeout=30).text
    checkout_section = _step_section(run_page, "checkout")
    assert '<pre class="traceback">' in checkout_section and "InjectedFault" in checkout_section
    assert f'href="/trace/{run.correlation_id}"' in checkout_section
    assert requests.get(f"{running.url}/trace/not%20an%20id", timeout=10).status_code == 400
    # An exemplar's "Run page" link for a real user's request (not a run of ours) leads on to its trace.
    sent_on = requests.get(f"{running.url}/runs/user-request-0123", timeout=10, allow_redirects=False)
    assert (sent_on.status_code, sent_on.headers["Location"]) == (302, "/trace/user-request-0123")
    assert requests.get(f"{running.url}/trace/nobody-has-this-id-42", timeout=30).status_code == 404
