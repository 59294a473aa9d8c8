from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class DjangoIntegrationConfig(AppConfig):
    name = "django_integration"
    verbose_name = "workflow-exporter Django integration"

    def ready(self) -> None:
        from . import _dbconnections, checks, db

        del checks  # imported for its @register side effect
        connection_created.connect(db.install, dispatch_uid="django_integration_sql_recorder")
        _dbconnections.hook_connection_handler()  # connect time and errors of every connection, from the first
