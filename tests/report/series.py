"""Hand-written series for the report's tests: scenarios of two periods (previous, current) each, written as
OpenMetrics and backfilled with ``promtool tsdb create-blocks-from openmetrics`` into the data directory of a
real Prometheus, which then serves them."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
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
            if isinstance(s, Counter):
                kind, lines = families.setdefault(s.name, ("counter", []))
                value = 0.0
                for t in times:
                    value += (s.previous if t <= start + PERIOD else s.current) * STEP
                    lines.append(f"{s.name}_total{_labels(s.labels)} {value:.6f} {t}")
            elif isinstance(s, Gauge):
                kind, lines = families.setdefault(s.name, ("gauge", []))
                lines.extend(f"{s.name}{_labels(s.labels)} {s.value} {t}" for t in times)
            else:
                kind, lines = families.setdefault(s.name, ("histogram", []))
                count = total = 0.0
                counts = [0.0] * len(s.buckets)
                for t in times:
                    observed = s.previous if t <= start + PERIOD else s.current
                    n = s.rate * STEP
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
