"""Faults whose proof needs MariaDB's own view of the statements it ran."""

from __future__ import annotations

import requests

from tests.harness import MariaDB, ShopServer


def test_n_plus_one_seen_by_performance_schema(mariadb_shop: ShopServer, mariadb: MariaDB) -> None:
    """With n_plus_one on, MariaDB runs one extra category lookup per product row listed."""
    database = mariadb_shop.env["DATABASE_URL"].rsplit("/", 1)[1]

    def category_lookups() -> int:
        rows = mariadb.query(
            "SELECT COALESCE(SUM(COUNT_STAR), 0) FROM performance_schema.events_statements_summary_by_digest "
            "WHERE SCHEMA_NAME = %s AND DIGEST_TEXT LIKE %s AND DIGEST_TEXT NOT LIKE %s",
            # The lookup by key: the integrity refresher also reads shop_category in the background.
            (database, "%FROM `shop_category` WHERE%", "%JOIN%"),
        )
        return int(rows[0][0])

    def list_products() -> None:
        assert requests.get(f"{mariadb_shop.url}/api/products/?page_size=20", timeout=10).status_code == 200

    before = category_lookups()
    list_products()
    assert category_lookups() == before
    faults_url = f"{mariadb_shop.url}/_demo/faults"
    assert requests.put(faults_url, json={"n_plus_one": True}, timeout=10).json()["n_plus_one"] is True
    list_products()
    assert category_lookups() - before == 20
