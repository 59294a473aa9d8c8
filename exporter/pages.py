"""HTML pages, rendered on the server and usable without JavaScript: ``/`` (every workflow x target and the recent
runs), ``/runs/<id>`` (one run: what broke and what to look at next, the waterfall, every step, how to reproduce)
and ``/failures`` (failures grouped). A small script makes ``/`` live: new runs arrive through the run stream
(``/api/v1/stream``) without a reload.

Jinja2 with autoescaping renders them; runs were redacted when they were recorded, and known secret values are
masked once more here. The small charts are inline SVG built here from numbers only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from wsgiref.types import WSGIEnvironment

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from synthetic.redact import redact_text
from synthetic.result import REASONS, RunResult, StepResult

from .api import (
    RUN_FILTERS,
    BadParameter,
    cursor_param,
    iso,
    query_params,
    run_filter,
    suggestion,
)
from .replay import reproduce
from .store import RESULTS, SOURCES, WINDOWS, RunFilter, StoredRun
from .trace.page import server_side

if TYPE_CHECKING:
    from .service import Exporter

PAGE_RUNS = 50  # runs per page of the landing page's list
FAILURE_WINDOWS = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400}

_env = Environment(loader=PackageLoader("exporter", "templates"), autoescape=select_autoescape(default=True))
_env.filters["ms"] = lambda seconds: "-" if seconds is None else f"{seconds * 1000:.0f}"
_env.filters["when"] = lambda ts: "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
_env.filters["iso"] = iso
_env.filters["percent"] = lambda ratio: "-" if ratio is None else f"{ratio * 100:.1f}%"
_env.filters["ago"] = lambda ts: _ago(time.time() - ts) if ts is not None else "never"


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _error_page(status: str, message: str) -> tuple[str, str]:
    return status, _env.get_template("error.html").render(status=status, message=message)


# --- charts ------------------------------------------------------------------------------------------------------


def trend_svg(points: Sequence[tuple[float, float, str]], width: int = 140, height: int = 28) -> Markup:
    """A sparkline of run durations (seconds), oldest left; runs that did not succeed as red dots."""
    if not points:
        return Markup('<svg class="trend" width="%d" height="%d" role="img" aria-label="no runs"></svg>') % (
            width, height)  # fmt: skip
    top = max(d for _, d, _ in points) or 1.0
    step = width / max(len(points) - 1, 1)
    xy = [(i * step if len(points) > 1 else width / 2, height - 2 - (d / top) * (height - 4))
          for i, (_, d, _) in enumerate(points)]  # fmt: skip
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" class="bad"/>'
                   for (x, y), (_, _, result) in zip(xy, points, strict=True) if result != "success")  # fmt: skip
    label = f"last {len(points)} runs, longest {top * 1000:.0f} ms"
    return Markup(
        f'<svg class="trend" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{label}"><title>{label}</title><polyline points="{line}"/>{dots}</svg>'
    )


def hourly_svg(hourly: Mapping[int, int], since: float, until: float, width: int = 160, height: int = 28) -> Markup:
    """Bars of a failure group's count per hour between ``since`` and ``until`` (unix seconds)."""
    first = int(since // 3600) * 3600
    hours = list(range(first, int(until) + 1, 3600))[-168:]
    top = max(hourly.values(), default=1)
    bar = width / max(len(hours), 1)
    heights = {h: max(1.0, count / top * height) for h, count in hourly.items()}
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - heights[h]:.1f}" width="{max(bar - 0.5, 0.5):.1f}"'
        f' height="{heights[h]:.1f}"/>'
        for i, h in enumerate(hours)
        if hourly.get(h)
    )  # fmt: skip
    label = f"{sum(hourly.values())} in {len(hours)} hours, at most {top} in one"
    axis = f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}"/>'
    return Markup(f'<svg class="hourly" width="{width}" height="{height}" role="img" aria-label="{label}">'
                  f"<title>{label}</title>{axis}{rects}</svg>")  # fmt: skip


# --- /: every pair, the recent runs ------------------------------------------------------------------------------


def index_page(exporter: Exporter, environ: WSGIEnvironment) -> tuple[str, str]:
    """``/?workflow=&target=&result=&source=&cursor=``: one row per workflow x target, then the recent runs."""
    try:
        params = query_params(environ, ("workflow", "target", "result", "source", "cursor"))
        where = run_filter(params)
        cursor = cursor_param(params)
    except BadParameter as bad:
        return _error_page("400 Bad Request", str(bad))
    config = exporter.config
    store = exporter.store
    pairs = [(w.name, t.name) for w, t in config.pairs()]
    owned = {(w.name, t.name) for w, t in exporter.owned_pairs(config)}
    stats = store.pair_stats(pairs)
    runs, next_cursor = store.runs(where, PAGE_RUNS, cursor)
    filters = {k: v for k, v in params.items() if k != "cursor"}
    page = _env.get_template("index.html").render(
        config=config,
        shard=exporter.shard,
        store=store,
        rows=[{"stats": stats[p], "owned": p in owned, "trend": trend_svg(stats[p].trend)} for p in pairs],
        windows=list(WINDOWS),
        runs=runs,
        filters=filters,
        choices={
            "workflow": sorted(config.workflows),
            "target": sorted(config.targets),
            "result": RESULTS,
            "source": SOURCES,
        },
        older=f"/?{urlencode({**filters, 'cursor': next_cursor})}" if next_cursor else None,
        newest=f"/?{urlencode(filters)}" if cursor else None,
        live=cursor is None,
        stream=f"/api/v1/stream?{urlencode(filters)}",
    )
    return "200 OK", page


# --- /runs/<id> --------------------------------------------------------------------------------------------------


@dataclass
class Segment:
    """A part of a step's bar in the waterfall: ``kind`` names its colour; offsets in % of the run."""

    kind: str  # db, app, network (the rest of the step), and later the step's timing phases
    left: float
    width: float
    title: str


def waterfall(run: RunResult) -> list[list[Segment]]:
    """Per step, its bar split into segments. A step with HTTP timing ``phases`` (seconds by name: resolve,
    connect, tls, processing, transfer) is split by those, its processing (waiting for the answer) further into
    the server's app and DB time from ``Server-Timing``; other steps into the rest (network and client), app
    and DB."""
    total = max(run.duration, 1e-9)
    bars: list[list[Segment]] = []
    for step in run.steps:
        if step.status == "skipped":
            bars.append([])
            continue
        left = 100 * step.offset / total
        width = max(0.4, 100 * step.duration / total)
        phases = getattr(step, "phases", None)
        db = step.server.db_seconds or 0.0
        app = step.server.app_seconds or 0.0
        parts: list[tuple[str, float]] = []
        if isinstance(phases, Mapping) and phases:
            for name, seconds in phases.items():
                if name == "processing":  # waiting for the answer: the server's own time inside it
                    server_db = min(db, seconds)
                    server_app = min(app, seconds - server_db)
                    parts += [("processing", seconds - server_db - server_app), ("app", server_app), ("db", server_db)]
                else:
                    parts.append((str(name), float(seconds or 0)))
        else:
            parts = [("network", max(step.duration - db - app, 0.0)), ("app", app), ("db", db)]
        spent = sum(seconds for _, seconds in parts) or 1e-9
        segments, offset = [], left
        for kind, seconds in parts:
            if seconds <= 0:
                continue
            share = width * min(seconds / spent, 1.0)
            segments.append(Segment(kind, offset, share, f"{kind} {seconds * 1000:.1f} ms"))
            offset += share
        bars.append(segments or [Segment("network", left, width, f"{step.duration * 1000:.1f} ms")])
    return bars


def pretty(text: str) -> str:
    """JSON text indented (bodies, extracted values); anything else as it is."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return text


def _problem(run: RunResult) -> StepResult | None:
    """The step the run broke at: the first that failed, else the first over its budget (degraded)."""
    failed = next((s for s in run.steps if s.status == "failed"), None)
    return failed or next((s for s in run.steps if getattr(s, "degraded", False)), None)


def run_page(exporter: Exporter, run_id: str, replay_enabled: bool) -> tuple[str, str]:
    stored = exporter.store.get_stored(run_id)
    if stored is None:
        return _error_page("404 Not Found", f"no run {run_id[:200]!r} in the store (it may have been deleted by "
                           "retention, or kept in another exporter's store)")  # fmt: skip
    return "200 OK", render_run(exporter, stored, replay_enabled)


def render_run(exporter: Exporter, stored: StoredRun, replay_enabled: bool) -> str:
    run, summary = stored.run, stored.summary
    target = exporter.config.targets.get(run.target)
    secrets = target.secrets() if target else []
    problem = _problem(run)
    first_failed = next((a for a in problem.assertions if not a.ok), None) if problem else None
    reproductions = {}
    for step in run.steps:
        if step.kind == "http" and step.status != "skipped":
            reproductions[step.name] = reproduce(exporter.config, exporter.config_path.resolve(), run, step.name)
    storage = exporter.store.directory
    replay_command = ["workflow-exporter", "replay", run.correlation_id,
                      f"--config.file={exporter.config_path.resolve()}"]  # fmt: skip
    if storage is not None:
        replay_command.append(f"--storage.path={storage.resolve()}")
    replayed = exporter.store.get_stored(summary.replay_of) if summary.replay_of else None
    return _env.get_template("run.html").render(
        run=run,
        summary=summary,
        problem=problem,
        first_failed=first_failed,
        advice=suggestion(problem.reason) if problem else None,
        steps=list(zip(run.steps, waterfall(run), strict=True)),
        mask=lambda text: redact_text(str(text), secrets),
        pretty=lambda text: pretty(redact_text(str(text), secrets)),
        as_json=lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str),
        reproductions=reproductions,
        replay_command=" ".join(replay_command),
        persistent=storage is not None,
        replay_enabled=replay_enabled,
        replay_of=replayed.summary if replayed else None,
        replays=exporter.store.replays_of(summary.id),
        configured=run.workflow in exporter.config.workflows and run.target in exporter.config.targets,
        server_side=server_side(exporter, run),
    )


# --- /failures ---------------------------------------------------------------------------------------------------


def failures_page(exporter: Exporter, environ: WSGIEnvironment) -> tuple[str, str]:
    """``/failures?window=24h&workflow=&target=&reason=``: failures grouped, the most frequent first."""
    try:
        params = query_params(environ, ("window", "workflow", "target", "reason"))
        window = params.get("window", "24h")
        if window not in FAILURE_WINDOWS:
            raise BadParameter("window", f"must be one of {', '.join(FAILURE_WINDOWS)}, not {window[:20]!r}")
        now = exporter.store.clock()
        where = run_filter({k: v for k, v in params.items() if k in RUN_FILTERS})
        where = RunFilter(**{**where.__dict__, "since": now - FAILURE_WINDOWS[window]})
    except BadParameter as bad:
        return _error_page("400 Bad Request", str(bad))
    groups = exporter.store.failure_groups(where, limit=100)
    page = _env.get_template("failures.html").render(
        groups=[
            {"group": g, "advice": suggestion(g.reason), "chart": hourly_svg(g.hourly, where.since or now, now)}
            for g in groups
        ],
        window=window,
        windows=list(FAILURE_WINDOWS),
        filters=params,
        choices={
            "workflow": sorted(exporter.config.workflows),
            "target": sorted(exporter.config.targets),
            "reason": [r for r in REASONS if r != "skipped"],
        },
        total=sum(g.count for g in groups),
    )
    return "200 OK", page
