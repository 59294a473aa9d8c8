"""The frontend map inside the exporter: built in a thread of its own on start, after every reload and every
``refresh``, and exported as gauges (``exporter.metrics.WorkflowMetrics``'s ``frontend_*`` families):

* ``frontend_map_calls{status}``: distinct calls by status (matched, unmatched, method, unresolved);
* ``frontend_map_route_unmatched_calls{route}``: per route (a Next.js route template, at most ``MAX_ROUTES``
  series; the rest add up in ``route="<other>"``), the calls with no backend operation;
* ``frontend_map_unused_operations{source}``, ``frontend_map_last_refresh_success{source}``,
  ``frontend_map_last_refresh_timestamp_seconds{source}``: ``source`` is the configured folder, so without a
  ``frontend:`` section these families have no series at all (and no alert reads a 0 that means "not set up").

A failed refresh (document unreachable, source gone) keeps the last map's series and sets the success gauge to 0.
Without a ``frontend:`` section every series is removed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._build import FrontendMapError, build_map
from ._files import MapLimits
from ._model import FrontendMap
from .config import FrontendConfig
from .openapi import OpenAPIError, load_openapi

if TYPE_CHECKING:
    from prometheus_client import Gauge

    from synthetic.config import Config

    from ..metrics import WorkflowMetrics

logger = logging.getLogger("exporter.frontend_map")
MAX_ROUTES = 500
OTHER = "<other>"


class FrontendMapper:
    """Keeps the map of the configured frontend current; ``configure`` on start and reload, ``stop`` at the end."""

    def __init__(self, metrics: WorkflowMetrics, clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self.clock = clock
        self.config: FrontendConfig | None = None
        self.last: FrontendMap | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._routes: set[str] = set()

    def configure(self, config: Config) -> None:
        section = config.sections.get("frontend")
        with self._lock:
            self.config = section if isinstance(section, FrontendConfig) else None
            if self.config is None:
                self._clear()
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="frontend-map", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            config = self.config
            if config is not None:
                self.refresh(config)
            self._wake.wait(config.refresh if config is not None else None)

    def refresh(self, config: FrontendConfig) -> FrontendMap | None:
        """Build the map once and export it; None (and the success gauge at 0) when it cannot be built."""
        started = time.monotonic()
        try:
            document = load_openapi(config.openapi, seconds=min(config.timeout, 30.0))
            result = build_map(config.source, document, openapi_location=config.openapi, env=dict(config.env),
                               backend_origins=set(config.backend_origins),
                               limits=MapLimits(seconds=config.timeout),
                               extra_operations=list(config.operations))  # fmt: skip
        except (OpenAPIError, FrontendMapError) as error:
            with self._lock:
                if self.config is config:
                    self.metrics.frontend_last_success.labels(config.source).set(0)
            logger.error("frontend map failed: %s", error, extra={"source": config.source})
            return None
        except Exception:  # a bug of ours: the exporter keeps serving, the gauge says the map is not current
            with self._lock:
                if self.config is config:
                    self.metrics.frontend_last_success.labels(config.source).set(0)
            logger.exception("frontend map crashed")
            return None
        with self._lock:
            if self.config is not config:  # reloaded meanwhile: the next refresh exports the new one
                return result
            self.last = result
            self._export(config.source, result)
        counts = result.counts()
        logger.info("frontend map: %d routes, %d calls, %d unmatched, %d method, %d unresolved", len(result.routes),
                    len(result.calls), counts["unmatched"], counts["method"], counts["unresolved"],
                    extra={"duration_ms": round((time.monotonic() - started) * 1000)})  # fmt: skip
        return result

    def _export(self, source: str, result: FrontendMap) -> None:
        metrics = self.metrics
        for status, count in result.counts().items():
            metrics.frontend_calls.labels(status).set(count)
        per_route: dict[str, int] = {}
        for index, template in enumerate(sorted({r.route for r in result.routes})):
            per_route[template if index < MAX_ROUTES else OTHER] = 0
        for route in result.routes:
            name = route.route if route.route in per_route else OTHER
            per_route[name] += sum(1 for rc in route.calls if rc.call.status == "unmatched")
        for gone in self._routes - per_route.keys():
            metrics.frontend_route_unmatched.remove(gone)
        for name, count in per_route.items():
            metrics.frontend_route_unmatched.labels(name).set(count)
        self._routes = set(per_route)
        for gauge in (metrics.frontend_unused, metrics.frontend_last_success, metrics.frontend_last_timestamp):
            for (old,) in list(_label_values(gauge)):
                if old != source:
                    gauge.remove(old)
        metrics.frontend_unused.labels(source).set(len(result.unused_operations))
        metrics.frontend_last_success.labels(source).set(1)
        metrics.frontend_last_timestamp.labels(source).set(self.clock())

    def _clear(self) -> None:
        metrics = self.metrics
        metrics.frontend_calls.clear()
        metrics.frontend_route_unmatched.clear()
        self._routes = set()
        for gauge in (metrics.frontend_unused, metrics.frontend_last_success, metrics.frontend_last_timestamp):
            gauge.clear()
        self.last = None


def _label_values(gauge: Gauge) -> list[tuple[str, ...]]:
    from ..metrics import _children

    return _children(gauge)[1]
