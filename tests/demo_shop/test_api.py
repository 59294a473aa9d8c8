"""Every demo-shop endpoint over real HTTP, on SQLite and on MariaDB (the ``shop`` fixture runs both)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.demo_shop.client import ShopClient
from tests.harness import ShopServer, start_shop
from tests.harness.shop import PROBE_PASSWORD, PROBE_USER


@pytest.fixture
def client(shop: ShopServer) -> Iterator[ShopClient]:
    c = ShopClient(shop.url)
    yield c
    c.close()


@pytest.fixture
def user(shop: ShopServer) -> tuple[str, str]:
    """A fresh shopper with an empty cart and no orders."""
    name = f"shopper-{uuid.uuid4().hex[:8]}"
    shop.add_user(name, f"pw-{name}")
    return name, shop.users[name]


@pytest.fixture
def shopper(shop: ShopServer, user: tuple[str, str]) -> Iterator[ShopClient]:
    c = ShopClient(shop.url)
    c.session_login(*user)
    yield c
    c.close()


@pytest.fixture(scope="module")
def openapi(shop: ShopServer) -> OpenAPI:
    return OpenAPI.from_dict(shop.get("/api/schema/?format=json").json())


def assert_matches_schema(openapi: OpenAPI, response: requests.Response) -> None:
    openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))


def first_product(client: ShopClient) -> dict[str, Any]:
    product: dict[str, Any] = client.get("/api/products/").json()["results"][0]
    return product


# --- catalogue --------------------------------------------------------------------------------------------------


def test_product_list_is_paginated(client: ShopClient, openapi: OpenAPI) -> None:
    response = client.get("/api/products/")
    assert response.status_code == 200
    page = response.json()
    assert page["count"] >= 32
    assert len(page["results"]) == 10
    assert page["next"].endswith("/api/products/?page=2")
    assert page["previous"] is None
    assert {"id", "sku", "name", "price", "stock", "category"} <= page["results"][0].keys()
    assert_matches_schema(openapi, response)

    second = client.get("/api/products/", params={"page": 2, "page_size": 5}).json()
    assert [p["id"] for p in second["results"]] == [p["id"] for p in page["results"][5:10]]


def test_product_list_page_out_of_range_is_404(client: ShopClient) -> None:
    response = client.get("/api/products/", params={"page": 999})
    assert response.status_code == 404
    assert "Invalid page" in response.json()["detail"]


def test_product_detail(client: ShopClient, openapi: OpenAPI) -> None:
    product = first_product(client)
    response = client.get(f"/api/products/{product['id']}/")
    assert response.status_code == 200
    assert response.json() == product
    assert Decimal(product["price"]) > 0
    assert_matches_schema(openapi, response)
    assert client.get("/api/products/999999/").status_code == 404


def test_only_staff_add_products(shop: ShopServer, client: ShopClient, shopper: ShopClient) -> None:
    new = {"sku": f"NEW-{uuid.uuid4().hex[:6]}", "name": "New", "price": "3.50", "stock": 5, "category_id": 1}
    assert client.post("/api/products/", json=new).status_code == 401
    assert shopper.post("/api/products/", json=new).status_code == 403

    shop.add_user("staffer", "staff-password", staff=True)
    staff = ShopClient(shop.url)
    staff.jwt_login("staffer", "staff-password")
    created = staff.post("/api/products/", json=new)
    assert created.status_code == 201, created.text
    assert created.json()["category"]["id"] == 1

    invalid = staff.post("/api/products/", json={**new, "sku": "", "price": "-1"})
    assert invalid.status_code == 400
    assert set(invalid.json()) == {"sku", "price"}
    assert "greater than or equal to 0" in invalid.json()["price"][0]


# --- authentication ---------------------------------------------------------------------------------------------


def test_session_login_me_and_logout(client: ShopClient, user: tuple[str, str], openapi: OpenAPI) -> None:
    assert client.get("/api/auth/me/").status_code == 401
    login = client.session_login(*user)
    assert login.json()["username"] == user[0]
    assert_matches_schema(openapi, login)
    assert "sessionid" in client.http.cookies

    me = client.get("/api/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == user[0]
    assert client.post("/api/auth/logout/").status_code == 204
    assert client.get("/api/auth/me/").status_code == 401


def test_session_login_needs_csrf(shop: ShopServer, user: tuple[str, str]) -> None:
    response = requests.post(f"{shop.url}/api/auth/login/", json={"username": user[0], "password": user[1]}, timeout=10)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_session_login_rejects_wrong_password(client: ShopClient, user: tuple[str, str]) -> None:
    client.get("/api/auth/csrf/")
    response = client.post("/api/auth/login/", json={"username": user[0], "password": "wrong"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid username or password."}

    missing = client.post("/api/auth/login/", json={"username": user[0]})
    assert missing.status_code == 400
    assert missing.json() == {"password": ["This field is required."]}


def test_jwt_login_refresh_and_use(client: ShopClient, user: tuple[str, str]) -> None:
    tokens = client.jwt_login(*user)
    me = client.get("/api/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == user[0]

    refreshed = client.post("/api/auth/token/refresh/", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200 and refreshed.json()["access"]

    bad = requests.post(f"{client.base_url}/api/auth/token/", json={"username": user[0], "password": "x"}, timeout=10)
    assert bad.status_code == 401
    forged = requests.get(f"{client.base_url}/api/auth/me/", headers={"Authorization": "Bearer not.a.jwt"}, timeout=10)
    assert forged.status_code == 401


def test_probe_user_is_seeded(client: ShopClient) -> None:
    client.jwt_login(PROBE_USER, PROBE_PASSWORD)
    assert client.get("/api/auth/me/").json()["username"] == PROBE_USER


# --- cart -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/cart/"),
        ("POST", "/api/cart/items/"),
        ("PATCH", "/api/cart/items/1/"),
        ("DELETE", "/api/cart/items/1/"),
        ("POST", "/api/checkout/"),
        ("GET", "/api/orders/"),
        ("GET", "/api/orders/1/"),
        ("DELETE", "/api/orders/1/"),
    ],
)
def test_anonymous_cannot_touch_cart_or_orders(client: ShopClient, method: str, path: str) -> None:
    response = client.request(method, path, json={})
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


def test_cart_add_change_remove(shopper: ShopClient, openapi: OpenAPI) -> None:
    product = first_product(shopper)
    empty = shopper.get("/api/cart/")
    assert empty.status_code == 200
    assert empty.json()["items"] == [] and empty.json()["total"] == "0.00"
    assert_matches_schema(openapi, empty)

    added = shopper.post("/api/cart/items/", json={"product_id": product["id"], "quantity": 2})
    assert added.status_code == 201, added.text
    assert_matches_schema(openapi, added)
    again = shopper.post("/api/cart/items/", json={"product_id": product["id"]}).json()
    (item,) = again["items"]
    assert item["quantity"] == 3
    assert Decimal(again["total"]) == Decimal(product["price"]) * 3

    changed = shopper.patch(f"/api/cart/items/{item['id']}/", json={"quantity": 1})
    assert changed.status_code == 200
    assert changed.json()["item_count"] == 1
    assert_matches_schema(openapi, changed)

    removed = shopper.delete(f"/api/cart/items/{item['id']}/")
    assert removed.status_code == 200 and removed.json()["items"] == []
    assert shopper.delete(f"/api/cart/items/{item['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"quantity": 1}, "product_id", "This field is required."),
        ({"product_id": 999999}, "product_id", 'Invalid pk "999999" - object does not exist.'),
        ({"product_id": 1, "quantity": 0}, "quantity", "Ensure this value is greater than or equal to 1."),
        ({"product_id": 1, "quantity": "many"}, "quantity", "A valid integer is required."),
        ({"product_id": 1, "quantity": 99}, "quantity", "Only 1000 of COF-001 in stock."),
    ],
)
def test_cart_validation_errors(shopper: ShopClient, body: dict[str, Any], field: str, message: str) -> None:
    if field == "quantity" and body.get("quantity") == 99:
        # Make stock the limit: the seeded first product has 1000; ask for more than that in two steps.
        shopper.post("/api/cart/items/", json={"product_id": 1, "quantity": 99})
        for _ in range(9):
            shopper.post("/api/cart/items/", json={"product_id": 1, "quantity": 99})
        body = {"product_id": 1, "quantity": 99}
    response = shopper.post("/api/cart/items/", json=body)
    assert response.status_code == 400
    assert response.json()[field] == [message]


def test_malformed_json_is_400(shopper: ShopClient) -> None:
    response = shopper.post("/api/cart/items/", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_users_cannot_touch_each_others_cart_items(shop: ShopServer, shopper: ShopClient) -> None:
    item = shopper.post("/api/cart/items/", json={"product_id": 2}).json()["items"][0]
    other = ShopClient(shop.url)
    other.jwt_login(PROBE_USER, PROBE_PASSWORD)
    assert other.patch(f"/api/cart/items/{item['id']}/", json={"quantity": 5}).status_code == 404
    assert other.delete(f"/api/cart/items/{item['id']}/").status_code == 404
    assert shopper.get("/api/cart/").json()["items"][0]["quantity"] == 1


# --- checkout and orders ----------------------------------------------------------------------------------------


def test_full_checkout(shop: ShopServer, shopper: ShopClient, openapi: OpenAPI) -> None:
    product = shopper.get("/api/products/3/").json()
    shopper.post("/api/cart/items/", json={"product_id": 3, "quantity": 2})
    shopper.post("/api/cart/items/", json={"product_id": 4, "quantity": 1})

    checkout = shopper.post("/api/checkout/")
    assert checkout.status_code == 201, checkout.text
    assert_matches_schema(openapi, checkout)
    order = checkout.json()
    assert [(line["product_id"], line["quantity"]) for line in order["items"]] == [(3, 2), (4, 1)]
    assert Decimal(order["total"]) == sum(Decimal(line["subtotal"]) for line in order["items"])

    assert shopper.get("/api/cart/").json()["items"] == []
    assert shopper.get("/api/products/3/").json()["stock"] == product["stock"] - 2

    detail = shopper.get(f"/api/orders/{order['id']}/")
    assert detail.status_code == 200 and detail.json() == order
    assert_matches_schema(openapi, detail)
    listing = shopper.get("/api/orders/").json()
    assert [o["id"] for o in listing["results"]] == [order["id"]]

    other = ShopClient(shop.url)
    other.jwt_login(PROBE_USER, PROBE_PASSWORD)
    assert other.get(f"/api/orders/{order['id']}/").status_code == 404
    assert other.delete(f"/api/orders/{order['id']}/").status_code == 404
    assert order["id"] not in [o["id"] for o in other.get("/api/orders/").json()["results"]]

    # Cancelling (the workflows' teardown) deletes the order and puts the stock back.
    assert shopper.delete(f"/api/orders/{order['id']}/").status_code == 204
    assert shopper.get(f"/api/orders/{order['id']}/").status_code == 404
    assert shopper.get("/api/products/3/").json()["stock"] == product["stock"]


def test_checkout_of_empty_cart_is_400(shopper: ShopClient) -> None:
    response = shopper.post("/api/checkout/")
    assert response.status_code == 400
    assert response.json() == {"detail": "The cart is empty."}


def test_checkout_with_jwt(client: ShopClient, user: tuple[str, str]) -> None:
    client.jwt_login(*user)
    client.post("/api/cart/items/", json={"product_id": 5})
    response = client.post("/api/checkout/")
    assert response.status_code == 201
    assert client.get(f"/api/orders/{response.json()['id']}/").status_code == 200


def test_session_write_without_csrf_is_refused(shop: ShopServer, user: tuple[str, str]) -> None:
    victim = ShopClient(shop.url)
    victim.session_login(*user)
    response = victim.post("/api/cart/items/", json={"product_id": 1}, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_openapi_document(shop: ShopServer) -> None:
    response = shop.get("/api/schema/?format=json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/products/",
        "/api/products/{id}/",
        "/api/auth/login/",
        "/api/auth/token/",
        "/api/cart/",
        "/api/cart/items/",
        "/api/cart/items/{item_id}/",
        "/api/checkout/",
        "/api/orders/{id}/",
    } <= spec["paths"].keys()
    assert "/_demo/faults" not in spec["paths"]
    assert set(spec["paths"]["/api/cart/"]["get"]["responses"]) == {"200", "401"}


def test_concurrent_first_schema_requests_all_get_the_document(tmp_path: Path) -> None:
    """A fresh worker asked for /api/schema/ by many clients at once (the exporter's sweeps, checks and map at
    start-up): each gets the same document (drf-spectacular's first generations race; the shop serialises them)."""
    shop = start_shop(tmp_path / "shop", f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: requests.get(f"{shop.url}/api/schema/?format=json", timeout=60),
                                    range(16)))  # fmt: skip
    finally:
        shop.stop()
    assert Counter(a.status_code for a in answers) == {200: 16}
    assert len({a.content for a in answers}) == 1


def test_concurrent_shoppers_never_get_a_server_error(shop: ShopServer) -> None:
    """Shoppers writing at the same time (carts, checkouts taking stock of the same products, cancellations putting
    it back) each get their answer: no 500 from the database refusing a concurrent writer (SQLite's "database is
    locked" when a transaction upgrades its read lock, a deadlock on MariaDB), and the stock adds up afterwards."""
    shoppers, rounds = 4, 6
    names = [f"busy-{uuid.uuid4().hex[:8]}" for _ in range(shoppers)]
    for name in names:
        shop.add_user(name, f"pw-{name}")
    before = {pid: shop.get(f"/api/products/{pid}/").json()["stock"] for pid in (3, 4)}

    def one_shopper(name: str) -> list[tuple[str, int]]:
        answers = []
        client = ShopClient(shop.url)
        try:
            client.session_login(name, shop.users[name])
            for _ in range(rounds):
                for pid in (4, 3):  # both products, in the other order than checkout takes them
                    added = client.post("/api/cart/items/", json={"product_id": pid, "quantity": 1})
                    answers.append(("add-item", added.status_code))
                checkout = client.post("/api/checkout/")
                answers.append(("checkout", checkout.status_code))
                if checkout.status_code == 201:
                    cancelled = client.delete(f"/api/orders/{checkout.json()['id']}/")
                    answers.append(("cancel-order", cancelled.status_code))
        finally:
            client.close()
        return answers

    with ThreadPoolExecutor(shoppers) as pool:
        answers = [answer for part in pool.map(one_shopper, names) for answer in part]
    assert Counter(answers) == {
        ("add-item", 201): shoppers * rounds * 2,
        ("checkout", 201): shoppers * rounds,
        ("cancel-order", 204): shoppers * rounds,
    }
    assert {pid: shop.get(f"/api/products/{pid}/").json()["stock"] for pid in (3, 4)} == before
