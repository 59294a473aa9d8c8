"""HTML pages: the recent runs, and one run's waterfall with everything needed to debug a failed step.

Jinja2 with autoescaping renders them; bodies and headers were redacted when the run recorded them, and
known secret values are masked once more here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape

from synthetic.redact import redact_text
from synthetic.result import RunResult

if TYPE_CHECKING:
    from .service import Exporter

_env = Environment(loader=PackageLoader("exporter", "templates"), autoescape=select_autoescape(default=True))
_env.filters["ms"] = lambda seconds: "-" if seconds is None else f"{seconds * 1000:.0f}"
_env.filters["when"] = lambda ts: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def render_index(exporter: Exporter) -> str:
    return _env.get_template("index.html").render(
        runs=exporter.history.recent(), config=exporter.config, shard=exporter.shard
    )


def render_run(run: RunResult, secrets: list[str]) -> str:
    total = max(run.duration, 1e-9)
    bars = [{"left": 100 * step.offset / total, "width": max(0.5, 100 * step.duration / total)} for step in run.steps]
    return _env.get_template("run.html").render(
        run=run,
        bars=bars,
        mask=lambda text: redact_text(str(text), secrets),
        steps=list(zip(run.steps, bars, strict=True)),
    )
