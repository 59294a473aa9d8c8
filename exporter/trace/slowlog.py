"""The MySQL/MariaDB slow query log file: entries whose statement carries the ID in its comment.

An entry is a few ``#`` header lines (``# Time:``, ``# User@Host:``, ``# Query_time: … Rows_examined: …``),
``SET timestamp=<unix>;`` and the statement. The file is scanned like the JSON logs (chunks, the ID as bytes,
bounded memory); for each hit the entry's header is read from at most ``LOOKBACK_BYTES`` before it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from ._model import SourceReport, TraceEvent, Window
from .logs import CHUNK_BYTES, _files, _open

LOOKBACK_BYTES = 4096
_QUERY_TIME = re.compile(
    rb"# Query_time:\s*([\d.]+)\s+Lock_time:\s*([\d.]+)\s+Rows_sent:\s*(\d+)\s+Rows_examined:\s*(\d+)"
)
_SET_TIMESTAMP = re.compile(rb"SET timestamp=(\d+);")


def search(paths: Sequence[str], correlation_id: str, window: Window) -> SourceReport:
    report = SourceReport(source="slow query log")
    needles = [f"request_id='{correlation_id.replace(':', '%3A')}'".encode(), f"request_id='{correlation_id}'".encode()]
    for path in _files(paths, report):
        try:
            with _open(path) as stream:
                tail = b""
                while True:
                    chunk = stream.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    report.scanned_bytes += len(chunk)
                    data = tail + chunk
                    for needle in dict.fromkeys(needles):
                        position = data.find(needle, len(tail) - len(needle) if tail else 0)
                        while position >= 0:
                            event = _entry(data, position, path)
                            if event is not None and window.holds(event.start):
                                report.events.append(event)
                            position = data.find(needle, position + 1)
                    tail = data[-LOOKBACK_BYTES:]
        except OSError as error:
            report.problems.append(f"{path}: {error.strerror or error}")
    return report


def _entry(data: bytes, position: int, path: str) -> TraceEvent | None:
    header = data[max(0, position - LOOKBACK_BYTES) : position]
    timing = list(_QUERY_TIME.finditer(header))
    stamp = list(_SET_TIMESTAMP.finditer(header))
    if not timing or not stamp:
        return None
    query_time, lock_time, sent, examined = timing[-1].groups()
    end = float(stamp[-1].group(1))  # the server writes when the statement ended, to the second
    line_start = data.rfind(b"\n", 0, position) + 1
    line_end = data.find(b";\n", position)
    statement = data[line_start : line_end if line_end >= 0 else position + 2000].decode("utf-8", "replace")
    seconds = float(query_time)
    return TraceEvent(
        start=end - seconds, end=end, layer="db", kind="statement", title="slow query",
        source=os.path.basename(path), level="warning",
        fields={"statement": statement[:4000], "duration_ms": round(seconds * 1000, 3),
                "lock_ms": round(float(lock_time) * 1000, 3), "rows_sent": int(sent), "rows_examined": int(examined),
                "slow_log": True},
    )  # fmt: skip
