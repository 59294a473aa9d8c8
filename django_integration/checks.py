"""System checks: the middleware is installed, in the right place, and the settings make sense."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import settings_problems

MIDDLEWARE_PATH = "django_integration.middleware.RequestMonitoringMiddleware"
# These may sit before ours: they only observe or redirect and do not touch the database.
MAY_PRECEDE = frozenset(
    {
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        "django.middleware.security.SecurityMiddleware",
    }
)


@register(Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [
            Warning(
                f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: no correlation IDs, request metrics or request logs.",
                hint=f"Add {MIDDLEWARE_PATH!r} as the first entry of MIDDLEWARE.",
                id="django_integration.W001",
            )
        ]
    before = [entry for entry in middleware[: middleware.index(MIDDLEWARE_PATH)] if entry not in MAY_PRECEDE]
    if before:
        return [
            Error(
                f"{MIDDLEWARE_PATH} must come before {', '.join(before)} in MIDDLEWARE, or the time, queries, "
                "log lines and errors of those middlewares miss the correlation ID.",
                hint=f"Move {MIDDLEWARE_PATH!r} to the top of MIDDLEWARE.",
                id="django_integration.E001",
            )
        ]
    return []


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="django_integration.E002") for problem in settings_problems()]
