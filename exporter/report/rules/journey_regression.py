"""A journey whose success ratio dropped against the previous period, or that burns its error budget faster
than the SLO allows."""

from __future__ import annotations

from .._model import Finding, ReportData, Thresholds
from ._common import runbook


def evaluate(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """One finding per journey that got worse by ``success_drop`` or more, or burns its budget above 1x."""
    findings = []
    for j in data.journeys:
        if j.success_ratio is None or j.runs <= 0:
            continue
        drop = (j.previous_success_ratio - j.success_ratio) if j.previous_success_ratio is not None else 0.0
        burning = (j.burn_rate or 0.0) > 1.0 and j.failures >= 1
        if drop < thresholds.success_drop and not burning:
            continue
        groups = [g for g in data.failure_groups if g.workflow == j.workflow and g.target == j.target]
        where = ""
        if groups:
            g = max(groups, key=lambda g: g.count)
            where = (
                f"; most failures at step {g.step or '?'} ({g.reason or g.result}, {g.count} runs: {g.message[:80]})"
            )
        before = "" if j.previous_success_ratio is None else f" (previous period {j.previous_success_ratio:.1%})"
        findings.append(
            Finding(
                rule="journey_regression",
                severity="critical" if j.success_ratio < thresholds.slo_objective - 0.09 else "warning",
                section="journeys",
                title=f"Journey {j.workflow} on {j.target} succeeded in {j.success_ratio:.1%} of {j.runs:.0f} runs"
                f"{before}, burning its error budget at {j.burn_rate or 0:.1f}x{where}",
                action="open the failure group's example runs on the exporter's /failures page, fix the failing step "
                "first; its waterfall and trace say which layer broke",
                runbook=runbook("workflows", "JourneyErrorBudgetBurn"),
                impact=j.failures,
                impact_text=f"{j.failures:.0f} failed runs",
            )
        )
    return findings
