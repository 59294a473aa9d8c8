"""``schema``: each managed model against its real table, read through Django's own introspection.

For every model the database holds (managed, not a proxy, not swapped, routed to this database; many-to-many
tables included), the table is read with ``connection.introspection`` — ``get_table_description`` and
``get_constraints`` — and compared with the model:

| kind | level | what |
|---|---|---|
| ``missing_table`` | error | the model's table does not exist |
| ``missing_column`` | error | a field's column does not exist |
| ``type_mismatch`` | error | the column's type is not the one Django creates for the field |
| ``extra_column`` | warning (error when NOT NULL without a default: every insert fails) | a column no field has |
| ``null_mismatch`` | warning | the column allows NULL and the field does not, or the other way round |
| ``max_length_mismatch`` | warning | a ``varchar`` column's length differs from the field's ``max_length`` |
| ``precision_mismatch`` | warning | a decimal column's digits or places differ (where the database reports them) |
| ``missing_index`` | warning | no index starts with the columns of ``db_index=True`` or ``Meta.indexes`` |
| ``missing_unique`` | error | no unique index or constraint on the columns of ``unique=True``,
  ``unique_together`` or a ``UniqueConstraint`` |

Types are compared the way Django's own introspection tests do: the field's internal type goes through
``connection.features.introspected_field_types`` (MySQL reads a ``bool`` column back as an integer, SQLite a
big auto field as an auto field), the column's type through ``connection.introspection`` (``get_field_type``; on
SQLite the declared type, so that an integer primary key is not mistaken for an auto field), and both become the
column type Django creates for them (``connection.data_types``, parameters dropped, ``char`` as ``varchar``): a
``SlugField`` and a ``CharField`` are both ``varchar``. A field whose ``db_type()`` is its own (a third-party
field type) is only checked for existence and nullability; the primary key of an auto-created many-to-many table may
be any auto field (Django takes it from the migration state, so ``auth``'s get the project's ``DEFAULT_AUTO_FIELD``).
Expression indexes are checked by name; partial indexes only where the database supports them.

Sample: ``django_integrity_schema_drift{app_label, model}``, the number of differences per model (0 when none).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import apps
from django.db import models, router
from django.db.backends.base.base import BaseDatabaseWrapper

from ._base import CheckContext, Finding, Outcome, Sample

NAME = "schema"
DRIFT = "django_integrity_schema_drift"
_SPACES = re.compile(r"\s+")


def checked_models(context: CheckContext) -> Iterator[type[models.Model]]:
    """The models whose tables this database holds: managed, concrete, not swapped, routed here, not excluded."""
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy or meta.swapped:
            continue
        if not router.allow_migrate_model(context.alias, model):
            continue
        if context.excluded(meta.app_label, meta.object_name):
            continue
        yield model


def run(context: CheckContext) -> Outcome:
    connection = context.connection
    outcome = Outcome()
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for model in checked_models(context):
            meta = model._meta
            labels = {"app_label": meta.app_label, "model": meta.object_name or ""}
            if meta.db_table not in tables:
                found = [_finding("missing_table", "error", labels, f"table {meta.db_table} does not exist")]
            else:
                description = connection.introspection.get_table_description(cursor, meta.db_table)
                constraints = connection.introspection.get_constraints(cursor, meta.db_table)
                found = list(_compare(connection, model, description, constraints, labels))
            outcome.findings += found
            outcome.samples.append(Sample(DRIFT, labels, len(found)))
    return outcome


def _finding(kind: str, level: str, labels: dict[str, str], what: str, column: str | None = None) -> Finding:
    where = f"{labels['app_label']}.{labels['model']}"
    extra = {"column": column} if column else {}
    return Finding(NAME, kind, level, f"{where}: {what}", {**labels, **extra})


def _compare(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    description: Sequence[Any],
    constraints: dict[str, dict[str, Any]],
    labels: dict[str, str],
) -> Iterator[Finding]:
    meta = model._meta
    table = meta.db_table
    columns = {info.name: info for info in description}
    fields = [field for field in meta.local_concrete_fields if field.column]
    for field in fields:
        info = columns.get(field.column)
        where = f"column {table}.{field.column}"
        if info is None:
            yield _finding(
                "missing_column", "error", labels, f"{where} (field {field.name}) does not exist", field.column
            )
            continue
        if isinstance(field, models.GeneratedField):
            continue
        expected, actual = _expected_type(connection, field), _actual_type(connection, info)
        if expected is not None and actual != expected and not _any_auto_field(connection, model, field, actual):
            yield _finding(
                "type_mismatch",
                "error",
                labels,
                f"{where} is {actual}, field {field.name} wants {expected}",
                field.column,
            )
            continue
        if bool(info.null_ok) != bool(field.null) and not field.primary_key:
            wanted = "NULL" if field.null else "NOT NULL"
            actual_null = "NULL" if info.null_ok else "NOT NULL"
            yield _finding(
                "null_mismatch", "warning", labels, f"{where} is {actual_null}, field {field.name} wants {wanted}",
                field.column,
            )  # fmt: skip
        if expected == "varchar" and field.max_length is not None:
            size = info.display_size if info.display_size is not None else info.internal_size
            if size is not None and int(size) != int(field.max_length):
                yield _finding(
                    "max_length_mismatch", "warning", labels,
                    f"{where} holds {size} characters, field {field.name} has max_length={field.max_length}",
                    field.column,
                )  # fmt: skip
        digits_wanted = (getattr(field, "max_digits", None), getattr(field, "decimal_places", None))
        digits = (info.precision, info.scale)
        decimal = isinstance(field, models.DecimalField) and None not in digits
        if decimal and (int(info.precision), int(info.scale)) != digits_wanted:
            yield _finding(
                "precision_mismatch", "warning", labels,
                f"{where} is decimal({info.precision}, {info.scale}), field {field.name} wants "
                f"decimal({digits_wanted[0]}, {digits_wanted[1]})",
                field.column,
            )  # fmt: skip
    known = {field.column for field in fields}
    for name, info in columns.items():
        if name in known:
            continue
        blocking = not info.null_ok and getattr(info, "default", None) is None
        yield _finding(
            "extra_column",
            "error" if blocking else "warning",
            labels,
            f"column {table}.{name} belongs to no field"
            + (" and is NOT NULL without a default: inserts through Django fail" if blocking else ""),
            name,
        )
    yield from _compare_constraints(connection, model, constraints, labels)


class _AnyParameters(dict[str, Any]):
    """Parameters for a callable column type template (SQLite's ``varchar``): every one present."""

    def __missing__(self, key: str) -> int:
        return 1


def _any_auto_field(
    connection: BaseDatabaseWrapper, model: type[models.Model], field: models.Field[Any, Any], actual: str
) -> bool:
    """The primary key of an auto-created many-to-many table may be any auto field: Django creates it from the
    migration state's default auto field, which need not be the app's (``auth``'s tables get ``bigint``)."""
    if not (model._meta.auto_created and field.primary_key):
        return False
    autos = {_storage(connection, name) for name in ("AutoField", "BigAutoField", "SmallAutoField")}
    return actual in autos


def _storage(connection: BaseDatabaseWrapper, internal_type: str) -> str:
    """The column type Django creates for ``internal_type``, without parameters: ``varchar``, ``bigint``."""
    template = connection.data_types.get(internal_type)
    if template is None:
        return internal_type
    text = template(_AnyParameters()) if callable(template) else str(template)
    return _normalize(text)


def _normalize(db_type: str) -> str:
    """``varchar(%(max_length)s)`` -> ``varchar``, ``integer UNSIGNED`` -> ``integer unsigned``; ``char`` is
    ``varchar`` (introspection reads both as a CharField)."""
    kept, depth = [], 0
    for char in db_type.lower():
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            kept.append(char)
    text = _SPACES.sub(" ", "".join(kept)).strip()
    return "varchar" + text[4:] if text.startswith("char") and not text.startswith("varchar") else text


def _default_db_type(connection: BaseDatabaseWrapper, field: models.Field[Any, Any]) -> str | None:
    template = connection.data_types.get(field.get_internal_type())
    if template is None:
        return None
    parameters = field.db_type_parameters(connection)
    return template(parameters) if callable(template) else template % parameters


def _expected_type(connection: BaseDatabaseWrapper, field: models.Field[Any, Any]) -> str | None:
    """The normalised column type the field wants; None when the field makes its own type (not compared)."""
    if field.is_relation:
        db_type = field.db_type(connection)
        return None if db_type is None else _normalize(db_type)
    db_type = field.db_type(connection)
    if db_type is None or db_type != _default_db_type(connection, field):
        return None
    internal = field.get_internal_type()
    return _storage(connection, connection.features.introspected_field_types.get(internal, internal))


def _actual_type(connection: BaseDatabaseWrapper, info: Any) -> str:
    """The normalised type of an introspected column, through Django's introspection of this vendor."""
    introspection = connection.introspection
    try:
        if connection.vendor == "sqlite":
            # The declared type: get_field_type() turns every integer primary key into an AutoField.
            field_type: Any = introspection.data_types_reverse[info.type_code]
        else:
            field_type = introspection.get_field_type(info.type_code, info)
    except KeyError:
        raw = getattr(info, "data_type", None) or info.type_code
        return f"{raw} (a type Django does not map)"
    if isinstance(field_type, tuple):
        field_type = field_type[0]
    return _storage(connection, str(field_type))


def _columns(model: type[models.Model], names: Sequence[str]) -> list[str]:
    return [str(model._meta.get_field(name.lstrip("-")).column) for name in names]  # type: ignore[union-attr]


def _compare_constraints(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    constraints: dict[str, dict[str, Any]],
    labels: dict[str, str],
) -> Iterator[Finding]:
    meta = model._meta
    features = connection.features
    indexed = [
        list(c["columns"]) for c in constraints.values() if c.get("index") or c.get("unique") or c.get("primary_key")
    ]
    unique = [set(c["columns"]) for c in constraints.values() if c.get("unique") or c.get("primary_key")]
    names = set(constraints)
    wanted_indexes: list[tuple[list[str], str]] = []
    wanted_unique: list[tuple[list[str], str]] = []
    for field in meta.local_concrete_fields:
        if field.primary_key or not field.column:
            continue
        if field.unique:
            wanted_unique.append(([field.column], f"unique=True on {field.name}"))
        elif getattr(field, "db_index", False):
            wanted_indexes.append(([field.column], f"db_index=True on {field.name}"))
    for index in meta.indexes:
        if index.condition is not None and not features.supports_partial_indexes:
            continue
        if index.expressions:
            if index.name and index.name not in names:
                yield _finding("missing_index", "warning", labels, f"index {index.name} (Meta.indexes) does not exist")
            continue
        wanted_indexes.append((_columns(model, index.fields), f"Meta.indexes {index.name or list(index.fields)}"))
    for together in meta.unique_together:
        wanted_unique.append((_columns(model, together), f"unique_together {list(together)}"))
    for constraint in meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint):
            continue
        if constraint.condition is not None and not features.supports_partial_indexes:
            continue
        if constraint.expressions:
            if constraint.name not in names:
                yield _finding("missing_unique", "error", labels, f"unique constraint {constraint.name} does not exist")
            continue
        wanted_unique.append((_columns(model, constraint.fields), f"UniqueConstraint {constraint.name}"))
    for columns, why in wanted_indexes:
        if not any(existing[: len(columns)] == columns for existing in indexed):
            yield _finding(
                "missing_index", "warning", labels,
                f"no index on {meta.db_table}({', '.join(columns)}), which {why} declares", columns[0],
            )  # fmt: skip
    for columns, why in wanted_unique:
        if set(columns) not in unique:
            yield _finding(
                "missing_unique", "error", labels,
                f"no unique index or constraint on {meta.db_table}({', '.join(columns)}), which {why} declares",
                columns[0],
            )  # fmt: skip
