"""Every rule expression and every dashboard query returns series on a real Prometheus holding real data
from the demo stack, and every metric name they use is one that a real component exposes."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
import requests
import yaml

from grafana.queries import panel_queries
from tests.bundle.conftest import DemoStack
from tests.conftest import REPO_ROOT
from tests.harness import wait_until

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted((REPO_ROOT / "rules").glob("*.rules.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def _strip_modifiers(part: str) -> str:
    part = part.strip()
    pattern = r"^(on|ignoring)\s*\([^)]*\)\s*|^group_(left|right)\s*(\([^)]*\))?\s*|^bool\s+"
    while (match := re.match(pattern, part)) is not None:
        part = part[match.end() :].strip()
    return part


def operands(expr: str) -> list[str]:
    """The top-level operands of an alert's comparisons and set operators: the data it judges."""
    parts, depth, start, i, quote = [], 0, 0, 0, ""
    while i < len(expr):
        char = expr[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            word = re.match(r"\s(and|or|unless)\s", expr[i:])
            op = re.match(r"==|!=|>=|<=|>|<", expr[i:])
            if word or op:
                parts.append(expr[start:i])
                i += (word or op).end()  # type: ignore[union-attr]
                start = i
                continue
        i += 1
    parts.append(expr[start:])
    found = []
    for part in map(_strip_modifiers, parts):
        inner = re.fullmatch(r"absent\((.*)\)", part, re.S)
        part = inner.group(1) if inner else part
        if _wrapped(part) and len(parts) + len(operands(part[1:-1])) > 2:
            found += operands(part[1:-1])  # a parenthesised comparison: judge its operands
        elif re.search(r"[a-zA-Z_]", part):
            found.append(part)
    return found


def _wrapped(part: str) -> bool:
    """True when the whole expression is one parenthesised group."""
    if not part.startswith("("):
        return False
    depth = 0
    for index, char in enumerate(part):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index == len(part) - 1
    return False


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}|\"[^\"]*\"|\[[^\]]*\]", " ", expr)
    without_labels = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", without_labels)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_labels):
        following = without_labels[match.end() :].lstrip()
        if match.group() in KEYWORDS or following.startswith("("):
            continue
        if re.fullmatch(r"\d+[smhdwy]|e\d*|Inf|NaN", match.group()):
            continue
        names.add(match.group())
    return names


def assert_returns_series(stack: DemoStack, expr: str, what: str) -> None:
    """The expression returns series. A subquery (``[5m:30s]``) evaluates at steps aligned to its resolution, so
    a series younger than one step has no value there yet: it gets that long (plus an evaluation) to show."""
    result = stack.prometheus.query(expr)
    if not result and re.search(r"\[\w+:\w*\]", expr):
        with contextlib.suppress(TimeoutError):
            result = wait_until(lambda: stack.prometheus.query(expr), 45, f"{what}: series for {expr}")
    assert result, f"{what}: no series for {expr}"


@pytest.mark.parametrize("rule", [r for r in rules() if "record" in r], ids=lambda r: r["record"])
def test_recording_rule_returns_series(demo_stack: DemoStack, rule: dict[str, Any]) -> None:
    assert_returns_series(demo_stack, rule["expr"], rule["record"])
    assert demo_stack.prometheus.query(rule["record"]), f"{rule['record']} is not being recorded"


@pytest.mark.parametrize("rule", [r for r in rules() if "alert" in r], ids=lambda r: r["alert"])
def test_alert_expression_judges_real_series(demo_stack: DemoStack, rule: dict[str, Any]) -> None:
    parts = operands(rule["expr"])
    assert parts, rule["expr"]
    for part in parts:
        assert_returns_series(demo_stack, part, rule["alert"])


@pytest.mark.parametrize(("uid", "title", "expr"), panel_queries(), ids=lambda v: v if isinstance(v, str) else "")
def test_dashboard_panel_shows_data(demo_stack: DemoStack, uid: str, title: str, expr: str) -> None:
    assert_returns_series(demo_stack, expr, f"dashboard {uid}, panel {title!r}")


def test_every_metric_name_used_is_exposed(demo_stack: DemoStack) -> None:
    exposed = {"up"}  # Prometheus' own per-target series
    for url in (demo_stack.shop.url, demo_stack.exporter_url, demo_stack.mysqld_exporter.url):
        for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
            if line and not line.startswith("#"):
                exposed.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    exposed |= {r["record"] for r in rules() if "record" in r}
    used: dict[str, set[str]] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(rule.get("alert") or rule["record"])
    for uid, title, expr in panel_queries():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(f"{uid}/{title}")
    missing = {name: sorted(users) for name, users in used.items() if name not in exposed}
    assert not missing, f"metric names no component exposes: {missing}"


def test_operands_splits_alert_expressions() -> None:
    assert operands('a{x="1"} > 0.05 and b > 0.05') == ['a{x="1"}', "b"]
    assert operands("x > on (w, t) group_left () max by (w, t) (y)") == ["x", "max by (w, t) (y)"]
    assert operands('absent(up{job="j"})') == ['up{job="j"}']
    assert operands("r > (14.4 * 0.01) and s > (14.4 * 0.01)") == ["r", "s"]
    assert operands("(a > 1) unless (a <= 3 * b)") == ["a", "a", "3 * b"]
    assert metric_names('sum by (job) (rate(foo_total{a="b"}[5m])) / bar') == {"foo_total", "bar"}
