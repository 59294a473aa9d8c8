"""A statement digest that is slow per execution, or examines far more rows than it sends without an index:
name it and, when the WHERE clause shows the column, the index that would serve it."""

from __future__ import annotations

import re

from .._model import Finding, ReportData, Thresholds
from ._common import runbook, seconds

_FROM = re.compile(r"\bFROM\s+`?(\w+)`?", re.I)
_FILTER = re.compile(r"\bWHERE\s+(?:`?\w+`?\s*\.\s*)?`?(\w+)`?\s*(?:=|<=?|>=?|LIKE|IN\b|BETWEEN)", re.I)


def index_for(statement: str) -> str | None:
    """``CREATE INDEX`` on the first filtered column of the statement's first table, when both are visible."""
    table, column = _FROM.search(statement), _FILTER.search(statement)
    if not table or not column:
        return None
    return f"CREATE INDEX {table.group(1)}_{column.group(1)}_idx ON {table.group(1)} ({column.group(1)})"


def evaluate(data: ReportData, thresholds: Thresholds) -> list[Finding]:
    """One finding per digest with a mean at or over ``statement_seconds``, or scanning ``examined_per_sent``
    rows per row sent without an index."""
    findings = []
    for s in data.statements:
        if s.calls <= 0:
            continue
        slow = s.mean >= thresholds.statement_seconds
        scans = s.no_index_used > 0 and s.examined_per_sent >= thresholds.examined_per_sent
        if not (slow or scans):
            continue
        # EXPLAIN's answer when the statement was explained; the digest text's first filter otherwise.
        index = s.index if s.explain else (index_for(s.text) if scans else None)
        if index:
            checked = "EXPLAIN shows a full scan on the filtered column" if s.explain else "check it with EXPLAIN first"
            action = f"add the index the filter needs: {index} ({checked})"
        elif scans and s.explain:
            action = (
                "its EXPLAIN (Database section) finds no unindexed filtered column to index: rewrite the filter so "
                "an index serves it (no leading wildcard, no function on the column) or make it more selective"
            )
        elif slow:
            action = (
                "run EXPLAIN on an example of this statement (performance_schema history) and remove what makes it slow"
            )
        else:
            action = "run EXPLAIN on an example of this statement and add an index for its WHERE clause"
        scan_text = f", {s.examined_per_sent:.0f} rows examined per row sent" if scans else ""
        findings.append(
            Finding(
                rule="slow_statement",
                severity="warning",
                section="database",
                title=f"Statement `{s.text[:140]}` ({s.schema}) ran {s.calls:.0f} times, {seconds(s.mean)} each, "
                f"{seconds(s.seconds)} in all{scan_text}",
                action=action,
                runbook=runbook("database", "JourneySlowQueries"),
                impact=s.seconds,
                impact_text=f"{seconds(s.seconds)} of database time",
            )
        )
    return findings
