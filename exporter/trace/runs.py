"""The exporter's own runs: a synthetic run's steps, their timings and what each sent and got.

The run's correlation ID is the trace ID: every request of the run carried it, so the API's request lines and
the statements of each step are found under the same ID and nest under the step whose time they fall in.
"""

from __future__ import annotations

from collections.abc import Callable

from synthetic.result import RunResult

from ._model import SourceReport, TraceEvent, Window

RunLookup = Callable[[str], RunResult | None]


def search(lookup: RunLookup, correlation_id: str, window: Window) -> SourceReport:
    report = SourceReport(source="run store")
    try:
        run = lookup(correlation_id)
    except Exception as error:  # a broken store is one unreadable source, not a failed trace
        report.problems.append(f"cannot read the run store: {type(error).__name__}: {error}")
        return report
    if run is None or not window.holds(run.started_at):
        return report
    for step in run.steps:
        if step.status == "skipped":
            continue
        start = run.started_at + step.offset
        fields = {
            "workflow": run.workflow,
            "target": run.target,
            "step": step.name,
            "step_kind": step.kind,
            "step_status": step.status,
            "reason": step.reason,
            "message": step.message,
            "duration_ms": round(step.duration * 1000, 3),
            "http_status": step.http_status,
            "budget_ms": None if step.budget is None else round(step.budget * 1000, 3),
            "server_app_ms": _ms(step.server.app_seconds),
            "server_db_ms": _ms(step.server.db_seconds),
            "server_queries": step.server.queries,
        }
        if step.exchange is not None:
            fields["request"] = f"{step.exchange.method} {step.exchange.url}"
        title = f"step {step.name}" + (f": {step.reason}" if step.status == "failed" else "")
        report.events.append(
            TraceEvent(
                start=start,
                end=start + step.duration,
                layer="probe",
                kind="step",
                title=title,
                source=report.source,
                level="error" if step.status == "failed" else "info",
                fields={k: v for k, v in fields.items() if v is not None},
            )
        )
    return report


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
