"""Bounded statements for the checks: a server-side timeout per statement, and a comment naming the check.

Each vendor bounds a statement its own way, and only the check's own connection is affected:

- MariaDB: ``SET STATEMENT max_statement_time=<seconds> FOR SELECT ...`` (this statement only);
- MySQL 5.7.8+: the optimizer hint ``SELECT /*+ MAX_EXECUTION_TIME(<ms>) */ ...`` (SELECT only);
- SQLite: a progress handler on the check's connection that interrupts the statement at its deadline;
- PostgreSQL: ``SET statement_timeout`` around the statement, ``RESET`` after.

A statement ended this way raises the driver's error; :func:`is_timeout` recognises it (MariaDB 1969, MySQL 3024,
SQLite ``interrupted``, PostgreSQL SQLSTATE 57014). The server ends only that statement: the connection stays
usable and no other connection is touched.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

# Progress handler granularity: SQLite calls it every N virtual machine instructions.
_SQLITE_PROGRESS_STEPS = 10_000
_MARIADB_STATEMENT_TIMEOUT = 1969
_MYSQL_STATEMENT_TIMEOUT = 3024


def comment(check: str) -> str:
    """The leading comment of every statement a check sends (visible in the processlist and slow log)."""
    return f"/*integrity_check='{check}'*/ "


def run_bounded(
    connection: BaseDatabaseWrapper, check: str, sql: str, params: Sequence[Any] = (), timeout: float = 10.0
) -> list[tuple[Any, ...]]:
    """Run one ``SELECT`` on ``connection`` with a server-side timeout of ``timeout`` seconds; all its rows.

    Raises the database's error when the statement fails or times out (:func:`is_timeout` tells which).
    """
    timeout = max(timeout, 0.001)
    vendor = connection.vendor
    connection.ensure_connection()
    if vendor == "mysql":
        if getattr(connection, "mysql_is_mariadb", False):
            sql = f"SET STATEMENT max_statement_time={timeout:.3f} FOR {sql}"
        elif sql.lstrip().upper().startswith("SELECT"):
            head, _, tail = sql.lstrip().partition(" ")
            sql = f"{head} /*+ MAX_EXECUTION_TIME({max(int(timeout * 1000), 1)}) */ {tail}"
        return _fetch(connection, comment(check) + sql, params)
    if vendor == "sqlite":
        raw = connection.connection
        deadline = time.monotonic() + timeout
        raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, _SQLITE_PROGRESS_STEPS)
        try:
            return _fetch(connection, comment(check) + sql, params)
        finally:
            raw.set_progress_handler(None, _SQLITE_PROGRESS_STEPS)
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {max(int(timeout * 1000), 1)}")
        try:
            return _fetch(connection, comment(check) + sql, params)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
    return _fetch(connection, comment(check) + sql, params)


def _fetch(connection: BaseDatabaseWrapper, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params) or None)
        return list(cursor.fetchall())


def is_timeout(error: BaseException) -> bool:
    """True when ``error`` is a statement ended by its server-side timeout (see the module docstring)."""
    for candidate in (error, error.__cause__):
        if candidate is None:
            continue
        args: tuple[Any, ...] = getattr(candidate, "args", ())
        if args and args[0] in (_MARIADB_STATEMENT_TIMEOUT, _MYSQL_STATEMENT_TIMEOUT):
            return True
        if getattr(candidate, "pgcode", None) == "57014":
            return True
        if type(candidate).__name__ == "OperationalError" and args and str(args[0]) == "interrupted":
            return True
    return False
