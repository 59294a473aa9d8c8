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
        # A warning, not an error: the app works, only those middlewares' share lacks the ID. An error blocked
        # migrate and every other command for a project that put CorsMiddleware first, as its own docs suggest.
        return [
            Warning(
                f"{MIDDLEWARE_PATH} must come before {', '.join(before)} in MIDDLEWARE, or the time, queries, "
                "log lines and errors of those middlewares miss the correlation ID.",
                hint=f"Move {MIDDLEWARE_PATH!r} to the top of MIDDLEWARE.",
                id="django_integration.W002",
            )
        ]
    return []


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="django_integration.E002") for problem in settings_problems()]


CORS_MIDDLEWARE_PATH = "corsheaders.middleware.CorsMiddleware"
CORRELATION_REQUEST_HEADERS = ("x-request-id", "traceparent")


@register(Tags.compatibility)
def check_cors_headers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With django-cors-headers installed, a frontend on another origin must be allowed to send the correlation
    headers (or its fetch fails the preflight) and to read ``X-Request-ID`` (or it cannot report the failed
    call's ID)."""
    if "corsheaders" not in (getattr(settings, "INSTALLED_APPS", None) or ()):
        return []
    try:
        from corsheaders.defaults import default_headers
    except ImportError:  # listed but not installed: Django reports that itself
        return []
    messages: list[CheckMessage] = []
    allowed = {str(name).lower() for name in getattr(settings, "CORS_ALLOW_HEADERS", default_headers)}
    missing = [name for name in CORRELATION_REQUEST_HEADERS if name not in allowed]
    if missing:
        messages.append(
            Warning(
                f"CORS_ALLOW_HEADERS lacks {', '.join(missing)}: a browser fetch from another origin that sends the "
                "correlation headers fails its CORS preflight.",
                hint='CORS_ALLOW_HEADERS = (*corsheaders.defaults.default_headers, "x-request-id", "traceparent")',
                id="django_integration.W003",
            )
        )
    exposed = {str(name).lower() for name in getattr(settings, "CORS_EXPOSE_HEADERS", ())}
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    ours_outside = (
        MIDDLEWARE_PATH in middleware
        and CORS_MIDDLEWARE_PATH in middleware
        and middleware.index(MIDDLEWARE_PATH) < middleware.index(CORS_MIDDLEWARE_PATH)
    )
    # Outside CorsMiddleware, our middleware appends X-Request-ID to Access-Control-Expose-Headers itself.
    if "x-request-id" not in exposed and not ours_outside:
        messages.append(
            Warning(
                "X-Request-ID is not exposed to other origins: a frontend cannot read the ID of a failed API call.",
                hint=f'Add "X-Request-ID" to CORS_EXPOSE_HEADERS, or put {MIDDLEWARE_PATH!r} above CorsMiddleware.',
                id="django_integration.W004",
            )
        )
    return messages
