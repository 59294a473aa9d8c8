"""The exporter's HTTP interface (WSGI): routing only, the work is in ``Exporter``.

``/metrics`` (OpenMetrics when asked, with exemplars; the scheduled-run families from lines cached by
exporter/exposition.py), ``/probe?target=&workflow=[&debug=true]``, ``/-/healthy``, ``/-/ready``,
``POST /-/reload``, the pages (``/``, ``/runs/<correlation id>``, ``/failures``, ``POST /runs/<id>/replay`` with
``--web.enable-replay``) and the JSON API under ``/api/v1/`` (exporter/api.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIEnvironment

from prometheus_client import CollectorRegistry

from django_integration.correlation import is_valid_id
from synthetic.waterfall import render_waterfall

from .api import DEFAULT_MAX_STREAMS, Api
from .contracts import contract_page, contract_probe
from .exposition import make_metrics_app
from .metrics import probe_exposition
from .pages import failures_page, index_page, run_page
from .replay import replay_from_page
from .report.page import report_page
from .service import Exporter
from .trace.page import trace_page

logger = logging.getLogger("exporter.http")

DEFAULT_PROBE_TIMEOUT = 120.0
# /probe requests served at once (--probe.max-concurrency); each holds a worker thread for up to its scrape
# timeout, and one beyond the bound is answered 503 at once instead of queueing behind them.
DEFAULT_PROBE_MAX_CONCURRENCY = 32

Response = tuple[str, list[tuple[str, str]], bytes]


def _text(status: str, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    return status, [("Content-Type", content_type)], body.encode()


def probe_timeout(header: str | None, offset: float, workflow_timeout: float) -> float:
    """The scrape timeout Prometheus sent minus ``offset``, never more than the workflow's own timeout."""
    timeout = workflow_timeout
    if header:
        with contextlib.suppress(ValueError):
            timeout = min(timeout, max(float(header) - offset, 0.1))
    return min(timeout, DEFAULT_PROBE_TIMEOUT)


class ExporterApp:
    """The WSGI app. ``max_probes_in_flight`` bounds concurrent ``/probe`` runs (``--probe.max-concurrency``,
    default ``DEFAULT_PROBE_MAX_CONCURRENCY``); ValueError below 1."""

    def __init__(
        self,
        exporter: Exporter,
        registry: CollectorRegistry,
        timeout_offset: float = 0.5,
        max_probes_in_flight: int = DEFAULT_PROBE_MAX_CONCURRENCY,
        max_streams: int = DEFAULT_MAX_STREAMS,
        enable_replay: bool = False,
    ) -> None:
        if max_probes_in_flight < 1:
            raise ValueError(f"max_probes_in_flight must be at least 1, not {max_probes_in_flight}")
        self.exporter = exporter
        self.timeout_offset = timeout_offset
        self.max_probes_in_flight = max_probes_in_flight
        self._probe_slots = threading.BoundedSemaphore(max_probes_in_flight)
        exporter.metrics.probe_requests.labels("refused")  # the series exists from the start, for rate()
        # The scheduled-run families from their cached lines (exporter/exposition.py), gzip at level 1.
        self._metrics_app = make_metrics_app(registry)
        self.api = Api(exporter, max_streams)  # --web.max-streams: event streams open at once
        self.enable_replay = enable_replay  # --web.enable-replay: POST /runs/<id>/replay

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        if path == "/api/v1/stream":  # Server-Sent Events: no Content-Length
            return self.api.stream(environ, start_response)
        try:
            status, headers, body = self.route(method, path, environ)
        except Exception:
            logger.exception("error serving %s", path)
            status, headers, body = _text("500 Internal Server Error", "internal error; see the exporter's log\n")
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def route(self, method: str, path: str, environ: WSGIEnvironment) -> Response:
        routes: dict[str, Callable[[str, WSGIEnvironment], Response]] = {
            "/probe": self.probe,
            "/-/healthy": lambda m, e: _text("200 OK", "Healthy\n"),
            "/-/ready": lambda m, e: _text("200 OK", "Ready\n"),
            "/-/reload": self.reload,
            "/": self.index,
            "/failures": lambda m, e: _html(*failures_page(self.exporter, e)),
            "/report": lambda m, e: report_page(self.exporter, e),
        }
        if path in routes:
            return routes[path](method, environ)
        if path.startswith("/api/v1/"):
            return self.api.route(method, path, environ)
        if path.startswith("/runs/") and path.endswith("/replay"):
            return replay_from_page(self, method, path.removeprefix("/runs/").removesuffix("/replay"), environ)
        if path.startswith("/runs/"):
            run_id = path.removeprefix("/runs/")
            if is_valid_id(run_id) and self.exporter.store.get_stored(run_id) is None:
                # Not a run of ours: a real user's request (an exemplar of django_*); its trace is what there is.
                return "302 Found", [("Location", f"/trace/{run_id}"), ("Content-Type", "text/plain")], b""
            return self.run_page(run_id)
        if path.startswith("/trace/"):
            return _html(*trace_page(self.exporter, path.removeprefix("/trace/")))
        if path == "/contracts" or path.startswith("/contracts/"):
            return contract_page(self.exporter.contracts, self.exporter.config, path)
        return _text("404 Not Found", f"not found: {path}\n")

    def probe(self, method: str, environ: WSGIEnvironment) -> Response:
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if params.get("module") == ["contract"]:  # an on-demand contract sweep (exporter/contracts.py)
            return contract_probe(self.exporter.contracts, self.exporter.config, environ, self.timeout_offset,
                                  self.acquire_probe_slot, self.release_probe_slot)  # fmt: skip
        config = self.exporter.config

        def one(name: str) -> str:
            values = params.get(name, [])
            return values[0] if values else ""

        target_name, workflow_name = one("target"), one("workflow")
        problems = []
        if target_name not in config.targets:
            problems.append(f"unknown target {target_name!r}; configured: {', '.join(sorted(config.targets))}")
        workflow = config.workflows.get(workflow_name)
        if workflow is None:
            problems.append(f"unknown workflow {workflow_name!r}; configured: {', '.join(sorted(config.workflows))}")
        elif target_name in config.targets and target_name not in workflow.targets:
            problems.append(f"workflow {workflow_name!r} does not run on target {target_name!r}")
        if problems or workflow is None:
            self.exporter.metrics.probe_requests.labels("bad_request").inc()
            return _text("400 Bad Request", "\n".join(problems) + "\n")
        if not self._probe_slots.acquire(blocking=False):
            self.exporter.metrics.probe_requests.labels("refused").inc()
            return _text("503 Service Unavailable", f"{self.max_probes_in_flight} probes already in flight; raise "
                         "--probe.max-concurrency or lower the scrape rate\n")  # fmt: skip
        try:
            timeout = probe_timeout(environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS"), self.timeout_offset,
                                    workflow.timeout)  # fmt: skip
            run = self.exporter.probe(workflow, config.targets[target_name], timeout)
        finally:
            self._probe_slots.release()
        exposition = probe_exposition(run, timeout)
        if one("debug") == "true":
            return _text("200 OK", f"{render_waterfall(run)}\nMetrics that would have been returned:\n{exposition}")
        return _text("200 OK", exposition, "text/plain; version=0.0.4; charset=utf-8")

    def reload(self, method: str, environ: WSGIEnvironment) -> Response:
        if method != "POST":
            return _text("405 Method Not Allowed", "use POST to reload\n")
        result = self.exporter.reload()
        status = "200 OK" if result.ok else "500 Internal Server Error" if result.internal else "400 Bad Request"
        return _text(status, result.message + "\n")

    def index(self, method: str, environ: WSGIEnvironment) -> Response:
        return _html(*index_page(self.exporter, environ))

    def run_page(self, correlation_id: str) -> Response:
        return _html(*run_page(self.exporter, correlation_id, self.enable_replay))

    def acquire_probe_slot(self) -> bool:
        """A /probe slot for a run served in a request (a probe, a replay); release with release_probe_slot."""
        return self._probe_slots.acquire(blocking=False)

    def release_probe_slot(self) -> None:
        self._probe_slots.release()


def _html(status: str, page: str) -> Response:
    return status, [("Content-Type", "text/html; charset=utf-8")], page.encode()
