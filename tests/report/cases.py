"""The suggestion rules' cases: for each rule the series it must fire on and the near-miss it must stay quiet
on. Rates are per second over one-hour periods (previous, then current)."""

from __future__ import annotations

from .series import Counter, Gauge, Histogram, Series

J = {"workflow": "checkout", "target": "shop"}
STEP = {**J, "step": "pay"}
ROUTE = {"route": "api/products/", "method": "GET"}
CATEGORY_LOOKUP = (
    "SELECT `shop_category` . `id` , `shop_category` . `name` FROM `shop_category` "
    "WHERE `shop_category` . `id` = ? LIMIT ?"
)
# A lookup every request makes anyway: busy, but no busier than before the N+1 began.
CART_LOOKUP = "SELECT `shop_cart` . `id` , `shop_cart` . `user_id` FROM `shop_cart` WHERE `shop_cart` . `user_id` = ?"
SCAN = "SELECT `shop_order` . `id` FROM `shop_order` WHERE `shop_order` . `email` = ?"


def runs(previous_failure: float, current_failure: float, rate: float = 0.1) -> list[Series]:
    """A journey at ``rate`` runs per second failing the given shares of them."""
    return [
        Counter(
            "workflow_runs", {**J, "result": "success"}, rate * (1 - previous_failure), rate * (1 - current_failure)
        ),
        Counter("workflow_runs", {**J, "result": "failure"}, rate * previous_failure, rate * current_failure),
        Histogram("workflow_run_duration_seconds", J, 0.3, 0.3, rate),
    ]


def step(seconds: float, app: float, db: float) -> list[Series]:
    """The ``pay`` step taking ``seconds`` with a 1 s budget; the server reports ``app`` and ``db``."""
    return [
        Histogram("workflow_step_duration_seconds", STEP, seconds, seconds, 0.1),
        Gauge("workflow_step_latency_budget_seconds", STEP, 1.0),
        Histogram("workflow_step_server_duration_seconds", {**STEP, "component": "app"}, app, app, 0.1),
        Histogram("workflow_step_server_duration_seconds", {**STEP, "component": "db"}, db, db, 0.1),
    ]


def route(
    seconds: float = 0.05, error_share: float = 0.0, queries: float = 3, repeated: float = 0.0, rate: float = 1.0
) -> list[Series]:
    """``GET api/products/`` at ``rate`` requests per second."""
    series: list[Series] = [
        Histogram(
            "django_request_duration_seconds",
            {**ROUTE, "status_class": "2xx"},
            seconds,
            seconds,
            rate * (1 - error_share),
        ),
        Histogram("django_request_db_queries", ROUTE, queries, queries, rate),
    ]
    if error_share:
        series.append(
            Histogram(
                "django_request_duration_seconds",
                {**ROUTE, "status_class": "5xx"},
                seconds,
                seconds,
                rate * error_share,
            )
        )
        series.append(
            Counter(
                "django_request_errors",
                {"route": ROUTE["route"], "error_class": "InjectedFault"},
                0,
                rate * error_share,
            )
        )
    if repeated:
        series.append(Counter("django_db_repeated_queries", {"route": ROUTE["route"], "alias": "default"}, 0, repeated))
    return series


def digest(
    text: str, calls: float, mean: float, examined: float, sent: float, no_index: float, before: float | None = None
) -> list[Series]:
    """One performance_schema digest as mysqld_exporter exports it, ``calls`` per second (``before`` in the
    previous period, the same by default)."""
    before = calls if before is None else before
    labels = {"schema": "shop", "digest": f"d{abs(hash(text)) % 10**8}", "digest_text": text.replace('"', "'")}
    name = "mysql_perf_schema_events_statements"
    return [
        Counter(name, labels, before, calls),
        Counter(f"{name}_seconds", labels, before * mean, calls * mean),
        Counter(f"{name}_rows_examined", labels, before * examined, calls * examined),
        Counter(f"{name}_rows_sent", labels, before * sent, calls * sent),
        Counter(f"{name}_no_index_used", labels, before * no_index, calls * no_index),
        Gauge("mysql_up", {}, 1),
    ]


# rule, firing series, near-miss series, words the firing finding must contain
RULE_CASES: list[tuple[str, list[Series], list[Series], list[str]]] = [
    ("journey_regression", runs(0.0, 0.2), runs(0.0, 0.008), ["checkout", "80.0%", "previous period 100.0%"]),
    ("step_over_budget", step(1.8, 0.1, 1.5), step(0.3, 0.05, 0.2), ["pay", "over its max_duration", "the database"]),
    ("slow_route", route(seconds=2.0), route(seconds=0.3), ["GET api/products/", "at p95"]),
    ("route_errors", route(error_share=0.1), route(error_share=0.005), ["GET api/products/", "InjectedFault"]),
    (
        "n_plus_one",
        [
            *route(queries=33, repeated=1.0),
            *digest(CATEGORY_LOOKUP, 30, 0.0005, 1, 1, 0, before=0),
            *digest(CART_LOOKUP, 60, 0.0005, 1, 1, 0),
        ],
        [*route(queries=33), *digest(CATEGORY_LOOKUP, 30, 0.0005, 1, 1, 0)],
        ["GET api/products/", "queries per request", "shop_category", "select_related('category')"],
    ),
    (
        "slow_statement",
        digest(SCAN, 2, 0.3, 20000, 1, 1),
        digest(SCAN, 2, 0.002, 5, 1, 0),
        ["shop_order", "CREATE INDEX shop_order_email_idx ON shop_order (email)"],
    ),
    (
        "checks_failing",
        [
            Gauge(
                "workflow_contract_check_success",
                {"target": "shop", "operation": "GET /api/products/", "check": "response_schema_conformance"},
                0,
            )
        ],
        [
            Gauge(
                "workflow_contract_check_success",
                {"target": "shop", "operation": "GET /api/products/", "check": "response_schema_conformance"},
                1,
            )
        ],
        ["response_schema_conformance", "GET /api/products/"],
    ),
]
