from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import request_started
from django.db.backends.signals import connection_created

from ._failopen import report


class DjangoIntegrationConfig(AppConfig):
    name = "django_integration"
    verbose_name = "workflow-exporter Django integration"

    def ready(self) -> None:
        from . import _dbconnections, checks, db
        from .integrity import _refresher

        del checks  # imported for its @register side effect
        connection_created.connect(db.install, dispatch_uid="django_integration_sql_recorder")
        _dbconnections.hook_connection_handler()  # connect time and errors of every connection, from the first
        try:  # instrumentation fails open: a project it cannot inventory still starts
            from .inventory import install as install_api_inventory

            install_api_inventory()  # the API inventory's system checks (check --deploy) and its gauges on /metrics
        except Exception as error:
            report("api_inventory", error)
        # The integrity refresher (opt-in) starts with the first request of the serving process, not in commands.
        request_started.connect(_refresher.start_refresher, dispatch_uid=_refresher.DISPATCH_UID)
