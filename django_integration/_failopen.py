"""Instrumentation fails open: a failure of ours is counted and logged once, never raised into the app."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

logger = logging.getLogger("django_integration")
_reported: set[str] = set()
_lock = threading.Lock()


def count(component: str) -> None:
    """Count a failure without logging it (for failures inside logging itself)."""
    from .metrics import get_metrics

    with suppress(Exception):  # no Django settings (a process that only uses our formatter), broken metrics
        get_metrics().internal_errors.labels(component).inc()


def report(component: str, error: BaseException) -> None:
    """Count the failure and log it the first time this component fails."""
    from .metrics import get_metrics

    with suppress(Exception):  # the metrics themselves may be what is broken
        get_metrics().internal_errors.labels(component).inc()
    with _lock:
        first = component not in _reported
        _reported.add(component)
    if first:
        with suppress(Exception):
            logger.error(
                "workflow-exporter instrumentation failed in %s; the request was served without it",
                component,
                exc_info=error,
                extra={"error_class": "server"},
            )


@contextmanager
def guard(component: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        report(component, error)
