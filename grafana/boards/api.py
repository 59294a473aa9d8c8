"""Workflow API (``workflow-api``): the Django API per route, from django_integration. Traffic, 5xx
ratio, errors by class, p50/p95/p99 latency with exemplars, queries per request, N+1 and slow-query
detections, the exporter's contract checks of the OpenAPI document (failing operations first), and the
integration's own internal errors."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from ._board import Board
from ._panels import TO_API_ROUTE, TO_DATABASE, UIDS, graph, grid, heat, target
from ._promql import INSTANCE, JOB, SERVER_ERROR, TINY, increase, quantile, rate, sel, zero

UID = UIDS["api"]


def build() -> model.Dashboard:
    metric = "django_request_duration_seconds"
    route = ('route=~"$route"',)
    board = Board(
        UID,
        "Workflow API",
        "The Django API per route: traffic, errors by class, latency percentiles, and the database work each "
        "request does (queries, N+1, slow queries), from django_integration.",
        f"{metric}_count",
    )
    board.with_variable(
        "route",
        "Route",
        f"label_values({metric}_count{{{JOB}, {INSTANCE}}}, route)",
        "URL patterns of the Django app (never raw paths).",
    )
    board.row("Traffic and errors per route")
    board.add(
        graph(
            "Request rate by route",
            "Requests per second per route. A route that drops to zero while others carry on is broken for "
            "its callers; compare with the synthetic journeys in Workflow overview.",
            "reqps",
            target(f"sum by (route) ({rate(metric + '_count', *route)})", "{{route}}"),
            width=8,
            links=[TO_API_ROUTE],
        ),
        graph(
            "Server error ratio by route (5xx)",
            "Share of each route's requests answered with a 5xx. Above zero: the errors-by-class panel says "
            "what kind; search the logs for the exemplar's correlation ID to read the traceback.",
            "percentunit",
            target(
                f"sum by (route) ({rate(metric + '_count', *route, SERVER_ERROR)})\n"
                f"/\nclamp_min(sum by (route) ({rate(metric + '_count', *route)}), {TINY})\n"
                f"or\nsum by (route) ({rate(metric + '_count', *route)}) * 0",
                "{{route}}",
            ),
            width=8,
            links=[TO_API_ROUTE],
        ),
        graph(
            "Errors by class",
            "Requests answered with an error, by class: validation, authentication, permission, not_found, "
            "conflict, throttled and client are the caller's; db, upstream, timeout and server are ours and need "
            "a fix. Diamonds are exemplars: a failing request's correlation ID.",
            "reqps",
            target(
                f"sum by (error_class) ({rate('django_request_errors_total', *route)})\nor on() {zero('error_class')}",
                "{{error_class}}",
                exemplar=True,
            ),
            width=8,
            stacked=True,
        ),
    )
    board.row("Latency per route")
    board.add(
        graph(
            "Latency p50 / p95 / p99 by route",
            "Request duration percentiles per route. p99 far above p50: some requests hit a slow path (a slow "
            "query or an N+1, see below). Diamonds are exemplars: click one for the request's correlation ID "
            "and find every log line with `workflow-exporter trace <id>`.",
            "s",
            target(quantile(0.5, metric, "route", *route), "{{route}} p50"),
            target(quantile(0.95, metric, "route", *route), "{{route}} p95", ref="B", exemplar=True),
            target(quantile(0.99, metric, "route", *route), "{{route}} p99", ref="C"),
            width=14,
            links=[TO_API_ROUTE],
        ),
        heat(
            "Latency distribution",
            "Distribution of request durations for the selected routes. Diamonds are exemplars: the 'Trace' link "
            "opens everything every layer recorded for that request (the browser's events, the request line, "
            "Django's traceback, its SQL statements); 'Run page' opens the run when the request was the exporter's.",
            f"sum by (le) ({increase(metric + '_bucket', *route)})",
            width=10,
        ),
    )
    board.row("Database work per request")
    board.add(
        graph(
            "Queries per request p95 by route",
            "95th percentile of SQL statements run to serve one request. Tens or hundreds on a list endpoint "
            "is an N+1: add select_related/prefetch_related in the view's queryset.",
            "short",
            target(quantile(0.95, "django_request_db_queries", "route", *route), "{{route}}"),
            width=8,
            links=[TO_API_ROUTE],
        ),
        graph(
            "N+1 detections by route",
            "Requests per second in which one statement ran at least REPEATED_QUERY_THRESHOLD times (an N+1). "
            "The log line django_integration.db names the statement; fix it with select_related or "
            "prefetch_related. Diamonds are exemplars.",
            "cps",
            target(
                f"sum by (route) ({rate('django_db_repeated_queries_total', *route)})\nor on() {zero('route')}",
                "{{route}}",
                exemplar=True,
            ),
            width=8,
        ),
        graph(
            "Slow queries by route",
            "Statements per second slower than SLOW_QUERY_SECONDS. The log line django_integration.db has the "
            "statement; the Database dashboard shows it in performance_schema by digest. Diamonds are exemplars.",
            "cps",
            target(
                f"sum by (route) ({rate('django_db_slow_queries_total', *route)})\nor on() {zero('route')}",
                "{{route}}",
                exemplar=True,
            ),
            width=8,
            links=[TO_DATABASE],
        ),
    )
    board.row("API contracts (the exporter's sweeps of the OpenAPI document)")
    checks = "workflow_contract_check_success"
    not_passed = 'result=~"failed|error"'
    board.add(
        grid(
            "Contract checks, failing operations first",
            "Every check of the last contract sweep on every operation of the target's OpenAPI document: 0 is "
            "failing, 1 passing, failing ones first. The exporter's page /contracts/<target> shows each failure's "
            "example (the request, the answer, the first schema error); `workflow-exporter contract --target "
            "<target>` sweeps again.",
            "none",
            target(
                f"sort(min by (target, operation, check) ({sel(checks)}))",
                ref="A",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            width=16,
            height=10,
            rename={"Value": "passing (1) / failing (0)"},
        ),
        graph(
            "Failing contract checks by target",
            "Checks of the last sweep by result: failed ones fail on the operation as swept; error means the "
            "request got no answer (nothing could be judged). A flat line after a deploy that broke an endpoint: "
            "the sweeps stopped (JourneyContractSweepsStopped).",
            "short",
            target(f"sum by (target, result) ({sel('workflow_contract_checks', not_passed)})", "{{target}} {{result}}"),
            width=8,
            height=10,
        ),
    )
    board.row("Integration health")
    board.add(
        graph(
            "Internal errors of the integration",
            "Failures inside django_integration by component. Requests were still served unchanged, but the "
            "component's data (IDs, metrics, logs) may be missing: read the first ERROR line of logger "
            "django_integration and report it.",
            "cps",
            target(
                f"sum by (component) ({rate('django_integration_internal_errors_total')})\nor on() {zero('component')}",
                "{{component}}",
            ),
            width=24,
            height=6,
        ),
    )
    return board.build()
