"""A run as text: the waterfall ``workflow-exporter run`` prints and ``/probe?debug=true`` returns.

The first line gives the run's result: ``SUCCESS``, ``DEGRADED`` (a step over its ``max_duration`` budget; the
journey went on) or ``FAILURE``. A step's status column reads ``ok``, ``degraded``, ``skipped`` or the failure
reason. Under the table: the HTTP timing phases of each ``http`` step that sent a request (milliseconds), the
earliest certificate expiry the run's TLS connections showed, and the failed or degraded step's details.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from .result import PHASES, RunResult, StepResult

BAR_WIDTH = 30


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _status(step: StepResult) -> str:
    if step.ok:
        return "degraded" if step.degraded else "ok"
    return step.reason or step.status


def render_waterfall(run: RunResult, now: float | None = None) -> str:
    """The run as lines of text; ``now`` (unix seconds, default the current time) dates the certificate."""
    total = max(run.duration, 1e-9)
    lines = [
        f"workflow {run.workflow} on {run.target}: {run.result.upper()} "
        f"in {run.duration * 1000:.0f} ms  correlation_id={run.correlation_id}",
        f"{'step':<22} {'status':<12} {'http':>4} {'ms':>7} {'app ms':>7} {'db ms':>6} {'queries':>7}  timeline",
    ]
    for step in run.steps:
        start = int(step.offset / total * BAR_WIDTH)
        width = max(1, int(step.duration / total * BAR_WIDTH)) if step.status != "skipped" else 0
        bar = " " * min(start, BAR_WIDTH) + ("█" * width if step.ok else "▒" * width)
        queries = "-" if step.server.queries is None else str(step.server.queries)
        took = _ms(step.duration if step.status != "skipped" else None)
        lines.append(
            f"{step.name:<22} {_status(step):<12} {step.http_status or '-':>4} {took:>7}"
            f" {_ms(step.server.app_seconds):>7} {_ms(step.server.db_seconds):>6} {queries:>7}  |{bar:<{BAR_WIDTH}}|"
        )
    timed = [step for step in run.steps if step.phases]
    if timed:
        lines.append("")
        lines.append(f"{'http phases (ms)':<22} " + " ".join(f"{phase:>10}" for phase in PHASES))
        for step in timed:
            lines.append(f"{step.name:<22} " + " ".join(f"{_ms(step.phases.get(phase)):>10}" for phase in PHASES))
    expiries = [step.tls_cert_expires_at for step in run.steps if step.tls_cert_expires_at is not None]
    if expiries:
        expires = min(expiries)
        days = (expires - (time.time() if now is None else now)) / 86400
        when = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        lines.append("")
        lines.append(f"tls certificate: the earliest expires {when} (in {days:.1f} days)")
    failed = run.failed_step
    if failed:
        lines.append("")
        lines.append(f"failed step {failed.name}: {failed.reason}: {failed.message}")
        if failed.exchange and failed.exchange.curl:
            lines.append(f"reproduce: {failed.exchange.curl}")
    for step in run.steps:
        if step.degraded and step.ok:
            over = [c for c in step.assertions if c.severity == "warning" and not c.ok]
            lines.append("")
            shown = "; ".join(c.message for c in over) or "max_duration"
            lines.append(f"degraded step {step.name}: over its budget: {shown}")
    return "\n".join(lines) + "\n"
