"""Workflow overview (``workflow-overview``): the dashboard to start from. Every user journey's last
result, success ratio, 99 % SLO error budget (degraded runs count as available), run duration, runs by
result and the targets' TLS certificate expiry, with the API (rate, 5xx ratio, latency) and MySQL (up,
connections, slow queries) under it; each panel links to the dashboard that explains it."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from ._board import Board
from ._panels import TO_API, TO_DATABASE, TO_DETAIL, UIDS, graph, single, target
from ._promql import (
    FAILED,
    RANGE,
    SERVER_ERROR,
    SLO_OBJECTIVE,
    TINY,
    WORKFLOW,
    increase,
    quantile,
    rate,
    sel,
    zero,
)

DAY = 86400

UID = UIDS["overview"]


def build() -> model.Dashboard:
    runs = "workflow_runs_total"
    by = "workflow, target"
    failures = f"sum by ({by}) ({increase(runs, *WORKFLOW, FAILED, window=RANGE)})"
    total = f"sum by ({by}) ({increase(runs, *WORKFLOW, window=RANGE)})"
    failure_ratio = f"({failures}\n/\nclamp_min({total}, {TINY}))"
    api = "django_request_duration_seconds"
    expiry = "workflow_ssl_earliest_cert_expiry_timestamp_seconds"  # by target alone: no workflow matcher
    board = Board(
        UID,
        "Workflow overview",
        "Every user journey's health at a glance, with the API and the database under it. "
        "Start here; click a journey to open it in Workflow detail.",
        "up",
    )
    board.with_workflow_variables()
    board.row("Journeys: is every workflow passing?")
    board.add(
        single(
            "Last run",
            "Result of each workflow's last run on each target. Red: the journey is broken now; click it to "
            "open Workflow detail and see which step failed and why. A degraded run (a step over its "
            "max_duration budget, the journey completed) counts as passed here.",
            "none",
            target(
                f"max by ({by}) ({sel('workflow_last_run_success', *WORKFLOW)})",
                "{{workflow}} / {{target}}",
                instant=True,
            ),
            width=8,
            links=[TO_DETAIL],
            steps=[(None, "red"), (1, "green")],
            mappings={"0": ("failed", "red"), "1": ("passed", "green")},
        ),
        single(
            "Success ratio over the range",
            "Share of runs that did not fail in the selected time range (degraded runs count as passed: the "
            "objective is availability; slowness has its own budget alert). Below 99 % the journey is eating its "
            "error budget: look at the failure reasons in Workflow detail.",
            "percentunit",
            target(f"1 - {failure_ratio}", "{{workflow}} / {{target}}", instant=True),
            width=8,
            links=[TO_DETAIL],
            steps=[(None, "red"), (0.95, "orange"), (0.99, "green")],
            decimals=2,
        ),
        single(
            "SLO error budget remaining (99 % objective)",
            "How much of the 1 % failure budget of a 99 % success objective is left over the selected range "
            "(100 %: no failed run; 0 %: exactly 1 % failed; negative: the objective is missed). Widen the range "
            "to the SLO window (e.g. 30 days) to judge it; the burn-rate alerts in rules/ page before it runs out.",
            "percentunit",
            target(f"1 - {failure_ratio}\n/ {1 - SLO_OBJECTIVE:.2f}", "{{workflow}} / {{target}}", instant=True),
            width=8,
            links=[TO_DETAIL],
            steps=[(None, "red"), (0, "orange"), (0.5, "green")],
            decimals=1,
        ),
    )
    board.add(
        graph(
            "Run duration p95",
            "95th percentile of whole-run duration per journey. A rise without failures is a journey getting "
            "slow: open Workflow detail to see which step and whether the time is spent in the app or the "
            "database. Diamonds are exemplars: click one to open that run's page.",
            "s",
            target(
                quantile(0.95, "workflow_run_duration_seconds", by, *WORKFLOW),
                "{{workflow}} / {{target}}",
                exemplar=True,
            ),
            links=[TO_DETAIL],
        ),
        graph(
            "Runs by result",
            "Finished runs per second by result: success, degraded (a step over its max_duration budget; the "
            "journey completed) and failure. Failures here and a red 'Last run' mean a broken journey; a growing "
            "degraded share a journey getting slow (Workflow detail shows the step and its HTTP phases); no runs "
            "at all mean the exporter stopped scheduling (see its /-/ready and logs).",
            "ops",
            target(f"sum by (workflow, result) ({rate(runs, *WORKFLOW)})", "{{workflow}} {{result}}"),
            links=[TO_DETAIL],
            stacked=True,
        ),
    )
    board.add(
        single(
            "TLS certificate expires in",
            "Time until the earliest-expiring certificate each HTTPS target presents to the journeys (leaf or "
            "chain) expires. Orange under 14 days, red under 3: JourneyTLSCertificateExpiring opens a ticket and "
            "then pages. Renew and deploy it with its intermediates; plain-HTTP targets are not listed.",
            "s",
            target(f"min by (target) ({sel(expiry, WORKFLOW[1])}) - time()", "{{target}}", instant=True),
            width=24,
            height=4,
            steps=[(None, "red"), (3 * DAY, "orange"), (14 * DAY, "green")],
        ),
    )
    board.row("API: is the backend answering?")
    board.add(
        graph(
            "API request rate by status class",
            "Requests per second the Django API served, by status class. A growing 4xx or 5xx share points at "
            "the failing routes: open the API dashboard.",
            "reqps",
            target(f"sum by (status_class) ({rate(api + '_count')})", "{{status_class}}"),
            width=8,
            links=[TO_API],
            stacked=True,
        ),
        graph(
            "API 5xx ratio",
            "Share of API requests answered with a 5xx. Anything above zero is a server error a user saw: "
            "open the API dashboard for the route and the error class, then the logs by correlation ID.",
            "percentunit",
            target(
                f"(sum({rate(api + '_count', SERVER_ERROR)}) or on() {zero()})\n"
                f"/\nclamp_min(sum({rate(api + '_count')}) or on() {zero()}, {TINY})",
                "5xx ratio",
            ),
            width=8,
            links=[TO_API],
        ),
        graph(
            "API latency p95",
            "95th percentile of API request duration over all routes. When it rises, the API dashboard shows "
            "which route; exemplars lead to one slow request's correlation ID.",
            "s",
            target(quantile(0.95, api, "job"), "{{job}} p95", exemplar=True),
            width=8,
            links=[TO_API],
        ),
    )
    board.row("Database: is MySQL up and keeping up?")
    board.add(
        single(
            "MySQL up",
            "1 when mysqld_exporter can reach MySQL. Down: check the database container and the exporter's "
            "credentials (--config.my-cnf) before anything else.",
            "none",
            target(f"min by (instance) ({sel('mysql_up')})", "{{instance}}", instant=True),
            width=6,
            links=[TO_DATABASE],
            steps=[(None, "red"), (1, "green")],
            mappings={"0": ("down", "red"), "1": ("up", "green")},
        ),
        graph(
            "MySQL connections vs limit",
            "Client connections open on MySQL against max_connections. Close to the limit, new requests fail "
            "with 'Too many connections': look for connection leaks or raise the limit.",
            "short",
            target(f"sum by (instance) ({sel('mysql_global_status_threads_connected')})", "{{instance}} connected"),
            target(
                f"max by (instance) ({sel('mysql_global_variables_max_connections')})", "{{instance}} limit", ref="B"
            ),
            width=9,
            links=[TO_DATABASE],
        ),
        graph(
            "MySQL slow queries",
            "Statements per second slower than long_query_time. Rising: open the Database dashboard to find the "
            "statement digest, and the API dashboard for the route that runs it.",
            "cps",
            target(f"sum by (instance) ({rate('mysql_global_status_slow_queries')})", "{{instance}}"),
            width=9,
            links=[TO_DATABASE],
        ),
    )
    return board.build()
