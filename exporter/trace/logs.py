"""Django JSON log files: the request line, Django's own lines (tracebacks), slow and repeated (N+1) statements,
and the browser's beacon events (``layer=frontend``), as ``django_integration.log`` writes them.

Each configured path may be a glob; rotated siblings are searched too (``app.log.1``, ``app.log.2.gz``,
``app.log-20261130``, ``app.log-20261130.gz``), newest last. The search never parses a line that does not
hold the ID: files are read in 1 MiB chunks, the quoted ID is looked for as bytes, and only the lines around a
hit are parsed. Memory is bounded by the chunk and ``MAX_LINE_BYTES`` whatever the log size; a longer line is
skipped and counted. Reading stops at ``--until`` (the first line of a chunk is already later), and a file
last written before ``--since`` is not opened. A file that is truncated, rotated or replaced while it is read
is read as far as its open handle goes; lines seen twice (a file rotated during the search) are kept once.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import IO, Any

from ._model import SourceReport, TraceEvent, Window

CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20
UNTIL_SLACK_SECONDS = 60.0  # lines of several workers are only roughly in order
_TIMESTAMP = re.compile(rb'"timestamp":\s*"([0-9T:.\-]+)Z?"')
_ROTATED_SUFFIXES = (".*", "-*")
REQUEST_LOGGER = "django_integration.request"
DB_LOGGER = "django_integration.db"


def search(paths: Sequence[str], correlation_id: str, window: Window) -> SourceReport:
    """Every log line of ``correlation_id`` in the files named by ``paths`` (and their rotations)."""
    report = SourceReport(source="log files")
    files = _files(paths, report)
    needle = f'"{correlation_id}"'.encode()
    seen: set[bytes] = set()
    for path in files:
        try:
            if window.since is not None and os.stat(path).st_mtime < window.since:
                continue
            with _open(path) as stream:
                for line in _matching_lines(stream, needle, window, report):
                    if line in seen:
                        continue
                    seen.add(line)
                    event = _event(line, correlation_id, path)
                    if event is not None and window.holds(event.start):
                        report.events.append(event)
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            report.problems.append(f"{path}: {getattr(error, 'strerror', None) or error}")
    return report


def _files(paths: Sequence[str], report: SourceReport) -> list[str]:
    found: dict[str, float] = {}
    for pattern in paths:
        matched = [m for p in (pattern, *(pattern + s for s in _ROTATED_SUFFIXES)) for m in glob.glob(p)]
        regular = [m for m in matched if os.path.isfile(m)]
        if not regular:
            report.problems.append(f"{pattern}: no such file")
        for path in regular:
            try:
                found[path] = os.stat(path).st_mtime
            except OSError as error:
                report.problems.append(f"{path}: {error.strerror or error}")
    return sorted(found, key=lambda p: (found[p], p))


def _open(path: str) -> IO[bytes]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _matching_lines(stream: IO[bytes], needle: bytes, window: Window, report: SourceReport) -> Iterator[bytes]:
    """The lines holding ``needle``, found with ``bytearray.find`` over a buffer that only ever holds one chunk
    and the unfinished line before it (deleting a bytearray's head is cheap; nothing else is copied)."""
    buffer = bytearray()
    skipped_long = 0
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        report.scanned_bytes += len(chunk)
        buffer += chunk
        cut = buffer.rfind(b"\n")
        if cut < 0:
            if len(buffer) > MAX_LINE_BYTES:
                buffer.clear()
                skipped_long += 1
            continue
        if window.until is not None and _first_timestamp(buffer) > window.until + UNTIL_SLACK_SECONDS:
            break
        position = buffer.find(needle, 0, cut)
        while position >= 0:
            start = buffer.rfind(b"\n", 0, position) + 1
            end = buffer.find(b"\n", position)
            if end - start <= MAX_LINE_BYTES:
                yield bytes(buffer[start:end])
            else:
                skipped_long += 1
            position = buffer.find(needle, end, cut)
        del buffer[: cut + 1]
    if buffer and needle in buffer and len(buffer) <= MAX_LINE_BYTES:
        yield bytes(buffer)
    if skipped_long:
        report.problems.append(f"{skipped_long} line(s) longer than {MAX_LINE_BYTES} bytes skipped")


def _first_timestamp(block: bytes | bytearray) -> float:
    match = _TIMESTAMP.search(block, 0, 512)
    return _parse_time(match.group(1).decode()) if match else float("-inf")


def _parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(text.rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return float("-inf")


def _event(line: bytes, correlation_id: str, path: str) -> TraceEvent | None:
    try:
        record: Any = json.loads(line)
    except ValueError:
        return None  # not a JSON line (a print(), the console e-mail backend): not ours to read
    if not isinstance(record, dict) or record.get("correlation_id") != correlation_id:
        return None
    moment = _parse_time(str(record.get("timestamp", "")))
    if moment == float("-inf"):
        return None
    logger = str(record.get("logger", ""))
    level = str(record.get("level", "INFO")).lower()
    fields = {k: v for k, v in record.items() if k not in ("timestamp", "level", "logger", "correlation_id")}
    fields["logger"] = logger
    source = os.path.basename(path)
    message = str(record.get("message", ""))
    if logger == REQUEST_LOGGER and isinstance(record.get("duration_ms"), int | float):
        # The request line is written when the response is: it ends at its timestamp.
        return TraceEvent(
            start=moment - float(record["duration_ms"]) / 1000, end=moment, layer="api", kind="request",
            title=message, source=source, level=level, fields=fields,
        )  # fmt: skip
    layer = str(record.get("layer") or "api")
    if layer == "frontend":
        return TraceEvent(start=moment, layer="frontend", kind="event", title=message, source=source, level=level,
                          fields=fields)  # fmt: skip
    if logger == DB_LOGGER or layer == "db":
        layer = "db"
    return TraceEvent(start=moment, layer=layer, kind="log", title=message, source=source, level=level, fields=fields)
