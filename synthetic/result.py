"""What a run produced: per step timing, status, server timing, assertions and the failure reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The closed set of failure reasons (DESIGN §3); anything else is a bug.
REASONS = (
    "dns",
    "connect",
    "tls",
    "timeout",
    "http_status",
    "assertion",
    "schema",
    "extraction",
    "sql",
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
    name: str
    ok: bool
    message: str
    reason: str = "assertion"


@dataclass
class ServerTiming:
    app_seconds: float | None = None
    db_seconds: float | None = None
    queries: int | None = None


@dataclass
class Exchange:
    """Request and response heads and (redacted, truncated) bodies, for pages and debug output."""

    method: str = ""
    url: str = ""
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str = ""
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    curl: str = ""


@dataclass
class StepResult:
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
    attempts: int = 0
    budget: float | None = None

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
        return all(step.status != "failed" for step in self.steps) and any(s.ok for s in self.steps)

    @property
    def failed_step(self) -> StepResult | None:
        return next((step for step in self.steps if step.status == "failed"), None)

    @property
    def reason(self) -> str | None:
        failed = self.failed_step
        return failed.reason if failed else None
