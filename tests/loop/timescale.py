"""Time compression of the shipped bundle: one factor divides every duration that makes an alert wait.

``make test`` cannot wait the minutes the shipped rules wait (``for: 5m``, ``[1h]``, a 30 s journey interval), so
the fault matrix runs on a copy of everything in which each such duration is divided by ``FACTOR`` and then
raised to at least ``FLOOR``. The copy is generated here from the shipped files every time, never edited by hand:

- rules/*.rules.yml: every ``for:``, every range window ``[5m]``, both parts of a subquery ``[1h:5m]`` and
  every ``offset``, in each ``expr`` and in the queries an annotation's template runs (its backquoted strings:
  a description naming the step that failed most over 5m reads the same window as the alert); nothing else of a
  rule changes (thresholds, labels, the annotations' words stay as shipped). A range
  window (and a subquery's range) is raised to at least ``WINDOW_FLOOR``, two intervals of the periodic work: a
  window shorter than the interval between two journey runs holds no run at all part of the time, and an alert
  reading it would flap for want of data, not because the fault went away;
- alertmanager/alertmanager.yml: ``group_wait``, ``group_interval``, ``repeat_interval`` of every route and the
  global ``resolve_timeout``;
- Prometheus (deploy/prometheus/prometheus.yml): ``scrape_interval`` and ``evaluation_interval``;
- the exporter (synthetic/workflows/demo_shop.yml): each workflow's ``interval``, each target's contract sweep
  ``interval`` and its circuit breaker's ``cooldown``; a ``timeout`` is the real time a run may take, so it
  keeps its value unless it would exceed the compressed interval (the config requires timeout <= interval),
  then it becomes the interval;
- the demo shop: ``INTEGRITY_REFRESH_SECONDS`` (default 30) and the login throttle ``DEMO_LOGIN_RATE``
  (60/min: the journeys log in F times as often, so the limit allows F times as many).

What the copy cannot keep: the journeys run every ``WORK_FLOOR`` seconds at most, not F times as often, so a
compressed window holds fewer runs than the shipped one (a count over a window, ``increase(x[15m]) > 5``, may never
be met; a single run weighs more in a p95); per-second rates (``rate(x[5m]) > 0.05``) come out higher, so a
threshold on traffic is easier to pass compressed than shipped. The floors keep every compressed duration at or
above what the real components need (a scrape, a journey's run, an integrity check take real time); a duration
that hits one is compressed by less than ``FACTOR``. ``SHIPPED`` (factor 1) leaves everything exactly as shipped:
``make loop`` runs the same matrix on it.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass
from typing import Any

FACTOR = 60
"""Every compressed duration is the shipped one divided by this: a shipped minute takes a second."""

FLOOR = 1.0
"""Seconds: no compressed duration is shorter (a scrape, a rule evaluation, an Alertmanager flush)."""

WORK_FLOOR = 15.0
"""Seconds: no compressed interval of periodic real work is shorter: a journey's run (password hashing at each
login), a contract sweep (some 115 requests answered one at a time), the shop's integrity checks. Each must fit
in its interval on a busy 2-core machine, or the compressed stack would fail for want of time, not for a fault."""

WINDOW_FLOOR = 2 * WORK_FLOOR
"""Seconds: no compressed range window is shorter than two intervals of the periodic work, so every window holds
at least one journey run (a step's p95, a run's failure, an N+1 request) whenever the journeys run."""

_UNITS = {"y": 365 * 86400.0, "w": 7 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = r"\d+(?:ms|[ywdhms])"
_DURATION = re.compile(rf"(?:{_PART})+")
# A range window or a subquery's range and resolution: [5m], [1h:], [1h:5m]. Strings are skipped before this.
_WINDOW = re.compile(rf"\[\s*({_PART}(?:{_PART})*)\s*(?::\s*((?:{_PART})+)?\s*)?\]")
_OFFSET = re.compile(rf"\boffset\s+(-?)((?:{_PART})+)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_QUERY = re.compile(r"`([^`]*)`")  # a query an annotation's template runs (Go's raw string)
_RATE = re.compile(r"(\d+)/(s|sec|m|min|h|hour|d|day)")


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration (``90s``, ``1h30m``, ``500ms``, ``3d``); ValueError otherwise."""
    if not _DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not a Prometheus duration")
    return sum(int(number) * _UNITS[unit] for number, unit in re.findall(r"(\d+)(ms|[ywdhms])", text))


def format_duration(seconds: float) -> str:
    """The shortest Prometheus duration for ``seconds`` (whole milliseconds): ``72m`` -> ``1h12m``, 0.5 -> ``500ms``."""
    millis = round(seconds * 1000)
    if millis <= 0:
        raise ValueError(f"{seconds!r} s is not a positive duration")
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):  # w and y would not round-trip every value through Python's timedelta
        size = round(_UNITS[unit] * 1000)
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass(frozen=True)
class Timescale:
    """Divide durations by ``factor`` and raise them to at least ``floor`` seconds; factor 1 is the identity."""

    factor: float
    floor: float
    work_floor: float
    window_floor: float = 0.0

    def seconds(self, seconds: float) -> float:
        """The compressed length of ``seconds``."""
        if self.factor == 1:
            return seconds
        return max(seconds / self.factor, self.floor)

    def work_interval(self, seconds: float) -> float:
        """The compressed interval of periodic real work (journeys, contract sweeps, integrity checks)."""
        if self.factor == 1:
            return seconds
        return max(seconds / self.factor, self.work_floor)

    def duration(self, text: str) -> str:
        """A Prometheus duration, compressed (``5m`` -> ``5s`` at factor 60)."""
        if self.factor == 1:
            return text
        return format_duration(self.seconds(parse_duration(text)))

    def window(self, text: str) -> str:
        """A range window or a subquery's range, compressed and raised to at least ``window_floor``."""
        if self.factor == 1:
            return text
        return format_duration(max(self.seconds(parse_duration(text)), self.window_floor))

    def promql(self, expr: str) -> str:
        """``expr`` with every range window, subquery range and resolution, and offset compressed; string literals
        (label values, regular expressions) are left untouched."""

        def window(match: re.Match[str]) -> str:
            step = match.group(2)
            if ":" not in match.group(0):
                return f"[{self.window(match.group(1))}]"
            return f"[{self.window(match.group(1))}:{self.duration(step) if step else ''}]"

        def offset(match: re.Match[str]) -> str:
            return f"offset {match.group(1)}{self.duration(match.group(2))}"

        pieces, position = [], 0
        for literal in _STRING.finditer(expr):
            pieces.append(_OFFSET.sub(offset, _WINDOW.sub(window, expr[position : literal.start()])))
            pieces.append(literal.group(0))
            position = literal.end()
        pieces.append(_OFFSET.sub(offset, _WINDOW.sub(window, expr[position:])))
        return "".join(pieces)

    def rules(self, document: dict[str, Any]) -> dict[str, Any]:
        """A rules file (as loaded from YAML) with every rule's ``expr`` and ``for`` compressed, the queries of its
        annotations' templates, and each group's ``interval`` if it has one."""
        compressed = copy.deepcopy(document)
        for group in compressed["groups"]:
            if "interval" in group:
                group["interval"] = self.duration(group["interval"])
            for rule in group["rules"]:
                rule["expr"] = self.promql(rule["expr"])
                for name, text in rule.get("annotations", {}).items():
                    rule["annotations"][name] = _QUERY.sub(lambda m: f"`{self.promql(m.group(1))}`", text)
                if "for" in rule:
                    rule["for"] = self.duration(rule["for"])
        return compressed

    def alertmanager(self, config: dict[str, Any]) -> dict[str, Any]:
        """An Alertmanager config with the timings of every route (and the global resolve_timeout) compressed."""
        compressed = copy.deepcopy(config)

        def route(node: dict[str, Any]) -> None:
            for key in ("group_wait", "group_interval", "repeat_interval"):
                if key in node:
                    node[key] = self.duration(node[key])
            for child in node.get("routes", []):
                route(child)

        route(compressed["route"])
        if "resolve_timeout" in compressed.get("global", {}):
            compressed["global"]["resolve_timeout"] = self.duration(compressed["global"]["resolve_timeout"])
        return compressed

    def workflows(self, config: dict[str, Any]) -> dict[str, Any]:
        """An exporter config with each workflow's interval, each contract sweep's interval and each circuit
        breaker's cooldown compressed; a timeout longer than its compressed interval becomes the interval."""
        compressed = copy.deepcopy(config)
        for workflow in compressed.get("workflows", {}).values():
            self._interval_and_timeout(workflow)
        for target in compressed.get("targets", {}).values():
            if "contracts" in target:
                self._interval_and_timeout(target["contracts"])
            breaker = target.get("circuit_breaker")
            if breaker and "cooldown" in breaker:
                breaker["cooldown"] = self.duration(breaker["cooldown"])
        return compressed

    def _interval_and_timeout(self, section: dict[str, Any]) -> None:
        if "interval" not in section or self.factor == 1:  # as shipped, as written (60s stays 60s, not 1m)
            return
        section["interval"] = format_duration(self.work_interval(parse_duration(section["interval"])))
        interval = parse_duration(section["interval"])
        if "timeout" in section and parse_duration(section["timeout"]) > interval:
            section["timeout"] = section["interval"]

    def rate(self, rate: str) -> str:
        """A DRF throttle rate (``60/min``) allowing ``factor`` times as many requests per period."""
        match = _RATE.fullmatch(rate)
        if not match:
            raise ValueError(f"{rate!r} is not a DRF rate such as 60/min")
        return f"{math.ceil(int(match.group(1)) * self.factor)}/{match.group(2)}"


SHIPPED = Timescale(factor=1, floor=0.0, work_floor=0.0)
COMPRESSED = Timescale(factor=FACTOR, floor=FLOOR, work_floor=WORK_FLOOR, window_floor=WINDOW_FLOOR)
