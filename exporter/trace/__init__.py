"""One correlation ID joined across layers: the browser, the probe, the API and the database.

Sources, one module each behind one signature ``search(spec, correlation_id, window) -> SourceReport``, in
``SOURCE_KINDS``: ``runs`` (the exporter's run store), ``logs`` (Django JSON log files), ``slow_logs`` (the
MySQL slow query log), ``mysql`` (``performance_schema``). ``collect`` asks each configured source, tolerates
the ones that fail (their problems are reported, the others still answer), and nests the events into one
timeline: statements and log lines under the request whose time span holds them, requests under the probe
step that sent them. ``workflow-exporter trace`` and ``/trace/<id>`` show it.

The ID is checked against the correlation ID rule (letters, digits, ``-_.:``, 8 to 128 characters) before any
search: it is only ever looked for as literal bytes or with SQL ``LOCATE``, never as a pattern or a path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from django_integration.correlation import is_valid_id

from . import logs, mysql, runs, slowlog
from ._model import SourceReport, TraceEvent, Window
from .config import TraceConfig
from .runs import RunLookup

__all__ = ["SOURCE_KINDS", "Trace", "TraceConfig", "TraceEvent", "TraceSources", "Window", "collect", "render_text",
           "trace_document"]  # fmt: skip

NEST_SLACK_SECONDS = 0.25  # clocks of one host; log lines are stamped a moment after the work they describe
GAP_SECONDS = 0.2
MAX_RELATED_IDS = 50  # API calls of a run's browser steps followed into the other sources


class SourceKind(Protocol):
    def search(self, spec: Any, correlation_id: str, window: Window) -> SourceReport: ...


SOURCE_KINDS: Mapping[str, SourceKind] = {"runs": runs, "logs": logs, "slow_logs": slowlog, "mysql": mysql}


@dataclass
class TraceSources:
    """What to search: the run store (a lookup by ID) and the ``trace:`` section's files and databases."""

    runs: RunLookup | None = None
    config: TraceConfig = field(default_factory=TraceConfig)

    def specs(self) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = []
        if self.runs is not None:
            found.append(("runs", self.runs))
        if self.config.logs:
            found.append(("logs", self.config.logs))
        if self.config.slow_logs:
            found.append(("slow_logs", self.config.slow_logs))
        found += [("mysql", dsn) for dsn in self.config.mysql]
        return found


@dataclass
class Trace:
    correlation_id: str
    events: list[TraceEvent]  # the top of the timeline, nested, in order
    reports: list[SourceReport]

    @property
    def found(self) -> bool:
        return bool(self.events)

    @property
    def start(self) -> float:
        return min((e.start for e in self.events), default=0.0)

    def walk(self) -> list[tuple[int, TraceEvent]]:
        """Every event with its depth, in timeline order."""
        out: list[tuple[int, TraceEvent]] = []
        stack = [(0, e) for e in reversed(self.events)]
        while stack:
            depth, event = stack.pop()
            out.append((depth, event))
            stack += [(depth + 1, child) for child in reversed(event.children)]
        return out

    @property
    def errors(self) -> int:
        return sum(1 for _, event in self.walk() if event.error)


def collect(correlation_id: str, sources: TraceSources, window: Window | None = None) -> Trace:
    """Ask every configured source; ValueError when ``correlation_id`` is not a valid correlation ID."""
    window = window or Window()
    if not is_valid_id(correlation_id):
        raise ValueError(
            "not a correlation ID: letters, digits and -_.: only, 8 to 128 characters (as X-Request-ID carries them)"
        )
    reports = []
    specs = sources.specs()
    for kind, spec in specs:
        reports.append(_search(kind, spec, correlation_id, window))
    # A browser step's page sent each API call with an ID of its own: the layers below recorded those.
    related = _related_ids(sources.runs, correlation_id) if sources.runs is not None else []
    for report, (kind, spec) in zip(reports, specs, strict=True):
        if kind == "runs":
            continue
        for related_id in related:
            found = _search(kind, spec, related_id, window)
            report.events += found.events
            report.problems += [p for p in found.problems if p not in report.problems]
            report.scanned_bytes += found.scanned_bytes
    events = [event for report in reports for event in report.events]
    return Trace(correlation_id, nest(events), reports)


def _search(kind: str, spec: Any, correlation_id: str, window: Window) -> SourceReport:
    try:
        return SOURCE_KINDS[kind].search(spec, correlation_id, window)
    except Exception as error:  # one broken source must not take the others with it
        return SourceReport(source=kind, problems=[f"{type(error).__name__}: {error}"])


def _related_ids(lookup: RunLookup, correlation_id: str) -> list[str]:
    """The X-Request-IDs of the API calls a stored run's browser steps made (at most ``MAX_RELATED_IDS``)."""
    try:
        run = lookup(correlation_id)
    except Exception:  # the runs source already reported it
        return []
    found: dict[str, None] = {}
    for step in run.steps if run is not None else []:
        for call in (step.browser or {}).get("calls", []) if isinstance(step.browser, dict) else []:
            request_id = call.get("request_id") if isinstance(call, dict) else None
            if isinstance(request_id, str) and request_id != correlation_id and is_valid_id(request_id):
                found[request_id] = None
    return list(found)[:MAX_RELATED_IDS]


def nest(events: list[TraceEvent]) -> list[TraceEvent]:
    """Statements and log lines under their request, requests under their probe step; the rest at the top."""
    ordered = sorted(events, key=lambda e: (e.start, e.end or e.start))
    steps = [e for e in ordered if e.kind == "step"]
    requests = [e for e in ordered if e.kind == "request"]
    top: list[TraceEvent] = []
    for request in requests:
        parent = _parent(request, steps)
        (parent.children if parent else top).append(request)
    for event in ordered:
        if event.kind in ("step", "request"):
            continue
        parent = None
        if event.layer in ("api", "db"):
            parent = _parent(event, requests) or _parent(event, steps)
        (parent.children if parent else top).append(event)
    top += steps
    for event in [*steps, *requests]:
        event.children.sort(key=lambda e: e.start)
    top.sort(key=lambda e: e.start)
    return _with_gaps(top)


def _parent(event: TraceEvent, candidates: list[TraceEvent]) -> TraceEvent | None:
    """The span that holds ``event``: one that holds its middle exactly (the latest-starting one), else the
    nearest within ``NEST_SLACK_SECONDS`` (log lines are stamped a moment after their work)."""
    holding = [c for c in candidates if c.contains(event)]
    if holding:
        return max(holding, key=lambda c: c.start)
    middle = event.start if event.end is None else (event.start + event.end) / 2
    near = [c for c in candidates if c.contains(event, NEST_SLACK_SECONDS)]
    return min(near, key=lambda c: min(abs(middle - c.start), abs(middle - (c.end or c.start))), default=None)


def _with_gaps(events: list[TraceEvent]) -> list[TraceEvent]:
    if len(events) < 2:
        return events
    span = max((e.end or e.start) for e in events) - events[0].start
    threshold = max(GAP_SECONDS, span * 0.25)
    out = [events[0]]
    reached = events[0].end or events[0].start
    for event in events[1:]:
        if event.start - reached > threshold:
            quiet = f"nothing recorded for {(event.start - reached) * 1000:.0f} ms"
            out.append(
                TraceEvent(start=reached, end=event.start, layer=event.layer, kind="gap", title=quiet, source="")
            )
        out.append(event)
        reached = max(reached, event.end or event.start)
    return out


# --- output --------------------------------------------------------------------------------------------------

_SHOWN_FIELDS = ("route", "status", "http_status", "db_queries", "db_ms", "error_class", "count", "rows_examined",
                 "rows_sent", "error", "reason")  # fmt: skip


def render_text(trace: Trace) -> str:
    """The timeline as ``workflow-exporter trace`` prints it: offsets from the first event, nesting by indent,
    ``!`` before errors, tracebacks and statements under their line."""
    lines = [f"trace {trace.correlation_id}: {_summary(trace)}"]
    for report in trace.reports:
        for problem in report.problems:
            lines.append(f"  source {report.source}: {problem}")
    origin = trace.start
    for depth, event in trace.walk():
        mark = "!" if event.error else "~" if event.kind == "gap" else " "
        took = "" if event.duration is None else f" {event.duration * 1000:.1f} ms"
        details = ", ".join(f"{k}={event.fields[k]}" for k in _SHOWN_FIELDS if event.fields.get(k) not in (None, ""))
        lines.append(
            f"{mark} +{(event.start - origin) * 1000:9.1f} ms {'  ' * depth}{event.layer:<8} {event.title}{took}"
            + (f"  ({details})" if details else "")
            + (f"  [{event.source}]" if event.source else "")
        )
        pad = " " * (18 + 2 * depth)
        if event.kind == "statement" or (event.fields.get("statement") and event.kind == "log"):
            lines.append(f"{pad}  {str(event.fields.get('statement'))[:500]}")
        traceback = event.fields.get("exc_info")
        if traceback:
            lines += [f"{pad}  | {line}" for line in str(traceback).splitlines()[-40:]]
    return "\n".join(lines) + "\n"


def trace_document(trace: Trace) -> dict[str, Any]:
    """The JSON shape of ``trace --format json``: ``correlation_id``, ``found``, ``errors``, ``sources``
    (each with ``source``, ``events`` count, ``problems``, ``scanned_bytes``) and ``events`` (nested, with
    ``start``/``end`` as ISO 8601 UTC and ``children``)."""

    def event_doc(event: TraceEvent) -> dict[str, Any]:
        doc = asdict(event)
        doc["start"] = _iso(event.start)
        doc["end"] = None if event.end is None else _iso(event.end)
        doc["duration_ms"] = None if event.duration is None else round(event.duration * 1000, 3)
        doc["error"] = event.error
        doc["children"] = [event_doc(child) for child in event.children]
        return doc

    return {
        "correlation_id": trace.correlation_id,
        "found": trace.found,
        "errors": trace.errors,
        "sources": [
            {"source": r.source, "events": len(r.events), "problems": r.problems, "scanned_bytes": r.scanned_bytes}
            for r in trace.reports
        ],
        "events": [event_doc(event) for event in trace.events],
    }


def render_json(trace: Trace) -> str:
    return json.dumps(trace_document(trace), indent=2, default=str) + "\n"


def _summary(trace: Trace) -> str:
    count = sum(1 for _, e in trace.walk() if e.kind != "gap")
    used = sum(1 for r in trace.reports if r.events)
    if not count:
        return f"nothing found in {len(trace.reports)} source(s)"
    return f"{count} event(s) from {used} source(s), {trace.errors} error(s)"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
