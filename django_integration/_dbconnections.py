"""Connections as the application lives them: opened, failed (by class), time to connect, reused, found stale.

Nothing here sends a statement. The measurements come from what Django does anyway:

- ``connections.create_connection`` (the per-thread ``DatabaseWrapper`` factory of ``django.db.connections``)
  is wrapped once at start (:func:`hook_connection_handler`), and every wrapper it makes gets two instance-level
  wrappers (:func:`instrument`): around ``connect()`` — the time until the connection is usable, or the error
  class when it fails — and around ``is_usable()`` — Django's health check (``CONN_HEALTH_CHECKS``, and its check
  after an error) finding a persistent connection dead;
- ``connection_created`` (``db.install``) counts the connections opened;
- the execute wrapper (``db.QueryRecorder``) counts a request whose first statement on a database ran over a
  connection opened before the request (``CONN_MAX_AGE`` reuse), and classifies a statement that failed because
  the connection was lost (``gone_away``).

Error classes (closed set, the ``error_class`` label of ``django_db_connection_errors_total``):

| class | MySQL / MariaDB client error | SQLite | other drivers |
|---|---|---|---|
| ``refused`` | 2002, 2003 (nothing listens, socket missing) | cannot open the database file | "connection refused" |
| ``timeout`` | 2002/2003 with errno 110, "timed out" | | "timeout" |
| ``dns`` | 2005 (unknown server host) | | name resolution |
| ``auth`` | 1044, 1045, 1251, 1698 | | "authentication failed" |
| ``unknown_database`` | 1049 | | "does not exist" |
| ``too_many_connections`` | 1040, 1203 | | "too many clients" |
| ``gone_away`` | 2006, 2013, 4031 (lost, at connect or under a statement) | | "server closed the connection" |
| ``other`` | anything else | | |

Every hook fails open: an error inside it is counted in ``django_integration_internal_errors_total
{component="db_connections"}`` and the database call goes on as Django made it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

ERROR_CLASSES = ("refused", "timeout", "dns", "auth", "unknown_database", "too_many_connections", "gone_away", "other")

_MYSQL_CODES = {
    2002: "refused",
    2003: "refused",
    2005: "dns",
    2006: "gone_away",
    2013: "gone_away",
    4031: "gone_away",
    1044: "auth",
    1045: "auth",
    1251: "auth",
    1698: "auth",
    1049: "unknown_database",
    1040: "too_many_connections",
    1203: "too_many_connections",
}
_LOST_CONNECTION_CODES = frozenset({2006, 2013, 4031})
_TEXT_CLASSES = (
    ("timed out", "timeout"),
    ("timeout", "timeout"),
    ("connection refused", "refused"),
    ("could not connect", "refused"),
    ("unable to open database file", "refused"),
    ("authentication failed", "auth"),
    ("access denied", "auth"),
    ("too many", "too_many_connections"),
    ("could not translate host name", "dns"),
    ("name or service not known", "dns"),
    ("server closed the connection", "gone_away"),
    ("does not exist", "unknown_database"),
)


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 5:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify(error: BaseException) -> str:
    """The error class (module docstring) of a failed connect, from the driver's error code or text."""
    for candidate in _chain(error):
        args: tuple[Any, ...] = getattr(candidate, "args", ())
        code = args[0] if args and isinstance(args[0], int) else None
        if code in _MYSQL_CODES:
            found = _MYSQL_CODES[code]
            message = str(args[1]) if len(args) > 1 else ""
            if found == "refused" and ("(110)" in message or "timed out" in message.lower()):
                return "timeout"
            return found
        if getattr(candidate, "sqlite_errorname", None) == "SQLITE_CANTOPEN":
            return "refused"
        if isinstance(candidate, ConnectionRefusedError):
            return "refused"
        if isinstance(candidate, socket.gaierror):
            return "dns"
        if isinstance(candidate, (TimeoutError, socket.timeout)):
            return "timeout"
    text = " ".join(str(candidate).lower() for candidate in _chain(error))
    for needle, found in _TEXT_CLASSES:
        if needle in text:
            return found
    return "other"


def is_connection_lost(error: BaseException) -> bool:
    """True when a statement failed because the connection itself was lost (MySQL 2006, 2013, 4031)."""
    for candidate in _chain(error):
        args: tuple[Any, ...] = getattr(candidate, "args", ())
        if args and isinstance(args[0], int) and args[0] in _LOST_CONNECTION_CODES:
            return True
    return False


class ConnectionStats:
    """What this process saw, per database alias, as plain numbers (the connections check reads them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.opened: Counter[str] = Counter()
        self.errors: dict[str, Counter[str]] = {}
        self.health_check_failures: Counter[str] = Counter()
        self.reuses: Counter[str] = Counter()

    def error(self, alias: str, error_class: str) -> None:
        with self._lock:
            self.errors.setdefault(alias, Counter())[error_class] += 1

    def snapshot(self, alias: str) -> dict[str, Any]:
        with self._lock:
            return {
                "opened": self.opened[alias],
                "errors": dict(self.errors.get(alias, {})),
                "health_check_failures": self.health_check_failures[alias],
                "reuses": self.reuses[alias],
            }


stats = ConnectionStats()
_prepared: set[str] = set()
_prepared_lock = threading.Lock()


def _metrics() -> Any:
    from .metrics import get_metrics

    return get_metrics()


def _report(error: Exception) -> None:
    from ._failopen import report

    report("db_connections", error)


def prepare(alias: str) -> None:
    """Create this alias' series at zero (every error class), so rules see the first error as an increase."""
    if alias in _prepared:
        return
    with _prepared_lock:
        if alias in _prepared:
            return
        metrics = _metrics()
        metrics.connections_opened.labels(alias)
        metrics.connect_duration.labels(alias)
        metrics.connection_reuses.labels(alias)
        metrics.connection_health_check_failures.labels(alias)
        for error_class in ERROR_CLASSES:
            metrics.connection_errors.labels(alias, error_class)
        _prepared.add(alias)


def connect_failed(alias: str, error: BaseException) -> str:
    """Count a failed connect; returns its class."""
    error_class = classify(error)
    stats.error(alias, error_class)
    _metrics().connection_errors.labels(alias, error_class).inc()
    return error_class


def connected(alias: str, seconds: float) -> None:
    _metrics().connect_duration.labels(alias).observe(seconds)


def opened(alias: str) -> None:
    """``connection_created``: one more connection opened."""
    with stats._lock:
        stats.opened[alias] += 1
    _metrics().connections_opened.labels(alias).inc()


_reuse_children: dict[str, Any] = {}


def reused(alias: str) -> None:
    """A request's first statement ran over a kept connection. On the request path: a cached child, no lock."""
    child = _reuse_children.get(alias)
    if child is None:
        child = _reuse_children[alias] = _metrics().connection_reuses.labels(alias)
    child.inc()
    stats.reuses[alias] += 1  # informative (the connections check); a lost increment under a race is harmless


def statement_failed(alias: str, error: BaseException) -> None:
    """A statement's error: counted as ``gone_away`` when the connection was lost, ignored otherwise."""
    try:
        if is_connection_lost(error):
            stats.error(alias, "gone_away")
            _metrics().connection_errors.labels(alias, "gone_away").inc()
    except Exception as failure:
        _report(failure)


def instrument(wrapper: BaseDatabaseWrapper) -> None:
    """Time and classify every ``connect()`` of ``wrapper``, and count its failed health checks."""
    if getattr(wrapper, "_integrity_instrumented", False):
        return
    alias = str(wrapper.alias)
    try:
        prepare(alias)
    except Exception as error:
        _report(error)
    original_connect: Callable[[], None] = wrapper.connect
    original_is_usable: Callable[[], bool] = wrapper.is_usable

    def connect() -> None:
        started = time.perf_counter()
        try:
            original_connect()
        except Exception as error:
            try:
                connect_failed(alias, error)
            except Exception as failure:
                _report(failure)
            raise
        try:
            connected(alias, time.perf_counter() - started)
        except Exception as failure:
            _report(failure)

    def is_usable() -> bool:
        usable = original_is_usable()
        if not usable:
            try:
                with stats._lock:
                    stats.health_check_failures[alias] += 1
                _metrics().connection_health_check_failures.labels(alias).inc()
            except Exception as failure:
                _report(failure)
        return usable

    wrapper.connect = connect  # type: ignore[method-assign]
    wrapper.is_usable = is_usable  # type: ignore[method-assign]
    wrapper._integrity_instrumented = True  # type: ignore[attr-defined]


def hook_connection_handler() -> None:
    """Instrument every ``DatabaseWrapper`` that ``django.db.connections`` makes, from now on and already made."""
    from django.db import connections

    if getattr(connections, "_integrity_hooked", False):
        return
    original: Callable[[str], BaseDatabaseWrapper] = connections.create_connection

    def create_connection(alias: str) -> BaseDatabaseWrapper:
        wrapper = original(alias)
        try:
            instrument(wrapper)
        except Exception as error:
            _report(error)
        return wrapper

    connections.create_connection = create_connection  # type: ignore[method-assign]
    connections._integrity_hooked = True  # type: ignore[attr-defined]
    for existing in connections.all(initialized_only=True):
        instrument(existing)
