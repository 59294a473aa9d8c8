"""Workflow frontend (``workflow-frontend``): the exporter's map of the Next.js app against the backend's OpenAPI
document, from its ``frontend:`` section. Calls by status over time, unmatched calls per route, backend operations
no page uses, and whether the map is current."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from ._board import Board
from ._panels import graph, single, target
from ._promql import INSTANCE, JOB

UID = "workflow-frontend"


def build() -> model.Dashboard:
    scope = f"{JOB}, {INSTANCE}"
    board = Board(
        UID,
        "Workflow frontend",
        "Which backend operations the Next.js app's pages call, from the exporter's frontend map: calls with no "
        "backend operation (a 404), with the wrong method (a 405), that cannot be resolved statically, and "
        "backend operations no page uses.",
        "frontend_map_calls",
    )
    board.row("Calls against the backend")
    board.add(
        graph(
            "Frontend API calls by status",
            "Distinct API calls of the app's pages, by verdict of the last map. unmatched and method are calls "
            "that fail in production: `workflow-exporter frontend-map` lists them with file and line. unresolved "
            "calls are built at run time and cannot be checked statically.",
            "short",
            target(f"sum by (status) (frontend_map_calls{{{scope}}})", "{{status}}"),
            width=12,
            stacked=True,
        ),
        graph(
            "Unmatched calls by route",
            "Per page (a Next.js route template), its calls with no backend operation. Above zero: an endpoint "
            "the page needs is gone (JourneyFrontendCallsUnmatched); the runbook says how to find it.",
            "short",
            target(
                f"max by (route) (frontend_map_route_unmatched_calls{{{scope}}}) > 0 or on() vector(0)", "{{route}}"
            ),
            width=12,
            bars=True,
        ),
    )
    board.row("The map")
    board.add(
        single(
            "Unused backend operations",
            "Backend operations no page of the app calls: candidates for removal, or endpoints only other clients use.",
            "short",
            target(f"max(frontend_map_unused_operations{{{scope}}})", "unused", instant=True),
            width=8,
        ),
        single(
            "Map current",
            "1 when the last refresh made the map; 0 when the source or the OpenAPI document could not be read "
            "(JourneyFrontendMapFailing) and the panels show an older map.",
            "none",
            target(f"min(frontend_map_last_refresh_success{{{scope}}})", "current", instant=True),
            width=8,
            steps=((None, "red"), (1, "green")),
            mappings={"0": ("stale", "red"), "1": ("current", "green")},
        ),
        single(
            "Map age",
            "Time since the last map was made; the exporter remakes it every `frontend.refresh` and on reload.",
            "s",
            target(f"time() - max(frontend_map_last_refresh_timestamp_seconds{{{scope}}})", "age", instant=True),
            width=8,
            steps=((None, "green"), (3600, "orange")),
        ),
    )
    return board.build()
