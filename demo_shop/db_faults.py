"""Faults that live in the database, so every process sees them (the shop's workers, ``integrity_check``).

Each is switched on and off at run time (``PUT /_demo/faults``, or ``python -m demo_shop demo_fault NAME on|off``
from any shell), is read back from the database (``GET /_demo/faults`` says what the database holds), and is made
behind Django's back, as the problems it stands for are:

- ``unapplied_migration``: the record of ``fault_migrations.0001_release_marker`` is deleted from
  ``django_migrations``: a migration file the database has not seen. Off: recorded again.
- ``schema_drift_db``: ``shop_product.name`` is widened from 200 to 255 characters with the schema editor and no
  migration. Off: narrowed back (the names are far shorter).
- ``fk_orphan``: three order items of the user ``fault-orphans`` point at a product whose row is deleted with the
  database's foreign key checks off (``FOREIGN_KEY_CHECKS=0``, SQLite ``PRAGMA foreign_keys = OFF``). Off: that
  order and its items are deleted.

On SQLite a table rebuild checks every foreign key afterwards, so ``schema_drift_db`` cannot change while
``fk_orphan`` is on: switch ``fk_orphan`` off first (a PUT switching both off does it in that order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

MIGRATION = ("fault_migrations", "0001_release_marker")
DRIFTED_LENGTH = 255
ORPHANS_USER = "fault-orphans"
ORPHAN_SKU = "FAULT-ORPHAN"
ORPHAN_ITEMS = 3


class FaultSwitchError(Exception):
    """The database refused to switch a fault; the message says why and what to do."""


def _unapplied_migration_on() -> bool:
    return MIGRATION not in MigrationRecorder(connection).applied_migrations()


def _switch_unapplied_migration(on: bool) -> None:
    recorder = MigrationRecorder(connection)
    if on:
        recorder.record_unapplied(*MIGRATION)
    elif MIGRATION not in recorder.applied_migrations():
        recorder.record_applied(*MIGRATION)


def _name_field(max_length: int) -> Any:
    from demo_shop.shop.models import Product

    field: Any = Product._meta.get_field("name")
    _, _, args, kwargs = field.deconstruct()
    changed = type(field)(*args, **{**kwargs, "max_length": max_length})
    changed.set_attributes_from_name("name")
    changed.model = Product
    return changed


def _name_length() -> int | None:
    with connection.cursor() as cursor:
        for column in connection.introspection.get_table_description(cursor, "shop_product"):
            if column.name == "name":
                size = column.display_size if column.display_size is not None else column.internal_size
                return None if size is None else int(size)
    return None


def _schema_drift_db_on() -> bool:
    return _name_length() == DRIFTED_LENGTH


def _switch_schema_drift_db(on: bool) -> None:
    from demo_shop.shop.models import Product

    if _schema_drift_db_on() == on:
        return
    model_length = int(Product._meta.get_field("name").max_length or 0)
    lengths = (model_length, DRIFTED_LENGTH) if on else (DRIFTED_LENGTH, model_length)
    old, new = _name_field(lengths[0]), _name_field(lengths[1])
    with connection.schema_editor() as editor:
        editor.alter_field(Product, old, new)


def _foreign_keys(on: bool) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
        else:
            cursor.execute(f"SET FOREIGN_KEY_CHECKS = {1 if on else 0}")


def _fk_orphan_on() -> bool:
    from demo_shop.shop.models import OrderItem

    return OrderItem.objects.filter(order__user__username=ORPHANS_USER).exists()


def _switch_fk_orphan(on: bool) -> None:
    from django.contrib.auth import get_user_model

    from demo_shop.shop.models import Category, Order, OrderItem, Product

    orders = Order.objects.filter(user__username=ORPHANS_USER)
    if not on:
        OrderItem.objects.filter(order__in=orders).delete()  # deleting children needs no parent
        orders.delete()
        return
    if _fk_orphan_on():
        return
    user, _ = get_user_model().objects.get_or_create(username=ORPHANS_USER, defaults={"is_active": False})
    product = Product.objects.create(
        sku=ORPHAN_SKU, name="Discontinued (fk_orphan fault)", price=Decimal("1.00"), stock=0,
        category=Category.objects.order_by("id")[0],
    )  # fmt: skip
    order = Order.objects.create(user=user, total=Decimal(ORPHAN_ITEMS))
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product=product, product_name=product.name, quantity=1, unit_price=Decimal("1.00"))
        for _ in range(ORPHAN_ITEMS)
    )
    _foreign_keys(False)  # as an import script or a manual fix would; on_delete=PROTECT is never asked
    try:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM shop_product WHERE id = %s", [product.pk])
    finally:
        _foreign_keys(True)


DB_FAULTS: Mapping[str, tuple[Callable[[], bool], Callable[[bool], None]]] = {
    "unapplied_migration": (_unapplied_migration_on, _switch_unapplied_migration),
    "schema_drift_db": (_schema_drift_db_on, _switch_schema_drift_db),
    "fk_orphan": (_fk_orphan_on, _switch_fk_orphan),
}
# Switched in this order (fk_orphan off before schema_drift_db changes, for SQLite's rebuild check).
ORDER = ("unapplied_migration", "fk_orphan", "schema_drift_db")


def state() -> dict[str, bool]:
    """Whether each database fault is on, read from the database."""
    return {name: is_on() for name, (is_on, _) in DB_FAULTS.items()}


def _refusal(changes: Mapping[str, bool]) -> str | None:
    """Why a set of changes cannot be made, decided before any of it is applied."""
    if connection.vendor != "sqlite" or changes.get("schema_drift_db", _schema_drift_db_on()) == _schema_drift_db_on():
        return None
    if changes.get("fk_orphan", _fk_orphan_on()):
        # SQLite rebuilds shop_product and then checks every foreign key; the orphans fail that check, and
        # Django's SQLite schema editor raises from its __exit__ with the transaction left open.
        return (
            "SQLite checks every foreign key after rebuilding shop_product and the fk_orphan rows fail that check: "
            'switch fk_orphan off first (in the same request: {"fk_orphan": false, "schema_drift_db": ...})'
        )
    return None


def switch(changes: Mapping[str, bool]) -> None:
    """Switch database faults; switching one to the state it is in does nothing. Raises ``FaultSwitchError``
    (nothing changed) for a set of changes the database cannot take."""
    refusal = _refusal(changes)
    if refusal:
        raise FaultSwitchError(refusal)
    ordered = sorted(changes.items(), key=lambda item: (item[1], ORDER.index(item[0])))  # offs first
    for name, on in ordered:
        DB_FAULTS[name][1](on)
