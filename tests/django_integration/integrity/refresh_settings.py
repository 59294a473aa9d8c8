"""The demo shop with the integrity refresher on every second (the gunicorn refresher test)."""

from demo_shop.settings import *  # noqa: F403
from demo_shop.settings import WORKFLOW_EXPORTER

WORKFLOW_EXPORTER = {
    **WORKFLOW_EXPORTER,
    "INTEGRITY_REFRESH": True,
    "INTEGRITY_REFRESH_INTERVAL_SECONDS": 1.0,
    "INTEGRITY_STATEMENT_TIMEOUT_SECONDS": 5.0,
    "INTEGRITY_CONNECT_ATTEMPTS": 1,
}
