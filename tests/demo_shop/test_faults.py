"""Each switchable fault, on and off, over real HTTP on SQLite and MariaDB; the switch itself in-process."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from demo_shop.faults import FAULTS
from tests.demo_shop.client import ShopClient
from tests.harness import ShopServer
from tests.harness.shop import PROBE_PASSWORD, PROBE_USER


@pytest.fixture
def switch(shop: ShopServer) -> Iterator[ShopClient]:
    """A client for /_demo/faults that switches everything off again afterwards."""
    c = ShopClient(shop.url)
    yield c
    assert c.put("/_demo/faults", json=dict.fromkeys(FAULTS, False)).status_code == 200
    c.close()


def set_fault(switch: ShopClient, name: str, on: bool) -> None:
    response = switch.put("/_demo/faults", json={name: on})
    assert response.status_code == 200, response.text
    assert response.json()[name] is on


def test_faults_endpoint_lists_every_fault_off(switch: ShopClient) -> None:
    assert switch.get("/_demo/faults").json() == dict.fromkeys(FAULTS, False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"no_such_fault": True}, "unknown fault 'no_such_fault'; known: slow_products"),
        ({"slow_products": "yes"}, "fault 'slow_products' must be true or false, got 'yes'"),
        (["slow_products"], 'expected a JSON object such as {"slow_products": true}'),
    ],
)
def test_faults_endpoint_rejects_bad_input(switch: ShopClient, body: object, message: str) -> None:
    response = switch.put("/_demo/faults", json=body)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert switch.get("/_demo/faults").json() == dict.fromkeys(FAULTS, False)


def timed_get(url: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=30)
    return response, time.monotonic() - started


def test_slow_products(shop: ShopServer, switch: ShopClient) -> None:
    set_fault(switch, "slow_products", True)
    response, elapsed = timed_get(f"{shop.url}/api/products/")
    assert response.status_code == 200 and elapsed > 1.0
    set_fault(switch, "slow_products", False)
    response, elapsed = timed_get(f"{shop.url}/api/products/")
    assert response.status_code == 200 and elapsed < 1.0


def test_checkout_errors(shop: ShopServer, switch: ShopClient) -> None:
    buyer = ShopClient(shop.url)
    buyer.jwt_login(PROBE_USER, PROBE_PASSWORD)
    buyer.post("/api/cart/items/", json={"product_id": 7})
    orders_before = buyer.get("/api/orders/").json()["count"]

    set_fault(switch, "checkout_errors", True)
    assert buyer.post("/api/checkout/").status_code == 500
    assert buyer.get("/api/orders/").json()["count"] == orders_before
    assert len(buyer.get("/api/cart/").json()["items"]) == 1

    set_fault(switch, "checkout_errors", False)
    order = buyer.post("/api/checkout/")
    assert order.status_code == 201
    buyer.delete(f"/api/orders/{order.json()['id']}/")


def test_schema_drift(shop: ShopServer, switch: ShopClient) -> None:
    openapi = OpenAPI.from_dict(shop.get("/api/schema/?format=json").json())

    def conforms() -> bool:
        response = requests.get(f"{shop.url}/api/products/2/", timeout=10)
        result = openapi.unmarshal_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
        return not result.errors

    assert conforms()
    set_fault(switch, "schema_drift", True)
    drifted = shop.get("/api/products/2/").json()
    assert isinstance(drifted["price"], float) and isinstance(drifted["stock"], str)
    assert not conforms()
    set_fault(switch, "schema_drift", False)
    assert conforms()


def test_open_write(shop: ShopServer, switch: ShopClient) -> None:
    product = {"sku": "OPEN-1", "name": "Sneaky", "price": "1.00", "stock": 1, "category_id": 1}
    anonymous = ShopClient(shop.url)
    assert anonymous.post("/api/products/", json=product).status_code == 401
    set_fault(switch, "open_write", True)
    assert anonymous.post("/api/products/", json=product).status_code == 201
    set_fault(switch, "open_write", False)
    assert anonymous.post("/api/products/", json={**product, "sku": "OPEN-2"}).status_code == 401


def test_cors_wildcard(shop: ShopServer, switch: ShopClient) -> None:
    def cors(origin: str, method: str = "GET") -> requests.structures.CaseInsensitiveDict[str]:
        headers = {"Origin": origin}
        if method == "OPTIONS":
            headers["Access-Control-Request-Method"] = "POST"
        return requests.request(method, f"{shop.url}/api/products/", headers=headers, timeout=10).headers

    allowed = cors("http://localhost:3000")
    assert allowed["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Origin" not in cors("https://evil.example")
    assert "Access-Control-Allow-Origin" not in cors("https://evil.example", "OPTIONS")

    set_fault(switch, "cors_wildcard", True)
    for method in ("GET", "OPTIONS"):
        headers = cors("https://evil.example", method)
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize(("on", "extra_queries"), [(False, 0), (True, 20)])
def test_n_plus_one_query_count(
    on: bool, extra_queries: int, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process on SQLite: the list costs 2 queries (count + page), plus one per row with the fault on."""
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from demo_shop.faults import faults

    settings.DEMO_FAULTS_ENABLED = True  # type: ignore[attr-defined]
    faults.reset()
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", "in-process")
    call_command("seed_shop", stdout=io.StringIO())
    faults.update({"n_plus_one": on})
    try:
        with CaptureQueriesContext(connection) as queries:
            response = Client().get("/api/products/?page_size=20")
        assert response.status_code == 200
        assert len(queries) == 2 + extra_queries
    finally:
        faults.reset()


@pytest.mark.django_db
def test_faults_endpoint_is_404_unless_enabled(settings: object) -> None:
    from django.test import Client

    settings.DEMO_FAULTS_ENABLED = False  # type: ignore[attr-defined]
    assert Client().get("/_demo/faults").status_code == 404
    assert Client().put("/_demo/faults", {"slow_products": True}, content_type="application/json").status_code == 404


def test_unknown_fault_at_start_stops_the_shop(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo_shop", "check"],
        env={"DEMO_FAULTS_ENABLED": "1", "DEMO_FAULTS": "slow_products,typo_fault", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DEMO_FAULTS names unknown fault(s) typo_fault" in result.stderr
