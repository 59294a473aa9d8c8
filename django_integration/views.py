"""The integration's endpoints: ``/metrics``, ``/healthz``, ``/readyz`` and the frontend's ``/client-logs``.

Methods: ``/metrics``, ``/healthz`` and ``/readyz`` answer ``GET`` and ``HEAD`` (load balancers and uptime
checkers use ``HEAD``); ``/client-logs`` answers ``POST``. Every endpoint answers ``OPTIONS`` with its ``Allow``
header, and any other method with 405 and the same ``Allow`` header.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial, wraps
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.log import log_response
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.django import PrometheusDjangoView

from .client_logs import ClientLogError, RateLimiter, beacon_cors, parse_batch, write_events
from .conf import app_settings

logger = logging.getLogger("django_integration")

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def allow_methods(*methods: str) -> Callable[[_View], _View]:
    """Serve only ``methods``; answer ``OPTIONS`` with ``Allow``, anything else with 405 and ``Allow``."""
    allowed = [*methods, "OPTIONS"]

    def decorator(view: _View) -> _View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "OPTIONS":
                return _options(allowed)
            if request.method not in methods:
                response = HttpResponseNotAllowed(allowed)
                log_response(
                    "Method Not Allowed (%s): %s", request.method, request.path, response=response, request=request
                )
                return response
            return view(request, *args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorator


def _options(allowed: list[str]) -> HttpResponse:
    response = HttpResponse(status=200)
    response["Allow"] = ", ".join(allowed)
    response["Content-Length"] = "0"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class MetricsView(PrometheusDjangoView):
    """The global registry (ours and django-prometheus'), in OpenMetrics when the scraper asks for it.

    Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR`` the workers' files are merged instead; exemplars are
    not kept in that mode (prometheus-client cannot store them across processes).
    """

    http_method_names = ["get", "head", "options"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = _metrics_refusal(request)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _options(["GET", "HEAD", "OPTIONS"])


def _metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    networks = app_settings.metrics_allowed_networks
    if networks:
        try:
            address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
            allowed = any(address in ipaddress.ip_network(net, strict=False) for net in networks)
        except ValueError:
            allowed = False
        if not allowed:
            return HttpResponse("metrics are not served to this address\n", status=403, content_type="text/plain")
    token = app_settings.metrics_bearer_token
    if token:
        supplied = request.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
            response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return None


@csrf_exempt  # read-only: so that a wrong method gets 405 and Allow rather than a CSRF 403
@allow_methods("GET", "HEAD")
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Nothing else is checked, so a database outage does not restart it."""
    return JsonResponse({"status": "ok"})


_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _run_with_timeout(check: Callable[[], Any], timeout: float) -> Any:
    return _pool.submit(check).result(timeout=timeout)


def _database_reachable(alias: str) -> None:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connections[alias].close()  # this runs in a pool thread: do not leave its connection open


def _unapplied_migrations(alias: str) -> list[str]:
    try:
        connection = connections[alias]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
    finally:
        connections[alias].close()


@csrf_exempt
@allow_methods("GET", "HEAD")
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers within the timeout and every migration is applied; else 503."""
    timeout = app_settings.readiness_db_timeout_seconds
    checks: dict[str, dict[str, Any]] = {}
    for alias in connections:
        started = time.perf_counter()
        try:
            _run_with_timeout(partial(_database_reachable, alias), timeout)
            checks[f"database:{alias}"] = {"ok": True, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
        except FutureTimeout:
            checks[f"database:{alias}"] = {"ok": False, "error": f"no answer within {timeout:g}s"}
        except Exception as error:
            checks[f"database:{alias}"] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    if checks[f"database:{DEFAULT_DB_ALIAS}"]["ok"]:
        try:
            pending = _run_with_timeout(lambda: _unapplied_migrations(DEFAULT_DB_ALIAS), timeout)
            checks["migrations"] = {"ok": not pending, "unapplied": pending}
        except Exception as error:
            checks["migrations"] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


_limiter = RateLimiter()
_limiter_lock = threading.Lock()


@csrf_exempt  # a beacon from the browser (navigator.sendBeacon) carries no CSRF token; it changes no state
@beacon_cors  # preflights and posts from the trusted frontend origins; 403 for other origins
@allow_methods("POST")
def client_logs(request: HttpRequest) -> JsonResponse:
    """The frontend's log beacon: a JSON batch of events written as ``layer=frontend`` log lines."""
    settings = app_settings
    client = request.META.get("REMOTE_ADDR", "unknown")
    if not _limiter.allow(client, settings.client_logs_rate_per_minute):
        return JsonResponse({"error": "too many log batches from this address; slow down"}, status=429)
    length = request.headers.get("Content-Length")
    # isascii: str.isdigit() is also true for "²", which int() refuses.
    if length and length.isascii() and length.isdigit() and int(length) > settings.client_logs_max_bytes:
        return JsonResponse({"error": f"batch larger than {settings.client_logs_max_bytes} bytes"}, status=413)
    body = request.body
    if len(body) > settings.client_logs_max_bytes:
        return JsonResponse({"error": f"batch larger than {settings.client_logs_max_bytes} bytes"}, status=413)
    try:
        events = parse_batch(body, settings.client_logs_max_events)
    except ClientLogError as error:
        return JsonResponse({"error": str(error)}, status=400)
    write_events(events)
    return JsonResponse({"accepted": len(events)}, status=202)
