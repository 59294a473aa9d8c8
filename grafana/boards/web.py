"""Workflow web (``workflow-web``): the browser as real users see it, from the browser package's beacons to the
Django integration's ``/client-logs``. Errors per route with the failed API call's ID as exemplar, errors per page
load, the Core Web Vitals at the 75th percentile per route template against their thresholds, navigation-time
vitals, and beacons the API refused."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as model

from ._board import Board
from ._panels import graph, target
from ._promql import TINY, quantile, rate, zero

UID = "workflow-web"
ERROR = 'level="error"'
TTFB = 'name="TTFB"'  # reported once per full page load


def build() -> model.Dashboard:
    events = "django_frontend_events_total"
    vitals = "django_frontend_web_vitals_seconds"
    route = ('route=~"$route"',)
    board = Board(
        UID,
        "Workflow web",
        "The frontend in real users' browsers: uncaught errors and Web Vitals per Next.js route template, reported "
        "by @workflow-exporter/browser to the Django integration's /client-logs.",
        events,
    )
    board.with_variable(
        "route",
        "Route",
        f'label_values({events}{{job=~"$job", instance=~"$instance"}}, route)',
        "Next.js route templates the pages reported (never paths; <other> for the rest).",
    )
    board.row("Errors")
    board.add(
        graph(
            "Frontend errors by route",
            "Uncaught errors and unhandled rejections per second, by route template. Diamonds are exemplars: the "
            "X-Request-ID of the API call that failed before the error; `workflow-exporter trace <id>` shows the "
            "call's API log lines and SQL statements.",
            "cps",
            target(
                f"sum by (route) ({rate(events, ERROR, *route)})\nor on() {zero('route')}",
                "{{route}}",
                exemplar=True,
            ),
            width=12,
        ),
        graph(
            "Errors per page load",
            "Errors divided by full page loads (one TTFB report each) per route. JourneyFrontendErrorRateHigh fires "
            "above 5 %.",
            "percentunit",
            target(
                f"sum by (route) ({rate(events, ERROR, *route)})\n"
                f"/\nclamp_min(sum by (route) ({rate(vitals + '_count', TTFB, *route)}), {TINY})\n"
                f"or\nsum by (route) ({rate(vitals + '_count', TTFB, *route)}) * 0",
                "{{route}}",
            ),
            width=12,
        ),
    )
    board.row("Core Web Vitals, 75th percentile")
    board.add(
        graph(
            "LCP p75 by route",
            "Largest Contentful Paint: when the page's main content has painted. Good up to 2.5 s, poor above 4 s "
            "(JourneyFrontendLCPOverThreshold).",
            "s",
            target(quantile(0.75, vitals, "route", 'name="LCP"', *route), "{{route}}"),
            width=8,
        ),
        graph(
            "INP p75 by route",
            "Interaction to Next Paint: from a click or key to the next frame. Good up to 200 ms, poor above 500 ms "
            "(JourneyFrontendINPOverThreshold): a busy main thread.",
            "s",
            target(quantile(0.75, vitals, "route", 'name="INP"', *route), "{{route}}"),
            width=8,
        ),
        graph(
            "CLS p75 by route",
            "Cumulative Layout Shift: how much the page jumps while it loads. Good up to 0.1, poor above 0.25.",
            "none",
            target(quantile(0.75, "django_frontend_web_vitals_score", "route", 'name="CLS"', *route), "{{route}}"),
            width=8,
        ),
    )
    board.add(
        graph(
            "TTFB and FCP p75 by route",
            "Time to First Byte (the server: for a server-rendered page, its API calls) and First Contentful Paint. "
            "A high LCP with a low TTFB is the page's own work; with a high TTFB, the server's.",
            "s",
            target(quantile(0.75, vitals, "route", 'name="TTFB"', *route), "{{route}} TTFB"),
            target(quantile(0.75, vitals, "route", 'name="FCP"', *route), "{{route}} FCP", ref="B"),
            width=12,
        ),
        graph(
            "Reports by vital",
            "Vitals reported per second, by name: page loads report TTFB, FCP and LCP; INP and CLS come when the "
            "page is hidden or left.",
            "cps",
            target(f"sum by (name) ({rate(vitals + '_count', *route)})", "{{name}}"),
            width=12,
            stacked=True,
        ),
    )
    board.row("Beacons")
    board.add(
        graph(
            "Events by level",
            "Events the pages posted to /client-logs per second, by level: errors, and the info events of vitals, "
            "navigation timing and data-track clicks.",
            "cps",
            target(f"sum by (level) ({rate(events, *route)})", "{{level}}"),
            width=12,
            stacked=True,
        ),
        graph(
            "Refused beacons by reason",
            "Batches /client-logs refused: origin (a page of an origin the API does not trust), too_large, invalid, "
            "rate_limited. Origin refusals from your own frontend mean its origin is missing from "
            "CORS_ALLOWED_ORIGINS (or CLIENT_LOGS_ALLOWED_ORIGINS).",
            "cps",
            target(
                f"sum by (reason) ({rate('django_frontend_beacons_refused_total')})\nor on() {zero('reason')}",
                "{{reason}}",
            ),
            width=12,
            stacked=True,
        ),
    )
    return board.build()
