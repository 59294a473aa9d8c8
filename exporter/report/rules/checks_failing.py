"""Failing API contract checks and integrity findings."""

from __future__ import annotations

from .._model import Finding, ReportData, Thresholds
from ._common import runbook


def evaluate(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """One finding per failing contract check or integrity gauge above zero."""
    findings = []
    for c in data.checks:
        if c.kind == "contract":
            what = f"contract check {c.name} fails on {c.labels.get('operation', '?')} ({c.labels.get('target', '?')})"
            action = (
                "open the exporter's /contracts page for the failing request and answer, "
                "then fix the view or the OpenAPI document"
            )
            link = runbook("api", "JourneyApiErrorRatioHigh")
        else:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(c.labels.items()))
            what = f"integrity check {c.name} reports {c.value:g} ({labels})"
            action = "run the integrity check's management command for the details and migrate or repair the rows"
            link = runbook("database", "JourneySlowQueries").replace("#journeyslowqueries", "")
        findings.append(
            Finding(
                rule="checks_failing",
                severity="warning",
                section="checks",
                title=what[0].upper() + what[1:],
                action=action,
                runbook=link,
                impact=c.value,
                impact_text=f"{c.value:g}",
            )
        )
    return findings
