"""Every metric the Django integration exports, in one class with an injectable registry.

Label values come from URL patterns, an HTTP method allowlist, DB aliases and the fixed error classes;
correlation IDs travel only as OpenMetrics exemplars.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

EXEMPLAR_LABEL = "correlation_id"
# OpenMetrics caps an exemplar's label names plus values at 128 characters.
_EXEMPLAR_VALUE_MAX = 128 - len(EXEMPLAR_LABEL)

# Where a failure of ours can happen (the `component` label of django_integration_internal_errors_total).
INTERNAL_COMPONENTS = (
    "correlation_id", "route", "response_headers", "error_class", "metrics", "repeated_queries",
    "request_log", "sql_comment", "sql_accounting", "stream", "log_format", "frontend_metrics",
    "db_connections", "integrity",
)  # fmt: skip
DB_QUERY_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 250, 500)
DB_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DEFAULT_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Web Vitals in seconds (LCP, INP, FCP, TTFB); the Core Web Vitals thresholds are bucket bounds, so alerts and
# panels compare exactly: INP 0.2/0.5, TTFB 0.8/1.8, FCP 1.8/3, LCP 2.5/4.
WEB_VITALS_SECONDS_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.8, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0)
# Unitless vitals (CLS): good up to 0.1, poor above 0.25.
WEB_VITALS_SCORE_BUCKETS = (0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0)
# Why /client-logs refused a batch (the reason label of django_frontend_beacons_refused_total).
BEACON_REFUSALS = ("too_large", "invalid", "rate_limited", "origin")


def _setting(name: str) -> float:
    """A numeric setting of the integration for a gauge, NaN if it cannot be read (a scrape never fails on it)."""
    from .conf import app_settings

    try:
        return float(getattr(app_settings, name))
    except Exception:  # the scrape must go on; the settings check (manage.py check) names the problem
        return float("nan")


def exemplar(correlation_id: str) -> dict[str, str]:
    return {EXEMPLAR_LABEL: correlation_id[:_EXEMPLAR_VALUE_MAX]}


class Metrics:
    """The ``django_*`` families (DESIGN §3) plus the integration's own error counter."""

    def __init__(
        self,
        registry: CollectorRegistry | None = REGISTRY,
        latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS,
    ) -> None:
        self.registry = registry
        self.request_duration = Histogram(
            "django_request_duration_seconds",
            "Time from the first middleware to the response, by route template, method and status class.",
            ["route", "method", "status_class"],
            buckets=latency_buckets,
            registry=registry,
        )
        self.request_db_queries = Histogram(
            "django_request_db_queries",
            "Database statements run while serving one request.",
            ["route", "method"],
            buckets=DB_QUERY_BUCKETS,
            registry=registry,
        )
        self.request_db_duration = Histogram(
            "django_request_db_duration_seconds",
            "Time spent in database statements while serving one request.",
            ["route", "method"],
            buckets=DB_DURATION_BUCKETS,
            registry=registry,
        )
        self.slow_queries = Counter(
            "django_db_slow_queries",
            "Statements slower than WORKFLOW_EXPORTER['SLOW_QUERY_SECONDS'].",
            ["route", "alias"],
            registry=registry,
        )
        self.repeated_queries = Counter(
            "django_db_repeated_queries",
            "Requests that ran one statement at least REPEATED_QUERY_THRESHOLD times (N+1), per statement.",
            ["route", "alias"],
            registry=registry,
        )
        # The thresholds the two counters above judge by, read from the settings at each scrape, so an alert can
        # print the value in force rather than the setting's name (rules/database.rules.yml).
        self.slow_query_threshold = Gauge(
            "django_db_slow_query_threshold_seconds",
            "WORKFLOW_EXPORTER['SLOW_QUERY_SECONDS']: a statement slower than this counts as slow.",
            registry=registry,
        )
        self.slow_query_threshold.set_function(lambda: _setting("slow_query_seconds"))
        self.repeated_query_threshold = Gauge(
            "django_db_repeated_query_threshold",
            "WORKFLOW_EXPORTER['REPEATED_QUERY_THRESHOLD']: this many runs of one statement in a request is an N+1.",
            registry=registry,
        )
        self.repeated_query_threshold.set_function(lambda: _setting("repeated_query_threshold"))
        self.request_errors = Counter(
            "django_request_errors",
            "Requests answered with an error, by the documented error class.",
            ["route", "error_class"],
            registry=registry,
        )
        self.synthetic_requests = Counter(
            "django_synthetic_requests",
            "Requests carrying a valid synthetic-traffic marker (the exporter's probes), by status class.",
            ["route", "method", "status_class"],
            registry=registry,
        )
        self.frontend_events = Counter(
            "django_frontend_events",
            "Events the browser posted to /client-logs, by level and Next.js route template (capped; others <other>).",
            ["level", "route"],
            registry=registry,
        )
        self.frontend_vitals_seconds = Histogram(
            "django_frontend_web_vitals_seconds",
            "Web Vitals measured in the browser (LCP, INP, FCP, TTFB), by vital and route template.",
            ["name", "route"],
            buckets=WEB_VITALS_SECONDS_BUCKETS,
            registry=registry,
        )
        self.frontend_vitals_score = Histogram(
            "django_frontend_web_vitals_score",
            "Unitless Web Vitals measured in the browser (CLS), by vital and route template.",
            ["name", "route"],
            buckets=WEB_VITALS_SCORE_BUCKETS,
            registry=registry,
        )
        self.frontend_beacons_refused = Counter(
            "django_frontend_beacons_refused",
            "Log batches /client-logs refused, by reason (too_large, invalid, rate_limited, origin).",
            ["reason"],
            registry=registry,
        )
        for refusal in BEACON_REFUSALS:
            self.frontend_beacons_refused.labels(refusal)
        # labels() validates and locks on every call; the children of a label set never change, so keep them.
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}
        self.internal_errors = Counter(
            "django_integration_internal_errors",
            "Failures inside the integration itself; the request they happened in was served unchanged.",
            ["component"],
            registry=registry,
        )
        for component in INTERNAL_COMPONENTS:  # exported as 0 from the start, so alerts and panels see them
            self.internal_errors.labels(component)
        # Connections, per database alias (django_integration._dbconnections): no statement of ours.
        self.connections_opened = Counter(
            "django_db_connections_opened",
            "Database connections opened (Django's connection_created signal).",
            ["alias"],
            registry=registry,
        )
        self.connection_errors = Counter(
            "django_db_connection_errors",
            "Connections that failed to open or were lost under a statement, by error class.",
            ["alias", "error_class"],
            registry=registry,
        )
        self.connect_duration = Histogram(
            "django_db_connect_duration_seconds",
            "Time from connect() to a usable connection.",
            ["alias"],
            buckets=DB_DURATION_BUCKETS,
            registry=registry,
        )
        self.connection_reuses = Counter(
            "django_db_connection_reuses",
            "Requests whose first statement on a database ran over a connection opened before them (CONN_MAX_AGE).",
            ["alias"],
            registry=registry,
        )
        self.connection_health_check_failures = Counter(
            "django_db_connection_health_check_failures",
            "Persistent connections Django found unusable (CONN_HEALTH_CHECKS, or its check after an error).",
            ["alias"],
            registry=registry,
        )

    def request_children(self, route: str, method: str, status_class: str) -> tuple[Any, Any, Any]:
        """The duration, query-count and DB-time series of one label set (created on first use)."""
        key = (route, method, status_class)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.request_duration.labels(route, method, status_class),
                self.request_db_queries.labels(route, method),
                self.request_db_duration.labels(route, method),
            )
            if len(self._request_children) < 10_000:  # label values are bounded; the cache is too
                self._request_children[key] = children
        return children


_default: Metrics | None = None
_default_lock = threading.Lock()


def get_metrics() -> Metrics:
    """The process-wide metrics on the global registry, created on first use (never at import)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                from .conf import app_settings

                _default = Metrics(REGISTRY, app_settings.latency_buckets)
    return _default
