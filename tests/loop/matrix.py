"""The fault matrix: for every switchable fault of the demo shop, the first alert it must raise and where that
alert must go; faults that do not interfere are batched to run side by side.

One row per fault of ``demo_shop.faults.FAULTS`` (a test fails when one is missing). ``labels`` are the labels
that name what broke (a subset of the alert's), ``names`` the words its description must contain. ``breaks`` is
what else the fault makes fail: the journeys by name, or ``*`` for everything that touches the database; ``also``
the alerts that may fire beside the expected one because of that (a journey failing for its users pages by
design), by alertname and labels. Two faults interfere when they break a common journey (or either breaks
everything), or when their alerts would share an Alertmanager group (same values of the shipped ``group_by``
labels: one notification would carry both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from demo_shop.faults import FAULTS

from .stack import ALERTMANAGER

EVERYTHING = "*"


@dataclass(frozen=True)
class Also:
    """An alert that may fire beside the expected one: alertname and a subset of its labels."""

    alertname: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return labels.get("alertname") == self.alertname and all(labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True)
class Row:
    """One fault and the alert it must raise first."""

    fault: str
    alertname: str
    severity: str
    receiver: str
    labels: Mapping[str, str]
    names: Sequence[str]
    breaks: frozenset[str] = frozenset()
    also: Sequence[Also] = ()
    why: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with ``labels`` is this row's expected alert."""
        wanted = {"alertname": self.alertname, "severity": self.severity, **self.labels}
        return all(labels.get(key) == value for key, value in wanted.items())

    def allows(self, labels: Mapping[str, str]) -> bool:
        """Whether an alert with ``labels`` is expected or allowed while this row's fault is on."""
        return self.matches(labels) or any(also.matches(labels) for also in self.also)


def _journey_symptoms(*workflows: str) -> tuple[Also, ...]:
    """A journey failing for its users: its failing-step ticket and its burn-rate alerts."""
    return tuple(also for workflow in workflows for also in
                 (Also("JourneyWorkflowFailing", {"workflow": workflow}),
                  Also("JourneyErrorBudgetBurn", {"workflow": workflow})))  # fmt: skip


_PRODUCTS = {"job": "demo-shop", "route": "api/products/"}

MATRIX: tuple[Row, ...] = (
    # The database layer (issue 12): the integration's integrity checks and connection counters.
    Row(
        "fk_orphan",
        "JourneyOrphanedRows",
        "warning",
        "tickets",
        {"app_label": "shop", "model": "OrderItem", "relation": "product", "target": "shop.Product"},
        ("shop.OrderItem", "through product", "shop.Product"),
        why="orphaned rows hurt no journey yet: a cause, ticketed",
    ),
    Row(
        "schema_drift_db",
        "JourneySchemaDrift",
        "warning",
        "tickets",
        {"app_label": "shop", "model": "Product", "alias": "default"},
        ("shop.Product", "database default"),
        why="a widened column breaks nothing yet: a cause, ticketed",
    ),
    Row(
        "unapplied_migration",
        "JourneyMigrationUnapplied",
        "critical",
        "pager",
        {"app_label": "fault_migrations", "alias": "default"},
        ("app fault_migrations", "Database default"),
        why="/readyz answers 503, so a load balancer takes the shop out of service: paged",
    ),
    Row(
        "db_connection_errors",
        "JourneyDatabaseConnectionErrors",
        "warning",
        "tickets",
        {"alias": "default", "error_class": "refused"},
        ("refused connection errors", "database default"),
        breaks=frozenset({EVERYTHING}),
        also=(
            *_journey_symptoms("login", "product-fetch", "cart", "checkout"),
            Also("JourneyApiErrorRatioHigh"),
            Also("JourneyApiErrorClassSpike"),
            Also("JourneyContractCheckFailing"),
            Also("JourneyContractSecurityCheckFailing"),
            Also("JourneyContractSweepFailing"),
            Also("JourneyContractSweepsStopped"),
            Also("JourneyCircuitBreakerOpen"),
            Also("JourneyIntegrityCheckFailing"),
            Also("JourneyDatabaseConnectTimeHigh"),
        ),
        why="the cause, ticketed; every journey fails half its runs, so their burn rate pages as symptoms",
    ),
    # The API contract (issue 11): the exporter's contract sweeps.
    Row(
        "schema_drift",
        "JourneyContractCheckFailing",
        "warning",
        "tickets",
        {"check": "response_schema_conformance", "operation": "GET /api/products/{id}/", "target": "demo-shop"},
        ("response_schema_conformance", "GET /api/products/{id}/", "demo-shop"),
        breaks=frozenset({"product-fetch"}),
        also=_journey_symptoms("product-fetch"),
        why="the answer breaks its schema: ticketed; product-fetch checks the schema, so it fails and pages",
    ),
    Row(
        "open_write",
        "JourneyContractSecurityCheckFailing",
        "critical",
        "pager",
        {"check": "ignored_auth", "operation": "POST /api/products/", "target": "demo-shop"},
        ("ignored_auth", "POST /api/products/", "demo-shop"),
        # The Django API inventory sees the same hole from the inside: a second page, in a group of its own.
        also=(Also("JourneyApiWriteWithoutAuthentication", {"method": "POST", "route": "api/products/"}),),
        why="anyone may write the catalogue: a security hole, paged",
    ),
    Row(
        "cors_wildcard",
        "JourneyContractSecurityCheckFailing",
        "critical",
        "pager",
        {"check": "cors_preflight", "operation": "GET /api/products/", "target": "demo-shop"},
        ("cors_preflight", "GET /api/products/", "demo-shop"),
        # Every operation answers any origin: one alert each, all in the one notification group.
        also=(Also("JourneyContractSecurityCheckFailing", {"check": "cors_preflight"}),),
        why="any origin may call the API with the user's credentials: a security hole, paged",
    ),
    # The journeys (issue 18): what users feel.
    Row(
        "slow_products",
        "JourneySlowQueries",
        "warning",
        "tickets",
        _PRODUCTS,
        ("api/products/", "SLOW_QUERY_SECONDS"),
        breaks=frozenset({"product-fetch"}),
        why="the list is slower than its budget but answers: the slow statement is the cause, ticketed",
    ),
    Row(
        "checkout_errors",
        "JourneyErrorBudgetBurn",
        "critical",
        "pager",
        {"workflow": "checkout", "long": "1h"},
        ("step checkout", "http_status"),
        breaks=frozenset({"checkout"}),
        also=(
            Also("JourneyWorkflowFailing", {"workflow": "checkout"}),
            Also("JourneyErrorBudgetBurn"),
            Also("JourneyApiErrorRatioHigh", {"route": "api/checkout/"}),
            Also("JourneyApiErrorClassSpike", {"route": "api/checkout/"}),
        ),
        why="no user can buy: paged, naming the failing step and its reason",
    ),
    Row(
        "n_plus_one",
        "JourneyNPlusOneQueries",
        "warning",
        "tickets",
        _PRODUCTS,
        ("api/products/", "select_related"),
        breaks=frozenset({"product-fetch"}),
        why="the answer is right and in time; repeated queries are a cause, ticketed, never paged",
    ),
)

HEALTHY = "healthy"
"""The matrix's last row: with no fault on, nothing fires."""


def group_by() -> list[str]:
    """The labels the shipped Alertmanager config groups notifications by."""
    labels: list[str] = yaml.safe_load(ALERTMANAGER.read_text())["route"]["group_by"]
    return labels


def interfere(a: Row, b: Row, grouping: Sequence[str]) -> bool:
    """Whether ``a`` and ``b`` cannot run side by side (module docstring)."""
    if EVERYTHING in a.breaks or EVERYTHING in b.breaks or a.breaks & b.breaks:
        return True
    key_a = [{"alertname": a.alertname, **a.labels}.get(label) for label in grouping]
    key_b = [{"alertname": b.alertname, **b.labels}.get(label) for label in grouping]
    return key_a == key_b


def batches(rows: Sequence[Row]) -> list[list[Row]]:
    """``rows`` in batches whose faults do not interfere, each row in the first batch that takes it; a batch
    that breaks everything last (its symptoms outlast it)."""
    grouping = group_by()
    result: list[list[Row]] = []
    for row in rows:
        for batch in result:
            if not any(interfere(row, other, grouping) for other in batch):
                batch.append(row)
                break
        else:
            result.append([row])
    return sorted(result, key=lambda batch: any(EVERYTHING in row.breaks for row in batch))


def rows(*faults: str) -> list[Row]:
    """The rows of ``faults``, in the matrix's order."""
    unknown = set(faults) - set(FAULTS)
    if unknown:
        raise ValueError(f"no such fault(s): {sorted(unknown)}")
    return [row for row in MATRIX if row.fault in faults]


DATABASE_FAULTS = ("fk_orphan", "schema_drift_db", "unapplied_migration", "db_connection_errors")
CONTRACT_FAULTS = ("schema_drift", "open_write", "cors_wildcard")
JOURNEY_FAULTS = ("slow_products", "checkout_errors", "n_plus_one")
