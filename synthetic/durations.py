"""Durations as Prometheus writes them: ``250ms``, ``5s``, ``1m30s``, ``2h``; a bare number is seconds. Moments a
command line names: a duration ago, an ISO 8601 time or unix seconds."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# The longest duration accepted anywhere (config fields, flags): ten years. Far longer ones overflowed the
# platform's timers where a wait or a deadline is computed from them (a step's `timeout: 99999999999d` stopped the
# transport's watchdog thread, and with it every run's deadline).
LONGEST_DURATION = 10 * 365 * 86400.0
_TOO_LONG = "is longer than 3650d (ten years), the longest duration accepted"


def parse_duration(value: object) -> float:
    """Seconds; ValueError with a readable message for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 5s, 1m)")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 5s, 1m)")
        if value < 0:
            raise ValueError(f"{value!r} is negative")
        if value > LONGEST_DURATION:
            raise ValueError(f"{value!r} {_TOO_LONG}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 5s, 1m)")
    text = value.strip()
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(text):
        raise ValueError(f"{value[:60]!r} is not a duration (use e.g. 500ms, 5s, 1m)")
    if total > LONGEST_DURATION:
        raise ValueError(f"{value[:60]!r} {_TOO_LONG}")
    return total


_SECONDS = re.compile(r"\d{1,15}(\.\d{1,20})?")


def parse_duration_flag(text: str) -> float:
    """Seconds of a command-line duration that must be longer than 0: Prometheus' notation (``10s``, ``2m``,
    ``500ms``) or bare seconds (``1.5``); at most ``LONGEST_DURATION``. ValueError for anything else (``0s``,
    ``-1``, ``inf``, ``nan``, ``1e300``)."""
    stripped = text.strip()
    seconds = float(stripped) if _SECONDS.fullmatch(stripped) else parse_duration(stripped)
    if seconds > LONGEST_DURATION:
        raise ValueError(f"{text[:60]!r} {_TOO_LONG}")
    if not seconds > 0:
        raise ValueError(f"must be longer than 0s, not {text[:60]!r}")
    return seconds


# Unix seconds a moment may take: from 1970 to year 5138, as the exporter's HTTP API accepts (exporter/api.py).
LATEST_MOMENT = 1e11
_FORMS = "a duration ago (2h), an ISO 8601 time (2026-11-30T10:00:00, UTC when it names no zone) or unix seconds"


def parse_moment(value: str, now: float) -> float:
    """Unix seconds of a moment a command line names: a duration before ``now`` (``2h``, ``1d12h``), an ISO 8601 /
    RFC 3339 time (``2026-11-30T10:00:00Z``, ``…+01:00``; UTC when it names no zone) or unix seconds
    (``1764496800``, ``1764496800.5``). ValueError naming the three forms for anything else, and for a moment
    before 1970 or from ``LATEST_MOMENT`` on (``nan``, ``inf``, ``-5``, ``1e300``, ``100000000d``)."""
    text = value.strip()
    try:
        seconds = now - parse_duration(text)
    except ValueError:
        try:
            seconds = float(text) if _UNIX.fullmatch(text) else _iso(text)
        except ValueError:
            raise ValueError(f"{value[:60]!r} is not {_FORMS}") from None
    if not 0 <= seconds < LATEST_MOMENT:
        raise ValueError(f"{value[:60]!r} is not a moment between 1970 and the year 5138")
    return seconds


_UNIX = re.compile(r"\d{1,12}(\.\d{1,20})?")


def _iso(text: str) -> float:
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
