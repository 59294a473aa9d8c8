"""The correlation ID: which inbound value to trust, and the per-request state that carries it.

Rules (DESIGN §3): take the trace-id of a valid ``traceparent``, else ``X-Request-ID``, else
``X-Correlation-ID``, each only when it is 8-128 characters of letters, digits and ``-_.:``. Otherwise make a
new 32-hex ID. An invalid inbound value is never echoed or logged.
"""

from __future__ import annotations

import contextvars
import hashlib
import re
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"
TRACEPARENT_HEADER = "traceparent"

_ID_PATTERN = re.compile(r"[A-Za-z0-9\-_.:]{8,128}")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_HEX32 = re.compile(r"[0-9a-f]{32}")


def new_id() -> str:
    return secrets.token_hex(16)


def is_valid_id(value: str) -> bool:
    return _ID_PATTERN.fullmatch(value) is not None


def trace_id_from_traceparent(value: str) -> str | None:
    """The trace-id of a valid W3C ``traceparent``; None for anything else (version ff, zero ids, junk)."""
    match = _TRACEPARENT.fullmatch(value.strip())
    if not match:
        return None
    version, trace_id, parent_id, _flags = match.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id


def choose_correlation_id(headers: Mapping[str, str]) -> tuple[str, str]:
    """``(correlation_id, source)`` where source is the header it came from, or ``generated``."""
    return choose_from(
        headers.get(TRACEPARENT_HEADER), headers.get(REQUEST_ID_HEADER), headers.get(CORRELATION_ID_HEADER)
    )


def choose_from(traceparent: str | None, request_id: str | None, correlation_id: str | None) -> tuple[str, str]:
    """The same choice from the three header values (a WSGI/ASGI caller reads them from META directly)."""
    if traceparent:
        trace_id = trace_id_from_traceparent(traceparent)
        if trace_id:
            return trace_id, TRACEPARENT_HEADER
    if request_id and is_valid_id(request_id):
        return request_id, REQUEST_ID_HEADER
    if correlation_id and is_valid_id(correlation_id):
        return correlation_id, CORRELATION_ID_HEADER
    return new_id(), "generated"


def trace_id_for(correlation_id: str) -> str:
    """A W3C trace-id for outbound ``traceparent``: the ID itself when it is one, else a stable hash of it."""
    if _HEX32.fullmatch(correlation_id) and correlation_id != "0" * 32:
        return correlation_id
    return hashlib.sha256(correlation_id.encode()).hexdigest()[:32]


def traceparent_for(correlation_id: str) -> str:
    """A fresh ``traceparent`` (new parent-id, sampled) in the trace of this correlation ID."""
    return f"00-{trace_id_for(correlation_id)}-{secrets.token_hex(8)}-01"


@dataclass
class RequestState:
    """What we know about the request being served; one object per request, in a contextvar."""

    correlation_id: str
    method: str = "OTHER"
    route: str = "<unmatched>"
    synthetic: bool = False
    started: float = field(default_factory=time.perf_counter)
    db_queries: int = 0
    db_seconds: float = 0.0
    statements: Counter[tuple[str, str]] = field(default_factory=Counter)  # (alias, SQL text) -> count
    exception: BaseException | None = None
    sql_comment: tuple[str, str, str] | None = None  # (route, comment, comment with % doubled)


_current: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar(
    "workflow_exporter_request", default=None
)


def current_request() -> RequestState | None:
    return _current.get()


def get_correlation_id() -> str | None:
    """The correlation ID of the request being served, or None outside a request."""
    state = _current.get()
    return state.correlation_id if state else None


def bind(state: RequestState) -> contextvars.Token[RequestState | None]:
    return _current.set(state)


def unbind(token: contextvars.Token[RequestState | None]) -> None:
    _current.reset(token)
