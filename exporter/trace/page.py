"""``/trace/<id>``: the timeline of one correlation ID as a page, tracebacks and statements inline.

The run store answers for synthetic runs; the config's ``trace:`` section names the log files and databases.
When the ID is a stored run's, the search is bounded to the run's time (a minute either side); otherwise to
``TRACE_WINDOW_SECONDS`` back from now. Everything a source wrote is escaped by the template (Jinja2
autoescape): a log line is text from the outside.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from synthetic.result import RunResult

from . import Trace, TraceConfig, TraceEvent, TraceSources, Window, collect

if TYPE_CHECKING:
    from ..service import Exporter

TRACE_WINDOW_SECONDS = 7 * 86400.0
RUN_SLACK_SECONDS = 60.0
MAX_SHOWN_EVENTS = 2000
MAX_NOTABLE_PER_STEP = 20

_env = Environment(loader=PackageLoader("exporter", "templates"), autoescape=select_autoescape(default=True))


def sources_of(exporter: Exporter) -> TraceSources:
    """The run store and the ``trace:`` section of the running config."""
    config = exporter.config.sections.get("trace") or TraceConfig()
    return TraceSources(runs=exporter.store.get, config=config)


def window_for(exporter: Exporter, correlation_id: str) -> Window:
    run = exporter.store.get(correlation_id)
    if run is not None:
        return Window(run.started_at - RUN_SLACK_SECONDS, run.started_at + run.duration + RUN_SLACK_SECONDS)
    return Window(since=time.time() - TRACE_WINDOW_SECONDS)


def trace_page(exporter: Exporter, correlation_id: str) -> tuple[str, str]:
    """(HTTP status, HTML) for ``/trace/<id>``: 400 for an ID that is not one, 404 when no source knows it."""
    try:
        trace = collect(correlation_id, sources_of(exporter), window_for(exporter, correlation_id))
    except ValueError as error:
        return "400 Bad Request", _render(None, correlation_id[:200], str(error), exporter)
    status = "200 OK" if trace.found else "404 Not Found"
    return status, _render(trace, correlation_id, "", exporter)


def _render(trace: Trace | None, correlation_id: str, refused: str, exporter: Exporter) -> str:
    rows: list[dict[str, Any]] = []
    if trace is not None:
        origin = trace.start
        for depth, event in trace.walk()[:MAX_SHOWN_EVENTS]:
            rows.append({"depth": depth, "event": event, "offset_ms": (event.start - origin) * 1000})
    run = exporter.store.get(correlation_id) if trace is not None else None
    return _env.get_template("trace.html").render(
        correlation_id=correlation_id,
        trace=trace,
        rows=rows,
        cut=trace is not None and len(trace.walk()) > MAX_SHOWN_EVENTS,
        refused=refused,
        run=run,
        when=lambda ts: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)),
    )


def server_side(exporter: Exporter, run: RunResult) -> dict[str, list[TraceEvent]]:
    """What the other layers recorded under each step of a stored run, for its page: the errors (a 5xx request
    line, Django's traceback, a failed statement) and the slow and repeated (N+1) statements, keyed by step."""
    config = exporter.config.sections.get("trace") or TraceConfig()
    if not config:
        return {}
    window = Window(run.started_at - RUN_SLACK_SECONDS, run.started_at + run.duration + RUN_SLACK_SECONDS)
    try:
        trace = collect(run.correlation_id, TraceSources(runs={run.correlation_id: run}.get, config=config), window)
    except ValueError:
        return {}
    found: dict[str, list[TraceEvent]] = {}
    for step in trace.events:
        if step.kind != "step":
            continue
        notable = [
            event
            for event in _descendants(step)
            if event.error or event.title.startswith(("slow query", "repeated query")) or event.fields.get("exc_info")
        ]
        if notable:
            found[str(step.fields.get("step"))] = notable[:MAX_NOTABLE_PER_STEP]
    return found


def _descendants(event: TraceEvent) -> list[TraceEvent]:
    out: list[TraceEvent] = []
    stack = list(reversed(event.children))
    while stack:
        child = stack.pop()
        out.append(child)
        stack += list(reversed(child.children))
    return out
