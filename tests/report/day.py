"""A day of the demo stack's series with its faults switched on and off, for the report's tests and benchmark.

The shipped workflows (login, product-fetch, cart, checkout, every 30 s on ``demo-shop``), the shop's routes and
its statement digests as mysqld_exporter exports them, healthy all day except in three windows, each the
series the demo stack shows while one fault is on (what tests/report/test_demo_stack.py sees live):

- ``slow_products`` 06:00-08:00: ``SELECT SLEEP (?)`` on every product list, ``GET api/products/`` and the
  ``list-products`` step over their budgets, the time in the database; product-fetch runs degraded.
- ``n_plus_one`` 10:00-12:00: the product list loads each product's category with its own query (20 a page),
  N+1 detections on ``GET api/products/``; product-fetch runs degraded (its ``max_queries``).
- ``checkout_errors`` 14:00-16:00: ``POST api/checkout/`` answers 500 (``InjectedFault``), every checkout run
  fails at its ``checkout`` step.
"""

from __future__ import annotations

import hashlib

from .cases import CATEGORY_LOOKUP
from .series import Counter, Gauge, Histogram, Phase, Series

HOUR = 3600
DAY = 24 * HOUR
STEP = 120  # seconds between samples: 720 a series for the day
TARGET = "demo-shop"
RUN_RATE = 1 / 30  # each workflow every 30 s
PRODUCTS_RATE = 0.05  # GET api/products/ per second: the workflow and the storefront
PAGE = 20  # products a page: the N+1 runs one category lookup each
SLEEP_SECONDS = 1.2  # DEMO_SLOW_SECONDS
SECONDS = (0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
QUERIES = (1.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)

# workflow -> its steps and their max_duration (synthetic/workflows/demo_shop.yml)
WORKFLOWS = {
    "login": {"session-login": 2.0, "jwt-login": 2.0},
    "product-fetch": {"list-products": 1.0, "product-detail": 0.5},
    "cart": {"add-item": 1.0, "change-quantity": 1.0},
    "checkout": {"jwt-login": 1.0, "add-item": 1.0, "checkout": 2.0, "order-row": 0.5},
}
ROUTES = {  # (route, method) -> requests per second
    ("api/products/", "GET"): PRODUCTS_RATE,
    ("api/products/<int:pk>/", "GET"): PRODUCTS_RATE,
    ("api/auth/token/", "POST"): 3 * RUN_RATE,
    ("api/cart/items/", "POST"): 2 * RUN_RATE,
    ("api/checkout/", "POST"): RUN_RATE,
    ("api/orders/<int:pk>/", "GET"): RUN_RATE,
}
PRODUCT_LIST = (
    "SELECT `shop_product` . `id` , `shop_product` . `name` , `shop_category` . `name` FROM `shop_product` "
    "INNER JOIN `shop_category` ON ( `shop_product` . `category_id` = `shop_category` . `id` ) ORDER BY "
    "`shop_product` . `id` ASC LIMIT ?"
)
PRODUCT_PAGE = (
    "SELECT `shop_product` . `id` , `shop_product` . `name` FROM `shop_product` ORDER BY `shop_product` . `id` ASC "
    "LIMIT ?"
)
PRODUCT_COUNT = "SELECT COUNT ( * ) AS `__count` FROM `shop_product`"
USER_LOOKUP = (
    "SELECT `auth_user` . `id` , `auth_user` . `password` FROM `auth_user` WHERE `auth_user` . `username` = ? LIMIT ?"
)
ORDER_INSERT = "INSERT INTO `shop_order` ( `user_id` , `status` , `created_at` ) VALUES (...)"
SLEEP = "SELECT SLEEP (?)"

WINDOWS = {  # fault -> (start, end), seconds after the day's start
    "slow_products": (6 * HOUR, 8 * HOUR),
    "n_plus_one": (10 * HOUR, 12 * HOUR),
    "checkout_errors": (14 * HOUR, 16 * HOUR),
}


def _journey(workflow: str, result: str = "success", seconds: float = 0.3) -> list[Series]:
    labels = {"workflow": workflow, "target": TARGET}
    return [
        *(
            Counter("workflow_runs", {**labels, "result": r}, 0.0, RUN_RATE if r == result else 0.0)
            for r in ("success", "failure", "degraded")
        ),
        Histogram("workflow_run_duration_seconds", labels, seconds, seconds, RUN_RATE, SECONDS),
    ]


def _step(workflow: str, step: str, seconds: float = 0.05, db: float = 0.005, rate: float = RUN_RATE) -> list[Series]:
    labels = {"workflow": workflow, "target": TARGET, "step": step}
    return [
        Histogram("workflow_step_duration_seconds", labels, seconds, seconds, rate, SECONDS),
        Histogram("workflow_step_server_duration_seconds", {**labels, "component": "app"}, 0.02, 0.02, rate, SECONDS),
        Histogram("workflow_step_server_duration_seconds", {**labels, "component": "db"}, db, db, rate, SECONDS),
    ]


def _route(route: str, method: str, seconds: float = 0.05, queries: float = 3, status: str = "2xx") -> list[Series]:
    rate = ROUTES[(route, method)]
    labels = {"route": route, "method": method}
    return [
        Histogram("django_request_duration_seconds", {**labels, "status_class": status}, seconds, seconds, rate,
                  SECONDS),
        Histogram("django_request_db_queries", labels, queries, queries, rate, QUERIES),
    ]  # fmt: skip


def _digest(text: str, calls: float, mean: float = 0.0005, examined: float = 1, sent: float = 1) -> list[Series]:
    labels = {"schema": "shop", "digest": hashlib.md5(text.encode()).hexdigest(), "digest_text": text}
    name = "mysql_perf_schema_events_statements"
    return [
        Counter(name, labels, 0.0, calls),
        Counter(f"{name}_seconds", labels, 0.0, calls * mean),
        Counter(f"{name}_rows_examined", labels, 0.0, calls * examined),
        Counter(f"{name}_rows_sent", labels, 0.0, calls * sent),
        Counter(f"{name}_no_index_used", labels, 0.0, 0.0),
    ]


def healthy() -> list[Series]:
    """Every series of the demo stack on a good day."""
    series: list[Series] = [Gauge("mysql_up", {}, 1)]
    for workflow, steps in WORKFLOWS.items():
        series += _journey(workflow)
        for step, budget in steps.items():
            series += _step(workflow, step)
            series.append(
                Gauge("workflow_step_latency_budget_seconds", {"workflow": workflow, "target": TARGET, "step": step},
                      budget)
            )  # fmt: skip
    for route, method in ROUTES:
        series += _route(route, method)
    series += _digest(PRODUCT_LIST, PRODUCTS_RATE, examined=PAGE, sent=PAGE)
    series += _digest(PRODUCT_COUNT, PRODUCTS_RATE)
    series += _digest(USER_LOOKUP, 3 * RUN_RATE)
    series += _digest(ORDER_INSERT, RUN_RATE, sent=0)
    return series


def faults() -> list[Phase]:
    """The three fault windows."""
    start, end = WINDOWS["slow_products"]
    slow = Phase("slow_products", start, end, [
        *_route("api/products/", "GET", seconds=SLEEP_SECONDS + 0.05),
        *_step("product-fetch", "list-products", seconds=SLEEP_SECONDS + 0.1, db=SLEEP_SECONDS + 0.005),
        *_journey("product-fetch", "degraded", seconds=SLEEP_SECONDS + 0.4),
        *_digest(SLEEP, PRODUCTS_RATE, mean=SLEEP_SECONDS, examined=0),
    ])  # fmt: skip
    start, end = WINDOWS["n_plus_one"]
    n_plus_one = Phase("n_plus_one", start, end, [
        *_route("api/products/", "GET", seconds=0.09, queries=PAGE + 3),
        Counter("django_db_repeated_queries", {"route": "api/products/", "alias": "default"}, 0.0, PRODUCTS_RATE),
        *_step("product-fetch", "list-products", seconds=0.12, db=0.03),
        *_journey("product-fetch", "degraded"),
        *_digest(PRODUCT_LIST, 0.0),
        *_digest(PRODUCT_PAGE, PRODUCTS_RATE, examined=PAGE, sent=PAGE),
        *_digest(CATEGORY_LOOKUP, PAGE * PRODUCTS_RATE),
    ])  # fmt: skip
    start, end = WINDOWS["checkout_errors"]
    checkout = Phase("checkout_errors", start, end, [
        *_route("api/checkout/", "POST", status="5xx"),
        Histogram("django_request_duration_seconds",
                  {"route": "api/checkout/", "method": "POST", "status_class": "2xx"}, 0.05, 0.05, 0.0, SECONDS),
        Counter("django_request_errors", {"route": "api/checkout/", "error_class": "InjectedFault"}, 0.0, RUN_RATE),
        *_journey("checkout", "failure", seconds=0.2),
        *_step("checkout", "order-row", rate=0.0),  # skipped after the failed checkout step
        *_digest(ORDER_INSERT, 0.0),
    ])  # fmt: skip
    return [slow, n_plus_one, checkout]
