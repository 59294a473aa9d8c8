"""The frontend log beacon's batch format, its validation, its rate limit and how events become log lines."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .correlation import get_correlation_id, is_valid_id

frontend_logger = logging.getLogger("django_integration.frontend")

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

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
    },
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
        frontend_logger.log(LEVELS[event["level"]], "%s", event["message"], extra=extra)


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
