"""A step whose p95 is over (or close to) its ``max_duration``, with the layer that spends the time."""

from __future__ import annotations

from .._model import Finding, ReportData, Thresholds
from ._common import runbook, seconds


def evaluate(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """One finding per step at ``budget_near`` of its budget or more; over budget is a warning."""
    findings = []
    for s in data.steps:
        if not s.budget or s.p95 is None or s.p95 < thresholds.budget_near * s.budget:
            continue
        parts = {"the network or the client": s.network, "the application": s.app, "the database": s.db}
        known = {k: v for k, v in parts.items() if v is not None}
        if known:
            layer, spent = max(known.items(), key=lambda item: item[1])
            why = f"; of its mean {seconds(s.mean or 0)}, {seconds(spent)} is {layer}"
            action = {
                "the network or the client": "look at the time outside the server (DNS, TLS, connection reuse, "
                "payload size) in the run's waterfall",
                "the application": "profile the view behind this step; the server's app time dominates",
                "the database": "find the step's statements in the Database section and fix the slowest "
                "(index, fewer queries)",
            }[layer]
        else:
            why, action = "", "compare the step's waterfall with a healthy run's"
        over = s.p95 > s.budget
        findings.append(
            Finding(
                rule="step_over_budget",
                severity="warning" if over else "info",
                section="steps",
                title=f"Step {s.step} of {s.workflow} on {s.target}: p95 {seconds(s.p95)} "
                f"{'over' if over else 'close to'} its max_duration {seconds(s.budget)}{why}",
                action=action,
                runbook=runbook("workflows", "JourneyStepOverBudget"),
                impact=max(s.p95 - s.budget, 0.0),
                impact_text=f"{seconds(max(s.p95 - s.budget, 0.0))} over budget at p95",
            )
        )
    return findings
