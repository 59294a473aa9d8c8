"""Workflow detail (``workflow-detail``): one journey step by step. Which step is slow against its
budget (``max_duration``: over it a run is degraded, not failed), in which HTTP phase the time goes (resolve,
connect, tls, processing, transfer), whether the server spends it in the app or the database, queries per
step, why steps fail (the closed set of reasons), and a runs table with failed and degraded runs; exemplars
carry each run's correlation ID to the exporter's run page."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from ._board import Board
from ._panels import RUNS_PAGE, UIDS, graph, grid, heat, target
from ._promql import DEGRADED, FAILED, INSTANCE, JOB, RANGE, WORKFLOW, increase, mean, quantile, sel, zero

UID = UIDS["detail"]


def build() -> model.Dashboard:
    by = "workflow, target"
    board = Board(
        UID,
        "Workflow detail",
        "One journey step by step: which step is slow against its budget, whether the time is spent in the "
        "app or the database, why steps fail, and each run's correlation ID.",
        "workflow_runs_total",
    )
    board.with_workflow_variables()
    board.with_variable(
        "step",
        "Step",
        f'label_values(workflow_step_duration_seconds_count{{{JOB}, {INSTANCE}, workflow=~"$workflow"}}, step)',
        "Steps of the selected workflows.",
    )
    steps = (*WORKFLOW, 'step=~"$step"')
    board.row("Runs: when did it fail, and which run was it?")
    board.add(
        heat(
            "Run duration",
            "Distribution of whole-run durations over time. Diamonds are exemplars carrying the run's "
            "correlation ID: click one and follow 'Run page' to see that run's waterfall on the exporter, or run "
            "`workflow-exporter trace <id>` for every log line of every layer.",
            f"sum by (le) ({increase('workflow_run_duration_seconds_bucket', *WORKFLOW)})",
        ),
        grid(
            "Runs",
            "Per workflow and target: the last run's result and time, and the runs, failures and degraded runs "
            "(a step over its max_duration budget; they passed, so 'Last run passed' is 1 for them) in the "
            "selected range. A failed last run: read the failure reasons below, then open the recent runs on the "
            "exporter (link) for the waterfall and a curl line that reproduces it.",
            "none",
            target(
                f"max by ({by}) ({sel('workflow_last_run_success', *WORKFLOW)})",
                ref="A",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            target(
                f"max by ({by}) ({sel('workflow_last_run_timestamp_seconds', *WORKFLOW)}) * 1000",
                ref="B",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            target(
                f"sum by ({by}) ({increase('workflow_runs_total', *WORKFLOW, window=RANGE)})",
                ref="C",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            target(
                f"sum by ({by}) ({increase('workflow_runs_total', *WORKFLOW, FAILED, window=RANGE)})",
                ref="D",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            target(
                f"sum by ({by}) ({increase('workflow_runs_total', *WORKFLOW, DEGRADED, window=RANGE)})",
                ref="E",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            width=12,
            links=[RUNS_PAGE],
            rename={
                "Value #A": "Last run passed",
                "Value #B": "Last run finished",
                "Value #C": "Runs in range",
                "Value #D": "Failed runs in range",
                "Value #E": "Degraded runs in range",
                "workflow": "Workflow",
                "target": "Target",
            },
            units={
                "Last run finished": "dateTimeAsIso",
                "Runs in range": "short",
                "Failed runs in range": "short",
                "Degraded runs in range": "short",
            },
        ),
    )
    board.row("Steps: which step is slow, and against which budget?")
    board.add(
        graph(
            "Step latency p95 vs budget",
            "95th percentile of each step's duration (solid) against its budget, the step's max_duration from "
            "the config (dashed). A solid line above its dashed one means runs end degraded (the journey still "
            "completes, so the availability SLO counts them as good; JourneyStepOverBudget reports it): the HTTP "
            "phases below and the panel to the right tell where the time goes. Diamonds are exemplars (run "
            "correlation IDs).",
            "s",
            target(
                quantile(0.95, "workflow_step_duration_seconds", "workflow, step", *steps),
                "{{workflow}} / {{step}} p95",
                exemplar=True,
            ),
            target(
                f"max by (workflow, step) ({sel('workflow_step_latency_budget_seconds', *steps)})",
                "{{workflow}} / {{step}} budget",
                ref="B",
            ),
        ).override_by_query(
            "B",
            [
                model.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
                model.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
            ],
        ),
        graph(
            "Server time per step: app vs database",
            "Mean time the server itself reported per step (its Server-Timing header), split into app and "
            "database. Database-heavy: check queries per step and the Database dashboard's statements; "
            "app-heavy: profile the view.",
            "s",
            target(mean("workflow_step_server_duration_seconds", "step, component", *steps), "{{step}} {{component}}"),
            stacked=True,
        ),
    )
    board.add(
        heat(
            "Step duration",
            "Distribution of the selected steps' durations. Diamonds are exemplars: click one to open that "
            "run's page on the exporter through the 'Run page' link.",
            f"sum by (le) ({increase('workflow_step_duration_seconds_bucket', *steps)})",
        ),
        graph(
            "Queries per step (last run)",
            "Database queries the server reported for each step in its last run. A jump after a deploy is "
            "usually an N+1 query: the API dashboard's N+1 panel names the route.",
            "short",
            target(
                f"max by (workflow, step) ({sel('workflow_step_server_queries', *steps)})", "{{workflow}} / {{step}}"
            ),
        ),
    )
    board.add(
        graph(
            "HTTP phases per step",
            "Mean time of each http step in each HTTP phase, as blackbox_exporter names them, measured where the "
            "exporter's client does each one and summed over redirects: resolve (DNS), connect (TCP), tls "
            "(handshake), processing (request sent until the first byte: the server's work and any proxy in front "
            "of it) and transfer (first byte until the body is read). A kept-alive connection spends nothing in "
            "the first three. High resolve/connect/tls: the network or the TLS terminator; high processing: "
            "compare with the server time above; high transfer: a large or slowly streamed body.",
            "s",
            target(mean("workflow_step_phase_duration_seconds", "step, phase", *steps), "{{step}} {{phase}}"),
            width=24,
            stacked=True,
        ),
    )
    board.row("Failures: why did it fail?")
    board.add(
        graph(
            "Step failures by reason",
            "Failed steps per rate interval by step and reason (dns, connect, tls, timeout, http_status, "
            "protocol, redirect, assertion, schema, extraction, sql, page_error, request_failed, circuit_open, "
            "internal). connect/dns/tls: the target is unreachable; protocol/redirect: it answered what HTTP does "
            "not allow or redirected where a run cannot follow; http_status/schema: the API changed or broke; "
            "page_error/request_failed: a browser step's page threw or could not make a request (CORS); assertion: "
            "too slow or wrong content; internal: a bug in the exporter. Diamonds are exemplars (run correlation IDs).",
            "short",
            target(
                f"sum by (step, reason) ({increase('workflow_step_failures_total', *steps)})\nor on() {zero('reason')}",
                "{{step}} {{reason}}",
                exemplar=True,
            ),
            width=24,
            bars=True,
            stacked=True,
        ),
    )
    return board.build()
