"""Generate workflow-exporter's Grafana dashboards from Python into ``grafana/dashboards/*.json``.

    .venv/bin/python grafana/generate.py           # (re)write the JSON files
    .venv/bin/python grafana/generate.py --check   # exit 1 and name the files that would change

The dashboards are built with grafana-foundation-sdk, pinned to an exact build in pyproject.toml's ``dev`` extra
(``1769699379!11.6.0``: the Grafana 11.6 schema, ``schemaVersion`` 41). Its PyPI versions carry epochs, so an
unpinned install picks an old Grafana schema: keep the pin exact. The output is pretty-printed JSON with sorted
keys and a trailing newline, so regenerating is deterministic and a test fails when the committed files drift.

Conventions every dashboard follows (tests/bundle/test_dashboards.py lints them): one ``datasource`` variable,
``job`` and ``instance`` variables, every selector filtered by both, ``$__rate_interval`` in every rate (panels
judged over the whole range use ``$__range``, listed in ``grafana/.lint``), counters only inside rate/increase,
sums of counters that appear only after their first event end in ``or`` a zero vector so the demo never shows
"No data", and every panel has a title, a description that says what to do, and a unit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prometheus_model

HERE = Path(__file__).resolve().parent
OUTPUT_DIR = HERE / "dashboards"

# The provisioned Prometheus datasource (grafana/provisioning/datasources/datasources.yml): the datasource
# variable defaults to it, and every panel and target goes through the variable.
PROMETHEUS_UID = "prometheus"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
TAG = "workflow-exporter"
# Where a person's browser reaches the exporter (its landing page lists recent runs; /runs/<id> is one run).
EXPORTER_URL = "http://localhost:9716"

JOB = 'job=~"$job"'
INSTANCE = 'instance=~"$instance"'
WORKFLOW = ('workflow=~"$workflow"', 'target=~"$target"')
FAILED = 'result="failure"'
SERVER_ERROR = 'status_class="5xx"'
RATE = "$__rate_interval"
RANGE = "$__range"
SLO_OBJECTIVE = 0.99
# Divisions by a count of events: a zero count gives a ratio of 0 instead of NaN (no events, nothing failed).
TINY = "1e-9"

UIDS = {
    "overview": "workflow-overview",
    "detail": "workflow-detail",
    "api": "workflow-api",
    "database": "workflow-database",
}
# Carried by every link between the dashboards: the datasource, the scope and the time range.
KEEP = "${datasource:queryparam}&${job:queryparam}&${instance:queryparam}&${__url_time_range}"


# --- PromQL helpers ------------------------------------------------------------------------------------------


def sel(metric: str, *matchers: str) -> str:
    """``metric`` filtered by the dashboard's job and instance variables, plus ``matchers``."""
    return f"{metric}{{{', '.join([JOB, INSTANCE, *matchers])}}}"


def rate(metric: str, *matchers: str, window: str = RATE, fn: str = "rate") -> str:
    return f"{fn}({sel(metric, *matchers)}[{window}])"


def increase(metric: str, *matchers: str, window: str = RATE) -> str:
    return rate(metric, *matchers, window=window, fn="increase")


def quantile(q: float, histogram: str, by: str, *matchers: str) -> str:
    """The ``q`` quantile of a classic histogram, aggregated ``by`` the given labels."""
    return f"histogram_quantile({q}, sum by ({by}, le) ({rate(histogram + '_bucket', *matchers)}))"


def zero(label: str | None = None, value: str = "none") -> str:
    """A zero series for sums of counters that only exist after their first event: ``x or on() zero()`` is
    ``x`` when it has series, else one zero series (labelled ``label="none"``), never "No data"."""
    if label is None:
        return "vector(0)"
    return f'label_replace(vector(0), "{label}", "{value}", "", "")'


def mean(histogram: str, by: str, *matchers: str) -> str:
    """Mean of a histogram's observations over the rate interval, ``by`` the given labels."""
    return (
        f"sum by ({by}) ({rate(histogram + '_sum', *matchers)})\n"
        f"/\nsum by ({by}) ({rate(histogram + '_count', *matchers)})"
    )


# --- panel helpers -------------------------------------------------------------------------------------------


def target(
    expr: str,
    legend: str = "__auto",
    *,
    ref: str = "A",
    instant: bool = False,
    exemplar: bool = False,
    fmt: prometheus_model.PromQueryFormat | None = None,
) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)
    query = query.instant() if instant else query.range()
    if exemplar:
        query = query.exemplar(True)
    if fmt is not None:
        query = query.format(fmt)
    return query


def link(title: str, url: str) -> dash.DashboardLink:
    return dash.DashboardLink(title).type(model.DashboardLinkType.LINK).url(url)


def to_dashboard(uid: str, title: str, *params: str) -> dash.DashboardLink:
    query = "&".join([*params, KEEP])
    return link(title, f"/d/{uid}/{uid}?{query}")


TO_DETAIL = to_dashboard(
    UIDS["detail"],
    "Open ${__field.labels.workflow} on ${__field.labels.target} in Workflow detail",
    "var-workflow=${__field.labels.workflow}",
    "var-target=${__field.labels.target}",
)
TO_API_ROUTE = to_dashboard(
    UIDS["api"], "Open route ${__field.labels.route} in API", "var-route=${__field.labels.route:percentencode}"
)
TO_API = to_dashboard(UIDS["api"], "Open the API dashboard")
TO_DATABASE = to_dashboard(UIDS["database"], "Open the Database dashboard")
RUNS_PAGE = link("Recent runs on the exporter", f"{EXPORTER_URL}/")

Panel = timeseries.Panel | stat.Panel | heatmap.Panel | table.Panel


def common_setup(
    panel: Panel,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[prometheus.Dataquery],
    width: int,
    height: int,
    links: Sequence[dash.DashboardLink],
) -> None:
    panel.title(title).description(description).unit(unit).datasource(DATASOURCE).span(width).height(height)
    panel.targets(list(targets))
    if links:
        panel.data_links(list(links))


def graph(
    title: str,
    description: str,
    unit: str,
    *targets: prometheus.Dataquery,
    width: int = 12,
    height: int = 8,
    links: Sequence[dash.DashboardLink] = (),
    stacked: bool = False,
    bars: bool = False,
    min_zero: bool = True,
) -> timeseries.Panel:
    panel = timeseries.Panel()
    common_setup(panel, title, description, unit, targets, width, height, links)
    panel.legend(
        common_builders.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .calcs(["mean", "max", "lastNotNull"])
    )
    panel.tooltip(
        common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
    )
    if min_zero:
        panel.min(0)
    if stacked:
        panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL)).fill_opacity(40)
    else:
        panel.fill_opacity(10)
    if bars:
        panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    return panel


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def single(
    title: str,
    description: str,
    unit: str,
    *targets: prometheus.Dataquery,
    width: int = 6,
    height: int = 6,
    links: Sequence[dash.DashboardLink] = (),
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    mappings: dict[str, tuple[str, str]] | None = None,
    decimals: int | None = None,
) -> stat.Panel:
    panel = stat.Panel()
    common_setup(panel, title, description, unit, targets, width, height, links)
    panel.reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    panel.color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
    panel.text_mode(common.BigValueTextMode.VALUE_AND_NAME).thresholds(thresholds(*steps))
    if mappings:
        options = {
            value: model.ValueMappingResult(text=text, color=color, index=index)
            for index, (value, (text, color)) in enumerate(sorted(mappings.items()))
        }
        panel.mappings([model.ValueMap(options=options)])
    if decimals is not None:
        panel.decimals(decimals)
    return panel


def heat(
    title: str,
    description: str,
    expr: str,
    *,
    width: int = 12,
    height: int = 8,
    links: Sequence[dash.DashboardLink] = (),
) -> heatmap.Panel:
    """A heatmap of a classic histogram's buckets, with the exemplars (correlation IDs) shown on it."""
    panel = heatmap.Panel()
    query = target(expr, "{{le}}", exemplar=True, fmt=prometheus_model.PromQueryFormat.HEATMAP)
    common_setup(panel, title, description, "s", [query], width, height, links)
    panel.calculate(False).y_axis(heatmap.YAxisConfig().unit("s"))
    panel.color(heatmap.HeatmapColorOptions().mode(heatmap_model.HeatmapColorMode.SCHEME).scheme("Oranges").steps(64))
    panel.cell_values(heatmap.CellValues().unit("short"))
    panel.exemplars_color("rgba(255,0,255,0.7)")
    return panel


def grid(
    title: str,
    description: str,
    unit: str,
    *targets: prometheus.Dataquery,
    width: int = 24,
    height: int = 8,
    links: Sequence[dash.DashboardLink] = (),
    rename: dict[str, str] | None = None,
    units: dict[str, str] | None = None,
) -> table.Panel:
    panel = table.Panel()
    common_setup(panel, title, description, unit, targets, width, height, links)
    panel.with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
    panel.with_transformation(
        model.DataTransformerConfig(
            id_val="organize",
            options={"excludeByName": {"Time": True}, "renameByName": dict(rename or {})},
        )
    )
    for field, field_unit in sorted((units or {}).items()):
        panel.override_by_name(field, [model.DynamicConfigValue(id_val="unit", value=field_unit)])
    return panel


# --- dashboards ----------------------------------------------------------------------------------------------


class Board:
    """One dashboard: the common variables, links and annotations, and panels numbered in order."""

    def __init__(self, key: str, title: str, description: str, job_metric: str) -> None:
        self.uid = UIDS[key]
        self.next_id = 1
        self.builder = (
            dash.Dashboard(title)
            .uid(self.uid)
            .description(description)
            .tags([TAG])
            .readonly()
            .time("now-1h", "now")
            .refresh("30s")
            .timezone("browser")
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .annotation(
                dash.AnnotationQuery()
                .name("Annotations & Alerts")
                .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
                .built_in(1)
                .enable(True)
                .hide(True)
                .icon_color("rgba(0, 211, 255, 1)")
                .type("dashboard")
            )
            .link(
                dash.DashboardLink("Workflow dashboards")
                .type(model.DashboardLinkType.DASHBOARDS)
                .tags([TAG])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
            .link(
                dash.DashboardLink("Recent runs (exporter)")
                .type(model.DashboardLinkType.LINK)
                .url(f"{EXPORTER_URL}/")
                .icon("external link")
                .target_blank(True)
            )
            .with_variable(
                dash.DatasourceVariable("datasource")
                .label("Data source")
                .type("prometheus")
                .current(model.VariableOption(selected=True, text="Prometheus", value=PROMETHEUS_UID))
            )
            .with_variable(
                self.variable(
                    "job",
                    "Job",
                    f"label_values({job_metric}, job)",
                    "Prometheus scrape jobs: the exporter, the Django app and mysqld_exporter.",
                )
            )
            .with_variable(
                self.variable(
                    "instance",
                    "Instance",
                    f"label_values({job_metric}{{{JOB}}}, instance)",
                    "Scraped instances of the selected jobs.",
                )
            )
        )

    @staticmethod
    def variable(name: str, label: str, query: str, description: str) -> dash.QueryVariable:
        return (
            dash.QueryVariable(name)
            .label(label)
            .description(description)
            .datasource(DATASOURCE)
            .query(query)
            .multi(True)
            .include_all(True)
            .all_value(".+")
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
        )

    def with_variable(self, name: str, label: str, query: str, description: str) -> Board:
        self.builder.with_variable(self.variable(name, label, query, description))
        return self

    def with_workflow_variables(self) -> Board:
        """The ``workflow`` and ``target`` variables, from the exporter's own series."""
        self.with_variable(
            "workflow",
            "Workflow",
            f"label_values(workflow_runs_total{{{JOB}, {INSTANCE}}}, workflow)",
            "Workflows from the exporter's config.",
        )
        return self.with_variable(
            "target",
            "Target",
            f'label_values(workflow_runs_total{{{JOB}, {INSTANCE}, workflow=~"$workflow"}}, target)',
            "Targets the workflows run against.",
        )

    def row(self, title: str) -> Board:
        self.builder.with_row(dash.Row(title).id(self.next_id))
        self.next_id += 1
        return self

    def add(self, *panels: Panel) -> Board:
        for panel in panels:
            panel.id(self.next_id)
            self.next_id += 1
            self.builder.with_panel(panel)
        return self

    def build(self) -> model.Dashboard:
        return self.builder.build()


def overview() -> model.Dashboard:
    runs = "workflow_runs_total"
    by = "workflow, target"
    failures = f"sum by ({by}) ({increase(runs, *WORKFLOW, FAILED, window=RANGE)})"
    total = f"sum by ({by}) ({increase(runs, *WORKFLOW, window=RANGE)})"
    failure_ratio = f"({failures}\n/\nclamp_min({total}, {TINY}))"
    api = "django_request_duration_seconds"
    board = Board(
        "overview",
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
            "open Workflow detail and see which step failed and why.",
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
            "Share of runs that passed in the selected time range. Below 99 % the journey is eating its error "
            "budget: look at the failure reasons in Workflow detail.",
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
            "Finished runs per second by result. Failures here and a red 'Last run' mean a broken journey; "
            "no runs at all mean the exporter stopped scheduling (see its /-/ready and logs).",
            "ops",
            target(f"sum by (workflow, result) ({rate(runs, *WORKFLOW)})", "{{workflow}} {{result}}"),
            links=[TO_DETAIL],
            stacked=True,
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


def detail() -> model.Dashboard:
    by = "workflow, target"
    board = Board(
        "detail",
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
            "Per workflow and target: the last run's result and time, and the runs and failures in the selected "
            "range. A failed last run: read the failure reasons below, then open the recent runs on the exporter "
            "(link) for the waterfall and a curl line that reproduces it.",
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
            width=12,
            links=[RUNS_PAGE],
            rename={
                "Value #A": "Last run passed",
                "Value #B": "Last run finished",
                "Value #C": "Runs in range",
                "Value #D": "Failed runs in range",
                "workflow": "Workflow",
                "target": "Target",
            },
            units={"Last run finished": "dateTimeAsIso", "Runs in range": "short", "Failed runs in range": "short"},
        ),
    )
    board.row("Steps: which step is slow, and against which budget?")
    board.add(
        graph(
            "Step latency p95 vs budget",
            "95th percentile of each step's duration (solid) against its budget, the step's max_duration from "
            "the config (dashed). A solid line above its dashed one breaks the step's assertion and fails runs: "
            "the panel to the right tells whether the app or the database takes the time. Diamonds are exemplars "
            "(run correlation IDs).",
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
    board.row("Failures: why did it fail?")
    board.add(
        graph(
            "Step failures by reason",
            "Failed steps per rate interval by step and reason (dns, connect, tls, timeout, http_status, "
            "assertion, schema, extraction, sql, circuit_open, skipped, internal). connect/dns/tls: the target is "
            "unreachable; http_status/schema: the API changed or broke; assertion: too slow or wrong content; "
            "skipped: an earlier step failed. Diamonds are exemplars (run correlation IDs).",
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


def api() -> model.Dashboard:
    metric = "django_request_duration_seconds"
    route = ('route=~"$route"',)
    board = Board(
        "api",
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
            "Distribution of request durations for the selected routes. Diamonds are exemplars; the 'Run page' "
            "link opens a run only for the exporter's synthetic requests: for real users, use "
            "`workflow-exporter trace <id>`.",
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


def database() -> model.Dashboard:
    statements = "mysql_perf_schema_events_statements"
    board = Board(
        "database",
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
    return board.build()


DASHBOARDS = {
    UIDS["overview"]: overview,
    UIDS["detail"]: detail,
    UIDS["api"]: api,
    UIDS["database"]: database,
}


def render(dashboard: model.Dashboard) -> str:
    return json.dumps(dashboard, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name → content of every dashboard."""
    return {f"{uid}.json": render(build()) for uid, build in sorted(DASHBOARDS.items())}


def stale(output_dir: Path, files: dict[str, str]) -> list[str]:
    """Names of files that differ from ``files``, are missing, or are not generated any more."""
    present = {path.name for path in output_dir.glob("*.json")}
    changed = [
        name
        for name, content in files.items()
        if name not in present or (output_dir / name).read_text(encoding="utf-8") != content
    ]
    return sorted([*changed, *(present - files.keys())])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming files that would change")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR, help="default: %(default)s")
    args = parser.parse_args(argv)
    output_dir: Path = args.output_dir
    files = rendered()
    changes = stale(output_dir, files) if output_dir.is_dir() else sorted(files)
    if args.check:
        for name in changes:
            print(f"would change: {output_dir / name}", file=sys.stderr)
        if changes:
            print("run: .venv/bin/python grafana/generate.py", file=sys.stderr)
        return 1 if changes else 0
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in changes:
        path = output_dir / name
        if name in files:
            path.write_text(files[name], encoding="utf-8")
            print(f"wrote {path}")
        else:
            path.unlink()
            print(f"removed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
