"""SQL: the comment each statement carries, per-request accounting, slow and repeated (N+1) statements."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client

from django_integration.correlation import RequestState
from django_integration.db import add_comment, normalize_sql, sql_comment
from django_integration.metrics import get_metrics
from tests.django_integration.conftest import LogLines, sample

pytestmark = [pytest.mark.urls("tests.django_integration.views"), pytest.mark.django_db]


@pytest.fixture
def sqlite_statements(seeded: None) -> Iterator[list[str]]:
    """Every statement SQLite itself executed, as it received it."""
    connection.ensure_connection()
    seen: list[str] = []
    connection.connection.set_trace_callback(seen.append)
    yield seen
    connection.connection.set_trace_callback(None)


def test_statements_carry_the_correlation_id_and_route(sqlite_statements: list[str]) -> None:
    Client().get("/api/products/3/", headers={"X-Request-ID": "sql-comment-0001"})
    product_queries = [s for s in sqlite_statements if "shop_product" in s]
    assert product_queries
    for statement in product_queries:
        assert statement.startswith("/*request_id='sql-comment-0001',route='api%2Fproducts%2F%3Cint%3Apk%3E%2F',")
        assert "traceparent='00-" in statement
        assert "/*+" not in statement


def test_comment_format_is_sqlcommenters() -> None:
    state = RequestState(correlation_id="abc12345", route="api/o'k/<int:pk>/")
    comment = sql_comment(state)
    assert comment.startswith("/*request_id='abc12345',route='api%2Fo%27k%2F%3Cint%3Apk%3E%2F',traceparent='00-")
    assert comment.endswith("-01'*/")
    assert "*/" not in comment[:-2]


@pytest.mark.parametrize(
    "sql",
    [
        "/*+ MAX_EXECUTION_TIME(1000) */ SELECT 1",
        "  /* someone else's comment */ SELECT 1",
    ],
)
def test_statements_that_start_with_a_comment_are_left_alone(sql: str) -> None:
    assert add_comment(sql, RequestState(correlation_id="abc12345"), has_params=False) == sql


def test_percent_signs_survive_driver_formatting() -> None:
    state = RequestState(correlation_id="abc12345", route="api/<int:pk>/")
    with_params = add_comment("SELECT %s", state, has_params=True)
    assert "%%3Cint%%3Apk%%3E" in with_params and with_params.endswith(" SELECT %s")
    assert "%%" not in add_comment("SELECT 1", state, has_params=False)


def test_sql_comments_can_be_switched_off(sqlite_statements: list[str], settings: object) -> None:
    settings.WORKFLOW_EXPORTER = {"SQL_COMMENTS": False}  # type: ignore[attr-defined]
    Client().get("/api/products/3/")
    assert not [s for s in sqlite_statements if "request_id" in s]


@pytest.mark.parametrize(
    ("sql", "normalized"),
    [
        ("SELECT * FROM t WHERE id = 42 AND name = 'bob'", "SELECT * FROM t WHERE id = ? AND name = ?"),
        ('SELECT "t"."id" FROM "t" WHERE "t"."id" = %s', 'SELECT "t"."id" FROM "t" WHERE "t"."id" = ?'),
        ("SELECT a FROM t WHERE id IN (%s, %s, %s)", "SELECT a FROM t WHERE id IN (...)"),
        ("SELECT a FROM t WHERE id IN (1,2,3,4)", "SELECT a FROM t WHERE id IN (...)"),
        ("SELECT  a\n  FROM t", "SELECT a FROM t"),
        ("/*request_id='x'*/ SELECT 1", "SELECT ?"),
        ("SELECT col2 FROM t2 WHERE s = 'it''s'", "SELECT col2 FROM t2 WHERE s = ?"),
    ],
)
def test_normalize_sql_drops_values(sql: str, normalized: str) -> None:
    assert normalize_sql(sql) == normalized


def test_request_counts_its_queries(seeded: None) -> None:
    before = sample("django_request_db_queries_sum", route="t/count/", method="GET")
    response = Client().get("/t/count/")
    assert response.status_code == 200
    assert sample("django_request_db_queries_sum", route="t/count/", method="GET") - before == 1
    assert 'desc="1 query"' in response["Server-Timing"]


def test_repeated_queries_are_detected(seeded: None, json_logs: LogLines) -> None:
    before = sample("django_db_repeated_queries_total", route="t/one-by-one/", alias="default")
    Client().get("/t/one-by-one/", headers={"X-Request-ID": "n-plus-one-01"})
    assert sample("django_db_repeated_queries_total", route="t/one-by-one/", alias="default") - before == 1
    (line,) = [entry for entry in json_logs() if entry["message"].startswith("repeated query")]
    assert line["count"] == 7
    assert line["correlation_id"] == "n-plus-one-01"
    assert line["db_alias"] == "default"
    assert "select_related() or prefetch_related()" in line["message"]
    assert line["statement"].startswith('SELECT "shop_product"."id"')
    assert line["statement"].endswith('WHERE "shop_product"."id" = ? LIMIT ?')
    assert line["layer"] == "db"


def test_efficient_view_is_not_an_n_plus_one(seeded: None, json_logs: LogLines) -> None:
    before = sample("django_db_repeated_queries_total", route="t/at-once/", alias="default")
    Client().get("/t/at-once/")
    assert sample("django_db_repeated_queries_total", route="t/at-once/", alias="default") == before
    assert not [entry for entry in json_logs() if entry["message"].startswith("repeated query")]


def test_threshold_is_a_setting(seeded: None, settings: object, json_logs: LogLines) -> None:
    settings.WORKFLOW_EXPORTER = {"REPEATED_QUERY_THRESHOLD": 8}  # type: ignore[attr-defined]
    Client().get("/t/one-by-one/")  # 7 repetitions
    assert not [entry for entry in json_logs() if entry["message"].startswith("repeated query")]


@pytest.mark.parametrize(
    ("setting", "family", "configured", "exported"),
    [
        ("SLOW_QUERY_SECONDS", "django_db_slow_query_threshold_seconds", 0.25, 0.25),
        ("REPEATED_QUERY_THRESHOLD", "django_db_repeated_query_threshold", 8, 8.0),
        ("SLOW_QUERY_SECONDS", "django_db_slow_query_threshold_seconds", None, 0.5),  # the default
        ("REPEATED_QUERY_THRESHOLD", "django_db_repeated_query_threshold", None, 5.0),
        (
            "SLOW_QUERY_SECONDS",
            "django_db_slow_query_threshold_seconds",
            "fast",
            None,
        ),  # unreadable: NaN, scrape goes on
    ],
)
def test_the_thresholds_in_force_are_exported(
    settings: object, setting: str, family: str, configured: object, exported: float | None
) -> None:
    """The alerts print the threshold the application judges by (rules/database.rules.yml), read at scrape time."""
    settings.WORKFLOW_EXPORTER = {} if configured is None else {setting: configured}  # type: ignore[attr-defined]
    get_metrics()  # the process-wide families exist from the first request on
    value = sample(family)
    assert value == exported if exported is not None else math.isnan(value)


def test_slow_query_is_detected(seeded: None, settings: object, json_logs: LogLines) -> None:
    settings.WORKFLOW_EXPORTER = {"SLOW_QUERY_SECONDS": 0.05}  # type: ignore[attr-defined]
    before = sample("django_db_slow_queries_total", route="t/slow/", alias="default")
    Client().get("/t/slow/", {"seconds": "0.1"}, headers={"X-Request-ID": "slow-query-01"})
    assert sample("django_db_slow_queries_total", route="t/slow/", alias="default") - before == 1
    (line,) = [entry for entry in json_logs() if entry["message"].startswith("slow query")]
    assert line["statement"] == "SELECT SLEEP(?)"
    assert line["duration_ms"] >= 100
    assert line["correlation_id"] == "slow-query-01"
    assert line["level"] == "WARNING"


def test_fast_query_is_not_slow(seeded: None, settings: object, json_logs: LogLines) -> None:
    settings.WORKFLOW_EXPORTER = {"SLOW_QUERY_SECONDS": 0.5}  # type: ignore[attr-defined]
    before = sample("django_db_slow_queries_total", route="t/slow/", alias="default")
    Client().get("/t/slow/", {"seconds": "0.01"})
    assert sample("django_db_slow_queries_total", route="t/slow/", alias="default") == before


def test_queries_outside_requests_are_untouched(sqlite_statements: list[str]) -> None:
    from demo_shop.shop.models import Product

    Product.objects.count()
    assert sqlite_statements and not [s for s in sqlite_statements if "request_id" in s]


def test_server_timing_reports_app_and_db_time(seeded: None, settings: object) -> None:
    settings.WORKFLOW_EXPORTER = {"TIMING_ALLOW_ORIGIN": ["https://shop.example", "https://www.shop.example"]}  # type: ignore[attr-defined]
    response = Client().get("/t/one-by-one/")
    app, db = (part.strip() for part in response["Server-Timing"].split(","))
    assert app.startswith("app;dur=") and float(app.split("=")[1]) > 0
    assert db.startswith("db;dur=") and db.endswith(';desc="7 queries"')
    assert response["Timing-Allow-Origin"] == "https://shop.example https://www.shop.example"


def test_server_timing_can_be_switched_off(seeded: None, settings: object) -> None:
    settings.WORKFLOW_EXPORTER = {"SERVER_TIMING": False}  # type: ignore[attr-defined]
    response = Client().get("/t/count/")
    assert "Server-Timing" not in response and "Timing-Allow-Origin" not in response
    assert response["Access-Control-Expose-Headers"] == "X-Request-ID"
