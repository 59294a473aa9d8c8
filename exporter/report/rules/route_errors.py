"""An API route answering 5xx more often than ``route_error_ratio``."""

from __future__ import annotations

from .._model import Finding, ReportData, Thresholds
from ._common import runbook


def evaluate(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """One finding per route with a 5xx ratio at or over the threshold."""
    findings = []
    for r in data.routes:
        if r.requests < thresholds.route_min_requests or r.error_ratio < thresholds.route_error_ratio:
            continue
        classes = sorted(r.error_classes.items(), key=lambda item: -item[1])
        top = f"; mostly {classes[0][0]} ({classes[0][1]:.0f})" if classes else ""
        findings.append(
            Finding(
                rule="route_errors",
                severity="critical" if r.error_ratio >= 0.05 else "warning",
                section="api",
                title=f"{r.method} {r.route} answered 5xx to {r.error_ratio:.1%} of {r.requests:.0f} requests{top}",
                action=f"search the Django log for error_class={classes[0][0] if classes else '…'} on this route "
                "(workflow-exporter trace <exemplar id>) and fix the exception it raises",
                runbook=runbook("api", "JourneyApiErrorRatioHigh"),
                impact=r.errors_5xx,
                impact_text=f"{r.errors_5xx:.0f} failed requests",
            )
        )
    return findings
