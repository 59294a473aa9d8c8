"""``browser`` steps in a real Chromium against a small local site: actions, assertions, extraction, the failure
reasons of a broken page, the API calls' X-Request-IDs, screenshots, one context per run, the pool and the
deadline, and every load-time problem."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from django_integration.marker import verify_marker
from synthetic.config import parse_config
from synthetic.errors import ConfigError
from synthetic.result import REASONS, RunResult, StepResult
from synthetic.runner import run_workflow
from synthetic.steps import browser
from tests.harness import free_port, require_binary
from tests.harness.processes import in_ci

PAGES: dict[str, tuple[int, str]] = {
    "/": (
        200,
        """<!doctype html><title>Sign in</title>
        <form id="login" onsubmit="return false">
          <input id="username"><input id="password" type="password">
          <select id="size"><option value="s">S</option><option value="l">L</option></select>
          <button id="go" type="button">Sign in</button>
        </form>
        <script>
          document.getElementById("go").addEventListener("click", async () => {
            const id = "page" + Math.random().toString(16).slice(2).padEnd(12, "0");
            const answer = await fetch("/api/login", {method: "POST", headers: {"X-Request-ID": id},
              body: JSON.stringify({user: username.value, size: size.value})});
            const body = await answer.json();
            document.cookie = "session=" + body.user;
            location.href = "/home?order=" + body.order;
          });
        </script>""",
    ),
    "/home": (
        200,
        """<!doctype html><title>Home of the shop</title>
        <h1>Welcome</h1><p id="who"></p><a id="order-link" href="/orders/7">order</a>
        <span id="order" data-order="7"> 7 </span><button id="off" disabled>off</button>
        <input id="agree" type="checkbox" checked><div id="gone" style="display:none">hidden</div>
        <script>who.textContent = "signed in as " + document.cookie.replace("session=", "");</script>""",
    ),
    "/orders/7": (200, "<!doctype html><title>Order 7</title><p>Order #7 placed</p>"),
    "/cookie": (
        200,
        "<!doctype html><title>cookie</title><p id='c'></p><script>c.textContent='['+document.cookie+']'</script>",
    ),
    "/throws": (200, "<!doctype html><title>t</title><p>half</p><script>throw new TypeError('render failed')</script>"),
    "/rejects": (200, "<!doctype html><title>r</title><script>Promise.reject(new Error('lost promise'))</script>"),
    "/console": (200, "<!doctype html><title>c</title><script>console.error('hydration mismatch')</script>"),
    "/api-500": (
        200,
        """<!doctype html><title>a</title><p id="s">waiting</p>
        <script>fetch("/api/fail", {headers: {"X-Request-ID": "pagecall-500-0001"}})
          .then(r => { s.textContent = "status " + r.status; });</script>""",
    ),
    "/api-404": (
        200,
        """<!doctype html><title>a</title><p id="s">waiting</p>
        <script>fetch("/api/missing", {headers: {"X-Request-ID": "pagecall-404-0001"}})
          .then(r => { s.textContent = "status " + r.status; });</script>""",
    ),
    "/cors": (
        200,
        """<!doctype html><title>x</title><p id="s">waiting</p><script>
        fetch("OTHER/api/ok", {headers: {"X-Request-ID": "crossorigin-0001"}})
          .then(() => { s.textContent = "done"; }, () => { s.textContent = "blocked"; });</script>""",
    ),
    # Every channel of a page's requests: an API call on the target's origin and one on another origin (CORS
    # allowing the page's correlation headers), each with the ID the page gave it, and one of each without an ID.
    "/channels": (
        200,
        """<!doctype html><title>ch</title><p id="s">waiting</p><script>
        Promise.all([
          fetch("/api/ok", {headers: {"X-Request-ID": "samecall-0001"}}),
          fetch("OTHER/api/cors-ok", {headers: {"X-Request-ID": "crosscall-0001"}}),
          fetch("/api/plain"),
          fetch("OTHER/api/cors-plain"),
        ]).then(() => { s.textContent = "done"; }, () => { s.textContent = "blocked"; });</script>""",
    ),
    "/dead": (
        200,
        """<!doctype html><title>d</title><p id="s">waiting</p><script>
        fetch("DEAD/api/ok").then(() => { s.textContent = "done"; }, () => { s.textContent = "failed"; });</script>""",
    ),
    "/shift": (
        200,
        """<!doctype html><title>s</title><div id="banner"></div><p>text below</p><script>
        // after the first paint, so the shift counts; then a marker the step waits for
        requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => {
          document.getElementById("banner").style.height = "300px";
          setTimeout(() => document.body.insertAdjacentHTML("beforeend", "<p>shifted</p>"), 300);
        }, 100)));</script>""",
    ),
}


@dataclass
class Site:
    url: str
    other: str  # another origin, sending no CORS headers
    requests: list[dict[str, Any]] = field(default_factory=list)

    def received(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def do_OPTIONS(self) -> None:  # the CORS preflight of /api/cors-ok
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", site.url)
            self.send_header("Access-Control-Allow-Headers", "x-request-id")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _answer(self) -> None:
            path = urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            site.requests.append({"path": path, "method": self.command, "headers": headers, "body": body})
            request_id = self.headers.get("X-Request-ID") or "server-made-id-0001"
            if path == "/api/login":
                return self._send(200, json.dumps({"user": "probe", "order": 7}), "application/json", request_id)
            if path == "/api/fail":
                return self._send(500, '{"detail": "boom"}', "application/json", request_id)
            if path in ("/api/ok", "/api/plain"):
                return self._send(200, "{}", "application/json", request_id)
            if path in ("/api/cors-ok", "/api/cors-plain"):
                return self._send(200, "{}", "application/json", request_id, cors=True)
            if path == "/slow":
                time.sleep(1.2)
                return self._send(200, "<!doctype html><title>slow</title><p>finally</p>", "text/html", None)
            if path == "/hang":
                time.sleep(8)
                return self._send(200, "<!doctype html><title>late</title>", "text/html", None)
            if path == "/favicon.ico":
                return self._send(204, "", "image/x-icon", None)
            status, html = PAGES.get(path, (404, "<!doctype html><title>Not found</title><p>no such page</p>"))
            html = html.replace("OTHER", site.other).replace("DEAD", f"http://127.0.0.1:{dead_port}")
            return self._send(status, html, "text/html; charset=utf-8", None)

        def _send(self, status: int, body: str, content_type: str, request_id: str | None, cors: bool = False) -> None:
            data = body.encode()
            self.send_response(status)
            if cors:
                self.send_header("Access-Control-Allow-Origin", site.url)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if request_id:
                self.send_header("X-Request-ID", request_id)
            self.end_headers()
            self.wfile.write(data)

    return Handler


dead_port = free_port()  # nothing listens here


def _require_chromium() -> None:
    if browser.chromium_path() is None:
        require_binary("chromium")  # skips locally, fails under CI=true, naming the package
    try:
        import playwright  # noqa: F401
    except ImportError:
        message = "playwright is not installed: pip install -e '.[browser]' (make test does)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    _require_chromium()
    site = Site(url="", other="")
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _handler(site)) for _ in range(2)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    site.url, site.other = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    yield site
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def screenshots(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "screenshots"
    browser.configure(screenshot_dir=directory)
    yield directory


def config_yaml(base_url: str, steps: str, timeout: str = "10s", target: str = "") -> str:
    return (
        "targets:\n  site:\n"
        f"    base_url: {base_url}\n"
        "    credentials: {probe: {username: probe, password: hunter2-secret}}\n"
        f"{textwrap.indent(textwrap.dedent(target).strip(), '    ')}\n"
        "workflows:\n  wf:\n    targets: [site]\n"
        f"    timeout: {timeout}\n    steps:\n"
        f"{textwrap.indent(textwrap.dedent(steps).strip(), '      ')}\n"
    )


def run(site: Site, steps: str, timeout: str = "10s", **kwargs: Any) -> RunResult:
    config = parse_config(config_yaml(site.url, steps, timeout), "test.yml")
    ((workflow, target),) = config.pairs()
    return run_workflow(workflow, target, **kwargs)


def page_of(step: StepResult) -> dict[str, Any]:
    """What the browser step recorded of its page."""
    assert step.browser is not None, f"{step.name} has no browser details"
    return step.browser


def describe(result: RunResult) -> str:
    return "\n".join(f"{s.name}: {s.status} {s.reason or ''} {s.message}" for s in result.steps)


def test_a_journey_acts_judges_extracts_and_records(site: Site) -> None:
    result = run(
        site,
        """
        - name: sign-in
          browser:
            goto: /
            actions:
              - fill: {selector: "#username", value: "${credentials.probe.username}"}
              - fill: {selector: "#password", value: "${credentials.probe.password}"}
              - select: {selector: "#size", value: l}
              - click: "#go"
              - wait_for: {url: "/home"}
              - wait_for: {text: "signed in as probe"}
          expect:
            url: "^/home\\\\?order=7$"
            title: "^Home of the shop$"
            text: ["Welcome", "signed in as ${credentials.probe.username}"]
            visible: ["#order"]
            hidden: ["#gone", "#nothing-like-this"]
            disabled: ["#off"]
            enabled: ["#go-nowhere-is-not-enabled"]
            checked: ["#agree"]
          extract:
            order: {text: "#order"}
            link: {attribute: {selector: "#order-link", name: href}}
            from_url: {url: "order=(\\\\d+)"}
        - name: order
          browser:
            goto: "${link}"
          expect: {text: "Order #${order} placed", title: "Order ${from_url}"}
        """,
    )
    sign_in, order = result.steps
    # enabled on a missing element fails: the only failed check, so the step says so and the run fails there.
    assert sign_in.status == "failed" and sign_in.reason == "assertion", describe(result)
    assert "#go-nowhere-is-not-enabled is not enabled" in sign_in.message
    assert [c.name for c in sign_in.assertions if not c.ok] == ["enabled"]
    assert order.status == "skipped"


def test_a_passing_journey_carries_variables_and_the_api_calls_ids(site: Site) -> None:
    result = run(
        site,
        """
        - name: sign-in
          browser:
            goto: /
            actions:
              - fill: {selector: "#username", value: "${credentials.probe.username}"}
              - fill: {selector: "#password", value: "${credentials.probe.password}"}
              - click: "#go"
              - wait_for: {text: "signed in as probe"}
          expect: {visible: ["#order"], checked: ["#agree"], disabled: ["#off"], hidden: ["#gone"]}
          extract:
            order: {text: "#order"}
            link: {attribute: {selector: "#order-link", name: href}}
        - name: order
          browser: {goto: "${link}"}
          expect: {text: "Order #${order} placed", url: "^/orders/${order}$"}
        """,
    )
    assert result.success, describe(result)
    sign_in, order = result.steps
    assert sign_in.extracted == {"order": "7", "link": "/orders/7"}
    # The API call the page made, with the ID that reached the server.
    (login_call,) = [c for c in page_of(sign_in)["calls"] if c["url"].endswith("/api/login")]
    (arrived,) = site.received("/api/login")[-1:]
    assert login_call["request_id"] == arrived["headers"]["x-request-id"]
    assert login_call["method"] == "POST" and login_call["status"] == 200
    # Documents from the target carry the run's ID and the synthetic marker; the page's API calls their own.
    document = site.received("/orders/7")[-1]
    assert document["headers"]["x-request-id"] == result.correlation_id
    assert document["headers"]["traceparent"].split("-")[1] == result.correlation_id
    assert document["headers"]["x-synthetic"] == "1"
    assert arrived["headers"]["x-request-id"] != result.correlation_id
    # The password typed into the page is nowhere in the result.
    assert "hunter2-secret" not in json.dumps([s.browser for s in result.steps]) + describe(result)
    # Vitals and navigation timing of the page each step ended on.
    assert page_of(order)["url"] == f"{site.url}/orders/7"
    assert page_of(order)["title"] == "Order 7"
    assert page_of(order)["vitals"]["fcp"] > 0
    assert page_of(order)["vitals"]["ttfb"] >= 0
    assert {"ttfb", "dom_content_loaded"} <= set(page_of(order)["navigation"])
    assert order.http_status == 200
    assert "screenshot" not in page_of(order)


def test_every_request_the_journey_gives_an_id_carries_the_synthetic_marker(site: Site) -> None:
    """The backend leaves synthetic traffic out of its users' figures by the marker (django_integration.synthetic):
    the document, and a call to the target's origin the page gave no ID (a client-side navigation's server render),
    carry it signed for the run's ID, with that ID; each API call the page gave an ID (on the target's origin or
    another one, through CORS) signed for that call's ID; a call to another origin without an ID carries none."""
    config = parse_config(
        config_yaml(site.url, "- name: page\n  browser: {goto: /channels, actions: [{wait_for: {text: done}}]}",
                    target="synthetic_secret: marker-secret-1"),
        "test.yml",
    )  # fmt: skip
    ((workflow, target),) = config.pairs()
    before = len(site.requests)
    result = run_workflow(workflow, target)
    assert result.success, describe(result)
    arrived = {r["path"]: r["headers"] for r in site.requests[before:]}
    for path, signed_for in [
        ("/channels", result.correlation_id),
        ("/api/ok", "samecall-0001"),
        ("/api/cors-ok", "crosscall-0001"),
        ("/api/plain", result.correlation_id),
    ]:
        headers = arrived[path]
        assert headers["x-request-id"] == signed_for, path
        assert verify_marker(headers["x-synthetic"], "marker-secret-1", signed_for), path
    assert "x-synthetic" not in arrived["/api/cors-plain"] and "x-request-id" not in arrived["/api/cors-plain"]


def test_layout_shifts_are_measured(site: Site) -> None:
    result = run(site, "- name: shift\n  browser: {goto: /shift, actions: [{wait_for: {text: shifted}}]}")
    assert result.success, describe(result)
    assert page_of(result.steps[0])["vitals"]["cls"] > 0


# (what, steps, reason, in the message)
FAILURES = [
    ("an uncaught error", "browser: {goto: /throws}", "page_error", "TypeError: render failed"),
    ("an unhandled rejection", "browser: {goto: /rejects, actions: [{wait_for: {load_state: networkidle}}]}",
     "page_error", "lost promise"),
    ("a console error", "browser: {goto: /console}", "page_error", "hydration mismatch"),
    ("an API call answering 500", "browser: {goto: /api-500, actions: [{wait_for: {text: status 500}}]}",
     "http_status", "/api/fail answered 500 (X-Request-ID pagecall-500-0001)"),
    ("a document answering 404", "browser: {goto: /no-such-page}", "http_status", "answered 404"),
    ("a request blocked by CORS", "browser: {goto: /cors, actions: [{wait_for: {text: blocked}}]}",
     "request_failed", "blocked by CORS policy"),
    ("a request to a closed port", "browser: {goto: /dead, actions: [{wait_for: {text: failed}}]}",
     "connect", "ERR_CONNECTION_REFUSED"),
    ("an element that never comes", "browser: {goto: /home, actions: [{click: '#missing'}], timeout: 500ms}",
     "assertion", "click '#missing'"),
    ("a text that never shows", "browser: {goto: /home, actions: [{wait_for: {text: Goodbye}}], timeout: 500ms}",
     "assertion", "wait_for 'Goodbye'"),
    ("a failed expectation", "browser: {goto: /home}\n  expect: {title: Checkout}", "assertion",
     "title 'Home of the shop' against /Checkout/"),
    ("nothing to extract", "browser: {goto: /home}\n  extract: {x: {text: '#missing'}}", "extraction",
     "text of '#missing' found nothing"),
    ("a goto off the target", "browser: {goto: 'https://example.com/'}", "extraction", "not opened"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "steps", "reason", "says"), FAILURES, ids=[f[0] for f in FAILURES])
def test_a_broken_page_fails_with_its_reason(
    site: Site, screenshots: Path, what: str, steps: str, reason: str, says: str
) -> None:
    result = run(site, f"- name: page\n  {steps}")
    (page,) = result.steps
    assert (page.status, page.reason) == ("failed", reason), describe(result)
    assert reason in REASONS
    assert says in page.message, page.message
    if reason != "extraction" or "found nothing" in says:
        shot = page_of(page)["screenshot"]
        assert shot["kept"] and shot["bytes"] > 1000
        assert Path(shot["path"]).parent == screenshots and Path(shot["path"]).stat().st_size == shot["bytes"]
        assert result.correlation_id in shot["path"]


def test_4xx_api_answers_are_recorded_not_failed(site: Site) -> None:
    result = run(site, "- name: page\n  browser: {goto: /api-404, actions: [{wait_for: {text: status 404}}]}")
    assert result.success, describe(result)
    (call,) = [c for c in page_of(result.steps[0])["calls"] if c["url"].endswith("/api/missing")]
    assert (call["status"], call["request_id"]) == (404, "pagecall-404-0001")


def test_allowed_console_errors_pass(site: Site) -> None:
    result = run(site, "- name: page\n  browser: {goto: /console, allow_console_errors: [hydration]}")
    assert result.success, describe(result)
    assert page_of(result.steps[0])["console_errors"] == ["hydration mismatch"]


def test_over_budget_is_degraded_not_failed(site: Site) -> None:
    result = run(site, "- name: slow\n  browser: {goto: /slow}\n  expect: {max_duration: 300ms, text: finally}")
    assert result.success and result.result == "degraded", describe(result)
    assert result.degraded_step is result.steps[0]
    (budget,) = [c for c in result.steps[0].assertions if c.name == "max_duration"]
    assert not budget.ok


def test_the_runs_deadline_ends_a_hanging_page(site: Site) -> None:
    started = time.monotonic()
    result = run(site, "- name: hang\n  browser: {goto: /hang}", timeout="1500ms")
    took = time.monotonic() - started
    assert (result.steps[0].status, result.steps[0].reason) == ("failed", "timeout"), describe(result)
    assert took < 1.5 + browser.SHUTDOWN_GRACE_SECONDS + 3  # a bound on the deadline, not a speed check


def test_one_context_per_run_and_closed_after_it(site: Site) -> None:
    browsers = browser.pool()
    free = browsers._slots._value
    first = run(
        site,
        """
        - name: sign-in
          browser: {goto: /, actions: [{click: "#go"}, {wait_for: {text: signed in as probe}}]}
        - name: same-run
          browser: {goto: /cookie}
          expect: {text: "\\\\[session=probe\\\\]"}
        """,
    )
    assert first.success, describe(first)
    second = run(site, "- name: new-run\n  browser: {goto: /cookie}\n  expect: {text: '\\[\\]'}")
    assert second.success, describe(second)  # no cookie from the first run
    assert browsers._slots._value == free


def test_a_failed_run_releases_its_browser_too(site: Site) -> None:
    browsers = browser.pool()
    free = browsers._slots._value
    result = run(site, "- name: a\n  browser: {goto: /throws}\n- name: b\n  browser: {goto: /home}")
    assert [s.status for s in result.steps] == ["failed", "skipped"]
    assert browsers._slots._value == free


def test_the_pool_is_bounded_and_a_run_waits_within_its_deadline(site: Site) -> None:
    browser.configure(pool_size=1)
    try:
        results: list[RunResult] = []
        slow = threading.Thread(target=lambda: results.append(run(site, "- name: s\n  browser: {goto: /slow}")))
        slow.start()
        time.sleep(0.3)  # the slow run holds the only browser
        waiting = run(site, "- name: w\n  browser: {goto: /home}", timeout="300ms")
        slow.join()
        assert (waiting.steps[0].reason, results[0].success) == ("timeout", True), describe(waiting)
        assert "no browser became free" in waiting.steps[0].message
        assert run(site, "- name: w\n  browser: {goto: /home}").success  # and it is free again
    finally:
        browser.configure(pool_size=browser.DEFAULT_POOL_SIZE)


def test_screenshots_are_bounded(site: Site, screenshots: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "SCREENSHOTS_KEPT", 2)
    for _ in range(4):
        run(site, "- name: page\n  browser: {goto: /throws}")
    assert len(list(screenshots.glob("*.jpg"))) == 2


# --- load time -------------------------------------------------------------------------------------------------

# (what, step YAML, the problem's words)
INVALID = [
    ("no goto and no actions", "browser: {}", "give goto, actions, or both"),
    ("not a mapping", "browser: /home", "browser must be a mapping"),
    ("an unknown field", "browser: {goto: /, wait: 1}", "unknown field 'wait'"),
    ("an unknown action", "browser: {actions: [{tap: '#x'}]}", "unknown action 'tap'"),
    ("a misspelt action", "browser: {actions: [{clik: '#x'}]}", "did you mean 'click'"),
    ("two actions in one item", "browser: {actions: [{click: '#x', fill: {selector: '#y', value: 1}}]}",
     "each action is a mapping with one of"),
    ("fill without a selector", "browser: {actions: [{fill: {value: x}}]}", "fill.selector must be"),
    ("fill with a list", "browser: {actions: [{fill: {selector: '#x', value: [1]}}]}", "fill.value must be text"),
    ("wait_for with two things", "browser: {actions: [{wait_for: {text: a, url: b}}]}", "exactly one of"),
    ("wait_for with a bad state", "browser: {actions: [{wait_for: {selector: '#x', state: shiny}}]}",
     "wait_for.state must be one of"),
    ("wait_for with a bad load state", "browser: {actions: [{wait_for: {load_state: soon}}]}",
     "load_state must be one of"),
    ("wait_for with a bad regex", "browser: {actions: [{wait_for: {url: '('}}]}", "invalid regular expression"),
    ("a goto to another host", "browser: {goto: //evil.example/}", "must start with one '/'"),
    ("a goto that is not a path", "browser: {goto: home}", "must be a path on the target"),
    ("a bad timeout", "browser: {goto: /, timeout: soon}", "browser: timeout"),
    ("an unknown expectation", "browser: {goto: /}\n  expect: {status: 200}", "unknown assertion 'status'"),
    ("a bad expected title", "browser: {goto: /}\n  expect: {title: '['}", "invalid regular expression"),
    ("a selector that is not one", "browser: {goto: /}\n  expect: {visible: [1]}", "is not a selector"),
    ("an unknown extract source", "browser: {goto: /}\n  extract: {x: {json: a}}", "unknown source 'json'"),
    ("an extract attribute without a name", "browser: {goto: /}\n  extract: {x: {attribute: {selector: a}}}",
     "attribute takes"),
    ("retries", "browser: {goto: /}\n  retries: 2", "retries are only allowed for idempotent steps"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "steps", "problem"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_browser_steps_are_config_errors(what: str, steps: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(config_yaml("http://127.0.0.1:3000", f"- name: s\n  {steps}"), "test.yml")
    assert any(problem in line for line in error.value.problems), error.value.problems
    assert all(line.startswith("test.yml: ") for line in error.value.problems)


def test_every_problem_is_reported_at_once() -> None:
    steps = "- name: s\n  browser: {goto: home, actions: [{tap: x}], timeout: soon}\n  expect: {status: 1}"
    with pytest.raises(ConfigError) as error:
        parse_config(config_yaml("http://127.0.0.1:3000", steps), "test.yml")
    assert len(error.value.problems) >= 4


def test_without_playwright_a_config_with_browser_steps_does_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    real = browser.importlib.util.find_spec
    monkeypatch.setattr(browser.importlib.util, "find_spec", lambda name: None if name == "playwright" else real(name))
    with pytest.raises(ConfigError) as error:
        parse_config(config_yaml("http://127.0.0.1:3000", "- name: s\n  browser: {goto: /}"), "test.yml")
    assert "pip install 'workflow-exporter[browser]'" in str(error.value)
    # Configs without browser steps still load.
    parse_config(config_yaml("http://127.0.0.1:3000", "- name: s\n  http: {path: /}"), "test.yml")


def test_without_chromium_a_config_with_browser_steps_does_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKFLOW_EXPORTER_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(ConfigError) as error:
        parse_config(config_yaml("http://127.0.0.1:3000", "- name: s\n  browser: {goto: /}"), "test.yml")
    assert "apt-get install chromium" in str(error.value)


def test_chromium_is_found_where_debian_puts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKFLOW_EXPORTER_CHROMIUM", raising=False)
    if os.path.exists("/usr/bin/chromium"):
        assert browser.chromium_path() == "/usr/bin/chromium"
    elif in_ci():
        pytest.fail("no /usr/bin/chromium: apt-get install chromium")
    assert shutil.which("chromium") is None or browser.chromium_path() is not None
