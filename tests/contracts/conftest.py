"""The demo shop's config with the environment the shop under test needs, and what a sweep may not change."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import MySQLdb
import pytest
import requests

from synthetic.config import Config, load_config
from synthetic.contracts.negative import NegativeData
from tests.conftest import REPO_ROOT
from tests.harness import ShopServer

DEMO_WORKFLOWS = REPO_ROOT / "synthetic" / "workflows" / "demo_shop.yml"
FAULTS = ("schema_drift", "open_write", "cors_wildcard", "slow_products", "checkout_errors", "n_plus_one")


@pytest.fixture
def demo_config(shop: ShopServer, monkeypatch: pytest.MonkeyPatch) -> Config:
    """synthetic/workflows/demo_shop.yml as shipped, pointed at the shop under test."""
    monkeypatch.setenv("SHOP_URL", shop.url)
    monkeypatch.setenv("SHOP_DATABASE_URL", shop.env["DATABASE_URL"])
    monkeypatch.setenv("DEMO_PROBE_PASSWORD", shop.env["DEMO_PROBE_PASSWORD"])
    return load_config(DEMO_WORKFLOWS)


@pytest.fixture(scope="session")
def negative() -> NegativeData:
    """One cache of generated invalid requests for the session: generation costs once per document."""
    return NegativeData()


@pytest.fixture
def healthy(shop: ShopServer) -> Iterator[ShopServer]:
    """The shop with every fault off, before and after the test."""
    shop.set_faults(**dict.fromkeys(FAULTS, False))
    yield shop
    shop.set_faults(**dict.fromkeys(FAULTS, False))


def table_counts(shop: ShopServer) -> dict[str, int]:
    """Rows in every table of the shop's database."""
    url = urlsplit(shop.env["DATABASE_URL"])
    if url.scheme == "sqlite":
        with sqlite3.connect(unquote(url.path)) as connection:
            tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: connection.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    connection = MySQLdb.connect(host=url.hostname, port=url.port, user=unquote(url.username or ""),
                                 password=unquote(url.password or ""), database=url.path.lstrip("/"))  # fmt: skip
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            tables = [row[0] for row in cursor.fetchall()]
            counts = {}
            for table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
                counts[table] = cursor.fetchone()[0]
            return counts
    finally:
        connection.close()


def snapshot(shop: ShopServer) -> dict[str, Any]:
    """What a sweep must leave as it was: the row count of every table and every row of the shop's own tables
    (products and their stock, categories, carts, cart items, orders, order items)."""
    return {"counts": table_counts(shop), "shop": json.loads(shop.manage("dumpdata", "shop", "--format", "json"))}


def prepare_probe_user(shop: ShopServer) -> None:
    """GET /api/cart/ creates the user's cart on first use (get_or_create): a side effect of the shop's own GET,
    which the cart journey has caused long before a sweep in any deployment. Cause it here, before counting."""
    token = requests.post(f"{shop.url}/api/auth/token/", json={"username": "probe", "password":
                          shop.env["DEMO_PROBE_PASSWORD"]}, timeout=10).json()["access"]  # fmt: skip
    assert requests.get(f"{shop.url}/api/cart/", headers={"Authorization": f"Bearer {token}"}, timeout=10).ok
