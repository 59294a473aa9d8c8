"""SQL: tag every statement with the correlation ID and route, and account for it in the request.

An execute wrapper goes onto each new connection (``connection_created``); no ENGINE swap. The comment is
sqlcommenter's format (sorted keys, URL-quoted values in single quotes), placed near the start so MySQL's
processlist (first 100 characters), slow log and performance_schema keep it when they truncate statements.

Where it goes never changes what the driver does with the statement (see :func:`add_comment`):

- a single statement: in front (``/*…*/ SELECT …``); a MySQL optimizer hint (``SELECT /*+ … */``) stays right
  after its keyword, where MySQL looks for it;
- ``executemany`` of ``INSERT``/``REPLACE``/``UPDATE``/``DELETE``: right after the keyword (and after an
  optimizer hint that follows it), ``INSERT /*…*/ INTO …``. mysqlclient (and PyMySQL) turn an ``executemany``
  INSERT/REPLACE into one multi-row statement, and with ``executemany_fallback="multi"`` batch UPDATE/DELETE,
  only when the statement *starts* with its keyword; a leading comment made 2000 rows 2000 round trips;
- ``executemany`` that mysqlclient packs into multi-statement round trips (``executemany_fallback="multi"``
  on a ``CLIENT.MULTI_STATEMENTS`` connection): no comment. It repeats the statement per row and cuts the
  batches by length (16 000 bytes), so a comment on each statement would change how many round trips go out;
  the statements are still counted and timed;
- a statement that already starts with a comment (the application's own, ``/*!…*/`` executable comments):
  left as it is.

Statements run through ``cursor.callproc()`` do not pass Django's execute wrappers: they are neither commented
nor counted.

The same wrapper and receiver count the connections themselves, without a statement (``_dbconnections``): a
connection opened (``install``), a request whose first statement ran over a connection opened before it
(``CONN_MAX_AGE`` reuse) and a statement that failed because the connection was lost (``gone_away``).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from . import _dbconnections as tracking
from ._failopen import report
from .conf import app_settings
from .correlation import RequestState, current_request, traceparent_for
from .metrics import Metrics, exemplar, get_metrics

logger = logging.getLogger("django_integration.db")

_WHITESPACE = re.compile(r"\s+")
# Single quotes only: double quotes are identifiers in SQLite and PostgreSQL (Django's MySQL SQL uses backticks).
_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'")
_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?(?![\w$])")
_PLACEHOLDER = re.compile(r"%s|\?")
_VALUE_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_LEADING_COMMENT = re.compile(r"^\s*/\*.*?\*/\s*", re.S)


@lru_cache(maxsize=4096)
def normalize_sql(sql: str) -> str:
    """The statement's shape without values: literals and placeholders become ``?``, lists ``(...)``."""
    text = _LEADING_COMMENT.sub("", sql)
    text = _STRING.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _PLACEHOLDER.sub("?", text)
    text = _VALUE_LIST.sub("(...)", text)
    return _WHITESPACE.sub(" ", text).strip()


@lru_cache(maxsize=1024)
def _quoted(value: str) -> str:
    return quote(value, safe="")


def sql_comment(state: RequestState) -> str:
    """``/*request_id='…',route='…',traceparent='…'*/`` in sqlcommenter's encoding (sorted keys, URL-quoted)."""
    # Correlation IDs are letters, digits and -_.: only, so just ':' can need quoting; a traceparent never does.
    cid = state.correlation_id
    request_id = cid.replace(":", "%3A") if ":" in cid else cid
    return (
        f"/*request_id='{request_id}',route='{_quoted(state.route)}',"
        f"traceparent='{traceparent_for(state.correlation_id)}'*/"
    )


# executemany statements a driver may batch when (and only when) they start with their keyword; an optimizer
# hint right after the keyword must stay there.
_BATCHABLE = re.compile(r"\s*(?:INSERT|REPLACE|UPDATE|DELETE)\b(?:\s*/\*\+.*?\*/)?", re.I | re.S)


def add_comment(sql: str, state: RequestState, has_params: bool, many: bool = False) -> str:
    """The statement with the request's comment where it changes nothing for the driver (module docstring).

    The comment is built once per request and route: every statement of a request carries the same one.
    """
    if sql.lstrip().startswith("/*"):
        return sql
    cached = state.sql_comment
    if cached is None or cached[0] != state.route:
        comment = sql_comment(state)
        # With parameters the driver %-formats the whole statement, so % in the comment is doubled
        # (mysqlclient formats the prefix of a batched INSERT with "% ()" too).
        cached = state.sql_comment = (state.route, comment, comment.replace("%", "%%"))
    comment = cached[2] if has_params else cached[1]
    if many:
        keyword = _BATCHABLE.match(sql)
        if keyword is not None:
            end = keyword.end()
            return f"{sql[:end]} {comment}{sql[end:]}"
    return f"{comment} {sql}"


_MULTI_STATEMENTS = 1 << 16  # MySQLdb.constants.CLIENT.MULTI_STATEMENTS


def packs_statements(sql: str, context: dict[str, Any]) -> bool:
    """True when mysqlclient would send this ``executemany`` as multi-statement batches cut by length."""
    db_wrapper = context.get("connection")
    raw = getattr(db_wrapper, "connection", None)
    if raw is None or not getattr(raw, "client_flag", 0) & _MULTI_STATEMENTS:
        return False
    raw_cursor = getattr(getattr(context.get("cursor"), "cursor", None), "cursor", None)
    fallback = getattr(raw_cursor, "executemany_fallback", None) or getattr(raw, "executemany_fallback", None)
    if fallback != "multi":
        return False
    from MySQLdb.cursors import RE_INSERT_VALUES  # a MULTI_STATEMENTS connection with a fallback is mysqlclient's

    return RE_INSERT_VALUES.match(sql) is None  # a VALUES insert becomes one statement instead, comment and all


class QueryRecorder:
    """The execute wrapper: comments, times and counts each statement of the request in progress."""

    def __init__(self, alias: str, metrics: Metrics | None = None) -> None:
        self.alias = alias
        self._metrics = metrics
        # When this wrapper's connection was last opened (``install``), and the request that last ran a statement
        # on it: a request whose first statement finds the connection older than itself reused it (CONN_MAX_AGE).
        self.opened_at = 0.0
        self._last_state: RequestState | None = None

    @property
    def metrics(self) -> Metrics:
        return self._metrics or get_metrics()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        state = current_request()
        if state is None:
            try:
                return execute(sql, params, many, context)
            except DatabaseError as error:
                tracking.statement_failed(self.alias, error)
                raise
        sent = sql
        try:
            if app_settings.sql_comments and isinstance(sql, str) and not (many and packs_statements(sql, context)):
                sent = add_comment(sql, state, params is not None, many)
        except Exception as error:
            report("sql_comment", error)
        started = time.perf_counter()
        try:
            return execute(sent, params, many, context)
        except DatabaseError as error:
            tracking.statement_failed(self.alias, error)
            raise
        finally:
            elapsed = time.perf_counter() - started
            try:
                self.record(state, sql, elapsed)
            except Exception as error:
                report("sql_accounting", error)

    def record(self, state: RequestState, sql: str, seconds: float) -> None:
        if self._last_state is not state:
            self._last_state = state
            if self.opened_at < state.started:
                tracking.reused(self.alias)
        state.db_queries += 1
        state.db_seconds += seconds
        # Raw text here (cheap); statements are normalized once per distinct text at the end of the request.
        state.statements[(self.alias, sql)] += 1
        if seconds >= app_settings.slow_query_seconds:
            statement = normalize_sql(sql)
            self.metrics.slow_queries.labels(state.route, self.alias).inc(exemplar=exemplar(state.correlation_id))
            logger.warning(
                "slow query: %.0f ms on %s",
                seconds * 1000,
                self.alias,
                extra={"statement": statement, "duration_ms": round(seconds * 1000, 3), "db_alias": self.alias},
            )


def report_repeated_queries(state: RequestState, metrics: Metrics) -> None:
    """At the end of a request: one counter increment and one log line per statement run N+ times."""
    threshold = app_settings.repeated_query_threshold
    if state.db_queries < threshold:
        return
    grouped: Counter[tuple[str, str]] = Counter()
    for (alias, sql), count in state.statements.items():
        grouped[(alias, normalize_sql(sql))] += count
    for (alias, statement), count in grouped.items():
        if count >= threshold:
            metrics.repeated_queries.labels(state.route, alias).inc(exemplar=exemplar(state.correlation_id))
            logger.warning(
                "repeated query (N+1): the same statement ran %d times in one request; "
                "load the relation with select_related() or prefetch_related()",
                count,
                extra={"statement": statement, "count": count, "db_alias": alias},
            )


def install(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: put the recorder on this connection once; count the connection."""
    recorder = next((w for w in connection.execute_wrappers if isinstance(w, QueryRecorder)), None)
    if recorder is None:
        recorder = QueryRecorder(connection.alias)
        connection.execute_wrappers.append(recorder)
    recorder.opened_at = time.perf_counter()
    try:
        tracking.opened(connection.alias)
    except Exception as error:
        report("db_connections", error)
