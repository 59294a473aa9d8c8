"""Every panel query of the committed dashboards, with the Grafana variables replaced for a test.

    from grafana.queries import panel_queries
    for uid, title, expr in panel_queries():
        ...  # run expr against a Prometheus holding real data; expect series

It reads ``grafana/dashboards/*.json`` (what Grafana loads), needs only the standard library, and does not
import the generator or its SDK. ``grafana`` is a plain package: import it with the repository root on
``sys.path`` (pytest's rootdir conftest puts it there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"

# `$name`, `${name}` and `${name:format}` as Grafana writes variables in a query.
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>\w+)(?::[^}]*)?\}|(?P<plain>\w+))")


def substitute(
    expr: str,
    *,
    rate_interval: str = "1m",
    range_: str = "5m",
    interval: str = "15s",
    multi_value: str = ".+",
) -> str:
    """``expr`` with Grafana's variables replaced: the built-in intervals by durations, every dashboard
    variable (job, instance, workflow, route, ...: all regex-matched multi-value variables) by ``multi_value``.
    An unknown built-in (``$__something``) raises ValueError rather than producing a query that lies."""
    builtins = {
        "__rate_interval": rate_interval,
        "__range": range_,
        "__interval": interval,
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        if name in builtins:
            return builtins[name]
        if name.startswith("__"):
            raise ValueError(f"no test value for Grafana variable ${name} in {expr!r}")
        return multi_value

    return _VARIABLE.sub(replace, expr)


def dashboards(directory: Path = DASHBOARDS_DIR) -> list[dict[str, Any]]:
    """The committed dashboards, sorted by file name."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))]


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including those inside collapsed rows, in dashboard order."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def raw_queries(directory: Path = DASHBOARDS_DIR) -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr as written in the dashboard) for every target."""
    return [
        (dashboard["uid"], panel.get("title", ""), target["expr"])
        for dashboard in dashboards(directory)
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def panel_queries(
    *,
    rate_interval: str = "1m",
    range_: str = "5m",
    interval: str = "15s",
    multi_value: str = ".+",
    directory: Path = DASHBOARDS_DIR,
) -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr with variables substituted) for every target of every panel.

    Defaults: ``$__rate_interval`` → ``1m``, ``$__range`` → ``5m``, ``$__interval`` → ``15s``, ``$job``,
    ``$instance`` and every other dashboard variable → ``.+``."""
    return [
        (
            uid,
            title,
            substitute(expr, rate_interval=rate_interval, range_=range_, interval=interval, multi_value=multi_value),
        )
        for uid, title, expr in raw_queries(directory)
    ]
