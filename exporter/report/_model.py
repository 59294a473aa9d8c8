"""What a report is made of: the numbers each section read from Prometheus (and the run store), the tables
and plots it shows, and the findings the suggestion rules drew from the numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Thresholds:
    """Where a number becomes a finding. Defaults suit the demo shop and a typical Django API."""

    slo_objective: float = 0.99  # the SLO of rules/workflows.rules.yml
    success_drop: float = 0.05  # a journey's success ratio this much lower than the period before
    budget_near: float = 0.9  # a step's p95 at this share of its max_duration is "close to" it
    route_p95_seconds: float = 1.0
    route_error_ratio: float = 0.01
    route_min_requests: float = 10.0
    queries_per_request: float = 10.0
    statement_seconds: float = 0.1  # mean latency of one execution of a digest
    examined_per_sent: float = 100.0  # rows examined for each row sent


@dataclass
class JourneyRow:
    """One workflow on one target, this period and the one it is compared to."""

    workflow: str
    target: str
    runs: float
    failures: float
    success_ratio: float | None
    previous_success_ratio: float | None
    p50: float | None
    p95: float | None
    previous_p50: float | None
    previous_p95: float | None
    budget_left: float | None  # share of the SLO window's error budget left (negative: overspent)
    burn_rate: float | None  # failure ratio of the period / (1 - objective)


@dataclass
class StepRow:
    """A step's time against its ``max_duration`` and where the server says that time went."""

    workflow: str
    target: str
    step: str
    p95: float | None
    mean: float | None
    budget: float | None
    app: float | None  # the server's own time outside the database (mean per request)
    db: float | None

    @property
    def network(self) -> float | None:
        """What the server does not account for: network, TLS, queueing, the client."""
        if self.mean is None or (self.app is None and self.db is None):
            return None
        return max(self.mean - (self.app or 0.0) - (self.db or 0.0), 0.0)


@dataclass
class RouteRow:
    """One API route (template) and method."""

    route: str
    method: str
    requests: float
    p95: float | None
    previous_p95: float | None
    errors_5xx: float
    error_classes: dict[str, float] = field(default_factory=dict)
    queries_p95: float | None = None
    repeated: float = 0.0  # N+1 detections (django_db_repeated_queries_total) in the period
    repeated_statement: str | None = None
    # statement digest -> its calls per second while the route repeated statements less those while it did
    # not; empty when the route repeated them through the whole period (or the logs named the statement)
    while_repeating: dict[str, float] = field(default_factory=dict)

    @property
    def error_ratio(self) -> float:
        """5xx answers over all answers."""
        return self.errors_5xx / self.requests if self.requests else 0.0


@dataclass
class StatementRow:
    """One statement digest of performance_schema, as mysqld_exporter exports it."""

    schema: str
    digest: str
    text: str
    calls: float
    seconds: float
    rows_examined: float
    rows_sent: float
    no_index_used: float
    previous_calls: float = 0.0  # in the period compared to
    explain: list[dict[str, Any]] | None = None
    index: str | None = None  # "CREATE INDEX …" that would serve it, when one is known

    @property
    def mean(self) -> float:
        """Mean latency of one execution."""
        return self.seconds / self.calls if self.calls else 0.0

    @property
    def examined_per_sent(self) -> float:
        """Rows examined for each row sent (rows examined when nothing was sent)."""
        return self.rows_examined / max(self.rows_sent, 1.0)


@dataclass
class CheckRow:
    """A failing contract check or an integrity finding."""

    kind: str  # contract, integrity
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class FailureGroupRow:
    """A failure group of the run store, bounded for the report."""

    workflow: str
    target: str
    step: str | None
    reason: str | None
    result: str
    message: str
    count: int
    first_seen: float
    last_seen: float
    examples: list[str]


@dataclass
class ReportData:
    """Everything the sections read; the suggestion rules' only input."""

    journeys: list[JourneyRow] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    routes: list[RouteRow] = field(default_factory=list)
    statements: list[StatementRow] = field(default_factory=list)
    checks: list[CheckRow] = field(default_factory=list)
    failure_groups: list[FailureGroupRow] = field(default_factory=list)


@dataclass
class Finding:
    """One thing to change: what was seen, one concrete action, where the runbook says more, and what fixing
    it would remove (``impact``: seconds or failed requests/runs in the period; the ranking key)."""

    rule: str
    severity: str
    section: str
    title: str
    action: str
    runbook: str
    impact: float
    impact_text: str


@dataclass
class Table:
    """Rows of already formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Plot:
    """A bar chart drawn server-side: ``categories`` on one axis, one bar per series and category.
    ``stacked`` stacks the series; ``marks`` draws a tick per category (a budget)."""

    name: str
    title: str
    unit: str
    categories: list[str]
    series: dict[str, list[float]]
    stacked: bool = False
    marks: list[float | None] | None = None


@dataclass
class Section:
    """A part of the report; ``status`` ``ok``, ``missing`` (its source is not there) or ``error`` (a query
    failed), with ``message`` saying so in one line."""

    key: str
    title: str
    status: str = "ok"
    message: str = ""
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one-line remarks: a part of the section that is missing


@dataclass
class Report:
    """The whole report."""

    prometheus: str
    start: float
    end: float
    previous_start: float
    previous_end: float
    compare: str
    generated_at: float
    sections: list[Section]
    findings: list[Finding]
    queries: int
    data: ReportData
