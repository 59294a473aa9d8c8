from __future__ import annotations

import time
from typing import Any

from django.apps import AppConfig
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created


def _sqlite_sleep(seconds: float) -> int:
    time.sleep(float(seconds))
    return 0


def _add_sqlite_sleep(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Give SQLite MySQL's ``SLEEP()``, so the slow_products fault is a slow query on every backend."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("SLEEP", 1, _sqlite_sleep)


class ShopConfig(AppConfig):
    name = "demo_shop.shop"
    label = "shop"
    verbose_name = "Demo shop"

    def ready(self) -> None:
        from demo_shop.faults import faults

        faults.snapshot_set()  # an unknown name in DEMO_FAULTS stops the start with a clear error
        connection_created.connect(_add_sqlite_sleep, dispatch_uid="demo_shop_sqlite_sleep")
