"""The MySQL/MariaDB slow query log as a trace source, written by a real MariaDB: the statements whose comment
carries the ID, with their time, rows and the statement text; others' statements are not taken."""

from __future__ import annotations

import time
from pathlib import Path

from exporter.trace import Window, slowlog
from tests.harness import MariaDB

CID = "slow-log-0123456789abcdef"


def test_statements_of_the_id_come_from_the_slow_log(mariadb: MariaDB, tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    log.touch()
    log.chmod(0o666)
    settings = [("slow_query_log_file", str(log)), ("long_query_time", 0.0), ("log_output", "FILE")]
    previous = {name: mariadb.query(f"SELECT @@global.{name}")[0][0] for name, _ in settings}
    try:
        for name, value in settings:
            mariadb.query(f"SET GLOBAL {name} = %s", (value,))
        mariadb.query("SET GLOBAL slow_query_log = 1")
        connection = mariadb.connect()  # a new session takes the new long_query_time
        with connection.cursor() as cursor:
            cursor.execute(f"/*request_id='{CID}',route='api%2Fproducts%2F'*/ SELECT SLEEP(0.2), 1 AS one")
            cursor.execute("/*request_id='someone-else-00001'*/ SELECT 2")
        connection.close()
        mariadb.query("FLUSH SLOW LOGS")
    finally:
        mariadb.query("SET GLOBAL slow_query_log = 0")
        for name, value in previous.items():
            mariadb.query(f"SET GLOBAL {name} = %s", (value,))
    report = slowlog.search([str(log)], CID, Window(since=time.time() - 600))
    assert not report.problems
    (statement,) = report.events
    assert statement.kind == "statement" and statement.layer == "db"
    assert "SELECT SLEEP(0.2), 1 AS one" in statement.fields["statement"]
    assert statement.fields["duration_ms"] >= 200 and statement.fields["rows_sent"] == 1
    assert abs(statement.start - (time.time() - 0.2)) < 60


def test_the_statement_clock_is_read_with_and_without_the_current_statements_consumer(mariadb: MariaDB) -> None:
    """performance_schema's timer zero comes from this very statement's timer, or, with the current-statements
    consumer off, from the server's uptime in performance_schema.global_status (MySQL 8 has no
    information_schema.GLOBAL_STATUS): both agree with the wall clock within the uptime's second."""
    from exporter.trace import mysql

    def origin() -> float:
        connection = mariadb.connect()
        try:
            return mysql._clock_origin(connection.cursor())
        finally:
            connection.close()

    consumer = "WHERE NAME = 'events_statements_current'"
    (enabled,) = mariadb.query(f"SELECT ENABLED FROM performance_schema.setup_consumers {consumer}")[0]
    precise = origin()
    try:
        mariadb.query(f"UPDATE performance_schema.setup_consumers SET ENABLED = 'NO' {consumer}")
        from_uptime = origin()
    finally:
        mariadb.query(f"UPDATE performance_schema.setup_consumers SET ENABLED = %s {consumer}", (enabled,))
    assert enabled == "YES"
    assert abs(from_uptime - precise) < 1.5, (precise, from_uptime)
    assert precise < time.time()
