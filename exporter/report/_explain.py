"""EXPLAIN of the worst statement digests' examples, with a read-only DSN: the example comes from
performance_schema's statement history, only a single SELECT is explained, and nothing but ``EXPLAIN`` and
``SELECT``s on performance_schema and information_schema is ever sent. For a full scan on a filtered column
that no index starts with, the index that would serve it."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from ._model import StatementRow

MAX_EXPLAINED = 3
CONNECT_TIMEOUT_SECONDS = 5
HISTORY = ("events_statements_history_long", "events_statements_history")


def _error_text(error: Exception) -> str:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    return f"{args[0]}: {args[1]}"[:200] if len(args) >= 2 else type(error).__name__


def single_select(sql: str) -> Any | None:
    """The parsed statement when ``sql`` is exactly one SELECT (sqlglot, MySQL dialect), else ``None``."""
    import sqlglot
    from sqlglot import exp

    try:
        parsed = [p for p in sqlglot.parse(sql, read="mysql") if p is not None]
    except Exception:  # ParseError, TokenError (a string cut short), whatever else an odd example raises
        return None
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Select):
        return None
    if any(isinstance(node, (exp.Into, exp.Lock)) for node in parsed[0].walk()):
        return None
    return parsed[0]


def filtered_columns(select: Any, table: str) -> list[str]:
    """Columns of ``table`` (or unqualified ones) compared in the WHERE clause, in order."""
    from sqlglot import exp

    where = select.args.get("where")
    if where is None:
        return []
    columns = []
    aliases = {t.alias_or_name: t.name for t in select.find_all(exp.Table)}
    for column in where.find_all(exp.Column):
        owner = aliases.get(column.table, column.table) if column.table else table
        if owner == table and column.name not in columns:
            columns.append(column.name)
    return columns


def explain(dsn: str, statements: list[StatementRow]) -> list[str]:
    """Fill ``explain`` and ``index`` of the worst digests (by total time); problems, never quoting the DSN."""
    try:
        import MySQLdb
    except ImportError:
        return ["EXPLAIN needs mysqlclient: pip install 'workflow-exporter[mysql]'"]
    parts = urlsplit(dsn)
    selects = (s for s in statements if s.calls > 0 and s.text.lstrip().upper().startswith("SELECT"))
    worst = sorted(selects, key=lambda s: -s.seconds)[:MAX_EXPLAINED]
    problems: list[str] = []
    for statement in worst:
        try:
            connection = MySQLdb.connect(
                host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=unquote(parts.username or ""),
                password=unquote(parts.password or ""), database=statement.schema or "",
                connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=10, charset="utf8mb4",
                multi_statements=False,  # the server refuses a second statement even if one got past the parse
            )  # fmt: skip
        except MySQLdb.Error as error:
            return [*problems, f"EXPLAIN: cannot connect: {_error_text(error)}"]
        try:
            with connection.cursor() as cursor:
                _explain_one(cursor, statement, problems)
        except MySQLdb.Error as error:
            problems.append(f"EXPLAIN of {statement.digest[:12]}: {_error_text(error)}")
        finally:
            connection.close()
    return problems


def _explain_one(cursor: Any, statement: StatementRow, problems: list[str]) -> None:
    example = None
    for table in HISTORY:
        cursor.execute(
            f"SELECT SQL_TEXT FROM performance_schema.{table} WHERE DIGEST = %s AND SQL_TEXT IS NOT NULL "
            "ORDER BY TIMER_START DESC LIMIT 1",
            (statement.digest,),
        )
        row = cursor.fetchone()
        if row and row[0]:
            example = str(row[0])
            break
    if example is None:
        problems.append(f"no example of {statement.text[:60]!r} in performance_schema's statement history")
        return
    select = single_select(example)
    if select is None:
        problems.append(f"the example of {statement.text[:60]!r} is not a single complete SELECT: not explained")
        return
    cursor.execute("EXPLAIN " + example)
    names = [d[0].lower() for d in cursor.description]
    rows: list[dict[str, str | None]] = [
        dict(zip(names, (None if v is None else str(v) for v in r), strict=True)) for r in cursor.fetchall()
    ]
    statement.explain = rows[:20]
    from sqlglot import exp

    aliases = {t.alias_or_name: t.name for t in select.find_all(exp.Table)}
    for row in rows:
        shown = row.get("table") or ""  # EXPLAIN names a table by its alias; <derived2>, <subquery3> are none
        table = aliases.get(shown, shown)
        if row.get("type") != "ALL" or row.get("key") or not table or table.startswith("<"):
            continue
        for column in filtered_columns(select, table):
            cursor.execute(
                "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
                "AND COLUMN_NAME = %s AND SEQ_IN_INDEX = 1 LIMIT 1",
                (table, column),
            )
            if cursor.fetchone() is None:
                statement.index = f"CREATE INDEX {table}_{column}_idx ON {table} ({column})"
                return
