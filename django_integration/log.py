"""JSON logs with the correlation ID on every line, Django's own loggers included, secrets redacted.

``LOGGING = logging_config()`` in settings gives: one JSON object per line on stdout with ``timestamp``
(UTC ISO 8601), ``level``, ``logger``, ``message``, ``correlation_id``, ``layer`` and what the record
carries (``route``, ``method``, ``status``, ``duration_ms``, ``db_queries``, ``db_ms``, ``error_class``,
``synthetic``...). ``logging_config(file="/var/log/shop/app.log")`` writes to a file through a
``WatchedFileHandler``: logrotate moves the file, the handler reopens it, and no line is lost even with
several gunicorn workers writing (a RotatingFileHandler per worker would rotate under the others' feet).

A logging call never raises and never loses its line: every value is made JSON-safe, bounded and redacted
(``_jsonsafe``, ``_redact``), and if formatting fails anyway the line is still written, with what could be
saved and a ``log_error`` field, and counted in ``django_integration_internal_errors_total{component=
"log_format"}``.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from ._failopen import count
from ._jsonsafe import JsonSafe, cut, float_value, int_value, is_empty, key_text, safe_text
from ._redact import REDACTED, is_secret_key, redact, redact_text
from .correlation import REQUEST_ID_HEADER, current_request, is_valid_id

__all__ = [
    "REDACTED",
    "CorrelationFilter",
    "JsonFormatter",
    "is_secret_key",
    "logging_config",
    "redact",
    "redact_text",
]

# Set by the logging machinery from code, never from outside: written as they are.
_MACHINE_ORDER = ("timestamp", "level", "logger")  # the line's own; a caller's extra of these names is extra_<name>
_MACHINE_FIELDS = frozenset(_MACHINE_ORDER)
_FIRST_FIELDS = ("timestamp", "level", "logger", "message", "correlation_id", "layer")
_SAFE_INT = 1 << 53
_LOST_LINE = '{"level": "ERROR", "logger": "django_integration", "message": "a log line could not be formatted"}'


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
                if record.name == "django.server" and record.correlation_id is None:  # type: ignore[attr-defined]
                    record.correlation_id = _runserver_response_id()
            if not getattr(record, "layer", None):
                record.layer = "db" if record.name.startswith(("django.db", "django_integration.db")) else self.layer
            # Django's own records (django.request, django.server) say status_code; the contract field is status.
            status = getattr(record, "status_code", None)
            if status.__class__ is int and not hasattr(record, "status"):
                record.status = status
        except Exception:  # a log filter must never stop a line
            pass
        return True


def _runserver_response_id() -> str | None:
    """The ``X-Request-ID`` of the response ``runserver`` is logging, from the wsgiref handler that sends it.

    ``runserver`` writes its ``django.server`` line from ``ServerHandler.close()``, after our middleware is done
    and its context is gone; the response headers it sent are still on that handler, a few frames up.
    A line logged before any response (a malformed request) finds none.
    """
    from wsgiref.handlers import BaseHandler

    frame: FrameType | None = sys._getframe(2)
    for _ in range(16):
        if frame is None:
            return None
        handler = frame.f_locals.get("self")
        if isinstance(handler, BaseHandler):
            headers = getattr(handler, "headers", None)
            value = headers.get(REQUEST_ID_HEADER) if headers is not None else None
            return value if isinstance(value, str) and is_valid_id(value) else None
        frame = frame.f_back
    return None


class JsonFormatter(_BaseJsonFormatter):
    """python-json-logger with the project's field names, values made JSON-safe and redacted; never raises."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("reserved_attrs", _RESERVED)
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)
        self._encoder = json.JSONEncoder(ensure_ascii=self.json_ensure_ascii, allow_nan=False, check_circular=False)
        self._encode = _reused_encoder(self._encoder)
        # python-json-logger's add_fields at our settings is "the three fields, renamed, then every attribute of the
        # record it does not reserve": done in one loop when nothing (options, a subclass) makes it more than that.
        self._plain_fields = (
            self._required_fields == ["levelname", "name", "message"]
            and self.rename_fields == {"levelname": "level", "name": "logger"}
            and not (self.defaults or self.static_fields or self.timestamp or self.rename_fields_keep_missing)
            and type(self).add_fields is JsonFormatter.add_fields
        )

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line; if anything fails, still one JSON line (see :meth:`fallback_line`), counted once."""
        try:
            return self._format(record)
        except Exception as error:
            try:
                _count_once(record)
                return self.fallback_line(record, error)
            except Exception:  # RecursionError again, say: a constant line rather than none
                return _LOST_LINE

    def _format(self, record: logging.LogRecord) -> str:
        # python-json-logger's format(), with the values made safe before they are encoded.
        message_dict: dict[str, Any] = {}
        if isinstance(record.msg, dict):
            message_dict = record.msg.copy()
            record.message = ""
        else:
            record.message = record.getMessage()
        if record.exc_info and not message_dict.get("exc_info"):
            message_dict["exc_info"] = self.formatException(record.exc_info)
        if not message_dict.get("exc_info") and record.exc_text:
            message_dict["exc_info"] = record.exc_text
        if record.stack_info and not message_dict.get("stack_info"):
            message_dict["stack_info"] = self.formatStack(record.stack_info)
        log_data: dict[str, Any] | None = None
        if self._plain_fields and not message_dict and record.name != "django.server":
            log_data = self._record_fields(record)
        if log_data is None:
            log_data = {}
            self.add_fields(log_data, record, message_dict)
        safe, failures = self._json_safe(log_data)
        if failures:
            _count_once(record)
        return self.prefix + self._encode(safe)

    def _record_fields(self, record: logging.LogRecord) -> dict[str, Any] | None:
        """What :meth:`add_fields` gives for a record without a dict message, exception or stack (same fields, same
        order), in one loop; None for a record it cannot say that of (a key that is not a string)."""
        attributes = record.__dict__
        log_data = {
            "level": attributes.get("levelname"),
            "logger": attributes.get("name"),
            "message": attributes.get("message"),
        }
        skip = self._skip_fields
        for key, value in attributes.items():
            if key in skip:
                continue
            if key.__class__ is not str:
                return None
            if key in _MACHINE_FIELDS:
                continue
            if not key.startswith("_"):
                log_data[key] = value
        for key in _MACHINE_ORDER:  # a caller's extra named like a fixed field: kept beside it, redacted
            if key in attributes:
                log_data[f"extra_{key}"] = attributes[key]
        log_data["timestamp"] = _timestamp(record)
        return log_data

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        attributes = record.__dict__
        for key in _MACHINE_ORDER:  # a caller's extra named like a fixed field: kept beside it, redacted
            if key in attributes:
                log_data.pop(key, None)
                log_data[f"extra_{key}"] = attributes[key]
        log_data["level"] = attributes.get("levelname")
        log_data["logger"] = attributes.get("name")
        log_data["timestamp"] = _timestamp(record)
        if record.name == "django.server":
            # runserver's records carry its socket and a local-time string: nothing the line does not say better.
            log_data.pop("request", None)
            log_data.pop("server_time", None)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Every value JSON-safe, bounded and redacted; the fixed fields first (easier to read with the eyes)."""
        return self._json_safe(log_data)[0]

    def _json_safe(self, log_data: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """``(fields, failures)``: the fields made safe, and how many values could not become text at all."""
        converter: JsonSafe | None = None
        out: dict[str, Any] = {}
        for key, value in log_data.items():
            if key.__class__ is not str:
                key = key_text(key)
                if key in out:
                    key = f"{key} (not a string)"
            if key in _MACHINE_FIELDS:
                out[key] = value if value.__class__ is str else str(value)
                continue
            cls = value.__class__
            if key == "correlation_id" and cls is str and is_valid_id(value):
                out[key] = value  # validated at the door, echoed to the client: kept verbatim so lines join
                continue
            if is_secret_key(key) and not is_empty(value):
                out[key] = REDACTED
                continue
            if cls is str:
                out[key] = redact_text(cut(value))
            elif value is None or cls is bool:
                out[key] = value
            elif cls is int:
                out[key] = value if -_SAFE_INT < value < _SAFE_INT else int_value(value)
            elif cls is float:
                out[key] = float_value(value)
            else:
                if converter is None:
                    converter = JsonSafe()
                out[key] = converter.value(value)
        ordered = {**{key: out[key] for key in _FIRST_FIELDS if key in out}, **out}
        return ordered, converter.failures if converter is not None else 0

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """Plain JSON types only by now; NaN and cycles are refused rather than written as invalid JSON."""
        return self._encoder.encode(log_data)

    def fallback_line(self, record: logging.LogRecord, error: BaseException) -> str:
        """What can be saved of a record whose formatting failed, as one JSON line with ``log_error``."""
        try:
            try:
                message = record.getMessage()
            except Exception:
                message = safe_text(record.msg)[0]
            data: dict[str, Any] = {
                "timestamp": _timestamp(record),
                "level": str(record.levelname),
                "logger": str(record.name),
                "message": redact_text(cut(message)),
                "correlation_id": _plain_id(getattr(record, "correlation_id", None)),
                "layer": _short_text(getattr(record, "layer", None)),
            }
            if record.args:
                data["log_args"] = redact_text(cut(safe_text(record.args)[0], 4096))
            data["log_error"] = redact_text(cut(f"{type(error).__name__}: {safe_text(error)[0]}", 1000))
            return json.dumps(data)
        except Exception:  # even that: a constant line rather than none
            return _LOST_LINE


# The text of the last second formatted: lines come many per second, strftime and gmtime cost ~1 µs.
_last_second: tuple[int, str] = (-1, "")


def _reused_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode`` for a dict, without making a new C encoder on every call (what ``encode`` does).

    The C encoder is made with the arguments ``JSONEncoder.iterencode`` passes it, so the text is the same; without
    it (another Python), ``encoder.encode`` itself.
    """
    from json import encoder as json_encoder

    c_make_encoder = getattr(json_encoder, "c_make_encoder", None)  # the C accelerator; not in typeshed
    encode_basestring = json_encoder.encode_basestring
    encode_basestring_ascii = json_encoder.encode_basestring_ascii
    if c_make_encoder is None or encoder.indent is not None or encoder.check_circular:
        return encoder.encode
    make = c_make_encoder(
        None,
        encoder.default,
        encode_basestring_ascii if encoder.ensure_ascii else encode_basestring,
        None,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    join = "".join

    def encode(data: Any) -> str:
        if data.__class__ is not dict:
            return encoder.encode(data)
        return join(make(data, 0))

    return encode


def _timestamp(record: logging.LogRecord) -> str:
    global _last_second
    second = int(record.created)
    cached = _last_second  # one read: another thread may replace it, never half of it
    if cached[0] != second:
        cached = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int(record.msecs):03d}Z"


def _plain_id(value: Any) -> str | None:
    return value if isinstance(value, str) and is_valid_id(value) else None


def _short_text(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= 32 else None


def _count_once(record: logging.LogRecord) -> None:
    """Count a formatting failure once per record, however many of our handlers format it."""
    if not record.__dict__.get("_django_integration_format_failed"):
        record.__dict__["_django_integration_format_failed"] = True  # "_" names are not written as fields
        count("log_format")


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
    base: Mapping[str, Any] | None = None,
    mail_admins: bool = True,
) -> dict[str, Any]:
    """A ``LOGGING`` dict: JSON lines with the correlation ID, added to Django's defaults or to your own config.

    - JSON lines go to stdout (``stream="stderr"``, or ``file=`` through a ``WatchedFileHandler``) from the root
      logger, so every logger that propagates (Django's included) writes them, at ``level``.
    - ``base``: your existing ``LOGGING`` dict, merged rather than replaced (it is not modified): its filters,
      formatters, handlers and loggers stay; our JSON handler joins its root handlers; our correlation filter
      goes on each of its handlers too, so ``%(correlation_id)s`` works in your own formats. A logger it
      configures (``django`` included) is left as it is. Names of ours that would clash with yours get a
      ``django_integration_`` prefix.
    - Django's defaults stay: ``mail_admins`` (``ADMINS`` get a mail for each 500 when ``DEBUG`` is off) stays on
      the ``django`` logger unless ``mail_admins=False``; Django's ``console`` handler (``DEBUG`` only) is
      replaced by the JSON lines, which say the same. ``django.server`` (``runserver``'s access lines) becomes
      one JSON line per request with the response's correlation ID and ``status``, no longer doubled.
    - ``loggers``: extra ``{"name": "LEVEL"}``.
    """
    config: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
    config.setdefault("version", 1)
    config.setdefault("disable_existing_loggers", False)
    filters: dict[str, Any] = config.setdefault("filters", {})
    formatters: dict[str, Any] = config.setdefault("formatters", {})
    handlers: dict[str, Any] = config.setdefault("handlers", {})
    logger_configs: dict[str, Any] = config.setdefault("loggers", {})

    theirs = list(handlers)
    filter_name = _free_name(filters, "correlation")
    formatter_name = _free_name(formatters, "json")
    handler_name = _free_name(handlers, "json")
    filters[filter_name] = {"()": "django_integration.log.CorrelationFilter", "layer": layer}
    formatters[formatter_name] = {"()": "django_integration.log.JsonFormatter"}
    handler: dict[str, Any]
    if file:
        handler = {"class": "logging.handlers.WatchedFileHandler", "filename": file, "encoding": "utf-8"}
    else:
        handler = {"class": "logging.StreamHandler", "stream": f"ext://sys.{stream}"}
    handler.update({"formatter": formatter_name, "filters": [filter_name]})
    handlers[handler_name] = handler
    for name in theirs:
        their_filters = handlers[name].setdefault("filters", [])
        if filter_name not in their_filters:
            their_filters.append(filter_name)

    root: dict[str, Any] = config.setdefault("root", {})
    root.setdefault("level", level)
    root["handlers"] = [*root.get("handlers", []), handler_name]

    if "django" not in logger_configs:
        # Django's loggers propagate to the root (our JSON lines); of Django's own handlers only mail_admins stays.
        django_handlers = [_mail_admins(handlers, filters)] if mail_admins else []
        logger_configs["django"] = {"handlers": django_handlers, "level": level, "propagate": True}
    if "django.server" not in logger_configs:
        logger_configs["django.server"] = {"handlers": [handler_name], "level": "INFO", "propagate": False}
    for name, logger_level in (loggers or {}).items():
        logger_configs.setdefault(name, {})["level"] = logger_level
    return config


def _free_name(taken: Mapping[str, Any], name: str) -> str:
    return name if name not in taken else f"django_integration_{name}"


def _mail_admins(handlers: dict[str, Any], filters: dict[str, Any]) -> str:
    """Django's default ``mail_admins`` handler, unless the config already has one by that name."""
    if "mail_admins" not in handlers:
        filters.setdefault("require_debug_false", {"()": "django.utils.log.RequireDebugFalse"})
        handlers["mail_admins"] = {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "()": "django_integration.log.admin_email_handler",
        }
    return "mail_admins"


def admin_email_handler() -> logging.Handler:
    """Django's ``AdminEmailHandler``; a ``NullHandler`` in a process without Django settings (the exporter's
    command line uses this config too, and ``AdminEmailHandler`` reads the settings when it is made)."""
    from django.conf import settings

    if not settings.configured:
        return logging.NullHandler()
    from django.utils.log import AdminEmailHandler

    return AdminEmailHandler()
