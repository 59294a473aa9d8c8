"""The report's sections: each asks Prometheus (and the run store) for its numbers, says in one line when its
source is missing or a query failed, and hands its rows to the suggestion rules."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._model import (
    CheckRow,
    FailureGroupRow,
    JourneyRow,
    Plot,
    ReportData,
    RouteRow,
    Section,
    StatementRow,
    StepRow,
    Table,
    Thresholds,
)
from ._prom import PrometheusClient, QueryError, Sample
from .rules.n_plus_one import repeated_table

MAX_ROWS = 25  # per table
TOP_STATEMENTS = 10
MAX_N_PLUS_ONE_ROUTES = 5  # routes whose repeated statement is looked up in the logs

FailureSource = Callable[[float, float], Sequence[Any]]  # (since, until) -> store.FailureGroup list


@dataclass(frozen=True)
class Window:
    """The period reported on and the one it is compared to (unix seconds)."""

    start: float
    end: float
    previous_end: float

    @property
    def seconds(self) -> int:
        """The length of the period, whole seconds (a PromQL range)."""
        return max(round(self.end - self.start), 1)

    @property
    def previous_start(self) -> float:
        """Where the compared period starts."""
        return self.previous_end - self.seconds


def _count(fields: dict[str, Any]) -> float:
    count = fields.get("count")
    return float(count) if isinstance(count, int | float) else 0.0


def _num(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value


def _key(sample: Sample, *names: str) -> tuple[str, ...]:
    return tuple(sample.labels.get(name, "") for name in names)


def _by(samples: list[Sample], *names: str) -> dict[tuple[str, ...], float]:
    return {_key(s, *names): s.value for s in samples}


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _change(now: float | None, before: float | None, lower_is_better: bool, ratio: bool = False) -> str:
    """The change against the previous period, marked ▲ (worse) or ▼ (better) when it matters."""
    if now is None or before is None:
        return "new" if before is None and now is not None else "-"
    if ratio:
        delta = (now - before) * 100
        if abs(delta) < 0.5:
            return "="
        worse = delta > 0 if lower_is_better else delta < 0
        return f"{'▲' if worse else '▼'} {delta:+.1f} pt"
    if before <= 0:
        return "-"
    change = (now - before) / before * 100
    if abs(change) < 10:
        return "="
    worse = change > 0 if lower_is_better else change < 0
    return f"{'▲' if worse else '▼'} {change:+.0f} %"


class Collector:
    """Runs the sections' queries over one window."""

    def __init__(
        self, client: PrometheusClient, window: Window, thresholds: Thresholds, logs: Sequence[str] = ()
    ) -> None:
        self.client = client
        self.logs = tuple(logs)
        self.window = window
        self.thresholds = thresholds
        self.data = ReportData()

    def q(self, expr: str, previous: bool = False) -> list[Sample]:
        """``expr`` (with ``$P`` for the period's range) at the end of the period or of the previous one."""
        expr = expr.replace("$P", f"{self.window.seconds}s")
        return self.client.instant(expr, self.window.previous_end if previous else self.window.end)

    # -- journeys ------------------------------------------------------------------------------------------
    def journeys(self, failure_source: FailureSource | None) -> Section:
        section = Section("journeys", "Journeys")
        runs_expr = "sum by (workflow, target, result) (increase(workflow_runs_total[$P]))"
        now, before = self.q(runs_expr), self.q(runs_expr, previous=True)
        if not now and not before:
            section.status, section.message = (
                "missing",
                ("no workflow_runs_total in Prometheus for this period: is the exporter scraped?"),
            )
            self._failure_groups(section, failure_source)
            return section
        quantile = (
            "histogram_quantile({q}, sum by (workflow, target, le) (rate(workflow_run_duration_seconds_bucket[$P])))"
        )
        p50, p95 = (
            _by(self.q(quantile.format(q=0.5)), "workflow", "target"),
            _by(self.q(quantile.format(q=0.95)), "workflow", "target"),
        )
        pp50 = _by(self.q(quantile.format(q=0.5), previous=True), "workflow", "target")
        pp95 = _by(self.q(quantile.format(q=0.95), previous=True), "workflow", "target")
        slo = (
            'sum by (workflow, target) (increase(workflow_runs_total{result="failure"}[$S]))'
            " / sum by (workflow, target) (increase(workflow_runs_total[$S]))"
        ).replace("$S", f"{self._slo_seconds}s")
        slo_failure = _by(self.q(slo), "workflow", "target")
        totals: dict[tuple[str, str], dict[str, float]] = {}
        previous: dict[tuple[str, str], dict[str, float]] = {}
        for samples, into in ((now, totals), (before, previous)):
            for s in samples:
                row = into.setdefault((s.labels.get("workflow", ""), s.labels.get("target", "")), {})
                row[s.labels.get("result", "")] = row.get(s.labels.get("result", ""), 0.0) + s.value
        budget = 1 - self.thresholds.slo_objective
        for key in sorted(set(totals) | set(previous)):
            cur, prev = totals.get(key, {}), previous.get(key, {})
            runs, failures = sum(cur.values()), cur.get("failure", 0.0)
            prev_runs = sum(prev.values())
            ratio = (runs - failures) / runs if runs > 0 else None
            prev_ratio = (prev_runs - prev.get("failure", 0.0)) / prev_runs if prev_runs > 0 else None
            window_failure = _num(slo_failure.get(key))
            self.data.journeys.append(
                JourneyRow(
                    workflow=key[0],
                    target=key[1],
                    runs=runs,
                    failures=failures,
                    success_ratio=ratio,
                    previous_success_ratio=prev_ratio,
                    p50=_num(p50.get(key)),
                    p95=_num(p95.get(key)),
                    previous_p50=_num(pp50.get(key)),
                    previous_p95=_num(pp95.get(key)),
                    budget_left=None if window_failure is None else 1 - window_failure / budget,
                    burn_rate=None if ratio is None else (1 - ratio) / budget,
                )
            )
        rows = self.data.journeys[:MAX_ROWS]
        section.tables.append(
            Table(
                "Journeys against the previous period",
                [
                    "workflow",
                    "target",
                    "runs",
                    "success",
                    "change",
                    "SLO budget left",
                    "burn",
                    "p50",
                    "p95",
                    "p95 change",
                ],
                [
                    [
                        r.workflow,
                        r.target,
                        f"{r.runs:.0f}",
                        _ratio(r.success_ratio),
                        _change(r.success_ratio, r.previous_success_ratio, lower_is_better=False, ratio=True),
                        _ratio(r.budget_left),
                        "-" if r.burn_rate is None else f"{r.burn_rate:.1f}x",
                        _seconds(r.p50),
                        _seconds(r.p95),
                        _change(r.p95, r.previous_p95, lower_is_better=True),
                    ]
                    for r in rows
                ],
            )
        )
        names = [f"{r.workflow}@{r.target}" for r in rows]
        section.plots.append(
            Plot(
                "journeys_success",
                "Success ratio: this period against the previous",
                "%",
                names,
                {
                    "previous": [100 * (r.previous_success_ratio or 0.0) for r in rows],
                    "this period": [100 * (r.success_ratio or 0.0) for r in rows],
                },
            )
        )
        section.plots.append(
            Plot(
                "journeys_p95",
                "Run duration p95: this period against the previous",
                "s",
                names,
                {"previous": [r.previous_p95 or 0.0 for r in rows], "this period": [r.p95 or 0.0 for r in rows]},
            )
        )
        self._failure_groups(section, failure_source)
        return section

    _slo_seconds: int = 30 * 86400

    def _failure_groups(self, section: Section, source: FailureSource | None) -> None:
        if source is None:
            section.tables.append(
                Table(
                    "Failure groups", ["note"], [["no run store: failure groups are not shown (give --storage.path)"]]
                )
            )
            return
        try:
            groups = list(source(self.window.start, self.window.end))[:MAX_ROWS]
        except Exception as error:  # the store is outside input too: say so, keep the report
            section.tables.append(Table("Failure groups", ["note"], [[f"the run store could not be read: {error}"]]))
            return
        for g in groups:
            self.data.failure_groups.append(
                FailureGroupRow(
                    workflow=g.workflow,
                    target=g.target,
                    step=g.step,
                    reason=g.reason,
                    result=g.result,
                    message=str(g.message)[:200],
                    count=int(g.count),
                    first_seen=float(g.first_seen),
                    last_seen=float(g.last_seen),
                    examples=[e.id for e in g.examples][:3],
                )
            )
        from datetime import UTC, datetime

        def when(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")

        section.tables.append(
            Table(
                "Failure groups of the period (run store)",
                [
                    "workflow",
                    "target",
                    "step",
                    "reason",
                    "result",
                    "count",
                    "first seen",
                    "last seen",
                    "message",
                    "example runs",
                ],
                [
                    [
                        g.workflow,
                        g.target,
                        g.step or "-",
                        g.reason or "-",
                        g.result,
                        str(g.count),
                        when(g.first_seen),
                        when(g.last_seen),
                        g.message,
                        " ".join(g.examples),
                    ]
                    for g in self.data.failure_groups
                ]
                or [["-", "-", "-", "-", "-", "0", "-", "-", "no failed or degraded run in the period", "-"]],
            )
        )

    # -- steps vs budgets ----------------------------------------------------------------------------------
    def steps(self) -> Section:
        section = Section("steps", "Steps against their budgets")
        labels = ("workflow", "target", "step")
        p95 = _by(
            self.q(
                "histogram_quantile(0.95, sum by (workflow, target, step, le) "
                "(rate(workflow_step_duration_seconds_bucket[$P])))"
            ),
            *labels,
        )
        if not p95:
            section.status, section.message = (
                "missing",
                ("no workflow_step_duration_seconds in Prometheus for this period: is the exporter scraped?"),
            )
            return section
        mean = _by(
            self.q(
                "sum by (workflow, target, step) (rate(workflow_step_duration_seconds_sum[$P])) / "
                "sum by (workflow, target, step) (rate(workflow_step_duration_seconds_count[$P]))"
            ),
            *labels,
        )
        budget = _by(
            self.q("max by (workflow, target, step) (max_over_time(workflow_step_latency_budget_seconds[$P]))"), *labels
        )
        server = self.q(
            "sum by (workflow, target, step, component) (rate(workflow_step_server_duration_seconds_sum[$P])) / "
            "sum by (workflow, target, step, component) (rate(workflow_step_server_duration_seconds_count[$P]))"
        )
        split = {(*_key(s, *labels), s.labels.get("component", "")): s.value for s in server}
        for key in p95:
            self.data.steps.append(
                StepRow(
                    workflow=key[0],
                    target=key[1],
                    step=key[2],
                    p95=_num(p95[key]),
                    mean=_num(mean.get(key)),
                    budget=_num(budget.get(key)),
                    app=_num(split.get((*key, "app"))),
                    db=_num(split.get((*key, "db"))),
                )
            )

        def closeness(r: StepRow) -> float:
            return (r.p95 or 0.0) / r.budget if r.budget else 0.0

        self.data.steps.sort(key=lambda r: (-closeness(r), -(r.p95 or 0.0)))
        rows = self.data.steps[:MAX_ROWS]
        section.tables.append(
            Table(
                "Steps closest to or over their max_duration (p95)",
                ["workflow", "target", "step", "p95", "max_duration", "p95 / budget", "mean", "network", "app", "db"],
                [
                    [
                        r.workflow,
                        r.target,
                        r.step,
                        _seconds(r.p95),
                        _seconds(r.budget),
                        "-" if not r.budget else f"{closeness(r) * 100:.0f} %",
                        _seconds(r.mean),
                        _seconds(r.network),
                        _seconds(r.app),
                        _seconds(r.db),
                    ]
                    for r in rows
                ],
            )
        )
        plotted = rows[:12]
        section.plots.append(
            Plot(
                "steps_split",
                "Where each step's mean time goes (tick: max_duration)",
                "s",
                [f"{r.workflow}/{r.step}" for r in plotted],
                {
                    "network/client": [r.network or 0.0 for r in plotted],
                    "app": [r.app or 0.0 for r in plotted],
                    "db": [r.db or 0.0 for r in plotted],
                },
                stacked=True,
                marks=[r.budget for r in plotted],
            )
        )
        return section

    # -- API -----------------------------------------------------------------------------------------------
    def api(self) -> Section:
        section = Section("api", "API")
        rm = ("route", "method")
        requests = _by(self.q("sum by (route, method) (increase(django_request_duration_seconds_count[$P]))"), *rm)
        if not requests:
            section.status, section.message = (
                "missing",
                ("no django_request_duration_seconds in Prometheus for this period: is the Django app scraped?"),
            )
            return section
        p95_expr = (
            "histogram_quantile(0.95, sum by (route, method, le) (rate(django_request_duration_seconds_bucket[$P])))"
        )
        p95, prev = _by(self.q(p95_expr), *rm), _by(self.q(p95_expr, previous=True), *rm)
        errors = _by(
            self.q('sum by (route, method) (increase(django_request_duration_seconds_count{status_class="5xx"}[$P]))'),
            *rm,
        )
        classes = self.q("sum by (route, error_class) (increase(django_request_errors_total[$P])) > 0")
        queries = _by(
            self.q("histogram_quantile(0.95, sum by (route, method, le) (rate(django_request_db_queries_bucket[$P])))"),
            *rm,
        )
        repeated = _by(self.q("sum by (route) (increase(django_db_repeated_queries_total[$P])) > 0"), "route")
        for key, count in requests.items():
            if count <= 0:
                continue
            row = RouteRow(
                route=key[0],
                method=key[1],
                requests=count,
                p95=_num(p95.get(key)),
                previous_p95=_num(prev.get(key)),
                errors_5xx=errors.get(key, 0.0),
                queries_p95=_num(queries.get(key)),
                repeated=repeated.get((key[0],), 0.0),
            )
            for s in classes:
                if s.labels.get("route") == key[0]:
                    row.error_classes[s.labels.get("error_class", "")] = s.value
            self.data.routes.append(row)
        if self.logs:
            self._repeated_statements(section)
        self._statements_while_repeating()
        self.data.routes.sort(key=lambda r: -(r.p95 or 0.0))
        rows = self.data.routes[:MAX_ROWS]
        section.tables.append(
            Table(
                "Routes by p95 latency",
                ["route", "method", "requests", "p95", "change", "5xx ratio", "error classes"],
                [
                    [
                        r.route,
                        r.method,
                        f"{r.requests:.0f}",
                        _seconds(r.p95),
                        _change(r.p95, r.previous_p95, True),
                        _ratio(r.error_ratio),
                        ", ".join(f"{k} {v:.0f}" for k, v in sorted(r.error_classes.items())) or "-",
                    ]
                    for r in rows
                ],
            )
        )
        by_queries = sorted(self.data.routes, key=lambda r: -(r.queries_p95 or 0.0))[:MAX_ROWS]
        section.tables.append(
            Table(
                "Routes by queries per request (p95) and N+1 detections",
                ["route", "method", "queries/request p95", "N+1 detections"],
                [
                    [r.route, r.method, "-" if r.queries_p95 is None else f"{r.queries_p95:.0f}", f"{r.repeated:.0f}"]
                    for r in by_queries
                ],
            )
        )
        top = rows[:12]
        section.plots.append(
            Plot(
                "api_p95",
                "Routes by p95 latency",
                "s",
                [f"{r.method} {r.route}" for r in top],
                {"previous": [r.previous_p95 or 0.0 for r in top], "this period": [r.p95 or 0.0 for r in top]},
            )
        )
        top_q = by_queries[:12]
        section.plots.append(
            Plot(
                "api_queries",
                "Queries per request (p95)",
                "queries",
                [f"{r.method} {r.route}" for r in top_q],
                {"queries/request p95": [r.queries_p95 or 0.0 for r in top_q]},
            )
        )
        return section

    def _repeated_statements(self, section: Section) -> None:
        """The statement each N+1 route repeated: an exemplar of django_db_repeated_queries_total gives a
        request's correlation ID, the Django log (the trace source) its N+1 line with the statement."""
        from ..trace import Window as TraceWindow
        from ..trace.logs import search

        worst = sorted((r for r in self.data.routes if r.repeated >= 1), key=lambda r: -r.repeated)
        for row in worst[:MAX_N_PLUS_ONE_ROUTES]:
            route = row.route.replace("\\", "\\\\").replace('"', '\\"')
            exemplars = self.client.exemplars(
                f'django_db_repeated_queries_total{{route="{route}"}}', self.window.start, self.window.end
            )
            for labels, moment in exemplars[:3]:
                correlation_id = labels.get("correlation_id", "")
                if not correlation_id:
                    continue
                found = search(list(self.logs), correlation_id, TraceWindow(moment - 120, moment + 120))
                lines = [e.fields for e in found.events if isinstance(e.fields.get("statement"), str)]
                if lines:  # the most repeated of the request's N+1 statements, a single-table lookup first
                    best = max(lines, key=lambda f: (repeated_table(f["statement"]) is not None, _count(f)))
                    row.repeated_statement = str(best["statement"])[:1000]
                    break
        if not any(r.repeated_statement for r in self.data.routes if r.repeated >= 1):
            section.notes.append("no N+1 log line found through the exemplars: the repeated statement is guessed "
                                 "from the statement digests")  # fmt: skip

    def _statements_while_repeating(self) -> None:
        """For each N+1 route the logs gave no statement for: each digest's mean rate while the route repeated
        statements less its mean rate while it did not. A statement run per row stands out even when the N+1
        lasted an hour of a day (where the totals against the previous period do not show it)."""
        limit = self.thresholds.queries_per_request  # the routes the n_plus_one rule reports on
        worst = sorted((r for r in self.data.routes if r.repeated >= 1 and not r.repeated_statement
                        and (r.queries_p95 or 0.0) >= limit), key=lambda r: -r.repeated)  # fmt: skip
        step = max(60, self.window.seconds // 720)  # at most 720 points a subquery
        rate = f"{max(600, 2 * step)}s"  # a few scrapes (or backfilled samples) in each
        calls = f"sum by (digest) (rate(mysql_perf_schema_events_statements_total[{rate}]))"
        for row in worst[:MAX_N_PLUS_ONE_ROUTES]:
            route = row.route.replace("\\", "\\\\").replace('"', '\\"')
            repeating = f'sum(rate(django_db_repeated_queries_total{{route="{route}"}}[{rate}])) > 0'
            try:
                outside = _by(self.q(f"avg_over_time(({calls} unless on() ({repeating}))[$P:{step}s])"), "digest")
                if not outside:
                    continue  # repeating all along (or no digests): the previous period tells more
                during = _by(self.q(f"avg_over_time(({calls} and on() ({repeating}))[$P:{step}s])"), "digest")
            except QueryError:  # the guess from the totals remains
                continue
            row.while_repeating = {key[0]: value - outside.get(key, 0.0) for key, value in during.items()}

    # -- database ------------------------------------------------------------------------------------------
    def database(self) -> Section:
        section = Section("database", "Database")
        ds = ("schema", "digest")
        seconds = self.q(
            "sum by (schema, digest, digest_text) (increase(mysql_perf_schema_events_statements_seconds_total[$P]))"
        )
        if not seconds:
            up = self.q("count(mysql_up)")
            section.status = "missing"
            section.message = (
                "mysqld_exporter is scraped but exports no statement digests: run it with "
                "--collect.perf_schema.eventsstatements"
                if up
                else "no mysqld_exporter in Prometheus (mysql_up is absent): statement digests are not shown"
            )
            return section
        calls_expr = "sum by (schema, digest) (increase(mysql_perf_schema_events_statements_total[$P]))"
        calls = _by(self.q(calls_expr), *ds)
        previous_calls = _by(self.q(calls_expr, previous=True), *ds)
        examined = _by(
            self.q("sum by (schema, digest) (increase(mysql_perf_schema_events_statements_rows_examined_total[$P]))"),
            *ds,
        )
        sent = _by(
            self.q("sum by (schema, digest) (increase(mysql_perf_schema_events_statements_rows_sent_total[$P]))"), *ds
        )
        no_index = _by(
            self.q("sum by (schema, digest) (increase(mysql_perf_schema_events_statements_no_index_used_total[$P]))"),
            *ds,
        )
        rows = []
        for s in seconds:
            key = _key(s, *ds)
            count = calls.get(key, 0.0)
            if count <= 0 and s.value <= 0:
                continue
            rows.append(
                StatementRow(
                    schema=key[0],
                    digest=key[1],
                    text=s.labels.get("digest_text", "")[:1000],
                    calls=count,
                    seconds=s.value,
                    rows_examined=examined.get(key, 0.0),
                    rows_sent=sent.get(key, 0.0),
                    no_index_used=no_index.get(key, 0.0),
                    previous_calls=previous_calls.get(key, 0.0),
                )
            )
        slowest = sorted(rows, key=lambda r: -r.seconds)[:TOP_STATEMENTS]
        frequent = sorted(rows, key=lambda r: -r.calls)[:TOP_STATEMENTS]
        grown = sorted(rows, key=lambda r: -(r.calls - r.previous_calls))[:TOP_STATEMENTS]
        chosen = {id(r): r for r in [*slowest, *frequent, *grown]}
        self.data.statements = list(chosen.values())

        def table(title: str, items: list[StatementRow]) -> Table:
            return Table(
                title,
                [
                    "schema",
                    "statement",
                    "calls",
                    "total",
                    "mean",
                    "rows examined",
                    "rows sent",
                    "examined/sent",
                    "no index",
                ],
                [
                    [
                        r.schema,
                        r.text[:160],
                        f"{r.calls:.0f}",
                        _seconds(r.seconds),
                        _seconds(r.mean),
                        f"{r.rows_examined:.0f}",
                        f"{r.rows_sent:.0f}",
                        f"{r.examined_per_sent:.0f}",
                        f"{r.no_index_used:.0f}",
                    ]
                    for r in items
                ],
            )

        section.tables.append(table("Slowest statements (total time in the period)", slowest))
        section.tables.append(table("Most frequent statements", frequent))
        section.plots.append(
            Plot(
                "db_slowest",
                "Statements by total time in the period",
                "s",
                [r.text[:48] for r in slowest],
                {"total time": [r.seconds for r in slowest]},
            )
        )
        return section

    # -- contracts and integrity ---------------------------------------------------------------------------
    def checks(self) -> Section:
        section = Section("checks", "Contracts and integrity")
        present = self.q('count({__name__=~"workflow_contract_check_success|django_integrity_.+"})')
        if not present:
            section.status, section.message = "missing", "no contract checks or integrity checks in Prometheus"
            return section
        for s in self.q("min by (target, operation, check) (min_over_time(workflow_contract_check_success[$P])) == 0"):
            self.data.checks.append(CheckRow("contract", s.labels.get("check", ""), s.labels, s.value))
        findings = "django_integrity_(unapplied_migrations|missing_migrations|schema_drift|orphaned_rows)"
        for s in self.q(f'{{__name__=~"{findings}"}} > 0 or django_integrity_check_success == 0'):
            labels = {k: v for k, v in s.labels.items() if k not in ("job", "instance")}
            self.data.checks.append(CheckRow("integrity", labels.pop("__name__", ""), labels, s.value))
        section.tables.append(
            Table(
                "Failing checks and findings",
                ["kind", "check", "labels", "value"],
                [
                    [c.kind, c.name, ", ".join(f"{k}={v}" for k, v in sorted(c.labels.items())), f"{c.value:g}"]
                    for c in self.data.checks[:MAX_ROWS]
                ]
                or [["-", "all checks pass", "-", "-"]],
            )
        )
        return section

    def run(self, builder: Callable[[], Section], key: str, title: str) -> Section:
        """A section, or one line saying why it could not be built."""
        try:
            return builder()
        except QueryError as error:
            return Section(key, title, status="error", message=str(error))


def collect(
    client: PrometheusClient,
    window: Window,
    thresholds: Thresholds,
    slo_window: float,
    failure_source: FailureSource | None,
    logs: Sequence[str] = (),
) -> tuple[list[Section], ReportData]:
    """Every section over ``window``; a section whose queries fail says so and the others still answer."""
    collector = Collector(client, window, thresholds, logs)
    collector._slo_seconds = max(int(slo_window), 1)
    sections = [
        collector.run(lambda: collector.journeys(failure_source), "journeys", "Journeys"),
        collector.run(collector.steps, "steps", "Steps against their budgets"),
        collector.run(collector.api, "api", "API"),
        collector.run(collector.database, "database", "Database"),
        collector.run(collector.checks, "checks", "Contracts and integrity"),
    ]
    return sections, collector.data
