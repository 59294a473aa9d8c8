"""Panels and links shared by every dashboard: queries on the ``${datasource}`` variable, time series, stats,
heatmaps with exemplars, tables, and the data links that open one dashboard from another with the scope kept."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prometheus_model

# Every panel and target goes through the datasource variable (grafana/boards/_board.py declares it).
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Where a person's browser reaches the exporter (its landing page lists recent runs; /runs/<id> is one run).
EXPORTER_URL = "http://localhost:9716"

UIDS = {
    "overview": "workflow-overview",
    "detail": "workflow-detail",
    "api": "workflow-api",
    "database": "workflow-database",
}
# Carried by every link between the dashboards: the datasource, the scope and the time range.
KEEP = "${datasource:queryparam}&${job:queryparam}&${instance:queryparam}&${__url_time_range}"


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
