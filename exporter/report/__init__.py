"""The debugging report: how the journeys did this period against the previous one, which step eats its
budget, which route is slow or runs too many queries, which statement is the slowest, and what to change
first, from Prometheus (and the run store).

``build_report`` collects the sections (``_collect``), runs the suggestion rules (``rules/``, one module per
rule) and returns a ``Report``; ``render`` writes it as JSON, Markdown or HTML with plots (``_render``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ._collect import FailureSource, Window, collect
from ._model import Finding, Report, ReportData, Section, Table, Thresholds
from ._prom import PrometheusClient, QueryError
from ._render import render
from .rules import RULES, suggest

COMPARE = {"previous", "7d"}

__all__ = [
    "COMPARE",
    "RULES",
    "Finding",
    "PrometheusClient",
    "QueryError",
    "Report",
    "ReportData",
    "Section",
    "Thresholds",
    "build_report",
    "render",
    "suggest",
]


def build_report(
    client: PrometheusClient,
    since: float,
    compare: str = "previous",
    until: float | None = None,
    thresholds: Thresholds | None = None,
    slo_window: float = 30 * 86400,
    failure_source: FailureSource | None = None,
    clock: Callable[[], float] = time.time,
    explain_dsn: str | None = None,
    logs: Sequence[str] = (),
) -> Report:
    """The report over the ``since`` seconds before ``until`` (now), compared to the period just before it
    (``previous``) or to the same period a week earlier (``7d``). ``logs`` are Django JSON logs (the trace
    source) where an N+1 exemplar's request names its repeated statement; ``explain_dsn`` a read-only DSN."""
    if compare not in COMPARE:
        raise ValueError(f"compare: {compare!r} is not one of {sorted(COMPARE)}")
    now = clock()
    end = now if until is None else until
    previous_end = end - since if compare == "previous" else end - 7 * 86400
    window = Window(start=end - since, end=end, previous_end=previous_end)
    thresholds = thresholds or Thresholds()
    sections, data = collect(client, window, thresholds, slo_window, failure_source, logs)
    if explain_dsn:
        database = next(s for s in sections if s.key == "database")
        if database.status == "ok":
            from ._explain import explain

            database.notes.extend(explain(explain_dsn, data.statements))
            explained = [s for s in data.statements if s.explain]
            if explained:
                database.tables.append(
                    Table(
                        "EXPLAIN of the worst statements' examples",
                        ["statement", "table", "type", "key", "rows", "extra", "index that would serve it"],
                        [
                            [
                                s.text[:80],
                                r.get("table") or "-",
                                r.get("type") or "-",
                                r.get("key") or "-",
                                r.get("rows") or "-",
                                r.get("extra") or "-",
                                s.index or "-",
                            ]
                            for s in explained
                            for r in s.explain or []
                        ],
                    )
                )
    else:
        database = next(s for s in sections if s.key == "database")
        if database.status == "ok":
            database.notes.append("no read-only DSN configured (report.mysql): statements are not explained")
    findings = suggest(data, thresholds)
    sections.append(Section("suggestions", "Suggestions"))
    return Report(
        prometheus=client.url,
        start=window.start,
        end=window.end,
        previous_start=window.previous_start,
        previous_end=window.previous_end,
        compare=compare,
        generated_at=now,
        sections=sections,
        findings=findings,
        queries=client.queries,
        data=data,
    )
