"""The schema check on SQLite and MariaDB: a healthy schema has no finding; each kind of drift made behind Django's
back (its schema editor or plain SQL, no migration) is found with the model and column named, and is gone once
reverted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.db.migrations.state import ProjectState

from demo_shop.shop.models import CartItem, Category, OrderItem, Product
from django_integration.integrity import OK
from django_integration.integrity.schema import DRIFT
from tests.django_integration.integrity.conftest import Database, findings, new_field, samples, variant

Action = Callable[[Database], None]


def alter(model: type[models.Model], name: str, **changes: object) -> tuple[Action, Action]:
    old, new = variant(model, name, **changes)

    def apply(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.alter_field(model, old, new)

    def revert(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.alter_field(model, new, old)

    return apply, revert


def retype(model: type[models.Model], name: str, replacement: models.Field[object, object]) -> tuple[Action, Action]:
    old: Any = model._meta.get_field(name)
    new = new_field(model, name, replacement)

    def apply(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.alter_field(model, old, new)

    def revert(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.alter_field(model, new, old)

    return apply, revert


def extra(model: type[models.Model], name: str, column: models.Field[object, object]) -> tuple[Action, Action]:
    added = new_field(model, name, column)

    def apply(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.add_field(model, added)

    def revert(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.remove_field(model, added)

    return apply, revert


def drop_column(model: type[models.Model], name: str) -> tuple[Action, Action]:
    existing: Any = model._meta.get_field(name)

    def apply(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.remove_field(model, existing)

    def revert(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.add_field(model, existing)

    return apply, revert


def drop_table(model: type[models.Model]) -> tuple[Action, Action]:
    def apply(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.delete_model(model)

    def revert(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.create_model(model)

    return apply, revert


def drop_constraint(model: type[models.Model], name: str) -> tuple[Action, Action]:
    constraint = next(c for c in model._meta.constraints if c.name == name)

    def apply(db: Database) -> None:
        # As a migration does it: on SQLite the table is rebuilt from a model state that no longer has it.
        state = ProjectState.from_apps(apps)
        app_label, model_name = model._meta.app_label, str(model._meta.model_name)
        state.remove_constraint(app_label, model_name, name)
        without = state.apps.get_model(app_label, model_name)
        with db.connection.schema_editor() as editor:
            editor.remove_constraint(without, constraint)

    def revert(db: Database) -> None:
        with db.connection.schema_editor() as editor:
            editor.add_constraint(model, constraint)

    return apply, revert


def drop_fk_index() -> tuple[Action, Action]:
    """The index on shop_orderitem.product_id dropped by hand (on MariaDB with the foreign key that needs it)."""
    dropped: dict[str, dict[str, object]] = {}

    def apply(db: Database) -> None:
        with db.connection.cursor() as cursor:
            constraints = db.connection.introspection.get_constraints(cursor, "shop_orderitem")
        for name, info in constraints.items():
            if info["columns"] == ["product_id"]:
                dropped[name] = info
        foreign = [name for name, info in dropped.items() if info["foreign_key"]]
        for name in foreign if db.backend != "sqlite" else []:  # SQLite's keys are part of the table
            db.sql(f"ALTER TABLE shop_orderitem DROP FOREIGN KEY `{name}`")
        for name, info in dropped.items():
            if info["index"]:
                db.sql(f"DROP INDEX `{name}`" if db.backend == "sqlite" else f"DROP INDEX `{name}` ON shop_orderitem")

    def revert(db: Database) -> None:
        for name, info in dropped.items():
            if info["index"]:
                db.sql(f"CREATE INDEX `{name}` ON shop_orderitem (product_id)")
        for name, info in dropped.items():
            if info["foreign_key"] and db.backend != "sqlite":
                db.sql(
                    f"ALTER TABLE shop_orderitem ADD CONSTRAINT `{name}` "
                    "FOREIGN KEY (product_id) REFERENCES shop_product (id)"
                )
        dropped.clear()

    return apply, revert


@dataclass
class Drift:
    change: tuple[Action, Action]
    expected: list[tuple[str, str, dict[str, str]]]
    # What a backend reports instead, where it differs (SQLite keeps no decimal digits to compare).
    instead: dict[str, list[tuple[str, str, dict[str, str]]]] = field(default_factory=dict)


def where(model: str, column: str | None = None) -> dict[str, str]:
    labels = {"app_label": "shop", "model": model}
    return {**labels, "column": column} if column else labels


DRIFTS = {
    "missing_table": Drift(drop_table(OrderItem), [("missing_table", "error", where("OrderItem"))]),
    "missing_column": Drift(
        drop_column(Product, "description"), [("missing_column", "error", where("Product", "description"))]
    ),
    "extra_nullable_column": Drift(
        extra(Product, "legacy_code", models.CharField(max_length=20, null=True)),
        [("extra_column", "warning", where("Product", "legacy_code"))],
    ),
    "extra_not_null_column_without_default": Drift(
        extra(Product, "legacy_flag", models.IntegerField(default=0)),  # the default only fills existing rows
        [("extra_column", "error", where("Product", "legacy_flag"))],
    ),
    "type": Drift(
        retype(Product, "stock", models.CharField(max_length=12, default="0")),
        [("type_mismatch", "error", where("Product", "stock"))],
    ),
    "nullability": Drift(
        alter(Product, "description", null=True), [("null_mismatch", "warning", where("Product", "description"))]
    ),
    "max_length": Drift(
        alter(Product, "name", max_length=255), [("max_length_mismatch", "warning", where("Product", "name"))]
    ),
    "decimal_digits": Drift(
        alter(Product, "price", max_digits=12),
        [("precision_mismatch", "warning", where("Product", "price"))],
        instead={"sqlite": []},
    ),
    "unique_field": Drift(
        alter(Category, "slug", unique=False), [("missing_unique", "error", where("Category", "slug"))]
    ),
    "unique_constraint": Drift(
        drop_constraint(CartItem, "shop_cartitem_unique_product"),
        [("missing_unique", "error", where("CartItem", "cart_id"))],
    ),
    "foreign_key_index": Drift(drop_fk_index(), [("missing_index", "warning", where("OrderItem", "product_id"))]),
}


def test_a_healthy_schema_has_no_finding(database: Database) -> None:
    result = database.run("schema")
    assert result.status == OK and result.error is None
    assert findings(result) == []
    drift = samples(result, DRIFT)
    assert len(drift) >= 12  # auth, contenttypes, sessions, the shop and their many-to-many tables
    assert set(drift.values()) == {0}
    assert (("app_label", "shop"), ("model", "OrderItem")) in drift


@pytest.mark.parametrize("name", list(DRIFTS))
def test_drift_is_found_and_recovers(database: Database, name: str) -> None:
    drift = DRIFTS[name]
    apply, revert = drift.change
    apply(database)
    try:
        result = database.run("schema")
    finally:
        revert(database)
    expected = drift.instead.get(database.backend, drift.expected)
    assert findings(result) == expected, [f.message for f in result.findings]
    if expected:
        model = expected[0][2]["model"]
        assert samples(result, DRIFT)[(("app_label", "shop"), ("model", model))] == len(expected)
    assert findings(database.run("schema")) == []


def test_messages_name_table_column_and_both_sides(database: Database) -> None:
    apply, revert = DRIFTS["max_length"].change
    apply(database)
    try:
        (finding,) = database.run("schema").findings
    finally:
        revert(database)
    assert (
        finding.message == "shop.Product: column shop_product.name holds 255 characters, field name has max_length=200"
    )


def test_excluded_models_are_not_checked(database: Database) -> None:
    apply, revert = DRIFTS["max_length"].change
    apply(database)
    try:
        result = database.run("schema", exclude=frozenset({"shop.Product"}))
        app_excluded = database.run("schema", exclude=frozenset({"shop"}))
    finally:
        revert(database)
    assert findings(result) == []
    assert (("app_label", "shop"), ("model", "Product")) not in samples(result, DRIFT)
    assert not [s for s in app_excluded.samples if s.labels["app_label"] == "shop"]
