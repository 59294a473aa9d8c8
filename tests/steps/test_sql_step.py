"""``sql`` steps against a real SQLite file and the real MariaDB of the test harness."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import MariaDB
from tests.steps.stub import StubServer, describe, run_steps, step

NO_HTTP = "http://127.0.0.1:1"  # sql-only workflows still need a target URL; nothing connects to it


@pytest.fixture
def sqlite_dsn(tmp_path: Path) -> str:
    path = tmp_path / "shop.sqlite3"
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE shop_order (id INTEGER PRIMARY KEY, total REAL, status TEXT)")
        connection.executemany(
            "INSERT INTO shop_order (id, total, status) VALUES (?, ?, ?)", [(1, 12.5, "paid"), (2, 7.0, "open")]
        )
    connection.close()
    return f"sqlite:///{path}"


@dataclass
class ShopDatabase:
    dsn: str
    server: MariaDB
    name: str
    user: str
    password: str


@pytest.fixture(scope="module")
def maria_db(mariadb: MariaDB) -> Iterator[ShopDatabase]:
    name = f"steps_{uuid.uuid4().hex[:8]}"
    password = f"pw-{name}"
    dsn = mariadb.create_database(name, user=name, password=password)
    connection = mariadb.connect(user=name, password=password, database=name)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE shop_order (id INT PRIMARY KEY, total DECIMAL(8, 2) NOT NULL, status VARCHAR(20))"
            )
            cursor.execute("INSERT INTO shop_order VALUES (1, 12.50, 'paid'), (2, 7.00, 'open')")
    finally:
        connection.close()
    yield ShopDatabase(dsn, mariadb, name, name, password)
    mariadb.query(f"DROP DATABASE `{name}`")


def database(dsn: str) -> str:
    return f"database: {{dsn: '{dsn}'}}"


ORDERS = """
- name: orders
  sql: "SELECT id, total, status FROM shop_order ORDER BY id"
  expect:
    rows: 2
    min_rows: 1
    values: {id: 1, total: "12.5", status: paid}
    max_duration: 5s
  extract:
    first_id: {column: id}
    first_total: {column: total}
- name: one-order
  sql:
    query: "SELECT id, status, total FROM shop_order WHERE id = %(order_id)s AND status = %(status)s"
    params: {order_id: "${first_id}", status: paid}
  expect:
    rows: 1
    values: {id: "${first_id}", total: "${first_total}"}
"""


def test_sqlite_rows_values_and_extraction(sqlite_dsn: str) -> None:
    run = run_steps(NO_HTTP, ORDERS, target=database(sqlite_dsn))
    assert run.success, describe(run)
    orders = step(run, "orders")
    assert orders.extracted == {"first_id": 1, "first_total": 12.5}
    assert [(c.name, c.ok) for c in orders.assertions] == [
        ("rows", True),
        ("min_rows", True),
        ("value id", True),
        ("value total", True),
        ("value status", True),
        ("max_duration", True),
    ]
    assert orders.exchange is not None
    assert orders.exchange.response_body.splitlines() == ["id, total, status", "1, 12.5, paid", "2, 7.0, open"]
    assert step(run, "one-order").exchange is not None


def test_a_column_extracted_by_sql_flows_into_an_http_step(sqlite_dsn: str, stub: StubServer) -> None:
    run = run_steps(
        stub.url,
        """
        - name: open-order
          sql: "SELECT id FROM shop_order WHERE status = 'open'"
          extract: {order_id: {column: id}}
        - name: show
          http: {path: "/echo/orders/${order_id}"}
          expect: {json: {path: /echo/orders/2}}
        """,
        target=database(sqlite_dsn),
    )
    assert run.success, describe(run)
    assert [r.path for r in stub.requests] == ["/echo/orders/2"]


@pytest.mark.parametrize(
    ("expect", "reason", "message"),
    [
        ("{rows: 3}", "assertion", "rows: 2 rows, expected 3"),
        ("{min_rows: 5}", "assertion", "min_rows: 2 rows, at least 5"),
        ("{values: {status: refunded}}", "assertion", "value status: status is 'paid', expected 'refunded'"),
        ("{values: {total: 12.51}}", "assertion", "value total: total is 12.5, expected 12.51"),
        ("{values: {nope: 1}}", "assertion", "value nope: nope is None, expected 1"),
    ],
)
def test_sqlite_failed_assertions_fail_with_assertion(sqlite_dsn: str, expect: str, reason: str, message: str) -> None:
    steps = f"- name: orders\n  sql: SELECT id, total, status FROM shop_order ORDER BY id\n  expect: {expect}"
    run = run_steps(NO_HTTP, steps + "\n- name: after\n  sql: SELECT 1", target=database(sqlite_dsn))
    orders = step(run, "orders")
    assert (orders.status, orders.reason, orders.message) == ("failed", reason, message), describe(run)
    assert step(run, "after").status == "skipped"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT id FROM shop_order", "value: column 'total' is not in the first row"),
        ("SELECT total FROM shop_order WHERE id = 99", "value: column 'total' is not in the first row"),
    ],
)
def test_sqlite_extraction_of_a_missing_column_or_row_fails_with_extraction(
    sqlite_dsn: str, query: str, message: str
) -> None:
    run = run_steps(NO_HTTP, f"- name: read\n  sql: {query}\n  extract: {{value: {{column: total}}}}",
                    target=database(sqlite_dsn))  # fmt: skip
    read = step(run, "read")
    assert (read.status, read.reason, read.message) == ("failed", "extraction", message), describe(run)


@pytest.mark.parametrize(
    ("name", "relative", "says"),
    [
        ("absent.sqlite3", False, "no such file"),
        ("absent.sqlite3", True, "the dsn's relative path"),
        ("a directory", False, "not a file"),
        ("what?#odd.sqlite3", False, None),  # exists: '?' and '#' in a file name are part of the path
    ],
)
def test_a_sqlite_file_that_cannot_be_opened_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, relative: bool, says: str | None
) -> None:
    file = tmp_path / name
    if name == "a directory":
        file.mkdir()
    elif says is None:
        sqlite3.connect(file).close()
    monkeypatch.chdir(tmp_path)
    dsn = f"sqlite:///{name if relative else file}".replace("?", "%3F").replace("#", "%23")
    run = run_steps(NO_HTTP, "- name: read\n  sql: SELECT 1", target=database(dsn))
    read = step(run, "read")
    if says is None:
        assert read.ok, describe(run)
        return
    assert (read.status, read.reason) == ("failed", "sql"), describe(run)
    assert f"cannot open the SQLite database {str(file)!r}" in read.message and says in read.message
    assert not (tmp_path / "absent.sqlite3").exists(), "a read-only step must not create the database"


def test_a_slow_sqlite_query_cannot_outlast_the_run_timeout(sqlite_dsn: str) -> None:
    # About ten seconds of work: long enough to show the deadline, bounded so a regression fails rather than hangs.
    endless = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) SELECT count(*) FROM n"
    )
    started = time.monotonic()
    run = run_steps(NO_HTTP, f"- name: endless\n  sql: '{endless}'", target=database(sqlite_dsn), timeout="1s")
    elapsed = time.monotonic() - started
    endless_step = step(run, "endless")
    assert (endless_step.status, endless_step.reason) == ("failed", "timeout"), describe(run)
    assert endless_step.message.startswith("the query was still running at the run's deadline"), endless_step.message
    assert elapsed < 1 + 3, f"the run took {elapsed:.1f}s with a 1s timeout"


# --- MariaDB ---------------------------------------------------------------------------------------------------


def test_mariadb_rows_values_and_extraction(maria_db: ShopDatabase) -> None:
    run = run_steps(NO_HTTP, ORDERS, target=database(maria_db.dsn))
    assert run.success, describe(run)
    assert step(run, "orders").extracted == {"first_id": 1, "first_total": "12.50"}  # DECIMAL as text
    # The page shows where the query ran, never the credentials.
    exchange = step(run, "orders").exchange
    assert exchange is not None
    assert maria_db.password not in exchange.url
    assert exchange.url == "mysql://127.0.0.1/" + maria_db.name


def test_mariadb_failed_values_assertion_fails_with_assertion(maria_db: ShopDatabase) -> None:
    run = run_steps(
        NO_HTTP,
        "- name: orders\n  sql: SELECT total FROM shop_order WHERE id = 2\n  expect: {values: {total: '7.01'}}",
        target=database(maria_db.dsn),
    )
    orders = step(run, "orders")
    assert (orders.status, orders.reason) == ("failed", "assertion"), describe(run)
    assert orders.message == "value total: total is Decimal('7.00'), expected '7.01'"


def test_mariadb_wrong_password_fails_with_sql(maria_db: ShopDatabase) -> None:
    dsn = maria_db.dsn.replace(f":{maria_db.password}@", ":not-the-password@")
    assert dsn != maria_db.dsn
    run = run_steps(NO_HTTP, "- name: read\n  sql: SELECT 1", target=database(dsn))
    read = step(run, "read")
    assert (read.status, read.reason) == ("failed", "sql"), describe(run)
    assert read.message.startswith('OperationalError: (1045, "Access denied for user'), read.message
    assert "not-the-password" not in read.message


def test_mariadb_sees_the_run_correlation_id_in_a_read_only_transaction(maria_db: ShopDatabase) -> None:
    run = run_steps(
        NO_HTTP,
        "- name: order\n  sql: {query: 'SELECT status FROM shop_order WHERE id = %(id)s', params: {id: 2}}",
        target=database(maria_db.dsn),
    )
    assert run.success, describe(run)
    cid = run.correlation_id
    rows = maria_db.server.query(
        "SELECT THREAD_ID, SQL_TEXT FROM performance_schema.events_statements_history_long WHERE SQL_TEXT LIKE %s",
        (f"%request_id='{cid}'%",),
    )
    assert [text for _thread, text in rows] == [f"/*request_id='{cid}'*/ SELECT status FROM shop_order WHERE id = 2"]
    ((thread_id, _text),) = rows
    session = maria_db.server.query(
        "SELECT SQL_TEXT FROM performance_schema.events_statements_history_long WHERE THREAD_ID = %s ORDER BY EVENT_ID",
        (thread_id,),
    )
    texts = [text for (text,) in session]
    position = texts.index(rows[0][1])
    assert texts[position - 1] == "START TRANSACTION READ ONLY", texts
    assert texts[position + 1] == "ROLLBACK", texts


def test_a_slow_mariadb_query_fails_with_timeout(maria_db: ShopDatabase) -> None:
    started = time.monotonic()
    run = run_steps(NO_HTTP, "- name: slow\n  sql: SELECT SLEEP(5)", target=database(maria_db.dsn), timeout="1s")
    elapsed = time.monotonic() - started
    slow = step(run, "slow")
    assert (slow.status, slow.reason) == ("failed", "timeout"), describe(run)
    assert slow.message.startswith("the query was still running at the run's deadline"), slow.message
    assert elapsed < 1 + 3, f"the run took {elapsed:.1f}s with a 1s timeout"
