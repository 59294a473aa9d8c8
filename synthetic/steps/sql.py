"""``sql`` steps: a read-only query against the target's database, with assertions on the rows.

This is how a journey proves its database layer, e.g. that checkout really wrote the order row::

    - name: order-row-exists
      sql:
        query: "SELECT id, total FROM shop_order WHERE id = %(order_id)s"
        params: {order_id: "${order_id}"}
      expect:
        rows: 1                    # exact count; or min_rows: 1
        values: {total: "${order_total}"}   # columns of the first row
        max_duration: 200ms
      extract:
        order_total: {column: total}

The statement must be one SELECT/WITH/SHOW/EXPLAIN; it runs in a read-only transaction (MySQL/MariaDB) or on
a read-only connection (SQLite), with the run's correlation ID in a leading comment.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import Problems
from ..model import Step, Target
from ..result import AssertionResult, Exchange, StepFailure, StepResult
from ._base import RunContext, check_budget, fail_on_first_failed_check

_READ_ONLY = re.compile(r"^\s*(select|with|show|explain)\b", re.I)
_NAMED_PARAM = re.compile(r"%\((\w+)\)s")
# A SELECT can still write a file or take locks; a probe must do neither.
_WRITES_OR_LOCKS = re.compile(r"\binto\s+(outfile|dumpfile)\b|\bfor\s+update\b|\block\s+in\s+share\s+mode\b", re.I)


@dataclass(frozen=True)
class SqlSpec:
    query: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


def parse(raw: Any, where: str, problems: Problems, targets: list[Target]) -> SqlSpec:
    if isinstance(raw, str):
        raw = {"query": raw}
    if not isinstance(raw, Mapping):
        problems.add(where, "sql must be a mapping with a query")
        return SqlSpec()
    for key in raw:
        if key not in ("query", "params"):
            problems.add(where, f"sql: unknown field {key!r} (known: params, query)")
    query = raw.get("query")
    if not isinstance(query, str) or not _READ_ONLY.match(query):
        problems.add(where, f"sql: query must be one read-only statement (SELECT, WITH, SHOW, EXPLAIN), got {query!r}")
        query = "SELECT 1"
    elif _WRITES_OR_LOCKS.search(query):
        problems.add(where, "sql: query must not write files or take locks (INTO OUTFILE, FOR UPDATE, ...)")
    elif ";" in query.strip().rstrip(";"):
        problems.add(where, "sql: query must be a single statement")
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        problems.add(where, "sql: params must be a mapping")
        params = {}
    for name in _NAMED_PARAM.findall(query):
        if name not in params:
            problems.add(where, f"sql: the query uses %({name})s but params has no {name!r}")
    for target in targets:
        if target.database is None:
            problems.add(where, f"sql steps need a database on target {target.name!r} (database: {{dsn: ...}})")
    return SqlSpec(query=query.strip().rstrip(";"), params=dict(params))


def parse_expect(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, Any]:
    allowed = {"rows", "min_rows", "values", "max_duration"}
    for key in raw:
        if key not in allowed:
            problems.add(where, f"expect: unknown assertion {key!r} for sql (known: {', '.join(sorted(allowed))})")
    expect: dict[str, Any] = {}
    for key in ("rows", "min_rows"):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.add(where, f"expect.{key} must be a whole number, got {value!r}")
            else:
                expect[key] = value
    if "values" in raw:
        if not isinstance(raw["values"], Mapping):
            problems.add(where, "expect.values must map column names to expected values")
        else:
            expect["values"] = dict(raw["values"])
    return expect


def parse_extract(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, dict[str, Any]]:
    extract: dict[str, dict[str, Any]] = {}
    for name, source in raw.items():
        if not isinstance(source, Mapping) or set(source) != {"column"}:
            problems.add(where, f"extract.{name}: sql steps extract with {{column: NAME}} from the first row")
            continue
        extract[str(name)] = {"column": str(source["column"])}
    return extract


def idempotent(spec: SqlSpec) -> bool:
    return True


def _same(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    if isinstance(actual, (int, float, Decimal)) and not isinstance(expected, bool):
        try:
            return Decimal(str(actual)) == Decimal(str(expected))
        except ArithmeticError:
            return False
    return str(actual) == str(expected)


def _query(dsn: str, sql: str, params: Mapping[str, Any], timeout: float) -> tuple[list[str], list[tuple[Any, ...]]]:
    parts = urlsplit(dsn)
    deadline = time.monotonic() + timeout
    if parts.scheme == "sqlite":
        path = unquote(parts.path)[1:]  # sqlite:////abs/path or sqlite:///relative/path, as Django's DATABASE_URL
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
        # sqlite3's timeout only bounds waiting for locks; this interrupts a long query at the run's deadline.
        connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            cursor = connection.execute(_NAMED_PARAM.sub(r":\1", sql), dict(params))
            return [d[0] for d in cursor.description or ()], cursor.fetchall()
        except sqlite3.OperationalError as error:
            if time.monotonic() > deadline:
                raise StepFailure("timeout", f"the query was still running at the run's deadline ({error})") from None
            raise
        finally:
            connection.close()
    try:
        import MySQLdb
    except ImportError:
        raise StepFailure(
            "sql", "sql steps on MySQL need mysqlclient: pip install 'workflow-exporter[mysql]'"
        ) from None
    connection = MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        connect_timeout=max(1, int(timeout)),
        read_timeout=max(1, int(timeout + 0.999)),
        charset="utf8mb4",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("START TRANSACTION READ ONLY")
            cursor.execute(sql, dict(params) or None)
            rows = list(cursor.fetchall())
            columns = [d[0] for d in cursor.description or ()]
            cursor.execute("ROLLBACK")
            return columns, rows
    except MySQLdb.OperationalError as error:
        # read_timeout (the run's remaining time) ends a long query as "Lost connection", which is a timeout.
        if time.monotonic() >= deadline:
            raise StepFailure("timeout", f"the query was still running at the run's deadline ({error})") from None
        raise
    finally:
        connection.close()


def run(step: Step, spec: SqlSpec, context: RunContext, result: StepResult) -> None:
    dsn = context.target.database
    if not dsn:
        raise StepFailure("sql", f"target {context.target.name!r} has no database")
    params = context.render(spec.params)
    sql = f"/*request_id='{context.correlation_id}'*/ {spec.query}"
    result.exchange = Exchange(method="SQL", url=urlsplit(dsn)._replace(netloc=urlsplit(dsn).hostname or "").geturl(),
                               request_body=f"{spec.query}  -- params: {params}")  # fmt: skip
    remaining = context.remaining()
    if remaining <= 0:
        raise StepFailure("timeout", "the run's deadline passed before the query was sent")
    started = time.perf_counter()
    try:
        columns, rows = _query(dsn, sql, params, remaining)
    except StepFailure:
        raise
    except Exception as error:
        result.duration = time.perf_counter() - started
        text = str(error)
        reason = "timeout" if "timed out" in text.lower() or "timeout" in type(error).__name__.lower() else "sql"
        raise StepFailure(reason, f"{type(error).__name__}: {text[:300]}") from None
    result.duration = time.perf_counter() - started
    result.exchange.response_body = "\n".join([", ".join(columns), *(", ".join(map(str, row)) for row in rows[:20])])
    first = dict(zip(columns, rows[0], strict=False)) if rows else {}
    checks = result.assertions
    expect = step.expect
    if "rows" in expect:
        checks.append(
            AssertionResult("rows", len(rows) == expect["rows"], f"{len(rows)} rows, expected {expect['rows']}")
        )
    if "min_rows" in expect:
        checks.append(
            AssertionResult(
                "min_rows", len(rows) >= expect["min_rows"], f"{len(rows)} rows, at least {expect['min_rows']}"
            )
        )
    for column, expected_raw in expect.get("values", {}).items():
        expected = context.render(expected_raw)
        actual = first.get(column)
        ok = column in first and _same(actual, expected)
        checks.append(AssertionResult(f"value {column}", ok, f"{column} is {actual!r}, expected {expected!r}"))
    check_budget(step, result)
    fail_on_first_failed_check(result)
    for name, source in step.extract.items():
        if source["column"] not in first:
            raise StepFailure("extraction", f"{name}: column {source['column']!r} is not in the first row")
        value = first[source["column"]]
        value = str(value) if isinstance(value, Decimal) else value
        context.variables[name] = value
        result.extracted[name] = value
