"""Rules are tested code: promtool checks and unit tests, a firing and a quiet case for every alert, the
style conventions of monitoring mixins, and runbooks and dashboards that exist for every link."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.harness import require_binary

RULES = REPO_ROOT / "rules"
RULE_FILES = sorted(RULES.glob("*.rules.yml"))
TEST_FILES = sorted((RULES / "tests").glob("*_test.yml"))
RUNBOOK_BASE = "https://github.com/workflow-exporter/workflow-exporter/blob/main/docs/runbooks/"
SEVERITIES = {"critical", "warning", "info"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alerting_rules() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, rule) for path in RULE_FILES for group in load(path)["groups"] for rule in group["rules"]
            if "alert" in rule]  # fmt: skip


def recording_rules() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, rule) for path in RULE_FILES for group in load(path)["groups"] for rule in group["rules"]
            if "record" in rule]  # fmt: skip


def test_one_rules_file_per_concern() -> None:
    assert [p.name for p in RULE_FILES] == [
        "api.rules.yml", "browser.rules.yml", "database.rules.yml", "exporter.rules.yml", "frontend.rules.yml",
        "mysql.rules.yml", "workflows.rules.yml",
    ]  # fmt: skip
    assert {p.name.removesuffix("_test.yml") for p in TEST_FILES} == {
        p.name.removesuffix(".rules.yml") for p in RULE_FILES
    }


def test_promtool_check_rules_with_duplicate_lint() -> None:
    promtool = require_binary("promtool")
    command = [promtool, "check", "rules", "--lint=duplicate-rules", "--lint-fatal", *map(str, RULE_FILES)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "test", "rules", *(p.name for p in TEST_FILES)],
                            capture_output=True, text=True, cwd=RULES / "tests")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES)


def _cases() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """alertname -> {"firing": [exp_alerts entries...], "quiet": [eval cases with no alerts]}."""
    cases: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in TEST_FILES:
        for test in load(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                entry = cases.setdefault(case["alertname"], {"firing": [], "quiet": []})
                if case.get("exp_alerts"):
                    entry["firing"] += case["exp_alerts"]
                else:
                    entry["quiet"].append(case)
    return cases


@pytest.mark.parametrize(("path", "rule"), alerting_rules(), ids=lambda v: v["alert"] if isinstance(v, dict) else "")
def test_every_alert_has_a_firing_and_a_quiet_case(path: Path, rule: dict[str, Any]) -> None:
    cases = _cases().get(rule["alert"], {"firing": [], "quiet": []})
    assert cases["quiet"], f"{rule['alert']} has no non-firing test case"
    matching = [
        alert for alert in cases["firing"]
        if all(alert["exp_labels"].get(k) == v for k, v in rule["labels"].items())
    ]  # fmt: skip
    assert matching, f"{rule['alert']} {rule['labels']} has no firing test case"
    for alert in matching:
        assert set(alert["exp_annotations"]) == {"summary", "description", "runbook_url", "dashboard_url"}


@pytest.mark.parametrize(("path", "rule"), alerting_rules(), ids=lambda v: v["alert"] if isinstance(v, dict) else "")
def test_alert_style(path: Path, rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert re.fullmatch(r"Journey([A-Z][a-z0-9]*|SLO|MySQL|API)+", name), f"{name}: CamelCase with the Journey prefix"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url", "dashboard_url"}
    summary = annotations["summary"]
    assert "{{" not in summary and summary[0].isupper() and summary.endswith("."), f"{name}: static sentence"
    assert "{{" in annotations["description"], f"{name}: the description must say where (templated labels)"
    assert "for" in rule or name.endswith("Absent"), f"{name}: no `for:`, it would page on one bad sample"


@pytest.mark.parametrize(("path", "rule"), alerting_rules(), ids=lambda v: v["alert"] if isinstance(v, dict) else "")
def test_runbook_heading_exists(path: Path, rule: dict[str, Any]) -> None:
    url = rule["annotations"]["runbook_url"]
    page, anchor = url.removeprefix(RUNBOOK_BASE).split("#")
    assert url.startswith(RUNBOOK_BASE) and page == path.name.replace(".rules.yml", ".md")
    runbook = (REPO_ROOT / "docs" / "runbooks" / page).read_text()
    headings = {line[3:].strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    assert anchor == rule["alert"].lower() and anchor in headings
    section = runbook.split(f"## {rule['alert']}\n", 1)[1].split("\n## ", 1)[0]
    for part in ("**Meaning.**", "**Impact.**", "**Diagnose.**", "**Fix.**"):
        assert part in section, f"runbook of {rule['alert']} lacks {part}"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_the_runbooks_index_lists_every_alert_of_its_page(path: Path) -> None:
    """docs/runbooks/README.md's row for each rules file names exactly its alerts, and the tools paragraph every
    shipped dashboard: the index a responder starts from."""
    index = (REPO_ROOT / "docs" / "runbooks" / "README.md").read_text()
    page = path.name.replace(".rules.yml", ".md")
    (row,) = [line for line in index.splitlines() if line.startswith(f"| [{page}]({page}) |")]
    listed = set(re.findall(r"Journey[A-Za-z]+", row))
    assert listed == {rule["alert"] for where, rule in alerting_rules() if where == path}
    for board in (REPO_ROOT / "grafana" / "dashboards").glob("*.json"):
        assert f"`{board.stem}`" in index, board.stem


@pytest.mark.parametrize(("path", "rule"), alerting_rules(), ids=lambda v: v["alert"] if isinstance(v, dict) else "")
def test_dashboard_links_point_at_shipped_dashboards(path: Path, rule: dict[str, Any]) -> None:
    uid = re.fullmatch(r"http://localhost:3000/d/([a-z\-]+)(\?.*)?", rule["annotations"]["dashboard_url"])
    assert uid, rule["annotations"]["dashboard_url"]
    uids = {yaml.safe_load(p.read_text())["uid"] for p in (REPO_ROOT / "grafana" / "dashboards").glob("*.json")}
    assert uid.group(1) in uids


@pytest.mark.parametrize(("path", "rule"), recording_rules(), ids=lambda v: v["record"] if isinstance(v, dict) else "")
def test_recording_rule_names(path: Path, rule: dict[str, Any]) -> None:
    level, metric, operations = rule["record"].split(":")
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", level) and re.fullmatch(r"[a-z0-9_]+", metric)
    assert re.fullmatch(r"[a-z0-9_]+", operations)
    assert not metric.endswith("_total"), "drop _total after rate()"


def _rules_with_their_group() -> list[tuple[str, int, dict[str, Any]]]:
    return [(f"{path.name}:{group['name']}", index, rule) for path in RULE_FILES for group in load(path)["groups"]
            for index, rule in enumerate(group["rules"])]  # fmt: skip


@pytest.mark.parametrize(
    ("group", "index", "rule"), _rules_with_their_group(),
    ids=lambda v: (v.get("alert") or v.get("record")) if isinstance(v, dict) else "",
)  # fmt: skip
def test_a_rule_reads_records_evaluated_before_it_in_its_own_group(
    group: str, index: int, rule: dict[str, Any]
) -> None:
    """Prometheus evaluates a group's rules in order at one timestamp and groups apart from each other (promtool
    in no fixed order): a record read from another group, or from further down, is up to one interval old."""
    defined = {(g, i): r["record"] for g, i, r in _rules_with_their_group() if "record" in r}
    text = rule["expr"] + " " + " ".join(rule.get("annotations", {}).values())
    for (where, at), record in defined.items():
        if re.search(re.escape(record) + r"(?![\w:])", text):
            assert (where, at < index) == (group, True), f"{record} is defined in {where} (rule {at}), read here"
