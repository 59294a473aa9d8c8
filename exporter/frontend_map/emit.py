"""``--emit-workflows``: a starter workflow file with one ``http`` journey per page, made of the page's safe calls.

Safe means ``GET``/``HEAD`` calls that reach the backend, match an operation and have no path parameter (a
parameter needs a value only a person knows: such calls are listed in a comment instead). Each step expects a
2xx, or 401/403 for a page behind a login. The file is a start: ``--config.check`` accepts it as written; add
credentials, extracted IDs and the calls with parameters by hand.
"""

from __future__ import annotations

import re

import yaml

from ._model import FrontendMap, Route

SAFE = ("GET", "HEAD")
DEFAULT_BACKEND = "http://127.0.0.1:8000"


def workflow_name(route: Route) -> str:
    """``/products/[id]`` -> ``page-products-id``, within the config's name rules (lowercase, 63 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", route.route.lower()).strip("-") or "root"
    if route.intercepts is not None:
        slug += "-intercepted"
    return f"page-{slug}"[:63].rstrip("-")


def starter_workflows(result: FrontendMap, backend: str | None = None, interval: str = "60s") -> str:
    backend = backend or DEFAULT_BACKEND
    workflows: dict[str, dict[str, object]] = {}
    skipped: list[str] = []
    for route in result.routes:
        if route.kind != "page":
            continue
        steps = []
        seen: set[tuple[str, str]] = set()
        for route_call in route.calls:
            call = route_call.call
            if call.status != "matched" or call.target != "backend" or call.method not in SAFE:
                continue
            path = call.backend_path or ""
            if "{" in path:
                skipped.append(f"{route.route}: {call.method} {path} ({call.location}) needs a value for its parameter")
                continue
            if (call.method, path) in seen:
                continue
            seen.add((call.method or "GET", path))
            name = re.sub(r"[^a-z0-9]+", "-", f"{call.method} {path}".lower()).strip("-")[:63]
            steps.append({"name": name, "http": {"method": call.method, "path": path},
                          "expect": {"status": ["2xx", 401, 403]}})  # fmt: skip
        if steps:
            name = workflow_name(route)
            description = f"The backend calls of {route.route} ({route.file})"
            workflows[name] = {"description": description, "targets": ["backend"], "interval": interval,
                               "timeout": "10s", "steps": steps}  # fmt: skip
    config = {"targets": {"backend": {"base_url": f"${{env:BACKEND_URL:-{backend}}}"}}, "workflows": workflows}
    header = [
        f"# Starter journeys from the frontend map of {result.source}: one per page, its safe calls.",
        "# Check it with: workflow-exporter --config.file=<this file> --config.check",
    ]
    if skipped:
        header += ["# Calls left out (add them with real values):", *(f"#   {line}" for line in skipped)]
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=120) if workflows else (
        "targets:\n  backend:\n    base_url: ${env:BACKEND_URL:-" + backend + "}\nworkflows: {}\n")  # fmt: skip
    return "\n".join(header) + "\n" + body
