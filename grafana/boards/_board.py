"""The frame every dashboard shares: uid, tags, time range, the ``datasource``, ``job`` and ``instance``
variables (and ``workflow``/``target`` where a dashboard asks for them), the dashboards drop-down, the link
to the exporter's recent runs, the built-in annotations, and panels numbered in the order they are added."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from ._panels import DATASOURCE, EXPORTER_URL, Panel
from ._promql import INSTANCE, JOB

# The provisioned Prometheus datasource (grafana/provisioning/datasources/datasources.yml): the datasource
# variable defaults to it, and every panel and target goes through the variable.
PROMETHEUS_UID = "prometheus"
TAG = "workflow-exporter"


class Board:
    """One dashboard: the common variables, links and annotations, and panels numbered in order."""

    def __init__(self, uid: str, title: str, description: str, job_metric: str) -> None:
        self.uid = uid
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
