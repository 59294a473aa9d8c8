"""Django's MySQL/MariaDB backend with the ``db_connection_errors`` fault (``demo_shop.backends``)."""

from __future__ import annotations

from typing import Any

from django.db.backends.mysql import base

from demo_shop.backends import closes_after_each_request, refuse_this_attempt, refused_mysql


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        if refuse_this_attempt():
            conn_params = refused_mysql(conn_params)
        return super().get_new_connection(conn_params)

    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()
        if closes_after_each_request():
            self.close()
