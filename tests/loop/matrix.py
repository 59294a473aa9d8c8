"""The fault matrix: for every switchable fault of the demo shop and of its storefront, the first alert it must
raise and where that alert must go; faults that do not interfere are batched to run side by side.

One row per fault of ``demo_shop.faults.FAULTS`` and of the storefront's ``FAULTS`` (demo_shop/storefront/lib/
server.ts; ``owner`` says which serves the switch); a test fails when one is missing. ``labels`` are the labels
that name what broke (a subset of the alert's), ``names`` the words its description must contain. ``breaks`` is
what else the fault makes fail: the journeys by name, or ``*`` for everything that touches the database; ``also``
the alerts that may fire beside the expected one because of that (a journey failing for its users pages by
design), by alertname and labels. Two faults interfere when they break a common journey (or either breaks
everything), or when their alerts would share an Alertmanager group (same values of the shipped ``group_by``
labels of the route the shipped routing sends them to: one notification would carry both).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from demo_shop.faults import FAULTS

from .stack import ALERTMANAGER, RULES, STOREFRONT_SOURCE

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
    owner: str = "shop"
    """Who switches the fault: ``shop`` (PUT /_demo/faults) or ``storefront`` (PUT /api/faults)."""

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
            *_journey_symptoms("login", "product-fetch", "cart", "checkout", "storefront-buy"),
            Also("JourneyFrontendErrorRateHigh"),  # the storefront's pages fail with the API behind them
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
        # The Django API inventory sees the same hole from the inside: it joins the page's group (one incident).
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
        ("api/products/", "slower than 500ms"),  # the shop's SLOW_QUERY_SECONDS, as the integration reports it
        # The storefront's product list reads the same route: its browser journey's products step goes over its
        # 1 s budget too (synthetic/workflows/storefront.yml).
        breaks=frozenset({"product-fetch", "storefront-buy"}),
        # The route's latency ticket fires too; the slow-query ticket, which names the cause, inhibits it. The
        # journeys' steps go over their 1 s budgets: degraded runs, their own tickets.
        also=(
            Also("JourneyApiLatencyHigh", {"route": "api/products/"}),
            Also("JourneyStepOverBudget", {"workflow": "product-fetch", "step": "list-products"}),
            Also("JourneyStepOverBudget", {"workflow": "storefront-buy", "step": "products"}),
        ),
        why="the list is slower than its budget but answers: the slow statement is the cause, ticketed",
    ),
    Row(
        "checkout_errors",
        "JourneyErrorBudgetBurn",
        "critical",
        "pager",
        {"workflow": "checkout", "long": "1h"},
        ("step checkout", "http_status"),
        # The storefront buys through the same route: its browser journey fails at its checkout step too, and
        # its page joins checkout's incident (the shipped routing groups the users' symptoms as one).
        breaks=frozenset({"checkout", "storefront-buy"}),
        also=(
            Also("JourneyWorkflowFailing", {"workflow": "checkout"}),
            Also("JourneyErrorBudgetBurn", {"workflow": "checkout"}),  # its other tiers; never another journey's
            Also("JourneyApiErrorRatioHigh", {"route": "api/checkout/"}),
            Also("JourneyApiErrorClassSpike", {"route": "api/checkout/"}),
            Also("JourneyWorkflowFailing", {"workflow": "storefront-buy", "step": "checkout"}),
            Also("JourneyErrorBudgetBurn", {"workflow": "storefront-buy"}),
            Also("JourneyStepOverBudget", {"workflow": "storefront-buy", "step": "checkout"}),
            Also("JourneyFrontendErrorRateHigh"),  # the storefront's pages report the failed order
        ),
        why="no user can buy, in the shop's API or the storefront: paged once, naming the failing step and its reason",
    ),
    Row(
        "n_plus_one",
        "JourneyNPlusOneQueries",
        "warning",
        "tickets",
        _PRODUCTS,
        ("api/products/", "at least 5 times", "select_related"),
        breaks=frozenset({"product-fetch"}),
        why="the answer is right and in time; repeated queries are a cause, ticketed, never paged",
    ),
    # The storefront (issue 15): what its users' browsers see. Its browser journey, storefront-buy, is the symptom.
    Row(
        "render_error",
        "JourneyErrorBudgetBurn",
        "critical",
        "pager",
        {"workflow": "storefront-buy", "target": "storefront"},
        ("step product", "page_error"),
        breaks=frozenset({"storefront-buy"}),
        also=(
            Also("JourneyErrorBudgetBurn", {"workflow": "storefront-buy"}),  # its other tiers
            Also("JourneyWorkflowFailing", {"workflow": "storefront-buy"}),  # inhibited by the page
            Also("JourneyStepOverBudget", {"workflow": "storefront-buy"}),  # the failing step waits out its budget
            Also("JourneyFrontendErrorRateHigh"),  # the beacons' view of it
        ),
        why="the product page breaks in the browser, no user can buy: paged, naming the step and page_error",
        owner="storefront",
    ),
    Row(
        "slow_bundle",
        "JourneyStepOverBudget",
        "warning",
        "tickets",
        {"workflow": "storefront-buy", "target": "storefront", "step": "products"},
        ("Step products", "storefront-buy"),
        breaks=frozenset({"storefront-buy"}),
        also=(
            Also("JourneyFrontendINPOverThreshold"),  # the beacons' view of it
            Also("JourneyFrontendLCPOverThreshold"),
        ),
        why="the list answers, slowly: the journey ends degraded and the step's budget opens a ticket, no page",
        owner="storefront",
    ),
)

HEALTHY = "healthy"
"""The matrix's last row: with no fault on, nothing fires."""


_MATCHER = re.compile(r'^\s*(?P<name>[a-zA-Z_]\w*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*$')


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy one Alertmanager matcher of the shipped form ``name="value"`` (or ``=~``, ``!=``,
    ``!~``); ValueError for another form, so a new one is noticed rather than misread."""
    match = _MATCHER.match(matcher)
    if not match:
        raise ValueError(f'matcher {matcher!r} is not of the form name="value"')
    value, op = labels.get(match["name"], ""), match["op"]
    wanted = match["value"].replace('\\"', '"')
    if op in ("=", "!="):
        return (value == wanted) == (op == "=")
    return (re.fullmatch(wanted, value) is not None) == (op == "=~")


def shipped_labels(row: Row) -> dict[str, str]:
    """The labels of ``row``'s expected alert as far as they are known before it fires: its alertname, the
    shipped rule's static labels (severity, category) and the row's labels."""
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == row.alertname and rule["labels"].get("severity") == row.severity:
                    return {"alertname": row.alertname, **rule["labels"], **row.labels}
    raise LookupError(f"no shipped rule {row.alertname} with severity {row.severity}")


def notification_group(labels: Mapping[str, str]) -> tuple[str, tuple[str | None, ...]]:
    """Where the shipped Alertmanager routing puts an alert with ``labels``: the receiver and the values of the
    ``group_by`` labels of the route it ends on (Alertmanager's tree walk: the first matching child route, its
    settings inherited from the parent unless it sets them)."""
    route: dict[str, Any] = yaml.safe_load(ALERTMANAGER.read_text())["route"]
    receiver, grouping = route["receiver"], route.get("group_by", [])
    while True:
        child = next((c for c in route.get("routes", [])
                      if all(_matches(m, labels) for m in c.get("matchers", []))), None)  # fmt: skip
        if child is None:
            return receiver, tuple(labels.get(name) for name in grouping)
        route = child
        receiver, grouping = route.get("receiver", receiver), route.get("group_by", grouping)


def interfere(a: Row, b: Row) -> bool:
    """Whether ``a`` and ``b`` cannot run side by side (module docstring)."""
    if EVERYTHING in a.breaks or EVERYTHING in b.breaks or a.breaks & b.breaks:
        return True
    return notification_group(shipped_labels(a)) == notification_group(shipped_labels(b))


def batches(rows: Sequence[Row]) -> list[list[Row]]:
    """``rows`` in batches whose faults do not interfere, each row in the first batch that takes it; a batch
    that breaks everything last (its symptoms outlast it)."""
    result: list[list[Row]] = []
    for row in rows:
        for batch in result:
            if not any(interfere(row, other) for other in batch):
                batch.append(row)
                break
        else:
            result.append([row])
    return sorted(result, key=lambda batch: any(EVERYTHING in row.breaks for row in batch))


def rows(*faults: str) -> list[Row]:
    """The rows of ``faults``, in the matrix's order."""
    unknown = set(faults) - set(FAULTS) - set(STOREFRONT_FAULTS)
    if unknown:
        raise ValueError(f"no such fault(s): {sorted(unknown)}")
    return [row for row in MATRIX if row.fault in faults]


DATABASE_FAULTS = ("fk_orphan", "schema_drift_db", "unapplied_migration", "db_connection_errors")
CONTRACT_FAULTS = ("schema_drift", "open_write", "cors_wildcard")
JOURNEY_FAULTS = ("slow_products", "checkout_errors", "n_plus_one")
STOREFRONT_FAULTS = ("render_error", "slow_bundle")


def storefront_faults() -> list[str]:
    """The storefront's switchable faults, as its source declares them (``export const FAULTS = {...}``)."""
    source = STOREFRONT_SOURCE.read_text()
    block = re.search(r"export const FAULTS = \{(.*?)\} as const;", source, re.S)
    if block is None:
        raise LookupError(f"no FAULTS object in {STOREFRONT_SOURCE}")
    return re.findall(r"^\s*(\w+):", block.group(1), re.M)


def selected(loop_faults: str | None) -> list[str]:
    """The rows ``make loop`` runs: the comma-separated names of ``LOOP_FAULTS`` (``healthy`` is the quiet run),
    or, unset, every fault of the shop and of the storefront and the healthy run."""
    if loop_faults is None:
        return [*FAULTS, *STOREFRONT_FAULTS, HEALTHY]
    return [name.strip() for name in loop_faults.split(",") if name.strip()]
