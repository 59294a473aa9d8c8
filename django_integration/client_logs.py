"""The frontend log beacon: its batch format, validation, rate limit, who may post it across origins, how
events become log lines, and the frontend metrics they feed.

An event is ``{"level", "message"}`` plus, optionally, ``route`` (the Next.js route template the page was on),
``correlation_id`` (the ``X-Request-ID`` of the API call that failed), ``timestamp``, ``timing`` (navigation
timing in ms), ``kind`` (``log``, ``error``, ``vital``, ``navigation``, ``interaction``), ``error_class``,
``stack``, ``element`` (the ``data-track`` name of a clicked element) and ``vital``
(``{"name": "LCP"|"INP"|"CLS"|"TTFB"|"FCP", "value": ms or score, "rating"}``).

Metrics: every accepted event counts in ``django_frontend_events_total{level, route}``; a vital is observed in
``django_frontend_web_vitals_seconds{name, route}`` (LCP, INP, FCP, TTFB) or ``..._score`` (CLS). ``route``
is a label only when it is a route template (``/products/[id]``, never ``/products/42``) and one of the first
``FRONTEND_MAX_ROUTES`` seen (or in ``FRONTEND_ROUTES`` when that is set); anything else is ``<other>``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ._failopen import guard
from .conf import app_settings
from .correlation import get_correlation_id, is_valid_id

frontend_logger = logging.getLogger("django_integration.frontend")

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

KINDS = ("log", "error", "vital", "navigation", "interaction")
# Web Vitals the browser reports in milliseconds (observed in seconds) and the unitless one.
VITALS_SECONDS = ("LCP", "INP", "FCP", "TTFB")
VITALS_SCORE = ("CLS",)
OTHER_ROUTE = "<other>"
# The level label: "warn" and "warning" are one level.
LEVEL_LABELS = {"debug": "debug", "info": "info", "warn": "warning", "warning": "warning", "error": "error"}

# jsonschema matches patterns with Python's re, where "$" also matches before a final newline; the "(?!\n)"
# after it keeps the ECMA-262 meaning (end of string), so "abcd1234\n" is refused as the schema intends.
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["level", "message"],
    "additionalProperties": False,
    "properties": {
        "level": {"enum": sorted(LEVELS)},
        "message": {"type": "string", "maxLength": 2000},
        "route": {"type": "string", "maxLength": 200},
        "correlation_id": {"type": "string", "pattern": r"^[A-Za-z0-9\-_.:]{8,128}$(?!\n)"},
        "timestamp": {"type": "string", "maxLength": 40},
        "timing": {
            "type": "object",
            "maxProperties": 20,
            "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,39}$(?!\n)"},
            "additionalProperties": {"type": "number", "minimum": 0, "maximum": 3_600_000},
        },
        "kind": {"enum": list(KINDS)},
        "error_class": {"type": "string", "maxLength": 100},
        "stack": {"type": "string", "maxLength": 4000},
        "element": {"type": "string", "maxLength": 100},
        "vital": {
            "type": "object",
            "required": ["name", "value"],
            "additionalProperties": False,
            "properties": {
                "name": {"enum": [*VITALS_SECONDS, *VITALS_SCORE]},
                "value": {"type": "number", "minimum": 0, "maximum": 3_600_000},
                "rating": {"enum": ["good", "needs-improvement", "poor"]},
            },
        },
    },
    # A vital event carries its measurement.
    "if": {"required": ["kind"], "properties": {"kind": {"const": "vital"}}},
    "then": {"required": ["vital"]},
}
BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "additionalProperties": False,
    "properties": {"events": {"type": "array", "minItems": 1, "items": EVENT_SCHEMA}},
}
_validator = Draft202012Validator(BATCH_SCHEMA)


class ClientLogError(ValueError):
    """A batch we refuse, with the reason the sender needs to fix it."""


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; NaN passes "minimum"/"maximum" and would make the log line invalid JSON.
    raise ValueError(f"{name} is not a JSON number")


def parse_batch(body: bytes, max_events: int) -> list[dict[str, Any]]:
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:  # "[[[[..." nested deeper than the interpreter's recursion limit
        raise ClientLogError("body is not JSON: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ClientLogError(f"body is not JSON: {error}") from None
    if isinstance(data, dict) and isinstance(data.get("events"), list) and len(data["events"]) > max_events:
        raise ClientLogError(f"batch has {len(data['events'])} events; at most {max_events} are accepted")
    problem = best_match(_validator.iter_errors(data))
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "(batch)"
        raise ClientLogError(f"{where}: {problem.message}")
    events: list[dict[str, Any]] = data["events"]
    return events


def write_events(events: list[dict[str, Any]]) -> None:
    """One ``layer=frontend`` log line per event, under the event's own correlation ID when it sent one."""
    for event in events:
        correlation_id = event.get("correlation_id")
        if not (correlation_id and is_valid_id(correlation_id)):
            correlation_id = get_correlation_id()
        extra: dict[str, Any] = {"layer": "frontend", "correlation_id": correlation_id}
        if "route" in event:
            extra["route"] = event["route"]
        if "timing" in event:
            extra["timing_ms"] = event["timing"]
        if "timestamp" in event:
            extra["client_timestamp"] = event["timestamp"]
        for key in ("kind", "error_class", "stack", "element", "vital"):
            if key in event:
                extra[key] = event[key]
        frontend_logger.log(LEVELS[event["level"]], "%s", event["message"], extra=extra)
    with guard("frontend_metrics"):
        record_metrics(events)


# --- frontend metrics ------------------------------------------------------------------------------------------

# A route template as Next.js' app router writes it: literal segments in lower case, [param], [...param],
# [[...param]], (group) and @slot. A literal with four digits in a row, or a long run of hex, is an ID, not a
# template ("/orders/order-12345", "/t/3f2a9c0b7d1e4f5a").
_DYNAMIC_SEGMENT = r"\[(?:\.\.\.)?[A-Za-z_][A-Za-z0-9_]{0,39}\]|\[\[\.\.\.[A-Za-z_][A-Za-z0-9_]{0,39}\]\]"
_LITERAL_SEGMENT = r"[a-z][a-z0-9_-]{0,39}|\([a-z0-9_-]{1,40}\)|@[a-z][a-z0-9_-]{0,39}"
_SEGMENT = re.compile(f"(?:{_DYNAMIC_SEGMENT}|{_LITERAL_SEGMENT})")
_ID_LIKE = re.compile(r"\d{4}|^(?=.*\d)[0-9a-f-]{16,}$")
MAX_ROUTE_SEGMENTS = 12


def is_route_template(route: str) -> bool:
    """Whether ``route`` is a route template (``/``, ``/products/[id]``), not a path with values in it."""
    if route == "/":
        return True
    if not route.startswith("/") or len(route) > 200:
        return False
    segments = route[1:].split("/")
    if len(segments) > MAX_ROUTE_SEGMENTS:
        return False
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            return False
        if not segment.startswith("[") and _ID_LIKE.search(segment):
            return False
    return True


class RouteLabels:
    """Route label values: templates only, at most ``max_routes`` distinct ones (first come), else ``<other>``."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, route: Any, max_routes: int, allowed: Iterable[str] = ()) -> str:
        allowed = frozenset(allowed)
        if not isinstance(route, str) or not is_route_template(route):
            return OTHER_ROUTE
        if allowed:
            return route if route in allowed else OTHER_ROUTE
        with self._lock:
            if route in self._seen:
                return route
            if len(self._seen) >= max_routes:
                return OTHER_ROUTE
            self._seen.add(route)
            return route

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


route_labels = RouteLabels()


def record_metrics(events: list[dict[str, Any]], metrics: Any = None, routes: RouteLabels | None = None) -> None:
    """Count each event and observe each vital, under bounded labels (see the module docstring)."""
    from .metrics import exemplar, get_metrics

    metrics = metrics or get_metrics()
    routes = routes or route_labels
    max_routes, allowed = app_settings.frontend_max_routes, app_settings.frontend_routes
    for event in events:
        route = routes.label(event.get("route"), max_routes, allowed)
        correlation_id = event.get("correlation_id")
        ids = exemplar(correlation_id) if correlation_id and is_valid_id(correlation_id) else None
        metrics.frontend_events.labels(LEVEL_LABELS[event["level"]], route).inc(exemplar=ids)
        vital = event.get("vital")
        if vital is not None:
            name, value = vital["name"], float(vital["value"])
            if name in VITALS_SCORE:
                metrics.frontend_vitals_score.labels(name, route).observe(value)
            else:
                metrics.frontend_vitals_seconds.labels(name, route).observe(value / 1000.0)


# --- cross-origin pages ----------------------------------------------------------------------------------------

# What a page's fetch to /client-logs may send: JSON, and the correlation headers of the package's fetch wrapper.
BEACON_ALLOWED_HEADERS = ("content-type", "x-request-id", "traceparent")
PREFLIGHT_MAX_AGE = 86400


def _cors_headers_installed() -> bool:
    return "corsheaders" in getattr(django_settings, "INSTALLED_APPS", ())


def origin_trusted(origin: str) -> bool:
    """Whether pages of ``origin`` may post batches: ``CLIENT_LOGS_ALLOWED_ORIGINS`` when set, else the
    origins django-cors-headers allows (``CORS_ALLOW_ALL_ORIGINS``, ``CORS_ALLOWED_ORIGINS``,
    ``CORS_ALLOWED_ORIGIN_REGEXES`` and their older names), else none."""
    own = app_settings.client_logs_allowed_origins
    if own is not None:
        return "*" in own or origin in own
    if not _cors_headers_installed():
        return False
    config = django_settings
    if getattr(config, "CORS_ALLOW_ALL_ORIGINS", getattr(config, "CORS_ORIGIN_ALLOW_ALL", False)):
        return True
    listed = getattr(config, "CORS_ALLOWED_ORIGINS", None) or getattr(config, "CORS_ORIGIN_WHITELIST", ()) or ()
    if origin in {str(item).rstrip("/") for item in listed}:
        return True
    patterns = getattr(config, "CORS_ALLOWED_ORIGIN_REGEXES", None) or getattr(
        config, "CORS_ORIGIN_REGEX_WHITELIST", ()
    )
    return any(re.match(pattern, origin) for pattern in patterns or ())


def _same_origin(request: HttpRequest, origin: str) -> bool:
    try:
        return origin == f"{request.scheme}://{request.get_host()}"
    except Exception:  # DisallowedHost: not ours to judge here; the origin is then not the request's own
        return False


_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])
_REFUSALS = {413: "too_large", 400: "invalid", 429: "rate_limited", 403: "origin"}


def beacon_cors(view: _View) -> _View:
    """CORS for ``/client-logs``: preflights and posts from trusted origins get ``Access-Control-Allow-Origin``;
    an untrusted origin gets 403 (browsers always send ``Origin`` on a cross-origin ``POST``, beacons too).
    A request without ``Origin`` (a server, curl) or from the page's own origin is not cross-origin."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        origin = request.headers.get("Origin")
        cross = bool(origin) and not _same_origin(request, origin or "")
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        if cross and not origin_trusted(origin or ""):
            if preflight or request.method == "POST":
                _count_refusal(403)
                shown = (origin or "")[:200]
                message = f"origin {shown!r} may not post log batches here (CLIENT_LOGS_ALLOWED_ORIGINS)"
                return JsonResponse({"error": message}, status=403)
            return view(request, *args, **kwargs)
        response: HttpResponseBase
        if preflight and cross:
            response = _preflight_response()
        else:
            response = view(request, *args, **kwargs)
            _count_refusal(response.status_code)
        if cross:
            response["Access-Control-Allow-Origin"] = origin or ""
            response["Access-Control-Allow-Credentials"] = "true"
            _vary_origin(response)
        return response

    return wrapped  # type: ignore[return-value]


def _preflight_response() -> HttpResponseBase:
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = ", ".join(BEACON_ALLOWED_HEADERS)
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response


def _vary_origin(response: HttpResponseBase) -> None:
    existing = [value.strip() for value in response.get("Vary", "").split(",") if value.strip()]
    if "origin" not in {value.lower() for value in existing}:
        response["Vary"] = ", ".join([*existing, "Origin"])


def _count_refusal(status: int) -> None:
    reason = _REFUSALS.get(status)
    if reason is None:
        return
    with guard("frontend_metrics"):
        from .metrics import get_metrics

        get_metrics().frontend_beacons_refused.labels(reason).inc()


class RateLimiter:
    """A token bucket per client address; remembers at most ``max_clients`` addresses."""

    def __init__(self, max_clients: int = 10_000) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_clients = max_clients

    def allow(self, key: str, per_minute: int, now: float | None = None) -> bool:
        current = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(per_minute), current))
            tokens = min(float(per_minute), tokens + (current - last) * per_minute / 60.0)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, current)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
            return allowed
