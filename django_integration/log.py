"""JSON logs with the correlation ID on every line, Django's own loggers included, secrets redacted.

``LOGGING = logging_config()`` in settings gives: one JSON object per line on stdout with ``timestamp``
(UTC ISO 8601), ``level``, ``logger``, ``message``, ``correlation_id``, ``layer`` and what the record
carries (``route``, ``method``, ``status``, ``duration_ms``, ``db_queries``, ``db_ms``, ``error_class``,
``synthetic``...). ``logging_config(file="/var/log/shop/app.log")`` writes to a file through a
``WatchedFileHandler``: logrotate moves the file, the handler reopens it, and no line is lost even with
several gunicorn workers writing (a RotatingFileHandler per worker would rotate under the others' feet).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from .correlation import current_request

REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(
    r"(authorization|cookie|passw(or)?d|secret|token|api[-_]?key|csrf|session|refresh|access)", re.I
)
_SECRET_IN_TEXT = re.compile(
    r"(?P<key>\b(?:authorization|cookie|set-cookie|password|passwd|token|access|refresh|api[-_]?key|"
    r"secret|sessionid|csrftoken)\b[\"']?\s*[:=]\s*[\"']?)(?P<value>(?:bearer\s+|basic\s+)?[^\s,;&\"']+)",
    re.I,
)
_BEARER = re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*", re.I)


def redact_text(text: str) -> str:
    if "=" not in text and ":" not in text and " " not in text:
        return text  # nothing that can hold an inline credential; the common case for short values
    text = _SECRET_IN_TEXT.sub(lambda m: f"{m.group('key')}{REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


_secret_keys: dict[str, bool] = {}


def is_secret_key(key: str) -> bool:
    try:
        return _secret_keys[key]
    except KeyError:
        secret = bool(_SECRET_KEY.search(key)) and key not in _NOT_SECRET_KEYS
        if len(_secret_keys) < 10_000:  # keys come from code, but stay bounded anyway
            _secret_keys[key] = secret
        return secret


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secret-looking keys' values and inline credentials replaced."""
    if key and is_secret_key(key):
        return REDACTED if value not in (None, "", False) else value
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


# Our own fields whose names merely contain a secret-looking word.
_NOT_SECRET_KEYS = frozenset({"correlation_id", "db_queries", "db_ms", "duration_ms", "logger", "layer"})
# Fields whose values we set ourselves from bounded sources: nothing to redact in them.
_PLAIN_FIELDS = frozenset(
    {"timestamp", "level", "logger", "correlation_id", "layer", "route", "method", "status", "duration_ms",
     "db_queries", "db_ms", "error_class", "synthetic", "count", "db_alias", "workflow", "target", "reason"}
)  # fmt: skip


class CorrelationFilter(logging.Filter):
    """Adds ``correlation_id`` and ``layer`` to every record (put it on handlers, so Django's loggers get it)."""

    def __init__(self, name: str = "", layer: str = "api") -> None:
        super().__init__(name)
        self.layer = layer

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if not getattr(record, "correlation_id", None):
                state = current_request()
                # django.request logs 4xx/5xx after the middleware returned; its record carries the request.
                record.correlation_id = (
                    state.correlation_id if state else getattr(getattr(record, "request", None), "correlation_id", None)
                )
                if state is not None and not hasattr(record, "route") and state.route != "<unmatched>":
                    record.route = state.route
            if not getattr(record, "layer", None):
                record.layer = "db" if record.name.startswith(("django.db", "django_integration.db")) else self.layer
        except Exception:  # a log filter must never stop a line
            pass
        return True


class JsonFormatter(_BaseJsonFormatter):
    """python-json-logger with the project's field names and redaction of secrets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("reserved_attrs", _RESERVED)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + (
            f".{int(record.msecs):03d}Z"
        )
        for key, value in log_data.items():
            if key in _PLAIN_FIELDS or value is None or isinstance(value, (bool, int, float)):
                continue
            if is_secret_key(key):
                log_data[key] = REDACTED if value not in ("", False) else value
            elif isinstance(value, str):
                log_data[key] = redact_text(value)
            else:
                log_data[key] = redact(value)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # timestamp first, then the fixed fields, then the rest: easier to read with the eyes.
        order = ["timestamp", "level", "logger", "message", "correlation_id", "layer"]
        return {**{k: log_data[k] for k in order if k in log_data}, **log_data}


_RESERVED = [
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName", "levelno", "lineno", "module",
    "msecs", "msg", "pathname", "process", "processName", "relativeCreated", "stack_info", "thread",
    "threadName", "taskName",
]  # fmt: skip


def logging_config(
    level: str = "INFO",
    file: str | None = None,
    layer: str = "api",
    loggers: Mapping[str, str] | None = None,
    stream: str = "stdout",
) -> dict[str, Any]:
    """A ``LOGGING`` dict: JSON lines to stdout (or ``stream="stderr"``, or to ``file`` via WatchedFileHandler)."""
    handler: dict[str, Any]
    if file:
        handler = {"class": "logging.handlers.WatchedFileHandler", "filename": file, "encoding": "utf-8"}
    else:
        handler = {"class": "logging.StreamHandler", "stream": f"ext://sys.{stream}"}
    handler.update({"formatter": "json", "filters": ["correlation"]})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation": {"()": "django_integration.log.CorrelationFilter", "layer": layer}},
        "formatters": {"json": {"()": "django_integration.log.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            # Django's loggers propagate to the root; drop Django's own console handler so lines are not doubled.
            "django": {"handlers": [], "level": level, "propagate": True},
            **{name: {"level": lvl} for name, lvl in (loggers or {}).items()},
        },
    }
