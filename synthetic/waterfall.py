"""A run as text: the waterfall ``workflow-exporter run`` prints and ``/probe?debug=true`` returns."""

from __future__ import annotations

from .result import RunResult

BAR_WIDTH = 30


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def render_waterfall(run: RunResult) -> str:
    total = max(run.duration, 1e-9)
    lines = [
        f"workflow {run.workflow} on {run.target}: {'SUCCESS' if run.success else 'FAILURE'} "
        f"in {run.duration * 1000:.0f} ms  correlation_id={run.correlation_id}",
        f"{'step':<22} {'status':<12} {'http':>4} {'ms':>7} {'app ms':>7} {'db ms':>6} {'queries':>7}  timeline",
    ]
    for step in run.steps:
        start = int(step.offset / total * BAR_WIDTH)
        width = max(1, int(step.duration / total * BAR_WIDTH)) if step.status != "skipped" else 0
        bar = " " * min(start, BAR_WIDTH) + ("█" * width if step.ok else "▒" * width)
        queries = "-" if step.server.queries is None else str(step.server.queries)
        status = step.status if step.ok or not step.reason else step.reason
        took = _ms(step.duration if step.status != "skipped" else None)
        lines.append(
            f"{step.name:<22} {status:<12} {step.http_status or '-':>4} {took:>7}"
            f" {_ms(step.server.app_seconds):>7} {_ms(step.server.db_seconds):>6} {queries:>7}  |{bar:<{BAR_WIDTH}}|"
        )
    failed = run.failed_step
    if failed:
        lines.append("")
        lines.append(f"failed step {failed.name}: {failed.reason}: {failed.message}")
        if failed.exchange and failed.exchange.curl:
            lines.append(f"reproduce: {failed.exchange.curl}")
    return "\n".join(lines) + "\n"
