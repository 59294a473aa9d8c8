"""Hand-written series for the report's tests: scenarios of two periods (previous, current) each, written as
OpenMetrics and backfilled with ``promtool tsdb create-blocks-from openmetrics`` into the data directory of a
real Prometheus, which then serves them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.processes import require_binary

PERIOD = 3600  # seconds in each of a scenario's two periods
STEP = 60
GAP = 1800  # between scenarios, so no range or lookback reaches the one before

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Counter:
    """A counter growing at ``previous`` then ``current`` per second."""

    name: str  # without _total
    labels: Labels
    previous: float
    current: float


@dataclass(frozen=True)
class Histogram:
    """Observations at ``rate`` per second, all of value ``previous`` then ``current``."""

    name: str
    labels: Labels
    previous: float
    current: float
    rate: float = 1.0
    buckets: Sequence[float] = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 50, 100, 250)


@dataclass(frozen=True)
class Gauge:
    """A constant gauge over both periods."""

    name: str
    labels: Labels
    value: float


Series = Counter | Histogram | Gauge


@dataclass
class Scenario:
    """A named case; ``end`` (unix seconds) is set when the file is written: report with until=end, since=1h."""

    name: str
    series: list[Series]
    end: float = field(default=0.0)


def _labels(labels: Labels, **extra: str) -> str:
    items = {**labels, **extra}
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(items.items())) + "}" if items else ""


def openmetrics(scenarios: Sequence[Scenario], now: float) -> str:
    """All scenarios, the last one ending a few minutes before ``now``; sets each scenario's ``end``."""
    span = 2 * PERIOD + GAP
    base = int(now) // STEP * STEP - len(scenarios) * span - 300
    families: dict[str, tuple[str, list[str]]] = {}
    for index, scenario in enumerate(scenarios):
        start = base + index * span
        scenario.end = start + 2 * PERIOD
        times = range(start + STEP, start + 2 * PERIOD + 1, STEP)
        seen: set[tuple[str, str]] = set()
        for s in scenario.series:
            if (s.name, _labels(s.labels)) in seen:  # the same series twice in a scenario (mysql_up): once
                continue
            seen.add((s.name, _labels(s.labels)))
            middle = start + PERIOD

            def value(t: int, s: Series = s, middle: int = middle) -> tuple[float, float]:
                return _value(s, t > middle)

            _write(families, s, times, STEP, value)
    return _document(families)


@dataclass(frozen=True)
class Phase:
    """A stretch of a timeline (seconds after its start) where ``series`` replace the healthy series of the
    same name and labels; a series only a phase has is flat (counters) or empty (histograms) outside it."""

    name: str
    start: int
    end: int
    series: list[Series]


def timeline(healthy: Sequence[Series], phases: Sequence[Phase], start: int, length: int, step: int) -> str:
    """OpenMetrics for ``length`` seconds from ``start`` (unix seconds, a multiple of ``step``): each series at
    its ``current`` value (a Histogram at its ``rate``), except inside a phase that has its own."""
    keys: dict[tuple[str, str], Series] = {}
    for s in [*healthy, *(s for p in phases for s in p.series)]:
        keys.setdefault((s.name, _labels(s.labels)), s)
    base = {(s.name, _labels(s.labels)): s for s in healthy}
    overrides = [(p, {(s.name, _labels(s.labels)): s for s in p.series}) for p in phases]
    times = range(start + step, start + length + 1, step)
    families: dict[str, tuple[str, list[str]]] = {}

    for key, template in keys.items():

        def value(t: int, key: tuple[str, str] = key, template: Series = template) -> tuple[float, float]:
            middle = t - start - step / 2  # a sample carries what happened in the step before it
            for phase, series in overrides:
                if phase.start <= middle < phase.end and key in series:
                    return _value(series[key], True)
            if key in base:
                return _value(base[key], True)
            return (0.0, template.value if isinstance(template, Gauge) else 0.0)

        _write(families, template, times, step, value)
    return _document(families)


def _value(s: Series, current: bool) -> tuple[float, float]:
    """(events per second, observed value) of a series in its previous or current period."""
    if isinstance(s, Counter):
        return (s.current if current else s.previous, 0.0)
    if isinstance(s, Gauge):
        return (0.0, s.value)
    return (s.rate, s.current if current else s.previous)


def _write(
    families: dict[str, tuple[str, list[str]]],
    s: Series,
    times: Sequence[int],
    step: int,
    value_at: Callable[[int], tuple[float, float]],
) -> None:
    """The samples of ``s`` at ``times``, its rate and observed value at each time from ``value_at``."""
    if isinstance(s, Counter):
        _, lines = families.setdefault(s.name, ("counter", []))
        total = 0.0
        for t in times:
            total += value_at(t)[0] * step
            lines.append(f"{s.name}_total{_labels(s.labels)} {total:.6f} {t}")
    elif isinstance(s, Gauge):
        _, lines = families.setdefault(s.name, ("gauge", []))
        lines.extend(f"{s.name}{_labels(s.labels)} {value_at(t)[1]} {t}" for t in times)
    else:
        _, lines = families.setdefault(s.name, ("histogram", []))
        count = total = 0.0
        counts = [0.0] * len(s.buckets)
        for t in times:
            rate, observed = value_at(t)
            n = rate * step
            count += n
            total += n * observed
            for i, bound in enumerate(s.buckets):
                if observed <= bound:
                    counts[i] += n
            for bound, c in zip(s.buckets, counts, strict=True):
                lines.append(f"{s.name}_bucket{_labels(s.labels, le=str(float(bound)))} {c:.6f} {t}")
            lines.append(f"{s.name}_bucket{_labels(s.labels, le='+Inf')} {count:.6f} {t}")
            lines.append(f"{s.name}_sum{_labels(s.labels)} {total:.6f} {t}")
            lines.append(f"{s.name}_count{_labels(s.labels)} {count:.6f} {t}")


def _document(families: dict[str, tuple[str, list[str]]]) -> str:
    out = []
    for name, (kind, lines) in families.items():
        out.append(f"# TYPE {name} {kind}")
        out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def backfill(text: str, workdir: Path) -> Path:
    """Blocks for ``text`` in ``workdir/data`` (the harness' Prometheus storage path)."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "series.om"
    source.write_text(text)
    data = workdir / "data"
    result = subprocess.run(
        [require_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"promtool backfill failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
    return data
