"""The ``sql`` step's read-only guard (issue 8) and what stands behind it, against real SQLite and MariaDB.

The case: ``SELECT 'x' INTO/**/OUTFILE '/tmp/f'`` passed the old text match and wrote the file on MariaDB. The
kind: any way a statement that writes, locks or reaches outside the database reads as a harmless SELECT to the
check but not to the server (comments, spacing, quoting, escapes, executable comments, CTEs, functions,
a second statement), and every place where the run-time defences were assumed to stop more than they do.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from django_integration.log import JsonFormatter
from exporter.service import Exporter
from synthetic.config import ConfigError, parse_config
from synthetic.model import Step, Target, Workflow
from synthetic.result import RunResult
from synthetic.runner import run_workflow
from synthetic.steps import sql
from tests.harness import MariaDB
from tests.steps.stub import Case, describe, step

NO_HTTP = "http://127.0.0.1:1"  # sql-only workflows still need a target URL; nothing connects to it
DSNS = {"mysql": "mysql://probe:pw@127.0.0.1:1/shop", "sqlite": "sqlite:////nonexistent/shop.sqlite3"}
GIVEN = "SELECT 'x' INTO/**/OUTFILE '/tmp/f'"

FILE = "query must not write files (INTO OUTFILE writes a file on the database server)"
DUMPFILE = "query must not write files (INTO DUMPFILE writes a file on the database server)"
INTO = "query must not use SELECT … INTO (it stores the result instead of returning rows)"
EXECUTABLE = "query must not contain executable comments (/*! … */, /*M! … */)"
UNREADABLE = "query could not be read as MySQL/MariaDB SQL"
BACKSLASH = "query has a backslash inside a quoted string or name"
CHARACTER = "query contains the character U+"
ROW_LOCK = "query must not take row locks"
NOT_READ = "query must be one read-only statement (SELECT, WITH … SELECT, SHOW, EXPLAIN or DESCRIBE), got "
WRITE = "query must be read-only, found"
SINGLE = "query must be a single statement"
PLACEHOLDER = "%(id)s is inside a quoted string, quoted name or comment"
VARIABLE = "query contains ${…}, which is never filled into the statement text"
EMPTY = "query is empty"
EXPLAIN = "query may EXPLAIN or DESCRIBE only a SELECT or a table"


def calls(function: str) -> str:
    return f"query must not call {function}(): it"


def not_read(query: str, id: str, *dialects: str) -> list[object]:
    """A statement that is not a read: the problem quotes it."""
    problem = NOT_READ + repr(query)
    return [pytest.param(d, query, problem, id=f"{id}-{d}") for d in dialects or ("mysql", "sqlite")]


def both(query: str, problem: str | None, id: str) -> list[object]:
    return [pytest.param(d, query, problem, id=f"{id}-{d}") for d in ("mysql", "sqlite")]


GUARD = [
    # The given case, and the same file write behind every comment and spacing the servers accept.
    *both(GIVEN, FILE, "given-case"),
    *both("SELECT 'x' INTO OUTFILE '/tmp/f'", FILE, "plain"),
    *both("select 'x'\n\tinto\r\n  outfile '/tmp/f'", FILE, "case-tabs-newlines"),
    *both("SELECT 'x' INTO/* a */ /* b */OUTFILE '/tmp/f'", FILE, "two-block-comments"),
    *both("SELECT 'x' INTO -- c\nOUTFILE '/tmp/f'", FILE, "dash-comment"),
    pytest.param("mysql", "SELECT 'x' INTO # c\nOUTFILE '/tmp/f'", FILE, id="hash-comment"),
    # MySQL: `--` without a space is two minus signs (a lexer that calls it a comment misses the file write) ...
    pytest.param("mysql", "SELECT 1--1 INTO OUTFILE '/tmp/f'", FILE, id="dash-dash-is-minus-minus"),
    # ... and in SQLite it is a comment, so the same text is a plain SELECT there.
    pytest.param("sqlite", "SELECT 1--1 INTO OUTFILE '/tmp/f'", None, id="dash-dash-is-a-comment-sqlite"),
    *both("SELECT 1 /* /* */ INTO OUTFILE '/tmp/f' -- */", FILE, "comments-do-not-nest"),
    pytest.param("mysql", "SELECT 1 #x'\nINTO OUTFILE '/tmp/f' -- '", FILE, id="hash-comment-hides-a-quote"),
    *both("SELECT 'x' INTO DUMPFILE '/tmp/f'", DUMPFILE, "dumpfile"),
    *both("(SELECT 1) INTO OUTFILE '/tmp/f'", FILE, "parenthesized"),
    *both("SELECT 1 UNION SELECT 2 INTO OUTFILE '/tmp/f'", FILE, "after-union"),
    *both("WITH x AS (SELECT 1) SELECT * FROM x INTO OUTFILE '/tmp/f'", FILE, "after-cte"),
    *both("SELECT id FROM shop_order INTO OUTFILE '/tmp/f' FIELDS TERMINATED BY ','", FILE, "with-options"),
    *both("SELECT 1 INTO @a", INTO, "into-variable"),
    pytest.param("mysql", "SELECT 1 INTO @`a`", INTO, id="into-quoted-variable"),
    # Executable comments: MySQL and MariaDB run what is inside; SQLite reads a comment.
    pytest.param("mysql", "SELECT 1 /*! INTO OUTFILE '/tmp/f' */", EXECUTABLE, id="executable-comment"),
    pytest.param("mysql", "SELECT 1 /*!50000 INTO OUTFILE '/tmp/f' */", EXECUTABLE, id="versioned-comment"),
    pytest.param("mysql", "SELECT 1 /*M!100000 INTO OUTFILE '/tmp/f' */", EXECUTABLE, id="mariadb-comment"),
    pytest.param("sqlite", "SELECT 1 /*! only a comment here */", None, id="bang-comment-sqlite"),
    # The tokenizer's own comment syntax (Jinja's {# #}) where MariaDB runs an ODBC escape and then code.
    pytest.param("mysql", "SELECT {x {#\ny 1}} INTO OUTFILE '/tmp/f' -- #}", UNREADABLE, id="jinja-comment"),
    # A backslash ends a MySQL string in one place with escapes and in another under NO_BACKSLASH_ESCAPES.
    pytest.param("mysql", "SELECT '\\' INTO OUTFILE '/tmp/f' -- '", BACKSLASH, id="backslash-escape"),
    pytest.param("sqlite", "SELECT '\\' INTO OUTFILE '/tmp/f' -- '", FILE, id="backslash-is-plain-sqlite"),
    pytest.param("mysql", 'SELECT "a\\" INTO OUTFILE \'/tmp/f\' -- "', BACKSLASH, id="backslash-double-quote"),
    *both("SELECT 'x' INTO\u00a0OUTFILE '/tmp/f'", CHARACTER + "00A0", "no-break-space"),
    *both("SELECT 'x' INTO\x0bOUTFILE '/tmp/f'", CHARACTER + "000B", "vertical-tab"),
    # Row locks.
    *both("SELECT id FROM shop_order WHERE id = 1 FOR UPDATE", ROW_LOCK + " (FOR UPDATE)", "for-update"),
    *both("select id from shop_order for/**/update nowait", ROW_LOCK + " (FOR UPDATE)", "for-update-comment"),
    *both("SELECT id FROM shop_order FOR SHARE SKIP LOCKED", ROW_LOCK + " (FOR SHARE)", "for-share"),
    *both("select id from shop_order lock in share mode", ROW_LOCK + " (LOCK IN SHARE MODE)", "lock-in-share"),
    pytest.param("mysql", "SELECT id FROM shop_order LOCK # c\nIN SHARE MODE", ROW_LOCK, id="lock-in-share-hash"),
    # Functions with side effects, however the name is written.
    *both("SELECT GET_LOCK('probe', 10)", calls("GET_LOCK"), "get-lock"),
    *both("SELECT `get_lock`('probe', 10)", calls("GET_LOCK"), "get-lock-quoted"),
    *both("SELECT get_lock /* c */ ('probe', 10)", calls("GET_LOCK"), "get-lock-spaced"),
    *both("SELECT RELEASE_LOCK('probe')", calls("RELEASE_LOCK"), "release-lock"),
    *both("SELECT RELEASE_ALL_LOCKS()", calls("RELEASE_ALL_LOCKS"), "release-all-locks"),
    pytest.param("mysql", "SHOW TABLES WHERE GET_LOCK('probe', 0)", calls("GET_LOCK"), id="get-lock-in-show"),
    *both("SELECT LOAD_FILE('/etc/passwd')", calls("LOAD_FILE"), "load-file"),
    *both("SELECT NEXTVAL(order_seq)", calls("NEXTVAL"), "nextval"),
    *both("SELECT SETVAL(order_seq, 1)", calls("SETVAL"), "setval"),
    *both("SELECT NEXT VALUE FOR order_seq", "query must not advance a sequence (NEXT VALUE FOR)", "next-value"),
    *both("SELECT sys_exec('id')", calls("SYS_EXEC"), "sys-exec-udf"),
    pytest.param("sqlite", "SELECT load_extension('/tmp/x.so')", calls("LOAD_EXTENSION"), id="load-extension"),
    pytest.param("sqlite", "SELECT writefile('/tmp/f', 'x')", calls("WRITEFILE"), id="writefile"),
    # Writes: as the statement, hidden in a CTE, under EXPLAIN ANALYZE (which runs it).
    *not_read("DELETE FROM shop_order", "delete"),
    *not_read("update shop_order set status = 'x'", "update"),
    *not_read("/* hi */ INSERT INTO shop_order VALUES (3, 1, 'x')", "insert-after-comment"),
    *not_read("REPLACE INTO shop_order VALUES (3, 1, 'x')", "replace"),
    *both("WITH doomed AS (SELECT 1) DELETE FROM shop_order", WRITE + " DELETE", "cte-then-delete"),
    *both("WITH d AS (DELETE FROM shop_order RETURNING *) SELECT * FROM d", WRITE + " DELETE", "delete-in-cte"),
    *both("WITH x AS (SELECT 1) REPLACE INTO shop_order SELECT 1, 1, 'x'", WRITE + " REPLACE", "cte-then-replace"),
    *both("EXPLAIN ANALYZE DELETE FROM shop_order", WRITE + " DELETE", "explain-analyze-delete"),
    *both("EXPLAIN UPDATE shop_order SET status = 'x'", WRITE + " UPDATE", "explain-update"),
    *both("EXPLAIN FOR CONNECTION 5", EXPLAIN, "explain-for-connection"),
    *not_read("ANALYZE SELECT 1", "mariadb-analyze", "mysql"),
    *not_read("LOAD DATA INFILE '/etc/passwd' INTO TABLE t", "load-data", "mysql"),
    *not_read("CALL refresh_totals()", "call", "mysql"),
    *not_read("DO GET_LOCK('probe', 1)", "do", "mysql"),
    *not_read("SET @x = 1", "set", "mysql"),
    *not_read("LOCK TABLES shop_order READ", "lock-tables", "mysql"),
    *not_read("HANDLER shop_order OPEN", "handler", "mysql"),
    *not_read("ATTACH DATABASE '/tmp/x.db' AS x", "attach", "sqlite"),
    *not_read("PRAGMA user_version = 5", "pragma", "sqlite"),
    *not_read("VACUUM INTO '/tmp/copy.db'", "vacuum-into", "sqlite"),
    *not_read("VALUES (1)", "values"),
    # A second statement, behind whatever looks like a comment or a string.
    *both("SELECT 1; DELETE FROM shop_order", SINGLE, "second-statement"),
    *both("SELECT 1 /* ; */ ; DELETE FROM shop_order", SINGLE, "after-comment"),
    *both("SELECT ';'; DELETE FROM shop_order", SINGLE, "after-string"),
    *both("SELECT 1 --\n; DELETE FROM shop_order", SINGLE, "after-empty-dash-comment"),
    pytest.param("mysql", "SELECT 1 #\n; DROP TABLE shop_order", SINGLE, id="after-hash-comment"),
    # Values reach the statement only through params, and a placeholder must stand where a value goes.
    *both("SELECT '%(id)s'", PLACEHOLDER, "placeholder-in-string"),
    *both("SELECT 1 /* %(id)s */", PLACEHOLDER, "placeholder-in-comment"),
    *both("SELECT `%(id)s` FROM shop_order", PLACEHOLDER, "placeholder-in-quoted-name"),
    *both("SELECT id FROM shop_order WHERE id = ${run.correlation_id}", VARIABLE, "variable-in-text"),
    *both("SELECT '${run.correlation_id}'", VARIABLE, "variable-in-string"),
    *both("", EMPTY, "empty"),
    *both("-- only a comment", EMPTY, "only-a-comment"),
    # Legitimate queries still pass: keywords inside strings and names, lookalike columns, string functions.
    *both("SELECT 'INTO OUTFILE' AS note, update_at FROM shop_order", None, "keywords-in-a-string"),
    *both("SELECT `update`, `into` FROM shop_order", None, "keywords-as-quoted-names"),
    pytest.param("mysql", 'SELECT "FOR UPDATE" AS note FROM shop_order', None, id="double-quoted-string"),
    *both("SELECT id, total FROM shop_order WHERE id = %(id)s AND status = %(status)s", None, "placeholders"),
    pytest.param("mysql", "SELECT %(into)s AS v", None, id="placeholder-named-like-a-keyword"),
    *both("SELECT REPLACE(status, 'a', 'b'), INSERT(status, 1, 1, 'x') FROM shop_order", None, "string-functions"),
    pytest.param("mysql", "SELECT SLEEP(0.1), BENCHMARK(10, 1), IS_FREE_LOCK('x')", None, id="sleep-benchmark"),
    pytest.param("mysql", "SELECT 1--1", None, id="minus-minus"),
    *both("SELECT 1 -- ; DELETE FROM shop_order", None, "a-comment-is-a-comment"),
    *both(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT count(*) FROM n",
        None,
        "recursive-cte",
    ),
    *both("(SELECT 1) UNION (SELECT 2)", None, "parenthesized-union"),
    pytest.param("mysql", "SHOW CREATE TABLE shop_order", None, id="show-create"),
    pytest.param("mysql", "SHOW GRANTS FOR CURRENT_USER()", None, id="show-grants"),
    *both("EXPLAIN SELECT * FROM shop_order", None, "explain"),
    pytest.param("mysql", "EXPLAIN FORMAT=JSON SELECT 1", None, id="explain-format"),
    pytest.param("mysql", "EXPLAIN ANALYZE SELECT 1", None, id="explain-analyze-select"),
    pytest.param("sqlite", "EXPLAIN QUERY PLAN SELECT * FROM shop_order", None, id="explain-query-plan"),
    pytest.param("mysql", "DESCRIBE shop_order", None, id="describe"),
    pytest.param("mysql", "DESC shop.shop_order id", None, id="desc-column"),
    *both("/* leading */ SELECT 1 -- trailing", None, "comments-around"),
    *both("SELECT 1;", None, "trailing-semicolon"),
    pytest.param("mysql", "SELECT x'41', 0x1F, N'n', _utf8mb4'u' COLLATE utf8mb4_bin", None, id="literals"),
    pytest.param("mysql", "SELECT {d '2024-01-01'}", None, id="odbc-escape"),
]


def sql_step(query: str) -> str:
    """A step named ``q`` with ``query``, written as JSON (valid YAML) so no character needs YAML quoting."""
    params = dict.fromkeys(re.findall(r"%\((\w+)\)s", query), 1)
    return f"- name: q\n  sql: {json.dumps({'query': query, **({'params': params} if params else {})})}"


@pytest.mark.parametrize(("dialect", "query", "problem"), GUARD)
def test_the_guard_refuses_what_writes_locks_or_hides_and_lets_reads_through(
    dialect: str, query: str, problem: str | None
) -> None:
    case = Case(NO_HTTP, sql_step(query), target=f"database: {{dsn: '{DSNS[dialect]}'}}")
    # The same function guards the run, so a spec built in code meets the same answer.
    found = sql.check_query(query, dialect)
    if problem is None:
        assert found is None, found
        case.config()
        return
    assert found is not None and found.startswith(problem), found
    with pytest.raises(ConfigError) as error:
        case.config()
    where = "test.yml: workflow 'wf', step 'q': sql: "
    assert [p for p in error.value.problems if p.startswith(where + problem)], error.value.problems


def test_a_workflow_on_both_kinds_of_database_is_checked_in_each_dialect() -> None:
    # Valid SQLite, a file write on MySQL: refused, because one of the targets is MySQL.
    yaml = (
        "targets:\n"
        f"  lite: {{base_url: '{NO_HTTP}', database: {{dsn: '{DSNS['sqlite']}'}}}}\n"
        f"  maria: {{base_url: '{NO_HTTP}', database: {{dsn: '{DSNS['mysql']}'}}}}\n"
        "workflows:\n"
        "  wf:\n"
        "    targets: [lite, maria]\n"
        "    steps:\n" + textwrap.indent(sql_step("SELECT 1--1 INTO OUTFILE '/tmp/f'"), " " * 6)
    )
    with pytest.raises(ConfigError) as error:
        parse_config(yaml, "test.yml")
    assert error.value.problems == ["test.yml: workflow 'wf', step 'q': sql: " + FILE]


# --- grants ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "excess", "roles"),
    [
        ("GRANT USAGE ON *.* TO `p`@`%` IDENTIFIED BY PASSWORD '*2B602296A79E0A8784ACC5C88D92E46588CCA3C3'", [], []),
        ("GRANT SELECT, SHOW VIEW ON `shop`.* TO `p`@`%`", [], []),
        ("GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, BINLOG MONITOR ON *.* TO `p`@`%`", [], []),
        (
            "GRANT PROCESS, FILE ON *.* TO `p`@`%` IDENTIFIED BY PASSWORD '*B2' WITH GRANT OPTION",
            ["FILE ON *.*", "GRANT OPTION ON *.*"],
            [],
        ),
        ("GRANT SELECT, INSERT ON `shop`.* TO `p`@`%`", ["INSERT ON `shop`.*"], []),
        ("GRANT SELECT (`id`), UPDATE (`id`) ON `shop`.`t` TO `p`@`%`", ["UPDATE ON `shop`.`t`"], []),
        ("GRANT ALL PRIVILEGES ON `to`.* TO `p`@`%`", ["ALL PRIVILEGES ON `to`.*"], []),
        ("GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `p`@`%`", ["EXECUTE ON PROCEDURE `shop`.`p`"], []),
        (
            "GRANT LOCK TABLES, CREATE TEMPORARY TABLES ON `shop`.* TO `p`@`%`",
            ["LOCK TABLES ON `shop`.*", "CREATE TEMPORARY TABLES ON `shop`.*"],
            [],
        ),
        (
            "GRANT BACKUP_ADMIN,SYSTEM_VARIABLES_ADMIN ON *.* TO `p`@`%`",
            ["BACKUP_ADMIN ON *.*", "SYSTEM_VARIABLES_ADMIN ON *.*"],
            [],
        ),
        ("GRANT PROXY ON ``@`%` TO `p`@`%`", ["PROXY ON ``@`%`"], []),
        ("GRANT `reader` TO `p`@`%`", [], ["`reader`"]),
        (
            "GRANT `r1`@`%`,`r2`@`%` TO `p`@`%` WITH ADMIN OPTION",
            ["ADMIN OPTION on roles `r1`@`%`, `r2`@`%`"],
            ["`r1`@`%`", "`r2`@`%`"],
        ),
        ("GRANT something odd", ["a grant that could not be read"], []),
        ("REVOKE INSERT ON `shop`.* FROM `p`@`%`", None, []),
        ("SET DEFAULT ROLE `reader` FOR `p`@`%`", None, []),
    ],
)
def test_a_grant_line_names_every_privilege_beyond_reading(
    line: str, excess: list[str] | None, roles: list[str]
) -> None:
    grant = sql.read_grant(line)
    if excess is None:
        assert grant is None
        return
    assert grant is not None
    assert list(grant.excess) == excess
    assert [as_sql for _name, as_sql in grant.roles] == roles


# --- MariaDB: the probe user's grants in the log and the metric ---------------------------------------------


@dataclass
class Probe:
    server: MariaDB
    database: str
    dsn: str
    password: str
    role: str


@pytest.fixture(scope="module")
def shop_db(mariadb: MariaDB) -> Iterator[str]:
    name = f"guard_{uuid.uuid4().hex[:8]}"
    mariadb.query(f"CREATE DATABASE `{name}`")
    mariadb.query(f"CREATE TABLE `{name}`.shop_order (id INT PRIMARY KEY, total DECIMAL(8, 2), status VARCHAR(20))")
    mariadb.query(f"INSERT INTO `{name}`.shop_order VALUES (1, 12.50, 'paid'), (2, 7.00, 'open')")
    yield name
    mariadb.query(f"DROP DATABASE `{name}`")


def probe_user(server: MariaDB, database: str, grants: list[str]) -> Probe:
    """A fresh user with ``grants`` (``{db}``, ``{user}`` and ``{role}`` filled in); its DSN."""
    user = f"probe_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    role = f"role_{user}"
    server.query(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    for grant in grants:
        server.query(grant.format(db=database, user=f"'{user}'@'127.0.0.1'", role=role))
    dsn = f"mysql://{user}:{password}@{server.host}:{server.port}/{database}"
    return Probe(server, database, dsn, password, role)


@pytest.mark.parametrize(
    ("grants", "excess"),
    [
        pytest.param(["GRANT SELECT ON `{db}`.* TO {user}"], [], id="select-only"),
        pytest.param(
            ["GRANT SELECT, SHOW VIEW ON `{db}`.* TO {user}", "GRANT PROCESS, SLAVE MONITOR ON *.* TO {user}"],
            [],
            id="monitoring-reads",
        ),
        pytest.param(
            ["GRANT SELECT, INSERT ON `{db}`.* TO {user}", "GRANT FILE ON *.* TO {user}"],
            ["FILE ON *.*", "INSERT ON `{db}`.*"],
            id="file-and-insert",
        ),
        pytest.param(
            [
                "CREATE ROLE {role}",
                "GRANT DELETE ON `{db}`.* TO {role}",
                "GRANT {role} TO {user}",
                "GRANT SELECT ON `{db}`.* TO {user}",
                "SET DEFAULT ROLE {role} FOR {user}",
            ],
            ["DELETE ON `{db}`.*"],
            id="write-through-the-default-role",
        ),
        pytest.param(
            ["CREATE ROLE {role}", "GRANT {role} TO {user}", "GRANT SELECT ON `{db}`.* TO {user}"],
            ["role `{role}` (granted; its privileges are not visible to this user)"],
            id="a-role-it-cannot-see",
        ),
        pytest.param(["GRANT ALL PRIVILEGES ON `{db}`.* TO {user}"], ["ALL PRIVILEGES ON `{db}`.*"], id="all"),
    ],
)
def test_a_probe_user_that_can_do_more_than_read_is_reported_once_in_the_log_and_the_metric(
    mariadb: MariaDB,
    shop_db: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    grants: list[str],
    excess: list[str],
) -> None:
    probe = probe_user(mariadb, shop_db, grants)
    expected = [e.format(db=shop_db, role=probe.role) for e in excess]
    config = tmp_path / "workflows.yml"
    config.write_text(
        f"targets:\n  shop:\n    base_url: {NO_HTTP}\n    database: {{dsn: '{probe.dsn}'}}\n"
        "workflows:\n  orders:\n    targets: [shop]\n    steps:\n"
        "      - {name: count, sql: 'SELECT count(*) AS n FROM shop_order', expect: {values: {n: 2}}}\n"
    )
    registry = CollectorRegistry()
    exporter = Exporter(config, registry)
    ((workflow, target),) = exporter.config.pairs()
    gauge = "workflow_sql_probe_user_excess_privileges"
    assert registry.get_sample_value(gauge, {"target": "shop"}) is None, "unknown before the first connection"
    with caplog.at_level(logging.INFO, logger="synthetic.steps.sql"):
        for _ in range(2):
            run = exporter.run_scheduled(workflow, target)
            assert run.success, describe(run)  # never fails the run
    assert registry.get_sample_value(gauge, {"target": "shop"}) == (1 if expected else 0)
    assert sql.probe_user_grants(probe.dsn) == sql.ProbeUserGrants(tuple(sorted(expected)))
    records = [r for r in caplog.records if r.name == "synthetic.steps.sql"]
    assert len(records) == 1, [r.getMessage() for r in records]  # once per DSN, not per run
    (record,) = records
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["target"], line["layer"]) == ("WARNING" if expected else "INFO", "shop", "probe")
    assert line.get("excess_privileges", []) == sorted(expected)
    assert probe.password not in json.dumps(line)


# --- run time: what stands behind the guard -------------------------------------------------------------------


@pytest.fixture
def sqlite_dsn(tmp_path: Path) -> str:
    path = tmp_path / "shop.sqlite3"
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE shop_order (id INTEGER PRIMARY KEY, total REAL, status TEXT)")
        connection.executemany("INSERT INTO shop_order VALUES (?, ?, ?)", [(1, 12.5, "paid"), (2, 7.0, "open")])
    connection.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize(
    ("backend", "statement", "error"),
    [
        # SQLite: mode=ro stops writes, but not ATTACH (creates a file) or VACUUM INTO (copies the database out):
        # the authorizer allows reading only.
        ("sqlite", "DELETE FROM shop_order", "not authorized"),
        ("sqlite", "WITH doomed AS (SELECT 1) DELETE FROM shop_order", "not authorized"),
        ("sqlite", "CREATE TABLE extra (id INTEGER)", "not authorized"),
        ("sqlite", "PRAGMA user_version = 5", "not authorized"),
        ("sqlite", "ATTACH DATABASE '{tmp}/attached.db' AS extra", "not authorized"),
        ("sqlite", "VACUUM INTO '{tmp}/copy.db'", "authorization denied"),
        ("sqlite", "SELECT load_extension('{tmp}/x.so')", "not authorized"),
        ("sqlite", "SELECT 1; DELETE FROM shop_order", "You can only execute one statement at a time"),
        # MariaDB, as a user that owns the database: a read-only session and transaction, one statement per call.
        ("mariadb", "INSERT INTO shop_order VALUES (3, 1, 'x')", "Cannot execute statement in a READ ONLY"),
        ("mariadb", "UPDATE shop_order SET status = 'x'", "Cannot execute statement in a READ ONLY"),
        ("mariadb", "SELECT id FROM shop_order FOR UPDATE", "Cannot execute statement in a READ ONLY"),
        # DDL commits implicitly: a bare START TRANSACTION READ ONLY let this create the table.
        ("mariadb", "CREATE TABLE extra (id INT)", "Cannot execute statement in a READ ONLY"),
        ("mariadb", "DROP TABLE shop_order", "Cannot execute statement in a READ ONLY"),
        # mysqlclient allows several statements per call unless told not to.
        ("mariadb", "SELECT 1; DELETE FROM shop_order", "You have an error in your SQL syntax"),
    ],
)
def test_past_the_guard_the_connection_still_refuses_writes(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, statement: str, error: str
) -> None:
    if backend == "sqlite":
        dsn = request.getfixturevalue("sqlite_dsn")
    else:
        server: MariaDB = request.getfixturevalue("mariadb")
        name = f"owner_{uuid.uuid4().hex[:8]}"
        dsn = server.create_database(name, user=name, password=f"pw-{name}")
        server.query(f"CREATE TABLE `{name}`.shop_order (id INT PRIMARY KEY, total DECIMAL(8, 2), status TEXT)")
        server.query(f"INSERT INTO `{name}`.shop_order VALUES (1, 12.50, 'paid'), (2, 7.00, 'open')")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(Exception, match=re.escape(error)):
        sql._query(dsn, statement.format(tmp=tmp_path), {}, 10, "shop")
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no file was created"
    assert sql._query(dsn, "SELECT id, status FROM shop_order ORDER BY id", {}, 10)[1] == [(1, "paid"), (2, "open")]
    tables = "SELECT name FROM sqlite_master" if backend == "sqlite" else "SHOW TABLES"
    assert [row[0] for row in sql._query(dsn, tables, {}, 10)[1]] == ["shop_order"]


def forced_run(dsn: str, query: str, params: dict[str, object] | None = None) -> RunResult:
    """Run ``query`` through the runner as a spec built in code: the config check never saw it."""
    spec = sql.SqlSpec(query=query, params=params or {})
    workflow = Workflow(name="wf", targets=("shop",), steps=(Step(name="forced", kind="sql", spec=spec),))
    return run_workflow(workflow, Target(name="shop", base_url=NO_HTTP, database=dsn))


@pytest.mark.parametrize(
    ("grants", "via", "outcome"),
    [
        # The step: the guard runs again before sending, so a spec built in code cannot write the file.
        pytest.param(
            ["GRANT SELECT ON `{db}`.* TO {user}", "GRANT FILE ON *.* TO {user}"],
            "step",
            "the query was not sent: " + FILE,
            id="file-user-through-the-step",
        ),
        # Below the step, a user with FILE writes the file inside a read-only transaction: the guard is the gate.
        pytest.param(
            ["GRANT SELECT ON `{db}`.* TO {user}", "GRANT FILE ON *.* TO {user}"],
            "connection",
            "written",
            id="file-user-past-the-step",
        ),
        # The recommended grants are the second gate: a SELECT-only user cannot write files at all.
        pytest.param(
            ["GRANT SELECT ON `{db}`.* TO {user}"], "connection", "Access denied", id="select-only-user-past-the-step"
        ),
    ],
)
def test_the_given_case_writes_no_file_through_the_step_or_as_a_select_only_user(
    mariadb: MariaDB, shop_db: str, tmp_path: Path, grants: list[str], via: str, outcome: str
) -> None:
    target_file = tmp_path / f"f-{uuid.uuid4().hex[:8]}"
    query = GIVEN.replace("/tmp/f", str(target_file))
    probe = probe_user(mariadb, shop_db, grants)
    if via == "step":
        run = forced_run(probe.dsn, query)
        forced = step(run, "forced")
        assert (forced.status, forced.reason, forced.message) == ("failed", "sql", outcome)
        assert not target_file.exists()
    elif outcome == "written":
        sql._query(probe.dsn, query, {}, 10)
        assert target_file.read_text() == "x\n", "MariaDB writes INTO OUTFILE inside a read-only transaction"
    else:
        with pytest.raises(Exception, match=outcome):
            sql._query(probe.dsn, query, {}, 10)
        assert not target_file.exists()


def test_a_param_value_that_looks_like_sql_stays_a_value(mariadb: MariaDB, shop_db: str, tmp_path: Path) -> None:
    target_file = tmp_path / "from-param"
    payload = f"x' INTO OUTFILE '{target_file}' -- "
    probe = probe_user(mariadb, shop_db, ["GRANT SELECT ON `{db}`.* TO {user}", "GRANT FILE ON *.* TO {user}"])
    run = forced_run(probe.dsn, "SELECT %(v)s AS v", {"v": payload})
    assert run.success, describe(run)
    exchange = step(run, "forced").exchange
    assert exchange is not None
    assert exchange.response_body == f"v\n{payload}"
    assert not target_file.exists()
