"""Django's SQLite backend with the ``db_connection_errors`` fault (``demo_shop.backends``)."""

from __future__ import annotations

from typing import Any

from django.db.backends.sqlite3 import base

from demo_shop.backends import MISSING_SQLITE_FILE, closes_after_each_request, refuse_this_attempt


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if refuse_this_attempt():
            conn_params = {**conn_params, "database": MISSING_SQLITE_FILE}
        return super().get_new_connection(conn_params)

    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()
        if closes_after_each_request():
            self.close()
