"""Connections: failures classified from real drivers; opened, failed, reused, stale and lost connections counted
from Django's own signals and wrappers without a statement of ours; the connections check on SQLite and MariaDB."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import MySQLdb
import pytest
from django.db import OperationalError, connections
from django.test import Client

from django_integration._dbconnections import ERROR_CLASSES, classify
from django_integration.integrity import OK
from django_integration.integrity.connections import CONNECT_SECONDS, LIMIT, OPEN
from tests.django_integration.conftest import sample
from tests.django_integration.integrity.conftest import Database, findings, samples, settings_dict
from tests.harness import MariaDB


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def mysql_error(**kwargs: Any) -> Callable[[MariaDB, int], BaseException]:
    def make(server: MariaDB, port: int) -> BaseException:
        params = {"host": "127.0.0.1", "port": server.port, "user": "root", "password": "", "connect_timeout": 5}
        params.update({key: port if value == "DEAD" else value for key, value in kwargs.items()})
        try:
            MySQLdb.connect(**params).close()
        except MySQLdb.Error as error:
            return error
        raise AssertionError(f"connecting with {kwargs} worked")

    return make


def lost_connection(server: MariaDB, port: int) -> BaseException:
    connection = server.connect()
    thread = connection.thread_id()
    server.query(f"KILL {int(thread)}")
    try:
        connection.cursor().execute("SELECT 1")
    except MySQLdb.Error as error:
        return error
    raise AssertionError("a killed connection still answered")


def sqlite_cannot_open(server: MariaDB, port: int) -> BaseException:
    try:
        sqlite3.connect("/nonexistent-directory/shop.sqlite3")
    except sqlite3.Error as error:
        return error
    raise AssertionError("opened a file in a missing directory")


def wrapped(make: Callable[[MariaDB, int], BaseException]) -> Callable[[MariaDB, int], BaseException]:
    """The same error as Django raises it: its own class, with the driver's error as the cause."""

    def make_wrapped(server: MariaDB, port: int) -> BaseException:
        cause = make(server, port)
        try:
            raise OperationalError(*cause.args) from cause
        except OperationalError as error:
            return error

    return make_wrapped


CASES = {
    "refused": (mysql_error(port="DEAD"), "refused"),
    "refused_through_django": (wrapped(mysql_error(port="DEAD")), "refused"),
    "auth": (mysql_error(password="not-the-password"), "auth"),
    "unknown_database": (mysql_error(database="no_such_database"), "unknown_database"),
    "dns": (mysql_error(host="no-such-host.invalid"), "dns"),
    "gone_away": (lost_connection, "gone_away"),
    "sqlite_cannot_open": (sqlite_cannot_open, "refused"),
    "too_many_connections": (
        lambda server, port: MySQLdb.OperationalError(1040, "Too many connections"),
        "too_many_connections",
    ),
    "anything_else": (lambda server, port: ValueError("not a database error"), "other"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_errors_are_classified(mariadb: MariaDB, dead_port: int, case: str) -> None:
    make, expected = CASES[case]
    assert classify(make(mariadb, dead_port)) == expected
    assert expected in ERROR_CLASSES


def test_connections_are_counted_and_timed(database: Database, alias: Any) -> None:
    wrapper = alias(database, "integrity_counted")
    assert getattr(wrapper, "_integrity_instrumented", False), "django.db.connections made it without our hooks"
    labels = {"alias": wrapper.alias}
    opened = sample("django_db_connections_opened_total", **labels)
    timed = sample("django_db_connect_duration_seconds_count", **labels)
    wrapper.ensure_connection()
    wrapper.close()
    wrapper.ensure_connection()
    assert sample("django_db_connections_opened_total", **labels) == opened + 2
    assert sample("django_db_connect_duration_seconds_count", **labels) == timed + 2
    for error_class in ERROR_CLASSES:  # every class exists from the first connection, so increase() sees the first
        assert f"{error_class}" and sample_exists("django_db_connection_errors_total", alias=wrapper.alias,
                                                  error_class=error_class)  # fmt: skip


def sample_exists(name: str, **labels: str) -> bool:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) is not None


def test_a_refused_connection_is_counted_by_class(database: Database, alias: Any, dead_port: int) -> None:
    if database.backend == "sqlite":
        wrapper = alias(database, "integrity_refused", NAME="/nonexistent-directory/shop.sqlite3")
    else:
        wrapper = alias(database, "integrity_refused", PORT=str(dead_port))
    labels = {"alias": wrapper.alias, "error_class": "refused"}
    before = sample("django_db_connection_errors_total", **labels)
    with pytest.raises(OperationalError):
        wrapper.ensure_connection()
    assert sample("django_db_connection_errors_total", **labels) == before + 1
    assert sample("django_db_connections_opened_total", alias=wrapper.alias) == 0


def test_a_stale_connection_failing_the_health_check_is_counted(
    mariadb: MariaDB, mariadb_database: Database, alias: Any
) -> None:
    """MariaDB: a SQLite connection never goes stale (its is_usable() is always true)."""
    wrapper = alias(mariadb_database, "integrity_stale", CONN_MAX_AGE=None, CONN_HEALTH_CHECKS=True)
    wrapper.ensure_connection()
    mariadb.query(f"KILL {int(wrapper.connection.thread_id())}")  # the server closed it (wait_timeout, a restart)
    before = sample("django_db_connection_health_check_failures_total", alias=wrapper.alias)
    opened = sample("django_db_connections_opened_total", alias=wrapper.alias)
    wrapper.close_if_unusable_or_obsolete()  # what Django does at each request's start and end
    with wrapper.cursor() as cursor:  # the health check runs, fails, and Django reconnects
        cursor.execute("SELECT 1")
    assert sample("django_db_connection_health_check_failures_total", alias=wrapper.alias) == before + 1
    assert sample("django_db_connections_opened_total", alias=wrapper.alias) == opened + 1


def test_a_connection_lost_under_a_statement_is_gone_away(
    mariadb: MariaDB, mariadb_database: Database, alias: Any
) -> None:
    """MariaDB: a SQLite file cannot be taken away from under a statement."""
    wrapper = alias(mariadb_database, "integrity_lost")
    wrapper.ensure_connection()
    labels = {"alias": wrapper.alias, "error_class": "gone_away"}
    before = sample("django_db_connection_errors_total", **labels)
    mariadb.query(f"KILL {int(wrapper.connection.thread_id())}")
    with pytest.raises(OperationalError), wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert sample("django_db_connection_errors_total", **labels) == before + 1


@pytest.mark.django_db
@pytest.mark.urls("tests.django_integration.views")
def test_requests_on_a_kept_connection_count_as_reuse(seeded: None) -> None:
    connections["default"].ensure_connection()  # opened before the requests, as CONN_MAX_AGE keeps it
    before = sample("django_db_connection_reuses_total", alias="default")
    client = Client()
    for _ in range(3):
        assert client.get("/api/products/3/").status_code == 200
    assert sample("django_db_connection_reuses_total", alias="default") == before + 3


def test_the_check_on_a_healthy_database(request: pytest.FixtureRequest, database: Database) -> None:
    result = database.run("connections")
    assert result.status == OK and findings(result) == []
    assert samples(result, CONNECT_SECONDS)[()] > 0
    if database.backend == "mariadb":
        server: MariaDB = request.getfixturevalue("mariadb")
        ((limit,),) = server.query("SELECT @@GLOBAL.max_connections")
        assert samples(result, LIMIT)[()] == int(limit)  # what the server says, read another way
        assert samples(result, OPEN)[()] >= 1  # the check's own connection at least


@pytest.mark.parametrize(
    ("max_age", "health_checks", "stale"),
    [(None, False, True), (None, True, False), (86_400, False, True), (60, False, False), (0, False, False)],
)
def test_connections_kept_past_the_servers_wait_timeout(
    database: Database, alias: Any, max_age: int | None, health_checks: bool, stale: bool
) -> None:
    wrapper = alias(database, "integrity_settings", CONN_MAX_AGE=max_age, CONN_HEALTH_CHECKS=health_checks)
    result = Database(database.backend, database.url, wrapper).run("connections")
    expected: list[tuple[str, str, dict[str, str]]] = (
        [("stale_connections", "warning", {})] if stale and database.backend == "mariadb" else []
    )
    assert findings(result) == expected
    if expected:
        assert "wait_timeout (28800s)" in result.findings[0].message


def test_a_database_that_refuses_every_connection(database: Database, alias: Any, dead_port: int) -> None:
    if database.backend == "sqlite":
        wrapper = alias(database, "integrity_down", NAME="/nonexistent-directory/shop.sqlite3")
    else:
        wrapper = alias(database, "integrity_down", PORT=str(dead_port))
    down = Database(database.backend, database.url, wrapper)
    with pytest.raises(OperationalError):
        wrapper.ensure_connection()  # a request failed to connect before the check ran
    first = down.run("connections", connect_attempts=3)
    assert first.status == OK, first.error  # the check ran: not connecting is its finding
    assert findings(first) == [
        ("connection_errors", "warning", {"error_class": "refused"}),
        ("connect_failed", "error", {"error_class": "refused"}),
    ]
    assert [f.count for f in first.findings] == [1, 3]
    assert CONNECT_SECONDS not in {s.family for s in first.samples}
    second = down.run("connections", first.state, connect_attempts=3)
    assert findings(second) == [("connect_failed", "error", {"error_class": "refused"})]  # its own probes: once


def test_connections_piling_up(mariadb: MariaDB, mariadb_database: Database) -> None:
    """MariaDB: SQLite has no server that holds connections. The server is shared with the rest of the session,
    so the limit is lowered to just above what is open, through a connection opened before (root's, which also
    restores it), and the application holds enough connections to reach the ratio against everyone else's."""
    database = mariadb_database
    settings = settings_dict(database.url)
    admin = mariadb.connect()
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT @@GLOBAL.max_connections, "
                           "(SELECT COUNT(*) FROM information_schema.PROCESSLIST)")  # fmt: skip
            ((previous, others),) = cursor.fetchall()
        room = 6  # the check's own connection, and others that open one meanwhile
        count = 4 * int(others) + 4 * room  # (count + 1) >= PILE_UP_RATIO (0.8) x (others + count + room)
        held = [
            MySQLdb.connect(host=settings["HOST"], port=int(settings["PORT"]), user=settings["USER"],
                            password=settings["PASSWORD"], database=settings["NAME"])
            for _ in range(count)
        ]  # fmt: skip
        limit = int(others) + count + room
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"SET GLOBAL max_connections = {limit}")
            result = database.run("connections")
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"SET GLOBAL max_connections = {int(previous)}")
            for connection in held:
                connection.close()
    finally:
        admin.close()
    assert findings(result) == [("connections_piling_up", "warning", {})]
    assert samples(result, LIMIT)[()] == limit and samples(result, OPEN)[()] >= count + 1
