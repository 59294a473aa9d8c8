"""The inventory on ``/metrics``: computed when Prometheus scrapes, from the inventory kept since the first
scrape (the URL conf does not change while the process runs); only the permissions are evaluated again, so an
endpoint that loses its authentication shows at the next scrape. Never on a request of the application.

* ``django_api_endpoint_anonymous{route, method, public}``: 1 when an anonymous request of the method passes the
  endpoint's effective permissions, 0 when they refuse it; ``public`` is ``true`` for endpoints open by
  declaration (``AllowAny``, no authentication). Views whose permissions cannot be evaluated (plain Django
  views) have no series. Bounded by the URL conf.
* ``django_api_endpoint_findings{finding}``: how many endpoints have each finding kind now (0 too).

A collector on the default registry: with ``PROMETHEUS_MULTIPROC_DIR`` (several gunicorn workers) the
multiprocess collector serves only the files of the workers, and these families are absent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger("django_integration.inventory")

_installed: set[int] = set()
_lock = threading.Lock()


class InventoryCollector(Collector):
    def __init__(self, urlconf: str | None = None) -> None:
        self.urlconf = urlconf
        self._warned = False

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing is computed when the collector is registered

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from . import FINDINGS, cached_inventory

        try:
            inventory = cached_inventory(self.urlconf)
            endpoints = inventory.endpoints()
            findings = inventory.findings(endpoints)
        except Exception as error:  # fails open: the scrape goes on without these families
            if not self._warned:
                self._warned = True
                logger.warning("the API inventory cannot be exported: %s: %s", type(error).__name__, error)
            return
        anonymous = GaugeMetricFamily(
            "django_api_endpoint_anonymous",
            "1 when an anonymous request of the method passes the endpoint's effective permissions, else 0; "
            "public=true for endpoints open by declaration (AllowAny, no authentication).",
            labels=["route", "method", "public"],
        )
        for endpoint in endpoints:
            if endpoint.anonymous is not None:
                anonymous.add_metric([endpoint.route, endpoint.method, "true" if endpoint.public else "false"],
                                     1.0 if endpoint.anonymous else 0.0)  # fmt: skip
        counts = GaugeMetricFamily("django_api_endpoint_findings",
                                   "Endpoints with each finding of the API inventory (manage.py check --deploy).",
                                   labels=["finding"])  # fmt: skip
        for name in FINDINGS:
            counts.add_metric([name], float(sum(1 for f in findings if f.finding == name)))
        yield anonymous
        yield counts


def install(registry: CollectorRegistry = REGISTRY) -> None:
    """Register the collector on ``registry`` once per process."""
    with _lock:
        if id(registry) in _installed:
            return
        registry.register(InventoryCollector())
        _installed.add(id(registry))
