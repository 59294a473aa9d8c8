"""``foreign_keys``: per foreign key, the child rows whose parent row is missing — one anti-join per relation.

Orphans appear where the database did not enforce the key: imports with ``FOREIGN_KEY_CHECKS=0``, MyISAM tables,
SQLite with foreign keys off, ``db_constraint=False``, manual fixes. For every ``ForeignKey`` and
``OneToOneField`` of a checked model (see ``schema.checked_models``) whose target lives in the same database::

    SELECT COUNT(*) FROM child c LEFT JOIN parent p ON p.<target column> = c.<fk column>
    WHERE c.<fk column> IS NOT NULL AND p.<target column> IS NULL AND c.<pk> > %s AND c.<pk> <= %s

Bounded three ways:

- **ranges**: each anti-join covers at most ``batch_rows`` child rows, in primary-key order (keyset: the range's
  upper bound is the primary key ``batch_rows`` rows on, read from the index), so a large table is checked over
  several runs, continuing where the last run stopped (``state``);
- **a time budget** for the whole check: between ranges it stops when ``budget_seconds`` are spent (it always
  checks at least one range per run, so every run makes progress), and the last statement's timeout is cut to what
  is left of the budget;
- **a statement timeout** per statement (``_sql.run_bounded``). A range that times out with the full timeout is
  too slow: the relation's batch is halved for the next run and a ``range_timeout`` warning says so; at the
  smallest batch (1000 rows) the range is skipped and the relation's count is marked a lower bound.

A check that runs out of budget says so: the result is ``incomplete`` (an ``incomplete`` info finding names the
relation and key it continues from), and a relation's count is the total of its last full pass, or while the
first pass is still running, what the pass has found so far (``at least`` in the finding). A *cycle* is complete
when every relation has finished a pass since the last complete cycle; only then is the result complete.

Sample: ``django_integrity_orphaned_rows{app_label, model, relation, target}``: ``relation`` is the field name,
``target`` the referenced model (``shop.Product``).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, models, router

from ._base import CheckContext, Finding, Outcome, Sample
from ._sql import is_timeout, run_bounded
from .schema import checked_models

NAME = "foreign_keys"
ORPHANS = "django_integrity_orphaned_rows"
MIN_BATCH = 1000


@dataclass(frozen=True)
class Relation:
    """One foreign key as the anti-join sees it (table and column names as the database has them)."""

    key: str  # app_label.Model.field
    app_label: str
    model: str
    field: str
    target: str  # app_label.Model
    child_table: str
    child_pk: str | None  # None: no single-column primary key (checked in one statement)
    fk_column: str
    parent_table: str
    parent_column: str

    @property
    def labels(self) -> dict[str, str]:
        return {"app_label": self.app_label, "model": self.model, "relation": self.field, "target": self.target}


def relations(context: CheckContext) -> list[Relation]:
    found = []
    for model in checked_models(context):
        meta = model._meta
        pk = meta.pk
        child_pk = pk.column if pk is not None and getattr(pk, "column", None) else None
        for field in meta.local_concrete_fields:
            if not isinstance(field, models.ForeignKey):
                continue
            target = field.remote_field.model
            if isinstance(target, str) or not router.allow_migrate_model(context.alias, target):
                continue  # a target in another database cannot be joined
            if context.excluded(meta.app_label, meta.object_name, field.name):
                continue
            target_field = field.target_field
            found.append(
                Relation(
                    key=f"{meta.app_label}.{meta.object_name}.{field.name}",
                    app_label=meta.app_label,
                    model=meta.object_name or "",
                    field=field.name,
                    target=str(target._meta.label),
                    child_table=meta.db_table,
                    child_pk=child_pk,
                    fk_column=field.column,
                    parent_table=target_field.model._meta.db_table,
                    parent_column=target_field.column,
                )
            )
    return found


def _jsonable(value: Any) -> Any:
    """A primary key kept in the check's state: JSON has ints and strings."""
    if isinstance(value, (int, str)) or value is None:
        return value
    if isinstance(value, (uuid.UUID, Decimal, datetime.date, datetime.datetime)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class _Scanner:
    def __init__(self, context: CheckContext) -> None:
        self.context = context
        self.connection = context.connection
        self.quote = self.connection.ops.quote_name
        self.ranges = 0  # ranges checked in this run (the first one always gets the full statement timeout)

    def timeout(self) -> tuple[float, bool]:
        """The next statement's timeout, and whether it is cut by the budget (never in the run's first range)."""
        configured = self.context.statement_timeout_seconds
        if self.ranges == 0:
            return configured, False
        remaining = self.context.remaining()
        return (remaining, True) if remaining < configured else (configured, False)

    def upper_bound(self, relation: Relation, after: Any, batch: int, timeout: float) -> Any:
        """The primary key ``batch`` rows after ``after`` (None: the rest of the table is smaller)."""
        q = self.quote
        where = f"WHERE {q(relation.child_pk or '')} > %s " if after is not None else ""
        rows = run_bounded(
            self.connection,
            NAME,
            f"SELECT {q(relation.child_pk or '')} FROM {q(relation.child_table)} {where}"
            f"ORDER BY {q(relation.child_pk or '')} LIMIT 1 OFFSET {int(batch) - 1}",
            [after] if after is not None else [],
            timeout,
        )
        return rows[0][0] if rows else None

    def orphans(self, relation: Relation, after: Any, upper: Any, timeout: float) -> int:
        q = self.quote
        sql = (
            f"SELECT COUNT(*) FROM {q(relation.child_table)} c LEFT JOIN {q(relation.parent_table)} p "
            f"ON p.{q(relation.parent_column)} = c.{q(relation.fk_column)} "
            f"WHERE c.{q(relation.fk_column)} IS NOT NULL AND p.{q(relation.parent_column)} IS NULL"
        )
        params: list[Any] = []
        if relation.child_pk is not None and after is not None:
            sql += f" AND c.{q(relation.child_pk)} > %s"
            params.append(after)
        if relation.child_pk is not None and upper is not None:
            sql += f" AND c.{q(relation.child_pk)} <= %s"
            params.append(upper)
        rows = run_bounded(self.connection, NAME, sql, params, timeout)
        return int(rows[0][0])


def run(context: CheckContext) -> Outcome:
    outcome = Outcome()
    scanner = _Scanner(context)
    found = relations(context)
    keys = [relation.key for relation in found]
    previous = context.state.get("relations", {}) if isinstance(context.state.get("relations"), dict) else {}
    states: dict[str, dict[str, Any]] = {key: dict(previous[key]) for key in keys if key in previous}
    cycle = {key for key in context.state.get("cycle", []) if key in keys}
    start = keys.index(context.state["next"]) if context.state.get("next") in keys else 0
    order = found[start:] + found[:start]
    stopped: Relation | None = None

    for relation in order:
        state = states.setdefault(
            relation.key, {"after": None, "partial": 0, "total": None, "batch": context.batch_rows, "gap": False}
        )
        try:
            stopped = _scan(scanner, relation, state, cycle, outcome)
        except DatabaseError as error:
            if not scanner.connection.is_usable():
                raise  # the database went away: the whole check failed
            cycle.add(relation.key)
            outcome.findings.append(
                Finding(
                    NAME, "relation_unchecked", "warning",
                    f"{relation.key} could not be checked: {type(error).__name__}: {error}", relation.labels,
                )
            )  # fmt: skip
        if stopped is not None:
            break

    complete = cycle >= set(keys)
    outcome.complete = complete
    outcome.state = {
        "relations": states,
        "cycle": [] if complete else sorted(cycle),
        "next": stopped.key if stopped is not None else (order[0].key if order else None),
    }
    for relation in found:
        state = states.get(relation.key, {})
        total, partial = state.get("total"), int(state.get("partial", 0))
        value = partial if total is None else max(int(total), partial)
        outcome.samples.append(Sample(ORPHANS, relation.labels, value))
        if value:
            lower_bound = total is None or bool(state.get("total_gap"))
            outcome.findings.append(
                Finding(
                    NAME,
                    "orphaned_rows",
                    "error",
                    f"{'at least ' if lower_bound else ''}{value} rows of {relation.app_label}.{relation.model} point "
                    f"through {relation.field} ({relation.child_table}.{relation.fk_column}) at no {relation.target} "
                    f"row ({relation.parent_table}.{relation.parent_column})",
                    relation.labels,
                    count=value,
                )
            )
    if stopped is not None and not complete:
        done = len(cycle)
        outcome.findings.append(
            Finding(
                NAME, "incomplete", "info",
                f"the {context.budget_seconds:g}s budget ran out: {done} of {len(keys)} relations finished this cycle; "
                f"the next run continues with {stopped.key} after primary key {states[stopped.key]['after']!r}",
                {"relation": stopped.field, "app_label": stopped.app_label, "model": stopped.model},
            )
        )  # fmt: skip
    return outcome


def _scan(
    scanner: _Scanner, relation: Relation, state: dict[str, Any], cycle: set[str], outcome: Outcome
) -> Relation | None:
    """Check ``relation`` range by range until its pass ends (None) or the budget is spent (the relation)."""
    context = scanner.context
    while True:
        if scanner.ranges and context.remaining() <= 0:
            return relation
        timeout, cut = scanner.timeout()
        after = state.get("after")
        batch = max(min(int(state.get("batch") or context.batch_rows), context.batch_rows), 1)
        try:
            upper = scanner.upper_bound(relation, after, batch, timeout) if relation.child_pk is not None else None
            timeout, cut = scanner.timeout()
            count = scanner.orphans(relation, after, upper, timeout)
        except DatabaseError as error:
            if not is_timeout(error):
                raise
            if cut:
                return relation  # the budget ran out inside the statement: continue here next run
            scanner.ranges += 1  # an attempt that used a whole statement timeout counts against the budget
            finished = False
            if relation.child_pk is None:
                state["gap"] = finished = True
                what = "the table has no single-column primary key to check it in ranges; its count is a lower bound"
            elif batch > MIN_BATCH:
                state["batch"] = max(batch // 2, MIN_BATCH)
                what = f"trying {state['batch']} rows per range from now on"
            else:
                state["gap"] = True
                state["after"] = _skip(scanner, relation, after, batch)
                finished = state["after"] is None
                what = "the range is skipped; the relation's count is a lower bound"
            outcome.findings.append(
                Finding(
                    NAME, "range_timeout", "warning",
                    f"{relation.key}: {batch} rows after primary key {after!r} took longer than the "
                    f"{context.statement_timeout_seconds:g}s statement timeout; {what}",
                    relation.labels,
                )
            )  # fmt: skip
            if finished:
                _finish_pass(relation, state, cycle)
                return None
            continue
        scanner.ranges += 1
        state["partial"] = int(state.get("partial", 0)) + count
        if upper is None:
            _finish_pass(relation, state, cycle)
            return None
        state["after"] = _jsonable(upper)


def _finish_pass(relation: Relation, state: dict[str, Any], cycle: set[str]) -> None:
    state["total"] = int(state.get("partial", 0))
    state["total_gap"] = bool(state.get("gap"))
    state["partial"] = 0
    state["after"] = None
    state["gap"] = False
    state["passes"] = int(state.get("passes", 0)) + 1
    cycle.add(relation.key)


def _skip(scanner: _Scanner, relation: Relation, after: Any, batch: int) -> Any:
    """Past a range that cannot be checked within the timeout: its upper bound, or None at the end."""
    try:
        return _jsonable(scanner.upper_bound(relation, after, batch, scanner.context.statement_timeout_seconds))
    except DatabaseError:
        return None
