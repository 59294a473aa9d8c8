"""Dashboards are tested code: regenerating them changes nothing, they pass the dashboard-linter rules we care
about (ported to Python: Grafana's Go linter cannot be installed here), every query parses in a real
Prometheus, and the provisioning files give Grafana the datasource uid the dashboards select."""

from __future__ import annotations

import copy
import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from grafana import generate
from grafana.boards import DASHBOARDS
from grafana.queries import dashboards, panel_queries, panels, raw_queries, substitute
from tests.conftest import REPO_ROOT
from tests.harness import Prometheus, start_prometheus

GRAFANA = REPO_ROOT / "grafana"
DASHBOARDS_DIR = GRAFANA / "dashboards"
GENERATOR = GRAFANA / "generate.py"
BOARDS_DIR = GRAFANA / "boards"  # one module per dashboard
MAX_MODULE_LINES = 400
LINT_FILE = GRAFANA / ".lint"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"

UIDS = {
    "workflow-overview",
    "workflow-detail",
    "workflow-api",
    "workflow-database",
    "workflow-frontend",
    "workflow-web",
}
TAG = "workflow-exporter"
MIN_SCHEMA_VERSION = 39  # Grafana 10.4; the pinned SDK emits 41 (Grafana 11.6, the compose image)
DEPRECATED_PANELS = {"graph", "singlestat", "table-old"}
DATASOURCE_VAR = "${datasource}"
RATE_FUNCTIONS = {"rate", "irate", "increase"}
# Cumulative series: only meaningful through rate/irate/increase.
CUMULATIVE_SUFFIXES = ("_total", "_bucket", "_count", "_sum")
# Counters that exist only after their first event: a sum over them is empty ("No data") on a healthy demo.
FIRST_EVENT_COUNTERS = {
    "django_db_repeated_queries_total",
    "django_db_slow_queries_total",
    "django_request_errors_total",
    "django_integration_internal_errors_total",
    "workflow_step_failures_total",
}


def committed() -> dict[str, dict[str, Any]]:
    return {dashboard["uid"]: dashboard for dashboard in dashboards()}


# --- (1) generated files are up to date ----------------------------------------------------------------------


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )


def test_regenerating_changes_nothing() -> None:
    result = run_generator("--check")
    assert result.returncode == 0, f"dashboards are stale, regenerate them:\n{result.stdout}{result.stderr}"
    assert {path.stem for path in DASHBOARDS_DIR.glob("*.json")} == UIDS


def test_check_mode_names_the_files_that_would_change(tmp_path: Path) -> None:
    out = tmp_path / "dashboards"
    shutil.copytree(DASHBOARDS_DIR, out)
    (out / "workflow-api.json").write_text("{}\n")
    (out / "old.json").write_text("{}\n")
    (out / "workflow-detail.json").unlink()

    result = run_generator("--check", "--output-dir", str(out))

    assert result.returncode == 1
    named = set(re.findall(r"would change: \S+/([\w.-]+)", result.stderr))
    assert named == {"workflow-api.json", "old.json", "workflow-detail.json"}, result.stderr
    assert (out / "workflow-api.json").read_text() == "{}\n", "--check must not write"

    assert run_generator("--output-dir", str(out)).returncode == 0
    assert run_generator("--check", "--output-dir", str(out)).returncode == 0
    assert sorted(p.name for p in out.glob("*.json")) == sorted(p.name for p in DASHBOARDS_DIR.glob("*.json"))


def test_committed_json_is_canonical() -> None:
    """Pretty-printed, sorted keys, trailing newline: what the generator writes and diffs stay readable."""
    for path in DASHBOARDS_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n", path.name


def test_every_dashboard_module_is_registered_once() -> None:
    """One module per dashboard in grafana/boards/ (``UID`` and ``build()``), each registered once in the
    mapping the generator writes: a module left out of it, or registered twice, fails here."""
    modules = [
        importlib.import_module(f"grafana.boards.{path.stem}")
        for path in sorted(BOARDS_DIR.glob("*.py"))
        if not path.name.startswith("_")
    ]
    assert generate.DASHBOARDS is DASHBOARDS, "generate.py must write the one registry in grafana.boards"
    assert sorted(module.UID for module in modules) == sorted(UIDS), "one module per dashboard"
    assert {module.UID: module.build for module in modules} == DASHBOARDS
    for module in modules:
        assert module.build.__module__ == module.__name__, f"{module.__name__} registers another module's build"
        assert module.__doc__ and len(module.__doc__) > 80, f"{module.__name__}: say what the dashboard is for"
        assert module.build().uid == module.UID
    assert sorted(generate.rendered()) == sorted(f"{uid}.json" for uid in UIDS)


def test_no_grafana_module_is_too_long() -> None:
    """The generator stays split by dashboard: no module under grafana/ grows past MAX_MODULE_LINES."""
    too_long = {
        str(path.relative_to(REPO_ROOT)): count
        for path in sorted(GRAFANA.rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"split these modules (more than {MAX_MODULE_LINES} lines): {too_long}"


# --- a small PromQL scanner for the lint rules ---------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    |(?P<range>\[[^\]]*\])
    |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<ident>[A-Za-z_:][\w:]*)
    |(?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}])""",
    re.VERBOSE,
)
AGGREGATORS = {
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "topk",
    "bottomk",
    "quantile",
    "stddev",
    "stdvar",
    "group",
    "count_values",
}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = LABEL_LIST_KEYWORDS | {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}


@dataclass
class Selector:
    metric: str
    matchers: list[tuple[str, str, str]] = field(default_factory=list)
    range: str | None = None
    function: str | None = None  # innermost function the selector is an argument of

    def has(self, label: str, op: str, value: str) -> bool:
        return (label, op, value) in self.matchers


@dataclass
class Scan:
    selectors: list[Selector]
    operators: list[str]  # binary set operators and function names, in order


def scan(expr: str) -> Scan:
    """Vector selectors of a PromQL expression with their matchers, range and enclosing function."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if not match:
            raise ValueError(f"cannot scan PromQL at {expr[position : position + 20]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group()))
    selectors: list[Selector] = []
    operators: list[str] = []
    stack: list[str | None] = []
    pending: str | None = None
    index = 0

    def skip_label_list(start: int) -> int:
        if start < len(tokens) and tokens[start][1] == "(":
            while tokens[start][1] != ")":
                start += 1
            return start + 1
        return start

    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if kind == "ident" and text in LABEL_LIST_KEYWORDS:
            index = skip_label_list(index + 1)
            continue
        if kind == "ident" and text in KEYWORDS:
            operators.append(text)
            index += 1
            continue
        if kind == "ident" and (following == "(" or text in AGGREGATORS):
            pending = text
            operators.append(text)
            index += 1
            continue
        if text == "(":
            stack.append(pending)
            pending = None
            index += 1
            continue
        if text == ")":
            stack.pop()
            index += 1
            continue
        if kind == "ident" or text == "{":
            selector = Selector(metric=text if kind == "ident" else "")
            index += 1 if kind == "ident" else 0
            if index < len(tokens) and tokens[index][1] == "{":
                index += 1
                while tokens[index][1] != "}":
                    if tokens[index][1] == ",":
                        index += 1
                        continue
                    label, op, value = (tokens[index + k][1] for k in range(3))
                    selector.matchers.append((label, op, value[1:-1]))
                    index += 3
                index += 1
            if index < len(tokens) and tokens[index][0] == "range":
                selector.range = tokens[index][1][1:-1]
                index += 1
            enclosing = [name for name in stack if name is not None]
            selector.function = enclosing[-1] if enclosing else None
            selectors.append(selector)
            continue
        index += 1
    return Scan(selectors, operators)


def test_scanner_finds_selectors_matchers_ranges_and_functions() -> None:
    result = scan(
        'histogram_quantile(0.95, sum by (route, le) (rate(x_bucket{job=~"$job", a="b,c"}[$__rate_interval])))\n'
        '/ clamp_min(sum(y_total{instance=~"$instance"}), 1e-9) or label_replace(vector(0), "r", "none", "", "")'
    )
    assert [(s.metric, s.range, s.function) for s in result.selectors] == [
        ("x_bucket", "$__rate_interval", "rate"),
        ("y_total", None, "sum"),
    ]
    assert result.selectors[0].matchers == [("job", "=~", "$job"), ("a", "=", "b,c")]
    assert "or" in result.operators and "vector" in result.operators


# --- (2) lint rules, table-style -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    dashboard: str
    panel: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel!r}: [{self.rule}] {self.message}"


def load_exclusions() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(LINT_FILE.read_text())
    exclusions: dict[str, dict[str, Any]] = data["exclusions"]
    return exclusions


def excluded(rule: str, dashboard: dict[str, Any], panel: dict[str, Any]) -> bool:
    entries = load_exclusions().get(rule, {}).get("entries", [])
    return any(e["dashboard"] == dashboard["title"] and e["panel"] == panel.get("title") for e in entries)


def variables(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = dashboard.get("templating", {}).get("list", [])
    return found


def targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any], Scan]]:
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target, scan(target.get("expr", ""))


Rule = Callable[[dict[str, Any]], Iterator[tuple[str, str]]]  # yields (panel title or "-", message)


def rule_template_datasource(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    datasource_vars = [v for v in variables(dashboard) if v.get("type") == "datasource"]
    if len(datasource_vars) != 1:
        yield "-", f"{len(datasource_vars)} datasource variables, want exactly one"
    for var in datasource_vars:
        if var.get("name") != "datasource" or var.get("query") != "prometheus":
            yield "-", f"datasource variable {var.get('name')!r} with query {var.get('query')!r}"


def _query_variable_rule(name: str) -> Rule:
    def rule(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
        found = [v for v in variables(dashboard) if v.get("name") == name]
        if len(found) != 1 or found[0].get("type") != "query":
            yield "-", f"want one query variable {name!r}"
            return
        var = found[0]
        expected = {"multi": True, "includeAll": True, "allValue": ".+", "refresh": 2}
        for key, value in expected.items():
            if var.get(key) != value:
                yield "-", f"variable {name!r}: {key} is {var.get(key)!r}, want {value!r}"
        if var.get("datasource", {}).get("uid") != DATASOURCE_VAR:
            yield "-", f"variable {name!r} does not query {DATASOURCE_VAR}"

    return rule


def rule_panel_datasource(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard):
        if panel.get("datasource", {}).get("uid") != DATASOURCE_VAR:
            yield panel.get("title", "?"), f"panel datasource is {panel.get('datasource')!r}"
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("uid") != DATASOURCE_VAR:
                yield panel.get("title", "?"), f"target {target.get('refId')} datasource is {target.get('datasource')}"


def rule_rate_interval(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel, target, result in targets(dashboard):
        allowed = {"$__rate_interval"}
        if excluded("target-rate-interval-rule", dashboard, panel):
            allowed.add("$__range")
        for selector in result.selectors:
            if selector.function in RATE_FUNCTIONS and selector.range not in allowed:
                yield panel["title"], f"{selector.function}({selector.metric}[{selector.range}]) in {target['refId']}"


def _matcher_rule(label: str) -> Rule:
    def rule(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
        for panel, target, result in targets(dashboard):
            for selector in result.selectors:
                if not selector.has(label, "=~", f"${label}"):
                    yield panel["title"], f'{selector.metric} in {target["refId"]} lacks {label}=~"${label}"'

    return rule


def rule_counter_aggregation(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel, target, result in targets(dashboard):
        for selector in result.selectors:
            if selector.metric.endswith(CUMULATIVE_SUFFIXES) and selector.function not in RATE_FUNCTIONS:
                yield panel["title"], f"counter {selector.metric} outside rate/irate/increase in {target['refId']}"


def rule_no_data_guard(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel, _target, result in targets(dashboard):
        late = {s.metric for s in result.selectors} & FIRST_EVENT_COUNTERS
        if late and not ("or" in result.operators and "vector" in result.operators):
            yield panel["title"], f"{sorted(late)} only exist after a first event: end with `or vector(0)`"


def rule_title_description(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard):
        if not panel.get("title"):
            yield "?", f"panel {panel.get('id')} has no title"
        if len(panel.get("description", "")) < 40:
            yield panel.get("title", "?"), "needs a description that says what to do"


def rule_units(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard):
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            yield panel.get("title", "?"), "no unit in fieldConfig.defaults.unit"


def rule_no_targets(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(dashboard):
        if not [t for t in panel.get("targets", []) if t.get("expr")]:
            yield panel.get("title", "?"), "no target"


def every_panel(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Rows and panels, those inside collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def rule_deprecated_panels(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in every_panel(dashboard):
        if panel.get("type") in DEPRECATED_PANELS:
            yield panel.get("title", "?"), f"deprecated panel type {panel['type']!r}"


def rule_panel_ids(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    ids = [panel.get("id") for panel in every_panel(dashboard)]
    for panel in every_panel(dashboard):
        if not panel.get("id") or ids.count(panel["id"]) > 1:
            yield panel.get("title", "?"), f"panel id {panel.get('id')!r} missing or not unique"


def rule_uneditable(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if dashboard.get("editable") is not False:
        yield "-", "editable must be false (the dashboards are code)"


def rule_schema_version(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if dashboard.get("schemaVersion", 0) < MIN_SCHEMA_VERSION:
        yield "-", f"schemaVersion {dashboard.get('schemaVersion')} < {MIN_SCHEMA_VERSION}"


def rule_tags(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if TAG not in dashboard.get("tags", []):
        yield "-", f"tags {dashboard.get('tags')} lack {TAG!r}"


def rule_uid(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if dashboard.get("uid") not in UIDS or not dashboard.get("title"):
        yield "-", f"uid {dashboard.get('uid')!r} is not one of the stable uids {sorted(UIDS)}, or no title"


RULES: dict[str, Rule] = {
    "template-datasource-rule": rule_template_datasource,
    "template-job-rule": _query_variable_rule("job"),
    "template-instance-rule": _query_variable_rule("instance"),
    "panel-datasource-rule": rule_panel_datasource,
    "target-rate-interval-rule": rule_rate_interval,
    "target-job-rule": _matcher_rule("job"),
    "target-instance-rule": _matcher_rule("instance"),
    "target-counter-agg-rule": rule_counter_aggregation,
    "target-no-data-guard-rule": rule_no_data_guard,
    "panel-title-description-rule": rule_title_description,
    "panel-units-rule": rule_units,
    "panel-no-targets-rule": rule_no_targets,
    "panel-deprecated-type-rule": rule_deprecated_panels,
    "panel-id-rule": rule_panel_ids,
    "uneditable-dashboard": rule_uneditable,
    "dashboard-schema-version-rule": rule_schema_version,
    "dashboard-tags-rule": rule_tags,
    "dashboard-uid-rule": rule_uid,
}


def lint(dashboard: dict[str, Any], rules: dict[str, Rule] = RULES) -> list[Violation]:
    return [
        Violation(dashboard.get("uid", "?"), panel, name, message)
        for name, rule in rules.items()
        for panel, message in rule(dashboard)
    ]


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("uid", sorted(UIDS))
def test_lint(uid: str, rule: str) -> None:
    dashboard = committed()[uid]
    violations = lint(dashboard, {rule: RULES[rule]})
    assert not violations, "\n".join(map(str, violations))


def test_uids_are_unique_and_match_file_names() -> None:
    found = {path.stem: json.loads(path.read_text())["uid"] for path in DASHBOARDS_DIR.glob("*.json")}
    assert found == {uid: uid for uid in UIDS}


def _set_expr(panel_title: str, change: Callable[[str], str]) -> Callable[[dict[str, Any]], None]:
    def mutate(dashboard: dict[str, Any]) -> None:
        panel = next(p for p in panels(dashboard) if p["title"] == panel_title)
        panel["targets"][0]["expr"] = change(panel["targets"][0]["expr"])

    return mutate


def _set_panel(panel_title: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(dashboard: dict[str, Any]) -> None:
        change(next(p for p in panels(dashboard) if p["title"] == panel_title))

    return mutate


def _set_variable(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(dashboard: dict[str, Any]) -> None:
        next(v for v in variables(dashboard) if v["name"] == name)[key] = value

    return mutate


API_RATE = "Request rate by route"
ERRORS = "Errors by class"
BROKEN: list[tuple[str, str, Callable[[dict[str, Any]], None]]] = [
    ("target-rate-interval-rule", API_RATE, _set_expr(API_RATE, lambda e: e.replace("$__rate_interval", "5m"))),
    ("target-rate-interval-rule", API_RATE, _set_expr(API_RATE, lambda e: e.replace("$__rate_interval", "$__range"))),
    ("target-job-rule", API_RATE, _set_expr(API_RATE, lambda e: e.replace('job=~"$job", ', ""))),
    ("target-instance-rule", API_RATE, _set_expr(API_RATE, lambda e: e.replace('instance=~"$instance"', 'a="b"'))),
    (
        "target-counter-agg-rule",
        ERRORS,
        _set_expr(
            ERRORS, lambda e: 'sum(django_request_errors_total{job=~"$job", instance=~"$instance"}) or vector(0)'
        ),
    ),
    ("target-no-data-guard-rule", ERRORS, _set_expr(ERRORS, lambda e: e.split("\nor")[0])),
    (
        "panel-datasource-rule",
        API_RATE,
        _set_panel(API_RATE, lambda p: p["targets"][0].update(datasource={"type": "prometheus", "uid": "prometheus"})),
    ),
    ("panel-units-rule", API_RATE, _set_panel(API_RATE, lambda p: p["fieldConfig"]["defaults"].pop("unit"))),
    ("panel-title-description-rule", API_RATE, _set_panel(API_RATE, lambda p: p.update(description=""))),
    ("panel-no-targets-rule", API_RATE, _set_panel(API_RATE, lambda p: p.update(targets=[]))),
    ("panel-deprecated-type-rule", API_RATE, _set_panel(API_RATE, lambda p: p.update(type="graph"))),
    ("panel-id-rule", API_RATE, _set_panel(API_RATE, lambda p: p.update(id=1))),
    ("template-job-rule", "-", _set_variable("job", "allValue", "")),
    ("template-instance-rule", "-", _set_variable("instance", "refresh", 1)),
    ("template-instance-rule", "-", _set_variable("instance", "datasource", {"uid": "prometheus"})),
    (
        "template-datasource-rule",
        "-",
        lambda d: d["templating"]["list"].append({"name": "ds2", "type": "datasource", "query": "prometheus"}),
    ),
    ("uneditable-dashboard", "-", lambda d: d.update(editable=True)),
    ("dashboard-schema-version-rule", "-", lambda d: d.update(schemaVersion=16)),
    ("dashboard-tags-rule", "-", lambda d: d.update(tags=[])),
    ("dashboard-uid-rule", "-", lambda d: d.update(uid="random-uid")),
]


@pytest.mark.parametrize(("rule", "panel", "mutate"), BROKEN, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(BROKEN)])
def test_lint_catches_a_broken_dashboard(rule: str, panel: str, mutate: Callable[[dict[str, Any]], None]) -> None:
    dashboard = copy.deepcopy(committed()["workflow-api"])
    assert not lint(dashboard, {rule: RULES[rule]})
    mutate(dashboard)
    violations = lint(dashboard, {rule: RULES[rule]})
    assert violations, f"{rule} did not catch the change"
    assert (dashboard["uid"], panel, rule) in {(v.dashboard, v.panel, v.rule) for v in violations}, violations
    assert all(str(v).startswith(f"{dashboard['uid']} / ") and f"[{rule}]" in str(v) for v in violations)


def test_lint_exclusions_have_reasons_and_match_real_panels() -> None:
    titles = {(d["title"], p["title"]) for d in committed().values() for p in panels(d)}
    exclusions = load_exclusions()
    assert set(exclusions) <= set(RULES), f"unknown rules in {LINT_FILE}: {set(exclusions) - set(RULES)}"
    for rule, exclusion in exclusions.items():
        assert exclusion.get("reason"), f"{rule}: no reason"
        for entry in exclusion["entries"]:
            assert entry.get("reason"), f"{rule}: entry {entry} has no reason"
            assert (entry["dashboard"], entry["panel"]) in titles, f"{rule}: stale entry {entry}"


def test_range_panels_use_range_and_only_there() -> None:
    """$__range is for panels judged over the whole range; each excluded panel really uses it."""
    for dashboard in committed().values():
        for panel in panels(dashboard):
            uses_range = any("$__range" in t["expr"] for t in panel["targets"])
            assert uses_range == excluded("target-rate-interval-rule", dashboard, panel), panel["title"]


# --- content the issue asks for ------------------------------------------------------------------------------


def exprs(uid: str) -> dict[str, list[dict[str, Any]]]:
    return {panel["title"]: panel["targets"] for panel in panels(committed()[uid])}


def metrics_of(uid: str) -> set[str]:
    return {s.metric for targets in exprs(uid).values() for t in targets for s in scan(t["expr"]).selectors}


def test_overview_covers_journeys_api_and_database() -> None:
    used = metrics_of("workflow-overview")
    assert {
        "workflow_last_run_success",
        "workflow_runs_total",
        "workflow_run_duration_seconds_bucket",
        "django_request_duration_seconds_count",
        "django_request_duration_seconds_bucket",
        "mysql_up",
        "mysql_global_status_threads_connected",
        "mysql_global_status_slow_queries",
    } <= used
    budget = exprs("workflow-overview")["SLO error budget remaining (99 % objective)"][0]["expr"]
    assert "[$__range]" in budget and "/ 0.01" in budget and 'result="failure"' in budget


def test_detail_shows_budget_server_time_failures_runs_and_exemplars() -> None:
    detail = exprs("workflow-detail")
    budget = [t["expr"] for t in detail["Step latency p95 vs budget"]]
    assert any("workflow_step_duration_seconds_bucket" in e for e in budget)
    assert any("workflow_step_latency_budget_seconds" in e for e in budget)
    assert "component" in detail["Server time per step: app vs database"][0]["expr"]
    assert "reason" in detail["Step failures by reason"][0]["expr"]
    assert len(detail["Runs"]) >= 2
    for title in ("Run duration", "Step duration", "Step latency p95 vs budget", "Step failures by reason"):
        assert any(t.get("exemplar") is True for t in detail[title]), f"{title}: no exemplar query"
    heatmaps = [p for p in panels(committed()["workflow-detail"]) if p["type"] == "heatmap"]
    assert heatmaps and all(t["exemplar"] and t["format"] == "heatmap" for p in heatmaps for t in p["targets"])


def test_api_and_database_use_the_documented_families() -> None:
    assert {
        "django_request_duration_seconds_bucket",
        "django_request_db_queries_bucket",
        "django_db_repeated_queries_total",
        "django_db_slow_queries_total",
        "django_request_errors_total",
        "django_integration_internal_errors_total",
    } <= metrics_of("workflow-api")
    api = exprs("workflow-api")["Latency p50 / p95 / p99 by route"]
    assert [re.findall(r"^histogram_quantile\(([\d.]+),", t["expr"]) for t in api] == [["0.5"], ["0.95"], ["0.99"]]
    assert {
        "mysql_up",
        "mysql_global_status_threads_connected",
        "mysql_global_variables_max_connections",
        "mysql_global_status_questions",
        "mysql_global_status_slow_queries",
        "mysql_global_status_commands_total",
        "mysql_info_schema_processlist_threads",
        "mysql_perf_schema_events_statements_total",
        "mysql_perf_schema_events_statements_seconds_total",
        "mysql_perf_schema_events_statements_errors_total",
        "django_request_db_duration_seconds_bucket",
        "django_request_db_queries_sum",
    } <= metrics_of("workflow-database")
    digests = [t["expr"] for ts in exprs("workflow-database").values() for t in ts if "digest_text" in t["expr"]]
    assert digests and all(e.startswith("topk(") for e in digests)


def test_metric_names_are_documented_or_from_mysqld_exporter() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", (REPO_ROOT / "docs" / "metrics.md").read_text()))
    for uid in UIDS:
        for metric in metrics_of(uid):
            base = re.sub(r"_(bucket|count|sum)$", "", metric)
            assert base in documented or metric.startswith("mysql_"), f"{uid}: {metric} is not in docs/metrics.md"


def test_links_between_dashboards_resolve() -> None:
    """Data links and dashboard links open shipped dashboards with variables those dashboards have."""
    boards = committed()
    overview_links = [
        link["url"]
        for panel in panels(boards["workflow-overview"])
        for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    ]
    assert any(
        url.startswith("/d/workflow-detail/") and "var-workflow=${__field.labels.workflow}" in url
        for url in overview_links
    )
    for dashboard in boards.values():
        assert any(link["type"] == "dashboards" and TAG in link["tags"] for link in dashboard["links"])
        for panel in panels(dashboard):
            for link in panel.get("fieldConfig", {}).get("defaults", {}).get("links", []):
                match = re.match(r"/d/([\w-]+)/", link["url"])
                if not match:
                    assert link["url"].startswith("http://localhost:9716/"), link["url"]
                    continue
                target = boards[match.group(1)]
                names = {v["name"] for v in variables(target)}
                for var in re.findall(r"var-(\w+)=", link["url"]):
                    assert var in names, f"{dashboard['uid']} / {panel['title']}: {target['uid']} has no ${var}"


# --- (3) every query parses in a real Prometheus --------------------------------------------------------------


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    yield server
    server.stop()


def variable_selectors() -> list[tuple[str, str, str]]:
    """(uid, variable, selector) of every label_values() variable query."""
    found = []
    for dashboard in committed().values():
        for var in variables(dashboard):
            if var.get("type") == "query":
                match = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"])
                assert match, f"{dashboard['uid']}: variable {var['name']} query {var['query']!r}"
                found.append((dashboard["uid"], var["name"], match.group(1)))
    return found


def test_every_query_parses_in_prometheus(prometheus: Prometheus) -> None:
    queries = panel_queries(range_="1h")
    queries += [(uid, f"variable {name}", substitute(sel, range_="1h")) for uid, name, sel in variable_selectors()]
    assert len(queries) > 40
    failures = []
    for uid, title, expr in queries:
        try:
            prometheus.api("query", query=expr)
        except AssertionError as error:
            failures.append(f"{uid} / {title!r}: {error}")
    assert not failures, "\n".join(failures)


def test_prometheus_rejects_a_broken_query(prometheus: Prometheus) -> None:
    """The check above can fail: a syntax error comes back as an error, not as an empty result."""
    with pytest.raises(AssertionError, match="parse error"):
        prometheus.api("query", query='sum(rate(workflow_runs_total{job=~".+"}[1m])')


def test_panel_queries_cover_every_target_with_variables_substituted() -> None:
    raw = raw_queries()
    substituted = panel_queries()
    assert [(u, t) for u, t, _ in raw] == [(u, t) for u, t, _ in substituted]
    assert {uid for uid, _, _ in substituted} == UIDS
    for (_, title, before), (_, _, after) in zip(raw, substituted, strict=True):
        assert "$" not in after, f"{title}: {after}"
        if "$__rate_interval" in before:
            assert "[1m]" in after
        if "$__range" in before:
            assert "[5m]" in after
        if '=~"$job"' in before:
            assert 'job=~".+"' in after


def test_substitute() -> None:
    assert substitute('x{a=~"${route:regex}", b=~"$job"}[$__interval]') == 'x{a=~".+", b=~".+"}[15s]'
    assert substitute("rate(x[${__rate_interval}])", rate_interval="2m") == "rate(x[2m])"
    with pytest.raises(ValueError, match="__unknown"):
        substitute("x[$__unknown]")


# --- (4) provisioning ----------------------------------------------------------------------------------------


def grafana_value(value: str) -> str:
    """A provisioning value as Grafana reads it: `$$` is a literal `$`; any other `$` would be an env lookup."""
    unescaped = value.replace("$$", "\0")
    assert "$" not in unescaped, f"{value!r}: Grafana would expand this as an environment variable"
    return unescaped.replace("\0", "$")


def test_datasources_provisioning() -> None:
    config = yaml.safe_load(DATASOURCES.read_text())
    assert config["apiVersion"] == 1
    by_uid = {ds["uid"]: ds for ds in config["datasources"]}
    assert set(by_uid) == {"prometheus", "alertmanager"}

    prom = by_uid["prometheus"]
    assert (prom["type"], prom["url"], prom["access"]) == ("prometheus", "http://prometheus:9090", "proxy")
    assert prom["jsonData"]["httpMethod"] == "POST"
    assert prom["jsonData"]["timeInterval"] == "15s"
    destinations = prom["jsonData"]["exemplarTraceIdDestinations"]
    assert [(d["name"], grafana_value(d["url"]), d["urlDisplayLabel"]) for d in destinations] == [
        ("correlation_id", "http://localhost:9716/runs/${__value.raw}", "Run page"),
        ("correlation_id", "http://localhost:9716/trace/${__value.raw}", "Trace"),
    ]

    alertmanager = by_uid["alertmanager"]
    assert (alertmanager["type"], alertmanager["url"]) == ("alertmanager", "http://alertmanager:9093")
    assert alertmanager["jsonData"]["implementation"] == "prometheus"
    assert sum(bool(ds.get("isDefault")) for ds in config["datasources"]) == 1


def test_dashboards_select_the_provisioned_prometheus() -> None:
    provisioned = {ds["uid"]: ds["type"] for ds in yaml.safe_load(DATASOURCES.read_text())["datasources"]}
    for dashboard in committed().values():
        (var,) = [v for v in variables(dashboard) if v["type"] == "datasource"]
        assert var["current"]["value"] in provisioned, dashboard["uid"]
        assert provisioned[var["current"]["value"]] == var["query"] == "prometheus"


def test_dashboard_provider_provisioning() -> None:
    config = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "workflow-exporter"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["disableDeletion"] is True
    assert provider["allowUiUpdates"] is False
