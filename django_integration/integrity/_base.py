"""What every integrity check shares: its one signature, what it returns, and the bounds it runs within.

A check is ``run(context: CheckContext) -> Outcome``. It reads the database of ``context.connection`` (a Django
``DatabaseWrapper``: the caller's, or one the tests build) and the project's models, and returns what it found
(:class:`Finding`), the gauge samples it measured (:class:`Sample`) and whether it covered everything (``complete``,
False when it ran out of its time budget and continues from ``state`` next run). A problem with the database is a
finding or a failed result, never an exception that escapes the runner (see ``_runner``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

# Ascending: --fail-on LEVEL fails on findings at LEVEL or above.
LEVELS = ("info", "warning", "error")

# The `status` of a check's result.
OK = "ok"  # ran and covered everything it checks
INCOMPLETE = "incomplete"  # ran out of its time budget; continues next run (foreign_keys over large tables)
FAILED = "failed"  # could not run: the database is unreachable, a statement failed (the result says which)
STATUSES = (OK, INCOMPLETE, FAILED)


def level_rank(level: str) -> int:
    """0 for ``info``, 1 for ``warning``, 2 for ``error``; ValueError for anything else."""
    return LEVELS.index(level)


@dataclass(frozen=True)
class Finding:
    """One problem: ``kind`` is a fixed name per check (``unapplied_migration``, ``type_mismatch``, ...),
    ``labels`` name where it is (``app_label``, ``model``, ``column``, ``relation`` ...; bounded by the project's
    models), ``count`` how many rows or items it concerns, ``message`` says it in words."""

    check: str
    kind: str
    level: str
    message: str
    labels: Mapping[str, str] = field(default_factory=dict)
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "kind": self.kind,
            "level": self.level,
            "message": self.message,
            "labels": dict(self.labels),
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            check=str(data["check"]),
            kind=str(data["kind"]),
            level=str(data["level"]),
            message=str(data["message"]),
            labels={str(k): str(v) for k, v in dict(data.get("labels") or {}).items()},
            count=int(data.get("count", 1)),
        )


@dataclass(frozen=True)
class Sample:
    """One value of a ``django_integrity_*`` gauge: the family's full name, its labels (without ``alias``, which
    the exporter adds where the family has it) and the value."""

    family: str
    labels: Mapping[str, str]
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "labels": dict(self.labels), "value": self.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sample:
        return cls(str(data["family"]), {str(k): str(v) for k, v in dict(data["labels"]).items()}, float(data["value"]))


@dataclass
class Outcome:
    """What a check returns: its findings, its samples, whether it covered everything, and its state for the
    next run (JSON-serialisable; the foreign_keys check keeps its place in large tables there)."""

    findings: list[Finding] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    complete: bool = True
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckContext:
    """What a check runs against and within.

    ``budget_seconds`` bounds the whole check (the foreign_keys check stops between ranges when it is spent and
    says so); ``statement_timeout_seconds`` bounds each statement on the server (MariaDB ``max_statement_time``,
    MySQL ``MAX_EXECUTION_TIME``, SQLite a progress handler); ``batch_rows`` is how many child rows one anti-join
    covers. ``state`` is what the previous run of this check on this database returned. ``exclude`` holds app
    labels, ``app_label.Model`` and ``app_label.Model.field`` entries (case-insensitive) the checks skip.
    ``primary`` is True for the database the project-wide findings (missing migrations) are reported on: the
    first one checked. ``clock`` is monotonic seconds.
    """

    connection: BaseDatabaseWrapper
    budget_seconds: float = 30.0
    statement_timeout_seconds: float = 10.0
    batch_rows: int = 100_000
    connect_attempts: int = 3
    exclude: frozenset[str] = frozenset()
    state: dict[str, Any] = field(default_factory=dict)
    primary: bool = True
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.exclude = frozenset(entry.lower() for entry in self.exclude)
        if not self.started:
            self.started = self.clock()

    @property
    def alias(self) -> str:
        return str(self.connection.alias)

    def remaining(self) -> float:
        """Seconds left of the budget (negative once spent)."""
        return self.budget_seconds - (self.clock() - self.started)

    def excluded(self, app_label: str, model: str | None = None, field_name: str | None = None) -> bool:
        """True when the app, the model (``app_label.Model``) or the relation (``app_label.Model.field``) is
        excluded by ``INTEGRITY_EXCLUDE``."""
        if not self.exclude:
            return False
        keys = [app_label.lower()]
        if model:
            keys.append(f"{app_label}.{model}".lower())
            if field_name:
                keys.append(f"{app_label}.{model}.{field_name}".lower())
        return any(key in self.exclude for key in keys)


Check = Callable[[CheckContext], Outcome]


def count_by_level(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(LEVELS, 0)
    for finding in findings:
        counts[finding.level] = counts.get(finding.level, 0) + 1
    return counts
