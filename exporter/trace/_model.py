"""What every trace source returns: events on one clock (unix seconds), and the problems it met."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Layers, outermost first: a browser event starts a journey, a probe step sends requests, the API runs SQL.
LAYERS = ("frontend", "probe", "api", "db")


@dataclass
class TraceEvent:
    """One thing that happened under a correlation ID.

    ``start`` and ``end`` are unix seconds (``end`` is ``None`` for an instant: a log line). ``kind`` is one of
    ``step`` (a synthetic run's step), ``request`` (the API's request line), ``log`` (any other log line),
    ``statement`` (SQL), ``event`` (a browser event). ``fields`` holds what the source knew (route, status,
    durations in ms, the statement, rows, the traceback…), already redacted by whoever wrote it.
    """

    start: float
    layer: str
    kind: str
    title: str
    source: str
    end: float | None = None
    level: str = "info"
    fields: dict[str, Any] = field(default_factory=dict)
    children: list[TraceEvent] = field(default_factory=list)

    @property
    def error(self) -> bool:
        status = self.fields.get("status")
        return (
            self.level in ("error", "critical")
            or (isinstance(status, int) and status >= 500)
            or self.fields.get("step_status") == "failed"
            or bool(self.fields.get("error"))
        )

    @property
    def duration(self) -> float | None:
        return None if self.end is None else max(self.end - self.start, 0.0)

    def contains(self, other: TraceEvent, slack: float = 0.0) -> bool:
        """Whether ``other`` happened inside this event's time span (with ``slack`` seconds either side)."""
        if self.end is None:
            return False
        middle = other.start if other.end is None else (other.start + other.end) / 2
        return self.start - slack <= middle <= self.end + slack


@dataclass
class SourceReport:
    """One source's answer: its events and, if it could not be read (or only partly), why."""

    source: str
    events: list[TraceEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scanned_bytes: int = 0


@dataclass(frozen=True)
class Window:
    """The time bounds of a search, unix seconds; ``None`` is open."""

    since: float | None = None
    until: float | None = None

    def holds(self, moment: float) -> bool:
        return (self.since is None or moment >= self.since) and (self.until is None or moment <= self.until)
