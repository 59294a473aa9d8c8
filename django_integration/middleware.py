"""``RequestMonitoringMiddleware``: the one middleware of the integration. Put it first in MIDDLEWARE.

Per request it chooses the correlation ID, binds it (with route, method and DB accounting) in a contextvar
that is reset in ``finally``, returns it as ``X-Request-ID``, records the ``django_*`` metrics with the ID as
exemplar, writes one canonical JSON log line and, when enabled, ``Server-Timing``. Sync and async.
Every step of ours is guarded: whatever fails in here, the application's response goes out unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from . import correlation
from ._failopen import guard
from .conf import app_settings
from .correlation import REQUEST_ID_HEADER, RequestState
from .db import report_repeated_queries
from .errors import classify_exception, classify_status
from .metrics import Metrics, exemplar, get_metrics
from .synthetic import is_synthetic

request_logger = logging.getLogger("django_integration.request")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

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
            response = self.get_response(request)
            assert isinstance(response, HttpResponseBase)
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
            with guard("route"):
                state.route = route_of(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        state = correlation.current_request()
        if state is not None:
            state.exception = exception

    def _begin(self, request: HttpRequest) -> RequestState:
        state = RequestState(correlation_id=correlation.new_id())
        with guard("correlation_id"):
            state.correlation_id, _ = correlation.choose_correlation_id(request.headers)
            method = request.method or "OTHER"
            state.method = method if method in METHODS else "OTHER"
            state.synthetic = is_synthetic(request.headers, state.correlation_id)
        request.correlation_id = state.correlation_id  # type: ignore[attr-defined]
        return state

    def _finish(self, request: HttpRequest, response: HttpResponseBase, state: RequestState) -> None:
        duration = time.perf_counter() - state.started
        with guard("response_headers"):
            response[REQUEST_ID_HEADER] = state.correlation_id
            _append_header_value(response, "Access-Control-Expose-Headers", REQUEST_ID_HEADER)
            if app_settings.server_timing:
                self._server_timing(response, state, duration)
        if state.route == UNMATCHED_ROUTE:
            with guard("route"):
                state.route = route_of(request)
        if state.route in app_settings.excluded_routes or (
            request.resolver_match is not None and request.resolver_match.url_name in app_settings.excluded_routes
        ):
            return
        error_class = None
        with guard("error_class"):
            error_class = (
                classify_exception(state.exception)
                if state.exception is not None and response.status_code >= 500
                else classify_status(response.status_code)
            )
        with guard("metrics"):
            self._observe(state, response.status_code, duration, error_class)
        with guard("repeated_queries"):
            report_repeated_queries(state, self.metrics)
        with guard("request_log"):
            self._log(state, response.status_code, duration, error_class)

    def _server_timing(self, response: HttpResponseBase, state: RequestState, duration: float) -> None:
        db_ms = state.db_seconds * 1000
        app_ms = max(duration * 1000 - db_ms, 0.0)
        plural = "query" if state.db_queries == 1 else "queries"
        _append_header_value(
            response,
            "Server-Timing",
            f'app;dur={app_ms:.1f}, db;dur={db_ms:.1f};desc="{state.db_queries} {plural}"',
        )
        _append_header_value(response, "Access-Control-Expose-Headers", "Server-Timing")
        allow = app_settings.timing_allow_origin
        if allow:
            response["Timing-Allow-Origin"] = allow

    def _observe(self, state: RequestState, status: int, duration: float, error_class: str | None) -> None:
        metrics = self.metrics
        status_class = f"{status // 100}xx"
        ids = exemplar(state.correlation_id)
        metrics.request_duration.labels(state.route, state.method, status_class).observe(duration, exemplar=ids)
        metrics.request_db_queries.labels(state.route, state.method).observe(state.db_queries)
        metrics.request_db_duration.labels(state.route, state.method).observe(state.db_seconds)
        if error_class:
            metrics.request_errors.labels(state.route, error_class).inc(exemplar=ids)
        if state.synthetic:
            metrics.synthetic_requests.labels(state.route, state.method, status_class).inc()

    def _log(self, state: RequestState, status: int, duration: float, error_class: str | None) -> None:
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        request_logger.log(
            level,
            "%s %s %d",
            state.method,
            state.route,
            status,
            extra={
                "route": state.route,
                "method": state.method,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "db_queries": state.db_queries,
                "db_ms": round(state.db_seconds * 1000, 3),
                "error_class": error_class,
                "synthetic": state.synthetic,
            },
        )
