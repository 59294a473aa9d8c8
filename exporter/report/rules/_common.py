"""Helpers the rules share: formatting and runbook links."""

from __future__ import annotations

RUNBOOKS = "https://github.com/workflow-exporter/workflow-exporter/blob/main/docs/runbooks/"


def runbook(page: str, alert: str) -> str:
    """The runbook section of ``alert`` on ``docs/runbooks/<page>.md``."""
    return f"{RUNBOOKS}{page}.md#{alert.lower()}"


def seconds(value: float) -> str:
    """``0.42`` → ``420 ms``, ``3.5`` → ``3.50 s``, ``5400`` → ``1.5 h``."""
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
