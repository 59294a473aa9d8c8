"""``browser`` steps: a real Chromium (Playwright for Python, the distribution's browser) loads the target's
pages, acts on them and judges what they show; per step it records Web Vitals, navigation timing, console and
page errors, failed requests, and the ``X-Request-ID`` of every API call the page made.

YAML::

    - name: checkout
      browser:
        goto: /cart                        # optional: a path on the target (or a URL on its origin)
        actions:                           # in order; each waits for its element (Playwright's auto-wait)
          - fill: {selector: "#username", value: "${credentials.probe.username}"}
          - select: {selector: "#quantity", value: "2"}
          - click: "button[data-testid=checkout]"          # or {selector: ..., optional: true}
          - wait_for: {text: "Thank you"}                  # or {selector, state}, {url: regex}, {load_state}
          - goto: /orders
        allow_console_errors: ["favicon"]  # regexes of console errors that do not fail the step
        timeout: 5s                        # per action (default 10s), always within the run's deadline
      expect:
        url: "/orders/\\d+$"               # regex on the page's path and query
        title: "Order"                     # regex on the title
        text: ["Order #\\d+"]              # regexes on the page's text
        visible: ["[data-testid=order]"]   # also hidden, enabled, disabled, checked: selectors
        max_duration: 2s                   # the step's budget (its actions' time): over it the run is degraded
      extract:
        order_id: {text: "[data-testid=order-id]"}                 # an element's text
        order_url: {attribute: {selector: "a.order", name: href}}  # an attribute
        order_number: {url: "/orders/(\\d+)"}                      # a regex on the URL (group 1)

How a step fails, first match wins: an API response of 500 or more, or a document (``goto``, a click that
navigates) answering 400 or more: ``http_status``; a request the page made that failed in the browser: ``dns``,
``connect``, ``tls``, ``timeout`` by its error, else ``request_failed`` (blocked by CORS, refused); an uncaught
error or unhandled rejection in the page, or an error on the console (``Failed to load resource`` lines are the
requests' business; ``allow_console_errors`` lets others pass): ``page_error``; an action whose element never
came: ``assertion`` (``timeout`` when the run's deadline cut it); a failed ``expect``: ``assertion``; an
``extract`` that finds nothing: ``extraction``. The step's result keeps, under ``browser``: ``url``, ``title``,
``vitals`` (``lcp``, ``fcp``, ``cls``, ``inp``, ``ttfb``; milliseconds, CLS a score), ``navigation`` (phase
timings in ms), ``console_errors``, ``page_errors``, ``failed_requests``, ``calls`` (method, URL without query,
status, ``request_id``: the ``X-Request-ID`` the server answered, else the one sent) and, for a failed step,
``screenshot`` (``path``, ``bytes``).

One browser context per run (cookies and storage carry from step to step), closed when the run ends, whatever
happened; the browsers come from a bounded pool (``WORKFLOW_EXPORTER_BROWSER_POOL``, default 2), one thread
and one Chromium each; a run waits for a free one within its deadline. Documents the page loads from the
target's origin, and what the page asks its own server without an ID (a client-side navigation's server render,
a server action), carry the run's ``X-Request-ID``, ``traceparent`` and synthetic marker, so what the server
renders for the page is logged under the run's ID; API calls carry the page's own IDs, recorded per step, and
those the page gave an ``X-Request-ID`` (whatever their origin: the app's instrumentation chose it) carry the
synthetic marker signed for that ID, so the API leaves the journey's calls out of its users' error ratio and
latency.

Needs the ``browser`` extra (``pip install 'workflow-exporter[browser]'``: Playwright for Python) and a Chromium
(``apt-get install chromium``; ``WORKFLOW_EXPORTER_CHROMIUM`` for another path). Playwright never downloads a
browser here. Without either, a config with browser steps fails to load, saying so.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from django_integration.marker import sign_marker

from ..durations import parse_duration
from ..errors import Problems, unknown
from ..ids import traceparent_for
from ..model import Step, Target
from ..redact import redact_text
from ..result import KEPT_URL_CHARS, AssertionResult, StepFailure, StepResult, kept_text, kept_value, quoted
from ..transport import has_userinfo, origin_of
from ._base import RunContext, check_budget, fail_on_first_failed_check

__all__ = [
    "BrowserSpec",
    "chromium_path",
    "configure",
    "idempotent",
    "missing_component",
    "parse",
    "parse_expect",
    "parse_extract",
    "run",
]

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# DESIGN §4: no sandbox (root, containers), nothing in the background that would talk to the network.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
DEFAULT_ACTION_TIMEOUT = 10.0
DEFAULT_POOL_SIZE = 2
SHUTDOWN_GRACE_SECONDS = 5.0  # what a run's end may add to close its context
ACTIONS = ("goto", "click", "fill", "select", "wait_for")
STATE_CHECKS = ("visible", "hidden", "enabled", "disabled", "checked")
WAIT_STATES = ("visible", "hidden", "attached", "detached")
LOAD_STATES = ("load", "domcontentloaded", "networkidle")
# What one step keeps (the history keeps many runs).
KEPT_CALLS = 100
KEPT_MESSAGES = 20
KEPT_MESSAGE_TEXT = 1000
SCREENSHOT_MAX_BYTES = 2 * 1024 * 1024
SCREENSHOTS_KEPT = 500  # files in the screenshot directory; the oldest go first
_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
STATIC_EXTENSIONS = "js|mjs|css|map|png|jpe?g|gif|svg|ico|webp|avif|woff2?|ttf|otf|txt|json|wasm"

# Web Vitals of the current document, measured by the browser's own PerformanceObserver entries (the same
# entries Google's web-vitals reads): LCP, FCP, CLS (largest session window), INP (the longest interaction;
# exact up to 50 interactions), TTFB; with navigation timing. Installed before any script of the page runs.
VITALS_SCRIPT = """
(() => {
  if (window.__workflowExporterVitals) return;
  const v = { lcp: null, fcp: null, cls: 0, inp: null };
  let session = 0, first = 0, last = 0;
  const watch = (type, fn, extra) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(fn)).observe({ type, buffered: true, ...extra });
    } catch (e) {}
  };
  watch("largest-contentful-paint", (e) => { v.lcp = e.renderTime || e.loadTime || e.startTime; });
  watch("paint", (e) => { if (e.name === "first-contentful-paint") v.fcp = e.startTime; });
  watch("layout-shift", (e) => {
    if (e.hadRecentInput) return;
    if (session && (e.startTime - last > 1000 || e.startTime - first > 5000)) session = 0;
    if (!session) first = e.startTime;
    session += e.value; last = e.startTime; v.cls = Math.max(v.cls, session);
  });
  const interaction = (e) => { if (e.interactionId) v.inp = Math.max(v.inp || 0, e.duration); };
  watch("event", interaction, { durationThreshold: 16 });
  watch("first-input", interaction);
  Object.defineProperty(window, "__workflowExporterVitals", { configurable: false, enumerable: false, value: () => {
    const n = performance.getEntriesByType("navigation")[0];
    const span = (a, b) => (b > 0 && b >= a ? Math.round(b - a) : undefined);
    const navigation = n ? {
      dns: span(n.domainLookupStart, n.domainLookupEnd), connect: span(n.connectStart, n.connectEnd),
      ttfb: span(n.startTime, n.responseStart), response: span(n.responseStart, n.responseEnd),
      dom_interactive: span(n.startTime, n.domInteractive),
      dom_content_loaded: span(n.startTime, n.domContentLoadedEventEnd), load: span(n.startTime, n.loadEventEnd),
      transfer_bytes: n.transferSize || undefined,
    } : {};
    return { vitals: { ...v, ttfb: n ? Math.round(n.responseStart) : null }, navigation };
  }});
})();
"""


# --- load time -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrowserAction:
    kind: str  # one of ACTIONS
    selector: str | None = None
    value: str | None = None
    optional: bool = False
    text: str | None = None  # wait_for text
    url: str | None = None  # wait_for url (regex), or goto's path
    state: str | None = None  # wait_for selector state, or load state


@dataclass(frozen=True)
class BrowserSpec:
    goto: str | None = None
    actions: tuple[BrowserAction, ...] = ()
    allow_console_errors: tuple[str, ...] = ()
    timeout: float = DEFAULT_ACTION_TIMEOUT


def missing_component() -> str | None:
    """Why browser steps cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return (
            "browser steps need the browser extra: pip install 'workflow-exporter[browser]' (Playwright for Python; "
            "it uses your Chromium, it downloads none)"
        )
    if chromium_path() is None:
        return (
            "browser steps need Chromium: apt-get install chromium (or set WORKFLOW_EXPORTER_CHROMIUM to a "
            f"Chromium or Chrome binary; looked for {', '.join(CHROMIUM_CANDIDATES)})"
        )
    return None


def chromium_path() -> str | None:
    """The browser binary: ``WORKFLOW_EXPORTER_CHROMIUM``, else the first of CHROMIUM_CANDIDATES that exists."""
    configured = os.environ.get("WORKFLOW_EXPORTER_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in (*CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _text(raw: Any, name: str, where: str, problems: Problems) -> str | None:
    if not isinstance(raw, str) or not raw:
        problems.add(where, f"browser: {name} must be a non-empty string, got {raw!r}")
        return None
    return raw


def _regex(pattern: Any, name: str, where: str, problems: Problems) -> str:
    if not isinstance(pattern, str):
        problems.add(where, f"{name}: {pattern!r} is not a regular expression")
        return "(?!)"
    if "${" not in pattern:
        try:
            re.compile(pattern)
        except re.error as error:
            problems.add(where, f"{name}: invalid regular expression {pattern!r}: {error}")
    return pattern


def _path(raw: Any, name: str, where: str, problems: Problems) -> str | None:
    value = _text(raw, name, where, problems)
    if value is not None and not value.startswith(("/", "${", "http://", "https://")):
        problems.add(where, f"browser: {name} must be a path on the target ('/cart') or a URL, got {value!r}")
    if value is not None and value.startswith(("//", "/\\")):
        problems.add(where, f"browser: {name} must start with one '/' (a leading '//' names another host)")
    return value


def _action(raw: Any, where: str, problems: Problems) -> BrowserAction | None:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        problems.add(where, f"browser: each action is a mapping with one of {', '.join(ACTIONS)}, got {raw!r}")
        return None
    ((kind, body),) = raw.items()
    if kind not in ACTIONS:
        problems.add(where, f"browser: {unknown('action', str(kind), ACTIONS)}")
        return None
    if kind == "goto":
        path = _path(body, "goto", where, problems)
        return BrowserAction("goto", url=path) if path else None
    if kind == "click" and isinstance(body, str):
        return BrowserAction("click", selector=body)
    if not isinstance(body, Mapping):
        problems.add(where, f"browser: {kind} takes a mapping, got {body!r}")
        return None
    allowed = {
        "click": {"selector", "optional"},
        "fill": {"selector", "value"},
        "select": {"selector", "value"},
        "wait_for": {"selector", "state", "text", "url", "load_state"},
    }[kind]
    for key in body:
        if key not in allowed:
            problems.add(where, f"browser: {kind}: {unknown('field', str(key), allowed)}")
    optional = body.get("optional", False)
    if not isinstance(optional, bool):
        problems.add(where, f"browser: {kind}.optional must be true or false, got {optional!r}")
        optional = False
    if kind in ("fill", "select"):
        selector = _text(body.get("selector"), f"{kind}.selector", where, problems)
        value = body.get("value")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            problems.add(where, f"browser: {kind}.value must be text, got {value!r}")
            value = ""
        return BrowserAction(kind, selector=selector, value=str(value))
    if kind == "click":
        return BrowserAction("click", selector=_text(body.get("selector"), "click.selector", where, problems),
                             optional=optional)  # fmt: skip
    # wait_for: exactly one of selector, text, url, load_state
    targets = [key for key in ("selector", "text", "url", "load_state") if key in body]
    if len(targets) != 1:
        problems.add(where, "browser: wait_for needs exactly one of selector, text, url, load_state")
        return None
    (what,) = targets
    if what == "selector":
        state = body.get("state", "visible")
        if state not in WAIT_STATES:
            problems.add(where, f"browser: wait_for.state must be one of {', '.join(WAIT_STATES)}, got {state!r}")
        return BrowserAction("wait_for", selector=_text(body["selector"], "wait_for.selector", where, problems),
                             state=str(state))  # fmt: skip
    if "state" in body:
        problems.add(where, "browser: wait_for.state goes with wait_for.selector")
    if what == "text":
        return BrowserAction("wait_for", text=_text(body["text"], "wait_for.text", where, problems))
    if what == "url":
        return BrowserAction("wait_for", url=_regex(body["url"], "wait_for.url", where, problems))
    load_state = body["load_state"]
    if load_state not in LOAD_STATES:
        problems.add(where, f"browser: wait_for.load_state must be one of {', '.join(LOAD_STATES)}, got {load_state!r}")
    return BrowserAction("wait_for", state=str(load_state))


def parse(raw: Any, where: str, problems: Problems, targets: list[Target]) -> BrowserSpec:
    """The step's ``browser:`` block; also reports a missing Playwright or Chromium (a load-time error)."""
    missing = missing_component()
    if missing:
        problems.add(where, missing)
    if not isinstance(raw, Mapping):
        problems.add(where, "browser must be a mapping with goto and/or actions")
        return BrowserSpec()
    allowed = {"goto", "actions", "allow_console_errors", "timeout"}
    for key in raw:
        if key not in allowed:
            problems.add(where, f"browser: {unknown('field', str(key), allowed)}")
    goto = _path(raw["goto"], "goto", where, problems) if "goto" in raw else None
    actions_raw = raw.get("actions", [])
    if not isinstance(actions_raw, list):
        problems.add(where, "browser: actions must be a list")
        actions_raw = []
    actions = tuple(a for a in (_action(item, where, problems) for item in actions_raw) if a is not None)
    if goto is None and not actions:
        problems.add(where, "browser: give goto, actions, or both")
    allow = raw.get("allow_console_errors", [])
    allow = [allow] if isinstance(allow, str) else allow
    if not isinstance(allow, list):
        problems.add(where, "browser: allow_console_errors must be a list of regular expressions")
        allow = []
    timeout = DEFAULT_ACTION_TIMEOUT
    if "timeout" in raw:
        try:
            timeout = parse_duration(raw["timeout"])
            if timeout <= 0:
                raise ValueError("must be more than 0")
        except ValueError as error:
            problems.add(where, f"browser: timeout: {error}")
            timeout = DEFAULT_ACTION_TIMEOUT
    return BrowserSpec(
        goto=goto,
        actions=actions,
        allow_console_errors=tuple(_regex(p, "browser: allow_console_errors", where, problems) for p in allow),
        timeout=timeout,
    )


def parse_expect(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, Any]:
    allowed = {"url", "title", "text", "max_duration", *STATE_CHECKS}
    expect: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            problems.add(where, f"expect: {unknown('assertion', str(key), allowed)}")
        elif key in ("url", "title"):
            expect[key] = _regex(value, f"expect.{key}", where, problems)
        elif key == "text":
            patterns = value if isinstance(value, list) else [value]
            expect[key] = [_regex(p, "expect.text", where, problems) for p in patterns]
        elif key in STATE_CHECKS:
            selectors = value if isinstance(value, list) else [value]
            for selector in selectors:
                if not isinstance(selector, str) or not selector:
                    problems.add(where, f"expect.{key}: {selector!r} is not a selector")
            expect[key] = [s for s in selectors if isinstance(s, str) and s]
    return expect


def parse_extract(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, dict[str, Any]]:
    extract: dict[str, dict[str, Any]] = {}
    sources = ("attribute", "text", "url")
    for name, source in raw.items():
        if not isinstance(source, Mapping) or len(source) != 1:
            problems.add(where, f"extract.{name}: use exactly one of {', '.join(sources)}")
            continue
        ((kind, value),) = source.items()
        if kind == "text":
            if isinstance(value, str) and value:
                extract[str(name)] = {"text": value}
            else:
                problems.add(where, f"extract.{name}: text takes a selector, got {value!r}")
        elif kind == "attribute":
            if isinstance(value, Mapping) and set(value) == {"selector", "name"}:
                extract[str(name)] = {"attribute": (str(value["selector"]), str(value["name"]))}
            else:
                problems.add(where, f"extract.{name}: attribute takes {{selector: ..., name: ...}}, got {value!r}")
        elif kind == "url":
            try:
                extract[str(name)] = {"url": re.compile(str(value))}
            except re.error as error:
                problems.add(where, f"extract.{name}: invalid regular expression {value!r}: {error}")
        else:
            problems.add(where, f"extract.{name}: {unknown('source', str(kind), sources)}")
    return extract


def idempotent(spec: BrowserSpec) -> bool:
    """A page's buttons may change anything: browser steps are never retried."""
    return False


# --- the browser pool ------------------------------------------------------------------------------------------

_T = TypeVar("_T")


class _Worker:
    """One thread owning one Playwright and one Chromium (Playwright's sync API is bound to its thread); other
    threads hand it jobs. Chromium is started on the first job and again if it died."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.Queue[tuple[Callable[[Any], Any], Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def call(self, job: Callable[[Any], _T], timeout: float) -> _T:
        """Run ``job(browser)`` on the worker; FutureTimeout after ``timeout`` seconds (the job goes on)."""
        future: Future[_T] = Future()
        self._jobs.put((job, future))
        return future.result(timeout=max(timeout, 0.001))

    def stop(self) -> None:
        self._jobs.put(None)

    def _loop(self) -> None:
        from playwright.sync_api import sync_playwright

        manager: Any = None
        browser: Any = None
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if manager is None:
                        manager = sync_playwright().start()
                    if browser is None or not browser.is_connected():
                        path = chromium_path()
                        if path is None:
                            raise RuntimeError(missing_component() or "no Chromium")
                        browser = manager.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
                    future.set_result(job(browser))
                except BaseException as error:
                    future.set_exception(error)
        finally:
            for stop in (browser and browser.close, manager and manager.stop):
                if stop:
                    with contextlib.suppress(Exception):  # the process is going away anyway
                        stop()


class BrowserPool:
    """At most ``size`` browsers; a run holds one from its first browser step to its end."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._free: list[_Worker] = []
        self._slots = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._all: list[_Worker] = []

    def acquire(self, timeout: float) -> _Worker | None:
        if not self._slots.acquire(timeout=max(timeout, 0.0)):
            return None
        with self._lock:
            if self._free:
                return self._free.pop()
            worker = _Worker(f"browser-{len(self._all) + 1}")
            self._all.append(worker)
            return worker

    def release(self, worker: _Worker) -> None:
        with self._lock:
            self._free.append(worker)
        self._slots.release()

    def stop(self) -> None:
        with self._lock:
            for worker in self._all:
                worker.stop()
            self._all.clear()
            self._free.clear()


_pool: BrowserPool | None = None
_pool_lock = threading.Lock()
_screenshot_dir: Path | None = None


def configure(pool_size: int | None = None, screenshot_dir: str | Path | None = None) -> None:
    """Set the pool size (before the first browser step) and where failure screenshots go (the exporter points
    it at ``<--storage.path>/screenshots``; default ``WORKFLOW_EXPORTER_SCREENSHOTS``, else a temp directory)."""
    global _pool, _screenshot_dir
    with _pool_lock:
        if pool_size is not None:
            if _pool is not None:
                _pool.stop()
            _pool = BrowserPool(pool_size)
        if screenshot_dir is not None:
            _screenshot_dir = Path(screenshot_dir)


def pool() -> BrowserPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            try:
                size = int(os.environ.get("WORKFLOW_EXPORTER_BROWSER_POOL", DEFAULT_POOL_SIZE))
            except ValueError:
                size = DEFAULT_POOL_SIZE
            _pool = BrowserPool(size)
        return _pool


@atexit.register
def _stop_pool() -> None:
    if _pool is not None:
        _pool.stop()


def screenshot_dir() -> Path:
    if _screenshot_dir is not None:
        return _screenshot_dir
    configured = os.environ.get("WORKFLOW_EXPORTER_SCREENSHOTS")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "workflow-exporter-screenshots"


# --- one run's page --------------------------------------------------------------------------------------------


@dataclass
class _Session:
    """The run's browser context and page (living on ``worker``'s thread) and what the page did so far."""

    worker: _Worker
    context: Any = None
    page: Any = None
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


def _session(context: RunContext) -> _Session:
    """The run's session: a browser from the pool (waiting within the deadline) and, closed at the run's end,
    its context."""
    session = context.resources.get("browser")
    if isinstance(session, _Session):
        return session
    browsers = pool()
    worker = browsers.acquire(context.remaining())
    if worker is None:
        raise StepFailure("timeout", f"no browser became free within the run's deadline (pool of {browsers.size})")
    session = _Session(worker=worker)
    context.resources["browser"] = session

    def close() -> None:
        if session.closed:
            return
        session.closed = True
        try:
            if session.context is not None:
                worker.call(lambda _browser: session.context.close(), SHUTDOWN_GRACE_SECONDS)
        finally:
            browsers.release(worker)

    context.closers.append(close)
    return session


def _open(session: _Session, browser: Any, context: RunContext) -> None:
    """Create the run's context and page (on the worker's thread), with the listeners and the document route."""
    target = context.target
    bctx = browser.new_context(
        ignore_https_errors=target.tls.insecure_skip_verify, viewport={"width": 1280, "height": 800}
    )
    bctx.add_init_script(VITALS_SCRIPT)
    home = origin_of(target.base_url)
    run_id = context.correlation_id
    secret = target.synthetic_secret

    def marker(correlation_id: str) -> str:
        return sign_marker(secret, correlation_id) if secret else "1"

    def requests_carry_the_marker(route: Any, request: Any) -> None:
        try:
            call_id = request.headers.get("x-request-id")
            kind, own = request.resource_type, origin_of(request.url) == home
            if (kind == "document" or (kind in ("fetch", "xhr") and not call_id)) and own:
                # A document, or what the page asks its own server without an ID (a client-side navigation's
                # server render, a server action): the server renders it under the run's ID.
                headers = {**request.headers, "x-request-id": run_id, "traceparent": traceparent_for(run_id),
                           "x-synthetic": marker(run_id)}  # fmt: skip
            elif kind in ("fetch", "xhr") and call_id:
                # An API call the page's own instrumentation gave an ID (to the origins the app chose): marked
                # synthetic for that ID, so the backend leaves the journey's calls out of its users' figures.
                headers = {**request.headers, "x-synthetic": marker(call_id)}
            else:
                route.continue_()
                return
            route.continue_(headers=headers)
        except Exception:  # the page went away meanwhile
            pass

    if home is not None:
        # Only what can be a document or an API call comes through Python: not Next.js' /_next/ files nor static
        # files by their extension (each intercepted request is a round trip between Chromium, Playwright's driver
        # and us).
        static = rf"(?![^?#]*\.(?:{STATIC_EXTENSIONS})(?:[?#]|$))"
        bctx.route(re.compile(rf"^https?://[^/?#]+(/(?!_next/){static}[^?#]*)?([?#].*)?$"), requests_carry_the_marker)
    page = bctx.new_page()
    page.on("console", lambda message: _console(session, message))
    page.on("pageerror", lambda error: _remember(session.page_errors, _error_text(error)))
    page.on("requestfailed", lambda request: _request_failed(session, request))
    page.on("response", lambda response: _response(session, response))
    session.context, session.page = bctx, page


def _remember(items: list[Any], item: Any, limit: int = 10 * KEPT_CALLS) -> None:
    if len(items) < limit:
        items.append(item)


def _error_text(error: Any) -> str:
    name, message = getattr(error, "name", "") or "Error", getattr(error, "message", "") or str(error)
    return kept_text(f"{name}: {message}", KEPT_MESSAGE_TEXT)


def _console(session: _Session, message: Any) -> None:
    try:
        if message.type == "error":
            _remember(session.console_errors, kept_text(message.text, KEPT_MESSAGE_TEXT))
    except Exception:
        pass


def _request_failed(session: _Session, request: Any) -> None:
    try:
        error = request.failure or "failed"
        if "ERR_ABORTED" in error:  # a navigation replaced it, or the page cancelled it: not a failure
            return
        headers = request.headers
        _remember(session.failed_requests, {"method": request.method, "url": _plain_url(request.url),
                                            "error": error, "request_id": headers.get("x-request-id")})  # fmt: skip
    except Exception:
        pass


def _response(session: _Session, response: Any) -> None:
    try:
        request = response.request
        sent = request.headers.get("x-request-id")
        answered = response.headers.get("x-request-id")
        if not (sent or answered):
            return  # not an API call of ours (the page's scripts, styles, images)
        call = {"method": request.method, "url": _plain_url(response.url), "status": response.status,
                "request_id": answered or sent, "sent_request_id": sent,
                "document": request.resource_type == "document"}  # fmt: skip
        _remember(session.responses, call)
    except Exception:
        pass


def _plain_url(url: str) -> str:
    """A URL without query and fragment (they may carry tokens), cut."""
    return kept_text(re.split(r"[?#]", url, maxsplit=1)[0], KEPT_URL_CHARS)


# --- run time --------------------------------------------------------------------------------------------------


def _target_url(target: Target, value: str) -> str:
    """A path on the target, or a URL on its origin; anything else fails the step with ``extraction``."""
    if value.startswith("/") and not value.startswith(("//", "/\\")):
        return target.base_url + value
    if origin_of(value) is None or origin_of(value) != origin_of(target.base_url) or has_userinfo(value):
        raise StepFailure("extraction", f"{quoted(value)} is not a path or a URL on the target's origin; not opened")
    return value


@dataclass
class _Outcome:
    """What the worker's thread hands back: plain data only."""

    duration: float = 0.0
    started: float = 0.0  # time.perf_counter() when the actions began (after the run's page was opened)
    action_error: tuple[str, str] | None = None  # (reason, message)
    document_status: int | None = None
    url: str = ""
    title: str = ""
    checks: list[AssertionResult] = field(default_factory=list)
    extracted: dict[str, Any] = field(default_factory=dict)
    extract_error: str | None = None
    measured: dict[str, Any] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    screenshot: bytes | None = None


def _ms(seconds: float) -> float:
    return max(seconds, 0.001) * 1000


def _act(page: Any, action: BrowserAction, target: Target, timeout_ms: float, outcome: _Outcome) -> None:
    if action.kind == "goto":
        response = page.goto(_target_url(target, action.url or "/"), timeout=timeout_ms, wait_until="load")
        outcome.document_status = response.status if response is not None else outcome.document_status
    elif action.kind == "click":
        locator = page.locator(action.selector).first
        if action.optional and not locator.is_visible():
            return
        locator.click(timeout=timeout_ms)
    elif action.kind == "fill":
        page.locator(action.selector).first.fill(action.value or "", timeout=timeout_ms)
    elif action.kind == "select":
        page.locator(action.selector).first.select_option(action.value or "", timeout=timeout_ms)
    elif action.selector is not None:
        page.locator(action.selector).first.wait_for(state=action.state or "visible", timeout=timeout_ms)
    elif action.text is not None:
        page.get_by_text(action.text).first.wait_for(state="visible", timeout=timeout_ms)
    elif action.url is not None:
        page.wait_for_url(re.compile(action.url), timeout=timeout_ms)
    else:
        page.wait_for_load_state(action.state or "load", timeout=timeout_ms)


def _describe(action: BrowserAction) -> str:
    what = action.selector or action.text or action.url or action.state or ""
    return f"{action.kind} {what!r}"


def _judge(page: Any, expect: Mapping[str, Any], variables: Mapping[str, Any], checks: list[AssertionResult]) -> None:
    """The expectations, each checked once as the page is now (wait for things with wait_for actions)."""
    from urllib.parse import urlsplit

    def regex(pattern: str) -> str:
        escaped = {name: re.escape(str(value)) for name, value in variables.items()}
        from ..templating import render

        return str(render(pattern, escaped))

    if "url" in expect:
        parts = urlsplit(page.url)
        where = parts.path + (f"?{parts.query}" if parts.query else "")
        pattern = regex(expect["url"])
        checks.append(
            AssertionResult("url", re.search(pattern, where) is not None, f"url {quoted(where)} against /{pattern}/")
        )
    if "title" in expect:
        title, pattern = page.title(), regex(expect["title"])
        checks.append(
            AssertionResult(
                "title", re.search(pattern, title) is not None, f"title {quoted(title)} against /{pattern}/"
            )
        )
    if "text" in expect:
        body = page.locator("body").inner_text(timeout=1000)
        for raw in expect["text"]:
            pattern = regex(raw)
            found = re.search(pattern, body) is not None
            checks.append(
                AssertionResult(
                    "text", found, f"the page's text {'matches' if found else 'does not match'} /{pattern}/"
                )
            )
    states = {
        "visible": lambda loc: loc.is_visible(),
        "hidden": lambda loc: loc.is_hidden(),
        "enabled": lambda loc: loc.count() > 0 and loc.is_enabled(timeout=1000),
        "disabled": lambda loc: loc.count() > 0 and loc.is_disabled(timeout=1000),
        "checked": lambda loc: loc.count() > 0 and loc.is_checked(timeout=1000),
    }
    for state, check in states.items():
        for selector in expect.get(state, ()):
            try:
                ok = bool(check(page.locator(selector).first))
            except Exception as error:
                ok = False
                selector = f"{selector} ({_short_error(error)})"
            checks.append(AssertionResult(state, ok, f"{selector} is {'' if ok else 'not '}{state}"))


def _short_error(error: BaseException) -> str:
    """Playwright's message without its call log."""
    return kept_text(str(error).split("\n", 1)[0].strip(), 500)


def _extract(page: Any, extract: Mapping[str, Mapping[str, Any]], outcome: _Outcome) -> None:
    for name, source in extract.items():
        value: Any = None
        try:
            if "text" in source:
                locator = page.locator(source["text"]).first
                value = locator.inner_text(timeout=1000) if locator.count() else None
                where = f"text of {source['text']!r}"
            elif "attribute" in source:
                selector, attribute = source["attribute"]
                locator = page.locator(selector).first
                value = locator.get_attribute(attribute, timeout=1000) if locator.count() else None
                where = f"attribute {attribute} of {selector!r}"
            else:
                match = source["url"].search(page.url)
                value = (match.group(1) if match.groups() else match.group(0)) if match else None
                where = f"url /{source['url'].pattern}/"
        except Exception as error:
            outcome.extract_error = f"{name}: {_short_error(error)}"
            return
        if value is None or value == "":
            outcome.extract_error = f"{name}: {where} found nothing on {_plain_url(page.url)}"
            return
        outcome.extracted[name] = value.strip() if isinstance(value, str) else value


def _step_job(session: _Session, context: RunContext, step: Step, spec: BrowserSpec, actions: list[BrowserAction],
              deadline: float) -> Callable[[Any], _Outcome]:  # fmt: skip
    """The step, as one job on the worker's thread (one hop per step, whatever the number of actions)."""

    def job(browser: Any) -> _Outcome:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        if session.context is None:
            _open(session, browser, context)
        page = session.page
        marks = (len(session.console_errors), len(session.page_errors), len(session.failed_requests),
                 len(session.responses))  # fmt: skip
        outcome = _Outcome()
        outcome.started = started = time.perf_counter()
        for action in actions:
            left = deadline - time.monotonic()
            if left <= 0:
                outcome.action_error = ("timeout", f"the run's deadline passed before {_describe(action)}")
                break
            timeout_ms = _ms(min(spec.timeout, left))
            try:
                _act(page, action, context.target, timeout_ms, outcome)
            except StepFailure as failure:
                outcome.action_error = (failure.reason, failure.message)
                break
            except PlaywrightTimeout as error:
                cut_by_run = timeout_ms < spec.timeout * 1000 - 1
                reason = "timeout" if cut_by_run else "assertion"
                outcome.action_error = (reason, f"{_describe(action)}: {_short_error(error)}")
                break
            except PlaywrightError as error:
                outcome.action_error = (_net_reason(str(error)), f"{_describe(action)}: {_short_error(error)}")
                break
        outcome.duration = time.perf_counter() - started
        try:
            if outcome.action_error is None:
                _judge(page, step.expect, context.variables, outcome.checks)
                _extract(page, step.extract, outcome)
        except PlaywrightError as error:
            outcome.checks.append(AssertionResult("page", False, _short_error(error)))
        try:
            outcome.url, outcome.title = page.url, page.title()
            outcome.measured = (
                page.evaluate("() => window.__workflowExporterVitals ? window.__workflowExporterVitals() : {}") or {}
            )
        except PlaywrightError:
            pass
        outcome.console_errors = session.console_errors[marks[0] :]
        outcome.page_errors = session.page_errors[marks[1] :]
        outcome.failed_requests = session.failed_requests[marks[2] :]
        outcome.calls = session.responses[marks[3] :]
        failing = _first_failure(outcome, spec) is not None or outcome.extract_error is not None
        if failing or any(not c.ok for c in outcome.checks):  # the budget is judged later
            with contextlib.suppress(PlaywrightError):
                outcome.screenshot = page.screenshot(
                    type="jpeg", quality=70, timeout=_ms(min(2.0, max(deadline - time.monotonic(), 0.5)))
                )
        return outcome

    return job


# Chromium's network errors by reason (net/base/net_error_list.h).
_NET_REASONS = (
    ("ERR_NAME_NOT_RESOLVED", "dns"),
    ("ERR_NAME_RESOLUTION_FAILED", "dns"),
    ("ERR_CERT_", "tls"),
    ("ERR_SSL_", "tls"),
    ("ERR_TIMED_OUT", "timeout"),
    ("ERR_CONNECTION_TIMED_OUT", "timeout"),
    ("ERR_CONNECTION_", "connect"),
    ("ERR_ADDRESS_UNREACHABLE", "connect"),
    ("ERR_EMPTY_RESPONSE", "connect"),
)


def _net_reason(error: str) -> str:
    for marker, reason in _NET_REASONS:
        if marker in error:
            return reason
    return "request_failed"


def _first_failure(outcome: _Outcome, spec: BrowserSpec) -> tuple[str, str] | None:
    """The step's failure, by the order in the module docstring."""
    server_errors = [c for c in outcome.calls if c["status"] >= 500]
    if server_errors:
        call = server_errors[0]
        return "http_status", (f"{call['method']} {call['url']} answered {call['status']} "
                               f"(X-Request-ID {call['request_id']})")  # fmt: skip
    if outcome.document_status is not None and outcome.document_status >= 400:
        return "http_status", f"the page {_plain_url(outcome.url)} answered {outcome.document_status}"
    if outcome.failed_requests:
        failed = outcome.failed_requests[0]
        cors = next((line for line in outcome.console_errors if "CORS" in line), None)
        detail = f"; the console says: {cors}" if cors else ""
        sent = f" (X-Request-ID {failed['request_id']})" if failed.get("request_id") else ""
        return _net_reason(
            failed["error"]
        ), f"{failed['method']} {failed['url']} failed: {failed['error']}{sent}{detail}"
    if outcome.page_errors:
        return "page_error", f"the page threw: {outcome.page_errors[0]}"
    console = _counted_console_errors(outcome.console_errors, spec)
    if console:
        return "page_error", f"the page logged an error: {console[0]}"
    if outcome.action_error is not None:
        return outcome.action_error
    return None


def _counted_console_errors(lines: list[str], spec: BrowserSpec) -> list[str]:
    """Console errors that fail a step: not the browser's own line for a failed resource (the requests judge
    those) and not allowed by ``allow_console_errors``."""
    return [
        line for line in lines
        if not line.startswith("Failed to load resource")
        and not any(re.search(pattern, line) for pattern in spec.allow_console_errors)
    ]  # fmt: skip


def _keep_screenshot(data: bytes, context: RunContext, step: Step) -> dict[str, Any]:
    """Write a failure's screenshot to the screenshot directory (bounded: the oldest files go); its path and size."""
    if len(data) > SCREENSHOT_MAX_BYTES:
        return {"bytes": len(data), "kept": False, "why": f"larger than {SCREENSHOT_MAX_BYTES} bytes"}
    directory = screenshot_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        name = _FILE_CHARS.sub("_", f"{stamp}-{context.correlation_id}-{step.name}")[:200] + ".jpg"
        path = directory / name
        path.write_bytes(data)
        existing = sorted(directory.glob("*.jpg"), key=lambda p: p.stat().st_mtime)
        for old in existing[: max(len(existing) - SCREENSHOTS_KEPT, 0)]:
            old.unlink(missing_ok=True)
        return {"path": str(path), "bytes": len(data), "kept": True}
    except OSError as error:
        return {"bytes": len(data), "kept": False, "why": kept_text(str(error), 300)}


def _rendered(context: RunContext, value: str | None) -> str | None:
    return None if value is None else str(context.render(value))


def run(step: Step, spec: BrowserSpec, context: RunContext, result: StepResult) -> None:
    """Do the step in the run's page (see the module docstring); StepFailure ends it with a reason."""
    actions = [
        BrowserAction(
            a.kind,
            selector=_rendered(context, a.selector),
            value=_rendered(context, a.value),
            optional=a.optional,
            text=_rendered(context, a.text),
            url=_rendered(context, a.url),
            state=a.state,
        )
        for a in ([BrowserAction("goto", url=spec.goto)] if spec.goto else []) + list(spec.actions)
    ]
    for action in actions:
        if action.kind == "goto":
            _target_url(context.target, action.url or "/")  # refuse another origin before anything is opened
    session = _session(context)
    deadline = time.monotonic() + context.remaining()
    entered = time.perf_counter()
    try:
        outcome = session.worker.call(
            _step_job(session, context, step, spec, actions, deadline), context.remaining() + SHUTDOWN_GRACE_SECONDS
        )
    except FutureTimeout:
        raise StepFailure("timeout", "the browser did not finish the step within the run's deadline") from None
    secrets = context.target.secrets()
    # The step spans its actions, as its budget does: it starts when they do, after the wait for the browser
    # worker and the opening of the run's browser context (seconds on a cold browser), so the requests its pages
    # made fall inside it on the waterfall and the trace.
    result.offset += max(0.0, outcome.started - entered)
    result.duration = outcome.duration
    result.http_status = outcome.document_status
    result.assertions.extend(outcome.checks)
    measured = outcome.measured if isinstance(outcome.measured, dict) else {}
    details: dict[str, Any] = {
        "url": redact_text(_plain_url(outcome.url), secrets),
        "title": kept_text(outcome.title, 300),
        "vitals": {k: v for k, v in (measured.get("vitals") or {}).items() if isinstance(v, (int, float))},
        "navigation": {k: v for k, v in (measured.get("navigation") or {}).items() if isinstance(v, (int, float))},
        "console_errors": [redact_text(line, secrets) for line in outcome.console_errors[:KEPT_MESSAGES]],
        "page_errors": [redact_text(line, secrets) for line in outcome.page_errors[:KEPT_MESSAGES]],
        "failed_requests": [
            {**f, "url": redact_text(f["url"], secrets)} for f in outcome.failed_requests[:KEPT_MESSAGES]
        ],
        "calls": [{**c, "url": redact_text(c["url"], secrets)} for c in outcome.calls[:KEPT_CALLS]],
        "calls_seen": len(outcome.calls),
    }
    result.browser = details
    check_budget(step, result)
    failure = _first_failure(outcome, spec)
    if failure is None and outcome.extract_error is None and not any(not c.ok for c in outcome.checks):
        for name, value in outcome.extracted.items():
            context.variables[name] = value
            result.extracted[name] = kept_value(value)
        return
    if outcome.screenshot is not None:
        details["screenshot"] = _keep_screenshot(outcome.screenshot, context, step)
    if failure is not None:
        raise StepFailure(failure[0], kept_text(redact_text(failure[1], secrets), 2048))
    fail_on_first_failed_check(result)
    if outcome.extract_error is not None:
        raise StepFailure("extraction", kept_text(redact_text(outcome.extract_error, secrets), 2048))
