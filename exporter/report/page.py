"""``/report`` on the exporter: the report of the config's ``report:`` section, cached and regenerated at
most every ``refresh``; ``?format=json`` or ``markdown`` for the other formats (Markdown without plots)."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from . import PrometheusClient, Report, build_report, render
from .cli import failure_source
from .config import ReportConfig

Response = tuple[str, list[tuple[str, str]], bytes]
_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json", "markdown": "text/markdown; charset=utf-8"}


class ReportCache:
    """One exporter's report: built on the first request and again when older than ``refresh``; one build
    at a time, and while one runs the others get the previous report when there is one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.state: tuple[Report, dict[str, bytes]] | None = None  # the report and its renderings
        self.built_at = 0.0
        self.key: ReportConfig | None = None
        self.builds = 0

    def get(self, config: ReportConfig, store: Any, fmt: str, logs: tuple[str, ...] = ()) -> bytes:
        """The report in ``fmt``, rebuilt when stale or when the config changed."""
        if self._stale(config) and self.lock.acquire(blocking=self.state is None):
            try:
                if self._stale(config):  # another request may have built it while this one waited
                    self._build(config, store, logs)
            finally:
                self.lock.release()
        assert self.state is not None
        report, rendered = self.state
        if fmt not in rendered:
            rendered[fmt] = render(report, fmt).encode()
        return rendered[fmt]

    def _stale(self, config: ReportConfig) -> bool:
        return self.state is None or self.key != config or self.clock() - self.built_at >= config.refresh

    def _build(self, config: ReportConfig, store: Any, logs: tuple[str, ...]) -> None:
        client = PrometheusClient(config.prometheus, timeout=config.query_timeout)
        report = build_report(client, since=config.since, compare=config.compare,
                              failure_source=failure_source(store) if store is not None else None,
                              explain_dsn=config.mysql, logs=logs)  # fmt: skip
        self.state, self.key, self.built_at = (report, {}), config, self.clock()
        self.builds += 1


_CACHES: weakref.WeakKeyDictionary[Any, ReportCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(exporter: Any) -> ReportCache:
    """The exporter's report cache (one per exporter object)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(exporter)
        if cache is None:
            cache = _CACHES[exporter] = ReportCache()
        return cache


def report_page(exporter: Any, environ: dict[str, Any]) -> Response:
    """The route's answer."""
    config = exporter.config.sections.get("report")
    if not isinstance(config, ReportConfig):
        body = b"no report: add a report: section with prometheus: URL to the config\n"
        return "404 Not Found", [("Content-Type", "text/plain; charset=utf-8")], body
    fmt = (parse_qs(environ.get("QUERY_STRING", "")).get("format") or ["html"])[0]
    if fmt not in _TYPES:
        return "400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")], b"format: html, markdown or json\n"
    trace = exporter.config.sections.get("trace")  # its Django logs name the statements N+1 routes repeat
    logs = tuple(getattr(trace, "logs", ()) or ())
    body = cache_for(exporter).get(config, getattr(exporter, "store", None), fmt, logs)
    return "200 OK", [("Content-Type", _TYPES[fmt]), ("Cache-Control", "no-store")], body
