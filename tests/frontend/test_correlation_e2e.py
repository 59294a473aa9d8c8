"""In a real browser, end to end: the storefront's pages → the shop's API (another origin: CORS) → the database,
on SQLite and on MariaDB. One ID from the page's fetch to the SQL comment; a page's error with the failed call's
ID in /client-logs and counted; Web Vitals under the route template."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.frontend.conftest import BROWSER_USER, Stack, leave, sign_in, start_stack, wait_for_log
from tests.harness import MariaDB, wait_until
from tests.harness.shop import PROBE_PASSWORD

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(request, request.param, tmp_path_factory.mktemp(f"storefront-{request.param}"))


@pytest.fixture(autouse=True)
def empty_cart(stack: Stack) -> Iterator[None]:
    yield
    stack.shop.set_faults(checkout_errors=False)
    token = requests.post(f"{stack.shop.url}/api/auth/token/", json={"username": BROWSER_USER,
                          "password": PROBE_PASSWORD}, timeout=10).json()["access"]  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    for item in requests.get(f"{stack.shop.url}/api/cart/", headers=auth, timeout=10).json()["items"]:
        requests.delete(f"{stack.shop.url}/api/cart/items/{item['id']}/", headers=auth, timeout=10)


def add_to_cart(page: Any, stack: Stack) -> Any:
    """Open product 3 and add it; the POST's response as the browser saw it."""
    page.goto(f"{stack.storefront.url}/products/3")
    page.wait_for_selector("[data-testid=add-to-cart]")
    with page.expect_response(lambda r: r.url.endswith("/api/cart/items/") and r.request.method == "POST") as answer:
        page.click("[data-testid=add-to-cart]")
    page.wait_for_selector("[data-testid=added]")
    return answer.value


def test_one_id_from_the_pages_fetch_to_the_sql_comment(
    stack: Stack, page: Any, request: pytest.FixtureRequest
) -> None:
    sign_in(page, stack)
    response = add_to_cart(page, stack)
    sent = response.request.headers["x-request-id"]
    assert HEX32.fullmatch(sent)
    assert response.request.headers["traceparent"].split("-")[1] == sent  # the same ID as W3C trace-id
    # The response header, cross-origin: exposed, so the page reads it and shows it.
    assert response.headers["x-request-id"] == sent
    assert response.status == 201
    assert sent in page.inner_text("[data-testid=added]")
    # The shop's request log line.
    (line,) = wait_for_log(stack, sent, "the shop's log line", logger="django_integration.request")
    assert (line["route"], line["method"], line["status"], line["layer"]) == ("api/cart/items/", "POST", 201, "api")
    # The SQL comment, where the database keeps what ran (MariaDB's performance_schema; SQLite keeps no history).
    if stack.backend == "mariadb":
        mariadb: MariaDB = request.getfixturevalue("mariadb")
        rows = mariadb.query(
            "SELECT SQL_TEXT FROM performance_schema.events_statements_history_long WHERE SQL_TEXT LIKE %s",
            (f"%request_id='{sent}'%",),
        )
        assert rows, "no statement with the page's ID in performance_schema"
        assert all(row[0].startswith(f"/*request_id='{sent}',route='api%2Fcart%2Fitems%2F'") for row in rows)
        assert any("INSERT" in row[0] or "UPDATE" in row[0] for row in rows)


def test_a_server_rendered_page_forwards_its_id_to_the_api(stack: Stack, page: Any) -> None:
    document = page.goto(f"{stack.storefront.url}/products")
    page_id = document.headers["x-request-id"]
    assert HEX32.fullmatch(page_id)
    assert page.inner_text("[data-testid=request-id]") == page_id  # what the shop answered the server component
    (line,) = wait_for_log(stack, page_id, "the product list's log line", logger="django_integration.request")
    assert line["route"] == "api/products/"
    # A route handler forwards an incoming ID too.
    answer = requests.get(f"{stack.storefront.url}/api/shop-status", headers={"X-Request-ID": "route-handler-0001"},
                          timeout=10)  # fmt: skip
    assert answer.json()["request_id"] == "route-handler-0001" and answer.json()["products"] == 32
    assert answer.headers["X-Request-ID"] == "route-handler-0001"
    (forwarded,) = wait_for_log(
        stack, "route-handler-0001", "the route handler's call", logger="django_integration.request"
    )
    assert forwarded["route"] == "api/products/"


def test_a_page_error_reaches_client_logs_with_the_failed_calls_id(stack: Stack, page: Any) -> None:
    errors_before = stack.metric("django_frontend_events_total", level="error", route="/checkout")
    sign_in(page, stack)
    add_to_cart(page, stack)
    stack.shop.set_faults(checkout_errors=True)
    page.goto(f"{stack.storefront.url}/checkout")
    with page.expect_response(lambda r: r.url.endswith("/api/checkout/")) as answer:
        page.click("[data-testid=place-order]:not([disabled])")
    failed = answer.value
    failed_id = failed.headers["x-request-id"]
    assert failed.status == 500 and failed_id == failed.request.headers["x-request-id"]
    page.wait_for_selector("[data-testid=checkout-error]")
    assert failed_id in page.inner_text("[data-testid=checkout-error]")
    leave(page)  # pagehide: the beacon goes
    (frontend,) = wait_for_log(stack, failed_id, "the page's error in the shop's log", layer="frontend")
    assert frontend["level"] == "ERROR" and frontend["route"] == "/checkout"
    assert frontend["error_class"] == "RequestError"
    assert "500" in frontend["message"]
    # The API's own line for the failed call has the same ID: the browser's error and the server's, joined.
    assert stack.log_lines(failed_id, logger="django_integration.request")[0]["status"] == 500
    assert stack.metric("django_frontend_events_total", level="error", route="/checkout") == errors_before + 1
    openmetrics = requests.get(f"{stack.shop.url}/metrics", headers={"Accept": "application/openmetrics-text"},
                               timeout=10).text  # fmt: skip
    assert re.search(r'django_frontend_events_total\{level="error",route="/checkout"\} \S+ # \{correlation_id="'
                     + failed_id, openmetrics)  # fmt: skip


def test_web_vitals_land_in_the_histograms_under_the_route_template(stack: Stack, page: Any) -> None:
    before = {name: stack.metric("django_frontend_web_vitals_seconds_count", name=name, route="/products/[id]")
              for name in ("LCP", "FCP", "TTFB")}  # fmt: skip
    sign_in(page, stack)
    add_to_cart(page, stack)  # a click: an interaction for INP
    leave(page)  # LCP and CLS are final when the page is hidden

    def counted() -> bool:
        return all(
            stack.metric("django_frontend_web_vitals_seconds_count", name=name, route="/products/[id]") > count
            for name, count in before.items()
        )

    wait_until(counted, 15, "LCP, FCP and TTFB of /products/[id] in the histogram")
    assert stack.metric("django_frontend_web_vitals_score_count", name="CLS", route="/products/[id]") >= 1
    routes = {series["route"] for series in stack.series("django_frontend_web_vitals_seconds_count")}
    assert "/products/[id]" in routes and "/login" in routes
    assert not any(re.search(r"/\d", route) for route in routes), routes  # templates only, never paths
    interactions = [line for line in stack.shop.log_lines() if line.get("kind") == "interaction"]
    assert {"add-to-cart", "sign-in"} <= {line["element"] for line in interactions}
