"""``RequestMonitoringMiddleware``: the one middleware of the integration. Put it first in MIDDLEWARE.

Per request it chooses the correlation ID, binds it (with route, method and DB accounting) in a contextvar
that is reset in ``finally``, returns it as ``X-Request-ID``, records the ``django_*`` metrics with the ID as
exemplar, writes one canonical JSON log line and, when enabled, ``Server-Timing``. Sync and async.
A streamed response (``StreamingHttpResponse``, ``FileResponse``) is recorded when its body is done, with the
context bound while the body runs (``_streaming``).
Every step of ours is guarded: whatever fails in here, the application's response goes out unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from . import _streaming, correlation
from ._failopen import report
from .conf import app_settings
from .correlation import REQUEST_ID_HEADER, RequestState
from .db import report_repeated_queries
from .errors import classify_exception, classify_status
from .metrics import Metrics, exemplar, get_metrics
from .synthetic import is_synthetic

request_logger = logging.getLogger("django_integration.request")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_EXPOSE = "Access-Control-Expose-Headers"
# Exposed in this order: the ID first (always), then Server-Timing (when on).
_EXPOSED_WITH_TIMING = (REQUEST_ID_HEADER, "Server-Timing")

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def route_of(request: HttpRequest) -> str:
    """The URL pattern that matched (``api/products/<int:pk>/``), else the view name, else ``<unmatched>``."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNMATCHED_ROUTE
    return match.route or match.view_name or UNMATCHED_ROUTE


def _append_header_value(response: HttpResponseBase, header: str, value: str) -> None:
    existing = response.get(header)
    if not existing:
        response[header] = value
    elif value.lower() not in {item.strip().lower() for item in existing.split(",")}:
        response[header] = f"{existing}, {value}"


def _append_header_values(response: HttpResponseBase, header: str, values: tuple[str, ...]) -> None:
    """``_append_header_value`` for each of ``values`` in turn, with one header write in the usual case."""
    if not response.get(header):
        response[header] = ", ".join(values)
        return
    for value in values:
        _append_header_value(response, header, value)


class RequestMonitoringMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse, metrics: Metrics | None = None) -> None:
        self.get_response = get_response
        self._metrics = metrics
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    @property
    def metrics(self) -> Metrics:
        return self._metrics or get_metrics()

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        state = self._begin(request)
        token = correlation.bind(state)
        try:
            response = cast(HttpResponseBase, self.get_response(request))
            self._finish(request, response, state)
            return response
        finally:
            correlation.unbind(token)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = self._begin(request)
        token = correlation.bind(state)
        try:
            response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
            self._finish(request, response, state)
            return response
        finally:
            correlation.unbind(token)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any) -> None:
        """URL resolution is done: from here on SQL comments and log lines carry the route."""
        state = correlation.current_request()
        if state is not None:
            try:
                state.route = route_of(request)
            except Exception as error:
                report("route", error)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        state = correlation.current_request()
        if state is not None:
            state.exception = exception

    def _begin(self, request: HttpRequest) -> RequestState:
        meta = request.META
        try:
            cid, _ = correlation.choose_from(
                meta.get("HTTP_TRACEPARENT"), meta.get("HTTP_X_REQUEST_ID"), meta.get("HTTP_X_CORRELATION_ID")
            )
            method = request.method or "OTHER"
            state = RequestState(correlation_id=cid, method=method if method in METHODS else "OTHER")
            marker = meta.get(app_settings.synthetic_header_meta_key)
            state.synthetic = bool(marker) and is_synthetic(marker, cid)
        except Exception as error:
            report("correlation_id", error)
            state = RequestState(correlation_id=correlation.new_id())
        request.correlation_id = state.correlation_id  # type: ignore[attr-defined]
        return state

    def _finish(self, request: HttpRequest, response: HttpResponseBase, state: RequestState) -> None:
        duration = time.perf_counter() - state.started
        try:
            response[REQUEST_ID_HEADER] = state.correlation_id
            if app_settings.server_timing:
                _append_header_values(response, _EXPOSE, _EXPOSED_WITH_TIMING)
                self._server_timing(response, state, duration)
            else:
                _append_header_value(response, _EXPOSE, REQUEST_ID_HEADER)
        except Exception as error:
            report("response_headers", error)
        if response.streaming:
            # The body runs after we return: the request is recorded when the server is done with it.
            try:
                _streaming.watch(self._record, request, cast(StreamingHttpResponse, response), state)
                return
            except Exception as error:
                report("stream", error)
        self._record(request, response.status_code, state, duration)

    def _record(
        self, request: HttpRequest, status: int, state: RequestState, duration: float, stream: str | None = None
    ) -> None:
        """Metrics, N+1 detection and the request's log line; ``stream`` is how a streamed body ended."""
        try:
            if state.route == UNMATCHED_ROUTE:
                state.route = route_of(request)
            excluded = app_settings.excluded_routes
            match = request.resolver_match
            if state.route in excluded or (match is not None and match.url_name in excluded):
                return
            if stream == _streaming.ERROR and state.exception is not None:
                error_class: str | None = classify_exception(state.exception)
            elif state.exception is not None and status >= 500:
                error_class = classify_exception(state.exception)
            else:
                error_class = classify_status(status)
        except Exception as error:
            report("error_class", error)
            return
        try:
            self._observe(state, status, duration, error_class)
        except Exception as error:
            report("metrics", error)
        try:
            report_repeated_queries(state, self.metrics)
        except Exception as error:
            report("repeated_queries", error)
        try:
            self._log(state, status, duration, error_class, stream)
        except Exception as error:
            report("request_log", error)

    def _server_timing(self, response: HttpResponseBase, state: RequestState, duration: float) -> None:
        db_ms = state.db_seconds * 1000
        app_ms = max(duration * 1000 - db_ms, 0.0)
        plural = "query" if state.db_queries == 1 else "queries"
        _append_header_value(
            response,
            "Server-Timing",
            f'app;dur={app_ms:.1f}, db;dur={db_ms:.1f};desc="{state.db_queries} {plural}"',
        )
        allow = app_settings.timing_allow_origin
        if allow:
            response["Timing-Allow-Origin"] = allow

    def _observe(self, state: RequestState, status: int, duration: float, error_class: str | None) -> None:
        metrics = self.metrics
        status_class = _STATUS_CLASSES.get(status // 100, "5xx")
        ids = exemplar(state.correlation_id)
        duration_child, queries_child, db_child = metrics.request_children(state.route, state.method, status_class)
        duration_child.observe(duration, exemplar=ids)
        queries_child.observe(state.db_queries)
        db_child.observe(state.db_seconds)
        if error_class:
            metrics.request_errors.labels(state.route, error_class).inc(exemplar=ids)
        if state.synthetic:
            metrics.synthetic_requests.labels(state.route, state.method, status_class).inc()

    def _log(
        self, state: RequestState, status: int, duration: float, error_class: str | None, stream: str | None = None
    ) -> None:
        failed = status >= 500 or stream == _streaming.ERROR
        level = logging.ERROR if failed else logging.WARNING if status >= 400 else logging.INFO
        extra = {
            "route": state.route,
            "method": state.method,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "db_queries": state.db_queries,
            "db_ms": round(state.db_seconds * 1000, 3),
            "error_class": error_class,
            "synthetic": state.synthetic,
        }
        if stream is None:
            request_logger.log(level, "%s %s %d", state.method, state.route, status, extra=extra)
            return
        extra["stream"] = stream
        # Nobody else logs an exception raised mid-stream with the request's ID: the traceback goes on this line.
        error = state.exception if stream == _streaming.ERROR else None
        request_logger.log(level, "%s %s %d", state.method, state.route, status, extra=extra, exc_info=error)
