"""Durations as Prometheus writes them: ``250ms``, ``5s``, ``1m30s``, ``2h``; a bare number is seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> float:
    """Seconds; ValueError with a readable message for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 5s, 1m)")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 5s, 1m)")
        if value < 0:
            raise ValueError(f"{value!r} is negative")
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
        raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 5s, 1m)")
    return total
