"""The SQL comment never changes what the driver does with a statement.

One table of the statement kinds whose handling a comment can change: mysqlclient batches ``executemany``
INSERT/REPLACE (``ON DUPLICATE KEY UPDATE`` included) into one statement, and UPDATE/DELETE into
multi-statement round trips with ``executemany_fallback="multi"``, only when the statement starts with its
keyword; MySQL reads an optimizer hint only right after the keyword; executable comments, ``SET``, ``USE``,
``CALL``, savepoints, Django's ``bulk_create``, and sqlite3's ``executemany``. Each kind runs twice inside a
request, with comments off and on, against real MariaDB (or SQLite): the answer and the number of statements
the server received must be the same, and with comments on the server must show the comment where it was put
(performance_schema on MariaDB, sqlite3's trace callback on SQLite).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dj_database_url
import pytest
from django.db import connections, transaction
from django.db.utils import IntegrityError
from django.test.utils import override_settings
from MySQLdb.constants import CLIENT

from demo_shop.shop.models import Category
from django_integration import correlation
from django_integration.correlation import RequestState
from tests.harness import MariaDB

MARIADB = "statement_kinds"
MARIADB_MULTI = "statement_kinds_multi"  # client_flag MULTI_STATEMENTS, executemany_fallback="multi"
SQLITE = "default"

ROWS = 2000  # the case that was reported: 2000 rows, 2000 statements with the comment in front, 1 without


@dataclass
class Server:
    """How to ask the database what it received from one Django connection."""

    mariadb: MariaDB | None

    def thread_of(self, alias: str) -> int:
        connection = connections[alias]
        connection.ensure_connection()
        return int(connection.connection.thread_id())

    def round_trips(self, alias: str) -> int:
        """Statements the server received from this connection (the general log: one row per COM_QUERY)."""
        assert self.mariadb is not None
        ((count,),) = self.mariadb.query(
            "SELECT COUNT(*) FROM mysql.general_log WHERE thread_id = %s AND command_type = 'Query'",
            (self.thread_of(alias),),
        )
        return int(count)

    def statements_with(self, alias: str, marker: str) -> list[str]:
        """performance_schema's text of this connection's statements that contain ``marker``."""
        assert self.mariadb is not None
        rows = self.mariadb.query(
            "SELECT h.SQL_TEXT FROM performance_schema.events_statements_history_long h"
            " JOIN performance_schema.threads t ON t.THREAD_ID = h.THREAD_ID"
            " WHERE t.PROCESSLIST_ID = %s AND h.SQL_TEXT LIKE %s ORDER BY h.EVENT_ID",
            (self.thread_of(alias), f"%{marker}%"),
        )
        return [row[0] for row in rows]


@pytest.fixture(scope="module")
def server(mariadb: MariaDB, django_db_setup: None, django_db_blocker: Any) -> Iterator[Server]:
    """Two Django connections to a fresh MariaDB database (one allowing multi-statements), the general log on."""
    name = f"kinds_{uuid.uuid4().hex[:8]}"
    url = mariadb.create_database(name, user=name, password=f"pw-{name}")
    raw = dj_database_url.parse(url)
    multi_flags = {"client_flag": CLIENT.FOUND_ROWS | CLIENT.MULTI_STATEMENTS, "executemany_fallback": "multi"}
    configured = connections.configure_settings(
        {
            **connections.settings,
            MARIADB: {**raw, "OPTIONS": {"charset": "utf8mb4"}},
            MARIADB_MULTI: {**raw, "OPTIONS": {"charset": "utf8mb4", **multi_flags}},
        }
    )
    connections.settings[MARIADB] = configured[MARIADB]
    connections.settings[MARIADB_MULTI] = configured[MARIADB_MULTI]
    mariadb.query("SET GLOBAL log_output = 'TABLE'")
    mariadb.query("SET GLOBAL general_log = ON")
    with django_db_blocker.unblock():
        with connections[MARIADB].cursor() as cursor:
            cursor.execute("CREATE TABLE kv (k INT PRIMARY KEY, v VARCHAR(40))")
            cursor.execute("CREATE PROCEDURE double_it(IN x INT) SELECT x * 2 AS doubled")
        with connections[MARIADB].schema_editor() as editor:
            editor.create_model(Category)
        try:
            yield Server(mariadb)
        finally:
            mariadb.query("SET GLOBAL general_log = OFF")
            for alias in (MARIADB, MARIADB_MULTI):
                connections[alias].close()
                del connections[alias]
                del connections.settings[alias]


# --- the statement kinds --------------------------------------------------------------------------------------------


def _cursor(alias: str) -> Any:
    return connections[alias].cursor()


def executemany(alias: str, sql: str, params: list[Any]) -> Any:
    with _cursor(alias) as cursor:
        cursor.executemany(sql, params)
        cursor.execute("SELECT COUNT(*), MIN(v), MAX(v) FROM kv")
        return cursor.fetchone()


def select(alias: str, sql: str, params: list[Any] | None = None) -> Any:
    with _cursor(alias) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        if connections[alias].vendor == "mysql":
            while cursor.cursor.nextset():  # a CALL answers with one more (empty) result
                pass
        return rows


def set_then_read(alias: str) -> Any:
    with _cursor(alias) as cursor:
        cursor.execute("SET @wx_answer := %s", [41])
        cursor.execute("SELECT @wx_answer + 1")
        return cursor.fetchone()


def use_then_read(alias: str) -> Any:
    name = connections[alias].settings_dict["NAME"]
    with _cursor(alias) as cursor:
        cursor.execute(f"USE `{name}`")
        cursor.execute("SELECT DATABASE()")
        return cursor.fetchone()


def callproc(alias: str) -> Any:
    with _cursor(alias) as cursor:
        cursor.callproc("double_it", [21])
        rows = cursor.fetchall()
        while cursor.cursor.nextset():
            pass
        return rows


def savepoints(alias: str) -> Any:
    """A transaction with a nested atomic block that rolls back to its savepoint."""
    with transaction.atomic(using=alias):
        with _cursor(alias) as cursor:
            cursor.execute("INSERT INTO kv (k, v) VALUES (%s, %s)", [900, "kept"])
        try:
            with transaction.atomic(using=alias), _cursor(alias) as cursor:
                cursor.execute("INSERT INTO kv (k, v) VALUES (%s, %s)", [901, "rolled back"])
                cursor.execute("INSERT INTO kv (k, v) VALUES (%s, %s)", [900, "duplicate"])
        except IntegrityError:
            pass
    with _cursor(alias) as cursor:
        cursor.execute("SELECT k, v FROM kv WHERE k >= 900 ORDER BY k")
        return cursor.fetchall()


def bulk_create(alias: str, **options: Any) -> Any:
    categories = [Category(name=f"category {n}", slug=f"category-{n}") for n in range(ROWS)]
    Category.objects.using(alias).bulk_create(categories, **options)
    if options:  # again: every row is now a conflict, updated in place
        Category.objects.using(alias).bulk_create(categories, **options)
    return Category.objects.using(alias).count()


def kv_rows(n: int = ROWS) -> list[tuple[int, str]]:
    """New rows (keys from 1000 up; ``reset`` leaves keys 0-299)."""
    return [(k, f"value {k:05d}") for k in range(1000, 1000 + n)]


@dataclass(frozen=True)
class Kind:
    name: str
    alias: str
    run: Callable[[str], Any]
    comment: str  # where the server sees it: "start", "after the keyword", "after the hint" or "none"


KINDS = [
    Kind("executemany INSERT (mysqlclient batches it)", MARIADB,
         lambda a: executemany(a, "INSERT INTO kv (k, v) VALUES (%s, %s)", kv_rows()), "after the keyword"),
    Kind("executemany REPLACE", MARIADB,
         lambda a: executemany(a, "REPLACE INTO kv (k, v) VALUES (%s, %s)", kv_rows()), "after the keyword"),
    Kind("executemany INSERT … ON DUPLICATE KEY UPDATE", MARIADB,
         lambda a: executemany(a, "INSERT INTO kv (k, v) VALUES (%s, %s) ON DUPLICATE KEY UPDATE v = VALUES(v)",
                               kv_rows() + kv_rows(10)), "after the keyword"),
    Kind("executemany INSERT with named parameters", MARIADB,
         lambda a: executemany(a, "INSERT INTO kv (k, v) VALUES (%(k)s, %(v)s)",
                               [{"k": k, "v": v} for k, v in kv_rows()]), "after the keyword"),
    Kind("executemany INSERT with an optimizer hint after INSERT", MARIADB,
         lambda a: executemany(a, "INSERT /*+ SET_VAR(unique_checks=OFF) */ INTO kv (k, v) VALUES (%s, %s)",
                               kv_rows()), "after the hint"),
    # Batches cut at 16 000 bytes: a comment on every statement would cut more of them, so these go without.
    Kind("executemany UPDATE, multi-statement batches", MARIADB_MULTI,
         lambda a: executemany(a, "UPDATE kv SET v = %s WHERE k = %s", [(f"new {k}", k) for k in range(300)]),
         "none"),
    Kind("executemany DELETE, multi-statement batches", MARIADB_MULTI,
         lambda a: executemany(a, "DELETE FROM kv WHERE k = %s", [(k,) for k in range(0, 300, 2)]), "none"),
    Kind("executemany INSERT on a multi-statement connection (still one statement)", MARIADB_MULTI,
         lambda a: executemany(a, "INSERT INTO kv (k, v) VALUES (%s, %s)", kv_rows()), "after the keyword"),
    Kind("executemany UPDATE, one statement per row", MARIADB,
         lambda a: executemany(a, "UPDATE kv SET v = %s WHERE k = %s", [(f"new {k}", k) for k in range(20)]),
         "after the keyword"),
    Kind("Django bulk_create", MARIADB, bulk_create, "start"),
    Kind("Django bulk_create with update_conflicts (ON DUPLICATE KEY UPDATE)", MARIADB,
         lambda a: bulk_create(a, update_conflicts=True, update_fields=["slug"]), "start"),
    Kind("SELECT with an optimizer hint after SELECT", MARIADB,
         lambda a: select(a, "SELECT /*+ MAX_EXECUTION_TIME(1000) */ COUNT(*) FROM kv"), "start"),
    Kind("SELECT with an executable comment", MARIADB, lambda a: select(a, "SELECT /*!100000 1 + */ 1"), "start"),
    Kind("statement that starts with the application's comment", MARIADB,
         lambda a: select(a, "/* report: daily */ SELECT COUNT(*) FROM kv"), "none"),
    Kind("statement that starts with an executable comment", MARIADB,
         lambda a: select(a, "/*!100000 SELECT 7 */"), "none"),
    Kind("SET a variable, then read it", MARIADB, set_then_read, "start"),
    Kind("USE the database", MARIADB, use_then_read, "start"),
    Kind("CALL a stored procedure", MARIADB, lambda a: select(a, "CALL double_it(%s)", [21]), "start"),
    Kind("cursor.callproc (no execute wrapper sees it)", MARIADB, callproc, "none"),
    Kind("transaction with a savepoint rolled back", MARIADB, savepoints, "start"),
    Kind("sqlite3 executemany INSERT", SQLITE,
         lambda a: executemany(a, "INSERT INTO kv (k, v) VALUES (%s, %s)", kv_rows()), "after the keyword"),
    Kind("Django bulk_create on SQLite (batches of 999 variables)", SQLITE, bulk_create, "start"),
    Kind("sqlite3 savepoints", SQLITE, savepoints, "start"),
]  # fmt: skip


@dataclass
class Run:
    result: Any
    round_trips: int
    seen: list[str]  # statements as the server saw them that carry this run's ID


def run_in_request(kind: Kind, server: Server | None, comments: bool, sqlite_trace: list[str]) -> Run:
    """Run the kind inside a request (its state bound, as the middleware does) and see what the server got."""
    cid = f"kinds-{uuid.uuid4().hex[:12]}"
    reset(kind.alias)
    sqlite_trace.clear()
    before = server.round_trips(kind.alias) if server else 0
    token = correlation.bind(RequestState(correlation_id=cid, route="t/kinds/"))
    try:
        with override_settings(WORKFLOW_EXPORTER={"SQL_COMMENTS": comments}):
            result = kind.run(kind.alias)
    finally:
        correlation.unbind(token)
    if server is not None:
        trips = server.round_trips(kind.alias) - before
        seen = server.statements_with(kind.alias, cid)
    else:
        trips = len(sqlite_trace)
        seen = [statement for statement in sqlite_trace if cid in statement]
    return Run(result, trips, [statement.replace(cid, "<id>") for statement in seen])


def reset(alias: str) -> None:
    """The same starting rows for both runs: 300 in kv, no categories."""
    with _cursor(alias) as cursor:
        cursor.execute("DELETE FROM kv")
        cursor.execute(f"DELETE FROM {Category._meta.db_table}")
        cursor.executemany("INSERT INTO kv (k, v) VALUES (%s, %s)", [(k, f"old {k}") for k in range(300)])


@pytest.fixture
def sqlite_kv(db: None) -> Iterator[list[str]]:
    """The kv table on the test's SQLite database, and every statement SQLite executes."""
    connection = connections[SQLITE]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v VARCHAR(40))")
    seen: list[str] = []
    connection.connection.set_trace_callback(seen.append)
    yield seen
    connection.connection.set_trace_callback(None)


def rows() -> list[Any]:
    """The table as pytest params; the SQLite rows use the test database (django_db) like any Django test."""
    return [
        pytest.param(kind, id=kind.name, marks=[pytest.mark.django_db] if kind.alias == SQLITE else [])
        for kind in KINDS
    ]


@pytest.mark.parametrize("kind", rows())
def test_the_comment_changes_nothing_for_the_driver(kind: Kind, request: pytest.FixtureRequest) -> None:
    sqlite_trace: list[str] = request.getfixturevalue("sqlite_kv") if kind.alias == SQLITE else []
    server: Server | None = None if kind.alias == SQLITE else request.getfixturevalue("server")

    plain = run_in_request(kind, server, comments=False, sqlite_trace=sqlite_trace)
    commented = run_in_request(kind, server, comments=True, sqlite_trace=sqlite_trace)

    assert commented.result == plain.result
    assert commented.round_trips == plain.round_trips, "the comment changed how many statements were sent"
    if kind.name.startswith("executemany INSERT (mysqlclient"):
        assert plain.round_trips == 2  # the whole batch in one statement, then the SELECT COUNT(*)
    assert plain.seen == []
    if kind.comment == "none":
        assert not [statement for statement in commented.seen if "COUNT(*), MIN(v)" not in statement]
        return
    assert commented.seen, "no statement with the request's comment reached the server"
    comment = "/*request_id='<id>',route='t%2Fkinds%2F',traceparent='00-"
    placements = [placement(statement, comment) for statement in commented.seen]
    assert None not in placements, commented.seen[placements.index(None)][:300]
    assert kind.comment in placements, (kind.comment, [statement[:120] for statement in commented.seen])
    if kind.comment == "start":
        assert set(placements) == {"start"}


def placement(statement: str, comment: str) -> str | None:
    """Where the comment is in a statement the server received; None when it is somewhere else."""
    if statement.startswith(comment):
        return "start"
    keyword, _, rest = statement.partition(" ")
    if keyword.upper() not in {"INSERT", "REPLACE", "UPDATE", "DELETE"}:
        return None
    if rest.startswith(comment):
        return "after the keyword"
    hint, found, after = rest.partition("*/ ")
    if hint.startswith("/*+ ") and found and after.startswith(comment):
        return "after the hint"  # the hint stays right after its keyword, where MySQL reads it
    return None
