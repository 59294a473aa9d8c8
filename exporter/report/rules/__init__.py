"""Suggestion rules: one module per rule, each ``evaluate(data, thresholds) -> list[Finding]`` reading only
the numbers the sections collected (``ReportData``). ``RULES`` is the registry; ``suggest`` runs them all and
ranks the findings by impact (the time or the failures fixing each would remove)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .._model import SEVERITIES, Finding, ReportData, Thresholds
from . import (
    checks_failing,
    journey_regression,
    n_plus_one,
    route_errors,
    slow_route,
    slow_statement,
    step_over_budget,
)

Rule = Callable[[ReportData, Thresholds], list[Finding]]

RULES: Mapping[str, Rule] = {
    "journey_regression": journey_regression.evaluate,
    "step_over_budget": step_over_budget.evaluate,
    "slow_route": slow_route.evaluate,
    "route_errors": route_errors.evaluate,
    "n_plus_one": n_plus_one.evaluate,
    "slow_statement": slow_statement.evaluate,
    "checks_failing": checks_failing.evaluate,
}

RUNBOOKS = "https://github.com/workflow-exporter/workflow-exporter/blob/main/docs/runbooks/"


def suggest(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """Every rule's findings, the most severe and then the most impactful first."""
    findings = [finding for rule in RULES.values() for finding in rule(data, thresholds)]
    return sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), -f.impact))
