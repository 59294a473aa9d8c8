"""MySQL/MariaDB statements that carry the ID in their leading comment, from ``performance_schema``.

The Django integration writes ``/*request_id='<id>',route='…',traceparent='…'*/`` (sqlcommenter's encoding:
``:`` becomes ``%3A``), the exporter's ``sql`` steps ``/*request_id='<id>'*/``; both are found with ``LOCATE``
(a literal search: the ID is never a pattern). ``events_statements_history_long`` holds the recent
statements, ``events_statements_current`` the running ones. ``performance_schema`` counts time in picoseconds
from an origin of its own; the search reads the timer of its own statement next to the wall clock to put the
statements on the same clock as the logs (to about a millisecond on the same host).

Needs the ``performance_schema`` consumers ``events_statements_history_long`` (and ``…_current``) on, and a user
with SELECT on ``performance_schema`` (mysqld_exporter's user has it).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote, urlsplit

from ._model import SourceReport, TraceEvent, Window

TABLES = ("events_statements_history_long", "events_statements_current")
MAX_ROWS = 10_000
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_CHARS = 4_000

_COLUMNS = (
    "THREAD_ID, EVENT_ID, SQL_TEXT, TIMER_START, TIMER_END, TIMER_WAIT, ROWS_EXAMINED, ROWS_SENT, "
    "ROWS_AFFECTED, MYSQL_ERRNO, MESSAGE_TEXT, CURRENT_SCHEMA"
)


def search(dsn: str, correlation_id: str, window: Window) -> SourceReport:
    """Statements of ``correlation_id`` still in ``performance_schema``; a connection problem is reported."""
    parts = urlsplit(dsn)
    report = SourceReport(source=f"performance_schema on {parts.hostname or 'localhost'}")
    try:
        import MySQLdb
    except ImportError:
        report.problems.append("reading MySQL needs mysqlclient: pip install 'workflow-exporter[mysql]'")
        return report
    try:
        connection = MySQLdb.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=30,
            charset="utf8mb4",
        )
    except MySQLdb.Error as error:
        report.problems.append(f"cannot connect: {_error_text(error)}")
        return report
    needles = (f"request_id='{correlation_id.replace(':', '%3A')}'", f"request_id='{correlation_id}'")
    try:
        with connection.cursor() as cursor:
            origin = _clock_origin(cursor)
            rows: list[tuple[Any, ...]] = []
            for table in TABLES:
                cursor.execute(
                    f"SELECT {_COLUMNS} FROM performance_schema.{table} "
                    "WHERE (LOCATE(%s, SQL_TEXT) > 0 OR LOCATE(%s, SQL_TEXT) > 0) "
                    "AND LOCATE('performance_schema.events_statements', SQL_TEXT) = 0 LIMIT %s",
                    (*needles, MAX_ROWS),
                )
                rows += list(cursor.fetchall())
    except MySQLdb.Error as error:
        report.problems.append(f"cannot read performance_schema: {_error_text(error)}")
        return report
    finally:
        connection.close()
    seen: set[tuple[Any, Any]] = set()
    for row in rows:
        thread, event_id, text, timer_start, timer_end, wait, examined, sent, affected, errno, message, schema = row
        if (thread, event_id) in seen or text is None or timer_start is None:
            continue
        seen.add((thread, event_id))
        start = origin + timer_start / 1e12
        end = start + (wait or 0) / 1e12 if timer_end else None  # a running statement has no end yet
        if not window.holds(start):
            continue
        statement = str(text)
        fields: dict[str, Any] = {
            "statement": statement[:STATEMENT_CHARS] + ("…" if len(statement) > STATEMENT_CHARS else ""),
            "duration_ms": round((wait or 0) / 1e9, 3),
            "rows_examined": examined,
            "rows_sent": sent,
            "rows_affected": affected,
            "schema": schema,
        }
        if errno:
            fields["error"] = f"{errno}: {message}"
        report.events.append(
            TraceEvent(
                start=start,
                end=end,
                layer="db",
                kind="statement",
                title=_first_words(statement),
                source=report.source,
                level="error" if errno else "info",
                fields=fields,
            )
        )
    return report


CLOCK_SAMPLES = 3


def _clock_origin(cursor: Any) -> float:
    """Unix time of ``performance_schema``'s timer zero: the timer of this very statement against the clock, taken
    from the quickest of ``CLOCK_SAMPLES`` round trips (the origin is known to half the round trip: on a loaded
    host one slow answer put statements a few milliseconds after the log lines they preceded)."""
    samples: list[tuple[float, float]] = []  # (round trip, origin)
    for _ in range(CLOCK_SAMPLES):
        before = time.time()
        cursor.execute(
            "SELECT TIMER_START FROM performance_schema.events_statements_current WHERE THREAD_ID = "
            "(SELECT THREAD_ID FROM performance_schema.threads WHERE PROCESSLIST_ID = CONNECTION_ID())"
        )
        row = cursor.fetchone()
        after = time.time()
        if row is None or row[0] is None:  # consumer off: fall back to the server's uptime (a second's precision)
            # performance_schema.global_status: MySQL 8 has no information_schema.GLOBAL_STATUS, MariaDB has both
            # (10.5+), and the trace's user needs no grant beyond performance_schema.
            cursor.execute("SELECT VARIABLE_VALUE FROM performance_schema.global_status WHERE VARIABLE_NAME = 'UPTIME'")
            uptime = cursor.fetchone()
            return after - float(uptime[0]) if uptime else after
        samples.append((after - before, (before + after) / 2 - row[0] / 1e12))
    return min(samples)[1]


def _first_words(statement: str) -> str:
    text = statement
    if text.lstrip().startswith("/*"):
        end = text.find("*/")
        text = text[end + 2 :] if end >= 0 else text
    words = " ".join(text.split())
    return words[:120] + ("…" if len(words) > 120 else "")


def _error_text(error: Exception) -> str:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    return str(args[1]) if len(args) > 1 else str(error)
