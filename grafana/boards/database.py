"""Workflow database (``workflow-database``): MySQL from mysqld_exporter 0.14 (up, connections
against max_connections, questions, slow queries, commands, processlist threads, top statement
digests from performance_schema) next to what the Django app sees per route (DB time, share of
request time in SQL, queries per request, slow and repeated queries), what its integrity checks find
(unapplied and missing migrations, schema drift, orphaned rows, check freshness) and how its
connections fare (errors by class, connect time, opened, reused, stale)."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prometheus_model

from ._board import Board
from ._panels import TO_API, TO_API_ROUTE, UIDS, graph, grid, single, target
from ._promql import TINY, mean, quantile, rate, sel, zero

UID = UIDS["database"]


def build() -> model.Dashboard:
    statements = "mysql_perf_schema_events_statements"
    board = Board(
        UID,
        "Workflow database",
        "MySQL from mysqld_exporter (global status, processlist, performance_schema statement digests) next "
        "to what the Django app sees per route (DB time, queries, slow and repeated queries).",
        "up",
    )
    board.row("MySQL server (mysqld_exporter)")
    board.add(
        single(
            "MySQL up",
            "1 when mysqld_exporter can reach MySQL. Down: check the database and the exporter's credentials "
            "(--config.my-cnf); every other MySQL panel is empty meanwhile.",
            "none",
            target(f"min by (instance) ({sel('mysql_up')})", "{{instance}}", instant=True),
            width=4,
            height=8,
            steps=[(None, "red"), (1, "green")],
            mappings={"0": ("down", "red"), "1": ("up", "green")},
        ),
        graph(
            "Connections vs max_connections",
            "Open client connections against the server's limit. Near the limit new connections are refused: "
            "look for leaked connections (CONN_MAX_AGE, pools) or raise max_connections.",
            "short",
            target(f"sum by (instance) ({sel('mysql_global_status_threads_connected')})", "{{instance}} connected"),
            target(
                f"max by (instance) ({sel('mysql_global_variables_max_connections')})",
                "{{instance}} max_connections",
                ref="B",
            ),
            width=10,
        ),
        graph(
            "Queries per second",
            "Statements the server executed per second (Questions: sent by clients). A jump without more API "
            "traffic is an N+1: compare with the API dashboard's queries per request.",
            "ops",
            target(f"sum by (instance) ({rate('mysql_global_status_questions')})", "{{instance}}"),
            width=10,
        ),
    )
    board.add(
        graph(
            "Slow queries",
            "Statements per second slower than long_query_time. Find them by digest below (mean latency) and "
            "in the slow log; the SQL comment on each statement carries the request's correlation ID.",
            "cps",
            target(f"sum by (instance) ({rate('mysql_global_status_slow_queries')})", "{{instance}}"),
            width=8,
        ),
        graph(
            "Commands by type (top 10)",
            "Statements per second by command (select, insert, update, delete, ...). Writes rising with no more "
            "checkouts, or selects far above requests, point at the app, not the database.",
            "ops",
            target(f"topk(10, sum by (command) ({rate('mysql_global_status_commands_total')}))", "{{command}}"),
            width=8,
            stacked=True,
        ),
        graph(
            "Threads by command and state (processlist)",
            "Server threads by command and state, from --collect.info_schema.processlist. Many threads in one "
            "state (e.g. 'Waiting for table metadata lock', 'Sending data') show what the server is stuck on: "
            "SHOW PROCESSLIST shows their statements and the request_id comment.",
            "short",
            target(
                f"sum by (command, state) ({sel('mysql_info_schema_processlist_threads')})", "{{command}} {{state}}"
            ),
            width=8,
            stacked=True,
        ),
    )
    board.row("Statements by digest (performance_schema)")
    board.add(
        graph(
            "Statement time by digest (top 10)",
            "Seconds per second the server spent executing each statement digest, from "
            "--collect.perf_schema.eventsstatements. The top line is where the database's time goes: EXPLAIN it "
            "and add the missing index.",
            "s",
            target(f"topk(10, sum by (digest_text) ({rate(statements + '_seconds_total')}))", "{{digest_text}}"),
        ),
        graph(
            "Mean latency by digest (top 10)",
            "Mean execution time of each statement digest over the rate interval. A statement that is both "
            "frequent and slow is the first to optimise.",
            "s",
            target(
                f"topk(10,\n  sum by (digest_text) ({rate(statements + '_seconds_total')})\n"
                f"  /\n  clamp_min(sum by (digest_text) ({rate(statements + '_total')}), {TINY})\n)",
                "{{digest_text}}",
            ),
        ),
    )
    board.add(
        graph(
            "Calls by digest (top 10)",
            "Executions per second of each statement digest. One simple SELECT at a very high rate is the "
            "database side of an N+1.",
            "ops",
            target(f"topk(10, sum by (digest_text) ({rate(statements + '_total')}))", "{{digest_text}}"),
        ),
        graph(
            "Errors by digest (top 10)",
            "Statement executions per second that raised an error, by digest. Errors here match 'db' errors in "
            "the API dashboard's errors by class.",
            "cps",
            target(f"topk(10, sum by (digest_text) ({rate(statements + '_errors_total')}))", "{{digest_text}}"),
        ),
    )
    board.row("The Django side: database work per route")
    board.add(
        graph(
            "DB time per request p95 by route",
            "95th percentile of the time one request spent in SQL, per route. Compare with the route's latency "
            "in the API dashboard: close to it means the database is the bottleneck.",
            "s",
            target(quantile(0.95, "django_request_db_duration_seconds", "route"), "{{route}}"),
            width=8,
            links=[TO_API_ROUTE],
        ),
        graph(
            "Share of request time in the database",
            "Fraction of each route's total request time spent in SQL statements. High: optimise the queries "
            "(indexes, fewer round trips); low but slow: the time is in Python.",
            "percentunit",
            target(
                f"sum by (route) ({rate('django_request_db_duration_seconds_sum')})\n"
                f"/\nclamp_min(sum by (route) ({rate('django_request_duration_seconds_sum')}), {TINY})",
                "{{route}}",
            ),
            width=8,
            links=[TO_API_ROUTE],
        ),
        graph(
            "Queries per request (mean) by route",
            "Mean SQL statements per request, per route. A route whose count grows with the data (list "
            "endpoints) has an N+1.",
            "short",
            target(mean("django_request_db_queries", "route"), "{{route}}"),
            width=8,
            links=[TO_API_ROUTE],
        ),
    )
    board.add(
        graph(
            "Slow and repeated (N+1) queries",
            "Slow statements and N+1 detections per second over all routes, as the Django app saw them. Non-zero: "
            "the API dashboard names the route; the django_integration.db log line names the statement.",
            "cps",
            target(f"sum({rate('django_db_slow_queries_total')}) or on() {zero()}", "slow queries"),
            target(f"sum({rate('django_db_repeated_queries_total')}) or on() {zero()}", "N+1 detections", ref="B"),
            width=24,
            height=6,
            links=[TO_API],
        ),
    )
    _integrity(board)
    return board.build()


def _integrity(board: Board) -> None:
    """What the integration's integrity checks find (django_integrity_*) and how its connections fare."""
    board.row("Integrity: migrations, schema, foreign keys (the Django side)")
    findings = "django_integrity_findings"
    board.add(
        grid(
            "Integrity findings by model and relation",
            "Every model and relation the integrity checks looked at, worst first: unapplied migrations per app, "
            "model changes without a migration, differences between a model and its table, rows whose foreign key "
            "points at nothing. Anything above 0 has an alert; `manage.py integrity_check` names the column or "
            "the rows.",
            "short",
            target(
                f"sort_desc(max by (alias, app_label) ({sel('django_integrity_unapplied_migrations')}))",
                ref="A",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            target(
                f"sort_desc(max by (app_label, model) ({sel('django_integrity_missing_migrations')}))",
                ref="B",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            target(
                f"sort_desc(max by (alias, app_label, model) ({sel('django_integrity_schema_drift')}))",
                ref="C",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            target(
                "sort_desc(max by (alias, app_label, model, relation, target) "
                f"({sel('django_integrity_orphaned_rows')}))",
                ref="D",
                instant=True,
                fmt=prometheus_model.PromQueryFormat.TABLE,
            ),
            width=14,
            height=10,
            rename={
                "Value #A": "unapplied migrations",
                "Value #B": "changes without a migration",
                "Value #C": "schema differences",
                "Value #D": "orphaned rows",
            },
        ),
        graph(
            "Findings by check and level",
            "Findings of each check's last run, by level. A step up after a deploy points at the deploy (a "
            "migration not run, a model changed without one); a slow climb of orphaned rows at an import or a "
            "job that writes past the ORM.",
            "short",
            target(f"sum by (check, level) ({sel(findings)})", "{{check}} {{level}}"),
            width=10,
            height=10,
            stacked=True,
        ),
    )
    board.add(
        graph(
            "Orphaned rows by relation",
            "Rows whose foreign key points at no parent row, per relation (model.field -> target). They appear "
            "where the database did not enforce the key: imports with FOREIGN_KEY_CHECKS=0, MyISAM, manual deletes.",
            "short",
            target(
                f"max by (app_label, model, relation, target) ({sel('django_integrity_orphaned_rows')})",
                "{{app_label}}.{{model}}.{{relation}} -> {{target}}",
            ),
            width=8,
        ),
        single(
            "Since each check last completed",
            "Time since each integrity check last covered everything. More than three refresh intervals raises "
            "JourneyIntegrityChecksStale: the refresher stopped, the check fails, or a foreign key scan never "
            "finishes within its budget.",
            "s",
            target(
                f"time() - max by (check) ({sel('django_integrity_check_last_complete_timestamp_seconds')})",
                "{{check}}",
                instant=True,
            ),
            width=8,
            height=8,
            steps=[(None, "green"), (1800, "orange"), (3600, "red")],
        ),
        graph(
            "Integrity check duration",
            "How long each check's last run took. A foreign key scan that grows with the tables is bounded by "
            "INTEGRITY_BUDGET_SECONDS and continues next run; a check that cannot run at all raises "
            "JourneyIntegrityCheckFailing (django_integrity_check_success 0).",
            "s",
            target(f"max by (check) ({sel('django_integrity_check_duration_seconds')})", "{{check}}"),
            width=8,
        ),
    )
    board.row("Connections (the Django side)")
    board.add(
        graph(
            "Connection errors by class",
            "Connections the application failed to open, or lost under a statement (gone_away), per second by "
            "class: refused and timeout point at the database host or network, too_many_connections at "
            "max_connections, auth at a rotated password.",
            "cps",
            target(
                f"sum by (alias, error_class) ({rate('django_db_connection_errors_total')})",
                "{{alias}} {{error_class}}",
            ),
            width=8,
        ),
        graph(
            "Connect time",
            "Mean and 95th percentile time from connect() to a usable connection. Rising connect time with "
            "CONN_MAX_AGE = 0 slows every request that touches the database: look at name resolution, TLS and the "
            "database's load.",
            "s",
            target(
                f"sum by (alias) ({rate('django_db_connect_duration_seconds_sum')})\n/\n"
                f"clamp_min(sum by (alias) ({rate('django_db_connect_duration_seconds_count')}), {TINY})",
                "{{alias}} mean",
            ),
            target(quantile(0.95, "django_db_connect_duration_seconds", "alias"), "{{alias}} p95", ref="B"),
            width=8,
        ),
        graph(
            "Connections opened, reused and found stale",
            "Connections opened per second, requests that reused a kept connection (CONN_MAX_AGE) and kept "
            "connections Django found dead and replaced (CONN_HEALTH_CHECKS). Many opened and few reused: every "
            "request pays for connecting.",
            "ops",
            target(f"sum by (alias) ({rate('django_db_connections_opened_total')})", "{{alias}} opened"),
            target(f"sum by (alias) ({rate('django_db_connection_reuses_total')})", "{{alias}} reused", ref="B"),
            target(
                f"sum by (alias) ({rate('django_db_connection_health_check_failures_total')})",
                "{{alias}} stale, replaced",
                ref="C",
            ),
            width=8,
        ),
    )
