"""An API route whose p95 latency is over ``route_p95_seconds``."""

from __future__ import annotations

from .._model import Finding, ReportData, Thresholds
from ._common import runbook, seconds


def evaluate(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """One finding per route slower than the threshold at p95 with enough requests to judge."""
    findings = []
    for r in data.routes:
        if r.p95 is None or r.p95 < thresholds.route_p95_seconds or r.requests < thresholds.route_min_requests:
            continue
        before = "" if r.previous_p95 is None else f" (previous period {seconds(r.previous_p95)})"
        excess = (r.p95 - thresholds.route_p95_seconds) * r.requests * 0.05  # the slowest 5 % of the requests
        findings.append(
            Finding(
                rule="slow_route",
                severity="warning",
                section="api",
                title=f"{r.method} {r.route} answered in {seconds(r.p95)} at p95{before} "
                f"over {r.requests:.0f} requests",
                action="find the route's slowest statement in the Database section (and its EXPLAIN), or the slow "
                "code path from an exemplar's trace",
                runbook=runbook("api", "JourneyApiLatencyHigh"),
                impact=excess,
                impact_text=f"≈{seconds(excess)} of waiting over the threshold",
            )
        )
    return findings
