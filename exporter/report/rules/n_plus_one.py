"""A route that runs many queries per request with N+1 detections: name the repeated statement's table and
suggest ``select_related``/``prefetch_related``."""

from __future__ import annotations

import re

from .._model import Finding, ReportData, RouteRow, StatementRow, Thresholds
from ._common import runbook

# A lookup of rows of one table (no join) by a condition: SELECT … FROM `shop_category` WHERE `shop_category`.`id` = ?
# mysqld_exporter cuts digest texts (digest_text_limit), so the condition itself may be missing.
_LOOKUP = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*SELECT\b(?:(?!\bJOIN\b).)*?\bFROM\s+[`\"]?(\w+)[`\"]?(?:\s+AS\s+\w+)?\s+WHERE\b", re.I | re.S
)


def repeated_table(statement: str) -> str | None:
    """The table a single-table lookup reads (``shop_category``), or ``None`` when the statement is not one."""
    match = _LOOKUP.search(statement)
    return match.group(1) if match else None


def _field(table: str) -> str:
    """``shop_category`` → ``category`` (Django names tables ``<app>_<model>``)."""
    return table.split("_", 1)[1] if "_" in table else table


def _likely_statement(statements: list[StatementRow], route: RouteRow) -> StatementRow | None:
    """The single-table lookup a route repeated per row: the one that ran most more often while the route
    repeated statements than while it did not, or (when it repeated them all period) the one that grew most
    against the previous period and runs far more often than the route is called."""
    lookups = [s for s in statements if repeated_table(s.text)]
    if route.while_repeating:
        excess = {id(s): route.while_repeating.get(s.digest, 0.0) for s in lookups}
        best = max((s for s in lookups if excess[id(s)] > 0), key=lambda s: excess[id(s)], default=None)
        if best is not None:
            return best
    grown = [s for s in lookups if s.calls >= 2 * max(route.requests, 1.0) and s.calls > s.previous_calls]
    return max(grown, key=lambda s: s.calls - s.previous_calls) if grown else None


def evaluate(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """One finding per route with N+1 detections and a queries-per-request p95 at or over the threshold."""
    findings = []
    for r in data.routes:
        if r.repeated < 1 or r.queries_p95 is None or r.queries_p95 < thresholds.queries_per_request:
            continue
        statement = r.repeated_statement or (s.text if (s := _likely_statement(data.statements, r)) else None)
        table = repeated_table(statement) if statement else None
        if table:
            related = _field(table)
            detail = f"; the repeated statement loads `{table}` per row"
            action = (
                f"use select_related('{related}') (a foreign key) or prefetch_related('{related}') "
                "on the view's queryset"
            )
        else:
            detail = f"; the repeated statement: `{statement[:120]}`" if statement else ""
            action = (
                "load the related rows with the queryset (select_related for foreign keys, prefetch_related "
                "for many-to-many); the statement repeated per row is in the Django log's N+1 hint"
            )
        findings.append(
            Finding(
                rule="n_plus_one",
                severity="warning",
                section="api",
                title=f"{r.method} {r.route} ran {r.queries_p95:.0f} queries per request at p95 "
                f"({r.repeated:.0f} N+1 detections){detail}",
                action=action,
                runbook=runbook("database", "JourneyNPlusOneQueries"),
                impact=r.repeated * max(r.queries_p95 - 1, 0) * 0.001,  # ≈1 ms per avoidable round trip
                impact_text=f"≈{max(r.queries_p95 - 2, 0):.0f} round trips per request",
            )
        )
    return findings
