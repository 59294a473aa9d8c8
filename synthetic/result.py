"""What a run produced: per step timing, status, server timing, assertions and the failure reason.

A run's ``result`` is ``success``, ``degraded`` (a step went over its ``max_duration`` budget or a server limit
and the journey went on) or ``failure`` (a step failed: a timeout, a failed assertion, ...). See ``RunResult``.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A run's result (DESIGN §3): the ``result`` label of workflow_runs_total.
RESULTS = ("success", "degraded", "failure")

# HTTP timing phases as blackbox_exporter names them (probe_http_duration_seconds{phase}); see synthetic.transport.
PHASES = ("resolve", "connect", "tls", "processing", "transfer")

# The closed set of failure reasons (DESIGN §3); anything else is a bug.
REASONS = (
    "dns",
    "connect",
    "tls",
    "timeout",
    "protocol",  # what the target sent is not valid HTTP (status line, head, framing, encoding, head size)
    "redirect",  # too many redirects, or a Location that cannot be followed safely
    "http_status",
    "assertion",
    "schema",
    "extraction",
    "sql",
    "page_error",  # browser steps: the page threw (uncaught error, rejection, failed render) or logged an error
    "request_failed",  # browser steps: a request of the page failed in the browser (blocked by CORS, aborted, refused)
    "circuit_open",
    "skipped",
    "internal",
)


class StepFailure(Exception):
    """Raised inside a step to end it with a reason; never escapes the runner."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class AssertionResult:
    """One check of a step. A failed ``error`` check fails the step with ``reason``; a failed ``warning``
    check (a budget: ``max_duration``, the ``expect.server`` limits) only marks the step degraded."""

    name: str
    ok: bool
    message: str
    reason: str = "assertion"
    severity: str = "error"  # error, warning


@dataclass
class ServerTiming:
    app_seconds: float | None = None
    db_seconds: float | None = None
    queries: int | None = None


# What one step keeps of an exchange, whatever the target sends (characters). A run page shows these; the
# history keeps many runs, so their size, not the target's, decides the exporter's memory.
KEPT_TEXT_CHARS = 4096  # a body preview, the curl line
KEPT_URL_CHARS = 2048
KEPT_HEADER_NAME_CHARS = 128
KEPT_HEADER_VALUE_CHARS = 1024
KEPT_HEADERS = 64  # per header block
KEPT_HEADERS_CHARS = 16 * 1024  # names and values of one header block together
KEPT_VALUE_CHARS = 1024  # an extracted value, or target text quoted in an assertion message
KEPT_MESSAGE_CHARS = 2048
KEPT_REDIRECTS = 20
ELLIPSIS = "…"

_REPR = reprlib.Repr()  # repr that stops early: a long string, list or dict is shown in part, not built whole
_REPR.maxstring = _REPR.maxother = 200
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 20
_REPR.maxlevel = 4


def kept_text(text: str, limit: int = KEPT_TEXT_CHARS) -> str:
    """``text``, cut to ``limit`` characters (the last one an ellipsis) when longer."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def quoted(value: Any, limit: int = 200) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters (a response value may be megabytes)."""
    return kept_text(_REPR.repr(value), limit)


def kept_value(value: Any) -> Any:
    """An extracted value as a step result keeps it: small values as they are, large ones as cut text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value if not isinstance(value, int) or value.bit_length() < 256 else kept_text(str(value), 80)
    if isinstance(value, str):
        return kept_text(value, KEPT_VALUE_CHARS)
    text = _compact_json(value, KEPT_VALUE_CHARS + 1)
    return value if len(text) <= KEPT_VALUE_CHARS else kept_text(text, KEPT_VALUE_CHARS)


def _compact_json(value: Any, limit: int) -> str:
    """JSON text of ``value``, produced only up to about ``limit`` characters."""
    parts: list[str] = []
    size = 0
    for piece in json.JSONEncoder(default=str, ensure_ascii=False).iterencode(value):
        parts.append(piece)
        size += len(piece)
        if size > limit:
            break
    return "".join(parts)


def kept_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """At most KEPT_HEADERS headers, names and values cut, KEPT_HEADERS_CHARS in all; and whether any was cut."""
    kept: dict[str, str] = {}
    used = 0
    cut = False
    for name, value in headers.items():
        short_name = kept_text(str(name), KEPT_HEADER_NAME_CHARS)
        short_value = kept_text(str(value), KEPT_HEADER_VALUE_CHARS)
        cut = cut or short_name != name or short_value != value
        if len(kept) >= KEPT_HEADERS or used + len(short_name) + len(short_value) > KEPT_HEADERS_CHARS:
            return kept, True
        kept[short_name] = short_value
        used += len(short_name) + len(short_value)
    return kept, cut


@dataclass
class Exchange:
    """Request and response heads and (redacted, truncated) bodies, for pages and debug output.

    Every field is bounded (KEPT_* above); ``truncated`` names the parts that were cut (``url``,
    ``request_headers``, ``request_body``, ``response_headers``, ``response_body``, ``curl``). ``redirects``
    holds one ``"302 <from> -> <to>"`` line per redirect followed.
    """

    method: str = ""
    url: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str = ""
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    curl: str = ""
    redirects: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)


@dataclass
class StepResult:
    """One step of a run.

    ``status`` is ``ok``, ``failed`` or ``skipped``; an ``ok`` step over its ``max_duration`` budget has
    ``degraded`` set (its ``max_duration`` assertion failed as a warning). ``phases`` holds, for ``http``
    steps, the seconds spent in each of ``PHASES`` over every redirect hop of the last attempt (a phase cut
    by a failure counts up to the cut; a kept-alive connection spends nothing in resolve, connect and tls).
    ``tls_cert_expires_at`` is the earliest ``notAfter`` (unix seconds) of the certificates the target's
    TLS connections presented, leaf and chain as sent, or None without TLS.
    """

    name: str
    kind: str
    status: str = "ok"  # ok, failed, skipped
    reason: str | None = None
    message: str = ""
    offset: float = 0.0  # seconds from the start of the run
    duration: float = 0.0
    http_status: int | None = None
    response_bytes: int = 0
    server: ServerTiming = field(default_factory=ServerTiming)
    assertions: list[AssertionResult] = field(default_factory=list)
    extracted: dict[str, Any] = field(default_factory=dict)
    exchange: Exchange | None = None
    # browser steps: the page (url, title), Web Vitals, navigation timing, errors, failed requests, the API calls
    # the page made with their X-Request-IDs, and the screenshot of a failure (synthetic.steps.browser).
    browser: dict[str, Any] | None = None
    attempts: int = 0
    budget: float | None = None
    degraded: bool = False
    phases: dict[str, float] = field(default_factory=dict)
    tls_cert_expires_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class RunResult:
    workflow: str
    target: str
    correlation_id: str
    started_at: float  # unix time
    duration: float = 0.0
    steps: list[StepResult] = field(default_factory=list)
    cached: bool = False

    @property
    def success(self) -> bool:
        """No step failed (and one ran): the journey completed. A degraded run is a success."""
        return all(step.status != "failed" for step in self.steps) and any(s.ok for s in self.steps)

    @property
    def degraded(self) -> bool:
        """A success in which a step went over a budget (``max_duration``, a server limit)."""
        return self.success and any(step.degraded for step in self.steps)

    @property
    def result(self) -> str:
        """``success``, ``degraded`` or ``failure`` (RESULTS)."""
        return "failure" if not self.success else "degraded" if self.degraded else "success"

    @property
    def degraded_step(self) -> StepResult | None:
        """The first step over its budget, when the run is degraded."""
        return next((step for step in self.steps if step.degraded), None) if self.degraded else None

    @property
    def failed_step(self) -> StepResult | None:
        return next((step for step in self.steps if step.status == "failed"), None)

    @property
    def reason(self) -> str | None:
        failed = self.failed_step
        return failed.reason if failed else None
