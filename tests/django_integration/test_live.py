"""The integration inside the demo shop served by gunicorn, on SQLite and MariaDB, seen from outside."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.harness import MariaDB, ShopServer, require_binary, start_prometheus, wait_until

OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_the_id_reaches_the_response_and_every_log_line(shop: ShopServer) -> None:
    cid = new_id("live")
    response = requests.get(f"{shop.url}/api/products/3/", headers={"X-Request-ID": cid}, timeout=10)
    assert response.headers["X-Request-ID"] == cid
    app_ms, db_ms = (
        float(part.split("dur=")[1].split(";")[0]) for part in response.headers["Server-Timing"].split(",")
    )
    assert app_ms > 0 and db_ms > 0
    lines = wait_until(lambda: shop.lines_of(cid), 10, "the request's log line")
    (request_line,) = [line for line in lines if line["logger"] == "django_integration.request"]
    assert request_line["route"] == "api/products/<int:pk>/"
    assert request_line["status"] == 200
    assert request_line["db_queries"] == 1


def test_n_plus_one_fault_is_caught(shop: ShopServer) -> None:
    cid = new_id("nplusone")
    shop.set_faults(n_plus_one=True)
    try:
        requests.get(f"{shop.url}/api/products/?page_size=20", headers={"X-Request-ID": cid}, timeout=10)
    finally:
        shop.set_faults(n_plus_one=False)
    lines = wait_until(lambda: shop.lines_of(cid), 10, "the request's log lines")
    (repeated,) = [line for line in lines if line["message"].startswith("repeated query")]
    assert repeated["count"] == 20
    assert "shop_category" in repeated["statement"]
    metrics = requests.get(f"{shop.url}/metrics", headers=OPENMETRICS, timeout=10).text
    assert f'# {{correlation_id="{cid}"}}' in "".join(
        line for line in metrics.splitlines() if line.startswith("django_db_repeated_queries_total{")
    )

    efficient = new_id("efficient")
    requests.get(f"{shop.url}/api/products/?page_size=20", headers={"X-Request-ID": efficient}, timeout=10)
    lines = wait_until(lambda: shop.lines_of(efficient), 10, "the request's log lines")
    assert not [line for line in lines if line["message"].startswith("repeated query")]


def test_slow_products_fault_is_caught(shop: ShopServer) -> None:
    cid = new_id("slow")
    shop.set_faults(slow_products=True)
    try:
        requests.get(f"{shop.url}/api/products/", headers={"X-Request-ID": cid}, timeout=30)
    finally:
        shop.set_faults(slow_products=False)
    lines = wait_until(lambda: shop.lines_of(cid), 10, "the request's log lines")
    (slow,) = [line for line in lines if line["message"].startswith("slow query")]
    assert slow["statement"] == "SELECT SLEEP(?)"
    assert slow["duration_ms"] >= 1000
    (request_line,) = [line for line in lines if line["logger"] == "django_integration.request"]
    assert request_line["db_ms"] >= 1000


def test_checkout_errors_are_classified(shop: ShopServer) -> None:
    from tests.demo_shop.client import ShopClient
    from tests.harness.shop import PROBE_PASSWORD, PROBE_USER

    buyer = ShopClient(shop.url)
    buyer.jwt_login(PROBE_USER, PROBE_PASSWORD)
    buyer.post("/api/cart/items/", json={"product_id": 9})
    cid = new_id("checkout")
    shop.set_faults(checkout_errors=True)
    try:
        assert buyer.post("/api/checkout/", headers={"X-Request-ID": cid}).status_code == 500
    finally:
        shop.set_faults(checkout_errors=False)
    lines = wait_until(lambda: shop.lines_of(cid), 10, "the request's log lines")
    (request_line,) = [line for line in lines if line["logger"] == "django_integration.request"]
    assert request_line["error_class"] == "server"
    assert request_line["level"] == "ERROR"
    assert [line for line in lines if line["logger"] == "django.request"], "Django's own error line lacks the ID"


def test_promtool_finds_nothing_wrong_with_metrics(shop: ShopServer, tmp_path: Path) -> None:
    """promtool lints the text format (it cannot parse OpenMetrics exemplars): our families and django-prometheus'."""
    promtool = require_binary("promtool")
    requests.get(f"{shop.url}/api/products/", headers={"X-Request-ID": new_id("lint")}, timeout=10)
    exposition = requests.get(f"{shop.url}/metrics", timeout=10).text
    assert (
        "django_request_duration_seconds_bucket" in exposition and "django_http_requests_total_by_method" in exposition
    )
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )


def test_sql_comment_as_mariadb_shows_it(mariadb_shop: ShopServer, mariadb: MariaDB) -> None:
    """The comment is in performance_schema's statement history and in the processlist while it runs."""
    cid = new_id("sqlcomment")
    requests.get(f"{mariadb_shop.url}/api/products/4/", headers={"X-Request-ID": cid}, timeout=10)
    rows = mariadb.query(
        "SELECT SQL_TEXT FROM performance_schema.events_statements_history_long WHERE SQL_TEXT LIKE %s",
        (f"%request_id='{cid}'%",),
    )
    assert rows, "no statement with the request's comment in performance_schema"
    assert all(row[0].startswith(f"/*request_id='{cid}',route='api%2Fproducts%2F%3Cint%3Apk%3E%2F'") for row in rows)

    slow_id = new_id("processlist")
    mariadb_shop.set_faults(slow_products=True)
    try:
        caller = threading.Thread(
            target=requests.get,
            args=(f"{mariadb_shop.url}/api/products/",),
            kwargs={"headers": {"X-Request-ID": slow_id}, "timeout": 30},
        )
        caller.start()
        running = wait_until(
            lambda: mariadb.query(
                "SELECT INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID != CONNECTION_ID()",
                (f"%{slow_id}%",),
            ),
            10,
            "the slow statement in the processlist",
            interval=0.02,
        )
        caller.join()
    finally:
        mariadb_shop.set_faults(slow_products=False)
    assert running[0][0].startswith(f"/*request_id='{slow_id}'")
    assert "SELECT SLEEP(" in running[0][0]


def test_prometheus_stores_the_exemplar(mariadb_shop: ShopServer, tmp_path: Path) -> None:
    target = mariadb_shop.url.removeprefix("http://")
    prometheus = start_prometheus(tmp_path, [{"job_name": "shop", "static_configs": [{"targets": [target]}]}])
    try:
        prometheus.wait_for_target_up("shop")
        cid = new_id("exemplar")
        requests.get(f"{mariadb_shop.url}/api/products/", headers={"X-Request-ID": cid}, timeout=10)

        def exemplars() -> list[str]:
            now = time.time()
            data = prometheus.api(
                "query_exemplars",
                query='django_request_duration_seconds_bucket{route="api/products/"}',
                start=now - 300,
                end=now + 60,
            )
            return [e["labels"]["correlation_id"] for series in data for e in series["exemplars"]]

        found = wait_until(lambda: cid in exemplars(), 30, "the exemplar in Prometheus", interval=0.5)
        assert found
    finally:
        prometheus.stop()


@pytest.fixture
def private_mariadb_shop(tmp_path: Path) -> tuple[ShopServer, MariaDB]:
    from tests.harness import start_mariadb, start_shop

    database = start_mariadb(tmp_path / "db")
    url = database.create_database("shop", "shop", "shop-password")
    return start_shop(tmp_path / "shop", url), database


def test_a_database_that_goes_away(private_mariadb_shop: tuple[ShopServer, MariaDB]) -> None:
    shop, database = private_mariadb_shop
    try:
        assert requests.get(f"{shop.url}/readyz", timeout=10).json()["status"] == "ready"
        database.stop()
        cid = new_id("dbgone")
        response = requests.get(f"{shop.url}/api/products/", headers={"X-Request-ID": cid}, timeout=30)
        assert response.status_code == 500
        assert response.headers["X-Request-ID"] == cid
        ready = requests.get(f"{shop.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database:default"]["ok"] is False
        assert "OperationalError" in ready.json()["checks"]["database:default"]["error"]
        assert requests.get(f"{shop.url}/healthz", timeout=10).status_code == 200
        lines = wait_until(lambda: shop.lines_of(cid), 10, "the failed request's log lines")
        (request_line,) = [line for line in lines if line["logger"] == "django_integration.request"]
        assert request_line["error_class"] == "db"
    finally:
        shop.stop()
        database.stop()


def test_readyz_reports_unapplied_migrations(tmp_path: Path) -> None:
    from tests.harness import start_shop

    shop = start_shop(tmp_path, f"sqlite:///{tmp_path / 'shop.sqlite3'}")
    try:
        assert requests.get(f"{shop.url}/readyz", timeout=10).status_code == 200
        shop.manage("migrate", "shop", "zero", "-v0")
        ready = requests.get(f"{shop.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"] == {"ok": False, "unapplied": ["shop.0001_initial"]}
    finally:
        shop.stop()
