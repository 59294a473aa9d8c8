"""The JSON API under ``/api/v1/`` (docs/api.md), the live stream of runs, and the parameter rules the pages
share with it.

Answers follow Prometheus' HTTP API: ``{"status": "success", "data": ...}``, or on a bad parameter a 400 with
``{"status": "error", "errorType": "bad_data", "error": "parameter 'limit': ..."}`` naming the parameter.
Unknown and repeated parameters are bad parameters too; an empty value means "not given" (an HTML form's
"any").

``GET /api/v1/stream`` is Server-Sent Events: one ``run`` event per finished run as it lands, filtered like
the run list. Each stream holds one of the server's worker threads, so at most ``max_streams`` are open at
once (``--web.max-streams``; the server gets that many extra threads) and one more is answered 503. Streams
end on reload and shutdown; browsers reconnect by themselves after ``retry`` milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIEnvironment

from synthetic.contracts.formats import sweep_document
from synthetic.durations import LATEST_MOMENT
from synthetic.result import REASONS
from synthetic.run_formats import run_document

from .store import (
    RESULTS,
    SOURCES,
    SWEEP_SOURCES,
    FailureGroup,
    PairStats,
    RunFilter,
    RunSummary,
    SweepFilter,
    Window,
)

if TYPE_CHECKING:
    from .service import Exporter

Response = tuple[str, list[tuple[str, str]], bytes]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_NAME = 200  # characters of a workflow, target or step name in a parameter
DEFAULT_MAX_STREAMS = 4
HEARTBEAT_SECONDS = 5.0  # a comment line on an idle stream: proxies keep it open, a client gone (a page left or
# reloaded) is noticed at the next one and its stream freed
STREAM_QUEUE = 1000  # events waiting for one slow client; beyond it the stream is closed (it reconnects)
RETRY_MILLISECONDS = 2000
FAILURE_WINDOW = 86400.0  # seconds: /failures looks back this far unless since is given

RUNBOOKS = "https://github.com/workflow-exporter/workflow-exporter/blob/main/docs/runbooks/"


@dataclass(frozen=True)
class Suggestion:
    """What to look at next for a failure reason, and the runbook section that says more."""

    text: str
    runbook: str  # path and anchor under RUNBOOKS

    @property
    def url(self) -> str:
        return RUNBOOKS + self.runbook


_FAILING = "workflows.md#journeyworkflowfailing"
SUGGESTIONS: Mapping[str, Suggestion] = {
    "dns": Suggestion("The target's host name did not resolve: check the target's base_url and the DNS the "
                      "exporter uses.", _FAILING),
    "connect": Suggestion("Nothing accepted the connection: is the target up and listening (its health check), is "
                          "a firewall or proxy in the way? Repeated connect failures open the circuit breaker.",
                          _FAILING),
    "tls": Suggestion("The TLS handshake or the certificate check failed: look at the certificate's names, chain "
                      "and expiry, and the target's tls settings (ca_file).", _FAILING),
    "timeout": Suggestion("The run's deadline passed: the message names the phase; the waterfall shows which step "
                          "took the time and the server's app/DB split whether the database did.",
                          "workflows.md#journeystepoverbudget"),
    "protocol": Suggestion("What came back is not HTTP the exporter can read: look at the proxy or load balancer "
                           "in front of the target, or a crashed worker.", _FAILING),
    "redirect": Suggestion("The redirect chain could not be followed: read the Location headers in the response "
                           "head.", _FAILING),
    "http_status": Suggestion("The API answered an unexpected status: read the response body, then the API's log "
                              "line for this correlation ID (its error_class).", "api.md#journeyapierrorratiohigh"),
    "assertion": Suggestion("A check on the response failed: compare the first failing assertion with the response "
                            "body; a failing max_duration means the step was slow.",
                            "workflows.md#journeystepoverbudget"),
    "schema": Suggestion("The response no longer matches the API's OpenAPI document: a deploy changed a field or "
                         "status; the assertion names the place.", _FAILING),
    "extraction": Suggestion("A value the next steps need was not in the response: compare the step's extract "
                             "with the response body.", _FAILING),
    "sql": Suggestion("The database step could not connect or its query failed: read its message, then the "
                      "database's own alerts.", "database.md#journeyslowqueries"),
    "circuit_open": Suggestion("Runs on this target are skipped while its circuit breaker is open after repeated "
                               "connection failures: open the first failed run before it.",
                               "exporter.md#journeycircuitbreakeropen"),
    "page_error": Suggestion("The page failed in the browser (an uncaught error, a failed render, an error it "
                             "logged): read the step's console messages, then the frontend's log lines for this "
                             "correlation ID.", _FAILING),
    "request_failed": Suggestion("A request the page made failed in the browser (blocked by CORS, aborted, "
                                 "refused): look at that request, the API's CORS headers and its log line.",
                                 _FAILING),
    "internal": Suggestion("A bug in the exporter, not in the target: its log has the traceback.",
                           "exporter.md#journeyexporterdown"),
}  # fmt: skip


def suggestion(reason: str | None) -> Suggestion | None:
    return SUGGESTIONS.get(reason or "")


# --- parameters ------------------------------------------------------------------------------------------------


class BadParameter(ValueError):
    """A query parameter the API cannot use; ``name`` is the parameter's."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"parameter {name!r}: {problem}")
        self.name = name


def query_params(environ: WSGIEnvironment, allowed: Iterable[str]) -> dict[str, str]:
    """The request's query parameters: each at most once, all in ``allowed``; empty values left out."""
    allowed = tuple(allowed)
    try:
        parsed = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=50)  # fmt: skip
    except ValueError:
        raise BadParameter("query", "more than 50 parameters") from None
    params = {}
    for name, values in parsed.items():
        if name not in allowed:
            raise BadParameter(name, f"unknown parameter; known: {', '.join(allowed)}")
        if len(values) > 1:
            raise BadParameter(name, "given more than once")
        if values[0] != "":
            params[name] = values[0]
    return params


def _name(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if len(value) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadParameter(name, f"must be a name of at most {MAX_NAME} characters without control characters")
    return value


def _choice(params: Mapping[str, str], name: str, choices: Iterable[str]) -> str | None:
    value = params.get(name)
    choices = tuple(choices)
    if value is not None and value not in choices:
        raise BadParameter(name, f"must be one of {', '.join(choices)}, not {value[:50]!r}")
    return value


def parse_time(value: str, name: str) -> float:
    """Unix seconds from RFC 3339 (``2025-06-01T12:00:00Z``, an offset or ``Z``) or unix seconds."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise BadParameter(
                name, f"must be RFC 3339 (2025-06-01T12:00:00Z) or unix seconds, not {value[:50]!r}"
            ) from None
        if moment.tzinfo is None:
            raise BadParameter(name, "an RFC 3339 time needs its offset (Z for UTC)") from None
        seconds = moment.timestamp()
    if not math.isfinite(seconds) or not 0 <= seconds < LATEST_MOMENT:
        raise BadParameter(name, f"is not a time: {value[:50]!r}")
    return seconds


def _integer(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}, not {value[:50]!r}")
    return int(value)


def cursor_param(params: Mapping[str, str]) -> int | None:
    value = params.get("cursor")
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) < 2**63:
        raise BadParameter("cursor", f"must be a cursor from an earlier answer (next_cursor), not {value[:50]!r}")
    return int(value)


RUN_FILTERS = ("workflow", "target", "result", "reason", "step", "source", "since", "until")


def run_filter(params: Mapping[str, str], since_default: float | None = None) -> RunFilter:
    """A ``RunFilter`` from the parameters in ``RUN_FILTERS``; BadParameter naming the first bad one."""
    since = parse_time(params["since"], "since") if "since" in params else since_default
    until = parse_time(params["until"], "until") if "until" in params else None
    if since is not None and until is not None and since > until:
        raise BadParameter("until", "must not be before since")
    return RunFilter(
        workflow=_name(params, "workflow"),
        target=_name(params, "target"),
        result=_choice(params, "result", RESULTS),
        reason=_choice(params, "reason", REASONS),
        step=_name(params, "step"),
        source=_choice(params, "source", SOURCES),
        since=since,
        until=until,
    )


SWEEP_FILTERS = ("target", "result", "source", "since", "until")


def sweep_filter(params: Mapping[str, str]) -> SweepFilter:
    """A ``SweepFilter`` from the parameters in ``SWEEP_FILTERS``; BadParameter naming the first bad one."""
    where = run_filter({name: value for name, value in params.items() if name in ("target", "since", "until")})
    return SweepFilter(
        target=where.target,
        result=_choice(params, "result", ("success", "failure")),
        source=_choice(params, "source", SWEEP_SOURCES),
        since=where.since,
        until=where.until,
    )


# --- documents -------------------------------------------------------------------------------------------------


def _window(window: Window) -> dict[str, Any]:
    return {"runs": window.runs, "success_ratio": window.success_ratio, "p50_seconds": window.p50,
            "p95_seconds": window.p95}  # fmt: skip


def pair_document(stats: PairStats) -> dict[str, Any]:
    return {
        "workflow": stats.workflow,
        "target": stats.target,
        "last_run": stats.last.document() if stats.last else None,
        "windows": {name: _window(window) for name, window in stats.windows.items()},
    }


def failure_document(group: FailureGroup) -> dict[str, Any]:
    advice = suggestion(group.reason)
    return {
        "workflow": group.workflow,
        "target": group.target,
        "step": group.step,
        "reason": group.reason,
        "result": group.result,
        "message": group.message,
        "count": group.count,
        "first_seen": group.first_seen,
        "last_seen": group.last_seen,
        "hourly": [{"hour": hour, "count": count} for hour, count in sorted(group.hourly.items())],
        "examples": [example.document() for example in group.examples],
        "suggestion": {"text": advice.text, "runbook_url": advice.url} if advice else None,
    }


def _json(status: str, value: Any) -> Response:
    body = json.dumps(value, default=str, allow_nan=False).encode()
    return status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body


def ok(data: Any) -> Response:
    return _json("200 OK", {"status": "success", "data": data})


def error(status: str, kind: str, message: str) -> Response:
    return _json(status, {"status": "error", "errorType": kind, "error": message})


# --- the stream ------------------------------------------------------------------------------------------------

_CLOSE = object()


class _Subscriber:
    def __init__(self, where: RunFilter) -> None:
        self.where = where
        self.events: queue.Queue[Any] = queue.Queue(STREAM_QUEUE)


class StreamHub:
    """Open event streams (at most ``limit``); ``publish`` hands each the runs it asked for."""

    def __init__(self, limit: int = DEFAULT_MAX_STREAMS) -> None:
        if limit < 0:
            raise ValueError(f"max streams must not be negative, not {limit}")
        self.limit = limit
        self._subscribers: list[_Subscriber] = []
        self._lock = threading.Lock()

    def open(self, where: RunFilter) -> _Subscriber | None:
        """A new stream, or None when ``limit`` are open."""
        with self._lock:
            if len(self._subscribers) >= self.limit:
                return None
            subscriber = _Subscriber(where)
            self._subscribers.append(subscriber)
            return subscriber

    def release(self, subscriber: _Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def publish(self, summary: RunSummary) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            if subscriber.where.matches(summary):
                try:
                    subscriber.events.put_nowait(summary)
                except queue.Full:  # a client that does not read: end its stream, it reconnects
                    self._end(subscriber)

    def close_all(self) -> None:
        """End every open stream (reload, shutdown)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            self._end(subscriber)

    def _end(self, subscriber: _Subscriber) -> None:
        self.release(subscriber)
        while True:
            try:
                subscriber.events.put_nowait(_CLOSE)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    subscriber.events.get_nowait()

    def __len__(self) -> int:
        with self._lock:
            return len(self._subscribers)


def _event(summary: RunSummary) -> bytes:
    data = json.dumps(summary.document(), default=str, allow_nan=False)
    return f"event: run\nid: {summary.id}\ndata: {data}\n\n".encode()


# --- the API ---------------------------------------------------------------------------------------------------


class Api:
    """The ``/api/v1/`` endpoints over an ``Exporter`` and its store."""

    def __init__(self, exporter: Exporter, max_streams: int = DEFAULT_MAX_STREAMS,
                 heartbeat: float = HEARTBEAT_SECONDS) -> None:  # fmt: skip
        self.exporter = exporter
        self.heartbeat = heartbeat
        self.streams = StreamHub(max_streams)
        exporter.store.subscribe(self.streams.publish)
        exporter.reload_hooks.append(self.streams.close_all)

    def route(self, method: str, path: str, environ: WSGIEnvironment) -> Response:
        if method != "GET":
            status, headers, body = error("405 Method Not Allowed", "bad_data", "the API answers GET only")
            return status, [*headers, ("Allow", "GET")], body
        handlers: dict[str, Callable[[WSGIEnvironment], Response]] = {
            "/api/v1/runs": self.runs,
            "/api/v1/workflows": self.workflows,
            "/api/v1/failures": self.failures,
            "/api/v1/sweeps": self.sweeps,
        }
        try:
            if path in handlers:
                return handlers[path](environ)
            if path.startswith("/api/v1/runs/") and path.count("/") == 4:
                query_params(environ, ())
                return self.run(path.removeprefix("/api/v1/runs/"))
            if path.startswith("/api/v1/sweeps/") and path.count("/") == 4:
                query_params(environ, ())
                return self.sweep(path.removeprefix("/api/v1/sweeps/"))
        except BadParameter as bad:
            return error("400 Bad Request", "bad_data", str(bad))
        return error("404 Not Found", "not_found", f"no endpoint {path}; see docs/api.md")

    def runs(self, environ: WSGIEnvironment) -> Response:
        params = query_params(environ, (*RUN_FILTERS, "limit", "cursor"))
        where = run_filter(params)
        limit = _integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        found, cursor = self.exporter.store.runs(where, limit, cursor_param(params))
        return ok({"runs": [s.document() for s in found], "next_cursor": str(cursor) if cursor else None})

    def run(self, run_id: str) -> Response:
        stored = self.exporter.store.get_stored(run_id)
        if stored is None:
            return error("404 Not Found", "not_found", f"no run {run_id[:200]!r} in the store")
        summary = stored.summary
        document = run_document(stored.run)
        document.update(id=summary.id, source=summary.source, replay_of=summary.replay_of,
                        has_bodies=summary.has_bodies, step=summary.step, message=summary.message,
                        replays=[s.id for s in self.exporter.store.replays_of(summary.id)])  # fmt: skip
        return ok(document)

    def workflows(self, environ: WSGIEnvironment) -> Response:
        query_params(environ, ())
        pairs = [(w.name, t.name) for w, t in self.exporter.config.pairs()]
        stats = self.exporter.store.pair_stats(pairs)
        return ok({"workflows": [pair_document(stats[pair]) for pair in pairs]})

    def failures(self, environ: WSGIEnvironment) -> Response:
        params = query_params(environ, (*RUN_FILTERS, "limit", "examples"))
        where = run_filter(params, since_default=self.exporter.store.clock() - FAILURE_WINDOW)
        limit = _integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        examples = _integer(params, "examples", 3, 1, 20)
        groups = self.exporter.store.failure_groups(where, limit, examples)
        return ok({"since": where.since, "until": where.until, "groups": [failure_document(g) for g in groups]})

    def sweeps(self, environ: WSGIEnvironment) -> Response:
        params = query_params(environ, (*SWEEP_FILTERS, "limit", "cursor"))
        where = sweep_filter(params)
        limit = _integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        found, cursor = self.exporter.store.sweeps(where, limit, cursor_param(params))
        return ok({"sweeps": [s.document() for s in found], "next_cursor": str(cursor) if cursor else None})

    def sweep(self, sweep_id: str) -> Response:
        stored = self.exporter.store.get_sweep(sweep_id)
        if stored is None:
            return error("404 Not Found", "not_found", f"no contract sweep {sweep_id[:200]!r} in the store")
        document = sweep_document(stored.sweep)
        document.update(id=stored.summary.id, source=stored.summary.source, url=stored.summary.url)
        return ok(document)

    # --- Server-Sent Events -------------------------------------------------------------------------------------

    def stream(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """``GET /api/v1/stream``: a WSGI app of its own, since its answer has no length."""

        def answer(response: Response) -> list[bytes]:
            status, headers, body = response
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]

        if environ.get("REQUEST_METHOD", "GET") != "GET":
            status, headers, body = error("405 Method Not Allowed", "bad_data", "the stream answers GET only")
            return answer((status, [*headers, ("Allow", "GET")], body))
        try:
            where = run_filter(query_params(environ, ("workflow", "target", "result", "reason", "step", "source")))
        except BadParameter as bad:
            return answer(error("400 Bad Request", "bad_data", str(bad)))
        subscriber = self.streams.open(where)
        if subscriber is None:
            return answer(error("503 Service Unavailable", "unavailable",
                                f"{self.streams.limit} streams already open; raise --web.max-streams"))  # fmt: skip
        start_response("200 OK", [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-store"),
                                  ("X-Accel-Buffering", "no")])  # fmt: skip
        return self._events(subscriber)

    def _events(self, subscriber: _Subscriber) -> Iterator[bytes]:
        try:
            yield f"retry: {RETRY_MILLISECONDS}\n: workflow-exporter run stream\n\n".encode()
            while True:
                try:
                    item = subscriber.events.get(timeout=self.heartbeat)
                except queue.Empty:
                    yield b": keep-alive\n\n"
                    continue
                if item is _CLOSE:
                    return
                yield _event(item)
        finally:
            self.streams.release(subscriber)


def iso(seconds: float | None) -> str | None:
    """Unix seconds as RFC 3339 in UTC, to the second."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
