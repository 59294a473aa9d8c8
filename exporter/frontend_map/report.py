"""The map as text: a table for a terminal (the default), Markdown for a pull request, JSON for machines.

Each shows, per route, the calls it reaches with their verdict and place; then the disagreements (calls with no
backend operation, method mismatches, unresolved calls with their reasons), the backend operations no route uses,
the problems met on the way, and a summary line.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ._model import Call, FrontendMap, Route

MAX_CELL = 90


def _route_name(route: Route) -> str:
    name = route.route
    if route.intercepts is not None:
        name += f" (intercepted from {route.intercepts})"
    if route.slot:
        name += f" @{route.slot}"
    return name


def _call_name(call: Call) -> str:
    return f"{call.method or '?'} {call.path or '?'}"


def _verdict(call: Call) -> str:
    if call.status == "matched":
        return call.operation or ""
    return call.reason or ""


def _short(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(result: FrontendMap) -> str:
    counts = result.counts()
    return (
        f"{len(result.routes)} routes, {len(result.calls)} calls: {counts['matched']} matched, "
        f"{counts['unmatched']} unmatched, {counts['method']} method mismatches, {counts['unresolved']} unresolved, "
        f"{result.count('external')} external; {len(result.unused_operations)} of {len(result.operations)} backend "
        f"operations unused; {len(result.problems)} problems"
    )


def render_table(result: FrontendMap) -> str:
    rows: list[tuple[str, ...]] = [("ROUTE", "KIND", "CALL", "STATUS", "WHERE")]
    for route in result.routes:
        if not route.calls:
            rows.append((_route_name(route), route.kind, "-", "", route.file))
        for index, route_call in enumerate(route.calls):
            call = route_call.call
            rows.append((_route_name(route) if index == 0 else "", route.kind if index == 0 else "",
                         _call_name(call), call.status, str(call.location)))  # fmt: skip
    widths = [min(MAX_CELL, max(len(row[i]) for row in rows)) for i in range(len(rows[0]))]
    lines = ["  ".join(_short(cell, widths[i]).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    sections = _sections(result, lambda call: f"  {_call_name(call)}  {call.location}  {_verdict(call)}")
    return "\n".join([*lines, *sections, "", _summary(result)]) + "\n"


def _sections(result: FrontendMap, line: Callable[[Call], str]) -> list[str]:
    out: list[str] = []
    for title, status in (("Calls with no backend operation (a 404)", "unmatched"),
                          ("Method mismatches (a 405)", "method"),
                          ("Calls that cannot be resolved statically", "unresolved")):  # fmt: skip
        calls = [call for call in result.calls if call.status == status]
        if calls:
            out += ["", f"{title}:", *(line(call) for call in calls)]
    if result.unused_operations:
        out += ["", "Backend operations no route uses:", *(f"  {op}" for op in result.unused_operations)]
    if result.problems:
        out += ["", "Problems:", *(f"  [{p.kind}] {p}" for p in result.problems)]
    return out


def render_markdown(result: FrontendMap) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# Frontend map of `{result.source}`", "", _summary(result), "",
             "| Route | Kind | Call | Status | Where |", "|---|---|---|---|---|"]  # fmt: skip
    for route in result.routes:
        if not route.calls:
            lines.append(f"| `{cell(_route_name(route))}` | {route.kind} | - | | `{cell(route.file)}` |")
        for route_call in route.calls:
            call = route_call.call
            lines.append(f"| `{cell(_route_name(route))}` | {route.kind} | `{cell(_call_name(call))}` | "
                         f"{call.status} | `{cell(str(call.location))}` |")  # fmt: skip
    sections = _sections(result, lambda call: f"- `{cell(_call_name(call))}` at `{call.location}`: "
                         f"{cell(_verdict(call))}")  # fmt: skip
    out = []
    for entry in sections:
        if entry.endswith(":") and not entry.startswith(("-", " ")):
            out.append(f"## {entry[:-1]}")
        elif entry.startswith("  "):
            out.append(f"- {cell(entry.strip())}")
        else:
            out.append(entry)
    return "\n".join([*lines, *out]) + "\n"


def render_json(result: FrontendMap) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


FORMATS: dict[str, Callable[[FrontendMap], str]] = {
    "table": render_table,
    "markdown": render_markdown,
    "json": render_json,
}
