"""Read the server's own ``Server-Timing`` header: app time, DB time and the query count."""

from __future__ import annotations

import re

from .result import ServerTiming

_DURATION = re.compile(r";\s*dur=(\d{1,12}(?:\.\d{1,9})?)(?![\d.])")  # "1.2.3" is no duration
_QUERIES = re.compile(r"(?<!\d)(\d{1,9})\s+quer")  # a count, not 5 000 digits


def parse_server_timing(header: str | None) -> ServerTiming:
    """``app;dur=12.3, db;dur=4.5;desc="3 queries"`` -> seconds and count; unknown metrics are ignored."""
    timing = ServerTiming()
    if not header:
        return timing
    for metric in header.split(","):
        name = metric.split(";", 1)[0].strip().lower()
        duration = _DURATION.search(metric)
        seconds = float(duration.group(1)) / 1000 if duration else None
        if name == "app":
            timing.app_seconds = seconds
        elif name == "db":
            timing.db_seconds = seconds
            queries = _QUERIES.search(metric)
            if queries:
                timing.queries = int(queries.group(1))
    return timing
