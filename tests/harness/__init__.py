"""Start real Prometheus, Alertmanager, MariaDB, mysqld_exporter and the demo shop for tests.

Every component binds 127.0.0.1 on a free port, lives in a temp dir, is awaited on a readiness check (never
a fixed sleep) and is stopped by pid. A missing binary skips the test locally with the install command, and
fails it when ``CI=true``.
"""

from .alertmanager import Alertmanager, WebhookReceiver, start_alertmanager
from .mariadb import MariaDB, start_mariadb
from .mysqld_exporter import MysqldExporter, start_mysqld_exporter
from .processes import ManagedProcess, free_port, require_binary, wait_until
from .prometheus import Prometheus, start_prometheus
from .shop import ShopServer, start_shop

__all__ = [
    "Alertmanager",
    "ManagedProcess",
    "MariaDB",
    "MysqldExporter",
    "Prometheus",
    "ShopServer",
    "WebhookReceiver",
    "free_port",
    "require_binary",
    "start_alertmanager",
    "start_mariadb",
    "start_mysqld_exporter",
    "start_prometheus",
    "start_shop",
    "wait_until",
]
