"""Run checks on databases and turn whatever happens into results: a failed check is a result, not an exception."""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from ._base import FAILED, INCOMPLETE, OK, Check, CheckContext, Finding, Outcome, Sample, count_by_level

logger = logging.getLogger("django_integration.integrity")
_ERROR_TEXT_MAX = 500
_LOGGED_FINDINGS_MAX = 20


@dataclass
class CheckResult:
    """One check on one database: ``status`` (``ok``, ``incomplete``, ``failed``), what it found and measured,
    when it started (unix seconds), how long it took, why it failed, and its state for the next run."""

    check: str
    alias: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    started_at: float = 0.0
    duration_seconds: float = 0.0
    error: str | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "alias": self.alias,
            "status": self.status,
            "started_at": self.started_at,
            "duration_seconds": round(self.duration_seconds, 6),
            "error": self.error,
            "findings": [finding.to_dict() for finding in self.findings],
            "samples": [sample.to_dict() for sample in self.samples],
            "state": self.state,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            check=str(data["check"]),
            alias=str(data["alias"]),
            status=str(data["status"]),
            findings=[Finding.from_dict(item) for item in data.get("findings", [])],
            samples=[Sample.from_dict(item) for item in data.get("samples", [])],
            started_at=float(data.get("started_at", 0.0)),
            duration_seconds=float(data.get("duration_seconds", 0.0)),
            error=data.get("error"),
            state=dict(data.get("state") or {}),
        )


@dataclass
class Options:
    """Which checks run on which databases, within which bounds (``CheckContext`` explains each)."""

    checks: Sequence[str]
    aliases: Sequence[str]
    budget_seconds: float = 30.0
    statement_timeout_seconds: float = 10.0
    batch_rows: int = 100_000
    connect_attempts: int = 3
    exclude: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, checks: Sequence[str] | None = None, aliases: Sequence[str] | None = None) -> Options:
        from ..conf import app_settings

        return cls(
            checks=list(checks if checks is not None else app_settings.integrity_checks),
            aliases=list(aliases if aliases is not None else app_settings.integrity_databases or list(connections)),
            budget_seconds=app_settings.integrity_budget_seconds,
            statement_timeout_seconds=app_settings.integrity_statement_timeout_seconds,
            batch_rows=app_settings.integrity_foreign_key_batch_rows,
            connect_attempts=app_settings.integrity_connect_attempts,
            exclude=frozenset(app_settings.integrity_exclude),
        )


def _ensure_connection(connection: BaseDatabaseWrapper) -> None:
    """Connect, trying twice: one refused connection is the connections check's finding, not a failed check."""
    try:
        connection.ensure_connection()
    except DatabaseError:
        connection.close()
        connection.ensure_connection()


def run_check(
    name: str,
    check: Check,
    connection: BaseDatabaseWrapper,
    options: Options,
    state: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    primary: bool = True,
) -> CheckResult:
    """Run one check on one database. Never raises for a database problem: it becomes a ``failed`` result."""
    started_at = wall_clock()
    context = CheckContext(
        connection=connection,
        budget_seconds=options.budget_seconds,
        statement_timeout_seconds=options.statement_timeout_seconds,
        batch_rows=options.batch_rows,
        connect_attempts=options.connect_attempts,
        exclude=options.exclude,
        state=copy.deepcopy(dict(state or {})),
        primary=primary,
        clock=clock,
    )
    error: str | None = None
    try:
        if name != "connections":
            _ensure_connection(connection)
        outcome = check(context)
        status = OK if outcome.complete else INCOMPLETE
    except Exception as failure:
        status = FAILED
        error = f"{type(failure).__name__}: {failure}"[:_ERROR_TEXT_MAX]
        outcome = Outcome(state=dict(state or {}))
        if not isinstance(failure, DatabaseError):
            logger.warning("integrity check %s failed on %s", name, connection.alias, exc_info=failure)
        with contextlib.suppress(Exception):
            connection.close()  # whatever the failure left behind, the next check starts with a new connection
    duration = clock() - context.started
    return CheckResult(
        check=name,
        alias=str(connection.alias),
        status=status,
        findings=outcome.findings,
        samples=outcome.samples,
        started_at=started_at,
        duration_seconds=duration,
        error=error,
        state=outcome.state,
    )


def run_checks(
    options: Options,
    state: Mapping[str, Mapping[str, Any]] | None = None,
    connection_for: Callable[[str], BaseDatabaseWrapper] | None = None,
    clock: Callable[[], float] = time.monotonic,
    log: bool = True,
) -> list[CheckResult]:
    """Every check of ``options`` on every database of ``options``, in that order, each logged once (``log``).

    ``state`` maps ``"<check>:<alias>"`` to what that check returned last time; ``connection_for`` gives the
    connection of an alias (default ``django.db.connections[alias]``).
    """
    from . import CHECKS

    connection_for = connection_for or connections.__getitem__
    results = []
    for index, alias in enumerate(options.aliases):
        connection = connection_for(alias)
        for name in options.checks:
            previous = (state or {}).get(f"{name}:{alias}")
            result = run_check(name, CHECKS[name], connection, options, previous, clock=clock, primary=index == 0)
            if log:
                _log(result)
            results.append(result)
    return results


def _log(result: CheckResult) -> None:
    counts = count_by_level(result.findings)
    level = logging.WARNING if result.status == FAILED or counts["error"] or counts["warning"] else logging.INFO
    logger.log(
        level,
        "integrity check %s on %s: %s, %d findings",
        result.check,
        result.alias,
        result.status,
        len(result.findings),
        extra={
            "check": result.check,
            "db_alias": result.alias,
            "status": result.status,
            "duration_ms": round(result.duration_seconds * 1000, 3),
            "findings": [f"{f.level}: {f.message}" for f in result.findings[:_LOGGED_FINDINGS_MAX]],
            "error": result.error,
        },
    )
